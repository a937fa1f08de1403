// NOTIFY fan-out for one zone (RFC 1996), without I/O: the caller feeds the
// clock and the received datagrams, and sends what Due() returns. The ring
// side is proxy/notify_sender.h.
//
// On Start(serial, soa) every peer with notify=true gets one NOTIFY (opcode
// 4, QR=0, AA=1, question <zone, SOA, IN>, the new SOA in the answer section
// as BIND and Knot send it: RFC 1996 §3.7 makes it a hint), each with its own
// random ID, signed with the peer's TSIG key when it has one (RFC 8945
// §5.1). The message is encoded once per Start and only the ID is patched
// per peer, so 10,000 peers cost 10,000 small copies.
//
// Retransmission (RFC 1996 §3.6): until the peer answers, the same datagram
// (same ID, same signature, so an answer to any copy counts) goes out again
// after initial_timeout, then twice that, and so on up to max_timeout; after
// max_sends datagrams and one more timeout the peer is given up on. RFC 1996
// suggests 60 s and 5 retransmissions for the links of 1996; Knot and BIND
// use a few seconds, and a peer that has not answered in half a minute is
// better served by its own refresh timer.
//
// A newer Start replaces every pending NOTIFY of an older serial (RFC 1996
// §4.7 lets a secondary ignore an older one anyway): only the latest serial
// is worth a datagram.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/message.h"
#include "core/name.h"
#include "core/record.h"
#include "core/serial.h"
#include "core/tsig_key.h"
#include "core/wire.h"
#include "fanout/peer_state.h"

namespace xfr {

struct NotifyOptions {
  absl::Duration initial_timeout = absl::Seconds(1);
  absl::Duration max_timeout = absl::Seconds(16);
  int max_sends = 5;  // first send included
  uint16_t tsig_fudge = 300;
};

// From the first send to the give-up: every timeout of the back-off (31 s
// with the defaults). Also the grace a peer that answered has to come for
// the data before it counts as lagging (ClassifyPeer, PeerVerifier).
absl::Duration NotifyRetryWindow(const NotifyOptions& options);

// One configured secondary as the fan-out needs it.
struct NotifyPeer {
  PeerAddress address;
  std::optional<TsigKey> key;
  bool notify = true;
};

struct OutgoingNotify {
  uint32_t peer = 0;  // index in the PeerTable
  PeerAddress to;
  std::vector<uint8_t> bytes;
};

// What OnReply made of a datagram.
enum class NotifyReply : uint8_t {
  kAccepted,     // the answer for a pending NOTIFY; retries stop
  kUnknownPeer,  // no peer at that address and port
  kNoMatch,      // no NOTIFY pending there with that ID
  kMalformed,    // unparsable, not a NOTIFY answer, or another question
  kBadTsig,      // from a keyed peer, unsigned or failing verification
};
// kAccepted with an error RCODE and kBadTsig leave what happened in words
// in the peer's last_error and in NotifyFanout::last_reply_text().

struct NotifyCounters {
  uint64_t starts = 0;
  uint64_t datagrams = 0;  // first sends and retries
  uint64_t retries = 0;
  uint64_t superseded = 0;  // pending NOTIFYs replaced by a newer serial
  uint64_t answers_ok = 0;
  uint64_t answers_refused = 0;  // NOTAUTH or REFUSED
  uint64_t answers_other = 0;
  uint64_t give_ups = 0;
  uint64_t ignored = 0;  // replies not accepted, whatever the reason
  uint64_t tsig_failures = 0;
  uint64_t sign_failures = 0;  // a keyed peer we could not sign for
};

class NotifyFanout {
 public:
  // Yields a 16-bit message ID; the sender passes a CSPRNG-backed source so
  // that an off-path host cannot forge the answer that stops the retries.
  using RandomSource = std::function<uint16_t()>;

  NotifyFanout(Name zone, std::vector<NotifyPeer> peers,
               NotifyOptions options, RandomSource random, absl::Time now);

  const Name& zone() const { return zone_; }
  const NotifyOptions& options() const { return options_; }

  // A new version with `serial` and SOA record `soa` is being served.
  void Start(Serial serial, const Record& soa, absl::Time now);
  // An operator's NOTIFY again (`xfrproxy ctl notify ZONE PEER`) to peer
  // index `peer` alone: its NOTIFY starts afresh (new ID, full back-off)
  // while the others' go on as they were. For a serial other than the one
  // being notified, every peer needs it: a full Start(). False when the peer
  // is not notified (notify: false, or its key cannot sign).
  bool Restart(uint32_t peer, Serial serial, const Record& soa, absl::Time now);

  // Every datagram due at `now`: first sends and retries. Also gives up on
  // peers whose last timeout expired.
  std::vector<OutgoingNotify> Due(absl::Time now);

  // A datagram received from `from`. Matched by (address and port, ID),
  // then checked: QR=1, opcode NOTIFY, the zone's SOA question, and TSIG
  // for a keyed peer. Anything else is ignored and the retries go on.
  NotifyReply OnReply(const PeerAddress& from, Bytes reply, absl::Time now);
  // Same, for a caller that already parsed the datagram (to find the zone).
  NotifyReply OnReply(const PeerAddress& from, Bytes reply,
                      const Message& parsed, absl::Time now);

  // The earliest time Due() has something to do, or InfiniteFuture.
  absl::Time NextDeadline();
  // Peers with a NOTIFY not yet answered nor given up.
  size_t pending() const { return pending_count_; }
  // What the last OnReply() judged, in words (DescribeAnswer()); empty for
  // a plain NOERROR answer and for datagrams that matched no NOTIFY.
  const std::string& last_reply_text() const { return last_reply_text_; }

  const NotifyCounters& counters() const { return counters_; }
  // Shared so that the serving threads can report held serials
  // (PeerTable::ReportHeldSerial) and /peers can read it on this thread.
  const std::shared_ptr<PeerTable>& peers() const { return table_; }
  std::optional<Serial> serial() const { return serial_; }

 private:
  // The NOTIFY in flight to one peer.
  struct Pending {
    bool active = false;
    uint16_t id = 0;
    uint32_t generation = 0;  // bumped on every Start and every send
    absl::Time deadline = absl::InfiniteFuture();
    std::vector<uint8_t> signed_bytes;  // keyed peers: the signed datagram
    std::vector<uint8_t> request_mac;   // keyed peers: to verify the answer
  };
  struct Timer {
    absl::Time deadline;
    uint32_t peer;
    uint32_t generation;
    bool operator>(const Timer& o) const {
      return deadline != o.deadline ? deadline > o.deadline : peer > o.peer;
    }
  };

  uint16_t NewId(uint16_t previous);
  // Makes peer `i`'s NOTIFY for serial_ pending from `now`; false when it
  // is not notified.
  bool Arm(uint32_t i, absl::Time now);
  std::vector<uint8_t> Datagram(uint32_t peer);
  absl::Duration TimeoutAfter(int sends) const;
  void Finish(uint32_t peer);
  void DropStaleTimers();

  Name zone_;
  NotifyOptions options_;
  RandomSource random_;
  std::vector<std::optional<TsigKey>> keys_;
  std::shared_ptr<PeerTable> table_;
  std::vector<Pending> pending_;
  size_t pending_count_ = 0;
  std::optional<Serial> serial_;
  std::vector<uint8_t> message_;  // the unsigned NOTIFY, ID zero
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  NotifyCounters counters_;
  std::string last_reply_text_;
};

}  // namespace xfr
