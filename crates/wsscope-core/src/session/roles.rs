//! Client/server roles of a connection. The flow table owns them; when the roles were
//! inferred and the first bytes show the other side sends the masked frames (or
//! `--decode-as` names the other port), the session hands the table that evidence
//! ([`Connection::take_role_evidence`], answered with [`crate::tcp::Verdict::ClientIs`]) and
//! relabels what it buffered. All the role logic of a session is in this file.

use super::{Connection, SessionConfig};
use crate::tcp::Dir;
use crate::ws::decoder::Expectations;
use crate::ws::frame::FrameHeader;

/// What the first non-HTTP bytes of a direction say about the roles.
pub(super) struct Framing {
    /// The inferred roles are the wrong way round.
    pub reverse: bool,
    /// The bytes look like WebSocket frames from their sender (in the corrected roles).
    pub looks_ws: bool,
}

impl Connection {
    /// Evidence about which side is the client found since the last call, for the flow
    /// table (which owns the roles, [`crate::tcp::Verdict::ClientIs`]): the sender of the
    /// returned direction, as the table labelled it so far, is the client. This connection
    /// already reads its own state and later events with the roles that evidence gives.
    pub fn take_role_evidence(&mut self) -> Option<Dir> {
        self.role_evidence.take()
    }

    /// The first bytes of `dir` are not HTTP: whether the roles must be reversed (they were
    /// inferred and the framing, masked frames coming from the client, or `--decode-as` says
    /// the guess was wrong), and whether the bytes look like WebSocket frames from the side
    /// that sent them (with the roles reversed when they must be).
    pub(super) fn framing_evidence(&self, cfg: &SessionConfig, dir: Dir) -> Framing {
        let plausible_as = |bytes: &[u8], client: bool| {
            let expect = Expectations {
                masked: client,
                rsv1_allowed: true,
            };
            FrameHeader::parse(bytes).is_some_and(|h| expect.plausible(&h))
        };
        let looks_ws = plausible_as(&self.bufs[dir.index()], dir == Dir::ClientToServer);
        let reversed_looks_ws = plausible_as(&self.bufs[dir.index()], dir != Dir::ClientToServer);
        let forced_reversed = cfg.decode_as_ports.contains(&self.client.port())
            && !cfg.decode_as_ports.contains(&self.server.port());
        // Masked frames come from the client: the flow table's inferred roles were wrong.
        let reverse = self.roles_inferred && ((!looks_ws && reversed_looks_ws) || forced_reversed);
        Framing {
            reverse,
            looks_ws: if reverse { reversed_looks_ws } else { looks_ws },
        }
    }

    /// Applies a reversal decided by [`Connection::correct_roles_from_framing`]: the flow
    /// table is told (it reports every later event and its counters with the new roles) and
    /// what is buffered here is relabelled now.
    pub(super) fn reverse_roles(&mut self) {
        self.role_evidence = Some(Dir::ServerToClient);
        std::mem::swap(&mut self.client, &mut self.server);
        self.bufs.swap(0, 1);
        self.skip.swap(0, 1);
        self.scanned.swap(0, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::SessionEvent;
    use crate::tcp::flow::Began;

    #[test]
    fn masked_frames_from_the_guessed_server_swap_inferred_roles() {
        let mut h = Harness::began(Began::Midstream, true);
        // The flow table's "server" sends masked frames: it is the client. The session hands
        // the table that evidence, and the table labels later events with the corrected roles.
        h.send(S, &frame(0x1, b"from the client", true));
        assert_eq!(h.conn.take_role_evidence(), Some(S));
        assert_eq!(h.conn.take_role_evidence(), None, "handed over once");
        h.send(S, &frame(0x1, b"from the server", false));
        assert_eq!(
            h.take()[2..],
            [
                "message 1 #1 c2s text \"from the client\"",
                "message 1 #2 s2c text \"from the server\"",
            ]
        );
        // Roles decided from the SYN are kept: the frames are then not WebSocket.
        let mut h = Harness::began(Began::Midstream, false);
        h.send(S, &frame(0x1, b"masked", true));
        assert!(h.conn.is_done());
        assert_eq!(h.conn.take_role_evidence(), None);
        assert!(!h.out.iter().any(|e| matches!(e, SessionEvent::Start(_))));
    }
}
