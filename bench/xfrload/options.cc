#include "bench/xfrload/options.h"

#include <charconv>
#include <cmath>

#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr::load {
namespace {

absl::Status Bad(std::string_view option, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", option, why));
}

template <typename T>
absl::StatusOr<T> ParseUnsigned(std::string_view option, std::string_view text,
                                T min, T max) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Bad(option, fmt::format("'{}' is not a number", text));
  }
  if (v < min || v > max) {
    return Bad(option, fmt::format("{} is outside {}..{}", v, min, max));
  }
  return v;
}

absl::StatusOr<absl::Duration> ParseSeconds(std::string_view option,
                                            std::string_view text) {
  // Seconds, possibly fractional ("0.5").
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v <= 0 ||
      v > 86400) {
    return Bad(option, fmt::format("'{}' is not a duration in seconds (0..86400]", text));
  }
  return absl::Seconds(v);
}

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
  }
  return "?";
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
  --json                  print one JSON object
Exit status: 0 when every request verified, 1 on any error, 2 on bad usage.
)";
}

absl::StatusOr<SecondariesOptions> ParseSecondariesOptions(
    const std::vector<std::string>& args) {
  SecondariesOptions o;
  bool have_target = false, have_zone = false;
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
    } else if (opt == "--fresh-connections") {
      o.fresh_connections = true;
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
  if (!have_target) return Bad("--target", "is required");
  if (!have_zone) return Bad("--zone", "is required");
  for (const IpAddress& s : o.sources) {
    if (s.is_v4() != o.target.ip().is_v4()) {
      return Bad("--source", fmt::format("{} is not of the target's address family",
                                         s.ToString()));
    }
  }
  if (o.concurrency > o.count) o.concurrency = o.count;
  if (!o.duration && !o.requests) o.requests = o.count;
  return o;
}

}  // namespace xfr::load
