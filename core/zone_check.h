// The content checks a master file must pass before it is served, the ones
// `named-checkzone` makes: everything under the origin, exactly one SOA and
// it at the apex, NS records at the apex, an address for every name server
// named inside the zone, and no CNAME beside other data.
// Run by `xfrproxy check` and by the server each time it reads a `file:`
// zone, so a file the check refuses is never served. No I/O: records in,
// problems out.
#pragma once

#include <string>
#include <vector>

#include "absl/types/span.h"
#include "core/name.h"
#include "core/record.h"
#include "core/zonefile.h"

namespace xfr {

struct ZoneProblem {
  std::string where;  // "FILE:LINE", or empty when no line is to blame
  std::string what;

  // "FILE:LINE: what", or just "what".
  std::string ToString() const;
};

// Checks `records`, in the order they were read, as the whole content of
// zone `origin`. `sources` (may be null) gives each record's file and line.
// Every problem is reported, in the order of the lines at fault; the
// zone-wide ones (no SOA) come last. Empty when the zone may be served.
std::vector<ZoneProblem> CheckZoneContent(const Name& origin,
                                          absl::Span<const Record> records,
                                          const ZoneFileSources* sources);

}  // namespace xfr
