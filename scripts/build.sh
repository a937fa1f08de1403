#!/usr/bin/env bash
# Configures and builds one flavour of the tree into build/<flavour>; with
# target names after the flavour, only those (and what they need).
#   release  optimised, with tests and benchmarks (the default)
#   asan     Debug with AddressSanitizer + UndefinedBehaviorSanitizer, tests
#   fuzz     clang with libFuzzer targets
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift || true
jobs=${XFR_JOBS:-$(nproc)}
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=Release -DXFR_BENCH=ON) ;;
  asan)    args=(-DCMAKE_BUILD_TYPE=Debug -DXFR_SANITIZE=ON -DXFR_BENCH=OFF) ;;
  fuzz)    args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DXFR_FUZZ=ON -DXFR_TESTS=OFF -DXFR_BENCH=OFF
                 -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [release|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "build/$flavour" -j "$jobs" "${targets[@]}"
