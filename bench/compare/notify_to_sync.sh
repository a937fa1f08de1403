#!/usr/bin/env bash
# Time from a change on a real primary (knotd; the script writes the zone
# file and runs knotc zone-reload) to knotd, NSD and named holding the new
# serial, through xfrproxy and fed by knotd directly; REFRESH a day, so
# NOTIFY alone moves the change. Run by hand, on a quiet machine:
#   bench/compare/notify_to_sync.sh [BUILD_DIR] [--runs 5] [--records 2000]
#       [--interval 0.02] [--threads 2] [--modes direct,proxy] [--json-out FILE]
# BUILD_DIR needs proxy/xfrproxy (scripts/build.sh release xfrproxy).
# Prints min / median / max per server and the ratio of the medians.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build/release"
if [[ $# -gt 0 && $1 != --* ]]; then build="$1"; shift; fi
exec python3 "$here/notify_to_sync.py" --build "$(cd "$build" && pwd)" "$@"
