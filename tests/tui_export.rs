//! Terminal UI export end to end, in a real terminal (tmux): `y` puts a text message on the
//! clipboard through OSC 52 (tmux's paste buffer with `set-clipboard on`), `w` writes a message
//! and a session to files. tmux is required: without it these tests fail.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

fn tmux(socket: &str, args: &[&str]) -> Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .arg("-f")
        .arg("/dev/null")
        .args(args)
        .output()
        .expect("tmux must be installed for the terminal UI tests (apt-get install tmux)")
}

/// The two terminal sizes every test runs at.
const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

/// Starts `cmd` in a detached tmux session named `wsscope` of the given size, clipboard
/// accepted from applications; ends the server when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, cmd: &str, size: (u16, u16)) -> Tmux {
        let t = Tmux {
            socket: format!(
                "wsscope-export-{}-{name}-{}x{}",
                std::process::id(),
                size.0,
                size.1
            ),
        };
        let (cols, rows) = (size.0.to_string(), size.1.to_string());
        let out = tmux(
            &t.socket,
            &[
                "new-session",
                "-d",
                "-s",
                "wsscope",
                "-x",
                &cols,
                "-y",
                &rows,
                cmd,
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let out = tmux(&t.socket, &["set-option", "-s", "set-clipboard", "on"]);
        assert!(out.status.success(), "{out:?}");
        t
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "wsscope"];
        args.extend_from_slice(keys);
        assert!(tmux(&self.socket, &args).status.success());
        std::thread::sleep(Duration::from_millis(150));
    }

    /// The screen once loading has finished (the header no longer says `reading`), with
    /// the timeline drawn (or after 10 s, for the failure message).
    fn wait_loaded(&self) -> String {
        let t = Instant::now();
        loop {
            let out = tmux(&self.socket, &["capture-pane", "-p", "-t", "wsscope"]);
            let s = String::from_utf8_lossy(&out.stdout).to_string();
            let header = s.lines().next().unwrap_or_default();
            let done = header.starts_with("wsscope")
                && !header.contains("reading")
                && !header.contains("loading")
                && s.contains("Timeline #1");
            if done && settled(&self.socket, &s) || t.elapsed() > Duration::from_secs(10) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The screen once it shows `what` (or after 10 s, for the failure message).
    fn wait_for(&self, what: &str) -> String {
        let t = Instant::now();
        loop {
            let out = tmux(&self.socket, &["capture-pane", "-p", "-t", "wsscope"]);
            let s = String::from_utf8_lossy(&out.stdout).to_string();
            if s.contains(what) && settled(&self.socket, &s)
                || t.elapsed() > Duration::from_secs(10)
            {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// True when the pane still shows `screen` 40 ms later (tmux can capture a screen the UI is
/// still drawing).
fn settled(socket: &str, screen: &str) -> bool {
    std::thread::sleep(Duration::from_millis(40));
    let out = tmux(socket, &["capture-pane", "-p", "-t", "wsscope"]);
    String::from_utf8_lossy(&out.stdout) == screen
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = tmux(&self.socket, &["kill-server"]);
    }
}

/// The shell command running the UI on `node_ping.pcap` in `dir` with `HOME` set to `home`,
/// with no clipboard override from the test's own environment.
fn tui_command(dir: &Path, home: &Path) -> String {
    format!(
        "cd '{}' && env -u WSSCOPE_CLIPBOARD HOME='{}' {} tui {}; echo wsscope-exit-$?; sleep 5",
        dir.display(),
        home.display(),
        env!("CARGO_BIN_EXE_wsscope"),
        fixture("node_ping.pcap")
    )
}

#[test]
fn y_copies_the_message_text_to_the_tmux_clipboard() {
    for size in SIZES {
        y_copies_at(size);
    }
}

fn y_copies_at(size: (u16, u16)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Tmux::start("y", &tui_command(dir.path(), dir.path()), size);
    let s = t.wait_loaded();
    assert!(s.contains("Timeline #1"), "{s}");
    // Timeline focused, message 1 selected: "hello from the ws client".
    t.send(&["Tab"]);
    t.send(&["y"]);
    let s = t.wait_for("copied 24 bytes to the clipboard");
    assert!(s.contains("copied 24 bytes to the clipboard"), "{s}");
    let out = tmux(&t.socket, &["show-buffer"]);
    assert!(out.status.success(), "no tmux buffer: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the ws client"
    );
    // A binary message is refused and leaves the clipboard alone.
    for _ in 0..6 {
        t.send(&["Down"]);
    }
    t.send(&["y"]);
    let s = t.wait_for("binary message");
    assert!(
        s.contains("binary message: use w to write it to a file"),
        "{s}"
    );
    let out = tmux(&t.socket, &["show-buffer"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the ws client"
    );
    t.send(&["q"]);
    let s = t.wait_for("wsscope-exit-");
    assert!(s.contains("wsscope-exit-0"), "{s}");
}

/// NDJSON lines of `path` as JSON values.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn w_writes_a_session_and_a_message_to_files() {
    for size in SIZES {
        w_writes_at(size);
    }
}

fn w_writes_at(size: (u16, u16)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp home");
    let t = Tmux::start("w", &tui_command(dir.path(), home.path()), size);
    let s = t.wait_loaded();
    assert!(s.contains("Timeline #1"), "{s}");
    // Session pane: the proposed name is the session's, in the current directory.
    t.send(&["w"]);
    let s = t.wait_for("wsscope-s1.ndjson");
    assert!(s.contains("wsscope-s1.ndjson"), "{s}");
    t.send(&["Enter"]);
    let s = t.wait_for("wrote session #1");
    assert!(s.contains("wrote session #1 ("), "{s}");
    let written =
        std::fs::read_to_string(dir.path().join("wsscope-s1.ndjson")).expect("session file");
    let analyze = Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(["analyze", "--ndjson", &fixture("node_ping.pcap")])
        .output()
        .expect("run wsscope analyze");
    let want: Vec<serde_json::Value> = json_lines(&String::from_utf8_lossy(&analyze.stdout))
        .into_iter()
        .filter(|v| v["session"].as_u64() == Some(1))
        .collect();
    let got = json_lines(&written);
    assert_eq!(got, want);
    assert!(
        s.contains(&format!("({} events)", want.len())),
        "{s}\n{}",
        want.len()
    );
    // Message 1 to a path typed at the prompt, under ~/.
    t.send(&["Tab"]);
    t.send(&["w"]);
    let s = t.wait_for("wsscope-s1-m1.txt");
    assert!(s.contains("wsscope-s1-m1.txt"), "{s}");
    t.send(&["BSpace"; "wsscope-s1-m1.txt".len()]);
    t.send(&["-l", "~/hello.txt"]);
    t.send(&["Enter"]);
    let s = t.wait_for("wrote 24 bytes to ~/hello.txt");
    assert!(s.contains("wrote 24 bytes to ~/hello.txt"), "{s}");
    assert_eq!(
        std::fs::read(home.path().join("hello.txt")).expect("message file"),
        b"hello from the ws client"
    );
    // The same name again: refused, the file kept.
    t.send(&["w"]);
    t.send(&["BSpace"; "wsscope-s1-m1.txt".len()]);
    t.send(&["-l", "~/hello.txt"]);
    t.send(&["Enter"]);
    let s = t.wait_for("exists; type another name");
    assert!(s.contains("~/hello.txt exists; type another name"), "{s}");
    t.send(&["q"]);
    let s = t.wait_for("wsscope-exit-");
    assert!(s.contains("wsscope-exit-0"), "{s}");
}
