//! Client/server roles of a connection: the flow table's guess, corrected here when the
//! first bytes show the other side sends the masked frames (or `--decode-as` names the
//! other port). All the role logic of a session is in this file: [`Connection::orient`] maps
//! every direction the flow table reports, [`Connection::correct_roles_from_framing`] decides
//! and applies the swap.

use super::*;

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
