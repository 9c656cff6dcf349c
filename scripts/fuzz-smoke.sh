#!/usr/bin/env bash
# Fuzz smoke test: builds the cargo-fuzz targets in fuzz/, replays every input saved in
# fuzz/regressions/ against its target, then fuzzes each target for FUZZ_SECONDS (default 20)
# starting from the checked-in seeds (fuzz/seeds/<target>/) plus anything already in
# fuzz/corpus/<target>/. Exits non-zero on any crash, leak, timeout or out-of-memory.
#
# Works on stable Rust: cargo-fuzz passes -Z flags, which RUSTC_BOOTSTRAP=1 allows.
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20; 0 = only build and replay regressions)
#   FUZZ_JOBS      targets fuzzed at the same time (default: 2 if the machine has >= 2 CPUs)
#   FUZZ_TARGETS   space-separated subset of targets (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
CPUS=$(nproc 2>/dev/null || echo 1)
FUZZ_JOBS=${FUZZ_JOBS:-$([ "$CPUS" -ge 2 ] && echo 2 || echo 1)}
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
start=$(date +%s)
elapsed() { echo "$(($(date +%s) - start))s"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd fuzz
TARGETS=${FUZZ_TARGETS:-$(cargo fuzz list)}
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN=target/$TRIPLE/release

echo "== build ($(echo $TARGETS | wc -w) targets)"
cargo fuzz build
echo "   built after $(elapsed)"

fail=0
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

echo "== regressions"
shopt -s nullglob
for f in regressions/*; do
    name=$(basename "$f")
    target=""
    for t in $TARGETS; do
        case "$name" in "$t"-*) target=$t ;; esac
    done
    if [ -z "$target" ]; then
        echo "   $name: no target named by its prefix, skipped"
        continue
    fi
    if "$BIN/$target" -runs=1 "$f" >"$LOGS/reg-$name.log" 2>&1; then
        echo "   ok    $target < $name"
    else
        echo "   CRASH $target < $name"
        grep -m1 -A3 "panicked at\|ERROR: " "$LOGS/reg-$name.log" | sed 's/^/         /' || true
        fail=1
    fi
done

fuzz_one() {
    local t=$1
    local corpus=corpus/$t
    mkdir -p "$corpus" "artifacts/$t"
    local seeds=()
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    if "$BIN/$t" -artifact_prefix="artifacts/$t/" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$corpus" "${seeds[@]}" \
        >"$LOGS/$t.log" 2>&1; then
        local stats
        stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$LOGS/$t.log" | tail -1 |
            grep -oE 'cov: [0-9]+|exec/s: [0-9]+' | tr '\n' ' ')
        echo "   ok    $t  $stats"
    else
        echo "   CRASH $t (input saved under fuzz/artifacts/$t/)"
        grep -m1 -A3 "panicked at\|ERROR: " "$LOGS/$t.log" | sed 's/^/         /' || true
        tail -n 5 "$LOGS/$t.log" | sed 's/^/         /'
        return 1
    fi
}

if [ "$FUZZ_SECONDS" -gt 0 ]; then
    echo "== fuzzing ${FUZZ_SECONDS}s per target, $FUZZ_JOBS at a time"
    running=0
    pids=()
    for t in $TARGETS; do
        fuzz_one "$t" &
        pids+=($!)
        running=$((running + 1))
        if [ "$running" -ge "$FUZZ_JOBS" ]; then
            wait -n || fail=1
            running=$((running - 1))
        fi
    done
    while [ "$running" -gt 0 ]; do
        wait -n || fail=1
        running=$((running - 1))
    done
fi

echo "== done in $(elapsed)"
if [ "$fail" -ne 0 ]; then
    echo "fuzz smoke FAILED (reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <input>)" >&2
    exit 1
fi
