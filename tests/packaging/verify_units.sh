#!/usr/bin/env bash
# Builds the Debian packages from a built tree (cmake/Packaging.cmake) and checks them:
#   - exactly tongban-node, tongban-hub, tongban-tools (arch) and tongban-console (all);
#   - each holds its files, its Depends (dpkg-shlibdeps' libraries, adduser, fonts-noto-cjk,
#     the console and CLI of the same version) and, for the daemons, executable maintainer
#     scripts; no binary carries an RPATH;
#   - every option the units' ExecStart passes is one the unpacked binary knows (--help);
#   - systemd-analyze verify of tongban-hub.service and tongban-node@S01.service inside the
#     unpacked packages: with --root, systemd 252 resolves ExecStart= in that root (a
#     missing /usr/bin/tongban-node there is an error, the host's is never looked at). The
#     root gets the host's own *.target and *.slice units, which the units' default
#     dependencies name (sysinit.target, basic.target, shutdown.target, system.slice, ...) and
#     which the systemd package, not ours, provides. verify reports an unknown key or a bad
#     value but still exits 0, so any output at all counts as a failure here;
#   - systemd-analyze security --offline: the hardening does not slip (exposure <= 3.5).
# Usage: tests/packaging/verify_units.sh <build dir>. Needs cpack, dpkg-dev (dpkg-shlibdeps)
# and systemd (systemd-analyze): tools/deps.sh installs them.
set -euo pipefail

build=${1:?usage: verify_units.sh <build dir>}
build=$(cd "$build" && pwd)
checks=0
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() {
  checks=$((checks + 1))
  echo "ok: $*"
}

for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze readelf; do
  command -v "$tool" >/dev/null || fail "$tool not found (run tools/deps.sh: dpkg-dev, systemd, binutils)"
done
[ -f "$build/CPackConfig.cmake" ] || fail "$build/CPackConfig.cmake not found: configure and build first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tongban-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out="$tmp/out"
root="$tmp/root"
mkdir -p "$out" "$root"

version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
[ -n "$version" ] || fail "no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"
arch=$(dpkg --print-architecture)

echo "cpack -G DEB (version $version, $arch) into $out"
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  fail "cpack failed (log above)"
fi

# Exactly the expected packages, by file name.
expected=$(printf '%s\n' "tongban-console_${version}_all.deb" "tongban-hub_${version}_${arch}.deb" \
  "tongban-node_${version}_${arch}.deb" "tongban-tools_${version}_${arch}.deb" | sort)
actual=$(cd "$out" && find . -maxdepth 1 -name '*.deb' -printf '%f\n' | sort)
[ "$actual" = "$expected" ] ||
  fail "packages differ from the expected four:"$'\n'"expected:"$'\n'"$expected"$'\n'"got:"$'\n'"$actual"
ok "exactly four packages: $(echo "$expected" | tr '\n' ' ')"

deb() { echo "$out/$1_${version}_$2.deb"; }
node_deb=$(deb tongban-node "$arch")
hub_deb=$(deb tongban-hub "$arch")
tools_deb=$(deb tongban-tools "$arch")
console_deb=$(deb tongban-console all)

# $1 package file, then paths (as dpkg-deb -c prints them, without the leading ".").
has_files() {
  local pkg=$1 listing
  shift
  listing=$(dpkg-deb -c "$pkg" | awk '{print $6}')
  for f in "$@"; do
    grep -qxF ".$f" <<<"$listing" || fail "$(basename "$pkg") does not contain $f"
  done
  ok "$(basename "$pkg") contains $*"
}
has_files "$node_deb" /usr/bin/tongban-node /lib/systemd/system/tongban-node@.service
has_files "$hub_deb" /usr/bin/tongban-hub /lib/systemd/system/tongban-hub.service
has_files "$tools_deb" /usr/bin/tongban /usr/share/tongban/site-config/district.toml \
  /usr/share/tongban/site-config/catalog.toml
has_files "$console_deb" /usr/share/tongban/console/index.html
if dpkg-deb -c "$tools_deb" | grep -q 'site-config/keys'; then
  fail "$(basename "$tools_deb") ships site-config/keys (a developer's public keys)"
fi
ok "the site-config template carries no keys/"

# $1 package file, $2 field, then the entries it must list (regular expressions, whole entries).
field_lists() {
  local pkg=$1 field=$2 value entries
  shift 2
  value=$(dpkg-deb -f "$pkg" "$field")
  entries=$(tr ',' '\n' <<<"$value" | sed 's/^ *//; s/ *$//')
  for e in "$@"; do
    grep -qE "^($e)$" <<<"$entries" ||
      fail "$(basename "$pkg"): $field lacks '$e' (it is: $value)"
  done
  ok "$(basename "$pkg") $field: $value"
}
v=${version//./\\.}
libs=('libc6( \(.*\))?' 'libstdc\+\+6( \(.*\))?' 'libzmq5( \(.*\))?' 'libsodium23( \(.*\))?'
  'libsqlite3-0( \(.*\))?')
field_lists "$node_deb" Depends adduser "tongban-console \(= $v\)" "tongban-tools \(= $v\)" "${libs[@]}"
field_lists "$hub_deb" Depends adduser fonts-noto-cjk "tongban-console \(= $v\)" \
  "tongban-tools \(= $v\)" "${libs[@]}" 'libcairo2( \(.*\))?'
field_lists "$tools_deb" Depends "${libs[@]}"
field_lists "$console_deb" Architecture all
for pkg in "$node_deb" "$hub_deb" "$tools_deb"; do
  field_lists "$pkg" Architecture "$arch"
done

# The daemons' maintainer scripts, executable ("*" in dpkg-deb -I's listing).
for pkg in "$node_deb" "$hub_deb"; do
  info=$(dpkg-deb -I "$pkg")
  for script in postinst prerm postrm; do
    grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$script +#!/bin/sh" <<<"$info" ||
      fail "$(basename "$pkg"): no executable /bin/sh $script in its control archive"$'\n'"$info"
  done
  ok "$(basename "$pkg") has executable postinst, prerm, postrm"
  # What they must never do: start or enable a daemon on installation, delete data, keys,
  # config or the user that owns them.
  control="$tmp/control-$(basename "$pkg" .deb)"
  dpkg-deb -e "$pkg" "$control"
  for script in postinst prerm postrm; do
    sh -n "$control/$script" || fail "$(basename "$pkg"): $script is not valid sh"
  done
  if grep -nE 'systemctl +(--[a-z-]+ +)*(enable|start|restart|reenable)( |$)' "$control/postinst"; then
    fail "$(basename "$pkg"): postinst enables or starts a unit (above)"
  fi
  if grep -nE '(^|[;&|]) *(rm|rmdir|deluser|delgroup|userdel|groupdel) .*(/var/lib/tongban|/etc/tongban|tongban *$)' \
    "$control/prerm" "$control/postrm"; then
    fail "$(basename "$pkg"): a maintainer script deletes data, keys, config or the user (above)"
  fi
  ok "$(basename "$pkg"): scripts parse, postinst starts nothing, nothing deletes /var/lib/tongban, /etc/tongban or the user"
done

for pkg in "$node_deb" "$hub_deb" "$tools_deb" "$console_deb"; do
  dpkg-deb -x "$pkg" "$root"
done
ok "unpacked the four packages into $root"

for bin in tongban-node tongban-hub tongban; do
  dynamic=$(readelf -d "$root/usr/bin/$bin" 2>&1) || fail "/usr/bin/$bin is not an ELF binary: $dynamic"
  if grep -E '\((RPATH|RUNPATH)\)' <<<"$dynamic"; then
    fail "/usr/bin/$bin carries an RPATH (above)"
  fi
done
ok "no RPATH/RUNPATH in /usr/bin/tongban-node, tongban-hub, tongban"

# Every --option in ExecStart is one the binary accepts (the unpacked binary, run on this
# machine, where its libraries are).
units="$root/lib/systemd/system"
for pair in tongban-node@.service:tongban-node tongban-hub.service:tongban-hub; do
  unit=${pair%%:*}
  bin=${pair##*:}
  # ExecStart= and its continuation lines (each ending in a backslash).
  exec_start=$(awk '/^ExecStart=/ { on = 1 } on { print; if (!/\\$/) exit }' "$units/$unit")
  help=$("$root/usr/bin/$bin" --help 2>&1) || fail "$bin --help failed: $help"
  opts=$(grep -oE -- '--[a-z][a-z-]*' <<<"$exec_start" | sort -u)
  [ -n "$opts" ] || fail "$unit: no options found in ExecStart"
  for opt in $opts; do
    grep -qE -- "(^|[ ,])$opt( |,|=|$)" <<<"$help" || fail "$unit passes $opt, which $bin --help does not list"
  done
  ok "$unit: $bin knows $(echo "$opts" | tr '\n' ' ')"
done

# The standard targets and slices the units' default dependencies need, from the host's
# systemd (the package that provides them on a real system).
host_units=/lib/systemd/system
[ -f "$host_units/sysinit.target" ] || host_units=/usr/lib/systemd/system
[ -f "$host_units/sysinit.target" ] || fail "no sysinit.target on this machine (is systemd installed?)"
find "$host_units" -maxdepth 1 -type f \( -name '*.target' -o -name '*.slice' \) -exec cp -n {} "$units/" \;

verify() {
  local report
  if ! report=$(systemd-analyze verify --root="$root" "$@" 2>&1) || [ -n "$report" ]; then
    fail "systemd-analyze verify --root=$root $*:"$'\n'"$report"
  fi
}
verify "$units/tongban-hub.service" "$units/tongban-node@S01.service"
ok "systemd-analyze verify: tongban-hub.service, tongban-node@S01.service (ExecStart resolved in the unpacked root)"

# A unit whose binary is missing from the root must fail: the check above really looked there.
printf '[Service]\nExecStart=/usr/bin/tongban-absent\n' >"$units/tongban-probe.service"
if systemd-analyze verify --root="$root" "$units/tongban-probe.service" >/dev/null 2>&1; then
  fail "systemd-analyze verify accepted a missing ExecStart binary: --root is not honoured here"
fi
rm -f "$units/tongban-probe.service"
ok "systemd-analyze verify rejects an ExecStart missing from the root (the check is not vacuous)"

if ! report=$(systemd-analyze security --offline=yes --threshold=35 --root="$root" \
  tongban-hub.service tongban-node@S01.service 2>&1); then
  fail "systemd-analyze security: exposure above 3.5:"$'\n'"$report"
fi
ok "systemd-analyze security --offline: $(grep -o 'Overall exposure level for [^:]*: [0-9.]*' <<<"$report" | sed 's/Overall exposure level for //' | tr '\n' ' ')"

echo "packaging: $checks checks passed"
