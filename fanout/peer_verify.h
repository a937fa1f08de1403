// verify-peers (the `verify-peers` zone key: after a NOTIFY the proxy checks
// convergence itself by querying each peer's SOA), without
// I/O: the caller feeds the clock and the received datagrams and sends what
// Due() returns, on the NOTIFY sockets (proxy/notify_sender.h).
//
// After Start(serial), each notified peer is looked at once the NOTIFY had
// its chance: `grace` after the peer answered it, or when its retries ran
// out unanswered. A peer seen holding the serial by then (its IXFR request,
// a finished transfer: PeerTable::ReportHeldSerial) is left alone, unless
// another peer shares its IP address and the report may be the other's; any
// other gets a SOA query (RFC 1034 §4.3.5: how a secondary's refresh asks,
// so every secondary answers it), signed with the peer's key when it has
// one. The serial in the answer is recorded as the one the peer holds: a
// secondary that pulls the zone from elsewhere shows in sync. A query that
// stays unanswered is retried (same ID and bytes) with back-off; when the
// tries run out the peer is marked verify_failed (unreachable).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/message.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/tsig_key.h"
#include "core/wire.h"
#include "fanout/peer_state.h"

namespace xfr {

struct VerifyOptions {
  // How long a peer that answered the NOTIFY has to come for the data.
  absl::Duration grace = absl::Seconds(31);
  absl::Duration initial_timeout = absl::Seconds(1);  // doubled per retry
  int max_sends = 3;
  uint16_t tsig_fudge = 300;
};

struct OutgoingQuery {
  uint32_t peer = 0;  // index in the PeerTable
  PeerAddress to;
  std::vector<uint8_t> bytes;
};

enum class VerifyReply : uint8_t {
  kAccepted,   // the answer to a pending query; its serial is recorded
  kRefused,    // an authentic answer without a serial (error RCODE, no SOA)
  kNoMatch,    // no query pending there with that ID
  kMalformed,  // not an answer to our question
  kBadTsig,    // from a keyed peer, unsigned or failing verification
};

class PeerVerifier {
 public:
  using RandomSource = std::function<uint16_t()>;

  // `keys[i]` is the key of peer i of `table` (nullopt: unsigned).
  PeerVerifier(Name zone, std::vector<std::optional<TsigKey>> keys,
               std::shared_ptr<PeerTable> table, VerifyOptions options,
               RandomSource random);

  // A NOTIFY for `serial` was started at `now` (NotifyFanout::Start): the
  // checks of an older serial are dropped.
  void Start(Serial serial, absl::Time now);

  // The SOA queries due at `now`: first sends and retries.
  std::vector<OutgoingQuery> Due(absl::Time now);

  // A datagram from `from` that parsed as `m` (opcode QUERY).
  VerifyReply OnReply(const PeerAddress& from, Bytes reply, const Message& m,
                      absl::Time now);

  // The earliest time Due() has something to do, or InfiniteFuture. May be
  // early (an answer cancels a retry); Due() then finds nothing.
  absl::Time NextDeadline() const { return next_; }
  // What the last OnReply() judged, in words; empty for a good answer.
  const std::string& last_reply_text() const { return last_reply_text_; }

 private:
  struct Check {
    enum class Phase : uint8_t { kIdle, kWaiting, kQuerying };
    Phase phase = Phase::kIdle;
    absl::Time deadline = absl::InfiniteFuture();
    uint16_t id = 0;
    int sends = 0;
    std::vector<uint8_t> bytes;        // the query as sent (signed if keyed)
    std::vector<uint8_t> request_mac;  // keyed: to verify the answer
  };

  // Builds check i's query; false when it cannot be signed.
  bool BuildQuery(uint32_t i, absl::Time now);

  Name zone_;
  std::vector<std::optional<TsigKey>> keys_;
  std::shared_ptr<PeerTable> table_;
  VerifyOptions options_;
  RandomSource random_;
  std::vector<Check> checks_;
  std::optional<Serial> serial_;
  absl::Time next_ = absl::InfiniteFuture();
  std::string last_reply_text_;
};

}  // namespace xfr
