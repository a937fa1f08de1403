#include "bench/xfrload/primary_options.h"

#include "bench/xfrload/args.h"
#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr::load {

std::string PrimaryUsage() {
  return R"(usage: xfrload primary --listen ADDR:PORT --zone ZONE [options]
A synthetic primary: serves SOA (UDP, TCP), AXFR and IXFR of a generated zone
that changes at a given rate, and NOTIFYs the given targets after each change.
  --listen ADDR:PORT        UDP and TCP (repeatable)
  --zone ZONE               the zone's name (with --zones: their parent)
  --zones N                 serve N zones, z00001.ZONE ... (each with
                            --records records, own serial and NOTIFYs)
  --change-zones K          zones each change moves, in turn (default 1)
  --zones-config FILE       write the `zones:` list of an xfrproxy config
                            following every zone here ("-": stdout)
  --records N               records of the generated zone (default 1000, min 10)
  --seed N                  the zone's content and changes (default 1)
  --serial S                the first version's serial (default 1)
  --changes-per-second R    versions per second, fractions allowed; 0: a
                            static zone (default 1)
  --changes-per-version K   records added, removed or modified per version
                            (default 10)
  --max-changes N           stop changing after N versions (keep serving)
  --journal N               diffs kept for IXFR (default 100)
  --notify ADDR:PORT        NOTIFY target after each change (repeatable)
  --tsig NAME:ALG:BASE64    transfers must be signed with this key; NOTIFYs
                            are signed with it
  --fault F                 misbehave: truncate (cut transfers mid-message
                            and close), wrong-soa (SOA queries get serial+1),
                            stall (never answer transfers), bad-tsig (break
                            the MAC of signed answers; needs --tsig),
                            notimp-ixfr (IXFR gets NOTIMP)
  --refresh SECS --retry SECS   SOA timers of the zone (default 60, 10)
  --threads N               serving threads (default 1)
  --duration SECS           stop after SECS (default: at SIGINT/SIGTERM)
  --stats-interval SECS     print a JSON stats line every SECS
  --http ADDR:PORT          serve /metrics and /stats (JSON) there
  --quiet                   no line per change
  --json                    lines and totals as JSON
  --verbose                 the engine's log on stderr
SIGUSR1 makes one change at once; SIGINT or SIGTERM stops and prints totals.
)";
}

absl::StatusOr<PrimaryCommand> ParsePrimaryOptions(const std::vector<std::string>& args) {
  PrimaryCommand c;
  PrimaryOptions& o = c.primary;
  bool have_zone = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& opt = args[i];
    if (opt == "--json") {
      c.json = true;
      continue;
    }
    if (opt == "--quiet") {
      c.quiet = true;
      continue;
    }
    if (opt == "--verbose") {
      c.verbose = true;
      continue;
    }
    if (i + 1 >= args.size()) return Bad(opt, "needs a value");
    std::string_view v = args[++i];
    absl::Status st;
    auto take = [&st](auto parsed, auto& into) {
      if (parsed.ok()) {
        into = *parsed;
      } else {
        st = parsed.status();
      }
    };
    if (opt == "--listen") {
      auto a = ParseAddress(opt, v);
      if (a.ok()) o.listen.push_back(*a);
      st = a.status();
    } else if (opt == "--notify") {
      auto a = ParseAddress(opt, v);
      if (a.ok()) o.notify.push_back(*a);
      st = a.status();
    } else if (opt == "--http") {
      take(ParseAddress(opt, v), o.http);
    } else if (opt == "--zone") {
      std::string text(v);
      if (text.empty() || text.back() != '.') text += '.';
      auto n = Name::FromText(text);
      if (!n.ok()) return Bad(opt, ToStd(n.status().message()));
      o.zone = *n;
      have_zone = true;
    } else if (opt == "--zones") {
      take(ParseUnsigned<uint32_t>(opt, v, 1, 10'000'000), o.zones);
    } else if (opt == "--change-zones") {
      take(ParseUnsigned<uint32_t>(opt, v, 1, 10'000'000), o.change_zones);
    } else if (opt == "--zones-config") {
      c.zones_config = std::string(v);
    } else if (opt == "--records") {
      take(ParseUnsigned<uint64_t>(opt, v, kMinGeneratedRecords, 100'000'000), o.records);
    } else if (opt == "--seed") {
      take(ParseUnsigned<uint64_t>(opt, v, 0, UINT64_MAX), o.seed);
    } else if (opt == "--serial") {
      uint32_t s = 0;
      take(ParseUnsigned<uint32_t>(opt, v, 0, UINT32_MAX), s);
      o.serial = Serial(s);
    } else if (opt == "--changes-per-second") {
      take(ParseDecimal(opt, v, 100000), o.changes_per_second);
    } else if (opt == "--changes-per-version") {
      take(ParseUnsigned<uint32_t>(opt, v, 1, 1'000'000), o.changes_per_version);
    } else if (opt == "--max-changes") {
      take(ParseUnsigned<uint64_t>(opt, v, 0, UINT64_MAX), o.max_changes);
    } else if (opt == "--journal") {
      take(ParseUnsigned<uint32_t>(opt, v, 0, 100000), o.journal);
    } else if (opt == "--tsig") {
      // NAME:ALG:BASE64; base64 has no ':', so split at the first two.
      size_t a = v.find(':');
      size_t b = a == std::string_view::npos ? a : v.find(':', a + 1);
      if (b == std::string_view::npos) return Bad(opt, "expected NAME:ALG:BASE64");
      auto key = MakeTsigKey(v.substr(0, a), v.substr(a + 1, b - a - 1), v.substr(b + 1));
      if (!key.ok()) return Bad(opt, ToStd(key.status().message()));
      o.tsig = *std::move(key);
    } else if (opt == "--fault") {
      std::optional<Fault> f = ParseFault(v);
      if (!f) return Bad(opt, fmt::format("'{}' is not a fault this primary knows", v));
      o.fault = *f;
    } else if (opt == "--refresh") {
      take(ParseUnsigned<uint32_t>(opt, v, 1, 0x7fffffff), o.refresh);
    } else if (opt == "--retry") {
      take(ParseUnsigned<uint32_t>(opt, v, 1, 0x7fffffff), o.retry);
    } else if (opt == "--threads") {
      take(ParseUnsigned<int>(opt, v, 1, 256), o.threads);
    } else if (opt == "--duration") {
      take(ParseSeconds(opt, v, 86400 * 365), c.duration);
    } else if (opt == "--stats-interval") {
      take(ParseSeconds(opt, v, 86400 * 365), c.stats_interval);
    } else {
      return Bad(opt, "unknown option");
    }
    if (!st.ok()) return st;
  }
  if (o.listen.empty()) return Bad("--listen", "is required");
  if (!have_zone) return Bad("--zone", "is required");
  if (o.fault == Fault::kBadTsig && !o.tsig) {
    return Bad("--fault", "bad-tsig breaks signed answers: it needs --tsig");
  }
  if (o.change_zones > 1 && o.zones == 0) return Bad("--change-zones", "needs --zones");
  return c;
}

std::string ZonesConfigSnippet(const PrimaryOptions& options, const SocketAddress& primary) {
  std::string out = "zones:\n";
  std::string addr = primary.ToString();
  for (const Name& n : SyntheticPrimary::ZoneNames(options)) {
    out += fmt::format("  - {{name: {}, primaries: [\"{}\"]}}\n", n.ToText(), addr);
  }
  return out;
}

}  // namespace xfr::load
