//! Streaming writers for classic pcap and pcapng capture files.

use std::io::{self, Write};

use super::Packet;

/// Options for the classic pcap global header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapOptions {
    /// Write all header fields big-endian (magic `a1b2c3d4` as stored bytes).
    pub big_endian: bool,
    /// Nanosecond timestamps (magic `a1b23c4d`) instead of microseconds.
    pub nanos: bool,
    /// Snapshot length: packet data longer than this is truncated on write.
    pub snaplen: u32,
    /// Link-layer header type (LINKTYPE_*), e.g. 1 = Ethernet.
    pub linktype: u32,
}

impl Default for PcapOptions {
    fn default() -> Self {
        PcapOptions {
            big_endian: false,
            nanos: false,
            snaplen: 65535,
            linktype: 1,
        }
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put_u32(out: &mut Vec<u8>, v: u32, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put_u64(out: &mut Vec<u8>, v: u64, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The methods both writers have for their underlying writer `self.w`.
macro_rules! raw_output {
    () => {
        /// Writes arbitrary bytes (e.g. a truncated trailing record or block, for robustness
        /// tests).
        pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.w.write_all(bytes)
        }

        /// Flushes the underlying writer.
        pub fn flush(&mut self) -> io::Result<()> {
            self.w.flush()
        }

        /// Returns the underlying writer.
        pub fn into_inner(self) -> W {
            self.w
        }
    };
}

/// Streaming classic-pcap writer.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    opts: PcapOptions,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header and returns the writer.
    pub fn new(mut w: W, opts: PcapOptions) -> io::Result<Self> {
        let be = opts.big_endian;
        let magic: u32 = if opts.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = Vec::with_capacity(24);
        put_u32(&mut h, magic, be);
        put_u16(&mut h, 2, be);
        put_u16(&mut h, 4, be);
        put_u32(&mut h, 0, be); // thiszone
        put_u32(&mut h, 0, be); // sigfigs
        put_u32(&mut h, opts.snaplen, be);
        put_u32(&mut h, opts.linktype, be);
        w.write_all(&h)?;
        Ok(PcapWriter { w, opts })
    }

    /// Options this writer was created with.
    pub fn options(&self) -> &PcapOptions {
        &self.opts
    }

    /// Writes one record; data beyond the snaplen is cut, `orig_len` is written verbatim.
    pub fn write_packet(&mut self, p: &Packet) -> io::Result<()> {
        let caplen = p.data.len().min(self.opts.snaplen as usize);
        let secs = p.ts_nanos.div_euclid(1_000_000_000);
        let sub = p.ts_nanos.rem_euclid(1_000_000_000);
        let frac = if self.opts.nanos { sub } else { sub / 1000 };
        let be = self.opts.big_endian;
        let mut h = [0u8; 16];
        let fields = [secs as u32, frac as u32, len_u32(caplen), p.orig_len];
        for (i, f) in fields.iter().enumerate() {
            let b = if be { f.to_be_bytes() } else { f.to_le_bytes() };
            h[i * 4..i * 4 + 4].copy_from_slice(&b);
        }
        self.w.write_all(&h)?;
        self.w.write_all(&p.data[..caplen])
    }

    raw_output!();
}

/// Serializes `packets` into an in-memory classic pcap file.
pub fn pcap_bytes(opts: PcapOptions, packets: &[Packet]) -> Vec<u8> {
    let size: usize = 24 + packets.iter().map(|p| 16 + p.data.len()).sum::<usize>();
    let mut w = PcapWriter::new(Vec::with_capacity(size), opts).expect("Vec write is infallible");
    for p in packets {
        w.write_packet(p).expect("Vec write is infallible");
    }
    w.into_inner()
}

/// pcapng Section Header Block type.
pub const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
/// pcapng Interface Description Block type.
pub const PCAPNG_IDB: u32 = 1;
/// pcapng Simple Packet Block type.
pub const PCAPNG_SPB: u32 = 3;
/// pcapng Enhanced Packet Block type.
pub const PCAPNG_EPB: u32 = 6;

#[derive(Debug, Clone, Copy)]
struct Interface {
    snaplen: u32,
    /// Timestamp units per second.
    units: u128,
}

/// Timestamp units per second for a pcapng `if_tsresol` value.
///
/// High bit clear: `10^v`; high bit set: `2^(v & 0x7f)`. Saturates for absurd values.
pub fn tsresol_units(tsresol: u8) -> u128 {
    let e = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u128.checked_pow(e).unwrap_or(u128::MAX)
    } else {
        2u128.checked_pow(e).unwrap_or(u128::MAX)
    }
}

/// Streaming pcapng writer (one or more sections, any number of interfaces).
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    w: W,
    big_endian: bool,
    ifaces: Vec<Interface>,
    scratch: Vec<u8>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes a Section Header Block (version 1.0, unknown section length).
    pub fn new(w: W, big_endian: bool) -> io::Result<Self> {
        let mut me = PcapNgWriter {
            w,
            big_endian,
            ifaces: Vec::new(),
            scratch: Vec::with_capacity(2048),
        };
        me.new_section()?;
        Ok(me)
    }

    /// Starts a new section (new SHB); interface ids restart at 0.
    pub fn new_section(&mut self) -> io::Result<()> {
        let be = self.big_endian;
        let mut body = Vec::with_capacity(16);
        put_u32(&mut body, 0x1A2B_3C4D, be);
        put_u16(&mut body, 1, be);
        put_u16(&mut body, 0, be);
        put_u64(&mut body, u64::MAX, be); // section length -1 = unknown
        self.ifaces.clear();
        self.write_block(PCAPNG_SHB, &body)
    }

    /// Writes an Interface Description Block with an `if_tsresol` option and returns its id.
    ///
    /// `tsresol` uses the pcapng encoding (6 = microseconds, 9 = nanoseconds,
    /// `0x80 | n` = 2^-n seconds). A `snaplen` of 0 means unlimited.
    pub fn add_interface(&mut self, linktype: u16, snaplen: u32, tsresol: u8) -> io::Result<u32> {
        let be = self.big_endian;
        let mut body = Vec::with_capacity(20);
        put_u16(&mut body, linktype, be);
        put_u16(&mut body, 0, be);
        put_u32(&mut body, snaplen, be);
        // if_tsresol (code 9, length 1, padded to 4)
        put_u16(&mut body, 9, be);
        put_u16(&mut body, 1, be);
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        // opt_endofopt
        put_u16(&mut body, 0, be);
        put_u16(&mut body, 0, be);
        self.write_block(PCAPNG_IDB, &body)?;
        self.ifaces.push(Interface {
            snaplen,
            units: tsresol_units(tsresol),
        });
        Ok(len_u32(self.ifaces.len() - 1))
    }

    fn caplen(snaplen: u32, len: usize) -> usize {
        if snaplen == 0 {
            len
        } else {
            len.min(snaplen as usize)
        }
    }

    /// Writes an Enhanced Packet Block for interface `if_id`.
    ///
    /// The timestamp is converted to the interface's resolution; data beyond the
    /// interface snaplen is cut. Unknown interface ids are written as-is (for
    /// malformed-input tests) using microsecond resolution and no snaplen.
    pub fn write_packet(&mut self, if_id: u32, p: &Packet) -> io::Result<()> {
        let iface = self
            .ifaces
            .get(if_id as usize)
            .copied()
            .unwrap_or(Interface {
                snaplen: 0,
                units: 1_000_000,
            });
        let caplen = Self::caplen(iface.snaplen, p.data.len());
        let ticks = (i128::from(p.ts_nanos) * iface.units as i128).div_euclid(1_000_000_000) as u64;
        let be = self.big_endian;
        let mut hdr = Vec::with_capacity(20);
        put_u32(&mut hdr, if_id, be);
        put_u32(&mut hdr, (ticks >> 32) as u32, be);
        put_u32(&mut hdr, ticks as u32, be);
        put_u32(&mut hdr, len_u32(caplen), be);
        put_u32(&mut hdr, p.orig_len, be);
        self.write_block_parts(PCAPNG_EPB, &hdr, &p.data[..caplen])
    }

    /// Writes a Simple Packet Block (implicitly interface 0, no timestamp).
    pub fn write_simple_packet(&mut self, p: &Packet) -> io::Result<()> {
        let snaplen = self.ifaces.first().map_or(0, |i| i.snaplen);
        let caplen = Self::caplen(snaplen, p.data.len());
        let mut hdr = Vec::with_capacity(4);
        put_u32(&mut hdr, p.orig_len, self.big_endian);
        self.write_block_parts(PCAPNG_SPB, &hdr, &p.data[..caplen])
    }

    /// Writes an arbitrary block: type, total length, `body` padded to 32 bits, total length.
    pub fn write_block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        self.write_block_parts(block_type, body, &[])
    }

    fn write_block_parts(&mut self, block_type: u32, a: &[u8], b: &[u8]) -> io::Result<()> {
        let body_len = a.len() + b.len();
        let pad = (4 - body_len % 4) % 4;
        let total = len_u32(12 + body_len + pad);
        let be = self.big_endian;
        let s = &mut self.scratch;
        s.clear();
        put_u32(s, block_type, be);
        put_u32(s, total, be);
        s.extend_from_slice(a);
        if b.len() > 1024 {
            // avoid copying big payloads through the scratch buffer
            self.w.write_all(s)?;
            self.w.write_all(b)?;
            s.clear();
        } else {
            s.extend_from_slice(b);
        }
        s.extend_from_slice(&[0u8; 3][..pad]);
        put_u32(s, total, be);
        self.w.write_all(s)
    }

    raw_output!();
}

/// Serializes `packets` into an in-memory pcapng file with one interface.
///
/// `tsresol` uses the pcapng encoding (6 = µs, 9 = ns); snaplen is 0 (unlimited).
pub fn pcapng_bytes(big_endian: bool, linktype: u16, tsresol: u8, packets: &[Packet]) -> Vec<u8> {
    let size: usize = 60 + packets.iter().map(|p| 36 + p.data.len()).sum::<usize>();
    let mut w =
        PcapNgWriter::new(Vec::with_capacity(size), big_endian).expect("Vec write is infallible");
    let id = w
        .add_interface(linktype, 0, tsresol)
        .expect("Vec write is infallible");
    for p in packets {
        w.write_packet(id, p).expect("Vec write is infallible");
    }
    w.into_inner()
}

/// A capture file flavour, so a scenario can be emitted in every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap with the given endianness and timestamp precision.
    Pcap {
        /// Big-endian headers.
        big_endian: bool,
        /// Nanosecond timestamps.
        nanos: bool,
    },
    /// pcapng with one interface using the given `if_tsresol`.
    PcapNg {
        /// Big-endian section.
        big_endian: bool,
        /// pcapng-encoded timestamp resolution.
        tsresol: u8,
    },
}

impl CaptureFormat {
    /// All interesting variants: pcap LE/BE × µs/ns and pcapng LE/BE × µs/ns.
    pub fn all() -> Vec<CaptureFormat> {
        let mut v = Vec::new();
        for big_endian in [false, true] {
            for nanos in [false, true] {
                v.push(CaptureFormat::Pcap { big_endian, nanos });
                v.push(CaptureFormat::PcapNg {
                    big_endian,
                    tsresol: if nanos { 9 } else { 6 },
                });
            }
        }
        v
    }
}

/// Serializes `packets` in the given format (pcap snaplen 262144).
pub fn capture_bytes(format: CaptureFormat, linktype: u32, packets: &[Packet]) -> Vec<u8> {
    match format {
        CaptureFormat::Pcap { big_endian, nanos } => pcap_bytes(
            PcapOptions {
                big_endian,
                nanos,
                snaplen: 262_144,
                linktype,
            },
            packets,
        ),
        CaptureFormat::PcapNg {
            big_endian,
            tsresol,
        } => pcapng_bytes(big_endian, linktype as u16, tsresol, packets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::pcapng::{parse_sections, Block};
    use pcap_parser::traits::PcapNGPacketBlock;
    use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};

    fn pkts() -> Vec<Packet> {
        vec![
            Packet::new(1_700_000_000_123_456_789, vec![1, 2, 3, 4, 5]),
            Packet::new(1_700_000_001_000_000_001, (0..=255u8).collect()),
            Packet::new(5, vec![]),
            Packet::new(1_700_000_002_999_999_999, vec![9; 70_000]),
        ]
    }

    #[test]
    fn pcap_roundtrip_all_variants() {
        for big_endian in [false, true] {
            for nanos in [false, true] {
                let opts = PcapOptions {
                    big_endian,
                    nanos,
                    snaplen: 65535,
                    linktype: 113,
                };
                let bytes = pcap_bytes(opts, &pkts());
                let (mut rest, hdr) = parse_pcap_header(&bytes).expect("header");
                assert_eq!(hdr.is_bigendian(), big_endian);
                assert_eq!(hdr.is_nanosecond_precision(), nanos);
                assert_eq!(hdr.snaplen, 65535);
                assert_eq!(hdr.network.0, 113);
                assert_eq!((hdr.version_major, hdr.version_minor), (2, 4));
                for p in pkts() {
                    let (r, f) = if big_endian {
                        parse_pcap_frame_be(rest).expect("frame")
                    } else {
                        parse_pcap_frame(rest).expect("frame")
                    };
                    rest = r;
                    let caplen = p.data.len().min(65535);
                    assert_eq!(f.data, &p.data[..caplen]);
                    assert_eq!(f.caplen as usize, caplen);
                    assert_eq!(f.origlen, p.orig_len);
                    assert_eq!(i64::from(f.ts_sec), p.ts_nanos / 1_000_000_000);
                    let sub = p.ts_nanos % 1_000_000_000;
                    let want = if nanos { sub } else { sub / 1000 };
                    assert_eq!(i64::from(f.ts_usec), want);
                }
                assert!(rest.is_empty());
            }
        }
    }

    #[test]
    fn pcap_truncated_packet_keeps_orig_len() {
        let p = Packet::new(0, vec![7; 100]).truncated(10);
        assert_eq!(p.orig_len, 100);
        let bytes = pcap_bytes(PcapOptions::default(), &[p]);
        let (rest, _) = parse_pcap_header(&bytes).expect("header");
        let (_, f) = parse_pcap_frame(rest).expect("frame");
        assert_eq!((f.caplen, f.origlen, f.data.len()), (10, 100, 10));
    }

    #[test]
    fn pcapng_roundtrip_le_be_resolutions() {
        for big_endian in [false, true] {
            for tsresol in [6u8, 9, 3, 0x80 | 20] {
                let mut w = PcapNgWriter::new(Vec::new(), big_endian).expect("vec");
                let a = w.add_interface(1, 0, tsresol).expect("vec");
                let b = w.add_interface(113, 100, 9).expect("vec");
                assert_eq!((a, b), (0, 1));
                for p in pkts() {
                    w.write_packet(a, &p).expect("vec");
                    w.write_packet(b, &p).expect("vec");
                }
                w.write_simple_packet(&pkts()[1]).expect("vec");
                let bytes = w.into_inner();
                let (rest, sections) = parse_sections(&bytes).expect("sections");
                assert!(rest.is_empty());
                assert_eq!(sections.len(), 1);
                let s = &sections[0];
                assert_eq!(s.big_endian, big_endian);
                let idbs: Vec<_> = s.iter_interfaces().collect();
                assert_eq!(idbs.len(), 2);
                assert_eq!(idbs[0].linktype.0, 1);
                assert_eq!(idbs[1].linktype.0, 113);
                assert_eq!(idbs[1].snaplen, 100);
                assert_eq!(idbs[0].if_tsresol, tsresol);
                let mut epbs = 0;
                let mut spbs = 0;
                let expected = pkts();
                for block in &s.blocks {
                    match block {
                        Block::EnhancedPacket(epb) => {
                            let p = &expected[epbs / 2];
                            let idb = &idbs[epb.if_id as usize];
                            // pcap-parser 0.17's ts_resolution() rejects power-of-2
                            // resolutions (it range-checks the raw byte incl. the
                            // high bit), so decode that case here.
                            let res = if idb.if_tsresol & 0x80 != 0 {
                                1u64 << (idb.if_tsresol & 0x7f)
                            } else {
                                idb.ts_resolution().expect("resolution")
                            };
                            let (sec, frac) = epb.decode_ts(0, res);
                            assert_eq!(i64::from(sec), p.ts_nanos / 1_000_000_000);
                            let sub = (p.ts_nanos % 1_000_000_000) as u128;
                            assert_eq!(u128::from(frac), sub * u128::from(res) / 1_000_000_000);
                            let caplen = if epb.if_id == 1 {
                                p.data.len().min(100)
                            } else {
                                p.data.len()
                            };
                            assert_eq!(epb.packet_data(), &p.data[..caplen]);
                            assert_eq!(epb.orig_len(), p.orig_len);
                            assert_eq!(epb.block_len1, epb.block_len2);
                            assert_eq!(epb.block_len1 % 4, 0);
                            epbs += 1;
                        }
                        Block::SimplePacket(spb) => {
                            assert_eq!(spb.packet_data(), &expected[1].data[..]);
                            spbs += 1;
                        }
                        _ => {}
                    }
                }
                assert_eq!((epbs, spbs), (8, 1));
            }
        }
    }

    #[test]
    fn pcapng_multiple_sections_and_custom_blocks() {
        let mut w = PcapNgWriter::new(Vec::new(), false).expect("vec");
        w.add_interface(1, 0, 6).expect("vec");
        w.write_block(0x0BAD_0001, b"abc").expect("vec");
        w.new_section().expect("vec");
        w.add_interface(101, 0, 9).expect("vec");
        w.write_packet(0, &Packet::new(1, vec![0x45])).expect("vec");
        let bytes = w.into_inner();
        let (rest, sections) = parse_sections(&bytes).expect("sections");
        assert!(rest.is_empty());
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[1].iter_interfaces().count(), 1);
    }

    #[test]
    fn capture_bytes_all_formats_parse() {
        for f in CaptureFormat::all() {
            let b = capture_bytes(f, 1, &pkts());
            match f {
                CaptureFormat::Pcap { .. } => {
                    parse_pcap_header(&b).expect("pcap");
                }
                CaptureFormat::PcapNg { .. } => {
                    let (_, s) = parse_sections(&b).expect("pcapng");
                    assert_eq!(s[0].blocks.iter().filter(|b| b.is_data_block()).count(), 4);
                }
            }
        }
    }
}
