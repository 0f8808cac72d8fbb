#!/usr/bin/env bash
# Installs the Debian 12 packages tongban builds and runs with, when any is missing.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config
      libsqlite3-dev libsodium-dev libprotobuf-dev protobuf-compiler libspdlog-dev
      libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev catch2
      libzmq3-dev cppzmq-dev libboost-dev libmimalloc-dev libcairo2-dev libxlsxwriter-dev curl
      libssl-dev   # HTTPS on the LAN (Beast over OpenSSL) and the district CA (tongban cert)
      libfaketime   # tests only: clock steps under a running node (LD_PRELOAD)
      fonts-noto-cjk   # the hub draws the monthly report's Chinese with it (and the browser tests)
      # tests only: the console's browser tests (headless Chromium) and reading PDFs back
      chromium poppler-utils unzip
      # tests only: the Debian packages (cpack -G DEB; dpkg-shlibdeps and file compute their
      # Depends) and their units (systemd-analyze verify), tests/packaging/verify_units.sh;
      # a clean Debian 12 root to install them in, tests/packaging/install_test.sh
      dpkg-dev file systemd debootstrap
      # tests only: a real Prometheus scrapes both daemons with tools/ops/prometheus
      prometheus)
# The web console is built with Node.js and npm (build time only). A machine that already
# has them (e.g. from NodeSource) keeps its own; Debian's are installed otherwise.
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi
