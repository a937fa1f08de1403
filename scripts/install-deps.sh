#!/usr/bin/env bash
# Installs every Debian package xfrproxy, its tests and its benchmarks need.
# Idempotent, never prompts. Must run as root (or via sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  liburing-dev libabsl-dev libfmt-dev libgtest-dev libgmock-dev
  libbenchmark-dev libssl-dev libyaml-cpp-dev libmicrohttpd-dev libsystemd-dev
  # peers and clients for interop tests and benchmarks
  bind9 bind9-utils bind9-dnsutils knot knot-dnsutils nsd pdns-ixfrdist dnsperf
  # packaging and its checks (scripts/package.sh, tests -L package)
  dpkg-dev lintian adduser systemd util-linux
  # misc used by tests (chromium renders the status page)
  python3 procps iproute2 chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" </dev/null
# The Debian packages start their daemons on port 53; the tests run their own
# instances on other loopback ports, so the system ones are stopped to keep
# the machine quiet. Failures here (no systemd, no such service) are harmless.
for svc in named bind9 knot nsd pdns-ixfrdist; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
echo "install-deps: installed ${missing[*]}"
