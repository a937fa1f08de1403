#include "core/types.h"

#include <charconv>

#include "core/ascii.h"
#include "fmt/format.h"

namespace xfr {
namespace {

struct TypeName {
  uint16_t code;
  const char* name;
};

constexpr TypeName kTypeNames[] = {
    {1, "A"},         {2, "NS"},        {3, "MD"},      {4, "MF"},
    {5, "CNAME"},     {6, "SOA"},       {7, "MB"},      {8, "MG"},
    {9, "MR"},        {10, "NULL"},     {11, "WKS"},    {12, "PTR"},
    {13, "HINFO"},    {14, "MINFO"},    {15, "MX"},     {16, "TXT"},
    {17, "RP"},       {18, "AFSDB"},    {21, "RT"},     {24, "SIG"},
    {25, "KEY"},      {26, "PX"},       {28, "AAAA"},   {29, "LOC"},
    {30, "NXT"},      {33, "SRV"},      {35, "NAPTR"},  {36, "KX"},
    {37, "CERT"},     {39, "DNAME"},    {41, "OPT"},    {42, "APL"},
    {43, "DS"},       {44, "SSHFP"},    {45, "IPSECKEY"}, {46, "RRSIG"},
    {47, "NSEC"},     {48, "DNSKEY"},   {49, "DHCID"},  {50, "NSEC3"},
    {51, "NSEC3PARAM"}, {52, "TLSA"},   {53, "SMIMEA"}, {55, "HIP"},
    {59, "CDS"},      {60, "CDNSKEY"},  {61, "OPENPGPKEY"}, {62, "CSYNC"},
    {63, "ZONEMD"},   {64, "SVCB"},     {65, "HTTPS"},  {99, "SPF"},
    {108, "EUI48"},   {109, "EUI64"},   {249, "TKEY"},  {250, "TSIG"},
    {251, "IXFR"},    {252, "AXFR"},    {255, "ANY"},   {256, "URI"},
    {257, "CAA"},
};

std::optional<uint16_t> ParseGeneric(std::string_view s, std::string_view prefix) {
  if (s.size() <= prefix.size() ||
      !EqualsIgnoreCase(s.substr(0, prefix.size()), prefix)) {
    return std::nullopt;
  }
  s.remove_prefix(prefix.size());
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(v);
}

}  // namespace

std::string RRType::ToString() const {
  for (const TypeName& t : kTypeNames) {
    if (t.code == v_) return t.name;
  }
  return fmt::format("TYPE{}", v_);
}

std::optional<RRType> RRType::FromString(std::string_view s) {
  for (const TypeName& t : kTypeNames) {
    if (EqualsIgnoreCase(s, t.name)) return RRType(t.code);
  }
  if (auto v = ParseGeneric(s, "TYPE")) return RRType(*v);
  return std::nullopt;
}

std::string RRClass::ToString() const {
  switch (v_) {
    case 1: return "IN";
    case 3: return "CH";
    case 4: return "HS";
    case 254: return "NONE";
    case 255: return "ANY";
    default: return fmt::format("CLASS{}", v_);
  }
}

std::optional<RRClass> RRClass::FromString(std::string_view s) {
  if (EqualsIgnoreCase(s, "IN")) return kIN;
  if (EqualsIgnoreCase(s, "CH")) return kCH;
  if (EqualsIgnoreCase(s, "HS")) return kHS;
  if (EqualsIgnoreCase(s, "NONE")) return kNONE;
  if (EqualsIgnoreCase(s, "ANY")) return kANY;
  if (auto v = ParseGeneric(s, "CLASS")) return RRClass(*v);
  return std::nullopt;
}

std::string Rcode::ToString() const {
  static constexpr const char* kNames[] = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",  "NOTZONE"};
  if (v_ < 11) return kNames[v_];
  switch (v_) {
    case 16: return "BADVERS/BADSIG";
    case 17: return "BADKEY";
    case 18: return "BADTIME";
    case 22: return "BADTRUNC";
    default: return fmt::format("RCODE{}", v_);
  }
}

std::string Opcode::ToString() const {
  switch (v_) {
    case 0: return "QUERY";
    case 1: return "IQUERY";
    case 2: return "STATUS";
    case 4: return "NOTIFY";
    case 5: return "UPDATE";
    default: return fmt::format("OPCODE{}", v_);
  }
}

}  // namespace xfr
