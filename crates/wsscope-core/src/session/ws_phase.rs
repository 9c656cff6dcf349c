//! The WebSocket phase of a session: bytes of each direction go through a frame decoder and
//! a message assembler; completed messages are counted, numbered and delivered, pings paired
//! with pongs ([`Heartbeat`]) and close frames kept ([`CloseHandshake`]).

use super::close::CloseHandshake;
use super::heartbeat::Heartbeat;
use super::{SessionConfig, SessionEnd, SessionEvent, SessionId, SessionMessage};
use crate::finding::{Code, Finding};
use crate::handshake::Negotiated;
use crate::http::{find_head_end, MAX_HEAD_BYTES};
use crate::tcp::{CloseReason, Dir};
use crate::timestamp::Timestamp;
use crate::ws::decoder::{DecodeEvent, Expectations, FrameDecoder};
use crate::ws::message::{Assembled, AssemblerConfig, MessageAssembler, MessageKind};

/// One WebSocket session being decoded.
pub(super) struct WsState {
    pub(super) session: SessionId,
    decoders: [FrameDecoder; 2],
    assemblers: [MessageAssembler; 2],
    heartbeat: Heartbeat,
    close: CloseHandshake,
    last_activity: Timestamp,
    messages: [u64; 2],
    payload_bytes: [u64; 2],
    index: u64,
    /// The rest of a request head cut by a gap, held until its end is found (bytes so far,
    /// how far they were searched); the client's frames start after it.
    client_tail: Option<(Vec<u8>, usize)>,
}

impl WsState {
    /// Session `id` starting at `ts`, with what the handshake `negotiated` (`None`: not
    /// seen) and per direction whether its decoder starts at a frame boundary (`synced`).
    pub(super) fn new(
        cfg: &SessionConfig,
        id: SessionId,
        negotiated: Option<&Negotiated>,
        synced: [bool; 2],
        ts: Timestamp,
    ) -> Self {
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
            heartbeat: Heartbeat::default(),
            close: CloseHandshake::default(),
            last_activity: ts,
            messages: [0, 0],
            payload_bytes: [0, 0],
            index: 0,
            client_tail: None,
        }
    }

    /// The client's first bytes are the rest of a request head cut by a gap: its frames
    /// start after the end of that head.
    pub(super) fn expect_client_tail(&mut self) {
        self.client_tail = Some((Vec::new(), 0));
    }

    /// In-order bytes from `dir`, delivered by packet number `packet`.
    pub(super) fn feed(
        &mut self,
        dir: Dir,
        (ts, packet): (Timestamp, u64),
        data: &[u8],
        out: &mut Vec<SessionEvent>,
    ) {
        let rest;
        let mut data = data;
        if dir == Dir::ClientToServer {
            if let Some((tail, scanned)) = &mut self.client_tail {
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
                self.client_tail = None;
                data = &rest;
            }
        }
        let d = dir.index();
        let mut assembled = Vec::new();
        let assembler = &mut self.assemblers[d];
        self.decoders[d].feed((ts, packet), data, &mut |ev: DecodeEvent<'_>| {
            assembler.handle(ev, &mut |a| assembled.push(a))
        });
        self.last_activity = ts;
        for a in assembled {
            self.deliver(dir, a, out);
        }
    }

    /// `len` bytes from `dir` are missing from the capture.
    /// Bytes of `dir` can no longer be decoded (their TLS record failed to decrypt): what it
    /// sends from here on is unknown, so its missing close frame is not blamed on it.
    pub(super) fn undecodable(&mut self, dir: Dir) {
        self.close.undecodable(dir);
    }

    pub(super) fn gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<SessionEvent>) {
        out.push(SessionEvent::finding(
            Some(self.session),
            Code::TcpGap,
            Some(dir),
            ts,
            format!("{len} bytes missing from the capture"),
        ));
        let d = dir.index();
        if dir == Dir::ClientToServer {
            // The end of a cut head is not looked for across another gap.
            self.client_tail = None;
        }
        let assembler = &mut self.assemblers[d];
        let mut assembled = Vec::new();
        self.decoders[d].gap(ts, len, &mut |ev| {
            assembler.handle(ev, &mut |a| assembled.push(a))
        });
        for a in assembled {
            self.deliver(dir, a, out);
        }
    }

    /// The TCP connection ended (`reason`): what is being decoded is finished, the findings
    /// about how the session closed are pushed, then its end.
    pub(super) fn end(
        self,
        ts: Timestamp,
        reason: CloseReason,
        tcp_closer: Option<Dir>,
        out: &mut Vec<SessionEvent>,
    ) {
        self.end_as(ts, reason, tcp_closer, None, out)
    }

    /// [`WsState::end`] for a session whose carrier ended otherwise than the TCP connection
    /// (an HTTP/2 stream): `ending` is `(how, what)`, e.g. `("RST_STREAM CANCEL (0x8) from
    /// the client", "stream 1 ended by RST_STREAM CANCEL (0x8) from the client")`, used in
    /// the findings instead of the words about the TCP connection.
    pub(super) fn end_as(
        mut self,
        ts: Timestamp,
        reason: CloseReason,
        tcp_closer: Option<Dir>,
        ending: Option<(&str, &str)>,
        out: &mut Vec<SessionEvent>,
    ) {
        let how = match (ending, reason) {
            (Some((how, _)), _) => how,
            (None, CloseReason::Rst) => "a TCP reset (RST)",
            (None, CloseReason::Fin) => "the TCP close (FIN)",
            (None, CloseReason::EndOfCapture) => "the end of the capture",
            (None, CloseReason::Idle) => "the idle timeout",
            (None, CloseReason::Evicted) => "eviction from the flow table",
        };
        for dir in [Dir::ClientToServer, Dir::ServerToClient] {
            let d = dir.index();
            let mut assembled = Vec::new();
            let assembler = &mut self.assemblers[d];
            self.decoders[d].finish(ts, &mut |ev| {
                assembler.handle(ev, &mut |a| assembled.push(a))
            });
            assembler.finish(ts, &mut |a| assembled.push(a));
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
                self.deliver(dir, a, out);
            }
        }
        let end = self.close.end_as(
            self.session,
            ts,
            (Some(reason), tcp_closer),
            self.last_activity,
            ending.map(|(_, what)| what),
            out,
        );
        out.push(SessionEvent::End(SessionEnd {
            messages: self.messages,
            payload_bytes: self.payload_bytes,
            ..end
        }));
    }

    /// A violation or a message assembled from `dir`'s frames.
    fn deliver(&mut self, dir: Dir, a: Assembled, out: &mut Vec<SessionEvent>) {
        match a {
            Assembled::Violation {
                code,
                ts,
                packet,
                detail,
            } => out.push(SessionEvent::Finding {
                session: Some(self.session),
                finding: Finding::new(code, Some(dir), Some(ts), detail).at_packet(packet),
            }),
            Assembled::Message(m, packets) => {
                let d = dir.index();
                let mut rtt = None;
                match m.kind {
                    MessageKind::Ping => self.heartbeat.on_ping(dir, &m.payload, m.ts),
                    MessageKind::Pong => rtt = self.heartbeat.on_pong(dir, &m.payload, m.ts),
                    MessageKind::Close => self.close.on_close(
                        dir,
                        m.close_code,
                        m.close_reason.as_deref().unwrap_or_default(),
                        m.ts,
                    ),
                    _ => {}
                }
                self.messages[d] += 1;
                self.payload_bytes[d] += m.len;
                self.index += 1;
                self.last_activity = m.end_ts;
                out.push(SessionEvent::Message(SessionMessage {
                    session: self.session,
                    index: self.index,
                    message: m,
                    first_packet: packets.first,
                    last_packet: packets.last,
                    rtt_nanos: rtt,
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::finding::Code;
    use crate::tcp::CloseReason;

    /// A connection upgraded to WebSocket, its start taken.
    fn upgraded() -> Harness {
        let mut h = Harness::new();
        h.send(C, &upgrade_request("/chat"));
        h.send(S, &switching());
        assert_eq!(h.take(), ["start 1 GET /chat -> 101"]);
        h
    }

    #[test]
    fn frames_in_any_segmentation_become_numbered_messages() {
        for seg in [1, 2, 3, 100] {
            let mut h = upgraded();
            let mut bytes = frame(0x1, b"one", true);
            bytes.extend(frame(0x2, b"two", true));
            h.send_in(C, &bytes, seg);
            h.send_in(S, &frame(0x1, b"three", false), seg);
            assert_eq!(
                h.take(),
                [
                    "message 1 #1 c2s text \"one\"",
                    "message 1 #2 c2s binary \"two\"",
                    "message 1 #3 s2c text \"three\"",
                ],
                "segments of {seg}"
            );
        }
    }

    #[test]
    fn a_pong_carries_the_round_trip_time_of_its_ping_and_an_unanswered_ping_none() {
        let mut h = upgraded();
        h.send(S, &frame(0x9, b"p1", false));
        h.send(S, &frame(0x9, b"p2", false));
        h.send(C, &frame(0xa, b"p2", true));
        h.send(C, &frame(0xa, b"nobody asked", true));
        h.send(C, &frame(0xa, b"p2", true));
        assert_eq!(
            h.take(),
            [
                "message 1 #1 s2c ping \"p1\"",
                "message 1 #2 s2c ping \"p2\"",
                // The harness advances 1 ms per segment.
                "message 1 #3 c2s pong \"p2\" rtt 1000000",
                "message 1 #4 c2s pong \"nobody asked\"",
                "message 1 #5 c2s pong \"p2\"",
            ]
        );
        h.fin(S);
        let end = &h.ends()[0];
        assert_eq!(end.messages, [3, 2]);
    }

    #[test]
    fn close_initiated_by_the_server_and_answered_by_the_client_is_clean() {
        let mut h = upgraded();
        h.send(S, &close_frame(1001, false));
        h.send(C, &close_frame(1001, true));
        h.fin(S);
        assert_eq!(
            h.take(),
            [
                "message 1 #1 s2c close 1001",
                "message 1 #2 c2s close 1001",
                "end 1 upgraded",
            ]
        );
        let mut h = upgraded();
        h.send(S, &close_frame(1001, false));
        h.send(C, &close_frame(1001, true));
        h.fin(S);
        let end = &h.ends()[0];
        assert!(end.clean);
        assert_eq!(end.initiator, Some(S));
        assert_eq!(end.server_close.as_ref().and_then(|c| c.code), Some(1001));
        assert_eq!(end.tcp_end, Some(CloseReason::Fin));
    }

    #[test]
    fn a_close_code_that_must_not_be_sent_is_a_finding() {
        let mut h = upgraded();
        h.send(C, &close_frame(1005, true));
        assert_eq!(h.codes(), [Code::InvalidCloseCode]);
        let mut h = upgraded();
        h.send(C, &close_frame(4000, true));
        assert_eq!(h.codes(), [], "4000-4999 are for applications");
    }

    #[test]
    fn the_end_of_the_stream_inside_a_message_says_how_it_ended() {
        let mut h = upgraded();
        let f = frame(0x1, b"cut short", false);
        h.send(S, &f[..5]);
        h.conn.on_rst(C);
        h.close(CloseReason::Rst);
        let details: Vec<String> = h
            .out
            .iter()
            .filter_map(|e| match e {
                super::SessionEvent::Finding { finding, .. } => Some(finding.detail.clone()),
                _ => None,
            })
            .collect();
        assert!(
            details[0].ends_with("; the stream ended with a TCP reset (RST)"),
            "{details:?}"
        );
        assert_eq!(h.codes(), [Code::MessageIncomplete, Code::AbruptClose]);
    }

    #[test]
    fn a_gap_is_reported_and_decoding_resumes_at_the_next_frame() {
        let mut h = upgraded();
        h.send(S, &frame(0x1, b"before", false));
        h.gap(S, 40);
        h.send(S, &frame(0x1, b"after", false));
        let lines = h.take();
        assert_eq!(lines[0], "message 1 #1 s2c text \"before\"");
        assert_eq!(lines[1], "finding 1 tcp-gap");
        assert_eq!(
            lines.last().map(String::as_str),
            Some("message 1 #2 s2c text \"after\"")
        );
    }
}
