//! `wsscope tui`: the terminal UI over capture files.

use super::config;
use crate::cli::TuiArgs;
use anyhow::Context;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Runs `tui`.
pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    // The UI keeps every message's whole payload (in its spill file), up to the message size
    // limit: a debugger shows all of a message.
    let keep = usize::try_from(args.common.analysis.max_message_size).unwrap_or(usize::MAX);
    let cfg = config(&args.common.analysis, keep);
    crate::keylog::load(&args.common.analysis, &cfg.keys)?;
    if args.measure_load {
        let m = crate::tui::measure_load(&args.common.captures, &cfg);
        return crate::output::print_stdout(&format!("{m}\n"));
    }
    // SIGINT/SIGTERM/SIGHUP end the UI like `q`: terminal restored, exit 0.
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst))
        .context("cannot install the SIGINT/SIGTERM/SIGHUP handler")?;
    crate::tui::run(&args.common.captures, &cfg, stop)?;
    Ok(ExitCode::SUCCESS)
}
