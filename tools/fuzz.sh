#!/usr/bin/env bash
# Fuzzes every decoder a stranger can reach (tests/fuzz/*_fuzz.cc) with libFuzzer under
# ASan+UBSan, for MINUTES minutes per target (default 10), one target after another:
#
#   tools/fuzz.sh [minutes] [target...]
#
# Builds with clang-14 into build-fuzz/ (installing clang-14 and libclang-rt-14-dev when
# missing). Inputs that reach new code are merged into tests/fuzz/<target>/, crashes are
# written there as crash-*; ctest replays both on every test run, so commit them (after
# fixing the crash). Prints each target's executions and coverage at the end.
# Not part of tools/test.sh: it is a long run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request_json query wire bundle catalog site_config identity license zap case_events)

"$root/tools/build.sh"  # the normal build: its replay binaries write the seeds
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi
if [ ! -f "$root/build-fuzz/build.ninja" ]; then
  cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DTONGBAN_FUZZ=ON
fi
cmake --build "$root/build-fuzz" -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
summary=$(mktemp)
status=0
for t in "${targets[@]}"; do
  corpus="$root/tests/fuzz/$t"
  work=$(mktemp -d)
  mkdir -p "$corpus" "$work/new"
  "$root/build/tests/fuzz/fuzz_$t" --write-seeds "$work/seeds" >/dev/null
  echo "== $t: $minutes min"
  log="$work/fuzz.log"
  if ! "$root/build-fuzz/tests/fuzz/fuzz_$t" -max_total_time=$((minutes * 60)) -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$corpus/" \
      "$work/new" "$work/seeds" "$corpus" >"$log" 2>&1 </dev/null; then
    status=1
    echo "   CRASH: see $log and $corpus/crash-*"
  fi
  # Keep only inputs that add coverage to what the committed corpus already reaches.
  (cd "$work" && "$root/build-fuzz/tests/fuzz/fuzz_$t" -merge=1 "$corpus" "$work/new" >/dev/null 2>&1) || true
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | awk '{print $2}' | tail -1 || true)
  printf '%-14s %12s execs %8s edges %8s features %6s corpus files\n' "$t" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "$(find "$corpus" -type f | wc -l)" >>"$summary"
done
echo
echo "target                execs           edges      features"
cat "$summary"
exit $status
