//! In-process analysis helpers shared by `tests/findings.rs` and `tests/reassembly_props.rs`:
//! synthesize a capture with `wsscope_testkit`, run it through the analyzer, and collect what
//! came out as owned, easy-to-assert values.

#![allow(dead_code)]

use std::io;
use wsscope_core::analyzer::{Analyzer, AnalyzerConfig, Event, FlowRecord};
use wsscope_core::capture::CaptureReader;
use wsscope_core::finding::{Code, Severity};
use wsscope_core::session::{SessionConfig, SessionEnd, SessionMessage, SessionStart};
use wsscope_core::sink::Sink;
use wsscope_core::tcp::Dir;
use wsscope_core::totals::{CaptureTotals, RunTotals};
use wsscope_core::ws::message::MessageKind;
use wsscope_testkit::{
    self, pcap_bytes, Conversation, FrameSpec, Packet, PcapOptions, UpgradeRequest, UpgradeResponse,
};

/// Client to server (analyzer side).
pub const C2S: Dir = Dir::ClientToServer;
/// Server to client (analyzer side).
pub const S2C: Dir = Dir::ServerToClient;

/// The RFC 6455 sample key.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// Its correct accept value.
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One finding, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub session: Option<u64>,
    pub code: Code,
    pub severity: Severity,
    pub dir: Option<Dir>,
    pub detail: String,
    pub packet: Option<u64>,
}

/// Everything an analysis reported.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: Vec<SessionMessage>,
    pub findings: Vec<Found>,
    pub sessions: Vec<SessionStart>,
    pub ends: Vec<SessionEnd>,
    pub flows: Vec<FlowRecord>,
}

impl Outcome {
    /// Finding codes in report order.
    pub fn codes(&self) -> Vec<Code> {
        self.findings.iter().map(|f| f.code).collect()
    }

    /// True when a finding with `code` was reported.
    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// The first finding with `code`; panics with the whole finding list otherwise.
    pub fn finding(&self, code: Code) -> &Found {
        self.findings
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("no {code:?} finding; got {:#?}", self.findings))
    }

    /// All findings with `code`.
    pub fn all(&self, code: Code) -> Vec<&Found> {
        self.findings.iter().filter(|f| f.code == code).collect()
    }

    /// Asserts `code` was reported (with direction `dir` when given) and returns it.
    pub fn expect(&self, code: Code, dir: Option<Dir>) -> &Found {
        let f = self.finding(code);
        if dir.is_some() {
            assert!(
                self.all(code).iter().any(|f| f.dir == dir),
                "{code:?} reported with the wrong direction (want {dir:?}): {:#?}",
                self.findings
            );
        }
        f
    }

    /// Asserts the set of distinct finding codes is exactly `codes`.
    pub fn assert_codes(&self, codes: &[Code]) {
        let mut got: Vec<Code> = self.codes();
        got.sort();
        got.dedup();
        let mut want = codes.to_vec();
        want.sort();
        want.dedup();
        assert_eq!(got, want, "findings: {:#?}", self.findings);
    }

    /// Messages in direction `dir`.
    pub fn in_dir(&self, dir: Dir) -> Vec<&SessionMessage> {
        self.messages
            .iter()
            .filter(|m| m.message.dir == dir)
            .collect()
    }

    /// Data (text/binary) messages in direction `dir` as (kind, payload).
    pub fn data(&self, dir: Dir) -> Vec<(MessageKind, Vec<u8>)> {
        self.messages
            .iter()
            .filter(|m| {
                m.message.dir == dir
                    && matches!(m.message.kind, MessageKind::Text | MessageKind::Binary)
            })
            .map(|m| (m.message.kind, m.message.payload.clone()))
            .collect()
    }

    /// Payloads of the text messages in `dir`, as strings.
    pub fn texts(&self, dir: Dir) -> Vec<String> {
        self.messages
            .iter()
            .filter(|m| m.message.dir == dir && m.message.kind == MessageKind::Text)
            .map(|m| String::from_utf8_lossy(&m.message.payload).into_owned())
            .collect()
    }

    /// The last message in `dir`.
    pub fn last(&self, dir: Dir) -> &SessionMessage {
        self.messages
            .iter()
            .rev()
            .find(|m| m.message.dir == dir)
            .unwrap_or_else(|| panic!("no {dir:?} message; got {:#?}", self.messages))
    }
}

/// An analyzer configuration that keeps whole payloads (up to 64 MiB).
pub fn config() -> AnalyzerConfig {
    AnalyzerConfig {
        session: SessionConfig {
            keep_bytes: 64 << 20,
            ..SessionConfig::default()
        },
        ..AnalyzerConfig::default()
    }
}

fn collect(out: &mut Outcome, ev: Event<'_>) {
    match ev {
        Event::SessionStart(s) => out.sessions.push(s.clone()),
        Event::Message(m) => out.messages.push((*m).clone()),
        Event::Finding { session, finding } => out.findings.push(Found {
            session,
            code: finding.code,
            severity: finding.severity,
            dir: finding.dir,
            detail: finding.detail.clone(),
            packet: finding.packet,
        }),
        Event::SessionEnd(e) => out.ends.push(e.clone()),
        Event::Flow(f) => out.flows.push(f.clone()),
    }
}

/// Analyses capture bytes in process with `cfg`.
pub fn analyze_with(cfg: AnalyzerConfig, bytes: &[u8]) -> Outcome {
    let reader = CaptureReader::new(bytes).expect("capture header");
    let mut analyzer = Analyzer::new(cfg, 0);
    let mut out = Outcome::default();
    for packet in reader {
        analyzer.packet(&packet, &mut |ev| collect(&mut out, ev));
    }
    analyzer.finish(&mut |ev| collect(&mut out, ev));
    out
}

/// Analyses capture bytes in process with [`config`].
pub fn analyze(bytes: &[u8]) -> Outcome {
    analyze_with(config(), bytes)
}

/// Classic pcap (Ethernet) of `packets`.
pub fn pcap(packets: &[Packet]) -> Vec<u8> {
    pcap_bytes(
        PcapOptions {
            snaplen: 262_144,
            ..PcapOptions::default()
        },
        packets,
    )
}

/// Analyses packets in process with [`config`].
pub fn analyze_packets(packets: &[Packet]) -> Outcome {
    analyze(&pcap(packets))
}

/// Analyses packets in process with `cfg`.
pub fn analyze_packets_with(cfg: AnalyzerConfig, packets: &[Packet]) -> Outcome {
    analyze_with(cfg, &pcap(packets))
}

/// Writes `bytes` to a temporary file and analyses it with the file driver
/// ([`wsscope_core::pipeline::run_files`]), which also reports capture-level findings.
pub fn run_file_with(cfg: &AnalyzerConfig, bytes: &[u8]) -> (Outcome, Vec<CaptureTotals>) {
    run_file_into(cfg, bytes, wsscope_core::sink::Tee::new())
}

/// Like [`run_file_with`], with `extra` fed the same events first (an output that holds
/// payload, say).
pub fn run_file_with_output(
    cfg: &AnalyzerConfig,
    bytes: &[u8],
    extra: Box<dyn Sink>,
) -> (Outcome, Vec<CaptureTotals>) {
    let mut tee = wsscope_core::sink::Tee::new();
    tee.push(extra);
    run_file_into(cfg, bytes, tee)
}

fn run_file_into(
    cfg: &AnalyzerConfig,
    bytes: &[u8],
    tee: wsscope_core::sink::Tee,
) -> (Outcome, Vec<CaptureTotals>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("capture.pcap");
    std::fs::write(&path, bytes).expect("write capture");
    let mut out = Outcome::default();
    let mut grab = Grab(&mut out, tee);
    let outcome = wsscope_core::pipeline::run_files(
        &[path.display().to_string()],
        cfg,
        &mut grab,
        &mut |_, _| {},
    )
    .expect("run");
    assert!(outcome.errors.is_empty(), "errors: {:?}", outcome.errors);
    (out, outcome.captures)
}

/// Feeds a tee, then collects.
struct Grab<'a>(&'a mut Outcome, wsscope_core::sink::Tee);

impl Sink for Grab<'_> {
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        self.1.event(ev)?;
        let ev = match ev {
            Event::SessionStart(s) => Event::SessionStart(s),
            Event::Message(m) => Event::Message(m),
            Event::Finding { session, finding } => Event::Finding {
                session: *session,
                finding,
            },
            Event::SessionEnd(e) => Event::SessionEnd(e),
            Event::Flow(f) => Event::Flow(f),
        };
        collect(self.0, ev);
        Ok(())
    }
    fn finish(&mut self, summary: &RunTotals, captures: &[CaptureTotals]) -> io::Result<()> {
        self.1.finish(summary, captures)
    }
}

/// A valid upgrade request with the sample key and an Origin (so no origin-missing note).
pub fn request() -> UpgradeRequest {
    let mut r = UpgradeRequest::new(KEY);
    r.origin = Some("https://example.com".into());
    r
}

/// A valid 101 for [`request`].
pub fn response() -> UpgradeResponse {
    UpgradeResponse::accepting(KEY)
}

/// TCP handshake plus the given upgrade exchange.
pub fn upgraded_with<'s>(req: &UpgradeRequest, resp: &UpgradeResponse) -> Conversation<'s> {
    let mut c = Conversation::default_v4();
    c.handshake();
    c.client_send(&req.to_bytes());
    c.server_send(&resp.to_bytes());
    c
}

/// TCP handshake plus a valid upgrade.
pub fn upgraded<'s>() -> Conversation<'s> {
    upgraded_with(&request(), &response())
}

/// A deterministic client masking key.
pub fn mask(n: u32) -> Option<[u8; 4]> {
    Some((0x9e37_79b9u32.wrapping_mul(n.wrapping_add(1))).to_be_bytes())
}

/// Encoded masked client text frame.
pub fn ctext(s: &str) -> Vec<u8> {
    FrameSpec::text(s, mask(s.len() as u32)).encode()
}

/// Encoded unmasked server text frame.
pub fn stext(s: &str) -> Vec<u8> {
    FrameSpec::text(s, None).encode()
}

/// Encoded masked client close frame.
pub fn cclose(code: u16) -> Vec<u8> {
    FrameSpec::close(Some(code), "", mask(7)).encode()
}

/// Encoded server close frame.
pub fn sclose(code: u16) -> Vec<u8> {
    FrameSpec::close(Some(code), "", None).encode()
}

/// Clean end of a session: client close, server close, FINs both ways.
pub fn clean_close(c: &mut Conversation<'_>) {
    c.client_send(&cclose(1000));
    c.server_send(&sclose(1000));
    c.close();
}

/// The testkit's direction for an analyzer direction.
pub fn kit(dir: Dir) -> wsscope_testkit::Dir {
    match dir {
        Dir::ClientToServer => wsscope_testkit::Dir::ClientToServer,
        Dir::ServerToClient => wsscope_testkit::Dir::ServerToClient,
    }
}

/// A `Write` into a buffer the test keeps (sinks take ownership of their writer).
#[derive(Clone, Default)]
pub struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// What was written.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.borrow().clone()).expect("utf-8 output")
    }
}
