//! Live capture end to end (feature `live`, needs capture permission: CI runs it as root):
//! a real Python `websockets` echo server and client on loopback, `wsscope live -i lo`
//! sniffing them, SIGINT, and every message checked; `--user` privilege dropping.

#![cfg(feature = "live")]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live/peer.py");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn can_run() -> bool {
    let python_ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    if !python_ok {
        eprintln!(
            "notice: python3 websockets missing (pip install websockets); skipping live test"
        );
    }
    python_ok
}

/// Spawns a process and returns it with a channel of its stdout (or stderr) lines.
fn spawn_lines(cmd: &mut Command, stderr: bool) -> (Child, mpsc::Receiver<String>) {
    if stderr {
        cmd.stderr(Stdio::piped()).stdout(Stdio::piped());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    }
    let mut child = cmd.spawn().expect("spawn");
    let (tx, rx) = mpsc::channel();
    let pipe: Box<dyn std::io::Read + Send> = if stderr {
        Box::new(child.stderr.take().expect("stderr"))
    } else {
        Box::new(child.stdout.take().expect("stdout"))
    };
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Starts the Python echo server on a free port once it is listening.
fn echo_server() -> (u16, Child) {
    let port = free_port();
    let (server, srx) = spawn_lines(
        Command::new("python3").args([PEER, "server", &port.to_string()]),
        false,
    );
    wait_for(&srx, "READY");
    (port, server)
}

/// Waits for a line containing `needle` and returns it.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("waiting for '{needle}': {e}"),
        }
    }
}

struct Live {
    child: Child,
    stderr: mpsc::Receiver<String>,
    /// The "capturing on ..." line.
    ready: String,
}

fn start_wsscope(port: u16, extra: &[&str]) -> Live {
    let (child, stderr) = spawn_lines(
        Command::new(env!("CARGO_BIN_EXE_wsscope"))
            // Hermetic: a key log in the environment must not change what is decoded.
            .env_remove("SSLKEYLOGFILE")
            .args([
                "live",
                "-i",
                "lo",
                "-f",
                &format!("tcp port {port}"),
                "--ndjson",
                "--payload",
                "full",
            ])
            .args(extra),
        true,
    );
    let ready = wait_for(&stderr, "capturing on lo");
    Live {
        child,
        stderr,
        ready,
    }
}

/// SIGINTs wsscope and returns (exit code, NDJSON events, stderr lines).
fn stop(mut live: Live) -> (Option<i32>, Vec<Value>, Vec<String>) {
    std::thread::sleep(Duration::from_millis(500));
    let pid = live.child.id().to_string();
    Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    let mut stdout = live.child.stdout.take().expect("stdout");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out).expect("read stdout");
    let status = live.child.wait().expect("wait");
    let events = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    // Every stderr line: the reader thread ends at end of file, now that wsscope has exited
    // (`try_iter` here could miss the last lines, the capture statistics among them).
    let errs = live.stderr.iter().collect();
    (status.code(), events, errs)
}

fn run_client(port: u16, n: usize, pause: Option<(f64, &dyn Fn())>) -> Vec<String> {
    let mut args = vec![
        PEER.to_string(),
        "client".into(),
        port.to_string(),
        n.to_string(),
    ];
    if let Some((secs, _)) = pause {
        args.push(secs.to_string());
    }
    let (mut child, rx) = spawn_lines(Command::new("python3").args(&args), false);
    let mut sent = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line == "PAUSED" => {
                if let Some((_, during_pause)) = pause {
                    during_pause();
                }
            }
            Ok(line) => sent.push(line),
            Err(_) => break,
        }
    }
    assert!(child.wait().expect("client").success(), "client failed");
    sent
}

fn texts(events: &[Value], dir: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event_type"] == "message" && e["dir"] == dir && e["type"] == "text")
        .filter_map(|e| e["text"].as_str().map(str::to_string))
        .collect()
}

/// The echo session of [`live_capture_decodes_every_message_and_flushes_on_sigint`] was
/// captured whole: every message both ways, the close, the summary, no drops.
fn assert_echo_decoded(code: Option<i32>, sent: &[String], events: &[Value], errs: &[String]) {
    assert_eq!(code, Some(0), "{errs:?}");
    assert_eq!(sent.len(), 20);
    assert_eq!(texts(events, "c2s"), sent, "every client message, in order");
    assert_eq!(texts(events, "s2c"), sent, "every echo, in order");
    let end = events
        .iter()
        .find(|e| e["event_type"] == "session_end")
        .expect("session_end");
    assert_eq!(end["close"]["code"], 1000);
    assert_eq!(end["close"]["reason"], "done");
    assert_eq!(
        events.last().map(|e| e["event_type"].clone()),
        Some(Value::from("summary"))
    );
    assert!(
        errs.iter().any(|l| l.contains("dropped 0 (kernel)")),
        "{errs:?}"
    );
}

#[test]
fn live_capture_decodes_every_message_and_flushes_on_sigint() {
    if !can_run() {
        return;
    }
    let (port, mut server) = echo_server();
    let live = start_wsscope(port, &[]);
    let sent = run_client(port, 20, None);
    let (code, events, errs) = stop(live);
    let _ = server.kill();
    assert_echo_decoded(code, &sent, &events, &errs);
}

/// wss captured live while the client writes its key log: the file does not exist when the
/// capture starts, and each connection's secrets are written just after its handshake, after
/// the first records went by. wsscope follows the file, holds the records, and decrypts.
#[test]
fn live_wss_with_a_key_log_that_appears_during_the_capture() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (apt-get install openssl)");
    assert!(made.success(), "openssl could not make a certificate");
    let keylog = dir.path().join("keys.log");
    let port = free_port();
    let (mut server, srx) = spawn_lines(
        Command::new("python3")
            .args([PEER, "tls-server", &port.to_string()])
            .arg(&cert)
            .arg(&key),
        false,
    );
    wait_for(&srx, "READY");
    let live = start_wsscope(port, &["--tls-keylog", &keylog.display().to_string()]);
    let (mut client, rx) = spawn_lines(
        Command::new("python3")
            .args([PEER, "tls-client", &port.to_string(), "20"])
            .arg(&keylog),
        false,
    );
    let sent: Vec<String> = rx.iter().collect();
    assert!(client.wait().expect("client").success(), "client failed");
    let (code, events, errs) = stop(live);
    let _ = server.kill();
    assert_echo_decoded(code, &sent, &events, &errs);
    let start = events
        .iter()
        .find(|e| e["event_type"] == "session_start")
        .expect("session_start");
    assert_eq!(start["tls"]["decrypted"], true, "{start}");
    assert_eq!(start["tls"]["version"], "TLS 1.3", "{start}");
    assert!(
        !events.iter().any(|e| e["code"] == "tls-not-decrypted"),
        "{events:?}"
    );
}

/// uid and gid of `nobody`, asked of `id` (not of wsscope's own lookup).
fn nobody_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "nobody"])
            .output()
            .expect("run id");
        assert!(out.status.success(), "no 'nobody' account on this machine");
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse().expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// The `Uid:`, `Gid:` and `Groups:` lines of every thread of process `pid`.
fn thread_ids(pid: u32) -> Vec<(Vec<u32>, Vec<u32>, Vec<u32>)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    let mut all = Vec::new();
    for task in tasks {
        let path = task.expect("task entry").path().join("status");
        let Ok(status) = std::fs::read_to_string(&path) else {
            continue; // the thread ended meanwhile
        };
        let field = |name: &str| -> Vec<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {}", path.display()))
                .split_whitespace()
                .map(|v| v.parse().expect("numeric id"))
                .collect()
        };
        all.push((field("Uid:"), field("Gid:"), field("Groups:")));
    }
    assert!(!all.is_empty(), "no threads listed for {pid}");
    all
}

#[test]
fn live_capture_with_user_runs_as_that_user_and_still_decodes() {
    if !can_run() {
        return;
    }
    let (uid, gid) = nobody_ids();
    let (port, mut server) = echo_server();
    let live = start_wsscope(port, &["--user", "nobody"]);
    let ready = live.ready.clone();
    let pid = live.child.id();
    let at_start = thread_ids(pid);
    let sent = run_client(port, 20, None);
    let after_session = thread_ids(pid); // still capturing: SIGINT comes later
    let (code, events, errs) = stop(live);
    let _ = server.kill();
    for (uids, gids, groups) in at_start.into_iter().chain(after_session) {
        assert_eq!(uids, [uid; 4], "real, effective, saved, fs uid");
        assert_eq!(gids, [gid; 4], "real, effective, saved, fs gid");
        assert!(
            groups.iter().all(|&g| g == gid),
            "supplementary groups {groups:?}"
        );
    }
    assert_echo_decoded(code, &sent, &events, &errs);
    assert!(ready.contains(" as nobody;"), "{ready}");
}

/// Runs wsscope to completion; returns (exit code, stdout, stderr).
fn run_wsscope(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("run wsscope");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn live_user_unknown_or_root_is_a_one_line_error() {
    for (user, needle) in [
        ("no-such-user-xyz", "--user no-such-user-xyz: no such user"),
        ("root", "--user root: that account has uid 0"),
        ("0", "--user 0: that account has uid 0"),
    ] {
        let (code, out, err) = run_wsscope(
            Command::new(env!("CARGO_BIN_EXE_wsscope"))
                .args(["live", "-i", "lo", "--no-tui", "--user", user]),
        );
        assert_eq!(code, Some(2), "{user}: {err}");
        assert_eq!(err.lines().count(), 1, "{user}: one line: {err}");
        assert!(err.starts_with("wsscope: error: "), "{err}");
        assert!(err.contains(needle), "{user}: {err}");
        assert!(out.is_empty(), "{out}");
    }
}

#[test]
fn live_user_without_root_names_the_missing_privilege() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    // SAFETY: geteuid has no preconditions.
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        // Run as nobody (std also drops the supplementary groups), from a copy nobody can
        // execute whatever the permissions of the build directory.
        let (uid, gid) = nobody_ids();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let bin = dir.path().join("wsscope");
        std::fs::copy(env!("CARGO_BIN_EXE_wsscope"), &bin).expect("copy wsscope");
        let mut cmd = Command::new(bin);
        cmd.uid(uid).gid(gid);
        cmd
    } else {
        Command::new(env!("CARGO_BIN_EXE_wsscope"))
    };
    let (code, out, err) =
        run_wsscope(cmd.args(["live", "-i", "lo", "--no-tui", "--user", "nobody"]));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("--user needs root (or CAP_SETUID/CAP_SETGID)"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
}

#[test]
fn live_capture_joins_a_session_already_open() {
    if !can_run() {
        return;
    }
    let (port, mut server) = echo_server();
    let live = std::cell::RefCell::new(None);
    let start = || *live.borrow_mut() = Some(start_wsscope(port, &[]));
    let sent = run_client(port, 10, Some((2.0, &start)));
    let live = live.into_inner().expect("wsscope started during the pause");
    let (code, events, errs) = stop(live);
    let _ = server.kill();
    assert_eq!(code, Some(0), "{errs:?}");
    let start_ev = events
        .iter()
        .find(|e| e["event_type"] == "session_start")
        .expect("session_start");
    assert!(
        start_ev["handshake"].is_null(),
        "the handshake happened before the capture"
    );
    assert!(events
        .iter()
        .any(|e| e["event_type"] == "finding" && e["code"] == "handshake-not-seen"));
    // Everything sent after the capture started is decoded, both ways.
    assert_eq!(texts(&events, "c2s"), sent[5..].to_vec());
    assert_eq!(texts(&events, "s2c"), sent[5..].to_vec());
    let end = events
        .iter()
        .find(|e| e["event_type"] == "session_end")
        .expect("session_end");
    assert_eq!(end["close"]["code"], 1000);
}

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("run tmux")
}

fn pane_text(socket: &str) -> String {
    let out = tmux(socket, &["capture-pane", "-p", "-t", "wsscope"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `cond` every 100 ms for at most 20 s.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

/// The live terminal UI left without a terminal (tmux pane killed, as an ssh drop does) stops
/// the capture, flushes the -w file and exits, with SIGHUP delivered or ignored (nohup); the
/// process must not stay behind as root spinning on the dead tty.
#[test]
fn live_tui_ends_when_its_pane_is_killed() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("notice: tmux not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, prefix) in ["", "trap '' HUP;"].into_iter().enumerate() {
        let saved = dir.path().join(format!("saved{i}.pcap"));
        let socket = format!("wsscope-live-{}-{i}", std::process::id());
        let cmd = format!(
            "{prefix} exec {} live -i lo -f 'tcp port 9' -w {}",
            env!("CARGO_BIN_EXE_wsscope"),
            saved.display()
        );
        let out = tmux(
            &socket,
            &[
                "new-session",
                "-d",
                "-s",
                "wsscope",
                "-x",
                "100",
                "-y",
                "30",
                &cmd,
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let out = tmux(
            &socket,
            &["display-message", "-p", "-t", "wsscope", "#{pane_pid}"],
        );
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let result = std::panic::catch_unwind(|| {
            assert!(
                eventually(|| pane_text(&socket).contains("Sessions")),
                "UI did not come up: {}",
                pane_text(&socket)
            );
            assert!(tmux(&socket, &["kill-pane", "-t", "wsscope"])
                .status
                .success());
            assert!(
                eventually(|| !alive(&pid)),
                "live UI ({prefix}) still running after its pane was killed"
            );
            // The savefile was flushed and closed: a complete pcap header at least.
            let bytes = std::fs::read(&saved).expect("savefile");
            assert!(bytes.len() >= 24, "{}", bytes.len());
        });
        let _ = tmux(&socket, &["kill-server"]);
        if alive(&pid) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
}

/// Waits up to 30 s for `child` to exit on its own; kills it and fails the test otherwise.
fn wait_exit(child: &mut Child, what: &str) -> Option<i32> {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("{what}: wsscope did not exit");
}

/// `live --ndjson | head`: once standard output is gone the capture ends (exit 2, the
/// closed-output line), as for `analyze`, instead of capturing on until Ctrl-C.
#[test]
fn live_ndjson_into_a_closed_pipe_ends_the_capture() {
    if !can_run() {
        return;
    }
    let (port, mut server) = echo_server();
    let mut live = start_wsscope(port, &[]);
    drop(live.child.stdout.take());
    run_client(port, 20, None);
    let code = wait_exit(&mut live.child, "closed standard output");
    let _ = server.kill();
    let errs: Vec<String> = live.stderr.iter().collect();
    assert_eq!(code, Some(2), "{errs:?}");
    assert!(
        errs.iter()
            .any(|l| l.contains("standard output was closed before all output was written")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|l| l.contains("packets captured")),
        "{errs:?}"
    );
}

/// `--max-flows` and `--no-midstream` reach a live capture; capture-level findings such as
/// flow-evicted come out of it; `--fail-on` reports what matched as `analyze` does.
#[test]
fn live_honours_max_flows_and_reports_evictions() {
    if !can_run() {
        return;
    }
    let (port, mut server) = echo_server();
    let live = start_wsscope(port, &["--max-flows", "1", "--fail-on", "flow-evicted"]);
    let (mut load, _) = spawn_lines(
        Command::new("python3").args([PEER, "load", &port.to_string(), "3", "20"]),
        false,
    );
    assert!(load.wait().expect("load").success(), "load failed");
    let (code, events, errs) = stop(live);
    let _ = server.kill();
    assert_eq!(code, Some(1), "{errs:?}");
    let evicted = events
        .iter()
        .find(|e| e["event_type"] == "finding" && e["code"] == "flow-evicted")
        .expect("flow-evicted finding");
    let detail = evicted["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("--max-flows 1"), "{detail}");
    assert!(
        errs.iter()
            .any(|l| l.starts_with("wsscope: --fail-on matched (flow-evicted x1")),
        "{errs:?}"
    );
}

/// With `--no-midstream` a session already open when the capture starts is not decoded.
#[test]
fn live_no_midstream_leaves_a_joined_session_undecoded() {
    if !can_run() {
        return;
    }
    let (port, mut server) = echo_server();
    let live = std::cell::RefCell::new(None);
    let start = || *live.borrow_mut() = Some(start_wsscope(port, &["--no-midstream"]));
    run_client(port, 10, Some((2.0, &start)));
    let live = live.into_inner().expect("wsscope started during the pause");
    let (code, events, errs) = stop(live);
    let _ = server.kill();
    assert_eq!(code, Some(0), "{errs:?}");
    assert!(
        events.iter().all(|e| e["event_type"] != "message"),
        "no message decoded: {events:?}"
    );
    let summary = events.last().expect("summary");
    assert_eq!(summary["event_type"], "summary");
    assert!(
        summary["summary"]["tcp_flows"].as_u64() >= Some(1),
        "{summary}"
    );
}

/// `--json` naming the `-w` savefile (under any spelling) is refused before anything is
/// captured or written, like an `analyze --json` naming an input capture.
#[test]
fn live_refuses_a_report_over_its_savefile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let save = dir.path().join("cap.pcap");
    let save = save.to_str().expect("utf-8 path");
    let spelled = format!("{}/./cap.pcap", dir.path().display());
    for json in [save, spelled.as_str()] {
        let (code, out, err) = run_wsscope(
            Command::new(env!("CARGO_BIN_EXE_wsscope"))
                .args(["live", "-i", "lo", "--no-tui", "-w", save, "--json", json]),
        );
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("is the -w capture file"), "{err}");
        assert!(out.is_empty(), "{out}");
        assert!(!Path::new(save).exists(), "nothing written");
    }
}

/// The packet count in the live UI's header ("capturing N pkts ..."), if shown.
fn header_packets(screen: &str) -> Option<u64> {
    let rest = screen.split("capturing ").nth(1)?;
    let (n, unit) = rest.split_once(' ')?;
    unit.starts_with("pkts").then(|| n.parse().ok()).flatten()
}

/// The live UI's header says "capturing" as soon as the capture runs (0 packets), then counts
/// the packets of real loopback WebSocket traffic, about once a second.
#[test]
fn live_tui_header_counts_captured_packets() {
    if !can_run() {
        return;
    }
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "tmux must be installed for the live terminal UI test"
    );
    let (port, mut server) = echo_server();
    let socket = format!("wsscope-live-{}-status", std::process::id());
    let cmd = format!(
        "exec {} live -i lo -f 'tcp port {port}'",
        env!("CARGO_BIN_EXE_wsscope")
    );
    let out = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "wsscope",
            "-x",
            "100",
            "-y",
            "30",
            &cmd,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let out = tmux(
        &socket,
        &["display-message", "-p", "-t", "wsscope", "#{pane_pid}"],
    );
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let result = std::panic::catch_unwind(|| {
        assert!(
            eventually(|| header_packets(&pane_text(&socket)) == Some(0)),
            "no 'capturing 0 pkts' before any traffic: {}",
            pane_text(&socket)
        );
        let sent = run_client(port, 5, None);
        assert_eq!(sent.len(), 5);
        assert!(
            eventually(|| header_packets(&pane_text(&socket)).is_some_and(|n| n >= 10)),
            "the header did not count the traffic: {}",
            pane_text(&socket)
        );
        let s = pane_text(&socket);
        assert!(s.contains("pkt/s") && s.contains("dropped"), "{s}");
        assert!(tmux(&socket, &["send-keys", "-t", "wsscope", "q"])
            .status
            .success());
        assert!(eventually(|| !alive(&pid)), "live UI still running after q");
    });
    let _ = tmux(&socket, &["kill-server"]);
    if alive(&pid) {
        let _ = Command::new("kill").args(["-9", &pid]).status();
    }
    let _ = server.kill();
    let _ = server.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
