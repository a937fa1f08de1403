// `xfrload primary`: the synthetic primary on the command line. Prints a
// line per change and, at the end (--duration, SIGINT or SIGTERM), the
// totals; with --json every line is one JSON object with an "event" field.
// SIGUSR1 makes one change at once, so a test or a script decides exactly
// when the zone moves.
#include <malloc.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "bench/xfrload/primary_options.h"
#include "core/ascii.h"
#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr::load {
namespace {

void Print(const std::string& line) {
  // One call per line: stdio locks the stream, so lines from the change
  // thread and the main thread never interleave.
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

// {"event":"name",<the object's fields>}
std::string Event(std::string_view name, const std::string& object) {
  return fmt::format("{{\"event\":\"{}\",{}", name, object.substr(1));
}

std::string ChangeLine(const ChangeEvent& e, const PrimaryStats& s, bool json) {
  if (json) {
    return fmt::format(
        "{{\"event\":\"change\",\"serial\":{},\"zones\":{},\"version\":{},\"added\":{},"
        "\"removed\":{},"
        "\"modified\":{},\"records\":{},\"build_ms\":{:.2f},\"apply_ms\":{:.2f},\"transfers\":{},"
        "\"notifies_sent\":{},\"notifies_acked\":{}}}",
        e.serial.value(), e.zones, e.version, e.counts.added, e.counts.removed,
        e.counts.modified, e.records, absl::ToDoubleMilliseconds(e.build_time),
        absl::ToDoubleMilliseconds(e.apply_time), s.transfers(), s.notifies_sent,
        s.notifies_acked);
  }
  return fmt::format(
      "serial {} (change {}): +{} -{} ~{} records, {} records, built in {:.1f} ms "
      "(ApplyDiff {:.1f} ms); "
      "transfers so far {} (axfr {}, ixfr {}, ixfr-as-axfr {}), notifies {}/{}",
      e.serial.value(), e.version, e.counts.added, e.counts.removed, e.counts.modified,
      e.records, absl::ToDoubleMilliseconds(e.build_time),
      absl::ToDoubleMilliseconds(e.apply_time), s.transfers(), s.axfr, s.ixfr,
      s.ixfr_full, s.notifies_acked, s.notifies_sent);
}

std::string TotalsText(const PrimaryStats& s) {
  return fmt::format(
      "totals: serial {}, {} versions, {} records\n"
      "  SOA queries   {}\n"
      "  AXFR served   {}\n"
      "  IXFR served   {} diffs, {} AXFR-style, {} up to date\n"
      "  transfers     {} with data, {} completed, {} bytes over TCP\n"
      "  NOTIFY        {} sent, {} acked, {} gave up\n"
      "  faults        {}\n"
      "  generation    {:.1f} ms, AXFR encoded in {:.1f} ms, last version built in {:.1f} ms, "
      "up {:.1f} s",
      s.serial.value(), s.versions, s.records, s.soa_queries, s.axfr, s.ixfr, s.ixfr_full,
      s.ixfr_current, s.transfers(), s.transfers_done, s.tcp_bytes, s.notifies_sent,
      s.notifies_acked, s.notify_give_ups, s.faults,
      absl::ToDoubleMilliseconds(s.generation_time), absl::ToDoubleMilliseconds(s.encode_time),
      absl::ToDoubleMilliseconds(s.last_build_time), absl::ToDoubleSeconds(s.uptime));
}

}  // namespace

int RunPrimaryCommand(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(PrimaryUsage().c_str(), stdout);
      return 0;
    }
  }
  auto cmd = ParsePrimaryOptions(args);
  if (!cmd.ok()) {
    std::fprintf(stderr, "xfrload: %s\n%s", std::string(ToStd(cmd.status().message())).c_str(),
                 PrimaryUsage().c_str());
    return 2;
  }
  // Every version of a large zone is a new arena of tens of MB. glibc
  // serves blocks that large with a fresh mmap and unmaps them on free, so
  // each version would fault in every page again (on a VM that made
  // ApplyDiff of a 1M-record zone 30 times slower than the copy itself).
  // Keeping freed memory in the heap lets the next version reuse it.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // NOTIFY fan-out logs a line per change at info level: noise at a
  // change rate a load test wants.
  SetLogLevel(cmd->verbose ? LogLevel::kInfo : LogLevel::kWarning);
  // Signals are taken by sigtimedwait below only: blocked before any thread
  // starts, so every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  bool json = cmd->json;
  SyntheticPrimary* running = nullptr;
  if (!cmd->quiet) {
    cmd->primary.on_change = [&running, json](const ChangeEvent& e) {
      Print(ChangeLine(e, running->Stats(), json));
    };
  }
  if (cmd->zones_config) {
    std::string text = ZonesConfigSnippet(cmd->primary, cmd->primary.listen.front());
    if (*cmd->zones_config == "-") {
      std::fputs(text.c_str(), stdout);
    } else {
      FILE* f = std::fopen(cmd->zones_config->c_str(), "w");
      bool ok = f != nullptr && std::fputs(text.c_str(), f) >= 0;
      if (f != nullptr && std::fclose(f) != 0) ok = false;
      if (!ok) {
        std::fprintf(stderr, "xfrload: %s: %s\n", cmd->zones_config->c_str(),
                     std::strerror(errno));
        return 1;
      }
    }
  }
  SyntheticPrimary primary(cmd->primary);
  running = &primary;
  if (absl::Status st = primary.Start(); !st.ok()) {
    std::fprintf(stderr, "xfrload: %s\n", std::string(ToStd(st.message())).c_str());
    return 1;
  }
  const PrimaryOptions& o = cmd->primary;
  PrimaryStats first = primary.Stats();
  std::string listen;
  for (const SocketAddress& a : o.listen) {
    if (!listen.empty()) listen += ' ';
    listen += a.ToString();
  }
  if (json) {
    Print(fmt::format("{{\"event\":\"start\",\"zone\":\"{}\",\"zones\":{},\"records\":{},"
                      "\"serial\":{},"
                      "\"generation_ms\":{:.1f},\"encode_ms\":{:.1f},\"listen\":\"{}\","
                      "\"fault\":\"{}\"}}",
                      o.zone.ToText(), first.zones, first.records, first.serial.value(),
                      absl::ToDoubleMilliseconds(first.generation_time),
                      absl::ToDoubleMilliseconds(first.encode_time), listen,
                      FaultName(o.fault)));
  } else {
    std::string what = o.zones == 0 ? o.zone.ToText()
                                    : fmt::format("{} zones below {}", o.zones, o.zone.ToText());
    Print(fmt::format("serving {} ({} records, serial {}; generated in {:.1f} ms, AXFR encoded "
                      "in {:.1f} ms) on {}{}",
                      what, first.records, first.serial.value(),
                      absl::ToDoubleMilliseconds(first.generation_time),
                      absl::ToDoubleMilliseconds(first.encode_time), listen,
                      o.fault == Fault::kNone ? ""
                                              : fmt::format(", fault {}", FaultName(o.fault))));
  }

  absl::Time end = cmd->duration ? absl::Now() + *cmd->duration : absl::InfiniteFuture();
  absl::Time next_stats =
      cmd->stats_interval ? absl::Now() + *cmd->stats_interval : absl::InfiniteFuture();
  while (true) {
    absl::Time now = absl::Now();
    if (now >= end) break;
    if (now >= next_stats) {
      std::string s = primary.Stats().ToJson();
      Print(Event("stats", s));
      next_stats += *cmd->stats_interval;
      continue;
    }
    absl::Duration wait = std::min(end, next_stats) - now;
    wait = std::min(wait, absl::Seconds(3600));
    timespec ts = absl::ToTimespec(wait);
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (sig == SIGUSR1) primary.ChangeNow();
  }
  primary.Stop();
  PrimaryStats s = primary.Stats();
  Print(json ? Event("totals", s.ToJson()) : TotalsText(s));
  return 0;
}

}  // namespace xfr::load
