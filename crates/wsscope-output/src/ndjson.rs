//! `--ndjson`: one JSON object per line, written as events happen; memory stays flat.

use crate::json_line::MessageLineWriter;
use crate::output::{Output, OutputSink};
use crate::report::{
    capture_reports, close_report, finding_report, response_body_text, session_info, session_stats,
    NdjsonEvent, PayloadMode, SessionEndEvent, SessionHeader, Summary, SummaryEvent,
    SCHEMA_VERSION,
};
use std::collections::HashMap;
use std::io::{self, Write};
use wsscope_core::escape::json_terminal_safe;
use wsscope_core::finding::Finding;
use wsscope_core::session::{SessionEnd, SessionId, SessionMessage, SessionStart};
use wsscope_core::totals::{CaptureTotals, RunTotals};

/// `--ndjson`: one line per event.
pub type NdjsonSink = OutputSink<Ndjson>;

/// Streams events.
pub struct Ndjson {
    out: Box<dyn Write>,
    mode: PayloadMode,
    /// Status of the upgrade response of each open session that has one (to tell "refused"
    /// from "unanswered").
    answered: HashMap<u64, u16>,
    flush_each: bool,
    /// The line being written (reused).
    buf: Vec<u8>,
    messages: MessageLineWriter,
}

impl NdjsonSink {
    /// Writes to `out`; with `flush_each`, every line is flushed (live use).
    pub fn new(out: Box<dyn Write>, mode: PayloadMode, flush_each: bool) -> Self {
        OutputSink::wrap(Ndjson {
            out,
            mode,
            answered: HashMap::new(),
            flush_each,
            buf: Vec::with_capacity(4096),
            messages: MessageLineWriter::new(),
        })
    }
}

impl Ndjson {
    fn line(&mut self, ev: &NdjsonEvent) -> io::Result<()> {
        let text = serde_json::to_string(ev).map_err(io::Error::from)?;
        self.out.write_all(json_terminal_safe(text).as_bytes())?;
        self.end_line()
    }

    fn end_line(&mut self) -> io::Result<()> {
        self.out.write_all(b"\n")?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }
}

impl Output for Ndjson {
    fn session_start(&mut self, s: &SessionStart, capture: &str) -> io::Result<()> {
        if let Some(r) = s.handshake.as_ref().and_then(|h| h.response.as_ref()) {
            self.answered.insert(s.id, r.status);
        }
        self.line(&NdjsonEvent::SessionStart(Box::new(SessionHeader {
            session: s.id,
            info: session_info(s, capture),
        })))
    }

    fn message(&mut self, m: &SessionMessage) -> io::Result<()> {
        self.buf.clear();
        self.messages.write(&mut self.buf, m, self.mode);
        self.out.write_all(&self.buf)?;
        self.end_line()
    }

    fn finding(&mut self, session: Option<SessionId>, f: &Finding, _: &str) -> io::Result<()> {
        self.line(&NdjsonEvent::Finding(finding_report(f, session)))
    }

    fn session_end(&mut self, e: &SessionEnd) -> io::Result<()> {
        let status = self.answered.remove(&e.id);
        self.line(&NdjsonEvent::SessionEnd(SessionEndEvent {
            session: e.id,
            close: close_report(e, status),
            stats: session_stats(e),
            response_body: e.response_body.as_ref().map(response_body_text),
            response_body_len: e.response_body.as_ref().map(|b| b.len),
        }))
    }

    fn finish(&mut self, totals: &RunTotals, captures: &[CaptureTotals]) -> io::Result<()> {
        self.line(&NdjsonEvent::Summary(SummaryEvent {
            schema_version: SCHEMA_VERSION,
            captures: capture_reports(captures),
            summary: Summary::from(totals),
        }))?;
        self.out.flush()
    }
}
