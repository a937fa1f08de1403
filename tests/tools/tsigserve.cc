// tsigserve: a minimal TSIG-checking primary for interop tests (not product
// code). It serves a synthetic zone (SOA, NS, N A records) on 127.0.0.1 over
// UDP (SOA) and TCP (SOA, AXFR, IXFR answered AXFR-style), and only to
// signed requests: each request is checked with VerifyTsigRequest, errors
// get the RFC 8945 §5.3.2 answers, and transfers are signed message by
// message with TsigStreamSigner from [header+question copy][shared body]
// parts, the way the proxy serves them. dig, kdig, Knot and BIND then act as
// the independent verifiers of our server side.
//
//   tsigserve --port P --zone Z --records N --serial S --key name:alg:b64...
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "core/ascii.h"
#include "core/message.h"
#include "core/transfer.h"
#include "core/tsig.h"
#include "fmt/format.h"

namespace xfr {
namespace {

[[noreturn]] void Die(std::string_view what) {
  fmt::print(stderr, "tsigserve: {}\n", what);
  std::exit(1);
}

struct Zone {
  Name origin;
  std::vector<Record> records;  // SOA first
};

Zone MakeZone(const std::string& origin_text, int n, uint32_t serial) {
  Zone z;
  z.origin = *Name::FromText(origin_text);
  Record soa{z.origin, RRType::kSOA, RRClass::kIN, 3600, {}};
  for (std::string_view label : {"ns1", "hostmaster"}) {
    Name nm = *Name::FromText(fmt::format("{}.{}", label, origin_text));
    soa.rdata.insert(soa.rdata.end(), nm.wire().begin(), nm.wire().end());
  }
  for (uint32_t v : {serial, 3600u, 600u, 86400u, 300u}) {
    uint8_t b[4];
    StoreU32(b, v);
    soa.rdata.insert(soa.rdata.end(), b, b + 4);
  }
  z.records.push_back(soa);
  Name ns = *Name::FromText("ns1." + origin_text);
  z.records.push_back({z.origin, RRType::kNS, RRClass::kIN, 3600,
                       std::vector<uint8_t>(ns.wire().begin(), ns.wire().end())});
  for (int i = 0; i < n; ++i) {
    z.records.push_back({*Name::FromText(fmt::format("host{}.{}", i, origin_text)),
                         RRType::kA, RRClass::kIN, 3600,
                         {10, static_cast<uint8_t>(i >> 16),
                          static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}});
  }
  return z;
}

class Server {
 public:
  Server(Zone zone, std::vector<TsigKey> keys)
      : zone_(std::move(zone)), keys_(std::move(keys)) {}

  // One answer to one request, as a list of messages to send in order.
  std::vector<std::vector<uint8_t>> Answer(Bytes wire, bool tcp) {
    absl::StatusOr<Message> q = ParseMessage(wire);
    if (!q.ok() || q->questions.size() != 1 || q->header.qr) {
      return {Plain(wire, Rcode::kFormErr)};
    }
    if (!q->tsig) return {Plain(wire, Rcode::kRefused)};
    absl::Time now = absl::Now();
    TsigRequestCheck check =
        VerifyTsigRequest(keys_, wire, *q->tsig, q->tsig_offset, now);
    if (check.error == Rcode::kFormErr) return {Plain(wire, Rcode::kFormErr)};
    if (!check.ok()) {
      fmt::print(stderr, "tsigserve: request refused: {}\n", check.detail);
      std::vector<uint8_t> a = Plain(wire, Rcode::kNoError);
      if (!AppendTsigErrorAnswer(check, a, now).ok()) Die("error answer");
      return {a};
    }
    const Question& question = q->questions[0];
    absl::StatusOr<TsigStreamSigner> signer =
        TsigStreamSigner::Create(*check.key, Bytes(check.request.mac.data(),
                                                   check.request.mac.size()));
    if (!signer.ok()) Die("signer");
    if (!(question.qname == zone_.origin)) return {Signed(*signer, wire, Rcode::kNotAuth, now)};
    if (question.qtype == RRType::kSOA) {
      MessageBuilder b = StartResponse(*q);
      b.header().aa = true;
      if (!b.AddRecord(Section::kAnswer, zone_.records[0])) Die("SOA");
      std::vector<uint8_t> a = b.Finish();
      if (!signer->SignMessage(a, now).ok()) Die("sign");
      return {a};
    }
    if (!tcp || (question.qtype != RRType::kAXFR && question.qtype != RRType::kIXFR)) {
      return {Signed(*signer, wire, Rcode::kRefused, now)};
    }
    // IXFR is answered AXFR-style (RFC 1995 §4 allows it).
    const std::vector<EncodedMessage>& enc = Encoded(question);
    std::vector<std::vector<uint8_t>> out;
    Bytes qbytes = wire.subspan(kHeaderSize, q->question_end - kHeaderSize);
    for (const EncodedMessage& m : enc) {
      // Exactly the server's path: a per-request prefix, the shared body,
      // the MAC over both parts, then ARCOUNT + 1 in the prefix copy.
      std::vector<uint8_t> prefix(kMaxRequestPrefixSize);
      absl::StatusOr<size_t> n = WriteRequestPrefix(
          m, q->header.id, q->header.rd, qbytes,
          MutableBytes(prefix.data(), prefix.size()));
      if (!n.ok()) Die(ToStd(n.status().message()));
      prefix.resize(*n);
      Bytes parts[] = {Bytes(prefix.data(), prefix.size()), m.body()};
      std::vector<uint8_t> rr;
      if (!signer->Sign(parts, now, rr).ok()) Die("sign");
      IncrementArcount(MutableBytes(prefix.data(), prefix.size()));
      std::vector<uint8_t> msg = prefix;
      msg.insert(msg.end(), m.body().begin(), m.body().end());
      msg.insert(msg.end(), rr.begin(), rr.end());
      out.push_back(std::move(msg));
    }
    return out;
  }

 private:
  // A bare answer: the query's header with QR set and `rcode`, no records.
  static std::vector<uint8_t> Plain(Bytes query, Rcode rcode) {
    std::vector<uint8_t> a(kHeaderSize, 0);
    if (query.size() >= 2) std::memcpy(a.data(), query.data(), 2);
    a[2] = 0x80;
    a[3] = static_cast<uint8_t>(rcode.value() & 0x0f);
    return a;
  }
  static std::vector<uint8_t> Signed(TsigStreamSigner& s, Bytes query,
                                     Rcode rcode, absl::Time now) {
    std::vector<uint8_t> a = Plain(query, rcode);
    if (!s.SignMessage(a, now).ok()) Die("sign");
    return a;
  }
  const std::vector<EncodedMessage>& Encoded(const Question& q) {
    auto it = cache_.find(q.qtype.value());
    if (it != cache_.end()) return it->second;
    TransferEncoder enc({zone_.origin, q.qtype, RRClass::kIN});
    for (const Record& r : zone_.records) enc.Add(r);
    enc.Add(zone_.records[0]);
    absl::StatusOr<std::vector<EncodedMessage>> msgs = enc.Finish();
    if (!msgs.ok()) Die(ToStd(msgs.status().message()));
    return cache_[q.qtype.value()] = *std::move(msgs);
  }

  Zone zone_;
  std::vector<TsigKey> keys_;
  std::map<uint16_t, std::vector<EncodedMessage>> cache_;
};

bool ReadExactly(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool WriteAll(int fd, const std::vector<uint8_t>& msg) {
  uint8_t len[2];
  StoreU16(len, static_cast<uint16_t>(msg.size()));
  iovec iov[2] = {{len, 2}, {const_cast<uint8_t*>(msg.data()), msg.size()}};
  size_t want = 2 + msg.size();
  ssize_t n = writev(fd, iov, 2);
  if (n == static_cast<ssize_t>(want)) return true;
  if (n < 0) return false;
  // Short write: finish the rest plainly (a test tool may block).
  std::vector<uint8_t> all(len, len + 2);
  all.insert(all.end(), msg.begin(), msg.end());
  for (size_t off = static_cast<size_t>(n); off < all.size();) {
    ssize_t w = write(fd, all.data() + off, all.size() - off);
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

void ServeTcp(Server& server, int conn) {
  // Pipelined queries on one connection (RFC 7766), answered in order.
  for (;;) {
    uint8_t len[2];
    if (!ReadExactly(conn, len, 2)) break;
    std::vector<uint8_t> q(LoadU16(len));
    if (!ReadExactly(conn, q.data(), q.size())) break;
    bool ok = true;
    for (const auto& m : server.Answer(Bytes(q.data(), q.size()), true)) {
      if (!(ok = WriteAll(conn, m))) break;
    }
    if (!ok) break;
  }
  close(conn);
}

int Bound(int type, int port) {
  int fd = socket(AF_INET, type, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    Die(fmt::format("bind port {}: {}", port, std::strerror(errno)));
  }
  return fd;
}

int Main(int argc, char** argv) {
  int port = 0, records = 1000;
  uint32_t serial = 1;
  std::string zone = "example.com.";
  std::vector<TsigKey> keys;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i], v = argv[i + 1];
    if (a == "--port") port = std::stoi(std::string(v));
    else if (a == "--zone") zone = v;
    else if (a == "--records") records = std::stoi(std::string(v));
    else if (a == "--serial") serial = static_cast<uint32_t>(std::stoul(std::string(v)));
    else if (a == "--key") {
      size_t c1 = v.find(':'), c2 = v.find(':', c1 + 1);
      if (c1 == v.npos || c2 == v.npos) Die("--key wants name:alg:base64");
      absl::StatusOr<TsigKey> k =
          MakeTsigKey(v.substr(0, c1), v.substr(c1 + 1, c2 - c1 - 1), v.substr(c2 + 1));
      if (!k.ok()) Die(ToStd(k.status().message()));
      keys.push_back(*std::move(k));
    } else {
      Die(fmt::format("unknown argument {}", a));
    }
  }
  if (port == 0 || keys.empty()) Die("usage: tsigserve --port P --key name:alg:b64 ...");
  if (zone.back() != '.') zone.push_back('.');
  Server server(MakeZone(zone, records, serial), std::move(keys));
  int udp = Bound(SOCK_DGRAM, port);
  int tcp = Bound(SOCK_STREAM, port);
  if (listen(tcp, 16) != 0) Die("listen");
  fmt::print(stderr, "tsigserve: serving {} on 127.0.0.1:{}\n", zone, port);
  for (;;) {
    pollfd p[2] = {{udp, POLLIN, 0}, {tcp, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Die("poll");
    }
    if (p[0].revents & POLLIN) {
      uint8_t buf[65535];
      sockaddr_storage from{};
      socklen_t fl = sizeof(from);
      ssize_t n = recvfrom(udp, buf, sizeof(buf), 0,
                           reinterpret_cast<sockaddr*>(&from), &fl);
      if (n > 0) {
        auto answers = server.Answer(Bytes(buf, static_cast<size_t>(n)), false);
        sendto(udp, answers[0].data(), answers[0].size(), 0,
               reinterpret_cast<sockaddr*>(&from), fl);
      }
    }
    if (p[1].revents & POLLIN) {
      int conn = accept(tcp, nullptr, nullptr);
      // One connection at a time; an idle client must not stall the rest.
      timeval idle{5, 0};
      if (conn >= 0) {
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
        ServeTcp(server, conn);
      }
    }
  }
}

}  // namespace
}  // namespace xfr

int main(int argc, char** argv) { return xfr::Main(argc, argv); }
