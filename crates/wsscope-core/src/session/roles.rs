//! Client/server roles of a connection: the flow table's guess, corrected here when the
//! first bytes show the other side sends the masked frames (or `--decode-as` names the
//! other port). All the role logic of a session is in this file: [`Connection::orient`] maps
//! every direction the flow table reports, [`Connection::correct_roles_from_framing`] decides
//! and applies the swap.

use super::{Connection, SessionConfig};
use crate::tcp::Dir;
use crate::ws::decoder::Expectations;
use crate::ws::frame::FrameHeader;

impl Connection {
    /// Maps a direction as the flow table labels it to this connection's view.
    pub(super) fn orient(&self, dir: Dir) -> Dir {
        if self.swapped {
            dir.reverse()
        } else {
            dir
        }
    }

    /// The first bytes of `dir` are not HTTP: when the roles were inferred and the framing
    /// (masked frames come from the client) or `--decode-as` says the guess was wrong, the
    /// roles are swapped. Returns whether the bytes look like WebSocket frames from the
    /// side that sent them.
    pub(super) fn correct_roles_from_framing(&mut self, cfg: &SessionConfig, dir: Dir) -> bool {
        let plausible_as = |bytes: &[u8], client: bool| {
            let expect = Expectations {
                masked: client,
                rsv1_allowed: true,
            };
            FrameHeader::parse(bytes).is_some_and(|h| expect.plausible(&h))
        };
        let mut looks_ws = plausible_as(&self.bufs[dir.index()], dir == Dir::ClientToServer);
        let reversed_looks_ws = plausible_as(&self.bufs[dir.index()], dir != Dir::ClientToServer);
        let forced_reversed = cfg.decode_as_ports.contains(&self.client.port())
            && !cfg.decode_as_ports.contains(&self.server.port());
        if self.roles_inferred && ((!looks_ws && reversed_looks_ws) || forced_reversed) {
            // Masked frames come from the client: the port-based guess was wrong.
            self.swapped = !self.swapped;
            std::mem::swap(&mut self.client, &mut self.server);
            self.bufs.swap(0, 1);
            self.skip.swap(0, 1);
            self.scanned.swap(0, 1);
            looks_ws = reversed_looks_ws;
        }
        looks_ws
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
        // The flow table's "server" sends masked frames: it is the client.
        h.send(S, &frame(0x1, b"from the client", true));
        h.send(C, &frame(0x1, b"from the server", false));
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
        assert!(!h.out.iter().any(|e| matches!(e, SessionEvent::Start(_))));
    }
}
