//! wsscope-core: the sans-IO analysis pipeline of wsscope, a passive WebSocket protocol analyzer.
//!
//! The pipeline at a glance, one module a layer, each knowing only the one below it:
//!
//! ```text
//! capture   pcap/pcapng records (RawPacket)            capture
//!  -> packet   link -> IPv4/IPv6 -> TCP Segment          packet, ipfrag
//!  -> tcp      flow table, reassembly, roles (TcpEvent)  tcp::flow, tcp::reassembly
//!  -> session  http phase (http, handshake), mid-stream  session
//!              detection, ws phase, heartbeat, close
//!              -> ws: frames, messages, deflate          ws
//!  -> analyzer Event: SessionStart, Message, Finding,    analyzer
//!              SessionEnd, Flow
//!  -> Sink     text, JSON, NDJSON (wsscope-output)       run drives it over a packet source
//! ```
//!
//! How a session ended is decided once, in [`outcome`] ([`outcome::SessionOutcome`],
//! [`outcome::CloseCode`]); outputs only render it. Findings and their codes are in [`finding`],
//! the memory budget shared with the outputs in [`budget`].
//!
//! Everything between the capture source and the sinks is sans-IO and deterministic: time comes
//! from packets, never from the clock. The layers, the event flow and where a new protocol layer
//! (TLS, HTTP/2) would plug in are described in `docs/architecture.md` at the repository root.

pub mod analyzer;
pub mod budget;
pub mod capture;
pub mod escape;
pub mod finding;
pub mod handshake;
pub mod http;
pub mod ipfrag;
pub mod outcome;
pub mod packet;
pub mod report;
pub mod run;
pub mod session;
pub mod sink;
pub mod tcp;
pub mod timestamp;
pub mod ws;
