#!/usr/bin/env bash
# Builds, then runs every default test (unit and process-level) with ctest.
# Slow soak runs are not here: see tools/soak.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/build.sh"
cd "$root/build"
ctest --output-on-failure -j 2 --timeout 600 "$@"
