//! How a WebSocket session ended, decided once here: every output (text, JSON, NDJSON, the
//! terminal UI) renders a [`SessionOutcome`] and a [`CloseCode`], none recomputes them.

use crate::session::{SessionEnd, SessionStart};
use crate::tcp::{CloseReason, Dir};
pub use crate::ws::close_code::{CloseCode, CloseCodeValidity};

/// How a session (or an upgrade attempt) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionOutcome {
    /// Both sides sent a close frame. `clean` when the TCP connection then ended with a FIN
    /// (RFC 6455 7.1.1: the server closes TCP first).
    Closed {
        /// Close frames both ways, then a TCP FIN.
        clean: bool,
        /// The side that sent the first close frame.
        initiator: Option<Dir>,
    },
    /// The TCP connection ended (FIN, RST, idle, evicted) without close frames both ways.
    Abrupt(CloseReason),
    /// The capture ended while the session was open.
    Open,
    /// The server answered the upgrade with another status.
    Refused {
        /// The response status (e.g. 403).
        status: u16,
    },
    /// No response to the upgrade request was captured.
    Unanswered,
}

impl SessionOutcome {
    /// The outcome of a session from its end event and the status of the response to its
    /// upgrade request (`None` when no response was captured).
    pub fn of(end: &SessionEnd, response_status: Option<u16>) -> Self {
        if !end.upgraded {
            return Self::not_upgraded(response_status);
        }
        if end.client_close.is_some() && end.server_close.is_some() {
            return SessionOutcome::Closed {
                clean: end.clean,
                initiator: end.initiator,
            };
        }
        match end.tcp_end {
            None | Some(CloseReason::EndOfCapture) => SessionOutcome::Open,
            Some(reason) => SessionOutcome::Abrupt(reason),
        }
    }

    /// The outcome already known when a session starts: that of an upgrade refused or left
    /// unanswered (its end, which waits for the TCP end, does not change it). `None` for a
    /// WebSocket session, whose outcome is decided by [`SessionOutcome::of`] at its end.
    pub fn at_start(start: &SessionStart) -> Option<Self> {
        if start.upgraded {
            return None;
        }
        let status = start
            .handshake
            .as_ref()
            .and_then(|h| h.response.as_ref())
            .map(|r| r.status);
        Some(Self::not_upgraded(status))
    }

    /// A session that did not upgrade: refused by a response with `response_status`, or
    /// unanswered.
    fn not_upgraded(response_status: Option<u16>) -> Self {
        match response_status {
            Some(status) => SessionOutcome::Refused { status },
            None => SessionOutcome::Unanswered,
        }
    }

    /// One word for the state: `closed`, `abrupt`, `open`, `refused`, `unanswered`.
    pub fn state(self) -> &'static str {
        match self {
            SessionOutcome::Closed { .. } => "closed",
            SessionOutcome::Abrupt(_) => "abrupt",
            SessionOutcome::Open => "open",
            SessionOutcome::Refused { .. } => "refused",
            SessionOutcome::Unanswered => "unanswered",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{CloseFrame, SessionEnd};
    use crate::timestamp::Timestamp;

    fn end(upgraded: bool) -> SessionEnd {
        let mut e = SessionEnd::without_upgrade(1, Timestamp::default(), None);
        e.upgraded = upgraded;
        e
    }

    fn close(code: u16) -> Option<CloseFrame> {
        Some(CloseFrame {
            code: Some(code),
            reason: String::new(),
            ts: Timestamp::default(),
        })
    }

    #[test]
    fn outcomes() {
        assert_eq!(
            SessionOutcome::of(&end(false), Some(403)),
            SessionOutcome::Refused { status: 403 }
        );
        assert_eq!(
            SessionOutcome::of(&end(false), None),
            SessionOutcome::Unanswered
        );
        let mut e = end(true);
        assert_eq!(SessionOutcome::of(&e, Some(101)), SessionOutcome::Open);
        e.tcp_end = Some(CloseReason::EndOfCapture);
        assert_eq!(SessionOutcome::of(&e, Some(101)), SessionOutcome::Open);
        e.tcp_end = Some(CloseReason::Rst);
        assert_eq!(
            SessionOutcome::of(&e, Some(101)),
            SessionOutcome::Abrupt(CloseReason::Rst)
        );
        e.client_close = close(1000);
        assert_eq!(
            SessionOutcome::of(&e, Some(101)),
            SessionOutcome::Abrupt(CloseReason::Rst),
            "one close frame is not a close handshake"
        );
        e.server_close = close(1000);
        e.initiator = Some(Dir::ServerToClient);
        e.clean = true;
        assert_eq!(
            SessionOutcome::of(&e, Some(101)),
            SessionOutcome::Closed {
                clean: true,
                initiator: Some(Dir::ServerToClient)
            }
        );
    }
}
