// Reads arbitrary text as a master file; whatever parses must survive a
// write and a second read unchanged (same records, byte for byte, owner case
// included), which pins the writer's escaping to the reader's unescaping.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/name.h"
#include "core/zonefile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const xfr::Name origin = *xfr::Name::FromText("example.com.");
  xfr::ZoneFileOptions options;
  options.allow_include = false;  // never open files named by the input
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = xfr::ReadZoneText(text, origin, "fuzz", options);
  if (!first.ok()) return 0;
  std::string written = xfr::WriteZoneText(*first);
  // Written text is absolute, so it reads back with any origin.
  auto second = xfr::ReadZoneText(written, xfr::Name(), "written", options);
  if (!second.ok() || second->size() != first->size()) std::abort();
  for (size_t i = 0; i < first->size(); ++i) {
    const xfr::Record& a = (*first)[i];
    const xfr::Record& b = (*second)[i];
    if (!(a == b) || !a.owner.Identical(b.owner)) std::abort();
  }
  return 0;
}
