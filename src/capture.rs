//! Capture sources: legacy pcap (both byte orders, micro/nanosecond, Kuznetzov's modified format)
//! and pcapng (several sections and interfaces, `if_tsresol`, `if_tsoffset`), read zero-copy from
//! a byte slice (usually a memory-mapped file).
//!
//! The reader yields [`RawPacket`]s borrowing the input. A file that ends in the middle of a
//! record yields every complete record and then reports the cut through [`CaptureReader::notices`];
//! it is not an error. Bytes that are not a capture at all are an error ([`CaptureError`]).

use crate::timestamp::Timestamp;
use pcap_parser::nom;
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, parse_sectionheaderblock, Block};
use pcap_parser::PcapError;

/// Link-layer header type numbers (tcpdump.org LINKTYPE_* values) that wsscope decodes.
pub mod linktype {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II, with optional 802.1Q / 802.1ad tags.
    pub const ETHERNET: u32 = 1;
    /// Raw IP (some systems write 12 or 14 for this).
    pub const RAW: u32 = 101;
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture v1 (`tcpdump -i any` on older versions).
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux "cooked" capture v2 (`tcpdump -i any` on libpcap >= 1.10).
    pub const LINUX_SLL2: u32 = 276;
}

/// One captured record: the link-layer bytes as stored, with its timestamp.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// LINKTYPE_* of the interface the packet was captured on.
    pub linktype: u32,
    /// Captured bytes (may be shorter than `orig_len` when the snaplen cut the packet).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// Which container format the input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Legacy libpcap format.
    Pcap {
        /// Header written big-endian.
        big_endian: bool,
        /// Timestamps carry nanoseconds instead of microseconds.
        nanos: bool,
    },
    /// pcapng.
    PcapNg,
}

impl CaptureFormat {
    /// Short name for reports: `pcap` or `pcapng`.
    pub fn name(self) -> &'static str {
        match self {
            CaptureFormat::Pcap { .. } => "pcap",
            CaptureFormat::PcapNg => "pcapng",
        }
    }
}

/// Why bytes could not be read as a capture at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureError {
    /// Zero bytes.
    #[error("file is empty")]
    Empty,
    /// The first bytes are not a pcap or pcapng magic number.
    #[error("not a pcap or pcapng file (starts with {0})")]
    NotACapture(String),
    /// The file header itself is cut short or malformed.
    #[error("capture file header is truncated or malformed")]
    BadHeader,
}

/// Something wrong inside a capture that did not stop reading what came before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureNotice {
    /// The file ends inside a record: `offset` is where the partial record starts.
    Truncated {
        /// Byte offset of the incomplete record.
        offset: u64,
        /// Bytes present of that record.
        present: u64,
    },
    /// A record could not be parsed; reading stopped there.
    Malformed {
        /// Byte offset of the bad record.
        offset: u64,
        /// What was wrong.
        detail: String,
    },
    /// A pcapng packet referred to an interface that was never described; it was skipped.
    UnknownInterface {
        /// Byte offset of the packet block.
        offset: u64,
        /// The interface id it named.
        if_id: u32,
    },
}

impl std::fmt::Display for CaptureNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureNotice::Truncated { offset, present } => write!(
                f,
                "file ends inside a record at byte {offset} ({present} bytes of it present); \
                 packets before it were read"
            ),
            CaptureNotice::Malformed { offset, detail } => {
                write!(
                    f,
                    "malformed record at byte {offset} ({detail}); reading stopped"
                )
            }
            CaptureNotice::UnknownInterface { offset, if_id } => write!(
                f,
                "packet at byte {offset} names undescribed interface {if_id}; skipped"
            ),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds to add to every timestamp.
    offset_secs: i64,
}

enum State {
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        linktype: u32,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
        last_ts: Timestamp,
    },
}

/// Streaming, zero-copy reader over an in-memory capture.
pub struct CaptureReader<'a> {
    input: &'a [u8],
    pos: usize,
    state: State,
    format: CaptureFormat,
    notices: Vec<CaptureNotice>,
    /// Packets skipped for naming an undescribed interface (only the first
    /// [`UNKNOWN_INTERFACE_LISTED`] are in `notices`).
    unknown_interface: u64,
    done: bool,
    linktypes: Vec<u32>,
}

/// Packets naming an undescribed interface listed one by one in [`CaptureReader::notices`];
/// the rest are only counted ([`CaptureReader::unknown_interface_unlisted`]), so a capture of
/// millions of such packets costs no memory per packet.
pub const UNKNOWN_INTERFACE_LISTED: u64 = 100;

const PCAPNG_SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Decodes a pcapng `if_tsresol` byte to units per second (power of 10, or of 2 if the high bit is set).
pub fn tsresol_units_per_sec(tsresol: u8) -> Option<u64> {
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(u32::from(tsresol))
    } else {
        1u64.checked_shl(u32::from(tsresol & 0x7f))
    }
}

fn describe_magic(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", shown.join(" "))
}

impl<'a> CaptureReader<'a> {
    /// Recognises the format from the first bytes and reads the file header.
    pub fn new(input: &'a [u8]) -> Result<Self, CaptureError> {
        if input.is_empty() {
            return Err(CaptureError::Empty);
        }
        if input.len() >= 4 && input[..4] == PCAPNG_SHB_MAGIC {
            let mut reader = CaptureReader {
                input,
                pos: 0,
                state: State::PcapNg {
                    big_endian: false,
                    interfaces: Vec::new(),
                    last_ts: Timestamp(0),
                },
                format: CaptureFormat::PcapNg,
                notices: Vec::new(),
                unknown_interface: 0,
                done: false,
                linktypes: Vec::new(),
            };
            // The first section header must parse, or this is not a usable pcapng file.
            match parse_sectionheaderblock(input) {
                Ok((rest, shb)) => {
                    reader.pos = input.len() - rest.len();
                    reader.state = State::PcapNg {
                        big_endian: shb.big_endian(),
                        interfaces: Vec::new(),
                        last_ts: Timestamp(0),
                    };
                }
                Err(_) => return Err(CaptureError::BadHeader),
            }
            return Ok(reader);
        }
        if input.len() < 4 {
            return Err(CaptureError::NotACapture(describe_magic(input)));
        }
        match parse_pcap_header(input) {
            Ok((rest, header)) => {
                let big_endian = header.is_bigendian();
                let nanos = header.is_nanosecond_precision();
                let linktype = header.network.0 as u32;
                Ok(CaptureReader {
                    input,
                    pos: input.len() - rest.len(),
                    state: State::Pcap {
                        big_endian,
                        nanos,
                        modified: header.is_modified_format(),
                        linktype,
                    },
                    format: CaptureFormat::Pcap { big_endian, nanos },
                    notices: Vec::new(),
                    unknown_interface: 0,
                    done: false,
                    linktypes: vec![linktype],
                })
            }
            Err(nom::Err::Incomplete(_)) => Err(CaptureError::BadHeader),
            Err(_) => Err(CaptureError::NotACapture(describe_magic(input))),
        }
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Problems met so far (truncation, malformed records, unknown interfaces).
    pub fn notices(&self) -> &[CaptureNotice] {
        &self.notices
    }

    /// Packets naming an undescribed interface beyond the first [`UNKNOWN_INTERFACE_LISTED`]:
    /// skipped like them, counted but not listed in [`Self::notices`].
    pub fn unknown_interface_unlisted(&self) -> u64 {
        self.unknown_interface
            .saturating_sub(UNKNOWN_INTERFACE_LISTED)
    }

    /// Link types seen so far (one per pcap file, one per pcapng interface).
    pub fn linktypes(&self) -> &[u32] {
        &self.linktypes
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Total input length.
    pub fn len(&self) -> usize {
        self.input.len()
    }

    /// True when the input is empty (never the case for a successfully created reader).
    pub fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    fn stop_on_error(&mut self, err: nom::Err<PcapError<&[u8]>>) {
        let offset = self.pos as u64;
        let notice = match err {
            nom::Err::Incomplete(_) => CaptureNotice::Truncated {
                offset,
                present: (self.input.len() - self.pos) as u64,
            },
            nom::Err::Error(e) | nom::Err::Failure(e) => match e {
                PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
                    CaptureNotice::Truncated {
                        offset,
                        present: (self.input.len() - self.pos) as u64,
                    }
                }
                other => CaptureNotice::Malformed {
                    offset,
                    detail: format!("{other:?}").chars().take(80).collect(),
                },
            },
        };
        self.notices.push(notice);
        self.done = true;
    }

    fn next_pcap(&mut self) -> Option<RawPacket<'a>> {
        let State::Pcap {
            big_endian,
            nanos,
            modified,
            linktype,
        } = self.state
        else {
            return None;
        };
        let rest = &self.input[self.pos..];
        let parsed = if modified {
            parse_pcap_frame_modified(rest)
        } else if big_endian {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        match parsed {
            Ok((after, block)) => {
                self.pos = self.input.len() - after.len();
                let frac = if nanos {
                    block.ts_usec.min(999_999_999)
                } else {
                    block.ts_usec.min(999_999) * 1000
                };
                Some(RawPacket {
                    ts: Timestamp::from_parts(i64::from(block.ts_sec), frac),
                    linktype,
                    data: block.data,
                    orig_len: block.origlen.max(block.caplen),
                })
            }
            Err(e) => {
                self.stop_on_error(e);
                None
            }
        }
    }

    fn next_pcapng(&mut self) -> Option<RawPacket<'a>> {
        loop {
            let State::PcapNg {
                big_endian,
                ref mut interfaces,
                ref mut last_ts,
            } = self.state
            else {
                return None;
            };
            let rest = &self.input[self.pos..];
            if rest.is_empty() {
                self.done = true;
                return None;
            }
            let block_offset = self.pos as u64;
            // pcap-parser 0.17 underflows on block lengths below 12 (found by fuzzing): every
            // pcapng block is at least 12 bytes and a multiple of 4, so check first.
            if rest.len() >= 8 {
                let raw = [rest[4], rest[5], rest[6], rest[7]];
                let is_shb = rest[..4] == PCAPNG_SHB_MAGIC;
                let len_le = u32::from_le_bytes(raw);
                let len_be = u32::from_be_bytes(raw);
                let bad = |l: u32| l < 12 || l % 4 != 0;
                let malformed = if is_shb {
                    bad(len_le) && bad(len_be)
                } else if big_endian {
                    bad(len_be)
                } else {
                    bad(len_le)
                };
                if malformed {
                    self.notices.push(CaptureNotice::Malformed {
                        offset: block_offset,
                        detail: "pcapng block length below 12 or not a multiple of 4".into(),
                    });
                    self.done = true;
                    return None;
                }
            }
            let parsed = if rest.len() >= 4 && rest[..4] == PCAPNG_SHB_MAGIC {
                parse_sectionheaderblock(rest).map(|(r, b)| (r, Block::SectionHeader(b)))
            } else if big_endian {
                parse_block_be(rest)
            } else {
                parse_block_le(rest)
            };
            let (after, block) = match parsed {
                Ok(ok) => ok,
                Err(e) => {
                    self.stop_on_error(e);
                    return None;
                }
            };
            let consumed = rest.len() - after.len();
            if consumed == 0 {
                self.notices.push(CaptureNotice::Malformed {
                    offset: block_offset,
                    detail: "zero-length block".into(),
                });
                self.done = true;
                return None;
            }
            self.pos += consumed;
            match block {
                Block::SectionHeader(shb) => {
                    self.state = State::PcapNg {
                        big_endian: shb.big_endian(),
                        interfaces: Vec::new(),
                        last_ts: *last_ts,
                    };
                }
                Block::InterfaceDescription(idb) => {
                    let linktype = idb.linktype.0 as u32;
                    interfaces.push(Interface {
                        linktype,
                        units_per_sec: tsresol_units_per_sec(idb.if_tsresol).unwrap_or(1_000_000),
                        offset_secs: idb.if_tsoffset,
                    });
                    if !self.linktypes.contains(&linktype) {
                        self.linktypes.push(linktype);
                    }
                }
                Block::EnhancedPacket(epb) => {
                    let Some(iface) = interfaces.get(epb.if_id as usize).copied() else {
                        self.unknown_interface += 1;
                        if self.unknown_interface <= UNKNOWN_INTERFACE_LISTED {
                            self.notices.push(CaptureNotice::UnknownInterface {
                                offset: block_offset,
                                if_id: epb.if_id,
                            });
                        }
                        continue;
                    };
                    let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let units = iface.units_per_sec.max(1);
                    let secs = (raw / units) as i64;
                    let frac_nanos =
                        ((u128::from(raw % units) * 1_000_000_000) / u128::from(units)) as u32;
                    let ts =
                        Timestamp::from_parts(secs.saturating_add(iface.offset_secs), frac_nanos);
                    *last_ts = ts;
                    let caplen = (epb.caplen as usize).min(epb.data.len());
                    return Some(RawPacket {
                        ts,
                        linktype: iface.linktype,
                        data: &epb.data[..caplen],
                        orig_len: epb.origlen.max(caplen as u32),
                    });
                }
                Block::SimplePacket(spb) => {
                    let Some(iface) = interfaces.first().copied() else {
                        self.unknown_interface += 1;
                        if self.unknown_interface <= UNKNOWN_INTERFACE_LISTED {
                            self.notices.push(CaptureNotice::UnknownInterface {
                                offset: block_offset,
                                if_id: 0,
                            });
                        }
                        continue;
                    };
                    let caplen = (spb.origlen as usize).min(spb.data.len());
                    return Some(RawPacket {
                        ts: *last_ts,
                        linktype: iface.linktype,
                        data: &spb.data[..caplen],
                        orig_len: spb.origlen.max(caplen as u32),
                    });
                }
                _ => {}
            }
        }
    }
}

impl<'a> Iterator for CaptureReader<'a> {
    type Item = RawPacket<'a>;

    fn next(&mut self) -> Option<RawPacket<'a>> {
        if self.done || self.pos >= self.input.len() {
            self.done = true;
            return None;
        }
        match self.format {
            CaptureFormat::Pcap { .. } => self.next_pcap(),
            CaptureFormat::PcapNg => self.next_pcapng(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header_le(nanos: bool, linktype: u32) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut v = magic.to_le_bytes().to_vec();
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&linktype.to_le_bytes());
        v
    }

    fn record_le(sec: u32, frac: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [sec, frac, data.len() as u32, data.len() as u32] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn empty_and_garbage_are_errors() {
        assert_eq!(CaptureReader::new(b"").err(), Some(CaptureError::Empty));
        assert!(matches!(
            CaptureReader::new(b"hello world, not a pcap").err(),
            Some(CaptureError::NotACapture(_))
        ));
        assert_eq!(
            CaptureReader::new(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).err(),
            Some(CaptureError::BadHeader)
        );
    }

    #[test]
    fn reads_records_and_reports_cut_record() {
        let mut file = pcap_header_le(true, linktype::RAW);
        file.extend(record_le(10, 5, b"abcd"));
        file.extend(record_le(11, 999_999_999, b"efgh"));
        let cut = record_le(12, 0, b"ijklmnop");
        file.extend_from_slice(&cut[..20]);
        let mut reader = CaptureReader::new(&file).expect("header");
        let packets: Vec<_> = reader.by_ref().collect();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].ts, Timestamp::from_parts(10, 5));
        assert_eq!(packets[1].ts, Timestamp::from_parts(11, 999_999_999));
        assert_eq!(packets[1].data, b"efgh");
        assert!(matches!(
            reader.notices(),
            [CaptureNotice::Truncated { present: 20, .. }]
        ));
    }

    #[test]
    fn tsresol_powers_of_ten_and_two() {
        assert_eq!(tsresol_units_per_sec(6), Some(1_000_000));
        assert_eq!(tsresol_units_per_sec(9), Some(1_000_000_000));
        assert_eq!(tsresol_units_per_sec(0x80 | 10), Some(1024));
        assert_eq!(tsresol_units_per_sec(30), None);
    }
}
