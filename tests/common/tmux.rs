//! A real terminal for the terminal UI's end-to-end tests: a detached tmux server running
//! one command in a pane of a given size, driven with keys and read back once the screen has
//! settled. tmux is required: without it the tests fail.

use std::process::Command;
use std::time::{Duration, Instant};

/// The two terminal sizes every end-to-end test runs at.
pub const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

/// A detached tmux server running `wsscope tui ...` in a pane of a given size; killed on drop.
pub struct Term {
    socket: String,
    /// Columns and rows.
    pub size: (u16, u16),
}

fn tmux_ok() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is required for the terminal UI end-to-end tests (apt-get install tmux)"
    );
}

impl Term {
    /// Starts `wsscope <args>` at `size`; `tag` names the tmux socket. `WSSCOPE_E2E_BIN`
    /// runs the tests against another build (e.g. an older one, to see them fail there).
    pub fn start(tag: &str, size: (u16, u16), args: &[&str]) -> Term {
        let bin = std::env::var("WSSCOPE_E2E_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_wsscope").to_string());
        let mut cmd = vec![shell_quote(&bin)];
        cmd.extend(args.iter().map(|a| shell_quote(a)));
        Term::start_line(tag, size, &cmd.join(" "))
    }

    /// Starts the shell command `line` at `size`; when it ends, the pane shows
    /// `wsscope-exit-<status>`.
    pub fn start_line(tag: &str, size: (u16, u16), line: &str) -> Term {
        tmux_ok();
        let socket = format!(
            "wsscope-e2e-{}-{tag}-{}x{}",
            std::process::id(),
            size.0,
            size.1
        );
        let line = format!("{line}; echo wsscope-exit-$?; sleep 30");
        let t = Term { socket, size };
        let out = t.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            &size.0.to_string(),
            "-y",
            &size.1.to_string(),
            &line,
        ]);
        assert!(out.status.success(), "{out:?}");
        t
    }

    /// Lets applications in the pane set tmux's paste buffer with OSC 52.
    pub fn set_clipboard_on(&self) {
        let out = self.tmux(&["set-option", "-s", "set-clipboard", "on"]);
        assert!(out.status.success(), "{out:?}");
    }

    /// Runs a tmux command against this server.
    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// What the pane shows now.
    pub fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "e2e"]);
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// What the pane shows, with colour escape sequences.
    pub fn screen_with_colours(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-e", "-t", "e2e"]);
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Waits (up to 15 s) until the screen satisfies `ok` and is settled (the same in two
    /// captures 40 ms apart: tmux can capture a screen the UI is still drawing); panics with
    /// the screen if not.
    pub fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                std::thread::sleep(Duration::from_millis(40));
                let again = self.screen();
                if again == s {
                    return s;
                }
                continue;
            }
            if t.elapsed() > Duration::from_secs(15) {
                panic!(
                    "at {}x{}: waited for {what}; the screen shows:\n{s}",
                    self.size.0, self.size.1
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until loading has finished (the header no longer says `reading` or `loading`)
    /// and the UI shows its panes.
    pub fn wait_loaded(&self) -> String {
        self.wait("the capture to be loaded", |s| {
            let header = s.lines().next().unwrap_or_default();
            header.starts_with("wsscope")
                && !header.contains("reading")
                && !header.contains("loading")
                && s.contains("Sessions")
        })
    }

    /// Waits until the screen contains `text`.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }

    /// Sends tmux key names (`Enter`, `Down`, `G`, ...) one at a time, letting the UI draw.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.tmux(&["send-keys", "-t", "e2e", k]);
            assert!(out.status.success(), "{out:?}");
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", "e2e", "-l", text]);
        assert!(out.status.success(), "{out:?}");
        std::thread::sleep(Duration::from_millis(60));
    }

    /// True when the terminal is wide enough for the side-by-side detail.
    pub fn wide(&self) -> bool {
        self.size.0 >= 140
    }

    /// Quits with `q` and checks the exit status.
    pub fn quit(&self) {
        self.keys(&["q"]);
        let s = self.wait_for("wsscope-exit-");
        assert!(s.contains("wsscope-exit-0"), "{s}");
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// `s` quoted for `sh`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
