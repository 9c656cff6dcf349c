//! The command line as users and CI jobs meet it: exit codes, one-line errors, output formats.

mod common;

use common::{root, wsscope};
use serde_json::Value;
use std::path::PathBuf;
use wsscope::testkit::ws::SAMPLE_KEY;
use wsscope::testkit::{Link, Session, UpgradeRequest, UpgradeResponse};

fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    (dir, path)
}

fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

fn hostile_capture() -> Vec<u8> {
    Session::new(Link::ethernet())
        .upgrade(
            &UpgradeRequest::new(SAMPLE_KEY),
            &UpgradeResponse::accepting(SAMPLE_KEY),
        )
        .client_text("innocent\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}txt.exe\u{0}")
        .server_text("ok")
        .close(1000)
        .pcap_bytes()
}

#[test]
fn missing_file_is_one_line_exit_2() {
    let out = wsscope(["analyze", "no/such/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("no/such/file.pcap") && lines[0].contains("No such file"),
        "{lines:?}"
    );
}

#[test]
fn empty_file_is_one_line_exit_2() {
    let (_d, path) = temp_file("empty.pcap", b"");
    let out = wsscope(["analyze".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("empty.pcap") && lines[0].contains("empty"),
        "{lines:?}"
    );
}

#[test]
fn directory_is_one_line_exit_2() {
    let out = wsscope(["analyze", "fixtures"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("fixtures") && lines[0].contains("directory"),
        "{lines:?}"
    );
}

#[test]
fn not_a_pcap_is_one_line_exit_2() {
    let out = wsscope(["analyze", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("Cargo.toml") && lines[0].contains("not a pcap"),
        "{lines:?}"
    );
}

#[test]
fn bad_file_among_good_ones_still_reports_the_good_ones() {
    let out = wsscope([
        "analyze",
        "--json",
        "-",
        "no-such.pcap",
        "fixtures/node_ping.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["sessions"].as_array().map(Vec::len), Some(1));
}

#[test]
fn file_cut_mid_record_keeps_what_precedes_with_a_warning() {
    let full = std::fs::read(root().join("fixtures/node_ping.pcap")).expect("fixture");
    let (_d, path) = temp_file("cut.pcap", &full[..full.len() - 30]);
    let out = wsscope([
        "analyze".as_ref(),
        "--json".as_ref(),
        "-".as_ref(),
        path.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let top: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(top.contains(&"capture-truncated"), "{top:?}");
    assert!(!report["captures"][0]["warnings"]
        .as_array()
        .expect("warnings")
        .is_empty());
    assert!(
        report["sessions"][0]["messages"]
            .as_array()
            .expect("messages")
            .len()
            >= 7
    );
}

#[test]
fn fail_on_severity_and_code() {
    // node_ping has only an info finding (origin-missing).
    assert_eq!(
        wsscope([
            "analyze",
            "-q",
            "--fail-on",
            "error",
            "fixtures/node_ping.pcap"
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        wsscope([
            "analyze",
            "-q",
            "--fail-on",
            "warning",
            "fixtures/node_ping.pcap"
        ])
        .status
        .code(),
        Some(0)
    );
    let out = wsscope([
        "analyze",
        "-q",
        "--fail-on",
        "info",
        "fixtures/node_ping.pcap",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("origin-missing"));
    assert_eq!(
        wsscope([
            "analyze",
            "-q",
            "--fail-on",
            "tcp-gap,origin-missing",
            "fixtures/node_ping.pcap"
        ])
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        wsscope([
            "analyze",
            "-q",
            "--fail-on",
            "tcp-gap",
            "fixtures/node_ping.pcap"
        ])
        .status
        .code(),
        Some(0)
    );
    let bad = wsscope([
        "analyze",
        "-q",
        "--fail-on",
        "warnings",
        "fixtures/node_ping.pcap",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown --fail-on item 'warnings'"));
}

#[test]
fn fail_on_error_catches_a_protocol_violation() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let capture = dir.join("unmasked_client_ping.pcap");
    let out = wsscope([
        "analyze".as_ref(),
        "-q".as_ref(),
        "--fail-on".as_ref(),
        "error".as_ref(),
        capture.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ndjson_streams_one_event_per_line_ending_with_summary() {
    let out = wsscope(["analyze", "--ndjson", "fixtures/node_ping.pcap"]);
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types.first(), Some(&"session_start"));
    assert_eq!(types.last(), Some(&"summary"));
    assert_eq!(types.iter().filter(|t| **t == "message").count(), 9);
    assert_eq!(types.iter().filter(|t| **t == "session_end").count(), 1);
    let first_msg = events
        .iter()
        .find(|e| e["event_type"] == "message")
        .expect("message");
    assert_eq!(first_msg["session"], 1);
    assert_eq!(first_msg["text"], "hello from the ws client");
    assert_eq!(
        events.last().map(|e| e["summary"]["messages"].clone()),
        Some(Value::from(9))
    );
}

#[test]
fn payload_modes() {
    let out = wsscope([
        "analyze",
        "--json",
        "-",
        "--payload",
        "none",
        "fixtures/node_ping.pcap",
    ]);
    let none: Value = serde_json::from_slice(&out.stdout).expect("json");
    let msgs = none["sessions"][0]["messages"]
        .as_array()
        .expect("messages")
        .clone();
    assert!(msgs
        .iter()
        .all(|m| m.get("text").is_none() && m.get("data_b64").is_none()));
    let out = wsscope([
        "analyze",
        "--json",
        "-",
        "--preview-bytes",
        "5",
        "fixtures/node_ping.pcap",
    ]);
    let preview: Value = serde_json::from_slice(&out.stdout).expect("json");
    let first = &preview["sessions"][0]["messages"][0];
    assert_eq!(first["text"], "hello");
    assert_eq!(first["truncated"], true);
    assert_eq!(first["len"], 24);
}

#[test]
fn hostile_payload_never_reaches_the_terminal_raw() {
    let (_d, path) = temp_file("hostile.pcap", &hostile_capture());
    let out = wsscope(["analyze".as_ref(), "--messages".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(text.contains("innocent\\u{1b}[2J"), "{text}");
    assert!(text.contains("\\u{202e}"), "{text}");
    assert!(!text
        .chars()
        .any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{202e}' || c == '\u{0}'));
    let out = wsscope(["analyze".as_ref(), "--ndjson".as_ref(), path.as_os_str()]);
    let raw = String::from_utf8(out.stdout).expect("utf8");
    assert!(!raw.chars().any(|c| c == '\u{1b}' || c == '\u{202e}'));
    let texts: Vec<String> = raw
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["text"].as_str().map(str::to_string))
        .collect();
    assert!(
        texts.iter().any(|t| t.contains('\u{202e}')),
        "JSON keeps the exact text, escaped: {texts:?}"
    );
}

#[test]
fn flows_lists_every_connection() {
    let out = wsscope([
        "flows",
        "fixtures/py_refused.pcap",
        "fixtures/node_ping.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().next().is_some_and(|l| l.starts_with("FLOW")));
    assert!(
        text.contains("websocket") && text.contains("http"),
        "{text}"
    );
    // One line per connection: the trailing ACKs after a close are no ghost connection.
    assert_eq!(text.lines().count(), 3, "{text}");
    let report = common::report_for(&root().join("fixtures/node_ping.pcap"), &[]);
    assert_eq!(report["captures"][0]["tcp_flows"], 1);
    assert_eq!(report["summary"]["tcp_flows"], 1);
}

#[test]
fn checked_in_schemas_match_the_types() {
    for kind in ["report", "events", "flows"] {
        let out = wsscope(["schema", kind]);
        let generated = String::from_utf8(out.stdout).expect("utf8");
        let checked_in = std::fs::read_to_string(root().join(format!("schema/{kind}.schema.json")))
            .expect("schema file");
        assert_eq!(
            generated.trim_end(),
            checked_in.trim_end(),
            "schema/{kind}.schema.json is stale: run `cargo run -- schema {kind} > schema/{kind}.schema.json`"
        );
    }
}

#[test]
fn codes_lists_every_finding_code() {
    let out = wsscope(["codes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for code in wsscope::finding::Code::ALL {
        assert!(text.contains(code.as_str()));
    }
}

#[test]
fn readme_documents_every_finding_code() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    for code in wsscope::finding::Code::ALL {
        assert!(
            readme.contains(&format!("`{}`", code.as_str())),
            "README lacks {}",
            code.as_str()
        );
    }
}
