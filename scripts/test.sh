#!/usr/bin/env bash
# The whole test suite from a clean checkout: installs the Debian packages,
# builds the release, sanitizer and fuzz flavours, and runs
#   - unit, integration and interop tests on the release build,
#   - the Debian package: built, checked, installed, run and purged,
#   - unit and integration tests again under ASan+UBSan,
#   - every libFuzzer target briefly from its seed corpus.
# Prints one closing line "N passed, N failed" and exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/install-deps.sh || exit 1

passed=0
failed=0
status=0
run_ctest() {  # flavour, ctest args...
  local flavour=$1; shift
  local log="$root/build/$flavour/ctest.log"
  echo "=== ctest ($flavour) $*"
  (cd "build/$flavour" && ctest --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  if [[ -n $line ]]; then
    local total f
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - f))
    failed=$((failed + f))
  else
    failed=$((failed + 1))
  fi
  ((rc == 0)) || status=1
}

for flavour in release asan fuzz; do
  echo "=== build ($flavour)"
  if ! bash scripts/build.sh "$flavour"; then
    echo "build ($flavour) failed"
    failed=$((failed + 1))
    status=1
    continue
  fi
  case "$flavour" in
    release) run_ctest release -j2 -L 'unit|integration|interop'
             run_ctest release -L package ;;
    asan)    run_ctest asan -j2 -L 'unit|integration' ;;
    fuzz)    run_ctest fuzz -j2 -L fuzz ;;
  esac
done

echo "${passed} passed, ${failed} failed"
exit $status
