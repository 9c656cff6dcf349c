//! Sinks: everything that turns analyzer [`Event`]s into output. Each output format is one
//! [`Sink`]; they all consume the same events, so they always agree.

pub mod json;
pub mod json_line;
pub mod ndjson;
pub mod text;

use crate::analyzer::Event;
use crate::finding::{Code, Severity};
use crate::report::{CaptureReport, Summary};
use std::collections::BTreeMap;
use std::io;

/// A consumer of analysis events.
pub trait Sink {
    /// A capture file is about to be read.
    fn begin_capture(&mut self, _path: &str) -> io::Result<()> {
        Ok(())
    }
    /// One event.
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()>;
    /// A capture file was fully read.
    fn end_capture(&mut self, _capture: &CaptureReport) -> io::Result<()> {
        Ok(())
    }
    /// The run is over.
    fn finish(&mut self, summary: &Summary, captures: &[CaptureReport]) -> io::Result<()>;
}

/// Running totals, kept by the driver and turned into the [`Summary`].
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Totals so far.
    pub summary: Summary,
    /// Finding codes seen.
    pub codes: BTreeMap<Code, u64>,
    /// Findings per severity.
    pub severities: BTreeMap<Severity, u64>,
}

impl Tally {
    /// Counts one event.
    pub fn count(&mut self, ev: &Event<'_>) {
        let s = &mut self.summary;
        match ev {
            Event::SessionStart(_) => s.sessions += 1,
            Event::Message(m) => {
                s.messages += 1;
                *s.messages_by_type
                    .entry(m.message.kind.as_str().to_string())
                    .or_default() += 1;
            }
            Event::Finding { finding, .. } => {
                self.add_finding(finding.code, finding.severity, finding.count);
            }
            // At the end: a session whose 101 was lost is WebSocket all the same.
            Event::SessionEnd(end) => {
                if end.upgraded {
                    s.websocket_sessions += 1;
                }
            }
            Event::Flow(_) => s.tcp_flows += 1,
        }
    }

    /// Counts `n` occurrences of a finding (more than one for a finding that sums up
    /// repeats held back).
    pub fn add_finding(&mut self, code: Code, severity: Severity, n: u64) {
        *self.codes.entry(code).or_default() += n;
        *self.severities.entry(severity).or_default() += n;
        *self
            .summary
            .findings_by_code
            .entry(code.as_str().to_string())
            .or_default() += n;
        *self
            .summary
            .findings_by_severity
            .entry(severity.as_str().to_string())
            .or_default() += n;
    }

    /// Adds a capture's counters.
    pub fn add_capture(&mut self, c: &CaptureReport, evicted: u64) {
        self.summary.captures += 1;
        self.summary.packets += c.packets;
        self.summary.bytes += c.bytes;
        self.summary.flows_evicted += evicted;
    }
}

/// Fans events out to several sinks.
#[derive(Default)]
pub struct Tee {
    sinks: Vec<Box<dyn Sink>>,
}

impl Tee {
    /// No sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink.
    pub fn push(&mut self, sink: Box<dyn Sink>) {
        self.sinks.push(sink);
    }
}

impl Sink for Tee {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.sinks
            .iter_mut()
            .try_for_each(|s| s.begin_capture(path))
    }
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.event(ev))
    }
    fn end_capture(&mut self, capture: &CaptureReport) -> io::Result<()> {
        self.sinks
            .iter_mut()
            .try_for_each(|s| s.end_capture(capture))
    }
    fn finish(&mut self, summary: &Summary, captures: &[CaptureReport]) -> io::Result<()> {
        self.sinks
            .iter_mut()
            .try_for_each(|s| s.finish(summary, captures))
    }
}
