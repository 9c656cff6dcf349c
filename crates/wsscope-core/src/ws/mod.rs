//! WebSocket (RFC 6455): frame headers and unmasking ([`frame`]), the streaming frame decoder
//! with gap handling and resynchronisation ([`decoder`]), permessage-deflate ([`deflate`]),
//! incremental UTF-8 validation ([`utf8`]), close codes ([`close_code`]) and message assembly with all framing rules
//! ([`message`]).

pub mod close_code;
pub mod decoder;
pub mod deflate;
pub mod frame;
pub mod message;
pub mod utf8;
