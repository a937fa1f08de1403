#!/usr/bin/env bash
# Runs every libFuzzer target for longer than the test suite does (30 s
# each), from its seed corpus, keeping what it finds in build/fuzz/corpus.
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 300)
# A crash stops the run and leaves the reproducer (crash-*) in build/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
bash scripts/build.sh fuzz
for src in tests/fuzz/*_fuzz.cc; do
  name=$(basename "$src" .cc)
  work="build/fuzz/corpus/$name"
  mkdir -p "$work"
  echo "=== $name for ${seconds}s"
  (cd build/fuzz && "./tests/$name" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 "../../$work" "../../tests/fuzz/corpus/$name")
done
echo "fuzz: no crash in $(ls tests/fuzz/*_fuzz.cc | wc -l) targets x ${seconds}s"
