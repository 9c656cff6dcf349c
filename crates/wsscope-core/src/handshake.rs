//! The opening handshake (RFC 6455 section 4): every requirement on the client's request and
//! the server's response checked, `Sec-WebSocket-Accept` verified, negotiated subprotocol and
//! extensions (permessage-deflate parameters) read.

use crate::finding::Code;
use crate::http::{has_token, header, header_values, RequestHead, ResponseHead};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID every server appends to the key (RFC 6455 1.3).
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(sha1(key + GUID))`.
pub fn accept_for(key: &str) -> String {
    STANDARD.encode(sha1_of(&[key.as_bytes(), WS_GUID.as_bytes()]))
}

fn sha1_of(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Explains a wrong `Sec-WebSocket-Accept` by the known server mistakes (seed documents and
/// common bugs), or `None` if no known mistake produces it.
pub fn diagnose_accept(key: &str, actual: &str) -> Option<&'static str> {
    let actual = actual.trim();
    let b64 = |parts: &[&[u8]]| STANDARD.encode(sha1_of(parts));
    let k = key.as_bytes();
    let guid = WS_GUID.as_bytes();
    let typo_guids: [(&str, &'static str); 5] = [
        (
            "258EDFA5-E914\u{2013}47DA-95CA-C5AB0DC85B11",
            "GUID typo: '258EDFA5' with an en dash before '47DA' (as printed in a well-known blog post)",
        ),
        ("258EDFA5-E914-47DA-95CA-C5AB0DC85B11", "GUID typo: '258EDFA5' instead of '258EAFA5'"),
        ("258EAFA5-E914\u{2013}47DA-95CA-C5AB0DC85B11", "GUID typo: an en dash instead of a hyphen before '47DA'"),
        ("258EAFA5-E914-47DA- 95CA-C5AB0DC85B11", "GUID typo: a space inside the GUID ('47DA- 95CA')"),
        ("258eafa5-e914-47da-95ca-c5ab0dc85b11", "GUID written in lower case"),
    ];
    for (g, why) in typo_guids {
        if b64(&[k, g.as_bytes()]) == actual {
            return Some(why);
        }
    }
    let digest = sha1_of(&[k, guid]);
    let candidates: [(String, &'static str); 9] = [
        (b64(&[k]), "no GUID: the server hashed the key alone"),
        (b64(&[guid, k]), "GUID and key concatenated in the wrong order"),
        (hex(&digest), "hex instead of base64: the SHA-1 digest was hex-encoded"),
        (hex(&digest).to_uppercase(), "hex instead of base64: the SHA-1 digest was hex-encoded (upper case)"),
        (STANDARD.encode(hex(&digest)), "base64 of the hex digest instead of the raw 20 bytes (e.g. PHP sha1() without raw output)"),
        (URL_SAFE.encode(digest), "URL-safe base64 alphabet instead of standard base64"),
        (STANDARD.encode(digest).trim_end_matches('=').to_string(), "base64 padding '=' stripped"),
        (key.to_string(), "the key was echoed back unchanged"),
        (b64(&[key.trim().as_bytes(), guid]), "the key was not trimmed before hashing"),
    ];
    for (value, why) in candidates {
        if value == actual {
            return Some(why);
        }
    }
    for padded in [format!(" {key}"), format!("{key} "), format!(" {key} ")] {
        if b64(&[padded.as_bytes(), guid]) == actual {
            return Some("untrimmed key: whitespace around the key was hashed with it");
        }
    }
    None
}

/// One offered or accepted extension: name and `key[=value]` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order (`value` without quotes).
    pub params: Vec<(String, Option<String>)>,
}

impl Extension {
    fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// Parses every `Sec-WebSocket-Extensions` header into a list of extensions.
pub fn parse_extensions(headers: &[(String, String)]) -> Vec<Extension> {
    header_values(headers, "sec-websocket-extensions")
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().filter(|n| !n.is_empty())?.to_ascii_lowercase();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_ascii_lowercase(),
                        Some(v.trim().trim_matches('"').to_string()),
                    ),
                    None => (p.to_ascii_lowercase(), None),
                })
                .collect();
            Some(Extension { name, params })
        })
        .collect()
}

/// Negotiated permessage-deflate parameters (RFC 7692 section 7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// Server's LZ77 window bits (8-15).
    pub server_max_window_bits: u8,
    /// Client's LZ77 window bits (8-15).
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    fn from_extension(ext: &Extension) -> DeflateParams {
        let bits = |name: &str| {
            ext.param(name)
                .flatten()
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|b| (8..=15).contains(b))
                .unwrap_or(15)
        };
        DeflateParams {
            server_no_context_takeover: ext.param("server_no_context_takeover").is_some(),
            client_no_context_takeover: ext.param("client_no_context_takeover").is_some(),
            server_max_window_bits: bits("server_max_window_bits"),
            client_max_window_bits: bits("client_max_window_bits"),
        }
    }
}

/// A problem found in the handshake, before it is turned into a session finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Finding code.
    pub code: Code,
    /// Detail for the user.
    pub detail: String,
    /// True when the problem is in the response (direction s2c).
    pub in_response: bool,
}

fn problem(code: Code, detail: impl Into<String>, in_response: bool) -> Problem {
    Problem {
        code,
        detail: detail.into(),
        in_response,
    }
}

/// True when a request asks for a WebSocket upgrade (or carries a WebSocket key).
pub fn is_upgrade_request(req: &RequestHead) -> bool {
    has_token(&req.headers, "upgrade", "websocket")
        || header(&req.headers, "sec-websocket-key").is_some()
}

/// Checks the client's request against RFC 6455 4.1 / 4.2.1.
pub fn check_request(req: &RequestHead) -> Vec<Problem> {
    let mut out = Vec::new();
    if req.method != "GET" || req.version_minor < 1 {
        out.push(problem(
            Code::MethodNotGet,
            format!(
                "request line is '{} {} HTTP/1.{}'; RFC 6455 requires GET over HTTP/1.1 or later",
                req.method, req.target, req.version_minor
            ),
            false,
        ));
    }
    if header(&req.headers, "host").is_none() {
        out.push(problem(Code::HostMissing, "no Host header", false));
    }
    if !has_token(&req.headers, "upgrade", "websocket") {
        let got = header(&req.headers, "upgrade").unwrap_or("(absent)");
        out.push(problem(
            Code::UpgradeHeaderMissing,
            format!("request Upgrade header is {got}; expected 'websocket'"),
            false,
        ));
    }
    if !has_token(&req.headers, "connection", "upgrade") {
        let got = header(&req.headers, "connection").unwrap_or("(absent)");
        out.push(problem(
            Code::ConnectionHeaderMissing,
            format!("request Connection header is '{got}'; it must include 'Upgrade'"),
            false,
        ));
    }
    let keys: Vec<&str> = header_values(&req.headers, "sec-websocket-key").collect();
    match keys.as_slice() {
        [] => out.push(problem(
            Code::KeyInvalid,
            "no Sec-WebSocket-Key header",
            false,
        )),
        [key] => match STANDARD.decode(key.trim()) {
            Ok(bytes) if bytes.len() == 16 => {}
            Ok(bytes) => out.push(problem(
                Code::KeyInvalid,
                format!(
                    "Sec-WebSocket-Key '{}' decodes to {} bytes; RFC 6455 requires a 16-byte nonce",
                    key.trim(),
                    bytes.len()
                ),
                false,
            )),
            Err(_) => out.push(problem(
                Code::KeyInvalid,
                format!("Sec-WebSocket-Key '{}' is not valid base64", key.trim()),
                false,
            )),
        },
        many => out.push(problem(
            Code::KeyInvalid,
            format!(
                "{} Sec-WebSocket-Key headers; exactly one is allowed",
                many.len()
            ),
            false,
        )),
    }
    match header(&req.headers, "sec-websocket-version") {
        Some("13") => {}
        Some(v) => out.push(problem(
            Code::VersionUnsupported,
            format!("Sec-WebSocket-Version is '{v}'; only 13 is defined"),
            false,
        )),
        None => out.push(problem(
            Code::VersionUnsupported,
            "no Sec-WebSocket-Version header",
            false,
        )),
    }
    if header(&req.headers, "origin").is_none() {
        out.push(problem(Code::OriginMissing, "no Origin header: not a browser, or a proxy stripped it (servers that rely on Origin checks are open to cross-site WebSocket hijacking)", false));
    }
    out
}

/// What the server's 101 response established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The client's key (trimmed), if exactly one was sent.
    pub key: Option<String>,
    /// The server's accept value, if sent.
    pub accept: Option<String>,
    /// The value the accept should have had.
    pub expected_accept: Option<String>,
    /// True when `accept == expected_accept`.
    pub accept_valid: bool,
    /// Selected subprotocol.
    pub subprotocol: Option<String>,
    /// Accepted extensions.
    pub extensions: Vec<Extension>,
    /// permessage-deflate parameters if it was accepted.
    pub deflate: Option<DeflateParams>,
}

/// What a 101 response negotiated when its request was not captured (nothing to check it
/// against): subprotocol, extensions and permessage-deflate parameters.
pub fn negotiated_from_response(resp: &ResponseHead) -> Negotiated {
    let extensions = parse_extensions(&resp.headers);
    let deflate = extensions
        .iter()
        .find(|e| e.name == "permessage-deflate")
        .map(DeflateParams::from_extension);
    Negotiated {
        accept: header(&resp.headers, "sec-websocket-accept").map(str::to_string),
        subprotocol: header(&resp.headers, "sec-websocket-protocol").map(str::to_string),
        extensions,
        deflate,
        ..Negotiated::default()
    }
}

/// Checks a 101 response against its request (RFC 6455 4.1 / 4.2.2) and reads what it negotiated.
pub fn check_response(req: &RequestHead, resp: &ResponseHead) -> (Negotiated, Vec<Problem>) {
    let mut out = Vec::new();
    let mut neg = Negotiated::default();
    let keys: Vec<&str> = header_values(&req.headers, "sec-websocket-key").collect();
    if let [key] = keys.as_slice() {
        let key = key.trim().to_string();
        neg.expected_accept = Some(accept_for(&key));
        neg.key = Some(key);
    }
    neg.accept = header(&resp.headers, "sec-websocket-accept").map(str::to_string);
    match (&neg.accept, &neg.expected_accept, &neg.key) {
        (None, _, _) => out.push(problem(Code::AcceptMissing, "101 response has no Sec-WebSocket-Accept", true)),
        (Some(actual), Some(expected), Some(key)) => {
            if actual == expected {
                neg.accept_valid = true;
            } else {
                let why = diagnose_accept(key, actual).unwrap_or("no known mistake produces this value");
                out.push(problem(
                    Code::AcceptMismatch,
                    format!("Sec-WebSocket-Accept is '{actual}', expected '{expected}' for key '{key}': {why}"),
                    true,
                ));
            }
        }
        (Some(actual), _, _) => out.push(problem(
            Code::AcceptMismatch,
            format!("Sec-WebSocket-Accept is '{actual}' but the request had no single valid key to check it against"),
            true,
        )),
    }
    if !has_token(&resp.headers, "upgrade", "websocket") {
        let got = header(&resp.headers, "upgrade").unwrap_or("(absent)");
        out.push(problem(
            Code::UpgradeHeaderMissing,
            format!("101 response Upgrade header is {got}; expected 'websocket'"),
            true,
        ));
    }
    if !has_token(&resp.headers, "connection", "upgrade") {
        let got = header(&resp.headers, "connection").unwrap_or("(absent)");
        out.push(problem(
            Code::ConnectionHeaderMissing,
            format!("101 response Connection header is '{got}'; it must include 'Upgrade'"),
            true,
        ));
    }
    let offered_protocols: Vec<String> = header_values(&req.headers, "sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let selected: Vec<&str> = header_values(&resp.headers, "sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    match selected.as_slice() {
        [] => {}
        [one] => {
            neg.subprotocol = Some(one.to_string());
            if !offered_protocols.iter().any(|p| p == one) {
                out.push(problem(
                    Code::SubprotocolNotOffered,
                    format!(
                        "server selected subprotocol '{one}'; client offered [{}]",
                        offered_protocols.join(", ")
                    ),
                    true,
                ));
            }
        }
        many => out.push(problem(
            Code::SubprotocolNotOffered,
            format!(
                "server selected {} subprotocols ({}); exactly one is allowed",
                many.len(),
                many.join(", ")
            ),
            true,
        )),
    }
    let offered = parse_extensions(&req.headers);
    neg.extensions = parse_extensions(&resp.headers);
    for ext in &neg.extensions {
        let Some(offer) = offered.iter().find(|o| o.name == ext.name) else {
            out.push(problem(
                Code::ExtensionNotOffered,
                format!(
                    "server accepted extension '{}' that the client did not offer",
                    ext.name
                ),
                true,
            ));
            continue;
        };
        if ext.name == "permessage-deflate" {
            if ext.param("client_max_window_bits").is_some()
                && !offered
                    .iter()
                    .any(|o| o.name == ext.name && o.param("client_max_window_bits").is_some())
            {
                out.push(problem(
                    Code::ExtensionNotOffered,
                    "server set client_max_window_bits but the client did not offer it (RFC 7692 7.1.2.2)",
                    true,
                ));
            }
            if neg.deflate.is_none() {
                neg.deflate = Some(DeflateParams::from_extension(ext));
            }
        }
        let _ = offer;
    }
    if resp.reason != "Switching Protocols" && !resp.reason.is_empty() {
        out.push(problem(
            Code::HandshakeNote,
            format!("non-standard reason phrase '101 {}'", resp.reason),
            true,
        ));
    }
    for legacy in ["sec-websocket-origin", "sec-websocket-location"] {
        if let Some(v) = header(&resp.headers, legacy) {
            out.push(problem(
                Code::HandshakeNote,
                format!("legacy hixie-76 header {legacy}: {v}"),
                true,
            ));
        }
    }
    (neg, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_vectors() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            accept_for("Ap4ZCLgwbnDQ2ump+7ea3g=="),
            "Ih1TB0gxAY3zGzvQCYrIeM5bEdw="
        );
        assert_eq!(
            accept_for("x3JJHMbDL1EzLkh9GBhXDw=="),
            "HSmrc0sMlYUkAGmm5OPpG2HaGWk="
        );
    }

    #[test]
    fn known_mistakes_are_named() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let typo = STANDARD.encode(sha1_of(&[
            key.as_bytes(),
            "258EDFA5-E914\u{2013}47DA-95CA-C5AB0DC85B11".as_bytes(),
        ]));
        assert!(diagnose_accept(key, &typo)
            .unwrap_or("")
            .contains("258EDFA5"));
        let space = STANDARD.encode(sha1_of(&[
            key.as_bytes(),
            "258EAFA5-E914-47DA- 95CA-C5AB0DC85B11".as_bytes(),
        ]));
        assert!(diagnose_accept(key, &space).unwrap_or("").contains("space"));
        let no_guid = STANDARD.encode(sha1_of(&[key.as_bytes()]));
        assert!(diagnose_accept(key, &no_guid)
            .unwrap_or("")
            .contains("no GUID"));
        let hexed = hex(&sha1_of(&[key.as_bytes(), WS_GUID.as_bytes()]));
        assert!(diagnose_accept(key, &hexed).unwrap_or("").contains("hex"));
        let untrimmed =
            STANDARD.encode(sha1_of(&[format!(" {key}").as_bytes(), WS_GUID.as_bytes()]));
        assert!(diagnose_accept(key, &untrimmed)
            .unwrap_or("")
            .contains("untrimmed"));
        assert_eq!(diagnose_accept(key, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="), None);
    }

    #[test]
    fn deflate_parameters() {
        let headers = vec![(
            "Sec-WebSocket-Extensions".to_string(),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10".to_string(),
        )];
        let exts = parse_extensions(&headers);
        let p = DeflateParams::from_extension(&exts[0]);
        assert!(p.server_no_context_takeover);
        assert!(!p.client_no_context_takeover);
        assert_eq!(p.client_max_window_bits, 10);
        assert_eq!(p.server_max_window_bits, 15);
    }
}
