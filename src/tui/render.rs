//! Drawing: a pure function of the [`App`] into a ratatui buffer. Every payload, header,
//! path or reason string goes through [`wsscope_core::escape`] before it is drawn. Layout is
//! designed for 80x24 first; from [`SIDE_BY_SIDE_WIDTH`] columns the message detail opens
//! beside the timeline.

use crate::tui::state::{dir_label, App, Detail, Pane, SessionInfo, StatsView, TimeMode};
use crate::tui::store::MsgRow;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Sparkline, Widget};
use wsscope_core::escape::{bytes_for_terminal, for_terminal};
use wsscope_core::finding::Severity;
use wsscope_core::outcome::CloseCode;
use wsscope_core::tcp::Dir;
use wsscope_core::timestamp::Timestamp;
use wsscope_core::ws::message::MessageKind;

/// Terminal width from which the detail opens beside the timeline.
pub const SIDE_BY_SIDE_WIDTH: u16 = 140;

/// True when the detail opens beside the timeline on a screen this size.
pub fn side_by_side(screen: Rect) -> bool {
    screen.width >= SIDE_BY_SIDE_WIDTH
}

/// Screen regions.
#[derive(Clone, Copy, Debug)]
pub struct Areas {
    /// Title, progress and filter line.
    pub header: Rect,
    /// Session list (with borders).
    pub sessions: Rect,
    /// Timeline, or stats, or the detail when it replaces the timeline (with borders).
    pub main: Rect,
    /// The detail beside the timeline (wide screens).
    pub side: Option<Rect>,
    /// Key hints, prompts, notices, errors.
    pub status: Rect,
}

/// Splits the screen.
pub fn areas(app: &App, area: Rect) -> Areas {
    let most = (area.height / 4).max(5) as usize;
    let n = app.session_rows.len().clamp(1, most) as u16;
    let want = n + 2;
    let sessions_h = want.min(area.height.saturating_sub(6).max(3));
    let [header, sessions, main, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(sessions_h),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    if app.detail.is_some() && app.stats.is_none() && side_by_side(area) {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(main);
        return Areas {
            header,
            sessions,
            main: left,
            side: Some(right),
            status,
        };
    }
    Areas {
        header,
        sessions,
        main,
        side: None,
        status,
    }
}

/// The area the open detail is drawn in.
fn detail_area(app: &App, a: &Areas) -> Option<Rect> {
    app.detail?;
    Some(a.side.unwrap_or(a.main))
}

/// True when the timeline is on screen.
fn timeline_shown(app: &App, a: &Areas) -> bool {
    app.stats.is_none() && (app.detail.is_none() || a.side.is_some())
}

/// Visible rows of the session list and of the timeline for a screen.
pub fn list_rows(app: &App, screen: Rect) -> (usize, usize) {
    let a = areas(app, screen);
    (
        a.sessions.height.saturating_sub(2) as usize,
        a.main.height.saturating_sub(2) as usize,
    )
}

/// Rows of text the detail pane shows at once.
pub fn detail_rows(app: &App) -> usize {
    let a = areas(app, app.screen);
    detail_area(app, &a).map_or(0, |r| r.height.saturating_sub(2) as usize)
}

/// Wrapped rows of the open detail (0 when closed).
pub fn detail_len(app: &App) -> usize {
    let a = areas(app, app.screen);
    detail_area(app, &a)
        .and_then(|r| crate::tui::detail::rows(app, r.width.saturating_sub(2)))
        .map_or(0, |d| d.rows.len())
}

/// What a screen position points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// A session row (position in `sessions`).
    Session(usize),
    /// The session list, not on a row.
    SessionList,
    /// A timeline row (position in `visible`).
    Message(usize),
    /// The timeline, not on a row.
    Timeline,
    /// The detail pane.
    Detail,
}

fn inside(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

/// Maps a screen position to what is drawn there.
pub fn hit(app: &App, screen: Rect, x: u16, y: u16) -> Option<Hit> {
    let a = areas(app, screen);
    if inside(a.sessions, x, y) {
        let row = (y as usize).checked_sub(a.sessions.y as usize + 1);
        let pos = row.map(|r| app.session_scroll + r);
        return Some(match (row, pos.and_then(|p| app.session_rows.get(p))) {
            (Some(r), Some(&i)) if r < a.sessions.height.saturating_sub(2) as usize => {
                Hit::Session(i)
            }
            _ => Hit::SessionList,
        });
    }
    if let Some(d) = detail_area(app, &a) {
        if inside(d, x, y) {
            return Some(Hit::Detail);
        }
    }
    if inside(a.main, x, y) && timeline_shown(app, &a) {
        let row = (y as usize).checked_sub(a.main.y as usize + 1);
        let i = row.map(|r| app.msg_scroll + r);
        return Some(match (row, i) {
            (Some(r), Some(i))
                if r < a.main.height.saturating_sub(2) as usize && i < app.visible.len() =>
            {
                Hit::Message(i)
            }
            _ => Hit::Timeline,
        });
    }
    None
}

/// A foreground colour (none with NO_COLOR). Only the eight standard colours are used, never
/// white or bright variants, so text stays readable on light and dark themes.
pub fn fg(app: &App, c: Color) -> Style {
    if app.color {
        Style::default().fg(c)
    } else {
        Style::default()
    }
}

/// Colour of a severity.
pub fn sev_style(app: &App, s: Severity) -> Style {
    fg(
        app,
        match s {
            Severity::Info => Color::Blue,
            Severity::Warning => Color::Yellow,
            Severity::Error => Color::Red,
        },
    )
}

fn block<'a>(app: &App, title: String, focused: bool) -> Block<'a> {
    let title = if focused {
        format!("[{title}]")
    } else {
        format!(" {title} ")
    };
    let style = if focused {
        fg(app, Color::Blue).add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(title)
}

/// A bold heading line.
pub fn heading(text: &str) -> Line<'static> {
    Line::styled(
        text.to_string(),
        Style::default().add_modifier(Modifier::BOLD),
    )
}

/// Draws the whole UI.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let a = areas(app, area);
    render_header(app, a.header, buf);
    render_sessions(app, a.sessions, buf);
    match app.stats {
        Some(StatsView::Capture) => crate::tui::stats::render(app, a.main, buf),
        Some(StatsView::Session) => render_session_stats(app, a.main, buf),
        None => {
            if timeline_shown(app, &a) {
                render_timeline(app, a.main, buf);
            }
            if let Some(d) = detail_area(app, &a) {
                render_detail(app, d, buf);
            }
        }
    }
    render_status(app, a.status, buf);
    if app.help {
        render_help(app, area, buf);
    }
}

/// Human byte count with a decimal unit: `512 B`, `12.3 kB`, `256.0 MB`.
fn fmt_bytes(n: u64) -> String {
    match n {
        0..=9_999 => format!("{n} B"),
        10_000..=9_999_999 => format!("{:.1} kB", n as f64 / 1e3),
        10_000_000..=9_999_999_999 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

/// The loading status: percent, bytes and rate for a file; bytes and rate for a pipe;
/// packets, rate and drops for a live capture.
fn load_status(app: &App) -> Option<String> {
    if app.loaded {
        return None;
    }
    if let Some(l) = &app.live {
        return Some(format!(
            "capturing {} pkts {} pkt/s {} dropped",
            l.packets, l.packets_per_sec, l.dropped
        ));
    }
    Some(match app.progress {
        Some(p) if p.total > 0 && p.done < p.total => {
            let pct = p.done.saturating_mul(100) / p.total;
            let filled = (pct.min(100) / 10) as usize;
            format!(
                "loading [{}{}] {}% {}/{} {}/s",
                "#".repeat(filled),
                ".".repeat(10 - filled),
                pct.min(100),
                fmt_bytes(p.done),
                fmt_bytes(p.total),
                fmt_bytes(p.rate())
            )
        }
        Some(p) => format!("reading {} {}/s", fmt_bytes(p.done), fmt_bytes(p.rate())),
        None if app.live_mode() => "capturing".into(),
        None => "reading".into(),
    })
}

/// The active filter in words (`text AND c->s AND findings AND "needle"`), `None` when
/// nothing is filtered.
pub fn filter_text(app: &App) -> Option<String> {
    let f = &app.filter;
    let mut parts = Vec::new();
    if f.kind != crate::tui::state::KindFilter::All {
        parts.push(f.kind.label().to_string());
    }
    if let Some(d) = f.dir {
        parts.push(dir_label(d).to_string());
    }
    if f.with_findings {
        parts.push("findings".into());
    }
    if f.matches_only {
        if let Some(s) = &app.search {
            parts.push(format!("\"{}\"", for_terminal(&s.query)));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let mut counts = [0usize; 3];
    for s in &app.sessions {
        let c = s.finding_counts();
        for k in 0..3 {
            counts[k] += c[k];
        }
    }
    for f in &app.capture_findings {
        counts[f.severity as usize] += usize::try_from(f.count).unwrap_or(usize::MAX);
    }
    let mut spans = vec![Span::styled(
        "wsscope",
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if let Some(status) = load_status(app) {
        spans.push(Span::styled(format!("  {status}"), fg(app, Color::Green)));
    }
    // The filter before the counts: on a narrow terminal it is what must not be cut.
    if let Some(f) = filter_text(app) {
        spans.push(Span::styled(
            format!("  filter {f}"),
            fg(app, Color::Magenta).add_modifier(Modifier::BOLD),
        ));
    }
    spans.extend([
        Span::raw(format!(
            "  {} sessions  {} msgs  ",
            app.sessions.len(),
            app.total_messages
        )),
        Span::styled(format!("{}E", counts[2]), sev_style(app, Severity::Error)),
        Span::raw(" "),
        Span::styled(format!("{}W", counts[1]), sev_style(app, Severity::Warning)),
        Span::raw(" "),
        Span::styled(format!("{}I", counts[0]), sev_style(app, Severity::Info)),
    ]);
    if filter_text(app).is_none() {
        spans.push(Span::raw("  no filter"));
    }
    if app.follow {
        spans.push(Span::raw("  follow"));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// Session state and close code, e.g. `closed 1000`, `closed rst 4000`, `rejected 403`.
pub fn state_text(s: &SessionInfo) -> String {
    match s.close_code() {
        Some(c) => format!("{} {c}", s.state()),
        None => s.state(),
    }
}

fn session_line(app: &App, i: usize, s: &SessionInfo, id_w: usize) -> Line<'static> {
    let selected = i == app.session_sel;
    let c = s.finding_counts();
    let (marker, sev) = if c[2] > 0 {
        (format!("E{}", c[2]), Some(Severity::Error))
    } else if c[1] > 0 {
        (format!("W{}", c[1]), Some(Severity::Warning))
    } else if c[0] > 0 {
        (format!("I{}", c[0]), Some(Severity::Info))
    } else {
        (String::new(), None)
    };
    let hits = app
        .search
        .as_ref()
        .and_then(|x| x.of(i))
        .map(|h| {
            if h.messages.is_empty() {
                "*".to_string()
            } else {
                format!("*{}", h.messages.len())
            }
        })
        .unwrap_or_default();
    let state = state_text(s);
    let state_color = match s.outcome() {
        Some(wsscope_core::outcome::SessionOutcome::Closed { clean: true, .. }) => Color::Green,
        Some(wsscope_core::outcome::SessionOutcome::Open) | None => Color::Blue,
        _ => Color::Red,
    };
    let mut spans = vec![
        Span::raw(format!(
            "{}{:>id_w$} ",
            if selected { ">" } else { " " },
            format!("#{}", s.id())
        )),
        Span::styled(format!("{state:<16}"), fg(app, state_color)),
        Span::styled(
            format!("{marker:<5}"),
            sev.map_or(Style::default(), |v| sev_style(app, v)),
        ),
        Span::styled(format!("{hits:<5}"), fg(app, Color::Magenta)),
        Span::raw(format!("{:>6} ", s.messages.len())),
    ];
    match s.path() {
        Some(p) => spans.push(Span::styled(
            for_terminal(p),
            Style::default().add_modifier(Modifier::BOLD),
        )),
        None => spans.push(Span::raw("path unknown (mid-stream)")),
    }
    if let Some(p) = s.subprotocol() {
        spans.push(Span::raw(format!(" [{}]", for_terminal(p))));
    }
    spans.push(Span::raw(format!("  {} -> {}", s.client(), s.server())));
    let mut line = Line::from(spans);
    if selected {
        line = line.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    line
}

fn render_sessions(app: &App, area: Rect, buf: &mut Buffer) {
    let rows = area.height.saturating_sub(2) as usize;
    let scroll = crate::tui::state::fit(app.session_row_pos(), app.session_scroll, rows);
    let id_w = app
        .sessions
        .last()
        .map_or(2, |s| s.id().to_string().len() + 1);
    let lines: Vec<Line> = app
        .session_rows
        .iter()
        .skip(scroll)
        .take(rows)
        .filter_map(|&i| app.sessions.get(i).map(|s| session_line(app, i, s, id_w)))
        .collect();
    let title = if app.session_rows.len() == app.sessions.len() {
        format!("Sessions {}", app.sessions.len())
    } else {
        format!(
            "Sessions {} of {} (matches only)",
            app.session_rows.len(),
            app.sessions.len()
        )
    };
    let p = if lines.is_empty() {
        Paragraph::new(if !app.loaded {
            "waiting for the first session..."
        } else if app.sessions.is_empty() {
            "no WebSocket sessions in the capture"
        } else {
            "no session matches the filter (x clears it)"
        })
    } else {
        Paragraph::new(lines)
    };
    p.block(block(app, title, app.pane == Pane::Sessions))
        .render(area, buf);
}

/// Time column text: time of day, or seconds since `start` (as [`App::time`] says).
pub fn time_text(app: &App, ts: Timestamp, start: Timestamp) -> String {
    match app.time {
        TimeMode::Abs => {
            let day = ts.secs().rem_euclid(86_400);
            format!(
                "{:02}:{:02}:{:02}.{:06}",
                day / 3600,
                day / 60 % 60,
                day % 60,
                ts.subsec_nanos() / 1000
            )
        }
        TimeMode::Rel => {
            let n = ts.nanos_since(start);
            let sign = if n < 0 { "-" } else { "+" };
            let n = n.unsigned_abs();
            format!(
                "{sign}{}.{:06}",
                n / 1_000_000_000,
                n % 1_000_000_000 / 1000
            )
        }
    }
}

/// Human size: `24 B`, `12.3 KiB`, `4.0 MiB`.
pub fn fmt_size(n: u64) -> String {
    if n < 10_000 {
        format!("{n} B")
    } else if n < 10 << 20 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

fn hex_preview(bytes: &[u8], n: usize) -> String {
    let mut s: Vec<String> = bytes.iter().take(n).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > n {
        s.push("..".into());
    }
    s.join(" ")
}

/// One-line escaped preview of a message whose first payload bytes are `head`.
pub fn preview(m: &MsgRow, head: &[u8]) -> String {
    if m.inflate_failed() {
        return "(did not inflate: payload unknown)".into();
    }
    if m.len == 0 && m.kind != MessageKind::Close {
        return "(empty)".into();
    }
    match m.kind {
        MessageKind::Close => {
            let mut s = match m.close_code {
                Some(c) => format!("{c} ({})", CloseCode(c).meaning()),
                None => "no code".into(),
            };
            if let Some(r) = head.get(2..).filter(|r| !r.is_empty()) {
                s.push(' ');
                s.push_str(&bytes_for_terminal(r));
            }
            s
        }
        MessageKind::Text => {
            let mut s = String::new();
            s.push_str(&bytes_for_terminal(head));
            if (head.len() as u64) < m.len {
                s.push('…');
            }
            s
        }
        MessageKind::Ping | MessageKind::Pong => {
            let mut s = String::new();
            if let Some(rtt) = m.rtt_nanos() {
                s.push_str(&format!("[rtt {:.3} ms] ", rtt as f64 / 1e6));
            }
            s.push_str(&hex_preview(head, 24));
            s
        }
        MessageKind::Binary => hex_preview(head, 24),
    }
}

fn message_line(app: &App, s: &SessionInfo, pos: usize, m: &MsgRow, row: usize) -> Line<'static> {
    let selected = row == app.msg_sel;
    let matched = app.matches.binary_search(&row).is_ok();
    let mut flags = String::new();
    flags.push(if m.compressed() { 'z' } else { ' ' });
    flags.push(if m.frames > 1 { 'f' } else { ' ' });
    flags.push(if m.incomplete() || m.inflate_failed() {
        '!'
    } else {
        ' '
    });
    let finding = s.finding_at_message(pos);
    let kind_style = match m.kind {
        MessageKind::Text => Style::default(),
        MessageKind::Binary => fg(app, Color::Magenta),
        MessageKind::Ping | MessageKind::Pong => fg(app, Color::Blue),
        MessageKind::Close => fg(app, Color::Yellow),
    };
    let dir_color = match m.dir {
        Dir::ClientToServer => Color::Green,
        Dir::ServerToClient => Color::Blue,
    };
    let head = app.payload_prefix(m, crate::tui::state::ROW_PREVIEW);
    let mut line = Line::from(vec![
        Span::raw(format!(
            "{}{}",
            if selected { ">" } else { " " },
            if matched { "*" } else { " " }
        )),
        Span::raw(format!("{:>10} ", time_text(app, m.ts, s.start_ts()))),
        Span::styled(dir_label(m.dir), fg(app, dir_color)),
        Span::styled(format!(" {:<6}", m.kind.as_str()), kind_style),
        Span::raw(format!(
            "{:>9} {flags}",
            if m.inflate_failed() {
                // The inflated size is unknown: not "0 B".
                "?".to_string()
            } else {
                fmt_size(m.len)
            }
        )),
        match finding {
            Some(f) => Span::styled(
                match f.severity {
                    Severity::Error => "E ",
                    Severity::Warning => "W ",
                    Severity::Info => "I ",
                },
                sev_style(app, f.severity),
            ),
            None => Span::raw("  "),
        },
        if m.inflate_failed() {
            Span::styled(preview(m, &head), fg(app, Color::Red))
        } else {
            Span::raw(preview(m, &head))
        },
    ]);
    if selected {
        line = line.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    line
}

fn render_timeline(app: &App, area: Rect, buf: &mut Buffer) {
    let rows = area.height.saturating_sub(2) as usize;
    let scroll = crate::tui::state::fit(app.msg_sel, app.msg_scroll, rows);
    let (title, lines) = match app.session() {
        Some(s) => {
            let lines: Vec<Line> = app
                .visible
                .iter()
                .enumerate()
                .skip(scroll)
                .take(rows)
                .filter_map(|(row, &i)| {
                    s.messages
                        .get(i as usize)
                        .map(|m| message_line(app, s, i as usize, m, row))
                })
                .collect();
            let pos = if app.visible.is_empty() {
                0
            } else {
                app.msg_sel + 1
            };
            let of = if app.visible.len() == s.messages.len() {
                String::new()
            } else {
                format!(" (of {})", s.messages.len())
            };
            (
                format!("Timeline #{}  {}/{}{of}", s.id(), pos, app.visible.len()),
                lines,
            )
        }
        None => ("Timeline".to_string(), Vec::new()),
    };
    let empty = lines.is_empty() && app.session().is_some_and(|s| !s.messages.is_empty());
    let p = if empty {
        Paragraph::new("no message passes the filter (x clears it)")
    } else {
        Paragraph::new(lines)
    };
    p.block(block(app, title, app.pane == Pane::Timeline))
        .render(area, buf);
}

fn render_detail(app: &App, area: Rect, buf: &mut Buffer) {
    let width = area.width.saturating_sub(2);
    let height = area.height.saturating_sub(2) as usize;
    let Some(d) = crate::tui::detail::rows(app, width) else {
        block(app, "Detail".into(), app.pane == Pane::Detail).render(area, buf);
        return;
    };
    let total = d.rows.len();
    let scroll = app.detail_scroll.min(total.saturating_sub(height));
    let shown: Vec<Line> = d.rows.iter().skip(scroll).take(height).cloned().collect();
    let last = (scroll + height).min(total);
    let position = if total <= height {
        String::new()
    } else {
        format!(
            "  rows {}-{last} of {total} ({}%)",
            scroll + 1,
            last * 100 / total.max(1)
        )
    };
    let keys = if app.detail == Some(Detail::Message) {
        "[ ] prev/next  Esc back"
    } else {
        "Esc back"
    };
    Paragraph::new(shown)
        .block(block(
            app,
            format!("{}{position}  {keys}", d.title),
            app.pane == Pane::Detail,
        ))
        .render(area, buf);
}

/// Per-session numbers for the stats view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Messages per direction.
    pub count: [u64; 2],
    /// Payload bytes per direction.
    pub bytes: [u64; 2],
    /// Smallest, mean and largest message size.
    pub size: Option<(u64, f64, u64)>,
    /// Ping RTT min, mean, max in milliseconds, and the count.
    pub rtt: Option<(f64, f64, f64, usize)>,
    /// Message counts per size bucket (see [`SIZE_BUCKETS`]).
    pub hist: [u64; 6],
}

/// Labels of the size histogram buckets.
pub const SIZE_BUCKETS: [&str; 6] = ["0-15 B", "16-255 B", "256 B-4K", "4K-64K", "64K-1M", ">1M"];

/// Computes the stats of a session.
pub fn stats(s: &SessionInfo) -> Stats {
    let mut st = Stats::default();
    let mut sum = 0u64;
    let mut rtts = Vec::new();
    for m in s.messages.iter() {
        let d = usize::from(m.dir == Dir::ServerToClient);
        st.count[d] += 1;
        st.bytes[d] = st.bytes[d].saturating_add(m.len);
        sum = sum.saturating_add(m.len);
        st.size = Some(match st.size {
            None => (m.len, 0.0, m.len),
            Some((lo, _, hi)) => (lo.min(m.len), 0.0, hi.max(m.len)),
        });
        let b = match m.len {
            0..=15 => 0,
            16..=255 => 1,
            256..=4095 => 2,
            4096..=65535 => 3,
            65536..=1_048_575 => 4,
            _ => 5,
        };
        st.hist[b] += 1;
        if let Some(r) = m.rtt_nanos() {
            rtts.push(r as f64 / 1e6);
        }
    }
    if let Some((lo, _, hi)) = st.size {
        st.size = Some((lo, sum as f64 / s.messages.len() as f64, hi));
    }
    if !rtts.is_empty() {
        let lo = rtts.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = rtts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
        st.rtt = Some((lo, avg, hi, rtts.len()));
    }
    st
}

/// Messages per time bucket over the session (`buckets` buckets) and the bucket width in ns.
pub fn rate(s: &SessionInfo, buckets: usize) -> (Vec<u64>, i64) {
    let buckets = buckets.max(1);
    let mut out = vec![0u64; buckets];
    let (Some(first), Some(last)) = (s.messages.first(), s.messages.last()) else {
        return (out, 0);
    };
    let span = last.ts.nanos_since(first.ts).max(1);
    let width = (span / buckets as i64).max(1).saturating_add(1);
    for m in s.messages.iter() {
        let i = (m.ts.nanos_since(first.ts) / width).clamp(0, buckets as i64 - 1) as usize;
        out[i] += 1;
    }
    (out, width)
}

fn render_session_stats(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(s) = app.session() else {
        block(app, "Stats".into(), true).render(area, buf);
        return;
    };
    let outer = block(app, format!("Stats of session #{}  S close", s.id()), true);
    let inner = outer.inner(area);
    outer.render(area, buf);
    let st = stats(s);
    let mut lines = vec![Line::raw(format!(
        "messages c->s {} ({}), s->c {} ({})",
        st.count[0],
        fmt_size(st.bytes[0]),
        st.count[1],
        fmt_size(st.bytes[1])
    ))];
    lines.push(Line::raw(match st.size {
        Some((lo, avg, hi)) => format!("size min {lo} B  avg {avg:.1} B  max {hi} B"),
        None => "size -".into(),
    }));
    lines.push(Line::raw(match st.rtt {
        Some((lo, avg, hi, n)) => {
            format!("ping RTT ({n}) min {lo:.3} ms  avg {avg:.3} ms  max {hi:.3} ms")
        }
        None => "ping RTT -".into(),
    }));
    let (rates, width) = rate(s, inner.width.max(1) as usize);
    lines.push(Line::raw(format!(
        "rate (messages per {:.3} ms):",
        width as f64 / 1e6
    )));
    let [text, spark, hist] = Layout::vertical([
        Constraint::Length(lines.len() as u16),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(inner);
    Paragraph::new(lines).render(text, buf);
    Sparkline::default()
        .data(&rates)
        .style(fg(app, Color::Green))
        .render(spark, buf);
    let max = st.hist.iter().copied().max().unwrap_or(0).max(1);
    let bar_w = (hist.width as usize).saturating_sub(20).max(1);
    let mut hl = vec![Line::raw("size histogram:")];
    for (label, &n) in SIZE_BUCKETS.iter().zip(st.hist.iter()) {
        let len = (n as usize * bar_w).div_ceil(max as usize);
        hl.push(Line::from(vec![
            Span::raw(format!("{label:>9} {n:>6} ")),
            Span::styled("█".repeat(len.min(bar_w)), fg(app, Color::Magenta)),
        ]));
    }
    Paragraph::new(hl).render(hist, buf);
}

fn render_status(app: &App, area: Rect, buf: &mut Buffer) {
    use crate::tui::state::PromptKind;
    let line = if let Some(p) = &app.prompt {
        let label = match p.kind {
            PromptKind::Search => "search the capture: ",
            PromptKind::Export => "write to file: ",
        };
        Line::raw(format!("{label}{}_", for_terminal(&p.text)))
    } else if let Some(n) = &app.notice {
        Line::styled(for_terminal(n), fg(app, Color::Green))
    } else if let Some(e) = app.errors.last() {
        Line::styled(format!("error: {}", for_terminal(e)), fg(app, Color::Red))
    } else if let Some(search) = &app.search {
        let q = for_terminal(&search.query);
        if search.hits.is_empty() {
            Line::raw(format!("/{q}: no match in the capture"))
        } else {
            let here = app
                .matches
                .iter()
                .position(|&r| r == app.msg_sel)
                .map_or("-".to_string(), |p| (p + 1).to_string());
            Line::raw(format!(
                "/{q}: {} msgs in {} sessions; here {here}/{}  n/N next/prev  m matches only",
                search.message_hits(),
                search.hits.len(),
                app.matches.len()
            ))
        }
    } else {
        Line::raw("? help  q quit  Enter detail  / search  f d e m x filter  s stats  w y export")
    };
    Paragraph::new(line).render(area, buf);
}

/// Help text lines: every key.
pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓ j k", "move (in the detail: scroll by rows)"),
    ("PgUp PgDn Space", "page"),
    ("g G Home End", "first / last"),
    ("Tab Shift-Tab", "next / previous pane"),
    (
        "Enter",
        "open the detail; in s: go to the finding's message",
    ),
    ("Esc", "back: close the detail, stats or prompt"),
    ("[ ]", "previous / next message, detail open"),
    (
        "/",
        "search payloads, paths, headers, close reasons, findings",
    ),
    ("n N", "next / previous hit, across sessions"),
    ("m", "only search hits (messages and sessions)"),
    (
        "f d e",
        "filter type / direction / with findings (combined)",
    ),
    ("x", "clear every filter"),
    ("r", "payload as sent / pretty JSON"),
    ("w", "write the message payload or the session to a file"),
    ("y", "copy the message text to the clipboard (OSC 52)"),
    ("F t", "follow new messages / absolute or relative time"),
    ("s S", "capture stats / session stats"),
    ("mouse", "click selects, wheel scrolls the pane under it"),
    ("? q Ctrl-C", "this help (any key closes it) / quit"),
];

fn render_help(app: &App, area: Rect, buf: &mut Buffer) {
    let h = (HELP.len() as u16 + 2).min(area.height);
    let w = 76.min(area.width);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:<16}"), fg(app, Color::Blue)),
                Span::raw(*v),
            ])
        })
        .collect();
    Paragraph::new(lines)
        .block(block(app, "Help  any key closes".into(), true))
        .render(r, buf);
}
