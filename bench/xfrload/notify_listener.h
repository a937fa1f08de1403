// The NOTIFY side of the simulated secondaries (RFC 1996): each secondary
// has one UDP socket bound to its own address (NotifyListenAddress), on
// which it receives NOTIFY, answers it, sends its SOA queries to the target
// and receives their answers, as a real secondary does from its address.
//
// However many secondaries there are, they cost no thread and no buffer
// each: every socket has one multishot recvmsg armed on the shard's ring,
// all drawing on one provided-buffer group, so 10,000 idle secondaries are
// 10,000 sockets and a few megabytes of shared buffers.
//
// What a NOTIFY must be to start a check (RFC 1996 §3.7, §4.7): opcode
// NOTIFY, QR=0, one question <zone, SOA, IN>, and, when a TSIG key is
// given, signed with it (RFC 8945 §5.2). It is answered with QR=1, AA=1,
// the same ID and question, signed when it was; the SOA in its answer
// section is passed on only as a hint. Anything else is answered REFUSED
// (another zone, an unsigned or badly signed NOTIFY) or dropped.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/name.h"
#include "core/serial.h"
#include "core/tsig_key.h"
#include "core/wire.h"
#include "proxy/event_loop.h"
#include "proxy/net_address.h"
#include "proxy/socket.h"

namespace xfr::load {

class NotifyListener {
 public:
  // `local` is the secondary's position among the listener's sockets.
  class Handler {
   public:
    // A NOTIFY for the zone, already answered.
    virtual void OnNotify(uint32_t local, uint16_t id, std::optional<Serial> hint,
                          absl::Time now) = 0;
    // A response from the target arrived on the secondary's socket.
    virtual void OnAnswer(uint32_t local, Bytes message) = 0;
    // A NOTIFY refused or dropped.
    virtual void OnRejected() = 0;
    virtual ~Handler() = default;
  };

  // Opens the sockets of secondaries [first, first + count) and binds each
  // to its address: plain sockets, so any thread may do it, and an address
  // in use is reported before any loop starts.
  static absl::StatusOr<std::vector<ScopedFd>> OpenSockets(const SocketAddress& base,
                                                           uint32_t first, uint32_t count);

  // On the loop's thread: takes the sockets and arms their receives on
  // buffer group `group`. `key` may be null.
  static absl::StatusOr<std::unique_ptr<NotifyListener>> Start(
      EventLoop& loop, uint16_t group, std::vector<ScopedFd> fds, const Name& zone,
      const TsigKey* key, const SocketAddress& target, Handler& handler);
  ~NotifyListener();
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;

  // The secondary's socket, to send its SOA queries from.
  int fd(uint32_t local) const;

  // Cancels every receive; idle() once the last completion has come: then
  // closing the sockets releases them (the addresses are free for the next
  // run), where a ring still holding a receive would keep them bound until
  // its own teardown, some time later.
  void Cancel();
  bool idle() const { return armed_ == 0 && sending_ == 0; }

 private:
  struct Socket;
  struct Out;

  NotifyListener(EventLoop& loop, const Name& zone, const TsigKey* key,
                 const SocketAddress& target, Handler& handler);
  void Arm(Socket& s);
  void OnReceive(Socket& s, int res, bool more, int buffer_id);
  void OnDatagram(Socket& s, const sockaddr* from, socklen_t from_len, Bytes msg);
  void HandleNotify(Socket& s, const sockaddr* from, socklen_t from_len, Bytes msg);
  void Send(Socket& s, const sockaddr* to, socklen_t to_len, std::vector<uint8_t> bytes);

  EventLoop& loop_;
  const Name zone_;
  const TsigKey* key_;
  const SocketAddress target_;
  Handler& handler_;
  std::unique_ptr<BufferRing> buffers_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  std::vector<std::unique_ptr<Out>> outs_;
  std::vector<Out*> free_outs_;
  size_t armed_ = 0;    // receives armed
  size_t sending_ = 0;  // answers being sent
  bool cancelled_ = false;
};

}  // namespace xfr::load
