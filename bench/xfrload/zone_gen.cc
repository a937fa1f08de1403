#include "bench/xfrload/zone_gen.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "fmt/format.h"

namespace xfr::load {
namespace {

// SplitMix64's finaliser: a well-mixed 64-bit value per (seed, index), so any
// entry of the zone is computed on its own, without generating the others.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() { return Mix(s_++); }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }

 private:
  uint64_t s_;
};

constexpr std::array<uint32_t, 3> kTtls = {300, 3600, 86400};

// The kinds of first-level names, in the canonical order of their prefixes
// (which is the order they are emitted in), with the fixed apex names
// between them where they sort.
enum class Kind : uint8_t { kCdn, kHost, kMail, kSub, kTxt };
constexpr std::string_view Prefix(Kind k) {
  switch (k) {
    case Kind::kCdn: return "cdn-";
    case Kind::kHost: return "host-";
    case Kind::kMail: return "mail-";
    case Kind::kSub: return "sub-";
    case Kind::kTxt: return "txt-";
  }
  return "";
}
// Weights (of 100): mostly hosts, as in a typical corporate or SaaS zone.
Kind KindOf(uint64_t h) {
  uint64_t p = h % 100;
  if (p < 45) return Kind::kHost;
  if (p < 60) return Kind::kCdn;
  if (p < 70) return Kind::kMail;
  if (p < 80) return Kind::kSub;
  return Kind::kTxt;
}

// Eight digits keep the label's byte order equal to the number's order.
constexpr int kDigits = 8;

// Writes records to the builder in canonical order, or only counts them
// (builder null). Stops writing after `cap` records.
class Emitter {
 public:
  Emitter(const Name& origin, ZoneVersionBuilder* builder)
      : origin_(origin), builder_(builder) {}

  void SetCap(uint64_t cap) {
    cap_ = cap;
    emitted_ = 0;
  }
  uint64_t emitted() const { return emitted_; }

  // Sets the owner to [child.]label.origin.
  void Owner(std::string_view label, std::string_view child = {}) {
    owner_.clear();
    if (!child.empty()) AppendLabel(owner_, child);
    if (!label.empty()) AppendLabel(owner_, label);
    Bytes o = origin_.wire();
    owner_.append(reinterpret_cast<const char*>(o.data()), o.size());
  }

  void Add(RRType type, uint32_t ttl, std::string_view rdata) {
    if (emitted_ >= cap_) return;
    ++emitted_;
    if (builder_ == nullptr) return;
    RecordView rr{NameView(AsBytes(owner_)), type, RRClass::kIN, ttl, AsBytes(rdata)};
    builder_->Append(rr);
  }
  // An RRset of several RDATAs: sorted first (record identity order is
  // RDATA octet order within an RRset).
  void AddSet(RRType type, uint32_t ttl, std::vector<std::string>& rdatas) {
    std::sort(rdatas.begin(), rdatas.end());
    for (const std::string& r : rdatas) Add(type, ttl, r);
  }

  // An absolute name under the origin, as uncompressed wire RDATA.
  std::string NameRdata(std::string_view label, std::string_view child = {}) const {
    std::string out;
    if (!child.empty()) AppendLabel(out, child);
    if (!label.empty()) AppendLabel(out, label);
    Bytes o = origin_.wire();
    out.append(reinterpret_cast<const char*>(o.data()), o.size());
    return out;
  }

  static void AppendLabel(std::string& out, std::string_view label) {
    out.push_back(static_cast<char>(label.size()));
    out.append(label);
  }

 private:
  const Name& origin_;
  ZoneVersionBuilder* builder_;
  std::string owner_;
  uint64_t cap_ = UINT64_MAX;
  uint64_t emitted_ = 0;
};

std::string NumberedLabel(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s.resize(prefix.size() + kDigits);
  for (int d = kDigits - 1; d >= 0; --d) {
    s[prefix.size() + static_cast<size_t>(d)] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
  return s;
}

std::string V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                     static_cast<char>(d)};
}

std::string V6(uint16_t g3, uint16_t g4, uint16_t last) {
  // 2001:db8:g3:g4::last (RFC 3849 documentation prefix).
  std::string s(16, '\0');
  const uint16_t groups[8] = {0x2001, 0x0db8, g3, g4, 0, 0, 0, last};
  for (int i = 0; i < 8; ++i) {
    s[2 * i] = static_cast<char>(groups[i] >> 8);
    s[2 * i + 1] = static_cast<char>(groups[i] & 0xff);
  }
  return s;
}

std::string Txt(std::string_view text) {
  std::string s;
  Emitter::AppendLabel(s, text);  // a character-string: length octet, bytes
  return s;
}

std::string Mx(uint16_t pref, std::string exchange) {
  std::string s{static_cast<char>(pref >> 8), static_cast<char>(pref & 0xff)};
  return s + exchange;
}

std::string ExternalName(std::string_view first, uint64_t n, std::string_view rest) {
  std::string out;
  Emitter::AppendLabel(out, fmt::format("{}{}", first, n));
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t dot = rest.find('.', pos);
    if (dot == std::string_view::npos) dot = rest.size();
    Emitter::AppendLabel(out, rest.substr(pos, dot - pos));
    pos = dot + 1;
  }
  out.push_back('\0');
  return out;
}

// One numbered entry of the zone: its first-level name and what lives at
// and below it, all decided by the hash h.
void EmitEntry(Emitter& e, Kind kind, uint64_t index, uint64_t h) {
  std::string label = NumberedLabel(Prefix(kind), index);
  uint32_t ttl = kTtls[(h >> 40) % kTtls.size()];
  uint8_t x = static_cast<uint8_t>(h >> 16), y = static_cast<uint8_t>(h >> 24);
  std::vector<std::string> set;
  switch (kind) {
    case Kind::kHost: {
      e.Owner(label);
      set = {V4(198, static_cast<uint8_t>(18 + ((h >> 12) & 1)), x, y)};
      if ((h >> 8) & 1) {
        set.push_back(V4(198, static_cast<uint8_t>(18 + ((h >> 12) & 1)), x,
                         static_cast<uint8_t>(y ^ 0x80)));
      }
      e.AddSet(RRType::kA, ttl, set);
      if (((h >> 32) & 7) == 0) {
        e.Add(RRType::kTXT, ttl, Txt(fmt::format("host-check={:016x}", Mix(h))));
      }
      if (((h >> 35) & 3) == 0) {
        e.Add(RRType::kAAAA, ttl,
              V6(static_cast<uint16_t>(index >> 16), static_cast<uint16_t>(index), 1));
      }
      if (((h >> 37) & 3) == 0) {
        e.Owner(label, "www");
        e.Add(RRType::kCNAME, ttl, e.NameRdata(label));
      }
      break;
    }
    case Kind::kCdn:
      e.Owner(label);
      e.Add(RRType::kCNAME, 300,
            ExternalName("e", (h >> 8) % 10000, "cdn-edge.example.net"));
      break;
    case Kind::kMail: {
      e.Owner(label);
      set = {Mx(10, e.NameRdata(label, "mx1")), Mx(20, e.NameRdata(label, "mx2"))};
      e.AddSet(RRType::kMX, ttl, set);
      e.Add(RRType::kTXT, ttl, Txt("v=spf1 mx -all"));
      e.Owner(label, "mx1");
      e.Add(RRType::kA, ttl, V4(198, 18, x, y));
      e.Owner(label, "mx2");
      e.Add(RRType::kA, ttl, V4(198, 19, x, y));
      break;
    }
    case Kind::kSub: {
      // A delegation (RFC 1034 §4.2.1): NS at the cut, glue below it.
      bool v6 = (h >> 8) & 1;
      e.Owner(label);
      set = {e.NameRdata(label, "ns1"), e.NameRdata(label, "ns2")};
      e.AddSet(RRType::kNS, 86400, set);
      for (int n = 1; n <= 2; ++n) {
        e.Owner(label, n == 1 ? "ns1" : "ns2");
        e.Add(RRType::kA, 86400, V4(198, 18, x, static_cast<uint8_t>(y + n)));
        if (v6) {
          e.Add(RRType::kAAAA, 86400,
                V6(static_cast<uint16_t>(index >> 16), static_cast<uint16_t>(index),
                   static_cast<uint16_t>(0x53 + n)));
        }
      }
      break;
    }
    case Kind::kTxt: {
      e.Owner(label);
      set = {Txt(fmt::format("google-site-verification={:016x}{:016x}", h, Mix(h)))};
      if ((h >> 8) & 1) set.push_back(Txt(fmt::format("v=verify1 {:08x}", h >> 32)));
      e.AddSet(RRType::kTXT, ttl, set);
      break;
    }
  }
}

std::string SoaRdata(const Emitter& e, const ZoneGenOptions& o) {
  std::string s = e.NameRdata("ns1") + e.NameRdata("hostmaster");
  for (uint32_t v : {o.serial.value(), o.refresh, o.retry, o.expire, o.minimum}) {
    uint8_t b[4];
    StoreU32(b, v);
    s.append(reinterpret_cast<const char*>(b), 4);
  }
  return s;
}

std::string LowerKey(const RecordView& rr) {
  Bytes w = rr.owner.wire();
  std::string key(w.size() + 2, '\0');
  for (size_t i = 0; i < w.size(); ++i) key[i] = static_cast<char>(AsciiLower(w[i]));
  StoreU16(reinterpret_cast<uint8_t*>(key.data() + w.size()), rr.type.value());
  return key;
}

void SortCanonical(std::vector<Record>& records) {
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return CompareRecords(a.view(), b.view()) < 0;
  });
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ZoneVersion>> GenerateZone(
    const ZoneGenOptions& o) {
  if (o.records < kMinGeneratedRecords) {
    return absl::InvalidArgumentError(
        fmt::format("a generated zone has at least {} records", kMinGeneratedRecords));
  }
  uint64_t base = Mix(o.seed);
  auto hash = [base](uint64_t i) { return Mix(base ^ (i * 0xd6e8feb86659fd93ULL)); };

  // First pass, counting only: how many entries make the zone exactly
  // o.records long, and how much of the last one fits.
  Emitter counter(o.origin, nullptr);
  uint64_t budget = o.records - kMinGeneratedRecords;
  uint64_t entries = 0, last_cap = 0;
  for (uint64_t have = 0; have < budget; ++entries) {
    uint64_t h = hash(entries);
    counter.SetCap(UINT64_MAX);
    EmitEntry(counter, KindOf(h), entries, h);
    last_cap = std::min(counter.emitted(), budget - have);
    have += last_cap;
  }

  // ~45 bytes per record uncompressed at typical name lengths.
  ZoneVersionBuilder builder(o.origin, BuildOptions{}, o.records,
                             o.records * (45 + o.origin.size()));
  Emitter e(o.origin, &builder);
  e.Owner("");
  std::vector<std::string> set = {e.NameRdata("ns1"), e.NameRdata("ns2")};
  e.AddSet(RRType::kNS, 86400, set);
  e.Add(RRType::kSOA, 3600, SoaRdata(e, o));
  e.Add(RRType::kMX, 3600, Mx(10, ExternalName("mx", 1, "mail.example.net")));
  e.Add(RRType::kTXT, 3600, Txt("v=spf1 mx -all"));
  auto emit_kind = [&](Kind k) {
    for (uint64_t i = 0; i < entries; ++i) {
      uint64_t h = hash(i);
      if (KindOf(h) != k) continue;
      e.SetCap(i + 1 == entries ? last_cap : UINT64_MAX);
      EmitEntry(e, k, i, h);
    }
  };
  emit_kind(Kind::kCdn);
  emit_kind(Kind::kHost);
  emit_kind(Kind::kMail);
  e.SetCap(UINT64_MAX);
  for (std::string_view ns : {"ns1", "ns2"}) {
    e.Owner(ns);
    e.Add(RRType::kA, 86400, V4(192, 0, 2, ns == "ns1" ? 1 : 2));
    e.Add(RRType::kAAAA, 86400, V6(0, 0x53, ns == "ns1" ? 1 : 2));
  }
  emit_kind(Kind::kSub);
  emit_kind(Kind::kTxt);
  e.SetCap(UINT64_MAX);
  e.Owner("www");
  e.Add(RRType::kA, 300, V4(192, 0, 2, 80));
  return std::move(builder).Finish();
}

namespace {

// A new RDATA (or TTL) for `r`, which is in `zone`; false when this record
// cannot be changed that way.
bool Modify(Record& r, const ZoneVersion& zone, Rng& rng, uint32_t serial, uint32_t j) {
  auto put = [&](std::string_view s) { r.rdata.assign(s.begin(), s.end()); };
  if (r.type == RRType::kA) {
    put(V4(198, 19, static_cast<uint8_t>(rng.Next()), static_cast<uint8_t>(rng.Next())));
  } else if (r.type == RRType::kAAAA) {
    put(V6(0xffff, static_cast<uint16_t>(serial), static_cast<uint16_t>(j + 1)));
  } else if (r.type == RRType::kTXT) {
    put(Txt(fmt::format("changed in serial {} #{}", serial, j)));
  } else if (r.type == RRType::kMX && r.rdata.size() > 2) {
    uint16_t pref = static_cast<uint16_t>(LoadU16(r.rdata.data()) + 1);
    StoreU16(r.rdata.data(), pref);
  } else if (r.type == RRType::kCNAME && (rng.Next() & 1)) {
    put(ExternalName("e", rng.Below(10000), "cdn-edge.example.net"));
  } else if (zone.FindRRset(r.owner, r.type).size() == 1) {
    // A TTL-only change is a change of the zone; only for a record alone
    // in its RRset, whose TTLs must agree (RFC 2181 §5.2).
    r.ttl = r.ttl == 300 ? 600 : 300;
    return true;
  } else {
    return false;
  }
  for (RecordView other : zone.FindRRset(r.owner, r.type)) {
    if (other.rdata.size() == r.rdata.size() &&
        std::memcmp(other.rdata.data(), r.rdata.data(), r.rdata.size()) == 0) {
      return false;  // already there: the diff would not be consistent
    }
  }
  return true;
}

}  // namespace

ZoneDiff ZoneChanger::Next(const ZoneVersion& current, uint32_t changes,
                           ChangeCounts* counts) {
  ChangeCounts local;
  ChangeCounts& c = counts != nullptr ? *counts : local;
  c = ChangeCounts{};
  uint32_t serial = current.serial().Plus(1).value();
  Rng rng(Mix(seed_ ^ Mix(serial)));
  ZoneDiff d;
  d.old_soa = ToRecord(current.soa());
  d.new_soa = d.old_soa;
  StoreU32(d.new_soa.rdata.data() + d.new_soa.rdata.size() - 20, serial);

  absl::flat_hash_set<std::string> touched;
  NameView origin = current.origin().view();
  for (uint32_t j = 0; j < changes; ++j) {
    uint32_t op = rng.Below(3);
    // Keep more than the apex: removals need something to remove.
    if (current.size() < 2 * kMinGeneratedRecords + changes) op = 0;
    if (op == 0) {
      // A new name, absent from every earlier version: its label carries
      // the serial that added it.
      Record r;
      std::string wire;
      Emitter::AppendLabel(wire, fmt::format("v{}-{}", serial, j));
      Bytes o = origin.wire();
      wire.append(reinterpret_cast<const char*>(o.data()), o.size());
      r.owner = *Name::FromWire(AsBytes(wire));
      r.type = RRType::kA;
      r.ttl = 300;
      std::string a = V4(198, 19, static_cast<uint8_t>(rng.Next()),
                         static_cast<uint8_t>(rng.Next()));
      r.rdata.assign(a.begin(), a.end());
      d.added.push_back(std::move(r));
      ++c.added;
      continue;
    }
    for (int attempt = 0; attempt < 16; ++attempt) {
      RecordView rr = current.record(rng.Below(static_cast<uint32_t>(current.size())));
      if (rr.owner.EqualsIgnoreCase(origin)) continue;
      std::string key = LowerKey(rr);
      if (touched.contains(key)) continue;
      if (op == 1) {
        d.removed.push_back(ToRecord(rr));
        ++c.removed;
      } else {
        Record changed = ToRecord(rr);
        if (!Modify(changed, current, rng, serial, j)) continue;
        d.removed.push_back(ToRecord(rr));
        d.added.push_back(std::move(changed));
        ++c.modified;
      }
      touched.insert(std::move(key));
      break;
    }
  }
  SortCanonical(d.removed);
  SortCanonical(d.added);
  return d;
}

}  // namespace xfr::load
