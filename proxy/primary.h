// The downstream role: xfrproxy as a primary towards its secondaries. Answers
// SOA (UDP and TCP), AXFR and IXFR (TCP; IXFR over UDP gets the SOA when the
// client is current, else TC=1), refuses the rest. I/O free: bytes in, a
// Reply out, so every decision is tested without a socket.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <memory>
#include <string>

#include "core/message.h"
#include "proxy/responder.h"
#include "proxy/stats.h"
#include "proxy/zone_store.h"

namespace xfr {

// Why a zone that follows a primary should check it now.
enum class RefreshTrigger : uint8_t {
  kNotify,       // an accepted NOTIFY (RFC 1996), `hint` the serial it carried
  kClientAhead,  // an IXFR from `hint`, newer than ours; the request waits
};
// Told of every such trigger, with the serial it carried, if any (a hint,
// never data). Called on the serving thread; the zone's owner takes it
// from there.
using NotifyHook = std::function<void(const Name& zone, const SocketAddress& from,
                                      std::optional<Serial> hint, RefreshTrigger why)>;

class PrimaryResponder : public Responder {
 public:
  PrimaryResponder(std::shared_ptr<const ZoneStore> store, ServerStats& stats,
                   NotifyHook on_notify = nullptr)
      : store_(std::move(store)), stats_(stats), on_notify_(std::move(on_notify)) {}

  Reply Handle(Bytes request, const RequestContext& ctx) override;

  // A reload swaps the whole store; requests in progress keep the old one.
  void SetStore(std::shared_ptr<const ZoneStore> store) {
    store_.store(std::move(store), std::memory_order_release);
  }
  std::shared_ptr<const ZoneStore> store() const {
    return store_.load(std::memory_order_acquire);
  }

 private:
  struct Request;
  Reply HandleQuery(Request& req);
  Reply Answer(Request& req, MessageBuilder& b);
  Reply Error(Request& req, Rcode rcode);
  Reply SoaAnswer(Request& req, const ServedZone& zone);
  // `ixfr_from`: the serial an IXFR request holds (nullopt for AXFR).
  Reply Transfer(Request& req, std::shared_ptr<const ServedZone> zone,
                 const std::vector<EncodedMessage>* messages,
                 std::optional<Serial> ixfr_from = std::nullopt);
  // Why a request may not have the zone's data (for the log), or nothing
  // when it may.
  static std::optional<std::string> TransferRefusal(const Request& req, const LiveZone& zone);
  // Why a NOTIFY for a zone we follow is refused, or nothing when it is
  // accepted.
  static std::optional<std::string> NotifyRefusal(const Request& req, const NotifyPolicy& p);
  Reply HandleNotify(Request& req, const ZoneStore& store);

  std::atomic<std::shared_ptr<const ZoneStore>> store_;
  ServerStats& stats_;
  NotifyHook on_notify_;
};

}  // namespace xfr
