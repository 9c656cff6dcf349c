//! Header blocks of one direction: HEADERS / PUSH_PROMISE + CONTINUATION assembled into one
//! block, decoded with HPACK (RFC 7541, the `loona-hpack` crate) in order, bounded.
//!
//! Every block must be decoded, even for streams of no interest, or the dynamic table goes out
//! of step with the peer's. Bounds: the dynamic table by the SETTINGS_HEADER_TABLE_SIZE the
//! receiver announced (at most [`HARD_MAX_TABLE_SIZE`]), the assembled block by
//! [`HeaderLimits::max_block`] (CONTINUATION flood), the decoded list by
//! [`HeaderLimits::max_list`] (HPACK bomb: a few bytes that index a large table entry often).

use std::borrow::Cow;

/// The default SETTINGS_HEADER_TABLE_SIZE.
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// The largest dynamic table allowed whatever a peer announces.
pub const HARD_MAX_TABLE_SIZE: usize = 65_536;

/// Size bounds of header blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderLimits {
    /// Compressed bytes of one block across HEADERS and CONTINUATION frames.
    pub max_block: usize,
    /// Decoded list size, counted as in SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32).
    pub max_list: usize,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        HeaderLimits {
            max_block: 256 * 1024,
            max_list: 64 * 1024,
        }
    }
}

/// One decoded header field (bytes as sent; HTTP/2 field names are lowercase).
pub type Field = (Vec<u8>, Vec<u8>);

/// Why a header block could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The assembled block grew past its cap: the direction's header decoding stops.
    #[error("header block on stream {stream_id} exceeds {max} bytes (CONTINUATION flood?)")]
    BlockTooLarge {
        /// Stream.
        stream_id: u32,
        /// Cap.
        max: usize,
    },
    /// The decoded list is larger than its cap: the fields are dropped, the table kept in step.
    #[error("decoded header list on stream {stream_id} exceeds {max} bytes (HPACK bomb?)")]
    ListTooLarge {
        /// Stream.
        stream_id: u32,
        /// Cap.
        max: usize,
    },
    /// HPACK decoding failed (COMPRESSION_ERROR): the direction's header decoding stops.
    #[error("HPACK decoding failed on stream {stream_id}: {reason}")]
    Compression {
        /// Stream.
        stream_id: u32,
        /// The decoder's message.
        reason: String,
    },
    /// A frame other than the expected CONTINUATION arrived inside a block.
    #[error("expected CONTINUATION for stream {expected}, got {got} on stream {stream_id}")]
    Interrupted {
        /// Stream whose block was open.
        expected: u32,
        /// Frame type name received.
        got: &'static str,
        /// Its stream.
        stream_id: u32,
    },
    /// A CONTINUATION with no block open.
    #[error("CONTINUATION on stream {stream_id} without a preceding HEADERS")]
    Orphan {
        /// Stream.
        stream_id: u32,
    },
    /// Header decoding of this direction stopped earlier.
    #[error("header block on stream {stream_id} not decoded: header decoding stopped earlier")]
    Stopped {
        /// Stream.
        stream_id: u32,
    },
}

/// What opened a header block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// HEADERS, with its END_STREAM flag.
    Headers {
        /// END_STREAM.
        end_stream: bool,
    },
    /// PUSH_PROMISE for the promised stream.
    PushPromise {
        /// Promised stream.
        promised_id: u32,
    },
}

/// A complete, decoded header block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderBlock {
    /// Stream the block was sent on.
    pub stream_id: u32,
    /// What opened it.
    pub kind: BlockKind,
    /// Fields in order.
    pub fields: Vec<Field>,
}

#[derive(Debug)]
struct Pending {
    stream_id: u32,
    kind: BlockKind,
    buf: Vec<u8>,
}

/// Assembles and decodes the header blocks of one direction.
pub struct HeaderDecoder {
    hpack: loona_hpack::Decoder<'static>,
    allowed_table: usize,
    limits: HeaderLimits,
    pending: Option<Pending>,
    stopped: bool,
}

impl std::fmt::Debug for HeaderDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Field values (cookies, tokens) stay out of Debug output.
        f.debug_struct("HeaderDecoder")
            .field("allowed_table", &self.allowed_table)
            .field("limits", &self.limits)
            .field(
                "pending_stream",
                &self.pending.as_ref().map(|p| p.stream_id),
            )
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl HeaderDecoder {
    /// A decoder with the default table size and the given limits.
    pub fn new(limits: HeaderLimits) -> HeaderDecoder {
        let mut hpack = loona_hpack::Decoder::new();
        hpack.set_max_allowed_table_size(DEFAULT_TABLE_SIZE);
        HeaderDecoder {
            hpack,
            allowed_table: DEFAULT_TABLE_SIZE,
            limits,
            pending: None,
            stopped: false,
        }
    }

    /// Applies a SETTINGS_HEADER_TABLE_SIZE announced by the receiver of this direction. The
    /// allowance only grows (the observer cannot tell when the encoder saw it) and is capped
    /// at [`HARD_MAX_TABLE_SIZE`]: a larger table update then fails as a compression error.
    pub fn announce_table_size(&mut self, value: u32) {
        let v = (value as usize).min(HARD_MAX_TABLE_SIZE);
        if v > self.allowed_table {
            self.allowed_table = v;
            self.hpack.set_max_allowed_table_size(v);
        }
    }

    /// Whether a block is open (waiting for CONTINUATION).
    pub fn in_block(&self) -> Option<u32> {
        self.pending.as_ref().map(|p| p.stream_id)
    }

    /// Whether decoding stopped on an error that desynchronised the table.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// A frame that is not CONTINUATION arrived: an open block is a protocol error.
    pub fn check_not_in_block(
        &mut self,
        got: &'static str,
        stream_id: u32,
    ) -> Result<(), HeaderError> {
        match self.pending.take() {
            Some(p) => {
                self.stopped = true;
                Err(HeaderError::Interrupted {
                    expected: p.stream_id,
                    got,
                    stream_id,
                })
            }
            None => Ok(()),
        }
    }

    /// Starts a block with a HEADERS or PUSH_PROMISE fragment; returns the block when
    /// END_HEADERS was set.
    pub fn begin(
        &mut self,
        stream_id: u32,
        kind: BlockKind,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<Option<HeaderBlock>, HeaderError> {
        let got = match kind {
            BlockKind::Headers { .. } => "HEADERS",
            BlockKind::PushPromise { .. } => "PUSH_PROMISE",
        };
        self.check_not_in_block(got, stream_id)?;
        if self.stopped {
            return Err(HeaderError::Stopped { stream_id });
        }
        self.pending = Some(Pending {
            stream_id,
            kind,
            buf: Vec::new(),
        });
        self.append(stream_id, fragment, end_headers)
    }

    /// Adds a CONTINUATION fragment; returns the block when END_HEADERS was set.
    pub fn continuation(
        &mut self,
        stream_id: u32,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<Option<HeaderBlock>, HeaderError> {
        match &self.pending {
            // Already reported when decoding stopped: later fragments are dropped quietly.
            None if self.stopped => Ok(None),
            None => {
                self.stopped = true;
                Err(HeaderError::Orphan { stream_id })
            }
            Some(p) if p.stream_id != stream_id => self
                .check_not_in_block("CONTINUATION", stream_id)
                .map(|_| None),
            Some(_) => self.append(stream_id, fragment, end_headers),
        }
    }

    fn append(
        &mut self,
        stream_id: u32,
        fragment: &[u8],
        end_headers: bool,
    ) -> Result<Option<HeaderBlock>, HeaderError> {
        let Some(p) = self.pending.as_mut() else {
            return Ok(None);
        };
        if p.buf.len() + fragment.len() > self.limits.max_block {
            self.pending = None;
            self.stopped = true;
            return Err(HeaderError::BlockTooLarge {
                stream_id,
                max: self.limits.max_block,
            });
        }
        p.buf.extend_from_slice(fragment);
        if !end_headers {
            return Ok(None);
        }
        let Some(p) = self.pending.take() else {
            return Ok(None);
        };
        self.decode(p).map(Some)
    }

    fn decode(&mut self, p: Pending) -> Result<HeaderBlock, HeaderError> {
        let max = self.limits.max_list;
        let mut size = 0usize;
        let mut fields = Vec::new();
        let res = self
            .hpack
            .decode_with_cb(&p.buf, |n: Cow<[u8]>, v: Cow<[u8]>| {
                size = size.saturating_add(n.len() + v.len() + 32);
                if size <= max {
                    fields.push((n.into_owned(), v.into_owned()));
                }
            });
        if let Err(e) = res {
            self.stopped = true;
            return Err(HeaderError::Compression {
                stream_id: p.stream_id,
                reason: e.to_string(),
            });
        }
        if size > max {
            return Err(HeaderError::ListTooLarge {
                stream_id: p.stream_id,
                max,
            });
        }
        Ok(HeaderBlock {
            stream_id: p.stream_id,
            kind: p.kind,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fields(list: &[(&str, &str)]) -> Vec<Field> {
        list.iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn decode_seq(blocks: &[&str]) -> Vec<Vec<Field>> {
        let mut d = HeaderDecoder::new(HeaderLimits::default());
        blocks
            .iter()
            .map(|b| {
                d.begin(1, BlockKind::Headers { end_stream: true }, &hex(b), true)
                    .unwrap()
                    .unwrap()
                    .fields
            })
            .collect()
    }

    /// Decodes RFC 7541 C.3 or C.4 (the same requests, one dynamic table).
    fn check_requests(blocks: [&str; 3]) {
        let got = decode_seq(&blocks);
        let base = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        assert_eq!(got[0], fields(&base));
        let mut second = base.to_vec();
        second.push(("cache-control", "no-cache"));
        assert_eq!(got[1], fields(&second));
        assert_eq!(
            got[2],
            fields(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value"),
            ])
        );
    }

    /// RFC 7541 C.3: requests without Huffman coding.
    #[test]
    fn rfc7541_c3_requests_without_huffman() {
        check_requests([
            "828684410f7777772e6578616d706c652e636f6d",
            "828684be58086e6f2d6361636865",
            "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        ]);
    }

    /// RFC 7541 C.4: the same requests with Huffman coding.
    #[test]
    fn rfc7541_c4_requests_with_huffman() {
        check_requests([
            "828684418cf1e3c2e5f23a6ba0ab90f4ff",
            "828684be5886a8eb10649cbf",
            "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        ]);
    }

    /// Decodes RFC 7541 C.5 or C.6 (the same responses, with a 256-byte table and evictions).
    fn check_responses(blocks: [&str; 3]) {
        let mut d = HeaderDecoder::new(HeaderLimits::default());
        // The encoder of C.5/C.6 works with SETTINGS_HEADER_TABLE_SIZE 256 and sends no size
        // update, so the table is set the way the peers agreed.
        d.hpack.set_max_table_size(256);
        let got: Vec<Vec<Field>> = blocks
            .iter()
            .map(|b| {
                d.begin(1, BlockKind::Headers { end_stream: false }, &hex(b), true)
                    .unwrap()
                    .unwrap()
                    .fields
            })
            .collect();
        let first = [
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ];
        assert_eq!(got[0], fields(&first));
        let mut second = first;
        second[0] = (":status", "307");
        assert_eq!(got[1], fields(&second));
        assert_eq!(
            got[2],
            fields(&[
                (":status", "200"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                ("location", "https://www.example.com"),
                ("content-encoding", "gzip"),
                (
                    "set-cookie",
                    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
                ),
            ])
        );
    }

    /// RFC 7541 C.5: responses without Huffman coding.
    #[test]
    fn rfc7541_c5_responses_without_huffman() {
        check_responses([
            "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
            "4803333037c1c0bf",
            "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        ]);
    }

    /// RFC 7541 C.6: responses with Huffman coding.
    #[test]
    fn rfc7541_c6_responses_with_huffman() {
        check_responses([
            "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
            "4883640effc1c0bf",
            "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        ]);
    }

    #[test]
    fn block_across_continuations() {
        let b = hex("828684410f7777772e6578616d706c652e636f6d");
        let mut d = HeaderDecoder::new(HeaderLimits::default());
        let k = BlockKind::Headers { end_stream: false };
        assert_eq!(d.begin(3, k, &b[..1], false), Ok(None));
        assert_eq!(d.in_block(), Some(3));
        assert_eq!(d.continuation(3, &b[1..5], false), Ok(None));
        let block = d.continuation(3, &b[5..], true).unwrap().unwrap();
        assert_eq!(block.stream_id, 3);
        assert_eq!(block.fields.len(), 4);
    }

    #[test]
    fn continuation_flood_is_bounded() {
        let limits = HeaderLimits {
            max_block: 1024,
            max_list: 1024,
        };
        let mut d = HeaderDecoder::new(limits);
        let k = BlockKind::Headers { end_stream: false };
        d.begin(1, k, &[0x82], false).unwrap();
        let mut err = None;
        for _ in 0..10_000 {
            match d.continuation(1, &[0u8; 100], false) {
                Ok(_) => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let err = err.unwrap();
        assert_eq!(
            err,
            HeaderError::BlockTooLarge {
                stream_id: 1,
                max: 1024
            }
        );
        assert!(err.to_string().contains("CONTINUATION flood"));
        assert!(d.stopped());
        assert_eq!(
            d.begin(3, k, &[0x82], true),
            Err(HeaderError::Stopped { stream_id: 3 })
        );
    }

    #[test]
    fn hpack_bomb_is_bounded_and_table_stays_in_step() {
        let limits = HeaderLimits {
            max_block: 16 * 1024,
            max_list: 8 * 1024,
        };
        let mut d = HeaderDecoder::new(limits);
        // Literal with incremental indexing, new name "x" and a 3000-byte value, then index 62
        // (that entry) 5000 times: 5 KB on the wire, 15 MB decoded.
        let mut block = vec![0x40, 0x01, b'x', 0x7f];
        let mut n = 3000 - 127;
        while n >= 128 {
            block.push((n % 128) as u8 | 0x80);
            n /= 128;
        }
        block.push(n as u8);
        block.extend(std::iter::repeat_n(b'v', 3000));
        block.extend(std::iter::repeat_n(0xbe, 5000));
        let k = BlockKind::Headers { end_stream: false };
        let err = d.begin(1, k, &block, true).unwrap_err();
        assert_eq!(
            err,
            HeaderError::ListTooLarge {
                stream_id: 1,
                max: 8 * 1024
            }
        );
        assert!(!d.stopped());
        // The table kept the entry: the next block can reference it.
        let next = d.begin(3, k, &[0xbe], true).unwrap().unwrap();
        assert_eq!(next.fields[0].1.len(), 3000);
    }

    #[test]
    fn table_size_update_beyond_settings_is_an_error() {
        let mut d = HeaderDecoder::new(HeaderLimits::default());
        let k = BlockKind::Headers { end_stream: false };
        // Size update to 8192 (0x3f e1 3f), then an indexed field.
        let err = d.begin(1, k, &[0x3f, 0xe1, 0x3f, 0x82], true).unwrap_err();
        assert!(matches!(err, HeaderError::Compression { .. }));
        let mut d = HeaderDecoder::new(HeaderLimits::default());
        d.announce_table_size(8192);
        assert!(d.begin(1, k, &[0x3f, 0xe1, 0x3f, 0x82], true).is_ok());
    }

    #[test]
    fn interrupted_block_is_reported() {
        let mut d = HeaderDecoder::new(HeaderLimits::default());
        let k = BlockKind::Headers { end_stream: false };
        d.begin(1, k, &[0x82], false).unwrap();
        let err = d.continuation(3, &[0x84], true).unwrap_err();
        assert!(matches!(err, HeaderError::Interrupted { expected: 1, .. }));
        let mut d = HeaderDecoder::new(HeaderLimits::default());
        assert_eq!(
            d.continuation(1, &[0x84], true),
            Err(HeaderError::Orphan { stream_id: 1 })
        );
    }
}
