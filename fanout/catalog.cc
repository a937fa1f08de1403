#include "fanout/catalog.h"

#include <openssl/evp.h>

#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "core/record.h"
#include "fmt/format.h"

namespace xfr {
namespace {

// RFC 9432 §4.1 uses "invalid." (RFC 6761 §6.4) for the SOA MNAME/RNAME
// and the NS target: a catalog is transferred, never resolved.
constexpr std::string_view kInvalidWire("\x07invalid\x00", 9);
constexpr size_t kIdBytes = 8;

void AppendU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void AppendBytes(std::vector<uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
}

void AppendBytes(std::vector<uint8_t>& out, Bytes b) { out.insert(out.end(), b.begin(), b.end()); }

Record Make(const Name& owner, RRType type, std::vector<uint8_t> rdata) {
  Record r;
  r.owner = owner;
  r.type = type;
  // Consumers ignore the TTLs of catalog records (RFC 9432 §4); 0 keeps
  // them out of any cache that sees them anyway.
  r.ttl = 0;
  r.rdata = std::move(rdata);
  return r;
}

// `label` followed by `parent`, checked against the 255-octet limit.
absl::StatusOr<Name> Child(std::string_view label, const Name& parent) {
  std::string wire;
  wire.push_back(static_cast<char>(label.size()));
  wire.append(label);
  Bytes p = parent.wire();
  wire.append(reinterpret_cast<const char*>(p.data()), p.size());
  return Name::FromWire(AsBytes(wire));
}

}  // namespace

std::string CatalogMemberId(const Name& member) {
  Name lower = member.Lowercased();
  Bytes wire = lower.wire();
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(wire.data(), wire.size(), md, &len, EVP_sha256(), nullptr) != 1 ||
      len < kIdBytes) {
    // SHA-256 does not fail in libcrypto; were it to, FNV-1a still gives
    // a label that is stable for the name.
    uint64_t h = 14695981039346656037ull;
    for (uint8_t b : wire) h = (h ^ b) * 1099511628211ull;
    return fmt::format("{:016x}", h);
  }
  std::string id;
  for (size_t i = 0; i < kIdBytes; ++i) id += fmt::format("{:02x}", md[i]);
  return id;
}

absl::StatusOr<std::shared_ptr<const ZoneVersion>> BuildCatalogVersion(
    const Name& catalog, const std::vector<Name>& members, Serial serial,
    const CatalogSoa& soa) {
  std::vector<Record> records;
  records.reserve(members.size() + 3);
  std::vector<uint8_t> soa_rdata;
  AppendBytes(soa_rdata, kInvalidWire);
  AppendBytes(soa_rdata, kInvalidWire);
  AppendU32(soa_rdata, serial.value());
  AppendU32(soa_rdata, soa.refresh);
  AppendU32(soa_rdata, soa.retry);
  AppendU32(soa_rdata, soa.expire);
  AppendU32(soa_rdata, soa.minimum);
  records.push_back(Make(catalog, RRType::kSOA, std::move(soa_rdata)));
  std::vector<uint8_t> ns;
  AppendBytes(ns, kInvalidWire);
  records.push_back(Make(catalog, RRType::kNS, std::move(ns)));
  // RFC 9432 §4.2.1: the schema version, a TXT of one string "2".
  absl::StatusOr<Name> version = Child("version", catalog);
  if (!version.ok()) return version.status();
  records.push_back(Make(*version, RRType::kTXT, {1, '2'}));

  absl::StatusOr<Name> zones = Child("zones", catalog);
  if (!zones.ok()) return zones.status();
  // Which member holds each label: two members sharing one would be a
  // single entry to a consumer (RFC 9432 §4.3 wants one PTR per label).
  absl::flat_hash_map<std::string, Name> ids;
  for (const Name& m : members) {
    if (m == catalog) continue;
    std::string id = CatalogMemberId(m);
    auto [it, inserted] = ids.emplace(id, m);
    if (!inserted) {
      if (it->second == m) continue;  // listed twice
      return absl::InvalidArgumentError(fmt::format(
          "catalog {}: members {} and {} have the same label {}", catalog.ToText(),
          it->second.ToText(), m.ToText(), id));
    }
    absl::StatusOr<Name> owner = Child(id, *zones);
    if (!owner.ok()) {
      return absl::InvalidArgumentError(fmt::format(
          "catalog {}: the name is too long to list members under it", catalog.ToText()));
    }
    std::vector<uint8_t> target;
    AppendBytes(target, m.Lowercased().wire());
    records.push_back(Make(*owner, RRType::kPTR, std::move(target)));
  }
  return ZoneVersion::Build(catalog, std::move(records));
}

Serial NextCatalogSerial(Serial current, absl::Time now) {
  Serial next = current.Plus(1);
  int64_t unix = absl::ToUnixSeconds(now);
  if (unix <= 0 || unix > 0xffffffffLL) return next;
  Serial clock(static_cast<uint32_t>(unix));
  // Only a clock serial that is an increase over current+1 is taken; an
  // undefined comparison (2^31 apart) is not.
  return clock > next ? clock : next;
}

absl::StatusOr<std::shared_ptr<const ZoneVersion>> UpdateCatalog(
    const Name& catalog, const std::vector<Name>& members,
    std::shared_ptr<const ZoneVersion> current, absl::Time now, const CatalogSoa& soa) {
  if (current) {
    auto same = BuildCatalogVersion(catalog, members, current->serial(), soa);
    if (!same.ok()) return same.status();
    if (**same == *current) return current;
    return BuildCatalogVersion(catalog, members, NextCatalogSerial(current->serial(), now),
                               soa);
  }
  int64_t unix = absl::ToUnixSeconds(now);
  Serial first(unix > 0 && unix <= 0xffffffffLL ? static_cast<uint32_t>(unix) : 1);
  return BuildCatalogVersion(catalog, members, first, soa);
}

}  // namespace xfr
