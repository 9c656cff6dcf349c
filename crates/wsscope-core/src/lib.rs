//! wsscope-core: the sans-IO analysis pipeline of wsscope, a passive WebSocket protocol analyzer.
//!
//! The pipeline at a glance, one module a layer, each knowing only the one below it:
//!
//! ```text
//! pipeline  Run over a PacketSource (FileSource: file, pipe;  pipeline::{file, queue}
//!           PacketQueue: a producer thread such as live)
//!  -> capture  pcap/pcapng records (RawPacket)             capture
//!  -> packet   link -> IPv4/IPv6 -> TCP Segment            packet, ipfrag
//!  -> tcp      flow table, reassembly, the one owner of    tcp::flow, tcp::reassembly
//!              roles (TcpEvent; answered by a Verdict)
//!  -> session  one connection's state machines: http_phase session::{http_phase, chunked,
//!              (http, handshake), upgrade, midstream,        upgrade, midstream, roles,
//!              roles, ws_phase, heartbeat, close             ws_phase, heartbeat, close}
//!              -> ws: frames, messages, deflate, close codes  ws
//!  -> analyzer Event: SessionStart, Message, Finding,      analyzer
//!              SessionEnd, Flow
//!  -> Sink     text, JSON, NDJSON (wsscope-output), the TUI  sink
//! ```
//!
//! [`pipeline::Run`] is the one driver: it pulls packets from a [`pipeline::PacketSource`]
//! (a [`pipeline::FileSource`] for a file or pipe, a [`pipeline::queue::PacketQueue`] fed by a
//! producer thread such as the binary's live capture), feeds the [`analyzer::Analyzer`], keeps
//! the totals ([`sink::Tally`], [`totals::CaptureTotals`], [`totals::RunTotals`]), adds the
//! capture-level findings and hands every event to the [`sink::Sink`].
//!
//! Client and server roles are owned by the flow table ([`tcp::flow`]): a session hands it its
//! evidence (masked frames come from the client) by answering a TCP event with
//! [`tcp::Verdict::ClientIs`], so every event and counter names the same client.
//!
//! How a session ended is decided once, in [`outcome`] ([`outcome::SessionOutcome`],
//! [`outcome::CloseCode`]); outputs only render it. Findings and their codes are in [`finding`],
//! the memory budget shared with the outputs in [`budget`], the Community ID of a connection
//! in [`community_id`], escaping for terminals in [`escape`].
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
pub mod h2;
pub mod handshake;
pub mod http;
pub mod ipfrag;
pub mod outcome;
pub mod packet;
pub mod pipeline;
pub mod session;
pub mod sink;
pub mod stack;
pub mod tcp;
pub mod timestamp;
pub mod tls;
pub mod totals;
pub mod ws;
