#include "proxy/control.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr {
namespace {

struct VerbSpec {
  ControlVerb verb;
  std::string_view name;
  std::string_view usage;  // the arguments, for errors
  size_t min_args;
  size_t max_args;
};

constexpr VerbSpec kVerbs[] = {
    {ControlVerb::kStatus, "status", "status [ZONE]", 0, 1},
    {ControlVerb::kRefresh, "refresh", "refresh ZONE", 1, 1},
    {ControlVerb::kRetransfer, "retransfer", "retransfer ZONE", 1, 1},
    {ControlVerb::kNotify, "notify", "notify ZONE [PEER]", 1, 2},
    {ControlVerb::kReload, "reload", "reload", 0, 0},
    {ControlVerb::kPeers, "peers", "peers ZONE", 1, 1},
};

const VerbSpec* FindVerb(std::string_view name) {
  for (const VerbSpec& v : kVerbs) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

const VerbSpec& SpecOf(ControlVerb verb) {
  for (const VerbSpec& v : kVerbs) {
    if (v.verb == verb) return v;
  }
  return kVerbs[0];
}

// Printable ASCII without spaces: what a zone name or an address is typed
// as. Anything else in a request is refused before it reaches a parser.
bool IsWord(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// "1m5s": whole seconds are what an operator reads.
std::string Whole(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

std::string JsonTime(std::optional<absl::Time> t) {
  return t ? JsonString(Rfc3339(*t)) : std::string("null");
}

std::string JsonText(std::string_view s) {
  return s.empty() ? std::string("null") : JsonString(s);
}

// Rows of cells as a table: each column as wide as its widest cell, two
// spaces apart, no trailing blanks.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string_view ControlVerbName(ControlVerb v) { return SpecOf(v).name; }

absl::StatusOr<ControlRequest> MakeControlRequest(const std::vector<std::string_view>& words,
                                                  bool json) {
  if (words.empty()) {
    return absl::InvalidArgumentError(
        "no verb: give one of status, refresh, retransfer, notify, reload, peers");
  }
  const VerbSpec* spec = FindVerb(words[0]);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(fmt::format(
        "unknown verb '{}': give one of status, refresh, retransfer, notify, reload, peers",
        IsWord(words[0]) ? words[0] : std::string_view("?")));
  }
  size_t args = words.size() - 1;
  if (args < spec->min_args || args > spec->max_args) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' takes {}: usage: {}", spec->name,
                    spec->max_args == 0   ? std::string("no arguments")
                    : spec->min_args == 0 ? fmt::format("at most {} argument", spec->max_args)
                                          : fmt::format("{} to {} arguments", spec->min_args,
                                                        spec->max_args),
                    spec->usage));
  }
  ControlRequest r;
  r.verb = spec->verb;
  r.json = json;
  if (args >= 1) {
    if (!IsWord(words[1])) return absl::InvalidArgumentError("bad zone name");
    Name root;
    absl::StatusOr<Name> zone = Name::FromText(words[1], &root);
    if (!zone.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("bad zone name '{}': {}", words[1], ToStd(zone.status().message())));
    }
    r.zone = *std::move(zone);
  }
  if (args == 2) {
    if (!IsWord(words[2])) return absl::InvalidArgumentError("bad peer address");
    r.peer = std::string(words[2]);
  }
  return r;
}

std::string FormatControlRequest(const ControlRequest& request) {
  std::string line =
      fmt::format("{} {} {}", kControlProtocol, request.json ? "json" : "text",
                  ControlVerbName(request.verb));
  if (request.zone) absl::StrAppend(&line, " ", request.zone->ToText());
  if (!request.peer.empty()) absl::StrAppend(&line, " ", request.peer);
  line += '\n';
  return line;
}

absl::StatusOr<ControlRequest> ParseControlRequest(std::string_view line) {
  if (line.size() > kMaxControlRequestBytes) {
    return absl::InvalidArgumentError("request too long");
  }
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> words;
  for (absl::string_view w : absl::StrSplit(absl::string_view(line.data(), line.size()), ' ')) {
    words.push_back(ToStd(w));
  }
  if (words.size() < 3 || words[0] != kControlProtocol) {
    return absl::InvalidArgumentError(fmt::format(
        "not a control request: expected '{} text|json VERB [ARG...]'", kControlProtocol));
  }
  if (words[1] != "text" && words[1] != "json") {
    return absl::InvalidArgumentError("bad format: expected 'text' or 'json'");
  }
  bool json = words[1] == "json";
  words.erase(words.begin(), words.begin() + 2);
  return MakeControlRequest(words, json);
}

ControlResponse ControlMessage(bool json, bool ok, std::string_view message) {
  ControlResponse r;
  r.ok = ok;
  if (json) {
    r.body = fmt::format("{{\"ok\":{},\"{}\":{}}}\n", ok, ok ? "message" : "error",
                         JsonString(message));
  } else {
    r.body = std::string(message);
    if (r.body.empty() || r.body.back() != '\n') r.body += "\n";
  }
  return r;
}

std::string SerializeControlResponse(const ControlResponse& response) {
  return (response.ok ? "ok\n" : "error\n") + response.body;
}

absl::StatusOr<ControlResponse> ParseControlResponse(std::string_view data) {
  size_t nl = data.find('\n');
  if (nl == std::string_view::npos) {
    return absl::DataLossError(data.empty() ? "the daemon closed the connection without an answer"
                                            : "the daemon's answer was cut short");
  }
  std::string_view status = data.substr(0, nl);
  if (status != "ok" && status != "error") {
    return absl::DataLossError("not a control answer (another program on the socket?)");
  }
  return ControlResponse{status == "ok", std::string(data.substr(nl + 1))};
}

std::string DescribeTime(std::optional<absl::Time> t, absl::Time now) {
  if (!t) return "-";
  absl::Duration d = *t - now;
  std::string rel = d >= absl::ZeroDuration() ? fmt::format("in {}", Whole(d))
                                              : fmt::format("{} ago", Whole(-d));
  return fmt::format("{} ({})", Rfc3339(*t), rel);
}

std::string RenderStatusText(const std::vector<ZoneStatus>& zones, absl::Time now) {
  std::string out;
  for (const ZoneStatus& z : zones) {
    if (!out.empty()) out += "\n";
    std::vector<std::vector<std::string>> rows;
    auto row = [&](std::string label, std::string value) {
      rows.push_back({"  " + std::move(label), std::move(value)});
    };
    row("serial", z.serial ? fmt::format("{} ({} records)", *z.serial, z.records)
                           : std::string("- (nothing served yet)"));
    row("source", z.source);
    row("health", z.health);
    row(z.file ? "loaded" : "last refresh", DescribeTime(z.last_refresh, now));
    if (z.file) {
      // What applies to a master file: SIGHUP or `reload` re-reads it.
      row("next refresh", "- (re-read on reload)");
      row("expiry", "never (xfrproxy is the primary)");
    } else {
      row("last transfer",
          z.last_transfer_at ? fmt::format("{} from {}, {}", z.last_transfer_kind,
                                           z.last_transfer_from,
                                           DescribeTime(z.last_transfer_at, now))
                             : std::string("- (none since start)"));
      row("next refresh", DescribeTime(z.next_refresh, now));
      row("expiry", !z.expire_seconds       ? std::string("-")
                    : *z.expire_seconds == 0 ? std::string("EXPIRED")
                                             : fmt::format("in {}", Whole(absl::Seconds(
                                                                        *z.expire_seconds))));
    }
    row("journal", fmt::format("{} diff{}", z.journal, z.journal == 1 ? "" : "s"));
    row("peers in sync", z.peers_total == 0
                             ? std::string("- (no secondaries)")
                             : fmt::format("{}/{}", z.peers_in_sync, z.peers_total));
    row("last error", z.last_error.empty() ? std::string("-") : z.last_error);
    out += z.name + "\n" + Table(rows);
  }
  if (out.empty()) out = "no zones\n";
  return out;
}

std::string RenderStatusJson(const std::vector<ZoneStatus>& zones) {
  std::vector<std::string> items;
  for (const ZoneStatus& z : zones) {
    std::string last_transfer = "null";
    if (z.last_transfer_at) {
      last_transfer = fmt::format("{{\"kind\":{},\"from\":{},\"at\":{}}}",
                                  JsonString(z.last_transfer_kind),
                                  JsonString(z.last_transfer_from), JsonTime(z.last_transfer_at));
    }
    items.push_back(fmt::format(
        "{{\"name\":{},\"source\":{},\"file\":{},\"serial\":{},\"records\":{},\"health\":{},"
        "\"last_refresh\":{},\"last_transfer\":{},\"next_refresh\":{},"
        "\"expire_seconds_remaining\":{},\"journal_diffs\":{},\"peers\":{},"
        "\"peers_in_sync\":{},\"last_error\":{}}}",
        JsonString(z.name), JsonString(z.source), z.file,
        z.serial ? fmt::format("{}", *z.serial) : std::string("null"), z.records,
        JsonString(z.health), JsonTime(z.last_refresh), last_transfer, JsonTime(z.next_refresh),
        z.expire_seconds ? fmt::format("{}", *z.expire_seconds) : std::string("null"),
        z.journal, z.peers_total, z.peers_in_sync, JsonText(z.last_error)));
  }
  return fmt::format("{{\"ok\":true,\"zones\":[{}]}}\n", absl::StrJoin(items, ","));
}

std::string RenderPeersText(std::string_view zone, const std::vector<PeerReport>& peers,
                            absl::Time now) {
  if (peers.empty()) return fmt::format("{}: no secondaries\n", zone);
  std::vector<std::vector<std::string>> rows = {
      {"ADDRESS", "STATE", "SERIAL", "BEHIND", "LAST NOTIFY", "LAST SEEN", "LAST ERROR"}};
  auto ago = [now](std::optional<absl::Time> t) {
    return t ? fmt::format("{} ago", Whole(now - *t)) : std::string("-");
  };
  for (const PeerReport& p : peers) {
    rows.push_back({p.address + (p.shared_address ? " (shared IP)" : ""), p.state,
                    p.serial ? p.serial->ToString() : "-",
                    p.seconds_behind > 0 ? Whole(absl::Seconds(p.seconds_behind)) : "-",
                    ago(p.last_notify), ago(p.last_seen),
                    p.last_error.empty() ? "-" : p.last_error});
  }
  return fmt::format("{}\n", zone) + Table(rows);
}

std::string RenderPeersJsonBody(std::string_view zone, const std::vector<PeerReport>& peers) {
  std::vector<std::string> items;
  for (const PeerReport& p : peers) items.push_back(PeerReportJson(p));
  return fmt::format("{{\"ok\":true,\"zone\":{},\"peers\":[{}]}}\n", JsonString(zone),
                     absl::StrJoin(items, ","));
}

}  // namespace xfr
