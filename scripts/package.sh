#!/usr/bin/env bash
# Builds the Debian package of xfrproxy with CPack:
#   build/package/xfrproxy_<version>_amd64.deb
# from a Release build of its own (no tests, no benchmarks), and prints its
# path last. Install it with `dpkg -i`; see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${XFR_JOBS:-$(nproc)}
dir=build/package
# Debian's hardening flags (fortified libc calls, stack protector, read-only
# relocations bound at start), as a package built by dpkg-buildpackage
# gets them; without the -g and -O2 that would override the Release build's.
flags() {
  DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_CFLAGS_MAINT_STRIP="-g -O2" \
    DEB_CXXFLAGS_MAINT_STRIP="-g -O2" dpkg-buildflags --get "$1"
}
cppflags=$(flags CPPFLAGS)
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DXFR_TESTS=OFF -DXFR_BENCH=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_C_FLAGS="$cppflags $(flags CFLAGS)" -DCMAKE_CXX_FLAGS="$cppflags $(flags CXXFLAGS)" \
  -DCMAKE_EXE_LINKER_FLAGS="$(flags LDFLAGS)" >/dev/null
cmake --build "$dir" -j "$jobs"
rm -f "$dir"/*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
debs=("$dir"/xfrproxy_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f ${debs[0]} ]]; then
  echo "package.sh: expected one xfrproxy_*.deb in $dir, found: ${debs[*]}" >&2
  exit 1
fi
realpath "${debs[0]}"
