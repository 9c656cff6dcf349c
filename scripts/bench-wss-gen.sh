#!/usr/bin/env bash
# Capture one benchmark workload for scripts/bench-wss.sh with real peers on loopback.
#
#   scripts/bench-wss-gen.sh CARRIER OUT.pcap MB SEED PORT
#
# CARRIER: ws | wss13 | wss12 | h2c | h2tls (see fixtures/gen/benchpeer.js).  The node peers
# run the same seeded workload (about MB MB of capture, messages of 20 B .. 64 KiB, echoed)
# over one TCP connection while tcpdump records `tcp port PORT` on lo.
#
# BENCH_WSS_MTU (default 1500): the capture is made in a private network namespace
# (unshare -n) whose lo has this MTU and no segmentation offload (gso_max_segs 1), so TCP
# segments are Ethernet-sized (1448-byte payloads) as on a real network; "host" uses the
# host's lo as it is (MTU 65536 and GSO: few, up to 64 KiB packets).
#
# Writes OUT.pcap,
# OUT.keylog (TLS carriers; the server's key log) and OUT.pcap.json: one line with the
# truth, from both peers' summaries (which must agree), and the capture facts.
# Needs root (tcpdump), node and fixtures/gen/node/node_modules (npm ci); bench-wss.sh
# installs them.  Fails when tcpdump reports packets dropped by the kernel (on a busy machine,
# try again, or raise BENCH_WSS_TCPDUMP_BUFFER, tcpdump's -B in KiB, default 262144).
set -euo pipefail

[ $# = 5 ] || { echo "usage: $0 CARRIER OUT.pcap MB SEED PORT" >&2; exit 2; }
CARRIER=$1 OUT=$2 MB=$3 SEED=$4 PORT=$5
GEN=$(cd "$(dirname "$0")/../fixtures/gen" && pwd)
# Bump when the workload or the peers change: bench-wss.sh regenerates captures whose
# sidecar carries another revision.
GEN_REV=2
MTU=${BENCH_WSS_MTU:-1500}

log() { printf '%s\n' "bench-wss-gen: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (tcpdump)"
case $CARRIER in ws | wss13 | wss12 | h2c | h2tls) ;; *) die "unknown carrier $CARRIER" ;; esac
TLS=0
case $CARRIER in wss13 | wss12 | h2tls) TLS=1 ;; esac

if [ "$MTU" = host ]; then
    MTU=$(cat /sys/class/net/lo/mtu)
elif [ -z "${_BENCH_WSS_NETNS:-}" ]; then
    case $MTU in '' | *[!0-9]*) die "BENCH_WSS_MTU must be a number or host" ;; esac
    command -v unshare >/dev/null && command -v ip >/dev/null || die "needs unshare and ip (util-linux, iproute2)"
    exec unshare -n env _BENCH_WSS_NETNS=1 "$0" "$@"
else
    # In the private namespace: bring lo up with the MTU and segments no larger than it.
    ip link set lo up mtu "$MTU" gso_max_segs 1 gso_max_size "$MTU" ||
        die "cannot set lo's MTU in the namespace"
fi

WORK=$(mktemp -d /tmp/wsscope-bench-wss.XXXXXX)
CAP_PID= SRV_PID=
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
    [ -n "$CAP_PID" ] && kill -INT "$CAP_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_file() {
    local i
    for i in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
    die "timeout waiting for $1"
}

TOPT=()
if [ "$TLS" = 1 ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
    TOPT=(--cert "$WORK/cert.pem" --key "$WORK/key.pem")
fi

rm -f "$OUT" "$OUT.json" "${OUT%.pcap}.keylog"
tcpdump -i lo -s 0 -U --immediate-mode -B "${BENCH_WSS_TCPDUMP_BUFFER:-262144}" -Z root -n --time-stamp-precision=micro \
    -w "$OUT" "tcp port $PORT" 2>"$WORK/tcpdump.err" &
CAP_PID=$!
for i in $(seq 100); do
    grep -q "listening on" "$WORK/tcpdump.err" && break
    kill -0 "$CAP_PID" 2>/dev/null || { cat "$WORK/tcpdump.err" >&2; die "tcpdump failed to start"; }
    [ "$i" = 100 ] && die "tcpdump not ready"
    sleep 0.1
done
sleep 0.2

SOPT=()
[ "$TLS" = 1 ] && SOPT=(--keylog "${OUT%.pcap}.keylog")
t0=$(date +%s.%N)
node "$GEN/benchpeer.js" server --carrier "$CARRIER" --port "$PORT" --summary "$WORK/server.json" \
    --ready "$WORK/ready" "${TOPT[@]}" "${SOPT[@]}" &
SRV_PID=$!
wait_file "$WORK/ready"
node "$GEN/benchpeer.js" client --carrier "$CARRIER" --port "$PORT" --summary "$WORK/client.json" \
    --mb "$MB" --seed "$SEED" "${TOPT[@]}" || die "client failed"
wait "$SRV_PID" || die "server failed"
SRV_PID=
t1=$(date +%s.%N)

sleep 1
kill -INT "$CAP_PID"
wait "$CAP_PID" || true
CAP_PID=
stats=$(grep -E "packets (captured|received by filter|dropped by kernel)" "$WORK/tcpdump.err" | tr '\n' ' ')
log "$CARRIER: $stats"
grep -q "^0 packets dropped by kernel" "$WORK/tcpdump.err" ||
    die "tcpdump dropped packets ($stats): $OUT is incomplete"
grep -q "^0 packets captured" "$WORK/tcpdump.err" && die "tcpdump captured nothing"
packets=$(awk '/packets captured/ { print $1 }' "$WORK/tcpdump.err")

python3 - "$WORK/client.json" "$WORK/server.json" "$OUT" "$CARRIER" "$MB" "$SEED" "$PORT" "$GEN_REV" \
    "$packets" "$t0" "$t1" "$MTU" <<'EOF'
import json, os, sys
cpath, spath, out, carrier, mb, seed, port, rev, packets, t0, t1, mtu = sys.argv[1:]
c = json.load(open(cpath)); s = json.load(open(spath))
# The client's sent == the server's received == the server's sent == the client's received.
views = {"client sent": c["sent"], "server received": s["received"],
         "server sent": s["sent"], "client received": c["received"]}
first = views["client sent"]
for k, v in views.items():
    if v != first:
        sys.exit(f"bench-wss-gen: ERROR: {k} {v} != client sent {first}")
if c.get("close") != {"code": 1000, "reason": "bench done"} or s.get("close") != c["close"]:
    sys.exit(f"bench-wss-gen: ERROR: close handshake: client {c.get('close')}, server {s.get('close')}")
n = first["messages"]
truth = {
    "carrier": carrier, "gen_rev": int(rev), "mtu": int(mtu), "seed": int(seed), "target_mb": int(mb), "port": int(port),
    "bytes": os.path.getsize(out), "packets": int(packets),
    # As wsscope counts them: every message event, the two close frames included.
    "messages": 2 * n + 2, "c2s": n + 1, "s2c": n + 1,
    "data_messages": 2 * n, "text": 2 * first["text"], "binary": 2 * first["binary"],
    "payload_bytes": 2 * first["payload_bytes"], "sha256_one_way": first["sha256"],
    "ws_frames": 2 * n + 2,
    "lib": c["lib"], "tls": c.get("tls"), "cipher": c.get("cipher"), "alpn": c.get("alpn"),
    "h2_stream": c.get("stream"), "capture_seconds": round(float(t1) - float(t0), 3),
}
with open(out + ".json", "w") as f:
    f.write(json.dumps(truth) + "\n")
print(json.dumps(truth))
EOF
