#!/usr/bin/env bash
# The soak (tests/soak/soak.py), not run by `make test`: 30 minutes of mixed traffic against
# build/cli/troupe with the server's RSS and descriptors sampled.
#   tests/soak/run.sh [--minutes N] [--clients N] [--json FILE]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
troupe="${TROUPE_BIN:-$here/../../build/cli/troupe}"
[ -x "$troupe" ] || { echo "run.sh: no troupe at $troupe (make build)" >&2; exit 2; }
exec python3 "$here/soak.py" --troupe "$troupe" "$@"
