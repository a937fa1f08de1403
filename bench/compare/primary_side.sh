#!/usr/bin/env bash
# Primary side, side by side: xfrproxy (Release build) and knotd serving the
# same generated zone from a file on loopback, measured in one run on one
# machine: SOA queries/s with dnsperf, then concurrent AXFRs with xfrload
# (total time, bytes/s against a measured loopback limit, each server's peak
# RSS and CPU per transfer and per byte, xfrload's own CPU). Run by hand:
#   bench/compare/primary_side.sh [BUILD_DIR]
# Environment: RECORDS (100000), TRANSFERS (500), DNSPERF_SECONDS (10),
# XFRPROXY_THREADS (1). Prints a Markdown section for bench/RESULTS.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build-load-rel}"
exec python3 "$here/primary_side.py" --build "$(cd "$build" && pwd)"
