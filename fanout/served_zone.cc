#include "fanout/served_zone.h"

#include "fmt/format.h"

namespace xfr {

const std::vector<EncodedMessage>* ServedZone::FindIxfr(Serial from) const {
  auto it = ixfr.find(from.value());
  return it == ixfr.end() ? nullptr : &it->second;
}

uint32_t ServedZone::ExpireRemaining(absl::Time now) const {
  if (never_expires) return expire_seconds;
  int64_t elapsed = absl::ToInt64Seconds(now - refreshed_at);
  if (elapsed < 0) elapsed = 0;
  return elapsed >= expire_seconds ? 0 : expire_seconds - static_cast<uint32_t>(elapsed);
}

absl::StatusOr<std::vector<EncodedMessage>> EncodeAxfr(
    const Question& question, const ZoneVersion& version,
    size_t max_message_size) {
  TransferEncoder enc(question, max_message_size);
  // RFC 5936 §2.2: the SOA first and last, everything else once between.
  enc.Add(version.soa());
  for (size_t i = 0; i < version.size(); ++i) {
    if (i != version.soa_index()) enc.Add(version.record(i));
  }
  enc.Add(version.soa());
  return enc.Finish();
}

absl::StatusOr<std::vector<EncodedMessage>> EncodeIxfr(
    const Question& question, const ZoneDiff& diff, size_t max_message_size) {
  TransferEncoder enc(question, max_message_size);
  enc.Add(diff.new_soa);
  enc.Add(diff.old_soa);
  for (const Record& r : diff.removed) enc.Add(r);
  enc.Add(diff.new_soa);
  for (const Record& r : diff.added) enc.Add(r);
  enc.Add(diff.new_soa);
  return enc.Finish();
}

namespace {

// Encodes the AXFR and, for each journal serial, the condensed IXFR to the
// current version: condensing backwards from the newest diff, so each older
// start costs one more Condense.
absl::StatusOr<std::shared_ptr<const ServedZone>> Encode(
    std::shared_ptr<const ZoneVersion> version,
    std::vector<std::shared_ptr<const ZoneDiff>> journal, absl::Time now,
    const PublishOptions& options, const ViewSource& source) {
  auto z = std::make_shared<ServedZone>();
  z->version = version;
  z->policy = source.policy;
  z->upstream = source.rewritten ? source.upstream : version;
  z->refreshed_at = now;
  z->expire_seconds = version->soa_fields().expire;
  z->never_expires = options.never_expires;
  Question axfr_q{version->origin(), RRType::kAXFR, version->rclass()};
  auto axfr = EncodeAxfr(axfr_q, *version, options.max_message_size);
  if (!axfr.ok()) return axfr.status();
  z->axfr = std::move(*axfr);
  if (journal.size() > options.max_diffs) {
    journal.erase(journal.begin(), journal.end() - static_cast<ptrdiff_t>(options.max_diffs));
  }
  z->journal = std::move(journal);
  if (z->journal.empty()) return std::shared_ptr<const ServedZone>(std::move(z));
  Question ixfr_q{version->origin(), RRType::kIXFR, version->rclass()};
  ZoneDiff acc = *z->journal.back();
  for (size_t i = z->journal.size(); i-- > 0;) {
    if (i + 1 < z->journal.size()) {
      ZoneDiff pair[2] = {*z->journal[i], acc};
      auto c = Condense(pair);
      if (!c.ok()) return c.status();
      acc = std::move(*c);
    }
    auto enc = EncodeIxfr(ixfr_q, acc, options.max_message_size);
    if (!enc.ok()) return enc.status();
    z->ixfr.emplace(z->journal[i]->from().value(), std::move(*enc));
  }
  return std::shared_ptr<const ServedZone>(std::move(z));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ServedZone>> BuildServedZone(
    std::shared_ptr<const ZoneVersion> version, const ServedZone* previous,
    std::shared_ptr<const ZoneDiff> diff, absl::Time now,
    const PublishOptions& options, const ViewSource& source) {
  std::vector<std::shared_ptr<const ZoneDiff>> journal;
  if (previous != nullptr && diff != nullptr && options.max_diffs > 0) {
    if (diff->from() != previous->serial() || diff->to() != version->serial()) {
      return absl::InvalidArgumentError(fmt::format(
          "diff {} -> {} does not join version {} to {}", diff->from().ToString(),
          diff->to().ToString(), previous->serial().ToString(),
          version->serial().ToString()));
    }
    journal = previous->journal;
    journal.push_back(diff);
  }
  return Encode(std::move(version), std::move(journal), now, options, source);
}

absl::StatusOr<std::shared_ptr<const ServedZone>> RestoreServedZone(
    std::shared_ptr<const ZoneVersion> version,
    std::vector<std::shared_ptr<const ZoneDiff>> journal, absl::Time now,
    const PublishOptions& options, const ViewSource& source) {
  // The diffs must chain into the version, or IXFR answers would lie.
  for (size_t i = 0; i < journal.size(); ++i) {
    Serial to = i + 1 < journal.size() ? journal[i + 1]->from() : version->serial();
    if (journal[i]->to() != to) {
      return absl::InvalidArgumentError(fmt::format(
          "journal diff {} -> {} does not join the next serial {}",
          journal[i]->from().ToString(), journal[i]->to().ToString(), to.ToString()));
    }
  }
  if (options.max_diffs == 0) journal.clear();
  return Encode(std::move(version), std::move(journal), now, options, source);
}

}  // namespace xfr
