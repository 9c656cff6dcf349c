#!/usr/bin/env bash
# End-to-end check of `wsscope tui` in a real terminal (tmux): load a fixture, search for a
# payload, open its detail, quit, and check the terminal was restored.
# Usage: scripts/tui-e2e.sh [path/to/wsscope]   (default: target/debug/wsscope, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null 2>&1; then
    echo "tui-e2e: tmux not installed, skipping"
    exit 0
fi
bin=${1:-target/debug/wsscope}
[ -x "$bin" ] || cargo build --quiet
sock="wsscope-test-$$"
t() { tmux -L "$sock" "$@"; }
cleanup() { t kill-server 2>/dev/null || true; }
trap cleanup EXIT

fail() {
    echo "tui-e2e: FAIL: $1" >&2
    echo "--- screen ---" >&2
    t capture-pane -p -t wsscope >&2 || true
    exit 1
}

wait_for() { # text [seconds]
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
if t capture-pane -p -t wsscope 2>/dev/null | grep -qF -- "$1"; then return 0; fi
        sleep 0.1
    done
    return 1
}

t new-session -d -s wsscope -x 100 -y 30 \
    "$bin tui fixtures/node_ping.pcap; echo wsscope-exit-\$?; sleep 5"
wait_for "Timeline #1" || fail "UI did not come up"
t send-keys -t wsscope Down
t send-keys -t wsscope /
t send-keys -t wsscope -l srv-ping
t send-keys -t wsscope Enter
sleep 0.2
t send-keys -t wsscope Enter
wait_for "Message #5" || fail "detail of the matched message not shown"
t capture-pane -p -t wsscope | grep -qF "srv-ping" || fail "payload text not shown"
t send-keys -t wsscope q
wait_for "wsscope-exit-0" || fail "wsscope did not exit with status 0"
[ "$(t display-message -p -t wsscope '#{alternate_on}')" = 0 ] || fail "still on the alternate screen"
[ "$(t display-message -p -t wsscope '#{mouse_any_flag}')" = 0 ] || fail "mouse capture left on"
if t capture-pane -p -t wsscope | grep -qF "Timeline #1"; then fail "UI left on screen"; fi
echo "tui-e2e: ok"
