#include "bench/xfrload/report.h"

#include <sys/resource.h>

#include <algorithm>

#include "fmt/format.h"

namespace xfr::load {
namespace {

double Rate(double n, absl::Duration d) {
  double s = absl::ToDoubleSeconds(d);
  return s > 0 ? n / s : 0;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string SerialText(const std::optional<uint32_t>& s) {
  return s ? std::to_string(*s) : "none";
}

std::string NotifyText(const NotifySummary& n) {
  std::string out = fmt::format(
      "  notify: listening from {}  NOTIFYs {} (duplicates {}, rejected {})  checks {} "
      "(rechecks {}, SOA retries {})\n",
      n.listen, n.received, n.duplicates, n.rejected, n.checks, n.rechecks, n.soa_retries);
  if (n.round_serial) {
    out += fmt::format("  fan-out of serial {}: {} notified, first {:.3f} s into the run, "
                       "spread {:.3f} ms; ",
                       *n.round_serial, n.notified, n.first_notify_s, n.spread_ms);
    out += n.converged_ms
               ? fmt::format("all held it {:.3f} ms after the first NOTIFY\n", *n.converged_ms)
               : std::string("not every secondary holds it\n");
  }
  out += fmt::format("  transfers applied: incremental {} full {}  up to date {}\n",
                     n.incremental, n.full, n.up_to_date);
  if (n.expect_serial) {
    out += fmt::format("  expected serial {}: held by {}", *n.expect_serial, n.expect_holders);
    out += n.expect_reached_s ? fmt::format(", all at {:.3f} s into the run\n", *n.expect_reached_s)
                              : std::string(", not by all\n");
  }
  out += "  serials held:";
  size_t shown = 0;
  for (const auto& [serial, count] : n.serials) {
    if (++shown > 8) {
      out += fmt::format(" ... ({} more)", n.serials.size() - 8);
      break;
    }
    out += fmt::format(" {} x{}", SerialText(serial), count);
  }
  return out + "\n";
}

std::string NotifyJson(const NotifySummary& n) {
  auto opt = [](const auto& v) { return v ? fmt::format("{}", *v) : std::string("null"); };
  std::string serials;
  for (const auto& [serial, count] : n.serials) {
    if (!serials.empty()) serials += ", ";
    serials += fmt::format("{{\"serial\": {}, \"secondaries\": {}}}", opt(serial), count);
  }
  return fmt::format(
      "{{\"listen\": {}, \"received\": {}, \"duplicates\": {}, \"rejected\": {}, "
      "\"checks\": {}, \"rechecks\": {}, \"soa_retries\": {}, \"incremental\": {}, "
      "\"full\": {}, \"up_to_date\": {}, \"round_serial\": {}, \"notified\": {}, "
      "\"first_notify_s\": {:.6f}, \"spread_ms\": {:.3f}, \"converged_ms\": {}, "
      "\"expect_serial\": {}, \"expect_reached_s\": {}, \"expect_holders\": {}, "
      "\"serials\": [{}]}}",
      JsonString(n.listen), n.received, n.duplicates, n.rejected, n.checks, n.rechecks,
      n.soa_retries, n.incremental, n.full, n.up_to_date, opt(n.round_serial), n.notified,
      n.first_notify_s, n.spread_ms,
      n.converged_ms ? fmt::format("{:.3f}", *n.converged_ms) : "null", opt(n.expect_serial),
      n.expect_reached_s ? fmt::format("{:.6f}", *n.expect_reached_s) : "null",
      n.expect_holders, serials);
}

}  // namespace

double LatencyRecorder::PercentileMs(double q) {
  if (samples_.empty()) return 0;
  size_t rank = static_cast<size_t>(q * static_cast<double>(samples_.size()));
  if (rank >= samples_.size()) rank = samples_.size() - 1;
  std::nth_element(samples_.begin(), samples_.begin() + static_cast<ptrdiff_t>(rank),
                   samples_.end());
  return samples_[rank] / 1000.0;
}

double LatencyRecorder::MaxMs() const {
  if (samples_.empty()) return 0;
  return *std::max_element(samples_.begin(), samples_.end()) / 1000.0;
}

void ProcessCpu(double& user_s, double& system_s) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
  system_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
}

void ThreadCpu(double& user_s, double& system_s) {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  user_s = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec / 1e6;
  system_s = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec / 1e6;
}

void LoadReport::Merge(const LoadReport& o) {
  for (size_t k = 0; k < kinds.size(); ++k) {
    KindStats& a = kinds[k];
    const KindStats& b = o.kinds[k];
    a.started += b.started;
    a.completed += b.completed;
    a.failed += b.failed;
    a.records += b.records;
    a.bytes += b.bytes;
    a.messages += b.messages;
    a.soa_only += b.soa_only;
    a.incremental += b.incremental;
    a.full += b.full;
    a.zone_records_min = std::min(a.zone_records_min, b.zone_records_min);
    a.zone_records_max = std::max(a.zone_records_max, b.zone_records_max);
    a.latency.Merge(b.latency);
  }
  for (size_t e = 0; e < errors.size(); ++e) errors[e] += o.errors[e];
  if (first_error.empty()) first_error = o.first_error;
  late_answers += o.late_answers;
  connections += o.connections;
  abandoned += o.abandoned;
  tcp_buffers_small += o.tcp_buffers_small;
  tcp_buffers_large += o.tcp_buffers_large;
  cpu_user_s += o.cpu_user_s;
  cpu_system_s += o.cpu_system_s;
}

uint64_t LoadReport::TotalErrors() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

std::string LoadReport::ToText() {
  LatencyRecorder all;
  uint64_t done = 0, records = 0, bytes = 0, transfers = 0;
  for (size_t k = 0; k < kinds.size(); ++k) {
    all.Merge(kinds[k].latency);
    done += kinds[k].completed;
    records += kinds[k].records;
    bytes += kinds[k].bytes;
    if (k != static_cast<size_t>(QueryKind::kSoa)) transfers += kinds[k].completed;
  }
  std::string out = fmt::format(
      "xfrload secondaries: mode {} target {} zone {} secondaries {} "
      "concurrency {} {}\n",
      mode, target, zone, secondaries, concurrency,
      fresh_connections ? "fresh-connections" : "pipelined");
  out += fmt::format("  requests verified {}  errors {}  elapsed {:.3f} s  ({:.1f}/s)\n",
                     done, TotalErrors(), absl::ToDoubleSeconds(elapsed),
                     Rate(static_cast<double>(done), elapsed));
  out += fmt::format("  transfers/s {:.1f}  records/s {:.0f}  bytes/s {:.0f} ({:.1f} MiB/s)\n",
                     Rate(static_cast<double>(transfers), elapsed),
                     Rate(static_cast<double>(records), elapsed),
                     Rate(static_cast<double>(bytes), elapsed),
                     Rate(static_cast<double>(bytes), elapsed) / (1 << 20));
  out += fmt::format("  latency ms: p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  max {:.3f}\n",
                     all.PercentileMs(0.5), all.PercentileMs(0.9),
                     all.PercentileMs(0.99), all.MaxMs());
  for (size_t k = 0; k < kinds.size(); ++k) {
    KindStats& s = kinds[k];
    if (s.started == 0) continue;
    out += fmt::format("  {}: verified {} failed {} records {} bytes {}",
                       QueryKindName(static_cast<QueryKind>(k)), s.completed,
                       s.failed, s.records, s.bytes);
    if (k != static_cast<size_t>(QueryKind::kSoa)) {
      out += fmt::format(" (full {} incremental {} soa-only {})", s.full,
                         s.incremental, s.soa_only);
      if (s.full > 0) {
        out += fmt::format(" zone records {}..{}", s.zone_records_min, s.zone_records_max);
      }
    }
    out += "\n";
  }
  if (TotalErrors() > 0) {
    out += "  errors:";
    for (int e = 0; e < kErrorKinds; ++e) {
      if (errors[e] > 0) {
        out += fmt::format(" {} {}", ErrorKindName(static_cast<ErrorKind>(e)), errors[e]);
      }
    }
    out += fmt::format("\n  first error: {}\n", first_error);
  }
  if (notify.enabled) out += NotifyText(notify);
  if (abandoned > 0) out += fmt::format("  abandoned in flight at the end: {}\n", abandoned);
  out += fmt::format("  cpu user {:.3f} s system {:.3f} s ({} thread{})  tcp connections {}"
                     "  buffers {} small {} large\n",
                     cpu_user_s, cpu_system_s, threads, threads == 1 ? "" : "s", connections,
                     tcp_buffers_small, tcp_buffers_large);
  return out;
}

std::string LoadReport::ToJson() {
  LatencyRecorder all;
  uint64_t done = 0, records = 0, bytes = 0, transfers = 0, started = 0;
  for (size_t k = 0; k < kinds.size(); ++k) {
    all.Merge(kinds[k].latency);
    done += kinds[k].completed;
    started += kinds[k].started;
    records += kinds[k].records;
    bytes += kinds[k].bytes;
    if (k != static_cast<size_t>(QueryKind::kSoa)) transfers += kinds[k].completed;
  }
  auto latency = [](LatencyRecorder& l) {
    return fmt::format(
        "{{\"count\": {}, \"p50\": {:.3f}, \"p90\": {:.3f}, \"p99\": {:.3f}, \"max\": {:.3f}}}",
        l.count(), l.PercentileMs(0.5), l.PercentileMs(0.9), l.PercentileMs(0.99),
        l.MaxMs());
  };
  std::string errs;
  for (int e = 0; e < kErrorKinds; ++e) {
    if (!errs.empty()) errs += ", ";
    errs += fmt::format("\"{}\": {}", ErrorKindName(static_cast<ErrorKind>(e)), errors[e]);
  }
  std::string by_kind;
  for (size_t k = 0; k < kinds.size(); ++k) {
    KindStats& s = kinds[k];
    if (!by_kind.empty()) by_kind += ", ";
    by_kind += fmt::format(
        "\"{}\": {{\"started\": {}, \"completed\": {}, \"failed\": {}, "
        "\"records\": {}, \"bytes\": {}, \"messages\": {}, \"full\": {}, "
        "\"incremental\": {}, \"soa_only\": {}, \"zone_records_min\": {}, "
        "\"zone_records_max\": {}, \"latency_ms\": {}}}",
        QueryKindName(static_cast<QueryKind>(k)), s.started, s.completed, s.failed,
        s.records, s.bytes, s.messages, s.full, s.incremental, s.soa_only,
        s.full > 0 ? s.zone_records_min : 0, s.zone_records_max, latency(s.latency));
  }
  return fmt::format(
      "{{\"mode\": {}, \"target\": {}, \"zone\": {}, \"secondaries\": {}, "
      "\"concurrency\": {}, \"fresh_connections\": {}, \"base_serial\": {}, "
      "\"requests\": {}, \"completed\": {}, \"errors\": {}, "
      "\"errors_by_kind\": {{{}}}, \"first_error\": {}, \"late_answers\": {}, "
      "\"tcp_connections\": {}, \"elapsed_s\": {:.6f}, \"requests_per_s\": {:.3f}, "
      "\"transfers\": {}, \"transfers_per_s\": {:.3f}, \"records\": {}, "
      "\"records_per_s\": {:.1f}, \"bytes\": {}, \"bytes_per_s\": {:.1f}, "
      "\"latency_ms\": {}, \"by_kind\": {{{}}}, \"cpu_user_s\": {:.3f}, "
      "\"cpu_system_s\": {:.3f}, \"threads\": {}, \"abandoned\": {}, "
      "\"tcp_buffers_small\": {}, \"tcp_buffers_large\": {}, \"notify\": {}}}\n",
      JsonString(mode), JsonString(target), JsonString(zone), secondaries,
      concurrency, fresh_connections ? "true" : "false", base_serial, started, done,
      TotalErrors(), errs, JsonString(first_error), late_answers, connections,
      absl::ToDoubleSeconds(elapsed), Rate(static_cast<double>(done), elapsed),
      transfers, Rate(static_cast<double>(transfers), elapsed), records,
      Rate(static_cast<double>(records), elapsed), bytes,
      Rate(static_cast<double>(bytes), elapsed), latency(all), by_kind, cpu_user_s,
      cpu_system_s, threads, abandoned, tcp_buffers_small, tcp_buffers_large,
      notify.enabled ? NotifyJson(notify) : "null");
}

}  // namespace xfr::load
