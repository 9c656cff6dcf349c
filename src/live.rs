//! Live capture (cargo feature `live`): libpcap on one thread, the analysis pipeline on
//! another, joined by a bounded channel. Stops on `-c`, `--duration`, SIGINT or SIGTERM, and
//! then flushes every open session and the final report like an offline run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wsscope_core::analyzer::{Analyzer, AnalyzerConfig, Event};
use wsscope_core::capture::RawPacket;
use wsscope_core::sink::{Sink, Tally};
use wsscope_core::timestamp::Timestamp;
use wsscope_core::totals::CaptureTotals;

/// Live capture settings.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Interface name (`lo`, `eth0`, `any`).
    pub interface: String,
    /// BPF filter, e.g. `tcp port 8080`.
    pub filter: Option<String>,
    /// Bytes kept per packet.
    pub snaplen: i32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Deliver packets as soon as they arrive (no batching in the kernel).
    pub immediate: bool,
    /// Kernel buffer size in bytes.
    pub buffer_size: i32,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Also write every captured packet to this pcap file.
    pub write: Option<PathBuf>,
    /// Switch to this account once the handle and the savefile are open (`--user`).
    pub user: Option<crate::privdrop::User>,
}

/// libpcap's own counters at the end of the capture.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaptureStats {
    /// Packets the capture read.
    pub captured: u64,
    /// Packets libpcap says it received.
    pub received: u64,
    /// Packets the kernel dropped (buffer full).
    pub dropped: u64,
    /// Packets the interface dropped.
    pub if_dropped: u64,
}

/// Why a live capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Not allowed to capture.
    #[error("cannot capture on {interface}: permission denied ({detail}); run as root, or grant the binary the capabilities: sudo setcap cap_net_raw,cap_net_admin=eip {binary}")]
    Permission {
        /// Interface.
        interface: String,
        /// libpcap's message.
        detail: String,
        /// Path of this binary.
        binary: String,
    },
    /// No such interface.
    #[error("no interface named '{interface}'; available: {available}")]
    UnknownInterface {
        /// Interface asked for.
        interface: String,
        /// Names that exist.
        available: String,
    },
    /// The BPF filter does not compile.
    #[error("bad capture filter '{filter}': {detail}")]
    Filter {
        /// Filter text.
        filter: String,
        /// libpcap's message.
        detail: String,
    },
    /// `--user` could not be honoured.
    #[error(transparent)]
    Privileges(#[from] crate::privdrop::PrivDropError),
    /// Anything else libpcap reported.
    #[error("capture on {interface} failed: {detail}")]
    Pcap {
        /// Interface.
        interface: String,
        /// libpcap's message.
        detail: String,
    },
}

/// One interface for `wsscope interfaces`.
#[derive(Clone, Debug)]
pub struct InterfaceInfo {
    /// Name to pass to `-i`.
    pub name: String,
    /// Description, if any.
    pub description: Option<String>,
    /// Addresses.
    pub addresses: Vec<String>,
}

/// Lists capture interfaces.
pub fn interfaces() -> Result<Vec<InterfaceInfo>, String> {
    let devices = pcap::Device::list().map_err(|e| e.to_string())?;
    Ok(devices
        .into_iter()
        .map(|d| InterfaceInfo {
            name: d.name,
            description: d.desc,
            addresses: d.addresses.iter().map(|a| a.addr.to_string()).collect(),
        })
        .collect())
}

fn classify_open_error(opts: &LiveOptions, err: pcap::Error) -> LiveError {
    let detail = err.to_string();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        return LiveError::Permission {
            interface: opts.interface.clone(),
            detail,
            binary: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "wsscope".into()),
        };
    }
    let known = interfaces().unwrap_or_default();
    if !known.iter().any(|i| i.name == opts.interface) {
        let names: Vec<String> = known.into_iter().map(|i| i.name).collect();
        return LiveError::UnknownInterface {
            interface: opts.interface.clone(),
            available: if names.is_empty() {
                "(none visible)".into()
            } else {
                names.join(", ")
            },
        };
    }
    LiveError::Pcap {
        interface: opts.interface.clone(),
        detail,
    }
}

/// Sleeps until the capture descriptor has packets or `timeout_ms` passes (the handle is
/// non-blocking, so this is where the capture thread waits; the stop flag is checked between).
fn wait_readable(fd: std::os::fd::RawFd, timeout_ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let _ = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
}

enum Msg {
    Packet {
        ts: Timestamp,
        data: Vec<u8>,
        orig_len: u32,
    },
    Done {
        stats: CaptureStats,
        error: Option<String>,
    },
}

/// What a live run produced.
#[derive(Debug, Default)]
pub struct LiveOutcome {
    /// Totals and finding counts.
    pub tally: Tally,
    /// The capture as a report entry.
    pub capture: CaptureTotals,
    /// libpcap counters.
    pub stats: CaptureStats,
    /// A capture error that ended the run early.
    pub error: Option<String>,
}

/// An interface open for capture, filter set, savefile open and privileges dropped (when
/// asked): everything that needs privileges is done, and no packet has been analysed yet.
pub struct OpenCapture {
    cap: pcap::Capture<pcap::Active>,
    save: Option<pcap::Savefile>,
    linktype: u32,
    interface: String,
    limits: (Option<u64>, Option<Duration>),
}

/// Opens the interface and the `-w` savefile, then switches to `opts.user` if set. Errors are
/// the one-line reasons a capture cannot start (permission, interface, filter, `--user`).
pub fn open(opts: &LiveOptions) -> Result<OpenCapture, LiveError> {
    let mut cap = pcap::Capture::from_device(opts.interface.as_str())
        .map_err(|e| classify_open_error(opts, e))?
        .snaplen(opts.snaplen)
        .promisc(opts.promisc)
        .immediate_mode(opts.immediate)
        .buffer_size(opts.buffer_size)
        .timeout(100)
        .open()
        .map_err(|e| classify_open_error(opts, e))?
        // Non-blocking: with immediate mode libpcap may otherwise block forever on a quiet
        // interface, and the stop flag would never be seen.
        .setnonblock()
        .map_err(|e| classify_open_error(opts, e))?;
    if let Some(f) = &opts.filter {
        cap.filter(f, true).map_err(|e| LiveError::Filter {
            filter: f.clone(),
            detail: e.to_string(),
        })?;
    }
    let save = match &opts.write {
        Some(path) => Some(cap.savefile(path).map_err(|e| LiveError::Pcap {
            interface: opts.interface.clone(),
            detail: format!("{}: {e}", path.display()),
        })?),
        None => None,
    };
    if let Some(user) = &opts.user {
        crate::privdrop::drop_to(user)?;
    }
    Ok(OpenCapture {
        linktype: cap.get_datalink().0 as u32,
        cap,
        save,
        interface: opts.interface.clone(),
        limits: (opts.count, opts.duration),
    })
}

/// Captures from `capture`; `ready` is called once packets can flow; then runs until `stop`
/// is set or a limit is reached, feeding `sink`.
pub fn run(
    capture: OpenCapture,
    cfg: &AnalyzerConfig,
    sink: &mut dyn Sink,
    stop: Arc<AtomicBool>,
    ready: &mut dyn FnMut(&str),
) -> LiveOutcome {
    let OpenCapture {
        mut cap,
        mut save,
        linktype,
        interface,
        limits,
    } = capture;
    let (tx, rx) = sync_channel::<Msg>(1 << 16);
    let thread_stop = Arc::clone(&stop);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&cap);
    let capture_thread = std::thread::spawn(move || {
        let started = Instant::now();
        let mut stats = CaptureStats::default();
        let mut error = None;
        loop {
            if thread_stop.load(Ordering::SeqCst)
                || limits.0.is_some_and(|c| stats.captured >= c)
                || limits.1.is_some_and(|d| started.elapsed() >= d)
            {
                break;
            }
            match cap.next_packet() {
                Ok(p) => {
                    if let Some(s) = save.as_mut() {
                        s.write(&p);
                    }
                    stats.captured += 1;
                    let ts = Timestamp::from_parts(
                        p.header.ts.tv_sec,
                        (p.header.ts.tv_usec as u32).saturating_mul(1000),
                    );
                    let msg = Msg::Packet {
                        ts,
                        data: p.data.to_vec(),
                        orig_len: p.header.len,
                    };
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
                Err(pcap::Error::TimeoutExpired) => wait_readable(fd, 100),
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(s) = save.as_mut() {
            let _ = s.flush();
        }
        if let Ok(s) = cap.stats() {
            stats.received = u64::from(s.received);
            stats.dropped = u64::from(s.dropped);
            stats.if_dropped = u64::from(s.if_dropped);
        }
        let _ = tx.send(Msg::Done { stats, error });
    });
    ready(&interface);
    let outcome = analyse(rx, linktype, &interface, cfg, sink);
    let _ = capture_thread.join();
    outcome
}

fn analyse(
    rx: Receiver<Msg>,
    linktype: u32,
    interface: &str,
    cfg: &AnalyzerConfig,
    sink: &mut dyn Sink,
) -> LiveOutcome {
    let mut outcome = LiveOutcome::default();
    let name = format!("live:{interface}");
    let _ = sink.begin_capture(&name);
    let mut analyzer = Analyzer::new(cfg.clone(), 0);
    let tally = &mut outcome.tally;
    let mut sink_ok = true;
    let mut deliver = |ev: Event<'_>| {
        tally.count(&ev);
        if sink_ok && sink.event(&ev).is_err() {
            sink_ok = false;
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(Msg::Packet { ts, data, orig_len }) => {
                let raw = RawPacket {
                    ts,
                    linktype,
                    data: &data,
                    orig_len,
                };
                analyzer.packet(&raw, &mut deliver);
            }
            Ok(Msg::Done { stats, error }) => {
                outcome.stats = stats;
                outcome.error = error;
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    analyzer.finish(&mut deliver);
    let stats = analyzer.stats();
    let mut warnings = Vec::new();
    if outcome.stats.dropped + outcome.stats.if_dropped > 0 {
        warnings.push(format!(
            "libpcap dropped {} packets (kernel) and {} (interface): expect tcp-gap findings",
            outcome.stats.dropped, outcome.stats.if_dropped
        ));
    }
    if let Some(e) = &outcome.error {
        warnings.push(format!("capture stopped early: {e}"));
    }
    outcome.capture =
        wsscope_core::run::capture_report(name, "live", vec![linktype], &stats, warnings);
    outcome
        .tally
        .add_capture(&outcome.capture, stats.flows.evicted);
    let _ = sink.end_capture(&outcome.capture);
    let totals = outcome.tally.totals.clone();
    let _ = sink.finish(&totals, std::slice::from_ref(&outcome.capture));
    outcome
}
