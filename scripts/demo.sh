#!/usr/bin/env bash
# Installs what is needed, builds xfrproxy (release) and runs `xfrproxy demo`:
# a synthetic primary, the proxy and a few hundred simulated secondaries on
# loopback, with live figures. Ctrl-C stops it. Options go to the demo
# (`xfrproxy demo --help` lists them, e.g. --secondaries 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release xfrproxy
exec ./build/release/proxy/xfrproxy demo "$@"
