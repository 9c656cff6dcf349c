//! One direction of a TCP connection, put back in order.
//!
//! Invariants:
//! - `next` is the relative offset of the first byte not yet delivered; every byte below it was
//!   delivered exactly once, either as data or inside a gap marker.
//! - `pending` holds out-of-order segments strictly above `next`, keyed by start offset, with
//!   `pending_bytes` their total size; it never exceeds [`ReassemblyLimits::max_buffered_bytes`]
//!   (when it would, the hole before the first pending segment is declared a gap).
//! - Bytes arriving for offsets below `next` are duplicates. When they fall inside the recent
//!   history window they are compared with what was delivered, and a difference is reported as
//!   an inconsistent overlap (the first copy wins, as in most receivers). Two copies of a
//!   segment still held out of order are compared the same way (reported on delivery).
//! - Keep-alive probes (at most one byte at `next - 1`, sent once the peer acknowledged
//!   everything) are old data the receiver discards: they are neither compared nor counted.
//! - A zero-window probe ([`StreamReassembler::push_probe`]) is held at `next`, not delivered:
//!   the receiver keeps it only if it acknowledges it; a later segment covering it replaces it.
//! - A hole is declared a gap only when the data is really missing: the peer acknowledged past
//!   it and the hole stayed open for [`ReassemblyLimits::reorder_nanos`] of capture time (a
//!   merged capture may show an ACK before the data it acknowledges), the buffer limits were
//!   reached, or the stream ends ([`StreamReassembler::flush`]).
//!
//! Sequence numbers are unwrapped to 64-bit offsets relative to the initial sequence number,
//! choosing the value nearest to `next`, so 32-bit wraparound is invisible above this layer.

use crate::timestamp::Timestamp;
use std::collections::BTreeMap;

/// Memory limits for one direction.
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    /// Out-of-order bytes buffered before the hole in front of them is declared a gap.
    pub max_buffered_bytes: usize,
    /// Out-of-order segments buffered before the same happens.
    pub max_buffered_segments: usize,
    /// Delivered bytes remembered to check retransmissions for consistency.
    pub history_bytes: usize,
    /// Capture time a hole the peer acknowledged past may stay open before it is declared a
    /// gap: captures merged from several interfaces (or clocks) can show an ACK before the
    /// data it acknowledges.
    pub reorder_nanos: i64,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_buffered_bytes: 4 << 20,
            max_buffered_segments: 1024,
            history_bytes: 8 << 10,
            reorder_nanos: 1_000_000_000,
        }
    }
}

/// What the reassembler hands upward, always in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamOutput<'a> {
    /// In-order bytes starting at `offset`, from a packet captured at `ts`.
    Data {
        /// Relative stream offset of `bytes[0]`.
        offset: u64,
        /// Timestamp of the packet that carried the bytes.
        ts: Timestamp,
        /// Number of the packet that carried the bytes (kept, like `ts`, while they were held
        /// out of order).
        packet: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// `len` bytes at `offset` that the capture does not have.
    Gap {
        /// Relative stream offset where the hole starts.
        offset: u64,
        /// Exact hole length.
        len: u64,
        /// Timestamp of the packet that made the hole known.
        ts: Timestamp,
        /// The bytes were cut off the end of a captured segment (snaplen), not lost with a
        /// whole segment.
        cut: bool,
    },
    /// A retransmission carried different bytes than the first copy for `len` bytes at `offset`.
    Overlap {
        /// Relative offset of the first differing byte.
        offset: u64,
        /// Bytes compared that differed (span from first to last difference).
        len: u64,
        /// Timestamp of the retransmission.
        ts: Timestamp,
        /// Number of the packet that carried the retransmission.
        packet: u64,
    },
}

#[derive(Debug)]
struct Pending {
    ts: Timestamp,
    /// Number of the packet that carried it.
    packet: u64,
    data: Vec<u8>,
    /// Bytes after `data` that the capture cut off (snaplen).
    missing: u64,
    /// A zero-window probe: delivered only once acknowledged, dropped when a later segment
    /// covers it.
    probe: bool,
    /// A later copy of this segment (same start, not yet delivered) disagreed: first and last
    /// differing offsets and the copy's timestamp and packet, reported when the segment is
    /// delivered.
    conflict: Option<(u64, u64, Timestamp, u64)>,
}

/// Counters for one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Payload bytes delivered as data.
    pub bytes: u64,
    /// Segments that carried only already-delivered bytes.
    pub retransmissions: u64,
    /// Gap markers emitted.
    pub gaps: u64,
    /// Bytes inside gap markers.
    pub gap_bytes: u64,
    /// Inconsistent overlaps seen.
    pub overlaps: u64,
}

/// Reassembles one direction of a TCP stream.
#[derive(Debug)]
pub struct StreamReassembler {
    limits: ReassemblyLimits,
    base: Option<u32>,
    next: u64,
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// Ring of the last delivered bytes; `history[o % history.len()]` is the byte at offset
    /// `o`. It grows with what was delivered, up to [`ReassemblyLimits::history_bytes`], so a
    /// connection that carried a few bytes does not cost the whole window.
    history: Vec<u8>,
    /// The ring holds no copy of the bytes below this offset (end of the last gap, or what a
    /// smaller ring could not hold when it grew).
    history_from: u64,
    fin: Option<u64>,
    /// Highest offset the peer acknowledged.
    acked: u64,
    /// An acknowledgment was seen.
    acked_seen: bool,
    /// Where the stream stood (`next`) when a hole below `acked` was seen open, and since when:
    /// the hole is declared once the stream made no progress for the reorder tolerance.
    hole_since: Option<(u64, Timestamp)>,
    stats: StreamStats,
}

impl StreamReassembler {
    /// An empty reassembler; the first segment (or [`Self::set_isn`]) fixes offset 0.
    pub fn new(limits: ReassemblyLimits) -> Self {
        StreamReassembler {
            limits,
            base: None,
            next: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            history: Vec::new(),
            history_from: 0,
            fin: None,
            acked: 0,
            acked_seen: false,
            hole_since: None,
            stats: StreamStats::default(),
        }
    }

    /// Records the SYN's sequence number: the first data byte is `isn + 1`.
    pub fn set_isn(&mut self, isn: u32) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    /// Whether offset 0 has been fixed.
    pub fn has_base(&self) -> bool {
        self.base.is_some()
    }

    /// Offset of the next byte to deliver.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// Counters so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Bytes held out of order right now.
    pub fn buffered_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// True once the FIN was seen and every byte before it was delivered (or gapped).
    pub fn is_finished(&self) -> bool {
        matches!(self.fin, Some(f) if self.next >= f)
    }

    /// Converts a sequence number to the 64-bit relative offset nearest to `next`.
    pub fn unwrap_seq(&self, seq: u32) -> u64 {
        let base = self.base.unwrap_or(seq);
        let rel = u64::from(seq.wrapping_sub(base));
        let hi = self.next & !0xffff_ffff;
        let mut candidate = hi | rel;
        // Pick among candidate - 2^32, candidate, candidate + 2^32 the one closest to next.
        if candidate > self.next + (1 << 31) && candidate >= (1 << 32) {
            candidate -= 1 << 32;
        } else if candidate + (1 << 31) < self.next {
            candidate += 1 << 32;
        }
        candidate
    }

    /// Feeds one segment's payload, carried by packet number `packet` captured at `ts`.
    /// `missing` payload bytes followed it on the wire but were not captured. Emits everything
    /// that became deliverable.
    pub fn push<F>(
        &mut self,
        (ts, packet): (Timestamp, u64),
        seq: u32,
        payload: &[u8],
        missing: u32,
        out: &mut F,
    ) where
        F: FnMut(StreamOutput<'_>),
    {
        if self.base.is_none() {
            self.base = Some(seq);
        }
        let total = payload.len() as u64 + u64::from(missing);
        if total == 0 {
            return;
        }
        let mut start = self.unwrap_seq(seq);
        let (mut payload, mut total) = (payload, total);
        if start > self.next.saturating_add(1 << 31) {
            // Starts before offset 0 (at the SYN's sequence number: a keep-alive on a
            // direction that has sent nothing yet). Only what lies at or after offset 0 counts.
            let before = (1u64 << 32) - (start & 0xffff_ffff);
            if before >= total {
                return;
            }
            let cut = (before as usize).min(payload.len());
            payload = &payload[cut..];
            total -= before;
            start = 0;
        }
        let missing = (total - payload.len() as u64) as u32;
        let end = start + total;
        if end <= self.next {
            if total == 1 && end == self.next && self.acked >= self.next {
                // A keep-alive probe: SND.NXT - 1 with one byte (often garbage) after the
                // peer acknowledged everything. The receiver discards it; so do we.
                return;
            }
            self.stats.retransmissions += 1;
            self.check_overlap((ts, packet), start, payload, out);
            self.expire(ts, out);
            return;
        }
        if start <= self.next {
            self.deliver_from((ts, packet), start, payload, u64::from(missing), out);
            self.drain(out);
        } else {
            self.buffer((ts, packet), start, payload, u64::from(missing), false);
            self.enforce_limits(ts, out);
        }
        self.expire(ts, out);
    }

    /// Feeds a zero-window probe: one byte sent while the receiver advertised a zero window.
    /// A probe at the next offset is held, not delivered: the receiver keeps it only if it
    /// acknowledges it ([`Self::acked`]), and the data sent once the window opens replaces it.
    /// Anything else is an ordinary segment.
    pub fn push_probe<F>(&mut self, at: (Timestamp, u64), seq: u32, payload: &[u8], out: &mut F)
    where
        F: FnMut(StreamOutput<'_>),
    {
        if self.base.is_some() && payload.len() == 1 && self.unwrap_seq(seq) == self.next {
            let start = self.next;
            self.buffer(at, start, payload, 0, true);
            return;
        }
        self.push(at, seq, payload, 0, out);
    }

    /// Records the FIN at the offset just past `seq + payload_len`.
    pub fn push_fin(&mut self, seq: u32, payload_len: usize) {
        if self.base.is_none() {
            self.base = Some(seq);
        }
        let at = self.unwrap_seq(seq) + payload_len as u64;
        self.fin = Some(self.fin.map_or(at, |f| f.min(at)));
    }

    /// The peer acknowledged every byte below `ack`. A hole below the acknowledged point that
    /// has captured data (or the FIN) above it will never be filled: the receiver got those
    /// bytes and nobody will retransmit them, so the capture simply lost them. Declare it.
    pub fn acked<F>(&mut self, ts: Timestamp, ack: u32, out: &mut F)
    where
        F: FnMut(StreamOutput<'_>),
    {
        if self.base.is_none() {
            return;
        }
        let acked = self.unwrap_seq(ack);
        if acked > self.next.saturating_add(1 << 31) {
            // Before offset 0 (a capture that began mid-stream): says nothing about the stream.
            return;
        }
        self.acked = self.acked.max(acked);
        self.acked_seen = true;
        if self.acked <= self.next {
            self.hole_since = None;
            return;
        }
        if matches!(self.pending.first_key_value(), Some((&k, p)) if p.probe && k == self.next) {
            // The receiver took the zero-window probe.
            self.drain(out);
        }
        self.expire(ts, out);
    }

    /// Highest offset the peer acknowledged, if it acknowledged anything.
    pub fn acked_offset(&self) -> Option<u64> {
        self.acked_seen.then_some(self.acked)
    }

    /// True when the FIN was acknowledged by the peer (the ACK covers its sequence number).
    pub fn fin_acked(&self) -> bool {
        matches!(self.fin, Some(f) if self.acked > f)
    }

    /// Whether the peer acknowledged bytes the capture has not shown yet, with captured data
    /// (or the FIN) above them.
    fn hole_acked(&self) -> bool {
        if self.acked <= self.next {
            return false;
        }
        match self.pending.first_key_value() {
            Some((&first, _)) => first <= self.acked,
            None => matches!(self.fin, Some(f) if self.acked > f && f > self.next),
        }
    }

    /// Declares the holes below the acknowledged point once the stream made no progress for
    /// [`ReassemblyLimits::reorder_nanos`] with them open: the receiver got those bytes and nobody will
    /// retransmit them, so the capture lost them (or shows them later than that, reordered).
    fn expire<F>(&mut self, ts: Timestamp, out: &mut F)
    where
        F: FnMut(StreamOutput<'_>),
    {
        if !self.hole_acked() {
            self.hole_since = None;
            return;
        }
        let (at, since) = *self.hole_since.get_or_insert((self.next, ts));
        if at != self.next {
            // The stream moved on since: this is a later hole, its clock starts now.
            self.hole_since = Some((self.next, ts));
            return;
        }
        if ts.nanos_since(since) < self.limits.reorder_nanos {
            return;
        }
        self.hole_since = None;
        let acked = self.acked;
        while matches!(self.pending.first_key_value(), Some((&first, _)) if first <= acked) {
            self.skip_to_held(ts, out);
        }
        if let Some(fin) = self.fin {
            // The FIN occupies one sequence number: an ACK past it acknowledges everything.
            if acked > fin && fin > self.next && self.pending.is_empty() {
                self.emit_gap(ts, fin - self.next, false, out);
            }
        }
    }

    /// Delivers everything still held, declaring gaps for the holes (end of flow or capture).
    pub fn flush<F>(&mut self, ts: Timestamp, out: &mut F)
    where
        F: FnMut(StreamOutput<'_>),
    {
        while self.skip_to_held(ts, out) {}
        if let Some(fin) = self.fin {
            if fin > self.next {
                self.emit_gap(ts, fin - self.next, false, out);
            }
        }
    }

    /// Stops holding data out of order (the memory budget was reached): every hole before a
    /// held segment is declared a gap now, as when [`ReassemblyLimits::max_buffered_bytes`] is
    /// reached, and the held data is delivered. Returns the bytes that were held.
    pub fn give_up_holes<F>(&mut self, ts: Timestamp, out: &mut F) -> usize
    where
        F: FnMut(StreamOutput<'_>),
    {
        let held = self.pending_bytes;
        self.hole_since = None;
        while self.skip_to_held(ts, out) {}
        held
    }

    /// Declares the hole in front of the first held segment a gap (when there is one) and
    /// delivers what is then in order; false when nothing is held.
    fn skip_to_held<F>(&mut self, ts: Timestamp, out: &mut F) -> bool
    where
        F: FnMut(StreamOutput<'_>),
    {
        let Some((&first, _)) = self.pending.first_key_value() else {
            return false;
        };
        if first > self.next {
            self.emit_gap(ts, first - self.next, false, out);
        }
        self.drain(out);
        true
    }

    /// Drops buffered data and stops remembering history (the flow is no longer analysed).
    pub fn release(&mut self) {
        self.hole_since = None;
        self.pending.clear();
        self.pending_bytes = 0;
        self.history = Vec::new();
    }

    fn deliver_from<F>(
        &mut self,
        (ts, packet): (Timestamp, u64),
        start: u64,
        payload: &[u8],
        missing: u64,
        out: &mut F,
    ) where
        F: FnMut(StreamOutput<'_>),
    {
        let skip = (self.next - start) as usize;
        if skip > 0 {
            let overlap = &payload[..skip.min(payload.len())];
            self.check_overlap((ts, packet), start, overlap, out);
        }
        if skip < payload.len() {
            let fresh = &payload[skip..];
            self.remember(fresh);
            self.stats.bytes += fresh.len() as u64;
            out(StreamOutput::Data {
                offset: self.next,
                ts,
                packet,
                bytes: fresh,
            });
            self.next += fresh.len() as u64;
        }
        let end = start + payload.len() as u64 + missing;
        if end > self.next {
            self.emit_gap(ts, end - self.next, missing > 0, out);
        }
    }

    fn drain<F>(&mut self, out: &mut F)
    where
        F: FnMut(StreamOutput<'_>),
    {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.next {
                break;
            }
            let start = *entry.key();
            let seg = entry.remove();
            self.pending_bytes -= seg.data.len();
            let end = start + seg.data.len() as u64 + seg.missing;
            if end <= self.next {
                self.stats.retransmissions += 1;
                if !seg.probe {
                    // A probe the receiver did not take was replaced by the data sent later.
                    self.check_overlap((seg.ts, seg.packet), start, &seg.data, out);
                }
            } else {
                self.deliver_from((seg.ts, seg.packet), start, &seg.data, seg.missing, out);
            }
            // Two held copies that disagreed are reported whether or not the data was still
            // needed when it came to be delivered.
            if let Some((first, last, ts, packet)) = seg.conflict {
                self.stats.overlaps += 1;
                out(StreamOutput::Overlap {
                    offset: first,
                    len: last - first + 1,
                    ts,
                    packet,
                });
            }
        }
    }

    fn buffer(
        &mut self,
        (ts, packet): (Timestamp, u64),
        start: u64,
        payload: &[u8],
        missing: u64,
        probe: bool,
    ) {
        if let Some(existing) = self.pending.get_mut(&start) {
            let covered = existing.data.len() as u64 + existing.missing;
            let total = payload.len() as u64 + missing;
            if !existing.probe && !probe {
                // Two copies of data not delivered yet: the first copy wins here too, and a
                // difference is reported once the segment is delivered.
                let common = existing.data.len().min(payload.len());
                let differ = |i: &usize| existing.data[*i] != payload[*i];
                if let Some(first) = (0..common).find(differ) {
                    let last = (0..common).rev().find(differ).unwrap_or(first);
                    let (f, l) = (start + first as u64, start + last as u64);
                    existing.conflict = Some(match existing.conflict {
                        Some((f0, l0, t0, p0)) => (f0.min(f), l0.max(l), t0, p0),
                        None => (f, l, ts, packet),
                    });
                }
                self.stats.retransmissions += 1;
                if total > covered {
                    let have = existing.data.len();
                    if payload.len() > have {
                        existing.data.extend_from_slice(&payload[have..]);
                        self.pending_bytes += payload.len() - have;
                    }
                    existing.missing = total - existing.data.len() as u64;
                }
                return;
            }
            if covered >= total && (probe || !existing.probe) {
                self.stats.retransmissions += 1;
                return;
            }
            self.pending_bytes -= existing.data.len();
        }
        self.pending_bytes += payload.len();
        self.pending.insert(
            start,
            Pending {
                ts,
                packet,
                data: payload.to_vec(),
                missing,
                probe,
                conflict: None,
            },
        );
    }

    fn enforce_limits<F>(&mut self, ts: Timestamp, out: &mut F)
    where
        F: FnMut(StreamOutput<'_>),
    {
        while (self.pending_bytes > self.limits.max_buffered_bytes
            || self.pending.len() > self.limits.max_buffered_segments)
            && self.skip_to_held(ts, out)
        {}
    }

    fn emit_gap<F>(&mut self, ts: Timestamp, len: u64, cut: bool, out: &mut F)
    where
        F: FnMut(StreamOutput<'_>),
    {
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        out(StreamOutput::Gap {
            offset: self.next,
            len,
            ts,
            cut,
        });
        self.next += len;
        self.history_from = self.next;
    }

    /// Records `bytes`, about to be delivered at `next`, in the history ring.
    fn remember(&mut self, bytes: &[u8]) {
        let cap = self.limits.history_bytes;
        if cap == 0 {
            return;
        }
        let len = self.history.len();
        if len == cap {
            // Fast path (the ring is at its full size): bytes that fit before its end.
            let pos = (self.next % len as u64) as usize;
            if bytes.len() <= len - pos {
                self.history[pos..pos + bytes.len()].copy_from_slice(bytes);
                return;
            }
        }
        // Worth keeping after this write: everything since the last gap, up to the cap.
        let want = (self.next - self.history_from)
            .saturating_add(bytes.len() as u64)
            .min(cap as u64) as usize;
        if self.history.len() < want {
            self.grow_history(want.next_power_of_two().max(256).min(cap));
        }
        let len = self.history.len();
        let tail = if bytes.len() > len {
            &bytes[bytes.len() - len..]
        } else {
            bytes
        };
        let first_offset = self.next + (bytes.len() - tail.len()) as u64;
        let mut pos = (first_offset % len as u64) as usize;
        let mut rest = tail;
        while !rest.is_empty() {
            let n = rest.len().min(len - pos);
            self.history[pos..pos + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            pos = (pos + n) % len;
        }
    }

    /// Re-lays the ring out at `new_len` bytes, keeping what it knew.
    fn grow_history(&mut self, new_len: usize) {
        let old = std::mem::replace(&mut self.history, vec![0; new_len]);
        let old_len = old.len() as u64;
        self.history_from = self.history_from.max(self.next.saturating_sub(old_len));
        if old_len == 0 {
            return;
        }
        for off in self.history_from..self.next {
            self.history[(off % new_len as u64) as usize] = old[(off % old_len) as usize];
        }
    }

    fn check_overlap<F>(
        &mut self,
        (ts, packet): (Timestamp, u64),
        start: u64,
        bytes: &[u8],
        out: &mut F,
    ) where
        F: FnMut(StreamOutput<'_>),
    {
        let len = self.history.len() as u64;
        if len == 0 {
            return;
        }
        // Bytes inside a gap were never seen: a late copy of them has nothing to disagree with.
        let window_start = self.next.saturating_sub(len).max(self.history_from);
        let mut first_diff = None;
        let mut last_diff = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let off = start + i as u64;
            if off < window_start || off >= self.next {
                continue;
            }
            if self.history[(off % len) as usize] != b {
                first_diff.get_or_insert(off);
                last_diff = off;
            }
        }
        if let Some(first) = first_diff {
            self.stats.overlaps += 1;
            out(StreamOutput::Overlap {
                offset: first,
                len: last_diff - first + 1,
                ts,
                packet,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Out {
        Data(u64, Vec<u8>),
        Gap(u64, u64),
        Overlap(u64, u64),
    }

    fn run(r: &mut StreamReassembler, seq: u32, data: &[u8], log: &mut Vec<Out>) {
        r.push((Timestamp(0), 1), seq, data, 0, &mut |o| log.push(own(o)));
    }

    fn own(o: StreamOutput<'_>) -> Out {
        match o {
            StreamOutput::Data { offset, bytes, .. } => Out::Data(offset, bytes.to_vec()),
            StreamOutput::Gap { offset, len, .. } => Out::Gap(offset, len),
            StreamOutput::Overlap { offset, len, .. } => Out::Overlap(offset, len),
        }
    }

    fn joined(log: &[Out]) -> Vec<u8> {
        log.iter()
            .flat_map(|o| match o {
                Out::Data(_, d) => d.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The memory budget's relief: every hole before held data is declared at once and the
    /// data delivered; nothing stays held.
    #[test]
    fn giving_up_holes_declares_them_and_delivers_what_was_held() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(99);
        let mut log = Vec::new();
        run(&mut r, 100, b"ab", &mut log);
        run(&mut r, 105, b"fg", &mut log);
        run(&mut r, 110, b"kl", &mut log);
        assert_eq!(r.buffered_bytes(), 4);
        let held = r.give_up_holes(Timestamp(1), &mut |o| log.push(own(o)));
        assert_eq!(held, 4);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(
            log,
            vec![
                Out::Data(0, b"ab".to_vec()),
                Out::Gap(2, 3),
                Out::Data(5, b"fg".to_vec()),
                Out::Gap(7, 3),
                Out::Data(10, b"kl".to_vec()),
            ]
        );
        // The stream goes on in order after it.
        run(&mut r, 112, b"m", &mut log);
        assert_eq!(log.last(), Some(&Out::Data(12, b"m".to_vec())));
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(99);
        let mut log = Vec::new();
        run(&mut r, 106, b"world", &mut log);
        assert!(log.is_empty());
        run(&mut r, 100, b"hello ", &mut log);
        run(&mut r, 100, b"hello ", &mut log);
        assert_eq!(joined(&log), b"hello world");
        assert_eq!(r.stats().retransmissions, 1);
    }

    #[test]
    fn wraparound_is_transparent() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(u32::MAX - 3);
        let mut log = Vec::new();
        run(&mut r, u32::MAX - 2, b"abc", &mut log);
        run(&mut r, 1, b"ef", &mut log);
        run(&mut r, 0, b"d", &mut log);
        assert_eq!(joined(&log), b"abcdef");
        assert_eq!(r.next_offset(), 6);
    }

    #[test]
    fn inconsistent_retransmission_is_reported() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 1, b"GET /a", &mut log);
        run(&mut r, 1, b"GET /b", &mut log);
        assert_eq!(log.last(), Some(&Out::Overlap(5, 1)));
        assert_eq!(joined(&log), b"GET /a");
    }

    #[test]
    fn flush_declares_exact_gaps() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 1, b"ab", &mut log);
        run(&mut r, 10, b"xy", &mut log);
        r.push_fin(20, 0);
        r.flush(Timestamp(0), &mut |o| log.push(own(o)));
        assert_eq!(
            log,
            vec![
                Out::Data(0, b"ab".to_vec()),
                Out::Gap(2, 7),
                Out::Data(9, b"xy".to_vec()),
                Out::Gap(11, 8)
            ]
        );
        assert!(r.is_finished());
    }

    #[test]
    fn buffer_limit_forces_gap() {
        let limits = ReassemblyLimits {
            max_buffered_bytes: 10,
            max_buffered_segments: 100,
            history_bytes: 0,
            ..ReassemblyLimits::default()
        };
        let mut r = StreamReassembler::new(limits);
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 5, b"12345678", &mut log);
        assert!(log.is_empty());
        run(&mut r, 13, b"abcdefgh", &mut log);
        assert_eq!(log[0], Out::Gap(0, 4));
        assert_eq!(r.buffered_bytes(), 0);
    }

    /// Regression: the history ring (then 16 KiB) was allocated whole on the first byte, so 50,000
    /// half-open HTTP connections of 17 bytes each held 1.6 GB. It now grows with the stream.
    #[test]
    fn history_grows_with_the_stream_up_to_its_limit() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 1, b"GET / HTTP/1.1\r\n", &mut log);
        assert_eq!(r.history.len(), 256);
        let big = vec![b'x'; 100_000];
        run(&mut r, 17, &big, &mut log);
        assert_eq!(r.history.len(), ReassemblyLimits::default().history_bytes);
    }

    /// Inconsistent retransmissions are caught exactly within the last `history_bytes`
    /// delivered since the last gap, however the ring grew on the way.
    #[test]
    fn overlap_detection_window_survives_growth_and_gaps() {
        let limits = ReassemblyLimits {
            history_bytes: 1000,
            reorder_nanos: 0,
            ..ReassemblyLimits::default()
        };
        let mut r = StreamReassembler::new(limits);
        r.set_isn(0);
        let byte = |o: u64| (o.wrapping_mul(2_654_435_761) >> 7) as u8;
        let mut x: u64 = 99;
        let mut rand = move |n: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        let mut gap_end = 0u64;
        for _ in 0..400 {
            let next = r.next_offset();
            if rand(10) == 0 {
                // A hole of up to 50 bytes, declared by an ACK past it.
                let hole = 1 + rand(50);
                let data: Vec<u8> = (next + hole..next + hole + 10).map(byte).collect();
                let mut log = Vec::new();
                r.push(
                    (Timestamp(0), 1),
                    (next + hole + 1) as u32,
                    &data,
                    0,
                    &mut |o| log.push(own(o)),
                );
                r.acked(Timestamp(0), (next + hole + 1) as u32, &mut |o| {
                    log.push(own(o))
                });
                assert_eq!(log[0], Out::Gap(next, hole));
                gap_end = next + hole;
                continue;
            }
            let len = 1 + rand(300);
            let data: Vec<u8> = (next..next + len).map(byte).collect();
            let mut log = Vec::new();
            run(&mut r, (next + 1) as u32, &data, &mut log);
            let next = r.next_offset();
            // Retransmit a delivered byte, changed, and an unchanged one.
            let back = 1 + rand(next.min(1500));
            let off = next - back;
            let mut log = Vec::new();
            run(&mut r, (off + 1) as u32, &[byte(off)], &mut log);
            assert!(log.is_empty(), "identical copy at {off} reported: {log:?}");
            run(&mut r, (off + 1) as u32, &[!byte(off)], &mut log);
            let seen = off >= next.saturating_sub(1000).max(gap_end);
            assert_eq!(
                log == vec![Out::Overlap(off, 1)],
                seen,
                "offset {off}, next {next}, gap end {gap_end}: {log:?}"
            );
        }
    }

    #[test]
    fn snaplen_cut_becomes_gap() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        r.push((Timestamp(0), 1), 1, b"abc", 5, &mut |o| log.push(own(o)));
        run(&mut r, 9, b"z", &mut log);
        assert_eq!(
            log,
            vec![
                Out::Data(0, b"abc".to_vec()),
                Out::Gap(3, 5),
                Out::Data(8, b"z".to_vec())
            ]
        );
    }

    fn ack(r: &mut StreamReassembler, t: i64, ack: u32, log: &mut Vec<Out>) {
        r.acked(Timestamp(t), ack, &mut |o| log.push(own(o)));
    }

    /// Regression (issue 9): a keep-alive (one garbage byte at SND.NXT - 1 once everything was
    /// acknowledged) was reported as an inconsistent overlap. The same byte before the ACK is
    /// still a retransmission that disagrees.
    #[test]
    fn keepalive_after_the_ack_is_ignored_but_not_before() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 1, b"hello", &mut log);
        run(&mut r, 5, b"\0", &mut log);
        assert_eq!(log.last(), Some(&Out::Overlap(4, 1)));
        ack(&mut r, 0, 6, &mut log);
        let mut log = Vec::new();
        run(&mut r, 5, b"\0", &mut log);
        run(&mut r, 5, b"", &mut log);
        assert!(log.is_empty(), "{log:?}");
        assert_eq!(r.stats().retransmissions, 1);
        assert_eq!(r.stats().overlaps, 1);
    }

    /// A zero-window probe is held: replaced by the data sent once the window opens, delivered
    /// once acknowledged, never delivered twice.
    #[test]
    fn zero_window_probe_is_held_until_acknowledged_or_replaced() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 1, b"ab", &mut log);
        let probe = |r: &mut StreamReassembler, log: &mut Vec<Out>, seq: u32, b: &[u8]| {
            r.push_probe((Timestamp(0), 1), seq, b, &mut |o| log.push(own(o)));
        };
        probe(&mut r, &mut log, 3, b"X");
        probe(&mut r, &mut log, 3, b"X");
        ack(&mut r, 0, 3, &mut log);
        run(&mut r, 3, b"cd", &mut log);
        assert_eq!(joined(&log), b"abcd");
        assert_eq!(r.stats().overlaps, 0);
        // Acknowledged: the receiver took it.
        probe(&mut r, &mut log, 5, b"e");
        assert_eq!(joined(&log), b"abcd");
        ack(&mut r, 0, 6, &mut log);
        assert_eq!(joined(&log), b"abcde");
        run(&mut r, 5, b"ef", &mut log);
        assert_eq!(joined(&log), b"abcdef");
        // Still held at the end of the stream: delivered.
        probe(&mut r, &mut log, 7, b"g");
        r.flush(Timestamp(0), &mut |o| log.push(own(o)));
        assert_eq!(joined(&log), b"abcdefg");
    }

    /// Regression (issue 9): an ACK captured before the data it acknowledges turned that data
    /// into a gap. The hole is declared only once it stayed open for `reorder_nanos`.
    #[test]
    fn ack_before_the_data_it_acknowledges_is_not_a_gap() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 4, b"def", &mut log);
        ack(&mut r, 0, 7, &mut log);
        ack(&mut r, 999_999_999, 7, &mut log);
        run(&mut r, 1, b"abc", &mut log);
        assert_eq!(joined(&log), b"abcdef");
        assert_eq!(r.stats().gaps, 0);
        // Really missing: declared once the reorder tolerance passed.
        run(&mut r, 10, b"jk", &mut log);
        ack(&mut r, 2_000_000_000, 12, &mut log);
        assert_eq!(log.len(), 2, "{log:?}");
        ack(&mut r, 3_000_000_000, 12, &mut log);
        assert_eq!(log[2..], [Out::Gap(6, 3), Out::Data(9, b"jk".to_vec())]);
    }

    /// Regression (issue 9): two different copies of a segment still held out of order were not
    /// compared (the longer one simply replaced the other). The first copy wins, the rest of a
    /// longer copy is kept, and the difference is reported when the segment is delivered.
    #[test]
    fn different_copies_of_a_held_segment_are_an_overlap_and_the_first_wins() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 4, b"def", &mut log);
        run(&mut r, 4, b"dXf", &mut log);
        run(&mut r, 4, b"deYgh", &mut log);
        run(&mut r, 4, b"defgh", &mut log);
        assert!(log.is_empty(), "{log:?}");
        run(&mut r, 1, b"abc", &mut log);
        assert_eq!(joined(&log), b"abcdefgh");
        assert_eq!(log.last(), Some(&Out::Overlap(4, 2)));
        assert_eq!(r.stats().overlaps, 1);
        assert_eq!(r.buffered_bytes(), 0);
    }

    /// Two held copies that disagree are reported even when a later segment already covered
    /// them by the time they are drained (the disagreement was dropped with the stale copy).
    #[test]
    fn held_copies_that_disagree_are_reported_even_when_covered_before_delivery() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        run(&mut r, 4, b"def", &mut log);
        run(&mut r, 4, b"dXf", &mut log);
        run(&mut r, 1, b"abcdefgh", &mut log);
        assert_eq!(joined(&log), b"abcdefgh");
        assert!(log.iter().any(|o| matches!(o, Out::Overlap(..))), "{log:?}");
        assert_eq!(r.stats().overlaps, 1);
        assert_eq!(r.buffered_bytes(), 0);
    }

    /// Regression (issue 9): a one-byte keep-alive on a direction that had sent no data yet sits
    /// at the SYN's sequence number, before offset 0; it was buffered 4 GiB ahead and flushed
    /// as a 4 GiB gap.
    #[test]
    fn keepalive_before_any_data_is_ignored() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(1000);
        let mut log = Vec::new();
        ack(&mut r, 0, 1001, &mut log);
        run(&mut r, 1000, b"\0", &mut log);
        r.flush(Timestamp(0), &mut |o| log.push(own(o)));
        assert!(log.is_empty(), "{log:?}");
        // A segment that starts before offset 0 keeps its part from offset 0 on.
        run(&mut r, 999, b"xyab", &mut log);
        assert_eq!(log, vec![Out::Data(0, b"ab".to_vec())]);
    }

    /// A merged capture with a steady skew shows every segment a little after the ACK that
    /// covers it, for as long as the transfer lasts: holes keep opening and closing, the stream
    /// keeps moving, nothing is missing.
    #[test]
    fn a_hole_that_keeps_moving_is_not_a_gap() {
        let mut r = StreamReassembler::new(ReassemblyLimits::default());
        r.set_isn(0);
        let mut log = Vec::new();
        let seg = |j: u32| vec![j as u8; 10];
        let push = |r: &mut StreamReassembler, t: i64, j: u32, log: &mut Vec<Out>| {
            r.push((Timestamp(t), 1), 1 + 10 * j, &seg(j), 0, &mut |o| {
                log.push(own(o))
            });
        };
        // Segment 2k - 2 arrives after segment 2k + 1 and the ACK of it: a hole is open below
        // the ACK at every moment. 100 ms per step, 10 s in all.
        push(&mut r, 0, 1, &mut log);
        ack(&mut r, 0, 1 + 10 * 2, &mut log);
        let mut t = 0;
        for k in 1..100u32 {
            t = i64::from(k) * 100_000_000;
            push(&mut r, t, 2 * k + 1, &mut log);
            ack(&mut r, t, 1 + 10 * (2 * k + 2), &mut log);
            push(&mut r, t, 2 * k - 2, &mut log);
        }
        push(&mut r, t, 198, &mut log);
        assert_eq!(r.stats().gaps, 0, "{:?}", &log[..3]);
        assert_eq!(r.next_offset(), 2000);
    }
}
