//! One TCP connection seen from the WebSocket point of view: HTTP until the upgrade, then two
//! frame decoders and message assemblers, the close handshake, ping/pong pairing, and the
//! session-level findings (abrupt close, incomplete close handshake, idle timeouts).
//!
//! A connection can hold several sessions in sequence only through refused upgrades
//! (keep-alive requests after a non-101 answer are still examined); after a 101 it is
//! WebSocket until it ends. Sans-IO: fed [`crate::tcp::TcpEvent`] contents, it appends
//! [`SessionEvent`]s to a caller's vector.

use crate::finding::{Code, Finding};
use crate::handshake::{check_request, check_response, is_upgrade_request, Negotiated};
use crate::http::{
    parse_request, parse_response, request_body, response_body, BodyLength, HeadParse, RequestHead,
    ResponseHead,
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
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_message_size: 64 << 20,
            keep_bytes: 1024,
            decode_as_ports: Vec::new(),
            detect_midstream: true,
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

/// Exchanges without an upgrade after which a connection is no longer examined.
const MAX_PLAIN_EXCHANGES: u32 = 32;
/// Bytes held per direction while waiting for the other side during the HTTP phase.
const MAX_HTTP_BUFFER: usize = 1 << 20;
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
}

/// Analysis state of one TCP connection.
pub struct Connection {
    flow: FlowId,
    client: SocketAddr,
    server: SocketAddr,
    began: Began,
    roles_inferred: bool,
    phase: Phase,
    bufs: [Vec<u8>; 2],
    skip: [u64; 2],
    /// Requests awaiting a response, in order (method, upgrade attempt).
    requests: VecDeque<(String, Option<PendingUpgrade>)>,
    exchanges: u32,
    classification: Classification,
    tcp_closer: Option<Dir>,
    fin: [bool; 2],
    /// The flow table guessed the roles the wrong way round (seen from the frames' masking):
    /// every direction it reports is reversed here.
    swapped: bool,
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
        .take_while(|b| b.is_ascii_uppercase())
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
            bufs: [Vec::new(), Vec::new()],
            skip: [0, 0],
            requests: VecDeque::new(),
            exchanges: 0,
            classification: Classification::Other,
            tcp_closer: None,
            fin: [false; 2],
            swapped: false,
        }
    }

    /// Maps a direction as the flow table labels it to this connection's view.
    fn orient(&self, dir: Dir) -> Dir {
        if self.swapped {
            dir.reverse()
        } else {
            dir
        }
    }

    /// What the connection carried so far.
    pub fn classification(&self) -> Classification {
        self.classification
    }

    /// True when nothing more is examined (the flow can be bypassed).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// In-order bytes in direction `dir`.
    pub fn on_data(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<SessionEvent>,
    ) {
        let dir = self.orient(dir);
        match &mut self.phase {
            Phase::WebSocket(ws) => Self::feed_ws(ws, dir, ts, data, out),
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
                    self.give_up(ts, out);
                    return;
                }
                self.bufs[d].extend_from_slice(data);
                self.advance_http(cfg, next_id, ts, out);
            }
        }
    }

    /// `len` bytes missing in direction `dir`.
    pub fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<SessionEvent>) {
        let dir = self.orient(dir);
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
                // Without the bytes the HTTP exchange cannot be followed.
                self.give_up(ts, out);
            }
            Phase::Done => {}
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
        let dir = self.orient(dir);
        let session = match &self.phase {
            Phase::WebSocket(ws) => Some(ws.session),
            _ => None,
        };
        out.push(SessionEvent::Finding {
            session,
            finding: Finding::new(
                Code::TcpOverlapInconsistent,
                Some(dir),
                Some(ts),
                format!("retransmitted bytes at stream offset {offset} ({len} bytes) differ from the first copy; the first copy was used"),
            ),
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
        let dir = self.orient(dir);
        let session = match &self.phase {
            Phase::WebSocket(ws) => Some(ws.session),
            _ => None,
        };
        out.push(SessionEvent::Finding {
            session,
            finding: Finding::new(Code::TcpSegmentIgnored, Some(dir), Some(ts), reason),
        });
    }

    /// A FIN from `dir`.
    pub fn on_fin(&mut self, dir: Dir) {
        let dir = self.orient(dir);
        if self.tcp_closer.is_none() {
            self.tcp_closer = Some(dir);
        }
        self.fin[dir.index()] = true;
    }

    /// A RST from `dir`.
    pub fn on_rst(&mut self, dir: Dir) {
        let dir = self.orient(dir);
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
                    for a in assembled {
                        Self::deliver(&mut ws, dir, a, out);
                    }
                }
                self.end_ws(*ws, ts, Some(reason), out);
            }
            Phase::Http => {
                // Upgrade requests never answered.
                while let Some((_, pending)) = self.requests.pop_front() {
                    if let Some(p) = pending {
                        self.start_without_response(p, ts, out);
                    }
                }
            }
            Phase::Done => {}
        }
    }

    fn give_up(&mut self, ts: Timestamp, out: &mut Vec<SessionEvent>) {
        while let Some((_, pending)) = self.requests.pop_front() {
            if let Some(p) = pending {
                self.start_without_response(p, ts, out);
            }
        }
        self.phase = Phase::Done;
        self.bufs = [Vec::new(), Vec::new()];
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
        let problems = check_request(&p.request);
        out.push(self.start_event(
            p.session,
            p.ts,
            Some(Handshake {
                request: p.request,
                response: None,
                negotiated: Negotiated::default(),
                request_ts: p.ts,
                response_ts: None,
            }),
        ));
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
            let mut progressed = false;
            // Requests from the client.
            let c = Dir::ClientToServer.index();
            if !self.bufs[c].is_empty() && self.skip[c] == 0 && !self.upgrade_pending() {
                if self.exchanges == 0 && self.requests.is_empty() {
                    match http_request_start(&self.bufs[c]) {
                        Some(false) => {
                            self.not_http(cfg, next_id, Dir::ClientToServer, ts, out);
                            return;
                        }
                        None if self.began != Began::Midstream => return,
                        // Mid-stream: a WebSocket frame can start with uppercase letters too.
                        None if self.bufs[c].len() < 2 => return,
                        None => {}
                        Some(true) => {}
                    }
                }
                match parse_request(&self.bufs[c]) {
                    HeadParse::Complete(req) => {
                        progressed = true;
                        self.classification = Classification::Http;
                        self.bufs[c].drain(..req.head_len);
                        match request_body(&req.headers) {
                            BodyLength::Fixed(n) => self.skip_body(Dir::ClientToServer, n),
                            _ => {
                                self.give_up(ts, out);
                                return;
                            }
                        }
                        let pending = is_upgrade_request(&req).then(|| {
                            *next_id += 1;
                            PendingUpgrade {
                                session: *next_id,
                                request: req.clone(),
                                ts,
                            }
                        });
                        self.requests.push_back((req.method.clone(), pending));
                    }
                    HeadParse::Partial => {}
                    HeadParse::Invalid(_) => {
                        self.give_up(ts, out);
                        return;
                    }
                }
            }
            // Responses from the server.
            let s = Dir::ServerToClient.index();
            if !self.bufs[s].is_empty() && self.skip[s] == 0 {
                if self.requests.is_empty() && self.exchanges == 0 {
                    match http_response_start(&self.bufs[s]) {
                        Some(false) => {
                            self.not_http(cfg, next_id, Dir::ServerToClient, ts, out);
                            return;
                        }
                        None if self.bufs[s].len() < 2 || self.began != Began::Midstream => return,
                        _ => {}
                    }
                }
                if !self.requests.is_empty() {
                    match parse_response(&self.bufs[s]) {
                        HeadParse::Complete(resp) => {
                            progressed = true;
                            self.bufs[s].drain(..resp.head_len);
                            if (100..200).contains(&resp.status) && resp.status != 101 {
                                continue;
                            }
                            let Some((method, pending)) = self.requests.pop_front() else {
                                return;
                            };
                            self.exchanges += 1;
                            if resp.status == 101 {
                                self.upgrade(cfg, pending, resp, ts, out);
                                return;
                            }
                            if let Some(p) = pending {
                                self.refused(p, resp.clone(), ts, out);
                            }
                            match response_body(&method, resp.status, &resp.headers) {
                                BodyLength::Fixed(n) => self.skip_body(Dir::ServerToClient, n),
                                _ => {
                                    self.give_up(ts, out);
                                    return;
                                }
                            }
                            if self.exchanges >= MAX_PLAIN_EXCHANGES {
                                self.give_up(ts, out);
                                return;
                            }
                        }
                        HeadParse::Partial => {}
                        HeadParse::Invalid(_) => {
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

    fn upgrade_pending(&self) -> bool {
        self.requests.iter().any(|(_, p)| p.is_some())
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
        let mut looks_ws = plausible_as(&self.bufs[dir.index()], dir == Dir::ClientToServer);
        let reversed_looks_ws = plausible_as(&self.bufs[dir.index()], dir != Dir::ClientToServer);
        let forced_reversed = cfg.decode_as_ports.contains(&self.client.port())
            && !cfg.decode_as_ports.contains(&self.server.port());
        if self.roles_inferred && ((!looks_ws && reversed_looks_ws) || forced_reversed) {
            // Masked frames come from the client: the port-based guess was wrong.
            self.swapped = !self.swapped;
            std::mem::swap(&mut self.client, &mut self.server);
            self.bufs.swap(0, 1);
            self.skip.swap(0, 1);
            looks_ws = reversed_looks_ws;
        }
        let forced = cfg.decode_as_ports.contains(&self.server.port());
        let midstream = self.began == Began::Midstream && cfg.detect_midstream;
        if !(forced || (midstream && looks_ws)) {
            self.phase = Phase::Done;
            self.bufs = [Vec::new(), Vec::new()];
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
        let mut ws = Box::new(Self::new_ws(cfg, id, None, false, ts));
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            let buffered = std::mem::take(&mut self.bufs[d.index()]);
            if !buffered.is_empty() {
                Self::feed_ws(&mut ws, d, ts, &buffered, out);
            }
        }
        self.phase = Phase::WebSocket(ws);
    }

    fn new_ws(
        cfg: &SessionConfig,
        id: SessionId,
        negotiated: Option<&Negotiated>,
        synced: bool,
        ts: Timestamp,
    ) -> WsState {
        let deflate = negotiated.and_then(|n| n.deflate);
        let handshake_seen = negotiated.is_some();
        let make = |dir: Dir| {
            let expect = Expectations {
                masked: dir == Dir::ClientToServer,
                rsv1_allowed: deflate.is_some() || !handshake_seen,
            };
            let decoder = if synced {
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
            });
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
        }
    }

    fn handshake_findings(
        id: SessionId,
        req: &RequestHead,
        req_ts: Timestamp,
        resp_problems: Vec<crate::handshake::Problem>,
        resp_ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        for p in check_request(req) {
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
        Self::handshake_findings(p.session, &p.request, p.ts, Vec::new(), ts, out);
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
        pending: Option<PendingUpgrade>,
        resp: ResponseHead,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let Some(p) = pending else {
            // 101 to a request that did not ask for WebSocket: report it as a session anyway.
            self.phase = Phase::Done;
            return;
        };
        let (negotiated, problems) = check_response(&p.request, &resp);
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
        Self::handshake_findings(id, &p.request, p.ts, problems, ts, out);
        let mut ws = Box::new(Self::new_ws(cfg, id, Some(&negotiated), true, ts));
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
            Self::feed_ws(&mut ws, Dir::ClientToServer, ts, &c2s, out);
        }
        if !s2c.is_empty() {
            Self::feed_ws(&mut ws, Dir::ServerToClient, ts, &s2c, out);
        }
        self.requests.clear();
        self.phase = Phase::WebSocket(ws);
    }

    fn feed_ws(
        ws: &mut WsState,
        dir: Dir,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<SessionEvent>,
    ) {
        let d = dir.index();
        let mut assembled = Vec::new();
        let assembler = &mut ws.assemblers[d];
        ws.decoders[d].feed(ts, data, &mut |ev: DecodeEvent<'_>| {
            assembler.handle(ev, &mut |a| assembled.push(a))
        });
        ws.last_activity = ts;
        for a in assembled {
            Self::deliver(ws, dir, a, out);
        }
    }

    fn deliver(ws: &mut WsState, dir: Dir, a: Assembled, out: &mut Vec<SessionEvent>) {
        match a {
            Assembled::Violation { code, ts, detail } => out.push(SessionEvent::Finding {
                session: Some(ws.session),
                finding: Finding::new(code, Some(dir), Some(ts), detail),
            }),
            Assembled::Message(m) => {
                let d = dir.index();
                let mut rtt = None;
                match m.kind {
                    MessageKind::Ping => {
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
