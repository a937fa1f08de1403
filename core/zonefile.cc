#include "core/zonefile.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "core/ascii.h"
#include "core/rdata_text.h"
#include "core/zonefile_lexer.h"
#include "fmt/format.h"

namespace xfr {
namespace {

absl::Status ReadWholeFile(const std::string& path, std::string& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(
        fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  }
  // Size first, so a big zone is read with one allocation and no copying.
  if (std::fseek(f, 0, SEEK_END) == 0) {
    long size = std::ftell(f);
    if (size > 0) out.reserve(static_cast<size_t>(size));
    std::rewind(f);
  }
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    return absl::DataLossError(fmt::format("error reading {}", path));
  }
  return absl::OkStatus();
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

// Q-types and meta-types (RFC 6895 §3.1) are not data and cannot appear in
// a zone.
bool IsMetaType(RRType t) {
  return t == RRType::kOPT || (t.value() >= 128 && t.value() <= 255);
}

// State that lives across $INCLUDE boundaries: the TTL defaults of RFC 2308
// §4 and RFC 1035 §5.1, and the SOA MINIMUM that BIND falls back to.
class Reader {
 public:
  Reader(const ZoneFileOptions& options, std::vector<Record>& out)
      : options_(options), out_(out) {}

  // Reads one file's text; `owner` is the previous owner name, updated as
  // records are read.
  absl::Status Read(std::string_view text, std::string_view file, Name origin,
                    std::optional<Name>& owner, int depth);

 private:
  absl::Status ReadEntries(std::string_view text, std::string_view file,
                           Name origin, std::optional<Name>& owner, int depth);
  absl::Status Entry(const ZoneEntry& e, std::string_view file, Name& origin,
                     std::optional<Name>& owner, int depth);
  absl::Status Directive(const ZoneEntry& e, std::string_view file,
                         Name& origin, std::optional<Name>& owner, int depth);
  absl::Status Warn(std::string_view file, int line, std::string_view what);

  const ZoneFileOptions& options_;
  std::vector<Record>& out_;
  std::optional<uint32_t> default_ttl_;  // $TTL
  std::optional<uint32_t> last_ttl_;     // last TTL written on a record
  std::optional<uint32_t> soa_minimum_;
  std::vector<uint8_t> rdata_;           // reused between records
  uint32_t file_index_ = 0;              // of the file being read, in sources
};

absl::Status Located(std::string_view file, int line, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}:{}: {}", file, line, what));
}

absl::Status Reader::Warn(std::string_view file, int line,
                          std::string_view what) {
  if (options_.warnings != nullptr) {
    options_.warnings->push_back(fmt::format("{}:{}: {}", file, line, what));
  }
  return absl::OkStatus();
}

absl::Status Reader::Read(std::string_view text, std::string_view file,
                          Name origin, std::optional<Name>& owner, int depth) {
  uint32_t outer_file = file_index_;
  if (options_.sources != nullptr) {
    file_index_ = static_cast<uint32_t>(options_.sources->files.size());
    options_.sources->files.emplace_back(file);
  }
  absl::Status s = ReadEntries(text, file, std::move(origin), owner, depth);
  file_index_ = outer_file;
  return s;
}

absl::Status Reader::ReadEntries(std::string_view text, std::string_view file,
                                 Name origin, std::optional<Name>& owner,
                                 int depth) {
  ZoneLexer lexer(text);
  ZoneEntry e;
  while (lexer.Next(e)) {
    if (absl::Status s = Entry(e, file, origin, owner, depth); !s.ok()) {
      return s;
    }
  }
  if (!lexer.status().ok()) {
    return Located(file, lexer.line(), ToStd(lexer.status().message()));
  }
  return absl::OkStatus();
}

absl::Status Reader::Directive(const ZoneEntry& e, std::string_view file,
                               Name& origin, std::optional<Name>& owner,
                               int depth) {
  std::string_view d = e.tokens[0].text;
  size_t args = e.tokens.size() - 1;
  auto located = [&](std::string_view what) {
    return Located(file, e.line, what);
  };
  if (EqualsIgnoreCase(d, "$ORIGIN")) {
    if (args != 1) return located("$ORIGIN takes one domain name");
    // A relative $ORIGIN is relative to the current one (RFC 1035 §5.1).
    absl::StatusOr<Name> n = e.tokens[1].text == "@"
                                 ? absl::StatusOr<Name>(origin)
                                 : Name::FromText(e.tokens[1].text, &origin);
    if (!n.ok()) return located(ToStd(n.status().message()));
    origin = *std::move(n);
    return absl::OkStatus();
  }
  if (EqualsIgnoreCase(d, "$TTL")) {
    if (args != 1) return located("$TTL takes one TTL");
    auto ttl = ParseTtl(e.tokens[1].text);
    if (!ttl) {
      return located(fmt::format("bad TTL '{}'", e.tokens[1].text));
    }
    default_ttl_ = *ttl;
    return absl::OkStatus();
  }
  if (EqualsIgnoreCase(d, "$INCLUDE")) {
    if (args < 1 || args > 2) {
      return located("$INCLUDE takes a file name and an optional origin");
    }
    if (!options_.allow_include) return located("$INCLUDE is not allowed here");
    if (depth + 1 > options_.max_include_depth) {
      return located(fmt::format("$INCLUDE nested deeper than {} (a loop?)",
                                 options_.max_include_depth));
    }
    std::string path;
    if (!UnescapeText(e.tokens[1].text, path) || path.empty()) {
      return located("bad $INCLUDE file name");
    }
    // Relative to the including file, so a zone and its parts move together.
    if (path[0] != '/') path = DirName(file) + "/" + path;
    Name inner_origin = origin;
    if (args == 2) {
      absl::StatusOr<Name> n = Name::FromText(e.tokens[2].text, &origin);
      if (!n.ok()) return located(ToStd(n.status().message()));
      inner_origin = *std::move(n);
    }
    std::string text;
    if (absl::Status s = ReadWholeFile(path, text); !s.ok()) {
      return located(ToStd(s.message()));
    }
    // The includer's origin and owner come back afterwards (RFC 1035 §5.1).
    std::optional<Name> inner_owner = owner;
    return Read(text, path, std::move(inner_origin), inner_owner, depth + 1);
  }
  return located(fmt::format("unsupported directive '{}'", d));
}

absl::Status Reader::Entry(const ZoneEntry& e, std::string_view file,
                           Name& origin, std::optional<Name>& owner,
                           int depth) {
  const auto& t = e.tokens;
  if (!e.blank_owner && !t[0].quoted && t[0].text[0] == '$') {
    return Directive(e, file, origin, owner, depth);
  }
  auto located = [&](std::string_view what) {
    return Located(file, e.line, what);
  };
  size_t i = 0;
  if (!e.blank_owner) {
    if (t[0].text == "@" && !t[0].quoted) {
      owner = origin;
    } else {
      absl::StatusOr<Name> n = Name::FromText(t[0].text, &origin);
      if (!n.ok()) return located(ToStd(n.status().message()));
      owner = *std::move(n);
    }
    i = 1;
  } else if (!owner) {
    return located("line starts with a blank but there is no previous owner");
  }

  // TTL and class, in either order, both optional (RFC 1035 §5.1).
  std::optional<uint32_t> ttl;
  std::optional<RRClass> rclass;
  for (int round = 0; round < 2 && i < t.size(); ++round) {
    std::string_view tok = t[i].text;
    if (!ttl && !tok.empty() && tok[0] >= '0' && tok[0] <= '9') {
      ttl = ParseTtl(tok);
      if (!ttl) return located(fmt::format("bad TTL '{}'", tok));
      ++i;
      continue;
    }
    if (!rclass) {
      auto c = RRClass::FromString(tok);
      // NONE and ANY are meta-classes for updates and queries; here those
      // words can only be types.
      if (c && *c != RRClass::kNONE && *c != RRClass::kANY) {
        rclass = c;
        ++i;
        continue;
      }
    }
    break;
  }
  if (rclass && *rclass != options_.rclass) {
    return located(fmt::format("class {} differs from the zone's class {}",
                               rclass->ToString(), options_.rclass.ToString()));
  }
  if (i >= t.size()) return located("record has no type");
  auto type = RRType::FromString(t[i].text);
  if (!type || t[i].quoted) {
    return located(fmt::format("unknown type mnemonic '{}'", t[i].text));
  }
  if (IsMetaType(*type)) {
    return located(fmt::format("meta-type {} cannot be in a zone",
                               type->ToString()));
  }
  ++i;
  absl::Span<const TextToken> rdata_tokens(t.data() + i, t.size() - i);
  if (absl::Status s = RdataFromText(*type, rdata_tokens, &origin, rdata_);
      !s.ok()) {
    return located(ToStd(s.message()));
  }
  if (*type == RRType::kSOA && rdata_.size() >= 4) {
    soa_minimum_ = LoadU32(rdata_.data() + rdata_.size() - 4);
  }

  if (ttl) {
    last_ttl_ = *ttl;
  } else if (default_ttl_) {
    ttl = default_ttl_;
  } else if (last_ttl_) {
    ttl = last_ttl_;
  } else if (soa_minimum_) {
    // Neither $TTL nor an earlier TTL: BIND takes the SOA MINIMUM, and so
    // do we, with a warning as it gives.
    ttl = soa_minimum_;
    last_ttl_ = ttl;
    (void)Warn(file, e.line, "no TTL specified; using SOA MINIMUM instead");
  } else {
    return located("no TTL specified, and no $TTL or SOA before this record");
  }

  Record& rr = out_.emplace_back();
  rr.owner = *owner;
  rr.type = *type;
  rr.rclass = options_.rclass;
  rr.ttl = *ttl;
  rr.rdata.assign(rdata_.begin(), rdata_.end());
  if (options_.sources != nullptr) {
    options_.sources->records.push_back(
        {file_index_, static_cast<uint32_t>(e.line)});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Record>> ReadZoneText(
    std::string_view text, const Name& origin,
    std::string_view filename_for_errors, const ZoneFileOptions& options) {
  std::vector<Record> out;
  // About one record per line: reserving avoids moving a million records
  // while the vector grows.
  out.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  Reader reader(options, out);
  std::optional<Name> owner;
  if (absl::Status s =
          reader.Read(text, filename_for_errors, origin, owner, 0);
      !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<std::vector<Record>> ReadZoneFile(
    const std::string& path, const Name& origin,
    const ZoneFileOptions& options) {
  std::string text;
  if (absl::Status s = ReadWholeFile(path, text); !s.ok()) return s;
  return ReadZoneText(text, origin, path, options);
}

std::string ZoneFileSources::Where(size_t i) const {
  if (i >= records.size() || records[i].file >= files.size()) return "";
  return fmt::format("{}:{}", files[records[i].file], records[i].line);
}

void AppendRecordLine(const RecordView& rr, std::string& out) {
  out += rr.owner.ToText();
  out += fmt::format("\t{}\t{}\t{}\t", rr.ttl, rr.rclass.ToString(),
                     rr.type.ToString());
  AppendRdataText(rr.type, rr.rdata, out);
  out.push_back('\n');
}

std::string WriteZoneText(absl::Span<const RecordView> records) {
  std::string out;
  out.reserve(records.size() * 64);
  for (const RecordView& rr : records) AppendRecordLine(rr, out);
  return out;
}

std::string WriteZoneText(absl::Span<const Record> records) {
  std::string out;
  out.reserve(records.size() * 64);
  for (const Record& rr : records) AppendRecordLine(rr.view(), out);
  return out;
}

}  // namespace xfr
