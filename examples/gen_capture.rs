//! Streams a large synthetic WebSocket capture (classic pcap, Ethernet, ns timestamps) for
//! benchmarking, built with `wsscope_testkit`.
//!
//! ```text
//! cargo run --release --example gen_capture -- --out FILE --size-mb N \
//!     --profile mixed|small|deflate|reordered [--seed S] [--concurrency C]
//! ```
//!
//! Profiles:
//! * `mixed`: `C` (default 64) concurrent sessions, interleaved message by message; text and
//!   binary messages from 10 B to 64 KiB plus a few of 1 MiB, masked client frames, some
//!   fragmented messages and ping/pong, MSS 1460.
//! * `small`: like mixed with 20..200-byte messages only.
//! * `deflate`: permessage-deflate with context takeover both ways, JSON-like text.
//! * `reordered`: mixed, with data segments locally reordered and some duplicated.
//!
//! Every profile also has about 10% plain-HTTP connections (no upgrade) to exercise the
//! non-WebSocket bypass. Packets are written as they are produced; memory stays bounded by
//! the largest message. The last line on stdout is one JSON object with the totals.
//!
//! `generate` is also used by `benches/hot_paths.rs` (included with `#[path]`) to build an
//! in-memory capture.

use std::collections::VecDeque;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::time::Instant;

use base64::Engine as _;
use wsscope_testkit::conversation::DEFAULT_START_NANOS;
use wsscope_testkit::ws::{
    deflate_frame, fragment_message, FrameSpec, UpgradeRequest, UpgradeResponse, OP_BINARY, OP_TEXT,
};
use wsscope_testkit::{new_deflate_compressor, Conversation, Dir, Packet, PcapOptions, PcapWriter};

/// Traffic shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Mixed sizes, text and binary.
    Mixed,
    /// 20..200-byte messages.
    Small,
    /// permessage-deflate, compressible text.
    Deflate,
    /// Mixed with local reordering and duplicates.
    Reordered,
}

impl Profile {
    /// Parses a profile name.
    pub fn parse(s: &str) -> Option<Profile> {
        Some(match s {
            "mixed" => Profile::Mixed,
            "small" => Profile::Small,
            "deflate" => Profile::Deflate,
            "reordered" => Profile::Reordered,
            _ => return None,
        })
    }

    /// The profile name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Mixed => "mixed",
            Profile::Small => "small",
            Profile::Deflate => "deflate",
            Profile::Reordered => "reordered",
        }
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Traffic shape.
    pub profile: Profile,
    /// Stop opening sessions once this many bytes were written (open ones are then closed).
    pub target_bytes: u64,
    /// RNG seed.
    pub seed: u64,
    /// Sessions open at once.
    pub concurrency: usize,
}

/// Totals of a generated capture.
#[derive(Clone, Debug, Default)]
pub struct GenStats {
    /// File size.
    pub bytes: u64,
    /// Packet records.
    pub packets: u64,
    /// WebSocket sessions.
    pub sessions: u64,
    /// Plain HTTP connections.
    pub http_flows: u64,
    /// All WebSocket messages, control ones included (what the analyzer counts).
    pub messages: u64,
    /// Text and binary messages.
    pub data_messages: u64,
    /// WebSocket frames, control ones included.
    pub frames: u64,
    /// Application payload bytes of the data messages (before compression).
    pub ws_payload_bytes: u64,
    /// Data packets duplicated (reordered profile).
    pub duplicates: u64,
    /// Data packets moved earlier (reordered profile).
    pub reorders: u64,
}

impl GenStats {
    /// One-line JSON.
    pub fn to_json(&self, cfg: &GenConfig) -> String {
        serde_json::json!({
            "bytes": self.bytes,
            "packets": self.packets,
            "sessions": self.sessions,
            "messages": self.messages,
            "ws_payload_bytes": self.ws_payload_bytes,
            "data_messages": self.data_messages,
            "frames": self.frames,
            "http_flows": self.http_flows,
            "duplicates": self.duplicates,
            "reorders": self.reorders,
            "profile": cfg.profile.name(),
            "target_bytes": cfg.target_bytes,
            "seed": cfg.seed,
            "concurrency": cfg.concurrency,
        })
        .to_string()
    }
}

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// Counts bytes written through it.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const ETH_IP_TCP: usize = 14 + 20 + 20;
const REORDER_WINDOW: usize = 16;

/// A TCP segment with payload and none of SYN/FIN/RST (Ethernet + option-less IPv4 + TCP,
/// which is all this generator produces).
fn is_plain_data(p: &Packet) -> bool {
    p.data.len() > ETH_IP_TCP && p.data[14 + 20 + 13] & 0x07 == 0
}

/// Packet output: optional local reordering, then the pcap writer.
struct Out<W: Write> {
    w: PcapWriter<Counting<W>>,
    reorder: bool,
    window: VecDeque<Packet>,
    /// Timestamps in production order; output packets take them in order so time stays monotonic.
    times: VecDeque<i64>,
    packets: u64,
    written: u64,
    duplicates: u64,
    reorders: u64,
}

impl<W: Write> Out<W> {
    fn new(w: W, reorder: bool) -> io::Result<Self> {
        let opts = PcapOptions {
            nanos: true,
            snaplen: 262_144,
            ..PcapOptions::default()
        };
        Ok(Out {
            w: PcapWriter::new(Counting { inner: w, n: 0 }, opts)?,
            reorder,
            window: VecDeque::with_capacity(REORDER_WINDOW + 2),
            times: VecDeque::with_capacity(REORDER_WINDOW + 2),
            packets: 0,
            written: 0,
            duplicates: 0,
            reorders: 0,
        })
    }

    /// Bytes written so far (packets still in the reorder window not included).
    fn bytes(&self) -> u64 {
        24 + self.written
    }

    fn write(&mut self, p: &Packet) -> io::Result<()> {
        self.packets += 1;
        self.written += 16 + p.data.len() as u64;
        self.w.write_packet(p)
    }

    fn push(&mut self, p: Packet, rng: &mut Rng) -> io::Result<()> {
        if !self.reorder {
            return self.write(&p);
        }
        let data = is_plain_data(&p);
        let dup = (data && rng.chance(20)).then(|| p.clone());
        self.times.push_back(p.ts_nanos);
        self.window.push_back(p);
        let last = self.window.len() - 1;
        if data && last > 0 && rng.chance(80) {
            let back = rng.range(1, last.min(4));
            if is_plain_data(&self.window[last - back]) {
                self.window.swap(last - back, last);
                self.reorders += 1;
            }
        }
        if let Some(d) = dup {
            self.duplicates += 1;
            self.times.push_back(d.ts_nanos);
            self.window.push_back(d);
        }
        while self.window.len() > REORDER_WINDOW {
            self.pop_one()?;
        }
        Ok(())
    }

    fn pop_one(&mut self) -> io::Result<()> {
        if let (Some(mut p), Some(ts)) = (self.window.pop_front(), self.times.pop_front()) {
            p.ts_nanos = ts;
            self.write(&p)?;
        }
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
        while !self.window.is_empty() {
            self.pop_one()?;
        }
        Ok(())
    }

    fn finish(self) -> io::Result<(W, u64)> {
        let c = self.w.into_inner();
        let n = c.n;
        let mut inner = c.inner;
        inner.flush()?;
        Ok((inner, n))
    }
}

enum Kind {
    Ws {
        remaining: u32,
        mask_counter: u32,
        /// Client and server compressors (permessage-deflate, context takeover).
        deflate: Option<Box<[flate2::Compress; 2]>>,
    },
    Http {
        remaining: u32,
    },
}

struct Sess {
    conv: Conversation<'static>,
    kind: Kind,
}

/// Payload pools: messages are slices at random offsets.
struct Pools {
    text: Vec<u8>,
    binary: Vec<u8>,
}

const POOL: usize = 4 << 20;
const BIG_MESSAGE: usize = 1 << 20;

impl Pools {
    fn new(rng: &mut Rng) -> Pools {
        const SYMBOLS: [&str; 8] = [
            "BTC-USD", "ETH-USD", "AAPL", "MSFT", "EURUSD", "GOOG", "SOL", "TSLA",
        ];
        const TYPES: [&str; 5] = ["trade", "quote", "book", "heartbeat", "order"];
        const WORDS: [&str; 6] = ["alpha", "beta", "gamma", "delta", "ünïcødé", "€uro"];
        let mut text = String::with_capacity(POOL + 512);
        while text.len() < POOL {
            let r = rng.next_u64();
            text.push_str(&format!(
                "{{\"id\":{},\"type\":\"{}\",\"symbol\":\"{}\",\"price\":{}.{:02},\"qty\":{},\"ts\":{},\"note\":\"{}\",\"ok\":{}}}\n",
                r % 10_000_000,
                TYPES[(r >> 24) as usize % TYPES.len()],
                SYMBOLS[(r >> 28) as usize % SYMBOLS.len()],
                (r >> 32) % 50_000,
                (r >> 48) % 100,
                (r >> 40) % 1000,
                1_700_000_000_000u64 + (r >> 20) % 10_000_000,
                WORDS[(r >> 12) as usize % WORDS.len()],
                r & 1 == 0,
            ));
        }
        // Slices must stay valid UTF-8 at any offset: keep the pool ASCII except for the
        // multi-byte words, and cut slices on char boundaries (see `text_slice`).
        let text = text.into_bytes();
        let mut binary = vec![0u8; POOL];
        for chunk in binary.chunks_mut(8) {
            let v = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Pools { text, binary }
    }

    fn text_slice(&self, rng: &mut Rng, len: usize) -> &[u8] {
        let len = len.min(POOL - 8);
        let mut start = rng.below((self.text.len() - len - 4) as u64) as usize;
        while !is_char_boundary(&self.text, start) {
            start += 1;
        }
        let mut end = start + len;
        while !is_char_boundary(&self.text, end) {
            end += 1;
        }
        &self.text[start..end]
    }

    fn binary_slice(&self, rng: &mut Rng, len: usize) -> &[u8] {
        let len = len.min(POOL);
        let start = rng.below((POOL - len + 1) as u64) as usize;
        &self.binary[start..start + len]
    }
}

fn is_char_boundary(b: &[u8], i: usize) -> bool {
    i >= b.len() || (b[i] as i8) >= -0x40
}

/// The generator state.
struct Gen<W: Write> {
    cfg: GenConfig,
    rng: Rng,
    pools: Pools,
    out: Out<W>,
    now: i64,
    next_id: u32,
    stats: GenStats,
    frame_buf: Vec<u8>,
}

impl<W: Write> Gen<W> {
    fn message_size(&mut self) -> usize {
        let r = self.rng.below(10_000);
        match self.cfg.profile {
            Profile::Small => self.rng.range(20, 200),
            Profile::Deflate => match r {
                0..=4999 => self.rng.range(50, 512),
                5000..=8999 => self.rng.range(512, 8192),
                _ => self.rng.range(8192, 65536),
            },
            Profile::Mixed | Profile::Reordered => match r {
                0..=3999 => self.rng.range(10, 200),
                4000..=6999 => self.rng.range(200, 2048),
                7000..=8999 => self.rng.range(2048, 16384),
                9000..=9994 => self.rng.range(16384, 65536),
                _ => BIG_MESSAGE,
            },
        }
    }

    fn new_session(&mut self) -> Sess {
        let i = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let client = SocketAddr::from((
            [10, 1 + ((i >> 16) & 0x7f) as u8, (i >> 8) as u8, i as u8],
            1024 + (i % 60_000) as u16,
        ));
        let http = self.rng.chance(100);
        let server = if http {
            SocketAddr::from(([10, 0, 0, 3], 8080))
        } else {
            SocketAddr::from(([10, 0, 0, 2], 80))
        };
        let isn_c = self.rng.next_u64() as u32;
        let isn_s = self.rng.next_u64() as u32;
        let mut conv = Conversation::new(client, server)
            .with_isns(isn_c, isn_s)
            .with_mss(1460)
            .with_time_step(2_000);
        conv.advance_time(self.now - conv.now());
        conv.handshake();
        let kind = if http {
            self.stats.http_flows += 1;
            Kind::Http {
                remaining: self.rng.range(1, 6) as u32,
            }
        } else {
            self.stats.sessions += 1;
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
            key[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes());
            let key = base64::engine::general_purpose::STANDARD.encode(key);
            let mut req = UpgradeRequest::new(&key);
            req.target = format!("/stream/{i}");
            req.origin = Some("https://app.example.com".into());
            let mut resp = UpgradeResponse::accepting(&key);
            let deflate = self.cfg.profile == Profile::Deflate;
            if deflate {
                req = req.with_deflate();
                resp = resp.with_deflate();
            }
            conv.client_send(&req.to_bytes());
            conv.server_send(&resp.to_bytes());
            let remaining = match self.cfg.profile {
                Profile::Small => self.rng.range(100, 5000),
                Profile::Deflate => self.rng.range(50, 1000),
                Profile::Mixed | Profile::Reordered => self.rng.range(20, 1000),
            } as u32;
            Kind::Ws {
                remaining,
                mask_counter: self.rng.next_u64() as u32,
                deflate: deflate
                    .then(|| Box::new([new_deflate_compressor(1), new_deflate_compressor(1)])),
            }
        };
        Sess { conv, kind }
    }

    /// One step of `s`: a message (or request/response), or the close. True when finished.
    fn step(&mut self, s: &mut Sess) -> bool {
        s.conv.advance_time(self.now - s.conv.now());
        let done = match &mut s.kind {
            Kind::Http { remaining } => {
                if *remaining == 0 {
                    s.conv.close();
                    true
                } else {
                    *remaining -= 1;
                    let req = format!(
                        "GET /api/items/{} HTTP/1.1\r\nHost: api.example.com\r\nAccept: application/json\r\n\r\n",
                        self.rng.below(100_000)
                    );
                    s.conv.client_send(req.as_bytes());
                    let n = self.rng.range(16, 64 * 1024);
                    let body = self.pools.text_slice(&mut self.rng, n);
                    let mut resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    resp.extend_from_slice(body);
                    s.conv.server_send(&resp);
                    false
                }
            }
            Kind::Ws {
                remaining,
                mask_counter,
                deflate,
            } => {
                let mut next_mask = || {
                    *mask_counter = mask_counter.wrapping_add(1);
                    (0x9e37_79b9u32.wrapping_mul(*mask_counter)).to_be_bytes()
                };
                if *remaining == 0 {
                    let m = next_mask();
                    let c = FrameSpec::close(Some(1000), "bye", Some(m)).encode();
                    s.conv.client_send(&c);
                    s.conv
                        .server_send(&FrameSpec::close(Some(1000), "bye", None).encode());
                    s.conv.close();
                    self.stats.messages += 2;
                    self.stats.frames += 2;
                    true
                } else {
                    *remaining -= 1;
                    let client = self.rng.chance(500);
                    let dir = if client {
                        Dir::ClientToServer
                    } else {
                        Dir::ServerToClient
                    };
                    let mask = client.then(&mut next_mask);
                    let len = self.message_size();
                    let text = deflate.is_some() || self.rng.chance(600);
                    let (op, payload) = if text {
                        (OP_TEXT, self.pools.text_slice(&mut self.rng, len))
                    } else {
                        (OP_BINARY, self.pools.binary_slice(&mut self.rng, len))
                    };
                    self.frame_buf.clear();
                    if let Some(comps) = deflate {
                        let comp = &mut comps[usize::from(!client)];
                        deflate_frame(op, payload, comp, mask).encode_into(&mut self.frame_buf);
                        self.stats.frames += 1;
                    } else if self.cfg.profile != Profile::Small
                        && payload.len() > 64
                        && self.rng.chance(30)
                    {
                        let chunk = payload.len().div_ceil(self.rng.range(2, 4));
                        for f in fragment_message(op, payload, chunk, mask) {
                            f.encode_into(&mut self.frame_buf);
                            self.stats.frames += 1;
                        }
                    } else {
                        FrameSpec::new(op, payload, mask).encode_into(&mut self.frame_buf);
                        self.stats.frames += 1;
                    }
                    self.stats.messages += 1;
                    self.stats.data_messages += 1;
                    self.stats.ws_payload_bytes += payload.len() as u64;
                    s.conv.send(dir, &self.frame_buf);
                    if self.rng.chance(10) {
                        let m = next_mask();
                        let ping = FrameSpec::ping(b"keepalive", Some(m)).encode();
                        s.conv.client_send(&ping);
                        let pong = FrameSpec::pong(b"keepalive", None).encode();
                        s.conv.server_send(&pong);
                        self.stats.messages += 2;
                        self.stats.frames += 2;
                    }
                    false
                }
            }
        };
        self.now = s.conv.now() + self.rng.below(20_000) as i64;
        done
    }

    fn flush(&mut self, s: &mut Sess) -> io::Result<()> {
        for p in s.conv.take_packets() {
            self.out.push(p, &mut self.rng)?;
        }
        Ok(())
    }
}

/// Generates a capture into `out`; returns the writer and the totals.
pub fn generate<W: Write>(out: W, cfg: &GenConfig) -> io::Result<(W, GenStats)> {
    let mut rng = Rng(cfg.seed ^ 0x5eed_0fca_97a5_u64);
    let pools = Pools::new(&mut rng);
    let mut g = Gen {
        out: Out::new(out, cfg.profile == Profile::Reordered)?,
        cfg: cfg.clone(),
        rng,
        pools,
        now: DEFAULT_START_NANOS,
        next_id: 0,
        stats: GenStats::default(),
        frame_buf: Vec::new(),
    };
    let conc = cfg.concurrency.max(1);
    let mut active: Vec<Sess> = Vec::with_capacity(conc);
    let mut opening = true;
    loop {
        if opening && g.out.bytes() >= cfg.target_bytes {
            opening = false;
        }
        while opening && active.len() < conc {
            let mut s = g.new_session();
            g.flush(&mut s)?;
            active.push(s);
        }
        if active.is_empty() {
            break;
        }
        let k = g.rng.below(active.len() as u64) as usize;
        let mut s = active.swap_remove(k);
        let done = g.step(&mut s);
        g.flush(&mut s)?;
        if !done {
            if !opening {
                // Wind down quickly: close instead of sending the remaining messages.
                let (Kind::Ws { remaining, .. } | Kind::Http { remaining }) = &mut s.kind;
                *remaining = 0;
            }
            active.push(s);
        }
    }
    g.out.drain()?;
    let mut stats = g.stats;
    stats.packets = g.out.packets;
    stats.duplicates = g.out.duplicates;
    stats.reorders = g.out.reorders;
    let (w, bytes) = g.out.finish()?;
    stats.bytes = bytes;
    Ok((w, stats))
}

fn usage() -> ! {
    eprintln!(
        "usage: gen_capture --out FILE --size-mb N --profile mixed|small|deflate|reordered [--seed S] [--concurrency C]"
    );
    std::process::exit(2)
}

fn main() {
    let mut out = None;
    let mut size_mb: Option<u64> = None;
    let mut profile = None;
    let mut seed = 1u64;
    let mut concurrency = 64usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--out" => out = Some(val()),
            "--size-mb" => size_mb = Some(val().parse().unwrap_or_else(|_| usage())),
            "--profile" => profile = Some(Profile::parse(&val()).unwrap_or_else(|| usage())),
            "--seed" => seed = val().parse().unwrap_or_else(|_| usage()),
            "--concurrency" => concurrency = val().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let (Some(out), Some(size_mb), Some(profile)) = (out, size_mb, profile) else {
        usage()
    };
    let cfg = GenConfig {
        profile,
        target_bytes: size_mb * 1_000_000,
        seed,
        concurrency,
    };
    let start = Instant::now();
    let result = std::fs::File::create(&out)
        .and_then(|f| generate(BufWriter::with_capacity(1 << 20, f), &cfg));
    match result {
        Ok((_, stats)) => {
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "gen_capture: {} {:.1} MB in {:.1}s ({:.0} MB/s)",
                profile.name(),
                stats.bytes as f64 / 1e6,
                secs,
                stats.bytes as f64 / 1e6 / secs
            );
            println!("{}", stats.to_json(&cfg));
        }
        Err(e) => {
            eprintln!("gen_capture: {out}: {e}");
            std::process::exit(1);
        }
    }
}
