// The ring side of the NOTIFY fan-out: sockets,
// sends, receives and timers around one fanout/NotifyFanout per zone.
//
// One sender serves every zone, on the loop of the thread that owns zone
// changes (docs/architecture.md, "Threads"), because:
//  - a version is published on that thread, so Notify() is a plain call;
//  - one UDP socket per address family and one provided-buffer ring serve
//    any number of zones, where a sender per zone would cost a socket and a
//    buffer group per zone for a few datagrams per change;
//  - the datagrams of every zone changed in a loop turn leave in that turn's
//    single io_uring_enter.
// All NOTIFYs due at once are queued as sendmsg SQEs and submitted together
// by the loop (Ring::Wait): no syscall per peer. Answers come back on a
// multishot recvmsg with provided buffers, as in proxy/udp_server.cc, and
// each zone has one timer at its fan-out's next deadline.
//
// Sources (`notify-source`, Config::SourceFor): one socket per distinct
// source address, shared by the zones that use it; the kernel-chosen
// source is the wildcard socket of each family. A source is bound once and
// kept until Stop(): a reload that moves a zone to another source leaves
// the old socket idle rather than cutting answers still on their way.
//
// verify-peers: a zone's fanout/PeerVerifier sends its SOA queries on the
// zone's NOTIFY sockets; answers come back there and are told apart from
// NOTIFY answers by opcode, then matched by peer, ID and question.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/name.h"
#include "core/record.h"
#include "core/serial.h"
#include "fanout/notify_fanout.h"
#include "fanout/peer_verify.h"
#include "proxy/config.h"
#include "proxy/event_loop.h"
#include "proxy/socket.h"

namespace xfr {

// The fan-out's address form of a socket address (same 16 bytes, v4-mapped).
PeerAddress ToPeerAddress(const SocketAddress& a);

class NotifySender : private CompletionTarget {
 public:
  // Opens the sockets and arms the receives on `loop`. `buffer_group` must
  // be unique on that ring (UdpServer uses 1..listen addresses).
  static absl::StatusOr<std::unique_ptr<NotifySender>> Start(
      EventLoop& loop, uint16_t buffer_group, NotifyOptions options = {});
  ~NotifySender() override;
  NotifySender(const NotifySender&) = delete;
  NotifySender& operator=(const NotifySender&) = delete;

  // Takes the zones and their secondaries from `config` (at start and on
  // each reload). A zone whose secondaries and keys are unchanged keeps its
  // peer state and pending NOTIFYs; a changed zone starts afresh; a removed
  // zone is dropped.
  void Configure(const Config& config);

  // A new version of `zone` with `serial` and SOA `soa` is servable: notify
  // its secondaries (RFC 1996 §3.5). Unknown zones and zones without
  // secondaries are ignored.
  void Notify(const Name& zone, Serial serial, RecordView soa);
  // An operator's NOTIFY again (`xfrproxy ctl notify`): to every notified
  // secondary of `zone`, or only to `peer` (its address as configured).
  // Returns how many peers it goes to; an error names what is wrong (no
  // secondaries, not a secondary of the zone, notify: false).
  absl::StatusOr<size_t> Renotify(const Name& zone, Serial serial, RecordView soa,
                                  const std::optional<SocketAddress>& peer);

  // The zone's peer table (for the serving threads' ReportHeldSerial and
  // for /peers), or null when the zone has no secondaries.
  std::shared_ptr<PeerTable> Peers(const Name& zone) const;
  // The fan-out of a zone, for counters; null when none.
  const NotifyFanout* Fanout(const Name& zone) const;
  const NotifyOptions& options() const { return options_; }

  // Stops receiving (shutdown). The object must outlive the loop's last
  // turn: cancelled receives and in-flight sends still complete on it.
  void Stop();

 private:
  struct Send;
  // Its own completion target: the ring's 3-bit tag cannot name one
  // socket among any number of sources.
  struct Socket : CompletionTarget {
    NotifySender* owner = nullptr;
    ScopedFd fd;
    msghdr recv_msg{};
    SocketAddress source;  // as asked for; the wildcard: kernel's choice
    void OnCompletion(const Event& e) override { owner->OnReceive(*this, e); }
  };
  struct Zone {
    std::unique_ptr<NotifyFanout> fanout;
    std::unique_ptr<PeerVerifier> verifier;  // verify-peers only
    std::vector<NotifyPeer> peers;  // as configured, to spot changes
    Socket* v4 = nullptr;  // where its datagrams leave from
    Socket* v6 = nullptr;
    TimerQueue::Id timer = 0;
    absl::Time timer_at = absl::InfiniteFuture();
    uint64_t give_ups_logged = 0;
  };

  NotifySender(EventLoop& loop, NotifyOptions options);
  void Arm(Socket& s);
  void OnCompletion(const Event&) override {}
  void OnReceive(Socket& sock, const Event& e);
  void OnDatagram(const sockaddr* from, socklen_t len, Bytes payload);
  // Sends what the zone's fan-out has due now and re-arms its timer.
  void Flush(const Name& name, Zone& z);
  void Schedule(const Name& name, Zone& z);
  void SendTo(const Zone& z, const PeerAddress& to, std::vector<uint8_t> bytes);
  // The socket bound to `source` (opened, bound and armed on first use), or
  // the family's wildcard socket (null when there is none) if that fails.
  Socket* SocketFor(const SocketAddress& source);
  absl::Status OpenSocket(const SocketAddress& source);
  void Done(Send* s);
  uint16_t RandomId();

  EventLoop& loop_;
  NotifyOptions options_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  Socket* any4_ = nullptr;
  Socket* any6_ = nullptr;  // null when the host has no IPv6
  std::unique_ptr<BufferRing> buffers_;
  absl::flat_hash_map<Name, Zone> zones_;
  std::vector<std::unique_ptr<Send>> sends_;  // every Send ever made
  std::vector<Send*> free_sends_;
  std::vector<uint8_t> random_pool_;
  size_t random_used_ = 0;
  uint64_t send_errors_ = 0;
  bool stopped_ = false;
};

}  // namespace xfr
