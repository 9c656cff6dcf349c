//! One HTTP/2 connection seen from outside: both directions' frames, their header blocks and
//! the per-stream state needed to recognise WebSockets over HTTP/2 (RFC 8441 extended CONNECT)
//! and hand on each such stream's DATA bytes.

use std::collections::BTreeMap;

use super::frame::{self, settings_id, Frame, FrameError, FrameReader, RawFrame};
use super::hpack::{BlockKind, Field, HeaderBlock, HeaderDecoder, HeaderError, HeaderLimits};
use crate::tcp::Dir;

/// Bounds of one connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H2Limits {
    /// Header block bounds, per direction.
    pub headers: HeaderLimits,
    /// Streams tracked at once; more are reported and not followed.
    pub max_streams: usize,
}

impl Default for H2Limits {
    fn default() -> Self {
        H2Limits {
            headers: HeaderLimits::default(),
            max_streams: 1024,
        }
    }
}

/// The request head of a stream (pseudo-header fields pulled out, the rest in order).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `:method`
    pub method: Option<String>,
    /// `:protocol` (RFC 8441; `websocket` for WebSockets)
    pub protocol: Option<String>,
    /// `:scheme`
    pub scheme: Option<String>,
    /// `:path`
    pub path: Option<String>,
    /// `:authority`
    pub authority: Option<String>,
    /// Regular fields in order (values may hold cookies or tokens: not in Debug).
    pub fields: Vec<Field>,
}

impl std::fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self
            .fields
            .iter()
            .map(|(n, _)| String::from_utf8_lossy(n))
            .collect();
        f.debug_struct("RequestHead")
            .field("method", &self.method)
            .field("protocol", &self.protocol)
            .field("scheme", &self.scheme)
            .field("path", &self.path)
            .field("authority", &self.authority)
            .field("field_names", &names)
            .finish()
    }
}

impl RequestHead {
    fn from_fields(fields: Vec<Field>) -> RequestHead {
        let mut head = RequestHead {
            method: None,
            protocol: None,
            scheme: None,
            path: None,
            authority: None,
            fields: Vec::new(),
        };
        for (n, v) in fields {
            let text = || Some(String::from_utf8_lossy(&v).into_owned());
            match n.as_slice() {
                b":method" => head.method = text(),
                b":protocol" => head.protocol = text(),
                b":scheme" => head.scheme = text(),
                b":path" => head.path = text(),
                b":authority" => head.authority = text(),
                _ => head.fields.push((n, v)),
            }
        }
        head
    }

    /// The first value of a regular field (name in lowercase).
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.as_slice() == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// An RFC 8441 extended CONNECT for a WebSocket.
    pub fn is_websocket_connect(&self) -> bool {
        self.method.as_deref() == Some("CONNECT")
            && self
                .protocol
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case("websocket"))
    }
}

/// Regular header fields of a response, in order (values may hold cookies or tokens: not in
/// Debug).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<Field>);

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| String::from_utf8_lossy(n)))
            .finish()
    }
}

/// How a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// Both directions sent END_STREAM.
    Closed,
    /// RST_STREAM from one side, with its error code.
    Reset {
        /// Who sent it.
        by: Dir,
        /// Error code.
        code: u32,
    },
    /// A GOAWAY whose last stream id is below this stream.
    GoAway {
        /// Who sent it.
        by: Dir,
        /// Error code.
        code: u32,
    },
    /// The connection ended (TCP end) with the stream open.
    ConnectionEnd,
}

/// Conditions worth a finding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum H2Finding {
    /// A malformed frame: that direction's decoding stopped.
    #[error("HTTP/2 {}: {error}", from.as_str())]
    Frame {
        /// Direction.
        from: Dir,
        /// What was wrong.
        error: FrameError,
    },
    /// A header block problem.
    #[error("HTTP/2 {}: {error}", from.as_str())]
    Header {
        /// Direction.
        from: Dir,
        /// What was wrong.
        error: HeaderError,
    },
    /// Extended CONNECT before (or without) the server's SETTINGS_ENABLE_CONNECT_PROTOCOL=1.
    #[error("stream {stream_id}: extended CONNECT but the server has not sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1")]
    ConnectProtocolNotEnabled {
        /// Stream.
        stream_id: u32,
    },
    /// `sec-websocket-version` missing or not 13.
    #[error("stream {stream_id}: sec-websocket-version is {}, expected 13", version.as_deref().unwrap_or("missing"))]
    WebSocketVersion {
        /// Stream.
        stream_id: u32,
        /// The value sent, if any.
        version: Option<String>,
    },
    /// A field HTTP/2 WebSockets do not use (Sec-WebSocket-Key / -Accept).
    #[error("stream {stream_id}: {name} is not used by WebSockets over HTTP/2 (RFC 8441)")]
    Http1Field {
        /// Stream.
        stream_id: u32,
        /// Field name.
        name: &'static str,
    },
    /// A required pseudo-header missing from an extended CONNECT.
    #[error("stream {stream_id}: extended CONNECT without {name}")]
    MissingPseudo {
        /// Stream.
        stream_id: u32,
        /// Pseudo-header name.
        name: &'static str,
    },
    /// A response without a valid `:status`.
    #[error("stream {stream_id}: response without a valid :status")]
    BadStatus {
        /// Stream.
        stream_id: u32,
    },
    /// More concurrent streams than tracked.
    #[error("stream {stream_id} not followed: more than {max} streams open")]
    TooManyStreams {
        /// Stream.
        stream_id: u32,
        /// Limit.
        max: usize,
    },
    /// WINDOW_UPDATE with an increment of 0.
    #[error("HTTP/2 {}: WINDOW_UPDATE with increment 0 on stream {stream_id}", from.as_str())]
    ZeroWindowUpdate {
        /// Direction.
        from: Dir,
        /// Stream (0: connection).
        stream_id: u32,
    },
    /// Bytes missing from a direction: frame boundaries and the HPACK table are lost.
    #[error("HTTP/2 {}: bytes missing from the capture, decoding of this direction stopped", from.as_str())]
    Gap {
        /// Direction.
        from: Dir,
    },
}

/// What the connection layer emits, in the order the frames were read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum H2Event {
    /// A SETTINGS frame.
    Settings {
        /// Sender.
        from: Dir,
        /// ACK flag.
        ack: bool,
        /// SETTINGS_ENABLE_CONNECT_PROTOCOL when present.
        enable_connect_protocol: Option<bool>,
    },
    /// A request opened a stream.
    StreamOpened {
        /// Stream.
        stream_id: u32,
        /// Its head.
        request: RequestHead,
    },
    /// The final (non-1xx) response head of a stream.
    StreamResponse {
        /// Stream.
        stream_id: u32,
        /// `:status`.
        status: u16,
        /// The other fields (pseudo-header fields left out).
        fields: Fields,
    },
    /// DATA payload of an extended CONNECT stream (the WebSocket bytes), padding removed.
    StreamData {
        /// Stream.
        stream_id: u32,
        /// Direction.
        from: Dir,
        /// Bytes.
        bytes: Vec<u8>,
    },
    /// One side sent END_STREAM.
    StreamHalfClosed {
        /// Stream.
        stream_id: u32,
        /// Direction that ended.
        from: Dir,
    },
    /// The stream is over.
    StreamEnded {
        /// Stream.
        stream_id: u32,
        /// How.
        how: StreamEnd,
    },
    /// GOAWAY.
    GoAway {
        /// Sender.
        from: Dir,
        /// Last stream id.
        last_stream_id: u32,
        /// Error code.
        code: u32,
    },
    /// A condition worth a finding.
    Finding(H2Finding),
}

#[derive(Debug)]
struct Stream {
    websocket: bool,
    responded: bool,
    ended: [bool; 2],
}

/// The sans-IO HTTP/2 connection decoder: feed each direction's in-order bytes, get events.
#[derive(Debug)]
pub struct Connection {
    readers: [FrameReader; 2],
    headers: [HeaderDecoder; 2],
    streams: BTreeMap<u32, Stream>,
    last_client_stream: u32,
    connect_protocol: Option<bool>,
    limits: H2Limits,
    frames: Vec<Result<RawFrame, FrameError>>,
}

impl Connection {
    /// A connection whose client starts with the prior-knowledge preface.
    pub fn new(limits: H2Limits) -> Connection {
        Connection {
            readers: [FrameReader::new(true), FrameReader::new(false)],
            headers: [
                HeaderDecoder::new(limits.headers),
                HeaderDecoder::new(limits.headers),
            ],
            streams: BTreeMap::new(),
            last_client_stream: 0,
            connect_protocol: None,
            limits,
            frames: Vec::new(),
        }
    }

    /// Whether the server has announced SETTINGS_ENABLE_CONNECT_PROTOCOL (last value seen).
    pub fn connect_protocol_enabled(&self) -> Option<bool> {
        self.connect_protocol
    }

    /// Streams currently tracked.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Consumes in-order bytes of one direction.
    pub fn feed(&mut self, from: Dir, bytes: &[u8], out: &mut Vec<H2Event>) {
        let mut frames = std::mem::take(&mut self.frames);
        self.readers[from.index()].push(bytes, &mut frames);
        let mut stop = false;
        for f in frames.drain(..) {
            match f {
                // A malformed frame stopped the direction: the frames read after it are dropped.
                Ok(_) if stop => {}
                Ok(raw) => stop = !self.frame(from, &raw, out),
                Err(error) => out.push(H2Event::Finding(H2Finding::Frame { from, error })),
            }
        }
        self.frames = frames;
    }

    /// Bytes of one direction are missing: it cannot be decoded any further.
    pub fn gap(&mut self, from: Dir, out: &mut Vec<H2Event>) {
        if !self.readers[from.index()].failed() {
            self.readers[from.index()].fail();
            out.push(H2Event::Finding(H2Finding::Gap { from }));
        }
    }

    /// The TCP connection ended: every stream still open ends, in stream order.
    pub fn finish(&mut self, out: &mut Vec<H2Event>) {
        for (stream_id, _) in std::mem::take(&mut self.streams) {
            out.push(H2Event::StreamEnded {
                stream_id,
                how: StreamEnd::ConnectionEnd,
            });
        }
    }

    /// Handles one frame; false when it was malformed and the direction stopped.
    fn frame(&mut self, from: Dir, raw: &RawFrame, out: &mut Vec<H2Event>) -> bool {
        let d = from.index();
        let frame = match raw.parse() {
            Ok(f) => f,
            Err(error) => {
                self.readers[d].fail();
                out.push(H2Event::Finding(H2Finding::Frame { from, error }));
                return false;
            }
        };
        if !matches!(frame, Frame::Continuation { .. }) {
            let sid = raw.header.stream_id;
            if let Err(error) =
                self.headers[d].check_not_in_block(frame::kind_name(raw.header.kind), sid)
            {
                out.push(H2Event::Finding(H2Finding::Header { from, error }));
            }
        }
        let block = match frame {
            Frame::Headers {
                stream_id,
                end_stream,
                end_headers,
                fragment,
                ..
            } => self.headers[d].begin(
                stream_id,
                BlockKind::Headers { end_stream },
                fragment,
                end_headers,
            ),
            Frame::PushPromise {
                stream_id,
                end_headers,
                promised_id,
                fragment,
            } => self.headers[d].begin(
                stream_id,
                BlockKind::PushPromise { promised_id },
                fragment,
                end_headers,
            ),
            Frame::Continuation {
                stream_id,
                end_headers,
                fragment,
            } => self.headers[d].continuation(stream_id, fragment, end_headers),
            Frame::Data {
                stream_id,
                end_stream,
                data,
                ..
            } => {
                if let Some(s) = self.streams.get(&stream_id) {
                    if s.websocket && !s.ended[d] && !data.is_empty() {
                        out.push(H2Event::StreamData {
                            stream_id,
                            from,
                            bytes: data.to_vec(),
                        });
                    }
                    if end_stream {
                        self.half_close(stream_id, from, out);
                    }
                }
                Ok(None)
            }
            Frame::RstStream { stream_id, code } => {
                if self.streams.remove(&stream_id).is_some() {
                    out.push(H2Event::StreamEnded {
                        stream_id,
                        how: StreamEnd::Reset { by: from, code },
                    });
                }
                Ok(None)
            }
            Frame::Settings { ack, params } => {
                let mut ecp = None;
                let other = from.reverse().index();
                for (id, value) in params {
                    match id {
                        settings_id::MAX_FRAME_SIZE => {
                            self.readers[other].announce_max_frame_size(value)
                        }
                        settings_id::HEADER_TABLE_SIZE => {
                            self.headers[other].announce_table_size(value)
                        }
                        settings_id::ENABLE_CONNECT_PROTOCOL => ecp = Some(value == 1),
                        _ => {}
                    }
                }
                if from == Dir::ServerToClient && ecp.is_some() {
                    self.connect_protocol = ecp;
                }
                out.push(H2Event::Settings {
                    from,
                    ack,
                    enable_connect_protocol: ecp,
                });
                Ok(None)
            }
            Frame::GoAway {
                last_stream_id,
                code,
                ..
            } => {
                out.push(H2Event::GoAway {
                    from,
                    last_stream_id,
                    code,
                });
                let gone: Vec<u32> = self
                    .streams
                    .range(last_stream_id + 1..)
                    .map(|(id, _)| *id)
                    .collect();
                for stream_id in gone {
                    self.streams.remove(&stream_id);
                    out.push(H2Event::StreamEnded {
                        stream_id,
                        how: StreamEnd::GoAway { by: from, code },
                    });
                }
                Ok(None)
            }
            Frame::WindowUpdate {
                stream_id,
                increment: 0,
            } => {
                out.push(H2Event::Finding(H2Finding::ZeroWindowUpdate {
                    from,
                    stream_id,
                }));
                Ok(None)
            }
            Frame::WindowUpdate { .. }
            | Frame::Ping { .. }
            | Frame::Priority { .. }
            | Frame::Unknown { .. } => Ok(None),
        };
        match block {
            Ok(Some(block)) => self.block(from, block, out),
            Ok(None) => {}
            Err(error) => out.push(H2Event::Finding(H2Finding::Header { from, error })),
        }
        true
    }

    fn half_close(&mut self, stream_id: u32, from: Dir, out: &mut Vec<H2Event>) {
        let Some(s) = self.streams.get_mut(&stream_id) else {
            return;
        };
        if s.ended[from.index()] {
            return;
        }
        s.ended[from.index()] = true;
        out.push(H2Event::StreamHalfClosed { stream_id, from });
        if s.ended == [true, true] {
            self.streams.remove(&stream_id);
            out.push(H2Event::StreamEnded {
                stream_id,
                how: StreamEnd::Closed,
            });
        }
    }

    fn block(&mut self, from: Dir, block: HeaderBlock, out: &mut Vec<H2Event>) {
        let BlockKind::Headers { end_stream } = block.kind else {
            // A PUSH_PROMISE: decoded to keep the table in step; pushed streams are not followed.
            return;
        };
        let stream_id = block.stream_id;
        match from {
            Dir::ClientToServer if !self.streams.contains_key(&stream_id) => {
                // Trailers of a finished stream, or a stream id going backwards: ignored.
                if stream_id <= self.last_client_stream || stream_id % 2 == 0 {
                    return;
                }
                self.last_client_stream = stream_id;
                if self.streams.len() >= self.limits.max_streams {
                    out.push(H2Event::Finding(H2Finding::TooManyStreams {
                        stream_id,
                        max: self.limits.max_streams,
                    }));
                    return;
                }
                let request = RequestHead::from_fields(block.fields);
                let websocket = request.is_websocket_connect();
                self.streams.insert(
                    stream_id,
                    Stream {
                        websocket,
                        responded: false,
                        ended: [false, false],
                    },
                );
                let findings = if websocket {
                    self.connect_findings(stream_id, &request)
                } else {
                    Vec::new()
                };
                out.push(H2Event::StreamOpened { stream_id, request });
                out.extend(findings.into_iter().map(H2Event::Finding));
            }
            Dir::ServerToClient => {
                let Some(s) = self.streams.get_mut(&stream_id) else {
                    return;
                };
                if !s.responded {
                    let status = block
                        .fields
                        .iter()
                        .find(|(n, _)| n.as_slice() == b":status")
                        .and_then(|(_, v)| std::str::from_utf8(v).ok())
                        .and_then(|v| v.parse::<u16>().ok())
                        .filter(|v| (100..=999).contains(v));
                    match status {
                        Some(status) if status >= 200 => {
                            s.responded = true;
                            let fields: Vec<Field> = block
                                .fields
                                .into_iter()
                                .filter(|(n, _)| !n.starts_with(b":"))
                                .collect();
                            let accept_field = fields
                                .iter()
                                .any(|(n, _)| n.as_slice() == b"sec-websocket-accept");
                            out.push(H2Event::StreamResponse {
                                stream_id,
                                status,
                                fields: Fields(fields),
                            });
                            let accepted = (200..300).contains(&status);
                            if s.websocket && accept_field {
                                out.push(H2Event::Finding(H2Finding::Http1Field {
                                    stream_id,
                                    name: "sec-websocket-accept",
                                }));
                            }
                            // A refused extended CONNECT: what follows is an error body.
                            s.websocket &= accepted;
                        }
                        Some(_) => {}
                        None => out.push(H2Event::Finding(H2Finding::BadStatus { stream_id })),
                    }
                }
            }
            Dir::ClientToServer => {}
        }
        if end_stream {
            self.half_close(stream_id, from, out);
        }
    }

    fn connect_findings(&self, stream_id: u32, req: &RequestHead) -> Vec<H2Finding> {
        let mut f = Vec::new();
        if self.connect_protocol != Some(true) {
            f.push(H2Finding::ConnectProtocolNotEnabled { stream_id });
        }
        for (name, present) in [
            (":scheme", req.scheme.is_some()),
            (":path", req.path.is_some()),
            (":authority", req.authority.is_some()),
        ] {
            if !present {
                f.push(H2Finding::MissingPseudo { stream_id, name });
            }
        }
        let version = req.field("sec-websocket-version");
        if version != Some(b"13") {
            f.push(H2Finding::WebSocketVersion {
                stream_id,
                version: version.map(|v| String::from_utf8_lossy(v).into_owned()),
            });
        }
        if req.field("sec-websocket-key").is_some() {
            f.push(H2Finding::Http1Field {
                stream_id,
                name: "sec-websocket-key",
            });
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::frame::{flags, kind, PREFACE};
    use super::*;

    const C2S: Dir = Dir::ClientToServer;
    const S2C: Dir = Dir::ServerToClient;

    fn frame(k: u8, fl: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        v.push(k);
        v.push(fl);
        v.extend_from_slice(&sid.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// HPACK literal without indexing, new name (RFC 7541 6.2.2), short strings.
    fn lit(name: &str, value: &str) -> Vec<u8> {
        let mut v = vec![0x00, name.len() as u8];
        v.extend_from_slice(name.as_bytes());
        v.push(value.len() as u8);
        v.extend_from_slice(value.as_bytes());
        v
    }

    /// HPACK literal with incremental indexing, indexed name (RFC 7541 6.2.1).
    fn lit_idx(name_index: u8, value: &str) -> Vec<u8> {
        let mut v = vec![0x40 | name_index, value.len() as u8];
        v.extend_from_slice(value.as_bytes());
        v
    }

    fn connect(path: &str, authority: Vec<u8>) -> Vec<u8> {
        // :method CONNECT is static entry 2's name with a literal value (index 2 = :method).
        let mut b = vec![0x02, 7];
        b.extend_from_slice(b"CONNECT");
        b.extend(lit(":protocol", "websocket"));
        b.push(0x87); // :scheme https
        b.extend(lit_idx(4, path)); // :path
        b.extend(authority);
        b.extend(lit("sec-websocket-version", "13"));
        b
    }

    fn ws_frame_masked(text: &[u8]) -> Vec<u8> {
        let key = [1u8, 2, 3, 4];
        let mut v = vec![0x81, 0x80 | text.len() as u8];
        v.extend_from_slice(&key);
        v.extend(text.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        v
    }

    /// An h2c prior-knowledge exchange: two extended CONNECT streams (1 and 5) and a GET
    /// (stream 3, its HEADERS split by a CONTINUATION), interleaved.
    fn exchange() -> Vec<(Dir, Vec<u8>)> {
        let mut c = PREFACE.to_vec();
        c.extend(frame(kind::SETTINGS, 0, 0, &[0, 1, 0, 0, 0x10, 0])); // HEADER_TABLE_SIZE 4096
        let mut s = frame(
            kind::SETTINGS,
            0,
            0,
            &[0, 8, 0, 0, 0, 1, 0, 5, 0, 0, 0x80, 0],
        );
        s.extend(frame(kind::SETTINGS, flags::ACK, 0, &[]));
        let h1 = connect("/chat", lit_idx(1, "example.com"));
        let mut h3 = vec![0x82, 0x86, 0x84, 0xbe]; // GET http / + :authority from the table
        h3.extend(lit("accept", "*/*"));
        let h5 = connect("/feed", vec![0xbf]); // :authority example.com, now at index 63
        vec![
            (C2S, c),
            (S2C, s),
            (C2S, frame(kind::SETTINGS, flags::ACK, 0, &[])),
            (C2S, frame(kind::HEADERS, flags::END_HEADERS, 1, &h1)),
            (
                C2S,
                [
                    frame(kind::HEADERS, flags::END_STREAM, 3, &h3[..2]),
                    frame(kind::CONTINUATION, flags::END_HEADERS, 3, &h3[2..]),
                ]
                .concat(),
            ),
            (S2C, frame(kind::HEADERS, flags::END_HEADERS, 1, &[0x88])),
            (
                C2S,
                frame(
                    kind::HEADERS,
                    flags::END_HEADERS | flags::PRIORITY,
                    5,
                    &[[0, 0, 0, 0, 15].as_slice(), &h5].concat(),
                ),
            ),
            (C2S, frame(kind::DATA, 0, 1, &ws_frame_masked(b"hello"))),
            (S2C, frame(kind::HEADERS, flags::END_HEADERS, 3, &[0x88])),
            (S2C, frame(kind::DATA, flags::END_STREAM, 3, b"plain body")),
            (S2C, frame(kind::HEADERS, flags::END_HEADERS, 5, &[0x88])),
            (S2C, frame(kind::DATA, 0, 1, &[0x81, 0x02, b'h', b'i'])),
            (
                C2S,
                frame(
                    kind::DATA,
                    flags::PADDED,
                    5,
                    &[[3u8].as_slice(), &ws_frame_masked(b"x"), &[0, 0, 0]].concat(),
                ),
            ),
            (C2S, frame(kind::WINDOW_UPDATE, 0, 0, &[0, 1, 0, 0])),
            (S2C, frame(kind::RST_STREAM, 0, 5, &[0, 0, 0, 8])),
            (
                C2S,
                frame(kind::DATA, flags::END_STREAM, 1, &[0x88, 0x80, 0, 0, 0, 0]),
            ),
            (S2C, frame(kind::DATA, flags::END_STREAM, 1, &[0x88, 0x00])),
        ]
    }

    fn run(chunks: &[(Dir, Vec<u8>)]) -> Vec<H2Event> {
        let mut conn = Connection::new(H2Limits::default());
        let mut out = Vec::new();
        for (d, b) in chunks {
            conn.feed(*d, b, &mut out);
        }
        conn.finish(&mut out);
        out
    }

    #[test]
    fn h2c_exchange_events() {
        let ev = run(&exchange());
        let opened: Vec<(u32, Option<String>, Option<String>, bool)> = ev
            .iter()
            .filter_map(|e| match e {
                H2Event::StreamOpened { stream_id, request } => Some((
                    *stream_id,
                    request.method.clone(),
                    request.path.clone(),
                    request.is_websocket_connect(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            opened,
            vec![
                (1, Some("CONNECT".into()), Some("/chat".into()), true),
                (3, Some("GET".into()), Some("/".into()), false),
                (5, Some("CONNECT".into()), Some("/feed".into()), true),
            ]
        );
        let req5 = ev.iter().find_map(|e| match e {
            H2Event::StreamOpened {
                stream_id: 5,
                request,
            } => Some(request.clone()),
            _ => None,
        });
        let req5 = req5.unwrap();
        assert_eq!(req5.authority.as_deref(), Some("example.com"));
        assert_eq!(req5.protocol.as_deref(), Some("websocket"));
        assert_eq!(req5.field("sec-websocket-version"), Some(&b"13"[..]));
        let findings: Vec<_> = ev
            .iter()
            .filter(|e| matches!(e, H2Event::Finding(_)))
            .collect();
        assert!(findings.is_empty(), "{findings:?}");
        assert!(ev.contains(&H2Event::Settings {
            from: S2C,
            ack: false,
            enable_connect_protocol: Some(true)
        }));
        for id in [1, 3, 5] {
            assert!(ev.contains(&H2Event::StreamResponse {
                stream_id: id,
                status: 200,
                fields: Fields::default(),
            }));
        }
        let data: Vec<(u32, Dir, Vec<u8>)> = ev
            .iter()
            .filter_map(|e| match e {
                H2Event::StreamData {
                    stream_id,
                    from,
                    bytes,
                } => Some((*stream_id, *from, bytes.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            data,
            vec![
                (1, C2S, ws_frame_masked(b"hello")),
                (1, S2C, vec![0x81, 0x02, b'h', b'i']),
                (5, C2S, ws_frame_masked(b"x")),
                (1, C2S, vec![0x88, 0x80, 0, 0, 0, 0]),
                (1, S2C, vec![0x88, 0x00]),
            ]
        );
        let ended: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                H2Event::StreamEnded { stream_id, how } => Some((*stream_id, *how)),
                _ => None,
            })
            .collect();
        assert_eq!(
            ended,
            vec![
                (3, StreamEnd::Closed),
                (5, StreamEnd::Reset { by: S2C, code: 8 }),
                (1, StreamEnd::Closed),
            ]
        );
    }

    #[test]
    fn every_split_gives_the_same_events() {
        let chunks = exchange();
        let want = run(&chunks);
        for i in 0..chunks.len() {
            for p in 1..chunks[i].1.len() {
                let mut split = chunks[..i].to_vec();
                split.push((chunks[i].0, chunks[i].1[..p].to_vec()));
                split.push((chunks[i].0, chunks[i].1[p..].to_vec()));
                split.extend_from_slice(&chunks[i + 1..]);
                assert_eq!(run(&split), want, "chunk {i} split at {p}");
            }
        }
        for size in 1..8 {
            let bytewise: Vec<(Dir, Vec<u8>)> = chunks
                .iter()
                .flat_map(|(d, b)| b.chunks(size).map(|c| (*d, c.to_vec())).collect::<Vec<_>>())
                .collect();
            assert_eq!(run(&bytewise), want, "pieces of {size}");
        }
    }

    #[test]
    fn rfc8441_checks_are_findings() {
        let mut conn = Connection::new(H2Limits::default());
        let mut out = Vec::new();
        let mut c = PREFACE.to_vec();
        c.extend(frame(kind::SETTINGS, 0, 0, &[]));
        let mut h = vec![0x02, 7];
        h.extend_from_slice(b"CONNECT");
        h.extend(lit(":protocol", "websocket"));
        h.extend(lit_idx(4, "/x"));
        h.extend(lit("sec-websocket-version", "8"));
        h.extend(lit("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="));
        c.extend(frame(kind::HEADERS, flags::END_HEADERS, 1, &h));
        conn.feed(C2S, &c, &mut out);
        let mut resp = vec![0x8d]; // :status 404
        resp.extend(lit("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        conn.feed(S2C, &frame(kind::SETTINGS, 0, 0, &[]), &mut out);
        conn.feed(
            S2C,
            &frame(
                kind::HEADERS,
                flags::END_HEADERS | flags::END_STREAM,
                1,
                &resp,
            ),
            &mut out,
        );
        let findings: Vec<H2Finding> = out
            .iter()
            .filter_map(|e| match e {
                H2Event::Finding(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            findings,
            vec![
                H2Finding::ConnectProtocolNotEnabled { stream_id: 1 },
                H2Finding::MissingPseudo {
                    stream_id: 1,
                    name: ":scheme"
                },
                H2Finding::MissingPseudo {
                    stream_id: 1,
                    name: ":authority"
                },
                H2Finding::WebSocketVersion {
                    stream_id: 1,
                    version: Some("8".into())
                },
                H2Finding::Http1Field {
                    stream_id: 1,
                    name: "sec-websocket-key"
                },
                H2Finding::Http1Field {
                    stream_id: 1,
                    name: "sec-websocket-accept"
                },
            ]
        );
        for f in &findings {
            assert!(!f.to_string().is_empty());
        }
        assert!(out.contains(&H2Event::StreamResponse {
            stream_id: 1,
            status: 404,
            fields: Fields(vec![(
                b"sec-websocket-accept".to_vec(),
                b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_vec()
            )]),
        }));
        // The key's value stays out of Debug output.
        assert!(!format!("{out:?}").contains("dGhlIHNhbXBsZSBub25jZQ"));
    }

    #[test]
    fn refused_connect_body_is_not_websocket_data() {
        let mut conn = Connection::new(H2Limits::default());
        let mut out = Vec::new();
        conn.feed(C2S, PREFACE, &mut out);
        conn.feed(
            S2C,
            &frame(kind::SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 1]),
            &mut out,
        );
        let h = connect("/x", lit_idx(1, "example.com"));
        conn.feed(
            C2S,
            &frame(kind::HEADERS, flags::END_HEADERS, 1, &h),
            &mut out,
        );
        conn.feed(
            S2C,
            &frame(kind::HEADERS, flags::END_HEADERS, 1, &[0x8d]),
            &mut out,
        );
        conn.feed(
            S2C,
            &frame(kind::DATA, flags::END_STREAM, 1, b"not found"),
            &mut out,
        );
        assert!(out.contains(&H2Event::StreamResponse {
            stream_id: 1,
            status: 404,
            fields: Fields::default(),
        }));
        assert!(!out.iter().any(|e| matches!(e, H2Event::StreamData { .. })));
        assert!(!out.iter().any(|e| matches!(e, H2Event::Finding(_))));
    }

    #[test]
    fn continuation_flood_is_reported_and_bounded() {
        let limits = H2Limits {
            headers: HeaderLimits {
                max_block: 4096,
                max_list: 4096,
            },
            max_streams: 8,
        };
        let mut conn = Connection::new(limits);
        let mut out = Vec::new();
        conn.feed(C2S, PREFACE, &mut out);
        conn.feed(C2S, &frame(kind::HEADERS, 0, 1, &[0x82]), &mut out);
        let cont = frame(kind::CONTINUATION, 0, 1, &[0; 1000]);
        for _ in 0..1000 {
            conn.feed(C2S, &cont, &mut out);
        }
        let findings: Vec<_> = out
            .iter()
            .filter(|e| matches!(e, H2Event::Finding(_)))
            .collect();
        // Reported once, then every CONTINUATION is dropped without being buffered.
        assert_eq!(findings.len(), 1);
        assert!(matches!(
            findings[0],
            H2Event::Finding(H2Finding::Header {
                error: HeaderError::BlockTooLarge {
                    stream_id: 1,
                    max: 4096
                },
                ..
            })
        ));
        assert!(conn.headers[0].in_block().is_none());
        assert_eq!(conn.open_streams(), 0);
    }

    #[test]
    fn oversized_header_list_is_reported() {
        let limits = H2Limits {
            headers: HeaderLimits {
                max_block: 64 * 1024,
                max_list: 1024,
            },
            max_streams: 8,
        };
        let mut conn = Connection::new(limits);
        let mut out = Vec::new();
        let mut h = vec![0x82, 0x86, 0x84];
        h.extend(lit_idx(1, &"a".repeat(100))); // :authority, 100 bytes, indexed
        h.extend(std::iter::repeat_n(0xbe, 50)); // referenced 50 times
        conn.feed(C2S, PREFACE, &mut out);
        conn.feed(
            C2S,
            &frame(kind::HEADERS, flags::END_HEADERS, 1, &h),
            &mut out,
        );
        assert_eq!(
            out,
            vec![H2Event::Finding(H2Finding::Header {
                from: C2S,
                error: HeaderError::ListTooLarge {
                    stream_id: 1,
                    max: 1024
                }
            })]
        );
        // The table stayed in step: the next request decodes.
        out.clear();
        conn.feed(
            C2S,
            &frame(
                kind::HEADERS,
                flags::END_HEADERS,
                3,
                &[0x82, 0x86, 0x84, 0xbe],
            ),
            &mut out,
        );
        assert!(
            matches!(&out[0], H2Event::StreamOpened { stream_id: 3, request } if request.authority.as_ref().map(|a| a.len()) == Some(100))
        );
    }

    #[test]
    fn malformed_frame_stops_the_direction_after_the_good_ones() {
        let mut conn = Connection::new(H2Limits::default());
        let mut out = Vec::new();
        let mut c = PREFACE.to_vec();
        c.extend(frame(kind::SETTINGS, 0, 0, &[]));
        c.extend(frame(kind::PING, 0, 0, &[0; 7]));
        c.extend(frame(kind::SETTINGS, 0, 0, &[]));
        conn.feed(C2S, &c, &mut out);
        conn.feed(C2S, &frame(kind::SETTINGS, 0, 0, &[]), &mut out);
        let ours = H2Event::Settings {
            from: C2S,
            ack: false,
            enable_connect_protocol: None,
        };
        assert_eq!(
            out,
            vec![
                ours,
                H2Event::Finding(H2Finding::Frame {
                    from: C2S,
                    error: FrameError::BadLength {
                        kind: "PING",
                        length: 7
                    }
                }),
            ]
        );
        // A frame over the size limit: the frames before it in the same bytes still count.
        let mut conn = Connection::new(H2Limits::default());
        let mut out = Vec::new();
        let mut s = frame(kind::SETTINGS, 0, 0, &[]);
        s.extend([0, 0x40, 0x01, 0, 0, 0, 0, 0, 1]);
        conn.feed(S2C, &s, &mut out);
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0], H2Event::Settings { from: S2C, .. }));
        let H2Event::Finding(f) = &out[1] else {
            panic!("expected a finding, got {:?}", out[1]);
        };
        assert!(f
            .to_string()
            .contains("exceeds the maximum frame size 16384"));
    }

    #[test]
    fn goaway_and_gap_end_streams() {
        let mut conn = Connection::new(H2Limits::default());
        let mut out = Vec::new();
        conn.feed(C2S, PREFACE, &mut out);
        conn.feed(
            S2C,
            &frame(kind::SETTINGS, 0, 0, &[0, 8, 0, 0, 0, 1]),
            &mut out,
        );
        for id in [1u32, 3] {
            conn.feed(
                C2S,
                &frame(
                    kind::HEADERS,
                    flags::END_HEADERS,
                    id,
                    &connect("/a", lit("a", "b")),
                ),
                &mut out,
            );
        }
        out.clear();
        conn.feed(
            S2C,
            &frame(kind::GOAWAY, 0, 0, &[0, 0, 0, 1, 0, 0, 0, 0]),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                H2Event::GoAway {
                    from: S2C,
                    last_stream_id: 1,
                    code: 0
                },
                H2Event::StreamEnded {
                    stream_id: 3,
                    how: StreamEnd::GoAway { by: S2C, code: 0 }
                },
            ]
        );
        out.clear();
        conn.gap(C2S, &mut out);
        conn.feed(C2S, &frame(kind::DATA, 0, 1, b"lost"), &mut out);
        conn.finish(&mut out);
        assert_eq!(
            out,
            vec![
                H2Event::Finding(H2Finding::Gap { from: C2S }),
                H2Event::StreamEnded {
                    stream_id: 1,
                    how: StreamEnd::ConnectionEnd
                },
            ]
        );
    }

    proptest::proptest! {
        /// Hostile bytes in both directions never panic and keep the state bounded.
        #[test]
        fn arbitrary_bytes_do_not_panic(
            c in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            s in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            split in 1usize..64,
        ) {
            let mut conn = Connection::new(H2Limits::default());
            let mut out = Vec::new();
            conn.feed(C2S, PREFACE, &mut out);
            for (a, b) in c.chunks(split).zip(s.chunks(split)) {
                conn.feed(C2S, a, &mut out);
                conn.feed(S2C, b, &mut out);
            }
            conn.finish(&mut out);
            proptest::prop_assert_eq!(conn.open_streams(), 0);
        }

        /// Valid frame headers around arbitrary HPACK blocks: decoding errors are findings.
        #[test]
        fn arbitrary_header_blocks_do_not_panic(
            blocks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 1..8),
        ) {
            let mut conn = Connection::new(H2Limits::default());
            let mut out = Vec::new();
            conn.feed(C2S, PREFACE, &mut out);
            for (i, b) in blocks.iter().enumerate() {
                let id = 2 * i as u32 + 1;
                conn.feed(C2S, &frame(kind::HEADERS, flags::END_HEADERS, id, b), &mut out);
                conn.feed(S2C, &frame(kind::HEADERS, flags::END_HEADERS, id, b), &mut out);
            }
        }
    }
}
