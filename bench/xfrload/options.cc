#include "bench/xfrload/options.h"

#include "bench/xfrload/args.h"
#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr::load {
namespace {

// "127.0.0.2", "127.0.0.2,127.0.0.3" or the IPv4 range "127.0.0.2-127.0.0.40".
absl::Status ParseSources(std::string_view text, std::vector<IpAddress>& out) {
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      auto ip = IpAddress::Parse(item);
      if (!ip.ok()) return Bad("--source", ToStd(ip.status().message()));
      out.push_back(*ip);
      continue;
    }
    auto first = IpAddress::Parse(item.substr(0, dash));
    auto last = IpAddress::Parse(item.substr(dash + 1));
    if (!first.ok() || !last.ok() || !first->is_v4() || !last->is_v4()) {
      return Bad("--source", fmt::format("'{}' is not an IPv4 range", item));
    }
    auto to_u32 = [](const IpAddress& ip) {
      auto b = ip.v4_bytes();
      return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
    };
    uint32_t lo = to_u32(*first), hi = to_u32(*last);
    if (lo > hi || hi - lo >= 65536) {
      return Bad("--source", fmt::format("range '{}' is empty or too large", item));
    }
    for (uint64_t v = lo; v <= hi; ++v) {
      out.push_back(IpAddress::V4({static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                                   static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view ModeName(Mode m) {
  switch (m) {
    case Mode::kSoa: return "soa";
    case Mode::kIxfr: return "ixfr";
    case Mode::kAxfr: return "axfr";
    case Mode::kMixed: return "mixed";
    case Mode::kNotify: return "notify";
  }
  return "?";
}

namespace {

uint32_t V4Value(const IpAddress& ip) {
  auto b = ip.v4_bytes();
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

// The N listen addresses must exist: IPv4 ones stay inside 127.0.0.0/8
// when they start there (and never wrap), IPv6 ports stay below 65536.
absl::Status CheckListenRange(const SocketAddress& base, uint32_t count) {
  if (base.ip().is_v4()) {
    uint32_t first = V4Value(base.ip());
    uint64_t last = uint64_t{first} + count - 1;
    uint64_t limit = (first >> 24) == 127 ? 0x7fffffffu : 0xffffffffu;
    if (last > limit) {
      return Bad("--listen-notify",
                 fmt::format("{} secondaries from {} run past {}", count,
                             base.ip().ToString(),
                             limit == 0x7fffffffu ? "127.255.255.255" : "255.255.255.255"));
    }
    return absl::OkStatus();
  }
  if (uint32_t{base.port()} + count - 1 > 65535) {
    return Bad("--listen-notify",
               fmt::format("{} secondaries from port {} run past port 65535 (IPv6 "
                           "secondaries share the address and take one port each)",
                           count, base.port()));
  }
  return absl::OkStatus();
}

}  // namespace

SocketAddress NotifyListenAddress(const SocketAddress& base, uint32_t i) {
  if (!base.ip().is_v4()) {
    return SocketAddress(base.ip(), static_cast<uint16_t>(base.port() + i));
  }
  uint32_t v = V4Value(base.ip()) + i;
  return SocketAddress(IpAddress::V4({static_cast<uint8_t>(v >> 24),
                                      static_cast<uint8_t>(v >> 16),
                                      static_cast<uint8_t>(v >> 8),
                                      static_cast<uint8_t>(v)}),
                       base.port());
}

std::string SecondariesConfigYaml(const SecondariesOptions& o) {
  std::string out = "secondaries:\n";
  if (!o.listen_notify) return out;
  std::string key;
  if (o.tsig) {
    std::string name = o.tsig->name.ToText();
    if (name.size() > 1 && name.back() == '.') name.pop_back();
    key = fmt::format(", key: \"{}\"", name);
  }
  for (uint32_t i = 0; i < o.count; ++i) {
    out += fmt::format("  - {{address: \"{}\"{}}}\n",
                       NotifyListenAddress(*o.listen_notify, i).ToString(), key);
  }
  return out;
}

std::string SecondariesUsage() {
  return R"(usage: xfrload secondaries --target ADDR:PORT --zone ZONE [options]
  --count N               simulated secondaries (default 1)
  --mode soa|ixfr|axfr|mixed
                          soa: SOA polls over UDP; ixfr/axfr: transfers over
                          TCP; mixed: each secondary cycles SOA, IXFR, AXFR
  --serial S              the serial every secondary claims (IXFR)
  --serial-spread K       secondary i claims (S - i mod K); without --serial,
                          S is the server's current serial
  --duration SECS         stop issuing requests after SECS
  --requests M            stop after M requests (default: N)
  --concurrency C         requests in flight at once (default 1, at most N)
  --pipeline              reuse each secondary's TCP connection (default)
  --fresh-connections     one TCP connection per transfer
  --tsig NAME:ALG:BASE64  sign queries, verify every answer message
  --source ADDRS          local addresses: A, A,B or A-B (IPv4 range)
  --timeout SECS          per-request limit (default 30)
  --threads T             event loops, each on its own thread and io_uring,
                          sharing the secondaries (default 1)
  --json                  print one JSON object
NOTIFY-driven secondaries (instead of --mode):
  --listen-notify A:P     secondary i listens for NOTIFY on its own address:
                          IPv4 A+i port P (e.g. 127.1.0.0:5400 gives
                          127.1.0.0, 127.1.0.1, ...), or IPv6 A port P+i.
                          On a NOTIFY for the zone it answers, queries the
                          target's SOA over UDP and, when the serial is
                          newer, transfers with IXFR from its own serial
                          (AXFR when it has none, or when IXFR is refused)
  --serial none           start without the zone (AXFR at start-up)
  --expect-serial S       end once every secondary holds S or newer (by
                          --duration at the latest, default 120 s)
  --print-config          print the secondaries: YAML list for xfrproxy
                          with the N addresses, and exit
  With --listen-notify, --concurrency caps the checks in flight (default
  N), connections are fresh unless --pipeline, and the run needs
  --expect-serial or --duration to end.
Exit status: 0 when every request verified, 1 on any error, 2 on bad usage.
)";
}

absl::StatusOr<SecondariesOptions> ParseSecondariesOptions(
    const std::vector<std::string>& args) {
  SecondariesOptions o;
  bool have_target = false, have_zone = false, have_mode = false;
  bool have_concurrency = false, have_connection_style = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& opt = args[i];
    auto value = [&]() -> absl::StatusOr<std::string_view> {
      if (i + 1 >= args.size()) return Bad(opt, "needs a value");
      return std::string_view(args[++i]);
    };
    absl::Status st;
    if (opt == "--json") {
      o.json = true;
    } else if (opt == "--pipeline") {
      o.fresh_connections = false;
      have_connection_style = true;
    } else if (opt == "--fresh-connections") {
      o.fresh_connections = true;
      have_connection_style = true;
    } else if (opt == "--print-config") {
      o.print_config = true;
    } else {
      auto v = value();
      if (!v.ok()) return v.status();
      if (opt == "--target") {
        auto a = SocketAddress::Parse(*v);
        if (!a.ok()) return Bad(opt, ToStd(a.status().message()));
        o.target = *a;
        have_target = true;
      } else if (opt == "--zone") {
        std::string text(*v);
        if (text.empty() || text.back() != '.') text += '.';
        auto n = Name::FromText(text);
        if (!n.ok()) return Bad(opt, ToStd(n.status().message()));
        o.zone = *n;
        have_zone = true;
      } else if (opt == "--count") {
        auto n = ParseUnsigned<uint32_t>(opt, *v, 1, 10'000'000);
        if (!n.ok()) return n.status();
        o.count = *n;
      } else if (opt == "--mode") {
        have_mode = true;
        if (*v == "soa") {
          o.mode = Mode::kSoa;
        } else if (*v == "ixfr") {
          o.mode = Mode::kIxfr;
        } else if (*v == "axfr") {
          o.mode = Mode::kAxfr;
        } else if (*v == "mixed") {
          o.mode = Mode::kMixed;
        } else {
          return Bad(opt, fmt::format("'{}' is not soa, ixfr, axfr or mixed", *v));
        }
      } else if (opt == "--serial" && *v == "none") {
        o.start_empty = true;
      } else if (opt == "--serial") {
        auto n = ParseUnsigned<uint32_t>(opt, *v, 0, UINT32_MAX);
        if (!n.ok()) return n.status();
        o.serial = Serial(*n);
      } else if (opt == "--serial-spread") {
        auto n = ParseUnsigned<uint32_t>(opt, *v, 1, 0x7fffffff);
        if (!n.ok()) return n.status();
        o.serial_spread = *n;
      } else if (opt == "--duration") {
        auto d = ParseSeconds(opt, *v);
        if (!d.ok()) return d.status();
        o.duration = *d;
      } else if (opt == "--timeout") {
        auto d = ParseSeconds(opt, *v);
        if (!d.ok()) return d.status();
        o.timeout = *d;
      } else if (opt == "--requests") {
        auto n = ParseUnsigned<uint64_t>(opt, *v, 1, uint64_t{1} << 40);
        if (!n.ok()) return n.status();
        o.requests = *n;
      } else if (opt == "--concurrency") {
        auto n = ParseUnsigned<uint32_t>(opt, *v, 1, 1'000'000);
        if (!n.ok()) return n.status();
        o.concurrency = *n;
        have_concurrency = true;
      } else if (opt == "--threads") {
        auto n = ParseUnsigned<uint32_t>(opt, *v, 1, 64);
        if (!n.ok()) return n.status();
        o.threads = *n;
      } else if (opt == "--listen-notify") {
        auto a = SocketAddress::Parse(*v);
        if (!a.ok()) return Bad(opt, ToStd(a.status().message()));
        o.listen_notify = *a;
      } else if (opt == "--expect-serial") {
        auto n = ParseUnsigned<uint32_t>(opt, *v, 0, UINT32_MAX);
        if (!n.ok()) return n.status();
        o.expect_serial = Serial(*n);
      } else if (opt == "--tsig") {
        // NAME:ALG:BASE64; base64 has no ':', so split at the first two.
        size_t a = v->find(':');
        size_t b = a == std::string_view::npos ? a : v->find(':', a + 1);
        if (b == std::string_view::npos) return Bad(opt, "expected NAME:ALG:BASE64");
        auto key = MakeTsigKey(v->substr(0, a), v->substr(a + 1, b - a - 1),
                               v->substr(b + 1));
        if (!key.ok()) return Bad(opt, ToStd(key.status().message()));
        o.tsig = *std::move(key);
      } else if (opt == "--source") {
        st = ParseSources(*v, o.sources);
      } else {
        return Bad(opt, "unknown option");
      }
    }
    if (!st.ok()) return st;
  }
  if (o.print_config) {
    // Only the addresses matter: no target or zone is needed to print them.
    if (!o.listen_notify) return Bad("--print-config", "needs --listen-notify");
    if (absl::Status st = CheckListenRange(*o.listen_notify, o.count); !st.ok()) return st;
    return o;
  }
  if (!have_target) return Bad("--target", "is required");
  if (!have_zone) return Bad("--zone", "is required");
  if (o.threads > o.count) o.threads = o.count;
  if (o.listen_notify) {
    if (have_mode) return Bad("--mode", "does not apply with --listen-notify");
    if (o.requests) return Bad("--requests", "does not apply with --listen-notify");
    if (!o.sources.empty()) {
      return Bad("--source", "does not apply with --listen-notify (each secondary "
                             "sends from its own listen address)");
    }
    if (o.listen_notify->ip().is_v4() != o.target.ip().is_v4()) {
      return Bad("--listen-notify", "is not of the target's address family");
    }
    if (absl::Status st = CheckListenRange(*o.listen_notify, o.count); !st.ok()) return st;
    if (!o.expect_serial && !o.duration) {
      return Bad("--listen-notify", "needs --expect-serial or --duration, so that the run "
                                    "ends with a report");
    }
    if (o.expect_serial && !o.duration) o.duration = absl::Seconds(120);
    o.mode = Mode::kNotify;
    if (!have_concurrency) o.concurrency = o.count;
    if (!have_connection_style) o.fresh_connections = true;
  } else {
    if (o.expect_serial) return Bad("--expect-serial", "needs --listen-notify");
    if (o.start_empty) return Bad("--serial", "none needs --listen-notify");
  }
  for (const IpAddress& s : o.sources) {
    if (s.is_v4() != o.target.ip().is_v4()) {
      return Bad("--source", fmt::format("{} is not of the target's address family",
                                         s.ToString()));
    }
  }
  if (o.concurrency > o.count) o.concurrency = o.count;
  if (o.mode != Mode::kNotify && !o.duration && !o.requests) o.requests = o.count;
  return o;
}

}  // namespace xfr::load
