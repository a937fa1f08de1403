#include "core/record.h"

#include <algorithm>
#include <cstring>

#include "fmt/format.h"
#include "core/rdata.h"

namespace xfr {

Record ToRecord(const RecordView& v) {
  Record r;
  r.owner = *Name::FromWire(v.owner.wire());
  r.type = v.type;
  r.rclass = v.rclass;
  r.ttl = v.ttl;
  r.rdata.assign(v.rdata.begin(), v.rdata.end());
  return r;
}

absl::Status ReadRecord(WireReader& r, Record& out) {
  if (absl::Status s = ReadName(r, out.owner); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}{}", "owner name: ", std::string(s.message())));
  }
  out.type = RRType(r.U16());
  out.rclass = RRClass(r.U16());
  out.ttl = r.U32();
  uint16_t rdlength = r.U16();
  if (!r.ok()) return absl::InvalidArgumentError("truncated record header");
  if (absl::Status s = ReadRdata(r, out.type, rdlength, out.rdata); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}{}{}{}{}", 
        out.type.ToString(), " record at ", out.owner.ToText(), ": ",
        std::string(s.message())));
  }
  return absl::OkStatus();
}

void WriteRecord(WireWriter& w, NameCompressor* c, const RecordView& rr) {
  if (c != nullptr) {
    c->Write(w, rr.owner);
  } else {
    WriteName(w, rr.owner);
  }
  w.U16(rr.type.value());
  w.U16(rr.rclass.value());
  w.U32(rr.ttl);
  size_t len_at = w.size();
  w.U16(0);
  size_t start = w.size();
  WriteRdata(w, c, rr.type, rr.rdata);
  if (w.ok()) w.PatchU16(len_at, static_cast<uint16_t>(w.size() - start));
}

void StoreRecordWire(const RecordView& rr, uint8_t* p) {
  std::memcpy(p, rr.owner.wire().data(), rr.owner.size());
  p += rr.owner.size();
  StoreU16(p, rr.type.value());
  StoreU16(p + 2, rr.rclass.value());
  StoreU32(p + 4, rr.ttl);
  StoreU16(p + 8, static_cast<uint16_t>(rr.rdata.size()));
  if (!rr.rdata.empty()) std::memcpy(p + 10, rr.rdata.data(), rr.rdata.size());
}

RecordView LoadRecordWire(const uint8_t* p) {
  size_t n = 0;
  while (p[n] != 0) n += p[n] + 1;
  ++n;
  RecordView v;
  v.owner = NameView(Bytes(p, n));
  p += n;
  v.type = RRType(LoadU16(p));
  v.rclass = RRClass(LoadU16(p + 2));
  v.ttl = LoadU32(p + 4);
  v.rdata = Bytes(p + 10, LoadU16(p + 8));
  return v;
}

int CompareRRsetKey(const RecordView& a, const RecordView& b) {
  if (int c = CompareCanonical(a.owner, b.owner); c != 0) return c;
  if (a.type != b.type) return a.type < b.type ? -1 : 1;
  if (a.rclass != b.rclass) return a.rclass < b.rclass ? -1 : 1;
  return 0;
}

int CompareRecords(const RecordView& a, const RecordView& b) {
  if (int c = CompareRRsetKey(a, b); c != 0) return c;
  size_t n = std::min(a.rdata.size(), b.rdata.size());
  if (n > 0) {
    if (int c = std::memcmp(a.rdata.data(), b.rdata.data(), n); c != 0) {
      return c < 0 ? -1 : 1;
    }
  }
  if (a.rdata.size() != b.rdata.size()) {
    return a.rdata.size() < b.rdata.size() ? -1 : 1;
  }
  return 0;
}

}  // namespace xfr
