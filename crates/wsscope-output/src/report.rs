//! The JSON contract, version 2: report, NDJSON event and flows document types, built from
//! core's events, outcomes and totals.
//!
//! Field names and enum spellings here are a public contract (`schema_version` 2): fields may
//! be added, never renamed or removed within a version. Every closed set of values is an enum,
//! so the JSON Schema (`wsscope schema`, generated from these types and checked in as
//! `schema/*.schema.json`) lists the values. README's "JSON contract v2" lists the changes
//! from version 1.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use wsscope_core::analyzer::FlowRecord;
use wsscope_core::finding::{Code, Finding, Severity};
use wsscope_core::handshake::{DeflateParams, Extension};
use wsscope_core::outcome::{CloseCode, CloseCodeValidity, SessionOutcome};
use wsscope_core::session::{
    Classification, CloseFrame, ResponseBody, SessionEnd, SessionId, SessionMessage, SessionStart,
    Transport,
};
use wsscope_core::tcp::flow::Began;
use wsscope_core::tcp::{CloseReason, Dir};
use wsscope_core::timestamp::Timestamp;
use wsscope_core::tls::TlsInfo;
use wsscope_core::totals::{CaptureTotals, MessageCounts, RunTotals};
use wsscope_core::ws::message::{Message, MessageKind};

/// Version of this contract.
pub const SCHEMA_VERSION: u32 = 2;

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

/// Declares a contract enum: a closed set of kebab-case strings, with its conversion from the
/// core type it renders (an exhaustive match, so a new core variant does not compile until it
/// is given a name here).
macro_rules! contract_enum {
    (
        $(#[$meta:meta])*
        $name:ident from $core:ty {
            $( $(#[$vdoc:meta])* $variant:ident = $text:literal <= $core_pat:pat, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            /// The name used in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                match v { $( $core_pat => $name::$variant, )* }
            }
        }
    };
}

contract_enum! {
    /// Direction.
    Direction from Dir {
        /// Client to server.
        C2s = "c2s" <= Dir::ClientToServer,
        /// Server to client.
        S2c = "s2c" <= Dir::ServerToClient,
    }
}

contract_enum! {
    /// Message type.
    MessageType from MessageKind {
        /// Text message.
        Text = "text" <= MessageKind::Text,
        /// Binary message.
        Binary = "binary" <= MessageKind::Binary,
        /// Ping.
        Ping = "ping" <= MessageKind::Ping,
        /// Pong.
        Pong = "pong" <= MessageKind::Pong,
        /// Close.
        Close = "close" <= MessageKind::Close,
    }
}

contract_enum! {
    /// Finding severity.
    SeverityName from Severity {
        /// Informational.
        Info = "info" <= Severity::Info,
        /// Warning.
        Warning = "warning" <= Severity::Warning,
        /// Error.
        Error = "error" <= Severity::Error,
    }
}

contract_enum! {
    /// How the TCP connection began in the capture.
    TcpBegan from Began {
        /// The client's SYN was captured.
        Syn = "syn" <= Began::Syn,
        /// Only the server's SYN-ACK was captured.
        SynAck = "syn-ack" <= Began::SynAck,
        /// No SYN: the capture started while the connection was open.
        Midstream = "midstream" <= Began::Midstream,
    }
}

contract_enum! {
    /// How the TCP connection ended (or stopped being tracked).
    TcpEnd from CloseReason {
        /// FIN.
        Fin = "fin" <= CloseReason::Fin,
        /// RST.
        Rst = "rst" <= CloseReason::Rst,
        /// No packet for the idle timeout.
        Idle = "idle" <= CloseReason::Idle,
        /// The capture ended with the connection open.
        EndOfCapture = "end-of-capture" <= CloseReason::EndOfCapture,
        /// Evicted from the full flow table.
        Evicted = "evicted" <= CloseReason::Evicted,
    }
}

contract_enum! {
    /// What a TCP connection carried.
    FlowClassification from Classification {
        /// A WebSocket session.
        Websocket = "websocket" <= Classification::WebSocket,
        /// HTTP without an upgrade to WebSocket.
        Http = "http" <= Classification::Http,
        /// HTTP/2 without a WebSocket stream.
        Http2 = "http2" <= Classification::Http2,
        /// TLS that was not decrypted (no key, or decryption failed).
        Tls = "tls" <= Classification::Tls,
        /// Anything else.
        Other = "other" <= Classification::Other,
    }
}

contract_enum! {
    /// How a session ended.
    CloseState from SessionOutcome {
        /// Close frames both ways.
        Closed = "closed" <= SessionOutcome::Closed { .. },
        /// TCP ended without close frames both ways.
        Abrupt = "abrupt" <= SessionOutcome::Abrupt(_),
        /// The capture ended first.
        Open = "open" <= SessionOutcome::Open,
        /// The upgrade was not accepted.
        Refused = "refused" <= SessionOutcome::Refused { .. },
        /// No response was captured.
        Unanswered = "unanswered" <= SessionOutcome::Unanswered,
    }
}

contract_enum! {
    /// Whether a close code may be sent (RFC 6455 7.4 and the IANA registry).
    CloseCodeStatus from CloseCodeValidity {
        /// Defined, or in the ranges open to libraries (3000-3999) and applications (4000-4999).
        Valid = "valid" <= CloseCodeValidity::Valid,
        /// Reserved so that it is never sent (1004, 1005, 1006, 1015).
        Reserved = "reserved" <= CloseCodeValidity::Reserved,
        /// Not assigned.
        Unassigned = "unassigned" <= CloseCodeValidity::Unassigned,
    }
}

/// Container format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CaptureFormat {
    /// libpcap.
    #[serde(rename = "pcap")]
    Pcap,
    /// pcapng.
    #[serde(rename = "pcapng")]
    Pcapng,
    /// A live interface.
    #[serde(rename = "live")]
    Live,
}

impl CaptureFormat {
    /// The format of a capture from core's name for it.
    fn of(name: &str) -> Self {
        match name {
            "pcapng" => CaptureFormat::Pcapng,
            "live" => CaptureFormat::Live,
            _ => CaptureFormat::Pcap,
        }
    }
}

/// A finding code: one of core's stable codes, written by name. The schema lists them all.
/// Ordered by name, so `findings_by_code` lists codes alphabetically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FindingCode(pub Code);

impl Ord for FindingCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_str().cmp(other.0.as_str())
    }
}

impl PartialOrd for FindingCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for FindingCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for FindingCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Code::parse(&name)
            .map(FindingCode)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown finding code {name}")))
    }
}

impl JsonSchema for FindingCode {
    fn schema_name() -> Cow<'static, str> {
        "FindingCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        json_schema!({
            "description": "Stable finding code (see README and `wsscope codes`).",
            "type": "string",
            "enum": names,
        })
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
    /// A response refusing the upgrade: the first 1 KiB of its body as text (bytes that are not
    /// UTF-8 become U+FFFD; a chunked body keeps its chunk-size lines). Absent when no body
    /// was seen, and in the NDJSON `session_start` (the body comes after it: see
    /// `session_end`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<String>,
    /// Body bytes seen in all (more than `body` holds when the body is over 1 KiB).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body_len: Option<u64>,
}

/// permessage-deflate parameters in effect.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
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
    /// `accept == expected_accept`; `null` for an HTTP/2 stream (RFC 8441 uses no key and no
    /// accept).
    pub accept_valid: Option<bool>,
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
    /// The message was compressed and did not inflate: it has no payload to show, which does
    /// not mean it was empty. Always written; optional when read (added within version 2).
    #[serde(default)]
    pub inflate_failed: bool,
    /// Why it did not inflate, in words (absent when it did).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub inflate_error: Option<String>,
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
    /// Number of the capture packet that delivered the message's first byte, 1-based within
    /// its capture file as Wireshark numbers frames (`frame.number`).
    pub first_packet: u64,
    /// Number of the capture packet that delivered its last byte (for a message cut short,
    /// the last byte captured).
    pub last_packet: u64,
}

/// A close frame.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CloseFrameReport {
    /// Status code (absent when the payload was empty).
    pub code: Option<u16>,
    /// Meaning of the code.
    pub meaning: Option<String>,
    /// Whether the code may be sent at all.
    pub code_status: Option<CloseCodeStatus>,
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
    pub state: CloseState,
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
    /// How TCP ended.
    pub tcp: Option<TcpEnd>,
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
    pub code: FindingCode,
    /// Severity.
    pub severity: SeverityName,
    /// Session id, when the finding belongs to a session.
    pub session: Option<u64>,
    /// Direction concerned.
    pub dir: Option<Direction>,
    /// RFC 3339 timestamp of the packet that revealed it.
    pub ts: Option<String>,
    /// Number of the capture packet that revealed it, 1-based within its capture file as
    /// Wireshark numbers frames; `null` when the end of the capture revealed it or it concerns
    /// the capture itself.
    pub packet: Option<u64>,
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
    /// Messages (control frames included) client to server.
    pub messages_c2s: u64,
    /// Messages (control frames included) server to client.
    pub messages_s2c: u64,
    /// Payload bytes client to server (after inflation).
    pub bytes_c2s: u64,
    /// Payload bytes server to client (after inflation).
    pub bytes_s2c: u64,
}

/// Who talked to whom and how the session began: shared by the report's sessions and the
/// NDJSON `session_start` line.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// Capture file it came from.
    pub capture: String,
    /// Client endpoint.
    pub client: Endpoint,
    /// Server endpoint.
    pub server: Endpoint,
    /// Community ID v1 of the TCP connection (`1:` + base64 of a SHA-1), to find it in Zeek,
    /// Suricata or Wireshark.
    pub community_id: String,
    /// Client/server roles were inferred (no SYN captured).
    pub roles_inferred: bool,
    /// How the TCP connection began in the capture.
    pub tcp_began: TcpBegan,
    /// First timestamp of the session.
    pub started: String,
    /// The opening handshake, `null` when not captured.
    pub handshake: Option<HandshakeReport>,
    /// What carries the session: `http1` (an HTTP/1.1 upgrade: the whole connection) or `h2`
    /// (an RFC 8441 extended CONNECT: one HTTP/2 stream).
    pub transport: TransportName,
    /// The HTTP/2 stream id (`transport: "h2"`), else `null`.
    pub stream_id: Option<u32>,
    /// The TLS connection the session was decrypted from (`wss://`), `null` for cleartext.
    pub tls: Option<TlsReport>,
}

/// What a TLS handshake showed (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TlsReport {
    /// Negotiated version (`TLS 1.3`, `TLS 1.2`, or `0x....` when unknown); `null` when the
    /// ServerHello was not captured.
    pub version: Option<String>,
    /// Negotiated cipher suite, by its IANA name (`TLS_AES_128_GCM_SHA256`, or `0x....` when
    /// not listed); `null` when the ServerHello was not captured.
    pub cipher_suite: Option<String>,
    /// Server name (SNI) the client asked for.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in its order.
    pub alpn_offered: Vec<String>,
    /// ALPN protocol the server selected (TLS 1.3: known only when the handshake was
    /// decrypted).
    pub alpn: Option<String>,
    /// The handshake resumed an earlier session (TLS 1.3 PSK, TLS 1.2 session id or ticket).
    pub resumed: bool,
    /// Application data was decrypted.
    pub decrypted: bool,
}

impl From<&TlsInfo> for TlsReport {
    fn from(t: &TlsInfo) -> Self {
        TlsReport {
            version: t.version.map(|v| {
                wsscope_core::tls::info::version_name(v)
                    .map_or_else(|| format!("0x{v:04x}"), str::to_string)
            }),
            cipher_suite: t.cipher_suite.map(|c| {
                wsscope_core::tls::info::cipher_suite_name(c)
                    .map_or_else(|| format!("0x{c:04x}"), str::to_string)
            }),
            sni: t.sni.clone(),
            alpn_offered: t.alpn_offered.clone(),
            alpn: t.alpn.clone(),
            resumed: t.resumed,
            decrypted: t.decrypted,
        }
    }
}

/// What carries a WebSocket session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TransportName {
    /// An HTTP/1.1 upgrade (101): the session is the whole TCP or TLS connection.
    #[serde(rename = "http1")]
    Http1,
    /// An HTTP/2 extended CONNECT (RFC 8441): the session is one stream.
    #[serde(rename = "h2")]
    H2,
}

/// One WebSocket session (or refused upgrade attempt).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SessionReport {
    /// Session id (unique within the report).
    pub id: u64,
    /// Endpoints, community ID, handshake.
    #[serde(flatten)]
    pub info: SessionInfo,
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
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CaptureReport {
    /// Path as given (or the interface name).
    pub path: String,
    /// Container format.
    pub format: CaptureFormat,
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

impl From<&CaptureTotals> for CaptureReport {
    fn from(c: &CaptureTotals) -> Self {
        CaptureReport {
            path: c.path.clone(),
            format: CaptureFormat::of(&c.format),
            linktypes: c.linktypes.clone(),
            packets: c.packets,
            bytes: c.bytes,
            first_ts: c.first_ts.map(Timestamp::rfc3339),
            last_ts: c.last_ts.map(Timestamp::rfc3339),
            tcp_flows: c.tcp_flows,
            non_tcp_packets: c.non_tcp_packets,
            warnings: c.warnings.clone(),
        }
    }
}

/// The captures' entries of a report.
pub fn capture_reports(captures: &[CaptureTotals]) -> Vec<CaptureReport> {
    captures.iter().map(CaptureReport::from).collect()
}

/// Messages and control frames by type (every type present, 0 when none).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct MessagesByType {
    /// Text messages.
    pub text: u64,
    /// Binary messages.
    pub binary: u64,
    /// Ping frames.
    pub ping: u64,
    /// Pong frames.
    pub pong: u64,
    /// Close frames.
    pub close: u64,
}

/// Findings by severity (every severity present, 0 when none).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct FindingsBySeverity {
    /// Informational.
    pub info: u64,
    /// Warnings.
    pub warning: u64,
    /// Errors.
    pub error: u64,
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
    /// Data messages (text and binary).
    pub data_messages: u64,
    /// Control frames (ping, pong and close).
    pub control_frames: u64,
    /// Messages and control frames by type.
    pub messages_by_type: MessagesByType,
    /// Findings by severity.
    pub findings_by_severity: FindingsBySeverity,
    /// Findings by code (codes seen only).
    pub findings_by_code: BTreeMap<FindingCode, u64>,
    /// Connections evicted from the full flow table.
    pub flows_evicted: u64,
}

impl From<&RunTotals> for Summary {
    fn from(t: &RunTotals) -> Self {
        let MessageCounts {
            text,
            binary,
            ping,
            pong,
            close,
        } = t.messages;
        Summary {
            captures: t.captures,
            packets: t.packets,
            bytes: t.bytes,
            tcp_flows: t.tcp_flows,
            sessions: t.sessions,
            websocket_sessions: t.websocket_sessions,
            data_messages: t.messages.data(),
            control_frames: t.messages.control(),
            messages_by_type: MessagesByType {
                text,
                binary,
                ping,
                pong,
                close,
            },
            findings_by_severity: FindingsBySeverity {
                info: t.findings_of(Severity::Info),
                warning: t.findings_of(Severity::Warning),
                error: t.findings_of(Severity::Error),
            },
            findings_by_code: (t.findings_by_code.iter())
                .map(|(&code, &n)| (FindingCode(code), n))
                .collect(),
            flows_evicted: t.flows_evicted,
        }
    }
}

/// The whole report (`--json`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Contract version: 2.
    #[schemars(extend("const" = 2))]
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
    /// Community ID v1 of the connection.
    pub community_id: String,
    /// Roles inferred (no SYN).
    pub roles_inferred: bool,
    /// What the connection carried.
    pub classification: FlowClassification,
    /// How it began in the capture.
    pub began: TcpBegan,
    /// How it ended.
    pub ended: TcpEnd,
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
    /// What the TLS handshake showed when the connection is TLS (even when not decrypted),
    /// else `null`.
    pub tls: Option<TlsReport>,
}

/// `wsscope flows --json` document.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FlowsReport {
    /// Contract version: 2.
    #[schemars(extend("const" = 2))]
    pub schema_version: u32,
    /// Connections in order of their end.
    pub flows: Vec<FlowReport>,
}

/// One NDJSON line (`--ndjson`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum NdjsonEvent {
    /// A session began (handshake known).
    SessionStart(Box<SessionHeader>),
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
    /// Endpoints, community ID, handshake.
    #[serde(flatten)]
    pub info: SessionInfo,
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
    /// The body of the response that refused the upgrade, as `handshake.response.body` in
    /// the report (it follows the response head, so `session_start` does not have it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub response_body: Option<String>,
    /// Its length in bytes seen, as `handshake.response.body_len` in the report.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub response_body_len: Option<u64>,
}

/// The text preview of a refused upgrade's response body: lossy UTF-8 of the bytes kept.
pub fn response_body_text(body: &ResponseBody) -> String {
    String::from_utf8_lossy(&body.bytes).into_owned()
}

/// NDJSON `summary`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SummaryEvent {
    /// Contract version: 2.
    #[schemars(extend("const" = 2))]
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

/// An accepted extension as written in a response: `name; param=value; flag`.
pub fn render_extension(e: &Extension) -> String {
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

impl From<DeflateParams> for DeflateReport {
    fn from(d: DeflateParams) -> Self {
        DeflateReport {
            server_no_context_takeover: d.server_no_context_takeover,
            client_no_context_takeover: d.client_no_context_takeover,
            server_max_window_bits: d.server_max_window_bits,
            client_max_window_bits: d.client_max_window_bits,
        }
    }
}

/// Endpoints, community ID and handshake of a session from its start event.
pub fn session_info(s: &SessionStart, capture: &str) -> SessionInfo {
    let h2 = matches!(s.transport, Transport::H2 { .. });
    let version_string = |minor: u8| {
        if h2 {
            "HTTP/2".to_string()
        } else {
            version_string(minor)
        }
    };
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
                body: None,
                body_len: None,
            }),
            key: n.key.clone().or_else(|| {
                wsscope_core::http::header(&h.request.headers, "sec-websocket-key")
                    .map(str::to_string)
            }),
            accept: n.accept.clone(),
            expected_accept: n.expected_accept.clone(),
            accept_valid: match s.transport {
                Transport::Http1 => Some(n.accept_valid),
                Transport::H2 { .. } => None,
            },
            subprotocol: n.subprotocol.clone(),
            extensions: n.extensions.iter().map(render_extension).collect(),
            deflate: n.deflate.map(DeflateReport::from),
        }
    });
    SessionInfo {
        capture: capture.to_string(),
        client: s.client.into(),
        server: s.server.into(),
        community_id: wsscope_core::community_id::tcp(s.client, s.server),
        roles_inferred: s.roles_inferred,
        tcp_began: s.tcp_began.into(),
        started: s.ts.rfc3339(),
        handshake,
        transport: match s.transport {
            Transport::Http1 => TransportName::Http1,
            Transport::H2 { .. } => TransportName::H2,
        },
        stream_id: match s.transport {
            Transport::Http1 => None,
            Transport::H2 { stream_id } => Some(stream_id),
        },
        tls: s.tls.as_deref().map(TlsReport::from),
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
        inflate_failed: msg.inflate_error.is_some(),
        inflate_error: msg.inflate_error.as_ref().map(ToString::to_string),
        text,
        data_b64,
        truncated,
        incomplete: msg.incomplete,
        close_code: msg.close_code,
        close_reason: msg.close_reason.clone(),
        rtt_ms: m.rtt_nanos.map(rtt_ms),
        first_packet: m.first_packet,
        last_packet: m.last_packet,
    }
}

/// A round-trip time in nanoseconds as the reports' milliseconds.
pub fn rtt_ms(nanos: i64) -> f64 {
    nanos as f64 / 1e6
}

/// Builds a finding report.
pub fn finding_report(f: &Finding, session: Option<SessionId>) -> FindingReport {
    FindingReport {
        code: FindingCode(f.code),
        severity: f.severity.into(),
        session,
        dir: f.dir.map(Into::into),
        ts: f.ts.map(|t| t.rfc3339()),
        packet: f.packet,
        detail: f.detail.clone(),
        count: f.count,
    }
}

fn close_frame_report(c: &CloseFrame) -> CloseFrameReport {
    CloseFrameReport {
        code: c.code,
        meaning: c.code.map(|c| CloseCode(c).meaning().to_string()),
        code_status: c.code.map(|c| CloseCode(c).validity().into()),
        reason: c.reason.clone(),
        ts: c.ts.rfc3339(),
    }
}

/// Renders the close of a session: its [`SessionOutcome`] (decided by core from the end event
/// and the status of the upgrade response, `None` when no response was captured) and its
/// close frames.
pub fn close_report(e: &SessionEnd, response_status: Option<u16>) -> CloseReport {
    let outcome = SessionOutcome::of(e, response_status);
    let first = match e.initiator {
        Some(Dir::ClientToServer) => e.client_close.as_ref(),
        Some(Dir::ServerToClient) => e.server_close.as_ref(),
        None => None,
    };
    CloseReport {
        state: outcome.into(),
        initiator: e.initiator.map(Into::into),
        code: first.and_then(|c| c.code),
        reason: first.map(|c| c.reason.clone()),
        client: e.client_close.as_ref().map(close_frame_report),
        server: e.server_close.as_ref().map(close_frame_report),
        tcp: e.tcp_end.map(Into::into),
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
        community_id: wsscope_core::community_id::tcp(s.client, s.server),
        roles_inferred: s.roles_inferred,
        classification: r.classification.into(),
        began: s.began.into(),
        ended: s.ended.into(),
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
        tls: r.tls.as_deref().map(TlsReport::from),
    }
}

fn schema_text(schema: Schema) -> String {
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// JSON Schema of the report document.
pub fn report_schema() -> String {
    schema_text(schemars::schema_for!(Report))
}

/// JSON Schema of one NDJSON line.
pub fn events_schema() -> String {
    schema_text(schemars::schema_for!(NdjsonEvent))
}

/// JSON Schema of the flows document.
pub fn flows_schema() -> String {
    schema_text(schemars::schema_for!(FlowsReport))
}
