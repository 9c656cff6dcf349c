//! Adversarial captures: floods and hostile encodings around a real WebSocket session.
//!
//! Every generator streams packets to a callback (memory does not grow with the size asked
//! for) and returns what a correct analyzer must find: the real ("probe") sessions' messages
//! and the size of the flood. The same code builds the scaled-down captures of
//! `tests/adversarial.rs` and the full-size ones of `scripts/stress.sh`
//! (`examples/gen_adversarial.rs`).
//!
//! * [`syn_flood`]: distinct SYN-only connections, one probe session open from the first
//!   packet to the last.
//! * [`frag_flood`]: IP fragments of datagrams that never complete (first-only, last-only,
//!   far-offset, oversized, duplicated, inconsistently overlapping, shredded into 80 pieces,
//!   IPv4 and IPv6) around two
//!   probe sessions whose every data segment travels in IPv4 / IPv6 fragments (with duplicate
//!   and overlapping copies of their own fragments).
//! * [`huge_frame`]: a server frame header declaring 2^63-1 payload bytes, then a payload
//!   stream, while the client keeps talking.
//! * [`deflate_bomb`]: permessage-deflate messages that inflate to a huge size, each followed
//!   by a normal compressed message.
//! * [`overlap_wrap`]: sequence numbers wrapping past 2^32, out-of-order segments, identical
//!   retransmissions and retransmissions that disagree with the first copy.
//! * [`hole_flood`]: sessions whose server data sits behind a byte the capture never has and
//!   that nobody acknowledges, so every byte after it must be buffered out of order.
//! * [`idle_flood`]: connections that open and go quiet, half of them after a
//!   permessage-deflate upgrade, half after the first line of an HTTP request, around a probe
//!   session exchanging compressed messages.
//! * [`compressed_idle_flood`]: connections that exchange one permessage-deflate message each
//!   way and go quiet, around a probe session of compressed messages.
//! * [`resync_junk`]: frame headers lost in capture gaps, each followed by bytes that never
//!   look like a header, in segments of 1 to 4 bytes, around a probe session.
//! * [`plain_session`]: an ordinary session (written with a tiny snaplen by the caller).
//! * [`slow_heads`]: upgrade requests with a big head sent in 1-byte segments.
//! * [`finding_flood`]: one session whose client sends a flood of unmasked frames, each a
//!   finding.
//! * [`payload_flood`]: one session whose server sends many large compressed messages that
//!   inflate to far more than the capture's size.
//! * [`undescribed_interface`]: a pcapng file whose packets name an interface that was never
//!   described, around a session on the described one.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::conversation::Conversation;
use super::ip::{internet_checksum, ipv4_header, ipv6_header, PROTO_FRAGMENT, PROTO_TCP};
use super::link::Link;
use super::tcp::{mss_option, TcpFlags, TcpSegmentSpec};
use super::ws::{
    deflate_message, frame_header_only, new_deflate_compressor, FrameSpec, UpgradeRequest,
    UpgradeResponse, OP_BINARY,
};
use super::{Dir, Packet};

/// Start of every generated capture (2023-11-14T22:13:20Z).
pub const START_NANOS: i64 = super::conversation::DEFAULT_START_NANOS;
/// Time between consecutive packets of a generated capture.
pub const STEP_NANOS: i64 = 1_000;

/// What one probe session carried, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeExpect {
    /// Client address of the session.
    pub client: Option<SocketAddr>,
    /// Text messages the client sent.
    pub c2s: Vec<String>,
    /// Text messages the server sent.
    pub s2c: Vec<String>,
    /// Every message of the session (data and control) as the analyzer counts them.
    pub messages: u64,
}

/// What a generated capture contains.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    /// Packet records written.
    pub packets: u64,
    /// Adversarial items written (SYNs, bogus fragments, bombs, inconsistent retransmissions).
    pub flood: u64,
    /// Distinct incomplete datagrams among the bogus fragments ([`frag_flood`]).
    pub bogus_datagrams: u64,
    /// Fragments of the probe sessions, duplicates and overlapping copies included.
    pub probe_fragments: u64,
    /// The real sessions.
    pub probes: Vec<ProbeExpect>,
    /// Messages the flood connections themselves carry ([`compressed_idle_flood`]).
    pub flood_messages: u64,
}

impl Expected {
    /// Every message of every probe session, and those of the flood connections.
    pub fn messages(&self) -> u64 {
        self.probes.iter().map(|p| p.messages).sum::<u64>() + self.flood_messages
    }
}

/// Re-times packets in output order (one [`STEP_NANOS`] apart) and counts them.
struct Out<F> {
    emit: F,
    now: i64,
    packets: u64,
}

impl<F: FnMut(&Packet) -> io::Result<()>> Out<F> {
    fn new(emit: F) -> Self {
        Out {
            emit,
            now: START_NANOS,
            packets: 0,
        }
    }

    fn put(&mut self, mut p: Packet) -> io::Result<()> {
        p.ts_nanos = self.now;
        self.now += STEP_NANOS;
        self.packets += 1;
        (self.emit)(&p)
    }

    fn put_all(&mut self, packets: Vec<Packet>) -> io::Result<()> {
        packets.into_iter().try_for_each(|p| self.put(p))
    }

    /// What a capture of the packets written so far holds: `flood` and the probes' messages.
    fn total(&self, flood: u64, probes: Vec<ProbeExpect>) -> Expected {
        Expected {
            packets: self.packets,
            flood,
            probes,
            ..Expected::default()
        }
    }
}

/// A deterministic client masking key.
fn mask_for(n: u64) -> [u8; 4] {
    (0x9e37_79b9u32.wrapping_mul((n as u32).wrapping_add(1))).to_be_bytes()
}

/// A base64 key that differs per session.
fn key_for(n: u64) -> String {
    use base64::Engine as _;
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    k[8..].copy_from_slice(&(!n).to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(k)
}

/// One real WebSocket session driven message by message.
struct Probe<'s> {
    conv: Conversation<'s>,
    expect: ProbeExpect,
    masks: u64,
}

impl<'s> Probe<'s> {
    /// TCP handshake and upgrade (with an Origin, so the handshake is spotless).
    fn open(mut conv: Conversation<'s>, id: u64, extensions: Option<&'static str>) -> Self {
        let key = key_for(id);
        let mut req = UpgradeRequest::new(&key);
        req.origin = Some("https://example.com".into());
        req.target = format!("/probe/{id}");
        req.extensions = extensions.map(String::from);
        let mut resp = UpgradeResponse::accepting(&key);
        resp.extensions = extensions.map(String::from);
        conv.handshake();
        conv.client_send(&req.to_bytes());
        conv.server_send(&resp.to_bytes());
        let client = conv.client();
        Probe {
            conv,
            expect: ProbeExpect {
                client: Some(client),
                ..ProbeExpect::default()
            },
            masks: id << 32,
        }
    }

    fn next_mask(&mut self) -> [u8; 4] {
        self.masks += 1;
        mask_for(self.masks)
    }

    /// Client text then server text.
    fn exchange(&mut self, c: String, s: String) {
        self.client_text(c);
        self.conv.server_send(&FrameSpec::text(&s, None).encode());
        self.expect.s2c.push(s);
        self.expect.messages += 1;
    }

    /// A client text (masked).
    fn client_text(&mut self, c: String) {
        let m = self.next_mask();
        self.conv
            .client_send(&FrameSpec::text(&c, Some(m)).encode());
        self.expect.c2s.push(c);
        self.expect.messages += 1;
    }

    /// The `i`-th exchange of the idle floods: a client text of 100 bytes then a server text of
    /// 300 bytes, each compressed (RSV1) with its side's compressor.
    fn exchange_compressed(
        &mut self,
        i: u64,
        client: &mut flate2::Compress,
        server: &mut flate2::Compress,
    ) {
        let c = probe_text("c", i, 100);
        let s = probe_text("s", i, 300);
        let m = self.next_mask();
        let cz = deflate_message(c.as_bytes(), client);
        let f = FrameSpec::new(1, cz, Some(m)).with_rsv(true, false, false);
        self.conv.client_send(&f.encode());
        let sz = deflate_message(s.as_bytes(), server);
        let f = FrameSpec::new(1, sz, None).with_rsv(true, false, false);
        self.conv.server_send(&f.encode());
        self.expect.c2s.push(c);
        self.expect.s2c.push(s);
        self.expect.messages += 2;
    }

    /// Close handshake (1000 both ways) and FINs.
    fn close(&mut self) {
        let m = self.next_mask();
        self.conv
            .client_send(&FrameSpec::close(Some(1000), "bye", Some(m)).encode());
        self.conv
            .server_send(&FrameSpec::close(Some(1000), "", None).encode());
        self.conv.close();
        self.expect.messages += 2;
    }

    fn take(&mut self) -> Vec<Packet> {
        self.conv.take_packets()
    }
}

/// Starts a capture with one probe session on the default IPv4 conversation: writes its TCP
/// handshake and upgrade.
fn start<'s, F>(
    emit: F,
    id: u64,
    extensions: Option<&'static str>,
) -> io::Result<(Out<F>, Probe<'s>)>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let mut out = Out::new(emit);
    let mut probe = Probe::open(Conversation::default_v4(), id, extensions);
    out.put_all(probe.take())?;
    Ok((out, probe))
}

/// A flood of `items` around a probe session: the packets of each item (`item(i)`), with the
/// probe's `probe_messages` exchanges (`exchange(probe, n)`) spread evenly between them (so the
/// probe is idle for long stretches); then the probe's close and the totals of a capture whose
/// flood part was `items`.
fn flood_around_probe<F>(
    (mut out, mut probe): (Out<F>, Probe<'_>),
    items: u64,
    probe_messages: u64,
    mut exchange: impl FnMut(&mut Probe<'_>, u64),
    mut item: impl FnMut(u64) -> Vec<Packet>,
) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let every = (items / (probe_messages + 1)).max(1);
    let mut sent = 0;
    for i in 0..items {
        if i > 0 && i % every == 0 && sent < probe_messages {
            exchange(&mut probe, sent);
            sent += 1;
            out.put_all(probe.take())?;
        }
        out.put_all(item(i))?;
    }
    for n in sent..probe_messages {
        exchange(&mut probe, n);
    }
    close_and_total(out, probe, items)
}

/// Ends a capture of one probe: its close handshake and FINs, then the totals with `flood`.
fn close_and_total<F>(mut out: Out<F>, mut probe: Probe<'_>, flood: u64) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    probe.close();
    out.put_all(probe.take())?;
    Ok(out.total(flood, vec![probe.expect]))
}

/// Text of the `i`-th message of a probe: `tag`, index, then filler up to `len` bytes.
fn probe_text(tag: &str, i: u64, len: usize) -> String {
    let mut s = format!("{tag} {i} ");
    while s.len() < len {
        s.push_str("0123456789abcdef");
    }
    s.truncate(len.max(s.find(' ').map_or(0, |p| p + 1)));
    s
}

// ---------------------------------------------------------------------------------------------
// SYN flood
// ---------------------------------------------------------------------------------------------

/// `syns` distinct SYN-only connections (never answered), with one probe session that opens
/// before the first SYN, exchanges `probe_messages` text messages each way spread evenly over
/// the flood (so it is idle for long stretches), and closes after the last SYN.
///
/// The probe carries payload and the SYN-only connections do not, so a flow table that evicts
/// payload-less connections first keeps it however full the table gets.
pub fn syn_flood<F>(syns: u64, probe_messages: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let link = Link::ethernet();
    let server = SocketAddr::from(([10, 0, 9, 9], 443));
    let mut spec = TcpSegmentSpec::new(server, server);
    spec.flags = TcpFlags::SYN;
    spec.options = mss_option(1460);
    spec.window = 64240;
    let exchange =
        |p: &mut Probe<'_>, i: u64| p.exchange(probe_text("c", i, 24), probe_text("s", i, 24));
    let syn = |i: u64| {
        // 11.0.0.0/8 and up: every SYN is a distinct 4-tuple.
        let n = i as u32;
        spec.src = flood_client(11, i);
        spec.seq = n.wrapping_mul(2_654_435_761);
        spec.ip_id = n as u16;
        let mut data = Vec::with_capacity(14 + 44);
        link.write_header(&mut data, false);
        spec.encode_with_payload(&[], &mut data);
        vec![Packet::new(0, data)]
    };
    flood_around_probe(start(emit, 0, None)?, syns, probe_messages, exchange, syn)
}

// ---------------------------------------------------------------------------------------------
// Fragment flood
// ---------------------------------------------------------------------------------------------

/// Where a fragment sits: (offset in bytes, more fragments).
type FragPos = (usize, bool);

/// An IPv4 fragment of protocol TCP (Ethernet frame).
fn v4_fragment(src: Ipv4Addr, dst: Ipv4Addr, id: u16, pos: FragPos, payload: &[u8]) -> Vec<u8> {
    let (offset, more) = pos;
    let field = ((offset / 8) as u16 & 0x1fff) | if more { 0x2000 } else { 0 };
    let mut data = Vec::with_capacity(34 + payload.len());
    Link::ethernet().write_header(&mut data, false);
    data.extend_from_slice(&ipv4_header(
        src,
        dst,
        PROTO_TCP,
        payload.len(),
        id,
        64,
        field,
    ));
    data.extend_from_slice(payload);
    data
}

/// An IPv6 fragment (Fragment extension header) of protocol TCP (Ethernet frame).
fn v6_fragment(src: Ipv6Addr, dst: Ipv6Addr, id: u32, pos: FragPos, payload: &[u8]) -> Vec<u8> {
    let (offset, more) = pos;
    let mut data = Vec::with_capacity(62 + payload.len());
    Link::ethernet().write_header(&mut data, true);
    data.extend_from_slice(&ipv6_header(
        src,
        dst,
        PROTO_FRAGMENT,
        8 + payload.len(),
        64,
    ));
    let word = ((offset / 8) as u16) << 3 | u16::from(more);
    data.extend_from_slice(&[PROTO_TCP, 0]);
    data.extend_from_slice(&word.to_be_bytes());
    data.extend_from_slice(&id.to_be_bytes());
    data.extend_from_slice(payload);
    data
}

/// The `i`-th flood client: addresses from `first_octet`.0.0.0 up, so every one is a distinct
/// 4-tuple.
fn flood_client(first_octet: u8, i: u64) -> SocketAddr {
    let n = i as u32;
    let ip = Ipv4Addr::new(
        first_octet.wrapping_add((n >> 24) as u8),
        (n >> 16) as u8,
        (n >> 8) as u8,
        n as u8,
    );
    SocketAddr::from((ip, 1024 + (i % 60_000) as u16))
}

/// Deterministic filler bytes (xorshift; incompressible).
pub fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Fragments of a shredded datagram (see `bogus_datagram`).
pub const SHRED_PIECES: usize = 80;

/// The fragments of bogus datagram number `d`; none of them ever completes. Every 32nd is
/// shredded: [`SHRED_PIECES`] disjoint 8-byte fragments.
fn bogus_datagram(d: u64) -> Vec<Vec<u8>> {
    let n = d as u32;
    // A distinct (source, id) per datagram: the 16-bit IPv4 id is paired with a source that
    // changes every 65536 datagrams.
    let src4 = Ipv4Addr::new(100, 64 + (n >> 24) as u8 % 64, (n >> 16) as u8, 1);
    let dst4 = Ipv4Addr::new(10, 0, 0, 2);
    let id4 = n as u16;
    let src6 = Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, (n >> 16) as u16, n as u16);
    let dst6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    let bytes = |len: usize| filler(d, len);
    if d % 32 == 31 {
        let piece = bytes(8);
        return (0..SHRED_PIECES)
            .map(|i| v4_fragment(src4, dst4, id4, (16 * i, true), &piece))
            .collect();
    }
    match d % 8 {
        // First fragment only.
        0 => vec![v4_fragment(src4, dst4, id4, (0, true), &bytes(64))],
        // Far offset: forces a 64 KiB buffer for 8 captured bytes.
        1 => vec![v4_fragment(src4, dst4, id4, (64_992, true), &bytes(8))],
        // Inconsistent overlap, then a duplicate; the end never comes.
        2 => {
            let a = bytes(96);
            let mut b = bytes(96);
            b.iter_mut().for_each(|x| *x = !*x);
            vec![
                v4_fragment(src4, dst4, id4, (0, true), &a),
                v4_fragment(src4, dst4, id4, (48, true), &b),
                v4_fragment(src4, dst4, id4, (0, true), &a),
            ]
        }
        // IPv6 with a hole.
        3 => vec![
            v6_fragment(src6, dst6, n, (0, true), &bytes(128)),
            v6_fragment(src6, dst6, n, (256, true), &bytes(128)),
        ],
        // Last fragment only: the length is known, the start never comes.
        4 => vec![v4_fragment(src4, dst4, id4, (800, false), &bytes(40))],
        // Past 65535 bytes: rejected without buffering.
        5 => vec![v4_fragment(src4, dst4, id4, (65_528, true), &bytes(16))],
        // IPv6 last fragment at a far offset: 64 KiB buffer, hole before it.
        6 => vec![v6_fragment(src6, dst6, n, (64_992, false), &bytes(100))],
        // The same middle fragment twice.
        _ => {
            let f = v4_fragment(src4, dst4, id4, (8, true), &bytes(64));
            vec![f.clone(), f]
        }
    }
}

/// The IP packet of an Ethernet frame and whether it is IPv6.
fn ip_of(frame: &[u8]) -> Option<(&[u8], bool)> {
    match frame.get(12..14)? {
        [0x08, 0x00] => Some((&frame[14..], false)),
        [0x86, 0xdd] => Some((&frame[14..], true)),
        _ => None,
    }
}

/// For the first fragment of a datagram (offset 0, more fragments), a copy that starts 8 bytes
/// later with the same bytes: a consistent overlap. `None` for anything else.
fn overlapping_copy(frame: &[u8]) -> Option<Vec<u8>> {
    let (ip, v6) = ip_of(frame)?;
    if v6 {
        if ip.len() < 48 + 16 || ip[6] != PROTO_FRAGMENT {
            return None;
        }
        let word = u16::from_be_bytes([ip[42], ip[43]]);
        if word != 1 {
            return None;
        }
        let id = u32::from_be_bytes([ip[44], ip[45], ip[46], ip[47]]);
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).ok()?);
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).ok()?);
        Some(v6_fragment(src, dst, id, (8, true), &ip[56..]))
    } else {
        let ihl = usize::from(ip.first()? & 0x0f) * 4;
        let field = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
        if field != 0x2000 || ihl != 20 || ip.len() < ihl + 16 {
            return None;
        }
        let mut f = frame.to_vec();
        let ipf = &mut f[14..];
        let total = (ip.len() - 8) as u16;
        ipf[2..4].copy_from_slice(&total.to_be_bytes());
        ipf[6..8].copy_from_slice(&0x2001u16.to_be_bytes());
        ipf[10..12].copy_from_slice(&[0, 0]);
        let c = internet_checksum(&ipf[..20]);
        ipf[10..12].copy_from_slice(&c.to_be_bytes());
        f.drain(14 + 20..14 + 28);
        Some(f)
    }
}

/// `fragments` bogus IP fragments of datagrams that never complete (see `bogus_datagram`),
/// spread evenly around two probe sessions, one over IPv4 and one over IPv6, whose packets
/// larger than 256 bytes are fragmented, and whose first fragments are each followed by a
/// duplicate and by an overlapping copy with the same bytes. Each probe exchanges
/// `probe_messages` messages of 200 to 3000 bytes each way.
pub fn frag_flood<F>(fragments: u64, probe_messages: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let mut out = Out::new(emit);
    let mut probes = [
        Probe::open(
            Conversation::default_v4().with_ip_fragmentation(Some(256)),
            1,
            None,
        ),
        Probe::open(
            Conversation::default_v6().with_ip_fragmentation(Some(256)),
            2,
            None,
        ),
    ];
    for p in &mut probes {
        for i in 0..probe_messages {
            let len = 200 + (i as usize * 677) % 2800;
            let tag = if p.conv.client().is_ipv6() { "6" } else { "4" };
            p.exchange(
                probe_text(&format!("c{tag}"), i, len),
                probe_text(&format!("s{tag}"), i, len / 2 + 10),
            );
        }
        p.close();
    }
    // Both probes side by side (their clocks run in parallel), with the extra copies.
    let [mut a, mut b] = probes;
    let mut real = Vec::new();
    let (pa, pb) = (a.take(), b.take());
    let mut ia = pa.into_iter().peekable();
    let mut ib = pb.into_iter().peekable();
    let mut probe_fragments = 0u64;
    loop {
        let next = match (ia.peek(), ib.peek()) {
            (Some(x), Some(y)) if x.ts_nanos <= y.ts_nanos => ia.next(),
            (Some(_), Some(_)) => ib.next(),
            (Some(_), None) => ia.next(),
            (None, _) => ib.next(),
        };
        let Some(p) = next else { break };
        if is_fragment(&p.data) {
            probe_fragments += 1;
        }
        let copy = overlapping_copy(&p.data);
        let dup = copy.is_some().then(|| p.clone());
        real.push(p);
        if let (Some(dup), Some(copy)) = (dup, copy) {
            real.push(dup);
            real.push(Packet::new(0, copy));
            probe_fragments += 2;
        }
    }
    let r = real.len() as u64;
    let mut bogus = BogusFragments::default();
    for (k, p) in real.into_iter().enumerate() {
        bogus.write_until(&mut out, fragments * k as u64 / r)?;
        out.put(p)?;
    }
    bogus.write_until(&mut out, fragments)?;
    Ok(Expected {
        bogus_datagrams: bogus.datagrams,
        probe_fragments,
        ..out.total(fragments, vec![a.expect, b.expect])
    })
}

/// The fragments of [`bogus_datagram`] 0, 1, 2, ... in order.
#[derive(Default)]
struct BogusFragments {
    /// Fragments of the current datagram not written yet.
    queue: std::vec::IntoIter<Vec<u8>>,
    /// Datagrams begun.
    datagrams: u64,
    /// Fragments written.
    written: u64,
}

impl BogusFragments {
    /// Writes fragments until `count` have been written in all.
    fn write_until<F>(&mut self, out: &mut Out<F>, count: u64) -> io::Result<()>
    where
        F: FnMut(&Packet) -> io::Result<()>,
    {
        while self.written < count {
            match self.queue.next() {
                Some(f) => {
                    out.put(Packet::new(0, f))?;
                    self.written += 1;
                }
                None => {
                    self.queue = bogus_datagram(self.datagrams).into_iter();
                    self.datagrams += 1;
                }
            }
        }
        Ok(())
    }
}

/// True for an IPv4 or IPv6 fragment.
fn is_fragment(frame: &[u8]) -> bool {
    match ip_of(frame) {
        Some((ip, false)) if ip.len() >= 20 => u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0,
        Some((ip, true)) if ip.len() >= 40 => ip[6] == PROTO_FRAGMENT,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// 2^63-1 byte frame
// ---------------------------------------------------------------------------------------------

/// The payload length [`huge_frame`] declares.
pub const HUGE_FRAME_LEN: u64 = (1 << 63) - 1;

/// A probe session whose server sends a binary frame header declaring 2^63-1 payload bytes and
/// then `stream_bytes` bytes of that payload, while the client sends `client_messages` text
/// messages spread over the stream; then the client sends a close frame and both sides FIN
/// (the server cannot answer the close: it is still inside its frame).
pub fn huge_frame<F>(stream_bytes: u64, client_messages: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let mut out = Out::new(emit);
    let mut probe = Probe::open(Conversation::default_v4(), 3, None);
    probe
        .conv
        .server_send(&frame_header_only(true, OP_BINARY, None, HUGE_FRAME_LEN));
    probe.expect.messages += 1; // the huge frame, reported when the stream ends
    out.put_all(probe.take())?;
    const CHUNK: usize = 64 << 10;
    let chunk = filler(7, CHUNK);
    let chunks = stream_bytes.div_ceil(CHUNK as u64);
    let every = (chunks / (client_messages + 1)).max(1);
    let mut sent = 0;
    let mut left = stream_bytes;
    let mut i = 0u64;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        probe.conv.server_send(&chunk[..n]);
        left -= n as u64;
        i += 1;
        if i % every == 0 && sent < client_messages {
            probe.client_text(probe_text("c", sent, 40));
            sent += 1;
        }
        out.put_all(probe.take())?;
    }
    for i in sent..client_messages {
        probe.client_text(probe_text("c", i, 40));
    }
    let m = probe.next_mask();
    probe
        .conv
        .client_send(&FrameSpec::close(Some(1001), "going away", Some(m)).encode());
    probe.expect.messages += 1;
    probe.conv.close();
    out.put_all(probe.take())?;
    Ok(out.total(stream_bytes, vec![probe.expect]))
}

// ---------------------------------------------------------------------------------------------
// Deflate bomb
// ---------------------------------------------------------------------------------------------

/// The extension both sides agree on in [`deflate_bomb`].
pub const BOMB_EXTENSION: &str =
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

/// One permessage-deflate message that inflates to `inflated` zero bytes, compressed in
/// pieces (the inflated message is never held in memory).
pub fn deflate_bomb_payload(inflated: u64) -> Vec<u8> {
    let mut z = new_deflate_compressor(9);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity((inflated / 1000) as usize + 1024);
    let mut left = inflated;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        let before = z.total_in();
        let mut input = &zeros[..n];
        while !input.is_empty() {
            if out.capacity() - out.len() < 4096 {
                out.reserve(out.capacity().max(4096));
            }
            let (at, len) = (z.total_in(), out.len());
            // A valid stream with output room cannot fail.
            let _ = z.compress_vec(input, &mut out, flate2::FlushCompress::None);
            input = &input[(z.total_in() - at) as usize..];
            if z.total_in() == at && out.len() == len {
                out.reserve(out.capacity().max(4096));
            }
        }
        debug_assert_eq!(z.total_in() - before, n as u64);
        left -= n as u64;
    }
    // Sync flush through the same code the other tests use; strips the 00 00 ff ff tail.
    out.extend(deflate_message(&[], &mut z));
    out
}

/// A session negotiating [`BOMB_EXTENSION`]; the client sends `bombs` compressed binary
/// messages that inflate to `inflated` bytes each, every one followed by a normal compressed
/// text; the server answers each with a compressed text; clean close.
pub fn deflate_bomb<F>(bombs: u64, inflated: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    deflate_bomb_with(BOMB_EXTENSION, bombs, inflated, emit)
}

/// [`deflate_bomb`] with another extension offer and answer, e.g. plain `permessage-deflate`
/// (context takeover: the inflater must keep its window in step past the cap).
pub fn deflate_bomb_with<F>(
    extension: &'static str,
    bombs: u64,
    inflated: u64,
    emit: F,
) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let (mut out, mut probe) = start(emit, 4, Some(extension))?;
    let bomb = deflate_bomb_payload(inflated);
    for i in 0..bombs {
        let m = probe.next_mask();
        let f = FrameSpec::new(OP_BINARY, bomb.clone(), Some(m)).with_rsv(true, false, false);
        probe.conv.client_send(&f.encode());
        let c = probe_text("after bomb", i, 30);
        let s = probe_text("ok", i, 20);
        let m = probe.next_mask();
        let cz = deflate_message(c.as_bytes(), &mut new_deflate_compressor(6));
        probe.conv.client_send(
            &FrameSpec::new(1, cz, Some(m))
                .with_rsv(true, false, false)
                .encode(),
        );
        let sz = deflate_message(s.as_bytes(), &mut new_deflate_compressor(6));
        probe.conv.server_send(
            &FrameSpec::new(1, sz, None)
                .with_rsv(true, false, false)
                .encode(),
        );
        probe.expect.c2s.push(c);
        probe.expect.s2c.push(s);
        probe.expect.messages += 3;
        out.put_all(probe.take())?;
    }
    close_and_total(out, probe, bombs)
}

// ---------------------------------------------------------------------------------------------
// Overlapping retransmissions across a sequence wrap
// ---------------------------------------------------------------------------------------------

/// Initial sequence numbers of [`overlap_wrap`]: both directions wrap past 2^32 early.
pub const WRAP_ISNS: (u32, u32) = (u32::MAX - 700, u32::MAX - 40);

/// Sends one direction's bytes segment by segment, mixing in-order segments, out-of-order
/// pairs, identical retransmissions and inconsistent ones. Returns the inconsistent ones sent.
struct Mangler {
    /// Delivered stream bytes per direction (the tail is enough: the history is 8 KiB).
    tail: [Vec<u8>; 2],
    /// Stream offset of `tail[d][0]`.
    base: [u64; 2],
    n: u64,
    inconsistent: u64,
}

const SEG: usize = 100;
const TAIL_KEEP: usize = 4096;

impl Mangler {
    fn byte_at(&self, d: usize, off: u64) -> u8 {
        self.tail[d][(off - self.base[d]) as usize]
    }

    fn delivered(&mut self, d: usize, bytes: &[u8]) {
        self.tail[d].extend_from_slice(bytes);
        if self.tail[d].len() > 2 * TAIL_KEEP {
            let cut = self.tail[d].len() - TAIL_KEEP;
            self.tail[d].drain(..cut);
            self.base[d] += cut as u64;
        }
    }

    fn send(&mut self, conv: &mut Conversation<'_>, dir: Dir, bytes: &[u8]) {
        let d = usize::from(dir == Dir::ServerToClient);
        for chunk in bytes.chunks(SEG) {
            self.n += 1;
            let off = conv.stream_offset(dir);
            match self.n % 5 {
                // A segment, then a retransmission of its first half plus the 8 bytes before
                // it, one byte changed: the first copy must win.
                1 if off >= self.base[d] + 8 && chunk.len() >= 2 => {
                    conv.send_segments(dir, &[chunk]);
                    self.delivered(d, chunk);
                    let from = off - 8;
                    let upto = off + chunk.len() as u64 / 2;
                    let mut forged: Vec<u8> = (from..upto).map(|o| self.byte_at(d, o)).collect();
                    forged[3] ^= 0x5a;
                    conv.raw_segment(dir, from, &forged);
                    conv.ack(dir.reverse());
                    self.inconsistent += 1;
                }
                // A segment that repeats the 4 bytes before it, changed, then new bytes:
                // the overlap disagrees, the new part is delivered.
                2 if off >= self.base[d] + 4 => {
                    let mut seg: Vec<u8> =
                        (off - 4..off).map(|o| self.byte_at(d, o) ^ 0xff).collect();
                    seg.extend_from_slice(chunk);
                    conv.raw_segment(dir, off - 4, &seg);
                    conv.skip(dir, chunk.len() as u64);
                    self.delivered(d, chunk);
                    conv.ack(dir.reverse());
                    self.inconsistent += 1;
                }
                // Out of order halves, then an identical retransmission of the whole.
                3 if chunk.len() >= 2 => {
                    let h = chunk.len() / 2;
                    conv.raw_segment(dir, off + h as u64, &chunk[h..]);
                    conv.raw_segment(dir, off, &chunk[..h]);
                    conv.raw_segment(dir, off, chunk);
                    conv.skip(dir, chunk.len() as u64);
                    self.delivered(d, chunk);
                    conv.ack(dir.reverse());
                }
                _ => {
                    conv.send_segments(dir, &[chunk]);
                    self.delivered(d, chunk);
                }
            }
        }
    }
}

/// A probe session with ISNs [`WRAP_ISNS`] exchanging `messages` text messages each way, every
/// byte sent in segments of at most 100 bytes through a mix of in-order segments, out-of-order
/// halves, identical retransmissions and retransmissions that disagree with the first copy
/// (counted in [`Expected::flood`]; each must give one `tcp-overlap-inconsistent`).
pub fn overlap_wrap<F>(messages: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let mut out = Out::new(emit);
    let conv = Conversation::default_v4().with_isns(WRAP_ISNS.0, WRAP_ISNS.1);
    let mut probe = Probe::open(conv, 5, None);
    out.put_all(probe.take())?;
    let mut m = Mangler {
        tail: [Vec::new(), Vec::new()],
        base: [0, 0],
        n: 0,
        inconsistent: 0,
    };
    // The upgrade exchange is already in the streams.
    m.base = [
        probe.conv.stream_offset(Dir::ClientToServer),
        probe.conv.stream_offset(Dir::ServerToClient),
    ];
    for i in 0..messages {
        let c = probe_text("c", i, 50 + (i as usize * 37) % 450);
        let s = probe_text("s", i, 50 + (i as usize * 53) % 450);
        let mask = probe.next_mask();
        m.send(
            &mut probe.conv,
            Dir::ClientToServer,
            &FrameSpec::text(&c, Some(mask)).encode(),
        );
        m.send(
            &mut probe.conv,
            Dir::ServerToClient,
            &FrameSpec::text(&s, None).encode(),
        );
        probe.expect.c2s.push(c);
        probe.expect.s2c.push(s);
        probe.expect.messages += 2;
        out.put_all(probe.take())?;
    }
    close_and_total(out, probe, m.inconsistent)
}

// ---------------------------------------------------------------------------------------------
// Out-of-order data behind a hole
// ---------------------------------------------------------------------------------------------

/// Segment size of [`hole_flood`] (GRO-sized, so the byte limit binds before the segment one).
pub const HOLE_MSS: usize = 8192;

/// `sessions` probe sessions, side by side; each server sends one binary frame of
/// `frame_bytes` whose 1000th payload byte is not in the capture, then a text. Nobody
/// acknowledges anything, so the reassembler cannot know the byte is lost until it gives up
/// buffering. Then each client sends a text and the sessions close cleanly.
pub fn hole_flood<F>(sessions: u64, frame_bytes: usize, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let mut out = Out::new(emit);
    let mut probes: Vec<Probe<'_>> = (0..sessions)
        .map(|i| {
            let conv = Conversation::new(
                SocketAddr::from(([10, 0, 2, 1 + i as u8], 40000)),
                SocketAddr::from(([10, 0, 2, 200], 80)),
            )
            .with_mss(HOLE_MSS);
            let mut p = Probe::open(conv, 10 + i, None);
            p.conv =
                std::mem::replace(&mut p.conv, Conversation::default_v4()).with_auto_ack(false);
            p
        })
        .collect();
    for p in &mut probes {
        out.put_all(p.take())?;
    }
    let frame = FrameSpec::binary(&filler(3, frame_bytes), None).encode();
    let hole_at = frame.len() - frame_bytes + 999;
    // Segment by segment, round robin, so every session buffers at the same time.
    let mut pieces: Vec<Vec<&[u8]>> = Vec::new();
    for _ in &probes {
        let mut v: Vec<&[u8]> = vec![&frame[..hole_at]];
        v.extend(frame[hole_at + 1..].chunks(HOLE_MSS));
        pieces.push(v);
    }
    let rounds = pieces.iter().map(Vec::len).max().unwrap_or(0);
    for r in 0..rounds {
        for (p, segs) in probes.iter_mut().zip(&pieces) {
            if let Some(seg) = segs.get(r) {
                p.conv.send_segments(Dir::ServerToClient, &[seg]);
                if r == 0 {
                    p.conv.skip(Dir::ServerToClient, 1);
                }
            }
            out.put_all(p.take())?;
        }
    }
    for (i, p) in probes.iter_mut().enumerate() {
        p.expect.messages += 1; // the binary frame, incomplete
        let s = probe_text("after hole", i as u64, 40);
        p.conv.server_send(&FrameSpec::text(&s, None).encode());
        p.expect.s2c.push(s);
        let c = probe_text("c", i as u64, 40);
        let m = p.next_mask();
        p.conv.client_send(&FrameSpec::text(&c, Some(m)).encode());
        p.expect.c2s.push(c);
        p.expect.messages += 2;
        p.conv = std::mem::replace(&mut p.conv, Conversation::default_v4()).with_auto_ack(true);
        p.close();
        out.put_all(p.take())?;
    }
    Ok(out.total(
        sessions * frame_bytes as u64,
        probes.into_iter().map(|p| p.expect).collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Connections that open and go quiet
// ---------------------------------------------------------------------------------------------

/// `connections` connections that open and then say nothing more: even ones complete a
/// WebSocket upgrade that negotiates permessage-deflate, odd ones send the first line of an
/// HTTP request (the server acknowledges it). Around them, one probe session, also with
/// permessage-deflate (context takeover), exchanges `probe_messages` compressed texts each way.
/// What an idle connection costs is what the flood multiplies.
pub fn idle_flood<F>(connections: u64, probe_messages: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    const EXT: &str = "permessage-deflate";
    let probe = start(emit, 20, Some(EXT))?;
    let mut zc = new_deflate_compressor(6);
    let mut zs = new_deflate_compressor(6);
    let server = SocketAddr::from(([10, 0, 3, 1], 80));
    let exchange = |probe: &mut Probe<'_>, i: u64| probe.exchange_compressed(i, &mut zc, &mut zs);
    let idle = |i: u64| {
        let n = i as u32;
        let client = flood_client(12, i);
        let mut conv = Conversation::new(client, server).with_isns(n, !n);
        if i % 2 == 0 {
            let p = Probe::open(conv, 100 + i, Some(EXT));
            conv = p.conv;
        } else {
            conv.handshake();
            conv.client_send(b"GET /poll?id=1 HTTP/1.1\r\n");
        }
        conv.into_packets()
    };
    flood_around_probe(probe, connections, probe_messages, exchange, idle)
}

/// `connections` connections that complete a permessage-deflate upgrade (context takeover),
/// exchange one compressed text each way and go quiet, around a probe session exchanging
/// `probe_messages` compressed texts each way. Each open connection holds what a compressed
/// session keeps between messages (an inflater per direction): the flood multiplies it.
pub fn compressed_idle_flood<F>(
    connections: u64,
    probe_messages: u64,
    emit: F,
) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    const EXT: &str = "permessage-deflate";
    let probe = start(emit, 21, Some(EXT))?;
    let server = SocketAddr::from(([10, 0, 4, 1], 443));
    // A fresh compressor per message: each message stands alone (no shared window).
    let exchange = |probe: &mut Probe<'_>, i: u64| {
        let (mut zc, mut zs) = (new_deflate_compressor(6), new_deflate_compressor(6));
        probe.exchange_compressed(i, &mut zc, &mut zs)
    };
    let quiet = |i: u64| {
        let n = i as u32;
        let conv = Conversation::new(flood_client(13, i), server).with_isns(n, !n);
        let mut p = Probe::open(conv, 200 + i, Some(EXT));
        exchange(&mut p, i);
        p.conv.into_packets()
    };
    let mut e = flood_around_probe(probe, connections, probe_messages, exchange, quiet)?;
    e.flood_messages = 2 * connections;
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// Resynchronisation through bytes that never look like a header
// ---------------------------------------------------------------------------------------------

/// `len` bytes none of which can start a frame header (their opcode nibble is reserved),
/// otherwise random.
pub fn never_a_header(seed: u64, len: usize) -> Vec<u8> {
    const RESERVED: [u8; 10] = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];
    filler(seed, len)
        .into_iter()
        .map(|b| (b & 0xf0) | RESERVED[usize::from(b) % 10])
        .collect()
}

/// Segments a [`resync_junk`] part travels in before the client acknowledges them.
const JUNK_BATCH: usize = 256;

/// A probe session that exchanges a text each way, then loses the header of a server frame
/// (a capture gap) whose payload never looks like a header and arrives in segments of 1, 2, 3
/// and 4 bytes, `episodes` times; `junk_bytes` (counted in [`Expected::flood`]) is split
/// evenly over the episodes. After each, the decoder must skip exactly that payload
/// (`resync-skipped-bytes`) and decode the next text.
pub fn resync_junk<F>(junk_bytes: u64, episodes: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let (mut out, mut probe) = start(emit, 7, None)?;
    let episodes = episodes.max(1);
    let mut sizes = (1..=4usize).cycle();
    for e in 0..episodes {
        probe.exchange(probe_text("c", e, 40), probe_text("s", e, 40));
        out.put_all(probe.take())?;
        let part = junk_bytes / episodes + u64::from(e < junk_bytes % episodes);
        let header = frame_header_only(true, OP_BINARY, None, part);
        probe.conv.skip(Dir::ServerToClient, header.len() as u64);
        let mut left = part;
        let mut chunk = 0u64;
        while left > 0 {
            // At most JUNK_BATCH segments of at most 4 bytes at a time.
            let n = left.min(4 * JUNK_BATCH as u64);
            let junk = never_a_header(e << 32 | chunk, n as usize);
            chunk += 1;
            left -= n;
            let mut segs: Vec<&[u8]> = Vec::with_capacity(JUNK_BATCH);
            let mut rest = &junk[..];
            while !rest.is_empty() {
                let k = sizes.next().unwrap_or(1).min(rest.len());
                let (seg, after) = rest.split_at(k);
                segs.push(seg);
                rest = after;
                if segs.len() == JUNK_BATCH {
                    probe.conv.send_segments(Dir::ServerToClient, &segs);
                    segs.clear();
                }
            }
            probe.conv.send_segments(Dir::ServerToClient, &segs);
            out.put_all(probe.take())?;
        }
    }
    probe.exchange(probe_text("c", episodes, 40), probe_text("s", episodes, 40));
    close_and_total(out, probe, junk_bytes)
}

// ---------------------------------------------------------------------------------------------
// An ordinary session
// ---------------------------------------------------------------------------------------------

/// A well-behaved session: `messages` text messages each way of 10 to 3000 bytes, clean close.
/// Written with a small snaplen it becomes a capture of cut packets.
pub fn plain_session<F>(messages: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let mut out = Out::new(emit);
    let mut probe = Probe::open(Conversation::default_v4(), 6, None);
    for i in 0..messages {
        let len = 10 + (i as usize * 389) % 2990;
        probe.exchange(probe_text("c", i, len), probe_text("s", i, len / 3 + 10));
        out.put_all(probe.take())?;
    }
    close_and_total(out, probe, 0)
}

// ---------------------------------------------------------------------------------------------
// Finding flood
// ---------------------------------------------------------------------------------------------

/// A session whose client sends `frames` unmasked 1-byte binary frames (many per segment):
/// each is an `unmasked-client-frame` finding and a message. Clean close.
pub fn finding_flood<F>(frames: u64, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let (mut out, mut probe) = start(emit, 7, None)?;
    let one = FrameSpec::binary(b"x", None).encode();
    let mut batch = Vec::with_capacity(1460);
    for i in 0..frames {
        batch.extend_from_slice(&one);
        if batch.len() + one.len() > 1460 || i + 1 == frames {
            probe.conv.client_send(&batch);
            batch.clear();
            out.put_all(probe.take())?;
        }
    }
    probe.expect.messages += frames;
    close_and_total(out, probe, frames)
}

// ---------------------------------------------------------------------------------------------
// Payload flood
// ---------------------------------------------------------------------------------------------

/// `sessions` sessions one after the other (each from its own client port), each negotiating
/// permessage-deflate (no context takeover) and then: the server sends `messages` binary
/// messages of `len` bytes each (a repeated pattern: a few hundred bytes compressed), each
/// after a short client text; clean close. What a report that keeps whole payloads must hold
/// is `sessions * messages * len` bytes.
pub fn payload_flood<F>(sessions: u64, messages: u64, len: usize, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    const EXT: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    let mut out = Out::new(emit);
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        data.extend_from_slice(b"payload flood 0123456789 ");
    }
    data.truncate(len);
    // No context takeover: one compressed copy serves every message.
    let compressed = deflate_message(&data, &mut new_deflate_compressor(6));
    let mut probes = Vec::new();
    for n in 0..sessions {
        let client = SocketAddr::from(([10, 0, 8, 1], 40_000 + (n % 20_000) as u16));
        let server = SocketAddr::from(([10, 0, 8, 2], 8080));
        let mut probe = Probe::open(Conversation::new(client, server), 8 + n, Some(EXT));
        out.put_all(probe.take())?;
        for i in 0..messages {
            let c = probe_text("c", i, 24);
            let m = probe.next_mask();
            probe
                .conv
                .client_send(&FrameSpec::text(&c, Some(m)).encode());
            probe.expect.c2s.push(c);
            let frame = FrameSpec::binary(&compressed, None).with_rsv(true, false, false);
            probe.conv.server_send(&frame.encode());
            probe.expect.messages += 2;
            out.put_all(probe.take())?;
        }
        probe.close();
        out.put_all(probe.take())?;
        probes.push(probe.expect);
    }
    Ok(out.total(sessions * messages, probes))
}

// ---------------------------------------------------------------------------------------------
// Undescribed interface
// ---------------------------------------------------------------------------------------------

/// A pcapng file (one Ethernet interface) carrying an ordinary session of `messages` text
/// messages each way on interface 0, interleaved with `packets` packets that name interface 5,
/// which no block describes (each must be skipped and reported). Written to `w` directly: the
/// packet callback of the other generators writes classic pcap. `Expected::packets` counts
/// the packets on the described interface, `flood` the others.
pub fn undescribed_interface<W: io::Write>(
    packets: u64,
    messages: u64,
    w: W,
) -> io::Result<Expected> {
    let mut ng = super::capture::PcapNgWriter::new(w, false)?;
    let iface = ng.add_interface(1, 0, 9)?;
    let mut now = START_NANOS;
    let mut written = 0u64;
    let mut put = |ng: &mut super::capture::PcapNgWriter<W>, if_id: u32, mut p: Packet| {
        p.ts_nanos = now;
        now += STEP_NANOS;
        if if_id == iface {
            written += 1;
        }
        ng.write_packet(if_id, &p)
    };
    let mut probe = Probe::open(Conversation::default_v4(), 9, None);
    for p in probe.take() {
        put(&mut ng, iface, p)?;
    }
    let every = (packets / (messages + 1)).max(1);
    let mut sent = 0;
    for i in 0..packets {
        if i > 0 && i % every == 0 && sent < messages {
            probe.exchange(probe_text("c", sent, 24), probe_text("s", sent, 24));
            sent += 1;
            for p in probe.take() {
                put(&mut ng, iface, p)?;
            }
        }
        put(&mut ng, iface + 5, Packet::new(0, vec![0u8; 60]))?;
    }
    while sent < messages {
        probe.exchange(probe_text("c", sent, 24), probe_text("s", sent, 24));
        sent += 1;
    }
    probe.close();
    for p in probe.take() {
        put(&mut ng, iface, p)?;
    }
    ng.flush()?;
    Ok(Expected {
        packets: written,
        flood: packets,
        probes: vec![probe.expect],
        ..Expected::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Upgrade requests with big heads in 1-byte segments
// ---------------------------------------------------------------------------------------------

/// `sessions` sessions whose upgrade request carries a header of `head_bytes` bytes and
/// travels in 1-byte TCP segments (no ACKs in between), then one message each way and a clean
/// close. The head end must be searched for incrementally: re-parsing the head from its start
/// on every segment is quadratic.
pub fn slow_heads<F>(sessions: u64, head_bytes: usize, emit: F) -> io::Result<Expected>
where
    F: FnMut(&Packet) -> io::Result<()>,
{
    let mut out = Out::new(emit);
    let mut probes = Vec::new();
    let filler = "h".repeat(head_bytes);
    for i in 0..sessions {
        let client = SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 40000));
        let mut conv =
            Conversation::new(client, SocketAddr::from(([10, 0, 0, 2], 80))).with_auto_ack(false);
        let key = key_for(i);
        let mut req = UpgradeRequest::new(&key);
        req.origin = Some("https://example.com".into());
        req.extra_headers = vec![("X-Filler".into(), filler.clone())];
        conv.handshake();
        let head = req.to_bytes();
        let segments: Vec<&[u8]> = head.chunks(1).collect();
        conv.client_send_segments(&segments);
        conv.ack(Dir::ServerToClient);
        out.put_all(conv.take_packets())?;
        conv.server_send(&UpgradeResponse::accepting(&key).to_bytes());
        conv.ack(Dir::ClientToServer);
        let mut probe = Probe {
            conv,
            expect: ProbeExpect {
                client: Some(client),
                ..ProbeExpect::default()
            },
            masks: i << 32,
        };
        probe.exchange(probe_text("c", i, 40), probe_text("s", i, 40));
        probe.close();
        out.put_all(probe.take())?;
        probes.push(probe.expect);
    }
    Ok(out.total(sessions, probes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest IP payload a fragment may describe.
    const MAX_DATAGRAM: usize = 65_535;

    fn collect(
        f: impl FnOnce(&mut dyn FnMut(&Packet) -> io::Result<()>) -> Expected,
    ) -> (Vec<Packet>, Expected) {
        let mut v = Vec::new();
        let e = f(&mut |p: &Packet| {
            v.push(p.clone());
            Ok(())
        });
        (v, e)
    }

    #[test]
    fn syn_flood_counts_and_orders() {
        let (pkts, e) = collect(|f| syn_flood(1000, 5, f).expect("gen"));
        assert_eq!(pkts.len() as u64, e.packets);
        assert_eq!(e.flood, 1000);
        assert_eq!(e.probes[0].c2s.len(), 5);
        assert!(pkts.windows(2).all(|w| w[0].ts_nanos < w[1].ts_nanos));
        let syns = pkts
            .iter()
            .filter(|p| p.data.len() == 14 + 20 + 24 && p.data[14 + 20 + 13] == 0x02)
            .count();
        // The probe's own SYN is one of them.
        assert_eq!(syns, 1001);
    }

    #[test]
    fn bogus_datagrams_never_complete_and_probe_copies_overlap() {
        for d in 0..8 {
            let frags = bogus_datagram(d);
            assert!(frags.iter().all(|f| is_fragment(f)), "{d}");
            let mut covered = vec![false; MAX_DATAGRAM + 16];
            let mut total = None;
            for f in &frags {
                let (ip, v6) = ip_of(f).expect("ip");
                let (off, more, len) = if v6 {
                    let w = u16::from_be_bytes([ip[42], ip[43]]);
                    (usize::from(w >> 3) * 8, w & 1 == 1, ip.len() - 48)
                } else {
                    let w = u16::from_be_bytes([ip[6], ip[7]]);
                    (usize::from(w & 0x1fff) * 8, w & 0x2000 != 0, ip.len() - 20)
                };
                covered[off..off + len].iter_mut().for_each(|c| *c = true);
                if !more {
                    total = Some(off + len);
                }
            }
            let complete = total.is_some_and(|t| covered[..t].iter().all(|&c| c));
            assert!(!complete, "bogus datagram {d} completes");
        }
        let pkt = {
            let mut c = Conversation::default_v4().with_ip_fragmentation(Some(256));
            c.client_send(&[7u8; 1000]);
            c.into_packets()
        };
        let copy = overlapping_copy(&pkt[0].data).expect("first fragment");
        assert_eq!(copy.len(), pkt[0].data.len() - 8);
        assert_eq!(copy[14 + 20..], pkt[0].data[14 + 28..]);
        assert!(overlapping_copy(&pkt[1].data).is_none());
        let pkt6 = {
            let mut c = Conversation::default_v6().with_ip_fragmentation(Some(256));
            c.client_send(&[7u8; 1000]);
            c.into_packets()
        };
        let copy6 = overlapping_copy(&pkt6[0].data).expect("first v6 fragment");
        assert_eq!(copy6.len(), pkt6[0].data.len() - 8);
        assert_eq!(copy6[62..], pkt6[0].data[70..]);
    }

    #[test]
    fn deflate_bomb_payload_is_small() {
        let b = deflate_bomb_payload(8 << 20);
        assert!(b.len() < 16 << 10, "{}", b.len());
        let mut d = flate2::Decompress::new(false);
        let mut input = b.clone();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let before_in = d.total_in();
            let before_out = d.total_out();
            d.decompress(
                &input[before_in as usize..],
                &mut buf,
                flate2::FlushDecompress::Sync,
            )
            .expect("inflate");
            let w = d.total_out() - before_out;
            assert!(buf[..w as usize].iter().all(|&x| x == 0));
            total += w;
            if w == 0 && d.total_in() == before_in {
                break;
            }
        }
        assert_eq!(total, 8 << 20);
    }
}
