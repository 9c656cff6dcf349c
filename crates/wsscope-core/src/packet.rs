//! Packet decoding: link layer -> IPv4/IPv6 (with fragment reassembly) -> TCP segment.
//!
//! Link headers are tiny and fixed, so they are read here; IP and TCP headers are read with
//! etherparse in its lax mode, so packets cut by the capture's snaplen still yield their TCP
//! header and a count of the payload bytes that were not captured. Checksums are not verified:
//! offloaded checksums make them wrong in most local captures, and a bad checksum is no reason
//! to drop a packet an analyzer was shown.

use crate::capture::{linktype, RawPacket};
use crate::ipfrag::{DefragLimits, DefragStats, Defragmenter, FragKey};
use crate::timestamp::Timestamp;
use etherparse::{
    IpAuthHeaderSlice, IpNumber, Ipv6ExtensionsSlice, Ipv6FragmentHeaderSlice,
    Ipv6RawExtHeaderSlice, LaxIpSlice, TcpHeaderSlice,
};
use std::net::{IpAddr, SocketAddr};

/// TCP control flags wsscope cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// Synchronize.
    pub syn: bool,
    /// Acknowledgment field valid.
    pub ack: bool,
    /// Sender finished.
    pub fin: bool,
    /// Reset.
    pub rst: bool,
}

/// One TCP segment, with its payload borrowed from the packet (or the defragmenter).
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Packet timestamp.
    pub ts: Timestamp,
    /// Number of the captured packet that carried it, 1-based, counting every packet given to
    /// the [`PacketDecoder`] (one per capture record: Wireshark's frame number). For a
    /// datagram reassembled from IP fragments, the packet of the fragment that completed it.
    pub packet: u64,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (or of the SYN).
    pub seq: u32,
    /// Acknowledgment number (valid when `flags.ack`).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window as written in the header (unscaled).
    pub window: u16,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload bytes on the wire after `payload` that the capture did not keep (snaplen).
    pub missing: u32,
}

/// Why a packet produced no TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A link type wsscope does not decode.
    UnsupportedLinktype(u32),
    /// Not IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP but not TCP (UDP, ICMP, ...).
    NotTcp,
    /// An IP fragment held until its datagram is complete.
    FragmentHeld,
    /// Headers too short or inconsistent.
    Malformed,
}

/// Counters over every packet decoded.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeStats {
    /// Packets seen.
    pub packets: u64,
    /// Link-layer bytes seen (captured).
    pub bytes: u64,
    /// TCP segments produced.
    pub tcp_segments: u64,
    /// Packets on link types wsscope does not decode.
    pub unsupported_linktype: u64,
    /// Non-IP packets.
    pub not_ip: u64,
    /// IP packets that were not TCP.
    pub not_tcp: u64,
    /// Packets whose headers could not be read.
    pub malformed: u64,
    /// TCP segments whose payload the snaplen cut.
    pub truncated: u64,
    /// Payload bytes of those segments that were not captured.
    pub truncated_bytes: u64,
    /// IPv4 packets whose total length is shorter than their header (a host drops them); also
    /// counted in `malformed`.
    pub bad_ip_length: u64,
    /// Fragment reassembly counters.
    pub fragments: DefragStats,
}

/// Turns raw packets into TCP segments. Holds the IP fragment table.
#[derive(Debug, Default)]
pub struct PacketDecoder {
    defrag: Defragmenter,
    stats: DecodeStats,
}

/// Finds the IP packet inside a link-layer frame.
pub fn ip_payload(linktype: u32, data: &[u8]) -> Result<&[u8], Skip> {
    match linktype {
        linktype::ETHERNET => {
            let mut ethertype = be16(data, 12).ok_or(Skip::Malformed)?;
            let mut offset = 14;
            // 802.1Q, 802.1ad (QinQ) and the old 0x9100 tag.
            while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
                ethertype = be16(data, offset + 2).ok_or(Skip::Malformed)?;
                offset += 4;
            }
            ip_by_ethertype(ethertype, data, offset)
        }
        linktype::LINUX_SLL => ip_by_ethertype(be16(data, 14).ok_or(Skip::Malformed)?, data, 16),
        linktype::LINUX_SLL2 => ip_by_ethertype(be16(data, 0).ok_or(Skip::Malformed)?, data, 20),
        linktype::NULL | linktype::LOOP => {
            let family = data.get(..4).ok_or(Skip::Malformed)?;
            let le = u32::from_le_bytes([family[0], family[1], family[2], family[3]]);
            let be = u32::from_be_bytes([family[0], family[1], family[2], family[3]]);
            // AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the OS.
            let is_ip = |af: u32| matches!(af, 2 | 10 | 24 | 28 | 30);
            if is_ip(le) || is_ip(be) {
                Ok(&data[4..])
            } else {
                Err(Skip::NotIp)
            }
        }
        linktype::RAW | 12 | 14 | linktype::IPV4 | linktype::IPV6 => Ok(data),
        other => Err(Skip::UnsupportedLinktype(other)),
    }
}

fn ip_by_ethertype(ethertype: u16, data: &[u8], offset: usize) -> Result<&[u8], Skip> {
    match ethertype {
        0x0800 | 0x86dd => data.get(offset..).ok_or(Skip::Malformed),
        _ => Err(Skip::NotIp),
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Fragment description extracted from an IP header.
struct Fragment<'a> {
    key: FragKey,
    offset: usize,
    more: bool,
    /// The header the reassembled datagram starts with: TCP, or for IPv6 an extension header
    /// of the fragmentable part (Destination Options, Routing, Authentication) in front of it.
    first_header: u8,
    /// This fragment's part of the datagram.
    data: &'a [u8],
}

impl PacketDecoder {
    /// A decoder with default fragment limits.
    pub fn new() -> Self {
        PacketDecoder {
            defrag: Defragmenter::new(DefragLimits::default()),
            stats: DecodeStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DecodeStats {
        let mut s = self.stats;
        s.fragments = self.defrag.stats();
        s
    }

    /// Decodes one packet; calls `on_segment` with the TCP segment it carries, if any.
    pub fn decode<F>(&mut self, packet: &RawPacket<'_>, on_segment: F) -> Result<(), Skip>
    where
        F: FnOnce(&Segment<'_>),
    {
        self.stats.packets += 1;
        self.stats.bytes += packet.data.len() as u64;
        let result = self.decode_inner(packet, on_segment);
        match result {
            Ok(()) => self.stats.tcp_segments += 1,
            Err(Skip::UnsupportedLinktype(_)) => self.stats.unsupported_linktype += 1,
            Err(Skip::NotIp) => self.stats.not_ip += 1,
            Err(Skip::NotTcp) => self.stats.not_tcp += 1,
            Err(Skip::Malformed) => self.stats.malformed += 1,
            Err(Skip::FragmentHeld) => {}
        }
        result
    }

    fn decode_inner<F>(&mut self, packet: &RawPacket<'_>, on_segment: F) -> Result<(), Skip>
    where
        F: FnOnce(&Segment<'_>),
    {
        let ip = ip_payload(packet.linktype, packet.data)?;
        let (slice, _ext_err) = LaxIpSlice::from_slice(ip).map_err(|_| Skip::Malformed)?;
        if let LaxIpSlice::Ipv4(v4) = &slice {
            // A host's IP layer drops such a packet (RFC 1122 3.2.1.2 is silent, every stack
            // checks): an evasion trick, since a lax reader would still find TCP inside. Zero
            // is what TCP segmentation offload leaves in captures of outgoing super-packets:
            // read those by their captured length.
            let h = v4.header();
            let total = usize::from(h.total_len());
            if total != 0 && total < usize::from(h.ihl()) * 4 {
                self.stats.bad_ip_length += 1;
                return Err(Skip::Malformed);
            }
        }
        let src = slice.source_addr();
        let dst = slice.destination_addr();
        let payload = slice.payload();
        let protocol = payload.ip_number.0;
        if let Some(frag) = fragment_of(ip, &slice) {
            let v6_extension = matches!(slice, LaxIpSlice::Ipv6(_))
                && IPV6_FRAGMENTABLE_EXTENSIONS.contains(&frag.first_header);
            if frag.first_header != 6 && !v6_extension {
                return Err(Skip::NotTcp);
            }
            if payload.incomplete {
                return Err(Skip::Malformed);
            }
            let whole = self
                .defrag
                .add(frag.key, packet.ts, frag.offset, frag.more, frag.data)
                .ok_or(Skip::FragmentHeld)?;
            let tcp = tcp_in_datagram(frag.first_header, &whole)?;
            let number = self.stats.packets;
            return emit_tcp((packet.ts, number), src, dst, tcp, 0, on_segment);
        }
        if protocol != 6 {
            return Err(Skip::NotTcp);
        }
        let missing_ip = if payload.incomplete {
            let missing = declared_ip_payload_len(&slice).saturating_sub(payload.payload.len());
            self.stats.truncated += 1;
            self.stats.truncated_bytes += missing as u64;
            missing
        } else {
            0
        };
        emit_tcp(
            (packet.ts, self.stats.packets),
            src,
            dst,
            payload.payload,
            missing_ip as u32,
            on_segment,
        )
    }
}

fn declared_ip_payload_len(slice: &LaxIpSlice<'_>) -> usize {
    match slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
        }
        LaxIpSlice::Ipv6(v6) => {
            usize::from(v6.header().payload_length()).saturating_sub(v6.extensions().slice().len())
        }
    }
}

/// IPv6 extension headers that can start the fragmentable part of a datagram, before TCP:
/// Routing, Destination Options, Authentication.
const IPV6_FRAGMENTABLE_EXTENSIONS: [u8; 3] = [43, 60, 51];

/// The fragment `slice` (parsed from `ip`) is, if it is one.
fn fragment_of<'a>(ip: &'a [u8], slice: &LaxIpSlice<'a>) -> Option<Fragment<'a>> {
    match slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            if !h.is_fragmenting_payload() {
                return None;
            }
            Some(Fragment {
                key: FragKey {
                    src: IpAddr::V4(h.source_addr()),
                    dst: IpAddr::V4(h.destination_addr()),
                    id: u32::from(h.identification()),
                    protocol: v4.payload().ip_number.0,
                },
                offset: usize::from(h.fragments_offset().byte_offset()),
                more: h.more_fragments(),
                first_header: v4.payload().ip_number.0,
                data: v4.payload().payload,
            })
        }
        LaxIpSlice::Ipv6(v6) => {
            let exts = v6.extensions();
            if !exts.is_fragmenting_payload() {
                return None;
            }
            let (frag, exts_after) =
                first_ipv6_fragment_header(v6.header().next_header(), exts.slice())?;
            // The first Fragment header decides (a later one cannot make it fragment).
            if !frag.is_fragmenting_payload() {
                return None;
            }
            // The fragment's data is everything after its Fragment header: the extension
            // headers the lax parse read there (the fragmentable part's Destination Options,
            // say) and the payload after them, contiguous behind the 40-byte IPv6 header.
            let ip_payload_end = IPV6_HEADER_LEN + exts.slice().len() + v6.payload().payload.len();
            let data_start = ip_payload_end - v6.payload().payload.len() - exts_after.len();
            Some(Fragment {
                key: FragKey {
                    src: IpAddr::V6(v6.header().source_addr()),
                    dst: IpAddr::V6(v6.header().destination_addr()),
                    id: frag.identification(),
                    protocol: frag.next_header().0,
                },
                offset: usize::from(frag.fragment_offset().byte_offset()),
                more: frag.more_fragments(),
                first_header: frag.next_header().0,
                data: ip.get(data_start..ip_payload_end)?,
            })
        }
    }
}

/// Length of the fixed IPv6 header.
const IPV6_HEADER_LEN: usize = 40;

/// Finds the first IPv6 Fragment header among the extension headers the lax parse accepted,
/// and the part of `rest` after it.
///
/// Each header is read with etherparse's bounds-checked slice constructors. The chain is not
/// walked with `Ipv6ExtensionsSlice::iter()`: up to etherparse 0.21 that iterator trusts the
/// chain without checks and reads out of bounds when the lax parse stopped on a bad extension
/// header (fuzz/regressions/packet_decoder-etherparse-ipv6-ext-oob).
fn first_ipv6_fragment_header(
    first: IpNumber,
    mut rest: &[u8],
) -> Option<(Ipv6FragmentHeaderSlice<'_>, &[u8])> {
    let mut next = first;
    // The lax parse accepted a finite chain; the bound only guards against a bug here.
    for _ in 0..16 {
        let len = match next {
            IpNumber::IPV6_FRAGMENTATION_HEADER => {
                let header = Ipv6FragmentHeaderSlice::from_slice(rest).ok()?;
                let after = rest.get(header.slice().len()..)?;
                return Some((header, after));
            }
            IpNumber::IPV6_HEADER_HOP_BY_HOP
            | IpNumber::IPV6_ROUTE_HEADER
            | IpNumber::IPV6_DESTINATION_OPTIONS => {
                let header = Ipv6RawExtHeaderSlice::from_slice(rest).ok()?;
                next = header.next_header();
                header.slice().len()
            }
            IpNumber::AUTHENTICATION_HEADER => {
                let header = IpAuthHeaderSlice::from_slice(rest).ok()?;
                next = header.next_header();
                header.slice().len()
            }
            _ => return None,
        };
        rest = rest.get(len..)?;
    }
    None
}

/// The TCP segment in a reassembled datagram that starts with `first_header`: the datagram
/// itself, or what follows the IPv6 extension headers at its start.
fn tcp_in_datagram(first_header: u8, datagram: &[u8]) -> Result<&[u8], Skip> {
    if first_header == 6 {
        return Ok(datagram);
    }
    let (_, next, rest) = Ipv6ExtensionsSlice::from_slice(IpNumber(first_header), datagram)
        .map_err(|_| Skip::Malformed)?;
    if next == IpNumber::TCP {
        Ok(rest)
    } else {
        Err(Skip::NotTcp)
    }
}

/// Hands on the segment in `tcp`, carried by the packet numbered `number` captured at `ts`.
fn emit_tcp<F>(
    (ts, number): (Timestamp, u64),
    src: IpAddr,
    dst: IpAddr,
    tcp: &[u8],
    missing: u32,
    on_segment: F,
) -> Result<(), Skip>
where
    F: FnOnce(&Segment<'_>),
{
    let header = TcpHeaderSlice::from_slice(tcp).map_err(|_| Skip::Malformed)?;
    let header_len = header.slice().len();
    let payload = tcp.get(header_len..).unwrap_or(&[]);
    let segment = Segment {
        ts,
        packet: number,
        src: SocketAddr::new(src, header.source_port()),
        dst: SocketAddr::new(dst, header.destination_port()),
        seq: header.sequence_number(),
        ack: header.acknowledgment_number(),
        flags: TcpFlags {
            syn: header.syn(),
            ack: header.ack(),
            fin: header.fin(),
            rst: header.rst(),
        },
        window: header.window_size(),
        payload,
        missing,
    };
    on_segment(&segment);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsscope_testkit::{fragment_ipv6_with_id, TcpFlags as KitFlags, TcpSegmentSpec};

    fn raw(data: &[u8]) -> RawPacket<'_> {
        RawPacket {
            ts: Timestamp(0),
            linktype: linktype::RAW,
            data,
            orig_len: data.len() as u32,
        }
    }

    fn ipv6_segment() -> Vec<u8> {
        let src = "[2001:db8::1]:40000".parse().expect("addr");
        let dst = "[2001:db8::2]:443".parse().expect("addr");
        let mut spec = TcpSegmentSpec::new(src, dst);
        spec.flags = KitFlags::PSH_ACK;
        spec.seq = 7;
        spec.payload = (0..3000u32).map(|i| (i * 13) as u8).collect();
        spec.ip_packet()
    }

    /// Feeds `packets` through one decoder; returns (seq, payload) of every segment produced.
    fn decode_all(packets: &[Vec<u8>]) -> Vec<(u32, Vec<u8>)> {
        let mut decoder = PacketDecoder::new();
        let mut out = Vec::new();
        for p in packets {
            let _ = decoder.decode(&raw(p), |s| out.push((s.seq, s.payload.to_vec())));
        }
        out
    }

    #[test]
    fn ipv6_fragments_are_reassembled_into_one_segment() {
        let fragments = fragment_ipv6_with_id(&ipv6_segment(), 1200, 0x0102_0304);
        assert_eq!(fragments.len(), 3);
        let segments = decode_all(&fragments);
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].0, 7);
        let expected: Vec<u8> = (0..3000u32).map(|i| (i * 13) as u8).collect();
        assert_eq!(segments[0].1, expected);
    }

    /// With Hop-by-Hop (unfragmentable) and Destination Options (fragmentable, so only in the
    /// first fragment's data) headers, the datagram is reassembled and TCP found behind them.
    #[test]
    fn ipv6_fragments_with_destination_options_in_the_fragmentable_part() {
        let src = "[2001:db8::1]:40000".parse().expect("addr");
        let dst = "[2001:db8::2]:443".parse().expect("addr");
        let mut spec = TcpSegmentSpec::new(src, dst);
        spec.flags = KitFlags::PSH_ACK;
        spec.seq = 7;
        spec.payload = vec![b'x'; 3000];
        spec.ipv6_ext_headers = true;
        let fragments = fragment_ipv6_with_id(&spec.ip_packet(), 1200, 11);
        assert_eq!(fragments.len(), 3);
        let segments = decode_all(&fragments);
        assert_eq!(segments, vec![(7, vec![b'x'; 3000])]);
    }

    /// The Fragment header is found behind a Hop-by-Hop header (the unfragmentable part).
    #[test]
    fn ipv6_fragment_header_is_found_behind_a_hop_by_hop_header() {
        let packet = ipv6_segment();
        let with_hop_by_hop = |fragment: &[u8]| {
            let mut p = fragment[..40].to_vec();
            p[6] = 0;
            p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
            p.extend_from_slice(&fragment[40..]);
            let plen = (p.len() - 40) as u16;
            p[4..6].copy_from_slice(&plen.to_be_bytes());
            p
        };
        let fragments: Vec<Vec<u8>> = fragment_ipv6_with_id(&packet, 1200, 5)
            .iter()
            .map(|f| with_hop_by_hop(f))
            .collect();
        let segments = decode_all(&fragments);
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].1.len(), 3000);
    }

    #[test]
    fn ipv6_fragments_out_of_order_wait_for_the_whole_datagram() {
        let mut fragments = fragment_ipv6_with_id(&ipv6_segment(), 1200, 9);
        fragments.reverse();
        let mut decoder = PacketDecoder::new();
        let mut results = Vec::new();
        let mut payload_len = 0;
        for f in &fragments {
            results.push(decoder.decode(&raw(f), |s| payload_len = s.payload.len()));
        }
        assert_eq!(
            results,
            vec![Err(Skip::FragmentHeld), Err(Skip::FragmentHeld), Ok(())]
        );
        assert_eq!(payload_len, 3000);
    }

    /// A Fragment header with offset 0 and no M flag (an "atomic fragment", RFC 6946) does
    /// not fragment anything: the packet is read as it is.
    #[test]
    fn ipv6_atomic_fragment_is_read_as_a_whole_packet() {
        let packet = ipv6_segment();
        let mut atomic = packet[..40].to_vec();
        atomic[6] = 44;
        atomic.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 1]);
        atomic.extend_from_slice(&packet[40..]);
        let plen = (atomic.len() - 40) as u16;
        atomic[4..6].copy_from_slice(&plen.to_be_bytes());
        let segments = decode_all(&[atomic]);
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].1.len(), 3000);
    }

    /// fuzz/regressions/packet_decoder-etherparse-ipv6-ext-oob: a second Hop-by-Hop header
    /// stops the lax parse; the fragment lookup must stay inside the headers it accepted.
    #[test]
    fn ipv6_second_hop_by_hop_header_is_not_walked_out_of_bounds() {
        let mut packet = vec![0x60, 0, 0, 0, 0, 8, 0, 0x40];
        packet.extend_from_slice(&[0; 15]);
        packet.push(1);
        packet.extend_from_slice(&[0; 15]);
        packet.push(2);
        packet.extend_from_slice(&[0, 0, 1, 4, 0, 0, 0, 0]);
        assert_eq!(packet.len(), 48);
        let mut decoder = PacketDecoder::new();
        let result = decoder.decode(&raw(&packet), |_| {});
        assert!(
            matches!(result, Err(Skip::NotTcp | Skip::Malformed)),
            "{result:?}"
        );
    }
}
