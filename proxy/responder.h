// The seam between the network loop and the protocol: a request's bytes go
// in, a Reply comes out. Nothing here touches a socket, so the primary
// side's decisions are tested with byte literals and a fake clock.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/wire.h"
#include "proxy/net_address.h"

namespace xfr {

struct ServedZone;  // fanout/served_zone.h

// What a finished transfer carried, for the `log: {transfers: true}` line.
struct TransferFacts {
  bool ixfr_requested = false;   // the client asked IXFR (else AXFR)
  std::optional<Serial> from;    // IXFR: the serial the client said it holds
  bool incremental = false;      // answered with diffs (else the whole zone)
  size_t messages = 0;
  uint64_t bytes = 0;            // DNS messages, without TCP length prefixes
  absl::Time started;
};

enum class Transport : uint8_t { kUdp, kTcp };

// A multi-message answer being served: a cursor over messages encoded once,
// asked for the next message each time the connection has room to send.
// The parts it appends stay valid until Release().
class TransferStream {
 public:
  virtual ~TransferStream() = default;
  // Appends the next message's parts (without the TCP length prefix) to
  // `iov` and returns its size, or 0 when the stream is finished.
  virtual size_t Next(std::vector<iovec>& iov) = 0;
  // The parts handed out so far have been sent; their scratch can go.
  virtual void Release() = 0;
  // True when the connection must be closed once the stream has ended and
  // its parts are sent. Never for a real answer: xfrload's synthetic
  // primary cuts transfers this way to test how clients take it.
  virtual bool CloseAfter() const { return false; }
  // The version this answer serves, when it is one of a zone's: once the
  // last message is sent, the peer holds that serial (/peers).
  virtual const ServedZone* served() const { return nullptr; }
  // Counted as the stream goes; only a zone's transfer has them.
  virtual std::optional<TransferFacts> facts() const { return std::nullopt; }
};

struct Reply {
  // kDeferred: the answer needs data the proxy is fetching from upstream;
  // the connection holds the request and asks again once the zone changes,
  // the check it waits on ends, or the wait is over. Only over TCP.
  enum class Kind : uint8_t { kDrop, kMessage, kTransfer, kDeferred };
  Kind kind = Kind::kDrop;
  std::vector<uint8_t> message;             // kMessage
  std::unique_ptr<TransferStream> transfer;  // kTransfer
  // kDeferred, filled in by the connection: the request to ask again, and
  // until when it may keep waiting.
  std::vector<uint8_t> deferred_request;
  absl::Time deferred_until;
  Name deferred_zone;  // the zone whose check it waits on

  static Reply Drop() { return Reply{}; }
  static Reply Message(std::vector<uint8_t> m) {
    Reply r;
    r.kind = Kind::kMessage;
    r.message = std::move(m);
    return r;
  }
  static Reply Deferred(const Name& zone) {
    Reply r;
    r.kind = Kind::kDeferred;
    r.deferred_zone = zone;
    return r;
  }
  static Reply Transfer(std::unique_ptr<TransferStream> t) {
    Reply r;
    r.kind = Kind::kTransfer;
    r.transfer = std::move(t);
    return r;
  }
};

struct RequestContext {
  SocketAddress peer;
  Transport transport = Transport::kUdp;
  absl::Time now;
  // The responder may answer kDeferred (TCP, first time asked):
  // single flight, requests for data newer than ours wait on one upstream
  // transfer instead of each getting a stale answer.
  bool may_defer = false;
  // Asked again after a deferral: the hint it carried was already taken.
  bool reasked = false;
};

class Responder {
 public:
  virtual ~Responder() = default;
  virtual Reply Handle(Bytes request, const RequestContext& ctx) = 0;
};

}  // namespace xfr
