//! Bounded IPv4/IPv6 fragment reassembly.
//!
//! Fragments are collected per (source, destination, identification, protocol). A datagram is
//! released once its last fragment is known and every byte before it has arrived. Memory is
//! bounded: at most [`DefragLimits::max_datagrams`] datagrams in progress, each holding at most
//! 64 KiB of data (the buffer never grows past the largest IP payload) and at most
//! [`DefragLimits::max_pieces`] disjoint pieces. The oldest datagram is dropped (and counted)
//! when the table is full, datagrams idle longer than [`DefragLimits::timeout_nanos`] are
//! dropped, and so is a datagram shredded into more pieces than allowed (thousands of tiny
//! disjoint fragments are an attack on the CPU, not something a sender does).
//!
//! Overlapping fragments: the first copy of a byte wins, as in the TCP reassembler (and as
//! Linux treats a fragment contained in one it already has). Overlaps that disagree with the
//! first copy are counted ([`DefragStats::overlaps_inconsistent`]): receivers differ on which
//! copy they keep (RFC 5722 makes IPv6 receivers drop the whole datagram), so the bytes the
//! analyzer shows may not be the ones the host used.

use crate::timestamp::Timestamp;
use std::collections::HashMap;
use std::net::IpAddr;

/// Limits for the fragment table.
#[derive(Clone, Copy, Debug)]
pub struct DefragLimits {
    /// Datagrams in progress at once.
    pub max_datagrams: usize,
    /// Drop a datagram whose last fragment arrived this long ago.
    pub timeout_nanos: i64,
    /// Disjoint pieces (runs of received bytes) a datagram may be in before it is dropped.
    pub max_pieces: usize,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 1024,
            timeout_nanos: 30_000_000_000,
            max_pieces: 64,
        }
    }
}

/// Identity of a fragmented datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
    /// Upper-layer protocol number.
    pub protocol: u8,
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    /// Sorted, disjoint, non-adjacent byte ranges received.
    ranges: Vec<(u32, u32)>,
    total: Option<usize>,
    last_seen: Timestamp,
}

/// Largest IP payload, so largest datagram a fragment can belong to.
pub const MAX_DATAGRAM: usize = 65_535;

/// Counters describing what the defragmenter did.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefragStats {
    /// Fragments received.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped incomplete (table full, timeout, oversized or shredded).
    pub dropped: u64,
    /// Of those, dropped because the table was full.
    pub evicted: u64,
    /// Of those, dropped because they were in more than [`DefragLimits::max_pieces`] pieces.
    pub shredded: u64,
    /// Fragments that overlapped bytes already received with different values.
    pub overlaps_inconsistent: u64,
    /// Largest number of datagrams in progress at once.
    pub peak_datagrams: usize,
    /// Largest number of bytes held at once (buffer capacity of all datagrams in progress).
    pub peak_bytes: usize,
}

/// The fragment table.
#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: DefragLimits,
    pending: HashMap<FragKey, Pending>,
    /// Sum of the buffer capacities in `pending`.
    bytes: usize,
    last_sweep: Option<Timestamp>,
    stats: DefragStats,
}

impl Defragmenter {
    /// Creates an empty table with the given limits.
    pub fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            pending: HashMap::new(),
            bytes: 0,
            last_sweep: None,
            stats: DefragStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Datagrams in progress right now.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no datagram is in progress.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Bytes held right now (buffer capacity of the datagrams in progress).
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Adds one fragment (`offset` in bytes). Returns the whole upper-layer payload when complete.
    pub fn add(
        &mut self,
        key: FragKey,
        ts: Timestamp,
        offset: usize,
        more_fragments: bool,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        self.stats.fragments += 1;
        let end = offset.saturating_add(payload.len());
        if end > MAX_DATAGRAM {
            self.drop_datagram(&key);
            return None;
        }
        if !self.pending.contains_key(&key) {
            self.expire(ts);
            if self.pending.len() >= self.limits.max_datagrams.max(1) {
                self.evict_oldest();
            }
        }
        let entry = self.pending.entry(key).or_insert_with(|| Pending {
            data: Vec::new(),
            ranges: Vec::new(),
            total: None,
            last_seen: ts,
        });
        entry.last_seen = ts;
        if entry.data.len() < end {
            // Grow geometrically but never past the largest datagram.
            let before = entry.data.capacity();
            if before < end {
                let want = end.max(before.saturating_mul(2)).min(MAX_DATAGRAM);
                entry.data.reserve_exact(want - entry.data.len());
            }
            entry.data.resize(end, 0);
            self.bytes += entry.data.capacity() - before;
        }
        if copy_uncovered(&mut entry.data, &entry.ranges, offset, payload) {
            self.stats.overlaps_inconsistent += 1;
        }
        if !more_fragments {
            entry.total = Some(end);
        }
        // Both fit in u32: end <= MAX_DATAGRAM.
        insert_range(&mut entry.ranges, offset as u32, end as u32);
        let shredded = entry.ranges.len() > self.limits.max_pieces;
        let complete = match (entry.total, entry.ranges.first()) {
            (Some(total), Some(&(0, covered))) => covered as usize >= total,
            _ => false,
        };
        self.stats.peak_datagrams = self.stats.peak_datagrams.max(self.pending.len());
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes);
        if complete {
            let mut done = self.pending.remove(&key)?;
            self.bytes -= done.data.capacity();
            let total = done.total.unwrap_or(done.data.len());
            done.data.truncate(total);
            self.stats.reassembled += 1;
            return Some(done.data);
        }
        if shredded && self.drop_datagram(&key) {
            self.stats.shredded += 1;
        }
        None
    }

    fn drop_datagram(&mut self, key: &FragKey) -> bool {
        match self.pending.remove(key) {
            Some(p) => {
                self.bytes -= p.data.capacity();
                self.stats.dropped += 1;
                true
            }
            None => false,
        }
    }

    /// Drops datagrams idle past the timeout; runs at most once per second of capture time.
    fn expire(&mut self, now: Timestamp) {
        if self
            .last_sweep
            .is_some_and(|last| now.nanos_since(last) < 1_000_000_000)
        {
            return;
        }
        self.last_sweep = Some(now);
        let timeout = self.limits.timeout_nanos;
        let mut freed = 0;
        let before = self.pending.len();
        self.pending.retain(|_, p| {
            let keep = now.nanos_since(p.last_seen) <= timeout;
            if !keep {
                freed += p.data.capacity();
            }
            keep
        });
        self.bytes -= freed;
        self.stats.dropped += (before - self.pending.len()) as u64;
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            if self.drop_datagram(&k) {
                self.stats.evicted += 1;
            }
        }
    }
}

/// Copies the bytes of `payload` (which starts at `offset`) that no earlier fragment supplied.
/// Returns true when a byte an earlier fragment supplied differs in `payload`.
fn copy_uncovered(data: &mut [u8], ranges: &[(u32, u32)], offset: usize, payload: &[u8]) -> bool {
    let end = offset + payload.len();
    let mut pos = offset;
    let mut differs = false;
    let first = ranges.partition_point(|r| (r.1 as usize) <= offset);
    for &(rs, re) in &ranges[first..] {
        let (rs, re) = (rs as usize, re as usize);
        if rs >= end {
            break;
        }
        if rs > pos {
            data[pos..rs].copy_from_slice(&payload[pos - offset..rs - offset]);
        }
        let (cs, ce) = (rs.max(offset), re.min(end));
        if cs < ce && data[cs..ce] != payload[cs - offset..ce - offset] {
            differs = true;
        }
        pos = pos.max(re);
        if pos >= end {
            return differs;
        }
    }
    data[pos..end].copy_from_slice(&payload[pos - offset..]);
    differs
}

/// Adds `[start, end)` to sorted, disjoint, non-adjacent `ranges`, merging what it touches.
/// Binary search and one splice: no re-sort, no reallocation beyond the vector's growth.
fn insert_range(ranges: &mut Vec<(u32, u32)>, start: u32, end: u32) {
    // First range that ends at or after `start` (it touches or follows the new one).
    let i = ranges.partition_point(|r| r.1 < start);
    // First range that starts after `end` (it neither touches nor precedes it).
    let j = ranges.partition_point(|r| r.0 <= end);
    if i == j {
        ranges.insert(i, (start, end));
    } else {
        let merged = (start.min(ranges[i].0), end.max(ranges[j - 1].1));
        ranges[i] = merged;
        ranges.drain(i + 1..j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            id,
            protocol: 6,
        }
    }

    #[test]
    fn reassembles_out_of_order_fragments() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let data: Vec<u8> = (0..40u8).collect();
        assert!(d
            .add(key(1), Timestamp(0), 24, false, &data[24..])
            .is_none());
        assert!(d.add(key(1), Timestamp(1), 0, true, &data[..16]).is_none());
        let whole = d.add(key(1), Timestamp(2), 16, true, &data[16..24]);
        assert_eq!(whole.as_deref(), Some(&data[..]));
        assert_eq!(d.stats().reassembled, 1);
    }

    #[test]
    fn table_is_bounded() {
        let mut d = Defragmenter::new(DefragLimits {
            max_datagrams: 4,
            timeout_nanos: i64::MAX,
            ..DefragLimits::default()
        });
        for id in 0..100 {
            d.add(key(id), Timestamp(i64::from(id)), 0, true, &[0; 8]);
        }
        assert_eq!(d.len(), 4);
        assert_eq!(d.stats().dropped, 96);
        assert_eq!(d.stats().evicted, 96);
        assert_eq!(d.stats().peak_datagrams, 4);
    }

    #[test]
    fn oldest_datagram_is_the_one_evicted() {
        let mut d = Defragmenter::new(DefragLimits {
            max_datagrams: 3,
            timeout_nanos: i64::MAX,
            ..DefragLimits::default()
        });
        let data: Vec<u8> = (0..24u8).collect();
        d.add(key(1), Timestamp(0), 0, true, &data[..8]);
        d.add(key(2), Timestamp(1), 0, true, &data[..8]);
        d.add(key(3), Timestamp(2), 0, true, &data[..8]);
        // Datagram 1 is touched again: 2 is now the oldest.
        d.add(key(1), Timestamp(3), 8, true, &data[8..16]);
        d.add(key(4), Timestamp(4), 0, true, &data[..8]);
        assert_eq!(d.stats().evicted, 1);
        let whole = d.add(key(1), Timestamp(5), 16, false, &data[16..]);
        assert_eq!(whole.as_deref(), Some(&data[..]));
        assert!(d
            .add(key(2), Timestamp(6), 8, false, &data[8..16])
            .is_none());
    }

    /// Regression: a fragment at the far end of the offset space allocates the buffer once,
    /// never more than the largest datagram, and the byte count follows every drop.
    #[test]
    fn memory_is_bounded_by_datagrams_times_64k() {
        let limits = DefragLimits {
            max_datagrams: 16,
            timeout_nanos: 1_000_000_000,
            ..DefragLimits::default()
        };
        let mut d = Defragmenter::new(limits);
        for id in 0..1000u32 {
            let ts = Timestamp(i64::from(id) * 100_000_000);
            d.add(key(id), ts, 65_528 - 8 * (id as usize % 7), true, &[1; 7]);
            d.add(key(id), ts, 8 * (id as usize % 5), true, &[2; 8]);
            assert!(d.len() <= 16);
            let held: usize = d.pending.values().map(|p| p.data.capacity()).sum();
            assert_eq!(held, d.buffered_bytes());
            assert!(d
                .pending
                .values()
                .all(|p| p.data.capacity() <= MAX_DATAGRAM));
        }
        let s = d.stats();
        assert!(s.peak_bytes <= 16 * MAX_DATAGRAM, "{}", s.peak_bytes);
        assert!(s.peak_bytes >= 15 * 65_000, "{}", s.peak_bytes);
        assert_eq!(s.peak_datagrams, 16);
        assert_eq!(s.dropped, 1000 - d.len() as u64);
        // Some were dropped by the table, some by the timeout (100 ms apart, 1 s timeout).
        assert!(s.evicted > 0 && s.evicted < s.dropped, "{s:?}");
        // A fragment past 65535 bytes is refused and drops its datagram.
        assert!(d
            .add(key(999), Timestamp(i64::MAX / 2), 65_528, true, &[0; 16])
            .is_none());
        assert_eq!(d.stats().dropped, s.dropped + 1);
    }

    /// Regression: thousands of tiny disjoint fragments used to cost a sort and a new vector
    /// per fragment (quadratic CPU); the datagram is now dropped past `max_pieces` pieces.
    #[test]
    fn shredded_datagram_is_dropped() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let max = DefragLimits::default().max_pieces;
        for i in 0..max {
            d.add(key(7), Timestamp(0), 16 * i, true, &[0; 8]);
            assert_eq!(d.pending[&key(7)].ranges.len(), i + 1);
        }
        assert_eq!(d.stats().dropped, 0);
        d.add(key(7), Timestamp(0), 16 * max, true, &[0; 8]);
        assert!(d.is_empty());
        assert_eq!(d.buffered_bytes(), 0);
        assert_eq!(d.stats().dropped, 1);
        assert_eq!(d.stats().shredded, 1);
        // Filling the holes of a datagram keeps it in one piece: no limit is hit.
        let data: Vec<u8> = (0..=255u8).cycle().take(8 * 2000).collect();
        let mut whole = None;
        for i in (0..2000).rev() {
            let last = i == 1999;
            whole = d.add(key(8), Timestamp(1), 8 * i, !last, &data[8 * i..8 * i + 8]);
        }
        assert_eq!(whole.as_deref(), Some(&data[..]));
    }

    #[test]
    fn first_copy_of_overlapping_bytes_wins() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let a = [b'a'; 24];
        let b = [b'b'; 32];
        assert!(d.add(key(9), Timestamp(0), 8, true, &a[..16]).is_none());
        // Overlaps [8, 24) and brings [0, 8) and [24, 32).
        assert!(d.add(key(9), Timestamp(1), 0, true, &b[..]).is_none());
        let whole = d
            .add(key(9), Timestamp(2), 32, false, &a[..8])
            .expect("complete");
        assert_eq!(&whole[..], b"bbbbbbbbaaaaaaaaaaaaaaaabbbbbbbbaaaaaaaa");
        assert_eq!(d.stats().overlaps_inconsistent, 1);
        // An overlap with the same bytes is a plain duplicate.
        assert!(d.add(key(10), Timestamp(0), 8, true, &a[..16]).is_none());
        assert!(d.add(key(10), Timestamp(0), 0, true, &a[..]).is_none());
        assert_eq!(d.stats().overlaps_inconsistent, 1);
    }

    #[test]
    fn insert_range_matches_a_bitmap() {
        let mut ranges = Vec::new();
        let mut bits = vec![false; 300];
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let start = (x >> 8) % 280;
            let len = (x >> 20) % 17;
            insert_range(&mut ranges, start, start + len);
            bits[start as usize..(start + len) as usize]
                .iter_mut()
                .for_each(|b| *b = true);
            let mut want = Vec::new();
            let mut i = 0;
            while i < bits.len() {
                if bits[i] {
                    let s = i;
                    while i < bits.len() && bits[i] {
                        i += 1;
                    }
                    want.push((s as u32, i as u32));
                } else {
                    i += 1;
                }
            }
            // Empty ranges may linger as zero-length pieces only where nothing else is.
            let got: Vec<(u32, u32)> = ranges.iter().copied().filter(|r| r.0 < r.1).collect();
            assert_eq!(got, want);
        }
    }
}
