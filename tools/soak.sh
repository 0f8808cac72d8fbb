#!/usr/bin/env bash
# Long fault runs, kept out of the default test command (tools/test.sh runs 20 kill rounds
# and 200 link-fault rounds):
#  - kill -9 of the hub or a node at random moments under load, ROUNDS rounds (default
#    1,000, about 20 minutes);
#  - the node->hub link through tools/faultproxy (cut, stalled, throttled, half-open,
#    corrupted), 10 x ROUNDS rounds (default 10,000, about 20 minutes);
#  - kill -9 of the hub or a node in the middle of hand-overs (跨区通办), ROUNDS rounds of
#    4 hand-overs each (one owner, each move acknowledged once by both sites);
# then checks that nothing acknowledged was lost or duplicated, every database passes
# integrity_check, and the hub's index equals one rebuilt from the nodes.
#   tools/soak.sh [rounds]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/build.sh"
rounds="${1:-1000}"
TONGBAN_SOAK_ROUNDS="$rounds" "$root/build/tests/integration_tests" \
  "kill -9 of hub and nodes at random moments loses and duplicates nothing"
TONGBAN_PROXY_ROUNDS=$((rounds * 10)) "$root/build/tests/integration_tests" \
  "a link that is cut or stalled or throttled or half-open or corrupted loses and duplicates nothing"
TONGBAN_HANDOVER_ROUNDS="$rounds" "$root/build/tests/integration_tests" \
  "kill -9 of hub or node in the middle of hand-overs loses and duplicates nothing"
