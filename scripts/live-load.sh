#!/usr/bin/env bash
# Live-capture load test: an echo server and CLIENTS concurrent Python websockets clients on
# loopback while `wsscope live -i lo` analyses them; prints packets/s and libpcap drops.
# Needs root (capture permission), python3 websockets, and a release build with --features live.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-100}
MSGS=${MSGS:-300}
PORT=${PORT:-47900}
BIN=target/release/wsscope
python3 tests/live/peer.py server "$PORT" > /dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 1
"$BIN" live -i lo -f "tcp port $PORT" --buffer-size "${BUFFER:-134217728}" --ndjson --payload none > /tmp/wsscope-load.ndjson 2> /tmp/wsscope-load.err &
WS=$!
sleep 1
start=$(date +%s.%N)
python3 tests/live/peer.py load "$PORT" "$CLIENTS" "$MSGS"
end=$(date +%s.%N)
sleep 1
CPU=$(awk '{print ($14 + $15) / 100}' /proc/$WS/stat)
kill -INT $WS
wait $WS
echo "wsscope CPU time during the run: ${CPU} s"
cat /tmp/wsscope-load.err
packets=$(sed -n 's/.* \([0-9]*\) packets captured.*/\1/p' /tmp/wsscope-load.err)
messages=$(grep -c '"event_type":"message"' /tmp/wsscope-load.ndjson || true)
secs=$(echo "$end - $start" | bc -l)
printf 'clients %s, messages decoded %s (expected %s + closes), %s packets in %.2f s of load = %.0f packets/s\n' \
  "$CLIENTS" "$messages" "$((CLIENTS * MSGS * 2))" "$packets" "$secs" "$(echo "$packets / $secs" | bc -l)"
