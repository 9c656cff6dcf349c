//! What every output shares: an [`Output`] says what to do with each kind of analyzer event;
//! [`OutputSink`] is the [`Sink`] around it that remembers which capture the events come from
//! and hands each event to the output's method for it.

use std::io;
use wsscope_core::analyzer::Event;
use wsscope_core::finding::Finding;
use wsscope_core::session::{SessionEnd, SessionId, SessionMessage, SessionStart};
use wsscope_core::sink::Sink;
use wsscope_core::totals::{CaptureTotals, RunTotals};

/// One output format's handling of the analyzer's events.
pub trait Output {
    /// A session (or upgrade attempt) began in capture `capture`.
    fn session_start(&mut self, s: &SessionStart, capture: &str) -> io::Result<()>;
    /// A message completed.
    fn message(&mut self, m: &SessionMessage) -> io::Result<()>;
    /// A finding, of session `session` or (when `None`) of capture `capture`.
    fn finding(&mut self, session: Option<SessionId>, f: &Finding, capture: &str)
        -> io::Result<()>;
    /// A session ended.
    fn session_end(&mut self, e: &SessionEnd) -> io::Result<()>;
    /// The run is over.
    fn finish(&mut self, totals: &RunTotals, captures: &[CaptureTotals]) -> io::Result<()>;
}

/// The [`Sink`] of an [`Output`].
pub struct OutputSink<O> {
    capture: String,
    output: O,
}

impl<O> OutputSink<O> {
    pub(crate) fn wrap(output: O) -> Self {
        OutputSink {
            capture: String::new(),
            output,
        }
    }

    pub(crate) fn map(self, f: impl FnOnce(O) -> O) -> Self {
        OutputSink {
            capture: self.capture,
            output: f(self.output),
        }
    }
}

impl<O: Output> Sink for OutputSink<O> {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.capture = path.to_string();
        Ok(())
    }

    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        match ev {
            Event::SessionStart(s) => self.output.session_start(s, &self.capture),
            Event::Message(m) => self.output.message(m),
            Event::Finding { session, finding } => {
                self.output.finding(*session, finding, &self.capture)
            }
            Event::SessionEnd(e) => self.output.session_end(e),
            Event::Flow(_) => Ok(()),
        }
    }

    fn finish(&mut self, totals: &RunTotals, captures: &[CaptureTotals]) -> io::Result<()> {
        self.output.finish(totals, captures)
    }
}
