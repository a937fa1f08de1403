#include "core/zone_check.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "fmt/format.h"

namespace xfr {
namespace {

// RFC 2181 §10.1 and RFC 4035 §2.5: a CNAME owner may also hold only the
// DNSSEC records that sign and deny it.
bool MayShareWithCname(RRType t) {
  return t == RRType::kCNAME || t == RRType::kRRSIG || t == RRType::kNSEC;
}

struct Finding {
  size_t record;  // the record to blame, for ordering and the line
  std::string what;
};

}  // namespace

std::string ZoneProblem::ToString() const {
  if (where.empty()) return what;
  return fmt::format("{}: {}", where, what);
}

std::vector<ZoneProblem> CheckZoneContent(const Name& origin,
                                          absl::Span<const Record> records,
                                          const ZoneFileSources* sources) {
  auto where = [&](size_t i) {
    return sources != nullptr ? sources->Where(i) : std::string();
  };
  std::vector<Finding> found;
  std::optional<size_t> first_soa;
  bool apex_ns = false;
  // Records of each owner, in file order (Name compares without case).
  absl::flat_hash_map<Name, std::vector<size_t>> by_owner;
  std::vector<size_t> owners;  // each owner's first record, in file order

  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    // RFC 1035 §5.2: a master file holds one zone; named-checkzone calls
    // anything else out-of-zone data and refuses it.
    if (!r.owner.view().IsSubdomainOf(origin.view())) {
      found.push_back({i, fmt::format("out-of-zone data: {} {} is not in zone {}",
                                      r.owner.ToText(), r.type.ToString(),
                                      origin.ToText())});
      continue;
    }
    bool apex = r.owner == origin;
    if (r.type == RRType::kSOA) {
      if (!apex) {
        found.push_back({i, fmt::format("SOA record at {} is not at the zone apex {}",
                                        r.owner.ToText(), origin.ToText())});
      } else if (!first_soa) {
        first_soa = i;
      } else if (records[*first_soa].rdata != r.rdata) {
        // RFC 1035 §5.2: exactly one SOA. The same record twice is only a
        // duplicate, which loading drops.
        std::string first = where(*first_soa);
        found.push_back({i, fmt::format("more than one SOA record for {}{}",
                                        origin.ToText(),
                                        first.empty() ? "" : " (the first is at " + first + ")")});
      }
    }
    if (apex && r.type == RRType::kNS) apex_ns = true;
    auto [it, added] = by_owner.try_emplace(r.owner);
    if (added) owners.push_back(i);
    it->second.push_back(i);
  }

  for (size_t first : owners) {
    const Name* owner = &records[first].owner;
    const std::vector<size_t>& idx = by_owner.find(*owner)->second;
    std::optional<size_t> cname;
    for (size_t i : idx) {
      const Record& r = records[i];
      if (r.type != RRType::kCNAME) continue;
      if (!cname) {
        cname = i;
      } else if (records[*cname].rdata != r.rdata) {
        // RFC 2181 §10.1: an alias has exactly one target.
        found.push_back({i, fmt::format("more than one CNAME at {}", owner->ToText())});
      }
    }
    if (!cname) continue;
    for (size_t i : idx) {
      const Record& r = records[i];
      if (MayShareWithCname(r.type)) continue;
      std::string at = where(*cname);
      found.push_back({i, fmt::format("CNAME and other data at {}: {} beside the CNAME{}",
                                      owner->ToText(), r.type.ToString(),
                                      at.empty() ? "" : " at " + at)});
    }
  }

  // named-checkzone's integrity check: a server named inside the zone must
  // have its address in the zone (as glue below a cut), or nobody can reach
  // it through this zone's delegation.
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    if (r.type != RRType::kNS || !r.owner.view().IsSubdomainOf(origin.view())) continue;
    absl::StatusOr<Name> target = Name::FromWire(Bytes(r.rdata.data(), r.rdata.size()));
    if (!target.ok() || !target->view().IsSubdomainOf(origin.view())) continue;
    auto it = by_owner.find(*target);
    bool has_address = false;
    if (it != by_owner.end()) {
      for (size_t j : it->second) {
        has_address |= records[j].type == RRType::kA || records[j].type == RRType::kAAAA;
      }
    }
    if (!has_address) {
      found.push_back({i, fmt::format("NS {} at {} has no address records (A or AAAA) in the "
                                      "zone",
                                      target->ToText(), r.owner.ToText())});
    }
  }

  std::stable_sort(found.begin(), found.end(),
                   [](const Finding& a, const Finding& b) { return a.record < b.record; });
  std::vector<ZoneProblem> out;
  out.reserve(found.size() + 2);
  for (Finding& f : found) out.push_back({where(f.record), std::move(f.what)});
  if (!first_soa) {
    out.push_back({"", fmt::format("zone {} has no SOA record at its apex", origin.ToText())});
  }
  if (!apex_ns) {
    // RFC 1034 §4.2.1: the apex names the zone's servers. Blame the SOA's
    // line when there is one: that is where the NS records belong.
    out.push_back({first_soa ? where(*first_soa) : "",
                   fmt::format("zone {} has no NS records at its apex", origin.ToText())});
  }
  return out;
}

}  // namespace xfr
