//! Third-party captures in ../shared/corpus (or `WSSCOPE_CORPUS`), checked against the facts in
//! its EXPECTED.md. The corpus is not part of the repository: when it is missing these tests
//! fail, naming the fix, instead of passing without having checked anything.

mod common;

use common::{codes, corpus_at, corpus_dir, payload, report_for};
use serde_json::Value;

fn corpus(name: &str) -> Value {
    report_for(&corpus_dir().join(name), &[])
}

fn messages(s: &Value) -> Vec<Value> {
    s["messages"].as_array().cloned().unwrap_or_default()
}

#[test]
fn basic_websockets_edge_browser_session() {
    let r = corpus("basic_websockets.pcap");
    let sessions = r["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s["client"]["ip"], "10.200.30.139");
    assert_eq!(s["client"]["port"], 55233);
    assert_eq!(s["server"]["ip"], "88.198.55.153");
    assert_eq!(s["server"]["port"], 80);
    let h = &s["handshake"];
    assert_eq!(h["request"]["method"], "GET");
    assert_eq!(h["request"]["target"], "/service");
    assert_eq!(h["key"], "dMPhrvRdHkSAyX3Vq/OfUg==");
    assert_eq!(h["accept"], "JG7BhlBFb45PjCvd6g2j1t86sUo=");
    assert_eq!(h["accept_valid"], true);
    assert_eq!(
        h["extensions"].as_array().map(Vec::len),
        Some(0),
        "server accepted no extension"
    );
    let msgs = messages(s);
    assert_eq!(msgs.len(), 17);
    assert!(msgs.iter().all(|m| m["type"] == "text" && m["frames"] == 1));
    let c2s: Vec<u64> = msgs
        .iter()
        .filter(|m| m["dir"] == "c2s")
        .filter_map(|m| m["len"].as_u64())
        .collect();
    assert_eq!(c2s, vec![8, 17, 6]);
    let s2c: Vec<&Value> = msgs.iter().filter(|m| m["dir"] == "s2c").collect();
    assert_eq!(s2c.len(), 14);
    assert_eq!(s2c[1]["text"], "version,hybi-draft-13");
    assert!(msgs.iter().any(|m| m["dir"] == "c2s"
        && m["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("version,"))));
    let severe: Vec<&Value> = s["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(
        severe.is_empty(),
        "only informational findings expected: {severe:?}"
    );
}

#[test]
fn compressed_server_inflates_with_context_takeover() {
    let r = corpus("compressed_server.pcap");
    let s = &r["sessions"][0];
    assert_eq!(s["client"]["ip"], "172.18.0.3");
    assert_eq!(s["client"]["port"], 36852);
    assert_eq!(s["server"]["port"], 5000);
    assert_eq!(s["handshake"]["request"]["target"], "/toggle");
    assert_eq!(s["handshake"]["response"]["status"], 101);
    assert_eq!(s["handshake"]["response"]["reason"], "");
    assert_eq!(s["handshake"]["deflate"]["client_max_window_bits"], 15);
    let msgs = messages(s);
    let texts: Vec<String> = msgs
        .iter()
        .map(|m| String::from_utf8(payload(m)).expect("utf8"))
        .collect();
    assert_eq!(
        texts,
        vec![
            "KEY=07cb9559eff21e3e34f3bbd18240bac3",
            "TOGGLE=2d80b22edb3afc",
            "TOGGLE=4500a7ffb48985",
            "TOGGLE=76d45e8edea30f",
            "TOGGLE=10888608d2d9fd06",
            "TOGGLE=152841e843cbee15",
            "TOGGLE=95dc61fbd33e522b",
            "TOGGLE=00eccbb15c84409d",
            "TOGGLE=c300e6a7ccf4",
            "TOGGLE=5659131662f54334",
        ]
    );
    assert!(msgs
        .iter()
        .all(|m| m["dir"] == "s2c" && m["compressed"] == true && m["type"] == "text"));
}

#[test]
fn control_frame_between_fragments_evasion_case() {
    let r = corpus("control_frame_between_fragments.pcap");
    let s = &r["sessions"][0];
    assert_eq!(s["client"]["ip"], "10.0.0.1");
    assert_eq!(s["handshake"]["request"]["target"], "/chat");
    assert_eq!(s["handshake"]["accept_valid"], true);
    let key_findings: Vec<&Value> = s["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "key-invalid")
        .collect();
    assert_eq!(key_findings.len(), 1);
    assert!(key_findings[0]["detail"]
        .as_str()
        .unwrap_or("")
        .contains("18 bytes"));
    let msgs = messages(s);
    let kinds: Vec<(String, String)> = msgs
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap_or("").into(),
                m["type"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| k.1 == "text").count(), 1);
    assert!(kinds.contains(&("c2s".into(), "ping".into())));
    assert!(kinds.contains(&("s2c".into(), "pong".into())));
    assert_eq!(
        msgs.len(),
        3,
        "exactly one text, one ping, one pong: {kinds:?}"
    );
    let text = msgs.iter().find(|m| m["type"] == "text").expect("text");
    assert_eq!(text["frames"], 2);
    assert_eq!(text["len"], 48);
    assert!(text["text"]
        .as_str()
        .unwrap_or("")
        .contains("MALWARE_DOWNLOAD cmd.exe /c powershell"));
}

#[test]
fn unmasked_client_ping_and_abrupt_close() {
    let r = corpus("unmasked_client_ping.pcap");
    let sessions = r["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1, "the second connection is not WebSocket");
    let s = &sessions[0];
    assert_eq!(s["client"]["port"], 55371);
    assert_eq!(s["handshake"]["key"], "x3JJHMbDL1EzLkh9GBhXDw==");
    assert_eq!(s["handshake"]["accept"], "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    assert_eq!(s["handshake"]["accept_valid"], true);
    let found = codes(&s["findings"]);
    assert!(
        found.contains(&"unmasked-client-frame".to_string()),
        "{found:?}"
    );
    assert!(found.contains(&"abrupt-close".to_string()), "{found:?}");
    let msgs = messages(s);
    let seq: Vec<(String, String, u64)> = msgs
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap_or("").into(),
                m["type"].as_str().unwrap_or("").into(),
                m["len"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        seq,
        vec![
            ("c2s".into(), "ping".into(), 0),
            ("s2c".into(), "text".into(), 5),
            ("s2c".into(), "pong".into(), 0)
        ]
    );
    // The server's text is the JSON string "who" (quotes included: 5 bytes).
    assert_eq!(msgs[1]["text"], "\"who\"");
    assert_eq!(s["close"]["state"], "abrupt");
    assert_eq!(s["close"]["tcp"], "rst");
    assert_eq!(s["close"]["tcp_closer"], "c2s");
    // The flow listing shows both connections, the second as plain TCP.
    let dir = corpus_dir();
    let out = common::wsscope([
        "flows".to_string(),
        "--json".into(),
        "-".into(),
        dir.join("unmasked_client_ping.pcap").display().to_string(),
    ]);
    let flows: Value = serde_json::from_slice(&out.stdout).expect("flows JSON");
    let classes: Vec<(u64, String)> = flows["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| {
            (
                f["client"]["port"].as_u64().unwrap_or(0),
                f["classification"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        vec![(55371, "websocket".into()), (55392, "other".into())]
    );
}

/// Without the corpus the tests above fail with a message naming the fix, not a silent pass.
#[test]
fn a_missing_corpus_is_an_error_naming_the_fix() {
    let missing = common::root().join("no-such-corpus");
    let err = corpus_at(Some(missing)).expect_err("missing corpus");
    assert!(err.contains("no-such-corpus"), "{err}");
    assert!(err.contains("WSSCOPE_CORPUS"), "{err}");
    assert!(corpus_at(Some(common::root().join("fixtures"))).is_err());
}
