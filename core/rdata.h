// RDATA layouts of the record types xfrproxy understands. One table drives
// everything type-specific: which fields are names (and whether RFC 3597
// allows compressing them), how a field looks on the wire and in master
// files. Types without an entry are opaque (RFC 3597): their RDATA is carried
// byte for byte and written as \# in master files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/name.h"
#include "core/types.h"
#include "core/wire.h"

namespace xfr {

enum class Field : uint8_t {
  // A name that RFC 1035 types may compress: expanded on read, compressed on
  // write (NS, CNAME, SOA, PTR, MX, MINFO, MB, MG, MR, MD, MF).
  kCompressedName,
  // A name that older software may have compressed (RFC 3597 §4 "SHOULD
  // decompress": RP, AFSDB, RT, PX, NAPTR, SRV): expanded on read, never
  // compressed on write.
  kDecompressName,
  // A name that must never be compressed (RRSIG signer, NSEC next, DNAME...);
  // a pointer here is malformed RDATA.
  kPlainName,
  kU8,
  kU16,
  kU32,
  kTtl,          // u32, a duration (SOA timers, RRSIG original TTL)
  kTime,         // u32, RRSIG timestamp, YYYYMMDDHHmmSS in text
  kType,         // u16 shown as a type mnemonic (RRSIG type covered)
  kIPv4,         // 4 bytes
  kIPv6,         // 16 bytes
  kCharString,   // one <character-string>
  kCharStrings,  // one or more <character-string>s to the end (TXT)
  kBase64Rest,   // the rest, base64 in text (DNSKEY key, RRSIG signature)
  kHexRest,      // the rest, hex in text (DS digest, TLSA, SSHFP)
  kHexLen8,      // u8 length then bytes, hex in text, "-" if empty (salt)
  kBase32Len8,   // u8 length then bytes, base32hex in text (NSEC3 next)
  kTypeBitmap,   // RFC 4034 §4.1.2 windows to the end
  kCaaTag,       // u8 length then tag, unquoted in text
  kStringRest,   // the rest as one quoted string (CAA value)
};

struct RdataSchema {
  RRType type;
  absl::Span<const Field> fields;
};

// The layout of `type`, or nullopt for opaque types.
std::optional<RdataSchema> FindRdataSchema(RRType type);

// True for types whose RDATA may contain compression pointers we must
// expand on read.
bool RdataHasNames(RRType type);

// Reads RDLENGTH bytes of RDATA at the cursor into `out`, expanding names
// and checking known layouts (a field short or bytes left over is an error).
absl::Status ReadRdata(WireReader& r, RRType type, uint16_t rdlength,
                       std::vector<uint8_t>& out);

// Checks uncompressed RDATA (from a master file or a peer) against the
// layout of its type; opaque types always pass.
absl::Status ValidateRdata(RRType type, Bytes rdata);

// Writes uncompressed RDATA, compressing the names the type allows when a
// compressor is given. The caller writes RDLENGTH.
void WriteRdata(WireWriter& w, NameCompressor* c, RRType type, Bytes rdata);

}  // namespace xfr
