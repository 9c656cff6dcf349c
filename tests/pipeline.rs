//! The run driver over its two kinds of source: the same packets read from a capture file and
//! fed packet by packet from another thread into the byte-bounded queue (as the live capture
//! thread does) give identical events and identical text, JSON and NDJSON output; a sink error
//! stops a producer; a full queue's drops are reported; a stop request ends a run cleanly.

mod support;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::Shared;
use wsscope_core::analyzer::{AnalyzerConfig, Event};
use wsscope_core::capture::StreamReader;
use wsscope_core::finding::Code;
use wsscope_core::pipeline::queue::{packet_queue, PacketFeeder, PacketQueue, QueueSettings};
use wsscope_core::pipeline::{FileSource, PacketSource, Run, RunOutcome};
use wsscope_core::sink::{Sink, Tee};
use wsscope_core::tcp::FlowLimits;
use wsscope_core::totals::{CaptureTotals, RunTotals};
use wsscope_output::json::JsonReportSink;
use wsscope_output::ndjson::NdjsonSink;
use wsscope_output::report::PayloadMode;
use wsscope_output::text::TextSink;

/// Text (with transcript), JSON report and NDJSON of one run.
#[derive(Debug, PartialEq, Eq)]
struct Outputs {
    text: String,
    json: String,
    ndjson: String,
}

/// Runs one source through the driver into the three output sinks.
fn run_source(cfg: &AnalyzerConfig, source: &mut dyn PacketSource) -> (Outputs, RunOutcome) {
    let (text, json, ndjson) = (Shared::default(), Shared::default(), Shared::default());
    let mut tee = Tee::new();
    tee.push(Box::new(TextSink::new(Box::new(text.clone()), true, 64)));
    tee.push(Box::new(JsonReportSink::new(
        Box::new(json.clone()),
        PayloadMode::Full,
    )));
    tee.push(Box::new(NdjsonSink::new(
        Box::new(ndjson.clone()),
        PayloadMode::Full,
        true,
    )));
    let mut progress = |_, _| {};
    let mut run = Run::new(cfg, &mut tee, &mut progress, Arc::default());
    run.capture(source).expect("capture");
    let outcome = run.finish().expect("finish");
    drop(tee);
    let outputs = Outputs {
        text: text.text(),
        json: json.text(),
        ndjson: ndjson.text(),
    };
    (outputs, outcome)
}

/// A queue named like the file, with the file's format and link types.
fn queue_like(path: &Path, max_bytes: usize) -> (PacketFeeder, PacketQueue) {
    let reader = StreamReader::new(std::fs::File::open(path).expect("open")).expect("capture");
    packet_queue(QueueSettings {
        name: path.display().to_string(),
        format: reader.format().name(),
        linktypes: reader.linktypes().to_vec(),
        max_bytes,
    })
}

/// Copies every packet of `path` into `feeder`, one by one; returns how many were accepted
/// before the consumer stopped.
fn feed(path: &Path, feeder: &PacketFeeder) -> u64 {
    let mut reader = StreamReader::new(std::fs::File::open(path).expect("open")).expect("capture");
    let mut n = 0;
    while let Some(p) = reader.next_packet() {
        if !feeder.push(p.ts, p.linktype, p.data, p.orig_len) {
            break;
        }
        n += 1;
    }
    n
}

/// Five interleaved WebSocket connections (the fixtures hold one each), written to `dir`.
fn interleaved_connections(dir: &Path) -> PathBuf {
    let mut packets = Vec::new();
    for i in 0..5u16 {
        let client = format!("10.0.0.1:{}", 40_000 + i).parse().expect("address");
        let server = "10.0.0.2:80".parse().expect("address");
        let mut c = wsscope_testkit::Conversation::new(client, server)
            .with_start_time(i64::from(i) * 1_000_000);
        c.handshake();
        c.client_send(&support::request().to_bytes());
        c.server_send(&support::response().to_bytes());
        c.client_send(&support::ctext("hello"));
        c.server_send(&support::stext("world"));
        packets.extend(c.into_packets());
    }
    packets.sort_by_key(|p| p.ts_nanos);
    let path = dir.join("interleaved.pcap");
    std::fs::write(&path, support::pcap(&packets)).expect("write capture");
    path
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "fixtures missing: {paths:?}");
    paths
}

/// The file source and the live-style source (a producer thread feeding the queue) agree on
/// every fixture, with the default limits and with a flow table of one connection (so that
/// flow-evicted findings come out of the driver too).
#[test]
fn file_and_live_style_sources_give_identical_output() {
    let tight = AnalyzerConfig {
        flows: FlowLimits {
            max_flows: 1,
            ..FlowLimits::default()
        },
        ..AnalyzerConfig::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = fixtures();
    paths.push(interleaved_connections(dir.path()));
    let mut evicted = 0;
    for cfg in [AnalyzerConfig::default(), tight] {
        for path in &paths {
            let name = path.display().to_string();
            // TLS fixtures come with their key logs (a fresh store per capture).
            let mut cfg = cfg.clone();
            cfg.keys = wsscope_core::tls::keylog::KeyStore::new();
            if let Ok(keylog) = std::fs::read(path.with_extension("keylog")) {
                cfg.keys.push_complete(&keylog);
            }
            let mut file = FileSource::open(&name)
                .expect("open fixture")
                .with_keys(cfg.keys.clone());
            let (from_file, file_outcome) = run_source(&cfg, &mut file);

            let (feeder, mut queue) = queue_like(path, 1 << 30);
            let producer_path = path.clone();
            let producer = std::thread::spawn(move || {
                let n = feed(&producer_path, &feeder);
                feeder.finish(Vec::new());
                n
            });
            let (from_queue, queue_outcome) = run_source(&cfg, &mut queue);
            let fed = producer.join().expect("producer");

            assert_eq!(queue.dropped(), (0, 0), "{name}");
            assert_eq!(fed, file_outcome.captures[0].packets, "{name}");
            // A connection without keys reports one finding; the others sessions and messages.
            let least = if name.contains("_nokey") { 2 } else { 4 };
            assert!(
                from_file.ndjson.lines().count() >= least,
                "{name}: no events"
            );
            assert_eq!(from_file.ndjson, from_queue.ndjson, "{name}: events differ");
            assert_eq!(
                from_file.json, from_queue.json,
                "{name}: JSON report differs"
            );
            assert_eq!(from_file.text, from_queue.text, "{name}: text differs");
            assert_eq!(
                file_outcome.tally.totals.findings_by_code,
                queue_outcome.tally.totals.findings_by_code
            );
            evicted += queue_outcome.tally.totals.findings_with(Code::FlowEvicted);
        }
    }
    assert!(evicted > 0, "no fixture exercised flow-evicted");
}

/// A capture streamed from a reader (as from a pipe: no size, no file to watch) reads like the
/// same capture opened as a file.
#[test]
fn a_streamed_capture_reads_like_the_file() {
    for path in fixtures() {
        let name = path.display().to_string();
        let cfg = AnalyzerConfig::default();
        let mut file = FileSource::open(&name).expect("open fixture");
        let (from_file, _) = run_source(&cfg, &mut file);
        let bytes = std::fs::read(&path).expect("read fixture");
        let mut stream =
            FileSource::from_reader(&name, io::Cursor::new(bytes)).expect("capture header");
        assert_eq!(stream.size(), None);
        let (from_stream, _) = run_source(&cfg, &mut stream);
        assert_eq!(from_file, from_stream, "{name}");
    }
}

/// Fails every event after the first `left`.
struct FailingSink {
    left: usize,
}

impl Sink for FailingSink {
    fn event(&mut self, _: &Event<'_>) -> io::Result<()> {
        if self.left == 0 {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        self.left -= 1;
        Ok(())
    }
    fn finish(&mut self, _: &RunTotals, _: &[CaptureTotals]) -> io::Result<()> {
        Ok(())
    }
}

/// A sink error ends the run and tells the producer to stop: a capture that would never end
/// on its own (the same packets over and over, as a busy interface) ends with the error.
#[test]
fn a_sink_error_stops_an_endless_producer() {
    let path = fixtures().remove(0);
    let (feeder, mut queue) = queue_like(&path, 1 << 20);
    let producer = std::thread::spawn(move || {
        let mut rounds = 0u64;
        while feed(&path, &feeder) > 0 && !feeder.is_stopped() {
            rounds += 1;
        }
        rounds
    });
    let mut sink = FailingSink { left: 5 };
    let mut progress = |_, _| {};
    let mut run = Run::new(
        &AnalyzerConfig::default(),
        &mut sink,
        &mut progress,
        Arc::default(),
    );
    let err = run.capture(&mut queue).expect_err("the sink failed");
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    producer.join().expect("the producer stopped");
}

/// Packets the full queue dropped are reported like every capture-level loss: a
/// capture-truncated finding counting them and a warning in the capture report.
#[test]
fn queue_drops_are_reported_as_capture_findings() {
    let path = fixtures().remove(0);
    let (feeder, mut queue) = queue_like(&path, 4096);
    let fed = feed(&path, &feeder);
    feeder.finish(Vec::new());
    let (outputs, outcome) = run_source(&AnalyzerConfig::default(), &mut queue);
    let (dropped, _) = queue.dropped();
    assert!(dropped > 0 && dropped < fed, "{dropped} of {fed}");
    assert_eq!(outcome.captures[0].packets, fed - dropped);
    assert_eq!(
        outcome
            .tally
            .totals
            .findings_by_code
            .get(&Code::CaptureTruncated),
        Some(&dropped)
    );
    let warning = &outcome.captures[0].warnings[0];
    assert!(
        warning.contains("dropped because the analysis fell behind"),
        "{warning}"
    );
    assert!(outputs.ndjson.contains("capture-truncated"));
}

/// A stop request ends the run at once but cleanly: the capture's report and the summary are
/// still written.
#[test]
fn a_stop_request_ends_the_run_with_a_report() {
    let path = fixtures().remove(0).display().to_string();
    let mut source = FileSource::open(&path).expect("open");
    let json = Shared::default();
    let mut sink = JsonReportSink::new(Box::new(json.clone()), PayloadMode::None);
    let stop = Arc::new(AtomicBool::new(false));
    stop.store(true, Ordering::SeqCst);
    let mut progress = |_, _| {};
    let mut run = Run::new(&AnalyzerConfig::default(), &mut sink, &mut progress, stop);
    run.capture(&mut source).expect("capture");
    let outcome = run.finish().expect("finish");
    drop(sink);
    assert_eq!(outcome.captures.len(), 1);
    assert_eq!(outcome.captures[0].packets, 0);
    let report: serde_json::Value = serde_json::from_str(&json.text()).expect("report");
    assert_eq!(report["summary"]["captures"], 1);
}
