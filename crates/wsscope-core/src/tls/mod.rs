//! TLS building blocks for decrypting `wss://` with key logs (issue 11). Sans-IO, with no
//! clock and no file access: bytes and secrets in, records, messages and plaintext out.
//!
//! [`flow::TlsFlow`] is the per-connection layer that glues the modules below (steps 1-6 of
//! the next section); each module stands alone and is tested against published vectors:
//!
//! - [`keylog`]: NSS key log lines (`SSLKEYLOGFILE`), pushed incrementally as a file grows,
//!   looked up by client random; secrets live in [`keylog::Secret`], whose `Debug` is redacted.
//! - [`record`]: the record layer over one direction's reassembled stream (any segmentation,
//!   bounded to one record), and handshake-message reassembly across records (bounded).
//! - [`hello`]: ClientHello / ServerHello / EncryptedExtensions fields (random, suites,
//!   version via `supported_versions`, SNI, ALPN, resumption).
//! - [`keys`]: TLS 1.3 record protection (HKDF-Expand-Label, nonce, AEAD open for the three
//!   TLS 1.3 suites, inner content type, KeyUpdate); RFC 8448's records decrypt exactly.
//! - [`tls12`]: TLS 1.2 PRF, key block, AEAD records (AES-GCM, ChaCha20-Poly1305) and AES-CBC
//!   records with HMAC-SHA1/256/384 (MAC-then-encrypt and encrypt_then_mac).
//!
//! # How the layer plugs in (docs/architecture.md, "Where to add a protocol layer")
//!
//! The layer sits between `tcp` and `session`, as a transform of one flow's two byte streams.
//! [`flow::TlsFlow`] does steps 2-6 below; the analyzer does 1 and maps its events:
//!
//! 1. **Choosing the layer.** On a flow's first client bytes, [`flow::sniff`] says whether they
//!    are a handshake record holding a ClientHello; otherwise the flow goes to the session's
//!    `Connection` unchanged.
//! 2. **Per direction:** a [`record::RecordReader`] and a [`record::HandshakeReassembler`].
//!    Plaintext handshake records give the ClientHello (client random = key log lookup key,
//!    SNI, ALPN offered) and ServerHello (suite, version, resumption, TLS 1.2 server random; a
//!    HelloRetryRequest waits for the second ClientHello). `change_cipher_spec` records are
//!    skipped (TLS 1.3 middlebox compatibility) or switch a TLS 1.2 direction to its keys
//!    (sequence 0).
//! 3. **Keys.** The [`keylog::KeyStore`] is input through `AnalyzerConfig` (from `--tls-keylog`,
//!    `SSLKEYLOGFILE`, pcapng Decryption Secrets Blocks read by the capture reader, or a
//!    followed file in `live`); the layer never reads files. TLS 1.3: handshake secrets make a
//!    [`keys::Tls13Reader`] per direction for EncryptedExtensions (ALPN, 0-RTT acceptance) ..
//!    Finished; after each side's Finished the `*_TRAFFIC_SECRET_0` readers take over; a
//!    KeyUpdate calls [`keys::Tls13Reader::key_update`]. TLS 1.2: `CLIENT_RANDOM` +
//!    [`tls12::Tls12Reader::new`] or [`tls12::Tls12CbcReader::new`] (`encrypt_then_mac` from the
//!    ServerHello). A missing key is decided at once offline; live
//!    ([`flow::TlsLimits::wait_for_keys`]) holds a bounded amount of records and retries when
//!    the store's generation changes ([`flow::TlsFlow::retry`] for an idle connection).
//! 4. **Output to the session:** each [`flow::TlsEvent::Plaintext`] becomes `Data` for the
//!    `Connection` with the layer's own plaintext offsets (a running count per direction), the
//!    packet number and timestamp of the TCP `Data` that completed the record.
//!    [`flow::TlsEvent::Lost`] (after a TCP gap, a decrypt failure, a record error, or missing
//!    keys) becomes a plaintext `Gap` of unknown length (the session treats it as a gap to the
//!    end). `Fin`/`Rst`/`Closed` pass through; `Closed` calls [`flow::TlsFlow::finish`] first.
//! 5. **Findings:** [`flow::TlsFinding`] (`code()` gives `tls-not-decrypted`,
//!    `tls-decrypt-failed` or `tls-alert`; `Display` the detail). Sequence numbers advance only
//!    on success, so a failure never desynchronises silently.
//! 6. **Session metadata:** at [`flow::TlsEvent::Ready`], [`flow::TlsFlow::info`] holds
//!    `tls {version, cipher_suite, sni, alpn, resumed}` (`decrypted` once plaintext came), and
//!    the ALPN says whether the plaintext is HTTP/1.1 or HTTP/2; `flows` can classify TLS with
//!    SNI/ALPN even without keys.
//!
//! Memory: [`flow::TlsFlow::held`] counts what a connection holds (at most one record per
//! direction in the record readers, handshake reassembly up to its limit, records waiting for
//! keys up to `wait_for_keys`, client records waiting for the server's hello up to
//! [`flow::HELLO_HOLD`]); the analyzer can charge it to the flow budget (`budget.rs`).

pub mod flow;
pub mod hello;
pub mod info;
pub mod keylog;
pub mod keys;
pub mod record;
pub mod tls12;

pub use flow::{
    alert_name, sniff, NotDecryptedReason, Sniff, TlsEvent, TlsFinding, TlsFlow, TlsLimits,
};
pub use info::TlsInfo;
