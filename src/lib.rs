//! wsscope: a passive WebSocket protocol analyzer.
//!
//! ```text
//! capture (pcap/pcapng bytes) -> packet (link/IP/TCP segments) -> tcp (reassembled streams)
//!   -> http (upgrade handshake) + ws (frames -> messages, inflate) -> session (findings)
//!   -> analyzer (events) -> sink (text, JSON report, NDJSON)
//! ```
//!
//! Everything between the capture source and the sinks is sans-IO and deterministic: time comes
//! from packets, never from the clock.

pub mod analyzer;
pub mod budget;
pub mod capture;
pub mod escape;
pub mod finding;
pub mod handshake;
pub mod http;
pub mod ipfrag;
#[cfg(feature = "live")]
pub mod live;
pub mod packet;
#[cfg(feature = "live")]
pub mod privdrop;
pub mod report;
pub mod run;
pub mod session;
pub mod sink;
pub mod tcp;
#[doc(hidden)]
pub mod testkit;
pub mod timestamp;
pub mod tui;
pub mod ws;
