#!/usr/bin/env bash
# End-to-end throughput benchmark of `wsscope analyze` on large synthetic captures.
#
#   scripts/bench.sh                 # BENCH_MB=500: ~1.5 GB of captures, a few minutes
#   BENCH_MB=50 scripts/bench.sh     # quick run
#
# Environment:
#   BENCH_MB            size of the mixed and deflate captures in MB (default 500)
#   BENCH_SMALL_MB      size of the small-messages capture (default 2/5 of BENCH_MB)
#   BENCH_REORDERED_MB  size of the reordered capture (default 2/5 of BENCH_MB)
#   BENCH_SEED          generator seed (default 1)
#   BENCH_DATA          where captures live (default ./bench-data, gitignored)
#   BENCH_TUI_RUNS      runs of the terminal UI loader per capture (default 3; medians shown)
#   BENCH_TSHARK        1: install tshark if missing and compare; 0: never; default: compare
#                       only when tshark is already installed
#
# Captures are made by `examples/gen_capture.rs` and kept: a file is regenerated only when
# its sidecar FILE.json (the generator's totals) is missing or does not match the file size,
# target size and seed. Every run is measured with /usr/bin/time -v (wall time, peak RSS).
# The page cache is warmed by `cat` first, so figures are CPU-bound, not disk-bound.
set -euo pipefail

cd "$(dirname "$0")/.."

BENCH_MB=${BENCH_MB:-500}
SMALL_MB=${BENCH_SMALL_MB:-$((BENCH_MB * 2 / 5))}
REORDERED_MB=${BENCH_REORDERED_MB:-$((BENCH_MB * 2 / 5))}
SEED=${BENCH_SEED:-1}
DATA=${BENCH_DATA:-bench-data}
TSHARK_MODE=${BENCH_TSHARK:-auto}

log() { printf '%s\n' "bench: $*" >&2; }

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        log "need root to apt-get install $*"
        return 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    apt_install time
fi

TSHARK=0
case "$TSHARK_MODE" in
1 | yes | true)
    if ! command -v tshark >/dev/null; then
        log "installing tshark"
        echo "wireshark-common wireshark-common/install-setuid boolean false" |
            debconf-set-selections 2>/dev/null || true
        apt_install tshark
    fi
    TSHARK=1
    ;;
0 | no | false) ;;
*) command -v tshark >/dev/null && TSHARK=1 ;;
esac

log "building (release)"
cargo build --release --quiet --bin wsscope --example gen_capture
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WSSCOPE=$TARGET_DIR/release/wsscope
GEN=$TARGET_DIR/release/examples/gen_capture
mkdir -p "$DATA"

# jget KEY FILE: an integer field of a one-line JSON object.
jget() { grep -o "\"$1\": *[0-9]*" "$2" | head -n1 | cut -d: -f2 | tr -d ' '; }

# capture PROFILE MB: path of an up-to-date capture, generating it when needed.
capture() {
    local profile=$1 mb=$2
    local file="$DATA/$profile-${mb}MB.pcap"
    local meta="$file.json"
    if [ -f "$file" ] && [ -f "$meta" ] &&
        [ "$(jget bytes "$meta")" = "$(stat -c %s "$file")" ] &&
        [ "$(jget target_bytes "$meta")" = "$((mb * 1000000))" ] &&
        [ "$(jget seed "$meta")" = "$SEED" ] &&
        [ -n "$(jget frames "$meta")" ]; then
        log "reusing $file"
    else
        log "generating $file"
        rm -f "$file" "$meta"
        "$GEN" --out "$file" --size-mb "$mb" --profile "$profile" --seed "$SEED" >"$meta.tmp"
        mv "$meta.tmp" "$meta"
    fi
    printf '%s\n' "$file"
}

FILES=(
    "$(capture mixed "$BENCH_MB")"
    "$(capture deflate "$BENCH_MB")"
    "$(capture small "$SMALL_MB")"
    "$(capture reordered "$REORDERED_MB")"
)

# measure OUT_VAR CMD...: runs CMD (stdout to /dev/null), sets SECS and RSS_MIB.
TIMEF=$(mktemp)
trap 'rm -f "$TIMEF"' EXIT
measure() {
    local t0 t1 rc=0
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$TIMEF" "$@" >/dev/null 2>>"$DATA/bench-stderr.log" || rc=$?
    t1=$(date +%s.%N)
    SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    RSS_MIB=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$TIMEF")
    RC=$rc
}

ROWS=()
# per_sec COUNT SECS: COUNT / SECS rounded, or - without a count.
per_sec() {
    if [ -n "$1" ]; then
        awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0) ? n / s : 0 }'
    else
        echo -
    fi
}

row() { # file size_mb what secs msgs frames
    local mbps msgs_s frames_s
    mbps=$(awk -v m="$2" -v s="$4" 'BEGIN { printf "%.1f", (s > 0) ? m / s : 0 }')
    msgs_s=$(per_sec "$5" "$4")
    frames_s=$(per_sec "$6" "$4")
    local note=""
    [ "$RC" != 0 ] && note=" (exit $RC)"
    ROWS+=("$(printf '%-28s %8s  %-34s %8s %8s %12s %12s %9s%s' \
        "$1" "$2" "$3" "$4" "$mbps" "$msgs_s" "$frames_s" "$RSS_MIB" "$note")")
    log "$(printf '%s %s: %ss, %s MB/s, %s msgs/s, %s frames/s, %s MiB' \
        "$1" "$3" "$4" "$mbps" "$msgs_s" "$frames_s" "$RSS_MIB")"
}

SPEEDUPS=()
TUI_ROWS=()

# median N...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# tui_row FILE: the terminal UI's loader on FILE (`wsscope tui --measure-load`: what the UI
# holds, built as the UI builds it, without a terminal), BENCH_TUI_RUNS times (default 3):
# messages, and the medians of the time to the first screen, load time and peak RSS, with
# bytes per message (RSS, and the message index alone).
tui_row() {
    local f=$1 out runs=${BENCH_TUI_RUNS:-3} i
    local firsts=() loads=() rsss=() msgs index spill
    out=$(mktemp)
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -v -o "$TIMEF" "$WSSCOPE" tui --measure-load "$f" >"$out" 2>>"$DATA/bench-stderr.log"
        rsss+=("$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$TIMEF")")
        firsts+=("$(jget first_screen_ms "$out")")
        loads+=("$(jget load_ms "$out")")
        msgs=$(jget messages "$out")
        index=$(jget index_bytes "$out")
        spill=$(jget spill_bytes "$out")
    done
    rm -f "$out"
    local first load rss
    first=$(median "${firsts[@]}")
    load=$(median "${loads[@]}")
    rss=$(median "${rsss[@]}")
    TUI_ROWS+=("$(awk -v n="$(basename "$f")" -v m="$msgs" -v fs="$first" -v l="$load" \
        -v r="$rss" -v i="$index" -v sp="$spill" 'BEGIN {
            printf "%-28s %10d %10d %8.2f %9.1f %12.0f %12.0f %10.0f",
                n, m, fs, l / 1000, r, (m > 0) ? r * 1048576 / m : 0,
                (m > 0) ? i / m : 0, sp / 1e6 }')")
    log "tui $(basename "$f"): ${msgs} messages, first screen ${first} ms, ${rss} MiB (medians of $runs)"
}

: >"$DATA/bench-stderr.log"
for f in "${FILES[@]}"; do
    name=$(basename "$f")
    bytes=$(stat -c %s "$f")
    mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    msgs=$(jget messages "$f.json")
    frames=$(jget frames "$f.json")
    cat "$f" >/dev/null # warm the page cache
    measure cat "$f"
    row "$name" "$mb" "cat (read ceiling)" "$SECS" "" ""
    measure "$WSSCOPE" analyze --no-progress --ndjson --payload none "$f"
    row "$name" "$mb" "wsscope --ndjson --payload none" "$SECS" "$msgs" "$frames"
    ours=$SECS
    measure "$WSSCOPE" analyze --no-progress --quiet --json /dev/null "$f"
    row "$name" "$mb" "wsscope --json (report in RAM)" "$SECS" "$msgs" "$frames"
    tui_row "$f"
    if [ "$TSHARK" = 1 ]; then
        measure tshark -r "$f" -Y websocket -T fields -e frame.number
        row "$name" "$mb" "tshark -Y websocket" "$SECS" "$msgs" "$frames"
        SPEEDUPS+=("$(awk -v n="$name" -v a="$SECS" -v b="$ours" \
            'BEGIN { printf "%-28s wsscope --ndjson is %.1fx tshark", n, (b > 0) ? a / b : 0 }')")
    fi
done

echo
printf '%-28s %8s  %-34s %8s %8s %12s %12s %9s\n' \
    file "size MB" run seconds "MB/s" "messages/s" "frames/s" "RSS MiB"
printf '%s\n' "${ROWS[@]}"
echo
echo "Terminal UI (wsscope tui --measure-load, medians of ${BENCH_TUI_RUNS:-3} runs): what the UI holds after loading"
printf '%-28s %10s %10s %8s %9s %12s %12s %10s\n' \
    file messages "1st scr ms" "load s" "RSS MiB" "RSS B/msg" "index B/msg" "spill MB"
printf '%s\n' "${TUI_ROWS[@]}"
echo "RSS B/msg includes the analyzer's own working memory; index B/msg is the message index"
echo "alone (payloads are in the spill file, read back when shown)."
echo
if [ ${#SPEEDUPS[@]} -gt 0 ]; then
    printf '%s\n' "${SPEEDUPS[@]}"
    echo
fi
echo "messages/s, frames/s = messages and frames in the capture (generator counts, control ones"
echo "included) / wall time."
echo "--json keeps the whole report (every session and message, with payload previews) in memory"
echo "until the end, so its peak RSS grows with the message count; --ndjson streams."
for f in "${FILES[@]}"; do
    echo "$(basename "$f"): $(cat "$f.json")"
done
