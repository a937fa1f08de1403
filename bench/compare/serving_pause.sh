#!/usr/bin/env bash
# The worst pause in xfrproxy's SOA answers while it builds a new version of
# a 1M-record zone: `xfrload primary` serves the zone and changes it on the
# script's signal every few seconds (NOTIFY); xfrproxy follows it; a UDP
# prober times every SOA answer. Run by hand, on a quiet machine:
#   bench/compare/serving_pause.sh [BUILD_DIR] [--records 1000000] [--changes 5]
#       [--period 4] [--changes-per-version 10] [--threads 2] [--json-out FILE]
# BUILD_DIR needs proxy/xfrproxy and bench/xfrload (scripts/build.sh release
# xfrproxy xfrload). Prints p50/p99/p99.9/max latency, idle versus builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build/release"
if [[ $# -gt 0 && $1 != --* ]]; then build="$1"; shift; fi
exec python3 "$here/serving_pause.py" --build "$(cd "$build" && pwd)" "$@"
