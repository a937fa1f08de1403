// How many per-zone series /metrics exposes (`metrics:` in the config).
// Every per-zone gauge is one series per zone: with 10,000 zones that is
// over 100,000 series per scrape, which a Prometheus sized for one server
// does not want. The zone counts (xfrproxy_zones_loaded, ..._expired_now,
// ..._degraded) are always there, so alerts work without per-zone series.
#pragma once

#include <cstdint>

namespace xfr {

struct MetricsOptions {
  // `per-zone: false`: no per-zone series at all.
  bool per_zone = true;
  // Above this many zones the per-zone series are left out (0: no bound);
  // the load that crosses it says so once.
  uint32_t max_zone_series = 1000;

  // Whether a store of `zones` zones gets per-zone series.
  bool PerZone(uint64_t zones) const {
    return per_zone && (max_zone_series == 0 || zones <= max_zone_series);
  }
  bool operator==(const MetricsOptions&) const = default;
};

}  // namespace xfr
