//! The `wsscope` command line: parses the arguments and runs one command. The commands live in
//! [`commands`], the options in [`cli`], where output goes in [`output`].

mod cli;
mod commands;
mod keylog;
#[cfg(feature = "live")]
mod live;
mod output;
#[cfg(feature = "live")]
mod privdrop;
mod tui;

use clap::Parser;
use std::process::ExitCode;
use wsscope_core::escape::for_terminal;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // Plain text, each line escaped: a hostile argument (a file name) never reaches
            // the terminal raw.
            for line in e.render().to_string().lines() {
                eprintln!("{}", for_terminal(line));
            }
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            output::error_line(&format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}
