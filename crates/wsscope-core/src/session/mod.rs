//! One TCP connection seen from the WebSocket point of view: HTTP until the upgrade, then two
//! frame decoders and message assemblers, the close handshake, ping/pong pairing, and the
//! session-level findings (abrupt close, incomplete close handshake, idle timeouts).
//!
//! A connection can hold several sessions in sequence only through refused upgrades
//! (keep-alive requests after a non-101 answer are still examined); after a 101 it is
//! WebSocket until it ends. Sans-IO: fed [`crate::tcp::TcpEvent`] contents, it appends
//! [`SessionEvent`]s to a caller's vector.
//!
//! [`Connection`] dispatches to one state machine per file:
//! - `http_phase`: request/response pairing (pipelining, keep-alive, bodies skipped, limits),
//!   its buffers are `http_buf`, chunked bodies `chunked`;
//! - `upgrade`: the answer to an upgrade request: accepted (101), refused, or unanswered;
//! - `midstream`: WebSocket found without (all of) its handshake: joined mid-stream, bytes
//!   lost, a 101 to a request that did not ask for WebSocket; not HTTP at all;
//! - `roles`: the client/server roles, corrected from the frames' masking;
//! - `ws_phase`: frames to messages, numbered and counted; `heartbeat` pairs pings and pongs;
//! - `close`: the close handshake and how the session ended.

use crate::finding::{Code, Finding};
use crate::handshake::Negotiated;
use crate::http::{RequestHead, ResponseHead};
use crate::tcp::flow::Began;
use crate::tcp::{CloseReason, Dir, FlowId, FlowSummary};
use crate::timestamp::Timestamp;
use crate::ws::message::Message;
use std::collections::VecDeque;
use std::net::SocketAddr;

mod chunked;
mod close;
pub mod h2_streams;
mod heartbeat;
mod http_buf;
mod http_phase;
mod midstream;
mod roles;
#[cfg(test)]
mod testing;
mod upgrade;
mod ws_phase;

use chunked::ChunkedBody;
pub use h2_streams::H2Sessions;
use http_buf::HttpBuf;
use http_phase::{Gap, Oversized, Queued};
use upgrade::PendingUpgrade;
use ws_phase::WsState;

/// Session id, unique within one analysis run (numbered from 1).
pub type SessionId = u64;

/// Analysis settings that apply to every session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Largest message (after inflation) decoded in full.
    pub max_message_size: u64,
    /// Payload bytes retained per message.
    pub keep_bytes: usize,
    /// Server ports whose traffic is decoded as WebSocket even without a captured handshake.
    pub decode_as_ports: Vec<u16>,
    /// Detect WebSocket framing on connections captured mid-stream.
    pub detect_midstream: bool,
    /// The memory budget message assembly and inflaters are charged to (the analyzer sets it
    /// to its own, [`crate::analyzer::AnalyzerConfig::budget`]).
    pub budget: Option<crate::budget::MemoryBudget>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_message_size: 64 << 20,
            keep_bytes: 1024,
            decode_as_ports: Vec::new(),
            detect_midstream: true,
            budget: None,
        }
    }
}

/// The captured opening handshake.
#[derive(Clone, Debug)]
pub struct Handshake {
    /// The client's request.
    pub request: RequestHead,
    /// The server's response, if captured.
    pub response: Option<ResponseHead>,
    /// What the response established.
    pub negotiated: Negotiated,
    /// Timestamp of the request.
    pub request_ts: Timestamp,
    /// Timestamp of the response.
    pub response_ts: Option<Timestamp>,
}

/// A session begins.
#[derive(Clone, Debug)]
pub struct SessionStart {
    /// Session id.
    pub id: SessionId,
    /// TCP flow.
    pub flow: FlowId,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// Timestamp of the first packet of the session (request, or first frame).
    pub ts: Timestamp,
    /// The handshake; `None` when it was not captured.
    pub handshake: Option<Handshake>,
    /// The session is WebSocket (a 101 accepted the upgrade, or framing was found); `false`
    /// for an upgrade refused or left unanswered, known before its end (which waits for the
    /// TCP end).
    pub upgraded: bool,
    /// The TCP connection was captured from its SYN.
    pub tcp_began: Began,
    /// Client/server roles were inferred.
    pub roles_inferred: bool,
    /// What carries the session: the TCP connection itself (HTTP/1.1 upgrade) or an HTTP/2
    /// stream (RFC 8441).
    pub transport: Transport,
    /// The TLS connection the session was decrypted from (`wss://`), if any.
    pub tls: Option<Box<crate::tls::TlsInfo>>,
}

/// What carries a WebSocket session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// An HTTP/1.1 upgrade: the session is the whole TCP (or TLS) connection after the 101.
    Http1,
    /// An HTTP/2 extended CONNECT (RFC 8441): the session is one stream of the connection.
    H2 {
        /// The stream id.
        stream_id: u32,
    },
}

/// A close frame as sent by one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// Status code (absent when the payload was empty).
    pub code: Option<u16>,
    /// Reason text.
    pub reason: String,
    /// When it was sent.
    pub ts: Timestamp,
}

/// How a session ended.
#[derive(Clone, Debug)]
pub struct SessionEnd {
    /// Session id.
    pub id: SessionId,
    /// When the analysis of the session ended.
    pub ts: Timestamp,
    /// The upgrade was accepted (101).
    pub upgraded: bool,
    /// Close frame sent by the client.
    pub client_close: Option<CloseFrame>,
    /// Close frame sent by the server.
    pub server_close: Option<CloseFrame>,
    /// Who sent the first close frame.
    pub initiator: Option<Dir>,
    /// How the TCP connection ended (`None` if still open when the session ended: a session
    /// that did not upgrade waits for the TCP end, unless the next session on the connection
    /// starts first).
    pub tcp_end: Option<CloseReason>,
    /// Which side sent the first FIN or the RST.
    pub tcp_closer: Option<Dir>,
    /// Both close frames, then the TCP close.
    pub clean: bool,
    /// Messages per direction `[c2s, s2c]`.
    pub messages: [u64; 2],
    /// Payload bytes per direction (after inflation).
    pub payload_bytes: [u64; 2],
    /// For an upgrade refused with a response body: its first bytes. The body follows the
    /// response head, so it is known only at the end, not when the session starts.
    pub response_body: Option<ResponseBody>,
}

/// The body of a response that refused an upgrade: its first [`ResponseBody::KEEP`] bytes, as
/// sent (a chunked body keeps its chunk-size lines).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseBody {
    /// The first bytes of the body, at most [`ResponseBody::KEEP`].
    pub bytes: Vec<u8>,
    /// Body bytes seen in all (those not kept included).
    pub len: u64,
}

impl ResponseBody {
    /// Body bytes kept.
    pub const KEEP: usize = 1024;

    /// Counts `data`, the next bytes of the body, and keeps what fits.
    pub fn extend(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        let room = Self::KEEP.saturating_sub(self.bytes.len()).min(data.len());
        self.bytes.extend_from_slice(&data[..room]);
    }
}

impl SessionEnd {
    /// The end of an upgrade attempt that never became WebSocket (refused or unanswered).
    pub fn without_upgrade(id: SessionId, ts: Timestamp, tcp_closer: Option<Dir>) -> Self {
        SessionEnd {
            id,
            ts,
            upgraded: false,
            client_close: None,
            server_close: None,
            initiator: None,
            tcp_end: None,
            tcp_closer,
            clean: false,
            messages: [0, 0],
            payload_bytes: [0, 0],
            response_body: None,
        }
    }
}

/// A message within a session.
#[derive(Clone, Debug)]
pub struct SessionMessage {
    /// Session id.
    pub session: SessionId,
    /// 1-based index within the session.
    pub index: u64,
    /// The message.
    pub message: Message,
    /// Number of the capture packet that delivered the message's first byte (the first byte
    /// of its first frame's header), 1-based as Wireshark numbers frames. Bytes that waited in
    /// the HTTP phase (frames right behind the 101, or read before framing was recognised
    /// mid-stream) and bytes searched for a frame boundary after lost sync count as delivered
    /// by the packet they were decoded with, as for the message's timestamp.
    pub first_packet: u64,
    /// Number of the capture packet that delivered its last byte (the last byte of its last
    /// frame; for a message cut short by a gap or the end of the stream, the last byte
    /// captured).
    pub last_packet: u64,
    /// For a pong answering a ping: the ping's round-trip time in nanoseconds.
    pub rtt_nanos: Option<i64>,
}

/// What a connection reports.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    /// A session began.
    Start(Box<SessionStart>),
    /// A message completed.
    Message(SessionMessage),
    /// A finding, attached to a session when `session` is set.
    Finding {
        /// The session concerned.
        session: Option<SessionId>,
        /// The finding.
        finding: Finding,
    },
    /// A session ended.
    End(SessionEnd),
}

impl SessionEvent {
    /// A finding event: `code` with its default severity, seen in `dir` at `ts`, attached to
    /// `session` when set.
    pub fn finding(
        session: Option<SessionId>,
        code: Code,
        dir: Option<Dir>,
        ts: Timestamp,
        detail: impl Into<String>,
    ) -> Self {
        SessionEvent::Finding {
            session,
            finding: Finding::new(code, dir, Some(ts), detail),
        }
    }
}

/// Something the TCP layer noticed about one direction of a flow's stream, reported as a finding
/// of the flow (attached to its WebSocket session when it has one).
#[derive(Clone, Debug)]
pub enum TcpNotice {
    /// A retransmission disagreed with the first copy (the first copy was used).
    Overlap {
        /// Stream offset of the retransmitted bytes.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// A segment a receiver would drop was not used, and why.
    Ignored(String),
    /// The memory budget was reached: the direction gave up the `held` bytes it kept out of
    /// order (the gap and the data follow).
    MemoryRelief {
        /// Bytes given up.
        held: u64,
        /// The budget (`--max-memory`).
        limit: u64,
    },
}

impl TcpNotice {
    /// The finding for this notice about direction `dir` at `ts`, attached to `session`.
    pub fn finding(self, session: Option<SessionId>, dir: Dir, ts: Timestamp) -> SessionEvent {
        let (code, detail) = match self {
            TcpNotice::Overlap { offset, len } => (
                Code::TcpOverlapInconsistent,
                format!("retransmitted bytes at stream offset {offset} ({len} bytes) differ from the first copy; the first copy was used"),
            ),
            TcpNotice::Ignored(reason) => (Code::TcpSegmentIgnored, reason),
            TcpNotice::MemoryRelief { held, limit } => (
                Code::MemoryBudgetExceeded,
                format!(
                    "memory budget reached (--max-memory {}): {} held out of order were delivered at once, the hole in front of them reported as a gap",
                    crate::budget::human(limit),
                    crate::budget::human(held)
                ),
            ),
        };
        SessionEvent::finding(session, code, Some(dir), ts, detail)
    }
}

/// What kind of traffic a connection carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    /// Upgraded to WebSocket (or WebSocket framing found mid-stream).
    WebSocket,
    /// HTTP without a successful upgrade.
    Http,
    /// HTTP/2 without a WebSocket stream.
    Http2,
    /// TLS that was not decrypted.
    Tls,
    /// Anything else.
    Other,
}

impl Classification {
    /// `websocket`, `http`, `http2`, `tls` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::WebSocket => "websocket",
            Classification::Http => "http",
            Classification::Http2 => "http2",
            Classification::Tls => "tls",
            Classification::Other => "other",
        }
    }
}

enum Phase {
    /// Reading HTTP heads.
    Http,
    /// Decoding frames.
    WebSocket(Box<WsState>),
    /// Not examined any further.
    Done,
}

/// Analysis state of one TCP connection.
pub struct Connection {
    flow: FlowId,
    client: SocketAddr,
    server: SocketAddr,
    began: Began,
    roles_inferred: bool,
    phase: Phase,
    bufs: [HttpBuf; 2],
    skip: [u64; 2],
    /// Requests awaiting a response, in order (method, upgrade attempt, and for a request
    /// that did not ask for WebSocket its handshake headers, reported if a 101 answers it).
    requests: VecDeque<Queued>,
    exchanges: u32,
    classification: Classification,
    tcp_closer: Option<Dir>,
    fin: [bool; 2],
    /// Evidence about the roles not yet handed to the flow table (see
    /// [`Connection::take_role_evidence`]).
    role_evidence: Option<Dir>,
    /// Number of the packet that delivered the latest stream bytes.
    packet: u64,
    /// How far each buffer was searched for the end of a head (the search resumes there).
    scanned: [usize; 2],
    /// Bytes examined by head-end searches and heads parsed (for the linear-time test).
    scan_stats: (u64, u64),
    /// A client head over the size limit being skipped.
    oversized: Option<Oversized>,
    /// Bytes went missing before anything HTTP was read: the stream is read as if joined
    /// mid-stream (framing detection allowed).
    resumed: bool,
    /// The server's answer to a pending upgrade went missing (timestamp and length of the gap).
    lost_response: Option<(Timestamp, u64)>,
    /// A 101 answered a request that did not ask for WebSocket: the session waits for the
    /// bytes after it to show whether WebSocket framing follows.
    switched: Option<Box<(PendingUpgrade, ResponseHead, Timestamp)>>,
    /// A response head over [`MAX_HEAD_BYTES`] whose rest is being skipped (what its first
    /// 64 KiB held, bytes dropped so far, when it began).
    oversized_resp: Option<(ResponseHead, u64, Timestamp)>,
    /// Per direction: the stream resumed inside a head after a gap; its end is searched for.
    tail: [bool; 2],
    /// Per direction: where a chunked body being skipped is.
    chunked: [Option<ChunkedBody>; 2],
    /// Per direction: the WebSocket decoder starts unsynchronised (bytes went missing just
    /// before, or the end of a cut head was not found).
    unsynced: [bool; 2],
    /// The end of the last session that did not become WebSocket (refused, unanswered, or
    /// switched to another protocol), held until the TCP connection ends so that it says how
    /// (or until the next session on the connection starts).
    unfinished: Option<Box<SessionEnd>>,
    /// The body of the response that refused the upgrade of `unfinished` is being read: its
    /// bytes go to that end's `response_body`.
    refused_body: bool,
    /// The TLS connection the bytes were decrypted from, if any.
    tls: Option<Box<crate::tls::TlsInfo>>,
    /// A 101 switched the connection to HTTP/2 (`Upgrade: h2c`): what follows, for the layer
    /// above ([`Connection::take_h2c_switch`]).
    h2c: Option<Box<H2cSwitch>>,
}

/// An HTTP/1.1 connection switched to HTTP/2 by `Upgrade: h2c` answered 101 (RFC 7540 3.2):
/// everything an [`H2Sessions`] needs to go on with it. The client's bytes after its request
/// start with the connection preface, the server's after the 101 with its SETTINGS; stream 1
/// (the upgraded request) is an ordinary request, never a WebSocket.
pub struct H2cSwitch {
    /// The flow.
    pub flow: FlowId,
    /// Client endpoint.
    pub client: SocketAddr,
    /// Server endpoint.
    pub server: SocketAddr,
    /// How the TCP connection began.
    pub began: Began,
    /// Roles inferred (and not confirmed since).
    pub roles_inferred: bool,
    /// Role evidence not yet handed to the flow table.
    pub role_evidence: Option<Dir>,
    /// TLS the bytes were decrypted from.
    pub tls: Option<Box<crate::tls::TlsInfo>>,
    /// Client bytes read after its request.
    pub c2s: Vec<u8>,
    /// Server bytes read after the 101 head.
    pub s2c: Vec<u8>,
    /// When the 101 was read, and the packet that delivered it.
    pub ts: Timestamp,
    /// Packet number.
    pub packet: u64,
}

impl Connection {
    /// A connection whose roles the flow table decided.
    pub fn new(
        flow: FlowId,
        client: SocketAddr,
        server: SocketAddr,
        began: Began,
        roles_inferred: bool,
    ) -> Self {
        Connection {
            flow,
            client,
            server,
            began,
            roles_inferred,
            phase: Phase::Http,
            bufs: [HttpBuf::default(), HttpBuf::default()],
            skip: [0, 0],
            requests: VecDeque::new(),
            exchanges: 0,
            classification: Classification::Other,
            tcp_closer: None,
            fin: [false; 2],
            role_evidence: None,
            packet: 0,
            scanned: [0, 0],
            scan_stats: (0, 0),
            oversized: None,
            resumed: false,
            lost_response: None,
            switched: None,
            oversized_resp: None,
            tail: [false; 2],
            chunked: [None, None],
            unsynced: [false; 2],
            unfinished: None,
            refused_body: false,
            tls: None,
            h2c: None,
        }
    }

    /// The 101 read at `ts` switched the connection to HTTP/2: nothing more is examined here.
    fn switch_to_h2c(&mut self, ts: Timestamp) {
        let c2s = std::mem::take(&mut self.bufs[0]).as_slice().to_vec();
        let s2c = std::mem::take(&mut self.bufs[1]).as_slice().to_vec();
        self.h2c = Some(Box::new(H2cSwitch {
            flow: self.flow,
            client: self.client,
            server: self.server,
            began: self.began,
            roles_inferred: self.roles_inferred,
            role_evidence: self.role_evidence.take(),
            tls: self.tls.take(),
            c2s,
            s2c,
            ts,
            packet: self.packet,
        }));
        self.requests.clear();
        self.phase = Phase::Done;
    }

    /// After a 101 to `Upgrade: h2c` ([`Connection::is_done`] is then true): the rest of the
    /// connection is HTTP/2, for an [`H2Sessions`] to take over.
    pub fn take_h2c_switch(&mut self) -> Option<Box<H2cSwitch>> {
        self.h2c.take()
    }

    /// The bytes this connection is fed were decrypted from a TLS connection: its sessions
    /// report `tls` (call before the first bytes, and again when the handshake says more).
    pub fn set_tls(&mut self, tls: crate::tls::TlsInfo) {
        self.tls = Some(Box::new(tls));
    }

    /// What the connection carried so far.
    pub fn classification(&self) -> Classification {
        self.classification
    }

    /// True when nothing more is examined (the flow can be bypassed).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// In-order bytes in direction `dir`, delivered by packet number `packet`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_data(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        packet: u64,
        data: &[u8],
        out: &mut Vec<SessionEvent>,
    ) {
        self.packet = packet;
        match &mut self.phase {
            Phase::WebSocket(ws) => ws.feed(dir, (ts, packet), data, out),
            Phase::Done => {}
            Phase::Http => self.http_data((dir, ts, data), cfg, next_id, out),
        }
    }

    /// `len` bytes missing in direction `dir` (`cut`: cut off a captured segment by the
    /// snaplen).
    #[allow(clippy::too_many_arguments)]
    pub fn on_gap(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        len: u64,
        cut: bool,
        out: &mut Vec<SessionEvent>,
    ) {
        match &mut self.phase {
            Phase::WebSocket(ws) => ws.gap(dir, ts, len, out),
            Phase::Http => self.http_gap(cfg, next_id, Gap { dir, ts, len, cut }, out),
            Phase::Done => {}
        }
    }

    /// The WebSocket session being decoded, if any.
    fn ws_session(&self) -> Option<SessionId> {
        match &self.phase {
            Phase::WebSocket(ws) => Some(ws.session),
            _ => None,
        }
    }

    /// Something the TCP layer noticed about direction `dir`: a finding of the connection,
    /// attached to its WebSocket session when there is one.
    pub fn on_tcp_notice(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        notice: TcpNotice,
        out: &mut Vec<SessionEvent>,
    ) {
        out.push(notice.finding(self.ws_session(), dir, ts));
    }

    /// The bytes of `dir` stopped being decodable (TLS decryption failed): the session does
    /// not blame that side for a close frame it may have sent.
    pub fn on_undecodable(&mut self, dir: Dir) {
        if let Phase::WebSocket(ws) = &mut self.phase {
            ws.undecodable(dir);
        }
    }

    /// A FIN from `dir`.
    pub fn on_fin(&mut self, dir: Dir) {
        if self.tcp_closer.is_none() {
            self.tcp_closer = Some(dir);
        }
        self.fin[dir.index()] = true;
    }

    /// A RST from `dir`.
    pub fn on_rst(&mut self, dir: Dir) {
        if self.tcp_closer.is_none() || !self.fin.iter().any(|&f| f) {
            self.tcp_closer = Some(dir);
        }
    }

    /// The TCP connection is gone: finish everything and end the open session.
    pub fn on_closed(&mut self, ts: Timestamp, summary: &FlowSummary, out: &mut Vec<SessionEvent>) {
        self.closed(ts, summary.ended, out);
    }

    /// The TCP connection ended at `ts` for `reason`.
    fn closed(&mut self, ts: Timestamp, reason: CloseReason, out: &mut Vec<SessionEvent>) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::WebSocket(ws) => ws.end(ts, reason, self.tcp_closer, out),
            Phase::Http => self.http_closed(ts, out),
            Phase::Done => {}
        }
        if let Some(mut end) = self.unfinished.take() {
            end.tcp_end = Some(reason);
            end.tcp_closer = self.tcp_closer;
            out.push(SessionEvent::End(*end));
        }
    }

    /// Pushes the start of session `id` of this connection. The end of the session before
    /// it, if still waiting for the TCP connection's end, is pushed first: sessions of one
    /// connection never overlap.
    fn start_session(
        &mut self,
        id: SessionId,
        ts: Timestamp,
        handshake: Option<Handshake>,
        upgraded: bool,
        out: &mut Vec<SessionEvent>,
    ) {
        if let Some(end) = self.unfinished.take() {
            out.push(SessionEvent::End(*end));
        }
        out.push(SessionEvent::Start(Box::new(SessionStart {
            id,
            flow: self.flow,
            client: self.client,
            server: self.server,
            ts,
            handshake,
            upgraded,
            tcp_began: self.began,
            roles_inferred: self.roles_inferred,
            // A connection's own sessions are HTTP/1.1 upgrades (HTTP/2 streams are
            // started by `H2Sessions`).
            transport: Transport::Http1,
            tls: self.tls.clone(),
        })));
    }
}
