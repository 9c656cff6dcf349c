//! The TLS layer (`wsscope_core::tls::TlsFlow`) on the real TLS fixtures: each capture goes
//! through the core's capture reader, packet decoder and flow table, and every TCP
//! connection's stream events go to a `TlsFlow` with the fixture's key log. The plaintext must
//! be the HTTP upgrade (or the HTTP/2 preface) and WebSocket frames whose messages match the
//! peers' own logs (sha256 per message), with the handshake facts the generator set.

use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use wsscope_core::capture::CaptureReader;
use wsscope_core::finding::Code;
use wsscope_core::packet::PacketDecoder;
use wsscope_core::tcp::{Dir, FlowLimits, FlowTable, TcpEvent, Verdict};
use wsscope_core::timestamp::Timestamp;
use wsscope_core::tls::keylog::KeyStore;
use wsscope_core::tls::{NotDecryptedReason, TlsEvent, TlsFinding, TlsFlow, TlsInfo, TlsLimits};

const C2S: Dir = Dir::ClientToServer;
const S2C: Dir = Dir::ServerToClient;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn keylog(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("{name}.keylog"))).expect("key log")
}

fn store(text: &[u8]) -> KeyStore {
    let keys = KeyStore::new();
    keys.push_complete(text);
    keys
}

/// What one TCP stream carried, in capture order: data (per direction) and gaps.
#[derive(Clone, Debug)]
enum Piece {
    Data(Dir, Vec<u8>),
    Gap(Dir),
}

/// Every TCP connection of a capture, in the order they opened: its stream pieces. Keys of
/// Decryption Secrets Blocks go to `keys`.
fn streams(file: &str, keys: &KeyStore) -> Vec<Vec<Piece>> {
    let bytes = std::fs::read(fixture(file)).expect("capture");
    let reader = CaptureReader::new(&bytes)
        .expect("capture")
        .with_keys(keys.clone());
    let mut decoder = PacketDecoder::new();
    let mut table = FlowTable::new(FlowLimits::default());
    let mut order = Vec::new();
    let mut pieces: HashMap<_, Vec<Piece>> = HashMap::new();
    let mut last = Timestamp(0);
    let mut on_event = |ev: TcpEvent<'_>| {
        match ev {
            TcpEvent::Opened { flow, .. } => {
                order.push(flow);
                pieces.insert(flow, Vec::new());
            }
            TcpEvent::Data {
                flow, dir, bytes, ..
            } => {
                if let Some(p) = pieces.get_mut(&flow) {
                    p.push(Piece::Data(dir, bytes.to_vec()));
                }
            }
            TcpEvent::Gap { flow, dir, .. } => {
                if let Some(p) = pieces.get_mut(&flow) {
                    p.push(Piece::Gap(dir));
                }
            }
            _ => {}
        }
        Verdict::Continue
    };
    for packet in reader {
        last = packet.ts;
        let _ = decoder.decode(&packet, |seg| table.process(seg, &mut on_event));
    }
    table.finish(last, &mut on_event);
    order
        .into_iter()
        .map(|f| pieces.remove(&f).unwrap_or_default())
        .collect()
}

/// One connection through a `TlsFlow`.
struct Run {
    info: TlsInfo,
    events: Vec<TlsEvent>,
    done: bool,
    max_held: usize,
}

impl Run {
    fn plaintext(&self, dir: Dir) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let TlsEvent::Plaintext { from, bytes } = e {
                if *from == dir {
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    fn findings(&self) -> Vec<&TlsFinding> {
        self.events
            .iter()
            .filter_map(|e| match e {
                TlsEvent::Finding(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn lost(&self, dir: Dir) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, TlsEvent::Lost { from } if *from == dir))
    }

    /// `Ready` once, before any plaintext.
    fn check_ready(&self) {
        let ready: Vec<usize> = (0..self.events.len())
            .filter(|&i| self.events[i] == TlsEvent::Ready)
            .collect();
        assert_eq!(ready.len(), 1, "Ready once: {:?}", self.kinds());
        let first_plain = self
            .events
            .iter()
            .position(|e| matches!(e, TlsEvent::Plaintext { .. }));
        if let Some(p) = first_plain {
            assert!(ready[0] < p, "Ready before plaintext");
        }
    }

    fn kinds(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| match e {
                TlsEvent::Plaintext { from, bytes } => format!("{}:{}", from.as_str(), bytes.len()),
                other => format!("{other:?}"),
            })
            .collect()
    }
}

/// Feeds `pieces` to a new flow, each data piece cut into `cut(len)`-sized chunks; when
/// `keys_at` is given, the key log text is pushed into the (empty) store before that piece.
fn drive(
    pieces: &[Piece],
    keys: &KeyStore,
    limits: TlsLimits,
    late: Option<(usize, &[u8])>,
    mut cut: impl FnMut(usize) -> usize,
) -> Run {
    let mut flow = TlsFlow::new(limits);
    let mut events = Vec::new();
    let mut max_held = 0;
    for (i, piece) in pieces.iter().enumerate() {
        if let Some((at, text)) = late {
            if at == i {
                keys.push_complete(text);
            }
        }
        match piece {
            Piece::Data(dir, bytes) => {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let n = cut(rest.len()).clamp(1, rest.len());
                    flow.feed(*dir, &rest[..n], keys, &mut events);
                    rest = &rest[n..];
                    max_held = max_held.max(flow.held());
                }
            }
            Piece::Gap(dir) => flow.gap(*dir, &mut events),
        }
    }
    flow.finish(keys, &mut events);
    Run {
        info: flow.info().clone(),
        events,
        done: flow.is_done(),
        max_held,
    }
}

fn whole(pieces: &[Piece], keys: &KeyStore) -> Run {
    drive(pieces, keys, TlsLimits::default(), None, |n| n)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// WebSocket messages of one direction's frames: (type, payload), control frames included.
/// Panics unless the bytes are exactly whole frames.
fn ws_messages(mut b: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let mut partial: Option<(u8, Vec<u8>)> = None;
    while !b.is_empty() {
        assert!(b.len() >= 2, "cut frame header");
        let (fin, opcode) = (b[0] & 0x80 != 0, b[0] & 0x0f);
        let masked = b[1] & 0x80 != 0;
        let (mut len, mut at) = (u64::from(b[1] & 0x7f), 2);
        if len == 126 {
            len = u64::from(u16::from_be_bytes([b[2], b[3]]));
            at = 4;
        } else if len == 127 {
            len = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes"));
            at = 10;
        }
        let mask: [u8; 4] = if masked {
            let m = b[at..at + 4].try_into().expect("mask");
            at += 4;
            m
        } else {
            [0; 4]
        };
        let end = at + usize::try_from(len).expect("fits");
        assert!(end <= b.len(), "cut frame payload");
        let payload: Vec<u8> = b[at..end]
            .iter()
            .enumerate()
            .map(|(i, x)| x ^ mask[i % 4])
            .collect();
        b = &b[end..];
        let (opcode, payload) = match (opcode, partial.take()) {
            (0, Some((op, mut acc))) => {
                acc.extend(payload);
                (op, acc)
            }
            (op, _) => (op, payload),
        };
        if !fin {
            partial = Some((opcode, payload));
            continue;
        }
        let kind = match opcode {
            1 => "text",
            2 => "binary",
            8 => "close",
            9 => "ping",
            10 => "pong",
            other => panic!("opcode {other}"),
        };
        out.push((kind, payload));
    }
    assert!(partial.is_none(), "unfinished fragmented message");
    out
}

/// The peers' log of `name`.
fn peers(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{name}.peers.json"))).expect("peers");
    serde_json::from_str(&text).expect("peers JSON")
}

/// Checks `frames` of `dir` (optionally one h2 stream's) against the peers' messages.
fn check_messages(name: &str, peers: &Value, dir: Dir, stream: Option<u64>, frames: &[u8]) {
    let compare: Vec<&str> = peers["compare_types"]
        .as_array()
        .expect("compare_types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let want: Vec<(String, u64, String)> = peers["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["dir"] == dir.as_str() && stream.is_none_or(|s| m["stream_id"] == s))
        .map(|m| {
            (
                m["type"].as_str().unwrap_or("").to_string(),
                m["len"].as_u64().unwrap_or(0),
                m["sha256"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let messages = ws_messages(frames);
    assert_eq!(
        messages.last().map(|m| m.0),
        Some("close"),
        "{name} {dir:?} {stream:?}: ends with a close frame"
    );
    let got: Vec<(String, u64, String)> = messages
        .iter()
        .filter(|m| compare.contains(&m.0))
        .map(|(kind, p)| (kind.to_string(), p.len() as u64, sha256_hex(p)))
        .collect();
    assert!(!want.is_empty(), "{name}: peers log has messages");
    assert_eq!(got, want, "{name} {dir:?} stream {stream:?}");
}

/// The bytes after an HTTP head that starts with `start`.
fn after_head<'a>(name: &str, bytes: &'a [u8], start: &str) -> &'a [u8] {
    assert!(
        bytes.starts_with(start.as_bytes()),
        "{name}: plaintext starts with {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
    );
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    &bytes[end + 4..]
}

struct Expect {
    path: &'static str,
    version: u16,
    suite: u16,
    alpn: Option<&'static str>,
}

/// A wss fixture: one connection (the last one) carrying the upgrade and the peers' messages.
fn check_wss(file: &str, name: &str, keys: &KeyStore, want: Expect) -> Vec<Run> {
    let conns = streams(file, keys);
    let runs: Vec<Run> = conns.iter().map(|p| whole(p, keys)).collect();
    let run = runs.last().expect("a connection");
    run.check_ready();
    assert!(run.findings().is_empty(), "{name}: {:?}", run.findings());
    assert!(
        !run.lost(C2S) && !run.lost(S2C),
        "{name}: {:?}",
        run.kinds()
    );
    assert!(run.done, "{name}: done after finish");
    let info = &run.info;
    assert_eq!(info.version, Some(want.version), "{name}");
    assert_eq!(info.cipher_suite, Some(want.suite), "{name}");
    assert_eq!(info.sni.as_deref(), Some("localhost"), "{name}");
    assert_eq!(info.alpn.as_deref(), want.alpn, "{name}");
    assert!(info.decrypted, "{name}");
    let peers = peers(name);
    let c2s = run.plaintext(C2S);
    let s2c = run.plaintext(S2C);
    check_messages(
        name,
        &peers,
        C2S,
        None,
        after_head(name, &c2s, &format!("GET {} ", want.path)),
    );
    check_messages(
        name,
        &peers,
        S2C,
        None,
        after_head(name, &s2c, "HTTP/1.1 101 "),
    );
    runs
}

#[test]
fn tls13_aes256gcm() {
    let runs = check_wss(
        "py_tls13.pcap",
        "py_tls13",
        &store(&keylog("py_tls13")),
        Expect {
            path: "/chat",
            version: 0x0304,
            suite: 0x1302,
            alpn: None,
        },
    );
    assert_eq!(runs.len(), 1);
    assert!(!runs[0].info.resumed);
}

#[test]
fn tls12_aes128gcm() {
    let runs = check_wss(
        "py_tls12_aes128gcm.pcap",
        "py_tls12_aes128gcm",
        &store(&keylog("py_tls12_aes128gcm")),
        Expect {
            path: "/chat",
            version: 0x0303,
            suite: 0xc02f,
            alpn: None,
        },
    );
    assert!(!runs[0].info.resumed);
}

#[test]
fn tls12_chacha20_poly1305() {
    check_wss(
        "py_tls12_chacha.pcap",
        "py_tls12_chacha",
        &store(&keylog("py_tls12_chacha")),
        Expect {
            path: "/chat",
            version: 0x0303,
            suite: 0xcca8,
            alpn: None,
        },
    );
}

#[test]
fn tls12_rsa_aes256gcm_sha384_prf() {
    check_wss(
        "py_tls12_rsa_aes256gcm.pcap",
        "py_tls12_rsa_aes256gcm",
        &store(&keylog("py_tls12_rsa_aes256gcm")),
        Expect {
            path: "/chat",
            version: 0x0303,
            suite: 0x009d,
            alpn: None,
        },
    );
}

#[test]
fn tls12_cbc_encrypt_then_mac() {
    check_wss(
        "py_tls12_cbc.pcap",
        "py_tls12_cbc",
        &store(&keylog("py_tls12_cbc")),
        Expect {
            path: "/chat",
            version: 0x0303,
            suite: 0xc027,
            alpn: None,
        },
    );
}

#[test]
fn tls13_chacha20_node_wss() {
    check_wss(
        "node_wss.pcap",
        "node_wss",
        &store(&keylog("node_wss")),
        Expect {
            path: "/wss",
            version: 0x0304,
            suite: 0x1303,
            alpn: None,
        },
    );
}

#[test]
fn tls13_psk_resumption() {
    let runs = check_wss(
        "node_wss_resumed.pcap",
        "node_wss_resumed",
        &store(&keylog("node_wss_resumed")),
        Expect {
            path: "/wss",
            version: 0x0304,
            suite: 0x1301,
            alpn: None,
        },
    );
    assert_eq!(
        runs.len(),
        2,
        "an HTTPS GET, then the resumed wss connection"
    );
    let first = &runs[0];
    first.check_ready();
    assert!(first.findings().is_empty(), "{:?}", first.findings());
    assert!(
        !first.info.resumed,
        "the first connection is a full handshake"
    );
    assert!(first.plaintext(C2S).starts_with(b"GET /ticket "));
    assert!(first.plaintext(S2C).starts_with(b"HTTP/1.1 200 "));
    assert!(runs[1].info.resumed, "the second resumes with a PSK");
}

#[test]
fn tls13_keys_from_a_pcapng_decryption_secrets_block() {
    let keys = KeyStore::new();
    let runs = check_wss(
        "py_tls13_dsb.pcapng",
        "py_tls13_dsb",
        &keys,
        Expect {
            path: "/chat",
            version: 0x0304,
            suite: 0x1302,
            alpn: None,
        },
    );
    assert_eq!(runs.len(), 1);
    let (connections, secrets, malformed) = keys.counts();
    assert_eq!((connections, malformed), (1, 0));
    assert!(secrets >= 4, "the four TLS 1.3 traffic secrets: {secrets}");
}

#[test]
fn h2_over_tls13_with_alpn() {
    let name = "node_h2_tls";
    let keys = store(&keylog(name));
    let conns = streams("node_h2_tls.pcap", &keys);
    assert_eq!(conns.len(), 1);
    let run = whole(&conns[0], &keys);
    run.check_ready();
    assert!(run.findings().is_empty(), "{:?}", run.findings());
    assert_eq!(run.info.version, Some(0x0304));
    assert_eq!(run.info.cipher_suite, Some(0x1301));
    assert_eq!(run.info.alpn.as_deref(), Some("h2"));
    assert_eq!(run.info.alpn_offered, ["h2"]);
    assert_eq!(run.info.sni.as_deref(), Some("localhost"));
    assert!(run
        .plaintext(C2S)
        .starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));

    // The plaintext decodes as HTTP/2 whose WebSocket streams carry the peers' messages.
    use wsscope_core::h2::{Connection, H2Event, H2Limits};
    let mut h2 = Connection::new(H2Limits::default());
    let mut h2_events = Vec::new();
    for e in &run.events {
        if let TlsEvent::Plaintext { from, bytes } = e {
            h2.feed(*from, bytes, &mut h2_events);
        }
    }
    h2.finish(&mut h2_events);
    let mut data: HashMap<(u32, Dir), Vec<u8>> = HashMap::new();
    for e in &h2_events {
        match e {
            H2Event::StreamData {
                stream_id,
                from,
                bytes,
            } => data
                .entry((*stream_id, *from))
                .or_default()
                .extend_from_slice(bytes),
            H2Event::Finding(f) => panic!("h2 finding {f}"),
            _ => {}
        }
    }
    let peers = peers(name);
    for stream in [1u32, 3] {
        for dir in [C2S, S2C] {
            let bytes = data.get(&(stream, dir)).expect("stream data");
            check_messages(name, &peers, dir, Some(u64::from(stream)), bytes);
        }
    }
}

#[test]
fn no_key_for_the_client_random() {
    let keys = store(&keylog("py_tls13_nokey"));
    let conns = streams("py_tls13_nokey.pcap", &keys);
    assert_eq!(conns.len(), 1);
    let run = whole(&conns[0], &keys);
    run.check_ready();
    assert!(run.plaintext(C2S).is_empty() && run.plaintext(S2C).is_empty());
    assert!(!run.info.decrypted);
    assert_eq!(run.info.version, Some(0x0304));
    assert_eq!(run.info.sni.as_deref(), Some("localhost"));
    let findings = run.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].code(), Code::TlsNotDecrypted);
    let TlsFinding::NotDecrypted {
        from: None,
        reason:
            NotDecryptedReason::NoKey {
                client_random,
                connections: 1,
            },
        ..
    } = findings[0]
    else {
        panic!("{:?}", findings[0]);
    };
    let text = findings[0].to_string();
    let random: String = client_random.iter().map(|b| format!("{b:02x}")).collect();
    assert!(text.contains(&random), "{text}");
    assert!(text.contains("to localhost"), "{text}");
    assert!(text.contains("no key for its client random"), "{text}");
    assert!(run.lost(C2S) && run.lost(S2C));
    assert!(run.done);

    // No key log at all says so.
    let empty = KeyStore::new();
    let run = whole(&conns[0], &empty);
    let text = run.findings()[0].to_string();
    assert!(text.contains("no TLS key log holds any secret"), "{text}");
}

/// The key log text with the secret of `label` altered (one hex digit changed).
fn corrupt(text: &[u8], label: &str) -> Vec<u8> {
    let text = String::from_utf8(text.to_vec()).expect("text");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with(label) {
            let (head, last) = line.split_at(line.len() - 1);
            let flipped = if last == "0" { "1" } else { "0" };
            out.push_str(&format!("{head}{flipped}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// Every secret of a key log, in hex as it is written there.
fn secrets_hex(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_lowercase))
        .filter(|s| s.len() >= 32)
        .collect()
}

#[test]
fn wrong_tls13_server_traffic_secret_stops_that_direction() {
    let text = corrupt(&keylog("py_tls13"), "SERVER_TRAFFIC_SECRET_0");
    let keys = store(&text);
    let conns = streams("py_tls13.pcap", &keys);
    let run = whole(&conns[0], &keys);
    let findings = run.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let TlsFinding::DecryptFailed {
        from: S2C,
        record,
        error,
        ..
    } = findings[0]
    else {
        panic!("{:?}", findings[0]);
    };
    assert_eq!(*error, wsscope_core::tls::keys::KeyError::Authentication);
    assert!(*record > 1, "the handshake records opened: {record}");
    assert_eq!(findings[0].code(), Code::TlsDecryptFailed);
    let shown = findings[0].to_string();
    assert!(shown.contains("from the server"), "{shown}");
    assert!(shown.contains("decoding of s2c stopped"), "{shown}");
    for secret in secrets_hex(&text) {
        assert!(!shown.contains(&secret[..16]), "a secret in {shown}");
    }
    assert!(run.lost(S2C));
    assert!(run.plaintext(S2C).is_empty(), "no garbage plaintext");
    // The handshake was read with the (right) handshake secrets, and the client goes on.
    assert_eq!(run.info.version, Some(0x0304));
    assert!(!run.lost(C2S));
    let c2s = run.plaintext(C2S);
    check_messages(
        "py_tls13",
        &peers("py_tls13"),
        C2S,
        None,
        after_head("py_tls13", &c2s, "GET /chat "),
    );
}

#[test]
fn wrong_tls12_master_secret_stops_both_directions() {
    let text = corrupt(&keylog("py_tls12_aes128gcm"), "CLIENT_RANDOM");
    let keys = store(&text);
    let conns = streams("py_tls12_aes128gcm.pcap", &keys);
    let run = whole(&conns[0], &keys);
    let failed: Vec<Dir> = run
        .findings()
        .iter()
        .filter_map(|f| match f {
            TlsFinding::DecryptFailed { from, .. } => Some(*from),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [C2S, S2C], "{:?}", run.findings());
    assert!(run.plaintext(C2S).is_empty() && run.plaintext(S2C).is_empty());
    assert!(run.lost(C2S) && run.lost(S2C) && run.done);
}

#[test]
fn keys_incomplete_names_the_missing_secret() {
    let text: Vec<u8> = String::from_utf8(keylog("py_tls13"))
        .expect("text")
        .lines()
        .filter(|l| !l.starts_with("CLIENT_TRAFFIC_SECRET_0"))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    let keys = store(&text);
    let conns = streams("py_tls13.pcap", &keys);
    let run = whole(&conns[0], &keys);
    let findings = run.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(matches!(
        findings[0],
        TlsFinding::NotDecrypted {
            from: None,
            reason: NotDecryptedReason::KeysIncomplete {
                missing: "CLIENT_TRAFFIC_SECRET_0",
                ..
            },
            ..
        }
    ));
    assert!(run.plaintext(C2S).is_empty());
    // ALPN and the rest of the handshake were read before giving up.
    assert_eq!(run.info.cipher_suite, Some(0x1302));
}

#[test]
fn live_keys_arriving_late_are_waited_for() {
    for name in ["py_tls13", "py_tls12_cbc"] {
        let text = keylog(name);
        let offline = store(&text);
        let conns = streams(&format!("{name}.pcap"), &offline);
        let want = whole(&conns[0], &offline);
        // The keys arrive after half the stream pieces: the records wait, nothing is lost.
        let keys = KeyStore::new();
        let limits = TlsLimits {
            wait_for_keys: 1 << 20,
        };
        let late = drive(
            &conns[0],
            &keys,
            limits,
            Some((conns[0].len() / 2, &text)),
            |n| n,
        );
        assert!(late.findings().is_empty(), "{name}: {:?}", late.findings());
        assert_eq!(late.plaintext(C2S), want.plaintext(C2S), "{name}");
        assert_eq!(late.plaintext(S2C), want.plaintext(S2C), "{name}");
        assert!(late.max_held > 0, "{name}: records were held");
        late.check_ready();

        // Keys that never come: decided at the end, memory bounded by the limit meanwhile.
        let never = KeyStore::new();
        let run = drive(&conns[0], &never, limits, None, |n| n);
        assert_eq!(run.findings().len(), 1, "{name}");
        assert_eq!(run.findings()[0].code(), Code::TlsNotDecrypted);
        assert!(run.plaintext(C2S).is_empty());

        // A small wait bound gives up as soon as it is passed, not at the end.
        let small = TlsLimits {
            wait_for_keys: 2000,
        };
        let mut flow = TlsFlow::new(small);
        let mut events = Vec::new();
        let mut gave_up_at = None;
        for (i, p) in conns[0].iter().enumerate() {
            if let Piece::Data(dir, bytes) = p {
                flow.feed(*dir, bytes, &never, &mut events);
                assert!(
                    flow.held() <= 2000 + (1 << 15),
                    "{name}: held {}",
                    flow.held()
                );
                if gave_up_at.is_none() && flow.is_done() {
                    gave_up_at = Some(i);
                }
            }
        }
        assert!(gave_up_at.is_some_and(|i| i + 1 < conns[0].len()), "{name}");
        assert_eq!(flow.held(), 0);
    }
}

#[test]
fn a_gap_stops_its_direction() {
    let keys = store(&keylog("node_wss"));
    let conns = streams("node_wss.pcap", &keys);
    let full = whole(&conns[0], &keys);
    // Drop the middle of the server's last big data piece: a gap there.
    let mut pieces = conns[0].clone();
    let at = pieces
        .iter()
        .rposition(|p| matches!(p, Piece::Data(S2C, b) if b.len() > 100))
        .expect("server data");
    pieces.insert(at, Piece::Gap(S2C));
    pieces.remove(at + 1);
    let run = whole(&pieces, &keys);
    assert!(run.lost(S2C) && !run.lost(C2S));
    assert!(
        run.findings().is_empty(),
        "a gap is the layer below's finding"
    );
    let s2c = run.plaintext(S2C);
    assert!(s2c.len() < full.plaintext(S2C).len());
    assert!(
        full.plaintext(S2C).starts_with(&s2c),
        "what came before is intact"
    );
    assert_eq!(run.plaintext(C2S), full.plaintext(C2S));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Any segmentation of the same streams gives the same plaintext.
    #[test]
    fn segmentation_does_not_change_plaintext(
        fixture_index in 0usize..3,
        seed in any::<u64>(),
        max in 1usize..2000,
    ) {
        let name = ["py_tls13", "py_tls12_cbc", "node_wss"][fixture_index];
        let keys = store(&keylog(name));
        let conns = streams(&format!("{name}.pcap"), &keys);
        let want = whole(&conns[0], &keys);
        let mut state = seed | 1;
        let run = drive(&conns[0], &keys, TlsLimits::default(), None, |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % max as u64) as usize + 1
        });
        prop_assert_eq!(run.plaintext(C2S), want.plaintext(C2S));
        prop_assert_eq!(run.plaintext(S2C), want.plaintext(S2C));
        prop_assert!(run.findings().is_empty());
    }
}

/// `run_files` (the file driver every command uses) hands the keys of a pcapng's Decryption
/// Secrets Block to the configured key store.
#[test]
fn run_files_fills_the_configured_key_store_from_the_pcapng() {
    struct Quiet;
    impl wsscope_core::sink::Sink for Quiet {
        fn event(&mut self, _: &wsscope_core::analyzer::Event<'_>) -> std::io::Result<()> {
            Ok(())
        }
        fn finish(
            &mut self,
            _: &wsscope_core::totals::RunTotals,
            _: &[wsscope_core::totals::CaptureTotals],
        ) -> std::io::Result<()> {
            Ok(())
        }
    }
    let cfg = wsscope_core::analyzer::AnalyzerConfig::default();
    assert!(cfg.keys.is_empty());
    let path = fixture("py_tls13_dsb.pcapng").display().to_string();
    wsscope_core::pipeline::run_files(&[path], &cfg, &mut Quiet, &mut |_, _| {}).expect("run");
    assert_eq!(
        cfg.keys.counts().0,
        1,
        "the DSB's connection is in the store"
    );
    // A pcap has no secrets block: nothing is added.
    let cfg = wsscope_core::analyzer::AnalyzerConfig::default();
    let path = fixture("py_tls13.pcap").display().to_string();
    wsscope_core::pipeline::run_files(&[path], &cfg, &mut Quiet, &mut |_, _| {}).expect("run");
    assert!(cfg.keys.is_empty());
}

/// A capture that ends inside a record: what came before is intact, the cut record is lost.
#[test]
fn a_capture_cut_inside_a_record_loses_only_that_record() {
    let keys = store(&keylog("py_tls13"));
    let conns = streams("py_tls13.pcap", &keys);
    let full = whole(&conns[0], &keys);
    let mut pieces = conns[0].clone();
    let at = pieces
        .iter()
        .rposition(|p| matches!(p, Piece::Data(_, b) if b.len() > 30))
        .expect("data");
    let Piece::Data(dir, bytes) = &mut pieces[at] else {
        unreachable!()
    };
    let dir = *dir;
    bytes.truncate(bytes.len() - 3);
    pieces.truncate(at + 1);
    let run = whole(&pieces, &keys);
    assert!(run.findings().is_empty(), "{:?}", run.findings());
    assert!(run.lost(dir), "the cut record is lost");
    let (got, want) = (run.plaintext(dir), full.plaintext(dir));
    assert!(got.len() < want.len() && want.starts_with(&got));
}
