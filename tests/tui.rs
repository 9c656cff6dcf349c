//! Terminal UI end to end: the real binary in a real terminal (tmux, when installed) and the
//! refusal without a terminal. The views themselves are unit-tested with ratatui's
//! `TestBackend` in `src/tui/tests.rs`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn needs_a_terminal() {
    let out = Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(["tui", &fixture("node_ping.pcap")])
        .output()
        .expect("run wsscope");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wsscope tui needs a terminal; use `wsscope analyze` for text output"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(["tui", "/nonexistent/x.pcap"])
        .output()
        .expect("run wsscope");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
}

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("run tmux")
}

/// Starts `cmd` in a detached tmux session named `wsscope` of `cols` x `rows`.
fn start_tmux(socket: &str, cmd: &str, cols: &str, rows: &str) {
    let out = tmux(
        socket,
        &[
            "new-session",
            "-d",
            "-s",
            "wsscope",
            "-x",
            cols,
            "-y",
            rows,
            cmd,
        ],
    );
    assert!(out.status.success(), "{out:?}");
}

fn wait_for(socket: &str, what: &str) -> String {
    let t = Instant::now();
    loop {
        let out = tmux(socket, &["capture-pane", "-p", "-t", "wsscope"]);
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        if s.contains(what) {
            // Settled: tmux can capture a screen the UI is still drawing.
            std::thread::sleep(Duration::from_millis(40));
            let out = tmux(socket, &["capture-pane", "-p", "-t", "wsscope"]);
            if String::from_utf8_lossy(&out.stdout) == s {
                return s;
            }
            continue;
        }
        if t.elapsed() > Duration::from_secs(10) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is required for the terminal UI end-to-end tests (apt-get install tmux)"
    );
    ok
}

#[test]
fn ctrl_c_quits_and_restores_in_tmux() {
    if !have_tmux() {
        return;
    }
    let socket = format!("wsscope-test-{}-c", std::process::id());
    let cmd = format!(
        "{} tui {}; echo wsscope-exit-$?; sleep 5",
        env!("CARGO_BIN_EXE_wsscope"),
        fixture("node_ping.pcap")
    );
    start_tmux(&socket, &cmd, "80", "24");
    let result = std::panic::catch_unwind(|| {
        let s = wait_for(&socket, "Timeline #1");
        assert!(s.contains("Timeline #1"), "{s}");
        assert!(tmux(&socket, &["send-keys", "-t", "wsscope", "C-c"])
            .status
            .success());
        let s = wait_for(&socket, "wsscope-exit-");
        assert!(s.contains("wsscope-exit-0"), "{s}");
        let out = tmux(
            &socket,
            &["display-message", "-p", "-t", "wsscope", "#{alternate_on}"],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    });
    let _ = tmux(&socket, &["kill-server"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn end_to_end_in_tmux() {
    if !have_tmux() {
        return;
    }
    let socket = format!("wsscope-test-{}", std::process::id());
    let cmd = format!(
        "{} tui {}; echo wsscope-exit-$?; sleep 5",
        env!("CARGO_BIN_EXE_wsscope"),
        fixture("node_ping.pcap")
    );
    start_tmux(&socket, &cmd, "100", "30");
    let result = std::panic::catch_unwind(|| {
        let s = wait_for(&socket, "Timeline #1");
        assert!(s.contains("127.0.0.1:38230"), "{s}");
        let send = |k: &[&str]| {
            let mut args = vec!["send-keys", "-t", "wsscope"];
            args.extend_from_slice(k);
            assert!(tmux(&socket, &args).status.success());
            std::thread::sleep(Duration::from_millis(150));
        };
        send(&["Down"]);
        send(&["/"]);
        send(&["-l", "srv-ping"]);
        send(&["Enter"]);
        send(&["Enter"]);
        let s = wait_for(&socket, "Message #5");
        assert!(s.contains("Message #5"), "{s}");
        assert!(s.contains("srv-ping"), "{s}");
        send(&["q"]);
        let s = wait_for(&socket, "wsscope-exit-");
        assert!(s.contains("wsscope-exit-0"), "{s}");
        // Back on the normal screen, mouse capture off: the UI is gone.
        assert!(!s.contains("Timeline #1"), "{s}");
        for (flag, want) in [("#{alternate_on}", "0"), ("#{mouse_any_flag}", "0")] {
            let out = tmux(&socket, &["display-message", "-p", "-t", "wsscope", flag]);
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{flag}");
        }
    });
    let _ = tmux(&socket, &["kill-server"]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// True while process `pid` exists and is not a zombie.
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        })
        .unwrap_or(false)
}

/// Waits (bounded) for process `pid` to end; true when it did.
fn ended(pid: &str) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Starts `wsscope tui node_ping.pcap` in tmux session `wsscope` (the pane's process is
/// wsscope itself, with SIGHUP ignored when `ignore_hup`, as under nohup) and returns its pid
/// once the UI is up.
fn tui_in_tmux(socket: &str, prefix: &str) -> String {
    let cmd = format!(
        "{prefix} exec {} tui {}",
        env!("CARGO_BIN_EXE_wsscope"),
        fixture("node_ping.pcap")
    );
    start_tmux(socket, &cmd, "80", "24");
    let s = wait_for(socket, "Timeline #1");
    assert!(s.contains("Timeline #1"), "{s}");
    let out = tmux(
        socket,
        &["display-message", "-p", "-t", "wsscope", "#{pane_pid}"],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The terminal going away (tmux pane killed, ssh dropped) ends the UI: the process must not
/// stay behind spinning on the dead tty. Checked with SIGHUP delivered and with SIGHUP ignored
/// (nohup), where only the tty's hang-up tells.
#[test]
fn killed_pane_ends_the_process_in_tmux() {
    if !have_tmux() {
        return;
    }
    for (i, prefix) in ["", "trap '' HUP;"].into_iter().enumerate() {
        let socket = format!("wsscope-test-{}-hup{i}", std::process::id());
        let pid = tui_in_tmux(&socket, prefix);
        let result = std::panic::catch_unwind(|| {
            assert!(alive(&pid), "{pid}");
            assert!(tmux(&socket, &["kill-pane", "-t", "wsscope"])
                .status
                .success());
            assert!(
                ended(&pid),
                "wsscope ({prefix}) still running after its pane was killed"
            );
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

/// SIGTERM and SIGHUP end the UI like `q`: terminal restored, exit status 0.
#[test]
fn sigterm_and_sighup_quit_and_restore_in_tmux() {
    if !have_tmux() {
        return;
    }
    for sig in ["TERM", "HUP"] {
        let socket = format!("wsscope-test-{}-sig{sig}", std::process::id());
        let cmd = format!(
            "{} tui {}; echo wsscope-exit-$?; sleep 5",
            env!("CARGO_BIN_EXE_wsscope"),
            fixture("node_ping.pcap")
        );
        start_tmux(&socket, &cmd, "80", "24");
        let result = std::panic::catch_unwind(|| {
            let s = wait_for(&socket, "Timeline #1");
            assert!(s.contains("Timeline #1"), "{s}");
            // The pane runs a shell; wsscope is its only child.
            let out = tmux(
                &socket,
                &["display-message", "-p", "-t", "wsscope", "#{pane_pid}"],
            );
            let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
                .expect("children");
            let pid = children.split_whitespace().next().expect("wsscope pid");
            let sent = Command::new("kill")
                .args([&format!("-{sig}"), pid])
                .status()
                .expect("kill");
            assert!(sent.success());
            let s = wait_for(&socket, "wsscope-exit-");
            assert!(s.contains("wsscope-exit-0"), "{sig}: {s}");
            let out = tmux(
                &socket,
                &["display-message", "-p", "-t", "wsscope", "#{alternate_on}"],
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{sig}");
        });
        let _ = tmux(&socket, &["kill-server"]);
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
}
