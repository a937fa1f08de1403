#!/usr/bin/env bash
# Side by side with pdns ixfrdist and knotd (issue 6): one knotd primary on
# loopback, the server under test as its secondary (xfrproxy, ixfrdist,
# knotd), `xfrload secondaries` as the downstream; five scenarios (IXFR
# storm, AXFR fan-out, ingest of a 1M-record zone, NOTIFY fan-out, upstream
# transfers per change), each server's CPU from /proc, ratios, and issue 6's
# targets reported (not asserted). Run by hand, on a quiet machine:
#   bench/compare/side_by_side.sh [BUILD_DIR] [--only ixfr,axfr,ingest,notify,upstream]
#       [--quick] [--threads 2,1] [--no-knotd-reuseport] [--xfrload-threads N]
#       [--json-out FILE]
# BUILD_DIR needs proxy/xfrproxy and bench/xfrload (a Release build:
# scripts/build.sh release). Prints Markdown for bench/RESULTS.md and writes
# the figures as JSON (default BUILD_DIR/side_by_side.json).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build/release"
if [[ $# -gt 0 && $1 != --* ]]; then build="$1"; shift; fi
# 10,000 NOTIFY listeners and 500 transfers in flight need descriptors: the
# soft limit goes up to the hard one (the NOTIFY scenario caps its checks in
# flight under whatever that is).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 "$here/side_by_side.py" --build "$(cd "$build" && pwd)" "$@"
