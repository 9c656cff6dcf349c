//! The pipeline driver: raw packets in, [`Event`]s out.
//!
//! Owns the packet decoder, the flow table and one [`Connection`] per tracked flow, and turns
//! what they report into the events every sink consumes. Deterministic and free of I/O.

use crate::capture::RawPacket;
use crate::finding::Finding;
use crate::packet::{DecodeStats, PacketDecoder};
use crate::session::{
    Classification, Connection, SessionConfig, SessionEnd, SessionEvent, SessionId, SessionMessage,
    SessionStart,
};
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
}

/// A finished TCP connection and what it carried.
#[derive(Clone, Debug)]
pub struct FlowRecord {
    /// TCP-level counters.
    pub summary: FlowSummary,
    /// What the connection carried.
    pub classification: Classification,
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
    /// Boxed, like the flow table's entries: under eviction churn the map may hold twice the
    /// buckets it needs, and a bucket should cost a pointer.
    conns: HashMap<crate::tcp::FlowId, Box<Connection>>,
    next_session: SessionId,
    pending: Vec<SessionEvent>,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
}

impl Analyzer {
    /// A fresh pipeline; session ids continue after `last_session_id`.
    pub fn new(cfg: AnalyzerConfig, last_session_id: SessionId) -> Self {
        Analyzer {
            decoder: PacketDecoder::new(),
            table: FlowTable::new(cfg.flows),
            cfg,
            conns: HashMap::new(),
            next_session: last_session_id,
            pending: Vec::new(),
            first_ts: None,
            last_ts: None,
        }
    }

    /// The last session id handed out.
    pub fn last_session_id(&self) -> SessionId {
        self.next_session
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
            conns,
            next_session,
            pending,
            ..
        } = self;
        let _ = decoder.decode(packet, |seg| {
            table.process(seg, &mut |ev| {
                handle_tcp(cfg, conns, next_session, pending, ev, sink)
            });
        });
    }

    /// Ends the capture: every open connection is closed and reported.
    pub fn finish<F>(&mut self, sink: &mut F)
    where
        F: FnMut(Event<'_>),
    {
        let ts = self.last_ts.unwrap_or_default();
        let Analyzer {
            cfg,
            table,
            conns,
            next_session,
            pending,
            ..
        } = self;
        table.finish(ts, &mut |ev| {
            handle_tcp(cfg, conns, next_session, pending, ev, sink)
        });
    }
}

fn handle_tcp<F>(
    cfg: &AnalyzerConfig,
    conns: &mut HashMap<crate::tcp::FlowId, Box<Connection>>,
    next_session: &mut SessionId,
    pending: &mut Vec<SessionEvent>,
    ev: TcpEvent<'_>,
    sink: &mut F,
) -> Verdict
where
    F: FnMut(Event<'_>),
{
    let mut verdict = Verdict::Continue;
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
                Box::new(Connection::new(flow, client, server, began, roles_inferred)),
            );
        }
        TcpEvent::Data {
            flow,
            dir,
            ts,
            bytes,
            ..
        } => {
            if let Some(c) = conns.get_mut(&flow) {
                c.on_data(&cfg.session, next_session, dir, ts, bytes, pending);
                if c.is_done() {
                    verdict = Verdict::Bypass;
                }
            }
        }
        TcpEvent::Gap {
            flow, dir, ts, len, ..
        } => {
            if let Some(c) = conns.get_mut(&flow) {
                c.on_gap(dir, ts, len, pending);
                if c.is_done() {
                    verdict = Verdict::Bypass;
                }
            }
        }
        TcpEvent::Overlap {
            flow,
            dir,
            ts,
            offset,
            len,
        } => {
            if let Some(c) = conns.get_mut(&flow) {
                c.on_overlap(dir, ts, offset, len, pending);
            }
        }
        TcpEvent::Ignored {
            flow,
            dir,
            ts,
            reason,
        } => {
            if let Some(c) = conns.get_mut(&flow) {
                c.on_ignored(dir, ts, reason, pending);
            }
        }
        TcpEvent::Fin { flow, dir, .. } => {
            if let Some(c) = conns.get_mut(&flow) {
                c.on_fin(dir);
            }
        }
        TcpEvent::Rst { flow, dir, .. } => {
            if let Some(c) = conns.get_mut(&flow) {
                c.on_rst(dir);
            }
        }
        TcpEvent::Closed { ts, summary } => {
            let classification = match conns.remove(&summary.id) {
                Some(mut c) => {
                    c.on_closed(ts, &summary, pending);
                    c.classification()
                }
                None => Classification::Other,
            };
            drain(pending, sink);
            sink(Event::Flow(&FlowRecord {
                summary,
                classification,
            }));
        }
    }
    drain(pending, sink);
    verdict
}

fn drain<F>(pending: &mut Vec<SessionEvent>, sink: &mut F)
where
    F: FnMut(Event<'_>),
{
    for ev in pending.drain(..) {
        match &ev {
            SessionEvent::Start(s) => sink(Event::SessionStart(s)),
            SessionEvent::Message(m) => sink(Event::Message(m)),
            SessionEvent::Finding { session, finding } => sink(Event::Finding {
                session: *session,
                finding,
            }),
            SessionEvent::End(e) => sink(Event::SessionEnd(e)),
        }
    }
}
