//! The flow table: TCP segments in, ordered per-connection stream events out.
//!
//! Each connection gets a [`FlowId`] and two [`StreamReassembler`]s. The table alone decides
//! which side is the client, and every event, byte count and [`FlowSummary`] it reports uses
//! that decision. The client is the sender of the SYN (or the receiver of the SYN-ACK); when
//! neither was captured, the client is inferred from the first payload (an HTTP request line
//! marks the client, a status line the server, otherwise the higher port) and the flow says so.
//! The layer above may then correct inferred roles with evidence of its own by answering an
//! event with [`Verdict::ClientIs`] (for example: the side that sends masked WebSocket frames
//! is the client); every later event, and the summary, use the corrected roles. Roles decided
//! from a captured SYN or SYN-ACK are not changed. The consumer may answer
//! [`Verdict::Bypass`] to any event: the flow then keeps only counters, which makes
//! non-WebSocket traffic nearly free.
//!
//! The table is bounded ([`FlowLimits::max_flows`]): when full, the least recently active flows
//! (half-open ones first) are closed with [`CloseReason::Evicted`] and counted.
//!
//! The out-of-order bytes its reassemblers hold are charged to the memory budget
//! ([`FlowTable::with_budget`]) in [`BUDGET_STEP`] steps. When a charge is refused, the least
//! recently active flows holding data give it up: the holes in front of it are declared gaps
//! now ([`TcpEvent::MemoryRelief`] says so first), as when a direction reaches its own limit.

use super::reassembly::{ReassemblyLimits, StreamOutput, StreamReassembler};
use super::Dir;
use crate::budget::MemoryBudget;
use crate::packet::Segment;
use crate::timestamp::Timestamp;
use foldhash::{HashMap, HashMapExt};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// Identifies a connection for its whole life (unique within one [`FlowTable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u64);

/// Limits for the table.
#[derive(Clone, Copy, Debug)]
pub struct FlowLimits {
    /// Connections tracked at once.
    pub max_flows: usize,
    /// A connection with no packet for this long is closed as idle.
    pub idle_timeout_nanos: i64,
    /// Per-direction reassembly limits.
    pub reassembly: ReassemblyLimits,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows: 100_000,
            idle_timeout_nanos: 3_600 * 1_000_000_000,
            reassembly: ReassemblyLimits::default(),
        }
    }
}

/// How a connection began, as far as the capture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Began {
    /// The client's SYN was captured.
    Syn,
    /// Only the server's SYN-ACK was captured.
    SynAck,
    /// No SYN: the capture started while the connection was open.
    Midstream,
}

impl Began {
    /// Short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Began::Syn => "syn",
            Began::SynAck => "syn-ack",
            Began::Midstream => "midstream",
        }
    }
}

/// Why a connection stopped being tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both sides sent FIN.
    Fin,
    /// A side sent RST.
    Rst,
    /// No packet for the idle timeout.
    Idle,
    /// The capture ended with the connection open.
    EndOfCapture,
    /// The flow table was full.
    Evicted,
}

impl CloseReason {
    /// Short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Fin => "fin",
            CloseReason::Rst => "rst",
            CloseReason::Idle => "idle",
            CloseReason::EndOfCapture => "end-of-capture",
            CloseReason::Evicted => "evicted",
        }
    }
}

/// Everything the table knows about one finished connection.
#[derive(Clone, Debug)]
pub struct FlowSummary {
    /// Flow id.
    pub id: FlowId,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// True when the roles were guessed (no SYN seen).
    pub roles_inferred: bool,
    /// How it began.
    pub began: Began,
    /// How it ended.
    pub ended: CloseReason,
    /// First packet.
    pub first_ts: Timestamp,
    /// Last packet.
    pub last_ts: Timestamp,
    /// Packets per direction `[c2s, s2c]`.
    pub packets: [u64; 2],
    /// Payload bytes on the wire per direction (including retransmissions and uncaptured bytes).
    pub wire_bytes: [u64; 2],
    /// Stream bytes delivered in order per direction.
    pub stream_bytes: [u64; 2],
    /// Retransmitted segments per direction.
    pub retransmissions: [u64; 2],
    /// Gaps per direction.
    pub gaps: [u64; 2],
    /// Bytes missing per direction.
    pub gap_bytes: [u64; 2],
    /// Inconsistent overlaps per direction.
    pub overlaps: [u64; 2],
    /// FIN seen per direction.
    pub fin: [bool; 2],
    /// RST seen per direction.
    pub rst: [bool; 2],
    /// The consumer stopped analysing the flow.
    pub bypassed: bool,
}

/// What the table tells its consumer, in capture order.
#[derive(Debug)]
pub enum TcpEvent<'a> {
    /// A new connection (roles decided).
    Opened {
        /// Flow id.
        flow: FlowId,
        /// Timestamp.
        ts: Timestamp,
        /// Client endpoint.
        client: SocketAddr,
        /// Server endpoint.
        server: SocketAddr,
        /// How it began.
        began: Began,
        /// Roles were guessed.
        roles_inferred: bool,
    },
    /// In-order stream bytes.
    Data {
        /// Flow id.
        flow: FlowId,
        /// Direction.
        dir: Dir,
        /// Timestamp of the packet that carried them.
        ts: Timestamp,
        /// Number of the packet that carried them ([`Segment::packet`]), kept like `ts` while
        /// they were held out of order.
        packet: u64,
        /// Stream offset of `bytes[0]`.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// Bytes missing from the capture.
    Gap {
        /// Flow id.
        flow: FlowId,
        /// Direction.
        dir: Dir,
        /// Timestamp.
        ts: Timestamp,
        /// Stream offset where the hole starts.
        offset: u64,
        /// Exact length.
        len: u64,
        /// Cut off the end of a captured segment by the snaplen.
        cut: bool,
    },
    /// A retransmission disagreed with the bytes first delivered.
    Overlap {
        /// Flow id.
        flow: FlowId,
        /// Direction.
        dir: Dir,
        /// Timestamp of the retransmission.
        ts: Timestamp,
        /// Number of the packet that carried the retransmission.
        packet: u64,
        /// Stream offset of the first differing byte.
        offset: u64,
        /// Span of differing bytes.
        len: u64,
    },
    /// A segment a receiving host would drop was not used (data without ACK, data in a RST,
    /// a RST outside the receive window).
    Ignored {
        /// Flow id.
        flow: FlowId,
        /// Direction of the segment.
        dir: Dir,
        /// Timestamp.
        ts: Timestamp,
        /// Why, for the report.
        reason: String,
    },
    /// The memory budget was reached: this direction gave up the data it held out of order
    /// (`held` bytes); the gaps and data that follow are the holes declared early and the
    /// data delivered.
    MemoryRelief {
        /// Flow id.
        flow: FlowId,
        /// Direction.
        dir: Dir,
        /// Timestamp.
        ts: Timestamp,
        /// Out-of-order bytes the direction held.
        held: u64,
        /// The budget's limit.
        limit: u64,
    },
    /// A side finished sending (after all its data was delivered).
    Fin {
        /// Flow id.
        flow: FlowId,
        /// Direction that sent the FIN.
        dir: Dir,
        /// Timestamp.
        ts: Timestamp,
    },
    /// A side reset the connection.
    Rst {
        /// Flow id.
        flow: FlowId,
        /// Direction that sent the RST.
        dir: Dir,
        /// Timestamp.
        ts: Timestamp,
    },
    /// The connection is no longer tracked.
    Closed {
        /// Timestamp.
        ts: Timestamp,
        /// Final counters.
        summary: FlowSummary,
    },
}

/// The consumer's answer to an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep delivering stream bytes.
    Continue,
    /// Stop delivering data and gaps for this flow; keep counting.
    Bypass,
    /// Keep delivering, and take this evidence about the roles: the sender of direction `Dir`
    /// (as the events so far labelled it) is the client. When the roles were inferred (no SYN
    /// captured) and the evidence contradicts them, the table reverses them: every later
    /// event, its counters and the flow's [`FlowSummary`] name the other side the client.
    /// Roles decided from a captured SYN or SYN-ACK are kept.
    ClientIs(Dir),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlowKey {
    lo: SocketAddr,
    hi: SocketAddr,
}

/// Hashes addresses and ports only, packed into as few words as possible: it runs for every
/// packet, and the derived hash feeds every field of both `SocketAddr`s (discriminants, IPv6
/// flow info and scope id) one small write at a time. Keys that are equal hash equally, which
/// is all `Eq` needs.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match (self.lo, self.hi) {
            (SocketAddr::V4(a), SocketAddr::V4(b)) => {
                let ports = u64::from(a.port()) << 16 | u64::from(b.port());
                state.write_u64(u64::from(a.ip().to_bits()) << 32 | u64::from(b.ip().to_bits()));
                state.write_u64(ports);
            }
            (a, b) => {
                for addr in [a, b] {
                    let ip = match addr.ip() {
                        IpAddr::V4(ip) => u128::from(ip.to_bits()),
                        IpAddr::V6(ip) => ip.to_bits(),
                    };
                    state.write_u128(ip);
                    state.write_u16(addr.port());
                }
            }
        }
    }
}

impl FlowKey {
    fn of(a: SocketAddr, b: SocketAddr) -> Self {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }
}

/// Which side of a flow is the client. Per-side state (streams, counters) is indexed by side:
/// side 0 is the side first taken for the client, side 1 the other; evidence from the layer
/// above may reverse the roles later, which changes only the [`Dir`] each side is reported as.
#[derive(Clone, Copy, Debug, Default)]
struct Roles {
    /// The senders of side 0 and side 1; `None` until the roles are decided.
    ends: Option<[SocketAddr; 2]>,
    /// Side 1 is the client (the first guess was reversed by evidence).
    reversed: bool,
    /// The roles were guessed (no SYN or SYN-ACK captured).
    inferred: bool,
}

impl Roles {
    /// The direction in which side `side` sends.
    fn dir(&self, side: usize) -> Dir {
        if (side == 1) == self.reversed {
            Dir::ClientToServer
        } else {
            Dir::ServerToClient
        }
    }

    /// Client and server endpoints, once decided.
    fn endpoints(&self) -> Option<(SocketAddr, SocketAddr)> {
        let [a, b] = self.ends?;
        Some(if self.reversed { (b, a) } else { (a, b) })
    }

    /// A per-side pair in direction order `[c2s, s2c]`.
    fn by_dir<T>(&self, [a, b]: [T; 2]) -> [T; 2] {
        if self.reversed {
            [b, a]
        } else {
            [a, b]
        }
    }

    /// Takes the consumer's verdict: role evidence is applied here (see
    /// [`Verdict::ClientIs`]) and read as [`Verdict::Continue`].
    fn take(&mut self, verdict: Verdict) -> Verdict {
        match verdict {
            Verdict::ClientIs(dir) => {
                if self.inferred && dir == Dir::ServerToClient {
                    self.reversed = !self.reversed;
                }
                Verdict::Continue
            }
            v => v,
        }
    }
}

#[derive(Debug)]
struct Flow {
    id: FlowId,
    roles: Roles,
    began: Began,
    /// Indexed by side (see [`Roles`]), like every per-direction array below.
    streams: [StreamReassembler; 2],
    /// SYN sequence numbers seen before the roles were known, keyed by sender.
    early_isn: Vec<(SocketAddr, u32)>,
    first_ts: Timestamp,
    last_ts: Timestamp,
    packets: [u64; 2],
    wire_bytes: [u64; 2],
    fin_sent: [bool; 2],
    fin_delivered: [bool; 2],
    rst: [bool; 2],
    /// Receive window each direction advertised in its last segment.
    window: [Option<u16>; 2],
    bypassed: bool,
    has_payload: bool,
    /// Out-of-order bytes its two reassemblers held after the last segment.
    buffered: usize,
}

/// Counters over the whole table.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowTableStats {
    /// Connections ever seen.
    pub flows: u64,
    /// Connections evicted because the table was full.
    pub evicted: u64,
    /// Connections closed as idle.
    pub idle_closed: u64,
    /// Largest number tracked at once.
    pub peak_flows: usize,
    /// Segments without SYN or payload that belonged to no tracked connection.
    pub stray_segments: u64,
    /// Largest number of out-of-order bytes held by all reassemblers together.
    pub peak_buffered_bytes: usize,
    /// Largest number of out-of-order bytes held by one connection (both directions).
    pub peak_flow_buffered_bytes: usize,
}

/// Bounded table of TCP connections.
#[derive(Debug)]
pub struct FlowTable {
    limits: FlowLimits,
    /// Boxed: a churning table (evictions leave tombstones) may grow to twice the buckets it
    /// needs, and a bucket should then cost a pointer, not a whole flow.
    flows: HashMap<FlowKey, Box<Flow>>,
    next_id: u64,
    last_sweep: Timestamp,
    /// Sum of `Flow::buffered` over the table.
    buffered: usize,
    /// The memory budget `buffered` is charged to, and how much is charged (a multiple of
    /// [`BUDGET_STEP`] at least `buffered`, except while the budget refuses).
    budget: Option<MemoryBudget>,
    charged: usize,
    stats: FlowTableStats,
}

/// Granularity of the out-of-order bytes' charge to the memory budget: the per-segment cost is
/// one comparison while the held bytes stay within the charged step.
pub const BUDGET_STEP: usize = 64 << 10;

/// Below this many bytes held by the whole table, a refused charge relieves the flow that
/// asked (no scan of the table).
const RELIEF_SCAN_MIN: usize = 4 << 20;

fn looks_like_http_request(payload: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    METHODS.iter().any(|m| payload.starts_with(m))
}

impl FlowTable {
    /// An empty table.
    pub fn new(limits: FlowLimits) -> Self {
        FlowTable {
            limits,
            flows: HashMap::new(),
            next_id: 1,
            last_sweep: Timestamp(i64::MIN),
            buffered: 0,
            budget: None,
            charged: 0,
            stats: FlowTableStats::default(),
        }
    }

    /// Charges the out-of-order bytes held to `budget`; when it refuses, the least recently
    /// active flows holding data give it up (holes declared now, [`TcpEvent::MemoryRelief`]).
    pub fn with_budget(mut self, budget: MemoryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> FlowTableStats {
        self.stats
    }

    /// Connections tracked right now.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Out-of-order bytes held by every reassembler right now.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Removes a flow, taking its buffered bytes off the table's total.
    fn remove(&mut self, key: &FlowKey) -> Option<Box<Flow>> {
        let flow = self.flows.remove(key)?;
        self.buffered -= flow.buffered;
        Some(flow)
    }

    /// Processes one segment, calling `sink` for each resulting event.
    pub fn process<F>(&mut self, seg: &Segment<'_>, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        self.maybe_sweep(seg.ts, sink);
        let key = FlowKey::of(seg.src, seg.dst);
        // The common case, a segment of a tracked connection, costs one lookup.
        if let Some(flow) = self.flows.get_mut(&key) {
            // A fresh SYN on a 4-tuple whose previous connection ended: port reuse.
            let reused = seg.flags.syn
                && !seg.flags.ack
                && (flow.rst.iter().any(|&r| r) || flow.fin_delivered.iter().all(|&x| x));
            if !reused {
                let finished = Self::handle(flow, seg, sink);
                Self::account(&mut self.buffered, &mut self.stats, flow);
                if finished {
                    self.close_finished(&key, seg.ts, sink);
                }
                self.settle_if_moved(seg.ts, &key, sink);
                return;
            }
        }
        // A new connection, or a new one on a reused 4-tuple.
        let carries_something = seg.flags.syn || !seg.payload.is_empty() || seg.missing > 0;
        if !carries_something && !self.flows.contains_key(&key) {
            // A bare ACK/FIN/RST of a connection already closed (or never seen): nothing to
            // analyse, and tracking it would only count a ghost connection.
            self.stats.stray_segments += 1;
            return;
        }
        if let Some(old) = self.remove(&key) {
            Self::close_flow(old, seg.ts, CloseReason::Fin, sink);
        }
        if self.flows.len() >= self.limits.max_flows {
            self.evict(seg.ts, sink);
        }
        let id = FlowId(self.next_id);
        self.next_id += 1;
        self.stats.flows += 1;
        self.flows.insert(
            key,
            Box::new(Flow {
                id,
                roles: Roles::default(),
                began: Began::Midstream,
                streams: [
                    StreamReassembler::new(self.limits.reassembly),
                    StreamReassembler::new(self.limits.reassembly),
                ],
                early_isn: Vec::new(),
                first_ts: seg.ts,
                last_ts: seg.ts,
                packets: [0; 2],
                wire_bytes: [0; 2],
                fin_sent: [false; 2],
                fin_delivered: [false; 2],
                rst: [false; 2],
                window: [None; 2],
                bypassed: false,
                has_payload: false,
                buffered: 0,
            }),
        );
        self.stats.peak_flows = self.stats.peak_flows.max(self.flows.len());
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let finished = Self::handle(flow, seg, sink);
        Self::account(&mut self.buffered, &mut self.stats, flow);
        if finished {
            self.close_finished(&key, seg.ts, sink);
        }
        self.settle_if_moved(seg.ts, &key, sink);
    }

    /// Takes a flow's out-of-order bytes after a segment into the table's total and peaks.
    fn account(buffered: &mut usize, stats: &mut FlowTableStats, flow: &mut Flow) {
        let now = flow.streams[0].buffered_bytes() + flow.streams[1].buffered_bytes();
        *buffered = *buffered - flow.buffered + now;
        flow.buffered = now;
        stats.peak_flow_buffered_bytes = stats.peak_flow_buffered_bytes.max(now);
        stats.peak_buffered_bytes = stats.peak_buffered_bytes.max(*buffered);
    }

    /// Removes and closes a flow whose connection is over (FIN both ways or RST).
    fn close_finished<F>(&mut self, key: &FlowKey, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        if let Some(flow) = self.remove(key) {
            let reason = if flow.rst.iter().any(|&r| r) {
                CloseReason::Rst
            } else {
                CloseReason::Fin
            };
            Self::close_flow(flow, ts, reason, sink);
        }
    }

    /// After a segment: brings the memory-budget charge in step when the bytes held moved
    /// by a budget step or more (one comparison otherwise).
    fn settle_if_moved<F>(&mut self, ts: Timestamp, key: &FlowKey, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        if self.buffered > self.charged || self.buffered + 2 * BUDGET_STEP <= self.charged {
            self.settle(ts, key, sink);
        }
    }

    /// Brings the budget charge in step with the bytes held: gives back what is no longer
    /// held, charges what is newly held, and when the budget refuses, relieves flows: the
    /// least recently active ones when the table holds much, then the flow at `key`.
    fn settle<F>(&mut self, ts: Timestamp, key: &FlowKey, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        let Some(budget) = self.budget.clone() else {
            return;
        };
        if self.fit(&budget) {
            return;
        }
        if self.buffered >= RELIEF_SCAN_MIN {
            self.relieve_least_active(ts, budget.limit(), sink);
            if self.fit(&budget) {
                return;
            }
        }
        self.relieve(key, ts, budget.limit(), sink);
        // When this still does not fit, others hold the budget: the next segment that finds
        // more held than charged relieves its own flow.
        self.fit(&budget);
    }

    /// Charges or gives back the difference between the bytes held (rounded up to a step) and
    /// the charge; false when the budget refused.
    fn fit(&mut self, budget: &MemoryBudget) -> bool {
        let want = self.buffered.next_multiple_of(BUDGET_STEP);
        if want <= self.charged {
            budget.release((self.charged - want) as u64);
            self.charged = want;
            return true;
        }
        if budget.try_charge_analysis((want - self.charged) as u64) {
            self.charged = want;
            return true;
        }
        false
    }

    /// Relieves the least recently active flows holding data, about a quarter of what the
    /// table holds (so that one scan of the table is paid for by many bytes).
    fn relieve_least_active<F>(&mut self, ts: Timestamp, limit: u64, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        let mut order: Vec<(Timestamp, FlowId, FlowKey, usize)> = self
            .flows
            .iter()
            .filter(|(_, f)| f.buffered > 0)
            .map(|(k, f)| (f.last_ts, f.id, *k, f.buffered))
            .collect();
        order.sort_unstable_by_key(|&(last, id, _, _)| (last, id));
        let target = self.buffered / 4;
        let mut freed = 0;
        for (_, _, k, held) in order {
            if freed >= target {
                break;
            }
            freed += held;
            self.relieve(&k, ts, limit, sink);
        }
    }

    /// Makes the flow at `key` give up what it holds out of order: the holes in front of it
    /// are declared gaps now and the data delivered, after a [`TcpEvent::MemoryRelief`].
    fn relieve<F>(&mut self, key: &FlowKey, ts: Timestamp, limit: u64, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        let Some(flow) = self.flows.get_mut(key) else {
            return;
        };
        let id = flow.id;
        // Sides in the order of the first guess (the client's first, unless evidence reversed
        // the roles since), as every flush below.
        for i in [0, 1] {
            let held = flow.streams[i].buffered_bytes();
            if held == 0 || flow.bypassed {
                continue;
            }
            let verdict = sink(TcpEvent::MemoryRelief {
                flow: id,
                dir: flow.roles.dir(i),
                ts,
                held: held as u64,
                limit,
            });
            flow.roles.take(verdict);
            let mut bypass = false;
            let Flow { roles, streams, .. } = &mut **flow;
            streams[i].give_up_holes(ts, &mut |out| {
                if !bypass && Self::forward(id, roles, i, out, sink) == Verdict::Bypass {
                    bypass = true;
                }
            });
            if bypass {
                Self::bypass(flow);
            }
        }
        let now = flow.streams[0].buffered_bytes() + flow.streams[1].buffered_bytes();
        self.buffered = self.buffered - flow.buffered + now;
        flow.buffered = now;
    }

    /// Closes every open connection (end of capture).
    pub fn finish<F>(&mut self, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        let mut flows: Vec<Box<Flow>> = self.flows.drain().map(|(_, f)| f).collect();
        self.buffered = 0;
        if let Some(b) = &self.budget {
            b.release(self.charged as u64);
            self.charged = 0;
        }
        flows.sort_by_key(|f| f.id);
        for flow in flows {
            Self::close_flow(flow, ts, CloseReason::EndOfCapture, sink);
        }
    }

    /// Decides roles; returns false while they cannot be decided yet.
    fn decide_roles<F>(flow: &mut Flow, seg: &Segment<'_>, sink: &mut F) -> bool
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        if flow.roles.ends.is_some() {
            return true;
        }
        let (client, server, inferred, began) = if seg.flags.syn && !seg.flags.ack {
            (seg.src, seg.dst, false, Began::Syn)
        } else if seg.flags.syn && seg.flags.ack {
            (seg.dst, seg.src, false, Began::SynAck)
        } else if !seg.payload.is_empty() || seg.missing > 0 || seg.flags.fin || seg.flags.rst {
            let src_is_client = if looks_like_http_request(seg.payload) {
                true
            } else if seg.payload.starts_with(b"HTTP/") {
                false
            } else {
                // Servers usually listen on the lower port.
                seg.src.port() >= seg.dst.port()
            };
            if src_is_client {
                (seg.src, seg.dst, true, Began::Midstream)
            } else {
                (seg.dst, seg.src, true, Began::Midstream)
            }
        } else {
            return false;
        };
        flow.roles = Roles {
            ends: Some([client, server]),
            reversed: false,
            inferred,
        };
        flow.began = began;
        // Taken, not cleared: the allocation would otherwise live as long as the flow.
        for (sender, isn) in std::mem::take(&mut flow.early_isn) {
            let d = if sender == client { 0 } else { 1 };
            flow.streams[d].set_isn(isn);
        }
        let verdict = sink(TcpEvent::Opened {
            flow: flow.id,
            ts: seg.ts,
            client,
            server,
            began,
            roles_inferred: inferred,
        });
        if flow.roles.take(verdict) == Verdict::Bypass {
            Self::bypass(flow);
        }
        true
    }

    fn bypass(flow: &mut Flow) {
        flow.bypassed = true;
        for s in &mut flow.streams {
            s.release();
        }
    }

    /// Handles one segment of a known flow; returns true when the flow is finished.
    fn handle<F>(flow: &mut Flow, seg: &Segment<'_>, sink: &mut F) -> bool
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        flow.last_ts = seg.ts;
        if seg.flags.syn && flow.roles.ends.is_none() {
            flow.early_isn.push((seg.src, seg.seq));
        }
        if !Self::decide_roles(flow, seg, sink) {
            return false;
        }
        // The sending side; its direction is looked up at each event, as evidence from the
        // consumer may reverse the roles on the way.
        let d = match flow.roles.ends {
            Some([first, _]) if first == seg.src => 0,
            _ => 1,
        };
        let dir = flow.roles.dir(d);
        let id = flow.id;
        flow.packets[d] += 1;
        flow.wire_bytes[d] += seg.payload.len() as u64 + u64::from(seg.missing);
        if seg.flags.syn {
            flow.streams[d].set_isn(seg.seq);
        }
        let mut has_data = !seg.payload.is_empty() || seg.missing > 0;
        if has_data {
            flow.has_payload = true;
        }
        let len = seg.payload.len() as u64 + u64::from(seg.missing);
        if !seg.flags.ack && !seg.flags.syn && !seg.flags.rst && (has_data || seg.flags.fin) {
            // RFC 9293 3.10.7.4: in every synchronized state a segment without ACK is dropped.
            if !flow.bypassed {
                let what = if has_data {
                    format!("{len} bytes of data")
                } else {
                    "a FIN".to_string()
                };
                sink(TcpEvent::Ignored {
                    flow: id,
                    dir,
                    ts: seg.ts,
                    reason: format!(
                        "segment with {what} but no ACK flag: a receiver drops it (RFC 9293 3.10.7.4)"
                    ),
                });
            }
            return false;
        }
        if seg.flags.rst && has_data && !flow.bypassed {
            // Data in a reset is a diagnostic at most (RFC 9293 3.5.3), never stream data.
            has_data = false;
            sink(TcpEvent::Ignored {
                flow: id,
                dir,
                ts: seg.ts,
                reason: format!("RST carried {len} bytes of data: not stream data, not used"),
            });
        }
        // A bypassed flow no longer follows sequence numbers: its RSTs are taken as they come.
        if seg.flags.rst && !flow.bypassed && !Self::rst_acceptable(flow, d, seg) {
            let s = &flow.streams[d];
            sink(TcpEvent::Ignored {
                flow: id,
                dir,
                ts: seg.ts,
                reason: format!(
                    "RST at stream offset {} outside the receive window (next expected offset {}): a receiver ignores it (RFC 9293 3.10.7.4), the connection goes on",
                    s.unwrap_seq(seg.seq) as i64,
                    s.next_offset()
                ),
            });
            return false;
        }
        if has_data && !flow.bypassed {
            let mut bypass = false;
            let seq = if seg.flags.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            // One byte sent into a zero window: a zero-window probe, which the receiver takes
            // only if its window opened (then it acknowledges it).
            let probe = flow.window[1 - d] == Some(0)
                && seg.payload.len() == 1
                && seg.missing == 0
                && !seg.flags.syn
                && !seg.flags.fin;
            let Flow { roles, streams, .. } = &mut *flow;
            let mut forward = |out: StreamOutput<'_>| {
                if bypass {
                    return;
                }
                if Self::forward(id, roles, d, out, sink) == Verdict::Bypass {
                    bypass = true;
                }
            };
            if probe {
                streams[d].push_probe((seg.ts, seg.packet), seq, seg.payload, &mut forward);
            } else {
                let at = (seg.ts, seg.packet);
                streams[d].push(at, seq, seg.payload, seg.missing, &mut forward);
            }
            if bypass {
                Self::bypass(flow);
            }
        } else if has_data {
            // Bypassed: keep the sequence bookkeeping cheap but honest.
            let seq = seg.seq;
            flow.streams[d].push((seg.ts, seg.packet), seq, &[], 0, &mut |_| {});
        }
        flow.window[d] = Some(seg.window);
        if seg.flags.ack && !flow.bypassed {
            let Flow { roles, streams, .. } = &mut *flow;
            streams[1 - d].acked(seg.ts, seg.ack, &mut |out| {
                Self::forward(id, roles, 1 - d, out, sink);
            });
        }
        if seg.flags.fin && !flow.fin_sent[d] {
            flow.fin_sent[d] = true;
            let seq = if seg.flags.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            flow.streams[d].push_fin(seq, seg.payload.len() + seg.missing as usize);
        }
        if flow.fin_sent.iter().all(|&f| f)
            && flow.streams.iter().all(|s| s.fin_acked())
            && !flow.bypassed
        {
            // Both sides closed and acknowledged each other's FIN: the connection is over, and
            // whatever is still missing will not come.
            Self::flush_streams(flow, seg.ts, sink);
        }
        for f in [d, 1 - d] {
            if flow.fin_sent[f]
                && !flow.fin_delivered[f]
                && (flow.bypassed || flow.streams[f].is_finished())
            {
                flow.fin_delivered[f] = true;
                sink(TcpEvent::Fin {
                    flow: id,
                    dir: flow.roles.dir(f),
                    ts: seg.ts,
                });
            }
        }
        if seg.flags.rst {
            flow.rst[d] = true;
            if !flow.bypassed {
                // Whatever was still buffered is delivered before the reset.
                Self::flush_streams(flow, seg.ts, sink);
            }
            sink(TcpEvent::Rst {
                flow: id,
                dir: flow.roles.dir(d),
                ts: seg.ts,
            });
            return true;
        }
        flow.fin_delivered.iter().all(|&x| x)
    }

    /// Whether the receiver would accept a RST from direction `d` (RFC 9293 3.10.7.4): its
    /// sequence number must fall in the receive window. RFC 5961 narrows that to an exact match
    /// (an in-window RST only draws a challenge ACK) but older stacks still reset on any
    /// in-window RST, and a passive analyzer cannot see which the receiver runs, so any
    /// in-window RST ends the connection. Without the sender's sequence space known (no SYN or
    /// data seen from it: a RST answering a SYN) it is accepted. The window is the receiver's
    /// last advertised one, scaled by the most a window scale option allows (the option is not
    /// read): only RSTs far from the stream are refused.
    fn rst_acceptable(flow: &Flow, d: usize, seg: &Segment<'_>) -> bool {
        let s = &flow.streams[d];
        if !s.has_base() {
            return true;
        }
        let at = s.unwrap_seq(seg.seq);
        let next = s.next_offset();
        let acked = s.acked_offset().unwrap_or(next);
        let window = u64::from(flow.window[1 - d].unwrap_or(u16::MAX)) << 14;
        let lo = next.min(acked);
        let hi = next.max(acked) + window.max(1);
        (lo..hi).contains(&at) || at == next || at == acked
    }

    /// Delivers what both directions still hold (holes before it declared as gaps), side 0's
    /// first.
    fn flush_streams<F>(flow: &mut Flow, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        let id = flow.id;
        let Flow { roles, streams, .. } = flow;
        for side in [0, 1] {
            streams[side].flush(ts, &mut |out| {
                Self::forward(id, roles, side, out, sink);
            });
        }
    }

    /// Hands what side `side`'s reassembler put out to the sink, labelled with the direction
    /// the roles give that side now, and takes the sink's role evidence.
    fn forward<F>(
        flow: FlowId,
        roles: &mut Roles,
        side: usize,
        out: StreamOutput<'_>,
        sink: &mut F,
    ) -> Verdict
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        let dir = roles.dir(side);
        let verdict = match out {
            StreamOutput::Data {
                offset,
                ts,
                packet,
                bytes,
            } => sink(TcpEvent::Data {
                flow,
                dir,
                ts,
                packet,
                offset,
                bytes,
            }),
            StreamOutput::Gap {
                offset,
                len,
                ts,
                cut,
            } => sink(TcpEvent::Gap {
                flow,
                dir,
                ts,
                offset,
                len,
                cut,
            }),
            StreamOutput::Overlap {
                offset,
                len,
                ts,
                packet,
            } => sink(TcpEvent::Overlap {
                flow,
                dir,
                ts,
                packet,
                offset,
                len,
            }),
        };
        roles.take(verdict)
    }

    fn close_flow<F>(mut flow: Box<Flow>, ts: Timestamp, reason: CloseReason, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        // A flow whose roles were never decided carried only bare ACKs: nothing to report.
        if flow.roles.ends.is_none() {
            return;
        }
        let id = flow.id;
        if !flow.bypassed {
            for i in [0, 1] {
                let Flow { roles, streams, .. } = &mut *flow;
                streams[i].flush(ts, &mut |out| {
                    Self::forward(id, roles, i, out, sink);
                });
                if flow.fin_sent[i] && !flow.fin_delivered[i] {
                    flow.fin_delivered[i] = true;
                    let dir = flow.roles.dir(i);
                    sink(TcpEvent::Fin { flow: id, dir, ts });
                }
            }
        }
        // Read after the last delivery: evidence taken on the way counts.
        let roles = flow.roles;
        let Some((client, server)) = roles.endpoints() else {
            return;
        };
        let s = roles.by_dir([flow.streams[0].stats(), flow.streams[1].stats()]);
        let summary = FlowSummary {
            id,
            client,
            server,
            roles_inferred: roles.inferred,
            began: flow.began,
            ended: reason,
            first_ts: flow.first_ts,
            last_ts: flow.last_ts,
            packets: roles.by_dir(flow.packets),
            wire_bytes: roles.by_dir(flow.wire_bytes),
            stream_bytes: [s[0].bytes, s[1].bytes],
            retransmissions: [s[0].retransmissions, s[1].retransmissions],
            gaps: [s[0].gaps, s[1].gaps],
            gap_bytes: [s[0].gap_bytes, s[1].gap_bytes],
            overlaps: [s[0].overlaps, s[1].overlaps],
            fin: roles.by_dir(flow.fin_sent),
            rst: roles.by_dir(flow.rst),
            bypassed: flow.bypassed,
        };
        sink(TcpEvent::Closed { ts, summary });
    }

    fn maybe_sweep<F>(&mut self, now: Timestamp, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        // Sweep at most once per second of capture time.
        if now.nanos_since(self.last_sweep) < 1_000_000_000 {
            return;
        }
        self.last_sweep = now;
        let timeout = self.limits.idle_timeout_nanos;
        let idle: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now.nanos_since(f.last_ts) > timeout)
            .map(|(k, _)| *k)
            .collect();
        let mut closed: Vec<Box<Flow>> = idle.iter().filter_map(|k| self.remove(k)).collect();
        closed.sort_by_key(|f| f.id);
        for flow in closed {
            self.stats.idle_closed += 1;
            Self::close_flow(flow, now, CloseReason::Idle, sink);
        }
    }

    /// Frees an eighth of the table: flows without payload first, then least recently active.
    fn evict<F>(&mut self, ts: Timestamp, sink: &mut F)
    where
        F: FnMut(TcpEvent<'_>) -> Verdict,
    {
        let mut order: Vec<(bool, Timestamp, FlowKey)> = self
            .flows
            .iter()
            .map(|(k, f)| (f.has_payload, f.last_ts, *k))
            .collect();
        order.sort_unstable_by_key(|&(payload, last, _)| (payload, last));
        let count = (self.flows.len() / 8).max(1);
        let mut victims: Vec<Box<Flow>> = order
            .iter()
            .take(count)
            .filter_map(|(_, _, k)| self.remove(k))
            .collect();
        victims.sort_by_key(|f| f.id);
        for flow in victims {
            self.stats.evicted += 1;
            Self::close_flow(flow, ts, CloseReason::Evicted, sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::TcpFlags;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    fn seg<'a>(src: &str, dst: &str, seq: u32, ack: u32, syn: bool, data: &'a [u8]) -> Segment<'a> {
        Segment {
            ts: Timestamp(0),
            packet: 1,
            src: addr(src),
            dst: addr(dst),
            seq,
            ack,
            flags: TcpFlags {
                syn,
                ack: !syn || ack != 0,
                fin: false,
                rst: false,
            },
            window: 1000,
            payload: data,
            missing: 0,
        }
    }

    /// What the table reported: (direction, bytes) of each data event, and the summary.
    fn run(segs: &[Segment<'_>], evidence: Dir) -> (Vec<(Dir, Vec<u8>)>, FlowSummary) {
        let mut table = FlowTable::new(FlowLimits::default());
        let mut data = Vec::new();
        let mut summary = None;
        let mut told = false;
        let mut sink = |ev: TcpEvent<'_>| match ev {
            TcpEvent::Data { dir, bytes, .. } => {
                data.push((dir, bytes.to_vec()));
                if told {
                    return Verdict::Continue;
                }
                told = true;
                Verdict::ClientIs(evidence)
            }
            TcpEvent::Closed { summary: s, .. } => {
                summary = Some(s);
                Verdict::Continue
            }
            _ => Verdict::Continue,
        };
        for s in segs {
            table.process(s, &mut sink);
        }
        table.finish(Timestamp(1), &mut sink);
        (data, summary.expect("closed"))
    }

    const A: &str = "10.0.0.1:1025";
    const B: &str = "10.0.0.2:50000";

    /// Mid-stream, the port guess makes B (higher port) the client; evidence from the layer
    /// above that A's bytes are the client's reverses every later event and the summary.
    #[test]
    fn evidence_reverses_inferred_roles_for_later_events_and_the_summary() {
        let segs = [
            seg(B, A, 100, 500, false, b"from-b"),
            seg(A, B, 500, 106, false, b"a"),
            seg(B, A, 106, 501, false, b"more-b"),
        ];
        let (data, summary) = run(&segs, Dir::ServerToClient);
        assert_eq!(
            data,
            vec![
                (Dir::ClientToServer, b"from-b".to_vec()),
                (Dir::ClientToServer, b"a".to_vec()),
                (Dir::ServerToClient, b"more-b".to_vec()),
            ]
        );
        assert_eq!((summary.client, summary.server), (addr(A), addr(B)));
        assert!(summary.roles_inferred);
        assert_eq!(summary.stream_bytes, [1, 12]);
        assert_eq!(summary.wire_bytes, [1, 12]);
        assert_eq!(summary.packets, [1, 2]);
    }

    /// Evidence that agrees with the roles, or contradicts roles taken from a captured SYN,
    /// changes nothing.
    #[test]
    fn evidence_keeps_agreeing_roles_and_roles_from_a_syn() {
        let segs = [
            seg(B, A, 100, 500, false, b"from-b"),
            seg(A, B, 500, 106, false, b"a"),
        ];
        let (_, summary) = run(&segs, Dir::ClientToServer);
        assert_eq!((summary.client, summary.server), (addr(B), addr(A)));
        let segs = [
            seg(B, A, 99, 0, true, b""),
            seg(A, B, 499, 100, true, b""),
            seg(B, A, 100, 500, false, b"from-b"),
            seg(A, B, 500, 106, false, b"a"),
        ];
        let (data, summary) = run(&segs, Dir::ServerToClient);
        assert_eq!((summary.client, summary.server), (addr(B), addr(A)));
        assert!(!summary.roles_inferred);
        assert_eq!(data[1], (Dir::ServerToClient, b"a".to_vec()));
    }
}
