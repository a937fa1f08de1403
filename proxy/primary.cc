#include "proxy/primary.h"

#include <algorithm>

#include "core/transfer.h"
#include "core/tsig.h"
#include "fmt/format.h"
#include "proxy/log.h"
#include "proxy/transfer_stream.h"

namespace xfr {
namespace {

// Our own advertised UDP payload size (the DNS flag day 2020 value).
constexpr uint16_t kOurUdpPayload = 1232;

Edns ResponseEdns(const Message& q, std::optional<uint32_t> expire) {
  Edns e;
  e.udp_payload_size = kOurUdpPayload;
  // RFC 7314 §2: answer EXPIRE only when it was asked for.
  if (q.edns && q.edns->expire_present && expire) {
    e.expire_present = true;
    e.expire = expire;
  }
  return e;
}

// The OPT RR bytes for `e`, as MessageBuilder writes them.
std::vector<uint8_t> EncodeOpt(const Edns& e) {
  MessageBuilder b;
  (void)b.SetEdns(e);
  std::vector<uint8_t> m = b.Finish();
  size_t n = EdnsWireSize(e);
  return std::vector<uint8_t>(m.end() - static_cast<ptrdiff_t>(n), m.end());
}

}  // namespace

struct PrimaryResponder::Request {
  Bytes wire;
  const RequestContext& ctx;
  Message msg;
  std::optional<TsigRequestCheck> tsig;  // set when the request was signed
  std::optional<uint32_t> expire;        // for the EXPIRE option
  const char* what = "query";
};

Reply PrimaryResponder::Handle(Bytes request, const RequestContext& ctx) {
  absl::StatusOr<Header> hdr = ParseHeader(request);
  // Never answer a response (that is how reflection loops start) or a runt
  // without a full header.
  if (!hdr.ok() || hdr->qr) {
    stats_.udp_dropped.Add();
    return Reply::Drop();
  }
  absl::StatusOr<Message> msg = ParseMessage(request);
  if (!msg.ok()) {
    stats_.formerr.Add();
    LogDebugLimited("FORMERR to {}: {}", ctx.peer.ToString(),
                    std::string(msg.status().message()));
    MessageBuilder b(kMaxPlainUdpSize);
    b.SetHeader(ResponseHeader(*hdr));
    b.SetRcode(Rcode::kFormErr);
    return Reply::Message(b.Finish());
  }
  Request req{request, ctx, std::move(*msg)};
  return HandleQuery(req);
}

Reply PrimaryResponder::Error(Request& req, Rcode rcode) {
  if (rcode == Rcode::kRefused) stats_.refused.Add();
  if (rcode == Rcode::kFormErr) stats_.formerr.Add();
  if (rcode == Rcode::kNotImp) stats_.notimp.Add();
  if (rcode == Rcode::kServFail) stats_.servfail.Add();
  MessageBuilder b = StartResponse(req.msg, kMaxPlainUdpSize);
  if (req.msg.edns) (void)b.SetEdns(ResponseEdns(req.msg, std::nullopt));
  b.SetRcode(rcode);
  return Answer(req, b);
}

Reply PrimaryResponder::Answer(Request& req, MessageBuilder& b) {
  std::vector<uint8_t> out = b.Finish();
  if (req.tsig && req.tsig->ok()) {
    // RFC 8945 §5.3: an answer to a signed request is signed.
    auto signer = TsigStreamSigner::Create(*req.tsig->key, req.tsig->request.mac);
    if (!signer.ok() || !signer->SignMessage(out, req.ctx.now).ok()) {
      LogError("cannot sign answer to {}", req.ctx.peer.ToString());
      return Reply::Drop();
    }
  }
  stats_.responses.Add();
  return Reply::Message(std::move(out));
}

Reply PrimaryResponder::HandleQuery(Request& req) {
  const Message& m = req.msg;
  if (m.header.opcode != Opcode::kQuery && m.header.opcode != Opcode::kNotify) {
    return Error(req, Rcode::kNotImp);
  }
  if (m.questions.size() != 1) return Error(req, Rcode::kFormErr);
  if (m.edns && m.edns->version != 0) {
    // RFC 6891 §6.1.3: an unknown EDNS version gets BADVERS, with our OPT
    // saying which version we speak.
    MessageBuilder b = StartResponse(m, kMaxPlainUdpSize);
    (void)b.SetEdns(ResponseEdns(m, std::nullopt));
    b.SetRcode(Rcode::kBadVers);
    return Answer(req, b);
  }
  std::shared_ptr<const ZoneStore> store = store_.load(std::memory_order_acquire);
  if (m.tsig) {
    req.tsig = VerifyTsigRequest(store->keys(), req.wire, *m.tsig, m.tsig_offset,
                                 req.ctx.now);
    if (req.tsig->error == Rcode::kFormErr) return Error(req, Rcode::kFormErr);
    if (!req.tsig->ok()) {
      stats_.notauth.Add();
      // A NOTIFY that fails TSIG is a refused NOTIFY too.
      bool notify = m.header.opcode == Opcode::kNotify;
      if (notify) stats_.notify_refused.Add();
      LogInfoLimited("TSIG {} from {} for {}{}: {}", TsigErrorName(req.tsig->error),
                     req.ctx.peer.ToString(), notify ? "NOTIFY of " : "",
                     m.questions[0].qname.ToText(), req.tsig->detail);
      MessageBuilder b = StartResponse(m, kMaxPlainUdpSize);
      std::vector<uint8_t> out = b.Finish();
      if (!AppendTsigErrorAnswer(*req.tsig, out, req.ctx.now).ok()) return Reply::Drop();
      return Reply::Message(std::move(out));
    }
  }
  if (m.header.opcode == Opcode::kNotify) return HandleNotify(req, *store);
  const Question& q = m.questions[0];
  LiveZone* entry = store->Find(q.qname);
  if (entry == nullptr) return Error(req, Rcode::kRefused);
  std::shared_ptr<const ServedZone> zone = entry->Current();
  if (zone && q.qclass != zone->version->rclass()) return Error(req, Rcode::kRefused);
  if (!zone || entry->ExpireRemaining(*zone, req.ctx.now) == 0) {
    // RFC 1035 §4.3.5: a secondary whose data expired stops
    // answering for the zone.
    return Error(req, Rcode::kServFail);
  }
  req.expire = entry->ExpireRemaining(*zone, req.ctx.now);

  if (q.qtype == RRType::kSOA) return SoaAnswer(req, *zone);
  if (q.qtype != RRType::kAXFR && q.qtype != RRType::kIXFR) {
    return Error(req, Rcode::kRefused);
  }
  bool udp = req.ctx.transport == Transport::kUdp;
  if (q.qtype == RRType::kAXFR && udp) {
    // RFC 5936 §4.2: AXFR is a TCP-only exchange.
    return Error(req, Rcode::kFormErr);
  }
  if (std::optional<std::string> why = TransferRefusal(req, *entry)) {
    LogInfoLimited("refused {} of {} to {}: {}", q.qtype.ToString(), q.qname.ToText(),
                   req.ctx.peer.ToString(), *why);
    return Error(req, Rcode::kRefused);
  }
  if (q.qtype == RRType::kAXFR) return Transfer(req, zone, &zone->axfr);

  // IXFR (RFC 1995 §3): the client's SOA is in the authority section.
  const Record* client_soa = nullptr;
  for (const Record& r : m.authority) {
    if (r.type == RRType::kSOA) client_soa = &r;
  }
  std::optional<SoaFields> fields;
  if (client_soa != nullptr) fields = ParseSoaRdata(client_soa->rdata);
  if (!fields) return Error(req, Rcode::kFormErr);
  Serial have = fields->serial;
  if (auto peers = entry->peers()) {
    // RFC 1995 §3: the IXFR request says which serial the client holds.
    peers->ReportHeldSerial(req.ctx.peer.ip().bytes(), have, req.ctx.now);
  }
  // RFC 1995 §2: a client as new as us (or, by RFC 1982, newer) gets the
  // SOA alone.
  if (!(have < zone->serial())) {
    if (zone->serial() < have && entry->notify_policy().follows_primary && on_notify_ &&
        !req.ctx.reasked) {
      // The client is ahead of us: the primary must have told it of a
      // change we have not fetched yet. Take it as a NOTIFY: one check,
      // coalesced with every other such request (single flight).
      stats_.ahead_of_us.Add();
      on_notify_(entry->name(), req.ctx.peer, have, RefreshTrigger::kClientAhead);
      if (req.ctx.may_defer) {
        stats_.deferred.Add();
        return Reply::Deferred(entry->name());
      }
    } else if (zone->serial() < have && req.ctx.reasked && req.ctx.may_defer) {
      // Asked again after another change of the zone, still behind the
      // client: keep waiting for the check it is waiting on.
      return Reply::Deferred(entry->name());
    }
    return SoaAnswer(req, *zone);
  }
  if (udp) {
    // RFC 1995 §2: over UDP, when the answer does not fit, send TC.
    MessageBuilder b = StartResponse(m, kMaxPlainUdpSize);
    b.header().aa = true;
    b.header().tc = true;
    if (m.edns) (void)b.SetEdns(ResponseEdns(m, req.expire));
    return Answer(req, b);
  }
  if (const auto* ixfr = zone->FindIxfr(have)) return Transfer(req, zone, ixfr, have);
  // Not in the journal: the whole zone, AXFR-style (RFC 1995 §4).
  return Transfer(req, zone, &zone->axfr, have);
}

Reply PrimaryResponder::HandleNotify(Request& req, const ZoneStore& store) {
  const Message& m = req.msg;
  const Question& q = m.questions[0];
  LiveZone* entry = store.Find(q.qname);
  // RFC 1996 §3.7: NOTIFY names a zone's SOA; we only hear it for zones we
  // follow, from the sources configured for them.
  if (entry == nullptr || !entry->notify_policy().follows_primary ||
      q.qtype != RRType::kSOA) {
    stats_.notify_refused.Add();
    return Error(req, Rcode::kRefused);
  }
  if (std::optional<std::string> why = NotifyRefusal(req, entry->notify_policy())) {
    stats_.notify_refused.Add();
    LogInfoLimited("refused NOTIFY for {} from {}: {}", q.qname.ToText(),
                   req.ctx.peer.ToString(), *why);
    return Error(req, Rcode::kRefused);
  }
  std::optional<Serial> hint;
  for (const Record& r : m.answer) {
    if (r.type != RRType::kSOA) continue;
    if (auto f = ParseSoaRdata(r.rdata)) hint = f->serial;
  }
  stats_.notify_received.Add();
  if (on_notify_) on_notify_(entry->name(), req.ctx.peer, hint, RefreshTrigger::kNotify);
  // RFC 1996 §4.7: answer at once, echoing the question, before any check.
  MessageBuilder b = StartResponse(m, kMaxPlainUdpSize);
  b.header().aa = true;
  return Answer(req, b);
}

Reply PrimaryResponder::SoaAnswer(Request& req, const ServedZone& zone) {
  size_t limit = kMaxMessageSize;
  if (req.ctx.transport == Transport::kUdp) {
    limit = kMaxPlainUdpSize;
    if (req.msg.edns) {
      limit = std::clamp<size_t>(req.msg.edns->udp_payload_size, kMaxPlainUdpSize,
                                 kOurUdpPayload);
    }
  }
  if (req.tsig && req.tsig->ok()) {
    // Room for the TSIG RR (RFC 8945 §4.2): owner, fixed fields, algorithm
    // name, MAC and the lengths around them.
    const TsigKey& k = *req.tsig->key;
    limit -= k.name.size() + TsigAlgorithmWireName(k.algorithm).size() +
             TsigMacLength(k.algorithm) + 26;
  }
  MessageBuilder b = StartResponse(req.msg, limit);
  b.header().aa = true;
  if (req.msg.edns) (void)b.SetEdns(ResponseEdns(req.msg, req.expire));
  if (!b.AddRecord(Section::kAnswer, zone.version->soa())) {
    b.header().tc = true;
  }
  return Answer(req, b);
}

std::optional<std::string> PrimaryResponder::NotifyRefusal(const Request& req,
                                                           const NotifyPolicy& p) {
  // RFC 1996 §3.10: a NOTIFY from an unknown source is refused whatever it
  // carries; the source is checked first so that a stray sender learns
  // nothing about our keys.
  if (!p.allow.Contains(req.ctx.peer.ip())) return "source not in notify-from";
  // HandleQuery has answered every signed request that does not verify
  // (RFC 8945 §5.2), so a signature here is a good one; what is left is
  // whose key it is.
  if (req.tsig && req.tsig->ok()) {
    const Name& used = req.tsig->key->name;
    if (!p.key) {
      return fmt::format("signed with key {}, but the zone has no primary-key",
                         used.ToText());
    }
    if (used != *p.key) {
      return fmt::format("signed with key {}, not the zone's key {}", used.ToText(),
                         p.key->ToText());
    }
    return std::nullopt;
  }
  // Unsigned. Accepting it is safe (BIND and Knot do): it only makes us
  // check the SOA, and that query is signed with primary-key.
  if (p.key_required) return "unsigned NOTIFY and notify-key: required";
  return std::nullopt;
}

std::optional<std::string> PrimaryResponder::TransferRefusal(const Request& req,
                                                             const LiveZone& zone) {
  const TransferPolicy& p = zone.policy();
  const IpAddress& ip = req.ctx.peer.ip();
  // The address ACL always applies: a key is a credential that can leak,
  // and a secondary's key must not open the zone to the whole Internet.
  if (!p.allow.Contains(ip)) return "address not in allow-transfer";
  auto it = p.required_keys.find(ip);
  const std::vector<Name>* keys = it != p.required_keys.end() ? &it->second
                                  : p.required_keys_anywhere.empty() ? nullptr
                                                                     : &p.required_keys_anywhere;
  // An address without a configured key may ask unsigned or signed with any
  // key that verified (RFC 8945 §5.2): signing never makes it worse.
  if (keys == nullptr) return std::nullopt;
  if (!req.tsig || !req.tsig->ok()) return "unsigned, and a key is configured for the address";
  for (const Name& k : *keys) {
    if (req.tsig->key->name == k) return std::nullopt;
  }
  return fmt::format("signed with key {}, not one configured for the address",
                     req.tsig->key->name.ToText());
}

Reply PrimaryResponder::Transfer(Request& req, std::shared_ptr<const ServedZone> zone,
                                 const std::vector<EncodedMessage>* messages,
                                 std::optional<Serial> ixfr_from) {
  const Message& m = req.msg;
  // The question as the client spelled it, but re-encoded: its bytes may
  // hold a compression pointer (legal in a query), and copied raw they
  // would change the length the shared body's pointers were computed for.
  std::vector<uint8_t> question = EncodeQuestion(m.questions[0]);
  std::vector<uint8_t> opt;
  if (m.edns) opt = EncodeOpt(ResponseEdns(m, req.expire));
  std::optional<TsigStreamSigner> signer;
  if (req.tsig && req.tsig->ok()) {
    auto s = TsigStreamSigner::Create(*req.tsig->key, req.tsig->request.mac);
    if (!s.ok()) return Error(req, Rcode::kServFail);
    signer.emplace(std::move(*s));
  }
  stats_.responses.Add();
  return Reply::Transfer(std::make_unique<EncodedTransferStream>(
      std::move(zone), messages, m.header.id, m.header.rd, std::move(question),
      std::move(opt), std::move(signer), req.ctx.now, ixfr_from.has_value(), ixfr_from));
}

}  // namespace xfr
