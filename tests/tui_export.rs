//! Terminal UI export end to end, in a real terminal (tmux): `y` puts a text message on the
//! clipboard through OSC 52 (tmux's paste buffer with `set-clipboard on`), `w` writes a message
//! and a session to files. tmux is required: without it these tests fail.

mod common;

use common::tmux::{Term, SIZES};
use std::path::Path;
use std::process::Command;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

/// The shell command running the UI on `node_ping.pcap` in `dir` with `HOME` set to `home`,
/// with no clipboard override from the test's own environment.
fn tui_command(dir: &Path, home: &Path) -> String {
    format!(
        "cd '{}' && env -u WSSCOPE_CLIPBOARD HOME='{}' {} tui {}",
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
    let t = Term::start_line("y", size, &tui_command(dir.path(), dir.path()));
    t.set_clipboard_on();
    let s = t.wait_loaded();
    assert!(s.contains("Timeline #1"), "{s}");
    // Timeline focused, message 1 selected: "hello from the ws client".
    t.keys(&["Tab"]);
    t.keys(&["y"]);
    let s = t.wait_for("copied 24 bytes to the clipboard");
    assert!(s.contains("copied 24 bytes to the clipboard"), "{s}");
    let out = t.tmux(&["show-buffer"]);
    assert!(out.status.success(), "no tmux buffer: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the ws client"
    );
    // A binary message is refused and leaves the clipboard alone.
    for _ in 0..6 {
        t.keys(&["Down"]);
    }
    t.keys(&["y"]);
    let s = t.wait_for("binary message");
    assert!(
        s.contains("binary message: use w to write it to a file"),
        "{s}"
    );
    let out = t.tmux(&["show-buffer"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the ws client"
    );
    t.keys(&["q"]);
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
    let t = Term::start_line("w", size, &tui_command(dir.path(), home.path()));
    t.set_clipboard_on();
    let s = t.wait_loaded();
    assert!(s.contains("Timeline #1"), "{s}");
    // Session pane: the proposed name is the session's, in the current directory.
    t.keys(&["w"]);
    let s = t.wait_for("wsscope-s1.ndjson");
    assert!(s.contains("wsscope-s1.ndjson"), "{s}");
    t.keys(&["Enter"]);
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
    t.keys(&["Tab"]);
    t.keys(&["w"]);
    let s = t.wait_for("wsscope-s1-m1.txt");
    assert!(s.contains("wsscope-s1-m1.txt"), "{s}");
    t.keys(&["BSpace"; "wsscope-s1-m1.txt".len()]);
    t.type_text("~/hello.txt");
    t.keys(&["Enter"]);
    let s = t.wait_for("wrote 24 bytes to ~/hello.txt");
    assert!(s.contains("wrote 24 bytes to ~/hello.txt"), "{s}");
    assert_eq!(
        std::fs::read(home.path().join("hello.txt")).expect("message file"),
        b"hello from the ws client"
    );
    // The same name again: refused, the file kept.
    t.keys(&["w"]);
    t.keys(&["BSpace"; "wsscope-s1-m1.txt".len()]);
    t.type_text("~/hello.txt");
    t.keys(&["Enter"]);
    let s = t.wait_for("exists; type another name");
    assert!(s.contains("~/hello.txt exists; type another name"), "{s}");
    t.keys(&["q"]);
    let s = t.wait_for("wsscope-exit-");
    assert!(s.contains("wsscope-exit-0"), "{s}");
}
