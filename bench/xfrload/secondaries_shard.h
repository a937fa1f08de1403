// One event loop's share of `xfrload secondaries`: a contiguous slice of
// the simulated secondaries, its own requests and TCP buffers, on its own
// io_uring, run by one thread (SecondariesLoad runs --threads of them).
//
// A request is one query and its answer: an SOA query over UDP, or an IXFR
// or AXFR over TCP. In the polling modes, a secondary that finished one is
// queued for its next, and at most `concurrency` are in flight. In kNotify
// mode a secondary is queued only when it must check: on a NOTIFY (and at
// start when it holds no zone); its check is one request that moves from
// the SOA query to the transfer (Continue()), so `concurrency` caps checks,
// and a secondary never has more than one check in flight plus one queued
// behind it (RFC 1996 §4.7 asks no more of a real secondary).
//
// Internal to xfrload: the transport classes (UdpChannel, TcpConnection,
// NotifyListener) call back into the shard through its public members.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "bench/xfrload/notify_listener.h"
#include "bench/xfrload/options.h"
#include "bench/xfrload/report.h"
#include "bench/xfrload/secondaries_stats.h"
#include "bench/xfrload/secondaries_tcp.h"
#include "bench/xfrload/verifier.h"
#include "proxy/event_loop.h"
#include "proxy/socket.h"

namespace xfr::load {

class UdpChannel;
class TcpConnection;
class Shard;

// Operation tags, shared by the transport classes.
inline constexpr unsigned kTagSend = 1;
inline constexpr unsigned kTagRecv = 2;
inline constexpr unsigned kTagConnect = 3;

struct Secondary {
  uint32_t index = 0;  // over all shards: the one in reports and addresses
  Serial serial;
  bool has_serial = true;
  uint32_t step = 0;              // mixed mode: position in SOA, IXFR, AXFR
  TcpConnection* conn = nullptr;  // pipelined connection, when open
  Request* request = nullptr;     // in flight
  // kNotify.
  bool checking = false;  // queued or in flight
  bool recheck = false;   // a NOTIFY came during the check: one more after it
  // The last NOTIFY (ID and hint): a retransmission of it starts nothing.
  bool has_notify_id = false;
  uint16_t last_notify_id = 0;
  std::optional<Serial> last_notify_hint;
  bool has_notified = false;
  Serial notified;  // the newest serial a NOTIFY announced to it

  std::optional<Serial> held() const {
    return has_serial ? std::optional<Serial>(serial) : std::nullopt;
  }
};

struct Request : CompletionTarget {
  Shard* shard = nullptr;
  Secondary* secondary = nullptr;
  QueryKind kind = QueryKind::kSoa;
  uint16_t id = 0;
  absl::Time start;
  absl::Time deadline;
  // kNotify SOA queries, sent again when no answer came (RFC 1035 §4.2.1
  // leaves retransmission to the client, as every secondary does).
  absl::Time retry_at = absl::InfiniteFuture();
  absl::Duration retry_interval;
  std::vector<uint8_t> wire;
  std::vector<uint8_t> request_mac;
  uint8_t prefix[2] = {0, 0};
  iovec iov[2] = {};
  msghdr msg = {};
  AnswerVerifier verifier;
  uint64_t bytes = 0;
  UdpChannel* udp = nullptr;
  TcpConnection* tcp = nullptr;
  bool on_notify_socket = false;  // kNotify SOA query: sent from its socket
  size_t active_index = 0;
  bool active = false;            // waiting for its answer
  bool in_list = false;           // in the shard's active list
  bool send_in_flight = false;    // UDP: the kernel may still read msg
  bool release_when_sent = false;

  // UDP send completions.
  void OnCompletion(const Event& e) override;
};

class Shard : private NotifyListener::Handler {
 public:
  struct Slice {
    uint32_t first = 0;  // index of the first secondary
    uint32_t count = 0;
    uint32_t concurrency = 1;
    std::optional<uint64_t> requests;
  };

  // `notify_fds`: kNotify, the bound sockets of this slice's secondaries.
  // `on_expect_reached` runs (on this shard's thread) when a transfer here
  // made every secondary of every shard hold the expected serial.
  Shard(const SecondariesOptions& options, Slice slice, Serial base_serial,
        LiveStats& stats, std::vector<ScopedFd> notify_fds,
        std::function<void()> on_expect_reached);
  ~Shard() override;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // On the thread that runs the shard: the ring is created here, since a
  // SINGLE_ISSUER ring belongs to the thread that set it up. Returns when
  // the shard's work is done or it was stopped.
  // The report holds this thread's CPU time.
  LoadReport Run(absl::Time end_issuing);
  // Any thread: ends Run() at the loop's next turn; requests in flight are
  // abandoned (counted, not errors).
  void Stop();

  // --- For the transport classes (the shard's own thread) ---
  EventLoop& loop() { return *loop_; }
  const SecondariesOptions& options() const { return options_; }
  LoadReport& report() { return report_; }
  TcpBufferPool& buffers() { return buffers_; }
  // Ends a request, verified or failed.
  void Finish(Request* r);
  void FailRequest(Request* r, ErrorKind kind, std::string detail);
  // Sends a transfer request on the secondary's open connection, or on a
  // new one.
  void StartTcp(Request* r, bool allow_reuse);
  void Destroy(TcpConnection* c);
  // A UDP send of `r` completed.
  void OnUdpSent(Request* r, int res);

  // What secondary `index` holds at the start: base - index mod spread, or
  // nothing with --serial none.
  static std::optional<Serial> InitialSerial(const SecondariesOptions& options,
                                             Serial base, uint32_t index);

 private:
  // NotifyListener::Handler
  void OnNotify(uint32_t local, uint16_t id, std::optional<Serial> hint,
                absl::Time now) override;
  void OnAnswer(uint32_t local, Bytes message) override;
  void OnRejected() override { stats_.CountRejected(); }

  absl::Status Setup();
  void SchedulePump();
  void Pump();
  bool Issuing() const;
  void Issue(Secondary& s);
  // Sends the query of `kind` for the request's secondary.
  void Begin(Request* r, QueryKind kind);
  void SendSoaFromNotifySocket(Request* r);
  TcpConnection* OpenConnection(Request* r);
  // Counts a finished request in the report.
  void Record(Request* r);
  // kNotify: the next step of the check (true: `r` was begun again).
  bool Continue(Request* r);
  void TakeSerial(Secondary& s, Serial serial);
  void Release(Request* r);
  // kNotify: queues a check for `s`, or marks a recheck if one is on.
  void NeedCheck(Secondary& s);
  void Sweep();
  void MaybeStop();
  void StopNow();
  // Cancels every operation, waits for the cancellations and closes.
  void TearDown();

  const SecondariesOptions& options_;
  const Slice slice_;
  LiveStats& stats_;
  std::function<void()> on_expect_reached_;
  std::vector<ScopedFd> notify_fds_;  // until Setup() hands them over
  sockaddr_storage target_sa_{};
  socklen_t target_sa_len_ = 0;

  std::mutex loop_mu_;  // guards loop_ for Stop() from other threads
  bool stop_requested_ = false;
  std::unique_ptr<EventLoop> loop_;
  std::vector<Secondary> secondaries_;
  std::deque<Secondary*> idle_;  // kNotify: the secondaries waiting to check
  std::vector<std::unique_ptr<Request>> requests_;
  std::vector<Request*> free_requests_;
  std::vector<Request*> active_;
  std::vector<std::unique_ptr<UdpChannel>> udp_;
  std::unique_ptr<NotifyListener> listener_;
  std::list<std::unique_ptr<TcpConnection>> connections_;
  TcpBufferPool buffers_;
  uint64_t issued_ = 0;
  uint16_t next_tcp_id_ = 1;
  bool pump_scheduled_ = false;
  bool stop_issuing_ = false;
  absl::Time end_issuing_ = absl::InfiniteFuture();
  LoadReport report_;
};

}  // namespace xfr::load
