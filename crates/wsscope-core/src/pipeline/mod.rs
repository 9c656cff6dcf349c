//! The run driver: one [`Run`] pulls packets from [`PacketSource`]s (capture files and pipes
//! in [`file`](mod@file), a producer thread such as a live capture through [`queue`]), drives the
//! [`Analyzer`], keeps the [`Tally`], adds the capture-level findings and feeds a [`Sink`].
//! Every mode (analyze, flows, the terminal UI, live) runs through it, so they agree.
//!
//! A run stops at the first sink error (the error is returned) and on a stop request (the
//! source stops producing; what it already holds is analysed and the run ends normally).

pub mod fail_on;
pub mod file;
pub mod queue;

pub use fail_on::{fail_on_matched, fail_on_matches, parse_fail_on, FailOn};
pub use file::{open_input, FileSource, Input, InputError};

use crate::analyzer::{Analyzer, AnalyzerConfig, AnalyzerStats, Event};
use crate::capture::RawPacket;
use crate::finding::{Code, Finding};
use crate::sink::{Sink, Tally};
use crate::totals::CaptureTotals;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where packets come from: a capture file, a pipe, a live interface.
pub trait PacketSource {
    /// The capture's name in the output (a path, `live:eth0`).
    fn name(&self) -> &str;
    /// The next packet, or `None` at the end of the capture. Waits for a live source.
    fn next_packet(&mut self) -> Option<RawPacket<'_>>;
    /// Input bytes consumed so far (progress).
    fn position(&self) -> u64;
    /// Total input bytes, when known (a regular file).
    fn size(&self) -> Option<u64>;
    /// Asks the source to produce no more packets: packets it already holds may still be
    /// returned, then `next_packet` returns `None`.
    fn stop(&mut self);
    /// Called once after the last packet: what the capture was and what it could not deliver.
    fn end(&mut self) -> SourceEnd;
}

/// What a source says about its capture once it has ended.
#[derive(Clone, Debug, Default)]
pub struct SourceEnd {
    /// Format name in the capture report (`pcap`, `pcapng`, `live`).
    pub format: &'static str,
    /// Link types of the capture's interfaces.
    pub linktypes: Vec<u32>,
    /// What could not be read or captured; each becomes a `capture-truncated` finding and a
    /// warning of the capture report.
    pub notices: Vec<SourceNotice>,
}

/// One thing a capture could not deliver (a cut record, dropped packets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceNotice {
    /// What happened, without the capture's name.
    pub text: String,
    /// How many occurrences it sums up (the finding's count).
    pub count: u64,
}

impl SourceNotice {
    /// A notice about one occurrence.
    pub fn once(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            count: 1,
        }
    }
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Totals and finding counts.
    pub tally: Tally,
    /// Per-capture reports.
    pub captures: Vec<CaptureTotals>,
    /// Files that could not be read.
    pub errors: Vec<InputError>,
    /// The analyzer's counters for each entry of `captures` (peak table sizes and the like).
    pub stats: Vec<AnalyzerStats>,
}

/// Progress callback: (bytes done, bytes total) of the current capture.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Packets between two progress reports.
const PROGRESS_EVERY: u64 = 8192;

/// Packets between two looks at the clock (every packet before the first CLOCK_EVERY): a
/// slow input (a pipe fed slowly) reports progress from its first packet, then at least every
/// [`PROGRESS_INTERVAL`] once CLOCK_EVERY more packets have come.
const CLOCK_EVERY: u64 = 64;

/// Longest time between two progress reports while packets arrive.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// The run driver over any number of captures, read one after the other.
pub struct Run<'a> {
    cfg: AnalyzerConfig,
    sink: &'a mut dyn Sink,
    progress: Progress<'a>,
    stop: Arc<AtomicBool>,
    outcome: RunOutcome,
    last_session: u64,
}

impl<'a> Run<'a> {
    /// A run feeding `sink`, reporting progress to `progress`, ending early when `stop` is set.
    pub fn new(
        cfg: &AnalyzerConfig,
        sink: &'a mut dyn Sink,
        progress: Progress<'a>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Self {
            cfg: cfg.clone(),
            sink,
            progress,
            stop,
            outcome: RunOutcome::default(),
            last_session: 0,
        }
    }

    /// Records a capture that could not be opened.
    pub fn input_error(&mut self, error: InputError) {
        self.outcome.errors.push(error);
    }

    /// Analyses one capture to its end (or to a stop request). A sink error stops the source
    /// and is returned.
    pub fn capture(&mut self, source: &mut dyn PacketSource) -> io::Result<()> {
        let result = self.analyse(source);
        if result.is_err() {
            source.stop();
        }
        result
    }

    fn analyse(&mut self, source: &mut dyn PacketSource) -> io::Result<()> {
        let name = source.name().to_string();
        self.sink.begin_capture(&name)?;
        let mut analyzer = Analyzer::new(self.cfg.clone(), self.last_session);
        let mut out = Delivery {
            tally: &mut self.outcome.tally,
            sink: &mut *self.sink,
            error: None,
        };
        let mut total = source.size().unwrap_or(0);
        let mut packets: u64 = 0;
        // The first report comes with the first packet, then at most every
        // PROGRESS_INTERVAL (checked every CLOCK_EVERY packets) and every PROGRESS_EVERY.
        let mut last_report: Option<std::time::Instant> = None;
        let mut stop_sent = false;
        loop {
            if !stop_sent && self.stop.load(Ordering::SeqCst) {
                source.stop();
                stop_sent = true;
            }
            let Some(packet) = source.next_packet() else {
                break;
            };
            analyzer.packet(&packet, &mut |ev| out.deliver(ev));
            if let Some(e) = out.error.take() {
                return Err(e);
            }
            packets += 1;
            if packets % PROGRESS_EVERY == 0
                || ((packets < CLOCK_EVERY || packets % CLOCK_EVERY == 0)
                    && last_report.is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL))
            {
                let pos = source.position();
                total = total.max(pos);
                (self.progress)(pos, total);
                last_report = Some(std::time::Instant::now());
            }
        }
        let end = source.end();
        analyzer.finish(&mut |ev| out.deliver(ev));
        if let Some(e) = out.error.take() {
            return Err(e);
        }
        let total = total.max(source.position());
        (self.progress)(total, total);
        self.last_session = analyzer.last_session_id();
        let stats = analyzer.stats();
        let findings = capture_findings(&name, &end, &stats, self.cfg.flows.max_flows);
        for f in &findings {
            out.deliver(Event::Finding {
                session: None,
                finding: f,
            });
            if let Some(e) = out.error.take() {
                return Err(e);
            }
        }
        let warnings = end.notices.into_iter().map(|n| n.text).collect();
        let capture = capture_report(name, end.format, end.linktypes, &stats, warnings);
        self.outcome
            .tally
            .add_capture(&capture, stats.flows.evicted);
        self.sink.end_capture(&capture)?;
        self.outcome.captures.push(capture);
        self.outcome.stats.push(stats);
        Ok(())
    }

    /// Ends the run: the sink gets the summary (unless no capture could be read at all: the
    /// error lines say it all, no "0 capture(s)" summary, no empty report).
    pub fn finish(self) -> io::Result<RunOutcome> {
        let outcome = self.outcome;
        if outcome.captures.is_empty() && !outcome.errors.is_empty() {
            return Ok(outcome);
        }
        let summary = outcome.tally.totals.clone();
        self.sink.finish(&summary, &outcome.captures)?;
        Ok(outcome)
    }
}

/// Counts every event and hands it to the sink until the sink fails.
struct Delivery<'a> {
    tally: &'a mut Tally,
    sink: &'a mut dyn Sink,
    error: Option<io::Error>,
}

impl Delivery<'_> {
    fn deliver(&mut self, ev: Event<'_>) {
        self.tally.count(&ev);
        if self.error.is_none() {
            if let Err(e) = self.sink.event(&ev) {
                self.error = Some(e);
            }
        }
    }
}

/// Analyses the capture files `paths` in order (`-` is standard input), feeding `sink`. Files
/// that cannot be opened are listed in the outcome; sink errors stop the run.
pub fn run_files(
    paths: &[String],
    cfg: &AnalyzerConfig,
    sink: &mut dyn Sink,
    progress: Progress<'_>,
) -> io::Result<RunOutcome> {
    let mut run = Run::new(cfg, sink, progress, Arc::default());
    for path in paths {
        // Keys embedded in a pcapng (Decryption Secrets Blocks) join the configured ones.
        match FileSource::open(path).map(|s| s.with_keys(cfg.keys.clone())) {
            Ok(mut source) => run.capture(&mut source)?,
            Err(e) => run.input_error(e),
        }
    }
    run.finish()
}

/// The capture-level findings of one capture, in this order: what the source could not
/// deliver, connections evicted from the full flow table, packets cut by the snaplen, IPv4
/// packets ignored for their length, inconsistent IP fragment overlaps, IP datagrams dropped
/// by the bounded fragment table.
fn capture_findings(
    name: &str,
    end: &SourceEnd,
    stats: &AnalyzerStats,
    max_flows: usize,
) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut add = |code: Code, count: u64, detail: String| {
        let mut f = Finding::new(code, None, stats.last_ts, format!("{name}: {detail}"));
        f.count = count;
        found.push(f);
    };
    for notice in &end.notices {
        add(Code::CaptureTruncated, notice.count, notice.text.clone());
    }
    let d = &stats.decode;
    let frag = &d.fragments;
    let limits = crate::ipfrag::DefragLimits::default();
    // (how many, code, detail): a finding for each count above zero.
    let losses = [
        (
            stats.flows.evicted,
            Code::FlowEvicted,
            format!(
                "{} connections evicted from the full flow table (--max-flows {max_flows})",
                stats.flows.evicted
            ),
        ),
        (
            d.truncated,
            Code::SnaplenTruncated,
            format!(
                "{} of {} TCP segments were cut by the snaplen ({} payload bytes not captured); raise the snaplen (tcpdump -s 0)",
                d.truncated, d.tcp_segments, d.truncated_bytes
            ),
        ),
        (
            d.bad_ip_length,
            Code::TcpSegmentIgnored,
            format!(
                "{} IPv4 packets with a total length shorter than its header were ignored (a receiving host drops them; possible evasion attempt)",
                d.bad_ip_length
            ),
        ),
        (
            frag.overlaps_inconsistent,
            Code::IpFragmentOverlapInconsistent,
            format!(
                "{} IP fragments overlapped bytes already received with different values; the first copy was used (receivers differ: possible evasion attempt)",
                frag.overlaps_inconsistent
            ),
        ),
        (
            frag.evicted + frag.shredded,
            Code::FragmentsDropped,
            format!(
                "{} incomplete IP datagrams dropped from the full fragment table (at most {} in progress), {} dropped for arriving in more than {} pieces",
                frag.evicted, limits.max_datagrams, frag.shredded, limits.max_pieces
            ),
        ),
    ];
    for (n, code, detail) in losses {
        if n > 0 {
            add(code, 1, detail);
        }
    }
    found
}

/// The report entry of one capture (file or live interface) from the analyzer's counters.
pub fn capture_report(
    path: String,
    format: &str,
    linktypes: Vec<u32>,
    stats: &AnalyzerStats,
    warnings: Vec<String>,
) -> CaptureTotals {
    let d = stats.decode;
    CaptureTotals {
        path,
        format: format.into(),
        linktypes,
        packets: d.packets,
        bytes: d.bytes,
        first_ts: stats.first_ts,
        last_ts: stats.last_ts,
        tcp_flows: stats.flows.flows,
        non_tcp_packets: d.not_ip + d.not_tcp + d.malformed + d.unsupported_linktype,
        warnings,
    }
}
