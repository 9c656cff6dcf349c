//! A byte-bounded packet queue between a producer thread (a live capture) and the [`Run`]
//! driver: the producer copies each packet into a pooled buffer and never waits; when the
//! packets waiting for the analysis would exceed the byte bound, the packet is dropped and
//! counted, and the drops are reported as a capture notice when the capture ends.
//!
//! [`Run`]: super::Run

use super::{PacketSource, SourceEnd, SourceNotice};
use crate::capture::RawPacket;
use crate::finding::thousands;
use crate::timestamp::Timestamp;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Bookkeeping bytes charged per queued packet on top of its data, so that a flood of tiny
/// packets is bounded too.
const PER_PACKET_COST: usize = 64;

/// What the consumer side reports about the capture it reads.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// Name of the capture (`live:eth0`).
    pub name: String,
    /// Format named in the capture report (`live`).
    pub format: &'static str,
    /// Link types of the capture's interfaces.
    pub linktypes: Vec<u32>,
    /// Most bytes held by packets waiting for the analysis.
    pub max_bytes: usize,
}

/// One packet waiting for the analysis.
struct Held {
    ts: Timestamp,
    linktype: u32,
    orig_len: u32,
    data: Vec<u8>,
}

impl Held {
    fn cost(&self) -> usize {
        self.data.len() + PER_PACKET_COST
    }
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Held>,
    /// Emptied buffers, reused for the next packets.
    free: Vec<Vec<u8>>,
    /// Bytes charged for `waiting`.
    held: usize,
    /// Bytes of every packet accepted.
    accepted_bytes: u64,
    dropped: u64,
    dropped_bytes: u64,
    /// The producer is done (finished or dropped).
    finished: bool,
    /// The consumer asked for no more packets.
    stopped: bool,
    /// What the producer reported when it finished.
    notices: Vec<SourceNotice>,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    max_bytes: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates a queue: the [`PacketFeeder`] goes to the producer thread, the [`PacketQueue`]
/// (a [`PacketSource`]) to the driver.
pub fn packet_queue(settings: QueueSettings) -> (PacketFeeder, PacketQueue) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        ready: Condvar::new(),
        max_bytes: settings.max_bytes,
    });
    let feeder = PacketFeeder {
        shared: Arc::clone(&shared),
    };
    let queue = PacketQueue {
        shared,
        settings,
        current: None,
    };
    (feeder, queue)
}

/// The producer's end of a [`packet_queue`]. Dropping it ends the capture like
/// [`PacketFeeder::finish`] without notices.
pub struct PacketFeeder {
    shared: Arc<Shared>,
}

impl PacketFeeder {
    /// Queues a copy of one packet, or drops and counts it when the queue is full. Returns
    /// false when the consumer has stopped: the producer should stop capturing.
    pub fn push(&self, ts: Timestamp, linktype: u32, data: &[u8], orig_len: u32) -> bool {
        let mut state = self.shared.lock();
        if state.stopped {
            return false;
        }
        let cost = data.len() + PER_PACKET_COST;
        if state.held > 0 && state.held + cost > self.shared.max_bytes {
            state.dropped += 1;
            state.dropped_bytes += data.len() as u64;
            return true;
        }
        let mut buf = state.free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        state.held += cost;
        state.accepted_bytes += data.len() as u64;
        state.waiting.push_back(Held {
            ts,
            linktype,
            orig_len,
            data: buf,
        });
        drop(state);
        self.shared.ready.notify_one();
        true
    }

    /// Whether the consumer has stopped (sink error or stop request).
    pub fn is_stopped(&self) -> bool {
        self.shared.lock().stopped
    }

    /// Ends the capture: the consumer reads what is queued, then sees the end; `notices` are
    /// reported with the capture (drops elsewhere, an error that ended it).
    pub fn finish(self, notices: Vec<SourceNotice>) {
        self.shared.lock().notices = notices;
        // Drop marks the end and wakes the consumer.
    }
}

impl Drop for PacketFeeder {
    fn drop(&mut self) {
        self.shared.lock().finished = true;
        self.shared.ready.notify_all();
    }
}

/// The consumer's end of a [`packet_queue`]: a [`PacketSource`] that waits for packets until
/// the producer finishes.
pub struct PacketQueue {
    shared: Arc<Shared>,
    settings: QueueSettings,
    /// The packet last returned (its buffer goes back to the pool on the next call).
    current: Option<Held>,
}

impl PacketQueue {
    /// Packets and bytes dropped so far because the queue was full.
    pub fn dropped(&self) -> (u64, u64) {
        let state = self.shared.lock();
        (state.dropped, state.dropped_bytes)
    }
}

impl PacketSource for PacketQueue {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn next_packet(&mut self) -> Option<RawPacket<'_>> {
        let mut state = self.shared.lock();
        if let Some(done) = self.current.take() {
            // Keep at most a quarter of the bound in spare buffers.
            let spare: usize = state.free.iter().map(Vec::capacity).sum();
            if spare + done.data.capacity() <= self.shared.max_bytes / 4 {
                state.free.push(done.data);
            }
        }
        let next = loop {
            if let Some(p) = state.waiting.pop_front() {
                state.held -= p.cost();
                break p;
            }
            if state.finished {
                return None;
            }
            state = self
                .shared
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        };
        drop(state);
        let held = self.current.insert(next);
        Some(RawPacket {
            ts: held.ts,
            linktype: held.linktype,
            data: &held.data,
            orig_len: held.orig_len,
        })
    }

    fn position(&self) -> u64 {
        self.shared.lock().accepted_bytes
    }

    fn size(&self) -> Option<u64> {
        None
    }

    fn stop(&mut self) {
        self.shared.lock().stopped = true;
    }

    fn end(&mut self) -> SourceEnd {
        let state = self.shared.lock();
        let mut notices = state.notices.clone();
        if state.dropped > 0 {
            notices.push(SourceNotice {
                text: format!(
                    "{} packets ({} bytes) dropped because the analysis fell behind the capture (more than {} bytes waiting); expect tcp-gap findings",
                    thousands(state.dropped),
                    thousands(state.dropped_bytes),
                    thousands(self.shared.max_bytes as u64)
                ),
                count: state.dropped,
            });
        }
        SourceEnd {
            format: self.settings.format,
            linktypes: self.settings.linktypes.clone(),
            notices,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_bytes: usize) -> QueueSettings {
        QueueSettings {
            name: "test".into(),
            format: "live",
            linktypes: vec![1],
            max_bytes,
        }
    }

    #[test]
    fn full_queue_drops_by_bytes_and_reports_the_drops() {
        let (feeder, mut queue) = packet_queue(settings(3 * (100 + PER_PACKET_COST)));
        let ts = Timestamp::from_parts(1, 0);
        for _ in 0..5 {
            assert!(feeder.push(ts, 1, &[7; 100], 100));
        }
        feeder.finish(Vec::new());
        let mut got = 0;
        while let Some(p) = queue.next_packet() {
            assert_eq!(p.data, &[7; 100][..]);
            got += 1;
        }
        assert_eq!(got, 3);
        assert_eq!(queue.dropped(), (2, 200));
        let end = queue.end();
        assert_eq!(end.notices.len(), 1);
        assert_eq!(end.notices[0].count, 2);
        assert!(
            end.notices[0]
                .text
                .starts_with("2 packets (200 bytes) dropped"),
            "{}",
            end.notices[0].text
        );
    }

    #[test]
    fn small_packets_count_against_the_bound() {
        let (feeder, mut queue) = packet_queue(settings(10 * PER_PACKET_COST));
        let ts = Timestamp::from_parts(1, 0);
        for _ in 0..100 {
            feeder.push(ts, 1, &[], 0);
        }
        drop(feeder);
        let mut got = 0;
        while queue.next_packet().is_some() {
            got += 1;
        }
        assert_eq!(got, 10);
        assert_eq!(queue.dropped().0, 90);
    }

    #[test]
    fn a_stopped_consumer_stops_the_producer_and_keeps_what_was_queued() {
        let (feeder, mut queue) = packet_queue(settings(1 << 20));
        let ts = Timestamp::from_parts(1, 0);
        assert!(feeder.push(ts, 1, b"first", 5));
        queue.stop();
        assert!(feeder.is_stopped());
        assert!(!feeder.push(ts, 1, b"second", 6));
        drop(feeder);
        assert_eq!(
            queue.next_packet().map(|p| p.data.to_vec()),
            Some(b"first".to_vec())
        );
        assert!(queue.next_packet().is_none());
    }
}
