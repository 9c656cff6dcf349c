//! `wsscope live` and `wsscope interfaces`: capture from an interface through the same run
//! driver and sinks as `analyze` (feature `live`).

#[cfg(not(feature = "live"))]
mod unavailable {
    use crate::cli::LiveArgs;
    use std::process::ExitCode;

    const LIVE_HOWTO: &str = "this wsscope was built without live capture: install libpcap (apt-get install libpcap-dev) and rebuild with `cargo build --release --features live`";

    /// `live` without the feature: how to get it.
    pub fn run(_: LiveArgs) -> anyhow::Result<ExitCode> {
        anyhow::bail!(LIVE_HOWTO)
    }

    /// `interfaces` without the feature: how to get it.
    pub fn interfaces() -> anyhow::Result<ExitCode> {
        anyhow::bail!(LIVE_HOWTO)
    }
}

#[cfg(not(feature = "live"))]
pub use unavailable::{interfaces, run};

#[cfg(feature = "live")]
pub use capture::{interfaces, run};

#[cfg(feature = "live")]
mod capture {
    use super::super::{config, gate_failed, sink_result};

    /// Bytes of a TLS connection's records held while its keys are not in the followed key
    /// logs yet.
    const LIVE_WAIT_FOR_KEYS: usize = 1 << 20;
    use crate::cli::LiveArgs;
    use crate::live::{CaptureEnd, LiveCounters, LiveOptions, OpenCapture};
    use crate::output::{
        build_outputs, error_line, output_settings, SinkPlan, TextOutput, STDOUT_CLOSED,
    };
    use crate::tui::state::{LiveStatus, LoadMsg};
    use anyhow::{bail, Context};
    use std::io::{self, IsTerminal};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::time::{Duration, Instant};
    use wsscope_core::analyzer::AnalyzerConfig;
    use wsscope_core::escape::for_terminal;
    use wsscope_core::pipeline::{Run, RunOutcome};
    use wsscope_core::sink::Sink;

    /// Lists the interfaces `live -i` can capture on.
    pub fn interfaces() -> anyhow::Result<ExitCode> {
        let list = crate::live::interfaces()
            .map_err(|e| anyhow::anyhow!("cannot list interfaces: {e}"))?;
        let mut text = String::new();
        for i in list {
            let desc = i.description.unwrap_or_default();
            text.push_str(&for_terminal(&format!(
                "{:<16} {:<40} {}",
                i.name,
                i.addresses.join(" "),
                desc
            )));
            text.push('\n');
        }
        crate::output::print_stdout(&text)
    }

    /// `--user`: the account exists, is not root, and this process may switch to it. Checked
    /// before anything is opened; the switch itself happens in `crate::live::open`.
    fn resolve_user(spec: &str) -> anyhow::Result<crate::privdrop::User> {
        let user = crate::privdrop::lookup(spec)?;
        crate::privdrop::check_permitted()?;
        Ok(user)
    }

    /// Where a path leads: the file it names when it exists (symlinks resolved), else its
    /// resolved directory joined with its name.
    fn destination(path: &str) -> PathBuf {
        let p = Path::new(path);
        if let Ok(c) = std::fs::canonicalize(p) {
            return c;
        }
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        match (std::fs::canonicalize(dir), p.file_name()) {
            (Ok(d), Some(name)) => d.join(name),
            _ => p.to_path_buf(),
        }
    }

    /// `--json PATH` and `-w FILE` naming the same file would each overwrite the other.
    fn refuse_report_over_savefile(json: Option<&str>, write: Option<&str>) -> anyhow::Result<()> {
        if let (Some(json), Some(write)) = (json, write) {
            if json != "-" && destination(json) == destination(write) {
                bail!(
                    "{json}: is the -w capture file {write}; refusing to overwrite it (give the report another path)"
                );
            }
        }
        Ok(())
    }

    /// Opens the capture (dropping privileges for `--user`), then installs the SIGINT/SIGTERM
    /// handler: its thread starts after the drop, so the drop happens while the process has a
    /// single thread (capabilities are per thread on Linux).
    fn open_capture(opts: &LiveOptions) -> anyhow::Result<(OpenCapture, Arc<AtomicBool>)> {
        let capture = crate::live::open(opts)?;
        let stop = Arc::new(AtomicBool::new(false));
        let handler_stop = Arc::clone(&stop);
        ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst))
            .context("cannot install the SIGINT/SIGTERM handler")?;
        Ok((capture, stop))
    }

    /// Runs the capture to its end through the run driver; the capture is stopped and its
    /// thread joined whatever happened.
    fn capture_into(
        capture: OpenCapture,
        cfg: &AnalyzerConfig,
        sink: &mut dyn Sink,
        stop: Arc<AtomicBool>,
        ready: impl FnOnce(),
    ) -> (io::Result<RunOutcome>, CaptureEnd) {
        let mut source = crate::live::start(capture, Arc::clone(&stop));
        ready();
        let mut progress = |_, _| {};
        let mut run = Run::new(cfg, sink, &mut progress, stop);
        let result = match run.capture(&mut source) {
            Ok(()) => run.finish(),
            Err(e) => Err(e),
        };
        (result, source.close())
    }

    fn print_stats(end: &CaptureEnd) {
        let s = end.stats;
        let pool = if end.pool_dropped.0 > 0 {
            format!(
                "; {} dropped by wsscope (the analysis fell behind)",
                end.pool_dropped.0
            )
        } else {
            String::new()
        };
        eprintln!(
            "wsscope: {} packets captured; libpcap received {}, dropped {} (kernel), {} (interface){pool}",
            s.captured, s.received, s.dropped, s.if_dropped
        );
    }

    /// How often the terminal UI's status line gets the capture's counters.
    const STATUS_INTERVAL: Duration = Duration::from_secs(1);

    /// The UI's status line numbers: packets so far, the rate since the last report (`last`:
    /// when, and the packet count then), drops.
    fn live_status(counters: &LiveCounters, last: &mut (Instant, u64)) -> LiveStatus {
        let packets = counters.captured();
        let now = Instant::now();
        let millis = u64::try_from(now.duration_since(last.0).as_millis()).unwrap_or(u64::MAX);
        let packets_per_sec = packets
            .saturating_sub(last.1)
            .saturating_mul(1000)
            .checked_div(millis)
            .unwrap_or(0);
        *last = (now, packets);
        LiveStatus {
            packets,
            packets_per_sec,
            dropped: counters.dropped(),
        }
    }

    /// Live capture shown in the terminal UI; quitting the UI stops the capture. The capture
    /// runs on its own thread; the loader thread passes its events on to the UI and, between
    /// them, the capture's counters about once a second (the first right away, so the header
    /// says "capturing" before any packet).
    fn live_tui(opts: LiveOptions, cfg: AnalyzerConfig) -> anyhow::Result<ExitCode> {
        // Open the interface (and drop privileges) before taking over the screen, so errors
        // are plain one-liners.
        let (capture, stop) = open_capture(&opts)?;
        let counters = capture.counters();
        let (status_tx, status_rx) = mpsc::channel::<CaptureEnd>();
        let loader_stop = Arc::clone(&stop);
        let loader: crate::tui::Loader = Box::new(move |out| {
            let (events_tx, events_rx) = mpsc::channel::<LoadMsg>();
            let capture_thread = std::thread::Builder::new()
                .name("wsscope-live".into())
                .spawn(move || {
                    let mut sink = crate::tui::Collector::new(
                        |m| {
                            let _ = events_tx.send(m);
                        },
                        Some(cfg.budget.clone()),
                        Arc::new(crate::tui::Spill::create()),
                    )
                    .unbatched();
                    let end = capture_into(capture, &cfg, &mut sink, loader_stop, || {}).1;
                    let _ = status_tx.send(end);
                });
            if let Err(e) = capture_thread {
                out(LoadMsg::Error(format!(
                    "cannot start the capture thread: {e}"
                )));
                out(LoadMsg::Done);
                return;
            }
            let mut last = (Instant::now(), 0);
            out(LoadMsg::Live(live_status(&counters, &mut last)));
            let mut next = Instant::now() + STATUS_INTERVAL;
            loop {
                match events_rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                    Ok(m) => out(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // The capture ended: its sink is gone.
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if Instant::now() >= next {
                    out(LoadMsg::Live(live_status(&counters, &mut last)));
                    next = Instant::now() + STATUS_INTERVAL;
                }
            }
            out(LoadMsg::Live(live_status(&counters, &mut last)));
            out(LoadMsg::Done);
        });
        let ui = crate::tui::run_with(loader, Arc::clone(&stop));
        // Quit, a signal or a lost terminal: stop the capture and wait for it to flush (the
        // -w file) before exiting.
        stop.store(true, Ordering::SeqCst);
        let end = status_rx.recv_timeout(Duration::from_secs(5));
        ui?;
        if let Ok(end) = end {
            print_stats(&end);
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Runs `live`. Exit status as for `analyze`; the report of a live capture is its only
    /// record, so a `--json` file replaces PATH even when the capture stopped early.
    pub fn run(args: LiveArgs) -> anyhow::Result<ExitCode> {
        let settings = output_settings(&args.output, args.analysis.max_message_size)?;
        refuse_report_over_savefile(args.output.json.as_deref(), args.write.as_deref())?;
        let user = args.user.as_deref().map(resolve_user).transpose()?;
        let mut cfg = config(&args.analysis, settings.keep);
        // A browser writes a connection's keys just after its handshake: hold up to 1 MiB of
        // its records until the followed key log has them.
        cfg.tls.wait_for_keys = LIVE_WAIT_FOR_KEYS;
        // Opened before the capture drops privileges; followed for the whole run.
        let _keylog =
            crate::keylog::Follower::start(crate::keylog::files(&args.analysis), cfg.keys.clone())?;
        let stdout_taken = args.output.stdout_taken();
        let opts = LiveOptions {
            interface: args.interface.clone(),
            filter: args.filter.clone(),
            snaplen: args.snaplen,
            promisc: !args.no_promisc,
            immediate: !args.no_immediate,
            buffer_size: args.buffer_size,
            count: args.count,
            duration: args.duration.map(std::time::Duration::from_secs_f64),
            write: args.write.as_ref().map(PathBuf::from),
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
        let text = if !stdout_taken {
            TextOutput::Stdout { transcript: true }
        } else if args.messages {
            TextOutput::StderrTranscript
        } else {
            TextOutput::None
        };
        let protected: Vec<String> = args.write.iter().cloned().collect();
        let mut outputs = build_outputs(&SinkPlan {
            output: &args.output,
            settings: &settings,
            text,
            protected: &protected,
            flush_each: true,
            budget: &cfg.budget,
        })?;
        let (capture, stop) = open_capture(&opts)?;
        let ready = || {
            eprintln!(
                "wsscope: capturing on {}{}{}; Ctrl-C to stop",
                for_terminal(&opts.interface),
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
        let (result, end) = capture_into(capture, &cfg, &mut outputs.tee, stop, ready);
        drop(outputs.tee);
        print_stats(&end);
        let outcome = sink_result(result)?;
        let closed = outputs.closed.get();
        if closed {
            error_line(STDOUT_CLOSED);
        }
        if let Some(p) = outputs.pending {
            p.commit()?;
        }
        if let Some(e) = &end.error {
            bail!("capture stopped early: {e}");
        }
        if gate_failed(&settings.fail_on, &outcome.tally) {
            return Ok(ExitCode::from(1));
        }
        Ok(ExitCode::from(if closed { 2 } else { 0 }))
    }
}
