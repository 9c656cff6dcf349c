//! One module per subcommand; this one dispatches and holds what they share: the analyzer
//! configuration, the file run with its progress bar, the `--fail-on` verdict.

mod analyze;
mod flows;
mod info;
mod live;
mod tui;

use crate::cli::{AnalysisArgs, Command, CommonArgs};
use crate::output::{error_line, STDOUT_CLOSED};
use anyhow::bail;
use std::io::{self, IsTerminal};
use std::process::ExitCode;
use wsscope_core::analyzer::AnalyzerConfig;
use wsscope_core::budget::MemoryBudget;
use wsscope_core::pipeline::{fail_on_matched, run_files, FailOn, RunOutcome};
use wsscope_core::session::SessionConfig;
use wsscope_core::sink::{Sink, Tally};
use wsscope_core::tcp::FlowLimits;

/// Runs one subcommand. An error is one `wsscope: error:` line and exit status 2.
pub fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Analyze(args) => analyze::run(args),
        Command::Flows(args) => flows::run(args),
        Command::Live(args) => live::run(args),
        Command::Interfaces => live::interfaces(),
        Command::Tui(args) => tui::run(args),
        Command::Schema { kind } => info::schema(kind),
        Command::Codes => info::codes(),
    }
}

/// The analyzer configuration from the analysis options; `keep_bytes` payload bytes are kept
/// per message.
pub fn config(analysis: &AnalysisArgs, keep_bytes: usize) -> AnalyzerConfig {
    AnalyzerConfig {
        session: SessionConfig {
            max_message_size: analysis.max_message_size,
            keep_bytes,
            decode_as_ports: analysis.decode_as.clone(),
            detect_midstream: !analysis.no_midstream,
            budget: None,
        },
        flows: FlowLimits {
            max_flows: analysis.max_flows.max(1),
            ..FlowLimits::default()
        },
        budget: MemoryBudget::new(analysis.max_memory),
        keys: Default::default(),
        tls: Default::default(),
    }
}

fn progress_bar(enabled: bool) -> Option<indicatif::ProgressBar> {
    if !enabled || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {bar:40} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// Runs the captures of `common` into `sink` with a progress bar; unreadable captures are
/// reported one line each (and listed in the outcome), a sink error ends the run.
fn execute(
    common: &CommonArgs,
    cfg: &AnalyzerConfig,
    sink: &mut dyn Sink,
) -> anyhow::Result<RunOutcome> {
    let bar = progress_bar(!common.no_progress);
    let mut progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let result = run_files(&common.captures, cfg, sink, &mut progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let outcome = sink_result(result)?;
    for e in &outcome.errors {
        error_line(&e.to_string());
    }
    Ok(outcome)
}

/// A sink error as the one-line error of the command.
fn sink_result<T>(result: io::Result<T>) -> anyhow::Result<T> {
    match result {
        Ok(v) => Ok(v),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => bail!(STDOUT_CLOSED),
        Err(e) => bail!("writing output: {e}"),
    }
}

/// True when the run matched the `--fail-on` gate; prints which findings matched.
fn gate_failed(fail_on: &[FailOn], tally: &Tally) -> bool {
    let matched = fail_on_matched(fail_on, tally);
    if matched.is_empty() {
        return false;
    }
    let codes: Vec<String> = matched
        .iter()
        .map(|(code, n)| format!("{} x{n}", code.as_str()))
        .collect();
    eprintln!("wsscope: --fail-on matched ({})", codes.join(", "));
    true
}
