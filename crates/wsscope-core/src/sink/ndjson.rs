//! `--ndjson`: one JSON object per line, written as events happen; memory stays flat.

use super::json_line::MessageLineWriter;
use super::Sink;
use crate::analyzer::Event;
use crate::escape::json_terminal_safe;
use crate::report::{
    close_report, finding_report, session_header, session_stats, CaptureReport, NdjsonEvent,
    PayloadMode, SessionEndEvent, Summary, SummaryEvent, SCHEMA_VERSION,
};
use std::collections::HashSet;
use std::io::{self, Write};

/// Streams events.
pub struct NdjsonSink {
    out: Box<dyn Write>,
    mode: PayloadMode,
    capture: String,
    /// Sessions whose handshake included a response (to tell "refused" from "unanswered").
    answered: HashSet<u64>,
    flush_each: bool,
    /// The line being written (reused).
    buf: Vec<u8>,
    messages: MessageLineWriter,
}

impl NdjsonSink {
    /// Writes to `out`; with `flush_each`, every line is flushed (live use).
    pub fn new(out: Box<dyn Write>, mode: PayloadMode, flush_each: bool) -> Self {
        NdjsonSink {
            out,
            mode,
            capture: String::new(),
            answered: HashSet::new(),
            flush_each,
            buf: Vec::with_capacity(4096),
            messages: MessageLineWriter::new(),
        }
    }

    fn line(&mut self, ev: &NdjsonEvent) -> io::Result<()> {
        let text = serde_json::to_string(ev).map_err(io::Error::other)?;
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

impl Sink for NdjsonSink {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.capture = path.to_string();
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        let line = match ev {
            Event::SessionStart(s) => {
                if s.handshake.as_ref().is_some_and(|h| h.response.is_some()) {
                    self.answered.insert(s.id);
                }
                NdjsonEvent::SessionStart(session_header(s, &self.capture))
            }
            Event::Message(m) => {
                self.buf.clear();
                self.messages.write(&mut self.buf, m, self.mode);
                self.out.write_all(&self.buf)?;
                return self.end_line();
            }
            Event::Finding { session, finding } => {
                NdjsonEvent::Finding(finding_report(finding, *session))
            }
            Event::SessionEnd(e) => {
                let answered = self.answered.remove(&e.id);
                NdjsonEvent::SessionEnd(SessionEndEvent {
                    session: e.id,
                    close: close_report(e, answered),
                    stats: session_stats(e),
                })
            }
            Event::Flow(_) => return Ok(()),
        };
        self.line(&line)
    }

    fn finish(&mut self, summary: &Summary, captures: &[CaptureReport]) -> io::Result<()> {
        self.line(&NdjsonEvent::Summary(SummaryEvent {
            schema_version: SCHEMA_VERSION,
            captures: captures.to_vec(),
            summary: summary.clone(),
        }))?;
        self.out.flush()
    }
}
