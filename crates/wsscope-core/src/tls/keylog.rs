//! NSS key log files (`SSLKEYLOGFILE`): one secret a line, `LABEL <client random> <secret>`.
//!
//! The parser is incremental: [`KeyLog::push`] takes any chunk of a file that grows, keeps the
//! unfinished last line (bounded), and files each secret under its 32-byte client random.
//! Comments (`#`), blank lines, CRLF endings and unknown labels are ignored; lines that look
//! like a known label but do not parse are counted in [`KeyLog::malformed`].

use std::collections::HashMap;
use std::fmt;

/// Longest line kept while waiting for its end (a label, 64 hex digits, and a 64-byte secret
/// in hex fit in well under this); a longer line is dropped and counted as malformed.
pub const MAX_LINE: usize = 1024;

/// Longest secret accepted, in bytes (SHA-384 secrets are 48).
pub const MAX_SECRET: usize = 64;

/// Key material. `Debug` never shows the bytes; they are zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps raw secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// The secret's bytes: only for key derivation.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// The secrets known for one connection (one client random).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionSecrets {
    /// TLS 1.2 master secret (`CLIENT_RANDOM`, 48 bytes).
    pub master_secret: Option<Secret>,
    /// TLS 1.3 `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Secret>,
    /// TLS 1.3 `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Secret>,
    /// TLS 1.3 `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic_0: Option<Secret>,
    /// TLS 1.3 `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic_0: Option<Secret>,
}

/// Which slot of [`ConnectionSecrets`] a label fills; `None` for labels we do not use.
fn slot<'a>(secrets: &'a mut ConnectionSecrets, label: &str) -> Option<&'a mut Option<Secret>> {
    Some(match label {
        "CLIENT_RANDOM" => &mut secrets.master_secret,
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut secrets.client_handshake,
        "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut secrets.server_handshake,
        "CLIENT_TRAFFIC_SECRET_0" => &mut secrets.client_traffic_0,
        "SERVER_TRAFFIC_SECRET_0" => &mut secrets.server_traffic_0,
        _ => return None,
    })
}

fn is_known(label: &str) -> bool {
    slot(&mut ConnectionSecrets::default(), label).is_some()
}

/// A key log, filled line by line, looked up by client random.
#[derive(Default)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], ConnectionSecrets>,
    /// The unfinished last line of what was pushed so far.
    partial: Vec<u8>,
    /// The current line grew past [`MAX_LINE`]: drop bytes until its end.
    skipping: bool,
    secrets: u64,
    malformed: u64,
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a whole key log text (a file read at once, or a pcapng Decryption Secrets Block).
    pub fn parse(text: &[u8]) -> Self {
        let mut log = Self::new();
        log.push(text);
        log.finish();
        log
    }

    /// Adds the next bytes of a key log; complete lines are parsed at once, the rest is kept
    /// until its newline arrives (or [`KeyLog::finish`]).
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    if self.skipping {
                        self.skipping = false;
                    } else if self.partial.len() + nl > MAX_LINE {
                        self.partial.clear();
                        self.malformed += 1;
                    } else if self.partial.is_empty() {
                        self.line(&bytes[..nl]);
                    } else {
                        self.partial.extend_from_slice(&bytes[..nl]);
                        let line = std::mem::take(&mut self.partial);
                        self.line(&line);
                    }
                    bytes = &bytes[nl + 1..];
                }
                None => {
                    if !self.skipping {
                        if self.partial.len() + bytes.len() > MAX_LINE {
                            self.partial.clear();
                            self.skipping = true;
                            self.malformed += 1;
                        } else {
                            self.partial.extend_from_slice(bytes);
                        }
                    }
                    bytes = &[];
                }
            }
        }
    }

    /// Parses a last line that has no newline (end of a file that is complete).
    pub fn finish(&mut self) {
        self.skipping = false;
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
    }

    /// Parses one line (without its `\n`).
    fn line(&mut self, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            self.malformed += 1;
            return;
        };
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return;
        }
        let mut fields = text.split_ascii_whitespace();
        let (Some(label), random, secret, extra) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return;
        };
        if !is_known(label) {
            return; // EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET, future labels
        }
        let parsed = match (random, secret, extra) {
            (Some(r), Some(s), None) => decode_hex::<32>(r).zip(decode_secret(s)),
            _ => None,
        };
        let Some((random, secret)) = parsed else {
            self.malformed += 1;
            return;
        };
        if label == "CLIENT_RANDOM" && secret.len() != 48 {
            self.malformed += 1;
            return;
        }
        let entry = self.by_random.entry(random).or_default();
        if let Some(slot) = slot(entry, label) {
            *slot = Some(secret);
            self.secrets += 1;
        }
    }

    /// The secrets for the connection whose ClientHello carried `client_random`.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&ConnectionSecrets> {
        self.by_random.get(client_random)
    }

    /// Connections with at least one secret.
    pub fn connections(&self) -> usize {
        self.by_random.len()
    }

    /// Secret lines accepted (a repeated line counts again).
    pub fn secrets(&self) -> u64 {
        self.secrets
    }

    /// Lines with a known label that did not parse (bad hex, wrong length, extra fields), and
    /// overlong lines.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

impl fmt::Debug for KeyLog {
    /// Counts only: the pending partial line may hold part of a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLog")
            .field("connections", &self.by_random.len())
            .field("secrets", &self.secrets)
            .field("malformed", &self.malformed)
            .field("pending_bytes", &self.partial.len())
            .finish()
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn decode_hex_vec(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2)
        .map(|p| Some(hex_digit(p[0])? << 4 | hex_digit(p[1])?))
        .collect()
}

fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    decode_hex_vec(s)?.try_into().ok()
}

fn decode_secret(s: &str) -> Option<Secret> {
    let bytes = decode_hex_vec(s)?;
    (!bytes.is_empty() && bytes.len() <= MAX_SECRET).then(|| Secret::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R1: &str = "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7";
    const R2: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn random(hex: &str) -> [u8; 32] {
        decode_hex::<32>(hex).expect("test random")
    }

    fn sample() -> String {
        let s32 = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
        let ms = "ab".repeat(48);
        format!(
            "# SSL/TLS secrets log file, generated by NSS\r\n\
             \r\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R1} {s32}\r\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {R1} {s32}\n\
             CLIENT_TRAFFIC_SECRET_0 {R1} {s32}\n\
             SERVER_TRAFFIC_SECRET_0 {R1} {s32}\n\
             EXPORTER_SECRET {R1} {s32}\n\
             CLIENT_RANDOM {R2} {ms}\n"
        )
    }

    #[test]
    fn parses_tls12_and_tls13_lines() {
        let log = KeyLog::parse(sample().as_bytes());
        assert_eq!(log.connections(), 2);
        assert_eq!(log.malformed(), 0);
        assert_eq!(log.secrets(), 5);
        let c1 = log.get(&random(R1)).expect("R1");
        assert!(c1.master_secret.is_none());
        assert_eq!(c1.client_handshake.as_ref().map(Secret::len), Some(32));
        assert!(c1.server_handshake.is_some());
        assert!(c1.client_traffic_0.is_some());
        assert!(c1.server_traffic_0.is_some());
        let c2 = log.get(&random(R2)).expect("R2");
        assert_eq!(c2.master_secret.as_ref().map(|s| s.expose()[0]), Some(0xab));
        assert!(log.get(&[0; 32]).is_none());
    }

    #[test]
    fn incremental_pushes_in_any_split_match_whole_parse() {
        let text = sample();
        let whole = KeyLog::parse(text.as_bytes());
        for step in [1, 2, 3, 7, 50, 1000] {
            let mut log = KeyLog::new();
            for chunk in text.as_bytes().chunks(step) {
                log.push(chunk);
            }
            assert_eq!(log.connections(), whole.connections(), "step {step}");
            assert_eq!(log.secrets(), whole.secrets(), "step {step}");
            assert_eq!(log.get(&random(R1)), whole.get(&random(R1)));
        }
    }

    #[test]
    fn an_unfinished_line_waits_for_its_newline() {
        let ms = "cd".repeat(48);
        let line = format!("CLIENT_RANDOM {R2} {ms}");
        let mut log = KeyLog::new();
        log.push(line.as_bytes());
        assert!(log.get(&random(R2)).is_none());
        log.push(b"\n");
        assert!(log.get(&random(R2)).is_some());
    }

    #[test]
    fn malformed_lines_are_counted_unknown_labels_ignored() {
        let ms = "cd".repeat(48);
        let text = format!(
            "CLIENT_RANDOM {R2} {}\n\
             CLIENT_RANDOM nothex {ms}\n\
             CLIENT_RANDOM {R2}\n\
             CLIENT_RANDOM {R2} {ms} extra\n\
             CLIENT_TRAFFIC_SECRET_0 {R1} abc\n\
             SOME_FUTURE_LABEL {R1} 00\n\
             garbage\n\
             \u{fffd}\n",
            "cd".repeat(20)
        );
        let log = KeyLog::parse(text.as_bytes());
        assert_eq!(log.malformed(), 5);
        assert_eq!(log.connections(), 0);
    }

    #[test]
    fn overlong_lines_are_bounded_and_counted() {
        let mut log = KeyLog::new();
        let junk = vec![b'A'; 10 * MAX_LINE];
        log.push(&junk);
        log.push(&junk);
        assert!(log.partial.len() <= MAX_LINE);
        log.push(b"\n");
        let ms = "cd".repeat(48);
        log.push(format!("CLIENT_RANDOM {R2} {ms}\n").as_bytes());
        assert_eq!(log.malformed(), 1);
        assert!(log.get(&random(R2)).is_some());
    }

    #[test]
    fn debug_never_shows_secret_bytes() {
        let log = KeyLog::parse(sample().as_bytes());
        let c1 = log.get(&random(R1)).expect("R1");
        let shown = format!("{log:?} {c1:?}");
        assert!(!shown.contains("b3eddb"), "{shown}");
        assert!(!shown.contains("179, 237"), "{shown}");
        assert!(!shown.contains("abab"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
        let mut partial = KeyLog::new();
        partial.push(b"CLIENT_RANDOM 00 b3eddb");
        assert!(!format!("{partial:?}").contains("b3eddb"));
    }
}

/// A key log shared between whoever feeds it (key log files, a followed file in `live`, pcapng
/// Decryption Secrets Blocks) and the TLS layer that looks keys up. Cheap to clone (one
/// shared log); [`KeyStore::generation`] changes whenever secrets are added, so a connection
/// waiting for its keys knows when to look again.
#[derive(Clone, Default)]
pub struct KeyStore {
    log: std::sync::Arc<std::sync::Mutex<KeyLog>>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl KeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the log (a poisoned lock still holds a consistent log: pushes do not panic).
    fn with<R>(&self, f: impl FnOnce(&mut KeyLog) -> R) -> R {
        let mut guard = match self.log.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Adds key log bytes (see [`KeyLog::push`]).
    pub fn push(&self, bytes: &[u8]) {
        let added = self.with(|log| {
            let before = log.secrets();
            log.push(bytes);
            log.secrets() != before
        });
        if added {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    }

    /// Adds a whole key log text whose last line may lack a newline (a file read at once, a
    /// pcapng Decryption Secrets Block).
    pub fn push_complete(&self, text: &[u8]) {
        let added = self.with(|log| {
            let before = log.secrets();
            log.push(text);
            log.finish();
            log.secrets() != before
        });
        if added {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    }

    /// A copy of the secrets for the connection whose ClientHello carried `client_random`.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<ConnectionSecrets> {
        self.with(|log| log.get(client_random).cloned())
    }

    /// Changes whenever secrets are added.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// `(connections, secret lines, malformed lines)` so far.
    pub fn counts(&self) -> (usize, u64, u64) {
        self.with(|log| (log.connections(), log.secrets(), log.malformed()))
    }

    /// True when no secret was loaded.
    pub fn is_empty(&self) -> bool {
        self.with(|log| log.connections() == 0)
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (connections, secrets, malformed) = self.counts();
        f.debug_struct("KeyStore")
            .field("connections", &connections)
            .field("secrets", &secrets)
            .field("malformed", &malformed)
            .finish()
    }
}
