#!/usr/bin/env bash
# Start-up with many zones: one synthetic primary (xfrload primary --zones N,
# ~10 records a zone) and, one after the other, xfrproxy and knotd as its
# secondaries, each started with empty state. Per server: the time from
# start until every zone answers SOA with the primary's serial, peak RSS,
# CPU, and the SOA queries per second it sends the primary while idle.
# Run by hand, on a quiet machine:
#   bench/compare/many_zones.sh [BUILD_DIR] [--zones 10000] [--records 10]
#       [--refresh 20] [--idle 30] [--servers xfrproxy,knotd] [--json-out FILE]
# BUILD_DIR needs proxy/xfrproxy and bench/xfrload
# (scripts/build.sh release xfrproxy xfrload). Prints a table with the
# ratios xfrproxy/knotd.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build/release"
if [[ $# -gt 0 && $1 != --* ]]; then build="$1"; shift; fi
exec python3 "$here/many_zones.py" --build "$(cd "$build" && pwd)" "$@"
