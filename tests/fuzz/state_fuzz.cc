// Feeds arbitrary bytes to StateStore::Load as a zone's snapshot or journal
// file. Load must never crash or leak, and whatever it accepts must be a
// consistent state: a version of the zone whose journal chains to it.
// The first input byte picks the mode; two modes recompute the checksums so
// that the fuzzer reaches the record and diff parsers behind them.
//   0: the rest is the snapshot file.
//   1: a valid snapshot; the rest is the journal file.
//   2: a valid snapshot; the rest is journal payloads (u16 length + bytes
//      each), framed with correct checksums after a correct header.
//   3: the rest is the record data of a snapshot (u16 record count first),
//      with correct header and checksums.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/diff.h"
#include "core/zonefile.h"
#include "proxy/log.h"
#include "proxy/state_store.h"

namespace xfr {
namespace {

#define CHECK_OR_DIE(cond)                                             \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "state_fuzz.cc:%d: %s\n", __LINE__, #cond); \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

void Put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}
void Put64(std::vector<uint8_t>& v, uint64_t x) {
  Put32(v, static_cast<uint32_t>(x >> 32));
  Put32(v, static_cast<uint32_t>(x));
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size()));
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

struct Fixture {
  std::string dir;
  Name zone = *Name::FromText("example.com.");
  std::unique_ptr<StateStore> store;
  std::vector<uint8_t> snapshot;  // a valid snapshot of serial 1
  std::vector<uint8_t> journal;   // its journal with two diffs

  Fixture() {
    SetLogLevel(LogLevel::kError);
    char tmpl[] = "/tmp/state_fuzz.XXXXXX";
    CHECK_OR_DIE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    StateStore::Options o;
    o.sync = false;
    auto s = StateStore::Open(dir, o);
    CHECK_OR_DIE(s.ok());
    store = std::make_unique<StateStore>(std::move(*s));
    auto v1 = Version(1), v2 = Version(2), v3 = Version(3);
    CHECK_OR_DIE(store->SaveVersion(zone, *v1, absl::UnixEpoch(), 100).ok());
    snapshot = ReadFile(store->SnapshotPath(zone));
    CHECK_OR_DIE(store->AppendDiff(zone, ComputeDiff(*v1, *v2), absl::UnixEpoch(), 1).ok());
    CHECK_OR_DIE(store->AppendDiff(zone, ComputeDiff(*v2, *v3), absl::UnixEpoch(), 1).ok());
    journal = ReadFile(store->JournalPath(zone));
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  std::shared_ptr<const ZoneVersion> Version(uint32_t serial) {
    std::string text =
        "$ORIGIN example.com.\n@ 3600 IN SOA ns1 host " + std::to_string(serial) +
        " 7200 900 86400 300\n@ 3600 IN NS ns1\nns1 60 IN A 192.0.2.1\n"
        "h" + std::to_string(serial) + " 60 IN TXT \"x\"\n";
    auto rs = ReadZoneText(text, zone, "fuzz.zone");
    CHECK_OR_DIE(rs.ok());
    auto v = ZoneVersion::Build(zone, std::move(*rs));
    CHECK_OR_DIE(v.ok());
    return *v;
  }
};

Fixture& F() {
  // Destroyed at exit, which removes the temporary directory.
  static Fixture f;
  return f;
}

}  // namespace
}  // namespace xfr

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xfr;
  Fixture& f = F();
  if (size == 0) return 0;
  uint8_t mode = data[0] % 4;
  std::vector<uint8_t> rest(data + 1, data + size);
  std::string snap = f.store->SnapshotPath(f.zone);
  std::string jnl = f.store->JournalPath(f.zone);
  std::filesystem::remove(jnl);
  switch (mode) {
    case 0:
      WriteFile(snap, rest);
      break;
    case 1:
      WriteFile(snap, f.snapshot);
      WriteFile(jnl, rest);
      break;
    case 2: {
      WriteFile(snap, f.snapshot);
      // The valid journal's header, then the input's payloads framed.
      size_t header = f.journal.size();
      for (size_t at = 0; at + 4 <= f.journal.size(); ++at) {
        if (LoadU32(f.journal.data() + at) == 0x58454E31) {
          header = at;
          break;
        }
      }
      std::vector<uint8_t> out(f.journal.begin(), f.journal.begin() + header);
      size_t p = 0;
      while (p + 2 <= rest.size()) {
        size_t len = std::min<size_t>(LoadU16(rest.data() + p), rest.size() - p - 2);
        Bytes payload(rest.data() + p + 2, len);
        std::vector<uint8_t> frame;
        Put32(frame, 0x58454E31);
        Put32(frame, static_cast<uint32_t>(len));
        Put32(frame, Crc32c(payload));
        Put32(frame, Crc32c(Bytes(frame.data(), frame.size())));
        out.insert(out.end(), frame.begin(), frame.end());
        out.insert(out.end(), payload.begin(), payload.end());
        p += 2 + len;
      }
      WriteFile(jnl, out);
      break;
    }
    case 3: {
      if (rest.size() < 2) return 0;
      uint16_t count = LoadU16(rest.data());
      Bytes arena(rest.data() + 2, rest.size() - 2);
      std::vector<uint8_t> out = {'X', 'F', 'R', 'S', 'N', 'A', 'P', 0};
      Put32(out, 1);
      Put64(out, 7);   // epoch
      Put64(out, 0);   // last sequence number
      Put64(out, 0);   // refreshed_at
      Put32(out, 60);  // expire
      Put64(out, count);
      Put64(out, arena.size());
      Bytes origin = f.zone.wire();
      out.push_back(0);
      out.push_back(static_cast<uint8_t>(origin.size()));
      out.insert(out.end(), origin.begin(), origin.end());
      Put32(out, Crc32c(Bytes(out.data(), out.size())));
      out.insert(out.end(), arena.begin(), arena.end());
      Put32(out, Crc32c(arena));
      for (char c : {'X', 'F', 'R', 'S', 'E', 'N', 'D', '\0'}) out.push_back(static_cast<uint8_t>(c));
      WriteFile(snap, out);
      break;
    }
  }
  auto l = f.store->Load(f.zone, 8);
  if (l.ok() && l->has_value()) {
    const LoadedZone& z = **l;
    CHECK_OR_DIE(z.version != nullptr);
    CHECK_OR_DIE(z.version->origin() == f.zone);
    CHECK_OR_DIE(z.journal.size() <= 8);
    Serial at = z.version->serial();
    for (size_t i = z.journal.size(); i-- > 0;) {
      CHECK_OR_DIE(z.journal[i]->to() == at);
      at = z.journal[i]->from();
    }
    // What loads must also save and load back the same.
    CHECK_OR_DIE(f.store->SaveVersion(f.zone, *z.version, z.refreshed_at,
                                      z.expire_seconds).ok());
    auto again = f.store->Load(f.zone, 8);
    CHECK_OR_DIE(again.ok() && again->has_value());
    CHECK_OR_DIE(*(*again)->version == *z.version);
  }
  return 0;
}
