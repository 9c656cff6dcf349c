//! Capture sources: legacy pcap (both byte orders, micro/nanosecond, Kuznetzov's modified format)
//! and pcapng (several sections and interfaces, `if_tsresol`, `if_tsoffset`), read zero-copy from
//! a byte slice ([`CaptureReader`]) or streamed from any [`Read`] through a bounded buffer
//! ([`StreamReader`]: files, pipes, standard input). Both share one parser and yield the same
//! packets and notices.
//!
//! The readers yield [`RawPacket`]s borrowing the input. A file that ends in the middle of a
//! record yields every complete record and then reports the cut through [`CaptureReader::notices`];
//! it is not an error. Bytes that are not a capture at all are an error ([`CaptureError`]).

use crate::timestamp::Timestamp;
use crate::tls::keylog::KeyStore;
use pcap_parser::nom;
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};
use pcap_parser::pcapng::{
    parse_block_be, parse_block_le, parse_sectionheaderblock, Block, DecryptionSecretsBlock,
    SecretsType,
};
use pcap_parser::PcapError;
use std::io::Read;

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

/// Why a record could not be parsed, in words (never the parser's Debug text, which would
/// print the input bytes).
fn describe_parse_error(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::Eof | PcapError::UnexpectedEof => "unexpected end of data".into(),
        PcapError::BufferTooSmall => "record larger than the read buffer".into(),
        PcapError::ReadError => "read error".into(),
        PcapError::Incomplete(n) => format!("{n} more bytes needed"),
        PcapError::HeaderNotRecognized => "header not recognized as pcap or pcapng".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("the record does not parse ({})", kind.description())
        }
    }
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
    /// Reading the input failed; what was read before was analysed.
    ReadError {
        /// Byte offset where reading failed.
        offset: u64,
        /// The error.
        detail: String,
    },
    /// The file became shorter while it was read (rotated or rewritten).
    Shrank {
        /// Its size when opened.
        from: u64,
        /// Its size when reading ended.
        to: u64,
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
            CaptureNotice::ReadError { offset, detail } => write!(
                f,
                "read error at byte {offset} ({detail}); packets before it were read"
            ),
            CaptureNotice::Shrank { from, to } => write!(
                f,
                "file shrank from {from} to {to} bytes while being read (rotated or rewritten); \
                 packets read before were analysed"
            ),
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

/// Parsing state shared by [`CaptureReader`] (a byte slice) and [`StreamReader`] (any
/// [`Read`]): everything but the bytes themselves.
struct Parser {
    state: State,
    format: CaptureFormat,
    notices: Vec<CaptureNotice>,
    /// Packets skipped for naming an undescribed interface (only the first
    /// [`UNKNOWN_INTERFACE_LISTED`] are in `notices`).
    unknown_interface: u64,
    done: bool,
    linktypes: Vec<u32>,
    /// Where the TLS key logs of Decryption Secrets Blocks go.
    keys: Option<KeyStore>,
    secrets: SecretsStats,
}

/// Largest Decryption Secrets Block whose key log is used (a key log line is about 200
/// bytes: this is hundreds of thousands of connections); a larger one is counted in
/// [`SecretsStats::oversized`] and ignored.
pub const MAX_SECRETS_BLOCK: usize = 64 << 20;

/// What the pcapng Decryption Secrets Blocks of a capture held (block type `0x0000000A`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecretsStats {
    /// TLS key log blocks (secrets type `0x544c534b`, "TLSK") read; their text went to the key
    /// store when one was given.
    pub tls_blocks: u64,
    /// Bytes of TLS key log text in them.
    pub tls_bytes: u64,
    /// Blocks of other secrets types (WireGuard, ...), ignored.
    pub other_type: u64,
    /// TLS key log blocks over [`MAX_SECRETS_BLOCK`], ignored.
    pub oversized: u64,
}

/// Packets naming an undescribed interface listed one by one in the readers' notices; the
/// rest are only counted (`unknown_interface_unlisted`), so a capture of millions of such
/// packets costs no memory per packet.
pub const UNKNOWN_INTERFACE_LISTED: u64 = 100;

/// What [`Parser::step`] found at the current position.
enum Step<'b> {
    /// A packet, and the bytes consumed through its record.
    Packet(RawPacket<'b>, usize),
    /// A record that carries no packet (pcapng metadata, a packet of an unknown interface).
    Skipped(usize),
    /// The record is not complete in the bytes given and more may come: at least this many
    /// bytes from the current position are needed.
    NeedMore(usize),
    /// Reading is over (a notice says why when it is not a clean end of file).
    End,
}

/// Zero-copy reader over an in-memory capture (tests, fuzzing, benches).
pub struct CaptureReader<'a> {
    input: &'a [u8],
    pos: usize,
    parser: Parser,
}

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

impl Parser {
    /// Counts a packet naming an undescribed interface; lists the first
    /// [`UNKNOWN_INTERFACE_LISTED`] of them.
    fn unknown_interface(&mut self, offset: u64, if_id: u32) {
        self.unknown_interface += 1;
        if self.unknown_interface <= UNKNOWN_INTERFACE_LISTED {
            self.notices
                .push(CaptureNotice::UnknownInterface { offset, if_id });
        }
    }

    /// Packets naming an undescribed interface beyond the listed ones.
    fn unknown_interface_unlisted(&self) -> u64 {
        self.unknown_interface
            .saturating_sub(UNKNOWN_INTERFACE_LISTED)
    }

    /// A Decryption Secrets Block: a TLS key log goes to the key store (before the packets
    /// after it are read); other secrets types and oversized blocks are counted and ignored.
    fn secrets_block(&mut self, dsb: &DecryptionSecretsBlock<'_>) {
        if dsb.secrets_type != SecretsType::TlsKeyLog {
            self.secrets.other_type += 1;
            return;
        }
        // `data` is padded to 32 bits; the key log is its first `secrets_len` bytes.
        let len = (dsb.secrets_len as usize).min(dsb.data.len());
        if len > MAX_SECRETS_BLOCK {
            self.secrets.oversized += 1;
            return;
        }
        self.secrets.tls_blocks += 1;
        self.secrets.tls_bytes += len as u64;
        if let Some(keys) = &self.keys {
            keys.push_complete(&dsb.data[..len]);
        }
    }

    /// Recognises the format from the first bytes and reads the file header. `Ok(None)`: the
    /// header is not complete in `input` and more bytes may come (`eof` false).
    fn header(input: &[u8], eof: bool) -> Result<Option<(Parser, usize)>, CaptureError> {
        if input.is_empty() {
            return if eof {
                Err(CaptureError::Empty)
            } else {
                Ok(None)
            };
        }
        if input.len() < 4 && !eof && PCAPNG_SHB_MAGIC.starts_with(input) {
            return Ok(None);
        }
        if input.len() >= 4 && input[..4] == PCAPNG_SHB_MAGIC {
            // The first section header must parse, or this is not a usable pcapng file.
            return match parse_sectionheaderblock(input) {
                Ok((rest, shb)) => Ok(Some((
                    Parser {
                        state: State::PcapNg {
                            big_endian: shb.big_endian(),
                            interfaces: Vec::new(),
                            last_ts: Timestamp(0),
                        },
                        format: CaptureFormat::PcapNg,
                        notices: Vec::new(),
                        unknown_interface: 0,
                        done: false,
                        linktypes: Vec::new(),
                        keys: None,
                        secrets: SecretsStats::default(),
                    },
                    input.len() - rest.len(),
                ))),
                Err(nom::Err::Incomplete(_)) if !eof && input.len() < MAX_RECORD => Ok(None),
                Err(_) => Err(CaptureError::BadHeader),
            };
        }
        if input.len() < 4 {
            return if eof {
                Err(CaptureError::NotACapture(describe_magic(input)))
            } else {
                Ok(None)
            };
        }
        match parse_pcap_header(input) {
            Ok((rest, header)) => {
                let big_endian = header.is_bigendian();
                let nanos = header.is_nanosecond_precision();
                let linktype = header.network.0 as u32;
                Ok(Some((
                    Parser {
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
                        keys: None,
                        secrets: SecretsStats::default(),
                    },
                    input.len() - rest.len(),
                )))
            }
            Err(nom::Err::Incomplete(_)) if !eof => Ok(None),
            Err(nom::Err::Incomplete(_)) => Err(CaptureError::BadHeader),
            Err(_) => Err(CaptureError::NotACapture(describe_magic(input))),
        }
    }

    /// Bytes the record starting at `rest` declares (header included), as far as its first
    /// bytes tell; one more than `rest` holds when they do not tell yet. A declared length
    /// that `rest` already holds means the record contradicts itself (see [`Self::on_error`]).
    fn declared_len(&self, rest: &[u8]) -> usize {
        let word = |at: usize, be: bool| -> Option<usize> {
            let b: [u8; 4] = rest.get(at..at + 4)?.try_into().ok()?;
            Some(if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            } as usize)
        };
        let declared = match self.state {
            State::Pcap {
                big_endian,
                modified,
                ..
            } => {
                let head = if modified { 24 } else { 16 };
                word(8, big_endian).map(|caplen| caplen.saturating_add(head))
            }
            State::PcapNg { big_endian, .. } => {
                if rest.len() >= 4 && rest[..4] == PCAPNG_SHB_MAGIC {
                    // A new section says its own byte order (magic 0x1A2B3C4D at byte 8).
                    match rest.get(8..12) {
                        Some([0x4d, 0x3c, 0x2b, 0x1a]) => word(4, false),
                        Some(_) => word(4, true),
                        None => None,
                    }
                } else {
                    word(4, big_endian)
                }
            }
        };
        declared.unwrap_or(rest.len() + 1)
    }

    /// Records a problem that ends reading.
    fn stop(&mut self, notice: CaptureNotice) -> Step<'static> {
        self.notices.push(notice);
        self.done = true;
        Step::End
    }

    /// Handles a parse error of the record at `rest` (byte `offset` of the input).
    fn on_error<'b>(
        &mut self,
        err: nom::Err<PcapError<&[u8]>>,
        rest: &[u8],
        offset: u64,
        eof: bool,
    ) -> Step<'b> {
        let incomplete = match &err {
            nom::Err::Incomplete(_) => true,
            nom::Err::Error(e) | nom::Err::Failure(e) => matches!(
                e,
                PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof
            ),
        };
        if incomplete {
            let need = self.declared_len(rest);
            // Only ask for more when the record really extends past what is here; a record
            // whose contents need more than its own declared length is malformed (asking for
            // more would buffer the rest of a stream for nothing).
            if need <= rest.len() {
                return self.stop(CaptureNotice::Malformed {
                    offset,
                    detail: format!("its contents run past its declared length of {need} bytes"),
                });
            }
            if !eof {
                return Step::NeedMore(need);
            }
            return self.stop(CaptureNotice::Truncated {
                offset,
                present: rest.len() as u64,
            });
        }
        let detail = match err {
            nom::Err::Error(e) | nom::Err::Failure(e) => describe_parse_error(&e),
            nom::Err::Incomplete(_) => String::new(),
        };
        self.stop(CaptureNotice::Malformed { offset, detail })
    }

    /// Parses the record at the start of `rest`, which begins at byte `offset` of the input.
    /// `eof`: no bytes follow `rest`.
    #[inline]
    fn step<'b>(&mut self, rest: &'b [u8], offset: u64, eof: bool) -> Step<'b> {
        if self.done {
            return Step::End;
        }
        if rest.is_empty() {
            if eof {
                self.done = true;
                return Step::End;
            }
            return Step::NeedMore(1);
        }
        match self.format {
            CaptureFormat::Pcap { .. } => self.step_pcap(rest, offset, eof),
            CaptureFormat::PcapNg => self.step_pcapng(rest, offset, eof),
        }
    }

    #[inline]
    fn step_pcap<'b>(&mut self, rest: &'b [u8], offset: u64, eof: bool) -> Step<'b> {
        let State::Pcap {
            big_endian,
            nanos,
            modified,
            linktype,
        } = self.state
        else {
            return Step::End;
        };
        let parsed = if modified {
            parse_pcap_frame_modified(rest)
        } else if big_endian {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        match parsed {
            Ok((after, block)) => {
                let frac = if nanos {
                    block.ts_usec.min(999_999_999)
                } else {
                    block.ts_usec.min(999_999) * 1000
                };
                Step::Packet(
                    RawPacket {
                        ts: Timestamp::from_parts(i64::from(block.ts_sec), frac),
                        linktype,
                        data: block.data,
                        orig_len: block.origlen.max(block.caplen),
                    },
                    rest.len() - after.len(),
                )
            }
            Err(e) => self.on_error(e, rest, offset, eof),
        }
    }

    fn step_pcapng<'b>(&mut self, rest: &'b [u8], offset: u64, eof: bool) -> Step<'b> {
        let State::PcapNg { big_endian, .. } = self.state else {
            return Step::End;
        };
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
                return self.stop(CaptureNotice::Malformed {
                    offset,
                    detail: "pcapng block length below 12 or not a multiple of 4".into(),
                });
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
            Err(e) => return self.on_error(e, rest, offset, eof),
        };
        let consumed = rest.len() - after.len();
        if consumed == 0 {
            return self.stop(CaptureNotice::Malformed {
                offset,
                detail: "zero-length block".into(),
            });
        }
        let State::PcapNg {
            ref mut interfaces,
            ref mut last_ts,
            ..
        } = self.state
        else {
            return Step::End;
        };
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
                    self.unknown_interface(offset, epb.if_id);
                    return Step::Skipped(consumed);
                };
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let units = iface.units_per_sec.max(1);
                let secs = (raw / units) as i64;
                let frac_nanos =
                    ((u128::from(raw % units) * 1_000_000_000) / u128::from(units)) as u32;
                let ts = Timestamp::from_parts(secs.saturating_add(iface.offset_secs), frac_nanos);
                *last_ts = ts;
                let caplen = (epb.caplen as usize).min(epb.data.len());
                return Step::Packet(
                    RawPacket {
                        ts,
                        linktype: iface.linktype,
                        data: &epb.data[..caplen],
                        orig_len: epb.origlen.max(caplen as u32),
                    },
                    consumed,
                );
            }
            Block::SimplePacket(spb) => {
                let Some(iface) = interfaces.first().copied() else {
                    self.unknown_interface(offset, 0);
                    return Step::Skipped(consumed);
                };
                let caplen = (spb.origlen as usize).min(spb.data.len());
                return Step::Packet(
                    RawPacket {
                        ts: *last_ts,
                        linktype: iface.linktype,
                        data: &spb.data[..caplen],
                        orig_len: spb.origlen.max(caplen as u32),
                    },
                    consumed,
                );
            }
            Block::DecryptionSecrets(dsb) => self.secrets_block(&dsb),
            _ => {}
        }
        Step::Skipped(consumed)
    }
}

impl<'a> CaptureReader<'a> {
    /// Recognises the format from the first bytes and reads the file header.
    pub fn new(input: &'a [u8]) -> Result<Self, CaptureError> {
        match Parser::header(input, true)? {
            Some((parser, pos)) => Ok(CaptureReader { input, pos, parser }),
            None => Err(CaptureError::BadHeader),
        }
    }

    /// Gives the TLS key logs of the capture's Decryption Secrets Blocks to `keys` as they are
    /// read (before the packets that follow them).
    pub fn with_keys(mut self, keys: KeyStore) -> Self {
        self.parser.keys = Some(keys);
        self
    }

    /// What the Decryption Secrets Blocks read so far held.
    pub fn secrets(&self) -> SecretsStats {
        self.parser.secrets
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.parser.format
    }

    /// Problems met so far (truncation, malformed records, unknown interfaces).
    pub fn notices(&self) -> &[CaptureNotice] {
        &self.parser.notices
    }

    /// Link types seen so far (one per pcap file, one per pcapng interface).
    pub fn linktypes(&self) -> &[u32] {
        &self.parser.linktypes
    }

    /// Packets naming an undescribed interface beyond the first [`UNKNOWN_INTERFACE_LISTED`]:
    /// skipped like them, counted but not listed in the notices.
    pub fn unknown_interface_unlisted(&self) -> u64 {
        self.parser.unknown_interface_unlisted()
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
}

impl<'a> Iterator for CaptureReader<'a> {
    type Item = RawPacket<'a>;

    fn next(&mut self) -> Option<RawPacket<'a>> {
        loop {
            let rest = &self.input[self.pos..];
            match self.parser.step(rest, self.pos as u64, true) {
                Step::Packet(p, consumed) => {
                    self.pos += consumed;
                    return Some(p);
                }
                Step::Skipped(consumed) => self.pos += consumed,
                Step::NeedMore(_) | Step::End => return None,
            }
        }
    }
}

/// Largest record (or pcapng section header) [`StreamReader`] buffers: a record declaring
/// more is reported as malformed and reading stops, so memory stays bounded whatever a
/// capture declares.
pub const MAX_RECORD: usize = 256 << 20;

/// Bytes [`StreamReader`] asks of its source per read.
const CHUNK: usize = 1 << 20;

/// Why a [`StreamReader`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a capture.
    #[error("{0}")]
    Capture(#[from] CaptureError),
}

/// Reader over any byte source ([`Read`]): a pipe, standard input, a file, with memory
/// bounded by the largest record. Packets borrow the reader's buffer until the next call.
///
/// Reading is sequential with ordinary `read` calls, so a file truncated while it is read
/// (log rotation, tcpdump rewriting it) simply ends early: the cut is reported as a notice,
/// never a fault (a memory map would raise SIGBUS).
pub struct StreamReader<R> {
    src: R,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Input offset of `buf[start]`.
    offset: u64,
    eof: bool,
    parser: Parser,
}

impl<R: Read> StreamReader<R> {
    /// Reads the file header from `src`.
    pub fn new(src: R) -> Result<Self, StreamError> {
        let mut reader = StreamReader {
            src,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            parser: Parser {
                state: State::Pcap {
                    big_endian: false,
                    nanos: false,
                    modified: false,
                    linktype: 0,
                },
                format: CaptureFormat::PcapNg,
                notices: Vec::new(),
                unknown_interface: 0,
                done: true,
                linktypes: Vec::new(),
                keys: None,
                secrets: SecretsStats::default(),
            },
        };
        let mut want = 1;
        loop {
            if let Some(e) = reader.fill(want) {
                return Err(StreamError::Io(e));
            }
            let have = &reader.buf[..reader.end];
            match Parser::header(have, reader.eof)? {
                Some((parser, len)) => {
                    reader.parser = parser;
                    reader.start = len;
                    reader.offset = len as u64;
                    return Ok(reader);
                }
                None if reader.end >= MAX_RECORD => return Err(CaptureError::BadHeader.into()),
                None => want = reader.end + 1,
            }
        }
    }

    /// Makes at least `need` unconsumed bytes available, unless the source ends first.
    /// Returns a read error (then the source counts as ended).
    fn fill(&mut self, need: usize) -> Option<std::io::Error> {
        if self.start > 0
            && (self.start + need > self.buf.len() || self.buf.len() - self.end < CHUNK / 2)
        {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < need && !self.eof {
            if self.end == self.buf.len() {
                // Grow only as bytes arrive (doubling up to what the record declares): a
                // record that declares 256 MiB costs memory only if its bytes are there.
                let want = (self.start + need).next_multiple_of(CHUNK);
                let grown = (self.buf.len() * 2).min(want).max(self.buf.len() + CHUNK);
                self.buf.resize(grown, 0);
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    return Some(e);
                }
            }
        }
        None
    }

    /// The next packet, or `None` at the end (see [`StreamReader::notices`] for why).
    #[inline]
    pub fn next_packet(&mut self) -> Option<RawPacket<'_>> {
        loop {
            let rest = &self.buf[self.start..self.end];
            let base = self.buf.as_ptr() as usize;
            // The packet's bytes as a range of `buf`, so the borrow ends before `buf` is
            // touched again (refilling moves the bytes).
            let found = match self.parser.step(rest, self.offset, self.eof) {
                Step::Packet(p, consumed) => {
                    let at = p.data.as_ptr() as usize - base;
                    Some((
                        p.ts,
                        p.linktype,
                        p.orig_len,
                        at..at + p.data.len(),
                        consumed,
                    ))
                }
                Step::Skipped(consumed) => {
                    self.start += consumed;
                    self.offset += consumed as u64;
                    None
                }
                Step::NeedMore(need) => {
                    if need > MAX_RECORD {
                        let offset = self.offset;
                        self.parser.stop(CaptureNotice::Malformed {
                            offset,
                            detail: format!(
                                "record declares {need} bytes, more than the {} MiB limit",
                                MAX_RECORD >> 20
                            ),
                        });
                        return None;
                    }
                    if let Some(e) = self.fill(need) {
                        let offset = self.offset + (self.end - self.start) as u64;
                        self.parser.notices.push(CaptureNotice::ReadError {
                            offset,
                            detail: e.to_string(),
                        });
                    }
                    None
                }
                Step::End => return None,
            };
            if let Some((ts, linktype, orig_len, range, consumed)) = found {
                self.start += consumed;
                self.offset += consumed as u64;
                return Some(RawPacket {
                    ts,
                    linktype,
                    data: &self.buf[range],
                    orig_len,
                });
            }
        }
    }

    /// Gives the TLS key logs of the capture's Decryption Secrets Blocks to `keys` as they are
    /// read (before the packets that follow them).
    pub fn with_keys(mut self, keys: KeyStore) -> Self {
        self.parser.keys = Some(keys);
        self
    }

    /// What the Decryption Secrets Blocks read so far held.
    pub fn secrets(&self) -> SecretsStats {
        self.parser.secrets
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.parser.format
    }

    /// Problems met so far (truncation, malformed records, unknown interfaces, read errors).
    pub fn notices(&self) -> &[CaptureNotice] {
        &self.parser.notices
    }

    /// Adds a problem found by the caller (the file shrank while it was read).
    pub fn push_notice(&mut self, notice: CaptureNotice) {
        self.parser.notices.push(notice);
    }

    /// Link types seen so far (one per pcap file, one per pcapng interface).
    pub fn linktypes(&self) -> &[u32] {
        &self.parser.linktypes
    }

    /// Packets naming an undescribed interface beyond the first [`UNKNOWN_INTERFACE_LISTED`]:
    /// skipped like them, counted but not listed in the notices.
    pub fn unknown_interface_unlisted(&self) -> u64 {
        self.parser.unknown_interface_unlisted()
    }

    /// Input bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Bytes the reader's buffer occupies now (it grows only with bytes actually read).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A malformed record is described in words: the parser's Debug text (`NomError([1, 2,
    /// ...], Verify)`) printed the input bytes into the capture's warnings.
    #[test]
    fn parse_errors_are_described_without_debug_text() {
        let e = PcapError::NomError(
            &[0x1b_u8, 0x5b, 0x32, 0x4a][..],
            nom::error::ErrorKind::Verify,
        );
        assert_eq!(
            describe_parse_error(&e),
            "the record does not parse (predicate verification)"
        );
        assert_eq!(
            describe_parse_error(&PcapError::Incomplete(12)),
            "12 more bytes needed"
        );
    }

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

    fn ng_block(ty: u32, body: &[u8]) -> Vec<u8> {
        let mut padded = body.to_vec();
        padded.resize(body.len().next_multiple_of(4), 0);
        let len = (12 + padded.len()) as u32;
        let mut v = ty.to_le_bytes().to_vec();
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&padded);
        v.extend_from_slice(&len.to_le_bytes());
        v
    }

    fn secrets_block(secrets_type: u32, text: &[u8]) -> Vec<u8> {
        let mut body = secrets_type.to_le_bytes().to_vec();
        body.extend_from_slice(&(text.len() as u32).to_le_bytes());
        body.extend_from_slice(text);
        body.resize(8 + text.len().next_multiple_of(4), 0);
        ng_block(0x0000_000A, &body)
    }

    /// A pcapng Decryption Secrets Block's TLS key log reaches the key store before the
    /// packets after it; other secrets types are counted and ignored.
    #[test]
    fn decryption_secrets_blocks_fill_the_key_store() {
        let random = "ab".repeat(32);
        let line = format!("CLIENT_RANDOM {random} {}", "cd".repeat(48)); // no final newline
        let mut file = ng_block(
            0x0A0D_0D0A,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        file.extend(ng_block(1, &[101, 0, 0, 0, 0xff, 0xff, 0, 0]));
        file.extend(secrets_block(0x5747_4b4c, b"wireguard things"));
        file.extend(secrets_block(0x544c_534b, line.as_bytes()));
        let mut epb = vec![0u8; 20];
        epb[12] = 4;
        epb[16] = 4;
        epb.extend_from_slice(b"\x45\0\0\x04");
        file.extend(ng_block(6, &epb));

        let keys = KeyStore::new();
        let mut reader = CaptureReader::new(&file)
            .expect("pcapng")
            .with_keys(keys.clone());
        assert!(keys.is_empty());
        let packet = reader.next().expect("the packet after the secrets");
        assert_eq!(packet.data.len(), 4);
        assert_eq!(
            keys.counts(),
            (1, 1, 0),
            "secrets in the store before the packet"
        );
        let stats = reader.secrets();
        assert_eq!(
            stats,
            SecretsStats {
                tls_blocks: 1,
                tls_bytes: line.len() as u64,
                other_type: 1,
                oversized: 0,
            }
        );
        assert!(reader.next().is_none());
        assert!(reader.notices().is_empty(), "{:?}", reader.notices());

        // The streaming reader does the same.
        let keys = KeyStore::new();
        let mut stream = StreamReader::new(&file[..])
            .expect("pcapng")
            .with_keys(keys.clone());
        assert!(stream.next_packet().is_some());
        assert_eq!(keys.counts().0, 1);
        assert_eq!(stream.secrets().tls_blocks, 1);
    }

    #[test]
    fn tsresol_powers_of_ten_and_two() {
        assert_eq!(tsresol_units_per_sec(6), Some(1_000_000));
        assert_eq!(tsresol_units_per_sec(9), Some(1_000_000_000));
        assert_eq!(tsresol_units_per_sec(0x80 | 10), Some(1024));
        assert_eq!(tsresol_units_per_sec(30), None);
    }
}
