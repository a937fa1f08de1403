#!/usr/bin/env bash
# Installs what is needed, builds the release flavour and runs `xfrproxy demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
exec ./build/release/proxy/xfrproxy demo "$@"
