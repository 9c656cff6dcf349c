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
use etherparse::{LaxIpSlice, TcpHeaderSlice};
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
struct Fragment {
    key: FragKey,
    offset: usize,
    more: bool,
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
        if let Some(frag) = fragment_of(&slice) {
            if protocol != 6 {
                return Err(Skip::NotTcp);
            }
            if payload.incomplete {
                return Err(Skip::Malformed);
            }
            let whole = self
                .defrag
                .add(frag.key, packet.ts, frag.offset, frag.more, payload.payload)
                .ok_or(Skip::FragmentHeld)?;
            let number = self.stats.packets;
            return emit_tcp((packet.ts, number), src, dst, &whole, 0, on_segment);
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

fn fragment_of(slice: &LaxIpSlice<'_>) -> Option<Fragment> {
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
            })
        }
        LaxIpSlice::Ipv6(v6) => {
            // Walked by hand: etherparse 0.19's extension iterator can read out of bounds when
            // its lax parse stopped on a bad extension header (found by fuzzing).
            let frag = ipv6_fragment_header(v6.header().next_header().0, v6.extensions().slice())?;
            // Bits: 13-bit offset in 8-byte units, 2 reserved, M flag (etherparse 0.19 decodes
            // this word wrongly, its issue #150).
            let word = u16::from_be_bytes([frag[2], frag[3]]);
            let offset = usize::from(word >> 3) * 8;
            let more = word & 1 != 0;
            if offset == 0 && !more {
                return None;
            }
            Some(Fragment {
                key: FragKey {
                    src: IpAddr::V6(v6.header().source_addr()),
                    dst: IpAddr::V6(v6.header().destination_addr()),
                    id: u32::from_be_bytes([frag[4], frag[5], frag[6], frag[7]]),
                    protocol: v6.payload().ip_number.0,
                },
                offset,
                more,
            })
        }
    }
}

/// Finds the 8-byte IPv6 fragment header among the extension headers, with bounds checks.
fn ipv6_fragment_header(first: u8, mut rest: &[u8]) -> Option<&[u8]> {
    let mut next = first;
    for _ in 0..16 {
        let len = match next {
            44 => return rest.get(..8),
            // Hop-by-hop, routing, destination options: (len + 1) * 8 bytes.
            0 | 43 | 60 => (usize::from(*rest.get(1)?) + 1) * 8,
            // Authentication header: (len + 2) * 4 bytes.
            51 => (usize::from(*rest.get(1)?) + 2) * 4,
            _ => return None,
        };
        next = *rest.first()?;
        rest = rest.get(len..)?;
    }
    None
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
