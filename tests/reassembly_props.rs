//! The reassembly law: however the TCP segments of one WebSocket session are cut, reordered
//! (within a window) or duplicated, and wherever the peer's ACKs fall (before the data they
//! acknowledge included, as in captures merged from two interfaces), the analyzer decodes
//! exactly the same messages, and reports no gap (nor anything else) for a capture that lost
//! nothing.

mod support;

use proptest::prelude::*;
use support::*;
use wsscope_core::finding::Code;
use wsscope_core::tcp::Dir;
use wsscope_core::ws::message::MessageKind;
use wsscope_testkit::{
    self, deflate_message, new_deflate_compressor, Conversation, FrameSpec, Packet,
};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Binary,
    Ping,
}

#[derive(Clone, Debug)]
struct MsgSpec {
    from_client: bool,
    kind: Kind,
    size: usize,
    /// Fragment payload into chunks of this size (data messages only).
    fragment: Option<usize>,
    seed: u8,
}

fn msg_spec() -> impl Strategy<Value = MsgSpec> {
    (
        any::<bool>(),
        prop_oneof![4 => Just(Kind::Text), 4 => Just(Kind::Binary), 1 => Just(Kind::Ping)],
        prop_oneof![3 => 0usize..200, 2 => 0usize..3000],
        prop::option::weighted(0.3, 1usize..1200),
        any::<u8>(),
    )
        .prop_map(|(from_client, kind, size, fragment, seed)| MsgSpec {
            from_client,
            kind,
            size,
            fragment,
            seed,
        })
}

/// What the analyzer must report for one message (per direction, in order).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Expected {
    kind: MessageKind,
    payload: Vec<u8>,
    frames: u32,
    compressed: bool,
}

/// One session as the two byte streams, cut into logical sends in natural order.
struct Scenario {
    sends: Vec<(Dir, Vec<u8>)>,
    expected: [Vec<Expected>; 2],
}

fn payload_for(m: &MsgSpec) -> Vec<u8> {
    let s = u32::from(m.seed);
    match m.kind {
        Kind::Text => (0..m.size as u32)
            .map(|i| b' ' + ((i.wrapping_mul(s | 1) + s) % 95) as u8)
            .collect(),
        Kind::Binary => (0..m.size as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(s) >> 13) as u8)
            .collect(),
        Kind::Ping => (0..m.size.min(125) as u32).map(|i| (i ^ s) as u8).collect(),
    }
}

fn build(msgs: &[MsgSpec], deflate: bool) -> Scenario {
    let mut req = request();
    let mut resp = response();
    if deflate {
        req = req.with_deflate();
        resp = resp.with_deflate();
    }
    let mut sends = vec![(C2S, req.to_bytes()), (S2C, resp.to_bytes())];
    let mut expected: [Vec<Expected>; 2] = [Vec::new(), Vec::new()];
    let mut compressors = [new_deflate_compressor(6), new_deflate_compressor(6)];
    let mut masks = 0u32;
    let mut next_mask = |client: bool| {
        masks += 1;
        client.then(|| mask(masks).unwrap())
    };
    for m in msgs {
        let dir = if m.from_client { C2S } else { S2C };
        let payload = payload_for(m);
        let mut out = Vec::new();
        let (kind, frames, compressed) = match m.kind {
            Kind::Ping => {
                FrameSpec::ping(&payload, next_mask(m.from_client)).encode_into(&mut out);
                (MessageKind::Ping, 1, false)
            }
            Kind::Text | Kind::Binary => {
                let (op, kind) = match m.kind {
                    Kind::Text => (1u8, MessageKind::Text),
                    _ => (2u8, MessageKind::Binary),
                };
                let wire = if deflate {
                    deflate_message(&payload, &mut compressors[dir.index()])
                } else {
                    payload.clone()
                };
                let chunks: Vec<&[u8]> = match m.fragment {
                    Some(n) if !wire.is_empty() => wire.chunks(n).collect(),
                    _ => vec![&wire[..]],
                };
                let count = chunks.len();
                for (i, chunk) in chunks.into_iter().enumerate() {
                    let opcode = if i == 0 { op } else { 0 };
                    let f = FrameSpec::new(opcode, chunk.to_vec(), next_mask(m.from_client))
                        .with_fin(i + 1 == count)
                        .with_rsv(deflate && i == 0, false, false);
                    f.encode_into(&mut out);
                }
                (kind, count as u32, deflate)
            }
        };
        expected[dir.index()].push(Expected {
            kind,
            payload,
            frames,
            compressed,
        });
        sends.push((dir, out));
    }
    sends.push((C2S, cclose(1000)));
    sends.push((S2C, sclose(1000)));
    for dir in [C2S, S2C] {
        expected[dir.index()].push(Expected {
            kind: MessageKind::Close,
            payload: 1000u16.to_be_bytes().to_vec(),
            frames: 1,
            compressed: false,
        });
    }
    Scenario { sends, expected }
}

/// One TCP segment: direction, stream offset, bytes. No bytes: a pure ACK from `Dir` of the
/// peer's stream up to the offset.
type Seg = (Dir, u64, Vec<u8>);

/// A small deterministic generator for the cut, reorder and duplication choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Cuts every send into segments whose sizes come from `size` (told whether the segment is the
/// first of its direction).
fn segment(sends: &[(Dir, Vec<u8>)], mut size: impl FnMut(bool) -> usize) -> Vec<Seg> {
    let mut offsets = [0u64; 2];
    let mut segs = Vec::new();
    for (dir, bytes) in sends {
        let mut pos = 0;
        while pos < bytes.len() {
            let n = size(offsets[dir.index()] == 0).clamp(1, bytes.len() - pos);
            segs.push((*dir, offsets[dir.index()], bytes[pos..pos + n].to_vec()));
            offsets[dir.index()] += n as u64;
            pos += n;
        }
    }
    segs
}

fn natural(sends: &[(Dir, Vec<u8>)]) -> Vec<Seg> {
    segment(sends, |_| 1460)
}

/// Random segment sizes, with many tiny ones (a request line cut after one byte included).
fn random_cuts(sends: &[(Dir, Vec<u8>)], rng: &mut Rng) -> Vec<Seg> {
    segment(sends, |_| {
        if rng.below(4) == 0 {
            1 + rng.below(16) as usize
        } else {
            1 + rng.below(1460) as usize
        }
    })
}

fn reorder(mut segs: Vec<Seg>, rng: &mut Rng, window: u64) -> Vec<Seg> {
    let n = segs.len();
    for i in 0..n {
        let j = (i + rng.below(window) as usize).min(n - 1);
        segs.swap(i, j);
    }
    segs
}

fn duplicate(segs: Vec<Seg>, rng: &mut Rng) -> Vec<Seg> {
    let mut out: Vec<Seg> = Vec::with_capacity(segs.len() * 2);
    let mut later: Vec<(usize, Seg)> = Vec::new();
    for (i, s) in segs.into_iter().enumerate() {
        if rng.below(4) == 0 {
            later.push((i + rng.below(6) as usize, s.clone()));
        }
        out.push(s);
        let (due, rest): (Vec<_>, Vec<_>) = later.into_iter().partition(|(at, _)| *at <= i);
        out.extend(due.into_iter().map(|(_, s)| s));
        later = rest;
    }
    out.extend(later.into_iter().map(|(_, s)| s));
    out
}

/// Puts before every data segment an ACK from its receiver of everything its sender sent so far,
/// this segment included: the ACK is captured before the data it acknowledges, and after
/// reordering it also covers segments still to come.
fn acks_first(segs: Vec<Seg>) -> Vec<Seg> {
    let mut ends = [0u64; 2];
    let mut out = Vec::with_capacity(segs.len() * 2);
    for (dir, offset, bytes) in segs {
        let e = &mut ends[dir.index()];
        *e = (*e).max(offset + bytes.len() as u64);
        let peer = match dir {
            Dir::ClientToServer => Dir::ServerToClient,
            Dir::ServerToClient => Dir::ClientToServer,
        };
        out.push((peer, *e, Vec::new()));
        out.push((dir, offset, bytes));
    }
    out
}

/// A capture of `segs` after a TCP handshake with the given ISNs, closed by FINs.
fn capture(segs: &[Seg], isns: (u32, u32)) -> Vec<Packet> {
    let mut c = Conversation::default_v4()
        .with_isns(isns.0, isns.1)
        .with_auto_ack(false);
    c.handshake();
    let mut ends = [0u64; 2];
    for (dir, offset, bytes) in segs {
        if bytes.is_empty() {
            let mut t = c.segment_template(kit(*dir));
            t.ack = c.seq_at(kit(*dir).reverse(), *offset);
            c.emit(kit(*dir), &t);
            continue;
        }
        c.raw_segment(kit(*dir), *offset, bytes);
        let e = &mut ends[dir.index()];
        *e = (*e).max(offset + bytes.len() as u64);
    }
    for dir in [C2S, S2C] {
        c.skip(kit(dir), ends[dir.index()]);
    }
    c.fin(wsscope_testkit::Dir::ClientToServer);
    c.fin(wsscope_testkit::Dir::ServerToClient);
    c.ack(wsscope_testkit::Dir::ClientToServer);
    c.into_packets()
}

/// Per-direction message lists as the analyzer reports them, plus the findings.
fn decoded(packets: &[Packet]) -> ([Vec<Expected>; 2], Outcome) {
    let o = analyze_packets(packets);
    let mut lists: [Vec<Expected>; 2] = [Vec::new(), Vec::new()];
    for m in &o.messages {
        assert!(!m.message.incomplete, "incomplete message {m:?}");
        lists[m.message.dir.index()].push(Expected {
            kind: m.message.kind,
            payload: m.message.payload.clone(),
            frames: m.message.frames,
            compressed: m.message.compressed,
        });
    }
    (lists, o)
}

fn check_law(msgs: &[MsgSpec], deflate: bool, isns: (u32, u32), seed: u64) {
    let sc = build(msgs, deflate);
    let mut rng = Rng(seed | 1);
    let cut = random_cuts(&sc.sends, &mut rng);
    let window = 2 + rng.below(7);
    let variants: Vec<(&str, Vec<Seg>)> = vec![
        ("natural", natural(&sc.sends)),
        ("random cuts", cut.clone()),
        ("reordered", reorder(cut.clone(), &mut rng, window)),
        ("duplicated", duplicate(cut.clone(), &mut rng)),
        (
            "reordered+duplicated",
            reorder(duplicate(natural(&sc.sends), &mut rng), &mut rng, window),
        ),
        (
            "reordered, ACKs before their data",
            acks_first(reorder(cut.clone(), &mut rng, window)),
        ),
    ];
    for (name, segs) in variants {
        let (lists, o) = decoded(&capture(&segs, isns));
        // Reordering can put client frames before the 101 in capture order: that note (info)
        // describes the capture, not the messages, so it is the one finding allowed here.
        let findings: Vec<_> = o
            .findings
            .iter()
            .filter(|f| f.code != Code::HandshakeNote)
            .collect();
        assert!(
            findings.is_empty(),
            "{name}: unexpected findings {:#?}",
            o.findings
        );
        assert_eq!(o.sessions.len(), 1, "{name}");
        assert!(o.ends[0].clean, "{name}: {:?}", o.ends[0]);
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            let (got, want) = (&lists[dir.index()], &sc.expected[dir.index()]);
            assert_eq!(got.len(), want.len(), "{name} {dir:?}: message count");
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(g == w, "{name} {dir:?} message {i}: got {g:?}, want {w:?}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn segmentation_reordering_and_duplication_do_not_change_messages(
        msgs in prop::collection::vec(msg_spec(), 0..10),
        deflate in any::<bool>(),
        isns in prop_oneof![
            (any::<u32>(), any::<u32>()),
            (u32::MAX - 4000..=u32::MAX, u32::MAX - 4000..=u32::MAX),
        ],
        seed in any::<u64>(),
    ) {
        check_law(&msgs, deflate, isns, seed);
    }
}

/// Regression (issue 9, item 0): three empty compressed messages in a row. zlib emits no bytes
/// for the second sync flush without input; RFC 7692 7.2.3.6 requires a non-empty block
/// (`0x00`), so the generator must send one and the analyzer must decode three empty texts.
#[test]
fn three_empty_compressed_messages_in_a_row() {
    let empty = |from_client| MsgSpec {
        from_client,
        kind: Kind::Text,
        size: 0,
        fragment: None,
        seed: 0,
    };
    for from_client in [false, true] {
        let msgs = vec![empty(from_client), empty(from_client), empty(from_client)];
        for seed in [1, 0x5eed, 642_588_257_308_786_722] {
            check_law(&msgs, true, (0, 0), seed);
        }
    }
}

#[test]
fn sequence_wraparound_in_both_directions() {
    let msgs: Vec<MsgSpec> = (0..8)
        .map(|i| MsgSpec {
            from_client: i % 2 == 0,
            kind: if i % 3 == 0 { Kind::Binary } else { Kind::Text },
            size: 700 + 300 * i,
            fragment: (i % 4 == 1).then_some(500),
            seed: i as u8,
        })
        .collect();
    for deflate in [false, true] {
        for isns in [
            (u32::MAX - 10, u32::MAX - 3000),
            (u32::MAX, u32::MAX - 1),
            (u32::MAX - 300, 5),
        ] {
            check_law(&msgs, deflate, isns, 0x5eed);
        }
    }
}

/// The natural scenario with the first `split` bytes of `dir`'s first send in a segment of their own.
fn first_send_split(dir: Dir, split: usize, server_first: bool) -> Outcome {
    let sc = build(&[], false);
    let mut segs = natural(&sc.sends);
    let i = segs.iter().position(|s| s.0 == dir).unwrap();
    let (d, off, bytes) = segs.remove(i);
    segs.insert(i, (d, off + split as u64, bytes[split..].to_vec()));
    segs.insert(i, (d, off, bytes[..split].to_vec()));
    if server_first {
        segs.sort_by_key(|s| s.0 == C2S);
    }
    analyze_packets(&capture(&segs, (1, 2)))
}

fn assert_one_clean_session(o: &Outcome) {
    assert_eq!(
        o.sessions.len(),
        1,
        "session lost; findings {:?}",
        o.codes()
    );
    assert!(o.ends[0].clean, "{:?}", o.ends[0]);
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
}

#[test]
fn request_split_after_its_first_byte_is_still_recognised() {
    assert_one_clean_session(&first_send_split(C2S, 1, false));
    assert_one_clean_session(&first_send_split(C2S, 4, false));
}

#[test]
fn request_split_inside_the_method_token_is_still_recognised() {
    assert_one_clean_session(&first_send_split(C2S, 2, false));
    assert_one_clean_session(&first_send_split(C2S, 3, false));
}

#[test]
fn response_delivered_before_the_request_is_still_recognised() {
    assert_one_clean_session(&first_send_split(S2C, 5, true));
    assert_one_clean_session(&first_send_split(S2C, 40, true));
}

#[test]
fn response_split_inside_http_slash_before_the_request_is_still_recognised() {
    assert_one_clean_session(&first_send_split(S2C, 2, true));
}
