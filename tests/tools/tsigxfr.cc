// tsigxfr: a small blocking TCP client for interop tests (not product code).
// Sends one TSIG-signed SOA, AXFR or IXFR query, reads every answer message,
// verifies the whole stream with TsigStreamVerifier and prints the records,
// one per line, then "tsig: verified N messages (M signed)". Any failure
// prints "error: ..." and exits 1.
//
//   tsigxfr --server 127.0.0.1:PORT --zone example.com --type AXFR
//           --key name:alg:base64 [--serial N] [--corrupt-mac] [--quiet]
//           [--timeout SECONDS] [--time-offset SECONDS]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "core/ascii.h"
#include "core/message.h"
#include "core/tsig.h"
#include "fmt/format.h"

namespace xfr {
namespace {

[[noreturn]] void Die(std::string_view what) {
  fmt::print("error: {}\n", what);
  std::fflush(stdout);
  std::exit(1);
}

struct Options {
  std::string server;
  std::string zone;
  std::string type = "AXFR";
  std::optional<uint32_t> serial;
  std::string key;
  bool corrupt_mac = false;
  bool quiet = false;
  int timeout_s = 30;
  int time_offset_s = 0;  // skews our clock, to provoke BADTIME
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(fmt::format("{} needs a value", a));
      return argv[++i];
    };
    if (a == "--server") o.server = value();
    else if (a == "--zone") o.zone = value();
    else if (a == "--type") o.type = value();
    else if (a == "--serial") o.serial = static_cast<uint32_t>(std::stoul(value()));
    else if (a == "--key") o.key = value();
    else if (a == "--corrupt-mac") o.corrupt_mac = true;
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--timeout") o.timeout_s = std::stoi(value());
    else if (a == "--time-offset") o.time_offset_s = std::stoi(value());
    else Die(fmt::format("unknown argument {}", a));
  }
  if (o.server.empty() || o.zone.empty() || o.key.empty()) {
    Die("usage: tsigxfr --server HOST:PORT --zone Z --type AXFR|SOA|IXFR "
        "[--serial N] --key name:alg:base64 [--corrupt-mac] [--quiet]");
  }
  return o;
}

TsigKey ParseKey(std::string_view spec) {
  size_t a = spec.find(':');
  size_t b = a == std::string_view::npos ? a : spec.find(':', a + 1);
  if (b == std::string_view::npos) Die("--key wants name:algorithm:base64");
  absl::StatusOr<TsigKey> k = MakeTsigKey(spec.substr(0, a), spec.substr(a + 1, b - a - 1),
                                          spec.substr(b + 1));
  if (!k.ok()) Die(ToStd(k.status().message()));
  return *std::move(k);
}

int Connect(const std::string& server) {
  size_t colon = server.rfind(':');
  if (colon == std::string::npos) Die("--server wants HOST:PORT");
  std::string host = server.substr(0, colon);
  int port = std::stoi(server.substr(colon + 1));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  sockaddr_storage ss{};
  socklen_t len;
  if (host.find(':') != std::string::npos) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) != 1) Die("bad address");
    len = sizeof(*s6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) != 1) Die("bad address");
    len = sizeof(*s4);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Die(fmt::format("connect {}: {}", server, std::strerror(errno)));
  }
  return fd;
}

void WriteAll(int fd, const std::vector<uint8_t>& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) Die(fmt::format("write: {}", std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
}

// Reads exactly n bytes; false on a clean EOF before the first byte.
bool ReadExactly(int fd, uint8_t* out, size_t n, int timeout_s) {
  size_t off = 0;
  while (off < n) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_s * 1000);
    if (r == 0) Die("timed out waiting for the server");
    if (r < 0) Die(fmt::format("poll: {}", std::strerror(errno)));
    ssize_t got = read(fd, out + off, n - off);
    if (got == 0) {
      if (off == 0) return false;
      Die("connection closed in the middle of a message");
    }
    if (got < 0) Die(fmt::format("read: {}", std::strerror(errno)));
    off += static_cast<size_t>(got);
  }
  return true;
}

std::vector<uint8_t> BuildQuery(const Options& o, const Name& zone, RRType type) {
  MessageBuilder b;
  b.header().id = static_cast<uint16_t>(getpid() * 7919u);
  if (!b.AddQuestion({zone, type})) Die("question does not fit");
  if (type == RRType::kIXFR) {
    // RFC 1995 §3: the client's SOA goes in the authority section; only
    // the serial matters.
    Record soa;
    soa.owner = zone;
    soa.type = RRType::kSOA;
    soa.rdata = {0, 0};  // MNAME and RNAME: the root
    std::vector<uint8_t> tail(20, 0);
    StoreU32(tail.data(), o.serial.value_or(0));
    soa.rdata.insert(soa.rdata.end(), tail.begin(), tail.end());
    if (!b.AddRecord(Section::kAuthority, soa)) Die("SOA does not fit");
  }
  return b.Finish();
}

// Flips one bit of the MAC of a signed query, re-encoding its TSIG RR.
void CorruptMac(std::vector<uint8_t>& query) {
  absl::StatusOr<Message> m = ParseMessage(Bytes(query.data(), query.size()));
  if (!m.ok() || !m->tsig) Die("cannot re-parse our own signed query");
  TsigRecord t = *m->tsig;
  t.mac[0] ^= 0x01;
  query.resize(m->tsig_offset);
  WireWriter w(query);
  WriteTsigRecord(w, t);
}

std::string RecordText(const Record& r) {
  // RFC 3597 generic form: exact and independent of the RDATA printers.
  std::string hex;
  for (uint8_t c : r.rdata) hex += fmt::format("{:02x}", c);
  return fmt::format("{} {} {} {} \\# {} {}", r.owner.ToText(), r.ttl,
                     r.rclass.ToString(), r.type.ToString(), r.rdata.size(),
                     hex);
}

uint32_t SoaSerial(const Record& r) {
  // MNAME and RNAME are uncompressed in our parsed records.
  size_t i = 0;
  for (int names = 0; names < 2 && i < r.rdata.size(); ++names) {
    while (i < r.rdata.size() && r.rdata[i] != 0) i += r.rdata[i] + 1;
    ++i;
  }
  return i + 4 <= r.rdata.size() ? LoadU32(r.rdata.data() + i) : 0;
}

int Run(const Options& o) {
  auto now = [&o] { return absl::Now() + absl::Seconds(o.time_offset_s); };
  const TsigKey key = ParseKey(o.key);
  std::string zone_text = o.zone;
  if (zone_text.back() != '.') zone_text.push_back('.');
  absl::StatusOr<Name> zone = Name::FromText(zone_text);
  if (!zone.ok()) Die("bad zone name");
  std::optional<RRType> type = RRType::FromString(o.type);
  if (!type || (*type != RRType::kAXFR && *type != RRType::kIXFR &&
                *type != RRType::kSOA)) {
    Die("--type must be AXFR, IXFR or SOA");
  }

  std::vector<uint8_t> query = BuildQuery(o, *zone, *type);
  absl::StatusOr<std::vector<uint8_t>> qmac = SignTsigQuery(key, query, now());
  if (!qmac.ok()) Die(ToStd(qmac.status().message()));
  if (o.corrupt_mac) CorruptMac(query);
  absl::StatusOr<TsigStreamVerifier> verifier =
      TsigStreamVerifier::Create(key, Bytes(qmac->data(), qmac->size()));
  if (!verifier.ok()) Die(ToStd(verifier.status().message()));

  int fd = Connect(o.server);
  std::vector<uint8_t> framed(2);
  StoreU16(framed.data(), static_cast<uint16_t>(query.size()));
  framed.insert(framed.end(), query.begin(), query.end());
  WriteAll(fd, framed);

  // Where the answer ends (RFC 5936 §2.2, RFC 1995 §4): SOA answers are one
  // message; a transfer ends with the SOA that opened it, which comes twice
  // in an AXFR(-style) answer and three times in an incremental one.
  size_t records = 0;
  std::optional<uint32_t> first_serial;
  int closing_soas_needed = 2;
  int serial_seen = 0;
  bool done = false;
  std::vector<uint8_t> buf;
  while (!done) {
    uint8_t len[2];
    if (!ReadExactly(fd, len, 2, o.timeout_s)) {
      Die("connection closed before the answer was complete");
    }
    buf.resize(LoadU16(len));
    ReadExactly(fd, buf.data(), buf.size(), o.timeout_s);
    Bytes wire(buf.data(), buf.size());
    absl::StatusOr<Message> m = ParseMessage(wire);
    if (!m.ok()) Die(fmt::format("bad answer: {}", ToStd(m.status().message())));
    if (absl::Status s = verifier->Feed(wire, *m, now()); !s.ok()) {
      Die(fmt::format("{} (RCODE {})", ToStd(s.message()), m->rcode().ToString()));
    }
    if (m->rcode() != Rcode::kNoError) {
      Die(fmt::format("server answered {}", m->rcode().ToString()));
    }
    for (const Record& r : m->answer) {
      if (!o.quiet) fmt::print("{}\n", RecordText(r));
      ++records;
      if (r.type != RRType::kSOA) continue;
      uint32_t serial = SoaSerial(r);
      if (!first_serial) {
        first_serial = serial;
        serial_seen = 1;
        continue;
      }
      if (records == 2 && *type == RRType::kIXFR && serial != *first_serial) {
        closing_soas_needed = 3;  // incremental: SOA(new) SOA(old) ...
      }
      if (serial == *first_serial && ++serial_seen == closing_soas_needed) {
        done = true;
      }
    }
    if (*type == RRType::kSOA) done = true;
    // RFC 1995 §4: a lone SOA means the client is up to date.
    if (*type == RRType::kIXFR && records == 1) done = true;
    if (records == 0) Die("answer without records");
  }
  close(fd);
  if (absl::Status s = verifier->Finish(); !s.ok()) Die(ToStd(s.message()));
  fmt::print("tsig: verified {} messages ({} signed), {} records\n",
             verifier->messages(), verifier->signed_messages(), records);
  return 0;
}

}  // namespace
}  // namespace xfr

int main(int argc, char** argv) {
  return xfr::Run(xfr::ParseArgs(argc, argv));
}
