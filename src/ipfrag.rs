//! Bounded IPv4/IPv6 fragment reassembly.
//!
//! Fragments are collected per (source, destination, identification, protocol). A datagram is
//! released once its last fragment is known and every byte before it has arrived. Memory is
//! bounded: at most [`DefragLimits::max_datagrams`] datagrams in progress, each at most 64 KiB;
//! the oldest is dropped (and counted) when the table is full, and datagrams idle longer than
//! [`DefragLimits::timeout_nanos`] are dropped.

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
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 1024,
            timeout_nanos: 30_000_000_000,
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
    /// Sorted, merged byte ranges received.
    ranges: Vec<(usize, usize)>,
    total: Option<usize>,
    last_seen: Timestamp,
}

const MAX_DATAGRAM: usize = 65_535;

/// Counters describing what the defragmenter did.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefragStats {
    /// Fragments received.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped (table full, timeout, or oversized).
    pub dropped: u64,
}

/// The fragment table.
#[derive(Debug, Default)]
pub struct Defragmenter {
    limits: DefragLimits,
    pending: HashMap<FragKey, Pending>,
    stats: DefragStats,
}

impl Defragmenter {
    /// Creates an empty table with the given limits.
    pub fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            pending: HashMap::new(),
            stats: DefragStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DefragStats {
        self.stats
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
            if self.pending.remove(&key).is_some() {
                self.stats.dropped += 1;
            }
            return None;
        }
        if !self.pending.contains_key(&key) {
            self.expire(ts);
            if self.pending.len() >= self.limits.max_datagrams {
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
            entry.data.resize(end, 0);
        }
        entry.data[offset..end].copy_from_slice(payload);
        if !more_fragments {
            entry.total = Some(end);
        }
        insert_range(&mut entry.ranges, offset, end);
        let complete = match (entry.total, entry.ranges.first()) {
            (Some(total), Some(&(0, covered))) => covered >= total,
            _ => false,
        };
        if complete {
            let mut done = self.pending.remove(&key)?;
            let total = done.total.unwrap_or(done.data.len());
            done.data.truncate(total);
            self.stats.reassembled += 1;
            return Some(done.data);
        }
        None
    }

    fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_nanos;
        let before = self.pending.len();
        self.pending
            .retain(|_, p| now.nanos_since(p.last_seen) <= timeout);
        self.stats.dropped += (before - self.pending.len()) as u64;
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.pending.remove(&k);
            self.stats.dropped += 1;
        }
    }
}

fn insert_range(ranges: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    ranges.push((start, end));
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged;
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
        });
        for id in 0..100 {
            d.add(key(id), Timestamp(i64::from(id)), 0, true, &[0; 8]);
        }
        assert_eq!(d.pending.len(), 4);
        assert_eq!(d.stats().dropped, 96);
    }
}
