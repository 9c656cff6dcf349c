//! The answer to an upgrade request: a 101 starts the WebSocket phase with what it
//! negotiated; another status refuses the upgrade, and no answer leaves it unanswered. A
//! session that did not upgrade ends when its TCP connection does (so its end says how), or
//! when the next session on the connection starts.

use super::ws_phase::WsState;
use super::{
    Classification, Connection, Handshake, Phase, SessionConfig, SessionEnd, SessionEvent,
    SessionId,
};
use crate::finding::Code;
use crate::handshake::{check_request, check_response, Negotiated};
use crate::http::{RequestHead, ResponseHead};
use crate::tcp::Dir;
use crate::timestamp::Timestamp;

/// An upgrade request waiting for its answer (or read as one when a 101 answers it).
pub(super) struct PendingUpgrade {
    pub(super) session: SessionId,
    pub(super) request: RequestHead,
    pub(super) ts: Timestamp,
    /// Findings about how the request was read (a limit exceeded, read leniently).
    pub(super) notes: Vec<(Code, String)>,
    /// Findings about how the response was read (when it was not read strictly).
    pub(super) resp_notes: Vec<(Code, String, Timestamp)>,
    /// The head was cut at [`MAX_HEAD_BYTES`]: headers are missing, so it is not checked.
    pub(super) unchecked: bool,
    /// Not known to ask for WebSocket (its Upgrade header may be in the part not read): a
    /// session only if the server answers 101.
    pub(super) maybe: bool,
}

impl Connection {
    /// The start of the session of upgrade request `p` that did not become WebSocket, with
    /// the response and when it came, if one was captured.
    pub(super) fn start_not_upgraded(
        &mut self,
        p: &PendingUpgrade,
        response: Option<(ResponseHead, Timestamp)>,
        out: &mut Vec<SessionEvent>,
    ) {
        let (response, response_ts) = response.unzip();
        let handshake = Handshake {
            request: p.request.clone(),
            response,
            negotiated: Negotiated::default(),
            request_ts: p.ts,
            response_ts,
        };
        self.start_session(p.session, p.ts, Some(handshake), false, out);
    }

    /// The end at `ts` of session `id`, which did not become WebSocket: held until the TCP
    /// connection ends (or the next session starts).
    pub(super) fn end_not_upgraded(
        &mut self,
        id: SessionId,
        ts: Timestamp,
        tcp_closer: Option<Dir>,
        out: &mut Vec<SessionEvent>,
    ) {
        let end = Box::new(SessionEnd::without_upgrade(id, ts, tcp_closer));
        if let Some(earlier) = self.unfinished.replace(end) {
            out.push(SessionEvent::End(*earlier));
        }
    }

    /// The findings about how a request was read.
    pub(super) fn notes(p: &PendingUpgrade, out: &mut Vec<SessionEvent>) {
        for (code, detail) in &p.notes {
            out.push(SessionEvent::finding(
                Some(p.session),
                *code,
                Some(Dir::ClientToServer),
                p.ts,
                detail.clone(),
            ));
        }
        for (code, detail, ts) in &p.resp_notes {
            out.push(SessionEvent::finding(
                Some(p.session),
                *code,
                Some(Dir::ServerToClient),
                *ts,
                detail.clone(),
            ));
        }
    }

    /// The findings of checking the request of `pending` (unless it was not read whole) and
    /// `resp_problems` of its response at `resp_ts`, for session `id`.
    pub(super) fn handshake_findings(
        id: SessionId,
        pending: &PendingUpgrade,
        resp_problems: Vec<crate::handshake::Problem>,
        resp_ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let checked = if pending.unchecked {
            Vec::new()
        } else {
            check_request(&pending.request)
        };
        let request = checked
            .into_iter()
            .map(|p| (p, Dir::ClientToServer, pending.ts));
        let response = resp_problems
            .into_iter()
            .map(|p| (p, Dir::ServerToClient, resp_ts));
        for (p, dir, ts) in request.chain(response) {
            out.push(SessionEvent::finding(
                Some(id),
                p.code,
                Some(dir),
                ts,
                p.detail,
            ));
        }
    }

    /// An upgrade request that did not become WebSocket: refused by `response`, or
    /// unanswered when none was captured (the connection ended, or stopped being examined, at
    /// `ts`).
    pub(super) fn not_upgraded(
        &mut self,
        p: PendingUpgrade,
        response: Option<ResponseHead>,
        ts: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) {
        let (code, detail, closer) = match &response {
            Some(resp) => (
                Code::UpgradeRejected,
                format!(
                    "server answered the upgrade with {} {}",
                    resp.status, resp.reason
                ),
                None,
            ),
            None => (
                Code::HandshakeNote,
                "no response to the upgrade request was captured".to_string(),
                self.tcp_closer,
            ),
        };
        self.start_not_upgraded(&p, response.map(|r| (r, ts)), out);
        Self::notes(&p, out);
        Self::handshake_findings(p.session, &p, Vec::new(), ts, out);
        let finding =
            SessionEvent::finding(Some(p.session), code, Some(Dir::ServerToClient), ts, detail);
        out.push(finding);
        self.end_not_upgraded(p.session, ts, closer, out);
    }

    pub(super) fn upgrade(
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
        let handshake = Handshake {
            request: p.request.clone(),
            response: Some(resp),
            negotiated: negotiated.clone(),
            request_ts: p.ts,
            response_ts: Some(ts),
        };
        self.start_session(id, p.ts, Some(handshake), true, out);
        Self::notes(&p, out);
        Self::handshake_findings(id, &p, problems, ts, out);
        // A cut head whose end was not found yet: the client's bytes resume anywhere.
        let synced = [!self.unsynced[0] && !self.tail[0], !self.unsynced[1]];
        let mut ws = Box::new(WsState::new(cfg, id, Some(&negotiated), synced, ts));
        if self.tail[0] {
            ws.expect_client_tail();
        }
        // Client bytes sent after its request (before or after the 101) and server bytes after
        // the 101 head belong to the WebSocket streams.
        let c2s = std::mem::take(&mut self.bufs[0]);
        let s2c = std::mem::take(&mut self.bufs[1]);
        if !c2s.is_empty() {
            out.push(SessionEvent::finding(
                Some(id),
                Code::HandshakeNote,
                Some(Dir::ClientToServer),
                ts,
                format!(
                    "the client sent {} bytes of frames before the 101 response arrived",
                    c2s.len()
                ),
            ));
            ws.feed(Dir::ClientToServer, (ts, self.packet), &c2s, out);
        }
        if !s2c.is_empty() {
            ws.feed(Dir::ServerToClient, (ts, self.packet), &s2c, out);
        }
        self.requests.clear();
        self.phase = Phase::WebSocket(ws);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::SessionEvent;
    use crate::tcp::CloseReason;
    use crate::timestamp::Timestamp;

    #[test]
    fn a_refused_upgrade_ends_with_its_tcp_connection() {
        for (reason, closer) in [(CloseReason::Fin, Some(S)), (CloseReason::Rst, Some(C))] {
            let mut h = Harness::new();
            h.send(C, &upgrade_request("/chat"));
            h.send(S, &response(403, "forbidden"));
            assert!(
                h.ends().is_empty(),
                "not ended while the connection is open"
            );
            match reason {
                CloseReason::Fin => h.conn.on_fin(S),
                _ => h.conn.on_rst(C),
            }
            h.close(reason);
            let ends = h.ends();
            assert_eq!(ends.len(), 1);
            assert!(!ends[0].upgraded);
            assert_eq!(ends[0].tcp_end, Some(reason));
            assert_eq!(ends[0].tcp_closer, closer);
            // The end keeps the time the upgrade was refused.
            assert_eq!(ends[0].ts, Timestamp(2_000_000));
        }
    }

    #[test]
    fn the_start_of_a_refused_upgrade_tells_its_outcome_before_its_end() {
        use crate::outcome::SessionOutcome;
        let starts = |h: &Harness| -> Vec<Option<SessionOutcome>> {
            h.out
                .iter()
                .filter_map(|e| match e {
                    SessionEvent::Start(s) => Some(SessionOutcome::at_start(s)),
                    _ => None,
                })
                .collect()
        };
        let mut h = Harness::new();
        h.send(C, &upgrade_request("/chat"));
        h.send(S, &response(403, "forbidden"));
        assert!(h.ends().is_empty());
        assert_eq!(starts(&h), [Some(SessionOutcome::Refused { status: 403 })]);
        let mut h = Harness::new();
        h.send(C, &upgrade_request("/chat"));
        h.send(S, &switching());
        assert_eq!(
            starts(&h),
            [None],
            "a WebSocket session's outcome waits for its end"
        );
    }

    #[test]
    fn an_unanswered_upgrade_ends_with_its_tcp_connection() {
        let mut h = Harness::new();
        h.send(C, &upgrade_request("/chat"));
        h.close(CloseReason::EndOfCapture);
        assert_eq!(
            h.take(),
            [
                "start 1 GET /chat -> none",
                "finding 1 handshake-note",
                "end 1 not upgraded",
            ]
        );
        let mut h = Harness::new();
        h.send(C, &upgrade_request("/chat"));
        h.fin(C);
        assert_eq!(h.ends()[0].tcp_end, Some(CloseReason::Fin));
        assert_eq!(h.ends()[0].tcp_closer, Some(C));
    }
}
