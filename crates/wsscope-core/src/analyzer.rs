//! The pipeline driver: raw packets in, [`Event`]s out.
//!
//! Owns the packet decoder, the flow table and one [`FlowStack`] per tracked flow (HTTP/1.1,
//! HTTP/2 or TLS by the first bytes, see [`crate::stack`]), and turns
//! what they report into the events every sink consumes. Deterministic and free of I/O.

use crate::budget::{Dropped, MemoryBudget};
use crate::capture::RawPacket;
use crate::finding::{Code, Finding, Repeats};
use crate::packet::{DecodeStats, PacketDecoder};
use crate::session::{
    Classification, SessionConfig, SessionEnd, SessionEvent, SessionId, SessionMessage,
    SessionStart, TcpNotice,
};
use crate::stack::{Endpoints, FlowStack, StackConfig};
use crate::tcp::flow::FlowTableStats;
use crate::tcp::{FlowLimits, FlowSummary, FlowTable, TcpEvent, Verdict};
use crate::timestamp::Timestamp;
use foldhash::{HashMap, HashMapExt};

/// Settings for one analysis.
#[derive(Clone, Debug, Default)]
pub struct AnalyzerConfig {
    /// Session-level settings.
    pub session: SessionConfig,
    /// Flow table limits.
    pub flows: FlowLimits,
    /// The memory budget shared with the outputs (`--max-memory`); payload they drop for it is
    /// reported here as `payload-budget-exceeded`. The analysis charges its own buffers to it
    /// too: out-of-order TCP data, messages being assembled, inflaters
    /// (`memory-budget-exceeded` when it gives something up).
    pub budget: MemoryBudget,
    /// TLS secrets (`--tls-keylog`, `SSLKEYLOGFILE`, pcapng Decryption Secrets Blocks), looked
    /// up by client random when a TLS connection is seen; may grow during the run (`live`).
    pub keys: crate::tls::keylog::KeyStore,
    /// Bounds of the TLS layer (how long a connection waits for keys that may come later).
    pub tls: crate::tls::flow::TlsLimits,
}

/// A finished TCP connection and what it carried.
#[derive(Clone, Debug)]
pub struct FlowRecord {
    /// TCP-level counters.
    pub summary: FlowSummary,
    /// What the connection carried.
    pub classification: Classification,
    /// What its TLS handshake showed, when the connection is TLS.
    pub tls: Option<Box<crate::tls::TlsInfo>>,
}

/// What the analyzer reports, in capture order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A WebSocket session (or an upgrade attempt) began.
    SessionStart(&'a SessionStart),
    /// A message completed.
    Message(&'a SessionMessage),
    /// A finding (session-level when `session` is set).
    Finding {
        /// Session concerned.
        session: Option<SessionId>,
        /// The finding.
        finding: &'a Finding,
    },
    /// A session ended.
    SessionEnd(&'a SessionEnd),
    /// A TCP connection ended.
    Flow(&'a FlowRecord),
}

/// Counters over a whole analysis.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnalyzerStats {
    /// Packet decoding counters.
    pub decode: DecodeStats,
    /// Flow table counters.
    pub flows: FlowTableStats,
    /// First packet timestamp.
    pub first_ts: Option<Timestamp>,
    /// Last packet timestamp.
    pub last_ts: Option<Timestamp>,
}

/// The analysis pipeline for one capture.
pub struct Analyzer {
    cfg: AnalyzerConfig,
    decoder: PacketDecoder,
    table: FlowTable,
    sessions: Sessions,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
}

/// The connections being decoded and the events on their way out.
struct Sessions {
    /// Boxed, like the flow table's entries: under eviction churn the map may hold twice the
    /// buckets it needs, and a bucket should cost a pointer.
    conns: HashMap<crate::tcp::FlowId, Box<FlowStack>>,
    next_session: SessionId,
    pending: Vec<SessionEvent>,
    /// Findings held back and payload drops not reported yet.
    post: Post,
}

impl Analyzer {
    /// A fresh pipeline; session ids continue after `last_session_id`.
    pub fn new(mut cfg: AnalyzerConfig, last_session_id: SessionId) -> Self {
        let budget = cfg.budget.clone();
        cfg.session.budget = Some(budget.clone());
        Analyzer {
            decoder: PacketDecoder::new(),
            table: FlowTable::new(cfg.flows).with_budget(cfg.budget.clone()),
            cfg,
            sessions: Sessions {
                conns: HashMap::new(),
                next_session: last_session_id,
                pending: Vec::new(),
                post: Post {
                    repeats: Repeats::new(),
                    budget,
                    open: HashMap::new(),
                },
            },
            first_ts: None,
            last_ts: None,
        }
    }

    /// The last session id handed out.
    pub fn last_session_id(&self) -> SessionId {
        self.sessions.next_session
    }

    /// Counters so far.
    pub fn stats(&self) -> AnalyzerStats {
        AnalyzerStats {
            decode: self.decoder.stats(),
            flows: self.table.stats(),
            first_ts: self.first_ts,
            last_ts: self.last_ts,
        }
    }

    /// Processes one captured packet.
    pub fn packet<F>(&mut self, packet: &RawPacket<'_>, sink: &mut F)
    where
        F: FnMut(Event<'_>),
    {
        self.first_ts.get_or_insert(packet.ts);
        self.last_ts = Some(self.last_ts.map_or(packet.ts, |t| t.max(packet.ts)));
        let Analyzer {
            cfg,
            decoder,
            table,
            sessions,
            ..
        } = self;
        // The number the decoder gives this packet (it counts every packet it is given).
        let number = Some(decoder.stats().packets + 1);
        let _ = decoder.decode(packet, |seg| {
            table.process(seg, &mut |ev| handle_tcp(cfg, sessions, number, ev, sink));
        });
    }

    /// Ends the capture: every open connection is closed and reported, then the findings
    /// held back past the repeat limit are summed up.
    pub fn finish<F>(&mut self, sink: &mut F)
    where
        F: FnMut(Event<'_>),
    {
        let ts = self.last_ts.unwrap_or_default();
        let Analyzer {
            cfg,
            table,
            sessions,
            ..
        } = self;
        table.finish(ts, &mut |ev| handle_tcp(cfg, sessions, None, ev, sink));
        let post = &mut sessions.post;
        post.absorb_drops(sink);
        let open: Vec<SessionId> = post.open.keys().copied().collect();
        for id in open {
            post.end_drops(id, sink);
        }
        for (session, finding) in post.repeats.close_all() {
            sink(Event::Finding {
                session,
                finding: &finding,
            });
        }
    }
}

/// Runs `f` on the connection of `flow` when it is tracked, then gives the flow table the
/// connection's answer ([`answer`]).
fn on_connection(
    conns: &mut HashMap<crate::tcp::FlowId, Box<FlowStack>>,
    flow: crate::tcp::FlowId,
    f: impl FnOnce(&mut FlowStack),
) -> Verdict {
    match conns.get_mut(&flow) {
        Some(c) => {
            f(c);
            answer(c)
        }
        None => Verdict::Continue,
    }
}

/// Hands one TCP event to its connection and the events that follow to `sink`. `current` is the
/// number of the packet being processed (`None` at the end of the capture): findings that name
/// no packet of their own were revealed by it, or by the packet of the bytes or retransmission
/// the event carries.
fn handle_tcp<F>(
    cfg: &AnalyzerConfig,
    sessions: &mut Sessions,
    current: Option<u64>,
    ev: TcpEvent<'_>,
    sink: &mut F,
) -> Verdict
where
    F: FnMut(Event<'_>),
{
    let Sessions {
        conns,
        next_session,
        pending,
        post,
    } = sessions;
    let layers = StackConfig {
        session: &cfg.session,
        keys: &cfg.keys,
        tls: cfg.tls,
    };
    let mut verdict = Verdict::Continue;
    let mut revealed = current;
    match ev {
        TcpEvent::Opened {
            flow,
            client,
            server,
            began,
            roles_inferred,
            ..
        } => {
            conns.insert(
                flow,
                Box::new(FlowStack::new(Endpoints {
                    flow,
                    client,
                    server,
                    began,
                    roles_inferred,
                })),
            );
        }
        TcpEvent::Data {
            flow,
            dir,
            ts,
            packet,
            bytes,
            ..
        } => {
            revealed = Some(packet);
            verdict = on_connection(conns, flow, |c| {
                c.on_data(&layers, next_session, dir, ts, packet, bytes, pending)
            });
        }
        TcpEvent::Gap {
            flow,
            dir,
            ts,
            len,
            cut,
            ..
        } => {
            verdict = on_connection(conns, flow, |c| {
                c.on_gap(&layers, next_session, dir, ts, len, cut, pending)
            });
        }
        TcpEvent::Overlap {
            flow,
            dir,
            ts,
            packet,
            offset,
            len,
        } => {
            revealed = Some(packet);
            let notice = TcpNotice::Overlap { offset, len };
            on_connection(conns, flow, |c| c.on_tcp_notice(dir, ts, notice, pending));
        }
        TcpEvent::Ignored {
            flow,
            dir,
            ts,
            reason,
        } => {
            let notice = TcpNotice::Ignored(reason);
            on_connection(conns, flow, |c| c.on_tcp_notice(dir, ts, notice, pending));
        }
        TcpEvent::MemoryRelief {
            flow,
            dir,
            ts,
            held,
            limit,
        } => {
            let notice = TcpNotice::MemoryRelief { held, limit };
            on_connection(conns, flow, |c| c.on_tcp_notice(dir, ts, notice, pending));
        }
        TcpEvent::Fin { flow, dir, .. } => {
            on_connection(conns, flow, |c| {
                c.on_fin(&layers, next_session, dir, pending)
            });
        }
        TcpEvent::Rst { flow, dir, .. } => {
            on_connection(conns, flow, |c| {
                c.on_rst(&layers, next_session, dir, pending)
            });
        }
        TcpEvent::Closed { ts, summary } => {
            let (classification, tls) = match conns.remove(&summary.id) {
                Some(mut c) => {
                    c.on_closed(&layers, next_session, ts, &summary, pending);
                    (c.classification(), c.tls_info().map(Box::new))
                }
                None => (Classification::Other, None),
            };
            drain(pending, post, revealed, sink);
            sink(Event::Flow(&FlowRecord {
                summary,
                classification,
                tls,
            }));
        }
    }
    drain(pending, post, revealed, sink);
    verdict
}

/// The answer to the flow table after a connection took stream bytes or a gap: its evidence
/// about the roles first (the table owns them, and events already name the roles it gives),
/// else bypass once nothing more is examined (then answered to the next event).
fn answer(c: &mut FlowStack) -> Verdict {
    match c.take_role_evidence() {
        Some(dir) => Verdict::ClientIs(dir),
        None if c.is_done() => Verdict::Bypass,
        None => Verdict::Continue,
    }
}

/// What the analyzer adds to the sessions' events on their way out: repeated findings held
/// back ([`Repeats`]) and payload the outputs dropped for the memory budget.
struct Post {
    repeats: Repeats,
    budget: MemoryBudget,
    /// Open sessions and the payload dropped from them so far.
    open: HashMap<SessionId, Dropped>,
}

impl Post {
    /// Collects the drops the outputs recorded: an open session's are added up until it ends,
    /// an ended session's are reported at once.
    fn absorb_drops<F>(&mut self, sink: &mut F)
    where
        F: FnMut(Event<'_>),
    {
        for (id, d) in self.budget.take_drops() {
            match self.open.get_mut(&id) {
                Some(total) => {
                    total.messages += d.messages;
                    total.bytes += d.bytes;
                }
                None => self.report_drop(id, d, sink),
            }
        }
    }

    /// Reports what was dropped from session `id` (if anything) and forgets it.
    fn end_drops<F>(&mut self, id: SessionId, sink: &mut F)
    where
        F: FnMut(Event<'_>),
    {
        if let Some(d) = self.open.remove(&id) {
            if d.messages > 0 {
                self.report_drop(id, d, sink);
            }
        }
    }

    fn report_drop<F>(&self, id: SessionId, d: Dropped, sink: &mut F)
    where
        F: FnMut(Event<'_>),
    {
        let finding = Finding::new(
            Code::PayloadBudgetExceeded,
            None,
            None,
            format!(
                "memory budget reached (--max-memory {}): payload of {} messages ({}) not kept; lengths, counts and findings are complete",
                crate::budget::human(self.budget.limit()),
                crate::finding::thousands(d.messages),
                crate::budget::human(d.bytes)
            ),
        );
        sink(Event::Finding {
            session: Some(id),
            finding: &finding,
        });
    }
}

/// Hands the sessions' events on; findings that name no packet get `revealed`'s.
fn drain<F>(pending: &mut Vec<SessionEvent>, post: &mut Post, revealed: Option<u64>, sink: &mut F)
where
    F: FnMut(Event<'_>),
{
    if pending.is_empty() {
        // Most segments produce no session event: skip setting up the drain.
        return;
    }
    for mut ev in pending.drain(..) {
        if let SessionEvent::Finding { finding, .. } = &mut ev {
            finding.packet = finding.packet.or(revealed);
        }
        match &ev {
            SessionEvent::Start(s) => {
                post.open.insert(s.id, Dropped::default());
                sink(Event::SessionStart(s))
            }
            SessionEvent::Message(m) => {
                sink(Event::Message(m));
                post.absorb_drops(sink);
            }
            SessionEvent::Finding { session, finding } => {
                if post.repeats.admit(*session, finding) {
                    sink(Event::Finding {
                        session: *session,
                        finding,
                    })
                }
            }
            SessionEvent::End(e) => {
                post.absorb_drops(sink);
                post.end_drops(e.id, sink);
                for finding in post.repeats.close(Some(e.id)) {
                    sink(Event::Finding {
                        session: Some(e.id),
                        finding: &finding,
                    });
                }
                sink(Event::SessionEnd(e))
            }
        }
    }
}
