// The TSIG resource record's RDATA (RFC 8945 §4.2), shared by the message
// parser (which finds it) and the signer/verifier (which uses it).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/name.h"
#include "core/types.h"
#include "core/wire.h"

namespace xfr {

struct TsigRecord {
  Name key_name;   // the TSIG record's owner
  Name algorithm;  // e.g. hmac-sha256.
  uint64_t time_signed = 0;  // 48 bits, seconds since the epoch
  uint16_t fudge = 300;
  std::vector<uint8_t> mac;
  uint16_t original_id = 0;
  Rcode error = Rcode::kNoError;  // TSIG error space: BADSIG, BADKEY, ...
  std::vector<uint8_t> other;     // server time on BADTIME

  friend bool operator==(const TsigRecord&, const TsigRecord&) = default;
};

// Parses TSIG RDATA (uncompressed algorithm name, RFC 8945 §4.2).
absl::StatusOr<TsigRecord> ParseTsigRdata(const Name& owner, Bytes rdata);

// Appends the whole TSIG RR (owner, TYPE 250, CLASS ANY, TTL 0, RDATA) to w,
// names uncompressed as RFC 8945 §4.2 requires.
void WriteTsigRecord(WireWriter& w, const TsigRecord& t);

}  // namespace xfr
