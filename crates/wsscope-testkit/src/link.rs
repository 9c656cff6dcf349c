//! Link-layer encapsulations.

/// BSD `AF_INET` value used by the Null/Loop link types.
pub const AF_INET: u32 = 2;
/// `AF_INET6` on NetBSD/OpenBSD (and the value the [`Link::Null`]/[`Link::Loop`] variants use).
pub const AF_INET6_BSD: u32 = 24;
/// `AF_INET6` on FreeBSD.
pub const AF_INET6_FREEBSD: u32 = 28;
/// `AF_INET6` on macOS/Darwin.
pub const AF_INET6_DARWIN: u32 = 30;

/// Source MAC used by [`Link::Ethernet`] (and as the SLL address).
pub const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// Destination MAC used by [`Link::Ethernet`].
pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/// A link-layer encapsulation (and its pcap LINKTYPE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II (linktype 1). One VLAN id = 802.1Q (0x8100); two = QinQ
    /// (outer 0x88a8, inner 0x8100); further tags use 0x8100.
    Ethernet {
        /// VLAN ids, outermost first (only the low 12 bits are used; PCP/DEI = 0).
        vlans: Vec<u16>,
    },
    /// Linux cooked capture v1 (linktype 113), packet type "sent to us".
    LinuxSll,
    /// Linux cooked capture v2 (linktype 276), interface index 1.
    LinuxSll2,
    /// BSD loopback (linktype 0): 4-byte AF in little-endian; IPv6 uses AF 24.
    Null,
    /// OpenBSD loopback (linktype 108): 4-byte AF in big-endian; IPv6 uses AF 24.
    Loop,
    /// Null/Loop with an explicit AF value written regardless of IP version
    /// (e.g. 28/30 for FreeBSD/Darwin IPv6, or a wrong value for error tests).
    NullAf {
        /// The 4-byte address-family value to write.
        af: u32,
        /// `false`: linktype 0 with LE AF; `true`: linktype 108 with BE AF.
        big_endian: bool,
    },
    /// Raw IP, no link header (linktype 101).
    RawIp,
}

impl Link {
    /// Plain Ethernet without VLAN tags.
    pub fn ethernet() -> Link {
        Link::Ethernet { vlans: Vec::new() }
    }

    /// The pcap/pcapng LINKTYPE value.
    pub fn linktype(&self) -> u32 {
        match self {
            Link::Ethernet { .. } => 1,
            Link::LinuxSll => 113,
            Link::LinuxSll2 => 276,
            Link::Null => 0,
            Link::Loop => 108,
            Link::NullAf { big_endian, .. } => {
                if *big_endian {
                    108
                } else {
                    0
                }
            }
            Link::RawIp => 101,
        }
    }

    /// Length of the link header this variant prepends.
    pub fn header_len(&self) -> usize {
        match self {
            Link::Ethernet { vlans } => 14 + 4 * vlans.len(),
            Link::LinuxSll => 16,
            Link::LinuxSll2 => 20,
            Link::Null | Link::Loop | Link::NullAf { .. } => 4,
            Link::RawIp => 0,
        }
    }

    /// Prepends this link header to an IP packet.
    pub fn wrap(&self, ip_packet: &[u8], is_ipv6: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header_len() + ip_packet.len());
        self.write_header(&mut out, is_ipv6);
        out.extend_from_slice(ip_packet);
        out
    }

    /// Appends only the link header to `out`.
    pub fn write_header(&self, out: &mut Vec<u8>, is_ipv6: bool) {
        let ethertype: u16 = if is_ipv6 { 0x86dd } else { 0x0800 };
        let af = if is_ipv6 { AF_INET6_BSD } else { AF_INET };
        match self {
            Link::Ethernet { vlans } => {
                out.extend_from_slice(&DST_MAC);
                out.extend_from_slice(&SRC_MAC);
                for (i, vid) in vlans.iter().enumerate() {
                    let tpid: u16 = if i == 0 && vlans.len() >= 2 {
                        0x88a8
                    } else {
                        0x8100
                    };
                    out.extend_from_slice(&tpid.to_be_bytes());
                    out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
                }
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::LinuxSll => {
                out.extend_from_slice(&0u16.to_be_bytes()); // packet type: to us
                out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                out.extend_from_slice(&6u16.to_be_bytes()); // address length
                out.extend_from_slice(&SRC_MAC);
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::LinuxSll2 => {
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(&0u16.to_be_bytes()); // reserved
                out.extend_from_slice(&1u32.to_be_bytes()); // interface index
                out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
                out.push(0); // packet type: to us
                out.push(6); // address length
                out.extend_from_slice(&SRC_MAC);
                out.extend_from_slice(&[0, 0]);
            }
            Link::Null => out.extend_from_slice(&af.to_le_bytes()),
            Link::Loop => out.extend_from_slice(&af.to_be_bytes()),
            Link::NullAf { af, big_endian } => {
                if *big_endian {
                    out.extend_from_slice(&af.to_be_bytes());
                } else {
                    out.extend_from_slice(&af.to_le_bytes());
                }
            }
            Link::RawIp => {}
        }
    }

    /// One instance of every variant (Ethernet with 0, 1 and 2 VLAN tags).
    pub fn all() -> Vec<Link> {
        vec![
            Link::ethernet(),
            Link::Ethernet { vlans: vec![100] },
            Link::Ethernet {
                vlans: vec![10, 20],
            },
            Link::LinuxSll,
            Link::LinuxSll2,
            Link::Null,
            Link::Loop,
            Link::RawIp,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::{TcpFlags, TcpSegmentSpec};
    use etherparse::{EtherType, LinkSlice, NetSlice, SlicedPacket, TransportSlice};

    fn seg(v6: bool) -> TcpSegmentSpec {
        let (c, s) = if v6 {
            ("[2001:db8::1]:40000", "[2001:db8::2]:80")
        } else {
            ("10.0.0.1:40000", "10.0.0.2:80")
        };
        let mut t = TcpSegmentSpec::new(c.parse().expect("addr"), s.parse().expect("addr"));
        t.flags = TcpFlags::PSH_ACK;
        t.payload = b"hello".to_vec();
        t
    }

    fn check_ip_tcp(p: &SlicedPacket<'_>, v6: bool) {
        match (&p.net, v6) {
            (Some(NetSlice::Ipv4(_)), false) | (Some(NetSlice::Ipv6(_)), true) => {}
            other => panic!("unexpected net {:?}", other.0),
        }
        match &p.transport {
            Some(TransportSlice::Tcp(t)) => assert_eq!(t.payload(), b"hello"),
            other => panic!("unexpected transport {other:?}"),
        }
    }

    #[test]
    fn ethernet_vlans_parse() {
        for v6 in [false, true] {
            let ip = seg(v6).ip_packet();
            for (vlans, tpids) in [
                (vec![], vec![]),
                (vec![100u16], vec![0x8100u16]),
                (vec![10, 20], vec![0x88a8, 0x8100]),
            ] {
                let link = Link::Ethernet {
                    vlans: vlans.clone(),
                };
                let frame = link.wrap(&ip, v6);
                assert_eq!(link.linktype(), 1);
                assert_eq!(frame.len(), link.header_len() + ip.len());
                let p = SlicedPacket::from_ethernet(&frame).expect("parse");
                assert!(matches!(p.link, Some(LinkSlice::Ethernet2(_))));
                assert_eq!(p.vlan_ids().len(), vlans.len());
                for (i, id) in p.vlan_ids().iter().enumerate() {
                    assert_eq!(id.value(), vlans[i]);
                }
                for (i, tpid) in tpids.iter().enumerate() {
                    let off = 12 + 4 * i;
                    assert_eq!(u16::from_be_bytes([frame[off], frame[off + 1]]), *tpid);
                }
                check_ip_tcp(&p, v6);
            }
        }
    }

    #[test]
    fn sll_parses() {
        for v6 in [false, true] {
            let ip = seg(v6).ip_packet();
            let frame = Link::LinuxSll.wrap(&ip, v6);
            let p = SlicedPacket::from_linux_sll(&frame).expect("parse");
            assert!(matches!(p.link, Some(LinkSlice::LinuxSll(_))));
            check_ip_tcp(&p, v6);
        }
    }

    #[test]
    fn sll2_layout() {
        for v6 in [false, true] {
            let ip = seg(v6).ip_packet();
            let frame = Link::LinuxSll2.wrap(&ip, v6);
            assert_eq!(Link::LinuxSll2.linktype(), 276);
            let et = u16::from_be_bytes([frame[0], frame[1]]);
            assert_eq!(et, if v6 { 0x86dd } else { 0x0800 });
            assert_eq!(frame[11], 6); // address length
            let p = SlicedPacket::from_ether_type(EtherType(et), &frame[20..]).expect("parse");
            check_ip_tcp(&p, v6);
        }
    }

    #[test]
    fn null_loop_raw() {
        for v6 in [false, true] {
            let ip = seg(v6).ip_packet();
            let af = if v6 { 24u32 } else { 2 };
            let n = Link::Null.wrap(&ip, v6);
            assert_eq!(n[..4], af.to_le_bytes());
            check_ip_tcp(&SlicedPacket::from_ip(&n[4..]).expect("parse"), v6);
            let l = Link::Loop.wrap(&ip, v6);
            assert_eq!(l[..4], af.to_be_bytes());
            check_ip_tcp(&SlicedPacket::from_ip(&l[4..]).expect("parse"), v6);
            let r = Link::RawIp.wrap(&ip, v6);
            assert_eq!(r, ip);
            check_ip_tcp(&SlicedPacket::from_ip(&r).expect("parse"), v6);
            let c = Link::NullAf {
                af: AF_INET6_DARWIN,
                big_endian: false,
            }
            .wrap(&ip, v6);
            assert_eq!(c[..4], 30u32.to_le_bytes());
        }
        assert_eq!(Link::Null.linktype(), 0);
        assert_eq!(Link::Loop.linktype(), 108);
        assert_eq!(Link::RawIp.linktype(), 101);
    }
}
