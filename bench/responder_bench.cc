// The primary side's per-request cost without the network: an SOA query
// answered by PrimaryResponder (parse, zone lookup, answer encoding), and an
// AXFR request turned into its stream of shared messages.
#include <benchmark/benchmark.h>

#include <string>

#include "core/message.h"
#include "core/zonefile.h"
#include "fmt/format.h"
#include "fanout/served_zone.h"
#include "proxy/config.h"
#include "proxy/primary.h"
#include "proxy/zone_store.h"

namespace xfr {
namespace {

struct Fixture {
  std::shared_ptr<ZoneStore> store;
  ServerStats stats;
  std::unique_ptr<PrimaryResponder> responder;

  explicit Fixture(int records) {
    auto config = LoadConfigText(
        "listen: [\"127.0.0.1:5300\"]\nzones:\n  - name: example.com.\n"
        "    file: /dev/null\n    allow-transfer: [\"127.0.0.0/8\"]\n",
        "bench.yaml", "/");
    store = *ZoneStore::FromConfig(*config, nullptr);
    std::string text = "$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\n";
    for (int i = 0; i < records; ++i) {
      text += fmt::format("h{} A 192.0.2.{}\n", i, i % 250);
    }
    Name origin = *Name::FromText("example.com.");
    auto version = ZoneVersion::Build(origin, *ReadZoneText(text, origin, "bench"));
    store->Find(origin)->Publish(*BuildServedZone(*version, nullptr, nullptr, absl::Now()));
    responder = std::make_unique<PrimaryResponder>(store, stats);
  }

  static std::vector<uint8_t> Query(RRType type, bool edns) {
    MessageBuilder b;
    b.header().id = 4242;
    (void)b.AddQuestion(Question{*Name::FromText("example.com."), type, RRClass::kIN});
    if (edns) (void)b.SetEdns(Edns{});
    return b.Finish();
  }
};

void BM_SoaQuery(benchmark::State& state) {
  Fixture f(100);
  std::vector<uint8_t> q = Fixture::Query(RRType::kSOA, state.range(0) != 0);
  RequestContext ctx{*SocketAddress::Parse("127.0.0.1:4000"), Transport::kUdp, absl::Now()};
  for (auto _ : state) {
    Reply r = f.responder->Handle(Bytes(q.data(), q.size()), ctx);
    benchmark::DoNotOptimize(r.message.data());
  }
  state.counters["queries/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SoaQuery)->Arg(0)->Arg(1)->ArgName("edns");

void BM_AxfrStream(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  std::vector<uint8_t> q = Fixture::Query(RRType::kAXFR, false);
  RequestContext ctx{*SocketAddress::Parse("127.0.0.1:4000"), Transport::kTcp, absl::Now()};
  std::vector<iovec> iov;
  size_t bytes = 0;
  for (auto _ : state) {
    Reply r = f.responder->Handle(Bytes(q.data(), q.size()), ctx);
    while (true) {
      iov.clear();
      size_t n = r.transfer->Next(iov);
      if (n == 0) break;
      bytes += n;
      r.transfer->Release();
    }
  }
  // Bytes handed to the kernel as iovecs: nothing is copied or encoded per
  // request, so this measures the per-message bookkeeping only.
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(bytes),
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AxfrStream)->Arg(100000)->ArgName("records");

}  // namespace
}  // namespace xfr
