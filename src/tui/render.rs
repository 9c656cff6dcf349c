//! Drawing: a pure function of the [`App`] into a ratatui buffer. Every payload, header,
//! path or reason string goes through [`wsscope_core::escape`] before it is drawn.

use crate::tui::state::{App, Detail, MsgInfo, Pane, SessionInfo, TimeMode};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Sparkline, Widget, Wrap};
use wsscope_core::escape::{bytes_for_terminal, for_terminal, json_terminal_safe};
use wsscope_core::finding::{Finding, Severity};
use wsscope_core::outcome::CloseCode;
use wsscope_core::session::{SessionEnd, Transport};
use wsscope_core::tcp::Dir;
use wsscope_core::timestamp::Timestamp;
use wsscope_core::ws::message::MessageKind;
use wsscope_output::text::{describe_end_on, describe_tls};

/// Screen regions.
#[derive(Clone, Copy, Debug)]
pub struct Areas {
    /// Title and progress line.
    pub header: Rect,
    /// Session list (with borders).
    pub sessions: Rect,
    /// Timeline, detail or stats (with borders).
    pub main: Rect,
    /// Key hints, search prompt, errors.
    pub status: Rect,
}

/// Splits the screen.
pub fn areas(app: &App, area: Rect) -> Areas {
    let most = (area.height / 4).max(5) as usize;
    let n = app.sessions.len().clamp(1, most) as u16;
    let want = n + 2;
    let sessions_h = want.min(area.height.saturating_sub(6).max(3));
    let [header, sessions, main, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(sessions_h),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas {
        header,
        sessions,
        main,
        status,
    }
}

/// Visible rows of the session list and of the timeline for a screen.
pub fn list_rows(app: &App, screen: Rect) -> (usize, usize) {
    let a = areas(app, screen);
    (
        a.sessions.height.saturating_sub(2) as usize,
        a.main.height.saturating_sub(2) as usize,
    )
}

/// What a screen position points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// A session row (position in `sessions`).
    Session(usize),
    /// A timeline row (position in `visible`).
    Message(usize),
    /// The detail pane.
    Detail,
}

fn inside(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

/// Maps a screen position to a row.
pub fn hit(app: &App, screen: Rect, x: u16, y: u16) -> Option<Hit> {
    let a = areas(app, screen);
    if inside(a.sessions, x, y) {
        let row = y.checked_sub(a.sessions.y + 1)? as usize;
        let i = app.session_scroll + row;
        return (row < a.sessions.height.saturating_sub(2) as usize && i < app.sessions.len())
            .then_some(Hit::Session(i));
    }
    if inside(a.main, x, y) {
        if app.detail.is_some() {
            return Some(Hit::Detail);
        }
        if app.stats {
            return None;
        }
        let row = y.checked_sub(a.main.y + 1)? as usize;
        let i = app.msg_scroll + row;
        return (row < a.main.height.saturating_sub(2) as usize && i < app.visible.len())
            .then_some(Hit::Message(i));
    }
    None
}

fn fg(app: &App, c: Color) -> Style {
    if app.color {
        Style::default().fg(c)
    } else {
        Style::default()
    }
}

fn sev_style(app: &App, s: Severity) -> Style {
    fg(
        app,
        match s {
            Severity::Info => Color::Cyan,
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
        fg(app, Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(title)
}

/// Draws the whole UI.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let a = areas(app, area);
    render_header(app, a.header, buf);
    render_sessions(app, a.sessions, buf);
    match app.detail {
        Some(d) => render_detail(app, d, a.main, buf),
        None if app.stats => render_stats(app, a.main, buf),
        None => render_timeline(app, a.main, buf),
    }
    render_status(app, a.status, buf);
    if app.help {
        render_help(app, area, buf);
    }
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
        counts[f.severity as usize] += 1;
    }
    let mut spans = vec![
        Span::styled("wsscope", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "  {} sessions  {} messages  ",
            app.sessions.len(),
            app.total_messages
        )),
        Span::styled(format!("{}E", counts[2]), sev_style(app, Severity::Error)),
        Span::raw(" "),
        Span::styled(format!("{}W", counts[1]), sev_style(app, Severity::Warning)),
        Span::raw(" "),
        Span::styled(format!("{}I", counts[0]), sev_style(app, Severity::Info)),
        Span::raw(format!(
            "  time {}  filter {}{}",
            match app.time {
                TimeMode::Abs => "abs",
                TimeMode::Rel => "rel",
            },
            app.filter.label(),
            if app.follow { "  follow" } else { "" }
        )),
    ];
    if !app.loaded {
        // Files report progress in bytes; a live capture has no total, so it just says so.
        let status = match app.progress {
            Some((done, total)) if total > 0 => {
                let pct = done.saturating_mul(100) / total;
                let filled = pct.min(100) as usize / 10;
                format!(
                    "  loading [{}{}] {}%",
                    "#".repeat(filled),
                    ".".repeat(10 - filled),
                    pct.min(100)
                )
            }
            _ => "  reading…".to_string(),
        };
        spans.insert(1, Span::styled(status, fg(app, Color::Green)));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn session_line<'a>(app: &App, s: &SessionInfo, selected: bool) -> Line<'a> {
    let mut spans = vec![
        Span::raw(if selected { ">" } else { " " }),
        Span::raw(format!("#{} {} → {} ", s.id, s.client, s.server)),
        Span::styled(
            for_terminal(s.path()),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ];
    if let Some(p) = s.subprotocol() {
        spans.push(Span::raw(format!(" [{}]", for_terminal(p))));
    }
    spans.push(Span::raw(format!(
        "  {} msgs  {}",
        s.messages.len(),
        s.state()
    )));
    let c = s.finding_counts();
    for (sev, n, label) in [
        (Severity::Error, c[2], "err"),
        (Severity::Warning, c[1], "warn"),
        (Severity::Info, c[0], "info"),
    ] {
        if n > 0 {
            spans.push(Span::styled(format!("  {n} {label}"), sev_style(app, sev)));
        }
    }
    let mut line = Line::from(spans);
    if selected {
        line = line.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    line
}

fn render_sessions(app: &App, area: Rect, buf: &mut Buffer) {
    let rows = area.height.saturating_sub(2) as usize;
    let scroll = crate::tui::state::fit(app.session_sel, app.session_scroll, rows);
    let lines: Vec<Line> = app
        .sessions
        .iter()
        .enumerate()
        .skip(scroll)
        .take(rows)
        .map(|(i, s)| session_line(app, s, i == app.session_sel))
        .collect();
    let title = format!("Sessions {}", app.sessions.len());
    let p = if lines.is_empty() {
        Paragraph::new(if app.loaded {
            "no WebSocket sessions in the capture"
        } else {
            "loading..."
        })
    } else {
        Paragraph::new(lines)
    };
    p.block(block(app, title, app.pane == Pane::Sessions))
        .render(area, buf);
}

/// Time column text.
fn time_text(app: &App, ts: Timestamp, start: Timestamp) -> String {
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

fn arrow(dir: Dir) -> &'static str {
    match dir {
        Dir::ClientToServer => "→",
        Dir::ServerToClient => "←",
    }
}

fn hex_preview(bytes: &[u8], n: usize) -> String {
    let mut s: Vec<String> = bytes.iter().take(n).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > n {
        s.push("..".into());
    }
    s.join(" ")
}

/// One-line escaped preview of a message.
pub fn preview(m: &MsgInfo) -> String {
    const MAX: usize = 256;
    let rtt_nanos = m.event.rtt_nanos;
    let m = &m.event.message;
    match m.kind {
        MessageKind::Close => {
            let mut s = match m.close_code {
                Some(c) => format!("{c} ({})", CloseCode(c).meaning()),
                None => "no code".into(),
            };
            if let Some(r) = m.close_reason.as_deref().filter(|r| !r.is_empty()) {
                s.push(' ');
                s.push_str(&for_terminal(r));
            }
            s
        }
        MessageKind::Binary => hex_preview(&m.payload, 24),
        _ => {
            let mut s = String::new();
            if let Some(rtt) = rtt_nanos {
                s.push_str(&format!("[rtt {:.3} ms] ", rtt as f64 / 1e6));
            }
            let cut = m.payload.len().min(MAX);
            s.push_str(&bytes_for_terminal(&m.payload[..cut]));
            if m.payload.len() > cut || (m.payload.len() as u64) < m.len {
                s.push('…');
            }
            s
        }
    }
}

fn message_line<'a>(app: &App, s: &SessionInfo, m: &MsgInfo, row: usize) -> Line<'a> {
    let selected = row == app.msg_sel;
    let matched = app.matches.binary_search(&row).is_ok();
    let msg = &m.event.message;
    let mut flags = String::new();
    flags.push(if msg.compressed { 'z' } else { ' ' });
    flags.push(if msg.frames > 1 { 'f' } else { ' ' });
    flags.push(if msg.incomplete { '!' } else { ' ' });
    let kind_color = match msg.kind {
        MessageKind::Text => Color::White,
        MessageKind::Binary => Color::Magenta,
        MessageKind::Ping | MessageKind::Pong => Color::Blue,
        MessageKind::Close => Color::Yellow,
    };
    let dir_color = match msg.dir {
        Dir::ClientToServer => Color::Green,
        Dir::ServerToClient => Color::Cyan,
    };
    let mut line = Line::from(vec![
        Span::raw(format!(
            "{}{}",
            if selected { ">" } else { " " },
            if matched { "*" } else { " " }
        )),
        Span::raw(format!("{:>10} ", time_text(app, msg.ts, s.start_ts))),
        Span::styled(arrow(msg.dir), fg(app, dir_color)),
        Span::styled(format!(" {:<6}", msg.kind.as_str()), fg(app, kind_color)),
        Span::raw(format!("{:>9} {flags} ", fmt_size(msg.len))),
        Span::raw(preview(m)),
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
                .filter_map(|(row, &i)| s.messages.get(i).map(|m| message_line(app, s, m, row)))
                .collect();
            let pos = if app.visible.is_empty() {
                0
            } else {
                app.msg_sel + 1
            };
            (
                format!(
                    "Timeline #{}  {}/{}  of {}",
                    s.id,
                    pos,
                    app.visible.len(),
                    s.messages.len()
                ),
                lines,
            )
        }
        None => ("Timeline".to_string(), Vec::new()),
    };
    Paragraph::new(lines)
        .block(block(app, title, app.pane == Pane::Timeline))
        .render(area, buf);
}

fn finding_lines<'a>(app: &App, findings: &[Finding], out: &mut Vec<Line<'a>>) {
    for f in findings {
        let dir = f.dir.map_or(String::new(), |d| format!(" {}", d.as_str()));
        out.push(Line::from(vec![
            Span::styled(
                format!("  {:<7}", f.severity.as_str()),
                sev_style(app, f.severity),
            ),
            Span::raw(format!(
                " {}{}: {}",
                f.code.as_str(),
                dir,
                for_terminal(&f.detail)
            )),
        ]));
    }
}

fn heading<'a>(text: &str) -> Line<'a> {
    Line::styled(
        text.to_string(),
        Style::default().add_modifier(Modifier::BOLD),
    )
}

/// Lines of the session detail (handshake, close, findings).
pub fn session_detail_lines<'a>(app: &App, s: &SessionInfo) -> Vec<Line<'a>> {
    let mut out = vec![
        Line::raw(format!(
            "session #{}  {} → {}  [{}]",
            s.id,
            s.client,
            s.server,
            for_terminal(&s.capture)
        )),
        Line::raw(format!(
            "time {}{}",
            s.start_ts.rfc3339(),
            s.end.as_ref().map_or(String::new(), |e| format!(
                " .. {} ({:.3} s)",
                e.ts.rfc3339(),
                e.ts.nanos_since(s.start_ts) as f64 / 1e9
            ))
        )),
    ];
    if let Transport::H2 { stream_id } = s.transport {
        out.push(Line::raw(format!(
            "HTTP/2 stream {stream_id} (RFC 8441 extended CONNECT){}",
            if s.tls.is_some() {
                " over TLS"
            } else {
                ", cleartext h2c"
            }
        )));
    }
    if let Some(tls) = &s.tls {
        out.push(Line::raw(format!("tls {}", describe_tls(tls))));
    }
    match &s.handshake {
        None => out.push(Line::raw(
            "handshake not captured (decoded mid-stream or by --decode-as)",
        )),
        Some(h) => {
            out.push(heading("request"));
            let version = match s.transport {
                Transport::H2 { .. } => "HTTP/2".to_string(),
                Transport::Http1 => format!("HTTP/1.{}", h.request.version_minor),
            };
            out.push(Line::raw(format!(
                "  {} {} {version}",
                for_terminal(&h.request.method),
                for_terminal(&h.request.target),
            )));
            for (k, v) in &h.request.headers {
                out.push(Line::raw(format!(
                    "  {}: {}",
                    for_terminal(k),
                    for_terminal(v)
                )));
            }
            match &h.response {
                None => out.push(Line::raw("response not captured")),
                Some(r) => {
                    out.push(heading("response"));
                    out.push(Line::raw(match s.transport {
                        Transport::H2 { .. } => format!("  :status {}", r.status),
                        Transport::Http1 => format!(
                            "  HTTP/1.{} {} {}",
                            r.version_minor,
                            r.status,
                            for_terminal(&r.reason)
                        ),
                    }));
                    for (k, v) in &r.headers {
                        out.push(Line::raw(format!(
                            "  {}: {}",
                            for_terminal(k),
                            for_terminal(v)
                        )));
                    }
                }
            }
            let n = &h.negotiated;
            if matches!(s.transport, Transport::H2 { .. }) {
                // RFC 8441: no key and no accept on HTTP/2.
            } else if n.accept_valid {
                out.push(Line::styled("accept valid", fg(app, Color::Green)));
            } else if let Some(acc) = &n.accept {
                out.push(Line::styled(
                    format!(
                        "accept INVALID: got {}, expected {}",
                        for_terminal(acc),
                        for_terminal(n.expected_accept.as_deref().unwrap_or("?"))
                    ),
                    fg(app, Color::Red),
                ));
            } else if h.response.is_some() {
                out.push(Line::styled("no Sec-WebSocket-Accept", fg(app, Color::Red)));
            }
            if let Some(p) = &n.subprotocol {
                out.push(Line::raw(format!("subprotocol {}", for_terminal(p))));
            }
            for e in &n.extensions {
                out.push(Line::raw(format!("extension {}", for_terminal(&e.name))));
            }
        }
    }
    out.push(heading("close"));
    match &s.end {
        // A refused upgrade is known before its end, which waits for the TCP end.
        None => match s.outcome() {
            Some(outcome) => {
                let pending = SessionEnd::without_upgrade(s.id, s.start_ts, None);
                out.push(Line::raw(format!(
                    "  {}",
                    describe_end_on(&pending, outcome, s.transport)
                )));
            }
            None => out.push(Line::raw("  still open")),
        },
        Some(e) => {
            for (who, c) in [("client", &e.client_close), ("server", &e.server_close)] {
                if let Some(c) = c {
                    let code = c.code.map_or("no code".to_string(), |k| {
                        format!("{k} ({})", CloseCode(k).meaning())
                    });
                    out.push(Line::raw(format!(
                        "  {who} sent {code} \"{}\"",
                        for_terminal(&c.reason)
                    )));
                }
            }
            if let Some(outcome) = s.outcome() {
                out.push(Line::raw(format!(
                    "  {}",
                    describe_end_on(e, outcome, s.transport)
                )));
            }
            out.push(Line::raw(format!(
                "  messages c->s {} ({} B), s->c {} ({} B)",
                e.messages[0], e.payload_bytes[0], e.messages[1], e.payload_bytes[1]
            )));
        }
    }
    let total: u64 = s.findings.iter().map(|f| f.count).sum();
    out.push(heading(&format!("findings {total}")));
    finding_lines(app, &s.findings, &mut out);
    if !app.capture_findings.is_empty() {
        out.push(heading(&format!(
            "capture findings {}",
            app.capture_findings.len()
        )));
        finding_lines(app, &app.capture_findings, &mut out);
    }
    out
}

/// Lines of the message detail (header, payload as text / JSON / hex, close, findings).
pub fn message_detail_lines<'a>(app: &App, s: &SessionInfo, m: &MsgInfo) -> Vec<Line<'a>> {
    let msg = &m.event.message;
    let mut out = vec![Line::raw(format!(
        "message #{}  {} {}  {} B ({} B on the wire){}{}",
        m.event.index,
        msg.dir.as_str(),
        msg.kind.as_str(),
        msg.len,
        msg.wire_len,
        if msg.compressed { "  compressed" } else { "" },
        if msg.frames > 1 {
            format!("  {} frames", msg.frames)
        } else {
            String::new()
        }
    ))];
    let abs = {
        let day = msg.ts.secs().rem_euclid(86_400);
        format!(
            "{:02}:{:02}:{:02}.{:06}",
            day / 3600,
            day / 60 % 60,
            day % 60,
            msg.ts.subsec_nanos() / 1000
        )
    };
    let rel = msg.ts.nanos_since(s.start_ts);
    // Capture packet numbers, as Wireshark numbers frames (`frame.number`).
    let packets = match (m.event.first_packet, m.event.last_packet) {
        (first, last) if first == last => format!("packet {first}"),
        (first, last) => format!("packets {first}-{last}"),
    };
    out.push(Line::raw(format!(
        "at {} UTC ({:+.6} s into the session), {packets}",
        abs,
        rel as f64 / 1e9
    )));
    if let Some(rtt) = m.event.rtt_nanos {
        out.push(Line::raw(format!("ping RTT {:.3} ms", rtt as f64 / 1e6)));
    }
    if let Some(c) = msg.close_code {
        out.push(Line::raw(format!(
            "close code {c}: {}",
            CloseCode(c).meaning()
        )));
    }
    if let Some(r) = &msg.close_reason {
        out.push(Line::raw(format!("close reason \"{}\"", for_terminal(r))));
    }
    let payload = app.payload(m);
    if (payload.len() as u64) < msg.len {
        out.push(Line::styled(
            format!(
                "showing the first {} of {} bytes{}",
                payload.len(),
                msg.len,
                if msg.incomplete {
                    " (bytes missing from the capture)"
                } else {
                    ""
                }
            ),
            fg(app, Color::Yellow),
        ));
    }
    out.push(Line::raw(""));
    let json = (msg.kind == MessageKind::Text)
        .then(|| serde_json::from_slice::<serde_json::Value>(&payload).ok())
        .flatten()
        .filter(|v| v.is_object() || v.is_array());
    if let Some(v) = json {
        out.push(heading("payload (JSON)"));
        let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
        for l in json_terminal_safe(pretty).lines() {
            out.push(Line::raw(l.to_string()));
        }
    } else if msg.kind == MessageKind::Binary {
        out.push(heading("payload (hex)"));
        hex_dump(&payload, &mut out);
    } else if msg.kind != MessageKind::Close && !payload.is_empty() {
        out.push(heading("payload"));
        for l in payload.split(|&b| b == b'\n') {
            out.push(Line::raw(bytes_for_terminal(l)));
        }
    }
    let related: Vec<Finding> = s
        .findings
        .iter()
        .filter(|f| f.ts == Some(msg.ts) && f.dir.is_none_or(|d| d == msg.dir))
        .cloned()
        .collect();
    if !related.is_empty() {
        out.push(Line::raw(""));
        out.push(heading("findings at this time"));
        finding_lines(app, &related, &mut out);
    }
    out
}

/// Classic 16-bytes-per-line hex dump with an ASCII column (printable ASCII only).
pub fn hex_dump<'a>(bytes: &[u8], out: &mut Vec<Line<'a>>) {
    for (n, chunk) in bytes.chunks(16).enumerate() {
        let mut hex = String::with_capacity(50);
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => hex.push_str(&format!("{b:02x} ")),
                None => hex.push_str("   "),
            }
            if i == 7 {
                hex.push(' ');
            }
        }
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out.push(Line::raw(format!("{:08x}  {hex}|{ascii}|", n * 16)));
    }
}

/// Number of lines in the open detail pane (0 when closed).
pub fn detail_len(app: &App) -> usize {
    match (app.detail, app.session()) {
        (Some(Detail::Session), Some(s)) => session_detail_lines(app, s).len(),
        (Some(Detail::Message), Some(s)) => app
            .message()
            .map_or(0, |m| message_detail_lines(app, s, m).len()),
        _ => 0,
    }
}

fn render_detail(app: &App, d: Detail, area: Rect, buf: &mut Buffer) {
    let (title, lines) = match (d, app.session()) {
        (Detail::Session, Some(s)) => (
            format!("Session #{} handshake", s.id),
            session_detail_lines(app, s),
        ),
        (Detail::Message, Some(s)) => match app.message() {
            Some(m) => (
                format!("Message #{} of session #{}", m.event.index, s.id),
                message_detail_lines(app, s, m),
            ),
            None => ("Message".into(), Vec::new()),
        },
        _ => ("Detail".into(), Vec::new()),
    };
    let scroll = app.detail_scroll.min(lines.len().saturating_sub(1));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((scroll.min(u16::MAX as usize) as u16, 0))
        .block(block(
            app,
            format!("{title}  Esc back"),
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
    for info in &s.messages {
        let m = &info.event.message;
        let d = usize::from(m.dir == Dir::ServerToClient);
        st.count[d] += 1;
        st.bytes[d] += m.len;
        sum += m.len;
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
        if let Some(r) = info.event.rtt_nanos {
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
    let span = last
        .event
        .message
        .ts
        .nanos_since(first.event.message.ts)
        .max(1);
    let width = (span / buckets as i64).max(1) + 1;
    for m in &s.messages {
        let i = (m.event.message.ts.nanos_since(first.event.message.ts) / width)
            .clamp(0, buckets as i64 - 1) as usize;
        out[i] += 1;
    }
    (out, width)
}

fn render_stats(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(s) = app.session() else {
        block(app, "Stats".into(), true).render(area, buf);
        return;
    };
    let outer = block(app, format!("Stats of session #{}  s close", s.id), true);
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
    let line = if let Some(q) = &app.search_input {
        Line::raw(format!("/{}_", for_terminal(q)))
    } else if let Some(e) = app.errors.last() {
        Line::styled(format!("error: {}", for_terminal(e)), fg(app, Color::Red))
    } else if !app.query.is_empty() {
        let pos = app
            .matches
            .iter()
            .position(|&r| r == app.msg_sel)
            .map_or("-".to_string(), |p| (p + 1).to_string());
        if app.matches.is_empty() {
            Line::raw(format!("/{}: no match", for_terminal(&app.query)))
        } else {
            Line::raw(format!(
                "/{}: match {pos}/{}  n next  N previous",
                for_terminal(&app.query),
                app.matches.len()
            ))
        }
    } else {
        Line::raw("? help  q quit  Tab pane  Enter detail  / search  f filter  s stats  t time")
    };
    Paragraph::new(line).render(area, buf);
}

/// Help text lines.
pub const HELP: &[(&str, &str)] = &[
    ("↑/↓ j/k", "move selection"),
    ("PgUp/PgDn", "page"),
    ("g/G Home/End", "first / last"),
    ("Tab/Shift-Tab", "next / previous pane"),
    ("Enter", "detail (session handshake or message)"),
    ("Esc", "back"),
    ("/ n N", "search payloads, next, previous"),
    ("f", "cycle filter (type, direction)"),
    ("F", "follow new messages"),
    ("t", "time absolute / relative"),
    ("s", "stats of the session"),
    ("mouse", "click selects, wheel scrolls"),
    ("? / q Ctrl-C", "help / quit"),
];

fn render_help(app: &App, area: Rect, buf: &mut Buffer) {
    let h = (HELP.len() as u16 + 2).min(area.height);
    let w = 60.min(area.width);
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
                Span::styled(format!("{k:<15}"), fg(app, Color::Cyan)),
                Span::raw(*v),
            ])
        })
        .collect();
    Paragraph::new(lines)
        .block(block(app, "Help  any key closes".into(), true))
        .render(r, buf);
}
