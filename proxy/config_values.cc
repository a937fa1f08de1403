// Single config values: the Parser's typed readers and the duration and
// key helpers of proxy/config.h.
#include <cmath>
#include <filesystem>

#include "core/ascii.h"
#include "core/text_codecs.h"
#include "fmt/format.h"
#include "proxy/config.h"
#include "proxy/config_parser.h"

namespace xfr {
namespace config_internal {

absl::StatusOr<Fields> Parser::MapFields(
    const YAML::Node& n, std::string_view path,
    absl::Span<const std::string_view> allowed) const {
  if (!n.IsMap()) return Error(n, path, "expected a mapping (key: value)");
  Fields out;
  for (auto it = n.begin(); it != n.end(); ++it) {
    // Copies: the iterator hands out a temporary pair.
    YAML::Node k = it->first;
    YAML::Node v = it->second;
    if (!k.IsScalar()) return Error(k, path, "keys must be plain strings");
    std::string key = k.Scalar();
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) {
        list += list.empty() ? "" : ", ";
        list += a;
      }
      return Error(k, Join(path, key),
                   fmt::format("unknown key '{}' (expected one of: {})", key,
                               list));
    }
    // yaml-cpp keeps the last of two equal keys; a duplicate is more likely
    // a paste error than intent, so it is refused.
    if (Get(out, key) != nullptr) {
      return Error(k, Join(path, key), fmt::format("duplicate key '{}'", key));
    }
    out.push_back(Field{key, k, v, Join(path, key)});
  }
  return out;
}

absl::Status Parser::ParseLog(const YAML::Node& n, LogSettings& log) const {
  absl::StatusOr<Fields> f = MapFields(n, "log", {"level", "target", "transfers"});
  if (!f.ok()) return f.status();
  if (const Field* level = Get(*f, "level")) {
    absl::StatusOr<std::string> v = String(level->value, "log.level");
    if (!v.ok()) return v.status();
    bool known = false;
    for (LogLevel l : {LogLevel::kError, LogLevel::kWarning, LogLevel::kInfo, LogLevel::kDebug}) {
      if (*v == LogLevelName(l)) {
        log.level = l;
        known = true;
      }
    }
    if (!known) {
      return Error(level->value, "log.level",
                   fmt::format("'{}' is not a level (expected one of: error, warning, info, "
                               "debug)",
                               *v));
    }
  }
  if (const Field* target = Get(*f, "target")) {
    absl::StatusOr<std::string> v = String(target->value, "log.target");
    if (!v.ok()) return v.status();
    if (*v == "stderr") {
      log.target = LogTarget::kStderr;
    } else if (*v == "syslog") {
      log.target = LogTarget::kSyslog;
    } else {
      return Error(target->value, "log.target",
                   fmt::format("'{}' is not a target (expected stderr or syslog)", *v));
    }
  }
  if (const Field* transfers = Get(*f, "transfers")) {
    absl::StatusOr<bool> b = Bool(transfers->value, "log.transfers");
    if (!b.ok()) return b.status();
    log.transfers = *b;
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseMetrics(const YAML::Node& n, MetricsOptions& metrics) const {
  absl::StatusOr<Fields> f = MapFields(n, "metrics", {"per-zone", "max-zone-series"});
  if (!f.ok()) return f.status();
  if (const Field* pz = Get(*f, "per-zone")) {
    absl::StatusOr<bool> b = Bool(pz->value, "metrics.per-zone");
    if (!b.ok()) return b.status();
    metrics.per_zone = *b;
  }
  if (const Field* max = Get(*f, "max-zone-series")) {
    absl::StatusOr<uint64_t> v = UInt(max->value, "metrics.max-zone-series", 0, UINT32_MAX);
    if (!v.ok()) return v.status();
    metrics.max_zone_series = static_cast<uint32_t>(*v);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Parser::String(const YAML::Node& n,
                                           std::string_view path) const {
  if (!n.IsScalar()) return Error(n, path, "expected a string");
  return n.Scalar();
}

absl::StatusOr<uint64_t> Parser::UInt(const YAML::Node& n,
                                      std::string_view path, uint64_t min,
                                      uint64_t max) const {
  auto bad = [&]() {
    return Error(n, path,
                 fmt::format("expected an integer in {}..{}{}", min, max,
                             n.IsScalar() ? fmt::format(", got '{}'",
                                                        n.Scalar())
                                          : ""));
  };
  if (!n.IsScalar()) return bad();
  // Digits, with '_' allowed between them as in YAML 1.1 ("10_000_000").
  const std::string& s = n.Scalar();
  uint64_t v = 0;
  int digits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_' && i > 0 && i + 1 < s.size()) continue;
    if (c < '0' || c > '9' || ++digits > 19) return bad();
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (digits == 0 || v < min || v > max) return bad();
  return v;
}

absl::StatusOr<bool> Parser::Bool(const YAML::Node& n,
                                  std::string_view path) const {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "yes") return true;
    if (s == "false" || s == "no") return false;
  }
  return Error(n, path, "expected true or false");
}

absl::StatusOr<absl::Duration> Parser::Duration(const YAML::Node& n,
                                                std::string_view path) const {
  if (!n.IsScalar()) return Error(n, path, "expected a duration such as 30s");
  absl::StatusOr<absl::Duration> d = ParseConfigDuration(n.Scalar());
  if (!d.ok()) return Error(n, path, ToStd(d.status().message()));
  return *d;
}

absl::Status Parser::Sequence(const YAML::Node& n,
                              std::string_view path) const {
  if (!n.IsSequence()) return Error(n, path, "expected a list");
  return absl::OkStatus();
}

absl::StatusOr<Name> Parser::DomainName(const YAML::Node& n,
                                        std::string_view path) const {
  absl::StatusOr<std::string> text = String(n, path);
  if (!text.ok()) return text.status();
  // Names in the config are always absolute; the final dot is optional.
  Name root;
  absl::StatusOr<Name> name =
      text->empty() ? absl::InvalidArgumentError("empty name")
                    : Name::FromText(*text, &root);
  if (!name.ok()) {
    return Error(n, path,
                 fmt::format("bad name '{}': {}", *text,
                             ToStd(name.status().message())));
  }
  return *name;
}

absl::StatusOr<SocketAddress> Parser::Address(
    const YAML::Node& n, std::string_view path,
    std::optional<uint16_t> def) const {
  absl::StatusOr<std::string> text = String(n, path);
  if (!text.ok()) return text.status();
  absl::StatusOr<SocketAddress> a = SocketAddress::Parse(*text, def);
  if (!a.ok()) return Error(n, path, ToStd(a.status().message()));
  return *a;
}

absl::StatusOr<SourceConfig> Parser::Source(const YAML::Node& n,
                                            std::string_view path,
                                            bool allow_port) const {
  SourceConfig out;
  auto one = [&](const YAML::Node& item, const std::string& p) -> absl::Status {
    absl::StatusOr<std::string> text = String(item, p);
    if (!text.ok()) return text.status();
    SocketAddress a;
    if (auto ip = IpAddress::Parse(*text); ip.ok()) {
      a = SocketAddress(*ip, 0);
    } else if (!allow_port) {
      return Error(item, p, fmt::format("'{}' is not an IP address (no port here)", *text));
    } else if (text->size() > 2 && text->ends_with(":0")) {
      // SocketAddress refuses port 0 (nothing listens there); as a source
      // it means "any port".
      std::string host = text->substr(0, text->size() - 2);
      if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
      auto ip2 = IpAddress::Parse(host);
      if (!ip2.ok()) return Error(item, p, ToStd(ip2.status().message()));
      a = SocketAddress(*ip2, 0);
    } else {
      auto parsed = SocketAddress::Parse(*text);
      if (!parsed.ok()) return Error(item, p, ToStd(parsed.status().message()));
      a = *parsed;
    }
    std::optional<SocketAddress>& slot = a.ip().is_v4() ? out.v4 : out.v6;
    if (slot) {
      return Error(item, p, fmt::format("a second IPv{} address; one per family",
                                        a.ip().is_v4() ? 4 : 6));
    }
    slot = a;
    return absl::OkStatus();
  };
  if (n.IsSequence()) {
    if (n.size() == 0) return Error(n, path, "empty list");
    size_t i = 0;
    for (auto it = n.begin(); it != n.end(); ++it, ++i) {
      if (absl::Status s = one(*it, Index(path, i)); !s.ok()) return s;
    }
  } else if (absl::Status s = one(n, std::string(path)); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<CidrSet> Parser::Cidrs(const YAML::Node& n,
                                      std::string_view path) const {
  if (absl::Status s = Sequence(n, path); !s.ok()) return s;
  CidrSet set;
  size_t i = 0;
  for (auto it = n.begin(); it != n.end(); ++it, ++i) {
    std::string p = Index(path, i);
    absl::StatusOr<std::string> text = String(*it, p);
    if (!text.ok()) return text.status();
    absl::StatusOr<Cidr> c = Cidr::Parse(*text);
    if (!c.ok()) return Error(*it, p, ToStd(c.status().message()));
    set.Add(*c);
  }
  return set;
}

absl::StatusOr<Name> Parser::KeyRef(const YAML::Node& n, std::string_view path,
                                    const Config& config) const {
  absl::StatusOr<Name> name = DomainName(n, path);
  if (!name.ok()) return name.status();
  if (config.FindKey(*name) == nullptr) {
    return Error(n, path,
                 fmt::format("undefined key '{}' (not in 'keys')",
                             name->ToText()));
  }
  return *name;
}

absl::Status Parser::ParseRunAs(const Fields& f, Config& config) const {
  const Field* user = Get(f, "user");
  const Field* group = Get(f, "group");
  if (user == nullptr) {
    // Root keeping uid 0 with another group would look dropped and not be.
    if (group != nullptr) return Error(group->key_node, "group", "needs 'user'");
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> u = String(user->value, "user");
  if (!u.ok()) return u.status();
  absl::StatusOr<RunAsConfig> r = LookUpUser(*u);
  if (!r.ok()) return Error(user->value, "user", ToStd(r.status().message()));
  if (group != nullptr) {
    absl::StatusOr<std::string> g = String(group->value, "group");
    if (!g.ok()) return g.status();
    absl::StatusOr<gid_t> gid = LookUpGroup(*g);
    if (!gid.ok()) return Error(group->value, "group", ToStd(gid.status().message()));
    r->group = *g;
    r->gid = *gid;
  } else if (r->gid == 0) {
    return Error(user->value, "user",
                 fmt::format("the primary group of '{}' is gid 0, root's group: set 'group' "
                             "to an unprivileged one", *u));
  }
  config.run_as = std::move(*r);
  return absl::OkStatus();
}

std::string Parser::ResolvePath(const std::string& p) const {
  std::filesystem::path path(p);
  if (path.is_absolute() || base_dir_.empty()) return p;
  return (std::filesystem::path(base_dir_) / path).string();
}

}  // namespace config_internal

absl::StatusOr<absl::Duration> ParseConfigDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        fmt::format("bad duration '{}': {}", text, why));
  };
  if (text.empty()) return bad("empty");
  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  while (i < text.size()) {
    int64_t v = 0;
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (i - start >= 9) return bad("number too large");
      v = v * 10 + (text[i] - '0');
      ++i;
    }
    if (i == start) return bad("expected a number, e.g. 30s, 500ms, 2m, 1h");
    size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit == "ms") {
      total += absl::Milliseconds(v);
    } else if (unit == "s") {
      total += absl::Seconds(v);
    } else if (unit == "m") {
      total += absl::Minutes(v);
    } else if (unit == "h") {
      total += absl::Hours(v);
    } else if (unit == "d") {
      total += absl::Hours(24 * v);
    } else if (unit.empty()) {
      return bad("missing unit (ms, s, m, h or d), e.g. 30s");
    } else {
      return bad(fmt::format("unknown unit '{}' (ms, s, m, h or d)", unit));
    }
  }
  if (total <= absl::ZeroDuration()) return bad("must be more than zero");
  if (total > absl::Hours(24 * 365)) return bad("longer than a year");
  return total;
}

std::string FormatConfigDuration(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(d);
  if (ms % 1000 != 0) return fmt::format("{}ms", ms);
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 3600) out += fmt::format("{}h", s / 3600);
  if (s % 3600 >= 60) out += fmt::format("{}m", s % 3600 / 60);
  if (s % 60 != 0 || out.empty()) out += fmt::format("{}s", s % 60);
  return out;
}

std::optional<TsigKey> TsigKeyFromConfig(const TsigKeyConfig& k) {
  std::optional<TsigAlgorithm> alg = ParseTsigAlgorithm(k.algorithm);
  if (!alg) return std::nullopt;
  return TsigKey{k.name, *alg, std::vector<uint8_t>(k.secret.begin(), k.secret.end())};
}

std::optional<TsigKey> FindTsigKeyConfig(const Config& config, const std::optional<Name>& name) {
  if (!name) return std::nullopt;
  const TsigKeyConfig* k = config.FindKey(*name);
  return k != nullptr ? TsigKeyFromConfig(*k) : std::nullopt;
}

absl::StatusOr<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64 length is not a multiple of 4");
  }
  std::vector<uint8_t> bytes;
  if (!xfr::DecodeBase64(text, bytes)) {
    return absl::InvalidArgumentError(
        "invalid base64 character or padding (RFC 4648 §4)");
  }
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace xfr
