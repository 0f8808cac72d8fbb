#!/usr/bin/env bash
# Installs the Debian packages (cmake/Packaging.cmake) into a clean Debian 12 root, runs the
# daemons as their units would and carries one case from a site to the hub:
#   - debootstrap --variant=minbase bookworm makes the root (cached as a tarball under the
#     build dir, one per ISO week, so only the first run of a week downloads it; every run
#     extracts a fresh copy); /proc and /dev are mounted into it and unmounted on exit;
#   - apt-get install --no-install-recommends of the four .deb in that root: apt resolves
#     their Depends from the mirror (a missing Depends shows up here, not on a developer's
#     full machine; the week's downloads are kept beside the root tarball); then the
#     system user tongban, /var/lib/tongban 0700 tongban:tongban, /etc/tongban, the units in
#     /lib/systemd/system and that installing started and enabled nothing;
#   - configured as the units' comments say, as root: site-config copied from
#     /usr/share/tongban, `tongban provision --hub` and `tongban provision --site S01`
#     (KEKs in /etc/tongban/keys, the district key on "separate media"), env files
#     /etc/tongban/hub.env and node-S01.env as an operator writes them; user tongban must
#     be able to read all of /etc/tongban/site-config (keys/ included) afterwards;
#   - tongban-hub.service and tongban-node@S01.service started the way systemd 252 would,
#     from the installed unit files themselves: ExecStart= with its specifiers (%i, %d, %C)
#     and variables (${VAR} one word, $VAR split at whitespace), Environment= then
#     EnvironmentFile=, User=/Group= (chroot --userspec, numeric ids from the root's passwd),
#     WorkingDirectory=, UMask=, LimitNOFILE=, StateDirectory=/CacheDirectory= (created, or
#     chowned recursively only when the directory itself is not the user's, as systemd does;
#     then every file in it must be tongban's), LoadCredential= (a copy in
#     /run/credentials/<unit>, 0400 for the user) and Type=notify
#     (NOTIFY_SOCKET on an abstract socket: READY=1 must come, then /api/v1/healthz answers);
#   - end to end with the installed CLI: the clerk logs in at S01 and submits an accepted
#     RS001 case; the operator at the hub sees it within 60 s (node->hub over CURVE);
#   - SIGTERM: both send STOPPING=1 and exit 0 within TimeoutStopSec (30 s); afterwards
#     every file in /var/lib/tongban is tongban's and neither group nor other can read it.
# Not emulated: the units' sandboxing (ProtectSystem= and the like; verify_units.sh checks
# those with systemd-analyze), Restart=. LimitNOFILE= above a container's hard limit (no
# CAP_SYS_RESOURCE) falls back to that limit, with a line in the daemon's log.
#
# Usage: tests/packaging/install_test.sh <build dir>. Needs root (debootstrap, chroot,
# mount), debootstrap, cpack (unless TONGBAN_DEBS) and curl (tools/deps.sh installs them),
# python3, and the network (the Debian mirror). Environment:
#   TONGBAN_DEBS=<dir>            use the .deb files there instead of running cpack
#   TONGBAN_DEBIAN_MIRROR=<url>   the mirror (default: the host's bookworm URIs in
#                                 /etc/apt/sources.list.d/debian.sources or sources.list,
#                                 else http://deb.debian.org/debian)
#   TONGBAN_KEEP_ROOT=1           keep the temporary root after the run (for a look inside)
set -euo pipefail

build=${1:?usage: install_test.sh <build dir>}
build=$(cd "$build" && pwd)
# In a mount namespace of its own: what is mounted into the root goes away with the last
# process in it, even when nothing here gets to unmount it (ctest's timeout kills with
# SIGKILL), and never shows on the host under /tmp.
if [ -z "${TONGBAN_INSTALL_TEST_NS:-}" ]; then
  # Skipped (77, ctest's SKIP_RETURN_CODE) on a developer's machine without root; CI is root.
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (debootstrap, mount, chroot)" >&2; exit 77; }
  command -v unshare >/dev/null || { echo "FAIL: unshare not found (util-linux)" >&2; exit 1; }
  TONGBAN_INSTALL_TEST_NS=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "$build"
fi
# The trap's messages go here: a signal's trap runs inside the redirections of the command
# it interrupted (apt-get's log, say).
exec {stderr}>&2
checks=0
started=$SECONDS
ok() {
  checks=$((checks + 1))
  echo "ok: $*"
}
phase() { echo "-- $* ($((SECONDS - started)) s)"; }

# Daemons and notify listeners started here, by pid; the logs printed on failure.
pids=()
logs=()
failing=0
fail() {
  echo "FAIL: $*" >&2
  failing=1
  for log in "${logs[@]}"; do
    [ -s "$log" ] || continue
    echo "----- $(basename "$log") -----" >&2
    tail -n 200 "$log" >&2
  done
  exit 1
}

for tool in debootstrap chroot mount umount curl python3 tar; do
  command -v "$tool" >/dev/null || fail "$tool not found (run tools/deps.sh)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tongban-install.XXXXXX")
root="$tmp/root"
mkdir -p "$root"

# Everything mounted under $root, deepest first.
mounted_under_root() {
  awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}
cleanup() {
  local rc=$? p m
  set +e
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  # Anything still running inside the root (a stray process would keep mounts busy).
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  for m in $(mounted_under_root); do umount -l "$m"; done
  if [ -n "$(mounted_under_root)" ]; then
    echo "WARNING: still mounted under $root, not deleting $tmp:" >&"$stderr"
    mounted_under_root >&"$stderr"
  elif [ "${TONGBAN_KEEP_ROOT:-}" = 1 ]; then
    echo "kept $tmp" >&"$stderr"
  else
    rm -rf --one-file-system "$tmp"
  fi
  [ "$rc" -eq 0 ] || [ "$failing" -eq 1 ] || echo "FAIL: exited with $rc (set -e, line above)" >&"$stderr"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted" >&"$stderr"; failing=1; exit 130' INT TERM

# --- the packages -------------------------------------------------------------------------
debs=${TONGBAN_DEBS:-}
if [ -z "$debs" ]; then
  command -v cpack >/dev/null || fail "cpack not found (run tools/deps.sh)"
  [ -f "$build/CPackConfig.cmake" ] || fail "$build/CPackConfig.cmake not found: configure and build first"
  debs="$tmp/debs"
  phase "cpack -G DEB into $debs"
  if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$debs" >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log" >&2
    fail "cpack failed (log above)"
  fi
fi
debs=$(cd "$debs" && pwd)
deb_names=()  # one file name per package, as copied into the root below
for p in tongban-node tongban-hub tongban-tools tongban-console; do
  mapfile -t found < <(find "$debs" -maxdepth 1 -name "${p}_*.deb" -printf '%f\n')
  [ "${#found[@]}" -eq 1 ] || fail "expected one ${p}_*.deb in $debs, found ${#found[@]}"
  deb_names+=("${found[0]}")
done
ok "the four packages: ${deb_names[*]}"

# --- a clean Debian 12 root ---------------------------------------------------------------
mirror=${TONGBAN_DEBIAN_MIRROR:-}
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  # The first deb822 stanza whose Suites name bookworm itself (not -security, -updates).
  mirror=$(awk 'BEGIN { RS = ""; FS = "\n" }
    {
      uri = ""; deb = 0; suite = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
        if ($i ~ /^Types:.*(^|[ \t])deb([ \t]|$)/) deb = 1
        if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
      }
      if (uri != "" && deb && suite) { print uri; exit }
    }' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}

cache="$build/packaging-cache"
week=$(date -u +%G-W%V)
tarball="$cache/bookworm-minbase-$week.tar"
archives="$cache/apt-archives-$week"
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  phase "debootstrap --variant=minbase bookworm from $mirror (cached as $tarball)"
  fresh="$tmp/bootstrap"
  mkdir -p "$fresh"
  if ! debootstrap --variant=minbase bookworm "$fresh" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 50 "$tmp/debootstrap.log" >&2
    fail "debootstrap failed (log above; $fresh/debootstrap/debootstrap.log has more)"
  fi
  tar -C "$fresh" --numeric-owner -cpf "$tarball.$$.partial" .
  mv "$tarball.$$.partial" "$tarball"
  rm -rf --one-file-system "$fresh"
  # Last week's root and downloads are not needed any more.
  find "$cache" -maxdepth 1 \( -name 'bookworm-minbase-*.tar' -o -name 'apt-archives-*' \) \
    ! -name "$(basename "$tarball")" ! -name "$(basename "$archives")" -exec rm -rf {} +
fi
tar -C "$root" --numeric-owner -xpf "$tarball"
ok "a fresh Debian $(cat "$root/etc/debian_version") minbase root in $root (from $(basename "$tarball"))"

mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 "$@"; }

# --- installation -------------------------------------------------------------------------
mkdir -p "$root/tmp/debs" "$archives"
cp "${deb_names[@]/#/$debs/}" "$root/tmp/debs/"
chmod 0755 "$root/tmp/debs"
chmod 0644 "$root/tmp/debs"/*.deb
# Last runs' downloads of the Depends (apt checks each against the mirror's index).
find "$archives" -maxdepth 1 -name '*.deb' -exec cp -t "$root/var/cache/apt/archives/" {} +
phase "apt-get install of the packages in the root"
logs+=("$tmp/apt.log")
if ! in_root apt-get update >"$tmp/apt.log" 2>&1; then fail "apt-get update in the root failed"; fi
# The names as the root sees them (never a glob: the host's shell would match it against
# the host's /tmp, and apt would get the pattern itself on a machine without a /tmp/debs).
if ! in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  "${deb_names[@]/#//tmp/debs/}" >>"$tmp/apt.log" 2>&1; then
  fail "apt-get install of the packages failed (apt's log below)"
fi
find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' ! -name 'tongban-*' -exec cp -t "$archives/" {} +
logs=()
for p in tongban-node tongban-hub tongban-tools tongban-console; do
  status=$(in_root dpkg-query -W -f='${Status} ${Version}' "$p" 2>&1) || true
  [[ "$status" == "install ok installed "* ]] || fail "$p is not installed: $status"
done
ok "apt-get install: the four packages installed, their Depends resolved from $mirror"

IFS=: read -r _ _ uid gid _ home shell < <(in_root getent passwd tongban) || fail "no user tongban in the root"
[ "$(in_root getent group tongban | cut -d: -f3)" = "$gid" ] || fail "user tongban's group is not tongban"
sys_max=$(awk '$1 == "SYS_UID_MAX" { print $2 }' "$root/etc/login.defs")
sys_max=${sys_max:-999}
{ [ "$uid" -lt 1000 ] && [ "$uid" -le "$sys_max" ]; } || fail "tongban is uid $uid, not a system user"
[ "$home" = /var/lib/tongban ] || fail "tongban's home is $home, not /var/lib/tongban"
case "$shell" in */nologin | /bin/false) ;; *) fail "tongban's shell is $shell, not nologin" ;; esac
ok "system user tongban (uid $uid, group tongban $gid, home $home, shell $shell)"

# $1 path in the root, $2 expected "mode user:group" (numeric mode as stat %a).
has_mode() {
  local got
  # Numbers: stat would resolve names with the host's databases, not the root's.
  got=$(stat -c '%a %u:%g' "$root$1" 2>&1) || fail "$1 missing in the root"
  [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
has_mode /var/lib/tongban "700 $uid:$gid"
ok "/var/lib/tongban is 0700 tongban:tongban"
has_mode /etc/tongban "750 0:$gid"
has_mode /etc/tongban/keys "700 0:0"
ok "/etc/tongban is 0750 root:tongban, /etc/tongban/keys 0700 root:root"
for u in tongban-hub.service tongban-node@.service; do
  [ -f "$root/lib/systemd/system/$u" ] || fail "/lib/systemd/system/$u missing"
done
ok "units installed: /lib/systemd/system/tongban-hub.service, tongban-node@.service"
links=$(find "$root/etc/systemd/system" -name '*tongban*' 2>/dev/null || true)
[ -z "$links" ] || fail "installing enabled something: $links"
for p in /proc/[0-9]*; do
  if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then
    fail "a process runs in the root after installation: $(tr '\0' ' ' <"$p/cmdline")"
  fi
done
ok "installing enabled no unit (nothing in /etc/systemd/system) and started nothing"

# --- configuration, as the units' comments say --------------------------------------------
phase "provision the hub and S01"
password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
in_root cp -r /usr/share/tongban/site-config /etc/tongban/site-config
mkdir -p "$root/media/usb"
provision() {
  if ! in_root env TONGBAN_PASSWORD="$password" tongban provision "$@" >>"$tmp/provision.log" 2>&1; then
    logs+=("$tmp/provision.log")
    fail "tongban provision $* failed"
  fi
}
provision --hub --site-config /etc/tongban/site-config --data /var/lib/tongban/hub \
  --key-file /etc/tongban/keys/hub.kek --district-key /media/usb/district.key
provision --site-config /etc/tongban/site-config --site S01 --data /var/lib/tongban/node/S01 \
  --demo-staff --key-file /etc/tongban/keys/S01.kek --district-key /media/usb/district.key
for f in /etc/tongban/keys/hub.kek /etc/tongban/keys/S01.kek /media/usb/district.key \
  /var/lib/tongban/hub/keys.sealed /var/lib/tongban/node/S01/keys.sealed; do
  [ -s "$root$f" ] || fail "provision did not create $f"
done
ok "provisioned the hub and S01 as root (KEKs in /etc/tongban/keys, the district key on /media/usb)"
# Both daemons read site-config, keys/ included (the allow-list, the hub's and sites' keys),
# as tongban: /etc/tongban is root:tongban 0750 for that.
as_tongban() { chroot --userspec="$uid:$gid" --groups="$gid" "$root" /usr/bin/env -i PATH=/usr/bin "$@"; }
unreadable=$(as_tongban find /etc/tongban/site-config ! -readable -printf '%p %m %U:%G\n' 2>&1 || true)
[ -z "$unreadable" ] || fail "user tongban cannot read what \`tongban provision\` (as root) wrote into site-config, so neither daemon can:"$'\n'"$unreadable"
ok "user tongban can read all of /etc/tongban/site-config, keys/ included"

# Three free loopback ports, held together so that they differ.
read -r hub_port sync_port node_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
# The operator's env files (EnvironmentFile= of the units).
printf 'TONGBAN_LISTEN=127.0.0.1:%s\nTONGBAN_ARGS=--sync tcp://127.0.0.1:%s\n' "$hub_port" "$sync_port" \
  >"$root/etc/tongban/hub.env"
printf 'TONGBAN_LISTEN=127.0.0.1:%s\nTONGBAN_ARGS=--hub tcp://127.0.0.1:%s\n' "$node_port" "$sync_port" \
  >"$root/etc/tongban/node-S01.env"
ok "env files: hub on 127.0.0.1:$hub_port (sync $sync_port), S01 on 127.0.0.1:$node_port"

# --- the units, as systemd would run them -------------------------------------------------
# Reads a unit file of the root: prints shell assignments (the service's settings) and
# writes its argv and environment, NUL-separated, to $3.argv and $3.env.
parse_unit() {
  python3 - "$root" "$1" "$2" "$3" <<'PY'
import os, re, shlex, sys
root, unit_file, instance, out = sys.argv[1:5]
template = os.path.basename(unit_file)
unit = template.replace("@.", "@" + instance + ".") if "@." in template else template
prefix = unit.split("@")[0].rsplit(".", 1)[0]
spec = {"i": instance, "I": instance, "n": unit, "N": unit.rsplit(".", 1)[0], "p": prefix,
        "d": "/run/credentials/" + unit, "C": "/var/cache", "S": "/var/lib", "t": "/run",
        "L": "/var/log", "E": "/etc", "%": "%"}
def specifiers(s):
    def one(m):
        if m.group(1) not in spec:
            sys.exit(f"{unit}: specifier %{m.group(1)} is not emulated by install_test.sh")
        return spec[m.group(1)]
    return re.sub(r"%(.)", one, s)
# [Service] settings, continuation lines joined, comments dropped.
text = open(root + unit_file).read().replace("\\\n", " ")
section, service = None, []
for line in text.splitlines():
    line = line.strip()
    if not line or line[0] in "#;":
        continue
    if line.startswith("["):
        section = line
        continue
    if section == "[Service]" and "=" in line:
        k, v = line.split("=", 1)
        service.append((k.strip(), v.strip()))
def values(key):
    return [v for k, v in service if k == key]
def last(key, default=""):
    v = values(key)
    return v[-1] if v else default
env = {}
for v in values("Environment"):
    for word in shlex.split(specifiers(v)):
        k, _, val = word.partition("=")
        env[k] = val
for v in values("EnvironmentFile"):
    path = specifiers(v)
    optional = path.startswith("-")
    path = path.lstrip("-")
    if not os.path.exists(root + path):
        if optional:
            continue
        sys.exit(f"{unit}: EnvironmentFile {path} missing")
    for line in open(root + path):
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        k, _, val = line.partition("=")
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
            val = val[1:-1]
        env[k.strip()] = val
exec_start = values("ExecStart")
if len(exec_start) != 1:
    sys.exit(f"{unit}: expected one ExecStart=, found {len(exec_start)}")
cmd = specifiers(exec_start[0])
if cmd[:1] in "@-:+!":
    sys.exit(f"{unit}: ExecStart prefix {cmd[0]} is not emulated by install_test.sh")
argv = []
for word in shlex.split(cmd):
    m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
    if m:  # $VAR alone: split at whitespace, zero or more words
        argv += env.get(m.group(1), "").split()
        continue
    if re.search(r"\$(?!\{)", word):
        sys.exit(f"{unit}: ExecStart word {word!r} is not emulated by install_test.sh")
    argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
with open(out + ".argv", "wb") as f:
    f.write(b"".join(a.encode() + b"\0" for a in argv))
with open(out + ".env", "wb") as f:
    f.write(b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items()))
creds = [specifiers(v).split(":", 1) for v in values("LoadCredential")]
print("unit=" + shlex.quote(unit))
print("unit_type=" + shlex.quote(last("Type", "simple")))
print("user=" + shlex.quote(specifiers(last("User", "root"))))
print("group=" + shlex.quote(specifiers(last("Group", ""))))
print("workdir=" + shlex.quote(specifiers(last("WorkingDirectory", "/"))))
print("unit_umask=" + shlex.quote(last("UMask", "0022")))
print("nofile=" + shlex.quote(last("LimitNOFILE", "")))
print("stop_timeout=" + shlex.quote(last("TimeoutStopSec", "90")))
print("state_dirs=(" + " ".join(shlex.quote(specifiers(w)) for v in values("StateDirectory") for w in v.split()) + ")")
print("state_mode=" + shlex.quote(last("StateDirectoryMode", "0755")))
print("cache_dirs=(" + " ".join(shlex.quote(specifiers(w)) for v in values("CacheDirectory") for w in v.split()) + ")")
print("cache_mode=" + shlex.quote(last("CacheDirectoryMode", "0755")))
print("credentials=(" + " ".join(shlex.quote(n + ":" + s) for n, s in creds) + ")")
print("argv_text=" + shlex.quote(shlex.join(argv)))
PY
}

# StateDirectory=/CacheDirectory= as systemd 252 sets them up (setup_exec_directory): parents
# created root 0755, the directory created when absent, then chmod to the configured mode,
# then path_chown_recursive(), which descends only when the directory itself is not already
# owned by the service's user and group.
exec_directory() {
  local dir=$1 mode=$2 owner
  mkdir -p "$root$(dirname "$dir")"
  [ -d "$root$dir" ] || install -d -m "$mode" -o "$uid" -g "$gid" "$root$dir"
  chmod "$mode" "$root$dir"
  owner=$(stat -c '%u:%g' "$root$dir")
  if [ "$owner" != "$uid:$gid" ]; then
    chown -R "$uid:$gid" "$root$dir"
    echo "   $dir was $owner: chowned to tongban recursively (as systemd does)"
  fi
}

declare -A daemon_pid daemon_notify daemon_stop_timeout
# $1 unit file name, $2 instance ("" for none), $3 a short name.
start_unit() {
  local file=$1 instance=$2 name=$3 settings cred d run_uid run_gid
  settings=$(parse_unit "/lib/systemd/system/$file" "$instance" "$tmp/$name" 2>"$tmp/$name.parse") ||
    fail "cannot emulate $file: $(cat "$tmp/$name.parse")"
  local unit unit_type user group workdir unit_umask nofile stop_timeout state_dirs state_mode \
    cache_dirs cache_mode credentials argv_text
  eval "$settings"
  [ "$unit_type" = notify ] || fail "$unit: Type=$unit_type (the test expects notify)"
  { [ "$user" = tongban ] && [ "$group" = tongban ]; } || fail "$unit: User=$user Group=$group, expected tongban"
  run_uid=$uid
  run_gid=$gid
  for d in "${state_dirs[@]}"; do exec_directory "/var/lib/$d" "$state_mode"; done
  for d in "${cache_dirs[@]}"; do exec_directory "/var/cache/$d" "$cache_mode"; done
  for d in "${state_dirs[@]}"; do
    local foreign
    foreign=$(find "$root/var/lib/$d" \( ! -uid "$run_uid" -o ! -gid "$run_gid" \) -printf "/var/lib/$d/%P %U:%G\n")
    [ -z "$foreign" ] || fail "$unit: after StateDirectory= setup these are still not tongban's (systemd chowns the tree only when /var/lib/$d itself is not tongban's), so the daemon cannot read them:"$'\n'"$foreign"
  done
  # LoadCredential=: systemd (root) reads the file and gives the service its own copy.
  local creds_dir="/run/credentials/$unit"
  mkdir -p "$root$creds_dir"
  for cred in "${credentials[@]}"; do
    local cname=${cred%%:*} csrc=${cred#*:}
    [ -f "$root$csrc" ] || fail "$unit: LoadCredential source $csrc does not exist (no KEK, no start)"
    install -m 0400 -o "$run_uid" -g "$run_gid" "$root$csrc" "$root$creds_dir/$cname"
  done
  chown "$run_uid:$run_gid" "$root$creds_dir"
  chmod 0500 "$root$creds_dir"

  # Type=notify: systemd's notification socket, abstract (the root shares this network
  # namespace, and an abstract name needs no file the user could not reach).
  local sock="@tongban-install-$$-$name" notes="$tmp/$name.notify"
  : >"$notes"
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1][1:])
print("bound", flush=True)
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
        out.flush()' "$sock" "$notes" >"$tmp/$name.notify-listener" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -qs bound "$tmp/$name.notify-listener" && break; sleep 0.05; done

  local envs=(HOME="$home" USER=tongban LOGNAME=tongban SHELL="$shell"
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
    INVOCATION_ID="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" NOTIFY_SOCKET="$sock"
    CREDENTIALS_DIRECTORY="$creds_dir")
  [ ${#state_dirs[@]} -eq 0 ] || envs+=(STATE_DIRECTORY="/var/lib/${state_dirs[0]}")
  [ ${#cache_dirs[@]} -eq 0 ] || envs+=(CACHE_DIRECTORY="/var/cache/${cache_dirs[0]}")
  local unit_env=() argv=()
  mapfile -d '' unit_env <"$tmp/$name.env"
  mapfile -d '' argv <"$tmp/$name.argv"
  local log="$tmp/$name.log"
  logs+=("$log")
  echo "   $unit: $argv_text"
  (
    umask "$unit_umask"
    # LimitNOFILE=: systemd (with CAP_SYS_RESOURCE) sets it; a container without that
    # capability may cap the hard limit lower, so the most it allows (the daemon needs 1280).
    if [ -n "$nofile" ] && ! ulimit -n "$nofile" 2>/dev/null; then
      echo "install_test.sh: LimitNOFILE=$nofile not allowed here, running with $(ulimit -Hn)"
      ulimit -n "$(ulimit -Hn)"
    fi
    exec chroot --userspec="$run_uid:$run_gid" --groups="$run_gid" "$root" \
      /usr/bin/env -i -C "$workdir" "${envs[@]}" "${unit_env[@]}" "${argv[@]}"
  ) >"$log" 2>&1 </dev/null &
  daemon_pid[$name]=$!
  daemon_notify[$name]=$notes
  daemon_stop_timeout[$name]=${stop_timeout%s}
}

# $1 short name, $2 port: READY=1 on the notification socket, then /api/v1/healthz 200.
wait_ready() {
  local name=$1 port=$2
  for _ in $(seq 1 1200); do
    grep -qx 'READY=1' "${daemon_notify[$name]}" && break
    kill -0 "${daemon_pid[$name]}" 2>/dev/null || fail "$name exited before READY=1"
    sleep 0.1
  done
  grep -qx 'READY=1' "${daemon_notify[$name]}" || fail "$name sent no READY=1 within 120 s"
  local code
  code=$(curl -s -o "$tmp/$name.healthz" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/api/v1/healthz") || true
  [ "$code" = 200 ] || fail "$name: GET /api/v1/healthz answered $code after READY=1"
  ok "$name runs as tongban from its unit's ExecStart, READY=1, /api/v1/healthz 200 on 127.0.0.1:$port"
}

phase "start tongban-hub.service and tongban-node@S01.service"
start_unit tongban-hub.service "" hub
wait_ready hub "$hub_port"
start_unit tongban-node@.service S01 node-S01
wait_ready node-S01 "$node_port"
for name in hub node-S01; do
  p=${daemon_pid[$name]}
  st=$(awk '/^Uid:/ { u = $2 } /^Gid:/ { g = $2 } END { print u ":" g }' "/proc/$p/status")
  [ "$st" = "$uid:$gid" ] || fail "$name runs as $st, not tongban ($uid:$gid)"
  [ "$(readlink "/proc/$p/root")" = "$root" ] || fail "$name does not run inside the root"
  [ "$(readlink "/proc/$p/cwd")" = "$root/var/lib/tongban/${name/node-/node/}" ] ||
    fail "$name's working directory is $(readlink "/proc/$p/cwd")"
  exe=$(readlink "/proc/$p/exe")
  [ "$exe" = "$root/usr/bin/tongban-${name%%-*}" ] || fail "$name runs $exe, not the installed binary"
done
ok "both run the installed /usr/bin binaries as uid $uid inside the root, in their state directories"

# --- one case, site to hub ----------------------------------------------------------------
phase "a case from S01 to the hub"
cli() { in_root env TONGBAN_PASSWORD="$password" tongban "$@"; }
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
clerk=$(cli login --url "http://127.0.0.1:$node_port" --user clerk 2>"$tmp/cli.err") ||
  { logs+=("$tmp/cli.err"); fail "tongban login --user clerk at S01 failed"; }
ok "the installed CLI logs in as clerk at S01"
cat >"$root/tmp/application.json" <<'JSON'
{"item_code": "RS001",
 "applicant": {"name": "张三", "id_number": "11010519491231002X", "phone": "13912345678"},
 "provided": ["ID", "PHOTO"],
 "accept": {}}
JSON
submitted=$(cli case submit --url "http://127.0.0.1:$node_port" --token "$clerk" /tmp/application.json 2>"$tmp/cli.err") ||
  { logs+=("$tmp/cli.err"); fail "tongban case submit at S01 failed"; }
case_id=$(json 'd["case_id"]' <<<"$submitted")
[ "$(json 'd["status"]' <<<"$submitted")" = accepted ] || fail "the case is not accepted: $submitted"
ok "tongban case submit: RS001 case $case_id accepted at S01"
operator=$(cli login --url "http://127.0.0.1:$hub_port" --user operator 2>"$tmp/cli.err") ||
  { logs+=("$tmp/cli.err"); fail "tongban login --user operator at the hub failed"; }
t0=$SECONDS
at_hub=""
while [ $((SECONDS - t0)) -lt 60 ]; do
  if at_hub=$(cli api --url "http://127.0.0.1:$hub_port" --token "$operator" GET "/api/v1/cases/$case_id" 2>/dev/null); then
    break
  fi
  at_hub=""
  sleep 0.5
done
[ -n "$at_hub" ] || fail "case $case_id did not reach the hub within 60 s"
[ "$(json 'd["origin_site"]' <<<"$at_hub")" = S01 ] || fail "the hub's copy is not from S01: $at_hub"
[ "$(json 'd["status"]' <<<"$at_hub")" = accepted ] || fail "the hub's copy is not accepted: $at_hub"
ok "the operator sees case $case_id at the hub (origin S01, accepted) after $((SECONDS - t0)) s: node->hub over CURVE"

# --- stop, as systemctl stop would --------------------------------------------------------
phase "SIGTERM both"
for name in node-S01 hub; do
  p=${daemon_pid[$name]}
  kill -TERM "$p"
  limit=${daemon_stop_timeout[$name]}
  for _ in $(seq 1 $((limit * 10))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && fail "$name still runs $limit s after SIGTERM (TimeoutStopSec)"
  rc=0
  wait "$p" || rc=$?
  [ "$rc" -eq 0 ] || fail "$name exited $rc after SIGTERM"
  grep -qx 'STOPPING=1' "${daemon_notify[$name]}" || fail "$name sent no STOPPING=1"
  ok "$name: STOPPING=1 and exit 0 within $limit s of SIGTERM"
done

bad_owner=$(find "$root/var/lib/tongban" \( ! -uid "$uid" -o ! -gid "$gid" \) -printf '%P %U:%G\n')
[ -z "$bad_owner" ] || fail "not tongban's in /var/lib/tongban:"$'\n'"$bad_owner"
readable=$(find "$root/var/lib/tongban" -perm /077 -printf '%P %m\n')
[ -z "$readable" ] || fail "group or other may read in /var/lib/tongban:"$'\n'"$readable"
ok "every file in /var/lib/tongban is tongban's, none open to group or other ($(find "$root/var/lib/tongban" | wc -l) entries)"

echo "packaging install: $checks checks passed in $((SECONDS - started)) s"
