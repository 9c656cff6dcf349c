//! No per-packet allocation: heap allocations made while analysing a capture and writing it as
//! NDJSON grow with sessions and messages, not with packets. Counted with a counting global
//! allocator (deterministic: a count, not a timing).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use wsscope_core::analyzer::{Analyzer, AnalyzerConfig, Event};
use wsscope_core::capture::CaptureReader;
use wsscope_core::sink::Sink;
use wsscope_output::ndjson::NdjsonSink;
use wsscope_output::report::PayloadMode;

#[allow(dead_code)]
#[path = "../examples/gen_capture.rs"]
mod gen_capture;

use gen_capture::{generate, GenConfig, GenStats, Profile};

/// Counts allocations (and reallocations) made through the global allocator.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn capture(profile: Profile) -> (Vec<u8>, GenStats) {
    let cfg = GenConfig {
        profile,
        target_bytes: 6_000_000,
        seed: 3,
        concurrency: 16,
    };
    generate(Vec::new(), &cfg).expect("generate")
}

/// Allocations made by analysing `bytes` into an NDJSON sink that discards its output.
fn allocations_for(bytes: &[u8]) -> u64 {
    let reader = CaptureReader::new(bytes).expect("capture");
    let mut sink = NdjsonSink::new(Box::new(io::sink()), PayloadMode::None, false);
    sink.begin_capture("alloc-test").expect("begin");
    let mut analyzer = Analyzer::new(AnalyzerConfig::default(), 0);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut emit = |ev: Event<'_>| {
        sink.event(&ev).expect("write");
    };
    for p in reader {
        analyzer.packet(&p, &mut emit);
    }
    analyzer.finish(&mut emit);
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn allocations_grow_with_messages_not_packets() {
    for profile in [Profile::Mixed, Profile::Small] {
        let (bytes, stats) = capture(profile);
        let allocs = allocations_for(&bytes);
        // Each message owns its (retained) payload; each session owns its state. One more
        // allocation per packet would overshoot the budget on both profiles (measured: about 2
        // per message plus a few hundred per session).
        let budget = 3 * stats.messages + 200 * (stats.sessions + stats.http_flows) + 1000;
        eprintln!(
            "{}: {} packets, {} messages, {} sessions: {} allocations (budget {})",
            profile.name(),
            stats.packets,
            stats.messages,
            stats.sessions,
            allocs,
            budget
        );
        assert!(
            allocs <= budget,
            "{}: {allocs} allocations for {} packets and {} messages",
            profile.name(),
            stats.packets,
            stats.messages
        );
    }
}
