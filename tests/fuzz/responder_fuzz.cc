// Feeds arbitrary bytes to the primary side's request handler, over UDP and
// TCP, with a zone loaded, a TSIG key configured and a transfer policy in
// force. Every answer must be a message that parses, carries the request's
// ID, and every transfer stream must yield well-formed messages; nothing may
// crash or read out of bounds. This is the path every packet from the
// network takes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/message.h"
#include "core/zonefile.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"
#include "proxy/primary.h"
#include "proxy/zone_store.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "responder invariant broken: %s\n", what);
    std::abort();
  }
}

struct Fixture {
  std::shared_ptr<xfr::ZoneStore> store;
  xfr::ServerStats stats;
  std::unique_ptr<xfr::PrimaryResponder> responder;

  Fixture() {
    auto config = xfr::LoadConfigText(R"(
listen: ["127.0.0.1:5300"]
keys:
  - {name: k, algorithm: hmac-sha256, secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
zones:
  - name: example.com.
    file: /nonexistent.zone
    allow-transfer: ["127.0.0.0/8"]
    secondaries:
      - {address: "127.0.0.2:53", key: k}
)",
                                      "fuzz.yaml", "/");
    Check(config.ok(), "fixture config");
    auto s = xfr::ZoneStore::FromConfig(*config, nullptr);
    Check(s.ok(), "fixture store");
    store = *s;
    xfr::Name origin = *xfr::Name::FromText("example.com.");
    auto v1 = xfr::ZoneVersion::Build(origin, Records(1));
    auto v2 = xfr::ZoneVersion::Build(origin, Records(2));
    Check(v1.ok() && v2.ok(), "fixture versions");
    auto z1 = xfr::BuildServedZone(*v1, nullptr, nullptr, absl::Now());
    auto diff = std::make_shared<const xfr::ZoneDiff>(xfr::ComputeDiff(**v1, **v2));
    auto z2 = xfr::BuildServedZone(*v2, z1->get(), diff, absl::Now());
    Check(z2.ok(), "fixture snapshot");
    store->Find(origin)->Publish(*z2);
    responder = std::make_unique<xfr::PrimaryResponder>(store, stats);
  }

  static std::vector<xfr::Record> Records(int serial) {
    std::string text = "$TTL 300\n@ SOA ns hostmaster " + std::to_string(serial) +
                       " 3600 600 86400 300\n@ NS ns\nns A 192.0.2.1\n";
    for (int i = 0; i < 40 + serial; ++i) {
      text += "h" + std::to_string(i) + " TXT \"" + std::string(100, 'x') + "\"\n";
    }
    auto r = xfr::ReadZoneText(text, *xfr::Name::FromText("example.com."), "fuzz");
    Check(r.ok(), "fixture zone text");
    return std::move(*r);
  }
};

void CheckAnswer(const uint8_t* q, size_t n, const std::vector<uint8_t>& a) {
  auto m = xfr::ParseMessage(xfr::Bytes(a.data(), a.size()));
  Check(m.ok(), "answer parses");
  Check(m->header.qr, "answer has QR");
  Check(n >= 2 && m->header.id == (q[0] << 8 | q[1]), "answer keeps the ID");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = new Fixture();
  for (xfr::Transport t : {xfr::Transport::kUdp, xfr::Transport::kTcp}) {
    xfr::RequestContext ctx{*xfr::SocketAddress::Parse("127.0.0.1:4000"), t,
                            absl::FromUnixSeconds(1700000000)};
    xfr::Reply r = f->responder->Handle(xfr::Bytes(data, size), ctx);
    if (r.kind == xfr::Reply::Kind::kMessage) {
      CheckAnswer(data, size, r.message);
    } else if (r.kind == xfr::Reply::Kind::kTransfer) {
      Check(t == xfr::Transport::kTcp, "transfers only over TCP");
      std::vector<iovec> iov;
      for (int i = 0; i < 100; ++i) {
        iov.clear();
        size_t len = r.transfer->Next(iov);
        if (len == 0) break;
        std::vector<uint8_t> msg;
        for (const iovec& v : iov) {
          auto* p = static_cast<const uint8_t*>(v.iov_base);
          msg.insert(msg.end(), p, p + v.iov_len);
        }
        Check(msg.size() == len, "stream reports its message size");
        CheckAnswer(data, size, msg);
        r.transfer->Release();
      }
    }
  }
  return 0;
}
