#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/CMakeLists.txt, with clang, into BUILD_DIR) and runs
# each for SECONDS over its committed corpus (tests/fuzz/corpus/<target>.tar.gz, unpacked into a
# scratch directory that also takes the new inputs), printing its executions. Any crash, leak,
# timeout or sanitizer report fails it. `make test` runs it for 8 s a target (the fuzz smoke),
# `make fuzz` for FUZZ_SECONDS.   run.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build-fuzz}"
seconds="${2:-${FUZZ_SMOKE_SECONDS:-8}}"
command -v clang++ >/dev/null || { echo "run.sh: clang++ is missing (scripts/setup-deps)" >&2; exit 1; }
# Fresh clones (CI) reuse earlier builds' objects: ccache keys on paths relative to its base
# directory, and not on the build directory that -g would otherwise add.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd "$here/../.." && pwd)}" CCACHE_NOHASHDIR=1
cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for target in "$build"/fuzz_*; do
  [ -f "$target" ] && [ -x "$target" ] || continue
  name=$(basename "$target")
  dict="$here/$name.dict"
  mkdir -p "$scratch/$name"
  [ -f "$here/corpus/$name.tar.gz" ] && tar -xzf "$here/corpus/$name.tar.gz" -C "$scratch/$name"
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
  [ -f "$dict" ] && args+=(-dict="$dict")
  if "$target" "${args[@]}" "$scratch/$name" >"$scratch/$name.log" 2>&1; then
    echo "run.sh: $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$name.log" | grep -o '[0-9]*$') runs, no failure"
  else
    echo "run.sh: $name FAILED:" >&2
    tail -40 "$scratch/$name.log" >&2
    status=1
  fi
done
exit $status
