// Feeds fuzz-chosen answer messages to XfrIngest, once as the answer to an
// AXFR query and once as the answer to an IXFR query from a small fixed
// base zone. The input is a sequence of [2-byte big-endian length][message],
// as on a TCP stream (RFC 1035 §4.2.2). Nothing may crash, and a successful
// transfer must yield a valid version: records in strictly canonical order,
// one SOA at the apex carrying the serial reported, every owner in the zone,
// and for IXFR a chain of diffs from the base serial to the new one.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/diff.h"
#include "core/message.h"
#include "core/xfr_ingest.h"
#include "core/zone.h"

namespace xfr {
namespace {

constexpr uint16_t kFuzzId = 0x4242;
const absl::Time kFuzzNow = absl::FromUnixSeconds(1700000000);

#define CHECK_OR_DIE(cond)                                              \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "ingest_fuzz.cc:%d: %s\n", __LINE__, #cond); \
      std::abort();                                                     \
    }                                                                   \
  } while (0)

Name Origin() { return *Name::FromText("example.com."); }

Record MakeRecord(const char* owner, RRType type, std::vector<uint8_t> rdata) {
  Record r;
  r.owner = *Name::FromText(owner);
  r.type = type;
  r.ttl = 300;
  r.rdata = std::move(rdata);
  return r;
}

Record FuzzSoa(uint32_t serial) {
  std::vector<uint8_t> d;
  for (const char* n : {"ns.example.com.", "host.example.com."}) {
    Name nm = *Name::FromText(n);
    d.insert(d.end(), nm.wire().begin(), nm.wire().end());
  }
  for (uint32_t v : {serial, 3600u, 600u, 86400u, 300u}) {
    uint8_t b[4];
    StoreU32(b, v);
    d.insert(d.end(), b, b + 4);
  }
  return MakeRecord("example.com.", RRType::kSOA, d);
}

// The base zone of the IXFR runs (serial 100). Seeds are made from it.
std::vector<Record> FuzzBaseRecords() {
  Name ns = *Name::FromText("ns.example.com.");
  return {FuzzSoa(100),
          MakeRecord("example.com.", RRType::kNS,
                     std::vector<uint8_t>(ns.wire().begin(), ns.wire().end())),
          MakeRecord("ns.example.com.", RRType::kA, {192, 0, 2, 1}),
          MakeRecord("www.example.com.", RRType::kA, {192, 0, 2, 2}),
          MakeRecord("www.example.com.", RRType::kTXT, {3, 'a', 'b', 'c'})};
}

const std::shared_ptr<const ZoneVersion>& BaseZone() {
  static const std::shared_ptr<const ZoneVersion>* base =
      new std::shared_ptr<const ZoneVersion>(
          *ZoneVersion::Build(Origin(), FuzzBaseRecords()));
  return *base;
}

void CheckVersion(const ZoneVersion& v, Serial serial) {
  CHECK_OR_DIE(v.origin() == Origin());
  CHECK_OR_DIE(v.size() >= 1);
  CHECK_OR_DIE(v.serial() == serial);
  size_t soas = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    RecordView r = v.record(i);
    CHECK_OR_DIE(r.owner.IsSubdomainOf(Origin().view()));
    CHECK_OR_DIE(r.rclass == RRClass::kIN);
    if (r.type == RRType::kSOA) {
      ++soas;
      CHECK_OR_DIE(i == v.soa_index());
      CHECK_OR_DIE(r.owner.EqualsIgnoreCase(Origin().view()));
    }
    if (i > 0) CHECK_OR_DIE(CompareRecords(v.record(i - 1), r) < 0);
  }
  CHECK_OR_DIE(soas == 1);
}

void RunOne(RRType qtype, const std::vector<Bytes>& messages) {
  Question q{Origin(), qtype, RRClass::kIN};
  std::shared_ptr<const ZoneVersion> current =
      qtype == RRType::kIXFR ? BaseZone() : nullptr;
  absl::StatusOr<XfrIngest> x = XfrIngest::Create(kFuzzId, q, current, {});
  CHECK_OR_DIE(x.ok());
  bool failed = false;
  for (Bytes m : messages) {
    if (!x->Consume(m, kFuzzNow).ok()) {
      failed = true;
      break;
    }
  }
  absl::StatusOr<IngestResult> r = x->Finish();
  if (failed) {
    CHECK_OR_DIE(!r.ok());
    CHECK_OR_DIE(x->failure() != IngestFailure::kNone);
    return;
  }
  if (!r.ok()) {
    CHECK_OR_DIE(x->failure() != IngestFailure::kNone);
    return;
  }
  CHECK_OR_DIE(x->done());
  CHECK_OR_DIE(r->messages == messages.size());
  CHECK_OR_DIE(r->version != nullptr);
  switch (r->kind) {
    case IngestResult::kUpToDate:
      CHECK_OR_DIE(qtype == RRType::kIXFR);
      CHECK_OR_DIE(r->version == current);
      CHECK_OR_DIE(!(r->serial > current->serial()));
      break;
    case IngestResult::kFull:
      CheckVersion(*r->version, r->serial);
      CHECK_OR_DIE(r->diffs.empty());
      break;
    case IngestResult::kIncremental: {
      CHECK_OR_DIE(qtype == RRType::kIXFR);
      CheckVersion(*r->version, r->serial);
      CHECK_OR_DIE(!r->diffs.empty());
      CHECK_OR_DIE(r->diffs.front().from() == current->serial());
      CHECK_OR_DIE(r->diffs.back().to() == r->serial);
      for (size_t i = 1; i < r->diffs.size(); ++i) {
        CHECK_OR_DIE(r->diffs[i].from() == r->diffs[i - 1].to());
      }
      CHECK_OR_DIE(r->condensed.has_value());
      CHECK_OR_DIE(r->condensed->from() == current->serial());
      CHECK_OR_DIE(r->condensed->to() == r->serial);
      // Replaying the diffs as received gives the same version.
      std::shared_ptr<const ZoneVersion> v = current;
      for (const ZoneDiff& d : r->diffs) {
        absl::StatusOr<std::shared_ptr<const ZoneVersion>> next =
            ApplyDiff(*v, d);
        CHECK_OR_DIE(next.ok());
        v = *next;
      }
      CHECK_OR_DIE(*v == *r->version);
      break;
    }
  }
}

}  // namespace
}  // namespace xfr

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<xfr::Bytes> messages;
  size_t pos = 0;
  while (pos + 2 <= size) {
    size_t len = xfr::LoadU16(data + pos);
    pos += 2;
    len = std::min(len, size - pos);
    messages.emplace_back(data + pos, len);
    pos += len;
  }
  xfr::RunOne(xfr::RRType::kAXFR, messages);
  xfr::RunOne(xfr::RRType::kIXFR, messages);
  return 0;
}
