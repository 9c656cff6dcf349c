//! Criterion benchmarks of the hot paths: unmasking, frame header parsing, the streaming frame
//! decoder, TCP reassembly, permessage-deflate inflation, the NDJSON message line and the whole
//! pipeline over in-memory captures built with `wsscope_testkit` (via
//! `examples/gen_capture.rs`).
//!
//! `cargo bench --bench hot_paths` (a few minutes); `cargo bench --bench hot_paths -- mask`
//! runs one group.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use wsscope_core::analyzer::{Analyzer, AnalyzerConfig, Event};
use wsscope_core::capture::CaptureReader;
use wsscope_core::escape::json_terminal_safe;
use wsscope_core::session::SessionMessage;
use wsscope_core::tcp::reassembly::{ReassemblyLimits, StreamOutput, StreamReassembler};
use wsscope_core::tcp::Dir;
use wsscope_core::timestamp::Timestamp;
use wsscope_core::ws::decoder::{DecodeEvent, Expectations, FrameDecoder};
use wsscope_core::ws::deflate::Inflater;
use wsscope_core::ws::frame::{apply_mask, apply_mask_simple, FrameHeader};
use wsscope_core::ws::message::{Message, MessageKind};
use wsscope_output::json_line::MessageLineWriter;
use wsscope_output::report::{message_report, MessageEvent, NdjsonEvent, PayloadMode};
use wsscope_testkit::adversarial::filler;
use wsscope_testkit::new_deflate_compressor;
use wsscope_testkit::ws::{deflate_message, FrameSpec};

#[allow(dead_code)]
#[path = "../examples/gen_capture.rs"]
mod gen_capture;

use gen_capture::{generate, GenConfig, GenStats, Profile};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const TS: Timestamp = Timestamp(1_700_000_000_000_000_000);

/// Deterministic pseudo-random bytes.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    filler(seed, n)
}

/// JSON-like, compressible text of about `n` bytes.
fn json_text(n: usize, seed: u64) -> String {
    let mut s = String::with_capacity(n + 128);
    let mut i = seed;
    while s.len() < n {
        i = i.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        s.push_str(&format!(
            "{{\"id\":{},\"type\":\"trade\",\"symbol\":\"ETH-USD\",\"price\":{}.{:02},\"qty\":{}}}\n",
            i % 1_000_000,
            (i >> 20) % 5000,
            (i >> 40) % 100,
            (i >> 50) % 100
        ));
    }
    s.truncate(n);
    s
}

fn quick<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    g
}

fn bench_mask(c: &mut Criterion) {
    let mut g = quick(c, "mask");
    let mut buf = noise(16 * 1024, 1);
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("apply_mask/16KiB", |b| {
        b.iter(|| apply_mask(black_box(&mut buf), black_box(MASK), black_box(1)))
    });
    g.bench_function("apply_mask_simple/16KiB", |b| {
        b.iter(|| apply_mask_simple(black_box(&mut buf), black_box(MASK), black_box(1)))
    });
    g.finish();
}

fn bench_header(c: &mut Criterion) {
    let mut g = quick(c, "frame_header");
    let headers: Vec<Vec<u8>> = vec![
        FrameSpec::text("hello", Some(MASK)).encode(),
        FrameSpec::binary(&[0u8; 300], None).encode()[..4].to_vec(),
        FrameSpec::binary(&[0u8; 70_000], Some(MASK)).encode()[..14].to_vec(),
        FrameSpec::text("x", None).encode(),
    ];
    g.throughput(Throughput::Elements(headers.len() as u64));
    g.bench_function("parse/4 forms", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for h in &headers {
                if let Some(h) = FrameHeader::parse(black_box(h)) {
                    n += h.payload_len;
                }
            }
            n
        })
    });
    g.finish();
}

fn bench_decoder(c: &mut Criterion) {
    let mut g = quick(c, "frame_decoder");
    for (label, masked, sizes) in [
        ("small_masked", true, (8usize, 120usize)),
        ("small_unmasked", false, (8, 120)),
        ("medium_masked", true, (1000, 4000)),
    ] {
        let mut stream = Vec::new();
        let mut frames = 0u64;
        let mut i = 0usize;
        while stream.len() < 1 << 20 {
            let len = sizes.0 + (i * 37) % (sizes.1 - sizes.0);
            let payload = noise(len, i as u64);
            let mask = masked.then_some(MASK);
            FrameSpec::binary(&payload, mask).encode_into(&mut stream);
            frames += 1;
            i += 1;
        }
        let expect = Expectations {
            masked,
            rsv1_allowed: false,
        };
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(format!("{label}/1MiB ({frames} frames)"), |b| {
            b.iter(|| {
                let mut d = FrameDecoder::new(expect);
                let mut ends = 0u64;
                // Fed in MSS-sized pieces, as the reassembler delivers them.
                for piece in stream.chunks(1460) {
                    d.feed((TS, 1), piece, &mut |ev| {
                        if let DecodeEvent::FrameEnd { .. } = ev {
                            ends += 1;
                        }
                    });
                }
                assert_eq!(ends, frames);
                ends
            })
        });
    }
    g.finish();
}

fn bench_reassembly(c: &mut Criterion) {
    let mut g = quick(c, "reassembly");
    let data = noise(2 << 20, 7);
    let isn = 0xffff_0000u32; // wraps within the stream
    let segs: Vec<(u32, &[u8])> = data
        .chunks(1460)
        .enumerate()
        .map(|(i, c)| (isn.wrapping_add(1 + (i * 1460) as u32), c))
        .collect();
    // Out of order: every pair swapped, and every 16th segment retransmitted.
    let mut ooo = Vec::with_capacity(segs.len() * 17 / 16);
    for (k, pair) in segs.chunks(2).enumerate() {
        ooo.extend(pair.iter().rev().copied());
        if k % 8 == 0 {
            ooo.push(pair[0]);
        }
    }
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (label, order) in [("in_order", &segs), ("out_of_order", &ooo)] {
        g.bench_function(format!("{label}/2MiB"), |b| {
            b.iter(|| {
                let mut r = StreamReassembler::new(ReassemblyLimits::default());
                r.set_isn(isn);
                let mut got = 0u64;
                let mut out = |o: StreamOutput<'_>| {
                    if let StreamOutput::Data { bytes, .. } = o {
                        got += bytes.len() as u64;
                    }
                };
                for &(seq, p) in order.iter() {
                    r.push((TS, 1), seq, p, 0, &mut out);
                }
                assert_eq!(got, data.len() as u64);
                got
            })
        });
    }
    g.finish();
}

fn bench_inflate(c: &mut Criterion) {
    let mut g = quick(c, "inflate");
    // 256 messages of 4 KiB compressed with context takeover, as one direction sends them.
    let mut comp = new_deflate_compressor(6);
    let plain: Vec<String> = (0..256).map(|i| json_text(4096, i)).collect();
    let compressed: Vec<Vec<u8>> = plain
        .iter()
        .map(|m| deflate_message(m.as_bytes(), &mut comp))
        .collect();
    let total: usize = plain.iter().map(String::len).sum();
    let ratio = total as f64 / compressed.iter().map(Vec::len).sum::<usize>() as f64;
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function(
        format!("context_takeover/256x4KiB json (ratio {ratio:.1})"),
        |b| {
            b.iter_batched_ref(
                || Inflater::new(false),
                |inf| {
                    let mut out = 0usize;
                    let mut sink = |d: &[u8]| out += d.len();
                    for m in &compressed {
                        inf.feed(m, u64::MAX, &mut sink).expect("inflate");
                        inf.finish_message(u64::MAX, &mut sink).expect("inflate");
                    }
                    assert_eq!(out, total);
                    out
                },
                BatchSize::SmallInput,
            )
        },
    );
    g.finish();
}

/// An in-memory capture of about `mb` MB.
fn capture(profile: Profile, mb: u64) -> (Vec<u8>, GenStats) {
    let cfg = GenConfig {
        profile,
        target_bytes: mb * 1_000_000,
        seed: 7,
        concurrency: 64,
    };
    generate(Vec::with_capacity((mb as usize + 2) << 20), &cfg).expect("generate")
}

fn bench_pipeline(c: &mut Criterion) {
    let mut g = quick(c, "pipeline");
    for (label, profile) in [
        ("mixed", Profile::Mixed),
        ("small", Profile::Small),
        ("deflate", Profile::Deflate),
        ("reordered", Profile::Reordered),
    ] {
        let (bytes, stats) = capture(profile, 8);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(
            format!(
                "{label}/{:.1}MB ({} msgs)",
                bytes.len() as f64 / 1e6,
                stats.messages
            ),
            |b| {
                b.iter(|| {
                    let reader = CaptureReader::new(&bytes).expect("capture");
                    let mut analyzer = Analyzer::new(AnalyzerConfig::default(), 0);
                    let mut messages = 0u64;
                    let mut sink = |ev: Event<'_>| {
                        if let Event::Message(_) = ev {
                            messages += 1;
                        }
                    };
                    for p in reader {
                        analyzer.packet(&p, &mut sink);
                    }
                    analyzer.finish(&mut sink);
                    assert_eq!(messages, stats.messages);
                    messages
                })
            },
        );
    }
    g.finish();
}

/// One NDJSON `message` line: the hand-written writer against the serde report it replaced.
fn bench_ndjson_line(c: &mut Criterion) {
    let text = json_text(120, 7);
    let message = Message {
        dir: Dir::ServerToClient,
        ts: TS,
        end_ts: TS,
        kind: MessageKind::Text,
        frames: 1,
        len: text.len() as u64,
        wire_len: text.len() as u64,
        compressed: false,
        payload: text.into_bytes(),
        incomplete: false,
        utf8_valid: Some(true),
        close_code: None,
        close_reason: None,
        inflate_error: None,
    };
    let m = SessionMessage {
        session: 17,
        index: 4242,
        message,
        first_packet: 1,
        last_packet: 1,
        rtt_nanos: None,
    };
    let mut g = quick(c, "ndjson_line");
    g.throughput(Throughput::Elements(1));
    for (label, mode) in [
        ("payload none", PayloadMode::None),
        ("preview 64", PayloadMode::Preview(64)),
    ] {
        let mut writer = MessageLineWriter::new();
        let mut buf = Vec::with_capacity(512);
        g.bench_function(format!("hand-written/{label}"), |b| {
            b.iter(|| {
                buf.clear();
                writer.write(&mut buf, black_box(&m), mode);
                black_box(buf.len())
            })
        });
        g.bench_function(format!("serde report/{label}"), |b| {
            b.iter(|| {
                let ev = NdjsonEvent::Message(MessageEvent {
                    session: m.session,
                    message: message_report(black_box(&m), mode),
                });
                let line = serde_json::to_string(&ev).unwrap_or_default();
                black_box(json_terminal_safe(line).len())
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_ndjson_line,
    bench_mask,
    bench_header,
    bench_decoder,
    bench_reassembly,
    bench_inflate,
    bench_pipeline
);
criterion_main!(benches);
