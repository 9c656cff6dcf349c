//! `wsscope schema` and `wsscope codes`: what the outputs contain.

use crate::cli::SchemaKind;
use crate::output::print_stdout;
use std::fmt::Write;
use std::process::ExitCode;
use wsscope_core::finding::Code;

/// Prints the JSON Schema of one output.
pub fn schema(kind: SchemaKind) -> anyhow::Result<ExitCode> {
    let text = match kind {
        SchemaKind::Report => wsscope_output::report::report_schema(),
        SchemaKind::Events => wsscope_output::report::events_schema(),
        SchemaKind::Flows => wsscope_output::report::flows_schema(),
    };
    print_stdout(&format!("{text}\n"))
}

/// Lists the finding codes with severity and meaning.
pub fn codes() -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    for code in Code::ALL {
        let _ = writeln!(
            text,
            "{:<28} {:<8} {}",
            code.as_str(),
            code.severity().as_str(),
            code.summary()
        );
    }
    print_stdout(&text)
}
