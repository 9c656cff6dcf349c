//! Terminal UI (`wsscope tui`): interactive timeline of WebSocket sessions.

use crate::analyzer::AnalyzerConfig;
use std::io;

/// Opens the full-screen UI on `paths`.
pub fn run(paths: &[String], cfg: &AnalyzerConfig) -> io::Result<()> {
    let _ = (paths, cfg);
    Err(io::Error::other("the terminal UI is not built yet"))
}
