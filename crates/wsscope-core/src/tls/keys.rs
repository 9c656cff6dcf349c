//! TLS 1.3 record protection (RFC 8446 section 5.2, 7): traffic key and IV from a traffic
//! secret with HKDF-Expand-Label, the per-record nonce, AEAD open, the inner content type, and
//! KeyUpdate. The AEADs and HKDF are RustCrypto's; only the glue is here.

use hkdf::Hkdf;
use ring::aead::{
    Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305,
};
use sha2::{Sha256, Sha384};
use std::fmt;

use super::keylog::Secret;
use super::record::RecordHeader;

/// AEAD tag length of every supported suite.
pub const TAG_LEN: usize = 16;
/// AEAD nonce length of every supported suite.
pub const NONCE_LEN: usize = 12;

/// The hash of a suite's key schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlg {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

/// A TLS 1.3 cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls13Suite {
    /// TLS_AES_128_GCM_SHA256 (0x1301).
    Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384 (0x1302).
    Aes256GcmSha384,
    /// TLS_CHACHA20_POLY1305_SHA256 (0x1303).
    Chacha20Poly1305Sha256,
}

impl Tls13Suite {
    /// The suite for a ServerHello's cipher_suite, if supported.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            0x1301 => Some(Tls13Suite::Aes128GcmSha256),
            0x1302 => Some(Tls13Suite::Aes256GcmSha384),
            0x1303 => Some(Tls13Suite::Chacha20Poly1305Sha256),
            _ => None,
        }
    }

    /// The key schedule's hash.
    pub fn hash(self) -> HashAlg {
        match self {
            Tls13Suite::Aes256GcmSha384 => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// AEAD key length.
    pub fn key_len(self) -> usize {
        match self {
            Tls13Suite::Aes128GcmSha256 => 16,
            _ => 32,
        }
    }
}

/// Why keys could not be made or a record not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A secret shorter than the suite's hash (a key log line for another suite).
    #[error("secret of {got} bytes, the suite's hash needs {want}")]
    SecretLength {
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        want: usize,
    },
    /// HKDF refused the output length (over 255 hash lengths).
    #[error("HKDF output too long")]
    OutputLength,
    /// The record did not authenticate: wrong key, wrong sequence number, or corruption.
    #[error("record authentication failed")]
    Authentication,
    /// The record is shorter than the AEAD tag.
    #[error("record shorter than its authentication tag")]
    TooShort,
    /// The decrypted record is all zeros: no inner content type (RFC 8446 5.4).
    #[error("decrypted record has no content type")]
    NoContentType,
    /// 2^64 records under one key.
    #[error("record sequence number exhausted")]
    SequenceExhausted,
}

/// HKDF-Expand-Label (RFC 8446 7.1): `HKDF-Expand(secret, HkdfLabel, length)` with the label
/// `"tls13 " + label`. `secret` must be at least the hash's length.
pub fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    length: usize,
) -> Result<Vec<u8>, KeyError> {
    let full_label_len = 6 + label.len();
    let (Ok(len16), Ok(label8), Ok(context8)) = (
        u16::try_from(length),
        u8::try_from(full_label_len),
        u8::try_from(context.len()),
    ) else {
        return Err(KeyError::OutputLength);
    };
    let mut info = Vec::with_capacity(4 + full_label_len + context.len());
    info.extend_from_slice(&len16.to_be_bytes());
    info.push(label8);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(context8);
    info.extend_from_slice(context);
    let mut out = vec![0u8; length];
    let short = KeyError::SecretLength {
        got: secret.len(),
        want: hash.output_len(),
    };
    match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .map_err(|_| short)?
            .expand(&info, &mut out),
        HashAlg::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .map_err(|_| short)?
            .expand(&info, &mut out),
    }
    .map_err(|_| KeyError::OutputLength)?;
    Ok(out)
}

/// An AEAD with its key: ring's AES-GCM and ChaCha20-Poly1305 (assembly with AES-NI, CLMUL and
/// AVX where the CPU has them; RustCrypto's GCM cost three times the plaintext run in
/// `scripts/bench-wss.sh`). Boxed: the AES key schedules are large.
pub(crate) struct AeadKey(Box<LessSafeKey>);

impl AeadKey {
    /// An AES-GCM key of 16 or 32 bytes, or a ChaCha20-Poly1305 key.
    pub(crate) fn new(chacha: bool, key: &[u8]) -> Result<Self, KeyError> {
        let bad = KeyError::SecretLength {
            got: key.len(),
            want: if key.len() == 16 { 16 } else { 32 },
        };
        let alg = match (chacha, key.len()) {
            (true, _) => &CHACHA20_POLY1305,
            (false, 16) => &AES_128_GCM,
            (false, _) => &AES_256_GCM,
        };
        let key = UnboundKey::new(alg, key).map_err(|_| bad)?;
        Ok(AeadKey(Box::new(LessSafeKey::new(key))))
    }

    /// Opens `ciphertext || tag` (a copy of it).
    #[cfg(test)]
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        self.open_owned(nonce, aad, ciphertext.to_vec(), 0)
    }

    /// Opens `buf[skip..]` (`ciphertext || tag`) in place, without copying it: the plaintext is
    /// returned in `buf` itself (shifted to its start when `skip` bytes, such as TLS 1.2's
    /// explicit nonce, come first).
    pub(crate) fn open_owned(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        mut buf: Vec<u8>,
        skip: usize,
    ) -> Result<Vec<u8>, KeyError> {
        if buf.len() < skip + TAG_LEN {
            return Err(KeyError::TooShort);
        }
        let plain_len = self
            .0
            .open_within(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                &mut buf,
                skip..,
            )
            .map_err(|_| KeyError::Authentication)?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }

    #[cfg(test)]
    pub(crate) fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut buf = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                &mut buf,
            )
            .expect("test seal");
        buf
    }
}

/// The per-record nonce: the IV XOR the 64-bit sequence number, left-padded (RFC 8446 5.3).
pub fn record_nonce(iv: &[u8; NONCE_LEN], seq: u64) -> [u8; NONCE_LEN] {
    let mut nonce = *iv;
    for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}

/// A decrypted TLS 1.3 record: its real content type and content, padding removed.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext {
    /// The inner content type (handshake, application_data, alert).
    pub content_type: u8,
    /// The content.
    pub content: Vec<u8>,
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plaintext")
            .field("content_type", &self.content_type)
            .field("len", &self.content.len())
            .finish()
    }
}

/// Splits TLSInnerPlaintext (content || type || zeros) into type and content (RFC 8446 5.4).
pub fn strip_inner_plaintext(mut inner: Vec<u8>) -> Result<Plaintext, KeyError> {
    let Some(last) = inner.iter().rposition(|&b| b != 0) else {
        return Err(KeyError::NoContentType);
    };
    let content_type = inner[last];
    inner.truncate(last);
    Ok(Plaintext {
        content_type,
        content: inner,
    })
}

/// One direction's TLS 1.3 read state: the current traffic secret, its key and IV, and the
/// sequence number of the next record.
pub struct Tls13Reader {
    suite: Tls13Suite,
    secret: Secret,
    key: AeadKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl fmt::Debug for Tls13Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls13Reader")
            .field("suite", &self.suite)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Tls13Reader {
    /// Keys from a traffic secret (a handshake or application secret of the key log).
    pub fn new(suite: Tls13Suite, secret: &Secret) -> Result<Self, KeyError> {
        let (key, iv) = Self::derive(suite, secret.expose())?;
        Ok(Tls13Reader {
            suite,
            secret: secret.clone(),
            key,
            iv,
            seq: 0,
        })
    }

    fn derive(suite: Tls13Suite, secret: &[u8]) -> Result<(AeadKey, [u8; NONCE_LEN]), KeyError> {
        let hash = suite.hash();
        if secret.len() != hash.output_len() {
            return Err(KeyError::SecretLength {
                got: secret.len(),
                want: hash.output_len(),
            });
        }
        let key = hkdf_expand_label(hash, secret, b"key", &[], suite.key_len())?;
        let iv = hkdf_expand_label(hash, secret, b"iv", &[], NONCE_LEN)?;
        let mut iv_arr = [0u8; NONCE_LEN];
        iv_arr.copy_from_slice(&iv);
        let chacha = suite == Tls13Suite::Chacha20Poly1305Sha256;
        Ok((AeadKey::new(chacha, &key)?, iv_arr))
    }

    /// The sequence number the next record must have.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The suite.
    pub fn suite(&self) -> Tls13Suite {
        self.suite
    }

    /// Opens one protected record (its header is the AAD) and strips the inner plaintext. The
    /// sequence number advances only on success, so a failed record can be reported and the
    /// direction stopped without guessing.
    pub fn open(&mut self, header: &RecordHeader, fragment: &[u8]) -> Result<Plaintext, KeyError> {
        self.open_owned(header, fragment.to_vec())
    }

    /// [`Tls13Reader::open`] decrypting the record's own buffer in place (no copy).
    pub fn open_owned(
        &mut self,
        header: &RecordHeader,
        fragment: Vec<u8>,
    ) -> Result<Plaintext, KeyError> {
        let next = self.seq.checked_add(1).ok_or(KeyError::SequenceExhausted)?;
        let nonce = record_nonce(&self.iv, self.seq);
        let inner = self
            .key
            .open_owned(&nonce, &header.to_bytes(), fragment, 0)?;
        self.seq = next;
        strip_inner_plaintext(inner)
    }

    /// KeyUpdate (RFC 8446 7.2): the next secret is
    /// `HKDF-Expand-Label(current, "traffic upd", "", Hash.length)`; the sequence restarts at 0.
    pub fn key_update(&mut self) -> Result<(), KeyError> {
        let hash = self.suite.hash();
        let next = hkdf_expand_label(
            hash,
            self.secret.expose(),
            b"traffic upd",
            &[],
            hash.output_len(),
        )?;
        let (key, iv) = Self::derive(self.suite, &next)?;
        self.secret = Secret::new(next);
        self.key = key;
        self.iv = iv;
        self.seq = 0;
        Ok(())
    }

    /// A protected record of `content` at `seq` (tests build connections with it).
    #[cfg(test)]
    pub(crate) fn seal(&self, seq: u64, content_type: u8, content: &[u8]) -> Vec<u8> {
        use super::record::APPLICATION_DATA;
        let mut inner = content.to_vec();
        inner.push(content_type);
        inner.extend([0; 3]);
        let len = u16::try_from(inner.len() + TAG_LEN).expect("test record");
        let header = RecordHeader {
            content_type: APPLICATION_DATA,
            version: 0x0303,
            length: len,
        };
        let mut rec = header.to_bytes().to_vec();
        rec.extend(
            self.key
                .seal(&record_nonce(&self.iv, seq), &header.to_bytes(), &inner),
        );
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{RecordReader, APPLICATION_DATA, HANDSHAKE};
    use super::*;

    fn h(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks_exact(2)
            .map(|p| {
                let s = std::str::from_utf8(p).expect("ascii");
                u8::from_str_radix(s, 16).expect("hex")
            })
            .collect()
    }

    // RFC 8448 section 3 (Simple 1-RTT Handshake), TLS_AES_128_GCM_SHA256.
    const C_HS_TRAFFIC: &str = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
    const S_HS_TRAFFIC: &str = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
    const C_AP_TRAFFIC: &str = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
    const S_AP_TRAFFIC: &str = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";

    /// The server's encrypted flight: EncryptedExtensions, Certificate, CertificateVerify and
    /// Finished in one record under the server handshake keys (sequence 0).
    const SERVER_FLIGHT: &str = "
        17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07 cc 87 b5 80 23 3f 50 0f 45 e4 89 e7 f3 3a
        f3 5e df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca 07 61 2e f9 f9 45 cb 96 0b 40 68 90
        51 23 ea 78 b1 11 b4 29 ba 91 91 cd 05 d2 a3 89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8
        28 b5 ec f7 b1 3b d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9 b1 18 3e
        f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf 51 42 73 25 25 0c 7d 0e 50 92 89 44
        4c 9b 3a 64 8f 1d 71 03 5d 2e d6 5b 0e 3c dd 0c ba e8 bf 2d 0b 22 78 12 cb b3 60 98 72 55
        cc 74 41 10 c4 53 ba a4 fc d6 10 92 8d 80 98 10 e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82 04 79
        7e 36 a6 a7 3b 70 a2 55 9c 09 ea d6 86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8
        94 41 ac 66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea 52 0a 56 a8 d6 50
        f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e a5 e2 2f 44 15 cf 95 38 d5 1a 20 0c 27 03 42
        72 96 8a 26 4e d6 54 0c 84 83 8d 89 f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb 31 7b 66
        d9 02 f4 f2 92 a3 6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31 7b 49 ee da 0c 62 58 f1
        00 d7 d9 61 ff b1 38 64 7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e 1b 7a 6c 71 78 af
        36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84 c8 b0 37 8b f3 02 44 da 8c 87 c8 43
        f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6
        6f 99 88 2b d8 9f c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80 f8 5d f8 81 ed be
        5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18 a3 96 fa 48 a1 81 d6 b6 fa 4f 9d 62 d5 13
        af bb 99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb 56 30 c8 ca 01 e0 c6 5d 11 c6 6a 1e
        2a c4 c8 59 77 b7 c7 a6 99 9b bf 10 dc 35 ae 69 f5 51 56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c
        0b 3b 66 76 30 38 eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f
        60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd d5 02 78 40 16 e4 b3 be 7e
        f0 4d da 49 f4 b4 40 a3 0c b5 d2 af 93 98 28 fd 4a e3 79 4e 44 f9 4d f5 a6 31 ed e4 2c 17
        19 bf da bf 02 53 fe 51 75 be 89 8e 75 0e dc 53 37 0d 2b";

    /// EncryptedExtensions and Finished as the RFC prints them (first and last of the flight).
    const ENCRYPTED_EXTENSIONS: &str = "
        08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04
        00 1c 00 02 40 01 00 00 00 00";
    const SERVER_FINISHED: &str = "
        14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee
        54 54 b7 8f 07 18";

    /// The client's Finished under the client handshake keys (sequence 0).
    const CLIENT_FINISHED: &str = "
        17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 51 7f e9 b9 3c 7a
        4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c ae ac ab 68 67 d7 26 c4 05 46";
    const CLIENT_FINISHED_PLAIN: &str = "
        14 00 00 20 a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27 b6
        42 f2 ed d5 ce 61";

    /// 50 bytes 00..31 from the client under its application keys (sequence 0).
    const CLIENT_APP: &str = "
        17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc
        ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd
        1e 3d ea e6 3a ee bb 21 69 49 15 e4";
    /// The same 50 bytes from the server (sequence 1: its NewSessionTicket was 0).
    const SERVER_APP: &str = "
        17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa
        1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2
        ab f3 32 54 0d d0 32 e1 67 c2 95 5d";

    fn secret(hex: &str) -> Secret {
        Secret::new(h(hex))
    }

    fn one_record(bytes: &[u8]) -> super::super::record::Record {
        let mut out = Vec::new();
        RecordReader::new().push(bytes, &mut out).expect("record");
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn rfc8448_traffic_keys_and_ivs() {
        let sha = HashAlg::Sha256;
        let expand = |s: &str, l: &[u8], n| hkdf_expand_label(sha, &h(s), l, &[], n).expect("ok");
        assert_eq!(
            expand(S_HS_TRAFFIC, b"key", 16),
            h("3fce516009c21727d0f2e4e86ee403bc")
        );
        assert_eq!(
            expand(S_HS_TRAFFIC, b"iv", 12),
            h("5d313eb2671276ee13000b30")
        );
        assert_eq!(
            expand(C_HS_TRAFFIC, b"key", 16),
            h("dbfaa693d1762c5b666af5d950258d01")
        );
        assert_eq!(
            expand(C_HS_TRAFFIC, b"iv", 12),
            h("5bd3c71b836e0b76bb73265f")
        );
        assert_eq!(
            expand(C_AP_TRAFFIC, b"key", 16),
            h("17422dda596ed5d9acd890e3c63f5051")
        );
        assert_eq!(
            expand(C_AP_TRAFFIC, b"iv", 12),
            h("5b78923dee08579033e523d9")
        );
        assert_eq!(
            expand(S_AP_TRAFFIC, b"key", 16),
            h("9f02283b6c9c07efc26bb9f2ac92e356")
        );
        assert_eq!(
            expand(S_AP_TRAFFIC, b"iv", 12),
            h("cf782b88dd83549aadf1e984")
        );
        // the server Finished key, another label of the same function
        assert_eq!(
            expand(S_HS_TRAFFIC, b"finished", 32),
            h("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8")
        );
    }

    #[test]
    fn rfc8448_server_flight_decrypts_exactly() {
        let suite = Tls13Suite::from_id(0x1301).expect("suite");
        let mut r = Tls13Reader::new(suite, &secret(S_HS_TRAFFIC)).expect("keys");
        let rec = one_record(&h(SERVER_FLIGHT));
        let plain = r.open(&rec.header, &rec.fragment).expect("authenticates");
        assert_eq!(plain.content_type, HANDSHAKE);
        assert_eq!(plain.content.len(), 40 + 445 + 136 + 36);
        assert!(plain.content.starts_with(&h(ENCRYPTED_EXTENSIONS)));
        assert!(plain.content.ends_with(&h(SERVER_FINISHED)));
        assert_eq!(r.seq(), 1);
    }

    #[test]
    fn rfc8448_client_finished_and_application_data_decrypt_exactly() {
        let suite = Tls13Suite::Aes128GcmSha256;
        let mut c_hs = Tls13Reader::new(suite, &secret(C_HS_TRAFFIC)).expect("keys");
        let rec = one_record(&h(CLIENT_FINISHED));
        let plain = c_hs
            .open(&rec.header, &rec.fragment)
            .expect("authenticates");
        assert_eq!(plain.content_type, HANDSHAKE);
        assert_eq!(plain.content, h(CLIENT_FINISHED_PLAIN));

        let data: Vec<u8> = (0u8..50).collect();
        let mut c_ap = Tls13Reader::new(suite, &secret(C_AP_TRAFFIC)).expect("keys");
        let rec = one_record(&h(CLIENT_APP));
        let plain = c_ap
            .open(&rec.header, &rec.fragment)
            .expect("authenticates");
        assert_eq!(plain.content_type, APPLICATION_DATA);
        assert_eq!(plain.content, data);

        let mut s_ap = Tls13Reader::new(suite, &secret(S_AP_TRAFFIC)).expect("keys");
        let rec = one_record(&h(SERVER_APP));
        // At sequence 0 it must fail (it is record 1), and failing must not advance.
        assert_eq!(
            s_ap.open(&rec.header, &rec.fragment),
            Err(KeyError::Authentication)
        );
        assert_eq!(s_ap.seq(), 0);
        s_ap.seq = 1;
        let plain = s_ap
            .open(&rec.header, &rec.fragment)
            .expect("authenticates");
        assert_eq!(plain.content, data);
    }

    #[test]
    fn wrong_key_or_corruption_fails_authentication() {
        let suite = Tls13Suite::Aes128GcmSha256;
        let mut wrong = Tls13Reader::new(suite, &secret(S_AP_TRAFFIC)).expect("keys");
        let rec = one_record(&h(CLIENT_APP));
        assert_eq!(
            wrong.open(&rec.header, &rec.fragment),
            Err(KeyError::Authentication)
        );
        let mut right = Tls13Reader::new(suite, &secret(C_AP_TRAFFIC)).expect("keys");
        let mut bad = rec.fragment.clone();
        bad[10] ^= 1;
        assert_eq!(right.open(&rec.header, &bad), Err(KeyError::Authentication));
        assert_eq!(right.open(&rec.header, &bad[..15]), Err(KeyError::TooShort));
        // A secret of the wrong length for the suite is refused, not truncated.
        let e = Tls13Reader::new(Tls13Suite::Aes256GcmSha384, &secret(C_AP_TRAFFIC)).err();
        assert_eq!(e, Some(KeyError::SecretLength { got: 32, want: 48 }));
    }

    #[test]
    fn nonce_is_iv_xor_padded_sequence() {
        let iv = [0xffu8; 12];
        let n = record_nonce(&iv, 0x0102_0304_0506_0708);
        assert_eq!(
            n,
            [0xff, 0xff, 0xff, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7]
        );
        assert_eq!(record_nonce(&iv, 0), iv);
    }

    #[test]
    fn inner_plaintext_padding_is_stripped() {
        let p = strip_inner_plaintext(vec![1, 0, 2, 23, 0, 0, 0]).expect("type");
        assert_eq!((p.content_type, p.content), (23, vec![1, 0, 2]));
        let p = strip_inner_plaintext(vec![21]).expect("type");
        assert_eq!((p.content_type, p.content.len()), (21, 0));
        assert_eq!(
            strip_inner_plaintext(vec![0; 5]),
            Err(KeyError::NoContentType)
        );
        assert_eq!(strip_inner_plaintext(vec![]), Err(KeyError::NoContentType));
    }

    #[test]
    fn every_suite_round_trips_and_key_update_follows_the_sender() {
        let s32 = secret(C_AP_TRAFFIC);
        let s48 = Secret::new((0u8..48).collect());
        for (suite, s) in [
            (Tls13Suite::Aes128GcmSha256, &s32),
            (Tls13Suite::Aes256GcmSha384, &s48),
            (Tls13Suite::Chacha20Poly1305Sha256, &s32),
        ] {
            let sender = Tls13Reader::new(suite, s).expect("keys");
            let mut reader = Tls13Reader::new(suite, s).expect("keys");
            for seq in 0..3 {
                let rec = one_record(&sender.seal(seq, APPLICATION_DATA, b"hello"));
                let p = reader.open(&rec.header, &rec.fragment).expect("opens");
                assert_eq!(p.content, b"hello", "{suite:?}");
            }
            // The sender updates its keys: the next secret is Expand-Label("traffic upd").
            let hash = suite.hash();
            let next = hkdf_expand_label(hash, s.expose(), b"traffic upd", &[], hash.output_len())
                .expect("next secret");
            let updated = Tls13Reader::new(suite, &Secret::new(next)).expect("keys");
            let rec = one_record(&updated.seal(0, APPLICATION_DATA, b"after"));
            assert!(reader.open(&rec.header, &rec.fragment).is_err());
            reader.key_update().expect("update");
            assert_eq!(reader.seq(), 0);
            let p = reader
                .open(&rec.header, &rec.fragment)
                .expect("opens after update");
            assert_eq!(p.content, b"after");
        }
    }

    #[test]
    fn rfc9001_hkdf_expand_label_vectors() {
        // RFC 9001 A.5 (ChaCha20-Poly1305 secret), "tls13 quic key": checks HKDF-Expand-Label
        // with a 32-byte output against an independent published vector.
        let secret = h("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
        let key = hkdf_expand_label(HashAlg::Sha256, &secret, b"quic key", &[], 32).expect("ok");
        assert_eq!(
            key,
            h("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8")
        );
        let iv = hkdf_expand_label(HashAlg::Sha256, &secret, b"quic iv", &[], 12).expect("ok");
        assert_eq!(iv, h("e0459b3474bdd0e44a41c144"));
        // "quic ku" is the QUIC KeyUpdate label: same construction as "traffic upd".
        let ku = hkdf_expand_label(HashAlg::Sha256, &secret, b"quic ku", &[], 32).expect("ok");
        assert_eq!(
            ku,
            h("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
        );
    }

    #[test]
    fn debug_of_keys_shows_no_secret() {
        let r = Tls13Reader::new(Tls13Suite::Aes128GcmSha256, &secret(C_AP_TRAFFIC)).expect("k");
        let shown = format!("{r:?}");
        assert!(!shown.contains("9e40") && !shown.contains("158"), "{shown}");
    }

    #[test]
    fn rfc8448_server_flight_through_records_keys_and_reassembly() {
        // The blocks composed as the layer will: stream pieces -> records -> decrypt ->
        // handshake messages -> EncryptedExtensions.
        use super::super::hello::parse_encrypted_extensions;
        use super::super::record::HandshakeReassembler;
        let stream = h(SERVER_FLIGHT);
        for step in [1, 5, 100, 679] {
            let mut reader = RecordReader::new();
            let mut records = Vec::new();
            for piece in stream.chunks(step) {
                reader.push(piece, &mut records).expect("records");
            }
            let mut keys =
                Tls13Reader::new(Tls13Suite::Aes128GcmSha256, &secret(S_HS_TRAFFIC)).expect("k");
            let mut hs = HandshakeReassembler::default();
            let mut msgs = Vec::new();
            for rec in &records {
                let p = keys
                    .open(&rec.header, &rec.fragment)
                    .expect("authenticates");
                assert_eq!(p.content_type, HANDSHAKE);
                hs.push(&p.content, &mut msgs).expect("within limit");
            }
            let types: Vec<u8> = msgs.iter().map(|m| m.msg_type).collect();
            assert_eq!(types, [8, 11, 15, 20], "step {step}");
            assert_eq!(parse_encrypted_extensions(msgs[0].body()), Ok(None));
            assert_eq!(msgs[3].raw, h(SERVER_FINISHED));
        }
    }

    /// ring's AEADs open what RustCrypto's seal, and refuse a flipped bit, for every suite.
    #[test]
    fn aeads_agree_with_an_independent_implementation() {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let nonce = [7u8; NONCE_LEN];
        let aad = b"\x17\x03\x03\x01\x10";
        let msg: Vec<u8> = (0..256u32).map(|i| (i * 31 % 251) as u8).collect();
        let payload = || Payload { msg: &msg, aad };
        let cases: Vec<(bool, Vec<u8>, Vec<u8>)> = vec![
            (
                false,
                vec![1; 16],
                aes_gcm::Aes128Gcm::new_from_slice(&[1; 16])
                    .unwrap()
                    .encrypt((&nonce).into(), payload())
                    .unwrap(),
            ),
            (
                false,
                vec![2; 32],
                aes_gcm::Aes256Gcm::new_from_slice(&[2; 32])
                    .unwrap()
                    .encrypt((&nonce).into(), payload())
                    .unwrap(),
            ),
            (
                true,
                vec![3; 32],
                chacha20poly1305::ChaCha20Poly1305::new_from_slice(&[3; 32])
                    .unwrap()
                    .encrypt((&nonce).into(), payload())
                    .unwrap(),
            ),
        ];
        for (chacha, key, sealed) in cases {
            let k = AeadKey::new(chacha, &key).expect("key");
            assert_eq!(k.open(&nonce, aad, &sealed).expect("opens"), msg);
            assert_eq!(k.seal(&nonce, aad, &msg), sealed);
            let mut bad = sealed.clone();
            bad[10] ^= 1;
            assert!(matches!(
                k.open(&nonce, aad, &bad),
                Err(KeyError::Authentication)
            ));
        }
    }
}
