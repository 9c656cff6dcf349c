//! Every real-client fixture (captured on loopback by fixtures/gen/generate.sh) must match the
//! peers' own logs message by message: direction, type, length and SHA-256 of the payload.

mod common;

use common::{codes, payload, report_for, root, sha256_hex, wsscope};
use serde_json::Value;

fn check_fixture(name: &str) -> Value {
    let pcap = root().join("fixtures").join(format!("{name}.pcap"));
    let peers: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures").join(format!("{name}.peers.json")))
            .expect("peers log"),
    )
    .expect("peers JSON");
    let report = report_for(&pcap, &["--max-message-size", "4000000"]);
    let sessions = report["sessions"].as_array().expect("sessions");
    let upgraded: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["handshake"]["response"]["status"] == 101)
        .collect();
    let compare: Vec<&str> = peers["compare_types"]
        .as_array()
        .expect("compare_types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let expected = peers["messages"].as_array().expect("messages");
    if expected.is_empty() {
        return report;
    }
    assert_eq!(upgraded.len(), 1, "{name}: one upgraded session expected");
    let session = upgraded[0];
    assert_eq!(
        session["handshake"]["accept_valid"], true,
        "{name}: accept must verify"
    );
    for dir in ["c2s", "s2c"] {
        let want: Vec<(String, u64, String)> = expected
            .iter()
            .filter(|m| m["dir"] == dir)
            .map(|m| {
                (
                    m["type"].as_str().unwrap_or("").to_string(),
                    m["len"].as_u64().unwrap_or(0),
                    m["sha256"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let got: Vec<(String, u64, String)> = session["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["dir"] == dir && compare.contains(&m["type"].as_str().unwrap_or("")))
            .map(|m| {
                assert_eq!(m["incomplete"], false, "{name}: message {m} incomplete");
                (
                    m["type"].as_str().unwrap_or("").to_string(),
                    m["len"].as_u64().unwrap_or(0),
                    sha256_hex(&payload(m)),
                )
            })
            .collect();
        assert_eq!(
            got, want,
            "{name}: {dir} messages differ from the peers' logs"
        );
    }
    if let Some(close) = peers["close"].as_object() {
        let c = &session["close"];
        assert_eq!(c["state"], "closed", "{name}: close state");
        assert_eq!(c["code"], close["code"], "{name}: close code");
        assert_eq!(c["reason"], close["reason"], "{name}: close reason");
        assert_eq!(
            c["initiator"], close["initiator"],
            "{name}: close initiator"
        );
    }
    let bad: Vec<&Value> = session["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(bad.is_empty(), "{name}: unexpected findings {bad:?}");
    report
}

#[test]
fn python_sizes_0_125_126_65535_65536_and_over_1mb() {
    let report = check_fixture("py_sizes");
    let lens: Vec<u64> = report["sessions"][0]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["dir"] == "c2s")
        .filter_map(|m| m["len"].as_u64())
        .collect();
    for len in [0, 125, 126, 65535, 65536, 1_100_000] {
        assert!(lens.contains(&len), "length {len} missing from {lens:?}");
    }
}

#[test]
fn python_deflate_with_context_takeover() {
    let report = check_fixture("py_deflate");
    let s = &report["sessions"][0];
    assert_eq!(
        s["handshake"]["deflate"]["server_no_context_takeover"],
        false
    );
    let compressed = s["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["compressed"] == true)
        .count();
    assert!(
        compressed >= 10,
        "most messages are compressed, got {compressed}"
    );
}

#[test]
fn python_deflate_no_context_takeover_both_ways() {
    let report = check_fixture("py_deflate_nct");
    let d = &report["sessions"][0]["handshake"]["deflate"];
    assert_eq!(d["server_no_context_takeover"], true);
    assert_eq!(d["client_no_context_takeover"], true);
    assert_eq!(d["client_max_window_bits"], 10);
}

#[test]
fn node_ping_pong_fragments_and_close_4000() {
    let report = check_fixture("node_ping");
    let msgs = report["sessions"][0]["messages"]
        .as_array()
        .expect("messages")
        .clone();
    let fragmented = msgs
        .iter()
        .find(|m| m["frames"] == 2)
        .expect("a 2-frame message");
    assert_eq!(fragmented["type"], "text");
    let pongs_with_rtt = msgs
        .iter()
        .filter(|m| m["type"] == "pong" && m["rtt_ms"].is_number())
        .count();
    assert_eq!(pongs_with_rtt, 2, "both pongs paired with their pings");
}

#[test]
fn node_deflate_fragmented_compressed() {
    check_fixture("node_deflate");
}

#[test]
fn headless_chromium_session() {
    let report = check_fixture("chromium");
    let h = &report["sessions"][0]["handshake"];
    let has_origin = h["request"]["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .any(|kv| {
            kv[0]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("origin"))
        });
    assert!(has_origin, "browsers send Origin");
}

#[test]
fn ipv6_loopback() {
    let report = check_fixture("py_ipv6");
    assert_eq!(report["sessions"][0]["client"]["ip"], "::1");
}

#[test]
fn linux_cooked_v1_and_v2() {
    let v1 = check_fixture("py_any_sll");
    assert_eq!(v1["captures"][0]["linktypes"][0], 113);
    let v2 = check_fixture("py_any_sll2");
    assert_eq!(v2["captures"][0]["linktypes"][0], 276);
}

#[test]
fn nanosecond_pcap() {
    let report = check_fixture("py_nanos");
    let ts = report["sessions"][0]["started"].as_str().expect("ts");
    assert!(
        ts.ends_with('Z') && ts.len() == "2026-01-01T00:00:00.000000Z".len(),
        "{ts}"
    );
}

#[test]
fn refused_upgrade_403() {
    let report = check_fixture("py_refused");
    let s = &report["sessions"][0];
    assert_eq!(s["handshake"]["response"]["status"], 403);
    assert_eq!(s["close"]["state"], "refused");
    // The refusal's end says how its TCP connection ended (it was shown as still open).
    assert_eq!(s["close"]["tcp"], "fin");
    assert_eq!(s["close"]["tcp_closer"], "s2c");
    assert!(codes(&s["findings"]).contains(&"upgrade-rejected".to_string()));
    assert_eq!(s["messages"].as_array().map(Vec::len), Some(0));
    // websockets' process_request answer: its body is shown (it is what the server said).
    let response = &s["handshake"]["response"];
    assert_eq!(response["body"], "Forbidden: no such endpoint\n");
    assert_eq!(response["body_len"], 28);
    // NDJSON: the body comes after the head, so the session's end carries it.
    let pcap = root().join("fixtures/py_refused.pcap");
    let out = wsscope(["analyze".as_ref(), "--ndjson".as_ref(), pcap.as_os_str()]);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    let start = lines.iter().find(|l| l["event_type"] == "session_start");
    let start = start.expect("session_start");
    assert!(start["handshake"]["response"].get("body").is_none());
    let end = lines.iter().find(|l| l["event_type"] == "session_end");
    let end = end.expect("session_end");
    assert_eq!(end["response_body"], "Forbidden: no such endpoint\n");
    assert_eq!(end["response_body_len"], 28);
    // Text: the refusal shows what the server said, escaped.
    let out = wsscope(["analyze".as_ref(), pcap.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  body       28 B: \"Forbidden: no such endpoint\\n\""),
        "{text}"
    );
}

#[test]
fn node_debug_matches_the_peers_logs() {
    // Every message, ping and pong agrees with the peers; the server closed 4001.
    let report = check_fixture("node_debug");
    assert_eq!(report["sessions"][0]["close"]["code"], 4001);
}
