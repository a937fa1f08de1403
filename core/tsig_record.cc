#include "core/tsig_record.h"

#include <string>

#include "fmt/format.h"

namespace xfr {
namespace {

// Length of the uncompressed name at the start of `b`, or 0 when there is
// none: RFC 8945 §4.2 forbids compressing the algorithm name, so a pointer
// here is malformed, not something to follow.
size_t PlainNameLength(Bytes b) {
  size_t i = 0;
  while (i < b.size() && i < kMaxNameLength) {
    uint8_t len = b[i];
    if (len == 0) return i + 1;
    if (len > kMaxLabelLength) return 0;
    i += len + 1;
  }
  return 0;
}

}  // namespace

absl::StatusOr<TsigRecord> ParseTsigRdata(const Name& owner, Bytes rdata) {
  TsigRecord t;
  t.key_name = owner;
  size_t name_len = PlainNameLength(rdata);
  if (name_len == 0) {
    return absl::InvalidArgumentError("TSIG: bad algorithm name");
  }
  absl::StatusOr<Name> alg = Name::FromWire(rdata.subspan(0, name_len));
  if (!alg.ok()) {
    return absl::InvalidArgumentError(fmt::format(
        "TSIG: bad algorithm name: {}", std::string(alg.status().message())));
  }
  t.algorithm = *std::move(alg);
  WireReader r(rdata, name_len);
  uint64_t hi = r.U16();
  t.time_signed = hi << 32 | r.U32();  // 48-bit time (RFC 8945 §4.2)
  t.fudge = r.U16();
  uint16_t mac_size = r.U16();
  Bytes mac = r.Take(mac_size);
  t.mac.assign(mac.begin(), mac.end());
  t.original_id = r.U16();
  t.error = Rcode(r.U16());
  uint16_t other_len = r.U16();
  Bytes other = r.Take(other_len);
  t.other.assign(other.begin(), other.end());
  if (!r.ok()) return absl::InvalidArgumentError("TSIG: truncated RDATA");
  if (r.remaining() != 0) {
    return absl::InvalidArgumentError("TSIG: bytes after the other-data field");
  }
  return t;
}

void WriteTsigRecord(WireWriter& w, const TsigRecord& t) {
  WriteName(w, t.key_name);
  w.U16(RRType::kTSIG.value());
  w.U16(RRClass::kANY.value());  // RFC 8945 §4.2: CLASS ANY, TTL 0
  w.U32(0);
  size_t len_at = w.size();
  w.U16(0);
  size_t start = w.size();
  WriteName(w, t.algorithm);
  w.U16(static_cast<uint16_t>(t.time_signed >> 32));
  w.U32(static_cast<uint32_t>(t.time_signed));
  w.U16(t.fudge);
  w.U16(static_cast<uint16_t>(t.mac.size()));
  w.Append(Bytes(t.mac.data(), t.mac.size()));
  w.U16(t.original_id);
  w.U16(t.error.value());
  w.U16(static_cast<uint16_t>(t.other.size()));
  w.Append(Bytes(t.other.data(), t.other.size()));
  if (w.ok()) w.PatchU16(len_at, static_cast<uint16_t>(w.size() - start));
}

}  // namespace xfr
