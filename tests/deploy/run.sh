#!/usr/bin/env bash
# Runs one pytest file of the deploy tests (the settings files, troupe plan, the Kubernetes
# manifests and the Dockerfile): run.sh TROUPE_BIN TEST_FILE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$("$here/../../scripts/setup-test-venv")"
export TROUPE_BIN="$1"
exec "$python" -m pytest -q -p no:cacheprovider "$here/test_$2"
