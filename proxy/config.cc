#include "proxy/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/config_parser.h"
#include "yaml-cpp/yaml.h"

namespace xfr {
namespace config_internal {

absl::Status Parser::ParseKeys(const YAML::Node& n, Config& config) const {
  if (absl::Status s = Sequence(n, "keys"); !s.ok()) return s;
  size_t i = 0;
  for (auto it = n.begin(); it != n.end(); ++it, ++i) {
    std::string path = Index("keys", i);
    absl::StatusOr<Fields> f =
        MapFields(*it, path, {"name", "algorithm", "secret"});
    if (!f.ok()) return f.status();
    TsigKeyConfig key;
    for (std::string_view k : {"name", "algorithm", "secret"}) {
      if (Get(*f, k) == nullptr) {
        return Error(*it, path, fmt::format("missing '{}'", k));
      }
    }
    const Field* name = Get(*f, "name");
    absl::StatusOr<Name> kn = DomainName(name->value, Join(path, "name"));
    if (!kn.ok()) return kn.status();
    if (config.FindKey(*kn) != nullptr) {
      return Error(name->value, Join(path, "name"),
                   fmt::format("duplicate key name '{}'", kn->ToText()));
    }
    key.name = *kn;

    const Field* alg = Get(*f, "algorithm");
    absl::StatusOr<std::string> at =
        String(alg->value, Join(path, "algorithm"));
    if (!at.ok()) return at.status();
    // Accept the RFC 8945 §6 spelling with a final dot and any case.
    std::string_view a = *at;
    if (!a.empty() && a.back() == '.') a.remove_suffix(1);
    for (std::string_view known : kTsigAlgorithms) {
      if (EqualsIgnoreCase(a, known)) key.algorithm = std::string(known);
    }
    if (key.algorithm.empty()) {
      return Error(alg->value, Join(path, "algorithm"),
                   fmt::format("unsupported algorithm '{}' (expected one of "
                               "hmac-sha1, hmac-sha224, hmac-sha256, "
                               "hmac-sha384, hmac-sha512)",
                               *at));
    }

    const Field* sec = Get(*f, "secret");
    absl::StatusOr<std::string> st = String(sec->value, Join(path, "secret"));
    if (!st.ok()) return st.status();
    absl::StatusOr<std::string> bytes = DecodeBase64(*st);
    if (!bytes.ok()) {
      // The secret itself is never echoed into logs.
      return Error(sec->value, Join(path, "secret"),
                   fmt::format("bad secret: {}",
                               ToStd(bytes.status().message())));
    }
    if (bytes->empty()) {
      return Error(sec->value, Join(path, "secret"), "empty secret");
    }
    key.secret = std::move(*bytes);
    config.keys.push_back(std::move(key));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseLimits(const YAML::Node& n,
                                 LimitsConfig& limits) const {
  absl::StatusOr<Fields> f = MapFields(
      n, "limits",
      {"tcp-connections", "tcp-connections-per-ip", "tcp-idle-timeout",
       "tcp-write-timeout", "max-concurrent-transfers",
       "upstream-query-timeout", "upstream-connect-timeout",
       "upstream-idle-timeout", "upstream-transfer-timeout"});
  if (!f.ok()) return f.status();
  for (const Field& field : *f) {
    std::string path = Join("limits", field.key);
    auto u32 = [&](uint32_t& out, uint64_t max) -> absl::Status {
      absl::StatusOr<uint64_t> v = UInt(field.value, path, 1, max);
      if (!v.ok()) return v.status();
      out = static_cast<uint32_t>(*v);
      return absl::OkStatus();
    };
    auto dur = [&](absl::Duration& out) -> absl::Status {
      absl::StatusOr<absl::Duration> d = Duration(field.value, path);
      if (!d.ok()) return d.status();
      out = *d;
      return absl::OkStatus();
    };
    absl::Status s;
    if (field.key == "tcp-connections") {
      s = u32(limits.tcp_connections, 10'000'000);
    } else if (field.key == "tcp-connections-per-ip") {
      s = u32(limits.tcp_connections_per_ip, 10'000'000);
    } else if (field.key == "max-concurrent-transfers") {
      s = u32(limits.max_concurrent_transfers, 10'000'000);
    } else if (field.key == "tcp-idle-timeout") {
      s = dur(limits.tcp_idle_timeout);
    } else if (field.key == "tcp-write-timeout") {
      s = dur(limits.tcp_write_timeout);
    } else if (field.key == "upstream-query-timeout") {
      s = dur(limits.upstream_query_timeout);
    } else if (field.key == "upstream-connect-timeout") {
      s = dur(limits.upstream_connect_timeout);
    } else if (field.key == "upstream-idle-timeout") {
      s = dur(limits.upstream_idle_timeout);
    } else if (field.key == "upstream-transfer-timeout") {
      s = dur(limits.upstream_transfer_timeout);
    }
    if (!s.ok()) return s;
  }
  if (limits.tcp_connections_per_ip > limits.tcp_connections) {
    const Field* per_ip = Get(*f, "tcp-connections-per-ip");
    return Error(per_ip != nullptr ? per_ip->value : n,
                 "limits.tcp-connections-per-ip",
                 fmt::format("{} is more than tcp-connections ({})",
                             limits.tcp_connections_per_ip,
                             limits.tcp_connections));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseSecondaries(const YAML::Node& n,
                                      std::string_view path,
                                      const Config& config,
                                      ZoneConfig& zone) const {
  if (absl::Status s = Sequence(n, path); !s.ok()) return s;
  size_t i = 0;
  for (auto it = n.begin(); it != n.end(); ++it, ++i) {
    std::string p = Index(path, i);
    absl::StatusOr<Fields> f = MapFields(*it, p, {"address", "key", "notify"});
    if (!f.ok()) return f.status();
    SecondaryConfig sec;
    const Field* addr = Get(*f, "address");
    if (addr == nullptr) return Error(*it, p, "missing 'address'");
    absl::StatusOr<SocketAddress> a =
        Address(addr->value, Join(p, "address"), 53);
    if (!a.ok()) return a.status();
    for (const SecondaryConfig& other : zone.secondaries) {
      if (other.address == *a) {
        return Error(addr->value, Join(p, "address"),
                     fmt::format("duplicate secondary {}", a->ToString()));
      }
    }
    sec.address = *a;
    if (const Field* key = Get(*f, "key")) {
      absl::StatusOr<Name> k = KeyRef(key->value, Join(p, "key"), config);
      if (!k.ok()) return k.status();
      sec.key = *k;
    }
    if (const Field* notify = Get(*f, "notify")) {
      absl::StatusOr<bool> b = Bool(notify->value, Join(p, "notify"));
      if (!b.ok()) return b.status();
      sec.notify = *b;
    }
    zone.secondaries.push_back(std::move(sec));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseProxied(const YAML::Node& n, std::string_view path,
                                  ZoneConfig& zone) const {
  absl::StatusOr<Fields> f =
      MapFields(n, path, {"names", "edge-v4", "edge-v6", "ttl"});
  if (!f.ok()) return f.status();
  ProxiedConfig px;
  const Field* names = Get(*f, "names");
  if (names == nullptr) return Error(n, path, "missing 'names'");
  std::string names_path = Join(path, "names");
  if (absl::Status s = Sequence(names->value, names_path); !s.ok()) return s;
  if (names->value.size() == 0) {
    return Error(names->value, names_path, "empty list");
  }
  size_t i = 0;
  for (auto it = names->value.begin(); it != names->value.end(); ++it, ++i) {
    std::string p = Index(names_path, i);
    absl::StatusOr<std::string> text = String(*it, p);
    if (!text.ok()) return text.status();
    ProxiedName pn;
    std::string_view t = *text;
    if (t.substr(0, 2) == "*.") {
      pn.wildcard = true;
      t.remove_prefix(2);
    }
    if (t.find('*') != std::string_view::npos) {
      return Error(*it, p,
                   fmt::format("bad name '{}': '*' is only allowed as the "
                               "whole first label ('*.suffix')",
                               *text));
    }
    Name root;
    absl::StatusOr<Name> name =
        t.empty() ? absl::InvalidArgumentError("empty name")
                  : Name::FromText(t, &root);
    if (!name.ok()) {
      return Error(*it, p,
                   fmt::format("bad name '{}': {}", *text,
                               ToStd(name.status().message())));
    }
    if (!name->view().IsSubdomainOf(zone.name)) {
      return Error(*it, p,
                   fmt::format("'{}' is outside the zone {}", *text,
                               zone.name.ToText()));
    }
    pn.name = *name;
    px.names.push_back(std::move(pn));
  }

  auto edges = [&](std::string_view key, bool v4,
                   std::vector<IpAddress>& out) -> absl::Status {
    const Field* e = Get(*f, key);
    if (e == nullptr) return absl::OkStatus();
    std::string ep = Join(path, key);
    if (absl::Status s = Sequence(e->value, ep); !s.ok()) return s;
    size_t j = 0;
    for (auto it = e->value.begin(); it != e->value.end(); ++it, ++j) {
      std::string p = Index(ep, j);
      absl::StatusOr<std::string> text = String(*it, p);
      if (!text.ok()) return text.status();
      absl::StatusOr<IpAddress> ip = IpAddress::Parse(*text);
      if (!ip.ok()) return Error(*it, p, ToStd(ip.status().message()));
      // A v4-mapped address in edge-v6 would become an AAAA that no client
      // can use as IPv6.
      if (v4 != ip->is_v4() || (!v4 && ip->IsV4Mapped())) {
        return Error(*it, p,
                     fmt::format("'{}' is not an {} address", *text,
                                 v4 ? "IPv4" : "IPv6"));
      }
      for (const IpAddress& other : out) {
        // Duplicate records in one RRset are not allowed (RFC 2181 §5).
        if (other == *ip) {
          return Error(*it, p, fmt::format("duplicate address {}", *text));
        }
      }
      out.push_back(*ip);
    }
    return absl::OkStatus();
  };
  if (absl::Status s = edges("edge-v4", true, px.edge_v4); !s.ok()) return s;
  if (absl::Status s = edges("edge-v6", false, px.edge_v6); !s.ok()) return s;
  if (px.edge_v4.empty() && px.edge_v6.empty()) {
    return Error(n, path,
                 "needs at least one edge address in 'edge-v4' or 'edge-v6'");
  }
  if (const Field* ttl = Get(*f, "ttl")) {
    // RFC 2181 §8: a TTL is 0..2^31-1.
    absl::StatusOr<uint64_t> v =
        UInt(ttl->value, Join(path, "ttl"), 0, 0x7fffffff);
    if (!v.ok()) return v.status();
    px.ttl = static_cast<uint32_t>(*v);
  }
  zone.proxied = std::move(px);
  return absl::OkStatus();
}

absl::Status Parser::ParseZone(const YAML::Node& n, std::string_view path,
                               const Config& config, ZoneConfig& zone,
                               YAML::Mark& name_mark) const {
  absl::StatusOr<Fields> f = LayeredZoneFields(n, path, config, zone);
  if (!f.ok()) return f.status();
  return ParseZoneFields(n, path, *f, config, zone, name_mark, false);
}

absl::Status Parser::ParseZoneFields(const YAML::Node& n,
                                     std::string_view path, const Fields& f,
                                     const Config& config, ZoneConfig& zone,
                                     YAML::Mark& name_mark,
                                     bool is_template) const {
  zone.origin = Where(n, path);
  if (!is_template) {
    const Field* name = Get(f, "name");
    if (name == nullptr) return Error(n, path, "missing 'name'");
    name_mark = name->value.Mark();
    absl::StatusOr<Name> zn = DomainName(name->value, name->path);
    if (!zn.ok()) return zn.status();
    zone.name = *zn;
  }

  const Field* primaries = Get(f, "primaries");
  const Field* file = Get(f, "file");
  const Field* catalog = Get(f, "catalog");
  if (catalog != nullptr) {
    if (absl::Status s = ParseCatalogRole(f, path, zone); !s.ok()) return s;
  } else if (primaries != nullptr && file != nullptr) {
    const Field* later =
        primaries->key_node.Mark().pos > file->key_node.Mark().pos ? primaries
                                                                   : file;
    return Error(later->key_node, path,
                 "'primaries' and 'file' are exclusive: a zone is either "
                 "transferred from primaries or read from a file");
  }
  if (primaries == nullptr && file == nullptr && catalog == nullptr && !is_template) {
    return Error(n, path, "needs 'primaries' (to transfer the zone), "
                          "'file' (to serve a master file) or 'catalog: produce'");
  }
  if (catalog != nullptr) {
    // Checked above: no source of data.
  } else if (primaries != nullptr) {
    const std::string& pp = primaries->path;
    if (absl::Status s = Sequence(primaries->value, pp); !s.ok()) return s;
    if (primaries->value.size() == 0) {
      return Error(primaries->value, pp, "empty list");
    }
    size_t i = 0;
    for (auto it = primaries->value.begin(); it != primaries->value.end();
         ++it, ++i) {
      absl::StatusOr<SocketAddress> a = Address(*it, Index(pp, i), 53);
      if (!a.ok()) return a.status();
      for (const SocketAddress& other : zone.primaries) {
        if (other == *a) {
          return Error(*it, Index(pp, i),
                       fmt::format("duplicate primary {}", a->ToString()));
        }
      }
      zone.primaries.push_back(*a);
    }
  } else if (file != nullptr) {
    absl::StatusOr<std::string> p = String(file->value, file->path);
    if (!p.ok()) return p.status();
    if (p->empty()) return Error(file->value, file->path, "empty path");
    if (is_template || file->from_template) {
      absl::Status s = TemplateFile(*file, *p, zone, is_template);
      if (!s.ok()) return s;
    } else {
      zone.file = ResolvePath(*p);
    }
    zone.file_origin = Where(file->value, file->path);
  }

  // Settings that only mean something for a transferred zone are refused on
  // a file zone rather than ignored.
  for (std::string_view k : {"primary-key", "notify-from", "notify-key"}) {
    const Field* fld = Get(f, k);
    if (fld != nullptr && file != nullptr) {
      return Error(fld->key_node, fld->path,
                   "only applies to a zone with 'primaries'");
    }
  }
  if (const Field* pk = Get(f, "primary-key")) {
    absl::StatusOr<Name> k = KeyRef(pk->value, pk->path, config);
    if (!k.ok()) return k.status();
    zone.primary_key = *k;
  }
  if (const Field* nk = Get(f, "notify-key")) {
    const std::string& np = nk->path;
    absl::StatusOr<std::string> v = String(nk->value, np);
    if (!v.ok()) return v.status();
    if (*v == "required") {
      zone.notify_key_required = true;
    } else if (*v != "optional") {
      return Error(nk->value, np,
                   fmt::format("'{}' is neither 'required' nor 'optional'", *v));
    }
    if (zone.notify_key_required && !zone.primary_key) {
      // Nothing could ever pass: every NOTIFY would be refused and the zone
      // would only follow the primary by polling.
      return Error(nk->key_node, np,
                   "'required' needs 'primary-key': NOTIFYs must be signed "
                   "with the zone's primary-key");
    }
  }
  if (const Field* nf = Get(f, "notify-from")) {
    absl::StatusOr<CidrSet> set = Cidrs(nf->value, nf->path);
    if (!set.ok()) return set.status();
    zone.notify_from = std::move(*set);
  } else {
    for (const SocketAddress& p : zone.primaries) {
      zone.notify_from.Add(Cidr::Host(p.ip()));
    }
  }
  if (const Field* sec = Get(f, "secondaries")) {
    absl::Status s =
        ParseSecondaries(sec->value, sec->path, config, zone);
    if (!s.ok()) return s;
  }
  if (const Field* at = Get(f, "allow-transfer")) {
    absl::StatusOr<CidrSet> set = Cidrs(at->value, at->path);
    if (!set.ok()) return set.status();
    zone.allow_transfer = std::move(*set);
    zone.allow_transfer_explicit = true;
  } else {
    for (const SecondaryConfig& s : zone.secondaries) {
      if (!zone.allow_transfer.Contains(s.address.ip())) {
        zone.allow_transfer.Add(Cidr::Host(s.address.ip()));
      }
    }
  }
  if (const Field* j = Get(f, "journal")) {
    const std::string& jp = j->path;
    absl::StatusOr<Fields> jf = MapFields(j->value, jp, {"max-diffs"});
    if (!jf.ok()) return jf.status();
    if (const Field* md = Get(*jf, "max-diffs")) {
      absl::StatusOr<uint64_t> v =
          UInt(md->value, Join(jp, "max-diffs"), 0, 1'000'000);
      if (!v.ok()) return v.status();
      zone.journal_max_diffs = static_cast<uint32_t>(*v);
    }
  }
  if (const Field* mr = Get(f, "max-records")) {
    // At least the SOA, and a bound that keeps counts in 32 bits.
    absl::StatusOr<uint64_t> v =
        UInt(mr->value, mr->path, 1, 4'000'000'000);
    if (!v.ok()) return v.status();
    zone.max_records = *v;
  }
  if (const Field* px = Get(f, "proxied")) {
    absl::Status s = ParseProxied(px->value, px->path, zone);
    if (!s.ok()) return s;
  }
  if (const Field* ns = Get(f, "notify-source")) {
    absl::StatusOr<SourceConfig> src =
        Source(ns->value, ns->path, /*allow_port=*/true);
    if (!src.ok()) return src.status();
    zone.notify_source = *src;
  }
  if (const Field* ts = Get(f, "transfer-source")) {
    absl::StatusOr<SourceConfig> src =
        Source(ts->value, ts->path, /*allow_port=*/false);
    if (!src.ok()) return src.status();
    zone.transfer_source = *src;
  }
  zone.verify_peers = config.verify_peers;
  if (const Field* vp = Get(f, "verify-peers")) {
    absl::StatusOr<bool> b = Bool(vp->value, vp->path);
    if (!b.ok()) return b.status();
    zone.verify_peers = *b;
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseControl(const Fields& f, Config& config) const {
  const Field* c = Get(f, "control");
  const Field* sd = Get(f, "state-dir");
  if (c != nullptr) {
    absl::StatusOr<std::string> p = String(c->value, "control");
    if (!p.ok()) return p.status();
    if (p->empty()) return Error(c->value, "control", "empty path");
    config.control_socket = ResolvePath(*p);
  } else if (!config.state_dir.empty()) {
    config.control_socket = config.state_dir + "/control";
  }
  // unix(7): sun_path holds 107 bytes and a NUL; a longer path cannot be
  // bound, and the daemon must not find that out only at start.
  constexpr size_t kMaxSocketPath = 107;
  if (config.control_socket.size() > kMaxSocketPath) {
    return Error(c != nullptr ? c->value : sd->value, c != nullptr ? "control" : "state-dir",
                 fmt::format("the control socket path '{}' is {} bytes, over the {} a Unix "
                             "socket allows{}",
                             config.control_socket, config.control_socket.size(),
                             kMaxSocketPath,
                             c != nullptr ? "" : " (set `control:` to a shorter path)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> Parser::Parse(const YAML::Node& root) {
  if (!root.IsDefined() || root.IsNull()) {
    return ErrorAt(YAML::Mark::null_mark(), "", "empty configuration");
  }
  absl::StatusOr<Fields> f =
      MapFields(root, "", {"listen", "http", "state-dir", "threads", "keys",
                           "zones", "limits", "notify-source",
                           "transfer-source", "verify-peers", "control", "user",
                           "group", "log", "templates", "metrics",
                           "produce-catalog"});
  if (!f.ok()) return f.status();
  Config config;
  config.path = display_name_;

  const Field* listen = Get(*f, "listen");
  if (listen == nullptr) return Error(root, "", "missing 'listen'");
  if (absl::Status s = Sequence(listen->value, "listen"); !s.ok()) return s;
  if (listen->value.size() == 0) {
    return Error(listen->value, "listen", "empty list");
  }
  size_t i = 0;
  for (auto it = listen->value.begin(); it != listen->value.end(); ++it, ++i) {
    absl::StatusOr<SocketAddress> a = Address(*it, Index("listen", i), 53);
    if (!a.ok()) return a.status();
    for (const SocketAddress& other : config.listen) {
      if (other == *a) {
        return Error(*it, Index("listen", i),
                     fmt::format("duplicate address {}", a->ToString()));
      }
    }
    config.listen.push_back(*a);
  }
  if (const Field* http = Get(*f, "http")) {
    absl::StatusOr<SocketAddress> a = Address(http->value, "http", {});
    if (!a.ok()) return a.status();
    config.http = *a;
  }
  if (const Field* sd = Get(*f, "state-dir")) {
    absl::StatusOr<std::string> p = String(sd->value, "state-dir");
    if (!p.ok()) return p.status();
    if (p->empty()) return Error(sd->value, "state-dir", "empty path");
    config.state_dir = ResolvePath(*p);
  }
  if (absl::Status s = ParseControl(*f, config); !s.ok()) return s;
  if (absl::Status s = ParseRunAs(*f, config); !s.ok()) return s;
  unsigned cores = std::thread::hardware_concurrency();
  config.threads = cores == 0 ? 1 : static_cast<int>(cores);
  if (const Field* t = Get(*f, "threads")) {
    absl::StatusOr<uint64_t> v = UInt(t->value, "threads", 1, 1024);
    if (!v.ok()) return v.status();
    config.threads = static_cast<int>(*v);
  }
  if (const Field* k = Get(*f, "keys")) {
    if (absl::Status s = ParseKeys(k->value, config); !s.ok()) return s;
  }
  if (const Field* l = Get(*f, "limits")) {
    if (absl::Status s = ParseLimits(l->value, config.limits); !s.ok()) {
      return s;
    }
  }
  if (const Field* l = Get(*f, "log")) {
    if (absl::Status s = ParseLog(l->value, config.log); !s.ok()) return s;
  }
  if (const Field* m = Get(*f, "metrics")) {
    if (absl::Status s = ParseMetrics(m->value, config.metrics); !s.ok()) return s;
  }
  // Zone defaults, read before the zones that inherit them.
  if (const Field* ns = Get(*f, "notify-source")) {
    absl::StatusOr<SourceConfig> src = Source(ns->value, "notify-source", true);
    if (!src.ok()) return src.status();
    config.notify_source = *src;
  }
  if (const Field* ts = Get(*f, "transfer-source")) {
    absl::StatusOr<SourceConfig> src = Source(ts->value, "transfer-source", false);
    if (!src.ok()) return src.status();
    config.transfer_source = *src;
  }
  if (const Field* vp = Get(*f, "verify-peers")) {
    absl::StatusOr<bool> b = Bool(vp->value, "verify-peers");
    if (!b.ok()) return b.status();
    config.verify_peers = *b;
  }
  if (const Field* t = Get(*f, "templates")) {
    if (absl::Status s = ParseTemplates(t->value, config); !s.ok()) return s;
  }
  const Field* zones = Get(*f, "zones");
  if (zones == nullptr) return Error(root, "", "missing 'zones'");
  if (absl::Status s = Sequence(zones->value, "zones"); !s.ok()) return s;
  i = 0;
  for (auto it = zones->value.begin(); it != zones->value.end(); ++it, ++i) {
    std::string path = Index("zones", i);
    ZoneConfig zone;
    YAML::Mark name_mark;
    if (absl::Status s = ParseZone(*it, path, config, zone, name_mark);
        !s.ok()) {
      return s;
    }
    for (size_t j = 0; j < config.zones.size(); ++j) {
      if (config.zones[j].name == zone.name) {
        return ErrorAt(name_mark, Join(path, "name"),
                     fmt::format("duplicate zone '{}' (also zones[{}])",
                                 zone.name.ToText(), j));
      }
    }
    config.zones.push_back(std::move(zone));
  }
  if (absl::Status s = ParseProduceCatalog(*f, config); !s.ok()) return s;
  return config;
}

}  // namespace config_internal

using config_internal::Parser;

const TsigKeyConfig* Config::FindKey(const Name& name) const {
  for (const TsigKeyConfig& k : keys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const ZoneConfig* Config::FindZone(const Name& name) const {
  for (const ZoneConfig& z : zones) {
    if (z.name == name) return &z;
  }
  return nullptr;
}

std::optional<SocketAddress> Config::SourceFor(const ZoneConfig& zone, SourceKind kind,
                                              bool v6) const {
  auto pick = [v6](const SourceConfig& s) { return v6 ? s.v6 : s.v4; };
  bool notify = kind == SourceKind::kNotify;
  if (auto a = pick(notify ? zone.notify_source : zone.transfer_source)) return a;
  if (auto a = pick(notify ? notify_source : transfer_source)) return a;
  std::optional<SocketAddress> only;
  for (const SocketAddress& l : listen) {
    if (l.ip().is_v4() == v6) continue;
    if (only) return std::nullopt;  // several: no way to tell which one
    only = l;
  }
  // A wildcard listener says nothing about which address peers know.
  if (!only || only->ip().bytes() == IpAddress::V6({}).bytes() ||
      (only->ip().is_v4() && only->ip().v4_bytes() == std::array<uint8_t, 4>{})) {
    return std::nullopt;
  }
  return SocketAddress(only->ip(), 0);
}

absl::StatusOr<Config> LoadConfigText(std::string_view text,
                                      std::string_view display_name,
                                      std::string_view base_dir) {
  Parser parser(display_name, base_dir);
  // yaml-cpp reports through exceptions; none may leave this function.
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return parser.Parse(root);
  } catch (const YAML::Exception& e) {
    return parser.ErrorAt(e.mark, "", fmt::format("YAML: {}", e.msg));
  } catch (const std::exception& e) {
    return parser.ErrorAt(YAML::Mark::null_mark(), "",
                          fmt::format("cannot parse: {}", e.what()));
  }
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    return absl::UnavailableError(fmt::format("{}: read error", path));
  }
  std::string base = std::filesystem::path(path).parent_path().string();
  return LoadConfigText(buf.str(), path, base);
}

absl::Status CheckZoneFiles(const Config& config) {
  for (const ZoneConfig& z : config.zones) {
    if (!z.has_file()) continue;
    int fd = ::open(z.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::NotFoundError(fmt::format("{}: cannot read '{}': {}",
                                             z.file_origin, z.file,
                                             std::strerror(errno)));
    }
    struct stat st;
    bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    char byte;
    ssize_t got = regular ? ::read(fd, &byte, 1) : -1;
    int err = errno;
    ::close(fd);
    if (!regular) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: '{}' is not a regular file", z.file_origin, z.file));
    }
    if (got < 0) {
      return absl::UnavailableError(fmt::format(
          "{}: cannot read '{}': {}", z.file_origin, z.file,
          std::strerror(err)));
    }
  }
  return absl::OkStatus();
}

}  // namespace xfr
