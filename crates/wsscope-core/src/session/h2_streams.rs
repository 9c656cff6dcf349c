//! WebSockets over HTTP/2 (RFC 8441): one HTTP/2 connection ([`crate::h2::Connection`]) whose
//! extended CONNECT streams are each a WebSocket session, decoded by the same WebSocket phase
//! as an HTTP/1.1 upgrade (masking, fragments, permessage-deflate, close, ping/pong, findings).
//!
//! [`H2Sessions`] takes the TCP events of the flow through the same methods as
//! [`super::Connection`]. A stream becomes a session when its response arrives: `:status` 2xx
//! starts a WebSocket session (`upgraded`), any other status a refused one (`upgrade-rejected`);
//! an extended CONNECT left unanswered is reported when its stream ends. Session ids are
//! handed out in the order the sessions start. Ordinary requests produce no session and their
//! DATA is not copied.
//!
//! The handshake of an h2 session is the CONNECT request and its response as
//! [`crate::http::RequestHead`] / [`crate::http::ResponseHead`]: method `CONNECT`, target the
//! `:path`, the pseudo-header fields first (`:method`, `:protocol`, `:scheme`, `:path`,
//! `:authority`; `:status` in the response) then the regular fields, `version_minor` 1 and
//! `head_len` 0 (renderers show the version from [`super::Transport::H2`]: HTTP/2). There is
//! no `Sec-WebSocket-Key`/`-Accept` exchange in HTTP/2: [`crate::handshake::Negotiated`] has
//! `key`, `accept` and `expected_accept` `None` and `accept_valid` false, which claims nothing
//! (outputs should show no accept check for h2 sessions); subprotocol, extensions and
//! permessage-deflate are read and checked against the offer as for HTTP/1.1.
//!
//! How a stream ends sets the session's end: END_STREAM both ways is
//! [`CloseReason::Fin`] (clean after close frames both ways; `tcp_closer` the side that sent
//! END_STREAM first), RST_STREAM and a GOAWAY that does not cover the stream are
//! [`CloseReason::Rst`] (`tcp_closer` the sender; the findings name the frame and its error
//! code, e.g. "stream 1 ended by RST_STREAM CANCEL (0x8) from the client"), the end of the
//! TCP connection with the stream open is the TCP reason.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::ws_phase::WsState;
use super::{
    Classification, Handshake, SessionConfig, SessionEnd, SessionEvent, SessionId, SessionStart,
    Transport,
};
use crate::finding::{Code, Finding};
use crate::h2::{self, Fields, H2Event, H2Finding, H2Limits, StreamEnd};
use crate::handshake::{check_response, Negotiated};
use crate::http::{RequestHead, ResponseHead};
use crate::tcp::flow::Began;
use crate::tcp::{CloseReason, Dir, FlowId, FlowSummary};
use crate::timestamp::Timestamp;

/// Client bytes kept per direction for a stream whose response has not arrived yet (a client
/// should wait for it); more are counted as missing.
const MAX_EARLY_BYTES: usize = 4096;
/// Findings held per stream until its session starts.
const MAX_HELD_FINDINGS: usize = 32;

/// An extended CONNECT waiting for its response.
struct Pending {
    request: RequestHead,
    ts: Timestamp,
    findings: Vec<Finding>,
    /// Stream bytes that came before the response (bounded), and how many were dropped.
    early: [Vec<u8>; 2],
    dropped: [u64; 2],
}

/// What a tracked WebSocket stream is.
enum State {
    Pending(Box<Pending>),
    /// Accepted: its WebSocket phase.
    Ws(Box<WsState>),
    /// Refused (not 2xx): its end waits for the stream's (refused at `ts`).
    Refused {
        id: SessionId,
        ts: Timestamp,
    },
}

struct Stream {
    state: State,
    /// The side that sent END_STREAM first.
    first_end: Option<Dir>,
}

/// The WebSocket sessions of one HTTP/2 connection (see the module documentation).
pub struct H2Sessions {
    flow: FlowId,
    client: SocketAddr,
    server: SocketAddr,
    began: Began,
    conn: h2::Connection,
    streams: BTreeMap<u32, Stream>,
    events: Vec<H2Event>,
    classification: Classification,
    tls: Option<Box<crate::tls::TlsInfo>>,
    tcp_closer: Option<Dir>,
    fin: [bool; 2],
    role_evidence: Option<Dir>,
    /// Per direction: bytes went missing, decoding stopped.
    gapped: [bool; 2],
    /// How the TCP connection ended, while its end is being handled.
    tcp_end: Option<CloseReason>,
}

impl H2Sessions {
    /// The bytes of `dir` stopped being decodable (TLS decryption failed): no WebSocket stream
    /// blames that side for a close frame it may have sent.
    pub fn on_undecodable(&mut self, dir: Dir) {
        for stream in self.streams.values_mut() {
            if let State::Ws(ws) = &mut stream.state {
                ws.undecodable(dir);
            }
        }
    }
}

fn party(dir: Dir) -> &'static str {
    match dir {
        Dir::ClientToServer => "client",
        Dir::ServerToClient => "server",
    }
}

/// The name of an HTTP/2 error code (RFC 9113 section 7).
pub fn h2_error_name(code: u32) -> &'static str {
    match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => "unknown error code",
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The extended CONNECT as a request head (see the module documentation).
fn request_head(req: &h2::RequestHead) -> RequestHead {
    let mut headers = Vec::with_capacity(req.fields.len() + 5);
    for (name, value) in [
        (":method", &req.method),
        (":protocol", &req.protocol),
        (":scheme", &req.scheme),
        (":path", &req.path),
        (":authority", &req.authority),
    ] {
        if let Some(v) = value {
            headers.push((name.to_string(), v.clone()));
        }
    }
    headers.extend(req.fields.iter().map(|(n, v)| (text(n), text(v))));
    RequestHead {
        method: req.method.clone().unwrap_or_default(),
        target: req.path.clone().unwrap_or_default(),
        version_minor: 1,
        headers,
        head_len: 0,
    }
}

/// The response of a stream as a response head (see the module documentation).
fn response_head(status: u16, fields: &Fields) -> ResponseHead {
    let mut headers = Vec::with_capacity(fields.0.len() + 1);
    headers.push((":status".to_string(), status.to_string()));
    headers.extend(fields.0.iter().map(|(n, v)| (text(n), text(v))));
    ResponseHead {
        version_minor: 1,
        status,
        reason: String::new(),
        headers,
        head_len: 0,
    }
}

/// The finding code, direction and stream of an HTTP/2 condition.
fn classify(f: &H2Finding) -> (Code, Dir, Option<u32>) {
    use H2Finding as F;
    const C: Dir = Dir::ClientToServer;
    const S: Dir = Dir::ServerToClient;
    match *f {
        F::Frame { from, .. } | F::Header { from, .. } => (Code::H2ProtocolError, from, None),
        F::ZeroWindowUpdate { from, stream_id } => (Code::H2ProtocolError, from, Some(stream_id)),
        F::ConnectProtocolNotEnabled { stream_id } => {
            (Code::H2ConnectNotEnabled, C, Some(stream_id))
        }
        F::WebSocketVersion { stream_id, .. } => (Code::VersionUnsupported, C, Some(stream_id)),
        F::Http1Field { stream_id, name } => {
            let dir = if name == "sec-websocket-accept" { S } else { C };
            (Code::H2WebSocketFieldUnused, dir, Some(stream_id))
        }
        F::MissingPseudo { stream_id, .. } => (Code::H2ProtocolError, C, Some(stream_id)),
        F::BadStatus { stream_id } => (Code::H2ProtocolError, S, Some(stream_id)),
        F::TooManyStreams { stream_id, .. } => (Code::HttpLimitExceeded, C, Some(stream_id)),
        F::Gap { from } => (Code::TcpGap, from, None),
    }
}

impl H2Sessions {
    /// The HTTP/2 connection of a TCP flow (its client sent the connection preface, so the
    /// roles are certain: a flow whose roles were inferred gets that evidence, see
    /// [`H2Sessions::take_role_evidence`]).
    pub fn new(
        flow: FlowId,
        client: SocketAddr,
        server: SocketAddr,
        began: Began,
        roles_inferred: bool,
    ) -> Self {
        H2Sessions {
            flow,
            client,
            server,
            began,
            conn: h2::Connection::new(H2Limits::default()),
            streams: BTreeMap::new(),
            events: Vec::new(),
            classification: Classification::Http2,
            tls: None,
            tcp_closer: None,
            fin: [false; 2],
            role_evidence: roles_inferred.then_some(Dir::ClientToServer),
            gapped: [false; 2],
            tcp_end: None,
        }
    }

    /// The HTTP/2 connection an HTTP/1.1 `Upgrade: h2c` switched to, before the bytes that
    /// followed the 101 are fed (see [`super::H2cSwitch`]).
    pub fn after_upgrade(switch: &super::H2cSwitch) -> Self {
        let mut s = H2Sessions::new(
            switch.flow,
            switch.client,
            switch.server,
            switch.began,
            switch.roles_inferred,
        );
        s.tls = switch.tls.clone();
        if switch.role_evidence.is_some() {
            s.role_evidence = switch.role_evidence;
        }
        s
    }

    /// The bytes were decrypted from a TLS connection: every session reports `tls`.
    pub fn set_tls(&mut self, tls: crate::tls::TlsInfo) {
        self.tls = Some(Box::new(tls));
    }

    /// `WebSocket` once a WebSocket stream was accepted, else `Http2`.
    pub fn classification(&self) -> Classification {
        self.classification
    }

    /// Always false: new streams may open until the connection ends.
    pub fn is_done(&self) -> bool {
        false
    }

    /// The client is the side that sent the preface (once, for a flow whose roles were
    /// inferred).
    pub fn take_role_evidence(&mut self) -> Option<Dir> {
        self.role_evidence.take()
    }

    /// WebSocket streams being followed (pending, accepted or refused).
    pub fn tracked_streams(&self) -> usize {
        self.streams.len()
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
        let mut events = std::mem::take(&mut self.events);
        self.conn.feed(dir, data, &mut events);
        for ev in events.drain(..) {
            self.event(cfg, next_id, ev, (ts, Some(packet)), out);
        }
        self.events = events;
    }

    /// `len` bytes missing in direction `dir`: HTTP/2 cannot resynchronise (frame boundaries
    /// and the HPACK table are lost), that direction is not decoded any further. Reported to
    /// every WebSocket session open (its message in progress is incomplete), or once for the
    /// connection when there is none.
    #[allow(clippy::too_many_arguments)]
    pub fn on_gap(
        &mut self,
        _cfg: &SessionConfig,
        _next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        len: u64,
        _cut: bool,
        out: &mut Vec<SessionEvent>,
    ) {
        if std::mem::replace(&mut self.gapped[dir.index()], true) {
            return;
        }
        let mut events = Vec::new();
        self.conn.gap(dir, &mut events);
        let mut told = false;
        for s in self.streams.values_mut() {
            if let State::Ws(ws) = &mut s.state {
                ws.gap(dir, ts, len, out);
                told = true;
            }
        }
        if !told {
            out.push(SessionEvent::finding(
                None,
                Code::TcpGap,
                Some(dir),
                ts,
                format!("{len} bytes missing from the capture: HTTP/2 decoding of this direction stopped"),
            ));
        }
    }

    /// Something the TCP layer noticed about direction `dir` (a connection-level finding: the
    /// connection may carry several sessions).
    pub fn on_tcp_notice(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        notice: super::TcpNotice,
        out: &mut Vec<SessionEvent>,
    ) {
        out.push(notice.finding(None, dir, ts));
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

    /// The TCP connection is gone: every stream still open ends with it (an extended CONNECT
    /// left unanswered becomes a session then, hence `next_id`).
    pub fn on_closed(
        &mut self,
        next_id: &mut SessionId,
        ts: Timestamp,
        summary: &FlowSummary,
        out: &mut Vec<SessionEvent>,
    ) {
        self.closed(next_id, ts, summary.ended, out);
    }

    /// The TCP connection ended at `ts` for `reason`.
    fn closed(
        &mut self,
        next_id: &mut SessionId,
        ts: Timestamp,
        reason: CloseReason,
        out: &mut Vec<SessionEvent>,
    ) {
        self.tcp_end = Some(reason);
        let mut events = std::mem::take(&mut self.events);
        self.conn.finish(&mut events);
        for ev in events.drain(..) {
            if let H2Event::StreamEnded { stream_id, how } = ev {
                self.stream_ended(next_id, stream_id, how, ts, out);
            }
        }
        self.events = events;
        // Streams the connection layer no longer tracked (none expected).
        let left: Vec<u32> = self.streams.keys().copied().collect();
        for stream_id in left {
            self.stream_ended(next_id, stream_id, StreamEnd::ConnectionEnd, ts, out);
        }
    }

    fn event(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        ev: H2Event,
        (ts, packet): (Timestamp, Option<u64>),
        out: &mut Vec<SessionEvent>,
    ) {
        match ev {
            H2Event::StreamOpened { stream_id, request } if request.is_websocket_connect() => {
                let pending = Pending {
                    request: request_head(&request),
                    ts,
                    findings: Vec::new(),
                    early: [Vec::new(), Vec::new()],
                    dropped: [0, 0],
                };
                self.streams.insert(
                    stream_id,
                    Stream {
                        state: State::Pending(Box::new(pending)),
                        first_end: None,
                    },
                );
            }
            H2Event::StreamResponse {
                stream_id,
                status,
                fields,
            } => {
                let Some(s) = self.streams.get_mut(&stream_id) else {
                    return;
                };
                if !matches!(s.state, State::Pending(_)) {
                    return;
                }
                let placeholder = State::Refused { id: 0, ts };
                let State::Pending(p) = std::mem::replace(&mut s.state, placeholder) else {
                    return;
                };
                let response = response_head(status, &fields);
                let state = self.start(cfg, next_id, stream_id, *p, response, (ts, packet), out);
                if let Some(s) = self.streams.get_mut(&stream_id) {
                    s.state = state;
                }
            }
            H2Event::StreamData {
                stream_id,
                from,
                bytes,
            } => match self.streams.get_mut(&stream_id).map(|s| &mut s.state) {
                Some(State::Ws(ws)) => ws.feed(from, (ts, packet.unwrap_or_default()), &bytes, out),
                Some(State::Pending(p)) => {
                    let d = from.index();
                    if p.early[d].len() + bytes.len() <= MAX_EARLY_BYTES && p.dropped[d] == 0 {
                        p.early[d].extend_from_slice(&bytes);
                    } else {
                        p.dropped[d] += bytes.len() as u64;
                    }
                }
                _ => {}
            },
            H2Event::StreamHalfClosed { stream_id, from } => {
                if let Some(s) = self.streams.get_mut(&stream_id) {
                    s.first_end.get_or_insert(from);
                }
            }
            H2Event::StreamEnded { stream_id, how } => {
                self.stream_ended(next_id, stream_id, how, ts, out)
            }
            H2Event::Finding(f) => self.finding(f, ts, packet, out),
            H2Event::StreamOpened { .. } | H2Event::Settings { .. } | H2Event::GoAway { .. } => {}
        }
    }

    /// Pushes the start of session `id` of `stream_id`.
    fn push_start(
        &self,
        id: SessionId,
        stream_id: u32,
        p: &Pending,
        response: Option<(ResponseHead, Negotiated, Timestamp)>,
        upgraded: bool,
        out: &mut Vec<SessionEvent>,
    ) {
        let (response, negotiated, response_ts) = match response {
            Some((r, n, ts)) => (Some(r), n, Some(ts)),
            None => (None, Negotiated::default(), None),
        };
        out.push(SessionEvent::Start(Box::new(SessionStart {
            id,
            flow: self.flow,
            client: self.client,
            server: self.server,
            ts: p.ts,
            handshake: Some(Handshake {
                request: p.request.clone(),
                response,
                negotiated,
                request_ts: p.ts,
                response_ts,
            }),
            upgraded,
            tcp_began: self.began,
            // The preface came from the client.
            roles_inferred: false,
            transport: Transport::H2 { stream_id },
            tls: self.tls.clone(),
        })));
    }

    /// The response of pending stream `stream_id` arrived at `ts`: its session starts.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        stream_id: u32,
        mut p: Pending,
        response: ResponseHead,
        (ts, packet): (Timestamp, Option<u64>),
        out: &mut Vec<SessionEvent>,
    ) -> State {
        *next_id += 1;
        let id = *next_id;
        let status = response.status;
        let accepted = (200..300).contains(&status);
        let (negotiated, problems) = if accepted {
            let (n, mut problems) = check_response(&p.request, &response);
            // No Upgrade/Connection headers nor key/accept exchange in HTTP/2 (RFC 8441 4, 5).
            problems.retain(|pr| {
                !matches!(
                    pr.code,
                    Code::AcceptMissing
                        | Code::AcceptMismatch
                        | Code::UpgradeHeaderMissing
                        | Code::ConnectionHeaderMissing
                )
            });
            let n = Negotiated {
                key: None,
                accept: None,
                expected_accept: None,
                accept_valid: false,
                ..n
            };
            (n, problems)
        } else {
            (Negotiated::default(), Vec::new())
        };
        self.push_start(
            id,
            stream_id,
            &p,
            Some((response, negotiated.clone(), ts)),
            accepted,
            out,
        );
        for finding in std::mem::take(&mut p.findings) {
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding,
            });
        }
        for pr in problems {
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding: Finding::new(pr.code, Some(Dir::ServerToClient), Some(ts), pr.detail)
                    .at_packet(packet),
            });
        }
        if !accepted {
            out.push(SessionEvent::Finding {
                session: Some(id),
                finding: Finding::new(
                    Code::UpgradeRejected,
                    Some(Dir::ServerToClient),
                    Some(ts),
                    format!(
                        "server answered the extended CONNECT on stream {stream_id} with :status {status}"
                    ),
                )
                .at_packet(packet),
            });
            return State::Refused { id, ts };
        }
        self.classification = Classification::WebSocket;
        let mut ws = Box::new(WsState::new(cfg, id, Some(&negotiated), [true, true], ts));
        let packet = packet.unwrap_or_default();
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            let d = dir.index();
            let early = std::mem::take(&mut p.early[d]);
            if !early.is_empty() {
                out.push(SessionEvent::finding(
                    Some(id),
                    Code::HandshakeNote,
                    Some(dir),
                    ts,
                    format!(
                        "the {} sent {} bytes of frames on stream {stream_id} before the :status {status} response",
                        party(dir),
                        early.len()
                    ),
                ));
                ws.feed(dir, (ts, packet), &early, out);
            }
            if p.dropped[d] > 0 {
                ws.gap(dir, ts, p.dropped[d], out);
            }
        }
        State::Ws(ws)
    }

    /// How stream `stream_id` ended (`how`) in the terms of a session end: the reason, the
    /// side that ended it, and the words for the findings (`None`: the TCP connection's).
    fn ending(
        &self,
        stream_id: u32,
        how: StreamEnd,
        first_end: Option<Dir>,
    ) -> (CloseReason, Option<Dir>, Option<(String, String)>) {
        match how {
            StreamEnd::Closed => {
                let first = first_end.unwrap_or(Dir::ClientToServer);
                let words = format!(
                    "the {} ended stream {stream_id} (END_STREAM), then the {}",
                    party(first),
                    party(first.reverse())
                );
                (
                    CloseReason::Fin,
                    Some(first),
                    Some(("END_STREAM from both sides".into(), words)),
                )
            }
            StreamEnd::Reset { by, code } => {
                let frame = format!(
                    "RST_STREAM {} ({code:#x}) from the {}",
                    h2_error_name(code),
                    party(by)
                );
                let words = format!("stream {stream_id} ended by {frame}");
                (CloseReason::Rst, Some(by), Some((frame, words)))
            }
            StreamEnd::GoAway { by, code } => {
                let frame = format!(
                    "GOAWAY {} ({code:#x}) from the {}",
                    h2_error_name(code),
                    party(by)
                );
                let words = format!("stream {stream_id} ended by {frame}, which did not cover it");
                (CloseReason::Rst, Some(by), Some((frame, words)))
            }
            StreamEnd::ConnectionEnd => (
                self.tcp_end.unwrap_or(CloseReason::EndOfCapture),
                self.tcp_closer,
                None,
            ),
        }
    }

    fn stream_ended(
        &mut self,
        next_id: &mut SessionId,
        stream_id: u32,
        how: StreamEnd,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let Some(s) = self.streams.remove(&stream_id) else {
            return;
        };
        let (reason, closer, words) = self.ending(stream_id, how, s.first_end);
        match s.state {
            State::Ws(ws) => {
                let words = words.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
                ws.end_as(ts, reason, closer, words, out);
            }
            State::Refused { id, ts: refused } => {
                let mut end = SessionEnd::without_upgrade(id, refused, closer);
                end.tcp_end = Some(reason);
                out.push(SessionEvent::End(end));
            }
            State::Pending(mut p) => {
                // An extended CONNECT never answered: a session of its own, unanswered.
                *next_id += 1;
                let id = *next_id;
                self.push_start(id, stream_id, &p, None, false, out);
                for finding in std::mem::take(&mut p.findings) {
                    out.push(SessionEvent::Finding {
                        session: Some(id),
                        finding,
                    });
                }
                let ended = match &words {
                    Some((_, w)) => w.clone(),
                    None => "the connection ended".to_string(),
                };
                out.push(SessionEvent::finding(
                    Some(id),
                    Code::HandshakeNote,
                    Some(Dir::ServerToClient),
                    ts,
                    format!("no response to the extended CONNECT on stream {stream_id} was captured: {ended}"),
                ));
                let mut end = SessionEnd::without_upgrade(id, ts, closer);
                end.tcp_end = Some(reason);
                out.push(SessionEvent::End(end));
            }
        }
    }

    /// A condition found by the HTTP/2 layer: attached to its stream's session when there is
    /// one (held until it starts), else to the connection.
    fn finding(
        &mut self,
        f: H2Finding,
        ts: Timestamp,
        packet: Option<u64>,
        out: &mut Vec<SessionEvent>,
    ) {
        if let H2Finding::Gap { .. } = f {
            // Reported by `on_gap`, with the number of bytes.
            return;
        }
        let (code, dir, stream) = classify(&f);
        let finding = Finding::new(code, Some(dir), Some(ts), f.to_string()).at_packet(packet);
        let session = match stream.and_then(|id| self.streams.get_mut(&id)) {
            Some(Stream {
                state: State::Pending(p),
                ..
            }) => {
                if p.findings.len() < MAX_HELD_FINDINGS {
                    p.findings.push(finding);
                }
                return;
            }
            Some(Stream {
                state: State::Ws(ws),
                ..
            }) => Some(ws.session),
            Some(Stream {
                state: State::Refused { id, .. },
                ..
            }) => Some(*id),
            None => None,
        };
        out.push(SessionEvent::Finding { session, finding });
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{close_frame, describe, frame as ws_frame, C, S};
    use super::*;
    use crate::h2::frame::{flags, kind, PREFACE};
    use crate::outcome::SessionOutcome;

    fn h2frame(k: u8, fl: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        v.push(k);
        v.push(fl);
        v.extend_from_slice(&sid.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// HPACK literal without indexing, new name (RFC 7541 6.2.2), short strings.
    fn lit(name: &str, value: &str) -> Vec<u8> {
        let mut v = vec![0x00, name.len() as u8];
        v.extend_from_slice(name.as_bytes());
        v.push(value.len() as u8);
        v.extend_from_slice(value.as_bytes());
        v
    }

    fn block(fields: &[(&str, &str)]) -> Vec<u8> {
        fields.iter().flat_map(|(n, v)| lit(n, v)).collect()
    }

    /// An extended CONNECT for `path` with `extra` fields.
    fn connect(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut b = block(&[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "example.com"),
            ("sec-websocket-version", "13"),
        ]);
        b.extend(block(extra));
        b
    }

    fn headers(sid: u32, block: &[u8]) -> Vec<u8> {
        h2frame(kind::HEADERS, flags::END_HEADERS, sid, block)
    }

    fn status(sid: u32, code: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut b = lit(":status", code);
        b.extend(block(extra));
        headers(sid, &b)
    }

    fn data(sid: u32, bytes: &[u8]) -> Vec<u8> {
        h2frame(kind::DATA, 0, sid, bytes)
    }

    fn data_end(sid: u32, bytes: &[u8]) -> Vec<u8> {
        h2frame(kind::DATA, flags::END_STREAM, sid, bytes)
    }

    struct H {
        s: H2Sessions,
        cfg: SessionConfig,
        next_id: SessionId,
        out: Vec<SessionEvent>,
        ts: i64,
        packet: u64,
    }

    impl H {
        /// A connection whose server enabled extended CONNECT (`enable`) or not.
        fn with(enable: bool) -> H {
            let mut h = H {
                s: H2Sessions::new(
                    FlowId(1),
                    SocketAddr::from(([10, 0, 0, 1], 40000)),
                    SocketAddr::from(([10, 0, 0, 2], 80)),
                    Began::Syn,
                    false,
                ),
                cfg: SessionConfig::default(),
                next_id: 0,
                out: Vec::new(),
                ts: 0,
                packet: 0,
            };
            let settings: &[u8] = if enable { &[0, 8, 0, 0, 0, 1] } else { &[] };
            h.send(S, &h2frame(kind::SETTINGS, 0, 0, settings));
            let mut c = PREFACE.to_vec();
            c.extend(h2frame(kind::SETTINGS, 0, 0, &[]));
            h.send(C, &c);
            h
        }

        fn new() -> H {
            H::with(true)
        }

        /// Bytes from `dir` in one packet, a millisecond after the last.
        fn send(&mut self, dir: Dir, bytes: &[u8]) -> &mut Self {
            self.ts += 1_000_000;
            self.packet += 1;
            self.s.on_data(
                &self.cfg,
                &mut self.next_id,
                dir,
                Timestamp(self.ts),
                self.packet,
                bytes,
                &mut self.out,
            );
            self
        }

        fn close(&mut self, reason: CloseReason) -> &mut Self {
            self.ts += 1_000_000;
            self.s
                .closed(&mut self.next_id, Timestamp(self.ts), reason, &mut self.out);
            self
        }

        /// Stream `sid` opened for `path` and accepted.
        fn accepted(&mut self, sid: u32, path: &str) -> &mut Self {
            self.send(C, &headers(sid, &connect(path, &[])));
            self.send(S, &status(sid, "200", &[]))
        }

        fn take(&mut self) -> Vec<String> {
            self.out.drain(..).map(|e| describe(&e)).collect()
        }

        fn findings(&self) -> Vec<(Option<SessionId>, Code, Option<u64>, String)> {
            self.out
                .iter()
                .filter_map(|e| match e {
                    SessionEvent::Finding { session, finding } => Some((
                        *session,
                        finding.code,
                        finding.packet,
                        finding.detail.clone(),
                    )),
                    _ => None,
                })
                .collect()
        }

        fn ends(&self) -> Vec<SessionEnd> {
            self.out
                .iter()
                .filter_map(|e| match e {
                    SessionEvent::End(e) => Some(e.clone()),
                    _ => None,
                })
                .collect()
        }

        fn starts(&self) -> Vec<SessionStart> {
            self.out
                .iter()
                .filter_map(|e| match e {
                    SessionEvent::Start(s) => Some((**s).clone()),
                    _ => None,
                })
                .collect()
        }
    }

    #[test]
    fn an_accepted_stream_is_a_websocket_session_closed_cleanly_by_end_stream() {
        let mut h = H::new();
        h.send(C, &headers(1, &connect("/chat", &[("origin", "http://x")])));
        assert!(h.out.is_empty(), "the session starts with the response");
        h.send(S, &status(1, "200", &[]));
        let start = h.starts().remove(0);
        assert_eq!(start.transport, Transport::H2 { stream_id: 1 });
        assert!(start.upgraded);
        let hs = start.handshake.expect("handshake");
        assert_eq!(hs.request.method, "CONNECT");
        assert_eq!(hs.request.target, "/chat");
        assert!(hs
            .request
            .headers
            .contains(&(":authority".into(), "example.com".into())));
        assert!(hs
            .request
            .headers
            .contains(&("origin".into(), "http://x".into())));
        assert_eq!(hs.response.as_ref().map(|r| r.status), Some(200));
        assert!(!hs.negotiated.accept_valid && hs.negotiated.accept.is_none());
        h.send(C, &data(1, &ws_frame(0x1, b"hi", true)));
        h.send(S, &data(1, &ws_frame(0x1, b"yo", false)));
        h.send(C, &data_end(1, &close_frame(1000, true)));
        h.send(S, &data_end(1, &close_frame(1000, false)));
        assert_eq!(
            h.take(),
            [
                "start 1 CONNECT /chat -> 200",
                "message 1 #1 c2s text \"hi\"",
                "message 1 #2 s2c text \"yo\"",
                "message 1 #3 c2s close 1000",
                "message 1 #4 s2c close 1000",
                "end 1 upgraded",
            ]
        );
        h.send(C, &data_end(1, &close_frame(1000, true)));
        h.close(CloseReason::Fin);
        assert!(h.out.is_empty(), "the stream is over: {:?}", h.take());
        assert_eq!(h.s.classification(), Classification::WebSocket);
    }

    #[test]
    fn end_stream_both_ways_after_close_frames_is_clean() {
        let mut h = H::new();
        h.accepted(1, "/chat");
        h.send(S, &data_end(1, &close_frame(1001, false)));
        h.send(C, &data_end(1, &close_frame(1001, true)));
        let end = h.ends().remove(0);
        assert!(end.clean);
        assert_eq!(end.tcp_end, Some(CloseReason::Fin));
        assert_eq!(end.tcp_closer, Some(S));
        assert_eq!(end.initiator, Some(S));
        assert_eq!(
            SessionOutcome::of(&end, Some(200)),
            SessionOutcome::Closed {
                clean: true,
                initiator: Some(S)
            }
        );
        assert!(h.findings().is_empty(), "{:?}", h.findings());
    }

    #[test]
    fn a_non_2xx_answer_is_a_refused_session() {
        let mut h = H::new();
        h.send(C, &headers(1, &connect("/x", &[])));
        h.send(
            S,
            &h2frame(
                kind::HEADERS,
                flags::END_HEADERS | flags::END_STREAM,
                1,
                &lit(":status", "404"),
            ),
        );
        let start = h.starts().remove(0);
        assert!(!start.upgraded);
        assert_eq!(
            SessionOutcome::at_start(&start),
            Some(SessionOutcome::Refused { status: 404 })
        );
        let findings = h.findings();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].0, Some(1));
        assert_eq!(findings[0].1, Code::UpgradeRejected);
        assert_eq!(findings[0].2, Some(h.packet));
        assert!(findings[0].3.contains(":status 404"), "{}", findings[0].3);
        assert!(h.ends().is_empty(), "the end waits for the stream's");
        h.send(C, &data_end(1, &[]));
        assert_eq!(
            h.take(),
            [
                "start 1 CONNECT /x -> 404",
                "finding 1 upgrade-rejected",
                "end 1 not upgraded",
            ]
        );
        assert_eq!(h.s.classification(), Classification::Http2);
    }

    #[test]
    fn rst_stream_inside_a_message_is_abrupt_and_names_the_error_code() {
        let mut h = H::new();
        h.accepted(1, "/chat");
        let f = ws_frame(0x1, b"cut short", false);
        h.send(S, &data(1, &f[..5]));
        h.send(C, &h2frame(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8]));
        let findings = h.findings();
        let codes: Vec<Code> = findings.iter().map(|f| f.1).collect();
        assert_eq!(codes, [Code::MessageIncomplete, Code::AbruptClose]);
        assert!(
            findings[0]
                .3
                .ends_with("; the stream ended with RST_STREAM CANCEL (0x8) from the client"),
            "{}",
            findings[0].3
        );
        assert!(
            findings[1].3.starts_with(
                "stream 1 ended by RST_STREAM CANCEL (0x8) from the client without a close frame"
            ),
            "{}",
            findings[1].3
        );
        assert!(findings.iter().all(|f| f.0 == Some(1)));
        let end = h.ends().remove(0);
        assert_eq!(end.tcp_end, Some(CloseReason::Rst));
        assert_eq!(end.tcp_closer, Some(C));
        assert_eq!(
            SessionOutcome::of(&end, Some(200)),
            SessionOutcome::Abrupt(CloseReason::Rst)
        );
    }

    #[test]
    fn goaway_ends_the_streams_it_does_not_cover() {
        let mut h = H::new();
        h.accepted(1, "/a");
        h.accepted(3, "/b");
        h.send(C, &data(3, &close_frame(1000, true)));
        h.out.clear();
        h.send(S, &h2frame(kind::GOAWAY, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]));
        let findings = h.findings();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].0, Some(2));
        assert_eq!(findings[0].1, Code::CloseHandshakeIncomplete);
        assert_eq!(
            findings[0].3,
            "only the client sent a close frame before stream 3 ended by GOAWAY NO_ERROR (0x0) from the server, which did not cover it"
        );
        let end = h.ends().remove(0);
        assert_eq!((end.id, end.tcp_end), (2, Some(CloseReason::Rst)));
        // Stream 1 goes on, until the capture ends.
        h.out.clear();
        h.send(S, &data(1, &ws_frame(0x1, b"still here", false)));
        h.close(CloseReason::EndOfCapture);
        assert_eq!(
            h.take(),
            ["message 1 #1 s2c text \"still here\"", "end 1 upgraded"]
        );
    }

    #[test]
    fn permessage_deflate_negotiated_on_a_stream_inflates_messages() {
        // RFC 7692 7.2.3.1: "Hello" compressed, one frame.
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut h = H::new();
        h.send(
            C,
            &headers(
                1,
                &connect(
                    "/z",
                    &[(
                        "sec-websocket-extensions",
                        "permessage-deflate; client_max_window_bits",
                    )],
                ),
            ),
        );
        h.send(
            S,
            &status(
                1,
                "200",
                &[("sec-websocket-extensions", "permessage-deflate")],
            ),
        );
        h.send(S, &data(1, &hello));
        let start = h.starts().remove(0);
        let neg = &start.handshake.as_ref().expect("handshake").negotiated;
        assert!(neg.deflate.is_some());
        assert_eq!(neg.extensions[0].name, "permessage-deflate");
        assert_eq!(
            h.take(),
            [
                "start 1 CONNECT /z -> 200",
                "message 1 #1 s2c text \"Hello\""
            ]
        );
        // Without the negotiation the same frame is a violation.
        let mut h = H::new();
        h.accepted(1, "/z");
        h.send(S, &data(1, &hello));
        assert!(h
            .findings()
            .iter()
            .any(|f| f.1 == Code::RsvBitsWithoutExtension));
    }

    #[test]
    fn two_streams_interleaved_frame_by_frame() {
        let mut h = H::new();
        h.accepted(1, "/one");
        h.send(
            C,
            &headers(3, &block(&[(":method", "GET"), (":path", "/plain")])),
        );
        h.accepted(5, "/two");
        h.send(S, &status(3, "200", &[]));
        let long = ws_frame(0x1, b"hello over two DATA frames", true);
        let (a, b) = long.split_at(11);
        let s1 = ws_frame(0x2, b"server one", false);
        let s5 = ws_frame(0x1, b"server three", false);
        h.send(C, &data(1, a));
        h.send(S, &data(5, &s5[..4]));
        h.send(C, &data(5, &ws_frame(0x1, b"x", true)));
        h.send(S, &data(1, &s1[..3]));
        h.send(S, &data_end(3, b"plain body, not WebSocket"));
        h.send(S, &data(5, &s5[4..]));
        h.send(C, &data(1, b));
        h.send(S, &data(1, &s1[3..]));
        assert_eq!(
            h.take(),
            [
                "start 1 CONNECT /one -> 200",
                "start 2 CONNECT /two -> 200",
                "message 2 #1 c2s text \"x\"",
                "message 2 #2 s2c text \"server three\"",
                "message 1 #1 c2s text \"hello over two DATA frames\"",
                "message 1 #2 s2c binary \"server one\"",
            ]
        );
        assert_eq!(h.s.tracked_streams(), 2, "the GET is not followed");
    }

    #[test]
    fn session_ids_follow_the_order_sessions_start() {
        let mut h = H::new();
        h.send(C, &headers(1, &connect("/first", &[])));
        h.send(C, &headers(3, &connect("/second", &[])));
        h.send(S, &status(3, "200", &[]));
        h.send(S, &status(1, "200", &[]));
        assert_eq!(
            h.take(),
            [
                "start 1 CONNECT /second -> 200",
                "start 2 CONNECT /first -> 200"
            ]
        );
    }

    #[test]
    fn findings_go_to_their_stream_session_with_packet_numbers() {
        let mut h = H::with(false);
        h.send(
            C,
            &headers(
                1,
                &block(&[
                    (":method", "CONNECT"),
                    (":protocol", "websocket"),
                    (":scheme", "http"),
                    (":path", "/old"),
                    (":authority", "example.com"),
                    ("sec-websocket-version", "8"),
                    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ]),
            ),
        );
        let request_packet = h.packet;
        assert!(h.out.is_empty(), "held until the session starts");
        h.send(S, &status(1, "200", &[("sec-websocket-accept", "x")]));
        let response_packet = h.packet;
        // A malformed frame is about the connection: no session.
        h.send(C, &h2frame(kind::PING, 0, 0, &[0; 7]));
        let bad_packet = h.packet;
        let got: Vec<(Option<SessionId>, Code, Option<u64>)> =
            h.findings().into_iter().map(|f| (f.0, f.1, f.2)).collect();
        assert_eq!(
            got,
            [
                (Some(1), Code::H2ConnectNotEnabled, Some(request_packet)),
                (Some(1), Code::VersionUnsupported, Some(request_packet)),
                (Some(1), Code::H2WebSocketFieldUnused, Some(request_packet)),
                (Some(1), Code::H2WebSocketFieldUnused, Some(response_packet)),
                (None, Code::H2ProtocolError, Some(bad_packet)),
            ]
        );
        let lines = h.take();
        assert_eq!(lines[0], "start 1 CONNECT /old -> 200", "start first");
        // The key given in the request is not checked in HTTP/2.
        let start = h.starts();
        assert!(start.is_empty());
    }

    #[test]
    fn an_unanswered_connect_is_reported_when_the_connection_ends() {
        let mut h = H::new();
        h.send(C, &headers(1, &connect("/x", &[])));
        h.close(CloseReason::Fin);
        assert_eq!(
            h.take(),
            [
                "start 1 CONNECT /x -> none",
                "finding 1 handshake-note",
                "end 1 not upgraded",
            ]
        );
    }

    #[test]
    fn a_gap_is_reported_to_the_open_sessions() {
        let mut h = H::new();
        h.accepted(1, "/a");
        h.out.clear();
        h.s.on_gap(
            &h.cfg,
            &mut h.next_id,
            S,
            Timestamp(h.ts),
            100,
            false,
            &mut h.out,
        );
        h.send(S, &data(1, &ws_frame(0x1, b"lost", false)));
        assert_eq!(h.take(), ["finding 1 tcp-gap"]);
        // Without a WebSocket session: once for the connection.
        let mut h = H::new();
        h.s.on_gap(
            &h.cfg,
            &mut h.next_id,
            C,
            Timestamp(h.ts),
            100,
            false,
            &mut h.out,
        );
        assert_eq!(h.take(), ["finding - tcp-gap"]);
    }
}
