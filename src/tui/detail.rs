//! The detail pane: the lines of a session's detail (handshake, close, findings) and of a
//! message's (header, payload as text, faithful pretty JSON or hex, close, findings), wrapped
//! to the pane's width and scrolled by rows. Every payload, header, path or reason string goes
//! through [`wsscope_core::escape`] before it is drawn.

use crate::tui::render::{fg, fmt_size, heading};
use crate::tui::state::{dir_label, App, Detail, SessionInfo};
use crate::tui::store::MsgRow;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use std::rc::Rc;
use wsscope_core::escape::{bytes_for_terminal, for_terminal};
use wsscope_core::finding::{Code, Finding};
use wsscope_core::outcome::CloseCode;
use wsscope_core::session::{SessionEnd, Transport};
use wsscope_core::ws::message::MessageKind;
use wsscope_output::text::{describe_end_on, describe_tls};

/// Most payload bytes the detail pane lays out (the rest is written with `w`).
pub const DETAIL_MAX: usize = 1 << 20;

/// Most lines the detail pane lays out (before wrapping).
pub const MAX_LINES: usize = 50_000;

/// What the cached rows were made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetailKey {
    detail: Detail,
    session: usize,
    message: Option<usize>,
    width: u16,
    raw: bool,
    findings: usize,
    ended: bool,
    unlisted: usize,
    capture_findings: usize,
}

/// The detail pane's rows, wrapped, for one [`DetailKey`].
#[derive(Clone, Debug)]
pub struct DetailRows {
    key: DetailKey,
    /// Title of the pane.
    pub title: String,
    /// Rows, wrapped to the width.
    pub rows: Rc<Vec<Line<'static>>>,
}

/// The open detail's rows for a pane `width` columns wide inside its borders (cached in the
/// app: a 1 MiB payload is laid out once, not on every key).
pub fn rows(app: &App, width: u16) -> Option<DetailRows> {
    let detail = app.detail?;
    let key = DetailKey {
        detail,
        session: app.session_sel,
        message: (detail == Detail::Message)
            .then(|| app.message_pos())
            .flatten(),
        width,
        raw: app.raw,
        findings: app.session().map_or(0, |s| s.findings.len()),
        ended: app.session().is_some_and(|s| s.end.is_some()),
        unlisted: app.session().map_or(0, |s| s.unlisted.len()),
        capture_findings: app.capture_findings.len(),
    };
    if let Some(c) = app.detail_cache.borrow().as_ref() {
        if c.key == key {
            return Some(c.clone());
        }
    }
    let s = app.session()?;
    let (title, lines) = match detail {
        Detail::Session => (
            format!("Session #{} handshake", s.id()),
            session_detail_lines(app, s),
        ),
        Detail::Message => {
            let pos = app.message_pos()?;
            let m = app.message()?;
            (
                format!("Message #{} of session #{}", s.index_of(pos), s.id()),
                message_detail_lines(app, s, m, pos),
            )
        }
    };
    let mut lines = lines;
    if lines.len() > MAX_LINES {
        // A hostile payload (a 1 MiB JSON array of zeros is 500,000 lines) must not make the
        // detail hold hundreds of MB: the rest is one `w` away.
        let more = lines.len() - MAX_LINES;
        lines.truncate(MAX_LINES);
        lines.push(Line::styled(
            format!("... {more} more lines not laid out here; w writes the whole payload"),
            fg(app, Color::Yellow),
        ));
    }
    let rows = DetailRows {
        key,
        title,
        rows: Rc::new(crate::tui::wrap::wrap_lines(&lines, width)),
    };
    *app.detail_cache.borrow_mut() = Some(rows.clone());
    Some(rows)
}

fn finding_lines(app: &App, findings: &[Finding], out: &mut Vec<Line<'static>>) {
    for f in findings {
        let dir = f
            .dir
            .map_or(String::new(), |d| format!(" {}", dir_label(d)));
        let count = if f.count > 1 {
            format!(" (x{})", f.count)
        } else {
            String::new()
        };
        out.push(Line::from(vec![
            Span::styled(
                format!("  {:<7}", f.severity.as_str()),
                crate::tui::render::sev_style(app, f.severity),
            ),
            Span::raw(format!(
                " {}{}{count}: {}",
                f.code.as_str(),
                dir,
                for_terminal(&f.detail)
            )),
        ]));
    }
}

/// Lines of the session detail (handshake, close, findings).
pub fn session_detail_lines(app: &App, s: &SessionInfo) -> Vec<Line<'static>> {
    let mut out = vec![
        Line::raw(format!(
            "session #{}  client {} -> server {}  [{}]",
            s.id(),
            s.client(),
            s.server(),
            for_terminal(&s.capture)
        )),
        Line::raw(format!(
            "time {}{}",
            s.start_ts().rfc3339(),
            s.end.as_ref().map_or(String::new(), |e| format!(
                " .. {} ({:.3} s)",
                e.ts.rfc3339(),
                e.ts.nanos_since(s.start_ts()) as f64 / 1e9
            ))
        )),
    ];
    if let Transport::H2 { stream_id } = s.transport() {
        out.push(Line::raw(format!(
            "HTTP/2 stream {stream_id} (RFC 8441 extended CONNECT){}",
            if s.tls().is_some() {
                " over TLS"
            } else {
                ", cleartext h2c"
            }
        )));
    }
    if let Some(tls) = s.tls() {
        out.push(Line::raw(format!("tls {}", describe_tls(tls))));
    }
    match s.handshake() {
        None => out.push(Line::raw(
            "path unknown (mid-stream): the handshake was not captured (the capture began after it, or --decode-as)",
        )),
        Some(h) => {
            out.push(heading("request"));
            let version = match s.transport() {
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
                    out.push(Line::raw(match s.transport() {
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
                    if let Some(body) = s.end.as_ref().and_then(|e| e.response_body.as_ref()) {
                        let kept = if (body.bytes.len() as u64) < body.len {
                            format!(", first {} shown", body.bytes.len())
                        } else {
                            String::new()
                        };
                        out.push(Line::raw(format!(
                            "  body ({} B{kept}): \"{}\"",
                            body.len,
                            bytes_for_terminal(&body.bytes)
                        )));
                    }
                }
            }
            let n = &h.negotiated;
            if matches!(s.transport(), Transport::H2 { .. }) {
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
                let pending = SessionEnd::without_upgrade(s.id(), s.start_ts(), None);
                out.push(Line::raw(format!(
                    "  {}",
                    describe_end_on(&pending, outcome, s.transport())
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
                    describe_end_on(e, outcome, s.transport())
                )));
            }
            out.push(Line::raw(format!(
                "  messages c->s {} ({} B), s->c {} ({} B)",
                e.messages[0], e.payload_bytes[0], e.messages[1], e.payload_bytes[1]
            )));
        }
    }
    let unlisted: u64 = s.unlisted.iter().map(|&(_, n)| n).sum();
    if unlisted > 0 {
        out.push(Line::styled(
            format!(
                "  {unlisted} messages not listed: the memory budget (--max-memory) was reached"
            ),
            fg(app, Color::Yellow),
        ));
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
pub fn message_detail_lines(
    app: &App,
    s: &SessionInfo,
    m: &MsgRow,
    pos: usize,
) -> Vec<Line<'static>> {
    let mut out = vec![Line::raw(format!(
        "message #{}  {} {}  {} ({} on the wire){}{}",
        s.index_of(pos),
        dir_label(m.dir),
        m.kind.as_str(),
        if m.inflate_failed() {
            "size unknown".to_string()
        } else {
            fmt_size(m.len)
        },
        fmt_size(m.wire_len),
        if m.compressed() { "  compressed" } else { "" },
        if m.frames > 1 {
            format!("  {} frames", m.frames)
        } else {
            String::new()
        }
    ))];
    let day = m.ts.secs().rem_euclid(86_400);
    let abs = format!(
        "{:02}:{:02}:{:02}.{:06}",
        day / 3600,
        day / 60 % 60,
        day % 60,
        m.ts.subsec_nanos() / 1000
    );
    let rel = m.ts.nanos_since(s.start_ts());
    // Capture packet numbers, as Wireshark numbers frames (`frame.number`).
    let packets = if m.packet_span == 0 {
        format!("packet {}", m.first_packet)
    } else {
        format!("packets {}-{}", m.first_packet, m.last_packet())
    };
    out.push(Line::raw(format!(
        "at {abs} UTC ({:+.6} s into the session), {packets}",
        rel as f64 / 1e9
    )));
    if let Some(rtt) = m.rtt_nanos() {
        out.push(Line::raw(format!("ping RTT {:.3} ms", rtt as f64 / 1e6)));
    }
    let related: Vec<Finding> = s
        .findings_of_message(pos)
        .into_iter()
        .filter_map(|k| s.findings.get(k).cloned())
        .collect();
    if m.inflate_failed() {
        let why = related
            .iter()
            .find(|f| f.code == Code::DecompressionFailed)
            .map_or(
                "the compressed data is not valid deflate".to_string(),
                |f| {
                    // The finding's words after its own preamble ("text message (N bytes
                    // compressed) does not inflate: ").
                    let d = f.detail.as_str();
                    for_terminal(d.split_once("does not inflate: ").map_or(d, |x| x.1))
                },
            );
        out.push(Line::styled(
            format!(
                "did not inflate ({} compressed): {why}; the payload is unknown",
                fmt_size(m.wire_len)
            ),
            fg(app, Color::Red),
        ));
    }
    if m.utf8_invalid() {
        out.push(Line::styled(
            "not valid UTF-8 (invalid-utf8): shown with the bad bytes escaped",
            fg(app, Color::Red),
        ));
    }
    let payload = app.payload_prefix(m, DETAIL_MAX);
    if let Some(c) = m.close_code {
        out.push(Line::raw(format!(
            "close code {c}: {}",
            CloseCode(c).meaning()
        )));
        if let Some(reason) = payload.get(2..) {
            out.push(Line::raw(format!(
                "close reason \"{}\"",
                bytes_for_terminal(reason)
            )));
        }
    }
    let kept = m.payload.len as usize;
    if (payload.len() as u64) < m.len && !m.inflate_failed() {
        let why = if m.incomplete() {
            " (bytes missing from the capture)"
        } else if m.not_kept() {
            " (not kept: spill file limit or memory budget)"
        } else if kept > payload.len() {
            " (w writes the whole payload)"
        } else {
            " (the rest was not kept: --max-message-size)"
        };
        out.push(Line::styled(
            format!(
                "showing the first {} of {} bytes{why}",
                payload.len(),
                m.len
            ),
            fg(app, Color::Yellow),
        ));
    }
    out.push(Line::raw(""));
    if m.len == 0 && !m.inflate_failed() {
        out.push(heading("payload"));
        out.push(Line::raw("(empty)"));
    } else if m.kind == MessageKind::Text && !payload.is_empty() {
        text_payload(
            app,
            &payload,
            m.payload.len as usize > payload.len(),
            &mut out,
        );
    } else if !payload.is_empty() {
        out.push(heading("payload (hex)"));
        hex_dump(&payload, &mut out);
    }
    if !related.is_empty() {
        out.push(Line::raw(""));
        out.push(heading("findings at this time"));
        finding_lines(app, &related, &mut out);
    }
    out
}

/// A text payload: faithful pretty JSON (socket.io/engine.io prefix named) unless raw is on
/// or it is not JSON, else the text as sent, line by line, escaped.
fn text_payload(app: &App, payload: &[u8], cut: bool, out: &mut Vec<Line<'static>>) {
    let text = std::str::from_utf8(payload).ok();
    if !app.raw && !cut {
        if let Some(view) = text.and_then(json_view) {
            out.push(heading(&format!("payload ({}; r: raw)", view.label)));
            for l in view.lines {
                out.push(Line::raw(l));
            }
            for d in view.notes {
                out.push(Line::styled(d, fg(app, Color::Yellow)));
            }
            return;
        }
    }
    out.push(heading(if app.raw {
        "payload (raw, as sent; r: pretty JSON)"
    } else {
        "payload"
    }));
    for l in payload.split(|&b| b == b'\n') {
        out.push(Line::raw(bytes_for_terminal(l)));
    }
}

/// Classic 16-bytes-per-line hex dump with an ASCII column (printable ASCII only).
pub fn hex_dump(bytes: &[u8], out: &mut Vec<Line<'static>>) {
    use std::fmt::Write;
    for (n, chunk) in bytes.chunks(16).enumerate() {
        let mut line = String::with_capacity(80);
        let _ = write!(line, "{:08x}  ", n * 16);
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => {
                    let _ = write!(line, "{b:02x} ");
                }
                None => line.push_str("   "),
            }
            if i == 7 {
                line.push(' ');
            }
        }
        line.push('|');
        line.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        line.push('|');
        out.push(Line::raw(line));
    }
}

/// A text payload shown as pretty JSON.
pub struct JsonView {
    /// What it is (`JSON`, `socket.io EVENT, JSON`).
    pub label: String,
    /// The pretty lines, terminal-safe.
    pub lines: Vec<String>,
    /// Notes (duplicate keys).
    pub notes: Vec<String>,
}

/// `text` pretty-printed, token by token (nothing of the message changed), when it is a JSON
/// object or array, or one after a socket.io/engine.io packet prefix.
pub fn json_view(text: &str) -> Option<JsonView> {
    use wsscope_output::jsonfmt;
    let (label, pretty) = match jsonfmt::pretty(text) {
        Ok(p) => ("JSON pretty-printed, every token as sent".to_string(), p),
        Err(_) => {
            let (prefix, p) = jsonfmt::pretty_prefixed(text)?;
            (
                format!(
                    "{}: `{}` then JSON pretty-printed, every token as sent",
                    prefix.label,
                    for_terminal(&text[..prefix.json_start])
                ),
                p,
            )
        }
    };
    let mut notes: Vec<String> = pretty
        .duplicates
        .iter()
        .map(|d| {
            format!(
                "duplicate key \"{}\" at {} (JSON.parse keeps the last)",
                d.key, d.path
            )
        })
        .collect();
    if pretty.duplicates_omitted > 0 {
        notes.push(format!(
            "and {} more duplicate keys",
            pretty.duplicates_omitted
        ));
    }
    Some(JsonView {
        label,
        lines: pretty.lines,
        notes,
    })
}
