//! Human-readable output: a summary block per session and, with `--messages`, a transcript.
//! Every payload and header value is escaped before it reaches the terminal.

use crate::output::{Output, OutputSink};
use crate::report::TlsReport;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use wsscope_core::escape::{bytes_for_terminal, for_terminal};
use wsscope_core::finding::{Finding, Severity};
use wsscope_core::handshake::{DeflateParams, Negotiated};
use wsscope_core::outcome::{CloseCode, SessionOutcome};
use wsscope_core::session::{
    CloseFrame, SessionEnd, SessionId, SessionMessage, SessionStart, Transport,
};
use wsscope_core::tcp::{CloseReason, Dir};
use wsscope_core::timestamp::Timestamp;
use wsscope_core::tls::TlsInfo;
use wsscope_core::totals::{CaptureTotals, RunTotals};
use wsscope_core::ws::message::MessageKind;

struct Open {
    start: SessionStart,
    capture: String,
    findings: Vec<String>,
    kinds: BTreeMap<&'static str, u64>,
    last_ts: Timestamp,
}

/// Text output: the [`Sink`](wsscope_core::sink::Sink) of [`Text`].
pub type TextSink = OutputSink<Text>;

/// Text output.
pub struct Text {
    out: Box<dyn Write>,
    transcript: bool,
    preview: usize,
    open: HashMap<u64, Open>,
}

/// Human-readable byte count (`1.0 GiB`).
pub use wsscope_core::budget::human as human_bytes;

/// Mostly printable bytes are shown as escaped text, anything else as hex of the first 32 bytes.
fn binary_preview(bytes: &[u8]) -> String {
    let printable = bytes
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .count();
    if printable * 10 >= bytes.len() * 8 {
        format!("\"{}\"", bytes_for_terminal(bytes))
    } else {
        let hex: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
        format!(
            "hex {}{}",
            hex.join(" "),
            if bytes.len() > 32 { " .." } else { "" }
        )
    }
}

fn arrow(dir: Dir) -> &'static str {
    match dir {
        Dir::ClientToServer => "c->s",
        Dir::ServerToClient => "s->c",
    }
}

fn side(dir: Dir) -> &'static str {
    match dir {
        Dir::ClientToServer => "client",
        Dir::ServerToClient => "server",
    }
}

/// A close frame as `1001 going away "reason"`.
fn describe_close(c: &CloseFrame) -> String {
    match c.code {
        Some(code) if c.reason.is_empty() => format!("{code} {}", CloseCode(code).meaning()),
        Some(code) => format!(
            "{code} {} \"{}\"",
            CloseCode(code).meaning(),
            for_terminal(&c.reason)
        ),
        None => "no status code".to_string(),
    }
}

/// The close frames of a session: who closed first and how the other side answered.
fn describe_close_frames(end: &SessionEnd) -> String {
    let frame = |d: Dir| match d {
        Dir::ClientToServer => end.client_close.as_ref(),
        Dir::ServerToClient => end.server_close.as_ref(),
    };
    let first = end
        .initiator
        .or(end.client_close.as_ref().map(|_| Dir::ClientToServer))
        .or(end.server_close.as_ref().map(|_| Dir::ServerToClient));
    let Some(first) = first else {
        return "no close frames".into();
    };
    let other = first.reverse();
    let opened = frame(first).map(describe_close).unwrap_or_default();
    let answer = match frame(other) {
        Some(CloseFrame { code: Some(c), .. }) => format!("{} answered {c}", side(other)),
        Some(_) => format!("{} answered without a status code", side(other)),
        None => format!("{} did not answer", side(other)),
    };
    format!("{} closed first: {opened}, {answer}", side(first))
}

/// The `close` line: the session's outcome as core decided it, its close frames and TCP end
/// (e.g. `server closed first: 1001 going away, client answered 1001; TCP fin by server; clean`).
pub fn describe_end(end: &SessionEnd, outcome: SessionOutcome) -> String {
    describe_end_on(end, outcome, Transport::Http1)
}

/// [`describe_end`] for a session carried by `transport`: an HTTP/2 stream's end is named by
/// its frame (`END_STREAM by client`, `RST_STREAM by server`) rather than TCP's.
pub fn describe_end_on(end: &SessionEnd, outcome: SessionOutcome, transport: Transport) -> String {
    let h2 = matches!(transport, Transport::H2 { .. });
    let what = |r: CloseReason| match (h2, r) {
        (true, CloseReason::Fin) => "END_STREAM".to_string(),
        (true, CloseReason::Rst) => "RST_STREAM".to_string(),
        (_, r) => format!("TCP {}", r.as_str()),
    };
    let tcp = match (end.tcp_end, end.tcp_closer) {
        (Some(r), Some(d)) => format!("{} by {}", what(r), side(d)),
        (Some(r), None) => what(r),
        (None, _) if h2 => "stream open".into(),
        (None, _) => "TCP open".into(),
    };
    // An upgrade attempt ends with its response (or the lack of one), often before TCP does:
    // its TCP end is shown only when known.
    let attempt_tcp = if end.tcp_end.is_some() {
        format!("; {tcp}")
    } else {
        String::new()
    };
    match outcome {
        SessionOutcome::Refused { status } => format!("upgrade refused ({status}){attempt_tcp}"),
        SessionOutcome::Unanswered => format!("upgrade unanswered{attempt_tcp}"),
        SessionOutcome::Closed { clean, .. } => format!(
            "{}; {tcp}; {}",
            describe_close_frames(end),
            if clean { "clean" } else { "not clean" }
        ),
        SessionOutcome::Abrupt(_) | SessionOutcome::Open => {
            format!("{}; {tcp}; {}", describe_close_frames(end), outcome.state())
        }
    }
}

/// The negotiated permessage-deflate parameters, as `permessage-deflate (client window 15,
/// server window 15, server no context takeover)`.
fn describe_deflate(d: &DeflateParams) -> String {
    let mut params = vec![
        format!("client window {}", d.client_max_window_bits),
        format!("server window {}", d.server_max_window_bits),
    ];
    if d.client_no_context_takeover {
        params.push("client no context takeover".into());
    }
    if d.server_no_context_takeover {
        params.push("server no context takeover".into());
    }
    format!("permessage-deflate ({})", params.join(", "))
}

/// A TLS handshake in one line: `TLS 1.3 TLS_AES_128_GCM_SHA256, sni example.com, alpn h2
/// (offered h2, http/1.1), resumed`.
pub fn describe_tls(t: &TlsInfo) -> String {
    let report = TlsReport::from(t);
    let mut parts = vec![format!(
        "{} {}",
        report.version.as_deref().unwrap_or("version unknown"),
        report.cipher_suite.as_deref().unwrap_or("suite unknown")
    )];
    if let Some(sni) = &t.sni {
        parts.push(format!("sni {}", for_terminal(sni)));
    }
    let offered: Vec<String> = t.alpn_offered.iter().map(|p| for_terminal(p)).collect();
    match (&t.alpn, offered.is_empty()) {
        (Some(a), true) => parts.push(format!("alpn {}", for_terminal(a))),
        (Some(a), false) => parts.push(format!(
            "alpn {} (offered {})",
            for_terminal(a),
            offered.join(", ")
        )),
        (None, false) => parts.push(format!("alpn offered {}", offered.join(", "))),
        (None, true) => {}
    }
    if t.resumed {
        parts.push("resumed".into());
    }
    if !t.decrypted {
        parts.push("not decrypted".into());
    }
    parts.join(", ")
}

/// What the 101 settled besides the status: accept check, subprotocol, extensions.
fn describe_negotiated(n: &Negotiated, status: u16) -> String {
    let mut extra = String::new();
    if status == 101 {
        extra.push_str(if n.accept_valid {
            ", accept valid"
        } else {
            ", ACCEPT INVALID"
        });
    }
    if let Some(p) = &n.subprotocol {
        extra.push_str(&format!(", subprotocol {}", for_terminal(p)));
    }
    if !n.extensions.is_empty() {
        let names: Vec<String> = n
            .extensions
            .iter()
            .map(|e| {
                match (
                    &n.deflate,
                    e.name.eq_ignore_ascii_case("permessage-deflate"),
                ) {
                    (Some(d), true) => describe_deflate(d),
                    _ => for_terminal(&e.name),
                }
            })
            .collect();
        extra.push_str(&format!(", extensions {}", names.join(", ")));
    }
    extra
}

impl TextSink {
    /// Text output to `out`; `transcript` prints every message with up to `preview` payload bytes.
    pub fn new(out: Box<dyn Write>, transcript: bool, preview: usize) -> Self {
        OutputSink::wrap(Text {
            out,
            transcript,
            preview,
            open: HashMap::new(),
        })
    }
}

impl Text {
    fn session_title(s: &SessionStart) -> String {
        let target = s
            .handshake
            .as_ref()
            .map(|h| {
                format!(
                    "{} {}",
                    for_terminal(&h.request.method),
                    for_terminal(&h.request.target)
                )
            })
            .unwrap_or_else(|| "(handshake not captured)".into());
        let carrier = match (s.transport, s.tls.is_some()) {
            (Transport::H2 { stream_id }, true) => format!("  (h2 over TLS, stream {stream_id})"),
            (Transport::H2 { stream_id }, false) => format!("  (h2c, stream {stream_id})"),
            (Transport::Http1, true) => "  (wss)".to_string(),
            (Transport::Http1, false) => String::new(),
        };
        format!(
            "session {}  {} -> {}  {}{carrier}",
            s.id, s.client, s.server, target
        )
    }

    fn write_end(&mut self, end: &SessionEnd, open: Open) -> io::Result<()> {
        let s = &open.start;
        let o = &mut self.out;
        if self.transcript {
            // The transcript began with the session's title: name it, do not repeat it.
            writeln!(o, "end of session {}", s.id)?;
        } else {
            writeln!(
                o,
                "{}  [{}]",
                Self::session_title(s),
                for_terminal(&open.capture)
            )?;
        }
        let status = s
            .handshake
            .as_ref()
            .and_then(|h| h.response.as_ref().map(|r| r.status));
        match &s.handshake {
            Some(h) => match &h.response {
                Some(r) => {
                    let reason = if r.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", for_terminal(&r.reason))
                    };
                    writeln!(
                        o,
                        "  handshake  {}{reason}{}",
                        r.status,
                        describe_negotiated(&h.negotiated, r.status)
                    )?;
                    if let Some(body) = &end.response_body {
                        let more = if body.len > body.bytes.len() as u64 {
                            format!(" (first {} shown)", human_bytes(body.bytes.len() as u64))
                        } else {
                            String::new()
                        };
                        writeln!(
                            o,
                            "  body       {}{more}: \"{}\"",
                            human_bytes(body.len),
                            bytes_for_terminal(&body.bytes)
                        )?;
                    }
                }
                None => writeln!(o, "  handshake  request only (no response captured)")?,
            },
            None => writeln!(o, "  handshake  not captured (mid-stream)")?,
        }
        if let Some(tls) = &s.tls {
            writeln!(o, "  tls        {}", describe_tls(tls))?;
        }
        let secs = end.ts.nanos_since(s.ts) as f64 / 1e9;
        writeln!(o, "  time       {} .. {} ({secs:.3} s)", s.ts, end.ts)?;
        if end.upgraded {
            let kinds: Vec<String> = open.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(
                o,
                "  messages   c->s {} ({}), s->c {} ({}); {}",
                end.messages[0],
                human_bytes(end.payload_bytes[0]),
                end.messages[1],
                human_bytes(end.payload_bytes[1]),
                if kinds.is_empty() {
                    "none".to_string()
                } else {
                    kinds.join(", ")
                }
            )?;
        }
        writeln!(
            o,
            "  close      {}",
            describe_end_on(end, SessionOutcome::of(end, status), s.transport)
        )?;
        for f in &open.findings {
            writeln!(o, "  finding    {f}")?;
        }
        writeln!(o)
    }
}

impl Output for Text {
    fn session_start(&mut self, s: &SessionStart, capture: &str) -> io::Result<()> {
        if self.transcript {
            writeln!(
                self.out,
                "{}  [{}]",
                Self::session_title(s),
                for_terminal(capture)
            )?;
        }
        self.open.insert(
            s.id,
            Open {
                start: s.clone(),
                capture: capture.to_string(),
                findings: Vec::new(),
                kinds: BTreeMap::new(),
                last_ts: s.ts,
            },
        );
        Ok(())
    }

    fn message(&mut self, m: &SessionMessage) -> io::Result<()> {
        let msg = &m.message;
        if let Some(open) = self.open.get_mut(&m.session) {
            *open.kinds.entry(msg.kind.as_str()).or_default() += 1;
            open.last_ts = msg.end_ts;
        }
        if self.transcript {
            let start = self.open.get(&m.session).map_or(msg.ts, |o| o.start.ts);
            let rel = msg.ts.nanos_since(start) as f64 / 1e9;
            let shown = &msg.payload[..msg.payload.len().min(self.preview)];
            let mut preview = match msg.kind {
                MessageKind::Close => match msg.close_code {
                    Some(c) => format!(
                        "{c} {}",
                        for_terminal(msg.close_reason.as_deref().unwrap_or(""))
                    ),
                    None => String::new(),
                },
                // A message that did not inflate has no payload to show; it was not empty.
                _ if msg.inflate_error.is_some() => String::new(),
                MessageKind::Text => format!("\"{}\"", bytes_for_terminal(shown)),
                _ if shown.is_empty() => String::new(),
                _ => binary_preview(shown),
            };
            if let Some(err) = &msg.inflate_error {
                preview = format!(
                    "(not inflated, {} compressed: {})",
                    human_bytes(msg.wire_len),
                    for_terminal(&err.to_string())
                );
            } else if (shown.len() as u64) < msg.len
                && msg.kind != MessageKind::Close
                && !preview.starts_with("hex ")
            {
                preview.push_str("...");
            }
            let mut flags = String::new();
            if msg.compressed {
                flags.push_str(" [deflate]");
            }
            if msg.frames > 1 {
                flags.push_str(&format!(" [{} frames]", msg.frames));
            }
            if msg.incomplete {
                flags.push_str(" [incomplete]");
            }
            if let Some(rtt) = m.rtt_nanos {
                flags.push_str(&format!(" [rtt {:.3} ms]", rtt as f64 / 1e6));
            }
            // Capture packet numbers, as Wireshark numbers frames (`frame.number`).
            let packets = if m.first_packet == m.last_packet {
                format!("pkt {}", m.first_packet)
            } else {
                format!("pkt {}-{}", m.first_packet, m.last_packet)
            };
            writeln!(
                self.out,
                "  #{:<4} {packets:<9} {} +{rel:.6}s {} {:<6} {:>8}{flags} {preview}",
                m.index,
                msg.ts,
                arrow(msg.dir),
                msg.kind.as_str(),
                human_bytes(msg.len),
            )?;
        }
        Ok(())
    }

    fn finding(
        &mut self,
        session: Option<SessionId>,
        finding: &Finding,
        capture: &str,
    ) -> io::Result<()> {
        let dir = finding
            .dir
            .map(|d| format!(" {}", arrow(d)))
            .unwrap_or_default();
        let open = session.and_then(|id| self.open.get_mut(&id));
        // A capture-level line starts with the capture's name: a detail that names it first
        // (as the capture's own warnings do, for the JSON report) does not repeat it.
        let detail = match open {
            None => finding
                .detail
                .strip_prefix(capture)
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(&finding.detail),
            Some(_) => &finding.detail,
        };
        let line = format!(
            "{} {}{dir}: {}",
            finding.severity.as_str(),
            finding.code.as_str(),
            for_terminal(detail)
        );
        match open {
            Some(open) => {
                if self.transcript {
                    writeln!(self.out, "  ! {line}")?;
                }
                open.findings.push(line);
            }
            None => writeln!(self.out, "{}: {line}", for_terminal(capture))?,
        }
        Ok(())
    }

    fn session_end(&mut self, end: &SessionEnd) -> io::Result<()> {
        match self.open.remove(&end.id) {
            Some(open) => self.write_end(end, open),
            None => Ok(()),
        }
    }

    fn finish(&mut self, totals: &RunTotals, _captures: &[CaptureTotals]) -> io::Result<()> {
        // A capture's warnings were printed as its `capture-truncated` findings.
        writeln!(
            self.out,
            "{} capture(s), {} packets, {}, {} TCP connection(s), {} WebSocket session(s) ({} upgrade attempt(s) in all), {} data message(s), {} control frame(s); findings: {} error, {} warning, {} info",
            totals.captures,
            totals.packets,
            human_bytes(totals.bytes),
            totals.tcp_flows,
            totals.websocket_sessions,
            totals.sessions,
            totals.messages.data(),
            totals.messages.control(),
            totals.findings_of(Severity::Error),
            totals.findings_of(Severity::Warning),
            totals.findings_of(Severity::Info),
        )?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsscope_core::tcp::CloseReason;

    fn end_with(client: Option<u16>, server: Option<u16>, initiator: Option<Dir>) -> SessionEnd {
        let frame = |code: Option<u16>| {
            code.map(|c| CloseFrame {
                code: Some(c),
                reason: String::new(),
                ts: Timestamp::default(),
            })
        };
        let mut e = SessionEnd::without_upgrade(1, Timestamp::default(), None);
        e.upgraded = true;
        e.client_close = frame(client);
        e.server_close = frame(server);
        e.initiator = initiator;
        e
    }

    #[test]
    fn close_line_names_who_closed_first_for_every_outcome() {
        let mut e = end_with(Some(1001), Some(1001), Some(Dir::ServerToClient));
        e.tcp_end = Some(CloseReason::Fin);
        e.tcp_closer = Some(Dir::ServerToClient);
        e.clean = true;
        assert_eq!(
            describe_end(&e, SessionOutcome::of(&e, Some(101))),
            "server closed first: 1001 going away, client answered 1001; TCP fin by server; clean"
        );
        let mut e = end_with(Some(1000), None, Some(Dir::ClientToServer));
        e.tcp_end = Some(CloseReason::Rst);
        e.tcp_closer = Some(Dir::ServerToClient);
        assert_eq!(
            describe_end(&e, SessionOutcome::of(&e, Some(101))),
            "client closed first: 1000 normal closure, server did not answer; TCP rst by server; abrupt"
        );
        let e = end_with(None, None, None);
        assert_eq!(
            describe_end(&e, SessionOutcome::of(&e, Some(101))),
            "no close frames; TCP open; open"
        );
        let mut e = SessionEnd::without_upgrade(1, Timestamp::default(), None);
        assert_eq!(
            describe_end(&e, SessionOutcome::of(&e, None)),
            "upgrade unanswered"
        );
        e.tcp_end = Some(CloseReason::Fin);
        e.tcp_closer = Some(Dir::ServerToClient);
        assert_eq!(
            describe_end(&e, SessionOutcome::of(&e, Some(403))),
            "upgrade refused (403); TCP fin by server"
        );
    }
}
