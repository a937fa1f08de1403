#include "core/rdata.h"

#include <array>

#include "fmt/format.h"

namespace xfr {
namespace {

using F = Field;

constexpr F kIPv4Fields[] = {F::kIPv4};
constexpr F kIPv6Fields[] = {F::kIPv6};
constexpr F kCompressed1[] = {F::kCompressedName};
constexpr F kCompressed2[] = {F::kCompressedName, F::kCompressedName};
constexpr F kPlain1[] = {F::kPlainName};
constexpr F kSoa[] = {F::kCompressedName, F::kCompressedName, F::kU32,
                      F::kTtl, F::kTtl, F::kTtl, F::kTtl};
constexpr F kMx[] = {F::kU16, F::kCompressedName};
constexpr F kPrefDecompress[] = {F::kU16, F::kDecompressName};
constexpr F kPx[] = {F::kU16, F::kDecompressName, F::kDecompressName};
constexpr F kRp[] = {F::kDecompressName, F::kDecompressName};
constexpr F kKx[] = {F::kU16, F::kPlainName};
constexpr F kHinfo[] = {F::kCharString, F::kCharString};
constexpr F kTxt[] = {F::kCharStrings};
constexpr F kSrv[] = {F::kU16, F::kU16, F::kU16, F::kDecompressName};
constexpr F kNaptr[] = {F::kU16, F::kU16, F::kCharString, F::kCharString,
                        F::kCharString, F::kDecompressName};
constexpr F kDs[] = {F::kU16, F::kU8, F::kU8, F::kHexRest};
constexpr F kSshfp[] = {F::kU8, F::kU8, F::kHexRest};
constexpr F kRrsig[] = {F::kType, F::kU8,  F::kU8,        F::kTtl, F::kTime,
                        F::kTime, F::kU16, F::kPlainName, F::kBase64Rest};
constexpr F kNsec[] = {F::kPlainName, F::kTypeBitmap};
constexpr F kDnskey[] = {F::kU16, F::kU8, F::kU8, F::kBase64Rest};
constexpr F kNsec3[] = {F::kU8,      F::kU8,        F::kU16,
                        F::kHexLen8, F::kBase32Len8, F::kTypeBitmap};
constexpr F kNsec3Param[] = {F::kU8, F::kU8, F::kU16, F::kHexLen8};
constexpr F kTlsa[] = {F::kU8, F::kU8, F::kU8, F::kHexRest};
constexpr F kCaa[] = {F::kU8, F::kCaaTag, F::kStringRest};
constexpr F kZonemd[] = {F::kU32, F::kU8, F::kU8, F::kHexRest};

const RdataSchema kSchemas[] = {
    {RRType::kA, kIPv4Fields},
    {RRType::kNS, kCompressed1},
    {RRType::kMD, kCompressed1},
    {RRType::kMF, kCompressed1},
    {RRType::kCNAME, kCompressed1},
    {RRType::kSOA, kSoa},
    {RRType::kMB, kCompressed1},
    {RRType::kMG, kCompressed1},
    {RRType::kMR, kCompressed1},
    {RRType::kPTR, kCompressed1},
    {RRType::kHINFO, kHinfo},
    {RRType::kMINFO, kCompressed2},
    {RRType::kMX, kMx},
    {RRType::kTXT, kTxt},
    {RRType::kRP, kRp},
    {RRType::kAFSDB, kPrefDecompress},
    {RRType::kRT, kPrefDecompress},
    {RRType::kPX, kPx},
    {RRType::kAAAA, kIPv6Fields},
    {RRType::kSRV, kSrv},
    {RRType::kNAPTR, kNaptr},
    {RRType::kKX, kKx},
    {RRType::kDNAME, kPlain1},
    {RRType::kDS, kDs},
    {RRType::kSSHFP, kSshfp},
    {RRType::kRRSIG, kRrsig},
    {RRType::kNSEC, kNsec},
    {RRType::kDNSKEY, kDnskey},
    {RRType::kNSEC3, kNsec3},
    {RRType::kNSEC3PARAM, kNsec3Param},
    {RRType::kTLSA, kTlsa},
    {RRType::kCDS, kDs},
    {RRType::kCDNSKEY, kDnskey},
    {RRType::kZONEMD, kZonemd},
    {RRType::kSPF, kTxt},
    {RRType::kCAA, kCaa},
};

bool IsName(F f) {
  return f == F::kCompressedName || f == F::kDecompressName ||
         f == F::kPlainName;
}

// Reads an uncompressed name that must end by `end`.
absl::Status ReadPlainName(WireReader& r, size_t end, std::vector<uint8_t>& out) {
  size_t total = 0;
  while (true) {
    if (r.position() >= end) {
      r.Fail();
      return absl::InvalidArgumentError("name in RDATA runs past RDLENGTH");
    }
    uint8_t len = r.U8();
    if (len & 0xC0) {
      r.Fail();
      return absl::InvalidArgumentError(
          "compression pointer where RDATA names must be uncompressed");
    }
    total += len + 1;
    if (total > kMaxNameLength || r.position() + len > end) {
      r.Fail();
      return absl::InvalidArgumentError("malformed name in RDATA");
    }
    out.push_back(len);
    Bytes label = r.Take(len);
    out.insert(out.end(), label.begin(), label.end());
    if (len == 0) return absl::OkStatus();
  }
}

// Checks an RFC 4034 §4.1.2 type bitmap: windows ascending, lengths 1..32,
// no trailing zero octet in a window.
bool ValidBitmap(Bytes b) {
  size_t i = 0;
  int last_window = -1;
  while (i < b.size()) {
    if (i + 2 > b.size()) return false;
    int window = b[i];
    int len = b[i + 1];
    if (window <= last_window || len < 1 || len > 32 ||
        i + 2 + len > b.size()) {
      return false;
    }
    last_window = window;
    i += 2 + len;
  }
  return true;
}

// Walks one non-name field at the reader, copying it to `out`.
absl::Status ReadField(WireReader& r, F f, size_t end, std::vector<uint8_t>& out) {
  size_t n = 0;
  size_t left = end > r.position() ? end - r.position() : 0;
  switch (f) {
    case F::kU8: n = 1; break;
    case F::kU16: case F::kType: n = 2; break;
    case F::kU32: case F::kTtl: case F::kTime: case F::kIPv4: n = 4; break;
    case F::kIPv6: n = 16; break;
    case F::kCharString: case F::kHexLen8: case F::kCaaTag:
      if (left < 1) break;
      n = 1 + r.message()[r.position()];
      if (f == F::kCaaTag && n == 1) {
        r.Fail();
        return absl::InvalidArgumentError("empty CAA tag");
      }
      break;
    case F::kBase32Len8:
      if (left < 1) break;
      n = 1 + r.message()[r.position()];
      if (n == 1) {
        r.Fail();
        return absl::InvalidArgumentError("empty NSEC3 next hashed owner");
      }
      break;
    case F::kCharStrings: {
      if (left == 0) {
        r.Fail();
        return absl::InvalidArgumentError("TXT RDATA with no string");
      }
      size_t i = 0;
      Bytes rest = r.message().subspan(r.position(), left);
      while (i < rest.size()) i += 1 + rest[i];
      if (i != rest.size()) {
        r.Fail();
        return absl::InvalidArgumentError("character-string runs past RDATA");
      }
      n = left;
      break;
    }
    case F::kTypeBitmap:
      if (!ValidBitmap(r.message().subspan(r.position(), left))) {
        r.Fail();
        return absl::InvalidArgumentError("malformed type bitmap");
      }
      n = left;
      break;
    case F::kBase64Rest: case F::kHexRest: case F::kStringRest:
      n = left;
      break;
    default:
      break;
  }
  // Fields that run to the end may be empty: a key or digest of zero bytes
  // is odd but well formed, and an NSEC3 of an empty non-terminal has no
  // types at all (RFC 5155 §7.1).
  bool may_be_empty = f == F::kBase64Rest || f == F::kHexRest ||
                      f == F::kStringRest || f == F::kTypeBitmap;
  if (n > left || (n == 0 && !may_be_empty)) {
    r.Fail();
    return absl::InvalidArgumentError("RDATA shorter than its type's layout");
  }
  Bytes b = r.Take(n);
  out.insert(out.end(), b.begin(), b.end());
  return absl::OkStatus();
}

absl::Status WalkRdata(WireReader& r, const RdataSchema& s, size_t end,
                       std::vector<uint8_t>& out) {
  for (F f : s.fields) {
    if (IsName(f)) {
      if (f == F::kPlainName) {
        if (auto st = ReadPlainName(r, end, out); !st.ok()) return st;
      } else {
        std::string name;
        if (auto st = ReadNameInto(r, name); !st.ok()) return st;
        if (r.position() > end) {
          r.Fail();
          return absl::InvalidArgumentError("name in RDATA runs past RDLENGTH");
        }
        out.insert(out.end(), name.begin(), name.end());
      }
    } else if (auto st = ReadField(r, f, end, out); !st.ok()) {
      return st;
    }
  }
  if (r.position() != end) {
    r.Fail();
    return absl::InvalidArgumentError(fmt::format("{}{}{}", 
        "trailing bytes in ", s.type.ToString(), " RDATA"));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<RdataSchema> FindRdataSchema(RRType type) {
  for (const RdataSchema& s : kSchemas) {
    if (s.type == type) return s;
  }
  return std::nullopt;
}

bool RdataHasNames(RRType type) {
  auto s = FindRdataSchema(type);
  if (!s) return false;
  for (F f : s->fields) {
    if (IsName(f)) return true;
  }
  return false;
}

absl::Status ReadRdata(WireReader& r, RRType type, uint16_t rdlength,
                       std::vector<uint8_t>& out) {
  out.clear();
  if (r.remaining() < rdlength) {
    r.Fail();
    return absl::InvalidArgumentError("RDATA runs past the end of the message");
  }
  size_t end = r.position() + rdlength;
  auto s = FindRdataSchema(type);
  if (!s) {
    Bytes b = r.Take(rdlength);
    out.assign(b.begin(), b.end());
    return absl::OkStatus();
  }
  out.reserve(rdlength);
  return WalkRdata(r, *s, end, out);
}

absl::Status ValidateRdata(RRType type, Bytes rdata) {
  auto s = FindRdataSchema(type);
  if (!s) return absl::OkStatus();
  if (rdata.size() > 65535) {
    return absl::InvalidArgumentError("RDATA longer than 65535 bytes");
  }
  WireReader r(rdata);
  std::vector<uint8_t> scratch;
  scratch.reserve(rdata.size());
  return WalkRdata(r, *s, rdata.size(), scratch);
}

void WriteRdata(WireWriter& w, NameCompressor* c, RRType type, Bytes rdata) {
  auto s = FindRdataSchema(type);
  bool compress = false;
  if (c != nullptr && s) {
    for (F f : s->fields) compress |= (f == F::kCompressedName);
  }
  if (!compress) {
    w.Append(rdata);
    return;
  }
  // Walk the (already validated) uncompressed RDATA, compressing names.
  WireReader r(rdata);
  // Scratch for the field walk; reused so encoding a zone allocates nothing
  // per record.
  thread_local std::vector<uint8_t> tmp;
  for (F f : s->fields) {
    size_t start = r.position();
    tmp.clear();
    if (IsName(f)) {
      (void)ReadPlainName(r, rdata.size(), tmp);
      if (!r.ok()) break;
      NameView nv(rdata.subspan(start, r.position() - start));
      if (f == F::kCompressedName) {
        c->Write(w, nv);
      } else {
        w.Append(nv.wire());
      }
    } else {
      (void)ReadField(r, f, rdata.size(), tmp);
      if (!r.ok()) break;
      w.Append(rdata.subspan(start, r.position() - start));
    }
  }
}

}  // namespace xfr
