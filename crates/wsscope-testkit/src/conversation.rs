//! A TCP connection simulator producing finished link-layer packets.

use std::fmt;
use std::net::SocketAddr;

use super::ip::{fragment_ipv4, fragment_ipv6};
use super::link::Link;
use super::tcp::{mss_option, TcpFlags, TcpSegmentSpec};
use super::{Dir, Packet};

/// Default capture start: 2023-11-14T22:13:20Z in nanoseconds.
pub const DEFAULT_START_NANOS: i64 = 1_700_000_000_000_000_000;

type Sink<'s> = Box<dyn FnMut(Packet) + 's>;

/// Simulates one TCP connection, turning sends into timestamped link-layer packets.
///
/// Sequence numbers: each direction starts with `next_seq = isn + 1` (as if the
/// SYN had been exchanged), so skipping [`Conversation::handshake`] yields a
/// mid-stream capture. The *stream offset* of a direction is the number of
/// payload bytes it has consumed (sent or [skipped](Conversation::skip)); the
/// byte at stream offset `o` has sequence number `isn + 1 + o` (mod 2^32).
///
/// Packets are collected internally ([`Conversation::take_packets`]) or handed
/// to a sink closure ([`Conversation::with_sink`]) for streaming.
pub struct Conversation<'s> {
    client: SocketAddr,
    server: SocketAddr,
    link: Link,
    isn: [u32; 2],
    next: [u32; 2],
    offset: [u64; 2],
    fin_sent: [bool; 2],
    ts: i64,
    step: i64,
    mss: usize,
    window: u16,
    auto_ack: bool,
    ip_id: [u16; 2],
    ttl: u8,
    ipv6_ext_headers: bool,
    ip_fragment: Option<usize>,
    packets: Vec<Packet>,
    sink: Option<Sink<'s>>,
}

impl fmt::Debug for Conversation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conversation")
            .field("client", &self.client)
            .field("server", &self.server)
            .field("link", &self.link)
            .field("isn", &self.isn)
            .field("next", &self.next)
            .field("ts", &self.ts)
            .field("packets", &self.packets.len())
            .field("has_sink", &self.sink.is_some())
            .finish()
    }
}

fn idx(d: Dir) -> usize {
    match d {
        Dir::ClientToServer => 0,
        Dir::ServerToClient => 1,
    }
}

impl<'s> Conversation<'s> {
    /// New conversation: Ethernet, ISNs 0x1000_0000 / 0x2000_0000, start at
    /// [`DEFAULT_START_NANOS`], 1 µs per packet, MSS 1460, auto-ACK on.
    pub fn new(client: SocketAddr, server: SocketAddr) -> Self {
        let isn = [0x1000_0000u32, 0x2000_0000u32];
        Conversation {
            client,
            server,
            link: Link::ethernet(),
            isn,
            next: [isn[0].wrapping_add(1), isn[1].wrapping_add(1)],
            offset: [0, 0],
            fin_sent: [false, false],
            ts: DEFAULT_START_NANOS,
            step: 1000,
            mss: 1460,
            window: 65535,
            auto_ack: true,
            ip_id: [0x1000, 0x2000],
            ttl: 64,
            ipv6_ext_headers: false,
            ip_fragment: None,
            packets: Vec::new(),
            sink: None,
        }
    }

    /// Convenience: IPv4 client 10.0.0.1:40000 to server 10.0.0.2:80.
    pub fn default_v4() -> Self {
        Self::new(
            SocketAddr::from(([10, 0, 0, 1], 40000)),
            SocketAddr::from(([10, 0, 0, 2], 80)),
        )
    }

    /// Convenience: IPv6 client `[2001:db8::1]:40000` to server `[2001:db8::2]:80`.
    pub fn default_v6() -> Self {
        let c = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let s = std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
        Self::new(SocketAddr::from((c, 40000)), SocketAddr::from((s, 80)))
    }

    /// Sets the link-layer encapsulation.
    pub fn with_link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }

    /// Sets both initial sequence numbers (resets the sequence state).
    pub fn with_isns(mut self, client_isn: u32, server_isn: u32) -> Self {
        self.isn = [client_isn, server_isn];
        self.next = [client_isn.wrapping_add(1), server_isn.wrapping_add(1)];
        self.offset = [0, 0];
        self
    }

    /// Sets the timestamp of the next packet (nanoseconds since the epoch).
    pub fn with_start_time(mut self, ts_nanos: i64) -> Self {
        self.ts = ts_nanos;
        self
    }

    /// Sets the time added after every emitted packet.
    pub fn with_time_step(mut self, nanos: i64) -> Self {
        self.step = nanos;
        self
    }

    /// Sets the maximum segment payload used by the send methods (minimum 1).
    pub fn with_mss(mut self, mss: usize) -> Self {
        self.mss = mss.max(1);
        self
    }

    /// Sets the advertised receive window.
    pub fn with_window(mut self, window: u16) -> Self {
        self.window = window;
        self
    }

    /// Whether the peer sends a pure ACK after each send / FIN (default true).
    pub fn with_auto_ack(mut self, on: bool) -> Self {
        self.auto_ack = on;
        self
    }

    /// IPv4 TTL / IPv6 hop limit of all packets.
    pub fn with_ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }

    /// IPv6: add Hop-by-Hop + Destination Options headers to every packet.
    pub fn with_ipv6_ext_headers(mut self, on: bool) -> Self {
        self.ipv6_ext_headers = on;
        self
    }

    /// Fragment every IP packet whose payload exceeds `size` bytes (None = off).
    pub fn with_ip_fragmentation(mut self, size: Option<usize>) -> Self {
        self.ip_fragment = size;
        self
    }

    /// Streams every finished packet to `sink` instead of collecting it.
    pub fn with_sink(mut self, sink: impl FnMut(Packet) + 's) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// Client socket address.
    pub fn client(&self) -> SocketAddr {
        self.client
    }

    /// Server socket address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The link-layer encapsulation in use.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Initial sequence number of `dir`.
    pub fn isn(&self, dir: Dir) -> u32 {
        self.isn[idx(dir)]
    }

    /// Absolute sequence number of the next byte `dir` will send.
    pub fn next_seq(&self, dir: Dir) -> u32 {
        self.next[idx(dir)]
    }

    /// Wireshark-style relative sequence number (`next_seq - isn`; 1 after the handshake).
    pub fn rel_seq(&self, dir: Dir) -> u32 {
        self.next[idx(dir)].wrapping_sub(self.isn[idx(dir)])
    }

    /// Relative seq of the client (see [`Conversation::rel_seq`]).
    pub fn client_seq(&self) -> u32 {
        self.rel_seq(Dir::ClientToServer)
    }

    /// Relative seq of the server (see [`Conversation::rel_seq`]).
    pub fn server_seq(&self) -> u32 {
        self.rel_seq(Dir::ServerToClient)
    }

    /// Payload bytes consumed by `dir` so far (sent + skipped; not SYN/FIN).
    pub fn stream_offset(&self, dir: Dir) -> u64 {
        self.offset[idx(dir)]
    }

    /// Timestamp the next packet will get.
    pub fn now(&self) -> i64 {
        self.ts
    }

    /// Moves the clock forward (or backward, for negative values).
    pub fn advance_time(&mut self, nanos: i64) {
        self.ts = self.ts.wrapping_add(nanos);
    }

    fn addrs(&self, dir: Dir) -> (SocketAddr, SocketAddr) {
        match dir {
            Dir::ClientToServer => (self.client, self.server),
            Dir::ServerToClient => (self.server, self.client),
        }
    }

    /// A segment spec from `dir` with addresses, `next_seq`, ACK of the peer's
    /// `next_seq`, ACK flag, window and IP settings filled in; for custom injection
    /// via [`Conversation::emit`].
    pub fn segment_template(&self, dir: Dir) -> TcpSegmentSpec {
        let (src, dst) = self.addrs(dir);
        let mut t = TcpSegmentSpec::new(src, dst);
        t.seq = self.next[idx(dir)];
        t.ack = self.next[idx(dir.reverse())];
        t.flags = TcpFlags::ACK;
        t.window = self.window;
        t.ttl = self.ttl;
        t.ipv6_ext_headers = self.ipv6_ext_headers;
        t
    }

    fn emit_with(&mut self, dir: Dir, spec: &TcpSegmentSpec, payload: &[u8]) {
        let mut spec_ip_id = spec.clone();
        let i = idx(dir);
        spec_ip_id.ip_id = self.ip_id[i];
        self.ip_id[i] = self.ip_id[i].wrapping_add(1);
        let v6 = spec_ip_id.is_ipv6();
        if let Some(size) = self.ip_fragment {
            let ip = {
                let mut v = Vec::with_capacity(80 + payload.len());
                spec_ip_id.encode_with_payload(payload, &mut v);
                v
            };
            let frags = if v6 {
                fragment_ipv6(&ip, size)
            } else {
                fragment_ipv4(&ip, size)
            };
            for f in frags {
                let data = self.link.wrap(&f, v6);
                self.push(data);
            }
        } else {
            let mut data = Vec::with_capacity(self.link.header_len() + 100 + payload.len());
            self.link.write_header(&mut data, v6);
            spec_ip_id.encode_with_payload(payload, &mut data);
            self.push(data);
        }
    }

    fn push(&mut self, data: Vec<u8>) {
        let p = Packet::new(self.ts, data);
        self.ts = self.ts.wrapping_add(self.step);
        match &mut self.sink {
            Some(s) => s(p),
            None => self.packets.push(p),
        }
    }

    /// Emits a fully custom segment from `dir` (its `ip_id` is replaced by the
    /// conversation's counter). Does not change sequence state.
    pub fn emit(&mut self, dir: Dir, spec: &TcpSegmentSpec) {
        self.emit_with(dir, spec, &spec.payload);
    }

    /// Emits an arbitrary IP packet wrapped in the conversation's link layer.
    pub fn emit_ip(&mut self, ip_packet: &[u8], is_ipv6: bool) {
        let data = self.link.wrap(ip_packet, is_ipv6);
        self.push(data);
    }

    /// Emits an arbitrary already-encapsulated link-layer frame.
    pub fn emit_raw(&mut self, frame: Vec<u8>) {
        self.push(frame);
    }

    /// Three-way handshake: SYN, SYN-ACK, ACK (with MSS options on the SYNs).
    pub fn handshake(&mut self) {
        let c = Dir::ClientToServer;
        let s = Dir::ServerToClient;
        let mss = mss_option(self.mss.min(65535) as u16);

        let mut syn = self.segment_template(c);
        syn.seq = self.isn[0];
        syn.ack = 0;
        syn.flags = TcpFlags::SYN;
        syn.options = mss.clone();
        self.emit_with(c, &syn, &[]);

        let mut synack = self.segment_template(s);
        synack.seq = self.isn[1];
        synack.ack = self.isn[0].wrapping_add(1);
        synack.flags = TcpFlags::SYN_ACK;
        synack.options = mss;
        self.emit_with(s, &synack, &[]);

        let mut ack = self.segment_template(c);
        ack.seq = self.isn[0].wrapping_add(1);
        ack.ack = self.isn[1].wrapping_add(1);
        self.emit_with(c, &ack, &[]);
    }

    /// Sends `data` from `dir` in MSS-sized segments (PSH on the last), then the
    /// peer ACKs if auto-ACK is on. Empty data emits nothing.
    pub fn send(&mut self, dir: Dir, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let n = data.len().div_ceil(self.mss);
        let mss = self.mss;
        for (i, chunk) in data.chunks(mss).enumerate() {
            self.data_segment(dir, chunk, i + 1 == n);
        }
        self.maybe_ack(dir);
    }

    /// Sends each slice as exactly one segment (PSH on the last), then auto-ACK.
    pub fn send_segments(&mut self, dir: Dir, segments: &[&[u8]]) {
        for (i, seg) in segments.iter().enumerate() {
            self.data_segment(dir, seg, i + 1 == segments.len());
        }
        if !segments.is_empty() {
            self.maybe_ack(dir);
        }
    }

    fn data_segment(&mut self, dir: Dir, chunk: &[u8], psh: bool) {
        let mut t = self.segment_template(dir);
        t.flags.psh = psh;
        self.emit_with(dir, &t, chunk);
        let i = idx(dir);
        self.next[i] = self.next[i].wrapping_add(chunk.len() as u32);
        self.offset[i] += chunk.len() as u64;
    }

    fn maybe_ack(&mut self, dir: Dir) {
        if self.auto_ack {
            self.ack(dir.reverse());
        }
    }

    /// Client sends `data` (see [`Conversation::send`]).
    pub fn client_send(&mut self, data: &[u8]) {
        self.send(Dir::ClientToServer, data);
    }

    /// Server sends `data` (see [`Conversation::send`]).
    pub fn server_send(&mut self, data: &[u8]) {
        self.send(Dir::ServerToClient, data);
    }

    /// Client sends with caller-chosen segment boundaries.
    pub fn client_send_segments(&mut self, segments: &[&[u8]]) {
        self.send_segments(Dir::ClientToServer, segments);
    }

    /// Server sends with caller-chosen segment boundaries.
    pub fn server_send_segments(&mut self, segments: &[&[u8]]) {
        self.send_segments(Dir::ServerToClient, segments);
    }

    /// Emits a pure ACK from `dir` acknowledging everything the peer consumed.
    pub fn ack(&mut self, dir: Dir) {
        let t = self.segment_template(dir);
        self.emit_with(dir, &t, &[]);
    }

    /// Injects a PSH+ACK segment from `dir` whose first byte sits at stream
    /// offset `offset` (seq = isn + 1 + offset), without changing any state.
    /// Use for retransmissions, overlaps with different bytes, out-of-order data.
    pub fn raw_segment(&mut self, dir: Dir, offset: u64, payload: &[u8]) {
        self.raw_segment_flags(dir, offset, payload, TcpFlags::PSH_ACK);
    }

    /// Like [`Conversation::raw_segment`] with explicit flags.
    pub fn raw_segment_flags(&mut self, dir: Dir, offset: u64, payload: &[u8], flags: TcpFlags) {
        let mut t = self.segment_template(dir);
        t.seq = self.seq_at(dir, offset);
        t.flags = flags;
        self.emit_with(dir, &t, payload);
    }

    /// Absolute sequence number of stream offset `offset` in `dir`.
    pub fn seq_at(&self, dir: Dir, offset: u64) -> u32 {
        self.isn[idx(dir)]
            .wrapping_add(1)
            .wrapping_add(offset as u32)
    }

    /// Advances `dir`'s sequence by `n` bytes without emitting them (a capture gap,
    /// or the second half of an out-of-order injection).
    pub fn skip(&mut self, dir: Dir, n: u64) {
        let i = idx(dir);
        self.next[i] = self.next[i].wrapping_add(n as u32);
        self.offset[i] += n;
    }

    /// Sends FIN+ACK from `dir` (consumes one sequence number), then auto-ACK.
    pub fn fin(&mut self, dir: Dir) {
        let mut t = self.segment_template(dir);
        t.flags = TcpFlags::FIN_ACK;
        self.emit_with(dir, &t, &[]);
        let i = idx(dir);
        self.next[i] = self.next[i].wrapping_add(1);
        self.fin_sent[i] = true;
        self.maybe_ack(dir);
    }

    /// Sends RST+ACK from `dir`.
    pub fn rst(&mut self, dir: Dir) {
        let mut t = self.segment_template(dir);
        t.flags = TcpFlags::RST_ACK;
        self.emit_with(dir, &t, &[]);
    }

    /// Orderly close: client FIN, server FIN (each ACKed if auto-ACK is on);
    /// directions that already sent a FIN are skipped.
    pub fn close(&mut self) {
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            if !self.fin_sent[idx(d)] {
                self.fin(d);
            }
        }
    }

    /// Packets collected so far (empty when a sink is installed).
    pub fn packets(&self) -> &[Packet] {
        &self.packets
    }

    /// Removes and returns the collected packets (for incremental streaming).
    pub fn take_packets(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.packets)
    }

    /// Consumes the conversation, returning the collected packets.
    pub fn into_packets(self) -> Vec<Packet> {
        self.packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{SlicedPacket, TransportSlice};

    struct Seg {
        src_port: u16,
        seq: u32,
        ack: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        psh: bool,
        payload: Vec<u8>,
        csum_ok: bool,
    }

    fn parse(p: &Packet) -> Seg {
        let sp = SlicedPacket::from_ethernet(&p.data).expect("parse");
        let Some(TransportSlice::Tcp(t)) = &sp.transport else {
            panic!("no tcp")
        };
        let csum_ok = match &sp.net {
            Some(etherparse::NetSlice::Ipv4(v4)) => {
                let h = v4.header();
                t.calc_checksum_ipv4(h.source(), h.destination()).ok() == Some(t.checksum())
            }
            Some(etherparse::NetSlice::Ipv6(v6)) => {
                let h = v6.header();
                t.calc_checksum_ipv6(h.source(), h.destination()).ok() == Some(t.checksum())
            }
            _ => false,
        };
        Seg {
            src_port: t.source_port(),
            seq: t.sequence_number(),
            ack: t.acknowledgment_number(),
            syn: t.syn(),
            fin: t.fin(),
            rst: t.rst(),
            psh: t.psh(),
            payload: t.payload().to_vec(),
            csum_ok,
        }
    }

    #[test]
    fn handshake_data_wraparound_and_close() {
        let mut c = Conversation::default_v4()
            .with_isns(u32::MAX - 2, u32::MAX)
            .with_mss(4);
        c.handshake();
        assert_eq!(c.client_seq(), 1);
        c.client_send(b"0123456789");
        c.server_send(b"ab");
        c.close();
        let segs: Vec<Seg> = c.packets().iter().map(parse).collect();
        assert!(segs.iter().all(|s| s.csum_ok));
        // SYN, SYN-ACK, ACK
        assert!(segs[0].syn && segs[0].seq == u32::MAX - 2);
        assert!(segs[1].syn && segs[1].seq == u32::MAX && segs[1].ack == u32::MAX - 1);
        assert_eq!((segs[2].seq, segs[2].ack), (u32::MAX - 1, 0));
        // 10 bytes in mss 4: 3 segments, seq wraps past 2^32
        let data: Vec<&Seg> = segs[3..6].iter().collect();
        assert_eq!(data[0].seq, u32::MAX - 1);
        assert_eq!(data[1].seq, 2);
        assert_eq!(data[2].seq, 6);
        assert_eq!(data[2].payload, b"89");
        assert!(!data[0].psh && data[2].psh);
        // server ACK
        assert_eq!(segs[6].src_port, 80);
        assert_eq!(segs[6].ack, 8);
        // server data then client ACK
        assert_eq!(segs[7].payload, b"ab");
        assert_eq!(segs[7].seq, 0);
        assert_eq!(segs[8].ack, 2);
        // FINs
        assert!(segs[9].fin && segs[9].seq == 8);
        assert!(segs[11].fin && segs[11].seq == 2);
        assert_eq!(segs[12].ack, 3);
        assert_eq!(segs.len(), 13);
        assert_eq!(c.stream_offset(Dir::ClientToServer), 10);
        // timestamps strictly increasing by the step
        let ts: Vec<i64> = c.packets().iter().map(|p| p.ts_nanos).collect();
        assert!(ts.windows(2).all(|w| w[1] - w[0] == 1000));
    }

    #[test]
    fn raw_segments_skip_and_rst() {
        let mut c = Conversation::default_v6().with_auto_ack(false);
        c.client_send_segments(&[b"hel", b"lo"]);
        c.raw_segment(Dir::ClientToServer, 1, b"EL"); // overlap with different bytes
        c.skip(Dir::ClientToServer, 100);
        c.client_send(b"x");
        c.rst(Dir::ServerToClient);
        let isn = c.isn(Dir::ClientToServer);
        let segs: Vec<Seg> = c.packets().iter().map(parse).collect();
        assert!(segs.iter().all(|s| s.csum_ok));
        assert_eq!(segs.len(), 5);
        assert_eq!(segs[0].seq, isn.wrapping_add(1));
        assert!(!segs[0].psh && segs[1].psh);
        assert_eq!(segs[2].seq, isn.wrapping_add(2));
        assert_eq!(segs[2].payload, b"EL");
        assert_eq!(segs[3].seq, isn.wrapping_add(1 + 5 + 100));
        assert!(segs[4].rst);
        assert_eq!(c.rel_seq(Dir::ClientToServer), 107);
    }

    #[test]
    fn sink_streams_and_fragmentation() {
        let mut got = Vec::new();
        {
            let mut c = Conversation::default_v4()
                .with_ip_fragmentation(Some(512))
                .with_sink(|p| got.push(p));
            c.client_send(&[0u8; 1400]);
            assert!(c.packets().is_empty());
        }
        // 1420 bytes of TCP -> 3 fragments, then a pure ACK
        assert_eq!(got.len(), 4);
        let sp = SlicedPacket::from_ethernet(&got[0].data).expect("parse");
        assert!(sp.transport.is_none() || sp.ip_payload().is_some_and(|p| p.fragmented));
    }
}

#[cfg(test)]
mod streaming_tests {
    use super::*;
    use crate::capture::{PcapOptions, PcapWriter};
    use crate::ws::FrameSpec;
    use std::io::Write;

    /// Streams `total` bytes of WebSocket traffic through a sink into a pcap writer.
    fn stream_into<W: Write>(w: W, total: usize) -> (W, usize) {
        let mut writer = PcapWriter::new(w, PcapOptions::default()).expect("header");
        let mut err = None;
        let mut count = 0usize;
        {
            let mut conv = Conversation::default_v4().with_sink(|p| {
                count += 1;
                if err.is_none() {
                    err = writer.write_packet(&p).err();
                }
            });
            conv.handshake();
            let frame = FrameSpec::binary(&vec![0x5a; 16 * 1024], Some([1, 2, 3, 4])).encode();
            let mut sent = 0;
            while sent < total {
                conv.client_send(&frame);
                sent += frame.len();
            }
            conv.close();
        }
        assert!(err.is_none());
        (writer.into_inner(), count)
    }

    #[test]
    fn streaming_into_writer() {
        let (bytes, count) = stream_into(Vec::new(), 1 << 20);
        let (mut rest, _) = pcap_parser::parse_pcap_header(&bytes).expect("hdr");
        let mut n = 0;
        while !rest.is_empty() {
            rest = pcap_parser::parse_pcap_frame(rest).expect("frame").0;
            n += 1;
        }
        assert_eq!(n, count);
    }

    /// Throughput check: `cargo test --release --lib streaming_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn streaming_throughput() {
        let start = std::time::Instant::now();
        let total = 1usize << 30;
        let (_, count) = stream_into(std::io::sink(), total);
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{count} packets, {:.0} MiB/s of payload",
            total as f64 / secs / (1 << 20) as f64
        );
    }
}
