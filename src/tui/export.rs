//! Export from the UI: `w` writes the selected message's payload (raw bytes) or the selected
//! session (its events as NDJSON, as `wsscope analyze --ndjson` prints them) to a file; `y`
//! copies the selected message's text to the clipboard with OSC 52 where the terminal is
//! known to support it.

use crate::tui::spill::{SpillCursor, Spilled};
use crate::tui::state::{App, Detail, Pane, SessionInfo};
use crate::tui::store::MsgRow;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::rc::Rc;
use wsscope_core::analyzer::Event;
use wsscope_core::finding::Code;
use wsscope_core::session::SessionMessage;
use wsscope_core::sink::Sink;
use wsscope_core::ws::deflate::InflateError;
use wsscope_core::ws::message::{DecompressionError, Message, MessageKind};
use wsscope_output::ndjson::NdjsonSink;
use wsscope_output::report::PayloadMode;

/// Payload bytes of each message in an exported session: the default of `--preview-bytes`, so
/// the file holds what `wsscope analyze --ndjson` prints.
const NDJSON_PREVIEW_BYTES: usize = 256;

/// Most bytes `y` puts on the clipboard (terminals limit OSC 52 sequences).
pub const CLIPBOARD_MAX: usize = 100_000;

/// What `w` and `y` act on.
enum Selection<'a> {
    /// A message: its session, its position in the session (0-based), its row.
    Message(&'a SessionInfo, usize, &'a MsgRow),
    /// A whole session.
    Session(&'a SessionInfo),
}

/// The message selected in the timeline or shown in the detail pane; else the session.
fn selection(app: &App) -> Option<Selection<'_>> {
    let s = app.session()?;
    let on_message = match app.pane {
        Pane::Timeline => true,
        Pane::Detail => app.detail == Some(Detail::Message),
        Pane::Sessions => false,
    };
    match (on_message, app.message_pos(), app.message()) {
        (true, Some(pos), Some(row)) => Some(Selection::Message(s, pos, row)),
        _ => Some(Selection::Session(s)),
    }
}

/// The file name the export prompt proposes for the selection: `wsscope-s<id>-m<index>.txt`
/// (`.bin` for a non-text message) or `wsscope-s<id>.ndjson` for a session.
pub fn default_name(app: &App) -> String {
    match selection(app) {
        Some(Selection::Message(s, pos, row)) => {
            let ext = if row.kind == MessageKind::Text {
                "txt"
            } else {
                "bin"
            };
            format!("wsscope-s{}-m{}.{ext}", s.id(), s.index_of(pos))
        }
        Some(Selection::Session(s)) => format!("wsscope-s{}.ndjson", s.id()),
        None => String::new(),
    }
}

/// `path` with a leading `~/` replaced by `$HOME/` (relative paths stay relative to the
/// current directory).
fn expand_home(path: &str, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Writes the selection to `path` (never over an existing file); returns the notice to show
/// (raw text, holding the path as typed: the status line escapes it).
pub fn write_selection(app: &App, path: &str) -> String {
    let Some(sel) = selection(app) else {
        return "nothing to write: no session".into();
    };
    if path.is_empty() {
        return "no file name: nothing written".into();
    }
    let home = std::env::var("HOME").ok();
    let target = expand_home(path, home.as_deref());
    let file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return format!("{path} exists; type another name");
        }
        Err(e) => return format!("cannot write {path}: {e}"),
    };
    let result = match sel {
        Selection::Message(_, _, row) => write_message(app, row, file),
        Selection::Session(s) => write_session(app, s, file),
    };
    match result {
        Ok(done) => format!("wrote {done} to {path}"),
        Err(e) => {
            // Leave no half-written file behind.
            let _ = std::fs::remove_file(&target);
            format!("cannot write {path}: {e}")
        }
    }
}

/// Writes the kept payload of `row`; returns what was written ("6000 bytes").
fn write_message(app: &App, row: &MsgRow, mut file: File) -> io::Result<String> {
    let Some(spill) = &app.spill else {
        return Err(io::Error::other("the payloads are not available"));
    };
    let bytes = spill.read(row.payload)?;
    file.write_all(&bytes)?;
    file.sync_data()?;
    let n = bytes.len();
    Ok(if (n as u64) < row.len {
        format!(
            "{n} bytes (of {}: the rest was not captured or kept)",
            row.len
        )
    } else {
        format!("{n} bytes")
    })
}

/// Writes the session's events (start, messages and findings in their order, end) through
/// the NDJSON sink of `analyze --ndjson`; returns what was written ("session #3 (42 events)").
fn write_session(app: &App, s: &SessionInfo, file: File) -> io::Result<String> {
    let out = Rc::new(RefCell::new(BufWriter::new(file)));
    let mut sink = NdjsonSink::new(
        Box::new(SharedWriter(Rc::clone(&out))),
        PayloadMode::Preview(NDJSON_PREVIEW_BYTES),
        false,
    );
    let events = session_events(app, s, &mut sink)?;
    drop(sink);
    let mut out = out.borrow_mut();
    out.flush()?;
    out.get_ref().sync_data()?;
    Ok(format!("session #{} ({events} events)", s.id()))
}

/// Feeds the session's events to `sink` in the order the analyzer reported them; returns how
/// many.
fn session_events(app: &App, s: &SessionInfo, sink: &mut dyn Sink) -> io::Result<usize> {
    sink.begin_capture(&s.capture)?;
    sink.event(&Event::SessionStart(&s.start))?;
    let mut events = 1;
    let mut findings = s.findings.iter().zip(&s.finding_at).peekable();
    // The session's payloads ascend in the spill: read through a window, not one by one.
    let mut cursor = app.spill.as_deref().map(SpillCursor::new);
    for (pos, row) in s.messages.iter().enumerate() {
        // Findings that arrived before this message.
        while let Some((f, _)) = findings.next_if(|&(_, &at)| at <= pos) {
            sink.event(&Event::Finding {
                session: Some(s.id()),
                finding: f,
            })?;
            events += 1;
        }
        let m = session_message(cursor.as_mut(), s, pos, row)?;
        sink.event(&Event::Message(&m))?;
        events += 1;
    }
    for (f, _) in findings {
        sink.event(&Event::Finding {
            session: Some(s.id()),
            finding: f,
        })?;
        events += 1;
    }
    if let Some(end) = &s.end {
        sink.event(&Event::SessionEnd(end))?;
        events += 1;
    }
    Ok(events)
}

/// The analyzer's message back from its row and the first bytes of its kept payload (what
/// `analyze` keeps at its default `--preview-bytes`; a close payload is shorter). `end_ts` is
/// not kept in a row (no output prints it): the start time stands in.
fn session_message(
    cursor: Option<&mut SpillCursor<'_>>,
    s: &SessionInfo,
    pos: usize,
    row: &MsgRow,
) -> io::Result<SessionMessage> {
    let head = Spilled {
        offset: row.payload.offset,
        len: row.payload.len.min(NDJSON_PREVIEW_BYTES as u32),
    };
    let payload = match cursor {
        Some(c) if head.len > 0 => c.read(head)?.into_owned(),
        _ => Vec::new(),
    };
    let close_reason = match (row.kind, row.close_code) {
        (MessageKind::Close, Some(_)) => payload
            .get(2..)
            .map(|r| String::from_utf8_lossy(r).into_owned()),
        _ => None,
    };
    let utf8_valid = (row.kind == MessageKind::Text).then_some(!row.utf8_invalid());
    Ok(SessionMessage {
        session: s.id(),
        index: s.index_of(pos),
        message: Message {
            dir: row.dir,
            ts: row.ts,
            end_ts: row.ts,
            kind: row.kind,
            frames: row.frames,
            len: row.len,
            wire_len: row.wire_len,
            compressed: row.compressed(),
            payload,
            incomplete: row.incomplete(),
            utf8_valid,
            close_code: row.close_code,
            close_reason,
            inflate_error: row.inflate_failed().then(|| inflate_error(s, pos)),
        },
        first_packet: row.first_packet,
        last_packet: row.last_packet(),
        rtt_nanos: row.rtt_nanos(),
    })
}

/// Why `row` did not inflate, read back from the session's `decompression-failed` finding at
/// its time (`... does not inflate: <error>`). Without one (repeated findings are counted on
/// the first), the direction's context was lost: later messages fail for that reason.
fn inflate_error(s: &SessionInfo, pos: usize) -> DecompressionError {
    let lost = DecompressionError::ContextLost;
    let detail = s
        .findings_of_message(pos)
        .into_iter()
        .filter_map(|k| s.findings.get(k))
        .find(|f| f.code == Code::DecompressionFailed)
        .map(|f| f.detail.as_str());
    let Some(why) = detail.and_then(|d| d.split_once("does not inflate: ").map(|(_, w)| w)) else {
        return lost;
    };
    let stalled = DecompressionError::Inflate(InflateError::Stalled);
    if why == stalled.to_string() {
        return stalled;
    }
    match why
        .strip_prefix("the inflater failed: corrupt DEFLATE data (")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(reason) => DecompressionError::Inflate(InflateError::Corrupt(reason.to_string())),
        None => lost,
    }
}

/// A writer the sink owns while the caller keeps a handle to flush it and see the error.
struct SharedWriter(Rc<RefCell<BufWriter<File>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Whether `y` may copy with OSC 52.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clipboard {
    /// The terminal is known to handle OSC 52 (or `WSSCOPE_CLIPBOARD=osc52`).
    Osc52,
    /// `WSSCOPE_CLIPBOARD=off`.
    Off,
    /// Not known to support it.
    Unknown,
}

/// Decides from the environment (`env` looks a variable up) whether the terminal handles
/// OSC 52: `WSSCOPE_CLIPBOARD=osc52`/`off` decide; else tmux (`$TMUX`, with `set-clipboard
/// on`), iTerm2, WezTerm, VS Code, Ghostty, kitty, Alacritty and foot.
pub fn clipboard_support(env: impl Fn(&str) -> Option<String>) -> Clipboard {
    match env("WSSCOPE_CLIPBOARD").as_deref() {
        Some("osc52") => return Clipboard::Osc52,
        Some("off") => return Clipboard::Off,
        _ => {}
    }
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    let program = env("TERM_PROGRAM").unwrap_or_default();
    let term = env("TERM").unwrap_or_default();
    let known_program = ["iTerm.app", "WezTerm", "vscode", "ghostty"].contains(&program.as_str());
    let known_term = [
        "xterm-kitty",
        "alacritty",
        "foot",
        "wezterm",
        "xterm-ghostty",
    ]
    .iter()
    .any(|t| term.starts_with(t));
    if set("TMUX") || known_program || known_term {
        Clipboard::Osc52
    } else {
        Clipboard::Unknown
    }
}

/// The OSC 52 sequence setting the clipboard to `text`: `ESC ] 52 ; c ; <base64> BEL`.
pub fn osc52(text: &[u8]) -> String {
    format!("\x1b]52;c;{}\x07", STANDARD.encode(text))
}

/// Copies the selected message's text to the clipboard (the sequence is left in
/// [`App::pending_output`] for the event loop to write); returns the notice to show.
pub fn copy_selection(app: &mut App) -> String {
    copy_with(app, clipboard_support(|k| std::env::var(k).ok()))
}

/// [`copy_selection`] with the clipboard support decided.
pub fn copy_with(app: &mut App, support: Clipboard) -> String {
    let row = match selection(app) {
        Some(Selection::Message(_, _, row)) => *row,
        _ => return "select a message to copy (y copies a text message)".into(),
    };
    if row.kind != MessageKind::Text {
        return "binary message: use w to write it to a file".into();
    }
    match support {
        Clipboard::Osc52 => {}
        Clipboard::Off => return "clipboard: off (WSSCOPE_CLIPBOARD=off)".into(),
        Clipboard::Unknown => {
            return "clipboard: terminal not known to support OSC 52; set WSSCOPE_CLIPBOARD=osc52 to force".into()
        }
    }
    let bytes = app.payload_prefix(&row, CLIPBOARD_MAX);
    let capped = (bytes.len() as u64) < row.len;
    let text = if capped {
        whole_chars_lossy(&bytes)
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    app.pending_output = Some(osc52(text.as_bytes()));
    // The clipboard holds text: invalid UTF-8 is replaced by U+FFFD, and the user is told.
    let replaced = if row.utf8_invalid() {
        " (invalid UTF-8 replaced by U+FFFD; w writes the exact bytes)"
    } else {
        ""
    };
    if capped {
        format!(
            "copied the first {} of {} bytes to the clipboard{replaced}",
            text.len(),
            row.len
        )
    } else {
        format!("copied {} bytes to the clipboard{replaced}", text.len())
    }
}

/// The first bytes of a longer text (invalid sequences replaced), without the character the
/// cut went through.
fn whole_chars_lossy(bytes: &[u8]) -> String {
    let end = match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        _ => bytes.len(),
    };
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
