//! Running an analysis over capture files: open each file (or pipe), read it with
//! [`StreamReader`], drive the [`Analyzer`], feed a [`Sink`], report progress.
//! This is the only layer (with `main`) that touches files.

use crate::analyzer::{Analyzer, AnalyzerConfig, AnalyzerStats, Event};
use crate::capture::{CaptureError, CaptureNotice, StreamError, StreamReader};
use crate::finding::{Code, Finding, Severity};
use crate::sink::{Sink, Tally};
use crate::totals::CaptureTotals;
use std::fs::File;
use std::io::{self, Read};

/// A capture file that could not be analysed at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// A directory was given.
    #[error("{0}: is a directory, not a capture file")]
    Directory(String),
    /// The bytes are not a capture.
    #[error("{path}: {source}")]
    Capture {
        /// The path.
        path: String,
        /// What is wrong.
        source: CaptureError,
    },
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Totals and finding counts.
    pub tally: Tally,
    /// Per-file reports.
    pub captures: Vec<CaptureTotals>,
    /// Files that could not be read.
    pub errors: Vec<InputError>,
    /// The analyzer's counters for each entry of `captures` (peak table sizes and the like).
    pub stats: Vec<AnalyzerStats>,
}

/// Progress callback: (bytes done, bytes total) of the current file.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// An opened input: a regular file (with its size when opened), or a stream (standard input
/// for `-`, a pipe, `<(...)`, a device) read sequentially.
pub struct Input {
    /// The source.
    pub reader: Box<dyn Read>,
    /// The file, to notice it shrinking while read (regular files only).
    file: Option<File>,
    /// Size when opened (regular files only).
    pub size: Option<u64>,
}

/// Opens a capture for sequential reading: `-` is standard input; directories and empty
/// regular files are errors. Nothing is memory-mapped, so a file truncated while it is read
/// ends the capture early (reported) instead of faulting.
pub fn open_input(path: &str) -> Result<Input, InputError> {
    if path == "-" {
        return Ok(Input {
            reader: Box::new(io::stdin()),
            file: None,
            size: None,
        });
    }
    let io_err = |source| InputError::Io {
        path: path.to_string(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(InputError::Directory(path.to_string()));
    }
    if !meta.is_file() {
        // A FIFO, `<(...)` (/dev/fd/N) or a device: stream it.
        return Ok(Input {
            reader: Box::new(file),
            file: None,
            size: None,
        });
    }
    if meta.len() == 0 {
        return Err(InputError::Capture {
            path: path.to_string(),
            source: CaptureError::Empty,
        });
    }
    let reader = file.try_clone().map_err(io_err)?;
    Ok(Input {
        reader: Box::new(reader),
        file: Some(file),
        size: Some(meta.len()),
    })
}

/// Analyses `paths` in order, feeding `sink`. I/O errors of the sink stop the run.
pub fn run(
    paths: &[String],
    cfg: &AnalyzerConfig,
    sink: &mut dyn Sink,
    progress: Progress<'_>,
) -> io::Result<RunOutcome> {
    let mut outcome = RunOutcome::default();
    let mut last_session = 0;
    for path in paths {
        let input = match open_input(path) {
            Ok(i) => i,
            Err(e) => {
                outcome.errors.push(e);
                continue;
            }
        };
        let mut reader = match StreamReader::new(input.reader) {
            Ok(r) => r,
            Err(StreamError::Capture(source)) => {
                outcome.errors.push(InputError::Capture {
                    path: path.clone(),
                    source,
                });
                continue;
            }
            Err(StreamError::Io(source)) => {
                outcome.errors.push(InputError::Io {
                    path: path.clone(),
                    source,
                });
                continue;
            }
        };
        sink.begin_capture(path)?;
        let mut analyzer = Analyzer::new(cfg.clone(), last_session);
        let sink_error: std::cell::RefCell<Option<io::Error>> = std::cell::RefCell::new(None);
        let mut total = input.size.unwrap_or(0);
        let mut n: u64 = 0;
        let tally = &mut outcome.tally;
        let mut deliver = |ev: Event<'_>| {
            tally.count(&ev);
            if sink_error.borrow().is_none() {
                if let Err(e) = sink.event(&ev) {
                    *sink_error.borrow_mut() = Some(e);
                }
            }
        };
        while let Some(packet) = reader.next_packet() {
            analyzer.packet(&packet, &mut deliver);
            n += 1;
            if n % 8192 == 0 {
                let pos = reader.position();
                total = total.max(pos);
                progress(pos, total);
            }
            if sink_error.borrow().is_some() {
                break;
            }
        }
        if let (Some(file), Some(from)) = (&input.file, input.size) {
            let to = file.metadata().map(|m| m.len()).unwrap_or(from);
            if to < from {
                reader.push_notice(CaptureNotice::Shrank { from, to });
            }
        }
        analyzer.finish(&mut deliver);
        if let Some(e) = sink_error.into_inner() {
            return Err(e);
        }
        let total = total.max(reader.position());
        progress(total, total);
        last_session = analyzer.last_session_id();
        let stats = analyzer.stats();
        let mut warnings = Vec::new();
        for notice in reader.notices() {
            let f = Finding::new(
                Code::CaptureTruncated,
                None,
                stats.last_ts,
                format!("{path}: {notice}"),
            );
            deliver_capture_finding(&mut outcome.tally, sink, &f)?;
            warnings.push(notice.to_string());
        }
        let unlisted = reader.unknown_interface_unlisted();
        if unlisted > 0 {
            let more = format!(
                "and {} more packets naming undescribed interfaces; skipped (only the first {} are listed)",
                crate::finding::thousands(unlisted),
                crate::capture::UNKNOWN_INTERFACE_LISTED
            );
            let mut f = Finding::new(
                Code::CaptureTruncated,
                None,
                stats.last_ts,
                format!("{path}: {more}"),
            );
            f.count = unlisted;
            deliver_capture_finding(&mut outcome.tally, sink, &f)?;
            warnings.push(more);
        }
        if stats.flows.evicted > 0 {
            let f = Finding::new(
                Code::FlowEvicted,
                None,
                stats.last_ts,
                format!(
                    "{path}: {} connections evicted from the full flow table (--max-flows {})",
                    stats.flows.evicted, cfg.flows.max_flows
                ),
            );
            deliver_capture_finding(&mut outcome.tally, sink, &f)?;
        }
        for f in limit_findings(path, &stats) {
            deliver_capture_finding(&mut outcome.tally, sink, &f)?;
        }
        let capture = capture_report(
            path.clone(),
            reader.format().name(),
            reader.linktypes().to_vec(),
            &stats,
            warnings,
        );
        outcome.tally.add_capture(&capture, stats.flows.evicted);
        sink.end_capture(&capture)?;
        outcome.captures.push(capture);
        outcome.stats.push(stats);
    }
    // When no input could be read there is nothing to summarise: the error lines say it all
    // (no "0 capture(s)" summary, no empty report).
    if outcome.captures.is_empty() && !outcome.errors.is_empty() {
        return Ok(outcome);
    }
    let totals = outcome.tally.totals.clone();
    sink.finish(&totals, &outcome.captures)?;
    Ok(outcome)
}

/// Capture-level findings about what the decoder could not keep: packets cut by the snaplen,
/// IP datagrams dropped by the bounded fragment table.
fn limit_findings(path: &str, stats: &AnalyzerStats) -> Vec<Finding> {
    let mut found = Vec::new();
    let d = &stats.decode;
    if d.truncated > 0 {
        found.push(Finding::new(
            Code::SnaplenTruncated,
            None,
            stats.last_ts,
            format!(
                "{path}: {} of {} TCP segments were cut by the snaplen ({} payload bytes not captured); raise the snaplen (tcpdump -s 0)",
                d.truncated, d.tcp_segments, d.truncated_bytes
            ),
        ));
    }
    if d.bad_ip_length > 0 {
        found.push(Finding::new(
            Code::TcpSegmentIgnored,
            None,
            stats.last_ts,
            format!(
                "{path}: {} IPv4 packets with a total length shorter than its header were ignored (a receiving host drops them; possible evasion attempt)",
                d.bad_ip_length
            ),
        ));
    }
    let frag = &d.fragments;
    if frag.overlaps_inconsistent > 0 {
        found.push(Finding::new(
            Code::IpFragmentOverlapInconsistent,
            None,
            stats.last_ts,
            format!(
                "{path}: {} IP fragments overlapped bytes already received with different values; the first copy was used (receivers differ: possible evasion attempt)",
                frag.overlaps_inconsistent
            ),
        ));
    }
    if frag.evicted + frag.shredded > 0 {
        let limits = crate::ipfrag::DefragLimits::default();
        found.push(Finding::new(
            Code::FragmentsDropped,
            None,
            stats.last_ts,
            format!(
                "{path}: {} incomplete IP datagrams dropped from the full fragment table (at most {} in progress), {} dropped for arriving in more than {} pieces",
                frag.evicted, limits.max_datagrams, frag.shredded, limits.max_pieces
            ),
        ));
    }
    found
}

fn deliver_capture_finding(tally: &mut Tally, sink: &mut dyn Sink, f: &Finding) -> io::Result<()> {
    let ev = Event::Finding {
        session: None,
        finding: f,
    };
    tally.count(&ev);
    sink.event(&ev)
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

/// One `--fail-on` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Any finding of this severity or worse.
    Severity(Severity),
    /// Any finding with this code.
    Code(Code),
}

/// Parses a comma-separated `--fail-on` list.
pub fn parse_fail_on(list: &str) -> Result<Vec<FailOn>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            if let Some(sev) = Severity::parse(item) {
                Ok(FailOn::Severity(sev))
            } else if let Some(code) = Code::parse(item) {
                Ok(FailOn::Code(code))
            } else {
                Err(format!(
                    "unknown --fail-on item '{item}': use info, warning, error or a finding code (see `wsscope codes`)"
                ))
            }
        })
        .collect()
}

/// True when any finding of the run matches any `--fail-on` item.
pub fn fail_on_matches(items: &[FailOn], tally: &Tally) -> bool {
    items.iter().any(|item| match item {
        FailOn::Severity(min) => tally.totals.findings_at_least(*min) > 0,
        FailOn::Code(code) => tally.totals.findings_with(*code) > 0,
    })
}
