//! `wss://` and WebSockets over HTTP/2 on the real-peer fixtures (made by
//! fixtures/gen/generate.sh): every message of every session must match the peers' own logs
//! (direction, type, length, SHA-256), with the TLS facts the generator set, and without keys
//! the user is told what to fix.

mod common;

use common::{codes, payload, report_for, root, sha256_hex, wsscope};
use serde_json::Value;
use std::path::PathBuf;

fn fixture(file: &str) -> PathBuf {
    root().join("fixtures").join(file)
}

fn peers(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{name}.peers.json"))).expect("peers");
    serde_json::from_str(&text).expect("peers JSON")
}

/// `(type, len, sha256)` of the peers' messages in `dir` (of `stream`, for HTTP/2).
fn expected(peers: &Value, dir: &str, stream: Option<u64>) -> Vec<(String, u64, String)> {
    peers["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["dir"] == dir && stream.is_none_or(|id| m["stream_id"] == id))
        .map(|m| {
            (
                m["type"].as_str().unwrap_or("").to_string(),
                m["len"].as_u64().unwrap_or(0),
                m["sha256"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The same for a reported session, restricted to the types the peers logged.
fn decoded(session: &Value, dir: &str, compare: &[&str]) -> Vec<(String, u64, String)> {
    session["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["dir"] == dir && compare.contains(&m["type"].as_str().unwrap_or("")))
        .map(|m| {
            assert_eq!(m["incomplete"], false, "message {m} incomplete");
            (
                m["type"].as_str().unwrap_or("").to_string(),
                m["len"].as_u64().unwrap_or(0),
                sha256_hex(&payload(m)),
            )
        })
        .collect()
}

fn compare_types(peers: &Value) -> Vec<&str> {
    peers["compare_types"]
        .as_array()
        .expect("compare_types")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

fn assert_close(session: &Value, close: &Value, what: &str) {
    let c = &session["close"];
    assert_eq!(c["state"], "closed", "{what}: close state in {c}");
    assert_eq!(c["code"], close["code"], "{what}: close code");
    assert_eq!(c["reason"], close["reason"], "{what}: close reason");
    assert_eq!(c["initiator"], close["initiator"], "{what}: initiator");
}

fn no_warnings(session: &Value, what: &str) {
    let bad: Vec<&Value> = session["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(bad.is_empty(), "{what}: unexpected findings {bad:?}");
}

/// Checks an HTTP/1.1 wss fixture against its peers' log and returns its one upgraded session.
fn check_wss(name: &str, capture: &str, extra: &[&str]) -> (Value, Value) {
    let peers = peers(name);
    let report = report_for(&fixture(capture), extra);
    let sessions: Vec<&Value> = report["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["handshake"]["response"]["status"] == 101)
        .collect();
    assert_eq!(sessions.len(), 1, "{name}: one upgraded session expected");
    let session = sessions[0].clone();
    assert_eq!(session["transport"], "http1");
    assert_eq!(session["stream_id"], Value::Null);
    assert_eq!(session["handshake"]["accept_valid"], true, "{name}");
    assert_eq!(
        session["tls"]["decrypted"], true,
        "{name}: {}",
        session["tls"]
    );
    let compare = compare_types(&peers);
    for dir in ["c2s", "s2c"] {
        assert_eq!(
            decoded(&session, dir, &compare),
            expected(&peers, dir, None),
            "{name}: {dir} messages differ from the peers' logs"
        );
    }
    assert_close(&session, &peers["close"], name);
    no_warnings(&session, name);
    let warnings: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(warnings.is_empty(), "{name}: findings {warnings:?}");
    (report, session)
}

fn keylog_args(name: &str) -> Vec<String> {
    vec![
        "--tls-keylog".into(),
        fixture(&format!("{name}.keylog")).display().to_string(),
    ]
}

fn wss(name: &str) -> Value {
    let args = keylog_args(name);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check_wss(name, &format!("{name}.pcap"), &args).1
}

#[test]
fn python_websockets_over_tls13_aes256gcm() {
    let s = wss("py_tls13");
    let tls = &s["tls"];
    assert_eq!(tls["version"], "TLS 1.3");
    assert_eq!(tls["cipher_suite"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(tls["resumed"], false);
    assert!(tls["sni"].is_string(), "{tls}");
}

#[test]
fn python_websockets_over_tls12_ecdhe_aes128gcm() {
    let s = wss("py_tls12_aes128gcm");
    assert_eq!(s["tls"]["version"], "TLS 1.2");
    assert_eq!(
        s["tls"]["cipher_suite"],
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    );
}

#[test]
fn python_websockets_over_tls12_chacha20() {
    let s = wss("py_tls12_chacha");
    assert_eq!(
        s["tls"]["cipher_suite"],
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
    );
}

#[test]
fn python_websockets_over_tls12_rsa_aes256gcm_sha384_prf() {
    let s = wss("py_tls12_rsa_aes256gcm");
    assert_eq!(s["tls"]["cipher_suite"], "TLS_RSA_WITH_AES_256_GCM_SHA384");
}

#[test]
fn python_websockets_over_tls12_cbc_with_encrypt_then_mac() {
    let s = wss("py_tls12_cbc");
    assert_eq!(
        s["tls"]["cipher_suite"],
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
    );
}

#[test]
fn node_ws_over_https() {
    let s = wss("node_wss");
    assert_eq!(s["tls"]["version"], "TLS 1.3");
    assert_eq!(s["tls"]["alpn"], Value::Null);
}

#[test]
fn node_ws_over_a_resumed_tls13_session() {
    let s = wss("node_wss_resumed");
    assert_eq!(s["tls"]["resumed"], true, "{}", s["tls"]);
}

#[test]
fn keys_embedded_in_pcapng_need_no_flag() {
    let (_, s) = check_wss("py_tls13_dsb", "py_tls13_dsb.pcapng", &[]);
    assert_eq!(s["tls"]["version"], "TLS 1.3");
}

#[test]
fn sslkeylogfile_environment_variable_is_read() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(["analyze", "--json", "-", "fixtures/py_tls13.pcap"])
        .current_dir(root())
        .env("SSLKEYLOGFILE", fixture("py_tls13.keylog"))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["summary"]["sessions"], 1, "{}", report["summary"]);
    assert_eq!(report["sessions"][0]["tls"]["decrypted"], true);
}

#[test]
fn without_keys_the_user_is_told_which_connection_and_why() {
    let args = keylog_args("py_tls13_nokey");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = report_for(&fixture("py_tls13_nokey.pcap"), &args);
    assert_eq!(report["summary"]["sessions"], 0);
    let findings = &report["findings"];
    assert!(
        codes(findings).contains(&"tls-not-decrypted".to_string()),
        "{findings}"
    );
    let detail = findings
        .as_array()
        .and_then(|f| f.iter().find(|f| f["code"] == "tls-not-decrypted"))
        .map(|f| f["detail"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    assert!(detail.contains("no key"), "{detail}");
    // The text report says it too, and flows classify the connection as TLS with its SNI.
    let flows = wsscope(["flows", "fixtures/py_tls13_nokey.pcap"]);
    let table = String::from_utf8_lossy(&flows.stdout);
    assert!(table.contains("tls"), "{table}");
    assert!(table.contains("TLS 1.3"), "{table}");
    assert!(table.contains("not-decrypted"), "{table}");
}

#[test]
fn a_key_for_another_connection_is_not_a_decryption() {
    // py_tls13_nokey's key log holds py_tls13's keys: py_tls13 itself decrypts with it.
    let args = keylog_args("py_tls13_nokey");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = report_for(&fixture("py_tls13.pcap"), &args);
    assert_eq!(report["summary"]["sessions"], 1);
}

#[test]
fn wrong_key_is_tls_decrypt_failed_and_decoding_stops_cleanly() {
    let text = std::fs::read_to_string(fixture("py_tls13.keylog")).expect("keylog");
    // Change one hex digit of every application traffic secret.
    let bad: String = text
        .lines()
        .map(|l| {
            if l.starts_with("SERVER_TRAFFIC_SECRET_0") || l.starts_with("CLIENT_TRAFFIC_SECRET_0")
            {
                let mut s = l.to_string();
                let last = s.pop().unwrap_or('0');
                s.push(if last == '0' { '1' } else { '0' });
                s
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = std::env::temp_dir().join(format!("wsscope-badkey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let keylog = dir.join("bad.keylog");
    std::fs::write(&keylog, bad).expect("write");
    let keylog = keylog.display().to_string();
    let report = report_for(&fixture("py_tls13.pcap"), &["--tls-keylog", &keylog]);
    let _ = std::fs::remove_dir_all(&dir);
    let all = serde_json::to_string(&report).expect("json");
    assert!(all.contains("tls-decrypt-failed"), "{all}");
    // No garbage reached the session layer: no message was decoded from undecryptable bytes.
    let messages: u64 = report["summary"]["messages"]["total"].as_u64().unwrap_or(0);
    assert_eq!(messages, 0, "{}", report["summary"]);
    // Secrets never appear in any output.
    for line in text.lines() {
        if let Some(secret) = line.split_whitespace().nth(2) {
            assert!(!all.contains(secret), "a secret leaked into the report");
        }
    }
}

#[test]
fn missing_keylog_file_is_a_one_line_error() {
    let out = wsscope([
        "analyze",
        "--tls-keylog",
        "no/such.keylog",
        "fixtures/py_tls13.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("no/such.keylog") && err.contains("no such file"),
        "{err}"
    );
}

/// Checks an HTTP/2 fixture: two RFC 8441 WebSocket streams and a plain GET on one connection.
fn check_h2(name: &str, extra: &[&str]) -> Value {
    let peers = peers(name);
    let report = report_for(&fixture(&format!("{name}.pcap")), extra);
    let sessions = report["sessions"].as_array().expect("sessions");
    let streams = peers["streams"].as_array().expect("streams");
    let websocket: Vec<&Value> = streams
        .iter()
        .filter(|s| s["kind"] == "websocket")
        .collect();
    assert_eq!(
        sessions.len(),
        websocket.len(),
        "{name}: one session per WebSocket stream"
    );
    let compare = compare_types(&peers);
    for want in websocket {
        let id = want["stream_id"].as_u64().expect("id");
        let s = sessions
            .iter()
            .find(|s| s["stream_id"] == id)
            .unwrap_or_else(|| panic!("{name}: no session for stream {id}"));
        assert_eq!(s["transport"], "h2");
        assert_eq!(s["handshake"]["request"]["method"], "CONNECT");
        assert_eq!(s["handshake"]["request"]["target"], want["path"]);
        assert_eq!(s["handshake"]["request"]["version"], "HTTP/2");
        assert_eq!(s["handshake"]["response"]["status"], want["status"]);
        assert_eq!(s["handshake"]["accept_valid"], Value::Null);
        for dir in ["c2s", "s2c"] {
            assert_eq!(
                decoded(s, dir, &compare),
                expected(&peers, dir, Some(id)),
                "{name}: stream {id} {dir} messages differ from the peers' logs"
            );
        }
        assert_close(s, &want["close"], &format!("{name} stream {id}"));
        no_warnings(s, name);
    }
    report
}

#[test]
fn node_http2_cleartext_two_websocket_streams_and_a_get() {
    let report = check_h2("node_h2c", &[]);
    for s in report["sessions"].as_array().expect("sessions") {
        assert_eq!(s["tls"], Value::Null);
    }
    let flows = wsscope(["flows", "--json", "-", "fixtures/node_h2c.pcap"]);
    let flows: Value = serde_json::from_slice(&flows.stdout).expect("flows JSON");
    assert_eq!(flows["flows"][0]["classification"], "websocket");
}

#[test]
fn node_http2_over_tls_with_alpn_h2() {
    let args = keylog_args("node_h2_tls");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = check_h2("node_h2_tls", &args);
    for s in report["sessions"].as_array().expect("sessions") {
        assert_eq!(s["tls"]["alpn"], "h2", "{}", s["tls"]);
        assert_eq!(s["tls"]["decrypted"], true);
    }
}

#[test]
fn text_report_names_the_carrier() {
    let out = wsscope(["analyze", "fixtures/node_h2c.pcap"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(h2c, stream 1)"), "{text}");
    assert!(text.contains("(h2c, stream 3)"), "{text}");
    assert!(text.contains("END_STREAM by server; clean"), "{text}");
    let out = wsscope([
        "analyze",
        "--tls-keylog",
        "fixtures/py_tls13.keylog",
        "fixtures/py_tls13.pcap",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(wss)"), "{text}");
    assert!(
        text.contains("tls        TLS 1.3 TLS_AES_256_GCM_SHA384"),
        "{text}"
    );
}

/// Rewrites a classic pcap with the last byte of packet `number` (1-based) flipped.
fn with_flipped_byte(pcap: &[u8], number: usize) -> Vec<u8> {
    let mut out = pcap.to_vec();
    let little = out[..4] == [0xd4, 0xc3, 0xb2, 0xa1];
    let mut at = 24;
    let mut n = 0;
    while at + 16 <= out.len() {
        let field = [out[at + 8], out[at + 9], out[at + 10], out[at + 11]];
        let caplen = if little {
            u32::from_le_bytes(field)
        } else {
            u32::from_be_bytes(field)
        } as usize;
        n += 1;
        if n == number {
            out[at + 16 + caplen - 1] ^= 0x01;
            break;
        }
        at += 16 + caplen;
    }
    out
}

/// A server record corrupted in the middle of the session: `tls-decrypt-failed`, the messages
/// before it decoded, nothing decoded from garbage, and the server is not blamed for a close
/// frame wsscope could no longer see.
#[test]
fn a_corrupt_record_stops_its_direction_without_blaming_the_peer() {
    let pcap = std::fs::read(fixture("py_tls13.pcap")).expect("pcap");
    // Packet 15 carries the server's echo of the 300-byte text.
    let bad = with_flipped_byte(&pcap, 15);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("corrupt.pcap");
    std::fs::write(&path, bad).expect("write");
    let args = keylog_args("py_tls13");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = report_for(&path, &args);
    let all = codes(&report["findings"]);
    assert!(all.contains(&"tls-decrypt-failed".to_string()), "{all:?}");
    assert!(
        !all.contains(&"close-handshake-incomplete".to_string()),
        "{all:?}"
    );
    assert!(!all.contains(&"abrupt-close".to_string()), "{all:?}");
    let s = &report["sessions"][0];
    let s2c: Vec<u64> = s["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["dir"] == "s2c")
        .map(|m| m["len"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        s2c,
        [14],
        "only the echo before the corrupt record: {s2c:?}"
    );
    let c2s = s["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["dir"] == "c2s")
        .count();
    assert_eq!(c2s, 7, "the client side still decodes in full");
}

/// Key logs that give nothing are said so on standard error, without failing the run: an
/// `SSLKEYLOGFILE` that does not exist (browsers make it on first use), and a file with no
/// secret in it (the wrong file given).
#[test]
fn key_logs_that_give_nothing_are_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.keylog");
    std::fs::write(&junk, "not a key log\nCLIENT_RANDOM zz\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(["analyze", "--tls-keylog"])
        .arg(&junk)
        .arg("fixtures/node_ping.pcap")
        .current_dir(root())
        .env("SSLKEYLOGFILE", dir.path().join("missing.log"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().any(|l| l.contains("SSLKEYLOGFILE")
            && l.contains("missing.log")
            && l.contains("no such file")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.contains("junk.keylog")
            && l.contains("no TLS secrets found")
            && l.contains("1 malformed")),
        "{err}"
    );
}
