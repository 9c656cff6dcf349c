//! Capture packet numbers (1-based, every record counted, as Wireshark numbers frames) on each
//! message's first and last packet and on each finding, so a user can jump to the packet.

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
            let text = String::from_utf8_lossy(&m.payload).into_owned();
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
