//! ClientHello, ServerHello and EncryptedExtensions: the fields the analyzer reports and the
//! decryptor needs (random, suite, version, SNI, ALPN, resumption). Hand-parsed with bounds
//! checks: every length is checked against what is left, nothing panics on hostile input.
//!
//! The functions take a handshake message body (without the 4-byte handshake header), as
//! [`super::record::HandshakeMessage::body`] gives it.

/// `server_name` extension (RFC 6066).
pub const EXT_SERVER_NAME: u16 = 0;
/// `application_layer_protocol_negotiation` extension (RFC 7301).
pub const EXT_ALPN: u16 = 16;
/// `encrypt_then_mac` extension (RFC 7366).
pub const EXT_ENCRYPT_THEN_MAC: u16 = 22;
/// `extended_master_secret` extension (RFC 7627).
pub const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
/// `session_ticket` extension (RFC 5077).
pub const EXT_SESSION_TICKET: u16 = 35;
/// `pre_shared_key` extension (RFC 8446).
pub const EXT_PRE_SHARED_KEY: u16 = 41;
/// `early_data` extension (RFC 8446).
pub const EXT_EARLY_DATA: u16 = 42;
/// `supported_versions` extension (RFC 8446).
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// TLS 1.2 version number.
pub const TLS12: u16 = 0x0303;
/// TLS 1.3 version number.
pub const TLS13: u16 = 0x0304;

/// The ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
pub const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Why a hello did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// A length runs past the end of its enclosing field.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// Bytes left after the last field.
    #[error("trailing bytes after {0}")]
    Trailing(&'static str),
}

/// A bounds-checked cursor.
struct Cursor<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Cursor { rest: bytes, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], HelloError> {
        if n > self.rest.len() {
            return Err(HelloError::Truncated(self.what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, HelloError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, HelloError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn vec8(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    fn vec16(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    fn random(&mut self) -> Result<[u8; 32], HelloError> {
        let mut r = [0u8; 32];
        r.copy_from_slice(self.take(32)?);
        Ok(r)
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn end(&self) -> Result<(), HelloError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(HelloError::Trailing(self.what))
        }
    }
}

/// Splits an extensions block into (type, data) pairs.
fn extensions(block: &[u8]) -> Result<Vec<(u16, &[u8])>, HelloError> {
    let mut c = Cursor::new(block, "extension");
    let mut out = Vec::new();
    while !c.is_empty() {
        let ty = c.u16()?;
        let data = c.vec16()?;
        out.push((ty, data));
    }
    Ok(out)
}

/// The optional extensions block at the end of a hello (absent in old TLS 1.2 hellos).
fn trailing_extensions<'a>(c: &mut Cursor<'a>) -> Result<Vec<(u16, &'a [u8])>, HelloError> {
    if c.is_empty() {
        return Ok(Vec::new());
    }
    let block = c.vec16()?;
    c.end()?;
    extensions(block)
}

/// ALPN protocol names from a `ProtocolNameList`.
fn alpn_list(data: &[u8]) -> Result<Vec<Vec<u8>>, HelloError> {
    let mut outer = Cursor::new(data, "ALPN extension");
    let list = outer.vec16()?;
    outer.end()?;
    let mut c = Cursor::new(list, "ALPN protocol list");
    let mut out = Vec::new();
    while !c.is_empty() {
        out.push(c.vec8()?.to_vec());
    }
    Ok(out)
}

/// The first `host_name` of a `server_name` extension, if it is valid UTF-8.
fn server_name(data: &[u8]) -> Result<Option<String>, HelloError> {
    let mut outer = Cursor::new(data, "server_name extension");
    let list = outer.vec16()?;
    outer.end()?;
    let mut c = Cursor::new(list, "server_name list");
    while !c.is_empty() {
        let name_type = c.u8()?;
        let name = c.vec16()?;
        if name_type == 0 {
            return Ok(std::str::from_utf8(name).ok().map(str::to_owned));
        }
    }
    Ok(None)
}

/// What a ClientHello offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u16,
    /// The client random: the key log's lookup key.
    pub random: [u8; 32],
    /// `legacy_session_id` (a resumption attempt in TLS 1.2 when non-empty).
    pub session_id: Vec<u8>,
    /// Offered cipher suites, in order.
    pub cipher_suites: Vec<u16>,
    /// SNI host name.
    pub server_name: Option<String>,
    /// ALPN protocols offered.
    pub alpn: Vec<Vec<u8>>,
    /// `supported_versions` list (empty when absent).
    pub supported_versions: Vec<u16>,
    /// `session_ticket` extension present.
    pub session_ticket_ext: bool,
    /// `session_ticket` extension carries a ticket (a TLS 1.2 resumption attempt).
    pub session_ticket_len: usize,
    /// `pre_shared_key` extension present (a TLS 1.3 resumption attempt).
    pub pre_shared_key: bool,
    /// `early_data` extension present (0-RTT offered).
    pub early_data: bool,
    /// Every extension type, in order.
    pub extension_types: Vec<u16>,
}

impl ClientHello {
    /// True when the client offers TLS 1.3.
    pub fn offers_tls13(&self) -> bool {
        self.supported_versions.contains(&TLS13)
    }
}

/// Parses a ClientHello body.
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, HelloError> {
    let mut c = Cursor::new(body, "ClientHello");
    let legacy_version = c.u16()?;
    let random = c.random()?;
    let session_id = c.vec8()?.to_vec();
    let suites = c.vec16()?;
    if suites.len() % 2 != 0 {
        return Err(HelloError::Truncated("cipher suite list"));
    }
    let cipher_suites = suites
        .chunks_exact(2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .collect();
    let _compression = c.vec8()?;
    let mut hello = ClientHello {
        legacy_version,
        random,
        session_id,
        cipher_suites,
        server_name: None,
        alpn: Vec::new(),
        supported_versions: Vec::new(),
        session_ticket_ext: false,
        session_ticket_len: 0,
        pre_shared_key: false,
        early_data: false,
        extension_types: Vec::new(),
    };
    for (ty, data) in trailing_extensions(&mut c)? {
        hello.extension_types.push(ty);
        match ty {
            EXT_SERVER_NAME => hello.server_name = server_name(data)?,
            EXT_ALPN => hello.alpn = alpn_list(data)?,
            EXT_SUPPORTED_VERSIONS => {
                let mut v = Cursor::new(data, "supported_versions");
                let list = v.vec8()?;
                v.end()?;
                if list.len() % 2 != 0 {
                    return Err(HelloError::Truncated("supported_versions"));
                }
                hello.supported_versions = list
                    .chunks_exact(2)
                    .map(|s| u16::from_be_bytes([s[0], s[1]]))
                    .collect();
            }
            EXT_SESSION_TICKET => {
                hello.session_ticket_ext = true;
                hello.session_ticket_len = data.len();
            }
            EXT_PRE_SHARED_KEY => hello.pre_shared_key = true,
            EXT_EARLY_DATA => hello.early_data = true,
            _ => {}
        }
    }
    Ok(hello)
}

/// What a ServerHello (or HelloRetryRequest) selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version` (0x0303 also for TLS 1.3).
    pub legacy_version: u16,
    /// The server random (the TLS 1.2 key block needs it).
    pub random: [u8; 32],
    /// `legacy_session_id_echo`.
    pub session_id: Vec<u8>,
    /// The selected cipher suite.
    pub cipher_suite: u16,
    /// `supported_versions` selection (0x0304 for TLS 1.3).
    pub selected_version: Option<u16>,
    /// ALPN selected (TLS 1.2; TLS 1.3 sends it in EncryptedExtensions).
    pub alpn: Option<Vec<u8>>,
    /// `pre_shared_key` accepted (TLS 1.3 resumption).
    pub pre_shared_key: bool,
    /// `session_ticket` extension present (TLS 1.2: a new ticket will follow).
    pub session_ticket_ext: bool,
    /// `extended_master_secret` negotiated.
    pub extended_master_secret: bool,
    /// `encrypt_then_mac` negotiated (matters for CBC suites).
    pub encrypt_then_mac: bool,
    /// Every extension type, in order.
    pub extension_types: Vec<u16>,
}

impl ServerHello {
    /// The negotiated version: `supported_versions` when present, else `legacy_version`.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }

    /// True for TLS 1.3.
    pub fn is_tls13(&self) -> bool {
        self.version() == TLS13
    }

    /// True for a HelloRetryRequest (a second ClientHello follows).
    pub fn is_hello_retry_request(&self) -> bool {
        self.random == HELLO_RETRY_RANDOM
    }

    /// True when this handshake resumes a session: TLS 1.3 with an accepted PSK, or TLS 1.2
    /// echoing the client's non-empty session id (session id or ticket resumption, RFC 5077
    /// 3.4). A TLS 1.2 server that accepts a ticket with an empty client session id cannot be
    /// told apart here: the absence of a Certificate message then says it.
    pub fn resumes(&self, client: &ClientHello) -> bool {
        if self.is_tls13() {
            self.pre_shared_key
        } else {
            !self.session_id.is_empty() && self.session_id == client.session_id
        }
    }
}

/// Parses a ServerHello body.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, HelloError> {
    let mut c = Cursor::new(body, "ServerHello");
    let legacy_version = c.u16()?;
    let random = c.random()?;
    let session_id = c.vec8()?.to_vec();
    let cipher_suite = c.u16()?;
    let _compression = c.u8()?;
    let mut hello = ServerHello {
        legacy_version,
        random,
        session_id,
        cipher_suite,
        selected_version: None,
        alpn: None,
        pre_shared_key: false,
        session_ticket_ext: false,
        extended_master_secret: false,
        encrypt_then_mac: false,
        extension_types: Vec::new(),
    };
    for (ty, data) in trailing_extensions(&mut c)? {
        hello.extension_types.push(ty);
        match ty {
            EXT_SUPPORTED_VERSIONS => {
                let mut v = Cursor::new(data, "supported_versions");
                hello.selected_version = Some(v.u16()?);
                v.end()?;
            }
            EXT_ALPN => hello.alpn = alpn_list(data)?.into_iter().next(),
            EXT_PRE_SHARED_KEY => hello.pre_shared_key = true,
            EXT_SESSION_TICKET => hello.session_ticket_ext = true,
            EXT_EXTENDED_MASTER_SECRET => hello.extended_master_secret = true,
            EXT_ENCRYPT_THEN_MAC => hello.encrypt_then_mac = true,
            _ => {}
        }
    }
    Ok(hello)
}

/// What a TLS 1.3 EncryptedExtensions message says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptedExtensions {
    /// ALPN protocol selected.
    pub alpn: Option<Vec<u8>>,
    /// `early_data` present: the server accepted the client's 0-RTT data (RFC 8446 4.2.10).
    pub early_data: bool,
}

/// Parses a TLS 1.3 EncryptedExtensions body.
pub fn parse_encrypted_extensions_full(body: &[u8]) -> Result<EncryptedExtensions, HelloError> {
    let mut c = Cursor::new(body, "EncryptedExtensions");
    let block = c.vec16()?;
    c.end()?;
    let mut ee = EncryptedExtensions::default();
    for (ty, data) in extensions(block)? {
        match ty {
            EXT_ALPN => ee.alpn = alpn_list(data)?.into_iter().next(),
            EXT_EARLY_DATA => ee.early_data = true,
            _ => {}
        }
    }
    Ok(ee)
}

/// The ALPN protocol selected in a TLS 1.3 EncryptedExtensions body, if any.
pub fn parse_encrypted_extensions(body: &[u8]) -> Result<Option<Vec<u8>>, HelloError> {
    parse_encrypted_extensions_full(body).map(|ee| ee.alpn)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn h(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks_exact(2)
            .map(|p| {
                let s = std::str::from_utf8(p).expect("ascii");
                u8::from_str_radix(s, 16).expect("hex")
            })
            .collect()
    }

    /// RFC 8448 section 3, the ClientHello handshake message (with its 4-byte header).
    const RFC8448_CLIENT_HELLO: &str = "
        01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec 18
        a2 ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b 00 09 00 00 06
        73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01
        02 01 03 01 04 00 23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2 3d 8e
        43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c 00 2b 00 03 02 03 04 00 0d
        00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02
        06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01";

    /// RFC 8448 section 3, the ServerHello handshake message.
    const RFC8448_SERVER_HELLO: &str = "
        02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb 14 34 da
        c1 55 77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88 76 11 20 95 fe
        66 76 2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00 2b 00 02 03 04";

    /// RFC 8448 section 3, EncryptedExtensions (no ALPN).
    const RFC8448_ENCRYPTED_EXTENSIONS: &str = "
        08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04
        00 1c 00 02 40 01 00 00 00 00";

    #[test]
    fn rfc8448_client_hello() {
        let msg = h(RFC8448_CLIENT_HELLO);
        assert_eq!(msg.len(), 196);
        let ch = parse_client_hello(&msg[4..]).expect("RFC 8448 ClientHello");
        assert_eq!(ch.legacy_version, TLS12);
        assert_eq!(ch.random[..4], [0xcb, 0x34, 0xec, 0xb1]);
        assert!(ch.session_id.is_empty());
        assert_eq!(ch.cipher_suites, [0x1301, 0x1303, 0x1302]);
        assert_eq!(ch.server_name.as_deref(), Some("server"));
        assert!(ch.alpn.is_empty());
        assert!(ch.offers_tls13());
        assert!(ch.session_ticket_ext);
        assert_eq!(ch.session_ticket_len, 0);
        assert!(!ch.pre_shared_key);
        assert_eq!(ch.extension_types, [0, 0xff01, 10, 35, 51, 43, 13, 45, 28]);
    }

    #[test]
    fn rfc8448_server_hello_and_encrypted_extensions() {
        let msg = h(RFC8448_SERVER_HELLO);
        let sh = parse_server_hello(&msg[4..]).expect("RFC 8448 ServerHello");
        assert_eq!(sh.legacy_version, TLS12);
        assert_eq!(sh.selected_version, Some(TLS13));
        assert!(sh.is_tls13());
        assert!(!sh.is_hello_retry_request());
        assert_eq!(sh.cipher_suite, 0x1301);
        assert_eq!(sh.alpn, None);
        let ch = parse_client_hello(&h(RFC8448_CLIENT_HELLO)[4..]).expect("ClientHello");
        assert!(!sh.resumes(&ch));
        let ee = h(RFC8448_ENCRYPTED_EXTENSIONS);
        assert_eq!(parse_encrypted_extensions(&ee[4..]), Ok(None));
    }

    /// Builds an extension.
    fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut e = ty.to_be_bytes().to_vec();
        e.extend(u16::try_from(data.len()).expect("small").to_be_bytes());
        e.extend(data);
        e
    }

    fn alpn(names: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for n in names {
            list.push(u8::try_from(n.len()).expect("small"));
            list.extend(*n);
        }
        let mut d = u16::try_from(list.len())
            .expect("small")
            .to_be_bytes()
            .to_vec();
        d.extend(list);
        d
    }

    fn tls12_hellos() -> (Vec<u8>, Vec<u8>) {
        let sid = [0x42u8; 32];
        let mut ch = vec![3, 3];
        ch.extend([0x11; 32]);
        ch.push(32);
        ch.extend(sid);
        ch.extend([0, 4, 0xc0, 0x2f, 0xcc, 0xa8]);
        ch.extend([1, 0]);
        let mut exts = ext(EXT_ALPN, &alpn(&[b"h2", b"http/1.1"]));
        exts.extend(ext(EXT_SESSION_TICKET, &[9; 100]));
        exts.extend(ext(EXT_EXTENDED_MASTER_SECRET, &[]));
        ch.extend(u16::try_from(exts.len()).expect("small").to_be_bytes());
        ch.extend(exts);

        let mut sh = vec![3, 3];
        sh.extend([0x22; 32]);
        sh.push(32);
        sh.extend(sid);
        sh.extend([0xc0, 0x2f, 0]);
        let mut exts = ext(EXT_ALPN, &alpn(&[b"http/1.1"]));
        exts.extend(ext(EXT_EXTENDED_MASTER_SECRET, &[]));
        sh.extend(u16::try_from(exts.len()).expect("small").to_be_bytes());
        sh.extend(exts);
        (ch, sh)
    }

    #[test]
    fn tls12_alpn_and_session_resumption() {
        let (ch, sh) = tls12_hellos();
        let ch = parse_client_hello(&ch).expect("ClientHello");
        assert_eq!(ch.alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(ch.session_ticket_len, 100);
        assert!(!ch.offers_tls13());
        let sh = parse_server_hello(&sh).expect("ServerHello");
        assert_eq!(sh.version(), TLS12);
        assert_eq!(sh.cipher_suite, 0xc02f);
        assert_eq!(sh.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert!(sh.extended_master_secret);
        assert!(sh.resumes(&ch));
    }

    #[test]
    fn hellos_without_extensions_parse() {
        let mut ch = vec![3, 1];
        ch.extend([0; 32]);
        ch.extend([0, 0, 2, 0, 0x2f, 1, 0]);
        let ch = parse_client_hello(&ch).expect("old ClientHello");
        assert_eq!(ch.cipher_suites, [0x002f]);
        assert!(ch.extension_types.is_empty());
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let (ch, sh) = tls12_hellos();
        for body in [h(RFC8448_CLIENT_HELLO)[4..].to_vec(), ch] {
            for n in 0..body.len() {
                let _ = parse_client_hello(&body[..n]);
                let mut bad = body.clone();
                bad[n] ^= 0xff;
                let _ = parse_client_hello(&bad);
            }
        }
        for body in [h(RFC8448_SERVER_HELLO)[4..].to_vec(), sh] {
            for n in 0..body.len() {
                let _ = parse_server_hello(&body[..n]);
                let mut bad = body.clone();
                bad[n] ^= 0xff;
                let _ = parse_server_hello(&bad);
            }
        }
        assert!(parse_client_hello(&[3, 3]).is_err());
        let mut sh = h(RFC8448_SERVER_HELLO)[4..].to_vec();
        sh.push(0);
        assert_eq!(
            parse_server_hello(&sh),
            Err(HelloError::Trailing("ServerHello"))
        );
    }

    #[test]
    fn tls13_psk_resumption_and_alpn_in_encrypted_extensions() {
        let mut sh = vec![3, 3];
        sh.extend([0x33; 32]);
        sh.extend([0, 0x13, 0x03, 0]);
        let mut exts = ext(EXT_SUPPORTED_VERSIONS, &[3, 4]);
        exts.extend(ext(EXT_PRE_SHARED_KEY, &[0, 0]));
        sh.extend(u16::try_from(exts.len()).expect("small").to_be_bytes());
        sh.extend(exts);
        let sh = parse_server_hello(&sh).expect("ServerHello");
        let (ch, _) = tls12_hellos();
        let ch = parse_client_hello(&ch).expect("ClientHello");
        assert!(sh.is_tls13());
        assert!(sh.resumes(&ch));

        let exts = ext(EXT_ALPN, &alpn(&[b"h2"]));
        let mut ee = u16::try_from(exts.len())
            .expect("small")
            .to_be_bytes()
            .to_vec();
        ee.extend(exts);
        assert_eq!(parse_encrypted_extensions(&ee), Ok(Some(b"h2".to_vec())));
        assert!(!parse_encrypted_extensions_full(&ee).expect("EE").early_data);

        // The server accepting 0-RTT says so with an empty early_data extension.
        let mut exts = ext(EXT_EARLY_DATA, &[]);
        exts.extend(ext(EXT_ALPN, &alpn(&[b"http/1.1"])));
        let mut ee = u16::try_from(exts.len())
            .expect("small")
            .to_be_bytes()
            .to_vec();
        ee.extend(exts);
        let ee = parse_encrypted_extensions_full(&ee).expect("EE");
        assert!(ee.early_data);
        assert_eq!(ee.alpn.as_deref(), Some(&b"http/1.1"[..]));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_hello_bodies_never_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        ) {
            let _ = parse_client_hello(&data);
            let _ = parse_server_hello(&data);
            let _ = parse_encrypted_extensions(&data);
        }
    }
}
