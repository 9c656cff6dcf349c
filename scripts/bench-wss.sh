#!/usr/bin/env bash
# What decryption and HTTP/2 cost: the same WebSocket workload, captured from real peers on
# loopback, over plain ws, wss (TLS 1.3 and 1.2, AES-128-GCM) and RFC 8441 (h2c, h2 over TLS),
# analysed by wsscope and by tshark with the same key log.
#
#   scripts/bench-wss.sh                         # BENCH_WSS_MB=100: 5 captures of ~100 MB
#   BENCH_WSS_MB=20 BENCH_RUNS=1 scripts/bench-wss.sh   # quick run
#
# Environment:
#   BENCH_WSS_MB        capture size in MB, each carrier (default 100)
#   BENCH_WSS_CARRIERS  which captures (default "ws wss13 wss12 h2c h2tls")
#   BENCH_WSS_MTU       MTU of the loopback the captures are made on (default 1500, in a
#                       private network namespace; "host": the host's lo, 64 KiB packets)
#   BENCH_SEED          workload seed (default 1)
#   BENCH_RUNS          timed runs per command; the table shows medians (default 3)
#   BENCH_TSHARK_RUNS   timed tshark runs per file (default BENCH_RUNS)
#   BENCH_DATA          where captures live (default ./bench-data, gitignored)
#   BENCH_TSHARK        0: skip tshark; otherwise install it if missing and compare (default 1)
#   WSSCOPE             a wsscope binary to measure (default: cargo build --release)
#
# Captures are made by scripts/bench-wss-gen.sh (node ws / node:http2 peers from
# fixtures/gen/benchpeer.js, tcpdump on lo; needs root) and kept: a file is regenerated only
# when its sidecar FILE.json (the peers' truth) is missing or does not match the file size,
# size, seed, MTU and generator revision.  Every run is measured with /usr/bin/time (wall, user+sys
# CPU, peak RSS) after the page cache was warmed.  An untimed first run of each command
# checks counts: the script exits 1 when wsscope's message events (close frames included),
# or the payload bytes of its text and binary messages, differ from the truth, or when
# tshark's decrypted WebSocket frames do (ws and wss; tshark 4.0 does not dissect WebSocket
# inside HTTP/2 streams, so h2 rows show its HTTP/2 DATA frame count, unchecked).
set -euo pipefail

cd "$(dirname "$0")/.."

MB=${BENCH_WSS_MB:-100}
CARRIERS=(${BENCH_WSS_CARRIERS:-ws wss13 wss12 h2c h2tls})
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-3}
TRUNS=${BENCH_TSHARK_RUNS:-$RUNS}
DATA=${BENCH_DATA:-bench-data}
TSHARK=${BENCH_TSHARK:-1}
case $TSHARK in 0 | no | false) TSHARK=0 ;; *) TSHARK=1 ;; esac
BASE_PORT=62001
MTU=${BENCH_WSS_MTU:-1500}
[ "$MTU" = host ] && MTU=$(cat /sys/class/net/lo/mtu)
GEN_REV=$(sed -n 's/^GEN_REV=\([0-9]*\).*/\1/p' scripts/bench-wss-gen.sh)

log() { printf '%s\n' "bench-wss: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

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

need=()
[ -x /usr/bin/time ] || need+=(time)
if [ "$TSHARK" = 1 ] && ! command -v tshark >/dev/null; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        debconf-set-selections 2>/dev/null || true
    need+=(tshark)
fi
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt_install "${need[@]}"
fi

if [ -n "${WSSCOPE:-}" ]; then
    [ -x "$WSSCOPE" ] || die "WSSCOPE=$WSSCOPE is not executable"
else
    log "building (release)"
    cargo build --release --quiet --bin wsscope
    WSSCOPE=${CARGO_TARGET_DIR:-target}/release/wsscope
fi
mkdir -p "$DATA"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# jget KEY FILE: an integer field of a one-line JSON object.
jget() { grep -o "\"$1\": *[0-9]*" "$2" | head -n1 | sed 's/.*: *//'; }

is_tls() { case $1 in wss13 | wss12 | h2tls) return 0 ;; esac; return 1; }

gen_deps() {
    [ -n "${GEN_DEPS_OK:-}" ] && return 0
    [ "$(id -u)" = 0 ] || die "generating captures needs root (tcpdump on lo)"
    local need=()
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v openssl >/dev/null || need+=(openssl)
    command -v node >/dev/null || need+=(nodejs)
    command -v npm >/dev/null || need+=(npm)
    command -v python3 >/dev/null || need+=(python3)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        apt_install "${need[@]}"
    fi
    if [ ! -f fixtures/gen/node/node_modules/ws/package.json ]; then
        log "npm ci (ws) in fixtures/gen/node"
        (cd fixtures/gen/node && npm ci --no-audit --no-fund --silent)
    fi
    GEN_DEPS_OK=1
}

# capture CARRIER PORT: path of an up-to-date capture, generating it when needed.
capture() {
    local carrier=$1 port=$2
    local file="$DATA/wss-$carrier-${MB}MB.pcap"
    local meta="$file.json" keylog="${file%.pcap}.keylog"
    if [ -f "$file" ] && [ -f "$meta" ] &&
        [ "$(jget bytes "$meta")" = "$(stat -c %s "$file")" ] &&
        [ "$(jget target_mb "$meta")" = "$MB" ] &&
        [ "$(jget seed "$meta")" = "$SEED" ] &&
        [ "$(jget gen_rev "$meta")" = "$GEN_REV" ] &&
        [ "$(jget mtu "$meta")" = "$MTU" ] &&
        { ! is_tls "$carrier" || [ -s "$keylog" ]; }; then
        log "reusing $file"
    else
        gen_deps
        log "generating $file"
        scripts/bench-wss-gen.sh "$carrier" "$file" "$MB" "$SEED" "$port" >/dev/null
    fi
    printf '%s\n' "$file"
}

FILES=()
i=0
for c in "${CARRIERS[@]}"; do
    case $c in ws | wss13 | wss12 | h2c | h2tls) ;; *) die "unknown carrier $c" ;; esac
    f=$(capture "$c" $((BASE_PORT + i))) # not inside FILES+=(...): set -e must see a failure
    FILES+=("$f")
    i=$((i + 1))
done

TIMEF=$(mktemp)
OUTF=$(mktemp)
ERRF=$(mktemp)
trap 'rm -f "$TIMEF" "$OUTF" "$ERRF"' EXIT
: >"$DATA/bench-wss-stderr.log"

# run_once OUT CMD...: one run, stdout to OUT; sets WALL CPU RSS_MIB RC.
run_once() {
    local out=$1 t0 t1 rc=0
    shift
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S %M' -o "$TIMEF" "$@" >"$out" 2>"$ERRF" || rc=$?
    cat "$ERRF" >>"$DATA/bench-wss-stderr.log"
    t1=$(date +%s.%N)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    read -r u s k < <(tail -n1 "$TIMEF")
    CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    RSS_MIB=$(awk -v k="$k" 'BEGIN { printf "%.0f", k / 1024 }')
    RC=$rc
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure N CMD...: N timed runs (stdout discarded); sets WALL CPU RSS_MIB (medians) and RC.
measure() {
    local n=$1 k walls=() cpus=() rsss=() rc=0
    shift
    for ((k = 0; k < n; k++)); do
        run_once /dev/null "$@"
        walls+=("$WALL") cpus+=("$CPU") rsss+=("$RSS_MIB")
        [ "$RC" != 0 ] && rc=$RC
    done
    WALL=$(median "${walls[@]}") CPU=$(median "${cpus[@]}") RSS_MIB=$(median "${rsss[@]}") RC=$rc
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

ROWS=() FAILS=() TARGETS=()
declare -A OK_WALL OK_CPU # wsscope medians of the captures it decoded, by carrier
row() { # file carrier mb what wall cpu rss count vs_plain vs_tshark
    local mbps
    mbps=$(awk -v m="$3" -v s="$5" 'BEGIN { printf "%.1f", (s > 0) ? m / s : 0 }')
    ROWS+=("$(printf '%-24s %-6s %7s  %-30s %7s %7s %7s %7s  %-15s %-11s %s' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$mbps" "$7" "$8" "$9" "${10}")")
    log "$(printf '%s %s: %ss wall, %ss CPU, %s MB/s, %s MiB, %s' "$1" "$4" "$5" "$6" "$mbps" "$7" "$8")"
}

for f in "${FILES[@]}"; do
    name=$(basename "$f")
    meta="$f.json"
    carrier=$(grep -o '"carrier": *"[a-z0-9]*"' "$meta" | sed 's/.*"\([a-z0-9]*\)"$/\1/')
    port=$(jget port "$meta")
    bytes=$(stat -c %s "$f")
    mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    truth=$(jget messages "$meta")
    keylog="${f%.pcap}.keylog"
    kopt=() topt=()
    if is_tls "$carrier"; then
        kopt=(--tls-keylog "$keylog")
        topt=(-o "tls.keylog_file:$keylog")
    fi
    cat "$f" >/dev/null # warm the page cache

    # wsscope: an untimed run to check the counts, then the timed runs.
    cmd=("$WSSCOPE" analyze --no-progress --ndjson --payload none "${kopt[@]}" "$f")
    run_once "$OUTF" "${cmd[@]}"
    seen=$(grep -c '"event_type":"message"' "$OUTF" || true)
    sessions=$(grep -o '"websocket_sessions":[0-9]*' "$OUTF" | tail -n1 | cut -d: -f2 || true)
    # payload bytes of the text and binary messages
    seen_bytes=$(grep '"event_type":"message"' "$OUTF" | grep -E '"type":"(text|binary)"' |
        grep -o '"len":[0-9]*' | awk -F: '{ n += $2 } END { printf "%.0f", n }' || true)
    ok=0
    if [ "$RC" != 0 ]; then
        FAILS+=("$name: wsscope exited $RC ($(grep -m1 -i error "$ERRF" || head -n1 "$ERRF")): ${cmd[*]}")
    elif [ "$seen" != "$truth" ]; then
        FAILS+=("$name: wsscope reported $seen message events in ${sessions:-0} WebSocket session(s); the peers exchanged $truth (1 session, close frames included)")
    elif [ "$seen_bytes" != "$(jget payload_bytes "$meta")" ]; then
        FAILS+=("$name: wsscope's text and binary messages hold $seen_bytes payload bytes; the peers exchanged $(jget payload_bytes "$meta")")
    else
        ok=1
    fi
    if [ "$ok" = 1 ]; then
        measure "$RUNS" "${cmd[@]}"
    fi
    ours_wall=$WALL ours_cpu=$CPU
    vs=-
    if [ "$ok" = 0 ]; then
        vs="FAILED"
        TARGETS+=("$(printf '%-24s not measured: wsscope did not decode it (see FAIL below)' "$name")")
    else
        OK_WALL[$carrier]=$WALL OK_CPU[$carrier]=$CPU
        [ -n "${OK_WALL[ws]:-}" ] &&
            vs="$(ratio "$WALL" "${OK_WALL[ws]}")/$(ratio "$CPU" "${OK_CPU[ws]}")"
        # Decryption cost: against the same carrier in clear (h2 over TLS vs h2c, wss vs ws).
        plain=ws
        [ "$carrier" = h2tls ] && plain=h2c
        if is_tls "$carrier" && [ -n "${OK_WALL[$plain]:-}" ]; then
            w=$(ratio "$WALL" "${OK_WALL[$plain]}")
            c=$(ratio "$CPU" "${OK_CPU[$plain]}")
            TARGETS+=("$(awk -v n="$name" -v p="$plain" -v w="$w" -v c="$c" 'BEGIN { printf "%-24s decryption: %.2fx the %s wall time, %.2fx its CPU (target <= 2x): %s", n, w, p, c, (w <= 2) ? "met" : "MISSED" }')")
        fi
    fi
    what="wsscope --ndjson --payload none"
    [ "$ok" = 0 ] && what="wsscope (1 run, count WRONG)"
    row "$name" "$carrier" "$mb" "$what" "$WALL" "$CPU" "$RSS_MIB" "$seen/$truth msgs" "$vs" ""

    [ "$TSHARK" = 1 ] || continue
    # tshark with the same key log.  h2c on a non-standard port needs decode-as (no ALPN).
    # The MTU-1500 captures hold a few retransmitted and out-of-order segments (the
    # namespace's loopback drops some under load, TCP resends them): tshark 4.0 loses the
    # WebSocket frames around them unless told to reassemble out-of-order segments.
    dopt=(-o tcp.reassemble_out_of_order:TRUE)
    [ "$carrier" = h2c ] && dopt+=(-d "tcp.port==$port,http2")
    case $carrier in
    h2c | h2tls)
        tcmd=(tshark "${topt[@]}" "${dopt[@]}" -r "$f" -Y http2 -T fields -e http2.type)
        what="tshark -Y http2 (DATA only)"
        ;;
    *)
        tcmd=(tshark "${topt[@]}" "${dopt[@]}" -r "$f" -Y websocket -T fields -e websocket.opcode)
        what="tshark -Y websocket"
        ;;
    esac
    run_once "$OUTF" "${tcmd[@]}"
    if [ "$RC" != 0 ]; then
        FAILS+=("$name: tshark exited $RC: ${tcmd[*]}")
        tcount=-
    else
        case $carrier in
        h2c | h2tls)
            tcount="$(tr ',' '\n' <"$OUTF" | grep -cx 0 || true) DATA"
            ;;
        *)
            td=$(tr ',' '\n' <"$OUTF" | grep -cxE '1|2' || true)
            tall=$(tr ',' '\n' <"$OUTF" | grep -c . || true)
            tcount="$tall/$(jget ws_frames "$meta") frames"
            if [ "$td" != "$(jget data_messages "$meta")" ] || [ "$tall" != "$(jget ws_frames "$meta")" ]; then
                FAILS+=("$name: tshark decrypted $tall WebSocket frames ($td data); the peers sent $(jget ws_frames "$meta") ($(jget data_messages "$meta") data)")
            fi
            ;;
        esac
    fi
    measure "$TRUNS" "${tcmd[@]}"
    if [ "$ok" = 0 ]; then
        row "$name" "$carrier" "$mb" "$what" "$WALL" "$CPU" "$RSS_MIB" "$tcount" "" "-"
        continue
    fi
    tw=$(ratio "$WALL" "$ours_wall")
    row "$name" "$carrier" "$mb" "$what" "$WALL" "$CPU" "$RSS_MIB" "$tcount" "" \
        "$tw/$(ratio "$CPU" "$ours_cpu")"
    TARGETS+=("$(awk -v n="$name" -v w="$tw" 'BEGIN { printf "%-24s wsscope is %.1fx faster than tshark (wall; target >= 30x): %s", n, w, (w >= 30) ? "met" : "MISSED" }')")
done

echo
printf '%-24s %-6s %7s  %-30s %7s %7s %7s %7s  %-15s %-11s %s\n' \
    file carrier "size MB" run "wall s" "CPU s" "MB/s" "RSS MiB" "count" "vs ws" "tshark/ours"
printf '%s\n' "${ROWS[@]}"
echo
echo "Medians of $RUNS wsscope run(s) and $TRUNS tshark run(s); page cache warm. wall = elapsed, CPU = user+sys."
echo "count: wsscope's message events / the peers' (every message, close frames included); tshark's"
echo "decrypted WebSocket frames / sent (ws, wss), or HTTP/2 DATA frames (h2: tshark 4.0 does not"
echo "dissect WebSocket inside RFC 8441 streams, so it is not checked)."
echo "vs ws = wall/CPU of this run divided by wsscope's on the plain ws capture (same workload);"
echo "decryption cost below compares wss with ws and h2 over TLS with h2c."
echo "tshark/ours = tshark's wall/CPU divided by wsscope's on the same file."
echo
[ ${#TARGETS[@]} -gt 0 ] && printf '%s\n' "${TARGETS[@]}" && echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//');" \
    "load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "captures: real node peers on a loopback with MTU $MTU (TCP payload per segment <= MTU - 52)"
echo "wsscope: $("$WSSCOPE" --version 2>/dev/null || echo "$WSSCOPE")"
[ "$TSHARK" = 1 ] && echo "tshark: $(tshark --version 2>/dev/null | head -n1)"
for f in "${FILES[@]}"; do
    echo "$(basename "$f"): $(cat "$f.json")"
done

if [ ${#FAILS[@]} -gt 0 ]; then
    echo
    printf 'FAIL: %s\n' "${FAILS[@]}"
    exit 1
fi
