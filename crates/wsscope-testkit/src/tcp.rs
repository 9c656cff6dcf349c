//! TCP segment encoding (over IPv4 or IPv6).

use std::net::{IpAddr, SocketAddr};

use super::ip::{
    fold_checksum, ipv4_header, ipv6_header, sum16, PROTO_DSTOPTS, PROTO_HOPOPTS, PROTO_TCP,
};

/// TCP control flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// ACK.
    pub ack: bool,
    /// FIN.
    pub fin: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
    /// URG.
    pub urg: bool,
}

impl TcpFlags {
    /// No flags.
    pub const NONE: TcpFlags = TcpFlags {
        syn: false,
        ack: false,
        fin: false,
        rst: false,
        psh: false,
        urg: false,
    };
    /// SYN.
    pub const SYN: TcpFlags = TcpFlags {
        syn: true,
        ..TcpFlags::NONE
    };
    /// SYN+ACK.
    pub const SYN_ACK: TcpFlags = TcpFlags {
        syn: true,
        ack: true,
        ..TcpFlags::NONE
    };
    /// ACK.
    pub const ACK: TcpFlags = TcpFlags {
        ack: true,
        ..TcpFlags::NONE
    };
    /// PSH+ACK.
    pub const PSH_ACK: TcpFlags = TcpFlags {
        psh: true,
        ack: true,
        ..TcpFlags::NONE
    };
    /// FIN+ACK.
    pub const FIN_ACK: TcpFlags = TcpFlags {
        fin: true,
        ack: true,
        ..TcpFlags::NONE
    };
    /// RST.
    pub const RST: TcpFlags = TcpFlags {
        rst: true,
        ..TcpFlags::NONE
    };
    /// RST+ACK.
    pub const RST_ACK: TcpFlags = TcpFlags {
        rst: true,
        ack: true,
        ..TcpFlags::NONE
    };

    /// The flags byte as on the wire (FIN=0x01 … URG=0x20).
    pub fn bits(self) -> u8 {
        u8::from(self.fin)
            | u8::from(self.syn) << 1
            | u8::from(self.rst) << 2
            | u8::from(self.psh) << 3
            | u8::from(self.ack) << 4
            | u8::from(self.urg) << 5
    }
}

/// Everything needed to encode one TCP segment inside an IP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegmentSpec {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgment number (written even when ACK is clear).
    pub ack: u32,
    /// Control flags.
    pub flags: TcpFlags,
    /// Receive window.
    pub window: u16,
    /// Segment payload.
    pub payload: Vec<u8>,
    /// Write a deliberately wrong TCP checksum.
    pub bad_checksum: bool,
    /// Raw TCP options; zero-padded (EOL) to a multiple of 4, max 40 bytes used.
    pub options: Vec<u8>,
    /// IPv4 identification field.
    pub ip_id: u16,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// Set the IPv4 Don't Fragment bit.
    pub dont_fragment: bool,
    /// IPv6 only: insert Hop-by-Hop and Destination Options headers before TCP.
    pub ipv6_ext_headers: bool,
}

impl TcpSegmentSpec {
    /// A segment with no flags, seq/ack 0, window 65535, TTL 64, DF set, no payload.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        TcpSegmentSpec {
            src,
            dst,
            seq: 0,
            ack: 0,
            flags: TcpFlags::NONE,
            window: 65535,
            payload: Vec::new(),
            bad_checksum: false,
            options: Vec::new(),
            ip_id: 0,
            ttl: 64,
            dont_fragment: true,
            ipv6_ext_headers: false,
        }
    }

    /// True if the segment is carried over IPv6 (either address is IPv6;
    /// an IPv4 address paired with an IPv6 one is written IPv4-mapped).
    pub fn is_ipv6(&self) -> bool {
        self.src.is_ipv6() || self.dst.is_ipv6()
    }

    /// Encodes the IP packet (IPv4 or IPv6 header + TCP header + payload).
    pub fn ip_packet(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80 + self.options.len() + self.payload.len());
        self.encode_with_payload(&self.payload, &mut out);
        out
    }

    /// Appends the IP packet to `out`, using `payload` instead of `self.payload`
    /// (avoids copying payloads into the spec in hot loops).
    pub fn encode_with_payload(&self, payload: &[u8], out: &mut Vec<u8>) {
        let opt_len = self.options.len().min(40).div_ceil(4) * 4;
        let tcp_len = 20 + opt_len + payload.len();
        let mut tcp = [0u8; 60];
        tcp[0..2].copy_from_slice(&self.src.port().to_be_bytes());
        tcp[2..4].copy_from_slice(&self.dst.port().to_be_bytes());
        tcp[4..8].copy_from_slice(&self.seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&self.ack.to_be_bytes());
        tcp[12] = (((20 + opt_len) / 4) as u8) << 4;
        tcp[13] = self.flags.bits();
        tcp[14..16].copy_from_slice(&self.window.to_be_bytes());
        let n = self.options.len().min(40);
        tcp[20..20 + n].copy_from_slice(&self.options[..n]);
        let tcp_hdr = &mut tcp[..20 + opt_len];

        let (pseudo, v6) = match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut acc = sum16(0, &s.octets());
                acc = sum16(acc, &d.octets());
                (acc + u64::from(PROTO_TCP) + tcp_len as u64, None)
            }
            (s, d) => {
                let s = to_v6(s);
                let d = to_v6(d);
                let mut acc = sum16(0, &s.octets());
                acc = sum16(acc, &d.octets());
                (acc + u64::from(PROTO_TCP) + tcp_len as u64, Some((s, d)))
            }
        };
        let mut acc = sum16(pseudo, tcp_hdr);
        acc = sum16(acc, payload);
        let mut csum = fold_checksum(acc);
        if self.bad_checksum {
            csum ^= 0x5a5a;
        }
        tcp_hdr[16..18].copy_from_slice(&csum.to_be_bytes());

        match v6 {
            None => {
                let (IpAddr::V4(s), IpAddr::V4(d)) = (self.src.ip(), self.dst.ip()) else {
                    unreachable!("checked above")
                };
                let ff = if self.dont_fragment { 0x4000 } else { 0 };
                out.extend_from_slice(&ipv4_header(
                    s, d, PROTO_TCP, tcp_len, self.ip_id, self.ttl, ff,
                ));
            }
            Some((s, d)) => {
                if self.ipv6_ext_headers {
                    out.extend_from_slice(&ipv6_header(
                        s,
                        d,
                        PROTO_HOPOPTS,
                        tcp_len + 16,
                        self.ttl,
                    ));
                    // Hop-by-Hop: next = DstOpts, len 0 (8 bytes), PadN with 4 bytes
                    out.extend_from_slice(&[PROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0]);
                    // Destination Options: next = TCP, len 0, PadN
                    out.extend_from_slice(&[PROTO_TCP, 0, 1, 4, 0, 0, 0, 0]);
                } else {
                    out.extend_from_slice(&ipv6_header(s, d, PROTO_TCP, tcp_len, self.ttl));
                }
            }
        }
        out.extend_from_slice(tcp_hdr);
        out.extend_from_slice(payload);
    }
}

fn to_v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// TCP option bytes for an MSS option (kind 2, length 4).
pub fn mss_option(mss: u16) -> Vec<u8> {
    let b = mss.to_be_bytes();
    vec![2, 4, b[0], b[1]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Ipv4HeaderSlice, NetSlice, SlicedPacket, TransportSlice};

    fn spec(c: &str, s: &str) -> TcpSegmentSpec {
        let mut t = TcpSegmentSpec::new(c.parse().expect("addr"), s.parse().expect("addr"));
        t.seq = 0xfffffff0;
        t.ack = 12345;
        t.flags = TcpFlags::PSH_ACK;
        t.window = 1234;
        t.payload = b"GET / HTTP/1.1\r\n\r\n!".to_vec(); // odd length
        t.ip_id = 77;
        t
    }

    fn verify(t: &TcpSegmentSpec) -> bool {
        let pkt = t.ip_packet();
        let sp = SlicedPacket::from_ip(&pkt).expect("parse");
        let Some(TransportSlice::Tcp(tcp)) = &sp.transport else {
            panic!("no tcp")
        };
        assert_eq!(tcp.payload(), &t.payload[..]);
        assert_eq!(tcp.sequence_number(), t.seq);
        assert_eq!(tcp.acknowledgment_number(), t.ack);
        assert_eq!(tcp.window_size(), t.window);
        assert_eq!(tcp.psh(), t.flags.psh);
        assert_eq!(tcp.ack(), t.flags.ack);
        assert_eq!(tcp.syn(), t.flags.syn);
        assert_eq!(tcp.source_port(), t.src.port());
        assert_eq!(tcp.destination_port(), t.dst.port());
        let expect = match &sp.net {
            Some(NetSlice::Ipv4(v4)) => {
                let h = v4.header();
                assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
                assert_eq!(h.identification(), t.ip_id);
                assert!(h.dont_fragment());
                assert_eq!(usize::from(h.total_len()), pkt.len());
                Ipv4HeaderSlice::from_slice(&pkt).expect("hdr");
                tcp.calc_checksum_ipv4(h.source(), h.destination())
                    .expect("len")
            }
            Some(NetSlice::Ipv6(v6)) => {
                let h = v6.header();
                assert_eq!(usize::from(h.payload_length()) + 40, pkt.len());
                tcp.calc_checksum_ipv6(h.source(), h.destination())
                    .expect("len")
            }
            _ => panic!("no ip"),
        };
        expect == tcp.checksum()
    }

    #[test]
    fn checksums_v4_v6() {
        for (c, s) in [
            ("10.1.2.3:5555", "10.9.8.7:80"),
            ("[2001:db8::1]:5555", "[2001:db8::ff]:443"),
        ] {
            let mut t = spec(c, s);
            assert!(verify(&t));
            t.options = mss_option(1460);
            t.flags = TcpFlags::SYN;
            t.payload.clear();
            assert!(verify(&t));
            t.bad_checksum = true;
            assert!(!verify(&t));
        }
    }

    #[test]
    fn ipv6_extension_headers() {
        let mut t = spec("[2001:db8::1]:5555", "[2001:db8::2]:80");
        t.ipv6_ext_headers = true;
        assert!(verify(&t));
        let pkt = t.ip_packet();
        let sp = SlicedPacket::from_ip(&pkt).expect("parse");
        let Some(NetSlice::Ipv6(v6)) = &sp.net else {
            panic!("v6")
        };
        assert_eq!(v6.extensions().slice().len(), 16);
        assert_eq!(pkt[6], 0);
    }

    #[test]
    fn mixed_families_use_mapped_v6() {
        let t = spec("10.0.0.1:1", "[2001:db8::2]:80");
        assert!(t.is_ipv6());
        assert!(verify(&t));
    }

    #[test]
    fn flag_bits() {
        assert_eq!(TcpFlags::SYN.bits(), 0x02);
        assert_eq!(TcpFlags::SYN_ACK.bits(), 0x12);
        assert_eq!(TcpFlags::PSH_ACK.bits(), 0x18);
        assert_eq!(TcpFlags::FIN_ACK.bits(), 0x11);
        assert_eq!(TcpFlags::RST.bits(), 0x04);
    }
}
