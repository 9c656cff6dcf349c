//! Live capture (cargo feature `live`): libpcap on its own thread feeding a byte-bounded
//! packet queue, read as a [`PacketSource`] by the same run driver as capture files. Stops on
//! `-c`, `--duration`, SIGINT or SIGTERM (then flushes every open session and the final
//! report like an offline run) and when the driver stops on a sink error.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wsscope_core::capture::RawPacket;
use wsscope_core::pipeline::queue::{packet_queue, PacketFeeder, PacketQueue, QueueSettings};
use wsscope_core::pipeline::{PacketSource, SourceEnd, SourceNotice};
use wsscope_core::timestamp::Timestamp;

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

/// Counters of a running capture, updated by its threads and read by anyone (the terminal
/// UI's status line): packets read, libpcap's drops (read from libpcap about once a second)
/// and the packets wsscope's queue dropped because the analysis fell behind.
#[derive(Debug, Default)]
pub struct LiveCounters {
    captured: AtomicU64,
    kernel_dropped: AtomicU64,
    if_dropped: AtomicU64,
    pool_dropped: AtomicU64,
}

impl LiveCounters {
    /// Packets the capture read so far.
    pub fn captured(&self) -> u64 {
        self.captured.load(Ordering::Relaxed)
    }

    /// Packets dropped so far: by the kernel, by the interface (as libpcap last reported
    /// them) and by wsscope's queue.
    pub fn dropped(&self) -> u64 {
        self.kernel_dropped.load(Ordering::Relaxed)
            + self.if_dropped.load(Ordering::Relaxed)
            + self.pool_dropped.load(Ordering::Relaxed)
    }

    fn set_pcap_stats(&self, s: &CaptureStats) {
        self.kernel_dropped.store(s.dropped, Ordering::Relaxed);
        self.if_dropped.store(s.if_dropped, Ordering::Relaxed);
    }
}

/// How often the capture thread asks libpcap for its counters while it runs.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Packets the analysis reads between two looks at the queue's drop counter.
const POOL_DROPS_EVERY: u64 = 64;

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

/// An interface open for capture, filter set, savefile open and privileges dropped (when
/// asked): everything that needs privileges is done, and no packet has been analysed yet.
pub struct OpenCapture {
    cap: pcap::Capture<pcap::Active>,
    save: Option<pcap::Savefile>,
    linktype: u32,
    interface: String,
    limits: (Option<u64>, Option<Duration>),
    counters: Arc<LiveCounters>,
}

impl OpenCapture {
    /// The counters the capture will keep up to date once started.
    pub fn counters(&self) -> Arc<LiveCounters> {
        Arc::clone(&self.counters)
    }
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
        counters: Arc::default(),
    })
}

/// Most bytes of captured packets waiting for the analysis; beyond it packets are dropped,
/// counted and reported (`capture-truncated`), so a slow analysis never stalls libpcap.
pub const POOL_BYTES: usize = 64 << 20;

/// How the capture thread ended.
#[derive(Clone, Debug, Default)]
pub struct CaptureEnd {
    /// libpcap's counters.
    pub stats: CaptureStats,
    /// Packets (and their bytes) dropped because the analysis fell behind.
    pub pool_dropped: (u64, u64),
    /// A capture error that ended the capture early.
    pub error: Option<String>,
}

/// A running capture as a [`PacketSource`]: a libpcap thread copies each packet into a
/// byte-bounded [`PacketQueue`] that the run driver reads. It stops on the stop flag (a
/// signal), on `-c`/`--duration`, on a capture error, or when the driver stops (a sink error).
pub struct LiveSource {
    queue: PacketQueue,
    thread: Option<JoinHandle<CaptureEnd>>,
    end: Option<CaptureEnd>,
    counters: Arc<LiveCounters>,
    /// Packets read since the queue's drop counter was last copied to `counters`.
    since_pool_check: u64,
}

/// Starts capturing from `capture` on its own thread.
pub fn start(capture: OpenCapture, stop: Arc<AtomicBool>) -> LiveSource {
    let OpenCapture {
        cap,
        save,
        linktype,
        interface,
        limits,
        counters,
    } = capture;
    let (feeder, queue) = packet_queue(QueueSettings {
        name: format!("live:{interface}"),
        format: "live",
        linktypes: vec![linktype],
        max_bytes: POOL_BYTES,
    });
    let thread_counters = Arc::clone(&counters);
    let thread = std::thread::spawn(move || {
        capture_loop(
            cap,
            save,
            (linktype, limits),
            &stop,
            feeder,
            &thread_counters,
        )
    });
    LiveSource {
        queue,
        thread: Some(thread),
        end: None,
        counters,
        since_pool_check: 0,
    }
}

/// The capture thread: libpcap into the queue until a stop condition, then libpcap's counters.
/// Keeps `counters` up to date (libpcap's every [`STATS_INTERVAL`]).
fn capture_loop(
    mut cap: pcap::Capture<pcap::Active>,
    mut save: Option<pcap::Savefile>,
    (linktype, limits): (u32, (Option<u64>, Option<Duration>)),
    stop: &AtomicBool,
    feeder: PacketFeeder,
    counters: &LiveCounters,
) -> CaptureEnd {
    let fd = std::os::fd::AsRawFd::as_raw_fd(&cap);
    let started = Instant::now();
    let mut end = CaptureEnd::default();
    let mut stats_at = started;
    loop {
        if stats_at.elapsed() >= STATS_INTERVAL {
            stats_at = Instant::now();
            if let Ok(s) = cap.stats() {
                counters.set_pcap_stats(&pcap_stats(&s));
            }
        }
        if stop.load(Ordering::SeqCst)
            || limits.0.is_some_and(|c| end.stats.captured >= c)
            || limits.1.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        match cap.next_packet() {
            Ok(p) => {
                if let Some(s) = save.as_mut() {
                    s.write(&p);
                }
                end.stats.captured += 1;
                counters
                    .captured
                    .store(end.stats.captured, Ordering::Relaxed);
                let ts = Timestamp::from_parts(
                    p.header.ts.tv_sec,
                    (p.header.ts.tv_usec as u32).saturating_mul(1000),
                );
                if !feeder.push(ts, linktype, p.data, p.header.len) {
                    break;
                }
            }
            Err(pcap::Error::TimeoutExpired) => {
                if feeder.is_stopped() {
                    break;
                }
                wait_readable(fd, 100);
            }
            Err(e) => {
                end.error = Some(e.to_string());
                break;
            }
        }
    }
    if let Some(s) = save.as_mut() {
        let _ = s.flush();
    }
    if let Ok(s) = cap.stats() {
        let s = pcap_stats(&s);
        end.stats.received = s.received;
        end.stats.dropped = s.dropped;
        end.stats.if_dropped = s.if_dropped;
        counters.set_pcap_stats(&end.stats);
    }
    let mut notices = Vec::new();
    let kernel = end.stats.dropped + end.stats.if_dropped;
    if kernel > 0 {
        notices.push(SourceNotice {
            text: format!(
                "libpcap dropped {} packets (kernel) and {} (interface): expect tcp-gap findings",
                end.stats.dropped, end.stats.if_dropped
            ),
            count: kernel,
        });
    }
    if let Some(e) = &end.error {
        notices.push(SourceNotice::once(format!("capture stopped early: {e}")));
    }
    feeder.finish(notices);
    end
}

/// libpcap's counters (`captured` left 0: libpcap does not know it).
fn pcap_stats(s: &pcap::Stat) -> CaptureStats {
    CaptureStats {
        captured: 0,
        received: u64::from(s.received),
        dropped: u64::from(s.dropped),
        if_dropped: u64::from(s.if_dropped),
    }
}

impl LiveSource {
    /// Stops the capture if it still runs and waits for its thread: libpcap's counters, the
    /// packets the pool dropped, the error that ended it early.
    pub fn close(&mut self) -> CaptureEnd {
        if let Some(thread) = self.thread.take() {
            self.queue.stop();
            let mut end = thread.join().unwrap_or_else(|_| CaptureEnd {
                error: Some("the capture thread panicked".into()),
                ..CaptureEnd::default()
            });
            end.pool_dropped = self.queue.dropped();
            self.counters
                .pool_dropped
                .store(end.pool_dropped.0, Ordering::Relaxed);
            self.end = Some(end);
        }
        self.end.clone().unwrap_or_default()
    }
}

impl PacketSource for LiveSource {
    fn name(&self) -> &str {
        self.queue.name()
    }
    fn next_packet(&mut self) -> Option<RawPacket<'_>> {
        // The queue drops only while it is full, that is while the analysis has thousands of
        // packets still to read: a look every few dozen packets misses none for long.
        self.since_pool_check += 1;
        if self.since_pool_check >= POOL_DROPS_EVERY {
            self.since_pool_check = 0;
            self.counters
                .pool_dropped
                .store(self.queue.dropped().0, Ordering::Relaxed);
        }
        self.queue.next_packet()
    }
    fn position(&self) -> u64 {
        self.queue.position()
    }
    fn size(&self) -> Option<u64> {
        None
    }
    fn stop(&mut self) {
        self.queue.stop();
    }
    fn end(&mut self) -> SourceEnd {
        self.queue.end()
    }
}
