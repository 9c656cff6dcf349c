//! The command line as users and CI jobs meet it: exit codes, one-line errors, output formats.

mod common;

use common::{root, wsscope};
use serde_json::Value;
use std::path::PathBuf;
use wsscope_testkit::ws::SAMPLE_KEY;
use wsscope_testkit::{Link, Session, UpgradeRequest, UpgradeResponse};

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

/// Regression: the text summary printed a capture's warning twice, as its `capture-truncated`
/// finding and again as a `warning:` line.
#[test]
fn text_summary_names_a_cut_capture_once() {
    let full = std::fs::read(root().join("fixtures/node_ping.pcap")).expect("fixture");
    let (_d, path) = temp_file("cut.pcap", &full[..full.len() - 30]);
    let out = wsscope(["analyze".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ends inside a record"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("warning capture-truncated"), "{text}");
    // ... and names the file once on that line.
    let name = path.display().to_string();
    assert_eq!(lines[0].matches(name.as_str()).count(), 1, "{text}");
}

/// The --fail-on line names the findings that matched the gate, not every finding of the run
/// (py_refused has a warning, upgrade-rejected, and an info, origin-missing).
#[test]
fn fail_on_lists_only_the_matching_findings() {
    let out = wsscope([
        "analyze",
        "-q",
        "--fail-on",
        "warning",
        "fixtures/py_refused.pcap",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wsscope: --fail-on matched (upgrade-rejected x1)\n"
    );
    let out = wsscope([
        "analyze",
        "-q",
        "--fail-on",
        "origin-missing",
        "fixtures/py_refused.pcap",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wsscope: --fail-on matched (origin-missing x1)\n"
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
    let capture = common::corpus_dir().join("unmasked_client_ping.pcap");
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
    let summary = events
        .last()
        .map(|e| e["summary"].clone())
        .expect("summary");
    assert_eq!(summary["data_messages"], 3, "text 2, binary 1");
    assert_eq!(summary["control_frames"], 6, "ping 2, pong 2, close 2");
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

/// A connection captured mid-stream whose first packet is the server's, with the client on the
/// lower port: the flow table's first guess names the server the client, and the masked frames
/// correct it. `flows` and `analyze` name the same client and server and count each direction's
/// bytes the same way round.
#[test]
fn flows_and_analyze_agree_on_roles_of_a_mid_stream_connection() {
    use wsscope_testkit::{pcap_bytes, Conversation, FrameSpec, PcapOptions};
    let client: std::net::SocketAddr = "10.0.0.1:1025".parse().expect("addr");
    let server: std::net::SocketAddr = "10.0.0.2:50000".parse().expect("addr");
    let mut conv = Conversation::new(client, server);
    let server_frames = [
        FrameSpec::text(&"s".repeat(300), None).encode(),
        FrameSpec::text("late reply", None).encode(),
    ];
    let client_frame = FrameSpec::text("late hello", Some([1, 2, 3, 4])).encode();
    conv.server_send(&server_frames[0]);
    conv.client_send(&client_frame);
    conv.server_send(&server_frames[1]);
    let bytes = pcap_bytes(PcapOptions::default(), &conv.into_packets());
    let (_d, path) = temp_file("midstream.pcap", &bytes);

    let out = wsscope([
        "flows".as_ref(),
        "--json".as_ref(),
        "-".as_ref(),
        path.as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flows: Value = serde_json::from_slice(&out.stdout).expect("flows JSON");
    let flow = &flows["flows"][0];
    let report = common::report_for(&path, &[]);
    let session = &report["sessions"][0];
    for (what, v) in [("flows", flow), ("analyze", session)] {
        assert_eq!(v["client"]["port"], 1025, "{what}: {v:#}");
        assert_eq!(v["server"]["port"], 50000, "{what}: {v:#}");
    }
    let wire_s2c: usize = server_frames.iter().map(Vec::len).sum();
    assert_eq!(flow["bytes_c2s"], client_frame.len(), "{flow:#}");
    assert_eq!(flow["bytes_s2c"], wire_s2c, "{flow:#}");
    assert_eq!(
        session["stats"]["bytes_c2s"],
        "late hello".len(),
        "{session:#}"
    );
    assert_eq!(
        session["stats"]["bytes_s2c"],
        300 + "late reply".len(),
        "{session:#}"
    );
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
    for code in wsscope_core::finding::Code::ALL {
        assert!(text.contains(code.as_str()));
    }
}

#[test]
fn readme_documents_every_finding_code() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    for code in wsscope_core::finding::Code::ALL {
        assert!(
            readme.contains(&format!("`{}`", code.as_str())),
            "README lacks {}",
            code.as_str()
        );
    }
}

/// Runs `wsscope ARGS` with standard output connected to a socket whose other end is already
/// closed: every write fails with a broken pipe, as under `| head` once head has exited.
fn wsscope_stdout_closed(args: &[&str]) -> std::process::Output {
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    drop(ours);
    std::process::Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(args)
        .current_dir(root())
        .stdout(std::process::Stdio::from(OwnedFd::from(theirs)))
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run wsscope")
}

#[test]
fn json_output_naming_an_input_is_refused_and_the_capture_kept() {
    let capture = std::fs::read(root().join("fixtures/node_ping.pcap")).expect("fixture");
    let (dir, path) = temp_file("in.pcap", &capture);
    let link = dir.path().join("other-name.pcap");
    std::fs::hard_link(&path, &link).expect("hard link");
    let spelled = dir.path().join(".").join("in.pcap");
    for output in [&path, &link, &spelled] {
        for cmd in ["analyze", "flows"] {
            let out = wsscope([
                cmd.as_ref(),
                "--json".as_ref(),
                output.as_os_str(),
                path.as_os_str(),
            ]);
            assert_eq!(out.status.code(), Some(2), "{cmd} {output:?}");
            let lines = stderr_lines(&out);
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(lines[0].contains("refusing"), "{lines:?}");
            assert!(out.stdout.is_empty());
            assert_eq!(std::fs::read(&path).expect("capture"), capture);
        }
    }
}

#[test]
fn failed_run_keeps_the_previous_report_and_a_good_one_replaces_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.json");
    std::fs::write(&report, "previous report\n").expect("write");
    for cmd in ["analyze", "flows"] {
        let out = wsscope([
            cmd.as_ref(),
            "--json".as_ref(),
            report.as_os_str(),
            "no-such.pcap".as_ref(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            std::fs::read_to_string(&report).expect("report"),
            "previous report\n",
            "{cmd}"
        );
        // A bad file among good ones is still a failed run: the report is not replaced.
        let out = wsscope([
            cmd.as_ref(),
            "--json".as_ref(),
            report.as_os_str(),
            "fixtures/node_ping.pcap".as_ref(),
            "Cargo.toml".as_ref(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            std::fs::read_to_string(&report).expect("report"),
            "previous report\n"
        );
    }
    // --fail-on matching (exit 1) is a successful run: the report is what CI inspects.
    let out = wsscope([
        "analyze".as_ref(),
        "--fail-on".as_ref(),
        "info".as_ref(),
        "--json".as_ref(),
        report.as_os_str(),
        "fixtures/node_ping.pcap".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(doc["sessions"].as_array().map(Vec::len), Some(1));
    // Nothing but the report is left in the directory (no temporary files).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("report.json")]);
}

#[test]
fn json_output_to_a_device_is_written_in_place() {
    let out = wsscope(["analyze", "--json", "/dev/null", "fixtures/node_ping.pcap"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
    use std::os::unix::fs::FileTypeExt;
    let null = std::fs::metadata("/dev/null").expect("null");
    assert!(null.file_type().is_char_device());
}

#[test]
fn fail_on_is_evaluated_when_stdout_closes_early() {
    // node_ping has an info finding (origin-missing): the gate matches, exit 1 wins.
    for extra in [
        &[][..],
        &["--messages"][..],
        &["--ndjson"][..],
        &["--json", "-"][..],
    ] {
        let mut args = vec!["analyze", "--fail-on", "info"];
        args.extend_from_slice(extra);
        args.push("fixtures/node_ping.pcap");
        let out = wsscope_stdout_closed(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("broken pipe"), "{lines:?}");
        assert!(lines[1].contains("--fail-on matched"), "{lines:?}");
    }
    // No match: the closed output is the error.
    let out = wsscope_stdout_closed(&["analyze", "--fail-on", "error", "fixtures/node_ping.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("broken pipe"), "{lines:?}");
}

#[test]
fn closed_stdout_is_an_error_without_fail_on() {
    for args in [
        &["analyze", "fixtures/node_ping.pcap"][..],
        &["analyze", "--ndjson", "fixtures/node_ping.pcap"][..],
        &["flows", "fixtures/node_ping.pcap"][..],
        &["codes"][..],
        &["schema", "report"][..],
        &["tui", "--measure-load", "fixtures/node_ping.pcap"][..],
    ] {
        let out = wsscope_stdout_closed(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("broken pipe"), "{lines:?}");
    }
}

#[test]
fn messages_with_json_on_stdout_is_an_error() {
    for args in [
        &[
            "analyze",
            "--messages",
            "--ndjson",
            "fixtures/node_ping.pcap",
        ][..],
        &[
            "analyze",
            "--messages",
            "--json",
            "-",
            "fixtures/node_ping.pcap",
        ][..],
        &["analyze", "--messages", "-q", "fixtures/node_ping.pcap"][..],
    ] {
        let out = wsscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("--messages"), "{lines:?}");
    }
}

#[test]
fn missing_input_prints_no_summary_or_empty_report() {
    for args in [
        &["analyze", "no/such/file.pcap"][..],
        &["analyze", "--json", "-", "no/such/file.pcap"][..],
        &["analyze", "--ndjson", "no/such/file.pcap"][..],
        &["flows", "no/such/file.pcap"][..],
        &["flows", "--json", "-", "no/such/file.pcap"][..],
    ] {
        let out = wsscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{args:?}");
        assert_eq!(stderr_lines(&out).len(), 1, "{args:?}");
    }
}

#[test]
fn control_characters_in_file_names_are_escaped_on_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let evil = "x\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}.pcap";
    let empty = dir.path().join(evil);
    std::fs::write(&empty, b"").expect("write");
    let garbage = dir.path().join(format!("g{evil}"));
    std::fs::write(&garbage, b"not a capture at all").expect("write");
    let missing = dir.path().join(format!("m{evil}"));
    let cut = dir.path().join(format!("c{evil}"));
    let full = std::fs::read(root().join("fixtures/node_ping.pcap")).expect("fixture");
    std::fs::write(&cut, &full[..full.len() - 30]).expect("write");
    let runs: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec![
            "analyze".as_ref(),
            empty.as_os_str(),
            garbage.as_os_str(),
            missing.as_os_str(),
        ],
        vec![
            "analyze".as_ref(),
            "--json".as_ref(),
            cut.as_os_str(),
            cut.as_os_str(),
        ],
        vec![
            "analyze".as_ref(),
            "--json".as_ref(),
            dir.path()
                .join("no/dir/r.json\u{1b}[1m")
                .into_os_string()
                .leak(),
            cut.as_os_str(),
        ],
        vec!["flows".as_ref(), missing.as_os_str()],
        vec!["tui".as_ref(), missing.as_os_str()],
    ];
    for args in runs {
        let out = wsscope(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.is_empty(), "{args:?}");
        assert!(
            !err.chars()
                .any(|c| wsscope_core::escape::is_unsafe_char(c) && c != '\n'),
            "{args:?}: {err:?}"
        );
        assert!(err.contains("\\u{1b}"), "{args:?}: {err:?}");
    }
}

/// The report of `capture` read from a regular file, with `path` as the capture's name.
fn report_with_path(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(out));
    let mut v: Value = serde_json::from_slice(&out.stdout).expect("json");
    for s in v["sessions"].as_array_mut().expect("sessions") {
        s["capture"] = Value::Null;
    }
    v["captures"][0]["path"] = Value::Null;
    v["tool"] = Value::Null;
    v
}

#[test]
fn capture_from_standard_input_and_a_fifo_is_streamed() {
    use std::io::Write as _;
    let file = "fixtures/node_ping.pcap";
    let bytes = std::fs::read(root().join(file)).expect("fixture");
    let want = report_with_path(&wsscope(["analyze", "--json", "-", file]));
    // Standard input: `-`.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(["analyze", "--json", "-", "-"])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = {
        let bytes = bytes.clone();
        std::thread::spawn(move || {
            for chunk in bytes.chunks(100) {
                stdin.write_all(chunk).expect("write");
            }
        })
    };
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    assert_eq!(report_with_path(&out), want);
    // A FIFO, as `<(...)` gives.
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("capture.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        let bytes = bytes.clone();
        std::thread::spawn(move || std::fs::write(fifo, bytes).expect("write fifo"))
    };
    let out = wsscope([
        "analyze".as_ref(),
        "--json".as_ref(),
        "-".as_ref(),
        fifo.as_os_str(),
    ]);
    writer.join().expect("writer");
    assert_eq!(report_with_path(&out), want);
    // And through a shell's process substitution, when bash is there.
    if std::path::Path::new("/bin/bash").exists() {
        let out = std::process::Command::new("/bin/bash")
            .arg("-c")
            .arg(format!(
                "exec '{}' flows --json - <(cat {file})",
                env!("CARGO_BIN_EXE_wsscope")
            ))
            .current_dir(root())
            .output()
            .expect("bash");
        assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
        let flows: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(flows["flows"].as_array().map(Vec::len), Some(1));
    }
    // An empty pipe is an empty capture: one line, exit 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(["analyze", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("empty"), "{lines:?}");
}

fn stdout_of(args: &[&str]) -> String {
    let out = wsscope(args);
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn text_close_line_says_who_closed_first_and_how_the_other_answered() {
    let text = stdout_of(&["analyze", "fixtures/node_ping.pcap"]);
    assert!(
        text.contains("  close      server closed first: 4000 private use by applications \"done here\", client answered 4000; TCP fin by server; clean\n"),
        "{text}"
    );
    let text = stdout_of(&["analyze", "fixtures/py_refused.pcap"]);
    assert!(
        text.contains("  close      upgrade refused (403)"),
        "{text}"
    );
}

#[test]
fn text_handshake_line_shows_the_negotiated_deflate_parameters() {
    let text = stdout_of(&["analyze", "fixtures/py_deflate.pcap"]);
    assert!(
        text.contains("extensions permessage-deflate (client window 12, server window 12)\n"),
        "{text}"
    );
    let text = stdout_of(&["analyze", "fixtures/py_deflate_nct.pcap"]);
    assert!(
        text.contains("permessage-deflate (client window 10, server window 12, client no context takeover, server no context takeover)"),
        "{text}"
    );
}

#[test]
fn text_handshake_line_with_an_empty_reason_phrase_has_no_dangling_comma() {
    let mut response = UpgradeResponse::accepting(SAMPLE_KEY);
    response.reason = String::new();
    let capture = Session::new(Link::ethernet())
        .upgrade(&UpgradeRequest::new(SAMPLE_KEY), &response)
        .client_text("hi")
        .close(1000)
        .pcap_bytes();
    let (_d, path) = temp_file("no-reason.pcap", &capture);
    let out = wsscope(["analyze".as_ref(), path.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  handshake  101, accept valid"), "{text}");
    assert!(!text.contains("101 ,"), "{text}");
}

#[test]
fn transcript_names_each_session_once() {
    let text = stdout_of(&["analyze", "--messages", "fixtures/node_ping.pcap"]);
    let titles = text.lines().filter(|l| l.starts_with("session 1 ")).count();
    assert_eq!(titles, 1, "{text}");
    assert!(
        text.contains(
            "session 1  127.0.0.1:38230 -> 127.0.0.1:61004  GET /ping  [fixtures/node_ping.pcap]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\nend of session 1\n  handshake  101 Switching Protocols"),
        "{text}"
    );
}

#[test]
fn summary_separates_data_messages_from_control_frames() {
    let text = stdout_of(&["analyze", "fixtures/node_ping.pcap"]);
    assert!(
        text.contains(", 3 data message(s), 6 control frame(s); "),
        "{text}"
    );
    let report: Value = serde_json::from_str(&stdout_of(&[
        "analyze",
        "--json",
        "-",
        "fixtures/node_ping.pcap",
    ]))
    .expect("report");
    let summary = &report["summary"];
    assert_eq!(summary["data_messages"], 3);
    assert_eq!(summary["control_frames"], 6);
    assert_eq!(summary["messages_by_type"]["ping"], 2);
    assert_eq!(
        summary["findings_by_severity"]["error"], 0,
        "every severity is present"
    );
}

#[test]
fn community_id_names_the_connection_in_sessions_and_flows() {
    // Expected values computed independently (Python hashlib) from the spec.
    for (capture, want) in [
        ("fixtures/node_ping.pcap", "1:650MLqfRgp/g4UUAtrtVvmipXIo="),
        ("fixtures/py_ipv6.pcap", "1:A8qoeemVdJol/oY41OGdxiXxGqk="),
    ] {
        let report: Value =
            serde_json::from_str(&stdout_of(&["analyze", "--json", "-", capture])).expect("report");
        assert_eq!(report["sessions"][0]["community_id"], want, "{capture}");
        let flows: Value =
            serde_json::from_str(&stdout_of(&["flows", "--json", "-", capture])).expect("flows");
        assert_eq!(flows["flows"][0]["community_id"], want, "{capture}");
        let ndjson = stdout_of(&["analyze", "--ndjson", capture]);
        let start: Value =
            serde_json::from_str(ndjson.lines().next().expect("a line")).expect("json");
        assert_eq!(start["community_id"], want, "{capture}");
    }
}

#[test]
fn schemas_list_the_values_of_closed_sets() {
    let schema: Value = serde_json::from_str(&stdout_of(&["schema", "report"])).expect("schema");
    let defs = &schema["$defs"];
    let values = |name: &str| -> Vec<String> {
        let def = &defs[name];
        let listed = def["enum"].as_array().cloned().unwrap_or_else(|| {
            (def["oneOf"].as_array().cloned().unwrap_or_default().iter())
                .map(|v| v["const"].clone())
                .collect()
        });
        listed
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        values("CloseState"),
        ["closed", "abrupt", "open", "refused", "unanswered"]
    );
    assert_eq!(values("TcpBegan"), ["syn", "syn-ack", "midstream"]);
    assert_eq!(
        values("TcpEnd"),
        ["fin", "rst", "idle", "end-of-capture", "evicted"]
    );
    assert_eq!(values("SeverityName"), ["info", "warning", "error"]);
    let codes = values("FindingCode");
    assert_eq!(codes.len(), wsscope_core::finding::Code::ALL.len());
    assert!(codes.iter().any(|c| c == "origin-missing"), "{codes:?}");
    assert_eq!(schema["properties"]["schema_version"]["const"], 2);
    let flows: Value = serde_json::from_str(&stdout_of(&["schema", "flows"])).expect("schema");
    let class = &flows["$defs"]["FlowClassification"]["oneOf"];
    assert_eq!(class.as_array().map(Vec::len), Some(5), "{class}");
}
