//! Streaming frame decoder for one direction: stream bytes and gap markers in, frame events
//! out. Frames may span any number of TCP segments and many frames may share one; payloads are
//! unmasked as they pass and never buffered here.
//!
//! A gap inside a payload of known length keeps the decoder in sync (the payload is reported
//! short by the gap's length). A gap that swallows a header boundary loses sync: the decoder
//! then buffers up to [`RESYNC_WINDOW`] bytes and looks for a plausible header, confirmed by the
//! header of the frame after it when that is within reach, and reports how many bytes it skipped.

use super::frame::{apply_mask, FrameHeader, Opcode};
use crate::timestamp::Timestamp;

/// Bytes examined when looking for a frame boundary after lost sync.
pub const RESYNC_WINDOW: usize = 64 * 1024;

/// What the decoder reports, in stream order.
#[derive(Debug)]
pub enum DecodeEvent<'a> {
    /// A frame header; `ts` is the timestamp of the packet holding its first byte.
    Header {
        /// The header.
        header: FrameHeader,
        /// Timestamp.
        ts: Timestamp,
        /// Number of the packet holding its first byte.
        packet: u64,
    },
    /// Unmasked payload bytes of the current frame.
    Payload {
        /// Bytes.
        data: &'a [u8],
        /// Timestamp of their packet.
        ts: Timestamp,
        /// Number of their packet.
        packet: u64,
    },
    /// `len` payload bytes of the current frame are missing from the capture.
    PayloadGap {
        /// Missing bytes.
        len: u64,
    },
    /// The current frame is complete (its payload may have had gaps).
    FrameEnd {
        /// Timestamp of the packet that held its last byte.
        ts: Timestamp,
    },
    /// Sync was lost in a gap; `skipped` captured bytes were discarded before the next header.
    Resynced {
        /// Bytes discarded.
        skipped: u64,
        /// Timestamp.
        ts: Timestamp,
    },
    /// The stream ended inside a frame (header or payload).
    Truncated {
        /// Bytes of payload that never arrived.
        missing: u64,
    },
}

/// What a plausible header must look like in this direction (used only to regain sync).
#[derive(Clone, Copy, Debug)]
pub struct Expectations {
    /// Client frames are masked, server frames are not.
    pub masked: bool,
    /// permessage-deflate negotiated (RSV1 allowed on first data frames).
    pub rsv1_allowed: bool,
}

impl Expectations {
    /// The first header byte alone could start a frame in this direction (whatever follows).
    /// Implied by [`Self::plausible_prefix`].
    fn plausible_first(&self, b0: u8) -> bool {
        let opcode = Opcode::from_u4(b0);
        let rsv = b0 & 0x70;
        let opcode_ok = !matches!(opcode, Opcode::Reserved(_));
        let rsv_ok = rsv == 0
            || (rsv == 0x40
                && self.rsv1_allowed
                && matches!(opcode, Opcode::Text | Opcode::Binary));
        opcode_ok && rsv_ok && (!opcode.is_control() || b0 & 0x80 != 0)
    }

    /// The first two header bytes alone could start a frame in this direction.
    fn plausible_prefix(&self, b0: u8, b1: u8) -> bool {
        let control = Opcode::from_u4(b0).is_control();
        self.plausible_first(b0)
            && (!control || b1 & 0x7f <= 125)
            && (b1 & 0x80 != 0) == self.masked
    }

    /// A complete header could start a frame in this direction.
    pub fn plausible(&self, h: &FrameHeader) -> bool {
        let opcode_ok = !matches!(h.opcode, Opcode::Reserved(_));
        let rsv_ok = !h.rsv2
            && !h.rsv3
            && (!h.rsv1
                || (self.rsv1_allowed && matches!(h.opcode, Opcode::Text | Opcode::Binary)));
        let control_ok = !h.opcode.is_control() || (h.fin && h.payload_len <= 125);
        opcode_ok
            && rsv_ok
            && control_ok
            && h.mask.is_some() == self.masked
            && !h.non_minimal_length
            && !h.length_msb_set
            && h.payload_len < (1 << 40)
    }
}

#[derive(Debug)]
enum State {
    /// Collecting header bytes into `hdr`.
    Header,
    /// Inside a payload.
    Payload {
        remaining: u64,
        mask: Option<[u8; 4]>,
        mask_offset: u64,
    },
    /// Sync lost: looking for a header in `resync`.
    Resync,
}

/// Frame decoder for one direction.
#[derive(Debug)]
pub struct FrameDecoder {
    expect: Expectations,
    state: State,
    hdr: Vec<u8>,
    /// Timestamp and packet number of the current header's first byte.
    hdr_ts: (Timestamp, u64),
    scratch: Vec<u8>,
    /// Bytes held since sync was lost; the search window is `resync[base..]`.
    resync: Vec<u8>,
    /// Start of the window in `resync` (bytes before it were decoded or skipped).
    base: usize,
    /// Next position of `resync` to examine: those between `base` and `scan` were rejected.
    scan: usize,
    /// Timestamp and packet number of the first byte held while sync is lost.
    resync_ts: (Timestamp, u64),
    skipped: u64,
    /// Candidate positions examined while looking for a header (to test that the search is
    /// linear).
    #[cfg(test)]
    examined: u64,
}

impl FrameDecoder {
    /// A decoder positioned at a frame boundary.
    pub fn new(expect: Expectations) -> Self {
        FrameDecoder {
            expect,
            state: State::Header,
            hdr: Vec::with_capacity(14),
            hdr_ts: (Timestamp(0), 0),
            scratch: Vec::new(),
            resync: Vec::new(),
            base: 0,
            scan: 0,
            resync_ts: (Timestamp(0), 0),
            skipped: 0,
            #[cfg(test)]
            examined: 0,
        }
    }

    /// A decoder that does not know where the next frame starts (e.g. joined mid-stream).
    pub fn new_unsynced(expect: Expectations) -> Self {
        let mut d = Self::new(expect);
        d.state = State::Resync;
        d
    }

    /// True when positioned exactly between frames.
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Header) && self.hdr.is_empty()
    }

    /// Feeds stream bytes carried by the packet numbered `at.1`, captured at `at.0`.
    pub fn feed<F>(&mut self, at: (Timestamp, u64), mut data: &[u8], out: &mut F)
    where
        F: FnMut(DecodeEvent<'_>),
    {
        let ts = at.0;
        while !data.is_empty() {
            if !matches!(self.state, State::Resync) {
                let used = self.run(at, data, out);
                data = &data[used..];
                continue;
            }
            let held = self.resync.len() - self.base;
            if held == 0 {
                self.resync_ts = at;
            }
            let room = RESYNC_WINDOW.saturating_sub(held).max(1);
            let take = room.min(data.len());
            self.resync.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.settle(ts, false, out);
        }
    }

    /// Decodes frames from `data` until it is used up or sync is lost (state `Resync`);
    /// returns how many bytes were used.
    fn run<F>(&mut self, at: (Timestamp, u64), data: &[u8], out: &mut F) -> usize
    where
        F: FnMut(DecodeEvent<'_>),
    {
        let (ts, packet) = at;
        let mut rest = data;
        while !rest.is_empty() {
            match self.state {
                State::Header => {
                    if self.hdr.is_empty() {
                        self.hdr_ts = at;
                        // Fast path: the whole header is in this piece.
                        if let Some(h) = FrameHeader::parse(rest) {
                            rest = &rest[h.header_len..];
                            self.start_frame(h, at, out);
                            continue;
                        }
                    }
                    let need = 14 - self.hdr.len();
                    let take = need.min(rest.len());
                    let before = self.hdr.len();
                    self.hdr.extend_from_slice(&rest[..take]);
                    match FrameHeader::parse(&self.hdr) {
                        Some(h) => {
                            let used = h.header_len - before;
                            rest = &rest[used..];
                            self.hdr.clear();
                            let hts = self.hdr_ts;
                            self.start_frame(h, hts, out);
                        }
                        None => rest = &rest[take..],
                    }
                }
                State::Payload {
                    ref mut remaining,
                    mask,
                    ref mut mask_offset,
                } => {
                    let n = (*remaining).min(rest.len() as u64) as usize;
                    let (chunk, after) = rest.split_at(n);
                    rest = after;
                    *remaining -= n as u64;
                    let done = *remaining == 0;
                    match mask {
                        Some(key) => {
                            self.scratch.clear();
                            self.scratch.extend_from_slice(chunk);
                            apply_mask(&mut self.scratch, key, *mask_offset);
                            *mask_offset += n as u64;
                            out(DecodeEvent::Payload {
                                data: &self.scratch,
                                ts,
                                packet,
                            });
                        }
                        None => out(DecodeEvent::Payload {
                            data: chunk,
                            ts,
                            packet,
                        }),
                    }
                    if done {
                        self.state = State::Header;
                        out(DecodeEvent::FrameEnd { ts });
                    }
                }
                State::Resync => break,
            }
        }
        data.len() - rest.len()
    }

    /// Reports `len` stream bytes missing from the capture.
    pub fn gap<F>(&mut self, ts: Timestamp, len: u64, out: &mut F)
    where
        F: FnMut(DecodeEvent<'_>),
    {
        match self.state {
            State::Payload {
                ref mut remaining,
                ref mut mask_offset,
                ..
            } if len <= *remaining => {
                *remaining -= len;
                *mask_offset += len;
                out(DecodeEvent::PayloadGap { len });
                if *remaining == 0 {
                    self.state = State::Header;
                    out(DecodeEvent::FrameEnd { ts });
                }
            }
            State::Payload { remaining, .. } => {
                out(DecodeEvent::PayloadGap { len: remaining });
                out(DecodeEvent::FrameEnd { ts });
                self.lose_sync();
            }
            State::Header | State::Resync => self.lose_sync(),
        }
    }

    /// The stream ended: reports an unfinished frame, and flushes a pending resync search.
    pub fn finish<F>(&mut self, ts: Timestamp, out: &mut F)
    where
        F: FnMut(DecodeEvent<'_>),
    {
        if matches!(self.state, State::Resync) {
            self.settle(ts, true, out);
        }
        match self.state {
            State::Payload { remaining, .. } => {
                out(DecodeEvent::Truncated { missing: remaining });
                self.state = State::Header;
            }
            State::Header if !self.hdr.is_empty() => {
                out(DecodeEvent::Truncated { missing: 0 });
                self.hdr.clear();
            }
            State::Resync => {
                let skipped = self.skipped + (self.resync.len() - self.base) as u64;
                if skipped > 0 {
                    out(DecodeEvent::Resynced { skipped, ts });
                }
                self.resync.clear();
                self.base = 0;
                self.scan = 0;
                self.skipped = 0;
            }
            State::Header => {}
        }
    }

    fn lose_sync(&mut self) {
        self.skipped += self.hdr.len() as u64;
        self.hdr.clear();
        self.state = State::Resync;
    }

    fn start_frame<F>(&mut self, h: FrameHeader, (ts, packet): (Timestamp, u64), out: &mut F)
    where
        F: FnMut(DecodeEvent<'_>),
    {
        out(DecodeEvent::Header {
            header: h,
            ts,
            packet,
        });
        if h.length_msb_set {
            // A length of 2^63 or more cannot be followed; look for the next real header.
            out(DecodeEvent::FrameEnd { ts });
            self.state = State::Resync;
            return;
        }
        if h.payload_len == 0 {
            out(DecodeEvent::FrameEnd { ts });
            self.state = State::Header;
        } else {
            self.state = State::Payload {
                remaining: h.payload_len,
                mask: h.mask,
                mask_offset: 0,
            };
        }
    }

    /// Looks for a frame boundary in the bytes held since sync was lost and decodes from the
    /// one it finds. Decoding may lose sync again within the held bytes; the search then goes
    /// on from there, in this loop (no recursion). The search resumes where it stopped last
    /// time (`scan`): a position rejected once stays rejected however many bytes follow, so
    /// each byte is examined a bounded number of times. With `at_end`, accepts an unconfirmed
    /// candidate because no more bytes will come.
    fn settle<F>(&mut self, ts: Timestamp, at_end: bool, out: &mut F)
    where
        F: FnMut(DecodeEvent<'_>),
    {
        let mut buf = std::mem::take(&mut self.resync);
        let mut ev_ts = ts;
        loop {
            match self.search(&buf, at_end) {
                Search::Found(start) => {
                    let skipped = self.skipped + (start - self.base) as u64;
                    self.skipped = 0;
                    self.state = State::Header;
                    self.hdr.clear();
                    if skipped > 0 {
                        out(DecodeEvent::Resynced { skipped, ts: ev_ts });
                    }
                    let rts = self.resync_ts;
                    let used = self.run(rts, &buf[start..], out);
                    self.base = start + used;
                    self.scan = self.base;
                    if self.base == buf.len() {
                        break;
                    }
                    // Sync lost again within the held bytes: search the rest of them.
                    ev_ts = rts.0;
                }
                Search::Undecided => break,
                Search::Nothing => {
                    // Nothing plausible in the whole window: drop it and keep looking.
                    let held = buf.len() - self.base;
                    let keep = if at_end { 0 } else { held.min(13) };
                    self.skipped += (held - keep) as u64;
                    self.base = buf.len() - keep;
                    self.scan = self.base;
                    break;
                }
            }
        }
        // Bytes before the window are done with; moving the window to the front costs no more
        // than the bytes dropped, so it stays linear.
        if self.base == buf.len() {
            buf.clear();
            self.base = 0;
            self.scan = 0;
        } else if self.base >= buf.len() - self.base {
            buf.drain(..self.base);
            self.scan -= self.base;
            self.base = 0;
        }
        self.resync = buf;
    }

    /// Examines candidate header positions of the window `buf[base..]` from `scan` on.
    fn search(&mut self, buf: &[u8], at_end: bool) -> Search {
        let win = &buf[self.base..];
        // Decide now: no more bytes will come, or the window is full.
        let decide = at_end || win.len() >= RESYNC_WINDOW;
        let mut start = self.scan - self.base;
        while start < win.len() {
            #[cfg(test)]
            {
                self.examined += 1;
            }
            let here = &win[start..];
            let hopeless = match *here {
                [b0, b1, ..] => !self.expect.plausible_prefix(b0, b1),
                // The last byte held: when it cannot start a header whatever follows, it is
                // done with now, instead of being parsed, waited on and examined again with
                // the next bytes (once per segment when they come in tiny segments).
                [b0] if !decide && !self.expect.plausible_first(b0) => {
                    // Undecided as when waiting on it: the window is only given up when full.
                    self.scan = buf.len();
                    return Search::Undecided;
                }
                _ => false,
            };
            if hopeless {
                start += 1;
                continue;
            }
            match self.candidate(here, decide) {
                Verdict::Reject => start += 1,
                Verdict::Accept => {
                    self.scan = self.base + start;
                    return Search::Found(self.base + start);
                }
                Verdict::Wait => {
                    self.scan = self.base + start;
                    return Search::Undecided;
                }
            }
        }
        self.scan = buf.len();
        Search::Nothing
    }

    /// Whether a frame starts at `here[0]`: a plausible header, confirmed by a plausible header
    /// right after its payload when that is within reach. A rejection never depends on bytes
    /// not held yet.
    fn candidate(&self, here: &[u8], decide: bool) -> Verdict {
        let wait = if decide {
            Verdict::Accept
        } else {
            Verdict::Wait
        };
        let Some(h) = FrameHeader::parse(here) else {
            // A promising header cut short: wait for more bytes unless none will come.
            return if decide {
                Verdict::Reject
            } else {
                Verdict::Wait
            };
        };
        if !self.expect.plausible(&h) {
            return Verdict::Reject;
        }
        // `payload_len` < 2^40 (plausible), so this does not overflow.
        let next = h.header_len as u64 + h.payload_len;
        let held = here.len() as u64;
        if next + 2 <= held {
            match FrameHeader::parse(&here[next as usize..]) {
                Some(n) if self.expect.plausible(&n) => Verdict::Accept,
                Some(_) => Verdict::Reject,
                None => wait,
            }
        } else if next == held {
            Verdict::Accept
        } else {
            // The candidate's frame runs past what we hold.
            wait
        }
    }
}

/// Outcome of a search of the resync window.
enum Search {
    /// A frame starts at this index of the buffer.
    Found(usize),
    /// A candidate needs more bytes to be judged.
    Undecided,
    /// No position of the window can start a frame.
    Nothing,
}

/// Judgement of one candidate position.
enum Verdict {
    Accept,
    Reject,
    Wait,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Ev {
        Header(u8, u64),
        Payload(Vec<u8>),
        Gap(u64),
        End,
        Resynced(u64),
        Truncated(u64),
    }

    fn collect(d: &mut FrameDecoder, pieces: &[&[u8]]) -> Vec<Ev> {
        let mut evs = Vec::new();
        for p in pieces {
            d.feed((Timestamp(0), 1), p, &mut |e| evs.push(own(e)));
        }
        evs
    }

    fn own(e: DecodeEvent<'_>) -> Ev {
        match e {
            DecodeEvent::Header { header, .. } => {
                Ev::Header(header.opcode.as_u4(), header.payload_len)
            }
            DecodeEvent::Payload { data, .. } => Ev::Payload(data.to_vec()),
            DecodeEvent::PayloadGap { len } => Ev::Gap(len),
            DecodeEvent::FrameEnd { .. } => Ev::End,
            DecodeEvent::Resynced { skipped, .. } => Ev::Resynced(skipped),
            DecodeEvent::Truncated { missing } => Ev::Truncated(missing),
        }
    }

    const SERVER: Expectations = Expectations {
        masked: false,
        rsv1_allowed: false,
    };

    #[test]
    fn header_split_across_pieces_and_masked_payload() {
        let mut d = FrameDecoder::new(Expectations {
            masked: true,
            rsv1_allowed: false,
        });
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let evs = collect(
            &mut d,
            &[&frame[..1], &frame[1..4], &frame[4..8], &frame[8..]],
        );
        let payload: Vec<u8> = evs
            .iter()
            .flat_map(|e| match e {
                Ev::Payload(p) => p.clone(),
                _ => vec![],
            })
            .collect();
        assert_eq!(evs[0], Ev::Header(1, 5));
        assert_eq!(payload, b"Hello");
        assert_eq!(evs.last(), Some(&Ev::End));
    }

    #[test]
    fn gap_inside_payload_stays_in_sync() {
        let mut d = FrameDecoder::new(SERVER);
        let mut evs = collect(&mut d, &[&[0x82, 0x0a, 1, 2]]);
        d.gap(Timestamp(0), 4, &mut |e| evs.push(own(e)));
        d.feed(
            (Timestamp(0), 1),
            &[7, 8, 9, 10, 0x81, 0x01, b'x'],
            &mut |e| evs.push(own(e)),
        );
        assert_eq!(
            evs,
            vec![
                Ev::Header(2, 10),
                Ev::Payload(vec![1, 2]),
                Ev::Gap(4),
                Ev::Payload(vec![7, 8, 9, 10]),
                Ev::End,
                Ev::Header(1, 1),
                Ev::Payload(b"x".to_vec()),
                Ev::End
            ]
        );
    }

    #[test]
    fn gap_over_header_resyncs_and_counts_skipped_bytes() {
        let mut d = FrameDecoder::new(SERVER);
        let mut evs = collect(&mut d, &[&[0x81, 0x03, b'a', b'b', b'c']]);
        d.gap(Timestamp(0), 3, &mut |e| evs.push(own(e)));
        // Tail of a lost frame ("zz" is junk from its payload), then two good frames.
        d.feed(
            (Timestamp(0), 1),
            &[0xff, 0xff, 0x81, 0x02, b'h', b'i', 0x81, 0x01, b'!'],
            &mut |e| evs.push(own(e)),
        );
        d.finish(Timestamp(0), &mut |e| evs.push(own(e)));
        assert!(evs.contains(&Ev::Resynced(2)), "{evs:?}");
        assert!(evs.contains(&Ev::Payload(b"hi".to_vec())), "{evs:?}");
        assert!(evs.contains(&Ev::Payload(b"!".to_vec())), "{evs:?}");
    }

    #[test]
    fn end_inside_payload_is_truncated() {
        let mut d = FrameDecoder::new(SERVER);
        let mut evs = collect(&mut d, &[&[0x82, 0x0a, 1, 2]]);
        d.finish(Timestamp(0), &mut |e| evs.push(own(e)));
        assert_eq!(evs.last(), Some(&Ev::Truncated(8)));
    }

    #[test]
    fn huge_declared_length_does_not_allocate() {
        let mut d = FrameDecoder::new(SERVER);
        let mut h = vec![0x82, 0x7f];
        h.extend_from_slice(&(1u64 << 62).to_be_bytes());
        let evs = collect(&mut d, &[&h, &[0u8; 1000]]);
        assert_eq!(evs[0], Ev::Header(2, 1 << 62));
        assert_eq!(d.scratch.capacity(), 0);
    }

    /// Feeds `bytes` in pieces of 1, 2, 3, 4, 1, ... bytes.
    fn feed_in_small_pieces(d: &mut FrameDecoder, bytes: &[u8], evs: &mut Vec<Ev>) {
        let mut at = 0;
        for k in 0.. {
            if at == bytes.len() {
                break;
            }
            let n = (1 + k % 4).min(bytes.len() - at);
            d.feed((Timestamp(0), 1), &bytes[at..at + n], &mut |e| {
                evs.push(own(e))
            });
            at += n;
        }
    }

    /// A decoder that read one frame and then lost sync (a gap), its events so far, and
    /// `len` bytes (from `seed`) that never look like a frame header.
    fn lost_sync_before_junk(seed: u64, len: usize) -> (FrameDecoder, Vec<Ev>, Vec<u8>) {
        let junk = wsscope_testkit::adversarial::never_a_header(seed, len);
        let mut d = FrameDecoder::new(SERVER);
        let mut evs = collect(&mut d, &[&[0x81, 0x01, b'a']]);
        d.gap(Timestamp(0), 3, &mut |e| evs.push(own(e)));
        (d, evs, junk)
    }

    #[test]
    fn resync_examines_each_byte_a_bounded_number_of_times() {
        // 256 KiB that never look like a header, in 1-4 byte pieces after a gap, then a frame:
        // the search used to start over from the first byte of its window at every piece.
        let (mut d, mut evs, junk) = lost_sync_before_junk(9, 256 * 1024);
        feed_in_small_pieces(&mut d, &junk, &mut evs);
        feed_in_small_pieces(
            &mut d,
            &[0x81, 0x02, b'h', b'i', 0x81, 0x01, b'!'],
            &mut evs,
        );
        d.finish(Timestamp(0), &mut |e| evs.push(own(e)));
        assert!(
            d.examined <= 2 * junk.len() as u64,
            "{} positions examined for {} bytes",
            d.examined,
            junk.len()
        );
        assert_eq!(
            evs,
            vec![
                Ev::Header(1, 1),
                Ev::Payload(b"a".to_vec()),
                Ev::End,
                Ev::Resynced(junk.len() as u64),
                Ev::Header(1, 2),
                Ev::Payload(b"hi".to_vec()),
                Ev::End,
                Ev::Header(1, 1),
                Ev::Payload(b"!".to_vec()),
                Ev::End,
            ]
        );
    }

    #[test]
    fn a_first_byte_rejected_alone_is_rejected_whatever_follows() {
        // The search rejects the last byte it holds on that byte alone: that must never reject
        // a position the two-byte check would let through, or the output would depend on
        // segmentation.
        for masked in [false, true] {
            for rsv1_allowed in [false, true] {
                let e = Expectations {
                    masked,
                    rsv1_allowed,
                };
                for b0 in 0..=255u8 {
                    let any = (0..=255u8).any(|b1| e.plausible_prefix(b0, b1));
                    assert_eq!(e.plausible_first(b0), any, "b0 {b0:#04x} {e:?}");
                }
            }
        }
    }

    #[test]
    fn junk_in_one_byte_pieces_is_examined_once_per_byte() {
        // Each one-byte piece used to be parsed as a header cut short and waited on, then
        // examined again with the next piece.
        let (mut d, mut evs, junk) = lost_sync_before_junk(5, 64 * 1024);
        for b in junk.chunks(1) {
            d.feed((Timestamp(0), 1), b, &mut |e| evs.push(own(e)));
        }
        d.feed((Timestamp(0), 1), &[0x81, 0x02, b'h', b'i'], &mut |e| {
            evs.push(own(e))
        });
        d.finish(Timestamp(0), &mut |e| evs.push(own(e)));
        // Plus the few bytes kept (and examined again) when a full window is given up.
        assert!(
            d.examined <= junk.len() as u64 + 64,
            "{} positions examined for {} bytes",
            d.examined,
            junk.len()
        );
        assert_eq!(evs[3], Ev::Resynced(junk.len() as u64));
        assert_eq!(evs[4], Ev::Header(1, 2));
    }

    /// A plausible binary frame whose payload is made of frames that regain sync and lose it
    /// again at once (two empty frames, then a header with the 64-bit length's top bit set),
    /// and whose end is not followed by a plausible header: the search rejects the outer frame
    /// late and finds thousands of nested restarts in one go.
    fn nested_restarts(triples: usize) -> Vec<u8> {
        let triple = [0x82u8, 0, 0x82, 0, 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        let inner = triple.repeat(triples);
        let mut v = vec![0x82, 0x7e];
        v.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        v.extend_from_slice(&inner);
        v.extend_from_slice(&[0xf3, 0x00]);
        v
    }

    #[test]
    fn resync_on_nested_restarts_runs_on_a_small_stack() {
        // 64 KiB of them used to recurse ~4,680 levels deep and overflow a 512 KiB stack.
        let bytes = nested_restarts(4680);
        let evs = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let mut d = FrameDecoder::new(SERVER);
                let mut evs = Vec::new();
                d.gap(Timestamp(0), 3, &mut |e| evs.push(own(e)));
                // The outer frame's last byte comes with the two after it, so that it is not
                // accepted for ending exactly where the bytes held end.
                let (head, tail) = bytes.split_at(bytes.len() - 3);
                feed_in_small_pieces(&mut d, head, &mut evs);
                d.feed((Timestamp(0), 1), tail, &mut |e| evs.push(own(e)));
                d.finish(Timestamp(0), &mut |e| evs.push(own(e)));
                evs
            })
            .expect("spawn")
            .join()
            .expect("decoder thread");
        // The outer header (4 bytes) is skipped, then every triple decodes as two empty
        // frames and a header that loses sync; the final two bytes are skipped at the end.
        assert_eq!(evs[0], Ev::Resynced(4));
        let headers = evs.iter().filter(|e| matches!(e, Ev::Header(..))).count();
        assert_eq!(headers, 3 * 4680);
        assert_eq!(evs.last(), Some(&Ev::Resynced(2)));
    }
}
