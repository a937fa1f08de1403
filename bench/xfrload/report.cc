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
  out += fmt::format("  cpu user {:.3f} s system {:.3f} s  tcp connections {}\n",
                     cpu_user_s, cpu_system_s, connections);
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
      "\"cpu_system_s\": {:.3f}}}\n",
      JsonString(mode), JsonString(target), JsonString(zone), secondaries,
      concurrency, fresh_connections ? "true" : "false", base_serial, started, done,
      TotalErrors(), errs, JsonString(first_error), late_answers, connections,
      absl::ToDoubleSeconds(elapsed), Rate(static_cast<double>(done), elapsed),
      transfers, Rate(static_cast<double>(transfers), elapsed), records,
      Rate(static_cast<double>(records), elapsed), bytes,
      Rate(static_cast<double>(bytes), elapsed), latency(all), by_kind, cpu_user_s,
      cpu_system_s);
}

}  // namespace xfr::load
