//! The per-connection TLS layer: one TCP connection's two byte streams in, the decrypted
//! application data of each direction out (steps 1-6 of the module docs in [`super`]).
//!
//! [`TlsFlow`] glues the building blocks: a [`RecordReader`] and a [`HandshakeReassembler`]
//! per direction, the hellos ([`super::hello`]), the record protection of TLS 1.3
//! ([`Tls13Reader`]) and TLS 1.2 ([`Tls12Reader`], [`Tls12CbcReader`]), and the secrets of a
//! shared [`KeyStore`], looked up by the ClientHello's random when a direction first needs
//! them.
//!
//! Records wait in a per-direction queue while they cannot be handled yet: the client's
//! encrypted records until the ServerHello (and, when it offered 0-RTT, the server's
//! EncryptedExtensions) is known, and any direction's records while its keys are not in the
//! store ([`TlsLimits::wait_for_keys`]). The queues are drained in arrival order across both
//! directions, so plaintext comes out in capture order. Everything held is bounded:
//! [`TlsFlow::held`] says how much.
//!
//! What stops decoding is reported once and never guessed past: a direction stops at a TCP gap,
//! a record-layer error, a record that does not authenticate (sequence numbers advance only on
//! success); the whole connection stops when its keys are missing or its version or suite is
//! not supported. Secrets never appear in a [`TlsFinding`] or in any `Debug` output.

use std::collections::VecDeque;
use std::fmt;

use super::hello::{
    parse_client_hello, parse_encrypted_extensions_full, parse_server_hello, HelloError, TLS12,
    TLS13,
};
use super::info::{cipher_suite_name, version_name, TlsInfo};
use super::keylog::{ConnectionSecrets, KeyStore, Secret};
use super::keys::{KeyError, Tls13Reader, Tls13Suite};
use super::record::{
    HandshakeMessage, HandshakeReassembler, HandshakeTooLong, Record, RecordError, RecordReader,
    ALERT, APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE, HEADER_LEN, MAX_RECORD_LEN,
};
use super::tls12::{Sender, Tls12Aead, Tls12Cbc, Tls12CbcReader, Tls12Reader};
use crate::finding::Code;
use crate::tcp::Dir;

/// What the first bytes a client sent say about its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    /// A TLS handshake record holding a ClientHello.
    Tls,
    /// Not TLS (or not a TLS connection's beginning).
    NotTls,
    /// Fewer than 6 bytes, all consistent with TLS so far.
    NeedMore,
}

/// Looks at the first bytes the client sent on a connection: a TLS handshake record holding a
/// ClientHello (0x16, record version 0x0300..=0x0304, a plausible length, then handshake type
/// 1)? `NeedMore` only while fewer than 6 bytes are known and those agree.
pub fn sniff(first_client_bytes: &[u8]) -> Sniff {
    let b = first_client_bytes;
    let bad = b.first().is_some_and(|&t| t != HANDSHAKE)
        || b.get(1).is_some_and(|&major| major != 3)
        || b.get(2).is_some_and(|&minor| minor > 4)
        || (b.len() >= HEADER_LEN && {
            let len = usize::from(u16::from_be_bytes([b[3], b[4]]));
            len == 0 || len > MAX_RECORD_LEN
        })
        || b.get(5).is_some_and(|&ty| ty != 1);
    if bad {
        Sniff::NotTls
    } else if b.len() < 6 {
        Sniff::NeedMore
    } else {
        Sniff::Tls
    }
}

/// Bounds of one connection's TLS layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsLimits {
    /// Bytes of records held per connection while its keys are not in the store yet (live
    /// capture: a followed key log may lag the packets); `0` decides at once (offline, the
    /// default: every key log was read before the capture).
    pub wait_for_keys: usize,
}

impl Default for TlsLimits {
    /// Offline: keys are all known before the first packet, so a missing key is decided at once.
    fn default() -> Self {
        TlsLimits { wait_for_keys: 0 }
    }
}

/// Bytes of the client's encrypted records held while the ServerHello (or, after a 0-RTT
/// offer, the EncryptedExtensions) that says how to read them has not been seen.
pub const HELLO_HOLD: usize = 256 * 1024;

/// Bytes of client records skipped as rejected 0-RTT data (records that do not open with the
/// client's handshake keys before the first one that does, RFC 8446 4.2.10) before a failure
/// counts as a failure.
pub const EARLY_DATA_SKIP: usize = 1 << 20;

/// What the layer hands up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsEvent {
    /// The handshake has shown what it will show before application data (both hellos, and in
    /// TLS 1.3 the decrypted EncryptedExtensions with the selected ALPN when keys exist):
    /// [`TlsFlow::info`] is complete except `decrypted`. Emitted once: before the first
    /// `Plaintext`, and before a `NotDecrypted` finding that gives up the connection.
    Ready,
    /// Decrypted application_data of one record from `from` (in order).
    Plaintext {
        /// Direction.
        from: Dir,
        /// The record's application data (never empty).
        bytes: Vec<u8>,
    },
    /// `from`'s decrypted stream stops here for good (gap, decrypt failure, record error,
    /// keys missing): bytes after it are lost to the layer above.
    Lost {
        /// Direction.
        from: Dir,
    },
    /// Something to report.
    Finding(TlsFinding),
}

/// Why (part of) a connection was not decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotDecryptedReason {
    /// The key logs hold no secret for the connection's client random.
    NoKey {
        /// The ClientHello's random (public: a user can grep a key log for it).
        client_random: [u8; 32],
        /// Connections the key logs hold secrets for.
        connections: usize,
    },
    /// The key logs hold some secrets for the client random, but not the one needed.
    KeysIncomplete {
        /// The ClientHello's random.
        client_random: [u8; 32],
        /// The key log label missing (`SERVER_TRAFFIC_SECRET_0`, `CLIENT_RANDOM`, ...).
        missing: &'static str,
    },
    /// A logged secret does not fit the negotiated suite (wrong length).
    BadSecret {
        /// Its key log label.
        label: &'static str,
        /// What was wrong.
        error: KeyError,
    },
    /// A protocol version other than TLS 1.2 and 1.3.
    UnsupportedVersion(u16),
    /// A cipher suite wsscope cannot decrypt.
    UnsupportedSuite {
        /// Negotiated version.
        version: u16,
        /// The suite.
        suite: u16,
    },
    /// The capture holds no ClientHello for the connection (it began mid-connection).
    NoClientHello,
    /// Encrypted records came but no ServerHello was captured.
    NoServerHello,
    /// The client offered 0-RTT and the server's EncryptedExtensions (which say whether it was
    /// accepted) were never decrypted.
    NoEncryptedExtensions,
    /// The server accepted 0-RTT early data, which needs `CLIENT_EARLY_TRAFFIC_SECRET`.
    EarlyData,
    /// A hello that does not parse.
    BadHello {
        /// `ClientHello` or `ServerHello`.
        which: &'static str,
        /// What was wrong.
        error: HelloError,
    },
    /// The byte stream stopped being TLS records.
    Record(RecordError),
    /// A handshake message over the reassembly limit.
    HandshakeTooLong(HandshakeTooLong),
    /// A protocol violation.
    Unexpected(&'static str),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn version_text(v: u16) -> String {
    version_name(v).map_or_else(|| format!("version {v:#06x}"), str::to_owned)
}

fn suite_text(s: u16) -> String {
    match cipher_suite_name(s) {
        Some(name) => format!("{name} ({s:#06x})"),
        None => format!("{s:#06x}"),
    }
}

fn side_name(d: Dir) -> &'static str {
    match d {
        Dir::ClientToServer => "client",
        Dir::ServerToClient => "server",
    }
}

impl fmt::Display for NotDecryptedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotDecryptedReason::NoKey {
                client_random,
                connections: 0,
            } => write!(
                f,
                "no TLS key log holds any secret (give one with --tls-keylog or SSLKEYLOGFILE); its client random is {}",
                hex(client_random)
            ),
            NotDecryptedReason::NoKey {
                client_random,
                connections,
            } => write!(
                f,
                "no key for its client random {} in the key logs (they hold keys for {connections} other connection{})",
                hex(client_random),
                if *connections == 1 { "" } else { "s" }
            ),
            NotDecryptedReason::KeysIncomplete {
                client_random,
                missing,
            } => write!(
                f,
                "the key logs hold secrets for client random {} but not {missing}",
                hex(client_random)
            ),
            NotDecryptedReason::BadSecret { label, error } => {
                write!(f, "the logged {label} does not fit the cipher suite ({error})")
            }
            NotDecryptedReason::UnsupportedVersion(v) => write!(
                f,
                "{} is not supported (TLS 1.2 and TLS 1.3 are)",
                version_text(*v)
            ),
            NotDecryptedReason::UnsupportedSuite { version, suite } => write!(
                f,
                "cipher suite {} is not supported for {}",
                suite_text(*suite),
                version_text(*version)
            ),
            NotDecryptedReason::NoClientHello => f.write_str(
                "handshake not captured: no ClientHello (the capture began after the connection started)",
            ),
            NotDecryptedReason::NoServerHello => f.write_str(
                "handshake not captured: encrypted records but no ServerHello",
            ),
            NotDecryptedReason::NoEncryptedExtensions => f.write_str(
                "the client offered 0-RTT early data and the server's EncryptedExtensions, which say whether it was accepted, were not decrypted",
            ),
            NotDecryptedReason::EarlyData => f.write_str(
                "the server accepted 0-RTT early data, which needs CLIENT_EARLY_TRAFFIC_SECRET (not supported): the start of the client's stream cannot be decrypted",
            ),
            NotDecryptedReason::BadHello { which, error } => write!(f, "malformed {which}: {error}"),
            NotDecryptedReason::Record(e) => write!(f, "record layer error: {e}"),
            NotDecryptedReason::HandshakeTooLong(e) => write!(f, "{e}"),
            NotDecryptedReason::Unexpected(what) => f.write_str(what),
        }
    }
}

/// Characters of a server name shown in a finding.
const MAX_SNI_SHOWN: usize = 255;

/// A finding of the TLS layer. `Display` gives one human line, never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsFinding {
    /// The connection (`from: None`) or one direction was not decrypted.
    NotDecrypted {
        /// The direction that stopped, or `None` for the whole connection.
        from: Option<Dir>,
        /// Negotiated version, when the ServerHello was seen.
        version: Option<u16>,
        /// Server name the client asked for.
        sni: Option<String>,
        /// Why.
        reason: NotDecryptedReason,
    },
    /// A record did not open with the logged key: `from` stopped at it.
    DecryptFailed {
        /// Direction.
        from: Dir,
        /// The record's number in its direction (1 = the first record).
        record: u64,
        /// Stream offset of the record's header.
        offset: u64,
        /// Why ([`KeyError::Authentication`] for a wrong key or corruption).
        error: KeyError,
    },
    /// A fatal alert.
    Alert {
        /// Who sent it.
        from: Dir,
        /// Alert level (2 fatal; TLS 1.3 treats every alert but close_notify and
        /// user_canceled as fatal).
        level: u8,
        /// Alert description.
        description: u8,
    },
}

impl TlsFinding {
    /// The finding code it is reported under.
    pub fn code(&self) -> Code {
        match self {
            TlsFinding::NotDecrypted { .. } => Code::TlsNotDecrypted,
            TlsFinding::DecryptFailed { .. } => Code::TlsDecryptFailed,
            TlsFinding::Alert { .. } => Code::TlsAlert,
        }
    }
}

impl fmt::Display for TlsFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFinding::NotDecrypted {
                from,
                version,
                sni,
                reason,
            } => {
                f.write_str(version.and_then(version_name).unwrap_or("TLS"))?;
                f.write_str(" connection")?;
                if let Some(sni) = sni {
                    // A DNS name fits in 253 characters; a hostile one is cut, not copied whole.
                    match sni.char_indices().nth(MAX_SNI_SHOWN) {
                        Some((cut, _)) => write!(f, " to {}...", &sni[..cut])?,
                        None => write!(f, " to {sni}")?,
                    }
                }
                match from {
                    None => write!(f, " not decrypted: {reason}"),
                    Some(d) => write!(
                        f,
                        ": decoding of {} stopped, the {}'s data is not decrypted: {reason}",
                        d.as_str(),
                        side_name(*d)
                    ),
                }
            }
            TlsFinding::DecryptFailed {
                from,
                record,
                offset,
                error,
            } => {
                write!(
                    f,
                    "TLS record {record} from the {} (stream byte {offset}) ",
                    side_name(*from)
                )?;
                match error {
                    KeyError::Authentication => f.write_str(
                        "did not authenticate with the logged key: wrong key log for this connection, or corrupt capture",
                    )?,
                    other => write!(
                        f,
                        "could not be decrypted ({other}): corrupt capture or wrong key log"
                    )?,
                }
                write!(f, "; decoding of {} stopped", from.as_str())
            }
            TlsFinding::Alert {
                from,
                level,
                description,
            } => {
                write!(f, "the {} sent a fatal TLS alert: ", side_name(*from))?;
                match alert_name(*description) {
                    Some(name) => write!(f, "{name} ({description})")?,
                    None => write!(f, "alert {description}")?,
                }
                if *level != 2 {
                    write!(f, " (level {level})")?;
                }
                Ok(())
            }
        }
    }
}

/// The name of a TLS alert description (RFC 8446 6, RFC 5246 7.2), if known.
pub fn alert_name(description: u8) -> Option<&'static str> {
    Some(match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

/// Which keys protect a direction's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Epoch {
    /// TLS 1.2, after ChangeCipherSpec.
    Tls12,
    /// TLS 1.3 handshake traffic keys.
    Handshake13,
    /// TLS 1.3 application traffic keys (`*_TRAFFIC_SECRET_0`, then KeyUpdates).
    Application13,
}

/// A direction's record protection.
enum Prot {
    /// Plaintext records (before the keys switch).
    Plain,
    /// Keys switched; the reader is made when the first protected record needs it.
    Pending(Epoch),
    Tls13(Box<Tls13Reader>, Epoch),
    Aead(Box<Tls12Reader>),
    Cbc(Box<Tls12CbcReader>),
}

impl Prot {
    fn epoch(&self) -> Option<Epoch> {
        match self {
            Prot::Plain => None,
            Prot::Pending(e) | Prot::Tls13(_, e) => Some(*e),
            Prot::Aead(_) | Prot::Cbc(_) => Some(Epoch::Tls12),
        }
    }
}

/// A record waiting its turn.
struct Queued {
    /// Arrival number across both directions (orders the two queues).
    arrival: u64,
    /// 1-based record number in its direction.
    number: u64,
    record: Record,
}

/// Why a direction's input ends once its queue has drained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Gap,
    Error(RecordError),
}

/// One direction's state.
struct Side {
    reader: RecordReader,
    hs: HandshakeReassembler,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    prot: Prot,
    /// Records taken from the reader.
    records: u64,
    /// A record opened under the current keys (ends 0-RTT skipping).
    opened: bool,
    /// Bytes of rejected 0-RTT records skipped.
    skipped: usize,
    /// Input ended (gap, record error): stop once the queue has drained.
    end: Option<End>,
    /// `Lost` was emitted: nothing more comes out.
    stopped: bool,
}

impl Side {
    fn new() -> Self {
        Side {
            reader: RecordReader::new(),
            hs: HandshakeReassembler::default(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            prot: Prot::Plain,
            records: 0,
            opened: false,
            skipped: 0,
            end: None,
            stopped: false,
        }
    }
}

/// What the ClientHello said that decryption needs.
struct ClientFacts {
    random: [u8; 32],
    session_id: Vec<u8>,
    early_data: bool,
}

/// The negotiated cipher.
#[derive(Clone, Copy, Debug)]
enum Cipher {
    Tls13(Tls13Suite),
    Aead(Tls12Aead),
    Cbc { suite: Tls12Cbc, etm: bool },
}

/// What the (final) ServerHello said.
struct ServerFacts {
    version: u16,
    random: [u8; 32],
    cipher: Cipher,
}

/// Why a record cannot be handled yet.
enum Block {
    /// Waiting for the server's hello (or EncryptedExtensions).
    Hello(NotDecryptedReason),
    /// Waiting for keys.
    Keys(NotDecryptedReason),
}

/// The TLS layer of one TCP connection.
pub struct TlsFlow {
    limits: TlsLimits,
    info: TlsInfo,
    sides: [Side; 2],
    client: Option<ClientFacts>,
    server: Option<ServerFacts>,
    /// A HelloRetryRequest was seen: a second ClientHello follows.
    hello_retry: bool,
    /// The server's EncryptedExtensions were decrypted (TLS 1.3).
    encrypted_extensions: bool,
    /// ServerHelloDone seen (TLS 1.2 full handshake).
    server_hello_done: bool,
    ready: bool,
    given_up: bool,
    finished: bool,
    /// Secrets for the client random, as of store generation `secrets_gen`.
    secrets: Option<ConnectionSecrets>,
    secrets_gen: Option<u64>,
    arrivals: u64,
    scratch: Vec<Record>,
}

impl fmt::Debug for TlsFlow {
    /// State only: no secret, no plaintext.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFlow")
            .field("info", &self.info)
            .field("ready", &self.ready)
            .field("given_up", &self.given_up)
            .field("stopped", &[self.sides[0].stopped, self.sides[1].stopped])
            .field("held", &self.held())
            .finish_non_exhaustive()
    }
}

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

impl TlsFlow {
    /// A connection whose client's first bytes sniffed as TLS ([`sniff`]).
    pub fn new(limits: TlsLimits) -> Self {
        TlsFlow {
            limits,
            info: TlsInfo::default(),
            sides: [Side::new(), Side::new()],
            client: None,
            server: None,
            hello_retry: false,
            encrypted_extensions: false,
            server_hello_done: false,
            ready: false,
            given_up: false,
            finished: false,
            secrets: None,
            secrets_gen: None,
            arrivals: 0,
            scratch: Vec::new(),
        }
    }

    /// What the handshake showed so far (never secrets).
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// Nothing more will come out (both directions stopped, or the connection ended): the
    /// caller may bypass the flow.
    pub fn is_done(&self) -> bool {
        self.given_up || self.finished || self.sides.iter().all(|s| s.stopped)
    }

    /// Bytes held (records being read, handshake reassembly, records waiting for keys or for
    /// the server's hello), for memory accounting.
    pub fn held(&self) -> usize {
        self.sides
            .iter()
            .map(|s| s.reader.buffered() + s.hs.buffered() + s.queued_bytes)
            .sum()
    }

    /// In-order bytes of the TCP stream from `from` ([`Dir::ClientToServer`] is the TLS
    /// client). Appends what comes out to `out`.
    pub fn feed(&mut self, from: Dir, bytes: &[u8], keys: &KeyStore, out: &mut Vec<TlsEvent>) {
        let side = &mut self.sides[from.index()];
        if self.finished || self.given_up || side.stopped || side.end.is_some() {
            return;
        }
        let mut records = std::mem::take(&mut self.scratch);
        let result = side.reader.push(bytes, &mut records);
        for record in records.drain(..) {
            side.records += 1;
            self.arrivals += 1;
            side.queued_bytes += record.fragment.len();
            side.queue.push_back(Queued {
                arrival: self.arrivals,
                number: side.records,
                record,
            });
        }
        self.scratch = records;
        if let Err(e) = result {
            side.end = Some(End::Error(e));
        }
        self.pump(keys, false, out);
    }

    /// Bytes of `from` went missing: record boundaries are lost; that direction stops (a
    /// `Lost` event, at once, or after the records already complete when they wait for keys).
    pub fn gap(&mut self, from: Dir, out: &mut Vec<TlsEvent>) {
        let side = &mut self.sides[from.index()];
        if self.finished || side.stopped {
            return;
        }
        side.reader.gap();
        if side.end.is_none() {
            side.end = Some(End::Gap);
        }
        if side.queue.is_empty() {
            self.stop(from, None, out);
        }
    }

    /// Looks again at records waiting for keys (call when the key store grew while the
    /// connection was idle; [`TlsFlow::feed`] does it too).
    pub fn retry(&mut self, keys: &KeyStore, out: &mut Vec<TlsEvent>) {
        if !self.finished {
            self.pump(keys, false, out);
        }
    }

    /// The TCP connection ended: held records are decided (keys may have arrived by now), else
    /// `tls-not-decrypted`. A record cut by the end is a `Lost` direction.
    pub fn finish(&mut self, keys: &KeyStore, out: &mut Vec<TlsEvent>) {
        if self.finished {
            return;
        }
        self.pump(keys, true, out);
        for d in [C2S, S2C] {
            if self.sides[d.index()].reader.buffered() > 0 {
                self.stop(d, None, out);
            }
        }
        self.finished = true;
    }

    /// Handles queued records in arrival order until both queues are empty or blocked, then
    /// decides what is blocked (`finishing`: nothing more will come).
    fn pump(&mut self, keys: &KeyStore, finishing: bool, out: &mut Vec<TlsEvent>) {
        let mut blocks: [Option<Block>; 2] = [None, None];
        while !self.given_up {
            // Every non-empty queue is tried in the last round, so `blocks` ends up current.
            blocks = [None, None];
            let mut order = [C2S, S2C];
            let head = |s: &Side| s.queue.front().map_or(u64::MAX, |q| q.arrival);
            if head(&self.sides[1]) < head(&self.sides[0]) {
                order.swap(0, 1);
            }
            let mut progressed = false;
            for d in order {
                let Some(mut q) = self.sides[d.index()].queue.pop_front() else {
                    continue;
                };
                let len = q.record.fragment.len();
                self.sides[d.index()].queued_bytes -= len;
                match self.step(d, &mut q, keys, out) {
                    Ok(()) => {
                        progressed = true;
                        break;
                    }
                    Err(block) => {
                        let side = &mut self.sides[d.index()];
                        side.queued_bytes += len;
                        side.queue.push_front(q);
                        blocks[d.index()] = Some(block);
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        if !self.given_up {
            let held: usize = self.sides.iter().map(|s| s.queued_bytes).sum();
            let wait = self.limits.wait_for_keys;
            let (mut for_keys, mut for_hello) = (None, None);
            for block in blocks.into_iter().flatten() {
                match block {
                    Block::Keys(r) => for_keys = for_keys.or(Some(r)),
                    Block::Hello(r) => for_hello = for_hello.or(Some(r)),
                }
            }
            // Keys are the real reason when both wait: the hello may be behind them.
            if let Some(reason) = for_keys {
                if finishing || wait == 0 || held > wait {
                    self.give_up(reason, out);
                }
            } else if let Some(reason) = for_hello {
                if finishing || held > HELLO_HOLD.max(wait) {
                    self.give_up(reason, out);
                }
            }
        }
        for d in [C2S, S2C] {
            let side = &self.sides[d.index()];
            if side.stopped || !side.queue.is_empty() {
                continue;
            }
            match side.end {
                Some(End::Gap) => self.stop(d, None, out),
                Some(End::Error(e)) => {
                    let f = self.not_decrypted(Some(d), NotDecryptedReason::Record(e));
                    self.stop(d, Some(f), out)
                }
                None => {}
            }
        }
    }

    fn is_tls13(&self) -> bool {
        self.server.as_ref().is_some_and(|s| s.version == TLS13)
    }

    /// Handles one record of `d`; `Err` leaves it for later.
    fn step(
        &mut self,
        d: Dir,
        q: &mut Queued,
        keys: &KeyStore,
        out: &mut Vec<TlsEvent>,
    ) -> Result<(), Block> {
        let record = &q.record;
        let ct = record.header.content_type;
        if matches!(self.sides[d.index()].prot, Prot::Plain) {
            match ct {
                HANDSHAKE => self.handshake_bytes(d, &record.fragment, false, out),
                CHANGE_CIPHER_SPEC => self.change_cipher_spec(d, out),
                ALERT => self.alert(d, &record.fragment, out),
                APPLICATION_DATA => match self.server.as_ref().map(|s| s.version) {
                    None if self.client.is_none() => {
                        self.give_up(NotDecryptedReason::NoClientHello, out)
                    }
                    None if d == C2S => {
                        return Err(Block::Hello(NotDecryptedReason::NoServerHello))
                    }
                    None => self.give_up(NotDecryptedReason::NoServerHello, out),
                    Some(TLS13) => {
                        let early = self.client.as_ref().is_some_and(|c| c.early_data);
                        if d == C2S && early && !self.encrypted_extensions {
                            return Err(Block::Hello(NotDecryptedReason::NoEncryptedExtensions));
                        }
                        self.sides[d.index()].prot = Prot::Pending(Epoch::Handshake13);
                        return self.protected(d, q, keys, out);
                    }
                    Some(_) => {
                        let f = self.not_decrypted(
                            Some(d),
                            NotDecryptedReason::Unexpected(
                                "application data before ChangeCipherSpec",
                            ),
                        );
                        self.stop(d, Some(f), out);
                    }
                },
                _ => {} // heartbeat
            }
            return Ok(());
        }
        if self.is_tls13() && ct != APPLICATION_DATA {
            // TLS 1.3 protects only application_data records; change_cipher_spec is for
            // middleboxes, and a plaintext alert or hello may still come.
            match ct {
                HANDSHAKE => self.handshake_bytes(d, &record.fragment, false, out),
                ALERT => self.alert(d, &record.fragment, out),
                _ => {}
            }
            return Ok(());
        }
        self.protected(d, q, keys, out)
    }

    /// Opens a protected record of `d` and hands its content on.
    fn protected(
        &mut self,
        d: Dir,
        q: &mut Queued,
        keys: &KeyStore,
        out: &mut Vec<TlsEvent>,
    ) -> Result<(), Block> {
        self.make_reader(d, keys, out)?;
        if self.given_up || self.sides[d.index()].stopped {
            return Ok(());
        }
        let side = &mut self.sides[d.index()];
        if matches!(side.prot, Prot::Plain | Prot::Pending(_)) {
            return Ok(());
        }
        // The reader exists: the record is used up here, its buffer decrypted in place.
        let header = q.record.header;
        let fragment_len = q.record.fragment.len();
        let fragment = std::mem::take(&mut q.record.fragment);
        let opened = match &mut side.prot {
            Prot::Tls13(r, _) => r
                .open_owned(&header, fragment)
                .map(|p| (p.content_type, p.content)),
            Prot::Aead(r) => r
                .open_owned(&header, fragment)
                .map(|c| (header.content_type, c)),
            Prot::Cbc(r) => r.open(&header, &fragment).map(|c| (header.content_type, c)),
            Prot::Plain | Prot::Pending(_) => return Ok(()),
        };
        let record = &q.record;
        match opened {
            Ok((content_type, content)) => {
                side.opened = true;
                self.content(d, content_type, content, out);
            }
            Err(KeyError::Authentication) if self.skips_early_data(d, fragment_len) => {
                self.sides[d.index()].skipped += fragment_len;
            }
            Err(error) => {
                let f = TlsFinding::DecryptFailed {
                    from: d,
                    record: q.number,
                    offset: record.offset,
                    error,
                };
                self.stop(d, Some(f), out);
            }
        }
        Ok(())
    }

    /// True when a client record that failed under the handshake keys is rejected 0-RTT data
    /// the server skipped too (RFC 8446 4.2.10): 0-RTT offered, not accepted, and no record
    /// opened yet under the client's handshake keys.
    fn skips_early_data(&self, d: Dir, len: usize) -> bool {
        let side = &self.sides[d.index()];
        d == C2S
            && self.client.as_ref().is_some_and(|c| c.early_data)
            && side.prot.epoch() == Some(Epoch::Handshake13)
            && !side.opened
            && side.skipped + len <= EARLY_DATA_SKIP
    }

    /// Makes `d`'s reader when its keys just switched.
    fn make_reader(
        &mut self,
        d: Dir,
        keys: &KeyStore,
        out: &mut Vec<TlsEvent>,
    ) -> Result<(), Block> {
        let Prot::Pending(epoch) = self.sides[d.index()].prot else {
            return Ok(());
        };
        let (Some(client), Some(server)) = (&self.client, &self.server) else {
            let reason = if self.client.is_none() {
                NotDecryptedReason::NoClientHello
            } else {
                NotDecryptedReason::NoServerHello
            };
            self.give_up(reason, out);
            return Ok(());
        };
        let random = client.random;
        let generation = keys.generation();
        if self.secrets_gen != Some(generation) {
            self.secrets = keys.get(&random);
            self.secrets_gen = Some(generation);
        }
        let label = match (epoch, d) {
            (Epoch::Tls12, _) => "CLIENT_RANDOM",
            (Epoch::Handshake13, C2S) => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            (Epoch::Handshake13, _) => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            (Epoch::Application13, C2S) => "CLIENT_TRAFFIC_SECRET_0",
            (Epoch::Application13, _) => "SERVER_TRAFFIC_SECRET_0",
        };
        let secret: Option<&Secret> = self.secrets.as_ref().and_then(|s| match (epoch, d) {
            (Epoch::Tls12, _) => s.master_secret.as_ref(),
            (Epoch::Handshake13, C2S) => s.client_handshake.as_ref(),
            (Epoch::Handshake13, _) => s.server_handshake.as_ref(),
            (Epoch::Application13, C2S) => s.client_traffic_0.as_ref(),
            (Epoch::Application13, _) => s.server_traffic_0.as_ref(),
        });
        let Some(secret) = secret else {
            let reason = if self.secrets.is_none() {
                NotDecryptedReason::NoKey {
                    client_random: random,
                    connections: keys.counts().0,
                }
            } else {
                NotDecryptedReason::KeysIncomplete {
                    client_random: random,
                    missing: label,
                }
            };
            return Err(Block::Keys(reason));
        };
        let sender = if d == C2S {
            Sender::Client
        } else {
            Sender::Server
        };
        let made = match (epoch, server.cipher) {
            (Epoch::Handshake13 | Epoch::Application13, Cipher::Tls13(suite)) => {
                Tls13Reader::new(suite, secret).map(|r| Prot::Tls13(Box::new(r), epoch))
            }
            (Epoch::Tls12, Cipher::Aead(aead)) => {
                Tls12Reader::new(aead, secret, &random, &server.random, sender)
                    .map(|r| Prot::Aead(Box::new(r)))
            }
            (Epoch::Tls12, Cipher::Cbc { suite, etm }) => {
                Tls12CbcReader::new(suite, etm, secret, &random, &server.random, sender)
                    .map(|r| Prot::Cbc(Box::new(r)))
            }
            _ => {
                self.give_up(
                    NotDecryptedReason::Unexpected("keys of one TLS version for another"),
                    out,
                );
                return Ok(());
            }
        };
        match made {
            Ok(prot) => {
                let side = &mut self.sides[d.index()];
                side.prot = prot;
                side.opened = false;
            }
            Err(error) => self.give_up(NotDecryptedReason::BadSecret { label, error }, out),
        }
        Ok(())
    }

    /// A decrypted record's content.
    fn content(&mut self, d: Dir, content_type: u8, content: Vec<u8>, out: &mut Vec<TlsEvent>) {
        match content_type {
            APPLICATION_DATA => {
                if self.sides[d.index()].prot.epoch() == Some(Epoch::Handshake13) {
                    return; // not allowed under handshake keys; nothing above may see it
                }
                if !content.is_empty() {
                    self.ready(out);
                    self.info.decrypted = true;
                    out.push(TlsEvent::Plaintext {
                        from: d,
                        bytes: content,
                    });
                }
            }
            HANDSHAKE => self.handshake_bytes(d, &content, true, out),
            ALERT => self.alert(d, &content, out),
            _ => {}
        }
    }

    /// Handshake record content (plaintext, or decrypted when `protected`).
    fn handshake_bytes(&mut self, d: Dir, bytes: &[u8], protected: bool, out: &mut Vec<TlsEvent>) {
        let mut messages = Vec::new();
        let result = self.sides[d.index()].hs.push(bytes, &mut messages);
        for m in messages {
            if self.given_up || self.sides[d.index()].stopped {
                return;
            }
            self.message(d, &m, protected, out);
        }
        if let Err(e) = result {
            let reason = NotDecryptedReason::HandshakeTooLong(e);
            if self.server.is_none() {
                self.give_up(reason, out);
            } else {
                let f = self.not_decrypted(Some(d), reason);
                self.stop(d, Some(f), out);
            }
        }
    }

    /// One whole handshake message of `d`.
    fn message(&mut self, d: Dir, m: &HandshakeMessage, protected: bool, out: &mut Vec<TlsEvent>) {
        let tls13 = self.is_tls13();
        match (d, m.msg_type, protected) {
            (C2S, 1, false) => self.client_hello(m.body(), out),
            (S2C, 2, false) => self.server_hello(m.body(), out),
            (S2C, 8, true) if tls13 => self.encrypted_extensions(m.body(), out),
            (S2C, 14, false) => {
                self.server_hello_done = true;
                self.ready(out);
            }
            (_, 20, true) if tls13 => {
                // Finished: the next record of this side is under its application keys.
                self.sides[d.index()].prot = Prot::Pending(Epoch::Application13);
            }
            (_, 24, true) if tls13 => {
                let failed = match &mut self.sides[d.index()].prot {
                    Prot::Tls13(r, Epoch::Application13) => r.key_update().is_err(),
                    _ => false,
                };
                if failed {
                    let f = self
                        .not_decrypted(Some(d), NotDecryptedReason::Unexpected("KeyUpdate failed"));
                    self.stop(d, Some(f), out);
                }
            }
            _ => {} // Certificate, NewSessionTicket, Finished of TLS 1.2, ...
        }
    }

    fn client_hello(&mut self, body: &[u8], out: &mut Vec<TlsEvent>) {
        if self.client.is_some() && !self.hello_retry {
            return; // a ClientHello in plaintext again: renegotiation is not followed
        }
        match parse_client_hello(body) {
            Ok(ch) => {
                self.info.sni = ch.server_name.clone();
                self.info.alpn_offered = ch
                    .alpn
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                self.client = Some(ClientFacts {
                    random: ch.random,
                    session_id: ch.session_id,
                    early_data: ch.early_data,
                });
            }
            Err(error) => self.give_up(
                NotDecryptedReason::BadHello {
                    which: "ClientHello",
                    error,
                },
                out,
            ),
        }
    }

    fn server_hello(&mut self, body: &[u8], out: &mut Vec<TlsEvent>) {
        if self.server.is_some() {
            return;
        }
        let sh = match parse_server_hello(body) {
            Ok(sh) => sh,
            Err(error) => {
                self.give_up(
                    NotDecryptedReason::BadHello {
                        which: "ServerHello",
                        error,
                    },
                    out,
                );
                return;
            }
        };
        let version = sh.version();
        self.info.version = Some(version);
        self.info.cipher_suite = Some(sh.cipher_suite);
        if sh.is_hello_retry_request() {
            self.hello_retry = true;
            return;
        }
        let Some(client) = &self.client else {
            self.give_up(NotDecryptedReason::NoClientHello, out);
            return;
        };
        self.info.resumed = if version == TLS13 {
            sh.pre_shared_key
        } else {
            !sh.session_id.is_empty() && sh.session_id == client.session_id
        };
        let cipher = match version {
            TLS13 => Tls13Suite::from_id(sh.cipher_suite).map(Cipher::Tls13),
            TLS12 => {
                self.info.alpn = sh
                    .alpn
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                Tls12Aead::from_suite(sh.cipher_suite)
                    .map(Cipher::Aead)
                    .or_else(|| {
                        Tls12Cbc::from_suite(sh.cipher_suite).map(|suite| Cipher::Cbc {
                            suite,
                            etm: sh.encrypt_then_mac,
                        })
                    })
            }
            other => {
                self.give_up(NotDecryptedReason::UnsupportedVersion(other), out);
                return;
            }
        };
        let Some(cipher) = cipher else {
            self.give_up(
                NotDecryptedReason::UnsupportedSuite {
                    version,
                    suite: sh.cipher_suite,
                },
                out,
            );
            return;
        };
        self.server = Some(ServerFacts {
            version,
            random: sh.random,
            cipher,
        });
    }

    fn encrypted_extensions(&mut self, body: &[u8], out: &mut Vec<TlsEvent>) {
        if self.encrypted_extensions {
            return;
        }
        self.encrypted_extensions = true;
        // A malformed EncryptedExtensions leaves ALPN unknown; the records still decrypt.
        let ee = parse_encrypted_extensions_full(body).unwrap_or_default();
        self.info.alpn = ee
            .alpn
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        self.ready(out);
        if ee.early_data && self.client.as_ref().is_some_and(|c| c.early_data) {
            let f = self.not_decrypted(Some(C2S), NotDecryptedReason::EarlyData);
            self.stop(C2S, Some(f), out);
        }
    }

    /// A plaintext change_cipher_spec: switches a TLS 1.2 direction to its keys (sequence 0);
    /// ignored in TLS 1.3 (middlebox compatibility).
    fn change_cipher_spec(&mut self, d: Dir, out: &mut Vec<TlsEvent>) {
        if self.server.as_ref().is_none_or(|s| s.version != TLS12) {
            return;
        }
        if d == S2C {
            if !self.server_hello_done {
                // The server finishes first: an abbreviated handshake (session id or ticket).
                self.info.resumed = true;
            }
            self.ready(out);
        }
        self.sides[d.index()].prot = Prot::Pending(Epoch::Tls12);
    }

    /// Alert content: fatal alerts are findings; close_notify, user_canceled and TLS 1.2
    /// warnings are not.
    fn alert(&mut self, d: Dir, bytes: &[u8], out: &mut Vec<TlsEvent>) {
        let tls13 = self.is_tls13();
        for pair in bytes.chunks_exact(2) {
            let (level, description) = (pair[0], pair[1]);
            let fatal = match description {
                0 | 90 => false,
                _ => level == 2 || tls13,
            };
            if fatal {
                out.push(TlsEvent::Finding(TlsFinding::Alert {
                    from: d,
                    level,
                    description,
                }));
            }
        }
    }

    fn ready(&mut self, out: &mut Vec<TlsEvent>) {
        if !self.ready {
            self.ready = true;
            out.push(TlsEvent::Ready);
        }
    }

    fn not_decrypted(&self, from: Option<Dir>, reason: NotDecryptedReason) -> TlsFinding {
        TlsFinding::NotDecrypted {
            from,
            version: self.info.version,
            sni: self.info.sni.clone(),
            reason,
        }
    }

    /// Stops `d` for good: its finding (if any), then `Lost`; what it held is dropped.
    fn stop(&mut self, d: Dir, finding: Option<TlsFinding>, out: &mut Vec<TlsEvent>) {
        let side = &mut self.sides[d.index()];
        if side.stopped {
            return;
        }
        side.stopped = true;
        side.queue = VecDeque::new();
        side.queued_bytes = 0;
        side.reader.gap();
        side.hs = HandshakeReassembler::default();
        side.prot = Prot::Plain;
        if let Some(f) = finding {
            out.push(TlsEvent::Finding(f));
        }
        out.push(TlsEvent::Lost { from: d });
    }

    /// The connection cannot be decrypted: `Ready` (if not yet), one `NotDecrypted` finding,
    /// and every direction still going stops.
    fn give_up(&mut self, reason: NotDecryptedReason, out: &mut Vec<TlsEvent>) {
        if self.given_up {
            return;
        }
        self.given_up = true;
        self.ready(out);
        let f = self.not_decrypted(None, reason);
        out.push(TlsEvent::Finding(f));
        for d in [C2S, S2C] {
            self.stop(d, None, out);
        }
        self.secrets = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::hello::{
        EXT_ALPN, EXT_EARLY_DATA, EXT_PRE_SHARED_KEY, EXT_SERVER_NAME, EXT_SUPPORTED_VERSIONS,
        HELLO_RETRY_RANDOM,
    };
    use super::*;

    const RANDOM: [u8; 32] = [0x5a; 32];

    fn u16b(n: usize) -> [u8; 2] {
        u16::try_from(n).expect("small").to_be_bytes()
    }

    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 3, 3];
        r.extend(u16b(body.len()));
        r.extend_from_slice(body);
        r
    }

    fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
        let len = u32::try_from(body.len()).expect("small").to_be_bytes();
        let mut m = vec![ty, len[1], len[2], len[3]];
        m.extend_from_slice(body);
        m
    }

    fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut e = ty.to_be_bytes().to_vec();
        e.extend(u16b(data.len()));
        e.extend_from_slice(data);
        e
    }

    fn with_exts(mut body: Vec<u8>, exts: &[Vec<u8>]) -> Vec<u8> {
        let all: Vec<u8> = exts.concat();
        body.extend(u16b(all.len()));
        body.extend(all);
        body
    }

    fn alpn(name: &[u8]) -> Vec<u8> {
        let mut list = vec![u8::try_from(name.len()).expect("small")];
        list.extend_from_slice(name);
        let mut d = u16b(list.len()).to_vec();
        d.extend(list);
        d
    }

    fn client_hello(session_id: &[u8], early_data: bool) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend(RANDOM);
        b.push(u8::try_from(session_id.len()).expect("small"));
        b.extend_from_slice(session_id);
        b.extend([0, 4, 0x13, 0x01, 0xc0, 0x2f, 1, 0]);
        let mut sni = u16b(12).to_vec();
        sni.push(0);
        sni.extend(u16b(9));
        sni.extend_from_slice(b"localhost");
        let mut exts = vec![
            ext(EXT_SERVER_NAME, &sni),
            ext(EXT_ALPN, &alpn(b"h2")),
            ext(EXT_SUPPORTED_VERSIONS, &[4, 3, 4, 3, 3]),
        ];
        if early_data {
            exts.push(ext(EXT_EARLY_DATA, &[]));
        }
        record(HANDSHAKE, &msg(1, &with_exts(b, &exts)))
    }

    fn server_hello(random: [u8; 32], version: u16, suite: u16, session_id: &[u8]) -> Vec<u8> {
        let mut b = if version == TLS13 {
            vec![3, 3]
        } else {
            version.to_be_bytes().to_vec()
        };
        b.extend(random);
        b.push(u8::try_from(session_id.len()).expect("small"));
        b.extend_from_slice(session_id);
        b.extend(suite.to_be_bytes());
        b.push(0);
        let mut exts = Vec::new();
        if version == TLS13 {
            exts.push(ext(EXT_SUPPORTED_VERSIONS, &[3, 4]));
            exts.push(ext(EXT_PRE_SHARED_KEY, &[0, 0]));
        }
        record(HANDSHAKE, &msg(2, &with_exts(b, &exts)))
    }

    fn encrypted_extensions(early_data: bool) -> Vec<u8> {
        let mut exts = vec![ext(EXT_ALPN, &alpn(b"h2"))];
        if early_data {
            exts.push(ext(EXT_EARLY_DATA, &[]));
        }
        msg(8, &with_exts(Vec::new(), &exts))
    }

    /// A TLS 1.3 secret of its own for each label.
    fn secret(label: u8) -> Secret {
        Secret::new(vec![label; 32])
    }

    fn keys_for(random: &[u8; 32]) -> KeyStore {
        let r = hex(random);
        let mut text = String::new();
        for (label, b) in [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1u8),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 2),
            ("CLIENT_TRAFFIC_SECRET_0", 3),
            ("SERVER_TRAFFIC_SECRET_0", 4),
        ] {
            text.push_str(&format!("{label} {r} {}\n", hex(&[b; 32])));
        }
        let keys = KeyStore::new();
        keys.push(text.as_bytes());
        keys
    }

    fn sealed(label: u8, seq: u64, ct: u8, content: &[u8]) -> Vec<u8> {
        Tls13Reader::new(Tls13Suite::Aes128GcmSha256, &secret(label))
            .expect("keys")
            .seal(seq, ct, content)
    }

    fn plaintext(events: &[TlsEvent], dir: Dir) -> Vec<Vec<u8>> {
        events
            .iter()
            .filter_map(|e| match e {
                TlsEvent::Plaintext { from, bytes } if *from == dir => Some(bytes.clone()),
                _ => None,
            })
            .collect()
    }

    fn findings(events: &[TlsEvent]) -> Vec<&TlsFinding> {
        events
            .iter()
            .filter_map(|e| match e {
                TlsEvent::Finding(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// Feeds (direction, bytes) pieces in order, then finishes.
    fn run(flow: &mut TlsFlow, keys: &KeyStore, pieces: &[(Dir, Vec<u8>)]) -> Vec<TlsEvent> {
        let mut out = Vec::new();
        for (d, b) in pieces {
            flow.feed(*d, b, keys, &mut out);
        }
        flow.finish(keys, &mut out);
        out
    }

    #[test]
    fn sniff_wants_a_client_hello_record() {
        let ch = client_hello(&[], false);
        assert_eq!(sniff(&ch), Sniff::Tls);
        assert_eq!(sniff(&ch[..6]), Sniff::Tls);
        for n in 0..6 {
            assert_eq!(sniff(&ch[..n]), Sniff::NeedMore, "{n} bytes");
        }
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Sniff::NotTls);
        assert_eq!(sniff(b"PRI * HTTP/2.0"), Sniff::NotTls);
        assert_eq!(
            sniff(&[0x16, 3, 3, 0, 4, 2]),
            Sniff::NotTls,
            "a ServerHello"
        );
        assert_eq!(sniff(&[0x17, 3, 3]), Sniff::NotTls, "application data");
        assert_eq!(sniff(&[0x16, 3, 9]), Sniff::NotTls, "no such version");
        assert_eq!(sniff(&[0x16, 2]), Sniff::NotTls);
        assert_eq!(sniff(&[0x16, 3, 1, 0x48, 1, 1]), Sniff::NotTls, "too long");
        assert_eq!(sniff(&[0x16, 3, 0, 0, 50, 1]), Sniff::Tls, "SSL 3.0 record");
    }

    /// A whole TLS 1.3 connection of our own: HelloRetryRequest and a second ClientHello,
    /// middlebox change_cipher_spec records, encrypted handshake with ALPN, a NewSessionTicket,
    /// a KeyUpdate, application data both ways and a close_notify.
    #[test]
    fn tls13_with_hello_retry_ticket_and_key_update() {
        let keys = keys_for(&RANDOM);
        let finished = msg(20, &[7; 32]);
        let mut server_flight = encrypted_extensions(false);
        server_flight.extend(msg(11, &[0; 40]));
        server_flight.extend(&finished);
        let mut key_update = msg(24, &[0]);
        let pieces = vec![
            (C2S, client_hello(&[], false)),
            (S2C, server_hello(HELLO_RETRY_RANDOM, TLS13, 0x1301, &[])),
            (S2C, record(CHANGE_CIPHER_SPEC, &[1])),
            (C2S, record(CHANGE_CIPHER_SPEC, &[1])),
            (C2S, client_hello(&[], false)),
            (S2C, server_hello([0x77; 32], TLS13, 0x1301, &[])),
            (S2C, sealed(2, 0, HANDSHAKE, &server_flight)),
            (C2S, sealed(1, 0, HANDSHAKE, &finished)),
            (C2S, sealed(3, 0, APPLICATION_DATA, b"hello")),
            (S2C, sealed(4, 0, HANDSHAKE, &msg(4, &[9; 20]))),
            (S2C, sealed(4, 1, APPLICATION_DATA, b"world")),
            (
                S2C,
                sealed(4, 2, HANDSHAKE, &std::mem::take(&mut key_update)),
            ),
        ];
        // After the KeyUpdate the server's records are under the next secret.
        let mut next = Tls13Reader::new(Tls13Suite::Aes128GcmSha256, &secret(4)).expect("k");
        next.key_update().expect("update");
        let mut pieces = pieces;
        pieces.push((S2C, next.seal(0, APPLICATION_DATA, b"after update")));
        pieces.push((C2S, sealed(3, 1, ALERT, &[1, 0])));
        // Byte by byte and whole give the same.
        for step in [usize::MAX, 1, 7] {
            let mut flow = TlsFlow::new(TlsLimits::default());
            let mut out = Vec::new();
            for (d, b) in &pieces {
                for chunk in b.chunks(step.min(b.len())) {
                    flow.feed(*d, chunk, &keys, &mut out);
                }
            }
            flow.finish(&keys, &mut out);
            assert!(findings(&out).is_empty(), "{out:?}");
            assert_eq!(plaintext(&out, C2S), [b"hello".to_vec()]);
            assert_eq!(
                plaintext(&out, S2C),
                [b"world".to_vec(), b"after update".to_vec()]
            );
            assert_eq!(out[0], TlsEvent::Ready);
            let info = flow.info();
            assert_eq!(info.version, Some(TLS13));
            assert_eq!(info.cipher_suite, Some(0x1301));
            assert_eq!(info.sni.as_deref(), Some("localhost"));
            assert_eq!(info.alpn_offered, ["h2"]);
            assert_eq!(info.alpn.as_deref(), Some("h2"));
            assert!(info.resumed && info.decrypted);
            assert!(flow.is_done());
            assert_eq!(flow.held(), 0);
            let shown = format!("{flow:?}");
            assert!(
                !shown.contains("hello") && !shown.contains("0101"),
                "{shown}"
            );
        }
    }

    fn early_data_connection(accepted: bool) -> Vec<(Dir, Vec<u8>)> {
        let finished = msg(20, &[7; 32]);
        let mut flight = encrypted_extensions(accepted);
        flight.extend(&finished);
        vec![
            (C2S, client_hello(&[], true)),
            (C2S, record(CHANGE_CIPHER_SPEC, &[1])),
            // 0-RTT data under the early secret (not in any key log)
            (C2S, sealed(9, 0, APPLICATION_DATA, b"GET /early")),
            (S2C, server_hello([0x77; 32], TLS13, 0x1301, &[])),
            (S2C, sealed(2, 0, HANDSHAKE, &flight)),
            (C2S, sealed(9, 1, HANDSHAKE, &msg(5, &[]))), // EndOfEarlyData
            (C2S, sealed(1, 0, HANDSHAKE, &finished)),
            (C2S, sealed(3, 0, APPLICATION_DATA, b"GET /late")),
            (S2C, sealed(4, 0, APPLICATION_DATA, b"HTTP/1.1 200")),
        ]
    }

    #[test]
    fn rejected_early_data_is_skipped_like_the_server_does() {
        let keys = keys_for(&RANDOM);
        let mut pieces = early_data_connection(false);
        pieces.remove(5); // no EndOfEarlyData when the server rejected 0-RTT
        let out = run(&mut TlsFlow::new(TlsLimits::default()), &keys, &pieces);
        assert!(findings(&out).is_empty(), "{out:?}");
        assert_eq!(plaintext(&out, C2S), [b"GET /late".to_vec()]);
        assert_eq!(plaintext(&out, S2C), [b"HTTP/1.1 200".to_vec()]);
    }

    #[test]
    fn accepted_early_data_stops_the_client_direction_with_a_reason() {
        let keys = keys_for(&RANDOM);
        let out = run(
            &mut TlsFlow::new(TlsLimits::default()),
            &keys,
            &early_data_connection(true),
        );
        let f = findings(&out);
        assert_eq!(f.len(), 1, "{out:?}");
        assert!(matches!(
            f[0],
            TlsFinding::NotDecrypted {
                from: Some(C2S),
                reason: NotDecryptedReason::EarlyData,
                ..
            }
        ));
        assert!(f[0].to_string().contains("CLIENT_EARLY_TRAFFIC_SECRET"));
        assert!(plaintext(&out, C2S).is_empty());
        assert!(out.contains(&TlsEvent::Lost { from: C2S }));
        assert_eq!(plaintext(&out, S2C), [b"HTTP/1.1 200".to_vec()]);
    }

    #[test]
    fn tls12_abbreviated_handshake_is_resumed() {
        for (sid_echo, name) in [(true, "session id"), (false, "ticket")] {
            let mut flow = TlsFlow::new(TlsLimits::default());
            let keys = KeyStore::new();
            let mut out = Vec::new();
            flow.feed(C2S, &client_hello(&[0x42; 32], false), &keys, &mut out);
            let sid: &[u8] = if sid_echo { &[0x42; 32] } else { &[0x43; 32] };
            flow.feed(
                S2C,
                &server_hello([0x77; 32], TLS12, 0xc02f, sid),
                &keys,
                &mut out,
            );
            assert_eq!(flow.info().resumed, sid_echo, "{name}");
            assert!(out.is_empty());
            flow.feed(S2C, &record(CHANGE_CIPHER_SPEC, &[1]), &keys, &mut out);
            assert!(flow.info().resumed, "{name}: the server's CCS came first");
            assert_eq!(out, [TlsEvent::Ready], "{name}");
            // Its Finished needs the master secret, which no key log holds.
            flow.feed(S2C, &record(HANDSHAKE, &[0; 40]), &keys, &mut out);
            let f = findings(&out);
            assert!(
                matches!(
                    f[..],
                    [TlsFinding::NotDecrypted {
                        from: None,
                        reason: NotDecryptedReason::NoKey { connections: 0, .. },
                        ..
                    }]
                ),
                "{name}: {out:?}"
            );
            assert!(flow.is_done());
        }
    }

    #[test]
    fn unsupported_suite_and_version_are_named() {
        for (version, suite, want) in [
            (
                TLS13,
                0x1304,
                "cipher suite TLS_AES_128_CCM_SHA256 (0x1304) is not supported for TLS 1.3",
            ),
            (
                TLS12,
                0x000a,
                "cipher suite 0x000a is not supported for TLS 1.2",
            ),
            (0x0302, 0x002f, "TLS 1.1 is not supported"),
        ] {
            let keys = KeyStore::new();
            let pieces = [
                (C2S, client_hello(&[], false)),
                (S2C, server_hello([1; 32], version, suite, &[])),
            ];
            let mut flow = TlsFlow::new(TlsLimits::default());
            let out = run(&mut flow, &keys, &pieces);
            let f = findings(&out);
            assert_eq!(f.len(), 1, "{out:?}");
            let text = f[0].to_string();
            assert!(text.contains(want), "{text}");
            assert!(
                text.contains("connection to localhost not decrypted"),
                "{text}"
            );
            assert_eq!(f[0].code(), Code::TlsNotDecrypted);
            assert_eq!(flow.info().cipher_suite, Some(suite));
        }
    }

    #[test]
    fn fatal_alerts_are_findings_close_notify_is_not() {
        let keys = KeyStore::new();
        let pieces = [
            (C2S, client_hello(&[], false)),
            (S2C, record(ALERT, &[1, 0])),
            (S2C, record(ALERT, &[2, 40])),
            (C2S, record(ALERT, &[1, 112])),
        ];
        let out = run(&mut TlsFlow::new(TlsLimits::default()), &keys, &pieces);
        let f = findings(&out);
        assert_eq!(f.len(), 1, "{out:?}");
        assert_eq!(f[0].code(), Code::TlsAlert);
        assert_eq!(
            f[0].to_string(),
            "the server sent a fatal TLS alert: handshake_failure (40)"
        );
    }

    #[test]
    fn encrypted_data_without_hellos_is_a_handshake_not_captured() {
        let keys = KeyStore::new();
        // The capture began mid-connection: application data only.
        let out = run(
            &mut TlsFlow::new(TlsLimits::default()),
            &keys,
            &[(C2S, record(APPLICATION_DATA, &[1; 40]))],
        );
        assert!(matches!(
            findings(&out)[..],
            [TlsFinding::NotDecrypted {
                reason: NotDecryptedReason::NoClientHello,
                ..
            }]
        ));
        // The server's encrypted records with no ServerHello.
        let out = run(
            &mut TlsFlow::new(TlsLimits::default()),
            &keys,
            &[
                (C2S, client_hello(&[], false)),
                (S2C, record(APPLICATION_DATA, &[1; 40])),
            ],
        );
        let f = findings(&out);
        assert!(
            matches!(
                f[..],
                [TlsFinding::NotDecrypted {
                    reason: NotDecryptedReason::NoServerHello,
                    ..
                }]
            ),
            "{out:?}"
        );
        assert!(f[0].to_string().contains("handshake not captured"));
    }

    #[test]
    fn hostile_client_records_before_any_server_hello_stay_bounded() {
        let keys = KeyStore::new();
        let mut flow = TlsFlow::new(TlsLimits::default());
        let mut out = Vec::new();
        flow.feed(C2S, &client_hello(&[], true), &keys, &mut out);
        let junk = record(APPLICATION_DATA, &vec![0xee; MAX_RECORD_LEN]);
        for _ in 0..100 {
            flow.feed(C2S, &junk, &keys, &mut out);
            assert!(flow.held() <= HELLO_HOLD + 2 * (MAX_RECORD_LEN + HEADER_LEN));
        }
        assert!(flow.is_done());
        assert_eq!(flow.held(), 0);
        assert!(matches!(
            findings(&out)[..],
            [TlsFinding::NotDecrypted {
                reason: NotDecryptedReason::NoServerHello,
                ..
            }]
        ));
    }

    #[test]
    fn hostile_record_length_stops_the_direction() {
        let keys = keys_for(&RANDOM);
        let mut flow = TlsFlow::new(TlsLimits::default());
        let mut out = Vec::new();
        flow.feed(C2S, &client_hello(&[], false), &keys, &mut out);
        flow.feed(S2C, &[APPLICATION_DATA, 3, 3, 0xff, 0xff], &keys, &mut out);
        assert!(flow.held() < 1000);
        let f = findings(&out);
        assert!(
            matches!(
                f[..],
                [TlsFinding::NotDecrypted {
                    from: Some(S2C),
                    reason: NotDecryptedReason::Record(RecordError::TooLong(0xffff)),
                    ..
                }]
            ),
            "{out:?}"
        );
        assert!(out.contains(&TlsEvent::Lost { from: S2C }));
        // The client goes on being read; more server bytes are ignored.
        flow.feed(S2C, &[0; 100_000], &keys, &mut out);
        assert!(flow.held() < 1000);
        assert!(!flow.is_done());
    }

    #[test]
    fn hostile_handshake_messages_stay_bounded() {
        let keys = KeyStore::new();
        // A ClientHello declared 16 MiB long, fed forever.
        let mut flow = TlsFlow::new(TlsLimits::default());
        let mut out = Vec::new();
        let mut first = vec![1, 0xff, 0xff, 0xff];
        first.extend(vec![0; 16_000]);
        flow.feed(C2S, &record(HANDSHAKE, &first), &keys, &mut out);
        for _ in 0..100 {
            flow.feed(C2S, &record(HANDSHAKE, &[0; 16_000]), &keys, &mut out);
        }
        assert!(flow.is_done() && flow.held() == 0, "{out:?}");
        assert!(matches!(
            findings(&out)[..],
            [TlsFinding::NotDecrypted {
                from: None,
                reason: NotDecryptedReason::HandshakeTooLong(_),
                ..
            }]
        ));

        // Server handshake messages just under the limit, one after another, forever.
        let mut flow = TlsFlow::new(TlsLimits::default());
        let mut out = Vec::new();
        flow.feed(C2S, &client_hello(&[], false), &keys, &mut out);
        flow.feed(
            S2C,
            &server_hello([1; 32], TLS12, 0xc02f, &[]),
            &keys,
            &mut out,
        );
        let big = super::super::record::DEFAULT_MAX_HANDSHAKE;
        let mut stream = Vec::new();
        for _ in 0..8 {
            stream.extend(msg(11, &vec![0x30; big]));
        }
        let mut max_held = 0;
        for chunk in stream.chunks(16_000) {
            flow.feed(S2C, &record(HANDSHAKE, chunk), &keys, &mut out);
            max_held = max_held.max(flow.held());
        }
        assert!(max_held <= big + 4 + MAX_RECORD_LEN, "{max_held}");
        assert!(findings(&out).is_empty());
    }

    #[test]
    fn a_gap_waits_for_held_records_then_stops() {
        let keys = KeyStore::new();
        let limits = TlsLimits {
            wait_for_keys: 1 << 20,
        };
        let mut flow = TlsFlow::new(limits);
        let mut out = Vec::new();
        flow.feed(C2S, &client_hello(&[], false), &keys, &mut out);
        flow.feed(
            S2C,
            &server_hello([0x77; 32], TLS13, 0x1301, &[]),
            &keys,
            &mut out,
        );
        let mut flight = encrypted_extensions(false);
        flight.extend(msg(20, &[7; 32]));
        flow.feed(S2C, &sealed(2, 0, HANDSHAKE, &flight), &keys, &mut out);
        flow.feed(
            S2C,
            &sealed(4, 0, APPLICATION_DATA, b"one"),
            &keys,
            &mut out,
        );
        assert!(out.is_empty(), "waiting for keys: {out:?}");
        assert!(flow.held() > 0);
        flow.gap(S2C, &mut out);
        assert!(out.is_empty(), "Lost waits behind the held records");
        // The keys arrive (a followed key log grew).
        let late = keys_for(&RANDOM);
        flow.retry(&late, &mut out);
        assert_eq!(
            out,
            [
                TlsEvent::Ready,
                TlsEvent::Plaintext {
                    from: S2C,
                    bytes: b"one".to_vec()
                },
                TlsEvent::Lost { from: S2C }
            ]
        );
        assert_eq!(flow.held(), 0);
    }

    #[test]
    fn findings_display_one_line_without_secrets() {
        let r = NotDecryptedReason::NoKey {
            client_random: RANDOM,
            connections: 3,
        };
        let f = TlsFinding::NotDecrypted {
            from: None,
            version: Some(TLS13),
            sni: Some("example.com".into()),
            reason: r,
        };
        assert_eq!(
            f.to_string(),
            format!(
                "TLS 1.3 connection to example.com not decrypted: no key for its client random {} in the key logs (they hold keys for 3 other connections)",
                "5a".repeat(32)
            )
        );
        let f = TlsFinding::DecryptFailed {
            from: S2C,
            record: 7,
            offset: 1234,
            error: KeyError::Authentication,
        };
        assert_eq!(
            f.to_string(),
            "TLS record 7 from the server (stream byte 1234) did not authenticate with the logged key: wrong key log for this connection, or corrupt capture; decoding of s2c stopped"
        );
        assert_eq!(f.code(), Code::TlsDecryptFailed);
        let f = TlsFinding::NotDecrypted {
            from: Some(C2S),
            version: None,
            sni: None,
            reason: NotDecryptedReason::Record(RecordError::ContentType(99)),
        };
        assert_eq!(
            f.to_string(),
            "TLS connection: decoding of c2s stopped, the client's data is not decrypted: record layer error: not a TLS record: content type 99"
        );
        assert_eq!(alert_name(20), Some("bad_record_mac"));
        let f = TlsFinding::NotDecrypted {
            from: None,
            version: None,
            sni: Some("a".repeat(70_000)),
            reason: NotDecryptedReason::NoServerHello,
        };
        assert!(f.to_string().len() < 400, "a hostile SNI is cut");
    }
}
