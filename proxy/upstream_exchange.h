// Exchanges with a primary, each on its own socket: an SOA query over UDP
// (RFC 1034 §4.3.5) and an IXFR or AXFR over TCP (RFC 1995, RFC 5936) fed
// message by message to the I/O-free XfrIngest. Each reports once, with
// its result or an ExchangeFailure that names the real reason (a TSIG
// error answer, an RCODE, a timeout, a socket that could not be bound).
//
// Lifetimes: an exchange is owned by the ExchangePool, which outlives every
// zone. A zone holds a plain pointer to each exchange it waits on until the
// exchange reports or the zone abandons it; the pool frees an exchange once
// it has reported or been abandoned AND every ring operation it started has
// completed, so a late completion never reaches freed memory or a zone
// that gave up on it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/tsig_key.h"
#include "core/xfr_ingest.h"
#include "fanout/refresh_machine.h"
#include "proxy/config.h"
#include "proxy/event_loop.h"
#include "proxy/net_address.h"

namespace xfr {

class UpstreamExchange;

// Owns every exchange with a primary on one loop.
class ExchangePool {
 public:
  explicit ExchangePool(EventLoop& loop);
  ~ExchangePool();
  ExchangePool(const ExchangePool&) = delete;
  ExchangePool& operator=(const ExchangePool&) = delete;

  EventLoop& loop() { return loop_; }
  UpstreamExchange* Add(std::unique_ptr<UpstreamExchange> x);
  // No report will be made; what `x` has in flight is cancelled.
  void Abandon(UpstreamExchange* x);
  // Frees `x` soon if it is finished (reported or abandoned, nothing in
  // flight). Never frees it inside its own completion handler.
  void MaybeReap(UpstreamExchange* x);
  size_t size() const { return live_.size(); }

 private:
  EventLoop& loop_;
  absl::flat_hash_map<UpstreamExchange*, std::unique_ptr<UpstreamExchange>> live_;
};

struct SoaQuery {
  Name zone;
  SocketAddress to;
  std::optional<IpAddress> source;  // transfer-source; nullopt: the kernel's
  const TsigKey* key = nullptr;     // must outlive the exchange
  absl::Duration timeout;
};
using SoaReport = std::function<void(absl::StatusOr<SoaAnswer>, ExchangeFailure)>;

struct TransferRequest {
  Name zone;
  SocketAddress to;
  std::optional<IpAddress> source;
  bool ixfr = false;  // IXFR from `base`; AXFR when false or without a base
  std::shared_ptr<const ZoneVersion> base;
  const TsigKey* key = nullptr;  // must outlive the exchange
  uint64_t max_records = 0;
  LimitsConfig limits;
};
using TransferReport = std::function<void(std::optional<IngestResult>, ExchangeFailure)>;

// Start an exchange owned by `pool`. nullptr when it could not start:
// `failure` says why and `report` is never called.
UpstreamExchange* StartSoaQuery(ExchangePool& pool, const SoaQuery& q, SoaReport report,
                                ExchangeFailure& failure);
UpstreamExchange* StartUpstreamTransfer(ExchangePool& pool, TransferRequest r,
                                        TransferReport report, ExchangeFailure& failure);

// "error RCODE: the primary answered SERVFAIL", for the log.
std::string Describe(const ExchangeFailure& f);

}  // namespace xfr
