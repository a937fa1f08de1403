#!/usr/bin/env bash
# Builds the Debian package of xfrproxy with CPack:
#   build/package/xfrproxy_<version>_amd64.deb
# from a Release build of its own (no tests, no benchmarks), and prints its
# path last. Install it with `dpkg -i`; see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${XFR_JOBS:-$(nproc)}
dir=build/package
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXFR_TESTS=OFF -DXFR_BENCH=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$dir" -j "$jobs"
rm -f "$dir"/*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
debs=("$dir"/xfrproxy_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f ${debs[0]} ]]; then
  echo "package.sh: expected one xfrproxy_*.deb in $dir, found: ${debs[*]}" >&2
  exit 1
fi
realpath "${debs[0]}"
