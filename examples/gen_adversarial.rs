//! Writes one adversarial capture (classic pcap, Ethernet, ns timestamps) with
//! `wsscope_testkit::adversarial`, for `scripts/stress.sh`.
//!
//! ```text
//! cargo run --release --example gen_adversarial -- --kind KIND --out FILE [--count N]
//! ```
//!
//! Kinds (and what `--count` means, default in brackets):
//! * `syn-flood`: distinct SYN-only connections [1,000,000] around one WebSocket session.
//! * `frag-flood`: IP fragments that never complete [100,000] around an IPv4 and an IPv6
//!   WebSocket session carried in fragments.
//! * `huge-frame`: payload bytes [268,435,456] streamed after a 2^63-1 frame header.
//! * `deflate-bomb`: permessage-deflate messages inflating to 1 GiB each [16].
//! * `deflate-bomb-takeover`: the same with context takeover [16]: inflation goes on past the
//!   cap to keep the window in step.
//! * `overlap-wrap`: messages each way [20,000], sequence numbers wrapping, segments reordered
//!   and retransmitted, a third of the retransmissions inconsistent.
//! * `hole-flood`: sessions [64] each buffering 4 MiB of out-of-order data behind a lost
//!   byte (a 5 MiB frame), all at once.
//! * `idle-flood`: connections [100,000] that open and go quiet (half after a
//!   permessage-deflate upgrade, half after an HTTP request line) around a deflate session.
//! * `snaplen64`: messages each way [20,000] of an ordinary session, written with snaplen 64.
//! * `finding-flood`: unmasked client frames [3,000,000] on one session, each a finding.
//! * `payload-flood`: compressed messages of 1 MiB [1,000] on one session (1 GiB inflated).
//! * `undescribed-iface`: pcapng packets naming an undescribed interface [1,000,000] around
//!   an ordinary session (the only kind written as pcapng).
//! * `deflate-idle-flood`: connections [20,000] that exchange one permessage-deflate message
//!   each way and go quiet, around a deflate session.
//! * `resync-junk`: bytes [4,194,304] that never look like a frame header, in 1-4 byte
//!   segments after 16 frame headers lost in capture gaps, around one WebSocket session.
//!
//! The last line on stdout is one JSON object: packets, flood size, probe messages expected.

use std::io::{self, BufWriter, Write};
use std::time::Instant;

use wsscope_testkit::adversarial::{self, Expected};
use wsscope_testkit::{Packet, PcapOptions, PcapWriter};

fn usage() -> ! {
    eprintln!(
        "usage: gen_adversarial --kind syn-flood|frag-flood|huge-frame|deflate-bomb|overlap-wrap|hole-flood|idle-flood|snaplen64|finding-flood|payload-flood|undescribed-iface|slow-heads|deflate-bomb-takeover|deflate-idle-flood|resync-junk --out FILE [--count N]"
    );
    std::process::exit(2)
}

fn generate(kind: &str, count: Option<u64>, w: impl Write) -> io::Result<(Expected, u32)> {
    if kind == "undescribed-iface" {
        let e = adversarial::undescribed_interface(count.unwrap_or(1_000_000), 100, w)?;
        return Ok((e, 0));
    }
    let snaplen = if kind == "snaplen64" { 64 } else { 262_144 };
    let opts = PcapOptions {
        nanos: true,
        snaplen,
        ..PcapOptions::default()
    };
    let mut pcap = PcapWriter::new(w, opts)?;
    let emit = |p: &Packet| pcap.write_packet(p);
    let expected = match kind {
        "slow-heads" => adversarial::slow_heads(count.unwrap_or(20), 60_000, emit)?,
        "syn-flood" => adversarial::syn_flood(count.unwrap_or(1_000_000), 100, emit)?,
        "frag-flood" => adversarial::frag_flood(count.unwrap_or(100_000), 200, emit)?,
        "huge-frame" => adversarial::huge_frame(count.unwrap_or(256 << 20), 100, emit)?,
        "deflate-bomb" => adversarial::deflate_bomb(count.unwrap_or(16), 1 << 30, emit)?,
        "deflate-bomb-takeover" => adversarial::deflate_bomb_with(
            "permessage-deflate",
            count.unwrap_or(16),
            1 << 30,
            emit,
        )?,
        "overlap-wrap" => adversarial::overlap_wrap(count.unwrap_or(20_000), emit)?,
        "hole-flood" => adversarial::hole_flood(count.unwrap_or(64), 5 << 20, emit)?,
        "idle-flood" => adversarial::idle_flood(count.unwrap_or(100_000), 100, emit)?,
        "snaplen64" => adversarial::plain_session(count.unwrap_or(20_000), emit)?,
        "finding-flood" => adversarial::finding_flood(count.unwrap_or(3_000_000), emit)?,
        "payload-flood" => adversarial::payload_flood(1, count.unwrap_or(1_000), 1 << 20, emit)?,
        "deflate-idle-flood" => {
            adversarial::compressed_idle_flood(count.unwrap_or(20_000), 100, emit)?
        }
        "resync-junk" => adversarial::resync_junk(count.unwrap_or(4 << 20), 16, emit)?,
        _ => usage(),
    };
    pcap.flush()?;
    Ok((expected, snaplen))
}

fn main() {
    let mut kind = None;
    let mut out = None;
    let mut count = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--kind" => kind = Some(val()),
            "--out" => out = Some(val()),
            "--count" => count = Some(val().parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    let (Some(kind), Some(out)) = (kind, out) else {
        usage()
    };
    let start = Instant::now();
    let result = std::fs::File::create(&out)
        .and_then(|f| generate(&kind, count, BufWriter::with_capacity(1 << 20, f)));
    match result {
        Ok((e, snaplen)) => {
            eprintln!(
                "gen_adversarial: {kind}: {} packets in {:.1}s",
                e.packets,
                start.elapsed().as_secs_f64()
            );
            let probes: Vec<serde_json::Value> = e
                .probes
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "client": p.client.map(|c| c.to_string()),
                        "c2s_texts": p.c2s.len(),
                        "s2c_texts": p.s2c.len(),
                        "messages": p.messages,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "kind": kind,
                    "packets": e.packets,
                    "flood": e.flood,
                    "bogus_datagrams": e.bogus_datagrams,
                    "probe_fragments": e.probe_fragments,
                    "messages": e.messages(),
                    "snaplen": snaplen,
                    "probes": probes,
                })
            );
        }
        Err(e) => {
            eprintln!("gen_adversarial: {out}: {e}");
            std::process::exit(1);
        }
    }
}
