//! TLS 1.2 AEAD record protection: the PRF (RFC 5246 5, P_SHA256 / P_SHA384), the key block
//! from a key log's master secret and the two randoms, and record decryption for AES-GCM
//! (RFC 5288: 4-byte implicit IV + 8-byte explicit nonce) and ChaCha20-Poly1305 (RFC 7905: IV
//! XOR sequence), and AES-CBC with HMAC-SHA1/SHA256/SHA384 (RFC 5246 6.2.3.2: explicit IV,
//! MAC-then-encrypt, or encrypt-then-MAC when RFC 7366 was negotiated).

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384};
use std::fmt;

use super::keylog::Secret;
use super::keys::{record_nonce, AeadKey, HashAlg, KeyError, NONCE_LEN, TAG_LEN};
use super::record::RecordHeader;

/// Length of the GCM explicit nonce carried at the start of each record.
pub const EXPLICIT_NONCE_LEN: usize = 8;

/// P_hash of RFC 5246 section 5 for one HMAC type.
fn p_hash<M: Mac + hmac::digest::KeyInit + Clone>(secret: &[u8], seed: &[u8], out: &mut [u8]) {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let Ok(base) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
        return;
    };
    let mut a = {
        let mut m = base.clone();
        m.update(seed);
        m.finalize().into_bytes()
    };
    let mut filled = 0;
    while filled < out.len() {
        let mut m = base.clone();
        m.update(&a);
        m.update(seed);
        let block = m.finalize().into_bytes();
        let n = block.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&block[..n]);
        filled += n;
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// The TLS 1.2 PRF: `P_hash(secret, label || seed)` cut to `len` bytes.
pub fn prf(hash: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut full_seed = Vec::with_capacity(label.len() + seed.len());
    full_seed.extend_from_slice(label);
    full_seed.extend_from_slice(seed);
    let mut out = vec![0u8; len];
    match hash {
        HashAlg::Sha256 => p_hash::<Hmac<Sha256>>(secret, &full_seed, &mut out),
        HashAlg::Sha384 => p_hash::<Hmac<Sha384>>(secret, &full_seed, &mut out),
    }
    out
}

/// A TLS 1.2 AEAD cipher (the key exchange does not matter once the master secret is known).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls12Aead {
    /// AES-128-GCM with the SHA-256 PRF.
    Aes128Gcm,
    /// AES-256-GCM with the SHA-384 PRF.
    Aes256Gcm,
    /// ChaCha20-Poly1305 with the SHA-256 PRF.
    Chacha20Poly1305,
}

impl Tls12Aead {
    /// The AEAD of a TLS 1.2 cipher suite id (RSA, DHE and ECDHE key exchanges), if supported.
    pub fn from_suite(id: u16) -> Option<Self> {
        match id {
            // TLS_{RSA,DHE_RSA,ECDHE_ECDSA,ECDHE_RSA}_WITH_AES_128_GCM_SHA256
            0x009c | 0x009e | 0xc02b | 0xc02f => Some(Tls12Aead::Aes128Gcm),
            // ... AES_256_GCM_SHA384
            0x009d | 0x009f | 0xc02c | 0xc030 => Some(Tls12Aead::Aes256Gcm),
            // TLS_{ECDHE_RSA,ECDHE_ECDSA,DHE_RSA}_WITH_CHACHA20_POLY1305_SHA256
            0xcca8..=0xccaa => Some(Tls12Aead::Chacha20Poly1305),
            _ => None,
        }
    }

    /// The PRF hash.
    pub fn prf_hash(self) -> HashAlg {
        match self {
            Tls12Aead::Aes256Gcm => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Tls12Aead::Aes128Gcm => 16,
            _ => 32,
        }
    }

    /// Fixed IV length from the key block: 4 (GCM salt) or 12 (ChaCha20-Poly1305).
    fn iv_len(self) -> usize {
        match self {
            Tls12Aead::Chacha20Poly1305 => 12,
            _ => 4,
        }
    }
}

/// Which side wrote the records being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    /// The client's records.
    Client,
    /// The server's records.
    Server,
}

/// One direction's TLS 1.2 read state.
pub struct Tls12Reader {
    aead: Tls12Aead,
    key: AeadKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl fmt::Debug for Tls12Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls12Reader")
            .field("aead", &self.aead)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Tls12Reader {
    /// Keys for `sender`'s records: `key_block = PRF(master_secret, "key expansion",
    /// server_random || client_random)`, cut as client key, server key, client IV, server IV
    /// (AEAD suites have no MAC keys).
    pub fn new(
        aead: Tls12Aead,
        master_secret: &Secret,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        sender: Sender,
    ) -> Result<Self, KeyError> {
        if master_secret.len() != 48 {
            return Err(KeyError::SecretLength {
                got: master_secret.len(),
                want: 48,
            });
        }
        let (kl, il) = (aead.key_len(), aead.iv_len());
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(server_random);
        seed[32..].copy_from_slice(client_random);
        let block = prf(
            aead.prf_hash(),
            master_secret.expose(),
            b"key expansion",
            &seed,
            2 * kl + 2 * il,
        );
        let (key, iv) = match sender {
            Sender::Client => (&block[..kl], &block[2 * kl..2 * kl + il]),
            Sender::Server => (&block[kl..2 * kl], &block[2 * kl + il..]),
        };
        let mut iv_arr = [0u8; NONCE_LEN];
        iv_arr[..il].copy_from_slice(iv);
        let key = AeadKey::new(aead == Tls12Aead::Chacha20Poly1305, key)?;
        Ok(Tls12Reader {
            aead,
            key,
            iv: iv_arr,
            seq: 0,
        })
    }

    /// The sequence number the next record must have (0 after ChangeCipherSpec).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Opens one protected record; the sequence advances only on success.
    /// AAD = seq (8) || type (1) || version (2) || plaintext length (2).
    pub fn open(&mut self, header: &RecordHeader, fragment: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.open_owned(header, fragment.to_vec())
    }

    /// [`Tls12Reader::open`] decrypting the record's own buffer in place (no copy).
    pub fn open_owned(
        &mut self,
        header: &RecordHeader,
        fragment: Vec<u8>,
    ) -> Result<Vec<u8>, KeyError> {
        let next = self.seq.checked_add(1).ok_or(KeyError::SequenceExhausted)?;
        let (nonce, skip) = match self.aead {
            Tls12Aead::Chacha20Poly1305 => (record_nonce(&self.iv, self.seq), 0),
            _ => {
                if fragment.len() < EXPLICIT_NONCE_LEN + TAG_LEN {
                    return Err(KeyError::TooShort);
                }
                let mut nonce = self.iv;
                nonce[4..].copy_from_slice(&fragment[..EXPLICIT_NONCE_LEN]);
                (nonce, EXPLICIT_NONCE_LEN)
            }
        };
        let plain_len = fragment
            .len()
            .checked_sub(skip + TAG_LEN)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or(KeyError::TooShort)?;
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8] = header.content_type;
        aad[9..11].copy_from_slice(&header.version.to_be_bytes());
        aad[11..].copy_from_slice(&plain_len.to_be_bytes());
        let plain = self.key.open_owned(&nonce, &aad, fragment, skip)?;
        self.seq = next;
        Ok(plain)
    }
}

/// The MAC of a TLS 1.2 CBC suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CbcMac {
    /// HMAC-SHA1 (20 bytes).
    Sha1,
    /// HMAC-SHA256 (32 bytes).
    Sha256,
    /// HMAC-SHA384 (48 bytes).
    Sha384,
}

impl CbcMac {
    /// MAC length (also its key length).
    pub fn len(self) -> usize {
        match self {
            CbcMac::Sha1 => 20,
            CbcMac::Sha256 => 32,
            CbcMac::Sha384 => 48,
        }
    }

    /// Always false: a MAC has a length.
    pub fn is_empty(self) -> bool {
        false
    }

    fn compute(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            match <M as hmac::digest::KeyInit>::new_from_slice(key) {
                Ok(mut m) => {
                    for p in parts {
                        m.update(p);
                    }
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            CbcMac::Sha1 => run::<Hmac<sha1::Sha1>>(key, parts),
            CbcMac::Sha256 => run::<Hmac<Sha256>>(key, parts),
            CbcMac::Sha384 => run::<Hmac<Sha384>>(key, parts),
        }
    }
}

/// A TLS 1.2 AES-CBC suite: key length, MAC, PRF hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls12Cbc {
    /// AES key length (16 or 32).
    pub key_len: usize,
    /// Record MAC.
    pub mac: CbcMac,
    /// PRF hash.
    pub prf_hash: HashAlg,
}

impl Tls12Cbc {
    /// The CBC parameters of a TLS 1.2 suite id (RSA, DHE_RSA, ECDHE_ECDSA, ECDHE_RSA), if
    /// supported.
    pub fn from_suite(id: u16) -> Option<Self> {
        let (key_len, mac, prf_hash) = match id {
            0x002f | 0x0033 | 0xc009 | 0xc013 => (16, CbcMac::Sha1, HashAlg::Sha256),
            0x0035 | 0x0039 | 0xc00a | 0xc014 => (32, CbcMac::Sha1, HashAlg::Sha256),
            0x003c | 0x0067 | 0xc023 | 0xc027 => (16, CbcMac::Sha256, HashAlg::Sha256),
            0x003d | 0x006b => (32, CbcMac::Sha256, HashAlg::Sha256),
            0xc024 | 0xc028 => (32, CbcMac::Sha384, HashAlg::Sha384),
            _ => return None,
        };
        Some(Tls12Cbc {
            key_len,
            mac,
            prf_hash,
        })
    }
}

/// AES block size.
const BLOCK: usize = 16;

/// One direction's TLS 1.2 AES-CBC read state.
pub struct Tls12CbcReader {
    suite: Tls12Cbc,
    encrypt_then_mac: bool,
    mac_key: Secret,
    key: Secret,
    seq: u64,
}

impl fmt::Debug for Tls12CbcReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls12CbcReader")
            .field("suite", &self.suite)
            .field("encrypt_then_mac", &self.encrypt_then_mac)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Tls12CbcReader {
    /// Keys for `sender`'s records: the key block is cut as client MAC key, server MAC key,
    /// client key, server key (the fixed IVs that follow are unused since TLS 1.1).
    pub fn new(
        suite: Tls12Cbc,
        encrypt_then_mac: bool,
        master_secret: &Secret,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        sender: Sender,
    ) -> Result<Self, KeyError> {
        if master_secret.len() != 48 {
            return Err(KeyError::SecretLength {
                got: master_secret.len(),
                want: 48,
            });
        }
        let (ml, kl) = (suite.mac.len(), suite.key_len);
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(server_random);
        seed[32..].copy_from_slice(client_random);
        let block = Secret::new(prf(
            suite.prf_hash,
            master_secret.expose(),
            b"key expansion",
            &seed,
            2 * ml + 2 * kl,
        ));
        let b = block.expose();
        let (mac_key, key) = match sender {
            Sender::Client => (&b[..ml], &b[2 * ml..2 * ml + kl]),
            Sender::Server => (&b[ml..2 * ml], &b[2 * ml + kl..]),
        };
        Ok(Tls12CbcReader {
            suite,
            encrypt_then_mac,
            mac_key: Secret::new(mac_key.to_vec()),
            key: Secret::new(key.to_vec()),
            seq: 0,
        })
    }

    /// The sequence number the next record must have.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    fn decrypt(&self, iv: &[u8], blocks: &[u8]) -> Result<Vec<u8>, KeyError> {
        use cbc::cipher::block_padding::NoPadding;
        use cbc::cipher::{BlockDecryptMut, KeyIvInit};
        let mut buf = blocks.to_vec();
        let bad = KeyError::SecretLength {
            got: self.key.len(),
            want: self.suite.key_len,
        };
        let n = match self.suite.key_len {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(self.key.expose(), iv)
                .map_err(|_| bad)?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .map_err(|_| KeyError::TooShort)?
                .len(),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(self.key.expose(), iv)
                .map_err(|_| bad)?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .map_err(|_| KeyError::TooShort)?
                .len(),
        };
        buf.truncate(n);
        Ok(buf)
    }

    /// Opens one record: explicit IV (16) || ciphertext, with the MAC inside the ciphertext
    /// (MAC-then-encrypt) or after it (encrypt-then-MAC). The sequence advances only on
    /// success; a bad MAC or bad padding is [`KeyError::Authentication`].
    pub fn open(&mut self, header: &RecordHeader, fragment: &[u8]) -> Result<Vec<u8>, KeyError> {
        let next = self.seq.checked_add(1).ok_or(KeyError::SequenceExhausted)?;
        let ml = self.suite.mac.len();
        let mac_header = |len: usize| -> Result<[u8; 13], KeyError> {
            let len = u16::try_from(len).map_err(|_| KeyError::TooShort)?;
            let mut a = [0u8; 13];
            a[..8].copy_from_slice(&self.seq.to_be_bytes());
            a[8] = header.content_type;
            a[9..11].copy_from_slice(&header.version.to_be_bytes());
            a[11..].copy_from_slice(&len.to_be_bytes());
            Ok(a)
        };
        let encrypted = if self.encrypt_then_mac {
            let cut = fragment.len().checked_sub(ml).ok_or(KeyError::TooShort)?;
            let (enc, mac) = fragment.split_at(cut);
            let want = self
                .suite
                .mac
                .compute(self.mac_key.expose(), &[&mac_header(enc.len())?, enc]);
            if want != mac {
                return Err(KeyError::Authentication);
            }
            enc
        } else {
            fragment
        };
        if encrypted.len() < 2 * BLOCK || encrypted.len() % BLOCK != 0 {
            return Err(KeyError::TooShort);
        }
        let (iv, blocks) = encrypted.split_at(BLOCK);
        let mut plain = self.decrypt(iv, blocks)?;
        // padding: `pad` bytes of value `pad`, then the length byte `pad`
        let pad = usize::from(*plain.last().ok_or(KeyError::TooShort)?);
        let unpadded = plain
            .len()
            .checked_sub(pad + 1)
            .ok_or(KeyError::Authentication)?;
        if plain[unpadded..].iter().any(|&b| usize::from(b) != pad) {
            return Err(KeyError::Authentication);
        }
        plain.truncate(unpadded);
        if !self.encrypt_then_mac {
            let cut = plain
                .len()
                .checked_sub(ml)
                .ok_or(KeyError::Authentication)?;
            let want = self
                .suite
                .mac
                .compute(self.mac_key.expose(), &[&mac_header(cut)?, &plain[..cut]]);
            if want != plain[cut..] {
                return Err(KeyError::Authentication);
            }
            plain.truncate(cut);
        }
        self.seq = next;
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{RecordReader, APPLICATION_DATA};
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

    #[test]
    fn prf_sha256_known_answer() {
        // The TLS 1.2 PRF test vectors published for the IETF TLS WG (also in mbedTLS).
        let out = prf(
            HashAlg::Sha256,
            &h("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35"),
            b"test label",
            &h("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c"),
            100,
        );
        let want = h("
            e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4
            e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17
            ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1
            22 ee 42 c5 a7 2e 5a 51 10 ff f7 01 87 34 7b 66");
        assert_eq!(out, want);
    }

    #[test]
    fn prf_sha384_known_answer() {
        let out = prf(
            HashAlg::Sha384,
            &h("b8 0b 73 3d 6c ee fc dc 71 56 6e a4 8e 55 67 df"),
            b"test label",
            &h("cd 66 5c f6 a8 44 7d d6 ff 8b 27 55 5e db 74 65"),
            148,
        );
        let want = h("
            7b 0c 18 e9 ce d4 10 ed 18 04 f2 cf a3 4a 33 6a 1c 14 df fb 49 00 bb 5f d7 94 21 07
            e8 1c 83 cd e9 ca 0f aa 60 be 9f e3 4f 82 b1 23 3c 91 46 a0 e5 34 cb 40 0f ed 27 00
            88 4f 9d c2 36 f8 0e dd 8b fa 96 11 44 c9 e8 d7 92 ec a7 22 a7 b3 2f c3 d4 16 d4 73
            eb c2 c5 fd 4a bf da d0 5d 91 84 25 9b 5b f8 cd 4d 90 fa 0d 31 e2 de c4 79 e4 f1 a2
            60 66 f2 ee a9 a6 92 36 a3 e5 26 55 c9 e9 ae e6 91 c8 f3 a2 68 54 30 8d 5e aa 3b e8
            5e 09 90 70 3d 73 e5 6f");
        assert_eq!(out, want);
    }

    /// Records made by an independent implementation (Python `hmac` for the PRF, `cryptography`
    /// 48 for AES-GCM / ChaCha20-Poly1305), from master secret 00..2f, client random 32 x 0x11,
    /// server random 32 x 0x22: the server's record number 5, application data
    /// "GET /chat HTTP/1.1\r\n\r\n" (GCM explicit nonce 0102030405060708). The generator:
    ///
    /// ```text
    /// kb = P_hash(ms, b"key expansion" + sr + cr, 2*klen + 2*ivlen)
    /// ck, sk, civ, siv = kb cut in that order
    /// aad = seq(8) + [23, 3, 3] + len(pt)(2)
    /// gcm: body = explicit + AESGCM(sk).encrypt(siv + explicit, pt, aad)
    /// chacha: body = ChaCha20Poly1305(sk).encrypt(siv XOR seq(12), pt, aad)
    /// ```
    const VECTORS: [(Tls12Aead, &str); 3] = [
        (
            Tls12Aead::Aes128Gcm,
            "170303002e01020304050607084d404fb31360eec58726ebb345ffd700675a9fd67724bea3c07674e70\
             34d0a3b9078f16115df",
        ),
        (
            Tls12Aead::Aes256Gcm,
            "170303002e0102030405060708b87686549e9066018f15be59c5295efc4c6cab117ff03baffb9fc9046\
             d15718f0982e08d1266",
        ),
        (
            Tls12Aead::Chacha20Poly1305,
            "1703030026b84d54e8bf5cf09cd877365c86fc4bf8d1cef40d531616e452497f9af165c6f4b789f971\
             4f2e",
        ),
    ];

    #[test]
    fn records_from_an_independent_implementation_decrypt() {
        let master = Secret::new((0u8..48).collect());
        for (aead, hex) in VECTORS {
            let mut out = Vec::new();
            RecordReader::new()
                .push(&h(hex), &mut out)
                .expect("a record");
            let rec = &out[0];
            assert_eq!(rec.header.content_type, APPLICATION_DATA);
            let mut r = Tls12Reader::new(aead, &master, &[0x11; 32], &[0x22; 32], Sender::Server)
                .expect("keys");
            // Record 5: earlier sequence numbers fail and do not advance.
            assert_eq!(
                r.open(&rec.header, &rec.fragment),
                Err(KeyError::Authentication)
            );
            r.seq = 5;
            let plain = r.open(&rec.header, &rec.fragment).expect("authenticates");
            assert_eq!(plain, b"GET /chat HTTP/1.1\r\n\r\n", "{aead:?}");
            assert_eq!(r.seq(), 6);
            // The client's keys are different keys.
            let mut c = Tls12Reader::new(aead, &master, &[0x11; 32], &[0x22; 32], Sender::Client)
                .expect("keys");
            c.seq = 5;
            assert_eq!(
                c.open(&rec.header, &rec.fragment),
                Err(KeyError::Authentication)
            );
        }
    }

    #[test]
    fn suites_short_records_and_bad_secrets() {
        assert_eq!(Tls12Aead::from_suite(0xc02f), Some(Tls12Aead::Aes128Gcm));
        assert_eq!(Tls12Aead::from_suite(0xc030), Some(Tls12Aead::Aes256Gcm));
        assert_eq!(
            Tls12Aead::from_suite(0xcca8),
            Some(Tls12Aead::Chacha20Poly1305)
        );
        assert_eq!(Tls12Aead::from_suite(0x002f), None); // CBC: not yet
        let short = Secret::new(vec![1; 47]);
        assert!(Tls12Reader::new(
            Tls12Aead::Aes128Gcm,
            &short,
            &[0; 32],
            &[0; 32],
            Sender::Client
        )
        .is_err());
        let master = Secret::new(vec![1; 48]);
        let mut r = Tls12Reader::new(
            Tls12Aead::Aes128Gcm,
            &master,
            &[0; 32],
            &[0; 32],
            Sender::Client,
        )
        .expect("keys");
        let header = RecordHeader {
            content_type: APPLICATION_DATA,
            version: 0x0303,
            length: 23,
        };
        assert_eq!(r.open(&header, &[0; 23]), Err(KeyError::TooShort));
        let mut c = Tls12Reader::new(
            Tls12Aead::Chacha20Poly1305,
            &master,
            &[0; 32],
            &[0; 32],
            Sender::Client,
        )
        .expect("keys");
        assert_eq!(c.open(&header, &[0; 15]), Err(KeyError::TooShort));
        assert!(!format!("{c:?}").contains("[1, 1"));
    }

    /// CBC records made by the same independent generator (client records, sequence 3,
    /// explicit IV a0..af): MAC-then-encrypt for AES-128-CBC-SHA (0xc013) and
    /// AES-256-CBC-SHA384 (0xc028), encrypt-then-MAC for AES-256-CBC-SHA256 (0x003d).
    const CBC_VECTORS: [(u16, bool, &str); 3] = [
        (
            0xc013,
            false,
            "1703030040a0a1a2a3a4a5a6a7a8a9aaabacadaeafe73ba36dc35d2477b97d86088b407b8e4138f8ed0\
             86f1abe65efd0395aae66820b23e2b1a84942d29000be2afef2be61",
        ),
        (
            0x003d,
            true,
            "1703030050a0a1a2a3a4a5a6a7a8a9aaabacadaeaf26ac1184160cd553a5ff87b708e93b5dcd0af6586\
             b47be2abeef03be575e4a23fedd2781abdb7b75638c235b92041a4cae96567fc030e0ea0555b39bb9a4\
             1cfd",
        ),
        (
            0xc028,
            false,
            "1703030060a0a1a2a3a4a5a6a7a8a9aaabacadaeaf01042268d65ae657400c7c2832cfeb1a92b82905\
             48390a537a0fa0380cb733d28ca5dc353753c6c545d44ef519f35fb6047c5b68a8c22a36470b38d906\
             720ec2bd94c20e204524ff2eafb861e321b733",
        ),
    ];

    #[test]
    fn cbc_records_from_an_independent_implementation_decrypt() {
        let master = Secret::new((0u8..48).collect());
        for (id, etm, hex) in CBC_VECTORS {
            let suite = Tls12Cbc::from_suite(id).expect("CBC suite");
            let mut out = Vec::new();
            RecordReader::new()
                .push(&h(hex), &mut out)
                .expect("a record");
            let rec = &out[0];
            let mut r = Tls12CbcReader::new(
                suite,
                etm,
                &master,
                &[0x11; 32],
                &[0x22; 32],
                Sender::Client,
            )
            .expect("keys");
            assert_eq!(
                r.open(&rec.header, &rec.fragment),
                Err(KeyError::Authentication),
                "{id:#06x} at the wrong sequence number"
            );
            r.seq = 3;
            let plain = r.open(&rec.header, &rec.fragment).expect("authenticates");
            assert_eq!(plain, b"GET /chat HTTP/1.1\r\n\r\n", "{id:#06x}");
            assert_eq!(r.seq(), 4);
            // Any flipped byte fails (MAC or padding), without panicking.
            for i in 0..rec.fragment.len() {
                let mut bad = rec.fragment.clone();
                bad[i] ^= 0x01;
                r.seq = 3;
                assert!(r.open(&rec.header, &bad).is_err(), "{id:#06x} byte {i}");
            }
            for n in 0..rec.fragment.len() {
                r.seq = 3;
                assert!(r.open(&rec.header, &rec.fragment[..n]).is_err());
            }
        }
        assert_eq!(Tls12Cbc::from_suite(0xc02f), None);
    }
}
