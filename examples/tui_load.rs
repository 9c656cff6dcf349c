//! Loads captures into the terminal UI's state without a terminal, as `wsscope tui` does
//! (64 KiB previews, the default memory budget unless `--max-memory BYTES`), for
//! `scripts/stress.sh` to measure. Prints sessions, messages and payload bytes kept.
//!
//! ```text
//! cargo run --release --example tui_load -- [--max-memory BYTES] CAPTURE...
//! ```

use wsscope::analyzer::AnalyzerConfig;
use wsscope::budget::{parse_size, MemoryBudget, DEFAULT_MAX_MEMORY};
use wsscope::session::SessionConfig;

fn main() {
    let mut limit = DEFAULT_MAX_MEMORY;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--max-memory" {
            let v = args.next().unwrap_or_default();
            limit = parse_size(&v).unwrap_or_else(|e| {
                eprintln!("tui_load: {e}");
                std::process::exit(2)
            });
        } else {
            paths.push(a);
        }
    }
    let cfg = AnalyzerConfig {
        session: SessionConfig {
            keep_bytes: 64 << 10,
            ..SessionConfig::default()
        },
        budget: MemoryBudget::new(limit),
        ..AnalyzerConfig::default()
    };
    let app = wsscope::tui::load_blocking(&paths, &cfg);
    let messages: usize = app.sessions.iter().map(|s| s.messages.len()).sum();
    let kept: usize = app
        .sessions
        .iter()
        .flat_map(|s| s.messages.iter())
        .map(|m| m.payload.len())
        .sum();
    println!(
        "{{\"sessions\": {}, \"messages\": {messages}, \"payload_kept\": {kept}}}",
        app.sessions.len()
    );
}
