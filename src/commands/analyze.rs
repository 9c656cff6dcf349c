//! `wsscope analyze`: captures in, text / JSON report / NDJSON out, exit status as a CI gate.

use super::{config, execute, gate_failed};
use crate::cli::AnalyzeArgs;
use crate::output::{
    build_outputs, error_line, finish_output, output_settings, SinkPlan, TextOutput, STDOUT_CLOSED,
};
use anyhow::bail;
use std::process::ExitCode;

/// Runs `analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let settings = output_settings(&args.output, args.common.analysis.max_message_size)?;
    if args.messages && args.output.stdout_taken() {
        let taken = if args.output.ndjson {
            "--ndjson"
        } else {
            "--json -"
        };
        bail!(
            "--messages prints the transcript to standard output, which {taken} already uses; \
             drop --messages (the JSON output carries every message) or give --json a file path"
        );
    }
    if args.messages && args.quiet {
        bail!("--messages prints the transcript, --quiet prints no text; give one");
    }
    let cfg = config(&args.common.analysis, settings.keep);
    crate::keylog::load(&args.common.analysis, &cfg.keys)?;
    let text = if args.quiet || args.output.stdout_taken() {
        TextOutput::None
    } else {
        TextOutput::Stdout {
            transcript: args.messages,
        }
    };
    let mut outputs = build_outputs(&SinkPlan {
        output: &args.output,
        settings: &settings,
        text,
        protected: &args.common.captures,
        flush_each: false,
        budget: &cfg.budget,
    })?;
    let outcome = execute(&args.common, &cfg, &mut outputs.tee)?;
    drop(outputs.tee);
    let closed = outputs.closed.get();
    if closed {
        error_line(STDOUT_CLOSED);
    }
    if !outcome.errors.is_empty() {
        return finish_output(outputs.pending, 2);
    }
    if gate_failed(&settings.fail_on, &outcome.tally) {
        return finish_output(outputs.pending, 1);
    }
    finish_output(outputs.pending, if closed { 2 } else { 0 })
}
