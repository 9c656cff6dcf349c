//! The `wsscope` command line: wires library modules together, nothing more.

#[cfg(feature = "live")]
mod live;
#[cfg(feature = "live")]
mod privdrop;
mod tui;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::cell::Cell;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use wsscope_core::analyzer::AnalyzerConfig;
use wsscope_core::budget::MemoryBudget;
use wsscope_core::escape::for_terminal;
use wsscope_core::finding::Code;
use wsscope_core::run::{fail_on_matches, parse_fail_on, run, RunOutcome};
use wsscope_core::session::SessionConfig;
use wsscope_core::sink::{Sink, Tee};
use wsscope_core::tcp::FlowLimits;
use wsscope_output::json::JsonReportSink;
use wsscope_output::ndjson::NdjsonSink;
use wsscope_output::report::{flow_report, FlowsReport, PayloadMode, SCHEMA_VERSION};
use wsscope_output::text::{human_bytes, TextSink};

/// Passive WebSocket protocol analyzer: reads pcap/pcapng captures, reassembles TCP, verifies
/// the upgrade handshake and decodes every frame into messages.
#[derive(Parser)]
#[command(name = "wsscope", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse captures: per-session summary, transcript, JSON report, CI gate.
    ///
    /// Exit status: 0 ok; 1 a --fail-on item matched; 2 usage or input error, or standard
    /// output closed before everything was written (`| head`). With --fail-on the analysis
    /// still runs to the end when standard output closes early, and a match exits 1 (the
    /// closed output is still reported on stderr). A --json file is replaced only when the run
    /// exits 0 or 1.
    Analyze(AnalyzeArgs),
    /// List every TCP connection: endpoints, bytes, how it began and ended, retransmissions,
    /// gaps and whether it carried WebSocket, HTTP or something else.
    Flows(FlowsArgs),
    /// Sniff an interface and analyse WebSocket traffic as it flows (needs the `live` build
    /// feature and capture permission). Ctrl-C, SIGTERM or SIGHUP ends the capture and flushes
    /// every open session and the final report; exit status as for `analyze`.
    Live(LiveArgs),
    /// List the interfaces `live -i` can capture on.
    Interfaces,
    /// Open the interactive terminal UI: session list, message timeline, detail pane.
    ///
    /// `q`, Ctrl-C, SIGINT, SIGTERM and SIGHUP quit (terminal restored, exit 0); a lost
    /// terminal (hang-up, EOF or I/O error on the tty) ends it with exit status 2.
    Tui(TuiArgs),
    /// Print the JSON Schema of the report (`report`), of NDJSON lines (`events`) or of
    /// `flows --json` (`flows`).
    Schema {
        /// Which document.
        #[arg(value_enum, default_value_t = SchemaKind::Report)]
        kind: SchemaKind,
    },
    /// List the finding codes usable in --fail-on, with severity and meaning.
    Codes,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaKind {
    Report,
    Events,
    Flows,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum PayloadArg {
    /// No payload in JSON output.
    None,
    /// The first --preview-bytes bytes.
    Preview,
    /// The whole payload (up to --max-message-size; all payloads held by the report within
    /// --max-memory).
    Full,
}

#[derive(Args)]
struct CommonArgs {
    /// Capture files (pcap or pcapng); `-` reads standard input, and pipes (`<(...)`, a FIFO)
    /// are streamed.
    #[arg(required = true, value_name = "CAPTURE")]
    captures: Vec<String>,
    /// Decode traffic to this server port as WebSocket even without a captured handshake, when
    /// the server's 101 is missing from the capture, or when a 101 answered a request that did
    /// not ask for WebSocket (repeatable).
    #[arg(long = "decode-as", value_name = "PORT")]
    decode_as: Vec<u16>,
    /// Do not look for WebSocket framing on connections captured mid-stream.
    #[arg(long)]
    no_midstream: bool,
    /// Largest message decoded in full, after inflation (bytes); larger ones are counted and
    /// reported as message-too-large.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_message_size: u64,
    /// Most TCP connections tracked at once; the least active are evicted beyond it.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_flows: usize,
    /// Memory budget (bytes, or with K, M, G) for the analysis's buffers (out-of-order TCP
    /// data, messages being assembled, inflaters) and the payloads the JSON report and the
    /// terminal UI hold (at most 7/8 of it). When reached, the least active sessions give up
    /// out-of-order data (gap declared) or payload, reported as memory-budget-exceeded or
    /// payload-budget-exceeded; lengths, counts and findings are kept.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = wsscope_core::budget::parse_size)]
    max_memory: u64,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Print every message (transcript) under its session; an error with --ndjson, --json -
    /// or -q (standard output is taken or silenced).
    #[arg(long)]
    messages: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// No text output (only --json/--ndjson and the exit status).
    #[arg(short, long)]
    quiet: bool,
}

/// Report and CI-gate options shared by `analyze` and `live`.
#[derive(Args)]
struct OutputArgs {
    /// Write the JSON report to PATH (`-` for standard output). The report is written to a
    /// temporary file beside PATH and renamed over it only when the run succeeds (exit 0 or
    /// 1); PATH may not be one of the captures.
    #[arg(long, value_name = "PATH|-")]
    json: Option<String>,
    /// Stream events to standard output, one JSON object per line.
    #[arg(long)]
    ndjson: bool,
    /// Exit 1 if any finding matches: severities (info, warning, error: that severity or worse)
    /// and/or finding codes, comma-separated. Example: --fail-on error,tcp-gap
    #[arg(long, value_name = "LIST")]
    fail_on: Option<String>,
    /// Payload in JSON/NDJSON output.
    #[arg(long, value_enum, default_value_t = PayloadArg::Preview)]
    payload: PayloadArg,
    /// Payload bytes shown in previews (JSON preview mode and the transcript).
    #[arg(long, value_name = "N", default_value_t = 256)]
    preview_bytes: usize,
}

impl OutputArgs {
    /// Whether `--ndjson` or `--json -` writes to standard output (no room for the text).
    fn stdout_taken(&self) -> bool {
        self.ndjson || self.json.as_deref() == Some("-")
    }
}

// `live` words four of the shared options for a capture that has no end of file; the option
// itself (name, type, default) is still the one in `OutputArgs`.
#[derive(Args)]
#[command(
    mut_arg("json", |a| a.help("Write the JSON report to PATH when the capture ends (`-` for standard output)")),
    mut_arg("ndjson", |a| a.help("Stream events to standard output, one JSON object per line, flushed per event")),
    mut_arg("fail_on", |a| a.help("Exit 1 if any finding matches (as for `analyze`)")),
    mut_arg("preview_bytes", |a| a.help("Payload bytes shown in previews")),
)]
struct LiveArgs {
    /// Interface to capture on (`wsscope interfaces` lists them; `any` for all on Linux).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: String,
    /// BPF capture filter, e.g. 'tcp port 8080'.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    filter: Option<String>,
    /// Bytes kept per packet.
    #[arg(long, default_value_t = 262_144)]
    snaplen: i32,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Let the kernel batch packets (lower CPU, higher latency) instead of immediate mode.
    #[arg(long)]
    no_immediate: bool,
    /// Kernel capture buffer size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 20)]
    buffer_size: i32,
    /// Stop after this many packets.
    #[arg(short = 'c', long = "count", value_name = "N")]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Also save every captured packet to this pcap file.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    write: Option<String>,
    /// Drop root privileges to USER (name or numeric uid) once the interface and the -w file
    /// are open, like tcpdump -Z: the capture handle stays open and everything else, the
    /// decoding of untrusted packets included, runs unprivileged.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Print every message as it completes instead of opening the terminal UI (the transcript
    /// is the default when standard output is not a terminal).
    #[arg(long)]
    messages: bool,
    /// Never open the terminal UI; print the transcript.
    #[arg(long)]
    no_tui: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Decode traffic to this server port as WebSocket even without a captured handshake, when
    /// the server's 101 is missing from the capture, or when a 101 answered a request that did
    /// not ask for WebSocket.
    #[arg(long = "decode-as", value_name = "PORT")]
    decode_as: Vec<u16>,
    /// Largest message decoded in full, after inflation (bytes).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    max_message_size: u64,
    /// Memory budget for the analysis's buffers and the payloads the terminal UI holds (as
    /// for `analyze`).
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = wsscope_core::budget::parse_size)]
    max_memory: u64,
}

#[derive(Args)]
struct TuiArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Build the UI's state without a terminal and print what it holds as JSON (sessions,
    /// messages, payload bytes kept in memory), for `scripts/stress.sh` to measure.
    #[arg(long, hide = true)]
    measure_load: bool,
}

#[derive(Args)]
struct FlowsArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Write the flow list as JSON to PATH (`-` for standard output); replaced only when
    /// every capture was read, and never one of the captures.
    #[arg(long, value_name = "PATH|-")]
    json: Option<String>,
}

fn config(common: &CommonArgs, keep_bytes: usize) -> AnalyzerConfig {
    AnalyzerConfig {
        session: SessionConfig {
            max_message_size: common.max_message_size,
            keep_bytes,
            decode_as_ports: common.decode_as.clone(),
            detect_midstream: !common.no_midstream,
            budget: None,
        },
        flows: FlowLimits {
            max_flows: common.max_flows.max(1),
            ..FlowLimits::default()
        },
        budget: MemoryBudget::new(common.max_memory),
    }
}

/// A report file being written. A regular file (or a new one) is written to a temporary file
/// in the same directory and renamed over PATH by [`PendingOutput::commit`] only when the run
/// succeeded, so a failed or interrupted run never leaves PATH truncated or replaced by an
/// empty report. Anything else (`/dev/stdout`, a FIFO, `>(jq)`) is written in place.
struct PendingOutput {
    /// (temporary file, destination) while the rename is pending.
    rename: Option<(PathBuf, PathBuf)>,
}

impl PendingOutput {
    fn commit(mut self) -> Result<(), String> {
        let Some((tmp, dest)) = self.rename.take() else {
            return Ok(());
        };
        let synced = std::fs::File::open(&tmp).and_then(|f| f.sync_all());
        synced
            .and_then(|()| std::fs::rename(&tmp, &dest))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("{}: cannot write: {e}", dest.display())
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
fn refuse_input_as_output(path: &str, inputs: &[String]) -> Result<(), String> {
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
            return Err(format!(
                "{path}: is the input capture {input}; refusing to overwrite it (give the output another path)"
            ));
        }
    }
    Ok(())
}

/// Opens an output: standard output for `-`, else a [`PendingOutput`] for PATH.
fn open_output(
    path: &str,
    inputs: &[String],
) -> Result<(Box<dyn Write>, Option<PendingOutput>), String> {
    if path == "-" {
        return Ok((Box::new(io::BufWriter::new(io::stdout())), None));
    }
    refuse_input_as_output(path, inputs)?;
    let cannot = |e: io::Error| format!("{path}: cannot write: {e}");
    let existing = std::fs::metadata(path);
    if let Ok(meta) = &existing {
        if meta.is_dir() {
            return Err(format!("{path}: is a directory"));
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
fn finish_output(pending: Option<PendingOutput>, code: u8) -> ExitCode {
    if let (Some(p), 0 | 1) = (pending, code) {
        if let Err(e) = p.commit() {
            return usage_error(&e);
        }
    }
    ExitCode::from(code)
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

/// Prints one `wsscope: error:` line; file names and other input-derived text in `msg` are
/// escaped like everything written to a terminal (no raw control characters).
fn error_line(msg: &str) {
    eprintln!("wsscope: error: {}", for_terminal(msg));
}

fn usage_error(msg: &str) -> ExitCode {
    error_line(msg);
    ExitCode::from(2)
}

/// The line printed when standard output went away before everything was written.
const STDOUT_CLOSED: &str =
    "standard output was closed before all output was written (broken pipe); output is incomplete";

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

fn execute(
    common: &CommonArgs,
    cfg: &AnalyzerConfig,
    sink: &mut dyn Sink,
) -> Result<RunOutcome, ExitCode> {
    let bar = progress_bar(!common.no_progress);
    let mut progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let result = run(&common.captures, cfg, sink, &mut progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match result {
        Ok(outcome) => {
            for e in &outcome.errors {
                error_line(&e.to_string());
            }
            Ok(outcome)
        }
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(usage_error(STDOUT_CLOSED)),
        Err(e) => Err(usage_error(&format!("writing output: {e}"))),
    }
}

/// Output settings shared by `analyze` and `live`: the parsed `--fail-on` list, the payload
/// mode and how many payload bytes each message keeps.
struct OutputSettings {
    fail_on: Vec<wsscope_core::run::FailOn>,
    mode: PayloadMode,
    keep: usize,
}

fn output_settings(out: &OutputArgs, max_message_size: u64) -> Result<OutputSettings, String> {
    let fail_on = out
        .fail_on
        .as_deref()
        .map(parse_fail_on)
        .transpose()?
        .unwrap_or_default();
    if out.ndjson && out.json.as_deref() == Some("-") {
        return Err(
            "--ndjson and --json - both write to standard output; give --json a file path".into(),
        );
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

fn analyze(args: AnalyzeArgs) -> ExitCode {
    let OutputSettings {
        fail_on,
        mode,
        keep,
    } = match output_settings(&args.output, args.common.max_message_size) {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    if args.messages && args.output.stdout_taken() {
        let taken = if args.output.ndjson {
            "--ndjson"
        } else {
            "--json -"
        };
        return usage_error(&format!(
            "--messages prints the transcript to standard output, which {taken} already uses; \
             drop --messages (the JSON output carries every message) or give --json a file path"
        ));
    }
    if args.messages && args.quiet {
        return usage_error("--messages prints the transcript, --quiet prints no text; give one");
    }
    let cfg = config(&args.common, keep);
    let mut pending = None;
    let json_out = match &args.output.json {
        Some(path) => match open_output(path, &args.common.captures) {
            Ok((out, p)) => {
                pending = p;
                Some(out)
            }
            Err(e) => return usage_error(&e),
        },
        None => None,
    };
    // With a gate or a report file, a closed standard output does not stop the analysis.
    let keep_going = !fail_on.is_empty() || pending.is_some();
    let closed = Rc::new(Cell::new(false));
    let on_stdout = |inner: Box<dyn Sink>| -> Box<dyn Sink> {
        Box::new(StdoutSink {
            inner,
            closed: Rc::clone(&closed),
            keep_going,
        })
    };
    let mut tee = Tee::new();
    if !args.quiet && !args.output.stdout_taken() {
        tee.push(on_stdout(Box::new(TextSink::new(
            Box::new(io::BufWriter::new(io::stdout())),
            args.messages,
            args.output.preview_bytes,
        ))));
    }
    if let Some(out) = json_out {
        let sink = Box::new(JsonReportSink::new(out, mode).with_budget(cfg.budget.clone()));
        if pending.is_some() || args.output.json.as_deref() != Some("-") {
            tee.push(sink);
        } else {
            tee.push(on_stdout(sink));
        }
    }
    if args.output.ndjson {
        tee.push(on_stdout(Box::new(NdjsonSink::new(
            Box::new(io::BufWriter::new(io::stdout())),
            mode,
            false,
        ))));
    }
    let outcome = match execute(&args.common, &cfg, &mut tee) {
        Ok(o) => o,
        Err(code) => return code,
    };
    drop(tee);
    if closed.get() {
        error_line(STDOUT_CLOSED);
    }
    if !outcome.errors.is_empty() {
        return finish_output(pending, 2);
    }
    if fail_on_matches(&fail_on, &outcome.tally) {
        let codes: Vec<String> = outcome
            .tally
            .totals
            .findings_by_code
            .iter()
            .map(|(c, n)| format!("{} x{n}", c.as_str()))
            .collect();
        eprintln!("wsscope: --fail-on matched ({})", codes.join(", "));
        return finish_output(pending, 1);
    }
    finish_output(pending, if closed.get() { 2 } else { 0 })
}

struct FlowsSink {
    capture: String,
    flows: Vec<wsscope_output::report::FlowReport>,
}

impl Sink for FlowsSink {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.capture = path.to_string();
        Ok(())
    }
    fn event(&mut self, ev: &wsscope_core::analyzer::Event<'_>) -> io::Result<()> {
        if let wsscope_core::analyzer::Event::Flow(r) = ev {
            self.flows.push(flow_report(r, &self.capture));
        }
        Ok(())
    }
    fn finish(
        &mut self,
        _: &wsscope_core::totals::RunTotals,
        _: &[wsscope_core::totals::CaptureTotals],
    ) -> io::Result<()> {
        Ok(())
    }
}

fn flows(args: FlowsArgs) -> ExitCode {
    let cfg = config(&args.common, 0);
    let mut sink = FlowsSink {
        capture: String::new(),
        flows: Vec::new(),
    };
    let json_out = match args
        .json
        .as_deref()
        .map(|p| open_output(p, &args.common.captures))
    {
        Some(Ok(o)) => Some(o),
        Some(Err(e)) => return usage_error(&e),
        None => None,
    };
    let outcome = match execute(&args.common, &cfg, &mut sink) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if outcome.captures.is_empty() && !outcome.errors.is_empty() {
        return ExitCode::from(2);
    }
    let mut flows = sink.flows;
    flows.sort_by(|a, b| (&a.capture, &a.first_ts, a.id).cmp(&(&b.capture, &b.first_ts, b.id)));
    let mut pending = None;
    let written = match json_out {
        Some((mut out, p)) => {
            pending = p;
            (|| {
                let doc = FlowsReport {
                    schema_version: SCHEMA_VERSION,
                    flows,
                };
                let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
                out.write_all(wsscope_core::escape::json_terminal_safe(text).as_bytes())?;
                out.write_all(b"\n")?;
                out.flush()
            })()
        }
        None => print_flows(&flows),
    };
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => usage_error(STDOUT_CLOSED),
        Err(e) => usage_error(&e.to_string()),
        Ok(()) if !outcome.errors.is_empty() => finish_output(pending, 2),
        Ok(()) => finish_output(pending, 0),
    }
}

fn print_flows(flows: &[wsscope_output::report::FlowReport]) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout());
    writeln!(
        out,
        "{:<5} {:<45} {:<45} {:<9} {:>10} {:>10} {:<9} {:<14} {:>6} {:>5}",
        "FLOW", "CLIENT", "SERVER", "CLASS", "C->S", "S->C", "BEGAN", "ENDED", "RETX", "GAPS"
    )?;
    for f in flows {
        let endpoint = |e: &wsscope_output::report::Endpoint| {
            if e.ip.contains(':') {
                format!("[{}]:{}", e.ip, e.port)
            } else {
                format!("{}:{}", e.ip, e.port)
            }
        };
        let client = if f.roles_inferred {
            format!("{} (inferred)", endpoint(&f.client))
        } else {
            endpoint(&f.client)
        };
        writeln!(
            out,
            "{:<5} {:<45} {:<45} {:<9} {:>10} {:>10} {:<9} {:<14} {:>6} {:>5}",
            f.id,
            client,
            endpoint(&f.server),
            f.classification.as_str(),
            human_bytes(f.bytes_c2s),
            human_bytes(f.bytes_s2c),
            f.began.as_str(),
            f.ended.as_str(),
            f.retransmissions,
            f.gaps
        )?;
    }
    out.flush()
}

#[cfg(not(feature = "live"))]
const LIVE_HOWTO: &str = "this wsscope was built without live capture: install libpcap (apt-get install libpcap-dev) and rebuild with `cargo build --release --features live`";

#[cfg(not(feature = "live"))]
fn live(_: LiveArgs) -> ExitCode {
    usage_error(LIVE_HOWTO)
}

#[cfg(not(feature = "live"))]
fn interfaces() -> ExitCode {
    usage_error(LIVE_HOWTO)
}

#[cfg(feature = "live")]
fn interfaces() -> ExitCode {
    match crate::live::interfaces() {
        Ok(list) => {
            for i in list {
                let desc = i.description.unwrap_or_default();
                println!("{:<16} {:<40} {}", i.name, i.addresses.join(" "), desc);
            }
            ExitCode::SUCCESS
        }
        Err(e) => usage_error(&format!("cannot list interfaces: {e}")),
    }
}

/// `--user`: the account exists, is not root, and this process may switch to it. Checked
/// before anything is opened; the switch itself happens in `crate::live::open`.
#[cfg(feature = "live")]
fn resolve_user(spec: &str) -> Result<crate::privdrop::User, crate::privdrop::PrivDropError> {
    let user = crate::privdrop::lookup(spec)?;
    crate::privdrop::check_permitted()?;
    Ok(user)
}

/// Set by the SIGINT/SIGTERM handler (or the UI) to end a live capture.
#[cfg(feature = "live")]
type StopFlag = std::sync::Arc<std::sync::atomic::AtomicBool>;

/// Opens the capture (dropping privileges for `--user`), then installs the SIGINT/SIGTERM
/// handler: its thread starts after the drop, so the drop happens while the process has a
/// single thread (capabilities are per thread on Linux).
#[cfg(feature = "live")]
fn open_capture(
    opts: &crate::live::LiveOptions,
) -> Result<(crate::live::OpenCapture, StopFlag), ExitCode> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let capture = crate::live::open(opts).map_err(|e| usage_error(&e.to_string()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst))
        .map_err(|e| usage_error(&format!("cannot install the SIGINT/SIGTERM handler: {e}")))?;
    Ok((capture, stop))
}

/// Live capture shown in the terminal UI; quitting the UI stops the capture.
#[cfg(feature = "live")]
fn live_tui(opts: crate::live::LiveOptions, cfg: AnalyzerConfig) -> ExitCode {
    use std::sync::atomic::Ordering;
    use std::sync::{mpsc, Arc};
    // Open the interface (and drop privileges) before taking over the screen, so errors are
    // plain one-liners.
    let (capture, stop) = match open_capture(&opts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (status_tx, status_rx) = mpsc::channel::<crate::live::CaptureStats>();
    let loader_stop = Arc::clone(&stop);
    let loader: crate::tui::Loader = Box::new(move |out| {
        let mut sink = crate::tui::Collector::new(&mut *out, Some(cfg.budget.clone()));
        let o = crate::live::run(capture, &cfg, &mut sink, loader_stop, &mut |_| {});
        let _ = status_tx.send(o.stats);
        out(crate::tui::LoadMsg::Done);
    });
    let ui = crate::tui::run_with(loader, Arc::clone(&stop));
    // Quit, a signal or a lost terminal: stop the capture and wait for it to flush (the -w
    // file) before exiting.
    stop.store(true, Ordering::SeqCst);
    let stats = status_rx.recv_timeout(std::time::Duration::from_secs(5));
    if let Err(e) = ui {
        return usage_error(&e.to_string());
    }
    if let Ok(s) = stats {
        eprintln!(
            "wsscope: {} packets captured; libpcap received {}, dropped {} (kernel), {} (interface)",
            s.captured, s.received, s.dropped, s.if_dropped
        );
    }
    ExitCode::SUCCESS
}

#[cfg(feature = "live")]
fn live(args: LiveArgs) -> ExitCode {
    let OutputSettings {
        fail_on,
        mode,
        keep,
    } = match output_settings(&args.output, args.max_message_size) {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    let user = match args.user.as_deref().map(resolve_user).transpose() {
        Ok(u) => u,
        Err(e) => return usage_error(&e.to_string()),
    };
    let cfg = AnalyzerConfig {
        session: SessionConfig {
            max_message_size: args.max_message_size,
            keep_bytes: keep,
            decode_as_ports: args.decode_as.clone(),
            detect_midstream: true,
            budget: None,
        },
        flows: FlowLimits::default(),
        budget: MemoryBudget::new(args.max_memory),
    };
    let stdout_taken = args.output.stdout_taken();
    let opts = crate::live::LiveOptions {
        interface: args.interface.clone(),
        filter: args.filter.clone(),
        snaplen: args.snaplen,
        promisc: !args.no_promisc,
        immediate: !args.no_immediate,
        buffer_size: args.buffer_size,
        count: args.count,
        duration: args.duration.map(std::time::Duration::from_secs_f64),
        write: args.write.as_ref().map(std::path::PathBuf::from),
        user,
    };
    if !stdout_taken
        && !args.messages
        && !args.no_tui
        && args.output.json.is_none()
        && io::stdout().is_terminal()
    {
        return live_tui(opts, cfg);
    }
    let mut tee = Tee::new();
    if !stdout_taken || args.messages {
        let out: Box<dyn Write> = if stdout_taken {
            Box::new(io::LineWriter::new(io::stderr()))
        } else {
            Box::new(io::LineWriter::new(io::stdout()))
        };
        tee.push(Box::new(TextSink::new(
            out,
            true,
            args.output.preview_bytes,
        )));
    }
    let mut pending = None;
    if let Some(path) = &args.output.json {
        match open_output(path, &[]) {
            Ok((out, p)) => {
                pending = p;
                tee.push(Box::new(
                    JsonReportSink::new(out, mode).with_budget(cfg.budget.clone()),
                ));
            }
            Err(e) => return usage_error(&e),
        }
    }
    if args.output.ndjson {
        tee.push(Box::new(NdjsonSink::new(
            Box::new(io::stdout()),
            mode,
            true,
        )));
    }
    let (capture, stop) = match open_capture(&opts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut ready = |iface: &str| {
        eprintln!(
            "wsscope: capturing on {}{}{}; Ctrl-C to stop",
            for_terminal(iface),
            opts.filter
                .as_ref()
                .map(|f| format!(" (filter '{}')", for_terminal(f)))
                .unwrap_or_default(),
            opts.user
                .as_ref()
                .map(|u| format!(" as {}", for_terminal(&u.name)))
                .unwrap_or_default()
        );
    };
    let outcome = crate::live::run(capture, &cfg, &mut tee, stop, &mut ready);
    drop(tee);
    let s = outcome.stats;
    eprintln!(
        "wsscope: {} packets captured; libpcap received {}, dropped {} (kernel), {} (interface)",
        s.captured, s.received, s.dropped, s.if_dropped
    );
    // The report of a live capture is its only record: it replaces PATH even when the capture
    // stopped early.
    if let Some(p) = pending {
        if let Err(e) = p.commit() {
            return usage_error(&e);
        }
    }
    if let Some(e) = &outcome.error {
        return usage_error(&format!("capture stopped early: {e}"));
    }
    if fail_on_matches(&fail_on, &outcome.tally) {
        eprintln!("wsscope: --fail-on matched");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
    match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Flows(args) => flows(args),
        Command::Live(args) => live(args),
        Command::Interfaces => interfaces(),
        Command::Tui(args) => {
            let cfg = config(&args.common, 64 << 10);
            if args.measure_load {
                let app = crate::tui::load_blocking(&args.common.captures, &cfg);
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
                return ExitCode::SUCCESS;
            }
            // SIGINT/SIGTERM/SIGHUP end the UI like `q`: terminal restored, exit 0.
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let handler_stop = std::sync::Arc::clone(&stop);
            if let Err(e) = ctrlc::set_handler(move || {
                handler_stop.store(true, std::sync::atomic::Ordering::SeqCst)
            }) {
                return usage_error(&format!(
                    "cannot install the SIGINT/SIGTERM/SIGHUP handler: {e}"
                ));
            }
            match crate::tui::run(&args.common.captures, &cfg, stop) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => usage_error(&e.to_string()),
            }
        }
        Command::Schema { kind } => {
            let text = match kind {
                SchemaKind::Report => wsscope_output::report::report_schema(),
                SchemaKind::Events => wsscope_output::report::events_schema(),
                SchemaKind::Flows => wsscope_output::report::flows_schema(),
            };
            println!("{text}");
            ExitCode::SUCCESS
        }
        Command::Codes => {
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
    }
}
