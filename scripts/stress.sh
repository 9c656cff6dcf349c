#!/usr/bin/env bash
# Adversarial captures at full size, through the release binary, under /usr/bin/time -v.
#
#   bash scripts/stress.sh                       # every kind
#   STRESS_KINDS="syn-flood frag-flood" bash scripts/stress.sh
#
# Kinds (examples/gen_adversarial.rs, built on wsscope_testkit::adversarial):
#   syn-flood     1,000,000 SYN-only connections around one WebSocket session (default limits:
#                 100,000 flows, so 900,000+ evictions)
#   frag-flood    100,000 IP fragments that never complete (far offsets, overlaps, duplicates,
#                 shredded datagrams) around an IPv4 and an IPv6 session carried in fragments
#   huge-frame    a 2^63-1 byte frame header followed by 256 MiB of its payload
#   deflate-bomb  16 permessage-deflate messages of ~1 MB that inflate to 1 GiB each
#   deflate-bomb-takeover  the same with context takeover: past the cap the rest is inflated
#                 into a discard buffer so that the next messages still inflate
#   overlap-wrap  20,000 messages each way, sequence numbers wrapping, out-of-order segments,
#                 identical and inconsistent retransmissions
#   hole-flood    64 sessions each buffering 4 MiB of out-of-order data behind a lost byte
#                 (also run with --max-memory 64M: the least active give their data up early)
#   idle-flood    100,000 connections that go quiet after a permessage-deflate upgrade or an
#                 HTTP request line, around a session of compressed messages
#   snaplen64     20,000 messages each way of an ordinary session, captured with snaplen 64
#   finding-flood 3,000,000 unmasked client frames on one session (3,000,000 findings)
#   payload-flood 1,000 permessage-deflate messages of 1 MiB on one session (1 GiB inflated)
#   undescribed-iface  1,000,000 pcapng packets naming an undescribed interface + a session
#   slow-heads    20 sessions whose upgrade request has a 60 KB head sent in 1-byte segments
#   deflate-idle-flood  20,000 connections that exchange one permessage-deflate message each
#                 way and go quiet (an inflater per direction each), around a deflate session
#   resync-junk   4 MiB that never look like a frame header, in 1-4 byte segments (1.7 M
#                 packets) after 16 frame headers lost in capture gaps
#
# For each: capture size, packets, seconds, MB/s of capture, peak RSS, findings by code and messages decoded
# (from the NDJSON summary of `wsscope analyze --ndjson --payload none`). Some kinds are also
# run in the modes that used to hold what they fed (second table): the text output, `--json
# --payload full` (default budget and --max-memory 256M) and the terminal UI's loader
# (`wsscope tui --measure-load`, which builds the UI state without a terminal). Captures are written
# under $STRESS_DIR (default target/stress) and removed afterwards unless STRESS_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

KINDS=${STRESS_KINDS:-"syn-flood frag-flood huge-frame deflate-bomb overlap-wrap hole-flood idle-flood snaplen64 finding-flood payload-flood undescribed-iface slow-heads deflate-bomb-takeover deflate-idle-flood resync-junk"}

# Extra runs per kind: "name=arguments" items separated by ';' (TUI runs `wsscope tui --measure-load`).
declare -A MODES=(
  [finding-flood]="text=analyze"
  [payload-flood]="json-full=analyze -q --json /dev/null --payload full;json-full-256M=analyze -q --json /dev/null --payload full --max-memory 256M;tui=TUI;tui-256M=TUI --max-memory 256M"
  [undescribed-iface]="text=analyze"
  [hole-flood]="ndjson-64M=analyze --ndjson --payload none --max-memory 64M"
)
TARGET=${CARGO_TARGET_DIR:-target}
DIR=${STRESS_DIR:-$TARGET/stress}
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
  echo "stress.sh: $TIME not found (apt-get install time)" >&2
  exit 2
fi

echo "== build (release)" >&2
cargo build --release --quiet --bin wsscope --example gen_adversarial
BIN=$TARGET/release/wsscope
GEN=$TARGET/release/examples/gen_adversarial
mkdir -p "$DIR"
rm -f "$DIR/modes.list"

rows=()
for kind in $KINDS; do
  pcap=$DIR/$kind.pcap
  echo "== $kind: generate" >&2
  "$GEN" --kind "$kind" --out "$pcap" | tail -n 1 > "$DIR/$kind.gen.json"
  wc -c < "$pcap" > "$DIR/$kind.size"
  echo "== $kind: analyze" >&2
  "$TIME" -v -o "$DIR/$kind.time" "$BIN" analyze --ndjson --payload none "$pcap" \
    | tail -n 1 > "$DIR/$kind.summary.json"
  rows+=("$kind")
  IFS=';' read -ra modes <<< "${MODES[$kind]:-}"
  for m in "${modes[@]}"; do
    name=${m%%=*}
    read -ra margs <<< "${m#*=}"
    echo "== $kind: $name" >&2
    if [ "${margs[0]}" = TUI ]; then
      "$TIME" -v -o "$DIR/$kind.mode.$name.time" "$BIN" tui --measure-load "${margs[@]:1}" "$pcap" > /dev/null
    else
      "$TIME" -v -o "$DIR/$kind.mode.$name.time" "$BIN" "${margs[@]}" "$pcap" > /dev/null
    fi
    echo "$kind $name ${m#*=}" >> "$DIR/modes.list"
  done
  if [ "${STRESS_KEEP:-0}" != 1 ]; then
    rm -f "$pcap"
  fi
done

python3 - "$DIR" "${rows[@]}" <<'EOF'
import json, os, re, sys

out, kinds = sys.argv[1], sys.argv[2:]
header = ("capture", "size MB", "packets", "seconds", "MB/s", "peak RSS MiB", "messages",
          "findings by code")
lines = []
for kind in kinds:
    gen = json.load(open(os.path.join(out, kind + ".gen.json")))
    summary = json.load(open(os.path.join(out, kind + ".summary.json")))
    assert summary["event_type"] == "summary", summary
    time = open(os.path.join(out, kind + ".time")).read()
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.*)", time).group(1)
    secs = 0.0
    for part in wall.strip().split(":"):
        secs = secs * 60 + float(part)
    size = int(open(os.path.join(out, kind + ".size")).read())
    s = summary["summary"]
    cap = summary["captures"][0]
    if cap["packets"] != gen["packets"]:
        sys.exit(f"{kind}: analyzed {cap['packets']} packets, generated {gen['packets']}")
    codes = ", ".join(f"{c} {n}" for c, n in sorted(s["findings_by_code"].items())) or "none"
    messages = f"{s['data_messages'] + s['control_frames']}/{gen['messages']}"
    rate = f"{size / 1e6 / secs:.0f}" if secs > 0 else "-"
    lines.append((kind, f"{size / 1e6:.1f}", str(cap["packets"]), f"{secs:.2f}", rate,
                  f"{rss_kb / 1024:.1f}", messages, codes))
widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
def row(r):
    return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
print(row(header))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in lines:
    print(row(r))
print("\nmessages: decoded by wsscope / sent by the probe sessions (data and control frames).")

def measured(path):
    time = open(path).read()
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.*)", time).group(1)
    secs = 0.0
    for part in wall.strip().split(":"):
        secs = secs * 60 + float(part)
    return secs, rss_kb

modes = os.path.join(out, "modes.list")
if os.path.exists(modes):
    print()
    header = ("capture", "mode", "command", "seconds", "peak RSS MiB")
    lines = []
    for entry in open(modes).read().splitlines():
        kind, name, cmd = entry.split(" ", 2)
        secs, rss_kb = measured(os.path.join(out, f"{kind}.mode.{name}.time"))
        cmd = cmd.replace("TUI", "wsscope tui --measure-load", 1) if cmd.startswith("TUI") else "wsscope " + cmd
        lines.append((kind, name, cmd, f"{secs:.2f}", f"{rss_kb / 1024:.1f}"))
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    print(row(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in lines:
        print(row(r))
EOF
