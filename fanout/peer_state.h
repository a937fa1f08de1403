// What the proxy knows about each downstream secondary of a zone
// (what /peers shows): the last serial it was notified of, whether and how
// it answered, the serial it holds and since when it has been current.
//
// Two kinds of writer, kept apart so that neither takes a lock:
//  - the zone's owner thread (the NOTIFY fan-out) owns every PeerState and
//    the snapshots taken for /peers;
//  - the serving threads learn a peer's serial from its IXFR request (the
//    SOA in its authority section, RFC 1995 §3) or from a finished transfer.
//    They call ReportHeldSerial(), which is one lookup in an immutable hash
//    map and one relaxed atomic store per matching peer: no lock, no
//    allocation, nothing that can make a transfer wait for the owner. Each
//    peer has one 64-bit slot holding serial and report time together, so a
//    reader never sees the serial of one report with the time of another.
//    The owner folds the slots into the states when it next looks
//    (Collect()). A queue would keep every report; only the latest serial
//    per peer matters, and a slot per peer bounds the memory by the config,
//    not by how fast peers ask.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "core/serial.h"
#include "core/types.h"

namespace xfr {

// A peer's UDP address. The 16 bytes hold IPv4 in v4-mapped form
// (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), the form proxy/net_address.h's
// IpAddress uses, so the ring side converts with a copy of bytes(). fanout/
// sits below proxy/ and cannot use that class itself.
struct PeerAddress {
  std::array<uint8_t, 16> ip{};
  uint16_t port = 0;

  static PeerAddress V4(std::array<uint8_t, 4> b, uint16_t port);
  bool IsV4() const;
  // "192.0.2.1:53" or "[2001:db8::1]:53".
  std::string ToString() const;

  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const PeerAddress& a) {
    return H::combine(std::move(h), a.ip, a.port);
  }
};

// The owner's view of one secondary.
struct PeerState {
  PeerAddress address;
  bool notify = true;  // config: false means "never notified"
  bool keyed = false;  // NOTIFY is signed with the peer's TSIG key
  // Another configured peer has the same IP address (another port). A
  // transfer names only the address, so it is credited to all of them;
  // verify-peers checks each at its own port (fanout/peer_verify.h).
  bool shared_address = false;

  // The serial of the latest NOTIFY started for this peer, and when.
  std::optional<Serial> last_notified;
  absl::Time notified_at = absl::InfinitePast();
  // Datagrams sent for last_notified (1 = no retry yet).
  int sends = 0;
  // The peer answered the NOTIFY for last_notified (RFC 1996 §4.7); any
  // RCODE is an answer, kept in answer_rcode.
  bool answered = false;
  absl::Time answered_at = absl::InfinitePast();
  std::optional<Rcode> answer_rcode;
  bool gave_up = false;  // the retries ran out without an answer
  // verify-peers: the SOA queries sent to check last_notified went
  // unanswered (fanout/peer_verify.h).
  bool verify_failed = false;
  // What went wrong last, in words (DescribeAnswer(), a give-up, a failed
  // check); cleared by a good answer and when the peer is seen holding the
  // served serial.
  std::string last_error;

  // The serial the peer was last seen to hold, and when it was seen.
  std::optional<Serial> held;
  absl::Time held_at = absl::InfinitePast();
  // When the peer was first seen holding the current served serial; unset
  // while it is behind.
  std::optional<absl::Time> converged_at;

  // Totals over the life of the table.
  uint64_t datagrams = 0;
  uint64_t retries = 0;
  uint64_t answers_ok = 0;
  uint64_t answers_refused = 0;  // NOTAUTH or REFUSED
  uint64_t answers_other = 0;    // any other RCODE
  uint64_t give_ups = 0;
  uint64_t tsig_failures = 0;  // answers dropped for a bad or missing TSIG
  uint64_t verify_queries = 0;  // SOA queries sent (verify-peers)
};

// Where a secondary stands against the served serial, as /peers and the
// metrics show it.
enum class PeerSync : uint8_t {
  kUnknown,      // nothing served yet, or a peer never notified nor seen
  kInSync,       // holds the served serial (or a newer one: RFC 1982)
  kNotified,     // told of the served serial, still within the grace period
  kLagging,      // holds an older serial, or did not come for the data in time
  kUnreachable,  // NOTIFY retries ran out unanswered, or the SOA checks did
};
// "unknown", "in-sync", "notified", "lagging", "unreachable".
std::string_view PeerSyncName(PeerSync s);

struct PeerStatus {
  PeerSync sync = PeerSync::kUnknown;
  // Whole seconds since the served serial was published while the peer
  // does not hold it; 0 when in sync (or nothing is served).
  int64_t seconds_behind = 0;
};

// Classifies one peer. `served` is the serial being served and
// `published_at` when it was published; `grace` is how long a peer that
// answered the NOTIFY has to come for the data (the NOTIFY retry window,
// NotifyRetryWindow()). Call PeerTable::Collect() first so that `p.held` is
// fresh.
PeerStatus ClassifyPeer(const PeerState& p, std::optional<Serial> served,
                        absl::Time published_at, absl::Time now,
                        absl::Duration grace);

class PeerTable {
 public:
  // `epoch` anchors the report timestamps (second resolution, 136 years).
  PeerTable(std::vector<PeerState> peers, absl::Time epoch);
  PeerTable(const PeerTable&) = delete;
  PeerTable& operator=(const PeerTable&) = delete;

  // --- Any thread ---------------------------------------------------------
  // The peer at `ip` (any port: transfers come from ephemeral ports, so the
  // address is all that identifies a secondary) holds `serial`. Every
  // configured peer at that address is updated. Lock-free; unknown
  // addresses cost one hash lookup.
  void ReportHeldSerial(const std::array<uint8_t, 16>& ip, Serial serial,
                        absl::Time now) const;

  // --- Owner thread -------------------------------------------------------
  size_t size() const { return states_.size(); }
  PeerState& at(size_t i) { return states_[i]; }
  const PeerState& at(size_t i) const { return states_[i]; }
  // The peers whose address and port are exactly `a` (replies to NOTIFY
  // come from the port it was sent to, RFC 1996 §3.11 / RFC 1035 §4.2.1).
  const absl::InlinedVector<uint32_t, 1>* FindExact(const PeerAddress& a) const;

  // Folds the serving threads' reports into the states and updates
  // converged_at against `current`, the serial being served.
  void Collect(std::optional<Serial> current, absl::Time now);

  // After a reload that changed the list of peers: each peer also in `old`
  // (same address and port) keeps what was learnt about it there, reports
  // not yet collected included; the others start unknown. Call before the
  // table is shared with the serving threads.
  void Inherit(const PeerTable& old);

 private:
  // slot = serial << 32 | (seconds since epoch_ + 1); 0 means no report.
  static constexpr uint64_t Pack(Serial s, uint32_t secs) {
    return uint64_t{s.value()} << 32 | (uint64_t{secs} + 1);
  }

  absl::Time epoch_;
  std::vector<PeerState> states_;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  // Consumed by Collect(): the slot value already folded in.
  std::vector<uint64_t> seen_;
  // Both immutable after construction, so the serving threads read them
  // without synchronisation.
  absl::flat_hash_map<std::array<uint8_t, 16>, absl::InlinedVector<uint32_t, 1>>
      by_ip_;
  absl::flat_hash_map<PeerAddress, absl::InlinedVector<uint32_t, 1>> by_address_;
};

}  // namespace xfr
