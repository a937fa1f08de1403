#include "proxy/served_view.h"

#include "core/diff.h"
#include "fmt/format.h"
#include "proxy/log.h"

namespace xfr {

std::shared_ptr<const RewritePolicy> MakeRewritePolicy(
    const std::optional<ProxiedConfig>& proxied) {
  if (!proxied) return nullptr;
  auto p = std::make_shared<RewritePolicy>();
  for (const ProxiedName& n : proxied->names) p->names.push_back({n.name, n.wildcard});
  for (const IpAddress& a : proxied->edge_v4) p->edge_v4.push_back(a.v4_bytes());
  for (const IpAddress& a : proxied->edge_v6) p->edge_v6.push_back(a.bytes());
  p->ttl = proxied->ttl;
  return p;
}

namespace {

bool SamePolicy(const RewritePolicy* a, const RewritePolicy* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return *a == *b;
}

}  // namespace

absl::StatusOr<ServedView> MakeServedView(
    const Name& zone, std::shared_ptr<const ZoneVersion> upstream,
    const ServedZone* current, std::shared_ptr<const RewritePolicy> policy,
    absl::Time now, const PublishOptions& publish, const BuildOptions& build) {
  std::shared_ptr<const ZoneVersion> view = upstream;
  std::shared_ptr<const ZoneDiff> diff;
  if (policy == nullptr) {
    // The journal holds exact diffs between the versions we served,
    // whatever the primary sent (an AXFR, or a chain of lenient IXFR diffs).
    if (current) diff = std::make_shared<const ZoneDiff>(ComputeDiff(*current->version, *view));
  } else if (current && current->upstream && SamePolicy(current->policy.get(), policy.get())) {
    ZoneDiff upstream_diff = ComputeDiff(*current->upstream, *upstream);
    auto r = RewriteChange(*current->version, *upstream, upstream_diff, *policy, build);
    if (!r.ok()) return r.status();
    view = std::move(r->served);
    diff = std::make_shared<const ZoneDiff>(std::move(r->diff));
  } else {
    auto v = RewriteZone(*upstream, *policy, build);
    if (!v.ok()) return v.status();
    view = std::move(*v);
    if (current) diff = std::make_shared<const ZoneDiff>(ComputeDiff(*current->version, *view));
    // A signed zone with a rewrite policy is reported at load;
    // the RRSIGs over rewritten RRsets are dropped, so validators behind
    // the secondaries see those names as unsigned data in a signed zone.
    if (IsSigned(*upstream)) {
      LogWarning("zone {}: the zone is DNSSEC-signed and has a proxied policy: RRSIGs over "
                 "rewritten A/AAAA/CNAME RRsets are dropped, so those names no longer validate",
                 zone.ToText());
    }
    LogInfo("zone {}: serial {} rewritten from scratch ({}): {} records served of {} upstream",
            zone.ToText(), upstream->serial().ToString(),
            current == nullptr             ? "first version"
            : current->upstream == nullptr ? "primary's data not known since the restart"
            : current->policy == nullptr   ? "policy added"
                                           : "policy changed",
            view->size(), upstream->size());
  }
  if (policy == nullptr && current && current->policy != nullptr) {
    LogInfo("zone {}: proxied policy removed; serial {} is served as the primary has it",
            zone.ToText(), upstream->serial().ToString());
  }
  ViewSource source;
  if (policy) source = ViewSource{true, upstream, policy};
  auto served = BuildServedZone(view, current, diff, now, publish, source);
  if (!served.ok()) return served.status();
  return ServedView{std::move(*served), std::move(diff)};
}

std::shared_ptr<const ServedZone> SameSerialView(
    std::shared_ptr<const ServedZone> current,
    std::shared_ptr<const ZoneVersion> upstream,
    std::shared_ptr<const RewritePolicy> policy, const BuildOptions& build) {
  if (current->upstream) return *current->upstream == *upstream ? current : nullptr;
  // A rewritten view restored from state-dir, made from the primary's data
  // at this same serial: this is that data. Whether it was rewritten with
  // today's policy decides if the next version can be rewritten
  // incrementally; either way it is served as it is until the next serial.
  auto copy = std::make_shared<ServedZone>(*current);
  copy->upstream = std::move(upstream);
  copy->policy = nullptr;
  if (policy != nullptr) {
    auto v = RewriteZone(*copy->upstream, *policy, build);
    if (v.ok() && **v == *current->version) copy->policy = std::move(policy);
  }
  return copy;
}

}  // namespace xfr
