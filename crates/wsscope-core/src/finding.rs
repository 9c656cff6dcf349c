//! Findings: protocol violations and notable events, each with a stable code that CI users
//! name in `--fail-on`. Codes are never renamed; new ones may be added.

use crate::tcp::Dir;
use crate::timestamp::Timestamp;
use std::collections::HashMap;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; not a violation.
    Info,
    /// Suspicious or lossy, possibly harmless.
    Warning,
    /// A protocol violation or a failure to decode.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// Parses `info`, `warning` or `error`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $sev:ident, $summary:literal; )*) => {
        /// Stable finding codes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable kebab-case name.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// Default severity.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// One-line description for documentation and `--help`.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }

            /// Looks a code up by its name.
            pub fn parse(s: &str) -> Option<Code> {
                match s { $($name => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// The server answered the upgrade request with a status other than 101.
    UpgradeRejected = "upgrade-rejected", Warning, "The server answered the upgrade with a status other than 101 Switching Protocols.";
    /// Sec-WebSocket-Accept differs from base64(sha1(key + GUID)).
    AcceptMismatch = "accept-mismatch", Error, "Sec-WebSocket-Accept is not base64(SHA-1(key + GUID)); the detail names the expected value and the known mistake that explains it.";
    /// The 101 response has no Sec-WebSocket-Accept.
    AcceptMissing = "accept-missing", Error, "The 101 response has no Sec-WebSocket-Accept header.";
    /// Sec-WebSocket-Key missing or not base64 of 16 bytes.
    KeyInvalid = "key-invalid", Error, "Sec-WebSocket-Key is missing, repeated, or not the base64 encoding of 16 bytes.";
    /// Sec-WebSocket-Version is not 13.
    VersionUnsupported = "version-unsupported", Error, "Sec-WebSocket-Version is missing or not 13.";
    /// The upgrade request method is not GET.
    MethodNotGet = "method-not-get", Error, "The upgrade request method is not GET (or the request is not HTTP/1.1 or later).";
    /// Upgrade: websocket missing from request or response.
    UpgradeHeaderMissing = "upgrade-header-missing", Error, "The request or the 101 response lacks `Upgrade: websocket` (also: a 101 answering a request that did not ask for WebSocket, e.g. h2c).";
    /// Connection: Upgrade missing from request or response.
    ConnectionHeaderMissing = "connection-header-missing", Error, "The request or the 101 response lacks `Connection: Upgrade`.";
    /// Host header missing.
    HostMissing = "host-missing", Error, "The upgrade request has no Host header.";
    /// Origin header missing (non-browser client, or a proxy stripped it).
    OriginMissing = "origin-missing", Info, "The upgrade request has no Origin header (normal for non-browser clients; browsers always send it).";
    /// The server selected a subprotocol the client did not offer.
    SubprotocolNotOffered = "subprotocol-not-offered", Error, "The server selected a Sec-WebSocket-Protocol the client did not offer (or several).";
    /// The server accepted an extension the client did not offer.
    ExtensionNotOffered = "extension-not-offered", Error, "The server accepted an extension (or parameter) the client did not offer.";
    /// Handshake detail worth noting: legacy headers, non-standard reason phrase.
    HandshakeNote = "handshake-note", Info, "Legal but unusual handshake detail: legacy hixie-76 headers, a non-standard reason phrase, frames sent before the 101.";
    /// A client frame without the MASK bit.
    UnmaskedClientFrame = "unmasked-client-frame", Error, "A client-to-server frame is not masked (RFC 6455 5.1; the server must close with 1002).";
    /// A server frame with the MASK bit.
    MaskedServerFrame = "masked-server-frame", Error, "A server-to-client frame is masked (RFC 6455 5.1).";
    /// RSV bits set without a negotiated extension that defines them.
    RsvBitsWithoutExtension = "rsv-bits-without-extension", Error, "RSV1/2/3 set without a negotiated extension defining them (or RSV1 on a continuation or control frame).";
    /// Opcode 3-7 or 11-15.
    ReservedOpcode = "reserved-opcode", Error, "A frame uses a reserved opcode (3-7 or 11-15).";
    /// Control frame payload over 125 bytes.
    ControlFrameTooLong = "control-frame-too-long", Error, "A ping, pong or close frame carries more than 125 bytes.";
    /// Control frame with FIN=0.
    FragmentedControlFrame = "fragmented-control-frame", Error, "A control frame has FIN=0.";
    /// Continuation frame with no message in progress.
    UnexpectedContinuation = "unexpected-continuation", Error, "A continuation frame arrived with no fragmented message in progress.";
    /// New text/binary frame while a fragmented message is in progress.
    InterleavedDataFrame = "interleaved-data-frame", Error, "A new text or binary frame started while a fragmented message was still in progress.";
    /// Length encoded with more bytes than needed.
    NonMinimalLength = "non-minimal-length", Warning, "A payload length is encoded with more bytes than needed (RFC 6455 5.2 requires the minimal form).";
    /// 64-bit length with the most significant bit set.
    LengthMsbSet = "length-msb-set", Error, "A 64-bit payload length has its most significant bit set.";
    /// Close payload of 1 byte or with an invalid UTF-8 reason.
    InvalidClosePayload = "invalid-close-payload", Error, "A close frame payload is 1 byte long or its reason is not valid UTF-8.";
    /// Close code that may not be sent.
    InvalidCloseCode = "invalid-close-code", Error, "A close frame carries a code that must not be sent (below 1000, 1004-1006, 1015, 1016-2999, 5000+).";
    /// Text message that is not valid UTF-8.
    InvalidUtf8 = "invalid-utf8", Error, "A text message is not valid UTF-8.";
    /// Frames after this side sent its close frame.
    DataAfterClose = "data-after-close", Error, "A side sent frames after its own close frame.";
    /// permessage-deflate payload that does not inflate.
    DecompressionFailed = "decompression-failed", Error, "A compressed message does not inflate (corrupt data, lost context, or RSV1 without the extension).";
    /// Message over the analyzer's size cap.
    MessageTooLarge = "message-too-large", Warning, "A message (after inflation) exceeds --max-message-size; the rest was counted but not kept or decoded.";
    /// The stream ended inside a message (TCP reset, FIN or end of capture).
    MessageIncomplete = "message-incomplete", Warning, "The connection ended (TCP reset, FIN, end of capture) inside a message: bytes its frame header declared never arrived (they are not counted in its size), or its final fragment never came.";
    /// Bytes missing from the capture.
    TcpGap = "tcp-gap", Warning, "Bytes of the stream are missing from the capture (packet loss in capture, or snaplen).";
    /// A retransmission carried different bytes.
    TcpOverlapInconsistent = "tcp-overlap-inconsistent", Warning, "A TCP retransmission carried different bytes than the first copy (possible evasion attempt).";
    /// A segment a receiving host would drop.
    TcpSegmentIgnored = "tcp-segment-ignored", Warning, "A TCP segment a receiving host drops (data without ACK, data inside a RST, a RST outside the receive window, an IPv4 total length shorter than the header) was not used; the detail says why (possible evasion attempt).";
    /// Bytes skipped to find the next frame header after a gap.
    ResyncSkippedBytes = "resync-skipped-bytes", Warning, "After a gap inside a frame header, bytes were skipped to find the next frame.";
    /// TCP closed or reset without a close handshake.
    AbruptClose = "abrupt-close", Warning, "The TCP connection ended (FIN or RST) with no close frame from either side (browsers report code 1006).";
    /// Only one side sent a close frame.
    CloseHandshakeIncomplete = "close-handshake-incomplete", Warning, "Only one side sent a close frame before the connection ended.";
    /// A session went quiet for about a proxy's idle timeout and then died.
    IdleTimeoutSuspected = "idle-timeout-suspected", Warning, "The session was silent for 55-65 s (or a multiple) before it ended: typical of a proxy idle timeout such as nginx's 60 s proxy_read_timeout.";
    /// An HTTP head of the upgrade exceeded a parsing limit; what was skipped is named.
    HttpLimitExceeded = "http-limit-exceeded", Warning, "An upgrade request or its response exceeded a parsing limit (128 headers, a 64 KiB head); the detail names what was not read. The session is still reported and decoded.";
    /// The HTTP parser rejected the upgrade request; it was read leniently.
    HandshakeUnparsed = "handshake-unparsed", Warning, "The upgrade request or its response is not valid HTTP (e.g. a request target that is not UTF-8, a lower-case status line); it was read leniently and the session is still reported and decoded.";
    /// Traffic decoded as WebSocket without a captured handshake.
    HandshakeNotSeen = "handshake-not-seen", Warning, "WebSocket frames were decoded on a connection whose upgrade handshake was not (fully) captured: joined mid-stream, or the request or the 101 is missing from the capture; extensions are unknown unless the 101 was seen.";
    /// The capture file ends inside a record or has a malformed record.
    CaptureTruncated = "capture-truncated", Warning, "The capture could not be read in full: it ends inside a record, a record is malformed or over 256 MiB, or the file shrank or a read error occurred while it was read (everything before was analysed); also used for packets naming an undescribed pcapng interface (those packets are skipped), and for a live capture's packets dropped by the kernel or by wsscope's packet buffer (the analysis fell behind) or a capture error that ended it.";
    /// The flow table was full and connections were dropped.
    FlowEvicted = "flow-evicted", Warning, "The flow table was full; the least active connections were closed early.";
    /// IP fragments overlapped with different bytes.
    IpFragmentOverlapInconsistent = "ip-fragment-overlap-inconsistent", Warning, "Overlapping IP fragments carried different bytes for the same offsets; the first copy was used (possible evasion attempt).";
    /// The fragment table dropped incomplete datagrams.
    FragmentsDropped = "fragments-dropped", Warning, "The IP fragment table was full (or a datagram came in too many pieces); incomplete datagrams were dropped and the TCP segments they carried are lost.";
    /// Packets were cut by the snaplen.
    SnaplenTruncated = "snaplen-truncated", Warning, "Packets were cut by the capture's snaplen: their TCP payload is missing (a cut handshake cannot be followed). Capture with a larger snaplen (tcpdump -s 0).";
    /// The memory budget was reached and payload of this session was not kept.
    PayloadBudgetExceeded = "payload-budget-exceeded", Warning, "The memory budget (--max-memory) was reached: payloads of the least active sessions were dropped from the report or the terminal UI (the detail says how many messages and bytes); lengths, counts and findings are complete.";
    /// The memory budget was reached and the analysis gave up data it was holding.
    MemoryBudgetExceeded = "memory-budget-exceeded", Warning, "The memory budget (--max-memory) was reached while the analysis held data: out-of-order TCP data was given up (the hole in front of it reported as a gap at once), or a message being assembled kept no more payload (its length, UTF-8 check and findings are complete); the detail says which and how much.";
    /// A TLS connection (or one direction of it) could not be decrypted.
    TlsNotDecrypted = "tls-not-decrypted", Warning, "A TLS connection was not decrypted: no key for its client random in the key logs (--tls-keylog, SSLKEYLOGFILE, pcapng secrets), an unsupported version or cipher suite, or its handshake was not captured; the detail names the connection, the server name and what to fix. Its WebSocket sessions, if any, are not seen.";
    /// A TLS record failed authentication.
    TlsDecryptFailed = "tls-decrypt-failed", Error, "A TLS record did not authenticate with the logged key (a key for another connection, a corrupt capture or key log): decoding of that direction stopped at that record.";
    /// A TLS fatal alert.
    TlsAlert = "tls-alert", Warning, "A side sent a fatal TLS alert (the detail names it, e.g. handshake_failure, bad_record_mac): the TLS connection failed.";
    /// An HTTP/2 frame or header block could not be decoded.
    H2ProtocolError = "h2-protocol-error", Error, "An HTTP/2 frame or header block is malformed (frame size, stream id, HPACK, pseudo-headers, :status): decoding of that direction stopped, or that stream was ignored; the detail names the frame and the rule.";
    /// Extended CONNECT without the server's permission.
    H2ConnectNotEnabled = "h2-connect-not-enabled", Error, "A WebSocket extended CONNECT (RFC 8441) was sent before or without the server's SETTINGS_ENABLE_CONNECT_PROTOCOL=1.";
    /// A header RFC 8441 does not use.
    H2WebSocketFieldUnused = "h2-websocket-field-unused", Warning, "An RFC 8441 WebSocket stream carries Sec-WebSocket-Key or Sec-WebSocket-Accept, which WebSockets over HTTP/2 do not use (a client or proxy that mixes HTTP/1.1 and HTTP/2 handshakes).";
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// Severity (the code's default unless stated).
    pub severity: Severity,
    /// Direction concerned, if any.
    pub dir: Option<Dir>,
    /// Timestamp of the packet that revealed it.
    pub ts: Option<Timestamp>,
    /// Number of the capture packet that revealed it, 1-based as Wireshark numbers frames:
    /// for a finding about frame or message bytes or a TCP retransmission, the packet that
    /// carried those bytes (for one about a whole message, the packet of its first byte); for
    /// any other, the packet whose stream bytes (or, without bytes, whose arrival: a FIN, a
    /// RST) revealed it, so a handshake finding about the request points at the packet that
    /// completed the exchange. `None` when no packet did: the end of the capture revealed it,
    /// or it concerns the capture itself.
    pub packet: Option<u64>,
    /// Human-readable detail.
    pub detail: String,
    /// Occurrences this finding stands for: 1, or more for the line that sums up the
    /// occurrences of a code past the first [`REPEATS_LISTED`] (see [`Repeats`]).
    pub count: u64,
}

impl Finding {
    /// A finding with the code's default severity.
    pub fn new(
        code: Code,
        dir: Option<Dir>,
        ts: Option<Timestamp>,
        detail: impl Into<String>,
    ) -> Self {
        Finding {
            code,
            severity: code.severity(),
            dir,
            ts,
            packet: None,
            detail: detail.into(),
            count: 1,
        }
    }

    /// The same finding, revealed by packet number `packet` (see [`Finding::packet`]).
    pub fn at_packet(mut self, packet: Option<u64>) -> Self {
        self.packet = packet;
        self
    }
}

/// Findings of one code listed one by one per session (and per capture for findings outside
/// sessions); further occurrences are counted and reported as one finding whose `count` is
/// their number ("and 999,900 more tcp-gap findings ...") when the session (or capture) ends.
/// Bounds what every output holds for a session however hostile its traffic.
pub const REPEATS_LISTED: u64 = 100;

/// Counts findings per (session, code) and holds back those past [`REPEATS_LISTED`].
#[derive(Debug, Default)]
pub struct Repeats {
    scopes: HashMap<Option<u64>, Vec<Held>>,
}

#[derive(Debug)]
struct Held {
    code: Code,
    seen: u64,
    dir: Option<Option<Dir>>,
    ts: Option<Timestamp>,
}

impl Repeats {
    /// No findings seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `f` in `scope` (a session id, or `None` for the capture); true when it is to be
    /// reported now, false when it is held back and only counted.
    pub fn admit(&mut self, scope: Option<u64>, f: &Finding) -> bool {
        let held = self.scopes.entry(scope).or_default();
        let slot = match held.iter().position(|h| h.code == f.code) {
            Some(i) => &mut held[i],
            None => {
                held.push(Held {
                    code: f.code,
                    seen: 0,
                    dir: None,
                    ts: None,
                });
                let last = held.len() - 1;
                &mut held[last]
            }
        };
        slot.seen = slot.seen.saturating_add(f.count);
        if slot.seen <= REPEATS_LISTED {
            return true;
        }
        slot.dir = match slot.dir {
            None => Some(f.dir),
            Some(d) if d == f.dir => Some(d),
            Some(_) => Some(None),
        };
        slot.ts = f.ts.or(slot.ts);
        false
    }

    /// Ends `scope`: one summing-up finding per code that had occurrences held back.
    pub fn close(&mut self, scope: Option<u64>) -> Vec<Finding> {
        let Some(held) = self.scopes.remove(&scope) else {
            return Vec::new();
        };
        let place = if scope.is_some() {
            "session"
        } else {
            "capture"
        };
        held.into_iter()
            .filter(|h| h.seen > REPEATS_LISTED)
            .map(|h| {
                let more = h.seen - REPEATS_LISTED;
                let mut f = Finding::new(
                    h.code,
                    h.dir.flatten(),
                    h.ts,
                    format!(
                        "and {} more {} findings on this {place} (only the first {REPEATS_LISTED} of a code are listed)",
                        thousands(more),
                        h.code.as_str()
                    ),
                );
                f.count = more;
                f
            })
            .collect()
    }

    /// Ends every scope still open (sessions whose end was never reported, then the capture).
    pub fn close_all(&mut self) -> Vec<(Option<u64>, Finding)> {
        let mut scopes: Vec<Option<u64>> = self.scopes.keys().copied().collect();
        scopes.sort_by_key(|s| (s.is_none(), *s));
        let mut out = Vec::new();
        for s in scopes {
            out.extend(self.close(s).into_iter().map(|f| (s, f)));
        }
        out
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_past_the_limit_are_held_back_and_summed_up_at_the_end() {
        let mut r = Repeats::new();
        let f = Finding::new(Code::TcpGap, Some(Dir::ClientToServer), None, "gap");
        let admitted = (0..1_000_000).filter(|_| r.admit(Some(7), &f)).count() as u64;
        assert_eq!(admitted, REPEATS_LISTED);
        assert!(r.admit(Some(8), &f), "another session has its own count");
        let end = r.close(Some(7));
        assert_eq!(end.len(), 1);
        assert_eq!(end[0].count, 1_000_000 - REPEATS_LISTED);
        assert_eq!(end[0].code, Code::TcpGap);
        assert_eq!(end[0].dir, Some(Dir::ClientToServer));
        assert!(
            end[0]
                .detail
                .starts_with("and 999,900 more tcp-gap findings"),
            "{}",
            end[0].detail
        );
        assert!(r.close(Some(7)).is_empty());
        assert!(r.close(Some(8)).is_empty(), "nothing held back");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(999_990), "999,990");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert!(seen.insert(c.as_str()));
        }
    }
}
