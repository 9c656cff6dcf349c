//! The closing of a session: the close frame each side sent (RFC 6455 5.5.1, 7.1), who sent
//! the first, and once the TCP connection ended, the session-level findings (abrupt close,
//! incomplete close handshake, suspected idle timeout) and the end event.

use super::{CloseFrame, SessionEnd, SessionEvent, SessionId};
use crate::finding::Code;
use crate::tcp::{CloseReason, Dir};
use crate::timestamp::Timestamp;

/// True for a silence of 55-65 s or within 5 s of a multiple of 60 s up to 10 minutes: the
/// shape of a proxy idle timeout (nginx's proxy_read_timeout defaults to 60 s).
fn idle_timeout_like(silent_nanos: i64) -> bool {
    const S: i64 = 1_000_000_000;
    (1..=10).any(|k| (silent_nanos - k * 60 * S).abs() <= 5 * S)
}

/// The close handshake of one session.
#[derive(Default)]
pub(super) struct CloseHandshake {
    /// The first close frame of each direction `[c2s, s2c]`.
    closes: [Option<CloseFrame>; 2],
    /// Who sent the first close frame.
    initiator: Option<Dir>,
    /// Per direction `[c2s, s2c]`: its bytes stopped being decodable (TLS decryption failed):
    /// whether it sent a close frame afterwards is unknown.
    blind: [bool; 2],
}

impl CloseHandshake {
    /// A close frame from `dir`: the first of each direction is kept, the first of all
    /// initiates the close.
    pub(super) fn on_close(&mut self, dir: Dir, code: Option<u16>, reason: &str, ts: Timestamp) {
        let slot = &mut self.closes[dir.index()];
        if slot.is_some() {
            return;
        }
        *slot = Some(CloseFrame {
            code,
            reason: reason.to_string(),
            ts,
        });
        if self.initiator.is_none() {
            self.initiator = Some(dir);
        }
    }

    /// Bytes of `dir` can no longer be decoded (what it sends from here on is unknown).
    pub(super) fn undecodable(&mut self, dir: Dir) {
        self.blind[dir.index()] = true;
    }

    /// The end of session `id` at `ts` (`tcp_end`: how the TCP connection ended, if it did;
    /// `tcp_closer`: who sent the first FIN or the RST; `last_activity`: when the last frame
    /// was seen). Pushes the findings about how it closed and returns the end event, its
    /// counters left at zero for the caller.
    #[cfg(test)]
    pub(super) fn end(
        self,
        id: SessionId,
        ts: Timestamp,
        tcp_end: Option<CloseReason>,
        tcp_closer: Option<Dir>,
        last_activity: Timestamp,
        out: &mut Vec<SessionEvent>,
    ) -> SessionEnd {
        self.end_as(id, ts, (tcp_end, tcp_closer), last_activity, None, out)
    }

    /// [`CloseHandshake::end`] for a session carried by something else than the whole TCP
    /// connection: `ending` (e.g. "stream 1 ended by RST_STREAM CANCEL (0x8) from the client")
    /// replaces the words about the TCP connection in the findings.
    pub(super) fn end_as(
        self,
        id: SessionId,
        ts: Timestamp,
        (tcp_end, tcp_closer): (Option<CloseReason>, Option<Dir>),
        last_activity: Timestamp,
        ending: Option<&str>,
        out: &mut Vec<SessionEvent>,
    ) -> SessionEnd {
        let closes = self.closes.iter().filter(|c| c.is_some()).count();
        let tcp_closed = matches!(tcp_end, Some(CloseReason::Fin | CloseReason::Rst));
        let closer = tcp_closer
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
        let finding =
            |code, detail: String| SessionEvent::finding(Some(id), code, tcp_closer, ts, detail);
        // A direction that could not be decoded may have sent the close frame that is missing:
        // no finding blames it.
        let unknown = (0..2).any(|i| self.closes[i].is_none() && self.blind[i]);
        if !unknown && tcp_closed && closes == 0 {
            let what = match ending {
                Some(e) => e.to_string(),
                None => format!("{closer} {how} the TCP connection"),
            };
            out.push(finding(
                Code::AbruptClose,
                format!(
                    "{what} without a close frame from either side (code 1006 for the application)"
                ),
            ));
        } else if !unknown && tcp_closed && closes == 1 {
            let sender = if self.closes[0].is_some() {
                "client"
            } else {
                "server"
            };
            let what = match ending {
                Some(e) => e.to_string(),
                None => format!("the TCP connection was {how}"),
            };
            out.push(finding(
                Code::CloseHandshakeIncomplete,
                format!("only the {sender} sent a close frame before {what}"),
            ));
        }
        if tcp_closed {
            let silent = ts.nanos_since(last_activity);
            if idle_timeout_like(silent) {
                let what = match ending {
                    Some(e) => e.to_string(),
                    None => format!("the {closer} {how} the connection"),
                };
                out.push(finding(
                    Code::IdleTimeoutSuspected,
                    format!("{:.1} s of silence before {what}: looks like a proxy idle timeout (nginx proxy_read_timeout defaults to 60 s); send heartbeats more often", silent as f64 / 1e9),
                ));
            }
        }
        let clean = closes == 2 && tcp_end == Some(CloseReason::Fin);
        let [client_close, server_close] = self.closes;
        SessionEnd {
            id,
            ts,
            upgraded: true,
            client_close,
            server_close,
            initiator: self.initiator,
            tcp_end,
            tcp_closer,
            clean,
            messages: [0, 0],
            payload_bytes: [0, 0],
            response_body: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Dir = Dir::ClientToServer;
    const S: Dir = Dir::ServerToClient;
    const SEC: i64 = 1_000_000_000;

    fn codes(out: &[SessionEvent]) -> Vec<Code> {
        out.iter()
            .filter_map(|e| match e {
                SessionEvent::Finding { finding, .. } => Some(finding.code),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn close_initiated_by_the_server_answered_by_the_client_then_fin_is_clean() {
        let mut c = CloseHandshake::default();
        c.on_close(S, Some(1001), "going away", Timestamp(10));
        c.on_close(C, Some(1001), "", Timestamp(11));
        // A second close frame from the server changes nothing.
        c.on_close(S, Some(1000), "again", Timestamp(12));
        let mut out = Vec::new();
        let end = c.end(
            7,
            Timestamp(20),
            Some(CloseReason::Fin),
            Some(S),
            Timestamp(12),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(end.id, 7);
        assert!(end.upgraded && end.clean);
        assert_eq!(end.initiator, Some(S));
        assert_eq!(end.server_close.as_ref().and_then(|c| c.code), Some(1001));
        assert_eq!(
            end.server_close.map(|c| c.reason),
            Some("going away".into())
        );
        assert_eq!(end.client_close.map(|c| c.ts), Some(Timestamp(11)));
        assert_eq!(end.tcp_closer, Some(S));
    }

    #[test]
    fn both_close_frames_then_rst_is_not_clean() {
        let mut c = CloseHandshake::default();
        c.on_close(C, Some(1000), "", Timestamp(1));
        c.on_close(S, Some(1000), "", Timestamp(2));
        let mut out = Vec::new();
        let end = c.end(
            1,
            Timestamp(3),
            Some(CloseReason::Rst),
            Some(C),
            Timestamp(2),
            &mut out,
        );
        assert!(!end.clean);
        assert_eq!(end.initiator, Some(C));
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn one_close_frame_then_the_tcp_close_is_an_incomplete_handshake() {
        let mut c = CloseHandshake::default();
        c.on_close(C, Some(1000), "", Timestamp(1));
        let mut out = Vec::new();
        let end = c.end(
            1,
            Timestamp(2),
            Some(CloseReason::Rst),
            Some(S),
            Timestamp(1),
            &mut out,
        );
        assert!(!end.clean);
        assert_eq!(codes(&out), [Code::CloseHandshakeIncomplete]);
        let SessionEvent::Finding { session, finding } = &out[0] else {
            unreachable!()
        };
        assert_eq!(*session, Some(1));
        assert_eq!(finding.dir, Some(S));
        assert_eq!(
            finding.detail,
            "only the client sent a close frame before the TCP connection was reset (RST)"
        );
    }

    #[test]
    fn no_close_frame_before_fin_is_abrupt_and_a_minute_of_silence_looks_like_an_idle_timeout() {
        let mut out = Vec::new();
        let end = CloseHandshake::default().end(
            1,
            Timestamp(61 * SEC),
            Some(CloseReason::Fin),
            Some(S),
            Timestamp(0),
            &mut out,
        );
        assert_eq!(end.initiator, None);
        assert_eq!(codes(&out), [Code::AbruptClose, Code::IdleTimeoutSuspected]);
        // 30 s of silence is not the shape of an idle timeout.
        let mut out = Vec::new();
        CloseHandshake::default().end(
            1,
            Timestamp(30 * SEC),
            Some(CloseReason::Fin),
            Some(S),
            Timestamp(0),
            &mut out,
        );
        assert_eq!(codes(&out), [Code::AbruptClose]);
    }

    #[test]
    fn a_session_open_at_the_end_of_the_capture_has_no_close_findings() {
        let mut out = Vec::new();
        let end = CloseHandshake::default().end(
            1,
            Timestamp(61 * SEC),
            Some(CloseReason::EndOfCapture),
            None,
            Timestamp(0),
            &mut out,
        );
        assert!(out.is_empty());
        assert!(!end.clean);
    }
}
