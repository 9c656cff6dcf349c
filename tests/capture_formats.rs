//! The same WebSocket session must decode identically whatever container, byte order,
//! timestamp precision, link type, IP version, fragmentation or extension headers carry it;
//! and a snaplen-cut capture must yield exact gaps, not garbage.

mod support;

use support::*;
use wsscope_core::capture::linktype;
use wsscope_core::finding::Code;
use wsscope_core::tcp::Dir;
use wsscope_core::ws::message::MessageKind;
use wsscope_testkit::capture::{
    capture_bytes, CaptureFormat, PcapNgWriter, PcapOptions, PcapWriter,
};
use wsscope_testkit::ws::SAMPLE_KEY;
use wsscope_testkit::{Conversation, Link, Packet, Session, UpgradeRequest, UpgradeResponse};

fn session_on(conv: Conversation<'static>) -> Vec<Packet> {
    Session::from_conversation(conv)
        .upgrade(
            &UpgradeRequest::new(SAMPLE_KEY),
            &UpgradeResponse::accepting(SAMPLE_KEY),
        )
        .client_text("Hello from the client")
        .server_binary(&[0u8, 1, 2, 3, 255])
        .server_text(&"x".repeat(5000))
        .close(1000)
        .into_packets()
}

fn summary(o: &Outcome) -> Vec<(Dir, MessageKind, Vec<u8>)> {
    o.messages
        .iter()
        .map(|m| (m.message.dir, m.message.kind, m.message.payload.clone()))
        .collect()
}

fn reference() -> Vec<(Dir, MessageKind, Vec<u8>)> {
    let o = analyze_packets(&session_on(Conversation::default_v4()));
    assert_eq!(o.messages.len(), 5, "text, binary, text, close, close");
    summary(&o)
}

#[test]
fn every_container_byte_order_and_precision() {
    let want = reference();
    let packets = session_on(Conversation::default_v4());
    for format in CaptureFormat::all() {
        let bytes = capture_bytes(format, linktype::ETHERNET, &packets);
        let o = analyze(&bytes);
        assert_eq!(summary(&o), want, "{format:?}");
        assert!(
            o.findings.iter().all(|f| f.code != Code::TcpGap),
            "{format:?}"
        );
        // Timestamps survive every precision to the microsecond.
        let ts = o.sessions[0].ts.0;
        assert!(
            packets.iter().any(|p| p.ts_nanos / 1000 == ts / 1000),
            "{format:?}: {ts}"
        );
    }
}

#[test]
fn every_link_type_vlan_and_qinq() {
    let want = reference();
    for link in Link::all() {
        let packets = session_on(Conversation::default_v4().with_link(link.clone()));
        let opts = PcapOptions {
            linktype: link.linktype(),
            ..PcapOptions::default()
        };
        let mut w = PcapWriter::new(Vec::new(), opts).expect("writer");
        for p in &packets {
            w.write_packet(p).expect("write");
        }
        let o = analyze(&w.into_inner());
        assert_eq!(summary(&o), want, "{link:?}");
    }
}

#[test]
fn ipv6_with_extension_headers() {
    let want = reference();
    let o = analyze_packets(&session_on(
        Conversation::default_v6().with_ipv6_ext_headers(true),
    ));
    assert_eq!(summary(&o), want);
    assert!(o.sessions[0].client.is_ipv6());
}

#[test]
fn ipv4_and_ipv6_fragments_are_reassembled() {
    let want = reference();
    for conv in [Conversation::default_v4(), Conversation::default_v6()] {
        let o = analyze_packets(&session_on(conv.with_ip_fragmentation(Some(256))));
        assert_eq!(summary(&o), want);
        assert!(!o.has(Code::TcpGap));
    }
}

#[test]
fn pcapng_with_two_interfaces_of_different_resolution() {
    // The same session split over two interfaces (microseconds and 2^-20 s units), as a
    // capture on a bond or with `-i any` in pcapng might look.
    let packets = session_on(Conversation::default_v4());
    let mut w = PcapNgWriter::new(Vec::new(), false).expect("writer");
    let micro = w.add_interface(1, 65535, 6).expect("idb");
    let binary = w.add_interface(1, 65535, 0x80 | 20).expect("idb");
    for (i, p) in packets.iter().enumerate() {
        w.write_packet(if i % 2 == 0 { micro } else { binary }, p)
            .expect("epb");
    }
    let o = analyze(&w.into_inner());
    assert_eq!(summary(&o), reference());
    // 2^-20 s resolution keeps every timestamp within a microsecond.
    let ts = o.sessions[0].ts.0;
    assert!(
        packets.iter().any(|p| (p.ts_nanos - ts).abs() < 1000),
        "{ts}"
    );
}

#[test]
fn snaplen_cut_packets_become_exact_gaps() {
    // Every packet cut to 400 bytes: the handshake fits, large segments lose their tails.
    let packets: Vec<Packet> = session_on(Conversation::default_v4())
        .into_iter()
        .map(|p| p.truncated(400))
        .collect();
    let o = analyze_packets(&packets);
    assert!(o.has(Code::TcpGap));
    // The 5000-byte text spans several segments: it is reported incomplete with its full length.
    let big = o
        .messages
        .iter()
        .find(|m| m.message.len == 5000)
        .expect("the 5000-byte message is still found");
    assert!(big.message.incomplete);
    // The session still ends with both close frames.
    assert_eq!(
        o.messages
            .iter()
            .filter(|m| m.message.kind == MessageKind::Close)
            .count(),
        2
    );
}

#[test]
fn mid_stream_session_with_client_on_the_lower_port_is_oriented_by_masking() {
    // No SYN captured and the client's port is lower than the server's: the port guess is
    // wrong, and the masked frames put it right.
    let client: std::net::SocketAddr = "10.0.0.1:1025".parse().expect("addr");
    let server: std::net::SocketAddr = "10.0.0.2:50000".parse().expect("addr");
    let mut conv = Conversation::new(client, server);
    conv.client_send(&wsscope_testkit::FrameSpec::text("late hello", Some([1, 2, 3, 4])).encode());
    conv.server_send(&wsscope_testkit::FrameSpec::text("late reply", None).encode());
    let o = analyze_packets(&conv.into_packets());
    assert!(o.has(Code::HandshakeNotSeen));
    assert_eq!(o.sessions[0].client, client);
    // The flow table owns the roles: its record names the same client.
    let flow = &o.flows[0].summary;
    assert_eq!((flow.client, flow.server), (client, server));
    let got: Vec<(Dir, Vec<u8>)> = o
        .messages
        .iter()
        .map(|m| (m.message.dir, m.message.payload.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Dir::ClientToServer, b"late hello".to_vec()),
            (Dir::ServerToClient, b"late reply".to_vec())
        ]
    );
    assert!(!o.has(Code::UnmaskedClientFrame) && !o.has(Code::MaskedServerFrame));
}

/// `--decode-as PORT` names the server: on a connection captured mid-stream whose port guess
/// took the server for the client, the flow table's record names the same client as the
/// session, and counts each direction's bytes the same way round.
#[test]
fn decode_as_corrects_the_roles_of_the_flow_and_the_session_alike() {
    let client: std::net::SocketAddr = "10.0.0.1:1025".parse().expect("addr");
    let server: std::net::SocketAddr = "10.0.0.2:50000".parse().expect("addr");
    let mut conv = Conversation::new(client, server);
    let reply = wsscope_testkit::FrameSpec::text("from the server", None).encode();
    let hello = wsscope_testkit::FrameSpec::text("hi", Some([1, 2, 3, 4])).encode();
    conv.server_send(&reply);
    conv.client_send(&hello);
    let mut cfg = config();
    cfg.session.decode_as_ports = vec![50000];
    let o = analyze_packets_with(cfg, &conv.into_packets());
    assert_eq!(
        (o.sessions[0].client, o.sessions[0].server),
        (client, server)
    );
    let flow = &o.flows[0].summary;
    assert_eq!((flow.client, flow.server), (client, server));
    let lens = [hello.len() as u64, reply.len() as u64];
    assert_eq!(flow.stream_bytes, lens);
    assert_eq!(o.ends[0].payload_bytes, [2, 15]);
}

/// Inputs that crashed a fuzz target once (fuzz/regressions/) must now be handled quietly,
/// whichever layer they are fed to.
#[test]
fn fuzz_regressions_are_handled_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} (checked into the repository): {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries.flatten() {
        replayed += 1;
        let bytes = std::fs::read(entry.path()).expect("read regression");
        if let Ok(reader) = wsscope_core::capture::CaptureReader::new(&bytes) {
            let n = reader.count();
            let _ = n;
        }
        for lt in [0u32, 1, 101, 108, 113, 276] {
            let raw = wsscope_core::capture::RawPacket {
                ts: wsscope_core::timestamp::Timestamp(0),
                linktype: lt,
                data: &bytes,
                orig_len: bytes.len() as u32,
            };
            let _ = wsscope_core::packet::PacketDecoder::new().decode(&raw, |_| {});
        }
    }
    assert!(
        replayed >= 2,
        "expected the regressions in {}",
        dir.display()
    );
}

/// Yields at most `step` bytes per `read`, like a pipe delivering small writes.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

type Seen = (Vec<(i64, u32, Vec<u8>, u32)>, Vec<String>);

fn read_in_memory(bytes: &[u8]) -> Option<Seen> {
    let mut r = wsscope_core::capture::CaptureReader::new(bytes).ok()?;
    let packets = r
        .by_ref()
        .map(|p| (p.ts.0, p.linktype, p.data.to_vec(), p.orig_len))
        .collect();
    Some((packets, r.notices().iter().map(|n| n.to_string()).collect()))
}

fn read_streamed(bytes: &[u8], step: usize) -> Option<Seen> {
    let mut r = wsscope_core::capture::StreamReader::new(Trickle { bytes, step }).ok()?;
    let mut packets = Vec::new();
    while let Some(p) = r.next_packet() {
        packets.push((p.ts.0, p.linktype, p.data.to_vec(), p.orig_len));
    }
    Some((packets, r.notices().iter().map(|n| n.to_string()).collect()))
}

/// Reading from a pipe (any `Read`, in pieces of any size) yields exactly the packets and
/// notices of reading the same bytes from memory: every container, cut anywhere.
#[test]
fn streamed_reading_matches_in_memory_reading() {
    let packets = session_on(Conversation::default_v4());
    let mut inputs: Vec<Vec<u8>> = CaptureFormat::all()
        .into_iter()
        .map(|f| capture_bytes(f, linktype::ETHERNET, &packets))
        .collect();
    for entry in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
            .expect("fixtures")
            .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".pcap") || name.ends_with(".pcapng") {
            inputs.push(std::fs::read(entry.path()).expect("fixture"));
        }
    }
    let whole = inputs.clone();
    for bytes in &whole {
        for cut in [1, 3, 4, 23, 24, 25, 40, bytes.len() / 2, bytes.len() - 1] {
            inputs.push(bytes[..cut.min(bytes.len())].to_vec());
        }
    }
    for (i, bytes) in inputs.iter().enumerate() {
        let want = read_in_memory(bytes);
        for step in [1, 7, 4096, usize::MAX] {
            assert_eq!(read_streamed(bytes, step), want, "input {i}, step {step}");
        }
    }
}

/// A record declaring an absurd length is refused before it is buffered: memory stays bounded
/// by the reader's record limit, not by what the capture claims.
#[test]
fn streamed_record_larger_than_the_limit_stops_reading() {
    let packets = session_on(Conversation::default_v4());
    let mut bytes = capture_bytes(
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        linktype::ETHERNET,
        &packets,
    );
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    let (got, notices) = read_streamed(&bytes, 4096).expect("header");
    assert_eq!(got.len(), packets.len());
    assert_eq!(notices.len(), 1, "{notices:?}");
}

/// A pcapng packet block whose packet runs past the block's own declared length is malformed
/// (said so, in both readers), not "incomplete": the streamed reader used to buffer the rest of
/// the stream waiting for bytes the record never declared.
#[test]
fn packet_block_overrunning_its_declared_length_is_malformed() {
    let packets = session_on(Conversation::default_v4());
    let mut bytes = capture_bytes(
        CaptureFormat::PcapNg {
            big_endian: false,
            tsresol: 6,
        },
        linktype::ETHERNET,
        &packets,
    );
    // Enhanced Packet Block of 32 bytes (no room for data) claiming 1000 captured bytes.
    for word in [6u32, 32, 0, 0, 0, 1000, 1000, 32] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.extend_from_slice(&vec![0u8; 3 << 20]);
    let want = read_in_memory(&bytes).expect("header");
    assert_eq!(want.0.len(), packets.len());
    assert!(
        want.1.len() == 1 && want.1[0].contains("declared length of 32 bytes"),
        "{:?}",
        want.1
    );
    for step in [1, 4096, usize::MAX] {
        assert_eq!(
            read_streamed(&bytes, step).as_ref(),
            Some(&want),
            "step {step}"
        );
    }
}

/// A record that declares far more than the stream then delivers costs memory for what
/// arrives, not for what it declares (a 40-byte pipe once made the reader allocate 200 MiB).
#[test]
fn streamed_buffer_grows_with_the_bytes_read_not_the_declared_length() {
    let mut bytes = capture_bytes(
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        linktype::ETHERNET,
        &[],
    );
    for word in [0u32, 0, 200 << 20, 200 << 20] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.extend_from_slice(&[0u8; 16]);
    let mut r = wsscope_core::capture::StreamReader::new(Trickle {
        bytes: &bytes,
        step: 4096,
    })
    .expect("header");
    assert!(r.next_packet().is_none());
    assert_eq!(r.notices().len(), 1, "{:?}", r.notices());
    assert!(
        r.buffer_capacity() <= 2 << 20,
        "buffer grew to {} bytes",
        r.buffer_capacity()
    );
}

/// A capture truncated while it is being read (log rotation, tcpdump rewriting it) ends the
/// capture early with `capture-truncated`: no SIGBUS, what was read is reported. The file is
/// cut from the progress callback, at a fixed point of the reading, so the test is
/// deterministic.
#[test]
fn capture_truncated_while_being_read_is_reported_not_fatal() {
    let mut session = Session::new(Link::ethernet()).upgrade(
        &UpgradeRequest::new(SAMPLE_KEY),
        &UpgradeResponse::accepting(SAMPLE_KEY),
    );
    for i in 0..30_000 {
        session = session.client_text(&format!("message {i} {}", "x".repeat(100)));
    }
    let bytes = session.pcap_bytes();
    assert!(bytes.len() > 4 << 20, "{}", bytes.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotated.pcap");
    std::fs::write(&path, &bytes).expect("write");
    let paths = vec![path.to_string_lossy().into_owned()];
    let mut cut = false;
    let mut progress = |done: u64, _total: u64| {
        if !cut && done > 0 {
            cut = true;
            // Cut in the middle of a record, well past the bytes read so far.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open");
            f.set_len(bytes.len() as u64 / 2 + 3).expect("truncate");
        }
    };
    let mut sink = wsscope_output::json::JsonReportSink::new(
        Box::new(std::io::sink()),
        wsscope_output::report::PayloadMode::None,
    );
    let cfg = wsscope_core::analyzer::AnalyzerConfig::default();
    let outcome = wsscope_core::pipeline::run_files(&paths, &cfg, &mut sink, &mut progress)
        .expect("run completes");
    assert!(cut, "the progress callback ran");
    assert!(outcome.errors.is_empty());
    let truncated = outcome
        .tally
        .totals
        .findings_by_code
        .get(&Code::CaptureTruncated)
        .copied();
    assert!(
        truncated.unwrap_or(0) >= 1,
        "{:?}",
        outcome.tally.totals.findings_by_code
    );
    let messages = outcome.tally.totals.messages.data() + outcome.tally.totals.messages.control();
    assert!(messages > 8_000 && messages < 30_000, "{messages}");
    assert!(outcome.captures[0]
        .warnings
        .iter()
        .any(|w| w.contains("shrank")));
}

#[test]
fn ipv6_fragments_behind_extension_headers_are_reassembled() {
    let want = reference();
    let conv = Conversation::default_v6()
        .with_ipv6_ext_headers(true)
        .with_ip_fragmentation(Some(256));
    let o = analyze_packets(&session_on(conv));
    assert_eq!(summary(&o), want);
    assert!(!o.has(Code::TcpGap));
}
