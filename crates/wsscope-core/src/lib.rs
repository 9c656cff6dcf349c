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
//!  -> Sink     text, JSON, NDJSON (wsscope-output)       pipeline::Run drives it
//! ```
//!
//! How a session ended is decided once, in [`outcome`] ([`outcome::SessionOutcome`],
//! [`outcome::CloseCode`]); outputs only render it. Findings and their codes are in [`finding`],
//! the memory budget shared with the outputs in [`budget`].
//!
//! [`pipeline::Run`] is the one driver: it pulls packets from a [`pipeline::PacketSource`]
//! (a file or pipe here, a live interface in the binary), feeds the analyzer, keeps the totals,
//! adds the capture-level findings and hands every event to the sink.
//!
//! Everything between the capture source and the sinks is sans-IO and deterministic: time comes
//! from packets, never from the clock. The layers, the event flow and where a new protocol layer
//! (TLS, HTTP/2) would plug in are described in `docs/architecture.md` at the repository root.

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
