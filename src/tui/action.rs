//! Input: keys and mouse events become [`Action`]s, and [`apply`] changes the [`App`].

use crate::tui::render::{hit, Hit};
use crate::tui::state::{App, Detail, Filter, Pane, Prompt, PromptKind, StatsView, TimeMode};
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
    /// Open the detail of the selection (or jump to the selected finding in the stats).
    Enter,
    /// Close the detail / overlay / prompt.
    Back,
    /// Open the search prompt.
    SearchStart,
    /// Open the export prompt (`w`).
    ExportStart,
    /// A character typed at the prompt.
    PromptChar(char),
    /// Backspace at the prompt.
    PromptBackspace,
    /// Submit the prompt.
    PromptSubmit,
    /// Next search hit (across the capture).
    SearchNext,
    /// Previous search hit.
    SearchPrev,
    /// Cycle the message type filter.
    CycleKind,
    /// Cycle the direction filter.
    CycleDir,
    /// Toggle "only messages with findings".
    ToggleWithFindings,
    /// Toggle "only search hits".
    ToggleMatchesOnly,
    /// Clear every filter.
    ClearFilter,
    /// Toggle pretty / raw payload.
    ToggleRaw,
    /// Previous message, detail kept open.
    PrevMessage,
    /// Next message, detail kept open.
    NextMessage,
    /// Copy the selected message's text to the clipboard (OSC 52).
    Copy,
    /// Toggle following new messages.
    ToggleFollow,
    /// Toggle absolute/relative time.
    ToggleTime,
    /// Toggle the help overlay.
    ToggleHelp,
    /// Toggle the capture stats screen.
    ToggleStats,
    /// Toggle the session stats screen.
    ToggleSessionStats,
    /// Mouse click at (column, row).
    Click(u16, u16),
    /// Wheel up at (column, row).
    ScrollUp(u16, u16),
    /// Wheel down at (column, row).
    ScrollDown(u16, u16),
    /// The terminal was resized to (width, height).
    Resize(u16, u16),
}

/// Maps a key to an action (a prompt takes printable keys while open; the help overlay
/// closes on any key).
pub fn key_action(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Action::Quit);
    }
    if app.help {
        return Some(Action::Back);
    }
    if app.prompt.is_some() {
        return match key.code {
            KeyCode::Enter => Some(Action::PromptSubmit),
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Backspace => Some(Action::PromptBackspace),
            KeyCode::Char(c) if !ctrl => Some(Action::PromptChar(c)),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Tab => Action::NextPane,
        KeyCode::BackTab => Action::PrevPane,
        KeyCode::Enter => Action::Enter,
        KeyCode::Esc => Action::Back,
        KeyCode::Char('/') => Action::SearchStart,
        KeyCode::Char('n') => Action::SearchNext,
        KeyCode::Char('N') => Action::SearchPrev,
        KeyCode::Char('f') => Action::CycleKind,
        KeyCode::Char('d') => Action::CycleDir,
        KeyCode::Char('e') => Action::ToggleWithFindings,
        KeyCode::Char('m') => Action::ToggleMatchesOnly,
        KeyCode::Char('x') => Action::ClearFilter,
        KeyCode::Char('r') => Action::ToggleRaw,
        KeyCode::Char('[') => Action::PrevMessage,
        KeyCode::Char(']') => Action::NextMessage,
        KeyCode::Char('w') => Action::ExportStart,
        KeyCode::Char('y') => Action::Copy,
        KeyCode::Char('F') => Action::ToggleFollow,
        KeyCode::Char('t') => Action::ToggleTime,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('s') => Action::ToggleStats,
        KeyCode::Char('S') => Action::ToggleSessionStats,
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

/// Opens the detail of the selected message (focus stays on the timeline when both are on
/// screen side by side; Enter again focuses the detail).
fn open_message_detail(app: &mut App) {
    if app.detail == Some(Detail::Message) {
        // Side by side, the detail of this message is already shown: focus it.
        app.pane = Pane::Detail;
        return;
    }
    if app.message().is_some() {
        app.detail = Some(Detail::Message);
        app.detail_scroll = 0;
        app.stats = None;
        if !crate::tui::render::side_by_side(app.screen) {
            app.pane = Pane::Detail;
        }
    }
}

/// Applies an action to the state.
pub fn apply(app: &mut App, action: Action) {
    if app.help && !matches!(action, Action::Quit | Action::Resize(..)) {
        // Any key closes the help overlay.
        app.help = false;
        return;
    }
    if !matches!(action, Action::Resize(..)) {
        app.notice = None;
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
        Action::Enter => match (app.stats, app.pane) {
            (Some(StatsView::Capture), Pane::Timeline | Pane::Detail) => {
                crate::tui::stats::jump_to_finding(app)
            }
            (_, Pane::Sessions) => {
                if app.session().is_some() {
                    app.detail = Some(Detail::Session);
                    app.detail_scroll = 0;
                    app.pane = Pane::Detail;
                    app.stats = None;
                }
            }
            (_, Pane::Timeline) => open_message_detail(app),
            (_, Pane::Detail) => {}
        },
        Action::Back => {
            if app.prompt.is_some() {
                app.prompt = None;
            } else if app.detail.is_some() {
                app.pane = if app.detail == Some(Detail::Session) {
                    Pane::Sessions
                } else {
                    Pane::Timeline
                };
                app.detail = None;
            } else if app.stats.is_some() {
                app.stats = None;
            } else if app.pane == Pane::Timeline {
                app.pane = Pane::Sessions;
            }
        }
        Action::SearchStart => {
            app.prompt = Some(Prompt {
                kind: PromptKind::Search,
                text: app
                    .search
                    .as_ref()
                    .map_or(String::new(), |s| s.query.clone()),
            })
        }
        Action::ExportStart => {
            if app.session().is_some() {
                app.prompt = Some(Prompt {
                    kind: PromptKind::Export,
                    text: crate::tui::export::default_name(app),
                });
            }
        }
        Action::PromptChar(c) => {
            if let Some(p) = app.prompt.as_mut() {
                p.text.push(c);
            }
        }
        Action::PromptBackspace => {
            if let Some(p) = app.prompt.as_mut() {
                p.text.pop();
            }
        }
        Action::PromptSubmit => {
            if let Some(p) = app.prompt.take() {
                match p.kind {
                    PromptKind::Search => {
                        app.run_search(&p.text);
                        if app.pane == Pane::Sessions {
                            app.pane = Pane::Timeline;
                        }
                        app.jump_match(true, true);
                    }
                    PromptKind::Export => {
                        app.notice = Some(crate::tui::export::write_selection(app, &p.text));
                    }
                }
            }
        }
        Action::SearchNext => app.jump_match(true, false),
        Action::SearchPrev => app.jump_match(false, false),
        Action::CycleKind => set_filter(app, |f| f.kind = f.kind.next()),
        Action::CycleDir => set_filter(app, |f| f.dir = Filter::next_dir(f.dir)),
        Action::ToggleWithFindings => set_filter(app, |f| f.with_findings = !f.with_findings),
        Action::ToggleMatchesOnly => {
            if app.search.is_some() || app.filter.matches_only {
                set_filter(app, |f| f.matches_only = !f.matches_only);
            } else {
                app.notice = Some("no search: type / and a text first".into());
            }
        }
        Action::ClearFilter => set_filter(app, |f| *f = Filter::default()),
        Action::ToggleRaw => {
            app.raw = !app.raw;
            app.detail_scroll = 0;
        }
        Action::PrevMessage | Action::NextMessage => {
            let delta = if action == Action::NextMessage { 1 } else { -1 };
            let n = app.visible.len();
            let r = clamp_add(app.msg_sel, delta, n);
            app.select_row(r);
            if app.detail.is_some() {
                app.detail = Some(Detail::Message);
            }
        }
        Action::Copy => app.notice = Some(crate::tui::export::copy_selection(app)),
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
        Action::ToggleStats | Action::ToggleSessionStats => {
            let want = if action == Action::ToggleStats {
                StatsView::Capture
            } else {
                StatsView::Session
            };
            app.stats = if app.stats == Some(want) {
                None
            } else {
                Some(want)
            };
            if app.stats.is_some() {
                app.detail = None;
                // The capture stats' finding list takes the keys (not the session list).
                if app.pane == Pane::Detail || app.stats == Some(StatsView::Capture) {
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
                app.select_row(row);
                if app.detail == Some(Detail::Message) {
                    app.detail_scroll = 0;
                }
            }
            Some(Hit::Detail) => app.pane = Pane::Detail,
            Some(Hit::Timeline) => app.pane = Pane::Timeline,
            Some(Hit::SessionList) => app.pane = Pane::Sessions,
            None => {}
        },
        Action::ScrollUp(x, y) | Action::ScrollDown(x, y) => {
            let delta = if matches!(action, Action::ScrollUp(..)) {
                -3
            } else {
                3
            };
            // The pane under the pointer scrolls, whatever has the focus.
            let under = match hit(app, app.screen, x, y) {
                Some(Hit::Session(_) | Hit::SessionList) => Some(Pane::Sessions),
                Some(Hit::Message(_) | Hit::Timeline) => Some(Pane::Timeline),
                Some(Hit::Detail) => Some(Pane::Detail),
                None => None,
            };
            if let Some(p) = under {
                let saved = app.pane;
                app.pane = p;
                step(app, delta);
                app.pane = saved;
            }
        }
        Action::Resize(w, h) => {
            app.screen = ratatui::layout::Rect::new(0, 0, w, h);
            app.fit_scroll();
        }
    }
}

/// Changes the filter and rebuilds the timeline, keeping the selected message when it still
/// passes (else the next one that does).
fn set_filter(app: &mut App, change: impl FnOnce(&mut Filter)) {
    let kept = app.message_pos();
    change(&mut app.filter);
    app.refresh();
    let row = kept.map_or(0, |pos| {
        app.visible.partition_point(|&i| (i as usize) < pos)
    });
    let same = kept.is_some_and(|pos| app.visible.get(row) == Some(&(pos as u32)));
    if same {
        // The message read stays selected, scrolled where it was.
        app.msg_sel = row;
        app.fit_scroll();
    } else {
        app.select_row(row);
    }
}

/// Rows in a page of the focused pane.
fn page(app: &App) -> isize {
    let (srows, trows) = crate::tui::render::list_rows(app, app.screen);
    let rows = match app.pane {
        Pane::Sessions => srows,
        Pane::Timeline => trows,
        Pane::Detail => crate::tui::render::detail_rows(app),
    };
    rows.max(1) as isize
}

/// Moves the selection of the focused pane by `delta`, clamped.
fn step(app: &mut App, delta: isize) {
    if app.stats == Some(StatsView::Capture) && app.pane != Pane::Sessions {
        let n = crate::tui::stats::finding_rows(app);
        app.stats_sel = clamp_add(app.stats_sel, delta, n);
        return;
    }
    match app.pane {
        Pane::Sessions => {
            let n = app.session_rows.len();
            let pos = clamp_add(app.session_row_pos(), delta, n);
            if let Some(&i) = app.session_rows.get(pos) {
                app.select_session(i);
            }
        }
        Pane::Timeline => {
            let n = app.visible.len();
            let r = clamp_add(app.msg_sel, delta, n);
            let follow = app.follow && delta > 0;
            app.select_row(r);
            // Moving up stops following; reaching the end with follow on keeps it.
            app.follow = follow;
        }
        Pane::Detail => {
            let len = crate::tui::render::detail_len(app);
            let rows = crate::tui::render::detail_rows(app);
            app.detail_scroll = clamp_add(app.detail_scroll, delta, len.saturating_sub(rows) + 1);
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
    use crate::tui::state::KindFilter;
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

    fn type_search(a: &mut App, text: &str) {
        apply(a, Action::SearchStart);
        for c in text.chars() {
            apply(a, Action::PromptChar(c));
        }
        apply(a, Action::PromptSubmit);
    }

    #[test]
    fn search_wraps_both_ways() {
        let mut a = app();
        apply(&mut a, Action::SearchStart);
        for c in "PINX".chars() {
            apply(&mut a, Action::PromptChar(c));
        }
        apply(&mut a, Action::PromptBackspace);
        apply(&mut a, Action::PromptChar('G'));
        apply(&mut a, Action::PromptSubmit);
        assert_eq!(a.search.as_ref().map(|s| s.query.as_str()), Some("PING"));
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
    fn prompt_takes_keys_and_esc_cancels() {
        let mut a = app();
        apply(&mut a, Action::SearchStart);
        let q = key_action(&a, KeyEvent::from(KeyCode::Char('q')));
        assert_eq!(q, Some(Action::PromptChar('q')));
        assert_eq!(
            key_action(&a, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        apply(&mut a, Action::Back);
        assert!(a.prompt.is_none());
        assert_eq!(
            key_action(&a, KeyEvent::from(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
    }

    #[test]
    fn help_closes_on_any_key() {
        let mut a = app();
        apply(&mut a, Action::ToggleHelp);
        assert!(a.help);
        // A key that means nothing elsewhere still closes the overlay.
        let k = key_action(&a, KeyEvent::from(KeyCode::Char('Z')));
        assert_eq!(k, Some(Action::Back));
        apply(&mut a, Action::Back);
        assert!(!a.help);
    }

    #[test]
    fn filters_combine() {
        let mut a = app();
        let mut seen = Vec::new();
        for _ in 0..4 {
            apply(&mut a, Action::CycleKind);
            seen.push((a.filter.kind, a.visible.len()));
        }
        assert_eq!(
            seen,
            vec![
                (KindFilter::Text, 2),
                (KindFilter::Binary, 1),
                (KindFilter::Control, 6),
                (KindFilter::All, 9),
            ]
        );
        apply(&mut a, Action::CycleDir);
        assert_eq!(a.visible.len(), 5, "c->s");
        apply(&mut a, Action::CycleKind);
        assert_eq!(a.visible.len(), 2, "text AND c->s");
        apply(&mut a, Action::CycleDir);
        assert_eq!(a.visible.len(), 0, "text AND s->c");
        apply(&mut a, Action::ClearFilter);
        assert_eq!(a.visible.len(), 9);
        type_search(&mut a, "ping");
        apply(&mut a, Action::ToggleMatchesOnly);
        assert_eq!(a.visible.len(), 2, "search hits only");
        apply(&mut a, Action::CycleDir);
        assert_eq!(a.visible.len(), 1, "hits AND c->s");
    }

    #[test]
    fn follow_tracks_new_messages_and_time_toggles() {
        let mut a = app();
        apply(&mut a, Action::ToggleFollow);
        assert!(a.follow);
        assert_eq!(a.msg_sel, 8);
        let extra = *a.sessions[0].messages.get(0).expect("a message");
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
        assert_eq!((a.detail, a.pane), (Some(Detail::Session), Pane::Detail));
        // The handshake detail is longer than the pane: it scrolls by rows, clamped so that
        // the last row stays at the bottom.
        let len = crate::tui::render::detail_len(&a);
        let rows = crate::tui::render::detail_rows(&a);
        assert!(len > rows, "{len} rows in a pane of {rows}");
        apply(&mut a, Action::Down);
        assert_eq!(a.detail_scroll, 1);
        apply(&mut a, Action::Bottom);
        assert_eq!(a.detail_scroll, len - rows);
        apply(&mut a, Action::Down);
        assert_eq!(
            a.detail_scroll,
            len - rows,
            "scroll is clamped to the content"
        );
        apply(&mut a, Action::Up);
        assert_eq!(a.detail_scroll, len - rows - 1);
        apply(&mut a, Action::Back);
        assert_eq!((a.detail, a.pane), (None, Pane::Sessions));
        apply(&mut a, Action::NextPane);
        apply(&mut a, Action::Enter);
        assert_eq!((a.detail, a.pane), (Some(Detail::Message), Pane::Detail));
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
