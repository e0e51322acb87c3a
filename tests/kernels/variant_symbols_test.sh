#!/usr/bin/env bash
# The SIMD variant objects (kernels/cpu/*_avx2.cpp, *_avx512.cpp, *_amx.cpp) must define no weak
# symbols: an inline function or template instantiated there is compiled for that level, and the
# linker may keep that copy for every caller, which then faults on a CPU without the level.
# Usage: variant_symbols_test.sh path/to/libtroupe_kernels.a
set -euo pipefail
archive=$1
weak=$(nm -A -C --defined-only "$archive" | grep -E '_(avx2|avx512|amx)\.cpp\.o:' | grep -E ' [WVu] ' || true)
if [ -n "$weak" ]; then
  echo "weak symbols in SIMD variant objects:"
  echo "$weak"
  exit 1
fi
variants=$(nm -A --defined-only "$archive" | grep -cE '_(avx2|avx512|amx)\.cpp\.o:.* T ' || true)
if [ "$variants" -eq 0 ]; then
  echo "no SIMD variant objects found in $archive"
  exit 1
fi
echo "ok: $variants functions in SIMD variant objects, none weak"
