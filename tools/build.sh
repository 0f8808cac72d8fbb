#!/usr/bin/env bash
# Installs what is missing, then configures and builds tongban into build/ (Ninja, ccache).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/deps.sh"
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
if [ ! -f "$root/build/build.ninja" ]; then
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTONGBAN_WERROR=$werror
fi
cmake --build "$root/build" -j "$(nproc)"
