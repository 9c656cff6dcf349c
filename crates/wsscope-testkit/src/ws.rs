//! WebSocket frame, opening-handshake and permessage-deflate builders.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The RFC 6455 GUID appended to the client key to compute the accept value.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Opcode: continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Opcode: text frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode: binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode: connection close.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode: ping.
pub const OP_PING: u8 = 0x9;
/// Opcode: pong.
pub const OP_PONG: u8 = 0xA;

/// How the payload length is encoded in the frame header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LengthForm {
    /// Shortest legal form (7-bit, 16-bit or 64-bit).
    #[default]
    Minimal,
    /// Always the 16-bit form (126); falls back to 64-bit if the length exceeds 65535.
    Force16,
    /// Always the 64-bit form (127).
    Force64,
    /// 64-bit form with the most significant bit set (illegal per RFC 6455).
    Force64MsbSet,
}

/// Specification of one WebSocket frame; fields are raw so illegal frames can be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    /// FIN bit.
    pub fin: bool,
    /// RSV1 bit (set for permessage-deflate compressed messages).
    pub rsv1: bool,
    /// RSV2 bit.
    pub rsv2: bool,
    /// RSV3 bit.
    pub rsv3: bool,
    /// Raw 4-bit opcode (reserved values allowed; upper bits ignored).
    pub opcode: u8,
    /// Masking key; when set the payload is masked on encode.
    pub mask: Option<[u8; 4]>,
    /// Unmasked payload.
    pub payload: Vec<u8>,
    /// Payload length encoding.
    pub length_form: LengthForm,
}

impl FrameSpec {
    /// A final frame with the given opcode, payload and mask.
    pub fn new(opcode: u8, payload: impl Into<Vec<u8>>, mask: Option<[u8; 4]>) -> Self {
        FrameSpec {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload: payload.into(),
            length_form: LengthForm::Minimal,
        }
    }

    /// Final text frame.
    pub fn text(s: &str, mask: Option<[u8; 4]>) -> Self {
        Self::new(OP_TEXT, s.as_bytes(), mask)
    }

    /// Final binary frame.
    pub fn binary(data: &[u8], mask: Option<[u8; 4]>) -> Self {
        Self::new(OP_BINARY, data, mask)
    }

    /// Continuation frame.
    pub fn continuation(data: &[u8], fin: bool, mask: Option<[u8; 4]>) -> Self {
        Self::new(OP_CONTINUATION, data, mask).with_fin(fin)
    }

    /// Ping frame.
    pub fn ping(data: &[u8], mask: Option<[u8; 4]>) -> Self {
        Self::new(OP_PING, data, mask)
    }

    /// Pong frame.
    pub fn pong(data: &[u8], mask: Option<[u8; 4]>) -> Self {
        Self::new(OP_PONG, data, mask)
    }

    /// Close frame: empty payload if `code` is None (reason then ignored),
    /// else 2-byte big-endian code followed by the UTF-8 reason.
    pub fn close(code: Option<u16>, reason: &str, mask: Option<[u8; 4]>) -> Self {
        let mut p = Vec::new();
        if let Some(c) = code {
            p.extend_from_slice(&c.to_be_bytes());
            p.extend_from_slice(reason.as_bytes());
        }
        Self::new(OP_CLOSE, p, mask)
    }

    /// Sets FIN.
    pub fn with_fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// Sets RSV1/RSV2/RSV3.
    pub fn with_rsv(mut self, rsv1: bool, rsv2: bool, rsv3: bool) -> Self {
        self.rsv1 = rsv1;
        self.rsv2 = rsv2;
        self.rsv3 = rsv3;
        self
    }

    /// Sets the length encoding.
    pub fn with_length_form(mut self, form: LengthForm) -> Self {
        self.length_form = form;
        self
    }

    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        let n = self.payload.len();
        let ext = match self.length_form {
            LengthForm::Minimal if n < 126 => 0,
            LengthForm::Minimal | LengthForm::Force16 if n <= 0xffff => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 } + n
    }

    /// Encodes header and (masked if requested) payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let n = self.payload.len() as u64;
        let b0 = u8::from(self.fin) << 7
            | u8::from(self.rsv1) << 6
            | u8::from(self.rsv2) << 5
            | u8::from(self.rsv3) << 4
            | (self.opcode & 0x0f);
        let (len7, ext): (u8, Option<u64>) = match self.length_form {
            LengthForm::Minimal if n < 126 => (n as u8, None),
            LengthForm::Minimal | LengthForm::Force16 if n <= 0xffff => (126, Some(n)),
            LengthForm::Force64MsbSet => (127, Some(n | 1 << 63)),
            _ => (127, Some(n)),
        };
        out.push(b0);
        out.push(u8::from(self.mask.is_some()) << 7 | len7);
        match (len7, ext) {
            (126, Some(v)) => out.extend_from_slice(&(v as u16).to_be_bytes()),
            (127, Some(v)) => out.extend_from_slice(&v.to_be_bytes()),
            _ => {}
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                let start = out.len();
                out.extend_from_slice(&self.payload);
                apply_mask(&mut out[start..], key, 0);
            }
            None => out.extend_from_slice(&self.payload),
        }
    }
}

/// XORs `data` with `key`, where `data[0]` is payload byte number `offset`.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(i + offset) % 4];
    }
}

/// A frame header only, declaring `declared_len` payload bytes that do not follow
/// (e.g. 2^63-1). Uses the minimal length form; values with bit 63 set are written raw.
pub fn frame_header_only(
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    declared_len: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(14);
    out.push(u8::from(fin) << 7 | (opcode & 0x0f));
    let m = u8::from(mask.is_some()) << 7;
    if declared_len < 126 {
        out.push(m | declared_len as u8);
    } else if declared_len <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(declared_len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&declared_len.to_be_bytes());
    }
    if let Some(k) = mask {
        out.extend_from_slice(&k);
    }
    out
}

/// Splits a message into a first frame with `opcode` and continuation frames of
/// at most `chunk` payload bytes (FIN on the last). Always yields at least one frame.
pub fn fragment_message(
    opcode: u8,
    payload: &[u8],
    chunk: usize,
    mask: Option<[u8; 4]>,
) -> Vec<FrameSpec> {
    let chunk = chunk.max(1);
    if payload.is_empty() {
        return vec![FrameSpec::new(opcode, Vec::new(), mask)];
    }
    let n = payload.len().div_ceil(chunk);
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| {
            let op = if i == 0 { opcode } else { OP_CONTINUATION };
            FrameSpec::new(op, c, mask).with_fin(i + 1 == n)
        })
        .collect()
}

/// `Sec-WebSocket-Accept` for a client key: base64(SHA-1(key + GUID)).
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// The RFC 6455 sample client key.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn omitted(omit: &[&'static str], name: &str) -> bool {
    omit.iter().any(|o| o.eq_ignore_ascii_case(name))
}

fn push_header(out: &mut String, omit: &[&'static str], name: &str, value: &str) {
    if !omitted(omit, name) {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
}

/// A client opening handshake (HTTP Upgrade request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// Request method ("GET").
    pub method: String,
    /// Request target ("/").
    pub target: String,
    /// HTTP version token ("HTTP/1.1").
    pub http_version: String,
    /// `Host` header value.
    pub host: String,
    /// `Upgrade` header value ("websocket").
    pub upgrade: String,
    /// `Connection` header value ("Upgrade").
    pub connection: String,
    /// `Sec-WebSocket-Key` value.
    pub key: String,
    /// `Sec-WebSocket-Version` value ("13").
    pub version: String,
    /// Optional `Origin`.
    pub origin: Option<String>,
    /// Offered subprotocols (joined with ", " into one header; none if empty).
    pub protocols: Vec<String>,
    /// Optional `Sec-WebSocket-Extensions` value.
    pub extensions: Option<String>,
    /// Additional headers appended verbatim after the standard ones.
    pub extra_headers: Vec<(String, String)>,
    /// Standard header names to leave out (case-insensitive), e.g. "Sec-WebSocket-Key".
    pub omit: Vec<&'static str>,
}

impl UpgradeRequest {
    /// A valid request for `GET /` to host "example.com" with the given key.
    pub fn new(key: &str) -> Self {
        UpgradeRequest {
            method: "GET".into(),
            target: "/".into(),
            http_version: "HTTP/1.1".into(),
            host: "example.com".into(),
            upgrade: "websocket".into(),
            connection: "Upgrade".into(),
            key: key.into(),
            version: "13".into(),
            origin: None,
            protocols: Vec::new(),
            extensions: None,
            extra_headers: Vec::new(),
            omit: Vec::new(),
        }
    }

    /// Offers permessage-deflate (with `client_max_window_bits`).
    pub fn with_deflate(mut self) -> Self {
        self.extensions = Some("permessage-deflate; client_max_window_bits".into());
        self
    }

    /// Serializes the request head (ending with the blank line).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{} {} {}\r\n", self.method, self.target, self.http_version);
        let o = &self.omit;
        push_header(&mut s, o, "Host", &self.host);
        push_header(&mut s, o, "Upgrade", &self.upgrade);
        push_header(&mut s, o, "Connection", &self.connection);
        push_header(&mut s, o, "Sec-WebSocket-Key", &self.key);
        push_header(&mut s, o, "Sec-WebSocket-Version", &self.version);
        if let Some(v) = &self.origin {
            push_header(&mut s, o, "Origin", v);
        }
        if !self.protocols.is_empty() {
            push_header(
                &mut s,
                o,
                "Sec-WebSocket-Protocol",
                &self.protocols.join(", "),
            );
        }
        if let Some(v) = &self.extensions {
            push_header(&mut s, o, "Sec-WebSocket-Extensions", v);
        }
        for (k, v) in &self.extra_headers {
            push_header(&mut s, &[], k, v);
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

/// A server opening-handshake response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeResponse {
    /// Status code (101 for success).
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// HTTP version token ("HTTP/1.1").
    pub http_version: String,
    /// `Upgrade` value; None leaves the header out.
    pub upgrade: Option<String>,
    /// `Connection` value; None leaves the header out.
    pub connection: Option<String>,
    /// `Sec-WebSocket-Accept` value; None leaves the header out.
    pub accept: Option<String>,
    /// Selected subprotocol.
    pub protocol: Option<String>,
    /// Accepted extensions.
    pub extensions: Option<String>,
    /// Additional headers appended verbatim.
    pub extra_headers: Vec<(String, String)>,
    /// Standard header names to leave out (case-insensitive).
    pub omit: Vec<&'static str>,
    /// Body (a `Content-Length` header is added when non-empty).
    pub body: Vec<u8>,
}

impl UpgradeResponse {
    /// A valid `101 Switching Protocols` response for the client's `key`.
    pub fn accepting(key: &str) -> Self {
        UpgradeResponse {
            status: 101,
            reason: "Switching Protocols".into(),
            http_version: "HTTP/1.1".into(),
            upgrade: Some("websocket".into()),
            connection: Some("Upgrade".into()),
            accept: Some(accept_for(key)),
            protocol: None,
            extensions: None,
            extra_headers: Vec::new(),
            omit: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A non-upgrade response (e.g. 403 Forbidden) with a body.
    pub fn rejecting(status: u16, reason: &str, body: &[u8]) -> Self {
        UpgradeResponse {
            status,
            reason: reason.into(),
            http_version: "HTTP/1.1".into(),
            upgrade: None,
            connection: None,
            accept: None,
            protocol: None,
            extensions: None,
            extra_headers: Vec::new(),
            omit: Vec::new(),
            body: body.to_vec(),
        }
    }

    /// Accepts permessage-deflate (with `client_max_window_bits=15`).
    pub fn with_deflate(mut self) -> Self {
        self.extensions = Some("permessage-deflate; client_max_window_bits=15".into());
        self
    }

    /// Serializes the response head plus body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{} {} {}\r\n", self.http_version, self.status, self.reason);
        let o = &self.omit;
        if let Some(v) = &self.upgrade {
            push_header(&mut s, o, "Upgrade", v);
        }
        if let Some(v) = &self.connection {
            push_header(&mut s, o, "Connection", v);
        }
        if let Some(v) = &self.accept {
            push_header(&mut s, o, "Sec-WebSocket-Accept", v);
        }
        if let Some(v) = &self.protocol {
            push_header(&mut s, o, "Sec-WebSocket-Protocol", v);
        }
        if let Some(v) = &self.extensions {
            push_header(&mut s, o, "Sec-WebSocket-Extensions", v);
        }
        if !self.body.is_empty() {
            push_header(&mut s, o, "Content-Length", &self.body.len().to_string());
        }
        for (k, v) in &self.extra_headers {
            push_header(&mut s, &[], k, v);
        }
        s.push_str("\r\n");
        let mut b = s.into_bytes();
        b.extend_from_slice(&self.body);
        b
    }
}

/// A raw-deflate compressor suitable for permessage-deflate (window bits 15).
pub fn new_deflate_compressor(level: u32) -> flate2::Compress {
    flate2::Compress::new(flate2::Compression::new(level), false)
}

/// Compresses one message per RFC 7692: raw deflate, sync flush, trailing
/// `00 00 ff ff` removed. Reuse `compressor` for context takeover, or pass a
/// fresh/reset one for `no_context_takeover`.
pub fn deflate_message(payload: &[u8], compressor: &mut flate2::Compress) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(payload.len() / 2 + 64);
    let mut pos = 0usize;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(64));
        }
        let before = compressor.total_in();
        // Errors are impossible for a valid stream with output space available;
        // stop defensively instead of looping forever.
        if compressor
            .compress_vec(&payload[pos..], &mut out, flate2::FlushCompress::Sync)
            .is_err()
        {
            break;
        }
        pos += (compressor.total_in() - before) as usize;
        if pos >= payload.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    if out.is_empty() {
        // zlib emits nothing for a sync flush with no new input (a second empty message in
        // a row); RFC 7692 7.2.3.6 requires a non-empty block there: a single 0x00 byte,
        // which with the receiver's 00 00 ff ff tail is an empty stored block.
        out.push(0x00);
    }
    out
}

/// Builds a compressed (RSV1) data frame from `payload` using `compressor`.
pub fn deflate_frame(
    opcode: u8,
    payload: &[u8],
    compressor: &mut flate2::Compress,
    mask: Option<[u8; 4]>,
) -> FrameSpec {
    FrameSpec::new(opcode, deflate_message(payload, compressor), mask).with_rsv(true, false, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn accept_rfc_vectors() {
        assert_eq!(accept_for(SAMPLE_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            accept_for("x3JJHMbDL1EzLkh9GBhXDw=="),
            "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
        );
    }

    #[test]
    fn rfc6455_section_5_7_examples() {
        assert_eq!(
            FrameSpec::text("Hello", None).encode(),
            hex("81 05 48 65 6c 6c 6f")
        );
        let key = [0x37, 0xfa, 0x21, 0x3d];
        assert_eq!(
            FrameSpec::text("Hello", Some(key)).encode(),
            hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
        );
        // fragmented unmasked text
        let frags = fragment_message(OP_TEXT, b"Hello", 3, None);
        assert_eq!(frags[0].encode(), hex("01 03 48 65 6c"));
        assert_eq!(frags[1].encode(), hex("80 02 6c 6f"));
        // unmasked ping / masked pong
        assert_eq!(
            FrameSpec::ping(b"Hello", None).encode(),
            hex("89 05 48 65 6c 6c 6f")
        );
        assert_eq!(
            FrameSpec::pong(b"Hello", Some(key)).encode(),
            hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")
        );
        let b256 = FrameSpec::binary(&[0xaa; 256], None).encode();
        assert_eq!(b256[..4], hex("82 7E 01 00")[..]);
        assert_eq!(b256.len(), 4 + 256);
        let b64k = FrameSpec::binary(&vec![0x55; 65536], None).encode();
        assert_eq!(b64k[..10], hex("82 7F 00 00 00 00 00 01 00 00")[..]);
        assert_eq!(b64k.len(), 10 + 65536);
    }

    #[test]
    fn length_forms_and_flags() {
        let f = FrameSpec::text("hi", None);
        assert_eq!(
            f.clone().with_length_form(LengthForm::Force16).encode(),
            hex("81 7e 00 02 68 69")
        );
        assert_eq!(
            f.clone().with_length_form(LengthForm::Force64).encode(),
            hex("81 7f 0000000000000002 68 69")
        );
        assert_eq!(
            f.clone()
                .with_length_form(LengthForm::Force64MsbSet)
                .encode(),
            hex("81 7f 8000000000000002 68 69")
        );
        let g = FrameSpec::new(0x3, b"".to_vec(), None)
            .with_fin(false)
            .with_rsv(true, true, true);
        assert_eq!(g.encode(), hex("73 00"));
        for form in [
            LengthForm::Minimal,
            LengthForm::Force16,
            LengthForm::Force64,
            LengthForm::Force64MsbSet,
        ] {
            for n in [0usize, 125, 126, 65535, 65536] {
                let fr = FrameSpec::binary(&vec![1; n], Some([1, 2, 3, 4])).with_length_form(form);
                assert_eq!(fr.encode().len(), fr.encoded_len());
            }
        }
        assert_eq!(
            frame_header_only(true, OP_BINARY, None, (1 << 63) - 1),
            hex("82 7f 7fffffffffffffff")
        );
        assert_eq!(
            frame_header_only(false, OP_TEXT, Some([9, 9, 9, 9]), 300),
            hex("01 fe 01 2c 09 09 09 09")
        );
        assert_eq!(
            FrameSpec::close(Some(1000), "bye", None).encode(),
            hex("88 05 03 e8 62 79 65")
        );
        assert_eq!(FrameSpec::close(None, "", None).encode(), hex("88 00"));
    }

    #[test]
    fn handshake_parses_with_httparse() {
        let mut req = UpgradeRequest::new(SAMPLE_KEY);
        req.protocols = vec!["chat".into(), "superchat".into()];
        req.origin = Some("http://example.com".into());
        req.extra_headers.push(("X-Test".into(), "1".into()));
        let bytes = req.to_bytes();
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Request::new(&mut headers);
        let st = r.parse(&bytes).expect("parse");
        assert_eq!(st, httparse::Status::Complete(bytes.len()));
        assert_eq!(r.method, Some("GET"));
        let get = |name: &str| {
            r.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.to_vec())
        };
        assert_eq!(
            get("Sec-WebSocket-Key").as_deref(),
            Some(SAMPLE_KEY.as_bytes())
        );
        assert_eq!(
            get("Sec-WebSocket-Protocol").as_deref(),
            Some(&b"chat, superchat"[..])
        );

        let mut req2 = UpgradeRequest::new(SAMPLE_KEY);
        req2.omit = vec!["sec-websocket-key"];
        assert!(!String::from_utf8_lossy(&req2.to_bytes()).contains("Key"));

        let resp = UpgradeResponse::accepting(SAMPLE_KEY).to_bytes();
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut r = httparse::Response::new(&mut headers);
        assert_eq!(
            r.parse(&resp).expect("parse"),
            httparse::Status::Complete(resp.len())
        );
        assert_eq!(r.code, Some(101));
        let acc = r
            .headers
            .iter()
            .find(|h| h.name == "Sec-WebSocket-Accept")
            .map(|h| h.value.to_vec());
        assert_eq!(acc.as_deref(), Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..]));

        let rej = UpgradeResponse::rejecting(403, "Forbidden", b"no").to_bytes();
        assert!(rej.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
        assert!(rej.ends_with(b"Content-Length: 2\r\n\r\nno"));
    }

    fn inflate(d: &mut flate2::Decompress, data: &[u8]) -> Vec<u8> {
        let mut input = data.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(1 << 20);
        d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
            .expect("inflate");
        out
    }

    #[test]
    fn deflate_rfc7692_example_and_takeover() {
        // RFC 7692 section 7.2.3.1: "Hello" -> f2 48 cd c9 c9 07 00
        let mut c = new_deflate_compressor(6);
        let hello = deflate_message(b"Hello", &mut c);
        assert_eq!(hello, hex("f2 48 cd c9 c9 07 00"));
        // with context takeover the second identical message is shorter
        let again = deflate_message(b"Hello", &mut c);
        assert!(again.len() < hello.len());
        let mut d = flate2::Decompress::new(false);
        assert_eq!(inflate(&mut d, &hello), b"Hello");
        assert_eq!(inflate(&mut d, &again), b"Hello");
        // without context takeover a fresh compressor repeats the first output
        let mut fresh = new_deflate_compressor(6);
        assert_eq!(deflate_message(b"Hello", &mut fresh), hello);
        // large, incompressible-ish input round-trips
        let big: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut c2 = new_deflate_compressor(1);
        let z = deflate_message(&big, &mut c2);
        let mut d2 = flate2::Decompress::new(false);
        assert_eq!(inflate(&mut d2, &z), big);
        let f = deflate_frame(OP_TEXT, b"Hello", &mut new_deflate_compressor(6), None);
        assert_eq!(f.encode(), hex("c1 07 f2 48 cd c9 c9 07 00"));
    }
}
