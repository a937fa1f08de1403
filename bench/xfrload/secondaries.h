// The secondaries mode of xfrload: N simulated secondaries, each with its
// own serial, polling SOA over UDP or transferring with IXFR/AXFR over TCP
// against one server, C requests in flight at once, on one io_uring.
//
// Everything runs on one EventLoop: UDP answers arrive through a multishot
// receive with provided buffers and are matched to their request by ID;
// each TCP connection has one receive armed at a time into a buffer taken
// from a pool only while a transfer is in progress (an idle pipelined
// connection waits on a few bytes of scratch, so thousands of idle
// secondaries cost no buffers). No thread per connection, no blocking call
// in the loop.
//
// A later mode (--listen-notify) makes each secondary react to NOTIFY; the
// hooks for it are the per-secondary state (serial, connection) and
// Issue(), which any event can call for one secondary.
#pragma once

#include <deque>
#include <list>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/xfrload/options.h"
#include "bench/xfrload/report.h"
#include "bench/xfrload/verifier.h"
#include "proxy/event_loop.h"

namespace xfr::load {

class SecondariesLoad {
 public:
  static absl::StatusOr<std::unique_ptr<SecondariesLoad>> Create(
      SecondariesOptions options);
  ~SecondariesLoad();

  // Runs until the request count or the duration is reached and every
  // request in flight has finished or timed out.
  LoadReport Run();

 private:
  struct Secondary;
  struct Request;
  class UdpChannel;
  class TcpConnection;
  friend class UdpChannel;
  friend class TcpConnection;

  explicit SecondariesLoad(SecondariesOptions options);
  absl::Status Setup();
  // Learns the zone's current serial with one blocking SOA query, before
  // the loop starts (the base of --serial-spread when --serial is absent).
  absl::StatusOr<Serial> QueryCurrentSerial();

  void SchedulePump();
  void Pump();
  void Issue(Secondary& s);
  bool Issuing() const;
  // Sends a transfer request on the secondary's open connection, or on a
  // new one.
  void StartTcp(Request* r, bool allow_reuse);
  TcpConnection* OpenConnection(Request* r);
  // Ends a request, verified or failed, and frees the secondary for its
  // next one.
  void Finish(Request* r);
  void FailRequest(Request* r, ErrorKind kind, std::string detail);
  void Sweep();
  void MaybeStop();

  uint8_t* AcquireBuffer();
  void ReleaseBuffer(uint8_t* b);
  void Destroy(TcpConnection* c);

  SecondariesOptions options_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<Secondary> secondaries_;
  std::deque<Secondary*> idle_;
  std::vector<std::unique_ptr<Request>> requests_;
  std::vector<Request*> free_requests_;
  std::vector<Request*> active_;
  std::vector<std::unique_ptr<UdpChannel>> udp_;
  std::list<std::unique_ptr<TcpConnection>> connections_;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<uint8_t*> free_buffers_;
  Serial base_serial_;
  uint64_t issued_ = 0;
  uint16_t next_tcp_id_ = 1;
  bool pump_scheduled_ = false;
  bool stop_issuing_ = false;
  absl::Time start_;
  absl::Time end_issuing_ = absl::InfiniteFuture();
  LoadReport report_;
};

}  // namespace xfr::load
