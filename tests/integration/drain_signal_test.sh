#!/usr/bin/env bash
# SIGTERM drains a real node process: in-flight requests finish and it exits 0; a second signal
# ends it at once. Usage: drain_signal_test.sh path/to/drain_node path/to/model.gguf
set -uo pipefail
drain_node=$1
model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill -9 $(jobs -p) 2>/dev/null' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Starts the node in the background with output to $tmp/$1.out; waits for its first token.
start() {
  local name=$1; shift
  "$drain_node" "$model" "$@" > "$tmp/$name.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q generating "$tmp/$name.out" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "$name: never started generating: $(cat "$tmp/$name.out")"
  return 1
}

# 1. One SIGTERM with 32 requests in flight: all 32 finish, exit 0.
if start drain 32 48 120000; then
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  [ "$rc" -eq 0 ] || fail "drain: exit $rc, want 0: $(cat "$tmp/drain.out")"
  grep -q "ended 32: ok 32, draining 0, failed 0" "$tmp/drain.out" ||
    fail "drain: not all 32 finished: $(cat "$tmp/drain.out")"
fi

# 2. Two signals: the second ends the process at once, long before its 100000 tokens.
if start twice 4 100000 120000; then
  kill -TERM "$pid"
  kill -INT "$pid"
  start_s=$(date +%s)
  wait "$pid"; rc=$?
  [ "$rc" -eq 130 ] || fail "twice: exit $rc, want 130: $(cat "$tmp/twice.out")"
  [ $(( $(date +%s) - start_s )) -le 5 ] || fail "twice: took more than 5 s to exit"
fi

# 3. A drain timeout shorter than the work: exit 1.
if start timeout 4 100000 500; then
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  [ "$rc" -eq 1 ] || fail "timeout: exit $rc, want 1: $(cat "$tmp/timeout.out")"
fi

[ "$failures" -eq 0 ] && echo "drain signal test: all passed"
exit "$failures"
