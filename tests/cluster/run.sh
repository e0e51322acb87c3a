#!/usr/bin/env bash
# Runs one pytest file of the cluster tests against the real binary: run.sh TROUPE_BIN TEST_FILE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$("$here/../../scripts/setup-test-venv")"
export TROUPE_BIN="$1"
exec "$python" -m pytest -q -p no:cacheprovider "$here/test_$2"
