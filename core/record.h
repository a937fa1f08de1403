// Resource records: an owned form for parsing and building, and a borrowed
// view for records that live in a zone version's arena. RDATA is always kept
// uncompressed, with the case it arrived in (RFC 3597 §4: names in RDATA are
// expanded on receipt for the types where compression is known).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/name.h"
#include "core/types.h"
#include "core/wire.h"

namespace xfr {

struct RecordView {
  NameView owner;
  RRType type;
  RRClass rclass = RRClass::kIN;
  uint32_t ttl = 0;
  Bytes rdata;
};

struct Record {
  Name owner;
  RRType type;
  RRClass rclass = RRClass::kIN;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;

  RecordView view() const {
    return RecordView{owner.view(), type, rclass, ttl,
                      Bytes(rdata.data(), rdata.size())};
  }
  // Same owner (ignoring case), type, class, TTL and byte-identical RDATA.
  friend bool operator==(const Record& a, const Record& b) {
    return a.type == b.type && a.rclass == b.rclass && a.ttl == b.ttl &&
           a.owner == b.owner && a.rdata == b.rdata;
  }
};

// Owned copy of a view.
Record ToRecord(const RecordView& v);

// Reads one record at the cursor (owner, type, class, TTL, RDLENGTH, RDATA),
// expanding compressed names inside RDATA where the type allows them, and
// checking the RDATA of known types field by field. On error the reader is
// failed and the status says what was wrong.
absl::Status ReadRecord(WireReader& r, Record& out);

// Writes one record. With a compressor, the owner is compressed and so are
// names inside the RDATA of the RFC 1035 types (RFC 3597 §4); RDATA of every
// other type is copied byte for byte.
void WriteRecord(WireWriter& w, NameCompressor* c, const RecordView& rr);

// The uncompressed wire form of a record (owner, TYPE, CLASS, TTL,
// RDLENGTH, RDATA) as zone arenas and journals keep it.
inline size_t RecordWireSize(const RecordView& rr) {
  return rr.owner.size() + 10 + rr.rdata.size();
}
// Writes it to `out`, which has RecordWireSize(rr) bytes.
void StoreRecordWire(const RecordView& rr, uint8_t* out);
// Reads one back from bytes written by StoreRecordWire (not re-checked).
RecordView LoadRecordWire(const uint8_t* p);

// RFC 4034 §6.2-6.3 style total order used inside zone versions: owner
// canonical, then type, then class, then RDATA octet by octet (case kept, so
// records differing only in RDATA case are distinct records).
int CompareRecords(const RecordView& a, const RecordView& b);

// Compares just the RRset identity (owner, type, class).
int CompareRRsetKey(const RecordView& a, const RecordView& b);

}  // namespace xfr
