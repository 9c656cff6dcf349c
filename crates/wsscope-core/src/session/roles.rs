//! Client/server roles of a connection.

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
}
