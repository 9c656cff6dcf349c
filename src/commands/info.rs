//! `wsscope schema` and `wsscope codes`: what the outputs contain.

use crate::cli::SchemaKind;
use std::process::ExitCode;
use wsscope_core::finding::Code;

/// Prints the JSON Schema of one output.
pub fn schema(kind: SchemaKind) -> ExitCode {
    let text = match kind {
        SchemaKind::Report => wsscope_output::report::report_schema(),
        SchemaKind::Events => wsscope_output::report::events_schema(),
        SchemaKind::Flows => wsscope_output::report::flows_schema(),
    };
    println!("{text}");
    ExitCode::SUCCESS
}

/// Lists the finding codes with severity and meaning.
pub fn codes() -> ExitCode {
    for code in Code::ALL {
        println!(
            "{:<28} {:<8} {}",
            code.as_str(),
            code.severity().as_str(),
            code.summary()
        );
    }
    ExitCode::SUCCESS
}
