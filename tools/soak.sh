#!/usr/bin/env bash
# Long fault runs, kept out of the default test command (tools/test.sh runs 20 rounds):
# kill -9 of the hub or a node at random moments under load, N rounds (default 1,000,
# about 20 minutes), then checks that nothing acknowledged was lost or duplicated, every
# database passes integrity_check, and the hub's index equals one rebuilt from the nodes.
#   tools/soak.sh [rounds]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/build.sh"
export TONGBAN_SOAK_ROUNDS="${1:-1000}"
exec "$root/build/tests/integration_tests" \
  "kill -9 of hub and nodes at random moments loses and duplicates nothing"
