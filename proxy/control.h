// The control protocol of `xfrproxy ctl` (docs/operations.md), without
// I/O: what a request and an answer look like on the control socket, and
// how zone status and peers are rendered for a person or as JSON. The
// socket side is proxy/control_server.h, the client proxy/control_client.h.
//
// One request per connection over a SOCK_STREAM Unix socket:
//   request   "xfrproxy-ctl/1 FORMAT VERB [ARG...]\n"   FORMAT: text | json
//   answer    "ok\n" or "error\n", then the body until the daemon closes.
// The daemon renders the body in the format asked for, so the client needs
// no JSON parser and prints what it gets. A JSON body always has "ok"; an
// error in JSON is {"ok":false,"error":"..."}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/name.h"
#include "proxy/metrics.h"

namespace xfr {

inline constexpr std::string_view kControlProtocol = "xfrproxy-ctl/1";
// A request line is a verb, a zone name and an address: far below this.
inline constexpr size_t kMaxControlRequestBytes = 1024;

enum class ControlVerb : uint8_t { kStatus, kRefresh, kRetransfer, kNotify, kReload, kPeers };
std::string_view ControlVerbName(ControlVerb v);

struct ControlRequest {
  ControlVerb verb = ControlVerb::kStatus;
  bool json = false;
  std::optional<Name> zone;
  std::string peer;  // notify: one secondary, as configured ("192.0.2.7:53")
};

// Checks a verb and its arguments, as typed after `xfrproxy ctl` or as
// received: the verb must be known, the zone a domain name where one is
// needed, nothing left over. The error says what is wrong and what the
// verb takes.
absl::StatusOr<ControlRequest> MakeControlRequest(const std::vector<std::string_view>& words,
                                                  bool json);

// The request line, '\n' included.
std::string FormatControlRequest(const ControlRequest& request);
// A request line as received, with or without its '\n'. Anything but the
// protocol tag, a format and a valid verb with its arguments is an error.
absl::StatusOr<ControlRequest> ParseControlRequest(std::string_view line);

struct ControlResponse {
  bool ok = true;
  std::string body;
};
// An answer in the format of `request` (text: the message and a newline;
// JSON: {"ok":..,"message":..} or {"ok":false,"error":..}).
ControlResponse ControlMessage(bool json, bool ok, std::string_view message);

std::string SerializeControlResponse(const ControlResponse& response);
// What the client read until the daemon closed; an error for anything that
// is not a complete answer.
absl::StatusOr<ControlResponse> ParseControlResponse(std::string_view data);

// What `status` says about one zone, read on the zone owner's thread.
struct ZoneStatus {
  std::string name;
  // "primaries 192.0.2.1:53 192.0.2.2:53" or "file /etc/xfrproxy/x.zone".
  std::string source;
  bool file = false;
  std::optional<uint32_t> serial;  // unset: nothing served yet
  uint64_t records = 0;
  // The health state: RefreshHealthName() for a zone with primaries; "ok"
  // or "no-data" for a file zone.
  std::string health;
  // Primaries: the last good contact; file: when the file was loaded.
  std::optional<absl::Time> last_refresh;
  // The last transfer from a primary since start: "IXFR" or "AXFR".
  std::string last_transfer_kind;
  std::string last_transfer_from;
  std::optional<absl::Time> last_transfer_at;
  std::optional<absl::Time> next_refresh;     // primaries only
  std::optional<int64_t> expire_seconds;      // left; unset: never (file)
  size_t journal = 0;                         // diffs kept for IXFR
  size_t peers_total = 0;
  size_t peers_in_sync = 0;
  std::string last_error;
};

// "2026-12-05T20:01:02Z (1m5s ago)", "... (in 30s)"; "-" when unset.
std::string DescribeTime(std::optional<absl::Time> t, absl::Time now);

// `status`: a block per zone, labels aligned (as knotc zone-status), or
// {"ok":true,"zones":[...]}.
std::string RenderStatusText(const std::vector<ZoneStatus>& zones, absl::Time now);
std::string RenderStatusJson(const std::vector<ZoneStatus>& zones);

// `peers ZONE`: a table with a header row and aligned columns, or
// {"ok":true,"zone":..,"peers":[...]} with the fields of /peers.
std::string RenderPeersText(std::string_view zone, const std::vector<PeerReport>& peers,
                            absl::Time now);
std::string RenderPeersJsonBody(std::string_view zone, const std::vector<PeerReport>& peers);

}  // namespace xfr
