//! Incremental HTTP/1.x message-head parsing for the upgrade handshake (httparse underneath).
//!
//! Three outcomes, as in httparse: a complete head (with its length in bytes), "need more
//! bytes" (nothing consumed), or "this is not HTTP". Header values are kept as received
//! (lossily decoded to text) so reports show exactly what was on the wire.

/// Largest head accepted; beyond this the stream is not treated as HTTP.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers parsed per head.
pub const MAX_HEADERS: usize = 128;

/// A parsed request line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// Method token.
    pub method: String,
    /// Request target.
    pub target: String,
    /// Minor HTTP version (1 for HTTP/1.1).
    pub version_minor: u8,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Bytes of the head including the final CRLF CRLF.
    pub head_len: usize,
}

/// A parsed status line and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Minor HTTP version.
    pub version_minor: u8,
    /// Status code.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Bytes of the head including the final CRLF CRLF.
    pub head_len: usize,
}

/// Result of trying to parse a head from the bytes so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadParse<T> {
    /// A complete head.
    Complete(T),
    /// Need more bytes; nothing was consumed.
    Partial,
    /// Not an HTTP head (or over [`MAX_HEAD_BYTES`]).
    Invalid(String),
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn collect_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| (h.name.to_string(), text(h.value)))
        .collect()
}

fn parser_config() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    config
}

/// Parses a request head from the start of `buf`.
pub fn parse_request(buf: &[u8]) -> HeadParse<RequestHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match parser_config().parse_request(&mut req, buf) {
        Ok(httparse::Status::Complete(n)) => HeadParse::Complete(RequestHead {
            method: req.method.unwrap_or_default().to_string(),
            target: req.path.unwrap_or_default().to_string(),
            version_minor: req.version.unwrap_or(1),
            headers: collect_headers(req.headers),
            head_len: n,
        }),
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => HeadParse::Partial,
        Ok(httparse::Status::Partial) => HeadParse::Invalid("request head over 64 KiB".into()),
        Err(e) => HeadParse::Invalid(format!("not an HTTP request: {e}")),
    }
}

/// Parses a response head from the start of `buf`.
pub fn parse_response(buf: &[u8]) -> HeadParse<ResponseHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match parser_config().parse_response(&mut resp, buf) {
        Ok(httparse::Status::Complete(n)) => HeadParse::Complete(ResponseHead {
            version_minor: resp.version.unwrap_or(1),
            status: resp.code.unwrap_or(0),
            reason: resp.reason.unwrap_or_default().to_string(),
            headers: collect_headers(resp.headers),
            head_len: n,
        }),
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => HeadParse::Partial,
        Ok(httparse::Status::Partial) => HeadParse::Invalid("response head over 64 KiB".into()),
        Err(e) => HeadParse::Invalid(format!("not an HTTP response: {e}")),
    }
}

/// The end (exclusive) of an HTTP head in `buf`: the position after the first empty line
/// (`\n\n` or `\n\r\n`). The search starts 2 bytes before `from`, so a caller that remembers
/// how far it looked examines every byte a bounded number of times however the head is
/// segmented.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from.saturating_sub(2).min(buf.len());
    while let Some(i) = memchr_nl(&buf[at..]) {
        let nl = at + i;
        match buf.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => at = nl + 1,
        }
    }
    None
}

fn memchr_nl(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// True for the headers a WebSocket handshake check reads.
pub fn websocket_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("sec-websocket-")
        || matches!(n.as_str(), "host" | "upgrade" | "connection" | "origin")
}

/// A request head read line by line without the strict parser: for heads httparse rejects
/// (over [`MAX_HEADERS`] headers, a request target that is not UTF-8) or that were cut at
/// [`MAX_HEAD_BYTES`]. Only complete lines are read; bytes that are not UTF-8 become U+FFFD.
/// The first [`MAX_HEADERS`] headers are kept, plus the WebSocket handshake headers after them
/// (at most [`MAX_HEADERS`] more). Returns the head and the number of header lines seen, or
/// `None` when the first line is not `METHOD TARGET HTTP/1.x`.
pub fn lenient_request(buf: &[u8]) -> Option<(RequestHead, usize)> {
    let first_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let first = &buf[..first_end];
    let first = text(first.strip_suffix(b"\r").unwrap_or(first));
    let mut parts = first.split(' ').filter(|p| !p.is_empty());
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let version_minor = match version.strip_prefix("HTTP/1.")?.as_bytes() {
        [d] if d.is_ascii_digit() => d - b'0',
        _ => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    let (headers, seen) = lenient_headers(buf.get(first_end + 1..).unwrap_or_default());
    Some((
        RequestHead {
            method: method.to_string(),
            target: target.to_string(),
            version_minor,
            headers,
            head_len: buf.len(),
        },
        seen,
    ))
}

/// A response head read line by line without the strict parser, like [`lenient_request`]:
/// for heads httparse rejects (over [`MAX_HEADERS`] headers, a lower-case or odd status line,
/// bytes that are not text) or that were cut at [`MAX_HEAD_BYTES`]. The status line must be
/// `HTTP/1.x` (any case) followed by a 3-digit status; the reason is the rest of the line.
/// Returns the head and the number of header lines seen, or `None` when the first line is not
/// a status line.
pub fn lenient_response(buf: &[u8]) -> Option<(ResponseHead, usize)> {
    let first_end = buf.iter().position(|&b| b == b'\n')?;
    let first = &buf[..first_end];
    let first = text(first.strip_suffix(b"\r").unwrap_or(first));
    let first = first.trim_start();
    let (version, rest) = first.split_once([' ', '\t'])?;
    let minor = version
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("HTTP/1."))
        .and_then(|_| version.get(7..))?;
    let version_minor = match minor.as_bytes() {
        [d] if d.is_ascii_digit() => d - b'0',
        _ => return None,
    };
    let rest = rest.trim_start();
    let code = rest
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))?;
    let status = code.parse().ok()?;
    let reason = rest[3..].trim().to_string();
    let (headers, seen) = lenient_headers(&buf[first_end + 1..]);
    Some((
        ResponseHead {
            version_minor,
            status,
            reason,
            headers,
            head_len: buf.len(),
        },
        seen,
    ))
}

/// The header lines of a head (after its first line), read leniently: the complete lines up
/// to the empty line; the first [`MAX_HEADERS`] kept plus the WebSocket handshake headers after
/// them (at most [`MAX_HEADERS`] more). Returns them and how many header lines were seen.
fn lenient_headers(buf: &[u8]) -> (Vec<(String, String)>, usize) {
    let mut headers = Vec::new();
    let mut extra = 0;
    let mut seen = 0;
    let mut rest = buf;
    // The last piece has no newline after it: incomplete, not read.
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        seen += 1;
        let name = text(&line[..colon]).trim().to_string();
        if headers.len() < MAX_HEADERS {
            headers.push((name, text(&line[colon + 1..]).trim().to_string()));
        } else if extra < MAX_HEADERS && websocket_header(&name) {
            extra += 1;
            headers.push((name, text(&line[colon + 1..]).trim().to_string()));
        }
    }
    (headers, seen)
}

/// All values of a header (case-insensitive name), in order.
pub fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first value of a header, trimmed.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// True when a comma-separated header contains `token` (case-insensitive).
pub fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    header_values(headers, name)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// How the body after a head is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// Exactly this many bytes.
    Fixed(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes.
    UntilClose,
}

/// Body framing of a request (RFC 9112 6.3): no Content-Length and no chunking means no body.
pub fn request_body(headers: &[(String, String)]) -> BodyLength {
    if has_token(headers, "transfer-encoding", "chunked") {
        return BodyLength::Chunked;
    }
    BodyLength::Fixed(
        header(headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

/// Body framing of a response to a request with `method`.
pub fn response_body(method: &str, status: u16, headers: &[(String, String)]) -> BodyLength {
    if method.eq_ignore_ascii_case("HEAD")
        || status == 204
        || status == 304
        || (100..200).contains(&status)
    {
        return BodyLength::Fixed(0);
    }
    if has_token(headers, "transfer-encoding", "chunked") {
        return BodyLength::Chunked;
    }
    match header(headers, "content-length").and_then(|v| v.parse().ok()) {
        Some(n) => BodyLength::Fixed(n),
        None => BodyLength::UntilClose,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_then_complete() {
        let req = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\nextra";
        assert_eq!(parse_request(&req[..20]), HeadParse::Partial);
        let HeadParse::Complete(head) = parse_request(req) else {
            panic!("complete request expected")
        };
        assert_eq!(head.head_len, req.len() - 5);
        assert_eq!(header(&head.headers, "HOST"), Some("example.com"));
        assert!(has_token(&head.headers, "upgrade", "WebSocket"));
    }

    #[test]
    fn empty_reason_phrase_is_fine() {
        let HeadParse::Complete(head) =
            parse_response(b"HTTP/1.1 101 \r\nUpgrade: websocket\r\n\r\n")
        else {
            panic!("complete response expected")
        };
        assert_eq!(head.status, 101);
        assert_eq!(head.reason, "");
    }

    #[test]
    fn binary_is_invalid() {
        assert!(matches!(
            parse_request(&[0x81, 0x85, 1, 2, 3]),
            HeadParse::Invalid(_)
        ));
    }
}
