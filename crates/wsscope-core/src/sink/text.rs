//! Human-readable output: a summary block per session and, with `--messages`, a transcript.
//! Every payload and header value is escaped before it reaches the terminal.

use super::Sink;
use crate::analyzer::Event;
use crate::escape::{bytes_for_terminal, for_terminal};
use crate::report::{close_code_meaning, CaptureReport, Summary};
use crate::session::{CloseFrame, SessionEnd, SessionStart};
use crate::tcp::Dir;
use crate::timestamp::Timestamp;
use crate::ws::message::MessageKind;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

struct Open {
    start: SessionStart,
    capture: String,
    findings: Vec<String>,
    kinds: BTreeMap<&'static str, u64>,
    last_ts: Timestamp,
}

/// Text output.
pub struct TextSink {
    out: Box<dyn Write>,
    transcript: bool,
    preview: usize,
    capture: String,
    open: HashMap<u64, Open>,
}

/// Human-readable byte count (`1.0 GiB`).
pub use crate::budget::human as human_bytes;

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

fn describe_close(c: &CloseFrame) -> String {
    match c.code {
        Some(code) if c.reason.is_empty() => format!("{code} ({})", close_code_meaning(code)),
        Some(code) => format!(
            "{code} ({}) \"{}\"",
            close_code_meaning(code),
            for_terminal(&c.reason)
        ),
        None => "no status code".to_string(),
    }
}

impl TextSink {
    /// Text output to `out`; `transcript` prints every message with up to `preview` payload bytes.
    pub fn new(out: Box<dyn Write>, transcript: bool, preview: usize) -> Self {
        TextSink {
            out,
            transcript,
            preview,
            capture: String::new(),
            open: HashMap::new(),
        }
    }

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
        format!("session {}  {} -> {}  {}", s.id, s.client, s.server, target)
    }

    fn write_end(&mut self, end: &SessionEnd, open: Open) -> io::Result<()> {
        let s = &open.start;
        let o = &mut self.out;
        writeln!(
            o,
            "{}  [{}]",
            Self::session_title(s),
            for_terminal(&open.capture)
        )?;
        match &s.handshake {
            Some(h) => match &h.response {
                Some(r) => {
                    let n = &h.negotiated;
                    let accept = if r.status != 101 {
                        String::new()
                    } else if n.accept_valid {
                        ", accept valid".into()
                    } else {
                        ", ACCEPT INVALID".into()
                    };
                    let mut extra = String::new();
                    if let Some(p) = &n.subprotocol {
                        extra.push_str(&format!(", subprotocol {}", for_terminal(p)));
                    }
                    if !n.extensions.is_empty() {
                        let names: Vec<String> =
                            n.extensions.iter().map(|e| for_terminal(&e.name)).collect();
                        extra.push_str(&format!(", extensions {}", names.join(", ")));
                    }
                    writeln!(
                        o,
                        "  handshake  {} {}{accept}{extra}",
                        r.status,
                        for_terminal(&r.reason)
                    )?;
                }
                None => writeln!(o, "  handshake  request only (no response captured)")?,
            },
            None => writeln!(o, "  handshake  not captured (mid-stream)")?,
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
            let mut close = Vec::new();
            if let Some(c) = &end.client_close {
                close.push(format!("client sent {}", describe_close(c)));
            }
            if let Some(c) = &end.server_close {
                close.push(format!("server sent {}", describe_close(c)));
            }
            if close.is_empty() {
                close.push("no close frames".into());
            }
            let tcp = match (end.tcp_end, end.tcp_closer) {
                (Some(r), Some(d)) => format!(
                    "TCP {} by {}",
                    r.as_str(),
                    if d == Dir::ClientToServer {
                        "client"
                    } else {
                        "server"
                    }
                ),
                (Some(r), None) => format!("TCP {}", r.as_str()),
                (None, _) => "TCP open".into(),
            };
            let verdict = if end.clean { "clean" } else { "not clean" };
            writeln!(o, "  close      {}; {tcp}; {verdict}", close.join(", "))?;
        }
        for f in &open.findings {
            writeln!(o, "  finding    {f}")?;
        }
        writeln!(o)
    }
}

impl Sink for TextSink {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.capture = path.to_string();
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        match ev {
            Event::SessionStart(s) => {
                if self.transcript {
                    writeln!(self.out, "{}", Self::session_title(s))?;
                }
                self.open.insert(
                    s.id,
                    Open {
                        start: (*s).clone(),
                        capture: self.capture.clone(),
                        findings: Vec::new(),
                        kinds: BTreeMap::new(),
                        last_ts: s.ts,
                    },
                );
            }
            Event::Message(m) => {
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
                        MessageKind::Text => format!("\"{}\"", bytes_for_terminal(shown)),
                        _ if shown.is_empty() => String::new(),
                        _ => binary_preview(shown),
                    };
                    if (shown.len() as u64) < msg.len
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
                    writeln!(
                        self.out,
                        "  #{:<4} {} +{rel:.6}s {} {:<6} {:>8}{flags} {preview}",
                        m.index,
                        msg.ts,
                        arrow(msg.dir),
                        msg.kind.as_str(),
                        human_bytes(msg.len),
                    )?;
                }
            }
            Event::Finding { session, finding } => {
                let dir = finding
                    .dir
                    .map(|d| format!(" {}", arrow(d)))
                    .unwrap_or_default();
                let line = format!(
                    "{} {}{dir}: {}",
                    finding.severity.as_str(),
                    finding.code.as_str(),
                    for_terminal(&finding.detail)
                );
                match session.and_then(|id| self.open.get_mut(&id)) {
                    Some(open) => {
                        if self.transcript {
                            writeln!(self.out, "  ! {line}")?;
                        }
                        open.findings.push(line);
                    }
                    None => writeln!(self.out, "{}: {line}", for_terminal(&self.capture))?,
                }
            }
            Event::SessionEnd(end) => {
                if let Some(open) = self.open.remove(&end.id) {
                    self.write_end(end, open)?;
                }
            }
            Event::Flow(_) => {}
        }
        Ok(())
    }

    fn finish(&mut self, summary: &Summary, captures: &[CaptureReport]) -> io::Result<()> {
        for c in captures {
            for w in &c.warnings {
                writeln!(
                    self.out,
                    "{}: warning: {}",
                    for_terminal(&c.path),
                    for_terminal(w)
                )?;
            }
        }
        let sev = |k: &str| summary.findings_by_severity.get(k).copied().unwrap_or(0);
        writeln!(
            self.out,
            "{} capture(s), {} packets, {}, {} TCP connection(s), {} WebSocket session(s) ({} upgrade attempt(s) in all), {} messages; findings: {} error, {} warning, {} info",
            summary.captures,
            summary.packets,
            human_bytes(summary.bytes),
            summary.tcp_flows,
            summary.websocket_sessions,
            summary.sessions,
            summary.messages,
            sev("error"),
            sev("warning"),
            sev("info"),
        )?;
        self.out.flush()
    }
}
