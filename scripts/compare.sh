#!/usr/bin/env bash
# Compares two wsscope binaries on the same generated captures: wall seconds and peak RSS,
# median of RUNS interleaved runs, and whether their NDJSON summaries agree on the counts.
#
#   scripts/compare.sh OLD_BIN NEW_BIN            # e.g. a release build of an older commit
#   COMPARE_MB=200 COMPARE_RUNS=3 scripts/compare.sh OLD NEW
#
# Make OLD_BIN with: git worktree add /tmp/old REV && cargo build --release
#   --manifest-path /tmp/old/Cargo.toml --bin wsscope (its target/release/wsscope).
# Captures (mixed, deflate, small; examples/gen_capture.rs, seed 1) are kept in
# $COMPARE_DATA (default target/compare) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
    echo "usage: scripts/compare.sh OLD_BIN NEW_BIN" >&2
    exit 2
fi
OLD=$1 NEW=$2
MB=${COMPARE_MB:-200}
RUNS=${COMPARE_RUNS:-3}
DATA=${COMPARE_DATA:-${CARGO_TARGET_DIR:-target}/compare}
for b in "$OLD" "$NEW"; do
    [ -x "$b" ] || { echo "compare.sh: $b is not an executable" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "compare.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --example gen_capture
GEN=${CARGO_TARGET_DIR:-target}/release/examples/gen_capture
mkdir -p "$DATA"
printf '| profile | binary | median seconds | median peak RSS MiB | data messages | control frames |\n|---|---|---|---|---|---|\n'
for profile in mixed deflate small; do
    f="$DATA/$profile-${MB}MB.pcap"
    [ -f "$f" ] || "$GEN" --out "$f" --size-mb "$MB" --profile "$profile" --seed 1 >/dev/null
    cat "$f" >/dev/null
    for r in $(seq 1 "$RUNS"); do
        for which in old new; do
            bin=$OLD; [ "$which" = new ] && bin=$NEW
            /usr/bin/time -f "%e %M" -o "$DATA/$profile.$which.$r.time" \
                "$bin" analyze --ndjson --payload none "$f" | tail -n 1 >"$DATA/$profile.$which.summary"
        done
    done
    for which in old new; do
        python3 - "$DATA" "$profile" "$which" "$RUNS" <<'EOF'
import json, statistics, sys
data, profile, which, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t = [open(f"{data}/{profile}.{which}.{r}.time").read().split() for r in range(1, runs + 1)]
secs = statistics.median(float(x[0]) for x in t)
rss = statistics.median(int(x[1]) for x in t) / 1024
s = json.load(open(f"{data}/{profile}.{which}.summary"))
s = s.get("summary", s)
# v1 summaries count all messages together; v2 separates data messages and control frames.
data_msgs = s.get("data_messages", s.get("messages", "-"))
control = s.get("control_frames", "-")
print(f"| {profile} | {which} | {secs:.2f} | {rss:.1f} | {data_msgs} | {control} |")
EOF
    done
done
