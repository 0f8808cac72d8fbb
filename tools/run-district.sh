#!/usr/bin/env bash
# Runs the sample district on loopback: the district hub, then one tongban-node per site
# (12 centers, 5 park stations, the agent points), each on a free port with its own data
# dir under run/, replicating to the hub over CURVE. Installs what is missing and builds
# first. Ctrl-C stops everything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/build.sh" >/dev/null
bin="$root/build"
run="${TONGBAN_RUN_DIR:-$root/run/district}"
mkdir -p "$run/data" "$run/logs" "$run/site-config/keys" "$run/keys"
chmod 700 "$run" "$run/keys"
# Residents' data is sealed at rest: each daemon's key-encryption key (KEK) and the
# district's blind-index key live in run/keys/, standing for the separate media (a USB key)
# they would be on at a real site. Without its KEK a daemon does not start.
keys="$run/keys"
# A private copy of site-config: provisioning writes public keys into it, not into the repo.
cp "$root"/site-config/*.toml "$run/site-config/"
if [ ! -s "$run/demo-password" ]; then
  (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$run/demo-password")
fi
export TONGBAN_PASSWORD
TONGBAN_PASSWORD=$(cat "$run/demo-password")

mapfile -t sites < <("$bin/tools/tongban" district --site-config "$run/site-config")
pids=()
hub_data="$run/data/HUB"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ ! -f "$hub_data/keys.sealed" ]; then
  "$bin/tools/tongban" provision --hub --site-config "$run/site-config" --data "$hub_data" \
    --key-file "$keys/HUB.kek" --district-key "$keys/district.key" >/dev/null
fi
# Every site's key before the hub starts: the hub reads its allow-list at start (and on
# POST /api/v1/keys/reload), never during a handshake.
for line in "${sites[@]}"; do
  id=${line%% *}
  if [ ! -f "$run/data/$id/keys.sealed" ]; then
    "$bin/tools/tongban" provision --site-config "$run/site-config" --site "$id" \
      --data "$run/data/$id" --demo-staff --key-file "$keys/$id.kek" \
      --district-key "$keys/district.key" >/dev/null
  fi
done
rm -f "$hub_data/http.port" "$hub_data/sync.port"
"$bin/hub/tongban-hub" --site-config "$run/site-config" --data "$hub_data" --sync tcp://127.0.0.1:0 \
  --port-file "$hub_data/http.port" --sync-port-file "$hub_data/sync.port" \
  --key-file "$keys/HUB.kek" >>"$run/logs/HUB.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$hub_data/sync.port" ] && break; sleep 0.05; done
sync_endpoint="tcp://127.0.0.1:$(cat "$hub_data/sync.port")"

for line in "${sites[@]}"; do
  id=${line%% *}
  data="$run/data/$id"
  rm -f "$data/http.port"
  "$bin/node/tongban-node" --site-config "$run/site-config" --site "$id" --data "$data" \
    --hub "$sync_endpoint" --port-file "$data/http.port" --key-file "$keys/$id.kek" \
    >>"$run/logs/$id.log" 2>&1 &
  pids+=($!)
done

printf '\n%-5s %-12s %-34s %s\n' "site" "kind" "console 工作台 (API: /api/v1)" "name"
printf '%-5s %-12s %-34s %s\n' "HUB" "hub" "http://127.0.0.1:$(cat "$hub_data/http.port")/console/" "区级通办中心 (sync $sync_endpoint)"
for line in "${sites[@]}"; do
  read -r id kind name <<<"$line"
  for _ in $(seq 1 300); do [ -s "$run/data/$id/http.port" ] && break; sleep 0.05; done
  port=$(cat "$run/data/$id/http.port" 2>/dev/null || echo "?")
  printf '%-5s %-12s %-34s %s\n' "$id" "$kind" "http://127.0.0.1:$port/console/" "$name"
done
first=$(cat "$run/data/S01/http.port")
cat <<MSG

Open a console in a browser on this machine / 在本机浏览器打开上面的工作台地址.
Logins on every site / 每个站点的演示账号: admin, clerk (综窗), reviewer (审批), agent (代办)
Hub logins / 区级中心账号: operator (调度员), supervisor (监察员)
Password / 密码: $TONGBAN_PASSWORD   (kept in $run/demo-password)
Try / 试一试:
  export TONGBAN_URL=http://127.0.0.1:$first TONGBAN_PASSWORD=$TONGBAN_PASSWORD
  export TONGBAN_TOKEN=\$($bin/tools/tongban login --user clerk)
  $bin/tools/tongban api GET /api/v1/catalog
  # a case accepted at a site shows up at the hub within a second:
  TONGBAN_URL=http://127.0.0.1:$(cat "$hub_data/http.port") TONGBAN_TOKEN=\$($bin/tools/tongban login --user operator --url http://127.0.0.1:$(cat "$hub_data/http.port")) $bin/tools/tongban api GET /api/v1/sites
Logs: $run/logs   Data: $run/data   Ctrl-C stops the district.
MSG
wait
