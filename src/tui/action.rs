//! Input: keys and mouse events become [`Action`]s, and [`apply`] changes the [`App`].

use crate::tui::render::{hit, Hit};
use crate::tui::state::{App, Detail, Pane, TimeMode};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

/// Something the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Leave the UI.
    Quit,
    /// Previous row.
    Up,
    /// Next row.
    Down,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Open the detail of the selection.
    Enter,
    /// Close the detail / overlay / search.
    Back,
    /// Open the search prompt.
    SearchStart,
    /// A character typed in the search prompt.
    SearchChar(char),
    /// Backspace in the search prompt.
    SearchBackspace,
    /// Run the typed search.
    SearchSubmit,
    /// Next match.
    SearchNext,
    /// Previous match.
    SearchPrev,
    /// Cycle the timeline filter.
    CycleFilter,
    /// Toggle following new messages.
    ToggleFollow,
    /// Toggle absolute/relative time.
    ToggleTime,
    /// Toggle the help overlay.
    ToggleHelp,
    /// Toggle the stats view.
    ToggleStats,
    /// Mouse click at (column, row).
    Click(u16, u16),
    /// Wheel up at (column, row).
    ScrollUp(u16, u16),
    /// Wheel down at (column, row).
    ScrollDown(u16, u16),
    /// The terminal was resized to (width, height).
    Resize(u16, u16),
}

/// Maps a key to an action (the search prompt takes printable keys while open).
pub fn key_action(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Action::Quit);
    }
    if app.search_input.is_some() {
        return match key.code {
            KeyCode::Enter => Some(Action::SearchSubmit),
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Backspace => Some(Action::SearchBackspace),
            KeyCode::Char(c) if !ctrl => Some(Action::SearchChar(c)),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Tab => Action::NextPane,
        KeyCode::BackTab => Action::PrevPane,
        KeyCode::Enter => Action::Enter,
        KeyCode::Esc => Action::Back,
        KeyCode::Char('/') => Action::SearchStart,
        KeyCode::Char('n') => Action::SearchNext,
        KeyCode::Char('N') => Action::SearchPrev,
        KeyCode::Char('f') => Action::CycleFilter,
        KeyCode::Char('F') => Action::ToggleFollow,
        KeyCode::Char('t') => Action::ToggleTime,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('s') => Action::ToggleStats,
        _ => return None,
    })
}

/// Maps a mouse event to an action.
pub fn mouse_action(m: MouseEvent) -> Option<Action> {
    match m.kind {
        MouseEventKind::Down(_) => Some(Action::Click(m.column, m.row)),
        MouseEventKind::ScrollUp => Some(Action::ScrollUp(m.column, m.row)),
        MouseEventKind::ScrollDown => Some(Action::ScrollDown(m.column, m.row)),
        _ => None,
    }
}

/// Applies an action to the state.
pub fn apply(app: &mut App, action: Action) {
    if app.help && !matches!(action, Action::Quit | Action::Resize(..)) {
        // Any key closes the help overlay.
        app.help = false;
        return;
    }
    match action {
        Action::Quit => app.quit = true,
        Action::Up => step(app, -1),
        Action::Down => step(app, 1),
        Action::PageUp => step(app, -page(app)),
        Action::PageDown => step(app, page(app)),
        Action::Top => step(app, isize::MIN / 2),
        Action::Bottom => step(app, isize::MAX / 2),
        Action::NextPane | Action::PrevPane => {
            let order: &[Pane] = if app.detail.is_some() {
                &[Pane::Sessions, Pane::Timeline, Pane::Detail]
            } else {
                &[Pane::Sessions, Pane::Timeline]
            };
            let pos = order.iter().position(|&p| p == app.pane).unwrap_or(0);
            let n = order.len();
            let next = if action == Action::NextPane {
                (pos + 1) % n
            } else {
                (pos + n - 1) % n
            };
            app.pane = order[next];
        }
        Action::Enter => match app.pane {
            Pane::Sessions => {
                if app.session().is_some() {
                    app.detail = Some(Detail::Session);
                    app.detail_scroll = 0;
                    app.pane = Pane::Detail;
                    app.stats = false;
                }
            }
            Pane::Timeline => {
                if app.message().is_some() {
                    app.detail = Some(Detail::Message);
                    app.detail_scroll = 0;
                    app.pane = Pane::Detail;
                    app.stats = false;
                }
            }
            Pane::Detail => {}
        },
        Action::Back => {
            if app.search_input.is_some() {
                app.search_input = None;
            } else if app.detail.is_some() {
                app.pane = if app.detail == Some(Detail::Session) {
                    Pane::Sessions
                } else {
                    Pane::Timeline
                };
                app.detail = None;
            } else if app.stats {
                app.stats = false;
            } else if app.pane == Pane::Timeline {
                app.pane = Pane::Sessions;
            }
        }
        Action::SearchStart => app.search_input = Some(String::new()),
        Action::SearchChar(c) => {
            if let Some(s) = app.search_input.as_mut() {
                s.push(c);
            }
        }
        Action::SearchBackspace => {
            if let Some(s) = app.search_input.as_mut() {
                s.pop();
            }
        }
        Action::SearchSubmit => {
            if let Some(q) = app.search_input.take() {
                app.query = q;
                app.run_search();
                if app.pane != Pane::Detail {
                    app.pane = Pane::Timeline;
                }
                app.jump_match(true, true);
            }
        }
        Action::SearchNext => {
            app.run_search();
            app.jump_match(true, false);
        }
        Action::SearchPrev => {
            app.run_search();
            app.jump_match(false, false);
        }
        Action::CycleFilter => {
            app.filter = app.filter.next();
            app.msg_sel = 0;
            app.msg_scroll = 0;
            app.refresh();
            app.run_search();
        }
        Action::ToggleFollow => {
            app.follow = !app.follow;
            app.refresh();
        }
        Action::ToggleTime => {
            app.time = match app.time {
                TimeMode::Abs => TimeMode::Rel,
                TimeMode::Rel => TimeMode::Abs,
            }
        }
        Action::ToggleHelp => app.help = true,
        Action::ToggleStats => {
            app.stats = !app.stats;
            if app.stats {
                app.detail = None;
                if app.pane == Pane::Detail {
                    app.pane = Pane::Timeline;
                }
            }
        }
        Action::Click(x, y) => match hit(app, app.screen, x, y) {
            Some(Hit::Session(i)) => {
                app.pane = Pane::Sessions;
                app.select_session(i);
            }
            Some(Hit::Message(row)) => {
                app.pane = Pane::Timeline;
                app.follow = false;
                app.msg_sel = row.min(app.visible.len().saturating_sub(1));
                app.fit_scroll();
            }
            Some(Hit::Detail) => app.pane = Pane::Detail,
            None => {}
        },
        Action::ScrollUp(x, y) | Action::ScrollDown(x, y) => {
            let delta = if matches!(action, Action::ScrollUp(..)) {
                -3
            } else {
                3
            };
            let saved = app.pane;
            match hit(app, app.screen, x, y) {
                Some(Hit::Session(_)) => app.pane = Pane::Sessions,
                Some(Hit::Message(_)) => app.pane = Pane::Timeline,
                Some(Hit::Detail) => app.pane = Pane::Detail,
                None => {}
            }
            step(app, delta);
            app.pane = saved;
        }
        Action::Resize(w, h) => {
            app.screen = ratatui::layout::Rect::new(0, 0, w, h);
            app.fit_scroll();
        }
    }
}

/// Rows in a page of the focused pane.
fn page(app: &App) -> isize {
    let (srows, trows) = crate::tui::render::list_rows(app, app.screen);
    let rows = match app.pane {
        Pane::Sessions => srows,
        _ => trows,
    };
    rows.max(1) as isize
}

/// Moves the selection of the focused pane by `delta`, clamped.
fn step(app: &mut App, delta: isize) {
    match app.pane {
        Pane::Sessions => {
            let n = app.sessions.len();
            let i = clamp_add(app.session_sel, delta, n);
            app.select_session(i);
        }
        Pane::Timeline => {
            let n = app.visible.len();
            app.msg_sel = clamp_add(app.msg_sel, delta, n);
            // Moving up stops following; reaching the end with follow on keeps it.
            if delta < 0 {
                app.follow = false;
            }
            app.detail_scroll = 0;
            app.fit_scroll();
        }
        Pane::Detail => {
            let len = crate::tui::render::detail_len(app);
            app.detail_scroll = clamp_add(app.detail_scroll, delta, len);
        }
    }
}

fn clamp_add(cur: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let v = (cur as isize).saturating_add(delta);
    v.clamp(0, len as isize - 1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::state::Filter;
    use crossterm::event::KeyEvent;
    use wsscope_core::analyzer::AnalyzerConfig;

    fn app() -> App {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/node_ping.pcap");
        let mut app = crate::tui::load_blocking(&[path.to_string()], &AnalyzerConfig::default());
        apply(&mut app, Action::Resize(80, 24));
        app
    }

    #[test]
    fn navigation_stays_in_bounds() {
        let mut a = app();
        apply(&mut a, Action::Up);
        assert_eq!(a.session_sel, 0);
        apply(&mut a, Action::Down);
        assert_eq!(a.session_sel, 0, "only one session");
        apply(&mut a, Action::NextPane);
        assert_eq!(a.pane, Pane::Timeline);
        apply(&mut a, Action::Up);
        assert_eq!(a.msg_sel, 0);
        apply(&mut a, Action::Bottom);
        assert_eq!(a.msg_sel, 8);
        apply(&mut a, Action::Down);
        assert_eq!(a.msg_sel, 8);
        apply(&mut a, Action::PageUp);
        assert_eq!(a.msg_sel, 0);
        apply(&mut a, Action::PageDown);
        assert_eq!(a.msg_sel, 8);
        apply(&mut a, Action::Top);
        assert_eq!(a.msg_sel, 0);
        apply(&mut a, Action::PrevPane);
        assert_eq!(a.pane, Pane::Sessions);
    }

    #[test]
    fn search_wraps_both_ways() {
        let mut a = app();
        apply(&mut a, Action::SearchStart);
        for c in "PING".chars() {
            apply(&mut a, Action::SearchChar(c));
        }
        apply(&mut a, Action::SearchBackspace);
        apply(&mut a, Action::SearchChar('G'));
        apply(&mut a, Action::SearchSubmit);
        assert_eq!(a.query, "PING");
        assert_eq!(a.matches, vec![4, 5], "case-insensitive payload search");
        assert_eq!(a.msg_sel, 4);
        apply(&mut a, Action::SearchNext);
        assert_eq!(a.msg_sel, 5);
        apply(&mut a, Action::SearchNext);
        assert_eq!(a.msg_sel, 4, "wraps forward");
        apply(&mut a, Action::SearchPrev);
        assert_eq!(a.msg_sel, 5, "wraps backward");
        apply(&mut a, Action::SearchPrev);
        assert_eq!(a.msg_sel, 4);
    }

    #[test]
    fn search_prompt_takes_keys_and_esc_cancels() {
        let mut a = app();
        apply(&mut a, Action::SearchStart);
        let q = key_action(&a, KeyEvent::from(KeyCode::Char('q')));
        assert_eq!(q, Some(Action::SearchChar('q')));
        assert_eq!(
            key_action(&a, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        apply(&mut a, Action::Back);
        assert!(a.search_input.is_none());
        assert_eq!(
            key_action(&a, KeyEvent::from(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
    }

    #[test]
    fn filter_cycles_through_types_and_directions() {
        let mut a = app();
        let mut seen = Vec::new();
        for _ in 0..6 {
            apply(&mut a, Action::CycleFilter);
            seen.push((a.filter, a.visible.len()));
        }
        assert_eq!(
            seen,
            vec![
                (Filter::Text, 2),
                (Filter::Binary, 1),
                (Filter::Control, 6),
                (Filter::ClientToServer, 5),
                (Filter::ServerToClient, 4),
                (Filter::All, 9),
            ]
        );
    }

    #[test]
    fn follow_tracks_new_messages_and_time_toggles() {
        let mut a = app();
        apply(&mut a, Action::ToggleFollow);
        assert!(a.follow);
        assert_eq!(a.msg_sel, 8);
        let extra = a.sessions[0].messages[0].clone();
        a.sessions[0].messages.push(extra);
        a.refresh();
        assert_eq!(a.visible.len(), 10);
        assert_eq!(a.msg_sel, 9);
        apply(&mut a, Action::NextPane);
        apply(&mut a, Action::Up);
        assert!(!a.follow, "moving up stops following");
        assert_eq!(a.time, TimeMode::Rel);
        apply(&mut a, Action::ToggleTime);
        assert_eq!(a.time, TimeMode::Abs);
    }

    #[test]
    fn enter_and_esc_open_and_close_detail() {
        let mut a = app();
        apply(&mut a, Action::Enter);
        assert_eq!(a.detail, Some(Detail::Session));
        apply(&mut a, Action::Back);
        assert_eq!((a.detail, a.pane), (None, Pane::Sessions));
        apply(&mut a, Action::NextPane);
        apply(&mut a, Action::Enter);
        assert_eq!((a.detail, a.pane), (Some(Detail::Message), Pane::Detail));
        apply(&mut a, Action::Down);
        assert_eq!(a.detail_scroll, 1);
        apply(&mut a, Action::Bottom);
        let end = a.detail_scroll;
        assert!(end > 1 && end < 40, "{end}");
        apply(&mut a, Action::Up);
        assert_eq!(a.detail_scroll, end - 1, "scroll is clamped to the content");
        apply(&mut a, Action::Back);
        assert_eq!((a.detail, a.pane), (None, Pane::Timeline));
    }

    #[test]
    fn mouse_selects_and_scrolls() {
        let mut a = app();
        // Timeline rows start at y = 1 (header) + 3 (sessions) + 1 (border).
        apply(&mut a, Action::Click(10, 5 + 3));
        assert_eq!((a.pane, a.msg_sel), (Pane::Timeline, 3));
        apply(&mut a, Action::ScrollDown(10, 6));
        assert_eq!(a.msg_sel, 6);
        apply(&mut a, Action::Click(10, 2));
        assert_eq!(a.pane, Pane::Sessions);
        apply(&mut a, Action::Click(10, 23));
        assert_eq!(a.pane, Pane::Sessions, "status line is not a row");
    }
}
