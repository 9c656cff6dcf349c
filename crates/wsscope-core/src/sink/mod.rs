//! Sinks: everything that turns analyzer [`Event`]s into output. Each output format (the
//! `wsscope-output` crate, the terminal UI) is one [`Sink`]; they all consume the same events,
//! so they always agree.

use crate::analyzer::Event;
use crate::finding::{Code, Severity};
use crate::totals::{CaptureTotals, RunTotals};
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
    fn end_capture(&mut self, _capture: &CaptureTotals) -> io::Result<()> {
        Ok(())
    }
    /// The run is over.
    fn finish(&mut self, totals: &RunTotals, captures: &[CaptureTotals]) -> io::Result<()>;
}

/// Running totals, kept by the driver and handed to [`Sink::finish`].
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Totals so far.
    pub totals: RunTotals,
}

impl Tally {
    /// Counts one event.
    pub fn count(&mut self, ev: &Event<'_>) {
        let s = &mut self.totals;
        match ev {
            Event::SessionStart(_) => s.sessions += 1,
            Event::Message(m) => s.messages.add(m.message.kind),
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
        *self.totals.findings_by_code.entry(code).or_default() += n;
        *self
            .totals
            .findings_by_severity
            .entry(severity)
            .or_default() += n;
    }

    /// Adds a capture's counters.
    pub fn add_capture(&mut self, c: &CaptureTotals, evicted: u64) {
        self.totals.captures += 1;
        self.totals.packets += c.packets;
        self.totals.bytes += c.bytes;
        self.totals.flows_evicted += evicted;
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
    fn end_capture(&mut self, capture: &CaptureTotals) -> io::Result<()> {
        self.sinks
            .iter_mut()
            .try_for_each(|s| s.end_capture(capture))
    }
    fn finish(&mut self, totals: &RunTotals, captures: &[CaptureTotals]) -> io::Result<()> {
        self.sinks
            .iter_mut()
            .try_for_each(|s| s.finish(totals, captures))
    }
}
