// zonecat ORIGIN FILE: reads a master file with xfrproxy's reader and prints
// it with xfrproxy's writer, records in canonical order, so interop tests can
// compare our reading of a file with BIND's (named-compilezone).
#include <algorithm>
#include <cstdio>
#include <string>

#include "core/ascii.h"
#include "core/name.h"
#include "core/record.h"
#include "core/zonefile.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: zonecat ORIGIN FILE\n");
    return 2;
  }
  absl::StatusOr<xfr::Name> origin = xfr::Name::FromText(argv[1]);
  if (!origin.ok()) {
    // A bare "example.com" is meant as absolute on a command line.
    origin = xfr::Name::FromText(std::string(argv[1]) + ".");
  }
  if (!origin.ok()) {
    std::fprintf(stderr, "zonecat: bad origin: %s\n",
                 std::string(xfr::ToStd(origin.status().message())).c_str());
    return 1;
  }
  auto records = xfr::ReadZoneFile(argv[2], *origin);
  if (!records.ok()) {
    std::fprintf(stderr, "zonecat: %s\n",
                 std::string(xfr::ToStd(records.status().message())).c_str());
    return 1;
  }
  std::sort(records->begin(), records->end(),
            [](const xfr::Record& a, const xfr::Record& b) {
              return xfr::CompareRecords(a.view(), b.view()) < 0;
            });
  // A master file may repeat a record; an RRset is a set (RFC 2181 §5), so
  // print it once, as BIND does.
  records->erase(std::unique(records->begin(), records->end(),
                             [](const xfr::Record& a, const xfr::Record& b) {
                               return xfr::CompareRecords(a.view(), b.view()) == 0;
                             }),
                 records->end());
  std::string text = xfr::WriteZoneText(*records);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
