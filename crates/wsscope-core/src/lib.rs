//! wsscope-core: the sans-IO analysis pipeline of wsscope, a passive WebSocket protocol analyzer.
//!
//! ```text
//! capture (pcap/pcapng bytes) -> packet (link/IP/TCP segments) -> tcp (reassembled streams)
//!   -> http (upgrade handshake) + ws (frames -> messages, inflate) -> session (findings)
//!   -> analyzer (events) -> sink (the `Sink` trait; the outputs live in `wsscope-output`)
//! ```
//!
//! [`pipeline::Run`] is the one driver: it pulls packets from a [`pipeline::PacketSource`]
//! (a file or pipe here, a live interface in the binary), feeds the analyzer, keeps the totals,
//! adds the capture-level findings and hands every event to the sink.
//!
//! Everything between the capture source and the sinks is sans-IO and deterministic: time comes
//! from packets, never from the clock.

pub mod analyzer;
pub mod budget;
pub mod capture;
pub mod community_id;
pub mod escape;
pub mod finding;
pub mod handshake;
pub mod http;
pub mod ipfrag;
pub mod outcome;
pub mod packet;
pub mod pipeline;
pub mod session;
pub mod sink;
pub mod tcp;
pub mod timestamp;
pub mod totals;
pub mod ws;
