//! Capture packet numbers (1-based, every record counted, as Wireshark numbers frames) on each
//! message's first and last packet and on each finding, so a user can jump to the packet.

mod common;
mod support;

use support::*;
use wsscope_core::finding::Code;
use wsscope_testkit::{FrameSpec, Packet};

/// An ARP request: a capture record that is not TCP (Wireshark numbers it all the same).
fn arp_frame() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&[0; 20]);
    f
}

#[test]
fn messages_and_findings_name_their_capture_packets() {
    let handshake = upgraded().into_packets().len() as u64;
    let mut c = upgraded().with_auto_ack(false);
    // k = 1, 2: a client message whose second part arrives first (out of order).
    let hello = ctext("hello, packets");
    let at = c.stream_offset(kit(C2S));
    c.raw_segment(kit(C2S), at + 4, &hello[4..]);
    c.raw_segment(kit(C2S), at, &hello[..4]);
    // k = 3, 4: a server message split across two segments.
    let reply = stext("a reply in two parts");
    c.server_send_segments(&[&reply[..5], &reply[5..]]);
    // k = 5, 6: text that is not UTF-8, in two segments: a finding about the whole message.
    let bad = FrameSpec::new(1, b"ab\xff\xfecd".to_vec(), None).encode();
    c.server_send_segments(&[&bad[..3], &bad[3..]]);
    // k = 7: a masked server frame: a finding about the frame's header.
    c.server_send(&FrameSpec::text("masked", mask(3)).encode());
    // k = 8: the client's message again, with different bytes.
    let mut changed = hello.clone();
    changed[8] ^= 0xff;
    c.raw_segment(kit(C2S), at, &changed);
    let mut packets = c.into_packets();
    let first_ts = packets[0].ts_nanos;
    packets.insert(0, Packet::new(first_ts, arp_frame()));
    let o = analyze_packets(&packets);
    // The ARP record is number 1, the handshake's packets follow.
    let n = |k: u64| 1 + handshake + k;

    let spans: Vec<(String, u64, u64)> = o
        .messages
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.message.payload).into_owned();
            (text, m.first_packet, m.last_packet)
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            // First byte (the header's) in the segment that came second.
            ("hello, packets".to_string(), n(2), n(1)),
            ("a reply in two parts".to_string(), n(3), n(4)),
            ("ab\u{fffd}\u{fffd}cd".to_string(), n(5), n(6)),
            ("masked".to_string(), n(7), n(7)),
        ]
    );
    let packet_of = |code: Code| o.finding(code).packet;
    assert_eq!(packet_of(Code::InvalidUtf8), Some(n(5)));
    assert_eq!(packet_of(Code::MaskedServerFrame), Some(n(7)));
    assert_eq!(packet_of(Code::TcpOverlapInconsistent), Some(n(8)));
}

/// A finding revealed by a packet's arrival names that packet; one revealed by the end of the
/// capture names none.
#[test]
fn findings_name_the_packet_that_revealed_them_or_none_at_the_end() {
    let mut c = upgraded();
    c.client_send(&ctext("hi"));
    c.rst(kit(S2C));
    let rst = c.packets().len() as u64;
    let o = analyze_packets(&c.into_packets());
    assert_eq!(o.finding(Code::AbruptClose).packet, Some(rst));

    let mut c = upgraded();
    // A frame that declares 100 payload bytes and carries 3: cut by the end of the capture.
    let mut cut = FrameSpec::text(&"x".repeat(100), None).encode();
    cut.truncate(5);
    c.server_send(&cut);
    let o = analyze_packets(&c.into_packets());
    assert_eq!(o.finding(Code::MessageIncomplete).packet, None);
}

/// A segment that came in IP fragments was delivered by the packet of the fragment that
/// completed its datagram.
#[test]
fn a_message_in_ip_fragments_is_numbered_by_the_fragment_that_completed_it() {
    let mut c = wsscope_testkit::Conversation::default_v4().with_ip_fragmentation(Some(64));
    c.handshake();
    c.client_send(&request().to_bytes());
    c.server_send(&response().to_bytes());
    let before = c.packets().len() as u64;
    c.server_send(&stext(&"y".repeat(100)));
    // The fragments, then the client's (unfragmented) ACK.
    let last_fragment = c.packets().len() as u64 - 1;
    assert!(last_fragment > before + 1, "not fragmented");
    let o = analyze_packets(&c.into_packets());
    let m = o.last(S2C);
    assert_eq!(
        (m.first_packet, m.last_packet),
        (last_fragment, last_fragment)
    );
}

/// The JSON report's packet numbers on the shipped fixtures are the frame numbers Wireshark
/// shows. The oracle reads each capture independently (pcap-parser, etherparse): it numbers the
/// records from 1, rebuilds each TCP direction byte by byte remembering which record first
/// carried each byte, splits the bytes after the HTTP header into WebSocket frames and those
/// into messages, and names the records that carried each message's first and last byte.
#[test]
fn json_packet_numbers_are_the_frames_wireshark_numbers_on_the_fixtures() {
    let mut checked = 0;
    for name in [
        "node_ping",
        "node_deflate",
        "chromium",
        "py_deflate",
        "py_sizes",
        "py_ipv6",
        "py_any_sll",
        "py_any_sll2",
    ] {
        let path = common::root().join("fixtures").join(format!("{name}.pcap"));
        let oracle = oracle::streams(&path);
        let report = common::report_for(&path, &[]);
        for session in report["sessions"].as_array().expect("sessions") {
            let client = oracle::endpoint(&session["client"]);
            let server = oracle::endpoint(&session["server"]);
            for (dir, from, to) in [("c2s", client, server), ("s2c", server, client)] {
                let want = oracle.messages(from, to);
                let got: Vec<(u64, u64)> = session["messages"]
                    .as_array()
                    .expect("messages")
                    .iter()
                    .filter(|m| m["dir"] == dir)
                    .map(|m| {
                        let n = |k: &str| m[k].as_u64().expect("packet number");
                        (n("first_packet"), n("last_packet"))
                    })
                    .collect();
                assert_eq!(got, want, "{name} session {} {dir}", session["id"]);
                checked += got.len();
            }
        }
    }
    assert!(checked > 100, "only {checked} messages checked");
}

/// NDJSON message and finding events carry the same packet numbers as the JSON report.
#[test]
fn ndjson_events_carry_the_reports_packet_numbers() {
    let path = common::root().join("fixtures").join("node_ping.pcap");
    let report = common::report_for(&path, &[]);
    let out = common::wsscope(["analyze", "--ndjson", path.to_str().expect("path")]);
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let of_type = |t: &str| -> Vec<serde_json::Value> {
        events
            .iter()
            .filter(|e| e["event_type"] == t)
            .cloned()
            .collect()
    };
    let session = &report["sessions"][0];
    let numbers = |m: &serde_json::Value| (m["first_packet"].clone(), m["last_packet"].clone());
    let from_report: Vec<_> = session["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(numbers)
        .collect();
    let from_events: Vec<_> = of_type("message").iter().map(numbers).collect();
    assert_eq!(from_events, from_report);
    assert!(from_report.iter().all(|(f, l)| f.is_u64() && l.is_u64()));
    let packets = |fs: &[serde_json::Value]| -> Vec<serde_json::Value> {
        fs.iter().map(|f| f["packet"].clone()).collect()
    };
    let report_findings = report["findings"].as_array().expect("findings");
    assert_eq!(packets(&of_type("finding")), packets(report_findings));
}

/// A finding in the JSON report names the record that revealed it (here a masked server frame
/// in a synthesized capture, whose record number is known by construction, behind a record
/// that is not TCP), or `null` when none did.
#[test]
fn json_findings_name_their_packet() {
    let mut c = upgraded().with_auto_ack(false);
    c.client_send(&ctext("hi"));
    c.server_send(&FrameSpec::text("masked", mask(3)).encode());
    // The last record, +1 for the ARP record in front.
    let masked = c.packets().len() as u64 + 1;
    let mut packets = c.into_packets();
    let first_ts = packets[0].ts_nanos;
    packets.insert(0, Packet::new(first_ts, arp_frame()));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("masked.pcap");
    std::fs::write(&path, pcap(&packets)).expect("write capture");
    let report = common::report_for(&path, &[]);
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "masked-server-frame")
        .expect("masked-server-frame finding");
    assert_eq!(finding["packet"], masked);

    // A frame cut by the end of the capture: no packet revealed it, `packet` is null.
    let mut c = upgraded();
    let mut cut = FrameSpec::text(&"x".repeat(100), None).encode();
    cut.truncate(5);
    c.server_send(&cut);
    std::fs::write(&path, pcap(&c.into_packets())).expect("write capture");
    let report = common::report_for(&path, &[]);
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "message-incomplete")
        .expect("message-incomplete finding");
    assert_eq!(finding.get("packet"), Some(&serde_json::Value::Null));
}

/// An independent reading of a capture file, for checking packet numbers.
mod oracle {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    use std::collections::HashMap;
    use std::net::{IpAddr, SocketAddr};
    use std::path::Path;

    /// One TCP direction: its bytes from the first after the SYN (or the first seen), and the
    /// 1-based record number that first carried each.
    #[derive(Default)]
    struct Stream {
        base: Option<u32>,
        bytes: Vec<u8>,
        record: Vec<u64>,
    }

    /// Every TCP direction of a capture.
    pub struct Streams(HashMap<(SocketAddr, SocketAddr), Stream>);

    /// `{ip, port}` of a report.
    pub fn endpoint(v: &serde_json::Value) -> SocketAddr {
        let ip: IpAddr = v["ip"].as_str().expect("ip").parse().expect("ip address");
        let port = v["port"].as_u64().expect("port") as u16;
        SocketAddr::new(ip, port)
    }

    /// Reads the pcap file at `path`.
    pub fn streams(path: &Path) -> Streams {
        let data = std::fs::read(path).expect("read capture");
        let (_, capture) = pcap_parser::parse_pcap(&data).expect("pcap");
        let linktype = capture.header.network.0;
        let mut streams: HashMap<(SocketAddr, SocketAddr), Stream> = HashMap::new();
        for (i, block) in capture.blocks.iter().enumerate() {
            let record = i as u64 + 1;
            let sliced = match linktype {
                1 => SlicedPacket::from_ethernet(block.data),
                113 => SlicedPacket::from_ip(&block.data[16..]),
                276 => SlicedPacket::from_ip(&block.data[20..]),
                other => panic!("linktype {other}"),
            };
            let Ok(p) = sliced else { continue };
            let (src, dst): (IpAddr, IpAddr) = match &p.net {
                Some(NetSlice::Ipv4(ip)) => (
                    ip.header().source_addr().into(),
                    ip.header().destination_addr().into(),
                ),
                Some(NetSlice::Ipv6(ip)) => (
                    ip.header().source_addr().into(),
                    ip.header().destination_addr().into(),
                ),
                _ => continue,
            };
            let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
                continue;
            };
            let key = (
                SocketAddr::new(src, tcp.source_port()),
                SocketAddr::new(dst, tcp.destination_port()),
            );
            let s = streams.entry(key).or_default();
            let seq = tcp.sequence_number();
            if tcp.syn() {
                s.base = Some(seq.wrapping_add(1));
                continue;
            }
            let payload = tcp.payload();
            if payload.is_empty() {
                continue;
            }
            let base = *s.base.get_or_insert(seq);
            let at = seq.wrapping_sub(base) as usize;
            let end = at + payload.len();
            if s.bytes.len() < end {
                s.bytes.resize(end, 0);
                s.record.resize(end, 0);
            }
            for (k, &b) in payload.iter().enumerate() {
                if s.record[at + k] == 0 {
                    s.record[at + k] = record;
                    s.bytes[at + k] = b;
                }
            }
        }
        Streams(streams)
    }

    impl Streams {
        /// Records of the first and last byte of each WebSocket message sent from `from` to
        /// `to`, in the order the messages complete.
        pub fn messages(&self, from: SocketAddr, to: SocketAddr) -> Vec<(u64, u64)> {
            let Some(s) = self.0.get(&(from, to)) else {
                return Vec::new();
            };
            let Some(head_end) = s.bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Vec::new();
            };
            let mut out = Vec::new();
            let mut at = head_end + 4;
            // Start offset of a fragmented data message in progress.
            let mut data_start = None;
            while at + 2 <= s.bytes.len() {
                let b = &s.bytes;
                let (fin, opcode) = (b[at] & 0x80 != 0, b[at] & 0x0f);
                let masked = b[at + 1] & 0x80 != 0;
                let (len, mut header) = match b[at + 1] & 0x7f {
                    126 => (u64::from(u16::from_be_bytes([b[at + 2], b[at + 3]])), 4),
                    127 => {
                        let mut n = [0u8; 8];
                        n.copy_from_slice(&b[at + 2..at + 10]);
                        (u64::from_be_bytes(n), 10)
                    }
                    n => (u64::from(n), 2),
                };
                if masked {
                    header += 4;
                }
                let end = at + header + len as usize;
                assert!(end <= b.len(), "frame cut at {at}");
                let last = s.record[end - 1];
                if opcode >= 8 {
                    out.push((s.record[at], last));
                } else {
                    let start = *data_start.get_or_insert(at);
                    if fin {
                        out.push((s.record[start], last));
                        data_start = None;
                    }
                }
                at = end;
            }
            out
        }
    }
}

/// The `--messages` transcript shows each message's packet numbers: one number, or the first
/// and last when the message spans packets.
#[test]
fn transcript_shows_packet_numbers() {
    let path = common::root().join("fixtures").join("node_ping.pcap");
    let out = common::wsscope(["analyze", "--messages", path.to_str().expect("path")]);
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let line = |index: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(index))
            .unwrap_or_else(|| panic!("no {index} line in {text}"))
            .to_string()
    };
    assert!(line("#1 ").contains(" pkt 8 "), "{text}");
    assert!(line("#4 ").contains(" pkt 12-13 "), "{text}");
}

/// Packet numbers count from 1 in each capture file, as Wireshark numbers the frames of the
/// file it opens: the same capture given twice reports the same numbers twice.
#[test]
fn packet_numbers_restart_with_each_capture_file() {
    let path = common::root().join("fixtures").join("node_ping.pcap");
    let path = path.to_str().expect("path");
    let out = common::wsscope(["analyze", "--json", "-", path, path]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let numbers: Vec<Vec<u64>> = report["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| {
            let messages = s["messages"].as_array().expect("messages");
            messages
                .iter()
                .map(|m| m["first_packet"].as_u64().expect("first_packet"))
                .collect()
        })
        .collect();
    assert_eq!(numbers.len(), 2);
    assert_eq!(numbers[0], numbers[1]);
    assert_eq!(numbers[0].first(), Some(&8));
}
