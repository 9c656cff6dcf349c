//! WebSocket found without (all of) its handshake: a connection joined mid-stream (masked
//! frames come from the client), bytes lost before or inside the handshake (the framing
//! after the gap shows whether the upgrade succeeded), a 101 answering a request that did
//! not ask for WebSocket (decoded only when WebSocket framing follows, or `--decode-as`),
//! and first bytes that are neither HTTP nor frames (not examined).

use super::http_phase::http_response_start;
use super::ws_phase::WsState;
use super::{
    Classification, Connection, Handshake, HttpBuf, PendingUpgrade, Phase, SessionConfig,
    SessionEvent, SessionId,
};
use crate::finding::{Code, Finding};
use crate::handshake::negotiated_from_response;
use crate::http::{parse_response, HeadParse, RequestHead, ResponseHead};
use crate::tcp::flow::Began;
use crate::tcp::Dir;
use crate::timestamp::Timestamp;
use crate::ws::decoder::Expectations;
use crate::ws::frame::FrameHeader;

impl Connection {
    /// True when the stream may start anywhere (captured mid-stream, or after lost bytes).
    pub(super) fn midstream_like(&self) -> bool {
        self.began == Began::Midstream || self.resumed
    }

    /// The first bytes of `dir` are not HTTP: WebSocket joined mid-stream, or other traffic.
    pub(super) fn not_http(
        &mut self,
        cfg: &SessionConfig,
        next_id: &mut SessionId,
        dir: Dir,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let framing = self.framing_evidence(cfg, dir);
        let server = if framing.reverse {
            self.client
        } else {
            self.server
        };
        let forced = cfg.decode_as_ports.contains(&server.port());
        let midstream = self.midstream_like() && cfg.detect_midstream;
        if !(forced || (midstream && framing.looks_ws)) {
            self.phase = Phase::Done;
            self.bufs = [HttpBuf::default(), HttpBuf::default()];
            return;
        }
        if framing.reverse {
            self.reverse_roles();
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
        self.start_session(id, ts, None, true, out);
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
        out.push(SessionEvent::finding(
            Some(id),
            Code::HandshakeNotSeen,
            None,
            ts,
            format!("{why}; extensions unknown (RSV1 is assumed to mean permessage-deflate)"),
        ));
        let mut ws = Box::new(WsState::new(cfg, id, None, [false, false], ts));
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            let buffered = std::mem::take(&mut self.bufs[d.index()]);
            if !buffered.is_empty() {
                ws.feed(d, (ts, self.packet), &buffered, out);
            }
        }
        self.phase = Phase::WebSocket(ws);
    }

    /// A complete 101 response at the start of the server's buffer, taken out of it.
    pub(super) fn leading_101(&mut self) -> Option<ResponseHead> {
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

    /// The answer to an upgrade request went missing: WebSocket framing after it (or
    /// `--decode-as`) shows the upgrade succeeded; an HTTP response shows the gap was elsewhere.
    pub(super) fn after_lost_response(
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
    pub(super) fn frames_visible(&self, dir: Dir) -> Option<bool> {
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

    /// A 101 answered a request that did not ask for WebSocket (another protocol such as
    /// h2c, or none): the session is reported, and decoded when WebSocket framing follows
    /// (or `--decode-as` names the port).
    pub(super) fn after_switch(
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
    pub(super) fn asked_for(req: &RequestHead) -> String {
        match crate::http::header(&req.headers, "upgrade") {
            Some(v) => format!("its Upgrade header is '{v}'"),
            None => "it has no Upgrade header".to_string(),
        }
    }

    /// Reports the session of a 101 that did not switch to WebSocket (see [`Self::after_switch`]).
    pub(super) fn report_switched(
        &mut self,
        ts: Timestamp,
        what: &str,
        out: &mut Vec<SessionEvent>,
    ) {
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
        self.start_not_upgraded(&p, Some((resp, resp_ts)), out);
        out.push(SessionEvent::finding(
            Some(p.session),
            Code::UpgradeHeaderMissing,
            Some(Dir::ClientToServer),
            p.ts,
            detail,
        ));
        self.end_not_upgraded(p.session, ts, self.tcp_closer, out);
    }

    /// Reports a session whose handshake was seen only in part (`pending`: the request;
    /// `resp`: the 101) with `finding` saying what is missing, and decodes what follows.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fallback(
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
        self.start_session(id, start_ts, handshake, true, out);
        if let Some(p) = &pending {
            Self::notes(p, out);
            Self::handshake_findings(id, p, Vec::new(), ts, out);
        }
        out.push(SessionEvent::Finding {
            session: Some(id),
            finding,
        });
        let mut ws = Box::new(WsState::new(
            cfg,
            id,
            negotiated.as_ref(),
            [false, resp.is_some() && !self.unsynced[1]],
            ts,
        ));
        if self.tail[0] {
            ws.expect_client_tail();
        }
        for d in [Dir::ClientToServer, Dir::ServerToClient] {
            let buffered = std::mem::take(&mut self.bufs[d.index()]);
            if !buffered.is_empty() {
                ws.feed(d, (ts, self.packet), &buffered, out);
            }
        }
        self.requests.clear();
        self.lost_response = None;
        self.phase = Phase::WebSocket(ws);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::SessionEvent;
    use crate::tcp::flow::Began;

    #[test]
    fn masked_client_frames_mid_stream_start_a_session_without_handshake() {
        let mut h = Harness::began(Began::Midstream, false);
        h.send(C, &frame(0x1, b"hello", true));
        h.send(S, &frame(0x1, b"world", false));
        assert_eq!(
            h.take(),
            [
                "start 1 (no handshake)",
                "finding 1 handshake-not-seen",
                "message 1 #1 c2s text \"hello\"",
                "message 1 #2 s2c text \"world\"",
            ]
        );
    }

    #[test]
    fn mid_stream_detection_can_be_turned_off() {
        let mut h = Harness::began(Began::Midstream, false);
        h.cfg.detect_midstream = false;
        h.send(C, &frame(0x1, b"hello", true));
        assert!(h.conn.is_done());
        assert_eq!(h.take(), Vec::<String>::new());
    }

    #[test]
    fn bytes_that_are_neither_http_nor_frames_are_not_examined() {
        let mut h = Harness::began(Began::Midstream, false);
        h.send(C, b"\x16\x03\x01\x02\x00 a TLS record");
        assert!(h.conn.is_done());
        assert_eq!(h.take(), Vec::<String>::new());
        // From the SYN, frames without a handshake are not guessed at.
        let mut h = Harness::new();
        h.send(C, &frame(0x1, b"hello", true));
        assert!(h.conn.is_done());
    }

    #[test]
    fn a_101_without_its_request_gives_the_session_its_handshake() {
        let mut h = Harness::began(Began::Midstream, false);
        let mut bytes = switching();
        bytes.extend(frame(0x1, b"hi", false));
        h.send(S, &bytes);
        assert_eq!(h.take(), Vec::<String>::new(), "the client's side decides");
        h.send(C, &frame(0x1, b"hello", true));
        let SessionEvent::Finding { finding, .. } = &h.out[1] else {
            panic!("{:?}", h.take())
        };
        assert!(
            finding.detail.contains("read from the server's 101"),
            "{}",
            finding.detail
        );
        assert_eq!(
            h.take(),
            [
                "start 1 (no handshake)",
                "finding 1 handshake-not-seen",
                "message 1 #1 c2s text \"hello\"",
                "message 1 #2 s2c text \"hi\"",
            ]
        );
    }

    #[test]
    fn a_lost_answer_to_an_upgrade_is_recognised_by_the_frames_after_it() {
        let mut h = Harness::new();
        h.send(C, &upgrade_request("/chat"));
        h.gap(S, 129);
        h.send(S, &frame(0x1, b"hi", false));
        assert_eq!(
            h.take(),
            [
                "start 1 GET /chat -> none",
                "finding 1 handshake-not-seen",
                "message 1 #1 s2c text \"hi\"",
            ]
        );
        // An HTTP answer after the gap shows it was elsewhere: the exchange goes on.
        let mut h = Harness::new();
        h.send(C, &upgrade_request("/chat"));
        h.gap(S, 10);
        h.send(S, &response(403, ""));
        assert_eq!(
            h.take(),
            ["start 1 GET /chat -> 403", "finding 1 upgrade-rejected"]
        );
    }

    #[test]
    fn a_101_to_a_plain_request_is_decoded_only_when_frames_follow() {
        let mut h = Harness::new();
        h.send(C, b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: spdy/3\r\n\r\n");
        h.send(
            S,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: spdy/3\r\n\r\n",
        );
        assert_eq!(h.take(), Vec::<String>::new(), "too few bytes to tell");
        h.send(C, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(h.conn.is_done());
        assert_eq!(
            h.take(),
            ["start 1 GET / -> 101", "finding 1 upgrade-header-missing"]
        );
        assert!(h.conn.take_h2c_switch().is_none());
    }

    #[test]
    fn a_101_to_upgrade_h2c_hands_the_connection_to_http2() {
        let mut h = Harness::new();
        h.send(C, b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\nPRI");
        h.send(
            S,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04",
        );
        assert!(h.conn.is_done());
        assert_eq!(h.take(), Vec::<String>::new(), "no session of its own");
        let switch = h.conn.take_h2c_switch().expect("switched to h2c");
        assert_eq!(switch.c2s, b"PRI");
        assert_eq!(switch.s2c, [0, 0, 0, 4]);
        assert_eq!(switch.packet, 2);
        assert!(h.conn.take_h2c_switch().is_none());
    }
}
