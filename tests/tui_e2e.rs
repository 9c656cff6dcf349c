//! The terminal UI as a user drives it: the real binary in a real terminal (tmux), one test
//! per defect of the debugger's view (issue 12), each at 80x24 and at 200x50. tmux is
//! required: without it these tests fail (CI installs it).

mod common;

use common::tmux::{Term, SIZES};
use std::path::Path;
use std::process::Command;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    assert!(p.exists(), "missing fixture {}", p.display());
    p.display().to_string()
}

/// Opens the detail of timeline row `row` (1-based) of the first session and focuses it.
fn open_message(t: &Term, row: usize) {
    t.keys(&["Tab", "g"]);
    for _ in 1..row {
        t.keys(&["Down"]);
    }
    // Narrow: Enter opens the detail in place of the timeline (focused). Wide: the first
    // Enter opens it beside the timeline, the second focuses it.
    t.keys(&["Enter", "Enter"]);
}

/// The line of `screen` containing `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
}

/// Defect 1: a long one-line message can be read to its end (scrolling counts wrapped rows),
/// with a position indicator; the same for a 100 KiB one-line JSON pretty-printed.
#[test]
fn long_single_line_messages_scroll_to_their_end() {
    for size in SIZES {
        let t = Term::start("long", size, &["tui", &fixture("node_debug.pcap")]);
        t.wait_loaded();
        t.wait_for("Timeline #1");
        open_message(&t, 1);
        let s = t.wait_for("Message #1 of session #1");
        assert!(!s.contains("END-OF-LONG-LINE"), "{s}");
        assert!(s.contains("rows 1-"), "position indicator: {s}");
        t.keys(&["G"]);
        let s = t.wait_for("END-OF-LONG-LINE");
        assert!(s.contains("(100%)"), "{s}");
        // The 100 KiB JSON, pretty-printed: its last key is reachable.
        t.keys(&["]"]);
        t.wait_for("Message #2 of session #1");
        t.keys(&["G"]);
        let s = t.wait_for("tail_marker");
        assert!(s.contains("END-OF-BIG-JSON"), "{s}");
        t.quit();
    }
}

/// Defect 2: pretty JSON shows the message as sent: key order, duplicate keys, big integers
/// and number spelling kept; `r` shows the raw text; socket.io frames get their JSON
/// pretty-printed after the packet prefix.
#[test]
fn pretty_json_is_faithful_and_raw_is_one_key_away() {
    for size in SIZES {
        let t = Term::start("json", size, &["tui", &fixture("node_debug.pcap")]);
        t.wait_loaded();
        t.wait_for("Timeline #1");
        open_message(&t, 3);
        let s = t.wait_for("\"big\": 12345678901234567890123,");
        let order: Vec<usize> = [
            "\"b\": 1,",
            "\"a\": 2,",
            "\"a\": 3,",
            "\"big\": 12345678901234567890123,",
            "\"price\": 1.10,",
            "\"e\": 1E5",
        ]
        .iter()
        .map(|k| {
            s.find(k)
                .unwrap_or_else(|| panic!("missing {k} at {size:?} in\n{s}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "order: {s}");
        assert!(s.contains("duplicate key"), "{s}");
        t.keys(&["r"]);
        let s = t.wait_for("raw, as sent");
        assert!(
            s.contains(r#"{"b":1,"a":2,"a":3,"big":12345678901234567890123,"price":1.10,"e":1E5}"#),
            "{s}"
        );
        t.keys(&["r"]);
        // The socket.io event `42["chat",{"user":"ann","n":1.50}]`.
        t.keys(&["]", "]", "]"]);
        let s = t.wait_for("socket.io");
        assert!(s.contains("EVENT"), "{s}");
        assert!(s.contains("\"n\": 1.50"), "{s}");
        t.quit();
    }
}

/// Defect 3: `/` searches the whole capture and goes to the session holding the text; `m`
/// hides what does not match (sessions and messages); filters combine and the header says
/// which are on.
#[test]
fn search_spans_the_capture_and_filters_combine() {
    for size in SIZES {
        let t = Term::start("search", size, &["tui", &fixture("py_many.pcap")]);
        t.wait_loaded();
        t.wait_for("Sessions 30");
        t.keys(&["/"]);
        t.type_text("needle-in-session-17");
        t.keys(&["Enter"]);
        // The client's text and the server's echo.
        let s = t.wait_for("2 msgs in 1 sessions");
        assert!(s.contains("Timeline #17"), "{s}");
        assert!(
            line_with(&s, "NEEDLE-IN-SESSION-17").contains(">*"),
            "the hit is selected and marked: {s}"
        );
        t.keys(&["m"]);
        let s = t.wait_for("Sessions 1 of 30 (matches only)");
        assert!(s.contains("filter \"needle-in-session-17\""), "{s}");
        assert!(s.contains("Timeline #17  1/2 (of 14)"), "{s}");
        t.keys(&["d"]);
        let s = t.wait_for("filter c->s AND \"needle-in-session-17\"");
        assert!(s.contains("Timeline #17  1/1 (of 14)"), "{s}");
        t.keys(&["f", "f"]);
        let s = t.wait_for("filter binary AND c->s AND \"needle-in-session-17\"");
        assert!(s.contains("no message passes the filter"), "{s}");
        t.keys(&["x"]);
        let s = t.wait_for("no filter");
        assert!(s.contains("Sessions 30"), "{s}");
        t.quit();
    }
}

/// Defect 4: loading shows its progress while it happens (bytes and rate; a file also a
/// percentage), not only once it is over. A pipe is fed half a capture and held open.
#[test]
fn progress_shows_while_loading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("capture.fifo");
    let bytes = std::fs::read(fixture("py_many.pcap")).expect("fixture");
    for (k, size) in SIZES.into_iter().enumerate() {
        let fifo = fifo.with_extension(format!("fifo{k}"));
        let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        let path = fifo.display().to_string();
        let t = Term::start("progress", size, &["tui", &path]);
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .expect("open fifo");
        use std::io::Write;
        let half = bytes.len() / 2;
        w.write_all(&bytes[..half]).expect("write");
        w.flush().expect("flush");
        t.wait("progress while reading", |s| {
            s.lines()
                .next()
                .is_some_and(|l| l.contains("reading") && l.contains("/s"))
        });
        // What was read so far is shown while the pipe stalls (messages are not held back
        // in batches).
        let s = t.wait("the first session's messages", |s| {
            s.contains("room-1-msg-1")
        });
        assert!(!s.contains("wsscope-exit"), "{s}");
        w.write_all(&bytes[half..]).expect("write");
        drop(w);
        let s = t.wait("the end of loading", |s| {
            s.lines().next().is_some_and(|l| !l.contains("reading"))
        });
        assert!(s.contains("30 sessions"), "{s}");
        t.quit();
    }
}

/// Defect 5: at 80 columns a session row shows state, close code, finding marker and message
/// count before the path.
#[test]
fn session_rows_put_state_close_code_and_findings_first() {
    for size in SIZES {
        let t = Term::start("rows", size, &["tui", &fixture("py_many.pcap")]);
        let s = t.wait_loaded();
        t.wait_for("Sessions 30");
        let row = line_with(&s, "/room/1 ");
        let path_at = row.find("/room/1").expect("path");
        let state_at = row.find("closed").expect("state");
        let code_at = row.find("1000").expect("close code");
        assert!(state_at < path_at && code_at < path_at, "{row}");
        // The kicked sessions closed with 4000.
        t.keys(&["G"]);
        let s = t.wait_for("#30");
        assert!(s.contains("4000"), "{s}");
        t.quit();
    }
}

/// Defect 6: from 140 columns the detail opens beside the timeline and follows the selection;
/// on narrow terminals `[` and `]` step through messages with the detail open.
#[test]
fn detail_beside_the_timeline_on_wide_terminals() {
    for size in SIZES {
        let t = Term::start("side", size, &["tui", &fixture("node_ping.pcap")]);
        t.wait_loaded();
        t.wait_for("Timeline #1");
        t.keys(&["Tab", "Enter"]);
        let s = t.wait_for("Message #1 of session #1");
        if t.wide() {
            assert!(s.contains("Timeline #1"), "side by side: {s}");
            t.keys(&["Down"]);
            let s = t.wait_for("Message #2 of session #1");
            assert!(s.contains("Timeline #1  2/9"), "{s}");
        } else {
            assert!(!s.contains("Timeline #1"), "the detail replaces it: {s}");
            t.keys(&["]"]);
            t.wait_for("Message #2 of session #1");
        }
        t.keys(&["]"]);
        t.wait_for("Message #3 of session #1");
        t.keys(&["["]);
        t.wait_for("Message #2 of session #1");
        t.quit();
    }
}

/// Defect 7: ping/pong/close payloads in the hex view; a message that failed to inflate is
/// marked in the timeline and its detail says why in words.
#[test]
fn control_payloads_in_hex_and_failed_inflation_in_words() {
    for size in SIZES {
        let t = Term::start("hex", size, &["tui", &fixture("node_debug.pcap")]);
        t.wait_loaded();
        t.wait_for("Timeline #1");
        t.keys(&["Tab", "f", "f", "f"]);
        t.wait_for("filter control");
        // The filter keeps the selection near the message read; the first control one.
        t.keys(&["g"]);
        let s = t.wait_for("Timeline #1  1/");
        assert!(s.contains("c->s ping"), "{s}");
        let row = line_with(&s, "c->s ping");
        assert!(row.contains("00 01 02 03"), "{row}");
        t.keys(&["Enter", "Enter"]);
        let s = t.wait_for("payload (hex)");
        assert!(
            s.contains("00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f"),
            "{s}"
        );
        t.quit();

        let t = Term::start("inflate", size, &["tui", &fixture("py_inflate_fail.pcap")]);
        let s = t.wait_loaded();
        assert!(!line_with(&s, "did not inflate").contains(" 0 B "), "{s}");
        // The failed message is the second of four.
        t.keys(&["Tab"]);
        t.wait_for("Timeline #1  1/4");
        t.keys(&["Down"]);
        t.wait_for("Timeline #1  2/4");
        t.keys(&["Enter", "Enter"]);
        let s = t.wait_for("did not inflate (5 B compressed): the inflater failed");
        assert!(!s.contains("Failed(") && !s.contains("ContextLost"), "{s}");
        t.quit();
    }
}

/// Defect 11, smaller items: help closes on any key; one spelling of directions; an empty
/// message says so; a mid-stream session says its path is unknown; a refused upgrade shows
/// its TCP end and response body; wrapped finding lines keep their indent; no bright white.
#[test]
fn smaller_items() {
    for size in SIZES {
        let t = Term::start("small", size, &["tui", &fixture("node_debug.pcap")]);
        let s = t.wait_loaded();
        t.wait_for("Timeline #1");
        assert!(!s.contains('→') && !s.contains('←'), "{s}");
        assert!(s.contains("c->s") && s.contains("s->c"), "{s}");
        assert!(s.contains("(empty)"), "{s}");
        let colours = t.screen_with_colours();
        for bright in ["\x1b[97m", "\x1b[37m", "\x1b[1;37m", "\x1b[38;5;15m"] {
            assert!(
                !colours.contains(bright),
                "white text {bright:?}: {colours:?}"
            );
        }
        t.keys(&["?"]);
        t.wait_for("any key closes");
        t.keys(&["Z"]);
        t.wait("the help to close", |s| !s.contains("any key closes"));
        t.quit();

        let t = Term::start("mid", size, &["tui", &fixture("py_midstream.pcap")]);
        t.wait_for("path unknown (mid-stream)");
        t.quit();

        let t = Term::start("refused", size, &["tui", &fixture("py_refused.pcap")]);
        t.wait_for("rejected 403");
        t.keys(&["Enter", "G"]);
        let s = t.wait_for("TCP fin by server");
        assert!(
            s.contains("body (28 B): \"Forbidden: no such endpoint\\n\""),
            "{s}"
        );
        t.quit();
    }
}

/// Wrapped lines keep their indent: a finding's detail longer than the pane continues under
/// its text, not at the left edge.
#[test]
fn wrapped_finding_lines_keep_their_indent() {
    let t = Term::start(
        "indent",
        (80, 24),
        &["tui", &fixture("py_inflate_fail.pcap")],
    );
    t.wait_loaded();
    t.wait_for("Timeline #1");
    t.keys(&["Enter", "G"]);
    let s = t.wait_for("decompression-failed");
    let lines: Vec<&str> = s.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("decompression-failed"))
        .expect("finding line");
    let next = lines.get(at + 1).copied().unwrap_or_default();
    assert!(
        next.starts_with("│  "),
        "continuation indented: {next:?}\n{s}"
    );
    t.quit();
}

/// Mouse wheel scrolls the pane under the pointer, not the focused one, also where the pane
/// has no row (SGR mouse reports, as a terminal sends them).
#[test]
fn mouse_wheel_scrolls_the_pane_under_the_pointer() {
    for size in SIZES {
        let t = Term::start("wheel", size, &["tui", &fixture("node_ping.pcap")]);
        t.wait_loaded();
        t.wait_for("Timeline #1  1/9");
        // Focus stays on the session list; the wheel goes down over the timeline, below its
        // last message (1-based terminal row 19: the timeline's rows end at row 14).
        t.type_text("\x1b[<65;10;19M");
        let s = t.wait_for("Timeline #1  4/9");
        assert!(line_with(&s, "Sessions").contains("[Sessions"), "{s}");
        t.quit();
    }
}

/// Defect 10: a stats screen for the whole capture, and Enter on a finding goes to its
/// message.
#[test]
fn capture_stats_and_jump_from_a_finding_to_its_message() {
    for size in SIZES {
        let t = Term::start("stats", size, &["tui", &fixture("py_inflate_fail.pcap")]);
        t.wait_loaded();
        t.wait_for("Timeline #1");
        t.keys(&["s"]);
        let s = t.wait_for("Capture stats");
        assert!(s.contains("closed clean"), "sessions by outcome: {s}");
        assert!(s.contains("decompression-failed"), "{s}");
        assert!(s.contains("1002"), "first close code: {s}");
        // The second finding (after the handshake's origin-missing) is decompression-failed.
        t.keys(&["Down"]);
        t.wait("the decompression-failed finding selected", |s| {
            s.lines()
                .any(|l| l.contains(">#1") && l.contains("decompression-failed"))
        });
        t.keys(&["Enter"]);
        let s = t.wait_for("Message #2 of session #1");
        assert!(s.contains("did not inflate (5 B compressed)"), "{s}");
        t.quit();
    }
}
