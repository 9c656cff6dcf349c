//! TLS record layer over one direction's reassembled byte stream, and handshake message
//! reassembly across records.
//!
//! [`RecordReader`] accepts the stream in pieces of any size and yields whole records; it
//! buffers at most one incomplete record ([`MAX_RECORD_LEN`] + 5 bytes). A header that cannot
//! be TLS (unknown content type, major version not 3, length over the limit) stops the reader
//! for good: a stream out of step has no reliable way back into record boundaries.

use std::fmt;

/// Largest record fragment accepted: 2^14 + 2048 (TLS 1.2 ciphertext, RFC 5246 6.2.3; TLS 1.3
/// allows only 2^14 + 256).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Record header length.
pub const HEADER_LEN: usize = 5;

/// `change_cipher_spec` content type.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
/// `alert` content type.
pub const ALERT: u8 = 21;
/// `handshake` content type.
pub const HANDSHAKE: u8 = 22;
/// `application_data` content type.
pub const APPLICATION_DATA: u8 = 23;
/// `heartbeat` content type (RFC 6520).
pub const HEARTBEAT: u8 = 24;

/// A record's 5-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type (20..=24).
    pub content_type: u8,
    /// Legacy record version (0x0301..=0x0303 in practice).
    pub version: u16,
    /// Fragment length.
    pub length: u16,
}

impl RecordHeader {
    /// Parses and checks a header.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Self, RecordError> {
        let header = RecordHeader {
            content_type: bytes[0],
            version: u16::from_be_bytes([bytes[1], bytes[2]]),
            length: u16::from_be_bytes([bytes[3], bytes[4]]),
        };
        if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&header.content_type) {
            return Err(RecordError::ContentType(header.content_type));
        }
        if bytes[1] != 3 {
            return Err(RecordError::Version(header.version));
        }
        if usize::from(header.length) > MAX_RECORD_LEN {
            return Err(RecordError::TooLong(header.length));
        }
        Ok(header)
    }

    /// The header's wire bytes (the AEAD additional data of TLS 1.3).
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let v = self.version.to_be_bytes();
        let l = self.length.to_be_bytes();
        [self.content_type, v[0], v[1], l[0], l[1]]
    }
}

/// One record: its header, fragment, and the stream offset where its header starts.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// The header.
    pub header: RecordHeader,
    /// Offset of the header's first byte in the direction's stream.
    pub offset: u64,
    /// The fragment (ciphertext once keys are in use).
    pub fragment: Vec<u8>,
}

impl fmt::Debug for Record {
    /// The fragment may be decrypted plaintext later: only its length is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("header", &self.header)
            .field("offset", &self.offset)
            .field("fragment_len", &self.fragment.len())
            .finish()
    }
}

/// Why a stream stopped being read as TLS records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A content type outside 20..=24.
    #[error("not a TLS record: content type {0}")]
    ContentType(u8),
    /// A record version whose major byte is not 3.
    #[error("not a TLS record: version {0:#06x}")]
    Version(u16),
    /// A length over [`MAX_RECORD_LEN`].
    #[error("TLS record of {0} bytes is over the 18432-byte limit")]
    TooLong(u16),
    /// Bytes of the stream were lost: record boundaries are unknown from here on.
    #[error("stream gap inside the TLS record layer")]
    Gap,
}

/// Splits one direction's byte stream into records.
#[derive(Debug, Default)]
pub struct RecordReader {
    /// Bytes of the incomplete record at the end of what was pushed.
    pending: Vec<u8>,
    /// Stream offset of `pending[0]` (or of the next byte when empty).
    offset: u64,
    failed: Option<RecordError>,
}

impl RecordReader {
    /// A reader at stream offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pushes the next in-order bytes of the stream and appends the records they complete to
    /// `out`. After an error nothing more is read and the same error is returned again.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Record>) -> Result<(), RecordError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        while !data.is_empty() {
            // Complete the header first (at most 5 bytes buffered for it).
            if self.pending.len() < HEADER_LEN {
                let take = (HEADER_LEN - self.pending.len()).min(data.len());
                self.pending.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.pending.len() < HEADER_LEN {
                    break;
                }
            }
            let mut head = [0u8; HEADER_LEN];
            head.copy_from_slice(&self.pending[..HEADER_LEN]);
            let header = match RecordHeader::parse(&head) {
                Ok(h) => h,
                Err(err) => {
                    self.failed = Some(err);
                    self.pending = Vec::new();
                    return Err(err);
                }
            };
            let total = HEADER_LEN + usize::from(header.length);
            let take = (total - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == total {
                let mut fragment = std::mem::take(&mut self.pending);
                fragment.drain(..HEADER_LEN);
                out.push(Record {
                    header,
                    offset: self.offset,
                    fragment,
                });
                self.offset += total as u64;
            }
        }
        Ok(())
    }

    /// The stream lost bytes: the reader stops (a later layer reports the rest as a gap).
    pub fn gap(&mut self) {
        self.failed = Some(RecordError::Gap);
        self.pending = Vec::new();
    }

    /// Why the reader stopped, if it did.
    pub fn error(&self) -> Option<RecordError> {
        self.failed
    }

    /// Bytes held for an incomplete record (at most [`MAX_RECORD_LEN`] + 5).
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }
}

/// Handshake message header length (type + 24-bit length).
pub const HANDSHAKE_HEADER_LEN: usize = 4;

/// Default largest handshake message: certificate chains can be long, but not this long.
pub const DEFAULT_MAX_HANDSHAKE: usize = 256 * 1024;

/// One handshake message, whole.
#[derive(Clone, PartialEq, Eq)]
pub struct HandshakeMessage {
    /// HandshakeType (1 ClientHello, 2 ServerHello, 8 EncryptedExtensions, 20 Finished, ...).
    pub msg_type: u8,
    /// The whole message with its 4-byte header (what the transcript hashes).
    pub raw: Vec<u8>,
}

impl HandshakeMessage {
    /// The body without the 4-byte header.
    pub fn body(&self) -> &[u8] {
        self.raw.get(HANDSHAKE_HEADER_LEN..).unwrap_or(&[])
    }
}

impl fmt::Debug for HandshakeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeMessage")
            .field("msg_type", &self.msg_type)
            .field("len", &self.body().len())
            .finish()
    }
}

/// A handshake message declared longer than the reassembler's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("handshake message type {msg_type} of {length} bytes is over the {limit}-byte limit")]
pub struct HandshakeTooLong {
    /// Its type.
    pub msg_type: u8,
    /// Its declared length.
    pub length: usize,
    /// The limit.
    pub limit: usize,
}

/// Joins handshake-record fragments (plaintext, or decrypted in TLS 1.3) into messages.
#[derive(Debug)]
pub struct HandshakeReassembler {
    pending: Vec<u8>,
    max_len: usize,
    failed: Option<HandshakeTooLong>,
}

impl Default for HandshakeReassembler {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_HANDSHAKE)
    }
}

impl HandshakeReassembler {
    /// A reassembler that refuses messages whose body is over `max_len` bytes.
    pub fn new(max_len: usize) -> Self {
        HandshakeReassembler {
            pending: Vec::new(),
            max_len,
            failed: None,
        }
    }

    /// Adds one handshake record's fragment; appends the messages it completes to `out`.
    pub fn push(
        &mut self,
        mut fragment: &[u8],
        out: &mut Vec<HandshakeMessage>,
    ) -> Result<(), HandshakeTooLong> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        while !fragment.is_empty() {
            if self.pending.len() < HANDSHAKE_HEADER_LEN {
                let take = (HANDSHAKE_HEADER_LEN - self.pending.len()).min(fragment.len());
                self.pending.extend_from_slice(&fragment[..take]);
                fragment = &fragment[take..];
                if self.pending.len() < HANDSHAKE_HEADER_LEN {
                    break;
                }
            }
            let msg_type = self.pending[0];
            let length = usize::from(self.pending[1]) << 16
                | usize::from(self.pending[2]) << 8
                | usize::from(self.pending[3]);
            if length > self.max_len {
                let err = HandshakeTooLong {
                    msg_type,
                    length,
                    limit: self.max_len,
                };
                self.failed = Some(err);
                self.pending = Vec::new();
                return Err(err);
            }
            let total = HANDSHAKE_HEADER_LEN + length;
            let take = (total - self.pending.len()).min(fragment.len());
            self.pending.extend_from_slice(&fragment[..take]);
            fragment = &fragment[take..];
            if self.pending.len() == total {
                out.push(HandshakeMessage {
                    msg_type,
                    raw: std::mem::take(&mut self.pending),
                });
            }
        }
        Ok(())
    }

    /// True when a message is partly received (a key change now would be a protocol error).
    pub fn is_mid_message(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Bytes held for an incomplete message.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let len = u16::try_from(body.len()).expect("test body");
        let mut r = vec![ct, 3, 3];
        r.extend_from_slice(&len.to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn stream() -> Vec<u8> {
        let mut s = record(HANDSHAKE, &[1, 0, 0, 2, 0xaa, 0xbb]);
        s.extend(record(CHANGE_CIPHER_SPEC, &[1]));
        s.extend(record(APPLICATION_DATA, &vec![7; 300]));
        s.extend(record(APPLICATION_DATA, &[]));
        s.extend(record(ALERT, &vec![9; MAX_RECORD_LEN]));
        s
    }

    #[test]
    fn records_come_out_the_same_for_every_segmentation() {
        let s = stream();
        let mut whole = Vec::new();
        RecordReader::new()
            .push(&s, &mut whole)
            .expect("valid stream");
        assert_eq!(whole.len(), 5);
        assert_eq!(whole[0].header.content_type, HANDSHAKE);
        assert_eq!(whole[0].fragment, [1, 0, 0, 2, 0xaa, 0xbb]);
        assert_eq!(whole[1].offset, 11);
        assert_eq!(whole[2].fragment.len(), 300);
        assert_eq!(whole[4].fragment.len(), MAX_RECORD_LEN);
        for step in [1, 2, 4, 5, 6, 13, 301, 5000] {
            let mut reader = RecordReader::new();
            let mut out = Vec::new();
            for piece in s.chunks(step) {
                reader.push(piece, &mut out).expect("valid stream");
                assert!(reader.buffered() <= MAX_RECORD_LEN + HEADER_LEN);
            }
            assert_eq!(out, whole, "step {step}");
            assert_eq!(reader.buffered(), 0);
        }
    }

    #[test]
    fn oversized_and_non_tls_headers_stop_the_reader() {
        let mut out = Vec::new();
        let too_long = [APPLICATION_DATA, 3, 3, 0x48, 0x01];
        let mut r = RecordReader::new();
        assert_eq!(
            r.push(&too_long, &mut out),
            Err(RecordError::TooLong(0x4801))
        );
        assert_eq!(
            r.push(&record(ALERT, &[1, 0]), &mut out),
            Err(RecordError::TooLong(0x4801))
        );
        assert!(out.is_empty());
        assert_eq!(r.buffered(), 0);

        let mut r = RecordReader::new();
        assert_eq!(
            r.push(b"GET / HTTP/1.1\r\n", &mut out),
            Err(RecordError::ContentType(b'G'))
        );
        let mut r = RecordReader::new();
        assert_eq!(
            r.push(&[HANDSHAKE, 0x7f, 0, 0, 1], &mut out),
            Err(RecordError::Version(0x7f00))
        );

        // The limit itself is fine.
        let mut r = RecordReader::new();
        let max = u16::try_from(MAX_RECORD_LEN).expect("fits").to_be_bytes();
        r.push(&[APPLICATION_DATA, 3, 3, max[0], max[1]], &mut out)
            .expect("at the limit");
    }

    #[test]
    fn a_gap_stops_the_reader() {
        let mut r = RecordReader::new();
        let mut out = Vec::new();
        r.push(&stream()[..20], &mut out).expect("valid");
        r.gap();
        assert_eq!(r.error(), Some(RecordError::Gap));
        assert_eq!(r.push(&[1, 2, 3], &mut out), Err(RecordError::Gap));
    }

    #[test]
    fn handshake_messages_span_and_share_records() {
        // Two messages: a 5-byte one and a 40 000-byte one split over three records, plus a
        // third message in the same record as the second's tail.
        let mut bytes = vec![1, 0, 0, 5, 1, 2, 3, 4, 5];
        bytes.extend([11, 0, 0x9c, 0x40]);
        bytes.extend(vec![0x55; 40_000]);
        bytes.extend([20, 0, 0, 2, 0xee, 0xff]);
        for step in [1, 3, 4, 7, 16384, 100_000] {
            let mut hs = HandshakeReassembler::default();
            let mut out = Vec::new();
            for piece in bytes.chunks(step) {
                hs.push(piece, &mut out).expect("within limit");
            }
            assert!(!hs.is_mid_message());
            assert_eq!(out.len(), 3, "step {step}");
            assert_eq!(out[0].msg_type, 1);
            assert_eq!(out[0].body(), [1, 2, 3, 4, 5]);
            assert_eq!(out[1].body().len(), 40_000);
            assert_eq!(out[2].msg_type, 20);
            assert_eq!(out[2].raw, [20, 0, 0, 2, 0xee, 0xff]);
        }
    }

    #[test]
    fn handshake_lengths_over_the_limit_are_refused_without_buffering() {
        let mut hs = HandshakeReassembler::new(1000);
        let mut out = Vec::new();
        let err = hs
            .push(&[11, 0xff, 0xff, 0xff, 0], &mut out)
            .expect_err("too long");
        assert_eq!(err.length, 0xff_ffff);
        assert_eq!(hs.buffered(), 0);
        assert!(hs.push(&[1], &mut out).is_err());
        // A message exactly at the limit passes.
        let mut hs = HandshakeReassembler::new(3);
        hs.push(&[2, 0, 0, 3, 1, 2, 3], &mut out)
            .expect("at the limit");
        assert_eq!(out.len(), 1);
    }

    proptest::proptest! {
        /// Hostile streams: never a panic, the buffer stays within one record, and records
        /// found are the same whatever the segmentation.
        #[test]
        fn arbitrary_streams_are_bounded(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
            step in 1usize..600,
        ) {
            let mut whole = Vec::new();
            let whole_result = RecordReader::new().push(&data, &mut whole);
            let mut r = RecordReader::new();
            let mut out = Vec::new();
            let mut result = Ok(());
            for piece in data.chunks(step) {
                result = r.push(piece, &mut out);
                proptest::prop_assert!(r.buffered() <= MAX_RECORD_LEN + HEADER_LEN);
                if result.is_err() {
                    break;
                }
            }
            proptest::prop_assert_eq!(out, whole);
            proptest::prop_assert_eq!(result, whole_result);
            let mut hs = HandshakeReassembler::new(1 << 12);
            let mut msgs = Vec::new();
            for piece in data.chunks(step) {
                if hs.push(piece, &mut msgs).is_err() {
                    break;
                }
                proptest::prop_assert!(hs.buffered() <= (1 << 12) + HANDSHAKE_HEADER_LEN);
            }
        }
    }
}
