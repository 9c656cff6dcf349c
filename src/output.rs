//! Where output goes: report files replaced only when a run succeeds, standard output that may
//! close early (`| head`), and the one place the sinks of `analyze` and `live` are built.

use crate::cli::{OutputArgs, PayloadArg};
use anyhow::bail;
use std::cell::Cell;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use wsscope_core::budget::MemoryBudget;
use wsscope_core::escape::for_terminal;
use wsscope_core::pipeline::{parse_fail_on, FailOn};
use wsscope_core::sink::{Sink, Tee};
use wsscope_output::json::JsonReportSink;
use wsscope_output::ndjson::NdjsonSink;
use wsscope_output::report::PayloadMode;
use wsscope_output::text::TextSink;

/// A report file being written. A regular file (or a new one) is written to a temporary file
/// in the same directory and renamed over PATH by [`PendingOutput::commit`] only when the run
/// succeeded, so a failed or interrupted run never leaves PATH truncated or replaced by an
/// empty report. Anything else (`/dev/stdout`, a FIFO, `>(jq)`) is written in place.
pub struct PendingOutput {
    /// (temporary file, destination) while the rename is pending.
    rename: Option<(PathBuf, PathBuf)>,
}

impl PendingOutput {
    /// Renames the temporary file over the destination.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let Some((tmp, dest)) = self.rename.take() else {
            return Ok(());
        };
        let synced = std::fs::File::open(&tmp).and_then(|f| f.sync_all());
        synced
            .and_then(|()| std::fs::rename(&tmp, &dest))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                anyhow::anyhow!("{}: cannot write: {e}", dest.display())
            })
    }
}

impl Drop for PendingOutput {
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.rename.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// The identity of a file (device and inode on Unix), to tell whether two paths name it.
#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

/// Refuses an output path that names one of the input captures (under any spelling: hard
/// link, symlink, `./x`), before anything is opened for writing.
fn refuse_input_as_output(path: &str, inputs: &[String]) -> anyhow::Result<()> {
    let Ok(out) = std::fs::metadata(path) else {
        return Ok(());
    };
    for input in inputs.iter().filter(|i| i.as_str() != "-") {
        let Ok(meta) = std::fs::metadata(input) else {
            continue;
        };
        #[cfg(unix)]
        let same = file_id(&meta) == file_id(&out);
        #[cfg(not(unix))]
        let same = std::fs::canonicalize(input).ok() == std::fs::canonicalize(path).ok();
        if same && meta.is_file() {
            bail!(
                "{path}: is the input capture {input}; refusing to overwrite it (give the output another path)"
            );
        }
    }
    Ok(())
}

/// Opens an output: standard output for `-`, else a [`PendingOutput`] for PATH.
pub fn open_output(
    path: &str,
    inputs: &[String],
) -> anyhow::Result<(Box<dyn Write>, Option<PendingOutput>)> {
    if path == "-" {
        return Ok((Box::new(io::BufWriter::new(io::stdout())), None));
    }
    refuse_input_as_output(path, inputs)?;
    let cannot = |e: io::Error| anyhow::anyhow!("{path}: cannot write: {e}");
    let existing = std::fs::metadata(path);
    if let Ok(meta) = &existing {
        if meta.is_dir() {
            bail!("{path}: is a directory");
        }
        if !meta.is_file() {
            // A device, FIFO or socket: write through it as given.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(cannot)?;
            return Ok((Box::new(io::BufWriter::new(f)), None));
        }
    }
    // Through a symlink, replace the file it points to, not the link.
    let dest = match existing {
        Ok(_) => std::fs::canonicalize(path).map_err(cannot)?,
        Err(_) => PathBuf::from(path),
    };
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let mut attempt = 0u32;
    loop {
        let tmp = dir.join(format!(
            ".{name}.wsscope-{}-{attempt}.tmp",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => {
                let pending = PendingOutput {
                    rename: Some((tmp, dest)),
                };
                return Ok((Box::new(io::BufWriter::new(f)), Some(pending)));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(cannot(e)),
        }
    }
}

/// Replaces the destination of `pending` when the run ended with `code` 0 or 1; on exit 2
/// the temporary file is removed and the destination left as it was.
pub fn finish_output(pending: Option<PendingOutput>, code: u8) -> anyhow::Result<ExitCode> {
    if let (Some(p), 0 | 1) = (pending, code) {
        p.commit()?;
    }
    Ok(ExitCode::from(code))
}

/// Prints one `wsscope: error:` line; file names and other input-derived text in `msg` are
/// escaped like everything written to a terminal (no raw control characters).
pub fn error_line(msg: &str) {
    eprintln!("wsscope: error: {}", for_terminal(msg));
}

/// The line printed when standard output went away before everything was written.
pub const STDOUT_CLOSED: &str =
    "standard output was closed before all output was written (broken pipe); output is incomplete";

/// Writes `text` to standard output. A closed standard output (`| head`) is the one
/// [`STDOUT_CLOSED`] error (exit 2), not a panic.
pub fn print_stdout(text: &str) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => bail!(STDOUT_CLOSED),
        Err(e) => bail!("cannot write to standard output: {e}"),
    }
}

/// Wraps a sink writing to standard output. When standard output closes (`| head`), the sink
/// is dropped and `closed` set; with `keep_going` (a --fail-on gate or a --json file still
/// needs the rest of the analysis) the run continues without it, else it stops.
struct StdoutSink {
    inner: Box<dyn Sink>,
    closed: Rc<Cell<bool>>,
    keep_going: bool,
}

impl StdoutSink {
    fn guard(&mut self, f: impl FnOnce(&mut dyn Sink) -> io::Result<()>) -> io::Result<()> {
        if self.closed.get() {
            return Ok(());
        }
        match f(self.inner.as_mut()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed.set(true);
                if self.keep_going {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            r => r,
        }
    }
}

impl Sink for StdoutSink {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.guard(|s| s.begin_capture(path))
    }
    fn event(&mut self, ev: &wsscope_core::analyzer::Event<'_>) -> io::Result<()> {
        self.guard(|s| s.event(ev))
    }
    fn end_capture(&mut self, capture: &wsscope_core::totals::CaptureTotals) -> io::Result<()> {
        self.guard(|s| s.end_capture(capture))
    }
    fn finish(
        &mut self,
        summary: &wsscope_core::totals::RunTotals,
        captures: &[wsscope_core::totals::CaptureTotals],
    ) -> io::Result<()> {
        self.guard(|s| s.finish(summary, captures))
    }
}

/// Output settings shared by `analyze` and `live`: the parsed `--fail-on` list, the payload
/// mode and how many payload bytes each message keeps.
pub struct OutputSettings {
    /// The `--fail-on` gate (empty: none).
    pub fail_on: Vec<FailOn>,
    /// Payload in JSON/NDJSON output.
    pub mode: PayloadMode,
    /// Payload bytes each message keeps.
    pub keep: usize,
}

/// Checks and parses the report and gate options.
pub fn output_settings(out: &OutputArgs, max_message_size: u64) -> anyhow::Result<OutputSettings> {
    let fail_on = out
        .fail_on
        .as_deref()
        .map(parse_fail_on)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or_default();
    if out.ndjson && out.json.as_deref() == Some("-") {
        bail!("--ndjson and --json - both write to standard output; give --json a file path");
    }
    let mode = match out.payload {
        PayloadArg::None => PayloadMode::None,
        PayloadArg::Preview => PayloadMode::Preview(out.preview_bytes),
        PayloadArg::Full => PayloadMode::Full,
    };
    let keep = match mode {
        PayloadMode::Full => usize::try_from(max_message_size).unwrap_or(usize::MAX),
        _ => out.preview_bytes,
    };
    Ok(OutputSettings {
        fail_on,
        mode,
        keep,
    })
}

/// Where the text output goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TextOutput {
    /// No text.
    None,
    /// Standard output; with `transcript`, every message under its session.
    Stdout {
        /// Print every message.
        transcript: bool,
    },
    /// The transcript on standard error (standard output is taken by JSON; `live` only).
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    StderrTranscript,
}

/// How the sinks write.
pub struct SinkPlan<'a> {
    /// The report and gate options.
    pub output: &'a OutputArgs,
    /// Their parsed form.
    pub settings: &'a OutputSettings,
    /// The text output.
    pub text: TextOutput,
    /// Paths the `--json` report must not replace (the captures read, the `-w` savefile).
    pub protected: &'a [String],
    /// Flush every line and event as it is written (a live capture has no end to wait for).
    pub flush_each: bool,
    /// The budget the JSON report keeps payloads within.
    pub budget: &'a MemoryBudget,
}

/// The sinks of a run, with what the command needs once it is over.
pub struct Outputs {
    /// Every sink.
    pub tee: Tee,
    /// The `--json` file waiting to replace its destination.
    pub pending: Option<PendingOutput>,
    /// Set when standard output closed early.
    pub closed: Rc<Cell<bool>>,
}

/// Builds the sinks of `analyze` and `live`: text, `--json`, `--ndjson`. Sinks on standard
/// output follow the closed-stdout rule: with a gate or a report file still to write, the run
/// goes on without them, else it stops.
pub fn build_outputs(plan: &SinkPlan<'_>) -> anyhow::Result<Outputs> {
    let out = plan.output;
    let mode = plan.settings.mode;
    let mut pending = None;
    let json_out = match &out.json {
        Some(path) => {
            let (w, p) = open_output(path, plan.protected)?;
            pending = p;
            Some(w)
        }
        None => None,
    };
    // With a gate or a report file, a closed standard output does not stop the analysis.
    let keep_going = !plan.settings.fail_on.is_empty() || pending.is_some();
    let closed = Rc::new(Cell::new(false));
    let on_stdout = |inner: Box<dyn Sink>| -> Box<dyn Sink> {
        Box::new(StdoutSink {
            inner,
            closed: Rc::clone(&closed),
            keep_going,
        })
    };
    let stdout = || -> Box<dyn Write> {
        if plan.flush_each {
            Box::new(io::LineWriter::new(io::stdout()))
        } else {
            Box::new(io::BufWriter::new(io::stdout()))
        }
    };
    let mut tee = Tee::new();
    match plan.text {
        TextOutput::None => {}
        TextOutput::Stdout { transcript } => tee.push(on_stdout(Box::new(TextSink::new(
            stdout(),
            transcript,
            out.preview_bytes,
        )))),
        TextOutput::StderrTranscript => tee.push(Box::new(TextSink::new(
            Box::new(io::LineWriter::new(io::stderr())),
            true,
            out.preview_bytes,
        ))),
    }
    if let Some(w) = json_out {
        let sink = Box::new(JsonReportSink::new(w, mode).with_budget(plan.budget.clone()));
        if pending.is_some() || out.json.as_deref() != Some("-") {
            tee.push(sink);
        } else {
            tee.push(on_stdout(sink));
        }
    }
    if out.ndjson {
        tee.push(on_stdout(Box::new(NdjsonSink::new(
            stdout(),
            mode,
            plan.flush_each,
        ))));
    }
    Ok(Outputs {
        tee,
        pending,
        closed,
    })
}
