//! One TCP connection seen from the WebSocket point of view: HTTP until the upgrade, then two
//! frame decoders and message assemblers, the close handshake, ping/pong pairing, and the
//! session-level findings (abrupt close, incomplete close handshake, idle timeouts).
//!
//! A connection can hold several sessions in sequence only through refused upgrades
//! (keep-alive requests after a non-101 answer are still examined); after a 101 it is
//! WebSocket until it ends. Sans-IO: fed [`crate::tcp::TcpEvent`] contents, it appends
//! [`SessionEvent`]s to a caller's vector.

use crate::finding::{Code, Finding};
use crate::handshake::{
    check_request, check_response, is_upgrade_request, negotiated_from_response, Negotiated,
};
use crate::http::{
    find_head_end, lenient_request, lenient_response, parse_request, parse_response, request_body,
    response_body, websocket_header, BodyLength, HeadParse, RequestHead, ResponseHead, MAX_HEADERS,
    MAX_HEAD_BYTES,
};
use crate::tcp::flow::Began;
use crate::tcp::{CloseReason, Dir, FlowId, FlowSummary};
use crate::timestamp::Timestamp;
use crate::ws::decoder::{DecodeEvent, Expectations, FrameDecoder};
use crate::ws::frame::FrameHeader;
use crate::ws::message::{Assembled, AssemblerConfig, Message, MessageAssembler, MessageKind};
use std::collections::VecDeque;
use std::net::SocketAddr;

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
    /// The TCP connection was captured from its SYN.
    pub tcp_began: Began,
    /// Client/server roles were inferred.
    pub roles_inferred: bool,
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
    /// How the TCP connection ended (`None` if still open when the session ended).
    pub tcp_end: Option<CloseReason>,
    /// Which side sent the first FIN or the RST.
    pub tcp_closer: Option<Dir>,
    /// Both close frames, then the TCP close.
    pub clean: bool,
    /// Messages per direction `[c2s, s2c]`.
    pub messages: [u64; 2],
    /// Payload bytes per direction (after inflation).
    pub payload_bytes: [u64; 2],
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

/// What kind of traffic a connection carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    /// Upgraded to WebSocket (or WebSocket framing found mid-stream).
    WebSocket,
    /// HTTP without a successful upgrade.
    Http,
    /// Anything else.
    Other,
}

impl Classification {
    /// `websocket`, `http` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::WebSocket => "websocket",
            Classification::Http => "http",
            Classification::Other => "other",
        }
    }
}

/// Bytes held per direction while waiting for the other side during the HTTP phase.
const MAX_HTTP_BUFFER: usize = 1 << 20;
/// Requests awaiting a response (pipelined); further requests wait in the client's buffer.
const MAX_PENDING_REQUESTS: usize = 64;
/// Unanswered pings remembered per direction.
const MAX_PENDING_PINGS: usize = 64;

struct WsState {
    session: SessionId,
    decoders: [FrameDecoder; 2],
    assemblers: [MessageAssembler; 2],
    pings: [VecDeque<(Vec<u8>, Timestamp)>; 2],
    closes: [Option<CloseFrame>; 2],
    initiator: Option<Dir>,
    last_activity: Timestamp,
    messages: [u64; 2],
    payload_bytes: [u64; 2],
    index: u64,
    /// The rest of a request head cut by a gap, held until its end is found (bytes so far,
    /// how far they were searched); the client's frames start after it.
    client_tail: Option<(Vec<u8>, usize)>,
}

enum Phase {
    /// Reading HTTP heads.
    Http,
    /// Decoding frames.
    WebSocket(Box<WsState>),
    /// Not examined any further.
    Done,
}

struct PendingUpgrade {
    session: SessionId,
    request: RequestHead,
    ts: Timestamp,
    /// Findings about how the request was read (a limit exceeded, read leniently).
    notes: Vec<(Code, String)>,
    /// Findings about how the response was read (when it was not read strictly).
    resp_notes: Vec<(Code, String, Timestamp)>,
    /// The head was cut at [`MAX_HEAD_BYTES`]: headers are missing, so it is not checked.
    unchecked: bool,
    /// Not known to ask for WebSocket (its Upgrade header may be in the part not read): a
    /// session only if the server answers 101.
    maybe: bool,
}

/// A request awaiting its response: its method, the upgrade it attempts, and for a request
/// that did not ask for WebSocket its handshake headers and timestamp.
type Queued = (
    String,
    Option<PendingUpgrade>,
    Option<Box<(RequestHead, Timestamp)>>,
);

/// A request head over [`MAX_HEAD_BYTES`] whose rest is being skipped.
struct Oversized {
    /// What the first [`MAX_HEAD_BYTES`] held.
    request: RequestHead,
    /// Bytes of the head dropped so far.
    dropped: u64,
    ts: Timestamp,
}

/// Longest chunk-size line (with extensions) of a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

/// Where a chunked body (RFC 9112 7.1) being skipped is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many chunk-data bytes left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk (bytes read so far).
    Trailer(usize),
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
    chunked: [Option<Chunk>; 2],
    /// Per direction: the WebSocket decoder starts unsynchronised (bytes went missing just
    /// before, or the end of a cut head was not found).
    unsynced: [bool; 2],
}

/// True for a silence of 55-65 s or within 5 s of a multiple of 60 s up to 10 minutes: the
/// shape of a proxy idle timeout (nginx's proxy_read_timeout defaults to 60 s).
fn idle_timeout_like(silent_nanos: i64) -> bool {
    const S: i64 = 1_000_000_000;
    (1..=10).any(|k| (silent_nanos - k * 60 * S).abs() <= 5 * S)
}

/// Whether the first bytes of a stream can still be an HTTP request line (`None`: too few
/// bytes to tell).
fn http_request_start(data: &[u8]) -> Option<bool> {
    let token_len = data
        .iter()
        .take(16)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    match data.get(token_len) {
        Some(b' ') => Some(token_len >= 3),
        Some(_) => Some(false),
        None if token_len < 16 => None,
        None => Some(false),
    }
}

/// Whether the first bytes of a stream can still be an HTTP status line (`None`: too few).
fn http_response_start(data: &[u8]) -> Option<bool> {
    if data.len() < 5 {
        if b"HTTP/".starts_with(data) {
            None
        } else {
            Some(false)
        }
    } else {
        Some(data.starts_with(b"HTTP/"))
    }
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
        }
    }

    /// Evidence about which side is the client found since the last call, for the flow
    /// table (which owns the roles, [`crate::tcp::Verdict::ClientIs`]): the sender of the
    /// returned direction, as the table labelled it so far, is the client. This connection
    /// already reads its own state and later events with the roles that evidence gives.
    pub fn take_role_evidence(&mut self) -> Option<Dir> {
        self.role_evidence.take()
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
            Phase::WebSocket(ws) => Self::feed_ws(ws, dir, (ts, packet), data, out),
            Phase::Done => {}
            Phase::Http => {
                let mut data = data;
                let d = dir.index();
                if self.skip[d] > 0 {
                    let n = self.skip[d].min(data.len() as u64);
                    self.skip[d] -= n;
                    data = &data[n as usize..];
                }
                if data.is_empty() {
                    return;
                }
                if self.bufs[d].len() + data.len() > MAX_HTTP_BUFFER {
                    if dir == Dir::ClientToServer && self.requests.len() >= MAX_PENDING_REQUESTS {
                        out.push(SessionEvent::Finding {
                            session: None,
                            finding: Finding::new(
                                Code::HttpLimitExceeded,
                                Some(dir),
                                Some(ts),
                                format!(
                                    "{MAX_PENDING_REQUESTS} pipelined requests await a response \
                                     and the client sent over 1 MiB more: the connection \
                                     {} -> {} is no longer examined",
                                    self.client, self.server
                                ),
                            ),
                        });
                    }
                    self.give_up(ts, out);
                    return;
                }
                self.bufs[d].extend_from_slice(data);
                self.advance_http(cfg, next_id, ts, out);
            }
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
            Phase::WebSocket(ws) => {
                out.push(SessionEvent::Finding {
                    session: Some(ws.session),
                    finding: Finding::new(
                        Code::TcpGap,
                        Some(dir),
                        Some(ts),
                        format!("{len} bytes missing from the capture"),
                    ),
                });
                let d = dir.index();
                if dir == Dir::ClientToServer {
                    // The end of a cut head is not looked for across another gap.
                    ws.client_tail = None;
                }
                let assembler = &mut ws.assemblers[d];
                let mut assembled = Vec::new();
                ws.decoders[d].gap(ts, len, &mut |ev| {
                    assembler.handle(ev, &mut |a| assembled.push(a))
                });
                for a in assembled {
                    Self::deliver(ws, dir, a, out);
                }
            }
            Phase::Http => {
                let nothing_read = self.exchanges == 0 && self.requests.is_empty();
                let response_lost = dir == Dir::ServerToClient
                    && matches!(self.requests.front(), Some((_, Some(p), _)) if !p.maybe);
                let d = dir.index();
                if self.bufs[d].is_empty() && self.skip[d] >= len {
                    // Inside a body that is skipped anyway.
                    self.skip[d] -= len;
                    return;
                }
                if let Some(Chunk::Data(n)) = self.chunked[d] {
                    if self.bufs[d].is_empty() && n >= len {
                        self.chunked[d] = Some(Chunk::Data(n - len));
                        return;
                    }
                }
                let at_boundary =
                    self.bufs[d].is_empty() && self.skip[d] == 0 && self.chunked[d].is_none();
                if !at_boundary
                    && self.skip[d] == 0
                    && self.chunked[d].is_none()
                    && !cut
                    && self.oversized.is_none()
                    && self.oversized_resp.is_none()
                {
                    // A segment lost inside a head (a snaplen capture cuts every segment:
                    // that is not followed).
                    if self.gap_in_head(cfg, next_id, dir, ts, len, out) {
                        self.advance_http(cfg, next_id, ts, out);
                        return;
                    }
                }
                if !nothing_read && !response_lost || self.oversized.is_some() || !at_boundary {
                    // Without the bytes the HTTP exchange cannot be followed.
                    self.give_up(ts, out);
                    return;
                }
                // The request (or the start of the stream) or the answer to an upgrade is
                // missing: the framing that follows may still show a WebSocket session.
                self.bufs[d].clear();
                self.skip[d] = 0;
                self.scanned[d] = 0;
                self.resumed = true;
                if response_lost {
                    self.lost_response = Some((ts, len));
                }
            }
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

    /// A retransmission disagreed with the first copy.
    pub fn on_overlap(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        offset: u64,
        len: u64,
        out: &mut Vec<SessionEvent>,
    ) {
        let detail = format!("retransmitted bytes at stream offset {offset} ({len} bytes) differ from the first copy; the first copy was used");
        self.tcp_finding(Code::TcpOverlapInconsistent, dir, ts, detail, out);
    }

    /// A finding about the TCP stream in `dir` (flow orientation), attached to the WebSocket
    /// session when there is one.
    fn tcp_finding(
        &self,
        code: Code,
        dir: Dir,
        ts: Timestamp,
        detail: String,
        out: &mut Vec<SessionEvent>,
    ) {
        out.push(SessionEvent::Finding {
            session: self.ws_session(),
            finding: Finding::new(code, Some(dir), Some(ts), detail),
        });
    }

    /// A segment a receiver would drop was not used.
    pub fn on_ignored(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        reason: String,
        out: &mut Vec<SessionEvent>,
    ) {
        self.tcp_finding(Code::TcpSegmentIgnored, dir, ts, reason, out);
    }

    /// The memory budget was reached: direction `dir` gave up the `held` bytes it kept out of
    /// order (the gap and the data follow).
    pub fn on_memory_relief(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        held: u64,
        limit: u64,
        out: &mut Vec<SessionEvent>,
    ) {
        let detail = format!(
            "memory budget reached (--max-memory {}): {} held out of order were delivered at once, the hole in front of them reported as a gap",
            crate::budget::human(limit),
            crate::budget::human(held)
        );
        self.tcp_finding(Code::MemoryBudgetExceeded, dir, ts, detail, out);
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
        let reason = summary.ended;
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::WebSocket(mut ws) => {
                for dir in [Dir::ClientToServer, Dir::ServerToClient] {
                    let d = dir.index();
                    let mut assembled = Vec::new();
                    let assembler = &mut ws.assemblers[d];
                    ws.decoders[d].finish(ts, &mut |ev| {
                        assembler.handle(ev, &mut |a| assembled.push(a))
                    });
                    assembler.finish(ts, &mut |a| assembled.push(a));
                    let how = match reason {
                        CloseReason::Rst => "a TCP reset (RST)",
                        CloseReason::Fin => "the TCP close (FIN)",
                        CloseReason::EndOfCapture => "the end of the capture",
                        CloseReason::Idle => "the idle timeout",
                        CloseReason::Evicted => "eviction from the flow table",
                    };
                    for a in &mut assembled {
                        if let Assembled::Violation {
                            code: Code::MessageIncomplete,
                            detail,
                            ..
                        } = a
                        {
                            detail.push_str(&format!("; the stream ended with {how}"));
                        }
                    }
                    for a in assembled {
                        Self::deliver(&mut ws, dir, a, out);
                    }
                }
                self.end_ws(*ws, ts, Some(reason), out);
            }
            Phase::Http => {
                self.report_switched(
                    ts,
                    "the connection ended before WebSocket framing could be recognised",
                    out,
                );
                // Upgrade requests never answered.
                while let Some((_, pending, _)) = self.requests.pop_front() {
                    if let Some(p) = pending.filter(|p| !p.maybe) {
                        self.start_without_response(p, ts, out);
                    }
                }
            }
            Phase::Done => {}
        }
    }

    fn give_up(&mut self, ts: Timestamp, out: &mut Vec<SessionEvent>) {
        self.report_switched(ts, "the bytes after it were not examined", out);
        while let Some((_, pending, _)) = self.requests.pop_front() {
            if let Some(p) = pending.filter(|p| !p.maybe) {
                self.start_without_response(p, ts, out);
            }
        }
        self.phase = Phase::Done;
        self.bufs = [HttpBuf::default(), HttpBuf::default()];
    }

    /// The session-start event for session `id` of this connection.
    fn start_event(
        &self,
        id: SessionId,
        ts: Timestamp,
        handshake: Option<Handshake>,
    ) -> SessionEvent {
        SessionEvent::Start(Box::new(SessionStart {
            id,
            flow: self.flow,
            client: self.client,
            server: self.server,
            ts,
            handshake,
            tcp_began: self.began,
            roles_inferred: self.roles_inferred,
        }))
    }

    fn start_without_response(
        &mut self,
        p: PendingUpgrade,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let problems = if p.unchecked {
            Vec::new()
        } else {
            check_request(&p.request)
        };
        out.push(self.start_event(
            p.session,
            p.ts,
            Some(Handshake {
                request: p.request.clone(),
                response: None,
                negotiated: Negotiated::default(),
                request_ts: p.ts,
                response_ts: None,
            }),
        ));
        Self::notes(&p, out);
        for pr in problems {
            out.push(SessionEvent::Finding {
                session: Some(p.session),
                finding: Finding::new(pr.code, Some(Dir::ClientToServer), Some(p.ts), pr.detail),
            });
        }
        out.push(SessionEvent::Finding {
            session: Some(p.session),
            finding: Finding::new(
                Code::HandshakeNote,
                Some(Dir::ServerToClient),
                Some(ts),
                "no response to the upgrade request was captured",
            ),
        });
        out.push(SessionEvent::End(SessionEnd::without_upgrade(
            p.session,
            ts,
            self.tcp_closer,
        )));
    }

    /// Parses as many heads as the buffers allow.
    fn advance_http(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        loop {
            if !matches!(self.phase, Phase::Http) {
                return;
            }
            if self.lost_response.is_some() {
                self.after_lost_response(cfg, next_id, ts, out);
                return;
            }
            if self.switched.is_some() {
                self.after_switch(cfg, next_id, ts, out);
                return;
            }
            let mut progressed = false;
            // Requests from the client.
            let c = Dir::ClientToServer.index();
            if self.chunked[c].is_some() {
                match self.skip_chunked(c) {
                    Ok(true) => progressed = true,
                    Ok(false) => {}
                    Err(()) => {
                        self.give_up(ts, out);
                        return;
                    }
                }
            }
            if self.oversized.is_some() && self.skip[c] == 0 {
                match self.finish_oversized(next_id) {
                    Ok(true) => progressed = true,
                    Ok(false) => {}
                    Err(()) => {
                        self.give_up(ts, out);
                        return;
                    }
                }
            }
            if self.oversized.is_none()
                && self.skip[c] == 0
                && self.scanned[c] == 0
                && self.chunked[c].is_none()
                && !self.tail[c]
            {
                // Empty lines before a request line are ignored (RFC 9112 2.2).
                let blank = self.bufs[c]
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                if blank > 0 && (self.exchanges > 0 || !self.requests.is_empty()) {
                    self.bufs[c].drain(..blank);
                }
            }
            if self.tail[c] && !self.bufs[c].is_empty() {
                // The gap may end just before the empty line that ends the head.
                let at_end = match self.bufs[c].as_slice() {
                    [b'\n', ..] => Some(1),
                    [b'\r', b'\n', ..] => Some(2),
                    _ => None,
                };
                match at_end.or_else(|| self.head_end(c)) {
                    Some(end) => {
                        // The end of the cut request head: what follows is in step again.
                        self.bufs[c].drain(..end);
                        self.scanned[c] = 0;
                        self.tail[c] = false;
                        progressed = true;
                    }
                    None if self.bufs[c].len() >= MAX_HEAD_BYTES => {
                        // Its end was in the gap: read the rest as a stream resuming anywhere.
                        self.tail[c] = false;
                        self.unsynced[c] = true;
                    }
                    None => {}
                }
            }
            if !self.bufs[c].is_empty()
                && !self.tail[c]
                && self.chunked[c].is_none()
                && self.skip[c] == 0
                && self.oversized.is_none()
                && !self.upgrade_pending()
                && self.requests.len() < MAX_PENDING_REQUESTS
            {
                if self.exchanges == 0 && self.requests.is_empty() {
                    match http_request_start(&self.bufs[c]) {
                        Some(false) => {
                            self.not_http(cfg, next_id, Dir::ClientToServer, ts, out);
                            return;
                        }
                        None if !self.midstream_like() => return,
                        // Mid-stream: a WebSocket frame can start with letters too.
                        None if self.bufs[c].len() < 2 => return,
                        None => {}
                        Some(true) => {}
                    }
                }
                match self.head_end(c) {
                    Some(end) => {
                        let Some((req, notes)) = Self::read_request(&self.bufs[c][..end]) else {
                            self.give_up(ts, out);
                            return;
                        };
                        self.bufs[c].drain(..end);
                        self.scanned[c] = 0;
                        self.scan_stats.1 += 1;
                        if !self.request_read(req, notes, false, next_id, ts) {
                            return;
                        }
                        progressed = true;
                    }
                    None if self.bufs[c].len() >= MAX_HEAD_BYTES => {
                        let Some((request, _)) = lenient_request(&self.bufs[c]) else {
                            self.give_up(ts, out);
                            return;
                        };
                        // Keep the last bytes: the empty line may straddle the cut.
                        let keep = 2;
                        let drop = self.bufs[c].len() - keep;
                        self.bufs[c].drain(..drop);
                        self.scanned[c] = 0;
                        self.oversized = Some(Oversized {
                            request,
                            dropped: drop as u64,
                            ts,
                        });
                        progressed = true;
                    }
                    None => {}
                }
            }
            // Responses from the server.
            let s = Dir::ServerToClient.index();
            if self.chunked[s].is_some() {
                match self.skip_chunked(s) {
                    Ok(true) => progressed = true,
                    Ok(false) => {}
                    Err(()) => {
                        self.give_up(ts, out);
                        return;
                    }
                }
            }
            if !self.bufs[s].is_empty() && self.skip[s] == 0 && self.chunked[s].is_none() {
                let nothing_asked = self.requests.is_empty() && self.exchanges == 0;
                if nothing_asked {
                    match http_response_start(&self.bufs[s]) {
                        Some(false) => {
                            self.not_http(cfg, next_id, Dir::ServerToClient, ts, out);
                            return;
                        }
                        None if self.bufs[s].len() < 2 || !self.midstream_like() => return,
                        _ => {}
                    }
                }
                if !self.requests.is_empty() {
                    let (resp, resp_notes) = match self.next_response(ts) {
                        Ok(Some(r)) => r,
                        Ok(None) => return,
                        Err(()) => {
                            self.give_up(ts, out);
                            return;
                        }
                    };
                    progressed = true;
                    if (100..200).contains(&resp.status) && resp.status != 101 {
                        continue;
                    }
                    let Some((method, mut pending, plain)) = self.requests.pop_front() else {
                        return;
                    };
                    if let Some(p) = &mut pending {
                        p.resp_notes = resp_notes
                            .iter()
                            .map(|(c, d)| (*c, d.clone(), ts))
                            .collect();
                    }
                    self.exchanges = self.exchanges.saturating_add(1);
                    if resp.status == 101 {
                        match pending {
                            Some(p) => self.upgrade(cfg, p, resp, ts, out),
                            None => {
                                *next_id += 1;
                                let (request, req_ts) = match plain {
                                    Some(b) => *b,
                                    None => (
                                        RequestHead {
                                            method,
                                            target: String::new(),
                                            version_minor: 1,
                                            headers: Vec::new(),
                                            head_len: 0,
                                        },
                                        ts,
                                    ),
                                };
                                let p = PendingUpgrade {
                                    session: *next_id,
                                    request,
                                    ts: req_ts,
                                    notes: Vec::new(),
                                    resp_notes: resp_notes
                                        .iter()
                                        .map(|(c, d)| (*c, d.clone(), ts))
                                        .collect(),
                                    unchecked: true,
                                    maybe: false,
                                };
                                self.switched = Some(Box::new((p, resp, ts)));
                                self.after_switch(cfg, next_id, ts, out);
                            }
                        }
                        return;
                    }
                    if let Some(p) = pending.filter(|p| !p.maybe) {
                        self.refused(p, resp.clone(), ts, out);
                    }
                    match response_body(&method, resp.status, &resp.headers) {
                        BodyLength::Fixed(n) => self.skip_body(Dir::ServerToClient, n),
                        BodyLength::Chunked => self.chunked[s] = Some(Chunk::Size),
                        BodyLength::UntilClose => {
                            self.give_up(ts, out);
                            return;
                        }
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Skips as much of the chunked body in `bufs[d]` as is there. `Ok(true)`: the body ended
    /// (or none is being skipped); `Ok(false)`: more bytes needed; `Err`: not chunked coding
    /// (a size line over [`MAX_CHUNK_LINE`] or not hex, trailers over [`MAX_HEAD_BYTES`]).
    /// The buffer is drained once, however many chunks it holds.
    fn skip_chunked(&mut self, d: usize) -> Result<bool, ()> {
        let mut pos = 0;
        let result = self.skip_chunks_from(d, &mut pos);
        self.bufs[d].drain(..pos);
        result
    }

    /// [`Self::skip_chunked`] from `pos`, which it advances past what it consumed.
    fn skip_chunks_from(&mut self, d: usize, pos: &mut usize) -> Result<bool, ()> {
        while let Some(state) = self.chunked[d] {
            let buf = &self.bufs[d][*pos..];
            let next = match state {
                Chunk::Data(n) => {
                    let take = n.min(buf.len() as u64);
                    *pos += take as usize;
                    if take < n {
                        self.chunked[d] = Some(Chunk::Data(n - take));
                        return Ok(false);
                    }
                    Chunk::DataEnd
                }
                Chunk::DataEnd => match buf {
                    [b'\n', ..] => {
                        *pos += 1;
                        Chunk::Size
                    }
                    [b'\r', b'\n', ..] => {
                        *pos += 2;
                        Chunk::Size
                    }
                    [] | [b'\r'] => return Ok(false),
                    _ => return Err(()),
                },
                Chunk::Size | Chunk::Trailer(_) => {
                    // `scanned` counts from `pos`: a line waiting for its end is re-examined
                    // only from where the last search stopped.
                    let from = self.scanned[d].min(buf.len());
                    let Some(i) = buf[from..].iter().position(|&b| b == b'\n') else {
                        let limit = match state {
                            Chunk::Trailer(seen) => MAX_HEAD_BYTES.saturating_sub(seen),
                            _ => MAX_CHUNK_LINE,
                        };
                        if buf.len() > limit {
                            return Err(());
                        }
                        self.scanned[d] = buf.len();
                        return Ok(false);
                    };
                    let nl = from + i;
                    let line = &buf[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let next = match state {
                        Chunk::Size => {
                            let size = line.split(|&b| b == b';').next().unwrap_or_default();
                            let size = std::str::from_utf8(size).map_err(|_| ())?.trim();
                            if size.is_empty() || size.len() > 16 {
                                return Err(());
                            }
                            match u64::from_str_radix(size, 16).map_err(|_| ())? {
                                0 => Chunk::Trailer(0),
                                n => Chunk::Data(n),
                            }
                        }
                        Chunk::Trailer(_) if line.is_empty() => {
                            *pos += nl + 1;
                            self.scanned[d] = 0;
                            self.chunked[d] = None;
                            return Ok(true);
                        }
                        Chunk::Trailer(seen) if seen + nl + 1 > MAX_HEAD_BYTES => return Err(()),
                        Chunk::Trailer(seen) => Chunk::Trailer(seen + nl + 1),
                        _ => return Err(()),
                    };
                    *pos += nl + 1;
                    self.scanned[d] = 0;
                    next
                }
            };
            self.chunked[d] = Some(next);
        }
        Ok(true)
    }

    /// True when the stream may start anywhere (captured mid-stream, or after lost bytes).
    fn midstream_like(&self) -> bool {
        self.began == Began::Midstream || self.resumed
    }

    /// Searches `bufs[d]` for the end of a head, from where the last search stopped.
    fn head_end(&mut self, d: usize) -> Option<usize> {
        let from = self.scanned[d];
        self.scan_stats.0 +=
            (self.bufs[d].len() - from.saturating_sub(2).min(self.bufs[d].len())) as u64;
        let end = find_head_end(&self.bufs[d], from);
        if end.is_none() {
            self.scanned[d] = self.bufs[d].len();
        }
        end
    }

    /// A complete request head: strictly parsed, or read leniently with a note saying why.
    fn read_request(head: &[u8]) -> Option<(RequestHead, Vec<(Code, String)>)> {
        let why = match parse_request(head) {
            HeadParse::Complete(req) => return Some((req, Vec::new())),
            HeadParse::Partial => "incomplete head".to_string(),
            HeadParse::Invalid(why) => why,
        };
        let (req, seen) = lenient_request(head)?;
        let note = if seen > MAX_HEADERS {
            (
                Code::HttpLimitExceeded,
                format!(
                    "request has {seen} headers, over the limit of {MAX_HEADERS}: only the first \
                     {MAX_HEADERS} and the WebSocket handshake headers were kept"
                ),
            )
        } else {
            (
                Code::HandshakeUnparsed,
                format!(
                    "the HTTP parser rejected the request head ({why}); it was read line by \
                     line instead (bytes that are not UTF-8 are shown as U+FFFD)"
                ),
            )
        };
        Some((req, vec![note]))
    }

    /// The next response head from the server: strictly parsed, or read leniently with a note
    /// saying why; a head over [`MAX_HEAD_BYTES`] is read from its first 64 KiB and the rest
    /// skipped. `Ok(None)`: more bytes needed; `Err`: not an HTTP response.
    #[allow(clippy::type_complexity)]
    fn next_response(
        &mut self,
        ts: Timestamp,
    ) -> Result<Option<(ResponseHead, Vec<(Code, String)>)>, ()> {
        let s = Dir::ServerToClient.index();
        if let Some((head, dropped, o_ts)) = self.oversized_resp.take() {
            let Some(end) = self.head_end(s) else {
                let keep = 2.min(self.bufs[s].len());
                let drop = self.bufs[s].len() - keep;
                self.bufs[s].drain(..drop);
                self.scanned[s] = 0;
                self.oversized_resp = Some((head, dropped + drop as u64, o_ts));
                return Ok(None);
            };
            self.bufs[s].drain(..end);
            self.scanned[s] = 0;
            let total = dropped + end as u64;
            let note = (
                Code::HttpLimitExceeded,
                format!(
                    "response head is {total} bytes, over the 64 KiB limit: the lines after the \
                     first 64 KiB were not read"
                ),
            );
            return Ok(Some((head, vec![note])));
        }
        let Some(end) = self.head_end(s) else {
            if self.bufs[s].len() < MAX_HEAD_BYTES {
                return Ok(None);
            }
            let (head, _) = lenient_response(&self.bufs[s]).ok_or(())?;
            // Keep the last bytes: the empty line may straddle the cut.
            let drop = self.bufs[s].len() - 2;
            self.bufs[s].drain(..drop);
            self.scanned[s] = 0;
            self.oversized_resp = Some((head, drop as u64, ts));
            return Ok(None);
        };
        self.scan_stats.1 += 1;
        let head = &self.bufs[s][..end];
        let read = match parse_response(head) {
            HeadParse::Complete(resp) => (resp, Vec::new()),
            HeadParse::Partial | HeadParse::Invalid(_) => {
                let why = match parse_response(head) {
                    HeadParse::Invalid(why) => why,
                    _ => "incomplete head".to_string(),
                };
                let (resp, seen) = lenient_response(head).ok_or(())?;
                let note = if seen > MAX_HEADERS {
                    (
                        Code::HttpLimitExceeded,
                        format!(
                            "response has {seen} headers, over the limit of {MAX_HEADERS}: only \
                             the first {MAX_HEADERS} and the WebSocket handshake headers were kept"
                        ),
                    )
                } else {
                    (
                        Code::HandshakeUnparsed,
                        format!(
                            "the HTTP parser rejected the response head ({why}); it was read \
                             line by line instead (bytes that are not UTF-8 are shown as U+FFFD)"
                        ),
                    )
                };
                (resp, vec![note])
            }
        };
        self.bufs[s].drain(..end);
        self.scanned[s] = 0;
        Ok(Some(read))
    }

    /// Skips the rest of an oversized request head. `Ok(true)` when it ended (and the request
    /// was queued), `Err` when the connection cannot be followed.
    fn finish_oversized(&mut self, next_id: &mut SessionId) -> Result<bool, ()> {
        let c = Dir::ClientToServer.index();
        let Some(end) = self.head_end(c) else {
            let keep = 2.min(self.bufs[c].len());
            let drop = self.bufs[c].len() - keep;
            self.bufs[c].drain(..drop);
            self.scanned[c] = 0;
            if let Some(o) = &mut self.oversized {
                o.dropped += drop as u64;
            }
            return Ok(false);
        };
        let Some(o) = self.oversized.take() else {
            return Ok(false);
        };
        self.bufs[c].drain(..end);
        self.scanned[c] = 0;
        let total = o.dropped + end as u64;
        let note = (
            Code::HttpLimitExceeded,
            format!(
                "request head is {total} bytes, over the 64 KiB limit: the lines after the first \
                 64 KiB were not read, and the request was not checked"
            ),
        );
        if !self.request_read(o.request, vec![note], true, next_id, o.ts) {
            return Err(());
        }
        Ok(true)
    }

    /// Queues a request whose head was read; false when the connection cannot be followed.
    fn request_read(
        &mut self,
        req: RequestHead,
        notes: Vec<(Code, String)>,
        unchecked: bool,
        next_id: &mut SessionId,
        ts: Timestamp,
    ) -> bool {
        self.classification = Classification::Http;
        match request_body(&req.headers) {
            BodyLength::Fixed(n) => self.skip_body(Dir::ClientToServer, n),
            BodyLength::Chunked => self.chunked[Dir::ClientToServer.index()] = Some(Chunk::Size),
            BodyLength::UntilClose => return false,
        }
        let asks = is_upgrade_request(&req);
        let pending = (asks || unchecked).then(|| {
            *next_id += 1;
            PendingUpgrade {
                session: *next_id,
                request: req.clone(),
                ts,
                notes,
                resp_notes: Vec::new(),
                unchecked,
                maybe: !asks,
            }
        });
        // A request that did not ask for WebSocket keeps its handshake headers only: reported
        // if a 101 answers it anyway.
        let plain = pending.is_none().then(|| {
            Box::new((
                RequestHead {
                    headers: req
                        .headers
                        .iter()
                        .filter(|(n, _)| websocket_header(n))
                        .take(MAX_HEADERS)
                        .cloned()
                        .collect(),
                    ..req.clone()
                },
                ts,
            ))
        });
        self.requests
            .push_back((req.method.clone(), pending, plain));
        true
    }

    /// Bytes went missing inside the head being read in `dir` (the buffer holds its first
    /// part). What was read is kept: the request is queued (its check skipped), a 101 starts
    /// the session (decoders resynchronise over the rest of the head), another answer is a
    /// refusal. Returns false when nothing can be followed.
    fn gap_in_head(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        len: u64,
        out: &mut Vec<SessionEvent>,
    ) -> bool {
        let d = dir.index();
        if dir == Dir::ClientToServer {
            if self.upgrade_pending() || self.tail[d] {
                // Frames sent before the 101, or the rest of a cut head: what follows is read
                // as a stream that resumes anywhere.
                self.bufs[d].clear();
                self.scanned[d] = 0;
                self.tail[d] = false;
                self.unsynced[d] = true;
                return true;
            }
            let Some((req, _)) = lenient_request(&self.bufs[d]) else {
                if self.exchanges == 0 && self.requests.is_empty() {
                    // The request line itself is cut: read on as if the request was not
                    // captured (the server's 101 and the framing tell the rest).
                    self.bufs[d].clear();
                    self.scanned[d] = 0;
                    self.resumed = true;
                    self.tail[d] = true;
                    return true;
                }
                return false;
            };
            let asks = is_upgrade_request(&req);
            *next_id += 1;
            let note = (
                Code::HandshakeNotSeen,
                format!(
                    "{len} bytes inside the request head are missing from the capture: the header \
                     lines after the gap were not read, and the request was not checked"
                ),
            );
            let pending = PendingUpgrade {
                session: *next_id,
                request: req.clone(),
                ts,
                notes: vec![note],
                resp_notes: Vec::new(),
                unchecked: true,
                maybe: !asks,
            };
            self.classification = Classification::Http;
            self.requests.push_back((req.method, Some(pending), None));
            self.bufs[d].clear();
            self.scanned[d] = 0;
            // The rest of the head comes first: its end is searched for.
            self.tail[d] = true;
            return true;
        }
        if self.requests.is_empty() || self.tail[d] {
            return false;
        }
        let Some((resp, _)) = lenient_response(&self.bufs[d]) else {
            if matches!(self.requests.front(), Some((_, Some(p), _)) if !p.maybe) {
                // The status line itself is cut: as if the whole answer was lost.
                self.bufs[d].clear();
                self.scanned[d] = 0;
                self.resumed = true;
                self.unsynced[d] = true;
                self.lost_response = Some((ts, len));
                return true;
            }
            return false;
        };
        let Some((_, Some(mut p), _)) = self.requests.pop_front() else {
            return false;
        };
        self.bufs[d].clear();
        self.scanned[d] = 0;
        self.exchanges = self.exchanges.saturating_add(1);
        let what = format!(
            "{len} bytes inside the {} response head are missing from the capture: the header \
             lines after the gap were not read",
            resp.status
        );
        if resp.status != 101 {
            p.resp_notes.push((Code::HandshakeNotSeen, what, ts));
            self.refused(p, resp, ts, out);
            // The rest of this exchange cannot be delimited.
            self.give_up(ts, out);
            return true;
        }
        self.unsynced[d] = true;
        let finding = Finding::new(
            Code::HandshakeNotSeen,
            Some(Dir::ServerToClient),
            Some(ts),
            format!(
                "{what}; the server's frames were found after it by their framing; extensions \
                 unknown beyond the lines read"
            ),
        );
        self.fallback(cfg, next_id, ts, Some(p), Some(resp), finding, out);
        true
    }

    /// A 101 answered a request that did not ask for WebSocket (another protocol such as
    /// h2c, or none): the session is reported, and decoded when WebSocket framing follows
    /// (or `--decode-as` names the port).
    fn after_switch(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let forced = cfg.decode_as_ports.contains(&self.server.port());
        let client = self.frames_visible(Dir::ClientToServer);
        let server = self.frames_visible(Dir::ServerToClient);
        let seen = [client, server];
        let framing = !seen.contains(&Some(false)) && seen.contains(&Some(true));
        // Another protocol named (h2c's server SETTINGS frame looks like a WebSocket frame):
        // both sides must show framing.
        let other = self
            .switched
            .as_ref()
            .is_some_and(|b| crate::http::header(&b.0.request.headers, "upgrade").is_some());
        let how = if forced {
            format!(
                "decoded as WebSocket because of --decode-as {}",
                self.server.port()
            )
        } else if framing && (!other || !seen.contains(&None)) {
            "WebSocket framing follows, so it was decoded as WebSocket".to_string()
        } else if !seen.contains(&Some(false)) {
            // Too few bytes to tell yet (bounded by the HTTP buffer limit).
            return;
        } else {
            self.report_switched(
                ts,
                "what follows is not WebSocket framing and was not examined",
                out,
            );
            self.give_up(ts, out);
            return;
        };
        let Some(b) = self.switched.take() else {
            return;
        };
        let (p, resp, resp_ts) = *b;
        let finding = Finding::new(
            Code::UpgradeHeaderMissing,
            Some(Dir::ClientToServer),
            Some(p.ts),
            format!(
                "the server answered 101 {} to a request that did not ask for WebSocket ({}); {how}",
                resp.reason,
                Self::asked_for(&p.request)
            ),
        );
        self.fallback(cfg, next_id, resp_ts, Some(p), Some(resp), finding, out);
    }

    /// What a request's Upgrade header asked for, for a finding.
    fn asked_for(req: &RequestHead) -> String {
        match crate::http::header(&req.headers, "upgrade") {
            Some(v) => format!("its Upgrade header is '{v}'"),
            None => "it has no Upgrade header".to_string(),
        }
    }

    /// Reports the session of a 101 that did not switch to WebSocket (see [`Self::after_switch`]).
    fn report_switched(&mut self, ts: Timestamp, what: &str, out: &mut Vec<SessionEvent>) {
        let Some(b) = self.switched.take() else {
            return;
        };
        let (p, resp, resp_ts) = *b;
        let detail = format!(
            "the server answered 101 {} to a request that did not ask for WebSocket ({}): the \
             connection switched to another protocol; {what}",
            resp.reason,
            Self::asked_for(&p.request)
        );
        out.push(self.start_event(
            p.session,
            p.ts,
            Some(Handshake {
                request: p.request.clone(),
                response: Some(resp),
                negotiated: Negotiated::default(),
                request_ts: p.ts,
                response_ts: Some(resp_ts),
            }),
        ));
        out.push(SessionEvent::Finding {
            session: Some(p.session),
            finding: Finding::new(
                Code::UpgradeHeaderMissing,
                Some(Dir::ClientToServer),
                Some(p.ts),
                detail,
            ),
        });
        out.push(SessionEvent::End(SessionEnd::without_upgrade(
            p.session,
            ts,
            self.tcp_closer,
        )));
    }

    /// The answer to an upgrade request went missing: WebSocket framing after it (or
    /// `--decode-as`) shows the upgrade succeeded; an HTTP response shows the gap was elsewhere.
    fn after_lost_response(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let Some((gap_ts, len)) = self.lost_response else {
            return;
        };
        let s = Dir::ServerToClient.index();
        if http_response_start(&self.bufs[s]) == Some(true) {
            self.lost_response = None;
            self.advance_http(cfg, next_id, ts, out);
            return;
        }
        let forced = cfg.decode_as_ports.contains(&self.server.port());
        let client = self.frames_visible(Dir::ClientToServer);
        let server = self.frames_visible(Dir::ServerToClient);
        let how = if forced {
            format!(
                "decoded as WebSocket because of --decode-as {}",
                self.server.port()
            )
        } else if client == Some(true) || server == Some(true) {
            "WebSocket framing follows, so the upgrade was accepted".to_string()
        } else if client.is_none() || server.is_none() {
            // Too few bytes to tell, or the server's bytes resume inside a frame: wait for
            // the other side (bounded by the HTTP buffer limit).
            return;
        } else {
            self.lost_response = None;
            self.give_up(ts, out);
            return;
        };
        let Some((_, pending, _)) = self.requests.pop_front() else {
            return;
        };
        let finding = Finding::new(
            Code::HandshakeNotSeen,
            Some(Dir::ServerToClient),
            Some(gap_ts),
            format!(
                "the server's response to the upgrade request is missing from the capture \
                 ({len} bytes lost); {how}; extensions unknown (RSV1 is assumed to mean \
                 permessage-deflate)"
            ),
        );
        self.fallback(cfg, next_id, ts, pending, None, finding, out);
    }

    /// Whether `bufs[dir]` starts with a plausible frame header for `dir` (`None`: too few
    /// bytes, or nothing).
    fn frames_visible(&self, dir: Dir) -> Option<bool> {
        let buf = &self.bufs[dir.index()];
        if buf.is_empty() {
            return None;
        }
        let expect = Expectations {
            masked: dir == Dir::ClientToServer,
            rsv1_allowed: true,
        };
        match FrameHeader::parse(buf) {
            Some(h) => Some(expect.plausible(&h)),
            None if buf.len() < 14 => None,
            None => Some(false),
        }
    }

    /// Reports a session whose handshake was seen only in part (`pending`: the request;
    /// `resp`: the 101) with `finding` saying what is missing, and decodes what follows.
    #[allow(clippy::too_many_arguments)]
    fn fallback(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        ts: Timestamp,
        pending: Option<PendingUpgrade>,
        resp: Option<ResponseHead>,
        finding: Finding,
        out: &mut Vec<SessionEvent>,
    ) {
        let id = match &pending {
            Some(p) => p.session,
            None => {
                *next_id += 1;
                *next_id
            }
        };
        let negotiated = resp.as_ref().map(negotiated_from_response);
        let (start_ts, handshake) = match &pending {
            Some(p) => (
                p.ts,
                Some(Handshake {
                    request: p.request.clone(),
                    response: resp.clone(),
                    negotiated: negotiated.clone().unwrap_or_default(),
                    request_ts: p.ts,
                    response_ts: resp.as_ref().map(|_| ts),
                }),
            ),
            None => (ts, None),
        };
        self.classification = Classification::WebSocket;
        out.push(self.start_event(id, start_ts, handshake));
        if let Some(p) = &pending {
            Self::notes(p, out);
            if !p.unchecked {
                for pr in check_request(&p.request) {
                    out.push(SessionEvent::Finding {
                        session: Some(id),
                        finding: Finding::new(
                            pr.code,
                            Some(Dir::ClientToServer),
                            Some(p.ts),
                            pr.detail,
                        ),
                    });
                }
            }
        }
        out.push(SessionEvent::Finding {
            session: Some(id),
            finding,
        });
        let mut ws = Box::new(Self::new_ws(
            cfg,
            id,
            negotiated.as_ref(),
            [false, resp.is_some() && !self.unsynced[1]],
            ts,
        ));
        if self.tail[0] {
            ws.client_tail = Some((Vec::new(), 0));
        }
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            let buffered = std::mem::take(&mut self.bufs[d.index()]);
            if !buffered.is_empty() {
                Self::feed_ws(&mut ws, d, (ts, self.packet), &buffered, out);
            }
        }
        self.requests.clear();
        self.lost_response = None;
        self.phase = Phase::WebSocket(ws);
    }

    /// The findings about how a request was read.
    fn notes(p: &PendingUpgrade, out: &mut Vec<SessionEvent>) {
        for (code, detail) in &p.notes {
            out.push(SessionEvent::Finding {
                session: Some(p.session),
                finding: Finding::new(*code, Some(Dir::ClientToServer), Some(p.ts), detail.clone()),
            });
        }
        for (code, detail, ts) in &p.resp_notes {
            out.push(SessionEvent::Finding {
                session: Some(p.session),
                finding: Finding::new(*code, Some(Dir::ServerToClient), Some(*ts), detail.clone()),
            });
        }
    }

    fn upgrade_pending(&self) -> bool {
        self.requests.iter().any(|(_, p, _)| p.is_some())
    }

    fn skip_body(&mut self, dir: Dir, n: u64) {
        let d = dir.index();
        let have = self.bufs[d].len() as u64;
        if n <= have {
            self.bufs[d].drain(..n as usize);
        } else {
            self.bufs[d].clear();
            self.skip[d] = n - have;
        }
        self.scanned[d] = 0;
    }

    /// The first bytes of `dir` are not HTTP: WebSocket joined mid-stream, or other traffic.
    fn not_http(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let plausible_as = |bytes: &[u8], client: bool| {
            let expect = Expectations {
                masked: client,
                rsv1_allowed: true,
            };
            FrameHeader::parse(bytes).is_some_and(|h| expect.plausible(&h))
        };
        let looks_ws = plausible_as(&self.bufs[dir.index()], dir == Dir::ClientToServer);
        let reversed_looks_ws = plausible_as(&self.bufs[dir.index()], dir != Dir::ClientToServer);
        let forced_reversed = cfg.decode_as_ports.contains(&self.client.port())
            && !cfg.decode_as_ports.contains(&self.server.port());
        // Masked frames come from the client: the flow table's inferred roles were wrong.
        let reverse = self.roles_inferred && ((!looks_ws && reversed_looks_ws) || forced_reversed);
        let (server, looks_ws) = if reverse {
            (self.client, reversed_looks_ws)
        } else {
            (self.server, looks_ws)
        };
        let forced = cfg.decode_as_ports.contains(&server.port());
        let midstream = self.midstream_like() && cfg.detect_midstream;
        if !(forced || (midstream && looks_ws)) {
            self.phase = Phase::Done;
            self.bufs = [HttpBuf::default(), HttpBuf::default()];
            return;
        }
        if reverse {
            // The flow table owns the roles: it is told, and reports every later event and
            // its counters with them; what is buffered here is relabelled now.
            self.role_evidence = Some(Dir::ServerToClient);
            std::mem::swap(&mut self.client, &mut self.server);
            self.bufs.swap(0, 1);
            self.skip.swap(0, 1);
            self.scanned.swap(0, 1);
        }
        if let Some(resp) = self.leading_101() {
            // The request was not captured, the server's 101 was: it tells what was
            // negotiated, and the server's frames start right after it.
            let why = if forced {
                format!("--decode-as {}", self.server.port())
            } else {
                "WebSocket framing".to_string()
            };
            let finding = Finding::new(
                Code::HandshakeNotSeen,
                Some(Dir::ClientToServer),
                Some(ts),
                format!(
                    "the upgrade request was not captured; the session was read from the \
                     server's 101 response and the frames that follow ({why})"
                ),
            );
            self.fallback(cfg, next_id, ts, None, Some(resp), finding, out);
            return;
        }
        *next_id += 1;
        let id = *next_id;
        self.classification = Classification::WebSocket;
        out.push(self.start_event(id, ts, None));
        let why = if forced {
            format!(
                "decoded as WebSocket because of --decode-as {}",
                self.server.port()
            )
        } else if self.began != Began::Midstream {
            "the start of the connection (the upgrade handshake) is missing from the capture; framing detected heuristically".to_string()
        } else {
            "the connection was already open when the capture started; framing detected heuristically".to_string()
        };
        out.push(SessionEvent::Finding {
            session: Some(id),
            finding: Finding::new(
                Code::HandshakeNotSeen,
                None,
                Some(ts),
                format!("{why}; extensions unknown (RSV1 is assumed to mean permessage-deflate)"),
            ),
        });
        let mut ws = Box::new(Self::new_ws(cfg, id, None, [false, false], ts));
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            let buffered = std::mem::take(&mut self.bufs[d.index()]);
            if !buffered.is_empty() {
                Self::feed_ws(&mut ws, d, (ts, self.packet), &buffered, out);
            }
        }
        self.phase = Phase::WebSocket(ws);
    }

    /// A complete 101 response at the start of the server's buffer, taken out of it.
    fn leading_101(&mut self) -> Option<ResponseHead> {
        let s = Dir::ServerToClient.index();
        if self.skip[s] != 0 || http_response_start(&self.bufs[s]) != Some(true) {
            return None;
        }
        let end = self.head_end(s)?;
        match parse_response(&self.bufs[s][..end]) {
            HeadParse::Complete(resp) if resp.status == 101 => {
                self.bufs[s].drain(..end);
                self.scanned[s] = 0;
                Some(resp)
            }
            _ => None,
        }
    }

    fn new_ws(
        cfg: &SessionConfig,
        id: SessionId,
        negotiated: Option<&Negotiated>,
        synced: [bool; 2],
        ts: Timestamp,
    ) -> WsState {
        let deflate = negotiated.and_then(|n| n.deflate);
        let handshake_seen = negotiated.is_some();
        let make = |dir: Dir| {
            let expect = Expectations {
                masked: dir == Dir::ClientToServer,
                rsv1_allowed: deflate.is_some() || !handshake_seen,
            };
            let decoder = if synced[dir.index()] {
                FrameDecoder::new(expect)
            } else {
                FrameDecoder::new_unsynced(expect)
            };
            let nct = deflate.map(|p| match dir {
                Dir::ClientToServer => p.client_no_context_takeover,
                Dir::ServerToClient => p.server_no_context_takeover,
            });
            let assembler = MessageAssembler::new(AssemblerConfig {
                dir,
                deflate: nct,
                max_message_size: cfg.max_message_size,
                keep_bytes: cfg.keep_bytes,
                handshake_seen,
            })
            .with_budget(cfg.budget.clone());
            (decoder, assembler)
        };
        let (dc, ac) = make(Dir::ClientToServer);
        let (ds, as_) = make(Dir::ServerToClient);
        WsState {
            session: id,
            decoders: [dc, ds],
            assemblers: [ac, as_],
            pings: [VecDeque::new(), VecDeque::new()],
            closes: [None, None],
            initiator: None,
            last_activity: ts,
            messages: [0, 0],
            payload_bytes: [0, 0],
            index: 0,
            client_tail: None,
        }
    }

    fn handshake_findings(
        id: SessionId,
        pending: &PendingUpgrade,
        resp_problems: Vec<crate::handshake::Problem>,
        resp_ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let req_ts = pending.ts;
        let checked = if pending.unchecked {
            Vec::new()
        } else {
            check_request(&pending.request)
        };
        for p in checked {
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding: Finding::new(p.code, Some(Dir::ClientToServer), Some(req_ts), p.detail),
            });
        }
        for p in resp_problems {
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding: Finding::new(p.code, Some(Dir::ServerToClient), Some(resp_ts), p.detail),
            });
        }
    }

    fn refused(
        &mut self,
        p: PendingUpgrade,
        resp: ResponseHead,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let status = resp.status;
        let reason = resp.reason.clone();
        out.push(self.start_event(
            p.session,
            p.ts,
            Some(Handshake {
                request: p.request.clone(),
                response: Some(resp),
                negotiated: Negotiated::default(),
                request_ts: p.ts,
                response_ts: Some(ts),
            }),
        ));
        Self::notes(&p, out);
        Self::handshake_findings(p.session, &p, Vec::new(), ts, out);
        out.push(SessionEvent::Finding {
            session: Some(p.session),
            finding: Finding::new(
                Code::UpgradeRejected,
                Some(Dir::ServerToClient),
                Some(ts),
                format!("server answered the upgrade with {status} {reason}"),
            ),
        });
        out.push(SessionEvent::End(SessionEnd::without_upgrade(
            p.session, ts, None,
        )));
    }

    fn upgrade(
        &mut self,
        cfg: &SessionConfig,
        p: PendingUpgrade,
        resp: ResponseHead,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let (negotiated, mut problems) = check_response(&p.request, &resp);
        if p.unchecked {
            // Headers the response is checked against may be in the part not read.
            problems.retain(|pr| {
                !matches!(
                    pr.code,
                    Code::AcceptMismatch | Code::SubprotocolNotOffered | Code::ExtensionNotOffered
                )
            });
        }
        self.classification = Classification::WebSocket;
        let id = p.session;
        out.push(self.start_event(
            id,
            p.ts,
            Some(Handshake {
                request: p.request.clone(),
                response: Some(resp),
                negotiated: negotiated.clone(),
                request_ts: p.ts,
                response_ts: Some(ts),
            }),
        ));
        Self::notes(&p, out);
        Self::handshake_findings(id, &p, problems, ts, out);
        // A cut head whose end was not found yet: the client's bytes resume anywhere.
        let synced = [!self.unsynced[0] && !self.tail[0], !self.unsynced[1]];
        let mut ws = Box::new(Self::new_ws(cfg, id, Some(&negotiated), synced, ts));
        if self.tail[0] {
            ws.client_tail = Some((Vec::new(), 0));
        }
        // Client bytes sent after its request (before or after the 101) and server bytes after
        // the 101 head belong to the WebSocket streams.
        let c2s = std::mem::take(&mut self.bufs[0]);
        let s2c = std::mem::take(&mut self.bufs[1]);
        if !c2s.is_empty() {
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding: Finding::new(
                    Code::HandshakeNote,
                    Some(Dir::ClientToServer),
                    Some(ts),
                    format!(
                        "the client sent {} bytes of frames before the 101 response arrived",
                        c2s.len()
                    ),
                ),
            });
            Self::feed_ws(&mut ws, Dir::ClientToServer, (ts, self.packet), &c2s, out);
        }
        if !s2c.is_empty() {
            Self::feed_ws(&mut ws, Dir::ServerToClient, (ts, self.packet), &s2c, out);
        }
        self.requests.clear();
        self.phase = Phase::WebSocket(ws);
    }

    fn feed_ws(
        ws: &mut WsState,
        dir: Dir,
        (ts, packet): (Timestamp, u64),
        data: &[u8],
        out: &mut Vec<SessionEvent>,
    ) {
        let rest;
        let mut data = data;
        if dir == Dir::ClientToServer {
            if let Some((tail, scanned)) = &mut ws.client_tail {
                // The rest of a cut request head: its end (possibly right at the start, the
                // gap having taken the line before it) is where the frames begin.
                tail.extend_from_slice(data);
                let end = match tail.as_slice() {
                    [b'\n', ..] => Some(1),
                    [b'\r', b'\n', ..] => Some(2),
                    _ => find_head_end(tail, *scanned),
                };
                *scanned = tail.len();
                match end {
                    Some(end) => rest = tail.split_off(end),
                    None if tail.len() >= MAX_HEAD_BYTES => rest = std::mem::take(tail),
                    None => return,
                }
                ws.client_tail = None;
                data = &rest;
            }
        }
        let d = dir.index();
        let mut assembled = Vec::new();
        let assembler = &mut ws.assemblers[d];
        ws.decoders[d].feed((ts, packet), data, &mut |ev: DecodeEvent<'_>| {
            assembler.handle(ev, &mut |a| assembled.push(a))
        });
        ws.last_activity = ts;
        for a in assembled {
            Self::deliver(ws, dir, a, out);
        }
    }

    fn deliver(ws: &mut WsState, dir: Dir, a: Assembled, out: &mut Vec<SessionEvent>) {
        match a {
            Assembled::Violation {
                code,
                ts,
                packet,
                detail,
            } => out.push(SessionEvent::Finding {
                session: Some(ws.session),
                finding: Finding::new(code, Some(dir), Some(ts), detail).at_packet(packet),
            }),
            Assembled::Message(m, packets) => {
                let d = dir.index();
                let mut rtt = None;
                match m.kind {
                    // Only valid pings are remembered for pairing: an oversized one may be
                    // kept whole up to the size cap.
                    MessageKind::Ping if m.payload.len() <= 125 => {
                        let q = &mut ws.pings[d];
                        if q.len() >= MAX_PENDING_PINGS {
                            q.pop_front();
                        }
                        q.push_back((m.payload.clone(), m.ts));
                    }
                    MessageKind::Pong => {
                        let q = &mut ws.pings[dir.reverse().index()];
                        if let Some(pos) = q.iter().position(|(p, _)| *p == m.payload) {
                            if let Some((_, pts)) = q.remove(pos) {
                                rtt = Some(m.ts.nanos_since(pts));
                            }
                        }
                    }
                    MessageKind::Close if ws.closes[d].is_none() => {
                        ws.closes[d] = Some(CloseFrame {
                            code: m.close_code,
                            reason: m.close_reason.clone().unwrap_or_default(),
                            ts: m.ts,
                        });
                        if ws.initiator.is_none() {
                            ws.initiator = Some(dir);
                        }
                    }
                    _ => {}
                }
                ws.messages[d] += 1;
                ws.payload_bytes[d] += m.len;
                ws.index += 1;
                ws.last_activity = m.end_ts;
                out.push(SessionEvent::Message(SessionMessage {
                    session: ws.session,
                    index: ws.index,
                    message: m,
                    first_packet: packets.first,
                    last_packet: packets.last,
                    rtt_nanos: rtt,
                }));
            }
        }
    }

    fn end_ws(
        &mut self,
        ws: WsState,
        ts: Timestamp,
        tcp_end: Option<CloseReason>,
        out: &mut Vec<SessionEvent>,
    ) {
        let id = ws.session;
        let closes = ws.closes.iter().filter(|c| c.is_some()).count();
        let tcp_closed = matches!(tcp_end, Some(CloseReason::Fin | CloseReason::Rst));
        let closer = self
            .tcp_closer
            .map(|d| {
                if d == Dir::ClientToServer {
                    "client"
                } else {
                    "server"
                }
            })
            .unwrap_or("a peer");
        let how = match tcp_end {
            Some(CloseReason::Rst) => "reset (RST)",
            _ => "closed (FIN)",
        };
        if tcp_closed && closes == 0 {
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding: Finding::new(Code::AbruptClose, self.tcp_closer, Some(ts), format!("{closer} {how} the TCP connection without a close frame from either side (code 1006 for the application)")),
            });
        } else if tcp_closed && closes == 1 {
            let sender = if ws.closes[0].is_some() {
                "client"
            } else {
                "server"
            };
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding: Finding::new(
                    Code::CloseHandshakeIncomplete,
                    self.tcp_closer,
                    Some(ts),
                    format!(
                        "only the {sender} sent a close frame before the TCP connection was {how}"
                    ),
                ),
            });
        }
        if tcp_closed {
            let silent = ts.nanos_since(ws.last_activity);
            if idle_timeout_like(silent) {
                out.push(SessionEvent::Finding {
                    session: Some(id),
                    finding: Finding::new(
                        Code::IdleTimeoutSuspected,
                        self.tcp_closer,
                        Some(ts),
                        format!("{:.1} s of silence before the {closer} {how} the connection: looks like a proxy idle timeout (nginx proxy_read_timeout defaults to 60 s); send heartbeats more often", silent as f64 / 1e9),
                    ),
                });
            }
        }
        let clean = closes == 2 && tcp_end == Some(CloseReason::Fin);
        let [client_close, server_close] = ws.closes;
        out.push(SessionEvent::End(SessionEnd {
            id,
            ts,
            upgraded: true,
            client_close,
            server_close,
            initiator: ws.initiator,
            tcp_end,
            tcp_closer: self.tcp_closer,
            clean,
            messages: ws.messages,
            payload_bytes: ws.payload_bytes,
        }));
    }
}

/// The bytes of one direction waiting in the HTTP phase. Consuming from the front is O(1)
/// (a start offset; the storage is compacted once the consumed part outweighs the rest), so
/// reading thousands of pipelined heads and bodies out of one buffer stays linear.
#[derive(Default)]
struct HttpBuf {
    data: Vec<u8>,
    start: usize,
    /// Bytes moved by compaction (tests hold it linear).
    #[cfg(test)]
    moved: usize,
}

impl HttpBuf {
    /// Drops the first `range.end` bytes.
    fn drain(&mut self, range: std::ops::RangeTo<usize>) {
        self.start += range.end.min(self.data.len() - self.start);
        if self.start == self.data.len() {
            self.clear();
        } else if self.start > self.data.len() - self.start {
            #[cfg(test)]
            {
                self.moved += self.data.len() - self.start;
            }
            self.data.drain(..self.start);
            self.start = 0;
        }
    }

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    fn clear(&mut self) {
        self.data.clear();
        self.start = 0;
    }

    fn as_slice(&self) -> &[u8] {
        &self.data[self.start..]
    }
}

impl std::ops::Deref for HttpBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading many small heads out of one full HTTP buffer moves each byte a bounded number
    /// of times (a `Vec::drain` per head moved the whole rest every time: quadratic).
    #[test]
    fn consuming_an_http_buffer_head_by_head_is_linear() {
        let mut buf = HttpBuf::default();
        let item = b"GET / HTTP/1.1\r\n\r\n";
        for _ in 0..(MAX_HTTP_BUFFER / item.len()) {
            buf.extend_from_slice(item);
        }
        let total = buf.len();
        let mut seen = 0;
        while !buf.is_empty() {
            assert_eq!(&buf[..item.len()], item);
            buf.drain(..item.len());
            seen += item.len();
        }
        assert_eq!(seen, total);
        assert!(buf.moved <= total, "moved {} bytes for {total}", buf.moved);
    }

    fn connection() -> Connection {
        Connection::new(
            FlowId(1),
            SocketAddr::from(([10, 0, 0, 1], 40000)),
            SocketAddr::from(([10, 0, 0, 2], 80)),
            Began::Syn,
            false,
        )
    }

    /// An upgrade request of about `size` bytes (one long header), then its 101.
    fn big_upgrade(size: usize) -> (Vec<u8>, Vec<u8>) {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let filler = "a".repeat(size.saturating_sub(200));
        let req = format!(
            "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nX-Filler: {filler}\r\n\r\n"
        );
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            crate::handshake::accept_for(key)
        );
        (req.into_bytes(), resp.into_bytes())
    }

    /// Feeds `bytes` from `dir` in segments of `seg` bytes.
    fn feed(c: &mut Connection, dir: Dir, bytes: &[u8], seg: usize, out: &mut Vec<SessionEvent>) {
        let cfg = SessionConfig::default();
        let mut next_id = 0;
        for chunk in bytes.chunks(seg) {
            c.on_data(&cfg, &mut next_id, dir, Timestamp(1), 1, chunk, out);
        }
    }

    #[test]
    fn a_60_kb_head_in_1_byte_segments_is_scanned_once_and_parsed_once() {
        let (req, resp) = big_upgrade(60_000);
        let mut c = connection();
        let mut out = Vec::new();
        feed(&mut c, Dir::ClientToServer, &req, 1, &mut out);
        feed(&mut c, Dir::ServerToClient, &resp, 1, &mut out);
        let (scanned, parsed) = c.scan_stats;
        // Each byte is examined at most 3 times (2 bytes of overlap per search); re-parsing
        // from the start on every segment examined 1.8 GB here.
        let total = (req.len() + resp.len()) as u64;
        assert!(scanned <= 3 * total, "{scanned} bytes scanned for {total}");
        assert_eq!(parsed, 2, "one parse per head");
        assert!(
            out.iter()
                .any(|e| matches!(e, SessionEvent::Start(s) if s.handshake.is_some())),
            "the upgrade was read"
        );
        assert!(matches!(c.phase, Phase::WebSocket(_)));
    }

    #[test]
    fn chunked_bodies_are_skipped_in_1_byte_segments_and_bad_ones_give_up() {
        let post = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5\r\nhello\r\n1;a=b\r\nx\r\n0\r\nT: 1\r\n\r\n";
        let (req, resp) = big_upgrade(300);
        let mut c = connection();
        let mut out = Vec::new();
        feed(&mut c, Dir::ClientToServer, post, 1, &mut out);
        feed(&mut c, Dir::ClientToServer, &req, 1, &mut out);
        feed(
            &mut c,
            Dir::ServerToClient,
            b"HTTP/1.1 204 No Content\r\n\r\n",
            1,
            &mut out,
        );
        feed(&mut c, Dir::ServerToClient, &resp, 1, &mut out);
        assert!(matches!(c.phase, Phase::WebSocket(_)));
        for bad in [&b"zz\r\n"[..], &[b'1'; 2000][..], b"5\r\nhelloXY"] {
            let mut c = connection();
            feed(
                &mut c,
                Dir::ClientToServer,
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                7,
                &mut out,
            );
            feed(&mut c, Dir::ClientToServer, bad, 3, &mut out);
            assert!(
                c.is_done(),
                "{:?}",
                String::from_utf8_lossy(&bad[..bad.len().min(20)])
            );
        }
    }

    #[test]
    fn the_end_of_a_head_is_found_across_segment_boundaries() {
        for seg in 1..=5 {
            let (req, resp) = big_upgrade(300);
            let mut c = connection();
            let mut out = Vec::new();
            feed(&mut c, Dir::ClientToServer, &req, seg, &mut out);
            feed(&mut c, Dir::ServerToClient, &resp, seg, &mut out);
            assert!(matches!(c.phase, Phase::WebSocket(_)), "segments of {seg}");
        }
    }
}
