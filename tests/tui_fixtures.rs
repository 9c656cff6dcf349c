//! The fixtures the terminal UI's end-to-end tests run on (node_debug, py_many,
//! py_inflate_fail, py_midstream; made by fixtures/gen/generate.sh), checked through
//! `wsscope analyze --ndjson`: the facts those tests rely on hold.

mod common;

use common::{payload, root, sha256_hex, wsscope};
use serde_json::Value;

/// The NDJSON events of `wsscope analyze --ndjson --payload full` on fixture `name`, and the
/// raw output.
fn ndjson(name: &str) -> (Vec<Value>, String) {
    let pcap = root().join("fixtures").join(format!("{name}.pcap"));
    let out = wsscope([
        "analyze".as_ref(),
        "--ndjson".as_ref(),
        "--payload".as_ref(),
        "full".as_ref(),
        pcap.as_os_str(),
    ]);
    assert!(out.status.success(), "{name}: {out:?}");
    let raw = String::from_utf8(out.stdout).expect("NDJSON is UTF-8");
    let events = raw
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    (events, raw)
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event_type"] == kind).collect()
}

fn text(m: &Value) -> &str {
    m["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {m}"))
}

fn peers(name: &str) -> Value {
    let path = root().join("fixtures").join(format!("{name}.peers.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("peers log")).expect("peers JSON")
}

#[test]
fn node_debug_holds_each_payload_the_inspector_is_tested_on_in_order() {
    let (events, raw) = ndjson("node_debug");
    assert_eq!(of_type(&events, "session_start").len(), 1);
    let messages = of_type(&events, "message");
    let summary: Vec<(&str, &str, u64)> = messages
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap_or(""),
                m["type"].as_str().unwrap_or(""),
                m["len"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    let big_len = messages[1]["len"].as_u64().unwrap_or(0);
    assert!(
        (100 * 1024 - 200..=100 * 1024).contains(&big_len),
        "{big_len}"
    );
    assert_eq!(
        summary,
        [
            ("c2s", "text", 6000),
            ("s2c", "text", big_len),
            ("c2s", "text", 70),
            ("s2c", "text", 49),
            ("c2s", "text", 2),
            ("c2s", "text", 34),
            ("s2c", "text", 16),
            ("c2s", "text", 0),
            ("c2s", "ping", 16),
            ("s2c", "pong", 16),
            ("s2c", "binary", 300),
            ("c2s", "text", 36),
            ("s2c", "close", 12),
            ("c2s", "close", 12),
        ]
    );
    for m in &messages {
        assert_eq!(m["truncated"], false, "{m}");
        assert_eq!(m["compressed"], false, "{m}");
        assert_eq!(m["inflate_failed"], false, "{m}");
    }
    let long = text(messages[0]);
    assert!(!long.contains('\n') && long.ends_with("END-OF-LONG-LINE"));
    let big = text(messages[1]);
    assert!(!big.contains('\n') && big.ends_with(r#""tail_marker":"END-OF-BIG-JSON"}"#));
    assert_eq!(
        text(messages[2]),
        r#"{"b":1,"a":2,"a":3,"big":12345678901234567890123,"price":1.10,"e":1E5}"#
    );
    let socket_io: Vec<&str> = messages[3..7].iter().map(|m| text(m)).collect();
    assert_eq!(
        socket_io,
        [
            r#"0{"sid":"abc","upgrades":[],"pingInterval":25000}"#,
            "40",
            r#"42["chat",{"user":"ann","n":1.50}]"#,
            r#"430[{"ok":true}]"#,
        ]
    );
    assert_eq!(text(messages[7]), "");
    let counting: Vec<u8> = (0..16).collect();
    assert_eq!(payload(messages[8]), counting);
    assert_eq!(payload(messages[9]), counting, "the pong echoes the ping");
    assert!(messages[9]["rtt_ms"].is_number());
    // The binary is the one the server logged.
    let sent = peers("node_debug");
    let logged = sent["messages"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["type"] == "binary"))
        .expect("the binary in the peers' log");
    assert_eq!(sha256_hex(&payload(messages[10])), logged["sha256"]);
    // The escape attempt is kept exactly, and never reaches the output raw.
    assert_eq!(
        text(messages[11]),
        "title \u{1b}]0;pwned\u{7} and bidi \u{202e}gnp.exe"
    );
    assert!(!raw.contains('\u{1b}') && !raw.contains('\u{7}') && !raw.contains('\u{202e}'));
    let end = of_type(&events, "session_end");
    let close = &end[0]["close"];
    assert_eq!(
        (&close["code"], &close["reason"], &close["initiator"]),
        (&4001.into(), &"debug done".into(), &"s2c".into())
    );
}

#[test]
fn py_many_has_30_sessions_and_the_needle_only_in_session_17() {
    let (events, _) = ndjson("py_many");
    let starts = of_type(&events, "session_start");
    let paths: Vec<String> = starts
        .iter()
        .map(|s| {
            s["handshake"]["request"]["target"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let want: Vec<String> = (1..=30).map(|n| format!("/room/{n}")).collect();
    assert_eq!(paths, want);
    let session_of = |path: &str| {
        let s = starts
            .iter()
            .find(|s| s["handshake"]["request"]["target"] == path);
        s.expect("session")["session"].clone()
    };
    let needle_sessions: Vec<&Value> = of_type(&events, "message")
        .into_iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.contains("NEEDLE-IN-SESSION-17"))
        })
        .map(|m| &m["session"])
        .collect();
    assert_eq!(needle_sessions.len(), 2, "the client's text and its echo");
    assert!(needle_sessions
        .iter()
        .all(|s| **s == session_of("/room/17")));
    // Every session's texts name its own room.
    for m in of_type(&events, "message") {
        if let Some(t) = m["text"].as_str().filter(|_| m["type"] == "text") {
            let room: u64 = t
                .strip_prefix("room-")
                .and_then(|r| r.split('-').next())
                .and_then(|n| n.parse().ok())
                .expect("room-N-msg-K");
            assert_eq!(m["session"], session_of(&format!("/room/{room}")), "{t}");
        }
    }
    let ends = of_type(&events, "session_end");
    assert_eq!(ends.len(), 30);
    let kicked: Vec<&Value> = ends
        .iter()
        .filter(|e| e["close"]["code"] == 4000 && e["close"]["reason"] == "kicked")
        .map(|e| &e["session"])
        .collect();
    assert_eq!(kicked.len(), 5);
    let reset: Vec<&&Value> = ends.iter().filter(|e| e["close"]["tcp"] == "rst").collect();
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0]["close"]["state"], "abrupt");
    assert_eq!(reset[0]["session"], session_of("/room/12"));
}

#[test]
fn py_inflate_fail_has_a_message_that_did_not_inflate() {
    let (events, _) = ndjson("py_inflate_fail");
    let messages = of_type(&events, "message");
    let good = messages[0];
    assert_eq!(
        (good["compressed"].clone(), good["inflate_failed"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(
        text(good),
        "this text was compressed with permessage-deflate"
    );
    assert!(good.get("inflate_error").is_none());
    let failed: Vec<&&Value> = messages
        .iter()
        .filter(|m| m["inflate_failed"] == true)
        .collect();
    assert_eq!(failed.len(), 1, "{messages:?}");
    let failed = failed[0];
    assert_eq!(
        (&failed["dir"], &failed["type"]),
        (&"s2c".into(), &"text".into())
    );
    assert_eq!(failed["wire_len"], 5);
    let why = failed["inflate_error"]
        .as_str()
        .expect("the reason, in words");
    assert!(
        why.starts_with("the inflater failed: corrupt DEFLATE data"),
        "{why}"
    );
    assert!(of_type(&events, "finding")
        .iter()
        .any(|f| f["code"] == "decompression-failed"));
    // The text transcript says so in words rather than showing an empty message.
    let pcap = root().join("fixtures/py_inflate_fail.pcap");
    let out = wsscope(["analyze".as_ref(), "--messages".as_ref(), pcap.as_os_str()]);
    let transcript = String::from_utf8_lossy(&out.stdout);
    let line = transcript
        .lines()
        .find(|l| l.contains("[deflate] (not inflated"));
    let line = line.unwrap_or_else(|| panic!("{transcript}"));
    assert!(
        line.contains("(not inflated, 5 B compressed: the inflater failed: corrupt DEFLATE data"),
        "{line}"
    );
}

#[test]
fn py_midstream_is_decoded_without_its_handshake() {
    let (events, _) = ndjson("py_midstream");
    let starts = of_type(&events, "session_start");
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["handshake"], Value::Null);
    assert_eq!(starts[0]["tcp_began"], "midstream");
    let texts: Vec<&str> = of_type(&events, "message")
        .into_iter()
        .filter(|m| m["type"] == "text")
        .map(text)
        .collect();
    assert_eq!(texts.len(), 8);
    for (i, t) in texts.iter().enumerate() {
        let k = i / 2 + 1;
        assert_eq!(
            *t,
            format!("midstream message {k}: captured without the handshake")
        );
    }
    let end = of_type(&events, "session_end");
    assert_eq!(end[0]["close"]["code"], 1000);
}
