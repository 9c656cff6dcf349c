//! IPv4 / IPv6 header encoding, Internet checksums and fragmentation.

use std::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IPv6 Hop-by-Hop Options extension header.
pub const PROTO_HOPOPTS: u8 = 0;
/// IPv6 Routing extension header.
pub const PROTO_ROUTING: u8 = 43;
/// IPv6 Fragment extension header.
pub const PROTO_FRAGMENT: u8 = 44;
/// IPv6 Destination Options extension header.
pub const PROTO_DSTOPTS: u8 = 60;

/// Adds `data` as big-endian 16-bit words to a running one's-complement sum.
pub fn sum16(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a running sum and returns its one's complement (the checksum field value).
pub fn fold_checksum(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold_checksum(sum16(0, data))
}

/// Builds a 20-byte IPv4 header (no options) with a correct checksum.
///
/// `flags_frag` is the raw 16-bit flags+fragment-offset field (0x4000 = DF).
pub fn ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    payload_len: usize,
    ident: u16,
    ttl: u8,
    flags_frag: u16,
) -> [u8; 20] {
    let total = (20 + payload_len).min(0xffff) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h[6..8].copy_from_slice(&flags_frag.to_be_bytes());
    h[8] = ttl;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = internet_checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// Builds a 40-byte IPv6 header; `payload_len` includes extension headers.
pub fn ipv6_header(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    payload_len: usize,
    hop_limit: u8,
) -> [u8; 40] {
    let mut h = [0u8; 40];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&(payload_len.min(0xffff) as u16).to_be_bytes());
    h[6] = next_header;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
    h
}

/// Splits an IPv4 packet into fragments carrying at most `frag_payload_size` payload bytes.
///
/// The size is rounded down to a multiple of 8 (minimum 8). Header (including
/// options), identification and protocol are copied; DF is cleared, MF is set on
/// all but the last fragment (the last keeps the original MF), offsets are
/// relative to the original offset, and header checksums are recomputed.
/// A packet that already fits, or is not parseable IPv4, is returned unchanged.
pub fn fragment_ipv4(packet: &[u8], frag_payload_size: usize) -> Vec<Vec<u8>> {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return vec![packet.to_vec()];
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    if ihl < 20 || total < ihl {
        return vec![packet.to_vec()];
    }
    let payload = &packet[ihl..total];
    let size = (frag_payload_size / 8 * 8).max(8);
    if payload.len() <= size {
        return vec![packet.to_vec()];
    }
    let orig_field = u16::from_be_bytes([packet[6], packet[7]]);
    let orig_mf = orig_field & 0x2000 != 0;
    let orig_off = orig_field & 0x1fff;
    let mut out = Vec::with_capacity(payload.len().div_ceil(size));
    for (i, chunk) in payload.chunks(size).enumerate() {
        let last = (i + 1) * size >= payload.len();
        let mut f = Vec::with_capacity(ihl + chunk.len());
        f.extend_from_slice(&packet[..ihl]);
        f.extend_from_slice(chunk);
        let len = (ihl + chunk.len()) as u16;
        f[2..4].copy_from_slice(&len.to_be_bytes());
        let off = orig_off.wrapping_add(((i * size) / 8) as u16) & 0x1fff;
        let mf = if last { orig_mf } else { true };
        let field = off | if mf { 0x2000 } else { 0 };
        f[6..8].copy_from_slice(&field.to_be_bytes());
        f[10] = 0;
        f[11] = 0;
        let c = internet_checksum(&f[..ihl]);
        f[10..12].copy_from_slice(&c.to_be_bytes());
        out.push(f);
    }
    out
}

/// Like [`fragment_ipv6_with_id`], with an identification derived from the packet bytes
/// (FNV-1a), so output is deterministic and differs between different packets.
pub fn fragment_ipv6(packet: &[u8], frag_payload_size: usize) -> Vec<Vec<u8>> {
    let mut h: u32 = 0x811c_9dc5;
    for b in packet {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    fragment_ipv6_with_id(packet, frag_payload_size, h)
}

/// Splits an IPv6 packet using Fragment extension headers (RFC 8200 section 4.5).
///
/// The unfragmentable part (IPv6 header plus any Hop-by-Hop / Routing headers and
/// Destination Options preceding a Routing header) is repeated in every
/// fragment; the rest is split into pieces of at most `frag_payload_size`
/// bytes (rounded down to a multiple of 8, minimum 8). A packet that already
/// fits, or is not parseable IPv6, is returned unchanged.
pub fn fragment_ipv6_with_id(packet: &[u8], frag_payload_size: usize, id: u32) -> Vec<Vec<u8>> {
    if packet.len() < 40 || packet[0] >> 4 != 6 {
        return vec![packet.to_vec()];
    }
    let end = (40 + usize::from(u16::from_be_bytes([packet[4], packet[5]]))).min(packet.len());
    // Walk the extension chain, remembering where the unfragmentable part ends and
    // the offset of the "next header" byte that must be rewritten to 44.
    let mut nh_pos = 6usize;
    let mut pos = 40usize;
    let mut unfrag_end = 40usize;
    let mut unfrag_nh_pos = 6usize;
    while matches!(
        packet[nh_pos],
        PROTO_HOPOPTS | PROTO_ROUTING | PROTO_DSTOPTS
    ) {
        if pos + 2 > end {
            return vec![packet.to_vec()];
        }
        let kind = packet[nh_pos];
        let len = (usize::from(packet[pos + 1]) + 1) * 8;
        if pos + len > end {
            return vec![packet.to_vec()];
        }
        if kind != PROTO_DSTOPTS {
            unfrag_end = pos + len;
            unfrag_nh_pos = pos;
        }
        nh_pos = pos;
        pos += len;
    }
    let next_header = packet[unfrag_nh_pos];
    let fragmentable = &packet[unfrag_end..end];
    let size = (frag_payload_size / 8 * 8).max(8);
    if fragmentable.len() <= size {
        return vec![packet.to_vec()];
    }
    let mut out = Vec::new();
    for (i, chunk) in fragmentable.chunks(size).enumerate() {
        let last = (i + 1) * size >= fragmentable.len();
        let mut f = Vec::with_capacity(unfrag_end + 8 + chunk.len());
        f.extend_from_slice(&packet[..unfrag_end]);
        f[unfrag_nh_pos] = PROTO_FRAGMENT;
        let off = ((i * size / 8) as u16) << 3;
        let field = off | u16::from(!last);
        f.extend_from_slice(&[next_header, 0]);
        f.extend_from_slice(&field.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(chunk);
        let plen = (f.len() - 40) as u16;
        f[4..6].copy_from_slice(&plen.to_be_bytes());
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{TcpFlags, TcpSegmentSpec};
    use etherparse::defrag::IpDefragPool;
    use etherparse::{
        Ipv4HeaderSlice, Ipv6FragmentHeader, Ipv6FragmentHeaderSlice, NetSlice, SlicedPacket,
        TcpSlice,
    };

    fn big_segment(v6: bool, ext: bool) -> Vec<u8> {
        let (c, s) = if v6 {
            ("[2001:db8::1]:40000", "[2001:db8::2]:443")
        } else {
            ("192.0.2.1:40000", "192.0.2.2:443")
        };
        let mut t = TcpSegmentSpec::new(c.parse().expect("addr"), s.parse().expect("addr"));
        t.flags = TcpFlags::PSH_ACK;
        t.payload = (0..3000u32).map(|i| (i * 7) as u8).collect();
        t.ipv6_ext_headers = ext;
        t.ip_packet()
    }

    #[test]
    fn checksum_rfc1071_example() {
        // RFC 1071 section 3 example: sum 0xddf2 -> checksum 0x220d
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
        assert_eq!(internet_checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn ipv4_fragments_valid_and_reassemble() {
        let pkt = big_segment(false, false);
        let frags = fragment_ipv4(&pkt, 1001);
        assert_eq!(frags.len(), 4); // 3020 bytes of TCP in 1000-byte pieces
        let mut pool: IpDefragPool = IpDefragPool::new();
        let mut done = None;
        for (i, f) in frags.iter().enumerate() {
            let h = Ipv4HeaderSlice::from_slice(f).expect("hdr");
            assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
            assert_eq!(h.more_fragments(), i + 1 < frags.len());
            assert!(!h.dont_fragment());
            assert_eq!(usize::from(h.fragments_offset().value()) * 8, i * 1000);
            assert_eq!(h.total_len() as usize, f.len());
            let sp = SlicedPacket::from_ip(f).expect("slice");
            if let Some(r) = pool.process_sliced_packet(&sp, (), ()).expect("defrag") {
                done = Some(r.payload);
            }
        }
        let payload = done.expect("reassembled");
        assert_eq!(payload, pkt[20..]);
        let tcp = TcpSlice::from_slice(&payload).expect("tcp");
        let src = [192, 0, 2, 1];
        let dst = [192, 0, 2, 2];
        assert_eq!(
            tcp.calc_checksum_ipv4(src, dst).expect("len"),
            tcp.checksum()
        );
        assert_eq!(fragment_ipv4(&pkt, 5000), vec![pkt.clone()]);
    }

    /// Decodes the RFC 8200 fragment header at `f[at..]` with etherparse (an independent
    /// decoder; 0.21 reads offset and M at the RFC's bit positions, JulianSchmid/etherparse#150):
    /// (next header, offset in bytes, M flag, identification).
    fn frag_fields(f: &[u8], at: usize) -> (u8, usize, bool, u32) {
        let h = Ipv6FragmentHeaderSlice::from_slice(&f[at..]).expect("frag hdr");
        (
            h.next_header().0,
            usize::from(h.fragment_offset().byte_offset()),
            h.more_fragments(),
            h.identification(),
        )
    }

    #[test]
    fn ipv6_fragments_valid_and_reassemble() {
        let pkt = big_segment(true, false);
        let frags = fragment_ipv6_with_id(&pkt, 1400, 0xdead_beef);
        assert_eq!(frags.len(), 3);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let sp = SlicedPacket::from_ip(f).expect("slice");
            let Some(NetSlice::Ipv6(v6)) = &sp.net else {
                panic!("not ipv6")
            };
            assert_eq!(usize::from(v6.header().payload_length()) + 40, f.len());
            assert_eq!(v6.header().next_header().0, PROTO_FRAGMENT);
            let (fh, _) = Ipv6FragmentHeader::from_slice(&f[40..]).expect("frag hdr");
            assert_eq!(fh.identification, 0xdead_beef);
            let (nh, off, mf, id) = frag_fields(f, 40);
            assert_eq!((nh, id), (PROTO_TCP, 0xdead_beef));
            assert_eq!(off, joined.len());
            assert_eq!(mf, i + 1 < frags.len());
            assert!(i + 1 == frags.len() || (f.len() - 48) % 8 == 0);
            joined.extend_from_slice(&f[48..]);
        }
        assert_eq!(joined, pkt[40..]);
        assert_eq!(f_first_bytes(&frags[0]), [0x06, 0x00, 0x00, 0x01]);
        assert_eq!(f_first_bytes(&frags[1]), [0x06, 0x00, 0x05, 0x79]); // 175 << 3 | M
        assert_eq!(fragment_ipv6(&pkt, 1400).len(), 3);
        assert_eq!(fragment_ipv6(&pkt, 4000), vec![pkt.clone()]);
    }

    fn f_first_bytes(f: &[u8]) -> [u8; 4] {
        [f[40], f[41], f[42], f[43]]
    }

    /// With Hop-by-Hop + Destination Options: HBH stays unfragmentable, the
    /// Destination Options header travels inside the fragmentable part.
    #[test]
    fn ipv6_fragments_with_extension_headers() {
        let pkt = big_segment(true, true);
        let frags = fragment_ipv6_with_id(&pkt, 1400, 7);
        assert_eq!(frags.len(), 3);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert_eq!(f[..4], pkt[..4]);
            assert_eq!(f[7..40], pkt[7..40]);
            assert_eq!(usize::from(u16::from_be_bytes([f[4], f[5]])) + 40, f.len());
            assert_eq!(f[6], PROTO_HOPOPTS);
            assert_eq!(f[40], PROTO_FRAGMENT);
            let (nh, off, mf, id) = frag_fields(f, 48);
            assert_eq!((nh, id), (PROTO_DSTOPTS, 7));
            assert_eq!(off, joined.len());
            assert_eq!(mf, i + 1 < frags.len());
            joined.extend_from_slice(&f[56..]);
        }
        assert_eq!(joined, pkt[48..]);
    }
}
