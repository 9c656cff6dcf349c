//! HTTP/2 frame layer (RFC 9113 section 4 and 6): the client connection preface, a frame reader
//! over one direction's reassembled bytes in any segmentation, and typed frames with typed errors.

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Length of a frame header.
pub const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE before a peer announces one.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// Largest SETTINGS_MAX_FRAME_SIZE a peer may announce (2^24 - 1).
pub const MAX_ANNOUNCED_FRAME_SIZE: u32 = (1 << 24) - 1;

/// What the reader accepts at most, whatever is announced: bounds the memory of one direction.
pub const HARD_MAX_FRAME_SIZE: u32 = 1 << 20;

/// SETTINGS identifiers (RFC 9113 section 6.5.2, RFC 8441 section 3).
pub mod settings_id {
    /// SETTINGS_HEADER_TABLE_SIZE
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
}

/// Frame flags.
pub mod flags {
    /// END_STREAM (DATA, HEADERS)
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING)
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION)
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED (DATA, HEADERS, PUSH_PROMISE)
    pub const PADDED: u8 = 0x8;
    /// PRIORITY (HEADERS)
    pub const PRIORITY: u8 = 0x20;
}

/// Frame type codes (RFC 9113 section 6).
pub mod kind {
    /// DATA
    pub const DATA: u8 = 0x0;
    /// HEADERS
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING
    pub const PING: u8 = 0x6;
    /// GOAWAY
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION
    pub const CONTINUATION: u8 = 0x9;
}

/// The name of a frame type, for messages.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        kind::DATA => "DATA",
        kind::HEADERS => "HEADERS",
        kind::PRIORITY => "PRIORITY",
        kind::RST_STREAM => "RST_STREAM",
        kind::SETTINGS => "SETTINGS",
        kind::PUSH_PROMISE => "PUSH_PROMISE",
        kind::PING => "PING",
        kind::GOAWAY => "GOAWAY",
        kind::WINDOW_UPDATE => "WINDOW_UPDATE",
        kind::CONTINUATION => "CONTINUATION",
        _ => "unknown",
    }
}

/// How the first bytes of a client stream compare with the preface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefaceCheck {
    /// The whole preface is there.
    Match,
    /// What is there agrees with the preface so far: more bytes are needed.
    Partial,
    /// Not an HTTP/2 prior-knowledge connection.
    NoMatch,
}

/// Compares the first bytes of a client-to-server stream with the connection preface.
pub fn check_preface(bytes: &[u8]) -> PrefaceCheck {
    let n = bytes.len().min(PREFACE.len());
    if bytes[..n] != PREFACE[..n] {
        PrefaceCheck::NoMatch
    } else if n == PREFACE.len() {
        PrefaceCheck::Match
    } else {
        PrefaceCheck::Partial
    }
}

/// The 9-byte frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    /// Frame type code ([`kind`]).
    pub kind: u8,
    /// Flags ([`flags`]).
    pub flags: u8,
    /// Stream identifier (31 bits, the reserved bit cleared).
    pub stream_id: u32,
}

impl FrameHeader {
    /// Reads a header from exactly 9 bytes.
    pub fn parse(b: &[u8; HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    /// Whether a flag bit is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A malformed frame or stream: a connection error in RFC 9113 terms, so the reader stops.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The client's first bytes are not the connection preface.
    #[error("the client did not start with the HTTP/2 connection preface")]
    BadPreface,
    /// A frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE (or the hard cap).
    #[error("{kind} frame of {length} bytes exceeds the maximum frame size {max}")]
    TooLarge {
        /// Frame type name.
        kind: &'static str,
        /// Announced payload length.
        length: u32,
        /// Limit in force.
        max: u32,
    },
    /// A frame whose length is wrong for its type.
    #[error("{kind} frame with invalid length {length}")]
    BadLength {
        /// Frame type name.
        kind: &'static str,
        /// Payload length.
        length: u32,
    },
    /// Padding longer than the payload.
    #[error("{kind} frame padding of {pad} bytes does not fit in its {length}-byte payload")]
    BadPadding {
        /// Frame type name.
        kind: &'static str,
        /// Pad Length field.
        pad: u8,
        /// Payload length.
        length: u32,
    },
    /// A stream frame on stream 0.
    #[error("{kind} frame on stream 0")]
    StreamZero {
        /// Frame type name.
        kind: &'static str,
    },
    /// A connection frame on a stream.
    #[error("{kind} frame on stream {stream_id}, allowed only on stream 0")]
    StreamNonZero {
        /// Frame type name.
        kind: &'static str,
        /// The stream it named.
        stream_id: u32,
    },
    /// A SETTINGS value outside its range.
    #[error("SETTINGS parameter {id:#x} has invalid value {value}")]
    BadSetting {
        /// Identifier.
        id: u16,
        /// Value.
        value: u32,
    },
}

/// A frame's priority fields (deprecated by RFC 9113 but still parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Exclusive flag.
    pub exclusive: bool,
    /// Stream dependency.
    pub depends_on: u32,
    /// Weight (the wire value; the weight is this + 1).
    pub weight: u8,
}

/// A parsed frame; payloads borrow from the frame bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA, padding removed.
    Data {
        /// Stream.
        stream_id: u32,
        /// END_STREAM flag.
        end_stream: bool,
        /// Payload without padding.
        data: &'a [u8],
        /// Bytes the frame counted for flow control (the whole payload).
        flow_len: u32,
    },
    /// HEADERS, padding and priority removed.
    Headers {
        /// Stream.
        stream_id: u32,
        /// END_STREAM flag.
        end_stream: bool,
        /// END_HEADERS flag.
        end_headers: bool,
        /// Priority fields when the PRIORITY flag is set.
        priority: Option<Priority>,
        /// Header block fragment.
        fragment: &'a [u8],
    },
    /// PRIORITY.
    Priority {
        /// Stream.
        stream_id: u32,
        /// Fields.
        priority: Priority,
    },
    /// RST_STREAM.
    RstStream {
        /// Stream.
        stream_id: u32,
        /// Error code.
        code: u32,
    },
    /// SETTINGS.
    Settings {
        /// ACK flag (no parameters then).
        ack: bool,
        /// Parameters in order (identifier, value).
        params: Vec<(u16, u32)>,
    },
    /// PUSH_PROMISE.
    PushPromise {
        /// Stream the promise is sent on.
        stream_id: u32,
        /// END_HEADERS flag.
        end_headers: bool,
        /// Promised stream.
        promised_id: u32,
        /// Header block fragment.
        fragment: &'a [u8],
    },
    /// PING.
    Ping {
        /// ACK flag.
        ack: bool,
        /// Opaque data.
        data: [u8; 8],
    },
    /// GOAWAY.
    GoAway {
        /// Last stream the sender may have processed.
        last_stream_id: u32,
        /// Error code.
        code: u32,
        /// Additional debug data.
        debug: &'a [u8],
    },
    /// WINDOW_UPDATE (an increment of 0 is kept: the caller reports it).
    WindowUpdate {
        /// Stream (0: the connection).
        stream_id: u32,
        /// Increment.
        increment: u32,
    },
    /// CONTINUATION.
    Continuation {
        /// Stream.
        stream_id: u32,
        /// END_HEADERS flag.
        end_headers: bool,
        /// Header block fragment.
        fragment: &'a [u8],
    },
    /// A frame type this layer does not know (ignored per RFC 9113 section 4.1).
    Unknown {
        /// Type code.
        kind: u8,
        /// Stream.
        stream_id: u32,
    },
}

fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Removes the Pad Length byte and the padding when the PADDED flag is set.
fn unpad<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<&'a [u8], FrameError> {
    if !h.has(flags::PADDED) {
        return Ok(payload);
    }
    let kind = kind_name(h.kind);
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(FrameError::BadLength {
            kind,
            length: h.length,
        });
    };
    if pad as usize > rest.len() {
        return Err(FrameError::BadPadding {
            kind,
            pad,
            length: h.length,
        });
    }
    Ok(&rest[..rest.len() - pad as usize])
}

fn priority(b: &[u8]) -> Priority {
    let dep = be32(b);
    Priority {
        exclusive: dep & 0x8000_0000 != 0,
        depends_on: dep & 0x7fff_ffff,
        weight: b.get(4).copied().unwrap_or(0),
    }
}

/// Parses one frame whose payload is complete (`payload.len() == h.length`).
pub fn parse_frame<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
    let kind = kind_name(h.kind);
    let len = h.length;
    let sid = h.stream_id;
    let bad_len = || FrameError::BadLength { kind, length: len };
    let need_stream = || {
        if sid == 0 {
            Err(FrameError::StreamZero { kind })
        } else {
            Ok(())
        }
    };
    let need_conn = || {
        if sid != 0 {
            Err(FrameError::StreamNonZero {
                kind,
                stream_id: sid,
            })
        } else {
            Ok(())
        }
    };
    Ok(match h.kind {
        kind::DATA => {
            need_stream()?;
            Frame::Data {
                stream_id: sid,
                end_stream: h.has(flags::END_STREAM),
                data: unpad(h, payload)?,
                flow_len: len,
            }
        }
        kind::HEADERS => {
            need_stream()?;
            let mut rest = unpad(h, payload)?;
            let mut prio = None;
            if h.has(flags::PRIORITY) {
                if rest.len() < 5 {
                    return Err(bad_len());
                }
                prio = Some(priority(rest));
                rest = &rest[5..];
            }
            Frame::Headers {
                stream_id: sid,
                end_stream: h.has(flags::END_STREAM),
                end_headers: h.has(flags::END_HEADERS),
                priority: prio,
                fragment: rest,
            }
        }
        kind::PRIORITY => {
            need_stream()?;
            if len != 5 {
                return Err(bad_len());
            }
            Frame::Priority {
                stream_id: sid,
                priority: priority(payload),
            }
        }
        kind::RST_STREAM => {
            need_stream()?;
            if len != 4 {
                return Err(bad_len());
            }
            Frame::RstStream {
                stream_id: sid,
                code: be32(payload),
            }
        }
        kind::SETTINGS => {
            need_conn()?;
            let ack = h.has(flags::ACK);
            if len % 6 != 0 || (ack && len != 0) {
                return Err(bad_len());
            }
            let mut params = Vec::with_capacity(payload.len() / 6);
            for p in payload.chunks_exact(6) {
                let id = u16::from_be_bytes([p[0], p[1]]);
                let value = be32(&p[2..]);
                let ok = match id {
                    settings_id::ENABLE_PUSH | settings_id::ENABLE_CONNECT_PROTOCOL => value <= 1,
                    settings_id::INITIAL_WINDOW_SIZE => value <= 0x7fff_ffff,
                    settings_id::MAX_FRAME_SIZE => {
                        (DEFAULT_MAX_FRAME_SIZE..=MAX_ANNOUNCED_FRAME_SIZE).contains(&value)
                    }
                    _ => true,
                };
                if !ok {
                    return Err(FrameError::BadSetting { id, value });
                }
                params.push((id, value));
            }
            Frame::Settings { ack, params }
        }
        kind::PUSH_PROMISE => {
            need_stream()?;
            let rest = unpad(h, payload)?;
            if rest.len() < 4 {
                return Err(bad_len());
            }
            Frame::PushPromise {
                stream_id: sid,
                end_headers: h.has(flags::END_HEADERS),
                promised_id: be32(rest) & 0x7fff_ffff,
                fragment: &rest[4..],
            }
        }
        kind::PING => {
            need_conn()?;
            let data: [u8; 8] = payload.try_into().map_err(|_| bad_len())?;
            Frame::Ping {
                ack: h.has(flags::ACK),
                data,
            }
        }
        kind::GOAWAY => {
            need_conn()?;
            if len < 8 {
                return Err(bad_len());
            }
            Frame::GoAway {
                last_stream_id: be32(payload) & 0x7fff_ffff,
                code: be32(&payload[4..]),
                debug: &payload[8..],
            }
        }
        kind::WINDOW_UPDATE => {
            if len != 4 {
                return Err(bad_len());
            }
            Frame::WindowUpdate {
                stream_id: sid,
                increment: be32(payload) & 0x7fff_ffff,
            }
        }
        kind::CONTINUATION => {
            need_stream()?;
            Frame::Continuation {
                stream_id: sid,
                end_headers: h.has(flags::END_HEADERS),
                fragment: payload,
            }
        }
        other => Frame::Unknown {
            kind: other,
            stream_id: sid,
        },
    })
}

/// A complete frame as read from the stream: its header and owned payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// The header.
    pub header: FrameHeader,
    /// Exactly `header.length` bytes.
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// Parses the payload by type.
    pub fn parse(&self) -> Result<Frame<'_>, FrameError> {
        parse_frame(&self.header, &self.payload)
    }
}

/// Reads frames from one direction's bytes, fed in any segmentation.
///
/// Memory is bounded: it holds at most one frame header and one payload no longer than the
/// frame size limit in force (at most [`HARD_MAX_FRAME_SIZE`]). After an error it stays failed
/// and ignores further bytes (HTTP/2 cannot resynchronise).
#[derive(Debug)]
pub struct FrameReader {
    expect_preface: bool,
    preface_seen: usize,
    max_frame_size: u32,
    head: [u8; HEADER_LEN],
    head_len: usize,
    current: Option<FrameHeader>,
    payload: Vec<u8>,
    failed: bool,
}

impl FrameReader {
    /// A reader for the client's direction (expects the preface first) or the server's.
    pub fn new(expect_preface: bool) -> FrameReader {
        FrameReader {
            expect_preface,
            preface_seen: 0,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            head: [0; HEADER_LEN],
            head_len: 0,
            current: None,
            payload: Vec::new(),
            failed: false,
        }
    }

    /// Applies a SETTINGS_MAX_FRAME_SIZE announced by the receiver of this direction, clamped
    /// to [`HARD_MAX_FRAME_SIZE`]. The limit only grows: a passive observer cannot tell exactly
    /// when the sender saw the change.
    pub fn announce_max_frame_size(&mut self, value: u32) {
        let v = value.clamp(DEFAULT_MAX_FRAME_SIZE, HARD_MAX_FRAME_SIZE);
        self.max_frame_size = self.max_frame_size.max(v);
    }

    /// The frame size limit in force.
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Whether the reader has stopped on an error.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Consumes bytes, appending complete frames (or the one error that stops the reader).
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Result<RawFrame, FrameError>>) {
        while !bytes.is_empty() && !self.failed {
            if self.expect_preface && self.preface_seen < PREFACE.len() {
                let n = bytes.len().min(PREFACE.len() - self.preface_seen);
                if bytes[..n] != PREFACE[self.preface_seen..self.preface_seen + n] {
                    self.failed = true;
                    out.push(Err(FrameError::BadPreface));
                    return;
                }
                self.preface_seen += n;
                bytes = &bytes[n..];
                continue;
            }
            match self.current {
                None => {
                    let n = bytes.len().min(HEADER_LEN - self.head_len);
                    self.head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
                    self.head_len += n;
                    bytes = &bytes[n..];
                    if self.head_len < HEADER_LEN {
                        continue;
                    }
                    self.head_len = 0;
                    let h = FrameHeader::parse(&self.head);
                    if h.length > self.max_frame_size {
                        self.failed = true;
                        out.push(Err(FrameError::TooLarge {
                            kind: kind_name(h.kind),
                            length: h.length,
                            max: self.max_frame_size,
                        }));
                        return;
                    }
                    self.payload = Vec::with_capacity(h.length as usize);
                    self.current = Some(h);
                }
                Some(h) => {
                    let want = h.length as usize - self.payload.len();
                    let n = bytes.len().min(want);
                    self.payload.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                }
            }
            if let Some(h) = self.current {
                if self.payload.len() == h.length as usize {
                    self.current = None;
                    out.push(Ok(RawFrame {
                        header: h,
                        payload: std::mem::take(&mut self.payload),
                    }));
                }
            }
        }
    }

    /// Marks the reader failed (a gap in the stream: frame boundaries are lost).
    pub fn fail(&mut self) {
        self.failed = true;
        self.current = None;
        self.payload = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut v = len.to_be_bytes()[1..].to_vec();
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&sid.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn read_all(bytes: &[u8], preface: bool) -> Vec<Result<RawFrame, FrameError>> {
        let mut r = FrameReader::new(preface);
        let mut out = Vec::new();
        r.push(bytes, &mut out);
        out
    }

    #[test]
    fn preface_check() {
        assert_eq!(check_preface(b"PRI * HT"), PrefaceCheck::Partial);
        assert_eq!(check_preface(PREFACE), PrefaceCheck::Match);
        assert_eq!(check_preface(b"GET / HTTP/1.1\r\n"), PrefaceCheck::NoMatch);
        assert_eq!(check_preface(b""), PrefaceCheck::Partial);
        let out = read_all(b"PRI * HTTP/1.1\r\n", true);
        assert_eq!(out, vec![Err(FrameError::BadPreface)]);
    }

    #[test]
    fn any_segmentation_gives_the_same_frames() {
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(kind::SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 1]));
        bytes.extend(frame(kind::PING, 0, 0, &[1, 2, 3, 4, 5, 6, 7, 8]));
        bytes.extend(frame(kind::DATA, flags::END_STREAM, 1, b"hello"));
        bytes.extend(frame(kind::DATA, 0, 3, b""));
        let whole = read_all(&bytes, true);
        assert_eq!(whole.len(), 4);
        for size in 1..bytes.len() {
            let mut r = FrameReader::new(true);
            let mut out = Vec::new();
            for c in bytes.chunks(size) {
                r.push(c, &mut out);
            }
            assert_eq!(out, whole, "chunk size {size}");
        }
    }

    #[test]
    fn data_padding_and_headers_priority() {
        let raw = frame(kind::DATA, flags::PADDED, 1, &[3, b'a', b'b', 0, 0, 0]);
        let f = read_all(&raw, false).remove(0).unwrap();
        assert_eq!(
            f.parse().unwrap(),
            Frame::Data {
                stream_id: 1,
                end_stream: false,
                data: b"ab",
                flow_len: 6
            }
        );
        let raw = frame(kind::DATA, flags::PADDED, 1, &[9, b'a']);
        let f = read_all(&raw, false).remove(0).unwrap();
        assert!(matches!(
            f.parse(),
            Err(FrameError::BadPadding { pad: 9, .. })
        ));

        let raw = frame(
            kind::HEADERS,
            flags::PADDED | flags::PRIORITY | flags::END_HEADERS,
            5,
            &[1, 0x80, 0, 0, 3, 15, 0x82, 0],
        );
        let f = read_all(&raw, false).remove(0).unwrap();
        assert_eq!(
            f.parse().unwrap(),
            Frame::Headers {
                stream_id: 5,
                end_stream: false,
                end_headers: true,
                priority: Some(Priority {
                    exclusive: true,
                    depends_on: 3,
                    weight: 15
                }),
                fragment: &[0x82],
            }
        );
    }

    #[test]
    fn typed_errors() {
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (
                frame(kind::SETTINGS, 0, 1, &[]),
                FrameError::StreamNonZero {
                    kind: "SETTINGS",
                    stream_id: 1,
                },
            ),
            (
                frame(kind::SETTINGS, 0, 0, &[0, 8, 0, 0]),
                FrameError::BadLength {
                    kind: "SETTINGS",
                    length: 4,
                },
            ),
            (
                frame(kind::SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 2]),
                FrameError::BadSetting { id: 8, value: 2 },
            ),
            (
                frame(kind::SETTINGS, 0, 0, &[0, 5, 0, 0, 0, 1]),
                FrameError::BadSetting { id: 5, value: 1 },
            ),
            (
                frame(kind::DATA, 0, 0, b"x"),
                FrameError::StreamZero { kind: "DATA" },
            ),
            (
                frame(kind::RST_STREAM, 0, 1, &[0; 3]),
                FrameError::BadLength {
                    kind: "RST_STREAM",
                    length: 3,
                },
            ),
            (
                frame(kind::PING, 0, 0, &[0; 7]),
                FrameError::BadLength {
                    kind: "PING",
                    length: 7,
                },
            ),
            (
                frame(kind::GOAWAY, 0, 0, &[0; 7]),
                FrameError::BadLength {
                    kind: "GOAWAY",
                    length: 7,
                },
            ),
            (
                frame(kind::PRIORITY, 0, 1, &[0; 4]),
                FrameError::BadLength {
                    kind: "PRIORITY",
                    length: 4,
                },
            ),
        ];
        for (raw, want) in cases {
            let f = read_all(&raw, false).remove(0).unwrap();
            let err = f.parse().unwrap_err();
            assert!(!err.to_string().is_empty());
            assert_eq!(err, want);
        }
    }

    #[test]
    fn settings_and_goaway_parse() {
        let raw = frame(kind::SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 1, 0, 5, 0, 1, 0, 0]);
        let f = read_all(&raw, false).remove(0).unwrap();
        assert_eq!(
            f.parse().unwrap(),
            Frame::Settings {
                ack: false,
                params: vec![(8, 1), (5, 65536)]
            }
        );
        let raw = frame(kind::GOAWAY, 0, 0, &[0, 0, 0, 3, 0, 0, 0, 0, b'b', b'y']);
        let f = read_all(&raw, false).remove(0).unwrap();
        assert_eq!(
            f.parse().unwrap(),
            Frame::GoAway {
                last_stream_id: 3,
                code: 0,
                debug: b"by"
            }
        );
    }

    #[test]
    fn frame_size_limit_and_hard_cap() {
        let mut r = FrameReader::new(false);
        let mut out = Vec::new();
        // A 16385-byte header is refused before any payload is buffered.
        r.push(&[0, 0x40, 0x01, 0, 0, 0, 0, 0, 1], &mut out);
        assert!(matches!(
            out[0],
            Err(FrameError::TooLarge {
                length: 16385,
                max: 16384,
                ..
            })
        ));
        assert!(r.failed());
        r.push(&[0; 100], &mut out);
        assert_eq!(out.len(), 1);

        let mut r = FrameReader::new(false);
        r.announce_max_frame_size(MAX_ANNOUNCED_FRAME_SIZE);
        assert_eq!(r.max_frame_size(), HARD_MAX_FRAME_SIZE);
        let mut out = Vec::new();
        r.push(&frame(kind::DATA, 0, 1, &[7; 20_000]), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().payload.len(), 20_000);
    }
}
