//! Writes seed inputs for every fuzz target.
//!
//! Usage: `cargo run --example seed -- [--fixtures DIR] [--max-size BYTES] [--max-per-target N] OUT`
//! writes `OUT/<target>/<name>` files (existing files are overwritten, others kept).

use std::path::PathBuf;

fn main() {
    let mut fixtures: Option<PathBuf> = None;
    let mut max_size = usize::MAX;
    let mut max_per_target = usize::MAX;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fixtures" => fixtures = args.next().map(PathBuf::from),
            "--max-size" => {
                max_size = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--max-size N")
            }
            "--max-per-target" => {
                max_per_target = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--max-per-target N")
            }
            _ if out.is_none() => out = Some(PathBuf::from(a)),
            _ => panic!("unexpected argument {a}"),
        }
    }
    let out = out.expect("usage: seed [--fixtures DIR] [--max-size N] [--max-per-target N] OUT");

    let mut caps = Vec::new();
    if let Some(dir) = fixtures {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixtures dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("pcap" | "pcapng")
                )
            })
            .collect();
        entries.sort();
        for p in entries {
            let bytes = std::fs::read(&p).expect("read fixture");
            // Whole multi-megabyte captures only slow the fuzzer down; their packets still
            // become packet_decoder seeds below the size limit.
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            caps.push((name, bytes));
        }
    }

    // Group by target, drop empty/oversized ones, then keep an evenly spread selection.
    let mut by_target = std::collections::BTreeMap::<&str, Vec<(String, Vec<u8>)>>::new();
    for (target, name, bytes) in wsscope_fuzz::seeds::generate(&caps) {
        if !bytes.is_empty() && bytes.len() <= max_size {
            by_target.entry(target).or_default().push((name, bytes));
        }
    }
    for (target, seeds) in by_target {
        let n = seeds.len().min(max_per_target);
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        for i in 0..n {
            let (name, bytes) = &seeds[i * seeds.len() / n];
            std::fs::write(dir.join(name), bytes).expect("write seed");
        }
        eprintln!("{target}: {n} seeds");
    }
}
