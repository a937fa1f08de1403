#!/usr/bin/env bash
# Installs what is needed, builds the release flavour and runs the main job.
# Until `xfrproxy demo` exists (issue 6), this serves examples/example.com.zone
# on 127.0.0.1:5300 and [::1]:5300 with examples/xfrproxy.yaml; try
#   dig @127.0.0.1 -p 5300 example.com AXFR
# Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
echo "xfrproxy: serving example.com on 127.0.0.1:5300 and [::1]:5300; try:"
echo "  dig @127.0.0.1 -p 5300 example.com AXFR"
echo "  dig @127.0.0.1 -p 5300 example.com IXFR=2024060100"
echo "  curl -s 127.0.0.1:9153/metrics"
exec ./build/release/proxy/xfrproxy --config examples/xfrproxy.yaml "$@"
