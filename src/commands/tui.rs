//! `wsscope tui`: the terminal UI over capture files.

use super::config;
use crate::cli::TuiArgs;
use anyhow::Context;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Runs `tui`.
pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    let cfg = config(&args.common.analysis, 64 << 10);
    crate::keylog::load(&args.common.analysis, &cfg.keys)?;
    if args.measure_load {
        let app = crate::tui::load_blocking(&args.common.captures, &cfg);
        let messages: usize = app.sessions.iter().map(|s| s.messages.len()).sum();
        let kept: usize = app
            .sessions
            .iter()
            .flat_map(|s| s.messages.iter())
            .map(|m| m.event.message.payload.len())
            .sum();
        return crate::output::print_stdout(&format!(
            "{{\"sessions\": {}, \"messages\": {messages}, \"payload_kept\": {kept}}}\n",
            app.sessions.len()
        ));
    }
    // SIGINT/SIGTERM/SIGHUP end the UI like `q`: terminal restored, exit 0.
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst))
        .context("cannot install the SIGINT/SIGTERM/SIGHUP handler")?;
    crate::tui::run(&args.common.captures, &cfg, stop)?;
    Ok(ExitCode::SUCCESS)
}
