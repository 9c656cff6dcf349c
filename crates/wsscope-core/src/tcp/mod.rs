//! TCP: per-direction stream reassembly ([`reassembly`]) and the bounded flow table that turns
//! segments into ordered stream events ([`flow`]).

pub mod flow;
pub mod reassembly;

pub use flow::{CloseReason, FlowId, FlowLimits, FlowSummary, FlowTable, TcpEvent, Verdict};
pub use reassembly::{ReassemblyLimits, StreamOutput, StreamReassembler};

/// Direction of bytes within a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    /// Client to server (the side that sent the SYN, or the one inferred to be the client).
    ClientToServer,
    /// Server to client.
    ServerToClient,
}

impl Dir {
    /// `c2s` or `s2c`, as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::ClientToServer => "c2s",
            Dir::ServerToClient => "s2c",
        }
    }

    /// The other direction.
    pub fn reverse(self) -> Dir {
        match self {
            Dir::ClientToServer => Dir::ServerToClient,
            Dir::ServerToClient => Dir::ClientToServer,
        }
    }

    /// 0 for c2s, 1 for s2c (array index).
    pub fn index(self) -> usize {
        match self {
            Dir::ClientToServer => 0,
            Dir::ServerToClient => 1,
        }
    }
}
