//! The JSON contract: report and NDJSON event types, built from analyzer events.
//!
//! Field names here are a public contract (`schema_version` 1): fields may be added, never
//! renamed or removed. The JSON Schema (`wsscope schema`) is generated from these types and
//! checked in as `schema/report.schema.json` and `schema/events.schema.json`.

use crate::analyzer::FlowRecord;
use crate::finding::{Finding, Severity};
use crate::handshake::Extension;
use crate::session::{CloseFrame, SessionEnd, SessionId, SessionMessage, SessionStart};
use crate::tcp::Dir;
use crate::ws::message::{Message, MessageKind};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Version of this contract.
pub const SCHEMA_VERSION: u32 = 1;

/// How much payload goes into reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadMode {
    /// No payload fields.
    None,
    /// The first N bytes.
    Preview(usize),
    /// Everything (up to --max-message-size).
    Full,
}

/// Direction as written in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Direction {
    /// Client to server.
    #[serde(rename = "c2s")]
    C2s,
    /// Server to client.
    #[serde(rename = "s2c")]
    S2c,
}

impl From<Dir> for Direction {
    fn from(d: Dir) -> Self {
        match d {
            Dir::ClientToServer => Direction::C2s,
            Dir::ServerToClient => Direction::S2c,
        }
    }
}

/// Message type as written in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// Text message.
    Text,
    /// Binary message.
    Binary,
    /// Ping.
    Ping,
    /// Pong.
    Pong,
    /// Close.
    Close,
}

impl Direction {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::C2s => "c2s",
            Direction::S2c => "s2c",
        }
    }
}

impl MessageType {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Binary => "binary",
            MessageType::Ping => "ping",
            MessageType::Pong => "pong",
            MessageType::Close => "close",
        }
    }
}

impl From<MessageKind> for MessageType {
    fn from(k: MessageKind) -> Self {
        match k {
            MessageKind::Text => MessageType::Text,
            MessageKind::Binary => MessageType::Binary,
            MessageKind::Ping => MessageType::Ping,
            MessageKind::Pong => MessageType::Pong,
            MessageKind::Close => MessageType::Close,
        }
    }
}

/// Finding severity as written in reports.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SeverityName {
    /// Informational.
    Info,
    /// Warning.
    Warning,
    /// Error.
    Error,
}

impl From<Severity> for SeverityName {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Info => SeverityName::Info,
            Severity::Warning => SeverityName::Warning,
            Severity::Error => SeverityName::Error,
        }
    }
}

/// An IP endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Endpoint {
    /// IPv4 or IPv6 address.
    pub ip: String,
    /// TCP port.
    pub port: u16,
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Self {
        Endpoint {
            ip: a.ip().to_string(),
            port: a.port(),
        }
    }
}

/// The client's upgrade request.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RequestReport {
    /// Method (GET).
    pub method: String,
    /// Request target (path and query).
    pub target: String,
    /// HTTP version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Headers in order, as `[name, value]`.
    pub headers: Vec<[String; 2]>,
    /// When the request was sent.
    pub ts: String,
}

/// The server's response.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ResponseReport {
    /// Status code.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// HTTP version.
    pub version: String,
    /// Headers in order, as `[name, value]`.
    pub headers: Vec<[String; 2]>,
    /// When the response was sent.
    pub ts: Option<String>,
}

/// permessage-deflate parameters in effect.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeflateReport {
    /// Server resets its context after each message.
    pub server_no_context_takeover: bool,
    /// Client resets its context after each message.
    pub client_no_context_takeover: bool,
    /// Server window bits.
    pub server_max_window_bits: u8,
    /// Client window bits.
    pub client_max_window_bits: u8,
}

/// The opening handshake.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct HandshakeReport {
    /// The request.
    pub request: RequestReport,
    /// The response, `null` when not captured.
    pub response: Option<ResponseReport>,
    /// Sec-WebSocket-Key.
    pub key: Option<String>,
    /// Sec-WebSocket-Accept as sent.
    pub accept: Option<String>,
    /// The accept value the key requires.
    pub expected_accept: Option<String>,
    /// `accept == expected_accept`.
    pub accept_valid: bool,
    /// Selected subprotocol.
    pub subprotocol: Option<String>,
    /// Accepted extensions, as written in the response (one string each).
    pub extensions: Vec<String>,
    /// permessage-deflate parameters, when negotiated.
    pub deflate: Option<DeflateReport>,
}

/// One message.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MessageReport {
    /// 1-based position within the session.
    pub index: u64,
    /// RFC 3339 UTC timestamp (microseconds) of the first frame.
    pub ts: String,
    /// Direction.
    pub dir: Direction,
    /// Type.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Number of frames.
    pub frames: u32,
    /// Payload length after inflation.
    pub len: u64,
    /// Payload bytes on the wire.
    pub wire_len: u64,
    /// Sent with permessage-deflate.
    pub compressed: bool,
    /// Payload (or its preview) when it is valid UTF-8 text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// Payload (or its preview) in base64 otherwise.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data_b64: Option<String>,
    /// The payload shown is shorter than `len` (preview mode, size cap, or missing bytes).
    pub truncated: bool,
    /// Bytes of the message are missing from the capture.
    pub incomplete: bool,
    /// Close code (close messages).
    pub close_code: Option<u16>,
    /// Close reason (close messages).
    pub close_reason: Option<String>,
    /// For pongs that answer a ping: round-trip time in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rtt_ms: Option<f64>,
}

/// A close frame.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CloseFrameReport {
    /// Status code (absent when the payload was empty).
    pub code: Option<u16>,
    /// Meaning of the code.
    pub meaning: Option<String>,
    /// Reason text.
    pub reason: String,
    /// When it was sent.
    pub ts: String,
}

/// How the session ended.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CloseReport {
    /// `closed` (close frames both ways), `abrupt` (TCP ended without both), `open` (capture
    /// ended first), `refused` (upgrade not accepted), `unanswered` (no response captured).
    pub state: String,
    /// Who sent the first close frame.
    pub initiator: Option<Direction>,
    /// The first close code sent (initiator's).
    pub code: Option<u16>,
    /// The first close reason sent.
    pub reason: Option<String>,
    /// Client's close frame.
    pub client: Option<CloseFrameReport>,
    /// Server's close frame.
    pub server: Option<CloseFrameReport>,
    /// How TCP ended: fin, rst, idle, end-of-capture, evicted.
    pub tcp: Option<String>,
    /// Side that sent the first FIN or the RST.
    pub tcp_closer: Option<Direction>,
    /// Both close frames and a TCP FIN.
    pub clean: bool,
    /// When the session ended.
    pub ts: String,
}

/// One finding.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FindingReport {
    /// Stable code (see README).
    pub code: String,
    /// Severity.
    pub severity: SeverityName,
    /// Session id, when the finding belongs to a session.
    pub session: Option<u64>,
    /// Direction concerned.
    pub dir: Option<Direction>,
    /// RFC 3339 timestamp of the packet that revealed it.
    pub ts: Option<String>,
    /// Human-readable detail.
    pub detail: String,
    /// Occurrences this finding stands for, when more than one: the finding that sums up the
    /// occurrences of a code past the first 100 of a session (or capture). Absent means 1.
    #[serde(skip_serializing_if = "is_one", default = "one")]
    pub count: u64,
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

fn one() -> u64 {
    1
}

/// Per-session counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct SessionStats {
    /// Messages client to server.
    pub messages_c2s: u64,
    /// Messages server to client.
    pub messages_s2c: u64,
    /// Payload bytes client to server (after inflation).
    pub bytes_c2s: u64,
    /// Payload bytes server to client (after inflation).
    pub bytes_s2c: u64,
}

/// One WebSocket session (or refused upgrade attempt).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SessionReport {
    /// Session id (unique within the report).
    pub id: u64,
    /// Capture file it came from.
    pub capture: String,
    /// Client endpoint.
    pub client: Endpoint,
    /// Server endpoint.
    pub server: Endpoint,
    /// Client/server roles were inferred (no SYN captured).
    pub roles_inferred: bool,
    /// How the TCP connection began in the capture: syn, syn-ack, midstream.
    pub tcp_began: String,
    /// First timestamp of the session.
    pub started: String,
    /// The opening handshake, `null` when not captured.
    pub handshake: Option<HandshakeReport>,
    /// Messages in order.
    pub messages: Vec<MessageReport>,
    /// How it ended.
    pub close: Option<CloseReport>,
    /// Findings of this session.
    pub findings: Vec<FindingReport>,
    /// Counters.
    pub stats: SessionStats,
}

/// One capture file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct CaptureReport {
    /// Path as given.
    pub path: String,
    /// pcap or pcapng.
    pub format: String,
    /// Link types (LINKTYPE_* numbers).
    pub linktypes: Vec<u32>,
    /// Packets read.
    pub packets: u64,
    /// Bytes of packet data read.
    pub bytes: u64,
    /// First packet.
    pub first_ts: Option<String>,
    /// Last packet.
    pub last_ts: Option<String>,
    /// TCP connections seen.
    pub tcp_flows: u64,
    /// Packets that were not IP/TCP or could not be decoded.
    pub non_tcp_packets: u64,
    /// Problems reading the file.
    pub warnings: Vec<String>,
}

/// Totals over the whole report.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Capture files read.
    pub captures: u64,
    /// Packets read.
    pub packets: u64,
    /// Bytes read.
    pub bytes: u64,
    /// TCP connections.
    pub tcp_flows: u64,
    /// Sessions (including refused and unanswered upgrades).
    pub sessions: u64,
    /// Sessions that upgraded to WebSocket.
    pub websocket_sessions: u64,
    /// Messages.
    pub messages: u64,
    /// Messages by type.
    pub messages_by_type: BTreeMap<String, u64>,
    /// Findings by severity.
    pub findings_by_severity: BTreeMap<String, u64>,
    /// Findings by code.
    pub findings_by_code: BTreeMap<String, u64>,
    /// Connections evicted from the full flow table.
    pub flows_evicted: u64,
}

/// The whole report (`--json`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Contract version.
    pub schema_version: u32,
    /// Producer.
    pub tool: ToolInfo,
    /// Capture files.
    pub captures: Vec<CaptureReport>,
    /// Sessions in order of their first packet... per capture.
    pub sessions: Vec<SessionReport>,
    /// Every finding (session findings too, with their session id).
    pub findings: Vec<FindingReport>,
    /// Totals.
    pub summary: Summary,
}

/// Producer name and version.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ToolInfo {
    /// `wsscope`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

impl ToolInfo {
    /// This build.
    pub fn current() -> Self {
        ToolInfo {
            name: "wsscope".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One TCP connection (`wsscope flows`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FlowReport {
    /// Flow number within its capture.
    pub id: u64,
    /// Capture file.
    pub capture: String,
    /// Client.
    pub client: Endpoint,
    /// Server.
    pub server: Endpoint,
    /// Roles inferred (no SYN).
    pub roles_inferred: bool,
    /// websocket, http or other.
    pub classification: String,
    /// syn, syn-ack, midstream.
    pub began: String,
    /// fin, rst, idle, end-of-capture, evicted.
    pub ended: String,
    /// First packet.
    pub first_ts: String,
    /// Last packet.
    pub last_ts: String,
    /// Packets client to server.
    pub packets_c2s: u64,
    /// Packets server to client.
    pub packets_s2c: u64,
    /// Payload bytes client to server (on the wire).
    pub bytes_c2s: u64,
    /// Payload bytes server to client (on the wire).
    pub bytes_s2c: u64,
    /// Retransmitted segments (both ways).
    pub retransmissions: u64,
    /// Gaps (both ways).
    pub gaps: u64,
    /// Bytes missing (both ways).
    pub gap_bytes: u64,
    /// Inconsistent overlaps (both ways).
    pub overlaps: u64,
}

/// `wsscope flows --json` document.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FlowsReport {
    /// Contract version.
    pub schema_version: u32,
    /// Connections in order of their end.
    pub flows: Vec<FlowReport>,
}

/// One NDJSON line (`--ndjson`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum NdjsonEvent {
    /// A session began (handshake known).
    SessionStart(SessionHeader),
    /// A message.
    Message(MessageEvent),
    /// A finding.
    Finding(FindingReport),
    /// A session ended.
    SessionEnd(SessionEndEvent),
    /// Totals, last line.
    Summary(SummaryEvent),
}

/// Session metadata without messages (NDJSON `session_start`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SessionHeader {
    /// Session id.
    pub session: u64,
    /// Capture file.
    pub capture: String,
    /// Client.
    pub client: Endpoint,
    /// Server.
    pub server: Endpoint,
    /// Roles inferred.
    pub roles_inferred: bool,
    /// How TCP began.
    pub tcp_began: String,
    /// First timestamp.
    pub started: String,
    /// Handshake.
    pub handshake: Option<HandshakeReport>,
}

/// NDJSON `message`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MessageEvent {
    /// Session id.
    pub session: u64,
    /// The message.
    #[serde(flatten)]
    pub message: MessageReport,
}

/// NDJSON `session_end`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SessionEndEvent {
    /// Session id.
    pub session: u64,
    /// How it ended.
    pub close: CloseReport,
    /// Counters.
    pub stats: SessionStats,
}

/// NDJSON `summary`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SummaryEvent {
    /// Contract version.
    pub schema_version: u32,
    /// Capture files.
    pub captures: Vec<CaptureReport>,
    /// Totals.
    pub summary: Summary,
}

fn version_string(minor: u8) -> String {
    format!("HTTP/1.{minor}")
}

fn header_pairs(headers: &[(String, String)]) -> Vec<[String; 2]> {
    headers
        .iter()
        .map(|(n, v)| [n.clone(), v.clone()])
        .collect()
}

fn render_extension(e: &Extension) -> String {
    let mut s = e.name.clone();
    for (k, v) in &e.params {
        s.push_str("; ");
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// Meaning of a close code (RFC 6455 7.4.1 and the IANA registry).
pub fn close_code_meaning(code: u16) -> &'static str {
    crate::ws::close_code::CloseCode(code).meaning()
}

/// Builds the session header from a start event.
pub fn session_header(s: &SessionStart, capture: &str) -> SessionHeader {
    let handshake = s.handshake.as_ref().map(|h| {
        let n = &h.negotiated;
        HandshakeReport {
            request: RequestReport {
                method: h.request.method.clone(),
                target: h.request.target.clone(),
                version: version_string(h.request.version_minor),
                headers: header_pairs(&h.request.headers),
                ts: h.request_ts.rfc3339(),
            },
            response: h.response.as_ref().map(|r| ResponseReport {
                status: r.status,
                reason: r.reason.clone(),
                version: version_string(r.version_minor),
                headers: header_pairs(&r.headers),
                ts: h.response_ts.map(|t| t.rfc3339()),
            }),
            key: n.key.clone().or_else(|| {
                crate::http::header(&h.request.headers, "sec-websocket-key").map(str::to_string)
            }),
            accept: n.accept.clone(),
            expected_accept: n.expected_accept.clone(),
            accept_valid: n.accept_valid,
            subprotocol: n.subprotocol.clone(),
            extensions: n.extensions.iter().map(render_extension).collect(),
            deflate: n.deflate.map(|d| DeflateReport {
                server_no_context_takeover: d.server_no_context_takeover,
                client_no_context_takeover: d.client_no_context_takeover,
                server_max_window_bits: d.server_max_window_bits,
                client_max_window_bits: d.client_max_window_bits,
            }),
        }
    });
    SessionHeader {
        session: s.id,
        capture: capture.to_string(),
        client: s.client.into(),
        server: s.server.into(),
        roles_inferred: s.roles_inferred,
        tcp_began: s.tcp_began.as_str().into(),
        started: s.ts.rfc3339(),
        handshake,
    }
}

/// The part of a message's payload a report shows, borrowed from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadShown<'a> {
    /// Payload mode `none`: no payload field.
    Nothing,
    /// Valid UTF-8 text (`text` field); a preview is cut at the last whole character.
    Text(&'a str),
    /// Anything else (`data_b64` field).
    Binary(&'a [u8]),
}

/// Decides what of `msg`'s payload is shown under `mode`, and whether that is less than the
/// whole message. Shared by the report builder and the NDJSON line writer so they agree.
pub fn payload_view(msg: &Message, mode: PayloadMode) -> (PayloadShown<'_>, bool) {
    let limit = match mode {
        PayloadMode::None => return (PayloadShown::Nothing, false),
        PayloadMode::Preview(n) => n,
        PayloadMode::Full => usize::MAX,
    };
    let shown = &msg.payload[..msg.payload.len().min(limit)];
    let text_ok = msg.kind == MessageKind::Text && msg.utf8_valid != Some(false);
    let view = match std::str::from_utf8(shown) {
        Ok(s) if text_ok => PayloadShown::Text(s),
        // A preview may end inside a character: cut at the last whole one.
        Err(e) if text_ok && e.error_len().is_none() => {
            let valid = &shown[..e.valid_up_to()];
            PayloadShown::Text(std::str::from_utf8(valid).unwrap_or_default())
        }
        _ => PayloadShown::Binary(shown),
    };
    let shown_len = match view {
        PayloadShown::Nothing => 0,
        PayloadShown::Text(s) => s.len(),
        PayloadShown::Binary(b) => b.len(),
    };
    (view, (shown_len as u64) < msg.len)
}

/// Builds a message report.
pub fn message_report(m: &SessionMessage, mode: PayloadMode) -> MessageReport {
    let msg = &m.message;
    let (shown, truncated) = payload_view(msg, mode);
    let (text, data_b64) = match shown {
        PayloadShown::Nothing => (None, None),
        PayloadShown::Text(s) => (Some(s.to_string()), None),
        PayloadShown::Binary(b) => (None, Some(STANDARD.encode(b))),
    };
    MessageReport {
        index: m.index,
        ts: msg.ts.rfc3339(),
        dir: msg.dir.into(),
        kind: msg.kind.into(),
        frames: msg.frames,
        len: msg.len,
        wire_len: msg.wire_len,
        compressed: msg.compressed,
        text,
        data_b64,
        truncated,
        incomplete: msg.incomplete,
        close_code: msg.close_code,
        close_reason: msg.close_reason.clone(),
        rtt_ms: m.rtt_nanos.map(rtt_ms),
    }
}

/// A round-trip time in nanoseconds as the reports' milliseconds.
pub fn rtt_ms(nanos: i64) -> f64 {
    nanos as f64 / 1e6
}

/// Builds a finding report.
pub fn finding_report(f: &Finding, session: Option<SessionId>) -> FindingReport {
    FindingReport {
        code: f.code.as_str().into(),
        severity: f.severity.into(),
        session,
        dir: f.dir.map(Into::into),
        ts: f.ts.map(|t| t.rfc3339()),
        detail: f.detail.clone(),
        count: f.count,
    }
}

fn close_frame_report(c: &CloseFrame) -> CloseFrameReport {
    CloseFrameReport {
        code: c.code,
        meaning: c.code.map(|c| close_code_meaning(c).to_string()),
        reason: c.reason.clone(),
        ts: c.ts.rfc3339(),
    }
}

/// Builds the close report of a session.
pub fn close_report(e: &SessionEnd, has_response: bool) -> CloseReport {
    let state = if !e.upgraded {
        if has_response {
            "refused"
        } else {
            "unanswered"
        }
    } else if e.client_close.is_some() && e.server_close.is_some() {
        "closed"
    } else if matches!(
        e.tcp_end,
        Some(crate::tcp::CloseReason::EndOfCapture) | None
    ) {
        "open"
    } else {
        "abrupt"
    };
    let first = match e.initiator {
        Some(Dir::ClientToServer) => e.client_close.as_ref(),
        Some(Dir::ServerToClient) => e.server_close.as_ref(),
        None => None,
    };
    CloseReport {
        state: state.into(),
        initiator: e.initiator.map(Into::into),
        code: first.and_then(|c| c.code),
        reason: first.map(|c| c.reason.clone()),
        client: e.client_close.as_ref().map(close_frame_report),
        server: e.server_close.as_ref().map(close_frame_report),
        tcp: e.tcp_end.map(|r| r.as_str().into()),
        tcp_closer: e.tcp_closer.map(Into::into),
        clean: e.clean,
        ts: e.ts.rfc3339(),
    }
}

/// Session counters from its end event.
pub fn session_stats(e: &SessionEnd) -> SessionStats {
    SessionStats {
        messages_c2s: e.messages[0],
        messages_s2c: e.messages[1],
        bytes_c2s: e.payload_bytes[0],
        bytes_s2c: e.payload_bytes[1],
    }
}

/// Builds a flow report.
pub fn flow_report(r: &FlowRecord, capture: &str) -> FlowReport {
    let s = &r.summary;
    FlowReport {
        id: s.id.0,
        capture: capture.into(),
        client: s.client.into(),
        server: s.server.into(),
        roles_inferred: s.roles_inferred,
        classification: r.classification.as_str().into(),
        began: s.began.as_str().into(),
        ended: s.ended.as_str().into(),
        first_ts: s.first_ts.rfc3339(),
        last_ts: s.last_ts.rfc3339(),
        packets_c2s: s.packets[0],
        packets_s2c: s.packets[1],
        bytes_c2s: s.wire_bytes[0],
        bytes_s2c: s.wire_bytes[1],
        retransmissions: s.retransmissions[0] + s.retransmissions[1],
        gaps: s.gaps[0] + s.gaps[1],
        gap_bytes: s.gap_bytes[0] + s.gap_bytes[1],
        overlaps: s.overlaps[0] + s.overlaps[1],
    }
}

/// JSON Schema of the report document.
pub fn report_schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Report)).unwrap_or_default()
}

/// JSON Schema of one NDJSON line.
pub fn events_schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(NdjsonEvent)).unwrap_or_default()
}

/// JSON Schema of the flows document.
pub fn flows_schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(FlowsReport)).unwrap_or_default()
}
