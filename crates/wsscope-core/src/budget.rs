//! The global memory budget (`--max-memory`): one shared account of the bytes the analysis
//! buffers (out-of-order TCP data, messages being assembled, inflaters) and the payload bytes
//! the outputs hold (the JSON report's payloads, the terminal UI's message previews).
//!
//! The outputs charge what they hold with [`MemoryBudget::try_charge`], which leaves the last
//! eighth of the limit ([`MemoryBudget::held_limit`]) to the analysis: retained payloads can
//! be dropped later, what the analysis is refused is lost. The analysis charges with
//! [`MemoryBudget::try_charge_analysis`] (the whole limit) or, for inflaters, which are never
//! refused (refusing one would blind a direction for good), [`MemoryBudget::charge`].
//! Everything is given back with [`MemoryBudget::release`]. An output refused a charge
//! degrades a session (drops payload it holds or would hold) and says so with
//! [`MemoryBudget::record_drop`]; the analyzer collects those records
//! ([`MemoryBudget::take_drops`]) and reports them as `payload-budget-exceeded` findings. The
//! analysis reports what it gives up itself (`memory-budget-exceeded`). The account is passed
//! down to every layer that uses it; none of them knows the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Default `--max-memory`: 1 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// Payload a holder dropped for a session because the budget was reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Messages whose payload was dropped (or cut).
    pub messages: u64,
    /// Payload bytes dropped.
    pub bytes: u64,
}

#[derive(Debug)]
struct Inner {
    limit: u64,
    used: AtomicU64,
    peak: AtomicU64,
    /// Set when `drops` may be non-empty (spares the lock on every message).
    dropped: AtomicBool,
    drops: Mutex<Drops>,
}

/// Drops recorded since the last [`MemoryBudget::take_drops`], per session in order of first
/// record (with an index, so one refused charge that degrades thousands of sessions stays
/// linear).
#[derive(Debug, Default)]
struct Drops {
    order: Vec<(u64, Dropped)>,
    index: HashMap<u64, usize>,
}

/// A shared byte account with a limit; cloning shares it.
#[derive(Clone, Debug)]
pub struct MemoryBudget(Arc<Inner>);

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(DEFAULT_MAX_MEMORY)
    }
}

impl MemoryBudget {
    /// An account of at most `limit` bytes.
    pub fn new(limit: u64) -> Self {
        MemoryBudget(Arc::new(Inner {
            limit,
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            dropped: AtomicBool::new(false),
            drops: Mutex::new(Drops::default()),
        }))
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.0.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.0.used.load(Ordering::Relaxed)
    }

    /// Most bytes ever charged at once.
    pub fn peak(&self) -> u64 {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// What the outputs' payloads may bring the account to: the limit less an eighth kept
    /// for the analysis's own buffers.
    pub fn held_limit(&self) -> u64 {
        self.0.limit - self.0.limit / 8
    }

    /// Charges `n` bytes of payload an output holds if the account stays within
    /// [`Self::held_limit`]; false (nothing charged) otherwise.
    pub fn try_charge(&self, n: u64) -> bool {
        self.charge_within(n, self.held_limit())
    }

    /// Charges `n` bytes the analysis buffers if they fit under the limit; false (nothing
    /// charged) otherwise.
    pub fn try_charge_analysis(&self, n: u64) -> bool {
        self.charge_within(n, self.0.limit)
    }

    /// Charges `n` bytes that cannot be refused (an inflater): the account may pass the limit,
    /// and then every other charge is refused until enough is given back.
    pub fn charge(&self, n: u64) {
        let next = self
            .0
            .used
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        self.0.peak.fetch_max(next, Ordering::Relaxed);
    }

    fn charge_within(&self, n: u64, limit: u64) -> bool {
        let used = &self.0.used;
        let mut cur = used.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(n).filter(|&v| v <= limit) else {
                return false;
            };
            match used.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    self.0.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(v) => cur = v,
            }
        }
    }

    /// Gives back `n` bytes charged before.
    pub fn release(&self, n: u64) {
        let used = &self.0.used;
        let mut cur = used.load(Ordering::Relaxed);
        loop {
            let next = cur.saturating_sub(n);
            match used.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(v) => cur = v,
            }
        }
    }

    /// Records payload dropped from `session` because a charge was refused.
    pub fn record_drop(&self, session: u64, dropped: Dropped) {
        if let Ok(mut drops) = self.0.drops.lock() {
            let drops = &mut *drops;
            match drops.index.get(&session) {
                Some(&i) => {
                    if let Some((_, d)) = drops.order.get_mut(i) {
                        d.messages += dropped.messages;
                        d.bytes += dropped.bytes;
                    }
                }
                None => {
                    drops.index.insert(session, drops.order.len());
                    drops.order.push((session, dropped));
                }
            }
            self.0.dropped.store(true, Ordering::Release);
        }
    }

    /// The drops recorded since the last call, per session in order of first record.
    pub fn take_drops(&self) -> Vec<(u64, Dropped)> {
        if !self.0.dropped.load(Ordering::Relaxed) || !self.0.dropped.swap(false, Ordering::Acquire)
        {
            return Vec::new();
        }
        match self.0.drops.lock() {
            Ok(mut drops) if !drops.order.is_empty() => {
                drops.index.clear();
                std::mem::take(&mut drops.order)
            }
            _ => Vec::new(),
        }
    }
}

/// `1073741824` as `1.0 GiB` (for finding details).
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parses a `--max-memory` value: bytes, or a number with K, M, G (KiB, MiB, GiB; an optional
/// trailing `iB` or `B`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mult) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 1u64 << 10),
        Some('m') => (&body[..body.len() - 1], 1 << 20),
        Some('g') => (&body[..body.len() - 1], 1 << 30),
        Some('t') => (&body[..body.len() - 1], 1 << 40),
        _ => (body, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            format!("invalid size '{t}': use bytes or a number with K, M or G (e.g. 512M)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_up_to_the_limit_and_releases() {
        let b = MemoryBudget::new(100);
        assert_eq!(b.held_limit(), 88);
        assert!(b.try_charge(60));
        assert!(!b.try_charge(29), "outputs leave an eighth to the analysis");
        assert!(b.try_charge(28));
        assert!(!b.try_charge_analysis(13));
        assert!(b.try_charge_analysis(12));
        assert_eq!(b.used(), 100);
        b.release(50);
        assert_eq!(b.used(), 50);
        assert!(b.clone().try_charge(38), "clones share the account");
        assert_eq!(b.peak(), 100);
        b.charge(20);
        assert_eq!(
            (b.used(), b.peak()),
            (108, 108),
            "an inflater is never refused"
        );
        assert!(!b.try_charge_analysis(1));
    }

    #[test]
    fn drops_are_merged_per_session_and_taken_once() {
        let b = MemoryBudget::new(0);
        b.record_drop(
            3,
            Dropped {
                messages: 1,
                bytes: 10,
            },
        );
        b.record_drop(
            3,
            Dropped {
                messages: 2,
                bytes: 5,
            },
        );
        b.record_drop(
            4,
            Dropped {
                messages: 1,
                bytes: 1,
            },
        );
        assert_eq!(
            b.take_drops(),
            vec![
                (
                    3,
                    Dropped {
                        messages: 3,
                        bytes: 15
                    }
                ),
                (
                    4,
                    Dropped {
                        messages: 1,
                        bytes: 1
                    }
                )
            ]
        );
        assert!(b.take_drops().is_empty());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64kb"), Ok(64 << 10));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
