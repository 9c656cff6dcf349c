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
//! # How this becomes a layer (docs/architecture.md, "Where to add a protocol layer")
//!
//! The layer sits between `tcp` and `session`, as a transform of one flow's two byte streams.
//! In `analyzer.rs`, `handle_tcp` today hands `TcpEvent::Data` / `Gap` / `Fin` / `Rst` /
//! `Closed` to the flow's `session::Connection`. A TLS flow gets a per-flow `TlsFlow` in
//! front of that `Connection`:
//!
//! 1. **Choosing the layer.** On a flow's first client bytes the analyzer looks for a
//!    handshake record (`0x16 0x03 0x0?`) holding a ClientHello ([`record::RecordHeader`] +
//!    [`hello::parse_client_hello`]); otherwise the flow goes to the `Connection` unchanged.
//! 2. **Per direction:** a [`record::RecordReader`] and a [`record::HandshakeReassembler`].
//!    Plaintext handshake records give the ClientHello (client random = key log lookup key,
//!    SNI, ALPN offered) and ServerHello (suite, version, resumption, TLS 1.2 server random).
//!    `change_cipher_spec` records are skipped (TLS 1.3 middlebox compatibility) or switch a
//!    TLS 1.2 direction to its keys (sequence 0).
//! 3. **Keys.** The `KeyLog` is input through `AnalyzerConfig` (from `--tls-keylog`,
//!    `SSLKEYLOGFILE`, pcapng Decryption Secrets Blocks, or a followed file in `live`); the
//!    layer never reads files. TLS 1.3: handshake secrets make a [`keys::Tls13Reader`] per
//!    direction for EncryptedExtensions (ALPN, [`hello::parse_encrypted_extensions`]) ..
//!    Finished; after each side's Finished the `*_TRAFFIC_SECRET_0` readers take over; a
//!    KeyUpdate handshake message calls [`keys::Tls13Reader::key_update`]. TLS 1.2:
//!    `CLIENT_RANDOM` + [`tls12::Tls12Reader::new`] or [`tls12::Tls12CbcReader::new`]
//!    (`encrypt_then_mac` from the ServerHello). When keys are missing (they may arrive later
//!    in `live`), hold a bounded number of records per flow, then give up with a finding.
//! 4. **Output to the session:** decrypted `application_data` becomes `Data` for the
//!    `Connection` with the layer's own plaintext offsets (a running count per direction), the
//!    packet number and timestamp of the TCP `Data` that completed the record. A TCP `Gap`
//!    stops that direction's record reader (boundaries are lost: [`record::RecordError::Gap`])
//!    and becomes a plaintext `Gap` whose length is unknown (the session treats it as a
//!    gap to the end, like any desynchronised stream). `Fin`/`Rst`/`Closed` pass through.
//! 5. **Findings:** `tls-not-decrypted` (no key for this client random, unsupported suite,
//!    handshake not captured, record error) and `tls-decrypt-failed` (an AEAD
//!    [`keys::KeyError::Authentication`]: stop that direction). The sequence number advances
//!    only on success, so a failure never desynchronises silently.
//! 6. **Session metadata:** `tls {version, cipher_suite, sni, alpn, resumed, decrypted}`
//!    from [`hello::ClientHello`] / [`hello::ServerHello`] (ALPN from EncryptedExtensions in
//!    1.3); `flows` can classify TLS with SNI/ALPN even without keys.
//!
//! Memory: a record reader holds at most one record (2^14 + 2048 + 5 bytes) per direction, a
//! handshake reassembler at most its limit, and the key log bounds line length; the next session
//! should count these against the flow budget (`budget.rs`) as the HTTP buffers are.

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
