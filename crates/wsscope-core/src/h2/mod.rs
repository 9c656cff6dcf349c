//! HTTP/2 building blocks for WebSockets over HTTP/2 (RFC 9113, HPACK RFC 7541, RFC 8441).
//!
//! Sans-IO and bounded, like the rest of the core:
//!
//! - [`frame`]: the client preface ([`frame::check_preface`]), the 9-byte frame header and a
//!   [`frame::FrameReader`] over one direction's in-order bytes in any segmentation, bounded
//!   by SETTINGS_MAX_FRAME_SIZE (16384 until the receiver announces more, never more than
//!   [`frame::HARD_MAX_FRAME_SIZE`]); typed frames and typed errors with human text.
//! - [`hpack`]: header blocks assembled across HEADERS/PUSH_PROMISE + CONTINUATION and decoded
//!   with the `loona-hpack` crate, the dynamic table bounded by SETTINGS_HEADER_TABLE_SIZE,
//!   the block size (CONTINUATION flood) and the decoded list size (HPACK bomb) capped.
//! - [`stream`]: [`stream::Connection`], both directions of one connection: settings, streams,
//!   RFC 8441 extended CONNECT recognised, each WebSocket stream's DATA handed on, stream ends
//!   (END_STREAM, RST_STREAM, GOAWAY, TCP end) and findings as [`stream::H2Event`]s.
//!
//! # How it plugs into the pipeline
//!
//! Per `docs/architecture.md` ("Where to add a protocol layer"), HTTP/2 sits between the TCP
//! streams (or the TLS plaintext) and the session layer, and splits one TCP flow into several
//! WebSocket sessions:
//!
//! 1. [`crate::stack::FlowStack`] picks the layer per flow from the first client bytes:
//!    [`frame::check_preface`] says `Match` (prior knowledge h2c; the server's SETTINGS may
//!    come first and is held), or an HTTP/1.1 `Upgrade: h2c` answered 101 hands the rest of
//!    the connection over ([`crate::session::H2cSwitch`]); `Partial` waits for more bytes,
//!    `NoMatch` keeps the HTTP/1.1 path. (TLS with ALPN `h2`: the TLS layer's own stack.)
//! 2. [`crate::session::H2Sessions`] maps each TCP event of the flow to this connection:
//!    `Data` -> [`stream::Connection::feed`], `Gap` -> [`stream::Connection::gap`] (HTTP/2
//!    cannot resynchronise: frame boundaries and the HPACK table are lost; streams stay open
//!    until the end), `Closed` -> [`stream::Connection::finish`]. The preface only comes from
//!    the client, so an h2 flow answers `Verdict::ClientIs` with certainty.
//! 3. It keeps a map stream id -> session: `StreamOpened` with
//!    `request.is_websocket_connect()` prepares a session whose handshake is the CONNECT
//!    request; `StreamResponse` 2xx starts it (`transport: H2 { stream_id }`), any other
//!    status is a refused session; `StreamData` feeds the session's WebSocket phase;
//!    `StreamEnded` ends it (`Closed` like a TCP FIN, `Reset`/`GoAway` like a RST with the
//!    frame and error code named, `ConnectionEnd` with the TCP reason). Non-WebSocket
//!    streams produce no session and no data copy.
//! 4. `H2Event::Finding` values become ordinary `Finding`s with the packet number of the
//!    segment that completed the frame, attached to the stream's session when there is one.
//!
//! Known limits for the next step: DATA is copied once per frame (a borrowed variant could
//! avoid it); SETTINGS from one direction are applied when read, while the other direction may
//! have been read ahead in capture order, so limits only ever grow; pushed streams are decoded
//! for the HPACK table only; after an h2c `Upgrade` the client's bytes following its request
//! start with the preface (fed with the server's bytes after the 101); stream 1, the
//! upgraded request, is not opened by a HEADERS frame and is not followed (it cannot be an
//! extended CONNECT); flow-control windows are not tracked;
//! `loona-hpack` builds its Huffman table for every Huffman-coded string (fine for header
//! blocks, worth measuring in the h2 benchmark) and brings `tracing` along. The fuzz target
//! `h2_connection` (fuzz/) drives [`stream::Connection`] with direction-tagged records.

pub mod frame;
pub mod hpack;
pub mod stream;

pub use stream::{Connection, Fields, H2Event, H2Finding, H2Limits, RequestHead, StreamEnd};
