//! The command line: every subcommand and option (clap), nothing else.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Passive WebSocket protocol analyzer: reads pcap/pcapng captures, reassembles TCP, verifies
/// the upgrade handshake and decodes every frame into messages.
#[derive(Parser)]
#[command(name = "wsscope", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
    /// Keys (`?` shows them all): arrows or j/k move, PgUp/PgDn/Space page, g/G first/last,
    /// Tab panes, Enter detail, Esc back, [ ] previous/next message, / search the whole
    /// capture, n/N next/previous hit, m only hits, f/d/e filter type/direction/with findings,
    /// x clear filters, r raw/pretty JSON, w write to a file, y copy (OSC 52), F follow,
    /// t time, s/S capture/session stats, q quit; the mouse wheel scrolls the pane under it.
    ///
    /// Payloads are kept in an unlinked temporary file (in $TMPDIR, else /var/tmp; at most
    /// 4 GiB), 72 bytes per message in memory. WSSCOPE_CLIPBOARD=osc52|off forces or disables
    /// the clipboard. `q`, Ctrl-C, SIGINT, SIGTERM and SIGHUP quit (terminal restored, exit
    /// 0); a lost terminal (hang-up, EOF or I/O error on the tty) ends it with exit status 2.
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
pub enum SchemaKind {
    Report,
    Events,
    Flows,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PayloadArg {
    /// No payload in JSON output.
    None,
    /// The first --preview-bytes bytes.
    Preview,
    /// The whole payload (up to --max-message-size; all payloads held by the report within
    /// --max-memory).
    Full,
}

#[derive(Args)]
pub struct CommonArgs {
    /// Capture files (pcap or pcapng); `-` reads standard input, and pipes (`<(...)`, a FIFO)
    /// are streamed.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<String>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// How the traffic is analysed: shared by every command that reads packets.
#[derive(Args)]
pub struct AnalysisArgs {
    /// Decode traffic to this server port as WebSocket even without a captured handshake, when
    /// the server's 101 is missing from the capture, or when a 101 answered a request that did
    /// not ask for WebSocket (repeatable).
    #[arg(long = "decode-as", value_name = "PORT")]
    pub decode_as: Vec<u16>,
    /// Do not look for WebSocket framing on connections captured mid-stream.
    #[arg(long)]
    pub no_midstream: bool,
    /// Largest message decoded in full, after inflation (bytes); larger ones are counted and
    /// reported as message-too-large.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_message_size: u64,
    /// Most TCP connections tracked at once; the least active are evicted beyond it.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_flows: usize,
    /// Memory budget (bytes, or with K, M, G) for the analysis's buffers (out-of-order TCP
    /// data, messages being assembled, inflaters) and the payloads the JSON report and the
    /// terminal UI hold (at most 7/8 of it). When reached, the least active sessions give up
    /// out-of-order data (gap declared) or payload, reported as memory-budget-exceeded or
    /// payload-budget-exceeded; lengths, counts and findings are kept.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = wsscope_core::budget::parse_size)]
    pub max_memory: u64,
    /// TLS key log (NSS format, as written by SSLKEYLOGFILE in browsers, curl, Python and Node)
    /// used to decrypt `wss://` and HTTP/2 over TLS (repeatable). The SSLKEYLOGFILE
    /// environment variable is read too, and pcapng Decryption Secrets Blocks need no flag.
    /// `live` follows the files as they grow.
    #[arg(long = "tls-keylog", value_name = "FILE")]
    pub tls_keylog: Vec<std::path::PathBuf>,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print every message (transcript) under its session; an error with --ndjson, --json -
    /// or -q (standard output is taken or silenced).
    #[arg(long)]
    pub messages: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    /// No text output (only --json/--ndjson and the exit status).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Report and CI-gate options shared by `analyze` and `live`.
#[derive(Args)]
pub struct OutputArgs {
    /// Write the JSON report to PATH (`-` for standard output). The report is written to a
    /// temporary file beside PATH and renamed over it only when the run succeeds (exit 0 or
    /// 1); PATH may not be one of the captures.
    #[arg(long, value_name = "PATH|-")]
    pub json: Option<String>,
    /// Stream events to standard output, one JSON object per line.
    #[arg(long)]
    pub ndjson: bool,
    /// Exit 1 if any finding matches: severities (info, warning, error: that severity or worse)
    /// and/or finding codes, comma-separated. Example: --fail-on error,tcp-gap
    #[arg(long, value_name = "LIST")]
    pub fail_on: Option<String>,
    /// Payload in JSON/NDJSON output.
    #[arg(long, value_enum, default_value_t = PayloadArg::Preview)]
    pub payload: PayloadArg,
    /// Payload bytes shown in previews (JSON preview mode and the transcript).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub preview_bytes: usize,
}

impl OutputArgs {
    /// Whether `--ndjson` or `--json -` writes to standard output (no room for the text).
    pub fn stdout_taken(&self) -> bool {
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
pub struct LiveArgs {
    /// Interface to capture on (`wsscope interfaces` lists them; `any` for all on Linux).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: String,
    /// BPF capture filter, e.g. 'tcp port 8080'.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Bytes kept per packet.
    #[arg(long, default_value_t = 262_144)]
    pub snaplen: i32,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Let the kernel batch packets (lower CPU, higher latency) instead of immediate mode.
    #[arg(long)]
    pub no_immediate: bool,
    /// Kernel capture buffer size in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 20)]
    pub buffer_size: i32,
    /// Stop after this many packets.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Also save every captured packet to this pcap file.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<String>,
    /// Drop root privileges to USER (name or numeric uid) once the interface and the -w file
    /// are open, like tcpdump -Z: the capture handle stays open and everything else, the
    /// decoding of untrusted packets included, runs unprivileged.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Print every message as it completes instead of opening the terminal UI (the transcript
    /// is the default when standard output is not a terminal).
    #[arg(long)]
    pub messages: bool,
    /// Never open the terminal UI; print the transcript.
    #[arg(long)]
    pub no_tui: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

#[derive(Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Build the UI's state without a terminal and print what it holds as JSON (sessions,
    /// messages, payload bytes kept in memory), for `scripts/stress.sh` to measure.
    #[arg(long, hide = true)]
    pub measure_load: bool,
}

#[derive(Args)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write the flow list as JSON to PATH (`-` for standard output); replaced only when
    /// every capture was read, and never one of the captures.
    #[arg(long, value_name = "PATH|-")]
    pub json: Option<String>,
}
