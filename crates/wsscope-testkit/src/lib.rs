//! Test-support kit that synthesizes capture files byte by byte.
//!
//! Everything here is an *independent* implementation of the encodings the
//! analyzer parses (pcap, pcapng, link layers, IPv4/IPv6, TCP, WebSocket), so
//! that tests exercising the analyzer with these captures are real tests.
//! This crate does not depend on `wsscope-core`, so the compiler checks that nothing here
//! uses the analyzer's own parsing code.
//!
//! Layers:
//! * [`capture`]: pcap / pcapng file writers (streaming, any `io::Write`).
//! * [`link`], [`ip`], [`tcp`]: packet encoders with correct checksums.
//! * [`conversation`]: a TCP connection simulator producing link-layer packets.
//! * [`ws`]: WebSocket frame, handshake and permessage-deflate builders.
//! * [`session`]: a small convenience layer producing complete WebSocket captures.
//! * [`adversarial`]: floods and hostile encodings around real sessions (stress tests).

pub mod adversarial;
pub mod capture;
pub mod conversation;
pub mod ip;
pub mod link;
pub mod session;
pub mod tcp;
pub mod ws;

pub use capture::{
    capture_bytes, pcap_bytes, pcapng_bytes, CaptureFormat, PcapNgWriter, PcapOptions, PcapWriter,
};
pub use conversation::Conversation;
pub use ip::{fragment_ipv4, fragment_ipv6, fragment_ipv6_with_id};
pub use link::Link;
pub use session::{simple_session, Session};
pub use tcp::{TcpFlags, TcpSegmentSpec};
pub use ws::{
    accept_for, deflate_message, frame_header_only, new_deflate_compressor, FrameSpec, LengthForm,
    UpgradeRequest, UpgradeResponse,
};

/// One captured packet: link-layer bytes plus capture metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Capture timestamp in nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    /// Captured link-layer bytes (may be shorter than the wire packet).
    pub data: Vec<u8>,
    /// Original on-the-wire length; written verbatim, may exceed `data.len()`.
    pub orig_len: u32,
}

impl Packet {
    /// A complete (untruncated) packet: `orig_len == data.len()`.
    pub fn new(ts_nanos: i64, data: Vec<u8>) -> Self {
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Packet {
            ts_nanos,
            data,
            orig_len,
        }
    }

    /// Keeps only the first `caplen` bytes, preserving `orig_len` (snaplen truncation).
    pub fn truncated(mut self, caplen: usize) -> Self {
        self.data.truncate(caplen);
        self
    }
}

/// Direction of a segment within a TCP conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the connection initiator (the WebSocket client).
    ClientToServer,
    /// From the listener (the WebSocket server).
    ServerToClient,
}

impl Dir {
    /// The opposite direction.
    pub fn reverse(self) -> Dir {
        match self {
            Dir::ClientToServer => Dir::ServerToClient,
            Dir::ServerToClient => Dir::ClientToServer,
        }
    }
}
