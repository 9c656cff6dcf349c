//! Adversarial captures through the real file pipeline ([`wsscope_core::pipeline::run_files`]):
//! floods and hostile encodings built by `wsscope_testkit::adversarial`, written to a temporary
//! pcap.
//! Each test checks that nothing panics, that the right findings are reported, that the real
//! WebSocket session hidden in the flood is decoded message for message, and that the state
//! the limit protects never grew past it (peak counters of the flow and fragment tables).
//!
//! `scripts/stress.sh` runs the same generators at full size through the release binary and
//! measures time and peak RSS.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use wsscope_core::analyzer::{AnalyzerConfig, AnalyzerStats, Event};
use wsscope_core::finding::Code;
use wsscope_core::ipfrag::{DefragLimits, MAX_DATAGRAM};
use wsscope_core::session::SessionConfig;
use wsscope_core::sink::Sink;
use wsscope_core::tcp::{Dir, FlowLimits, ReassemblyLimits};
use wsscope_core::totals::{CaptureTotals, RunTotals};
use wsscope_core::ws::message::MessageKind;
use wsscope_testkit::adversarial::{self, Expected, ProbeExpect};
use wsscope_testkit::{Packet, PcapOptions, PcapWriter};

/// What one session showed.
#[derive(Debug, Default)]
struct Seen {
    client: Option<std::net::SocketAddr>,
    c2s: Vec<String>,
    s2c: Vec<String>,
    messages: u64,
    /// (direction, kind, len, incomplete) of every message.
    shapes: Vec<(Dir, MessageKind, u64, bool)>,
    clean: Option<bool>,
}

/// A sink that keeps counts, not events: a million flows must not cost the test a gigabyte.
#[derive(Debug, Default)]
struct Counter {
    sessions: BTreeMap<u64, Seen>,
    findings: BTreeMap<Code, u64>,
    /// Finding events per code (a finding summing up held-back repeats is one event).
    events: BTreeMap<Code, u64>,
    details: BTreeMap<Code, Vec<String>>,
    flows_by_end: HashMap<&'static str, u64>,
    flows: u64,
    max_kept_payload: usize,
}

impl Sink for Counter {
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        match ev {
            Event::SessionStart(s) => {
                self.sessions.entry(s.id).or_default().client = Some(s.client);
            }
            Event::Message(m) => {
                let seen = self.sessions.entry(m.session).or_default();
                let msg = &m.message;
                seen.messages += 1;
                seen.shapes
                    .push((msg.dir, msg.kind, msg.len, msg.incomplete));
                self.max_kept_payload = self.max_kept_payload.max(msg.payload.len());
                if msg.kind == MessageKind::Text {
                    let t = String::from_utf8_lossy(&msg.payload).into_owned();
                    match msg.dir {
                        Dir::ClientToServer => seen.c2s.push(t),
                        Dir::ServerToClient => seen.s2c.push(t),
                    }
                }
            }
            Event::Finding { finding, .. } => {
                *self.findings.entry(finding.code).or_default() += finding.count;
                *self.events.entry(finding.code).or_default() += 1;
                let d = self.details.entry(finding.code).or_default();
                if d.len() < 4 {
                    d.push(finding.detail.clone());
                }
            }
            Event::SessionEnd(e) => {
                self.sessions.entry(e.id).or_default().clean = Some(e.clean);
            }
            Event::Flow(f) => {
                self.flows += 1;
                *self
                    .flows_by_end
                    .entry(f.summary.ended.as_str())
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &RunTotals, _captures: &[CaptureTotals]) -> io::Result<()> {
        Ok(())
    }
}

impl Counter {
    fn count(&self, code: Code) -> u64 {
        self.findings.get(&code).copied().unwrap_or(0)
    }

    /// Asserts the distinct finding codes are exactly `codes`.
    fn assert_codes(&self, codes: &[Code]) {
        let got: Vec<Code> = self.findings.keys().copied().collect();
        let mut want = codes.to_vec();
        want.sort();
        want.dedup();
        assert_eq!(got, want, "findings: {:#?}", self.details);
    }

    /// The session whose client is the probe's, compared with what the probe sent.
    fn assert_probe_decoded(&self, probe: &ProbeExpect) -> &Seen {
        let seen = self
            .sessions
            .values()
            .find(|s| s.client == probe.client)
            .unwrap_or_else(|| panic!("no session for {:?}", probe.client));
        assert_eq!(seen.c2s.len(), probe.c2s.len(), "c2s texts");
        assert!(seen.c2s == probe.c2s, "c2s texts differ");
        assert_eq!(seen.s2c.len(), probe.s2c.len(), "s2c texts");
        assert!(seen.s2c == probe.s2c, "s2c texts differ");
        assert_eq!(seen.messages, probe.messages, "{:?}", seen.shapes.last());
        seen
    }
}

/// Streams a generated capture into a temporary pcap file.
fn write_capture<G>(dir: &Path, snaplen: u32, generate: G) -> (PathBuf, Expected)
where
    G: FnOnce(&mut dyn FnMut(&Packet) -> io::Result<()>) -> io::Result<Expected>,
{
    let path = dir.join("adversarial.pcap");
    let file = std::fs::File::create(&path).expect("create capture");
    let opts = PcapOptions {
        nanos: true,
        snaplen,
        ..PcapOptions::default()
    };
    let mut w = PcapWriter::new(BufWriter::with_capacity(1 << 20, file), opts).expect("header");
    let expected = generate(&mut |p: &Packet| w.write_packet(p)).expect("generate");
    w.flush().expect("flush");
    (path, expected)
}

/// Runs the file pipeline on `path`.
fn run(cfg: &AnalyzerConfig, path: &Path) -> (Counter, AnalyzerStats, CaptureTotals) {
    let mut sink = Counter::default();
    let mut outcome = wsscope_core::pipeline::run_files(
        &[path.display().to_string()],
        cfg,
        &mut sink,
        &mut |_, _| {},
    )
    .expect("run");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let stats = outcome.stats.pop().expect("stats");
    let capture = outcome.captures.pop().expect("capture");
    (sink, stats, capture)
}

/// Whole text payloads kept (the probes send up to 3000 bytes), defaults otherwise.
fn config() -> AnalyzerConfig {
    AnalyzerConfig {
        session: SessionConfig {
            keep_bytes: 4096,
            ..SessionConfig::default()
        },
        ..AnalyzerConfig::default()
    }
}

fn generate_and_run<G>(
    cfg: &AnalyzerConfig,
    snaplen: u32,
    generate: G,
) -> (Counter, AnalyzerStats, Expected)
where
    G: FnOnce(&mut dyn FnMut(&Packet) -> io::Result<()>) -> io::Result<Expected>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, expected) = write_capture(dir.path(), snaplen, generate);
    let (counter, stats, capture) = run(cfg, &path);
    assert_eq!(capture.packets, expected.packets);
    (counter, stats, expected)
}

// ---------------------------------------------------------------------------------------------
// SYN flood
// ---------------------------------------------------------------------------------------------

/// `syns` SYN-only connections against a table of `max_flows`: the table never holds more, the
/// overflow is evicted and reported, and the probe session (idle for long stretches, but the
/// only connection with payload) survives and is decoded in full.
fn syn_flood_case(syns: u64, max_flows: usize) {
    let mut cfg = config();
    cfg.flows = FlowLimits {
        max_flows,
        ..FlowLimits::default()
    };
    let (c, stats, expected) =
        generate_and_run(&cfg, 262_144, |emit| adversarial::syn_flood(syns, 50, emit));
    let f = &stats.flows;
    assert_eq!(f.flows, syns + 1, "{f:?}");
    assert_eq!(
        f.peak_flows, max_flows,
        "the table filled up but never past its bound"
    );
    assert!(f.evicted >= syns + 1 - max_flows as u64, "{f:?}");
    assert_eq!(c.flows_by_end.get("evicted").copied(), Some(f.evicted));
    assert_eq!(c.flows, syns + 1);
    c.assert_codes(&[Code::FlowEvicted]);
    assert_eq!(c.count(Code::FlowEvicted), 1);
    let detail = &c.details[&Code::FlowEvicted][0];
    assert!(
        detail.contains(&format!("{} connections evicted", f.evicted))
            && detail.contains(&format!("--max-flows {max_flows}")),
        "{detail}"
    );
    let probe = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(probe.clean, Some(true));
    assert_eq!(c.sessions.len(), 1);
}

#[test]
fn syn_flood_scaled_down_evicts_within_bound_and_keeps_the_session() {
    syn_flood_case(30_000, 1_000);
}

/// The full million against the default table (100,000 flows): about 13 s in a debug build.
#[test]
fn syn_flood_one_million_at_default_limits() {
    syn_flood_case(1_000_000, FlowLimits::default().max_flows);
}

// ---------------------------------------------------------------------------------------------
// Fragment flood
// ---------------------------------------------------------------------------------------------

/// 100,000 fragments of datagrams that never complete (far offsets, overlaps, duplicates,
/// shredded ones, IPv4 and IPv6) around an IPv4 and an IPv6 session whose data travels in
/// fragments, themselves duplicated and overlapped.
#[test]
fn fragment_flood_stays_within_the_fragment_table_and_fragmented_sessions_decode() {
    let (c, stats, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::frag_flood(100_000, 20, emit)
    });
    let frag = stats.decode.fragments;
    let limits = DefragLimits::default();
    assert_eq!(
        frag.fragments,
        expected.flood + expected.probe_fragments,
        "{frag:?}"
    );
    assert_eq!(
        frag.peak_datagrams, limits.max_datagrams,
        "the table fills up and never goes past its bound: {frag:?}"
    );
    assert!(
        frag.peak_bytes <= limits.max_datagrams * MAX_DATAGRAM,
        "{frag:?}"
    );
    // A quarter of the bogus datagrams force a 64 KiB buffer: the bound is approached.
    assert!(
        frag.peak_bytes > limits.max_datagrams / 8 * 60_000,
        "{frag:?}"
    );
    // Every 32nd bogus datagram is shredded (the last one may be cut short by the budget).
    let shredded = frag.shredded;
    let most = expected.bogus_datagrams / 32;
    assert!(shredded == most || shredded + 1 == most, "{frag:?}");
    assert!(frag.evicted > expected.bogus_datagrams / 2, "{frag:?}");
    // Every probe datagram completed, none was lost to the flood.
    assert!(frag.reassembled >= 80, "{frag:?}");
    // Every eighth bogus datagram overlaps itself with different bytes: flagged, not a crash.
    assert!(frag.overlaps_inconsistent > 0, "{frag:?}");
    c.assert_codes(&[Code::FragmentsDropped, Code::IpFragmentOverlapInconsistent]);
    let overlap = &c.details[&Code::IpFragmentOverlapInconsistent][0];
    assert!(
        overlap.contains(&format!(
            "{} IP fragments overlapped",
            frag.overlaps_inconsistent
        )),
        "{overlap}"
    );
    let detail = &c.details[&Code::FragmentsDropped][0];
    assert!(
        detail.contains(&format!(
            "{} incomplete IP datagrams dropped from the full fragment table (at most 1024 in progress), {shredded} dropped",
            frag.evicted
        )),
        "{detail}"
    );
    assert_eq!(c.sessions.len(), 2);
    for p in &expected.probes {
        let seen = c.assert_probe_decoded(p);
        assert_eq!(seen.clean, Some(true));
    }
}

// ---------------------------------------------------------------------------------------------
// 2^63-1 byte frame
// ---------------------------------------------------------------------------------------------

fn huge(seen: &Seen) -> (Dir, MessageKind, u64, bool) {
    *seen
        .shapes
        .iter()
        .find(|s| s.1 == MessageKind::Binary)
        .expect("the huge frame is reported")
}

/// The server declares 2^63-1 payload bytes and sends 200 KB of them; the client carries on
/// and closes. Nothing is allocated for the declared size, the message is reported incomplete
/// with the length that crossed the wire (`message-incomplete`), the client's messages are all
/// decoded.
#[test]
fn frame_header_of_2_pow_63_minus_1_bytes_streams_without_allocating() {
    let (c, _, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::huge_frame(200_000, 20, emit)
    });
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(
        huge(seen),
        (Dir::ServerToClient, MessageKind::Binary, 200_000, true)
    );
    assert!(c.max_kept_payload <= 4096);
    // The server never answered the client's close: it was still inside its frame.
    c.assert_codes(&[Code::CloseHandshakeIncomplete, Code::MessageIncomplete]);
    let cut = &c.details[&Code::MessageIncomplete][0];
    assert!(
        cut.contains(&format!(
            "{} of its {} declared payload bytes never arrived",
            adversarial::HUGE_FRAME_LEN - 200_000,
            adversarial::HUGE_FRAME_LEN
        )),
        "{cut}"
    );
}

/// Regression: a message that reached --max-message-size exactly at the end of a segment was
/// never reported as too large (64 KiB pieces, 1 MiB cap). Found by this suite.
#[test]
fn frame_passing_the_size_cap_on_a_segment_boundary_is_reported_too_large() {
    let mut cfg = config();
    cfg.session.max_message_size = 1 << 20;
    let (c, _, expected) = generate_and_run(&cfg, 262_144, |emit| {
        adversarial::huge_frame(3 << 20, 20, emit)
    });
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(huge(seen).2, 3 << 20);
    c.assert_codes(&[
        Code::CloseHandshakeIncomplete,
        Code::MessageTooLarge,
        Code::MessageIncomplete,
    ]);
    assert_eq!(c.count(Code::MessageTooLarge), 1);
    assert!(c.max_kept_payload <= 4096);
}

// ---------------------------------------------------------------------------------------------
// Deflate bomb
// ---------------------------------------------------------------------------------------------

/// Messages of 64 KiB compressed that inflate past the default 64 MiB cap: inflation stops at
/// the cap each time, the normal compressed messages around them still inflate.
#[test]
fn deflate_bombs_stop_at_the_cap_and_next_messages_inflate() {
    let cap = SessionConfig::default().max_message_size;
    let (c, _, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::deflate_bomb(3, cap + (1 << 20), emit)
    });
    c.assert_codes(&[Code::MessageTooLarge]);
    assert_eq!(c.count(Code::MessageTooLarge), 3);
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(seen.clean, Some(true));
    let bombs: Vec<u64> = seen
        .shapes
        .iter()
        .filter(|s| s.1 == MessageKind::Binary)
        .map(|s| s.2)
        .collect();
    // Inflation stopped within one 32 KiB output chunk of the cap.
    assert_eq!(bombs.len(), 3);
    assert!(
        bombs
            .iter()
            .all(|&len| len >= cap && len <= cap + (32 << 10)),
        "{bombs:?}"
    );
    assert!(c.max_kept_payload <= 4096);
}

/// The same bombs with context takeover: past the cap the rest is inflated into a discard
/// buffer, so the window stays in step, the bombs report their true size, and the compressed
/// messages after them inflate (they used to fail with decompression-failed, every one).
#[test]
fn deflate_bombs_with_context_takeover_do_not_blind_the_direction() {
    let mut cfg = config();
    cfg.session.max_message_size = 1 << 20;
    let (c, _, expected) = generate_and_run(&cfg, 262_144, |emit| {
        adversarial::deflate_bomb_with("permessage-deflate", 3, 3 << 20, emit)
    });
    c.assert_codes(&[Code::MessageTooLarge]);
    assert_eq!(c.count(Code::MessageTooLarge), 3);
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(seen.clean, Some(true));
    let bombs: Vec<u64> = seen
        .shapes
        .iter()
        .filter(|s| s.1 == MessageKind::Binary)
        .map(|s| s.2)
        .collect();
    assert_eq!(bombs, [3 << 20; 3]);
}

// ---------------------------------------------------------------------------------------------
// Inconsistent overlapping retransmissions across a sequence wrap
// ---------------------------------------------------------------------------------------------

#[test]
fn inconsistent_retransmissions_across_a_sequence_wrap_first_copy_wins() {
    let (c, stats, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::overlap_wrap(300, emit)
    });
    assert!(expected.flood > 300, "{}", expected.flood);
    c.assert_codes(&[Code::TcpOverlapInconsistent]);
    assert_eq!(c.count(Code::TcpOverlapInconsistent), expected.flood);
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(seen.clean, Some(true));
    // Out-of-order halves were buffered, never more than one segment's worth.
    assert!(stats.flows.peak_flow_buffered_bytes > 0);
    assert!(
        stats.flows.peak_flow_buffered_bytes <= 100,
        "{:?}",
        stats.flows
    );
}

// ---------------------------------------------------------------------------------------------
// Out-of-order data behind a hole
// ---------------------------------------------------------------------------------------------

/// Three sessions buffer everything behind a missing byte at once: each reassembler holds at
/// most its 4 MiB before it declares the byte lost, and the frame stays in sync after it.
#[test]
fn data_behind_a_hole_is_buffered_up_to_the_limit_then_the_gap_is_declared() {
    let (c, stats, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::hole_flood(3, 5 << 20, emit)
    });
    let max = ReassemblyLimits::default().max_buffered_bytes;
    let f = &stats.flows;
    assert_eq!(f.peak_flow_buffered_bytes, max, "{f:?}");
    assert_eq!(f.peak_buffered_bytes, 3 * max, "{f:?}");
    c.assert_codes(&[Code::TcpGap]);
    assert_eq!(c.count(Code::TcpGap), 3);
    assert!(c.details[&Code::TcpGap][0].contains("1 bytes missing"));
    for p in &expected.probes {
        let seen = c.assert_probe_decoded(p);
        assert_eq!(seen.clean, Some(true));
        let frame = seen
            .shapes
            .iter()
            .find(|s| s.1 == MessageKind::Binary)
            .unwrap();
        assert_eq!((frame.2, frame.3), (5 << 20, true));
    }
}

/// Eight sessions hold MiBs behind a lost byte under a 16 MiB memory budget: the flow table
/// never holds more than the budget (the least active sessions give up their held data first,
/// the hole declared at once, with memory-budget-exceeded), the charge never passes the limit,
/// and every session still decodes with its frame in sync after the hole. Before the budget
/// covered reassembly, the table held 32 MiB.
#[test]
fn data_behind_holes_stays_within_the_memory_budget() {
    let mut cfg = config();
    let limit = 16u64 << 20;
    cfg.budget = wsscope_core::budget::MemoryBudget::new(limit);
    let (c, stats, expected) = generate_and_run(&cfg, 262_144, |emit| {
        adversarial::hole_flood(8, 5 << 20, emit)
    });
    let f = &stats.flows;
    // The segment that passes the budget is buffered before the charge is settled.
    assert!(f.peak_buffered_bytes as u64 <= limit + (64 << 10), "{f:?}");
    assert!(cfg.budget.peak() <= limit, "{}", cfg.budget.peak());
    assert!(cfg.budget.peak() > limit / 2, "{}", cfg.budget.peak());
    assert_eq!(cfg.budget.used(), 0, "everything charged is given back");
    c.assert_codes(&[Code::TcpGap, Code::MemoryBudgetExceeded]);
    assert_eq!(c.count(Code::TcpGap), 8);
    let relieved = c.count(Code::MemoryBudgetExceeded);
    assert!((1..=8).contains(&relieved), "{relieved}");
    for d in &c.details[&Code::MemoryBudgetExceeded] {
        assert!(
            d.contains("--max-memory 16.0 MiB") && d.contains("held out of order"),
            "{d}"
        );
    }
    for p in &expected.probes {
        let seen = c.assert_probe_decoded(p);
        let frame = seen
            .shapes
            .iter()
            .find(|s| s.1 == MessageKind::Binary)
            .unwrap();
        assert_eq!((frame.2, frame.3), (5 << 20, true));
    }
}

// ---------------------------------------------------------------------------------------------
// Resynchronisation through bytes that never look like a header
// ---------------------------------------------------------------------------------------------

/// Frame headers lost in gaps, each followed by 64 KiB+ that never look like a header, in
/// segments of 1 to 4 bytes: each part is skipped exactly (the search once restarted from the
/// first byte of its window at every segment, about 1 MB/s) and the next message decodes.
#[test]
fn bytes_that_never_look_like_a_header_after_a_gap_are_skipped_exactly() {
    let episodes = 3;
    let junk = 3 * 100_000;
    let (c, _, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::resync_junk(junk, episodes, emit)
    });
    c.assert_codes(&[Code::TcpGap, Code::ResyncSkippedBytes]);
    assert_eq!(c.count(Code::TcpGap), episodes);
    assert_eq!(c.count(Code::ResyncSkippedBytes), episodes);
    for d in &c.details[&Code::ResyncSkippedBytes] {
        assert!(d.contains("100000"), "{d}");
    }
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(seen.clean, Some(true));
}

// ---------------------------------------------------------------------------------------------
// Snaplen 64
// ---------------------------------------------------------------------------------------------

/// An ordinary session captured with snaplen 64: 10 payload bytes per packet survive, the
/// upgrade request is cut, so no session can be followed. The capture says why, with the exact
/// number of segments cut and bytes lost.
#[test]
fn snaplen_64_capture_reports_exactly_what_was_cut() {
    // What the cut removes, counted on the packets themselves.
    let mut want_segments = 0u64;
    let mut want_bytes = 0u64;
    let mut segments = 0u64;
    let _ = adversarial::plain_session(30, |p: &Packet| {
        let tcp_header = usize::from(p.data[14 + 20 + 12] >> 4) * 4;
        let payload = p.data.len() - 14 - 20 - tcp_header;
        let kept = 64usize.saturating_sub(14 + 20 + tcp_header);
        segments += 1;
        if payload > kept {
            want_segments += 1;
            want_bytes += (payload - kept) as u64;
        }
        Ok(())
    });
    let (c, stats, _) =
        generate_and_run(&config(), 64, |emit| adversarial::plain_session(30, emit));
    assert_eq!(stats.decode.tcp_segments, segments);
    assert_eq!(stats.decode.truncated, want_segments);
    assert_eq!(stats.decode.truncated_bytes, want_bytes);
    c.assert_codes(&[Code::SnaplenTruncated]);
    let detail = &c.details[&Code::SnaplenTruncated][0];
    assert!(
        detail.contains(&format!(
            "{want_segments} of {segments} TCP segments were cut by the snaplen ({want_bytes} payload bytes not captured)"
        )),
        "{detail}"
    );
    assert!(c.sessions.is_empty());
    assert_eq!(c.flows, 1);
}

// ---------------------------------------------------------------------------------------------
// Connections that open and go quiet
// ---------------------------------------------------------------------------------------------

/// Deflate upgrades and HTTP request lines that go quiet, around a session whose compressed
/// messages (context takeover) must inflate: what an idle connection costs is what a flood
/// multiplies (see scripts/stress.sh for the memory; here, the behaviour).
#[test]
fn idle_connections_around_a_compressed_session() {
    let (c, stats, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::idle_flood(2_000, 20, emit)
    });
    // Quiet upgrades end with the capture: nothing to report about them.
    c.assert_codes(&[]);
    assert_eq!(stats.flows.peak_flows, 2_001);
    assert_eq!(
        c.sessions.len(),
        1 + 1_000,
        "the probe and the deflate upgrades"
    );
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(seen.clean, Some(true));
}

// ---------------------------------------------------------------------------------------------
// Repeated findings
// ---------------------------------------------------------------------------------------------

/// Runs `path` through `sink`, returning the run's outcome.
fn run_into(
    cfg: &AnalyzerConfig,
    path: &Path,
    sink: &mut dyn Sink,
) -> wsscope_core::pipeline::RunOutcome {
    let outcome =
        wsscope_core::pipeline::run_files(&[path.display().to_string()], cfg, sink, &mut |_, _| {})
            .expect("run");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    outcome
}

/// Regression (text mode held 3 M finding lines of one session, 360 MiB): 100,000 unmasked
/// client frames on one session give the first 100 findings one by one and one finding that
/// sums up the rest, in every output; totals and `--fail-on` still see all 100,000.
#[test]
fn repeated_findings_of_a_session_are_listed_100_times_then_summed_up() {
    use wsscope_core::finding::REPEATS_LISTED;
    let frames = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, expected) = write_capture(dir.path(), 262_144, |emit| {
        adversarial::finding_flood(frames, emit)
    });
    let cfg = config();

    let (c, _, _) = run(&cfg, &path);
    c.assert_codes(&[Code::UnmaskedClientFrame]);
    assert_eq!(c.count(Code::UnmaskedClientFrame), frames);
    assert_eq!(c.events[&Code::UnmaskedClientFrame], REPEATS_LISTED + 1);
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(seen.clean, Some(true));

    // Text: the session block lists 101 findings, the last one the sum.
    let text = support::Shared::default();
    let mut sink = wsscope_output::text::TextSink::new(Box::new(text.clone()), false, 64);
    let outcome = run_into(&cfg, &path, &mut sink);
    let out = text.text();
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  finding "))
        .collect();
    assert_eq!(lines.len() as u64, REPEATS_LISTED + 1, "{out}");
    assert!(
        lines[lines.len() - 1].contains("and 99,900 more unmasked-client-frame findings"),
        "{}",
        lines[lines.len() - 1]
    );
    assert!(out.contains("findings: 100000 error"), "{out}");
    let gate = wsscope_core::pipeline::parse_fail_on("unmasked-client-frame").expect("fail-on");
    assert!(wsscope_core::pipeline::fail_on_matches(
        &gate,
        &outcome.tally
    ));
    assert_eq!(
        outcome.tally.totals.findings_by_code[&Code::UnmaskedClientFrame],
        frames
    );

    // JSON report: 101 findings in the session and in the top-level list, counts in full.
    let json = support::Shared::default();
    let mut sink = wsscope_output::json::JsonReportSink::new(
        Box::new(json.clone()),
        wsscope_output::report::PayloadMode::None,
    );
    run_into(&cfg, &path, &mut sink);
    let report: wsscope_output::report::Report =
        serde_json::from_str(&json.text()).expect("report");
    assert_eq!(report.sessions.len(), 1);
    let findings = &report.sessions[0].findings;
    assert_eq!(findings.len() as u64, REPEATS_LISTED + 1);
    assert_eq!(findings.iter().map(|f| f.count).sum::<u64>(), frames);
    assert_eq!(findings[100].count, frames - REPEATS_LISTED);
    assert_eq!(report.findings.len() as u64, REPEATS_LISTED + 1);
    assert_eq!(
        report.summary.findings_by_code
            [&wsscope_output::report::FindingCode(Code::UnmaskedClientFrame)],
        frames
    );

    // NDJSON: 101 finding lines, the last with its count.
    let nd = support::Shared::default();
    let mut sink = wsscope_output::ndjson::NdjsonSink::new(
        Box::new(nd.clone()),
        wsscope_output::report::PayloadMode::None,
        false,
    );
    run_into(&cfg, &path, &mut sink);
    let out = nd.text();
    let finding_lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|v| v["event_type"] == "finding")
        .collect();
    assert_eq!(finding_lines.len() as u64, REPEATS_LISTED + 1);
    assert!(finding_lines[..100]
        .iter()
        .all(|v| v.get("count").is_none()));
    assert_eq!(finding_lines[100]["count"], frames - REPEATS_LISTED);
}

/// Regression (1 M packets on an undescribed pcapng interface: 1 M findings and warnings,
/// 309 MiB): the first 100 are listed, the rest counted in one finding and one warning.
#[test]
fn packets_on_an_undescribed_interface_are_listed_100_times_then_counted() {
    let strays = 20_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("undescribed.pcapng");
    let file = std::fs::File::create(&path).expect("create");
    let expected =
        adversarial::undescribed_interface(strays, 20, BufWriter::new(file)).expect("generate");
    let (c, _, capture) = run(&config(), &path);
    assert_eq!(capture.packets, expected.packets);
    c.assert_codes(&[Code::CaptureTruncated]);
    assert_eq!(c.count(Code::CaptureTruncated), strays);
    assert_eq!(c.events[&Code::CaptureTruncated], 101);
    assert_eq!(capture.warnings.len(), 101);
    assert!(
        capture.warnings[100].starts_with("and 19,900 more packets naming undescribed interfaces"),
        "{}",
        capture.warnings[100]
    );
    let seen = c.assert_probe_decoded(&expected.probes[0]);
    assert_eq!(seen.clean, Some(true));
}

// ---------------------------------------------------------------------------------------------
// Payload memory budget
// ---------------------------------------------------------------------------------------------

/// The JSON report of `path` with whole payloads and a memory budget of `budget` bytes.
fn json_full_report(
    path: &Path,
    budget: u64,
) -> (
    wsscope_output::report::Report,
    wsscope_core::pipeline::RunOutcome,
) {
    let mut cfg = config();
    cfg.session.keep_bytes = 1 << 20;
    cfg.budget = wsscope_core::budget::MemoryBudget::new(budget);
    let json = support::Shared::default();
    let mut sink = wsscope_output::json::JsonReportSink::new(
        Box::new(json.clone()),
        wsscope_output::report::PayloadMode::Full,
    )
    .with_budget(cfg.budget.clone());
    let outcome = run_into(&cfg, path, &mut sink);
    let report = serde_json::from_str(&json.text()).expect("report");
    (report, outcome)
}

fn held(m: &wsscope_output::report::MessageReport) -> u64 {
    (m.text.as_ref().map_or(0, String::len) + m.data_b64.as_ref().map_or(0, String::len)) as u64
}

/// Regression (`--json --payload full` kept every message whole: a 2.5 MB capture took
/// 6.3 GiB): 200 messages of 64 KiB against a 1 MiB budget. The report holds at most 1 MiB of
/// payload, the rest is `truncated: true`, and the session has one payload-budget-exceeded
/// finding saying how much was dropped. Every message is still reported with its length.
#[test]
fn json_full_payloads_stay_within_the_memory_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, expected) = write_capture(dir.path(), 262_144, |emit| {
        adversarial::payload_flood(1, 200, 64 << 10, emit)
    });
    let (report, outcome) = json_full_report(&path, 1 << 20);
    assert_eq!(report.sessions.len(), 1);
    let s = &report.sessions[0];
    assert_eq!(s.messages.len() as u64, expected.messages());
    let total: u64 = s.messages.iter().map(held).sum();
    // The outputs leave the last eighth of the budget to the analysis's own buffers.
    let room = wsscope_core::budget::MemoryBudget::new(1 << 20).held_limit();
    assert!(total <= room, "{total}");
    assert!(total > room - 100_000, "the budget is used: {total}");
    let binaries: Vec<_> = s.messages.iter().filter(|m| m.len == 64 << 10).collect();
    assert_eq!(binaries.len(), 200);
    let kept = binaries.iter().filter(|m| !m.truncated).count();
    assert!((10..=12).contains(&kept), "{kept}");
    assert!(binaries
        .iter()
        .all(|m| m.truncated == (m.data_b64.is_none())));
    let dropped: Vec<_> = s
        .findings
        .iter()
        .filter(|f| f.code.0 == Code::PayloadBudgetExceeded)
        .collect();
    assert_eq!(dropped.len(), 1, "{:?}", s.findings);
    let stripped = s.messages.iter().filter(|m| m.truncated).count();
    assert!(
        dropped[0]
            .detail
            .contains(&format!("payload of {stripped} messages")),
        "{} ({stripped} truncated)",
        dropped[0].detail
    );
    assert!(
        dropped[0].detail.contains("--max-memory 1.0 MiB"),
        "{}",
        dropped[0].detail
    );
    assert_eq!(
        outcome.tally.totals.findings_by_code[&Code::PayloadBudgetExceeded],
        1
    );
}

/// When the budget is reached, the least active session is degraded first: a finished
/// session's payloads make room for the one still talking.
#[test]
fn memory_budget_degrades_the_least_active_session_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = write_capture(dir.path(), 262_144, |emit| {
        adversarial::payload_flood(2, 10, 64 << 10, emit)
    });
    let (report, _) = json_full_report(&path, 1 << 20);
    assert_eq!(report.sessions.len(), 2);
    // Each: 10 texts, 10 binaries, 2 close frames (their payload: code and reason).
    let (old, new) = (&report.sessions[0], &report.sessions[1]);
    assert!(old
        .messages
        .iter()
        .all(|m| held(m) == 0 && (m.len == 0 || m.truncated)));
    assert!(new.messages.iter().all(|m| !m.truncated && held(m) > 0));
    let codes = |s: &wsscope_output::report::SessionReport| -> Vec<String> {
        s.findings
            .iter()
            .map(|f| f.code.0.as_str().to_string())
            .collect()
    };
    assert_eq!(codes(old), vec!["payload-budget-exceeded".to_string()]);
    assert!(codes(new).is_empty(), "{:?}", new.findings);
    assert!(
        old.findings[0].detail.contains("payload of 22 messages"),
        "{}",
        old.findings[0].detail
    );
}

// ---------------------------------------------------------------------------------------------
// Big heads in 1-byte segments
// ---------------------------------------------------------------------------------------------

/// Upgrade requests of 20 KB in 1-byte segments: every session is read and decoded, nothing is
/// flagged (the head-end search is incremental; the session unit tests count the bytes it
/// examines, scripts/stress.sh measures the speed).
#[test]
fn big_heads_in_1_byte_segments_are_all_read() {
    let (c, _, expected) = generate_and_run(&config(), 262_144, |emit| {
        adversarial::slow_heads(3, 20_000, emit)
    });
    c.assert_codes(&[]);
    assert_eq!(c.sessions.len(), 3);
    for probe in &expected.probes {
        c.assert_probe_decoded(probe);
    }
}

/// Larger snaplens keep the request line (and some headers) but cut the heads: a gap inside a
/// head is followed only when a whole segment was lost, not when the snaplen cut every
/// segment, so the capture gives one clear finding instead of a flood (issue 9 item 4).
#[test]
fn snaplen_cut_heads_give_one_clear_finding() {
    for snaplen in [80, 120, 160, 200] {
        let (c, _, _) = generate_and_run(&config(), snaplen, |emit| {
            adversarial::plain_session(30, emit)
        });
        c.assert_codes(&[Code::SnaplenTruncated]);
        assert_eq!(c.events.values().sum::<u64>(), 1, "snaplen {snaplen}");
        assert!(c.sessions.is_empty(), "snaplen {snaplen}");
    }
}
