#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ (gitignored) from fixtures/*.pcap and testkit-built inputs.
# With --commit-seeds, regenerates the small checked-in fuzz/seeds/<target>/ instead.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "--commit-seeds" ]; then
    rm -rf seeds
    exec cargo run -q --example seed -- --max-size 4000 --max-per-target 8 seeds
fi
exec cargo run -q --example seed -- --fixtures ../fixtures --max-size 262144 corpus
