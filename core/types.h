// Small strong types for the values that travel between modules: record
// types and classes, response codes, opcodes. No bare integers carry meaning
// across module boundaries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xfr {

// A resource record TYPE (RFC 1035 §3.2.2, registry at IANA).
class RRType {
 public:
  constexpr RRType() = default;
  constexpr explicit RRType(uint16_t v) : v_(v) {}
  constexpr uint16_t value() const { return v_; }
  friend constexpr bool operator==(RRType, RRType) = default;
  friend constexpr auto operator<=>(RRType, RRType) = default;

  static const RRType kA, kNS, kCNAME, kSOA, kPTR, kMX, kTXT, kAAAA, kSRV,
      kOPT, kDS, kRRSIG, kNSEC, kDNSKEY, kNSEC3, kNSEC3PARAM, kCAA, kTSIG,
      kIXFR, kAXFR, kANY, kMD, kMF, kMB, kMG, kMR, kMINFO, kRP, kAFSDB, kRT,
      kSIG, kPX, kNXT, kNAPTR, kKX, kDNAME, kHINFO, kNULL, kWKS, kCDS,
      kCDNSKEY, kSSHFP, kTLSA, kSVCB, kHTTPS, kZONEMD, kLOC, kSPF;

  // Mnemonic ("AAAA") or RFC 3597 generic form ("TYPE65534").
  std::string ToString() const;
  // Accepts mnemonics (case-insensitive) and "TYPEnnn".
  static std::optional<RRType> FromString(std::string_view s);

 private:
  uint16_t v_ = 0;
};

inline constexpr RRType RRType::kA{1}, RRType::kNS{2}, RRType::kMD{3},
    RRType::kMF{4}, RRType::kCNAME{5}, RRType::kSOA{6}, RRType::kMB{7},
    RRType::kMG{8}, RRType::kMR{9}, RRType::kNULL{10}, RRType::kWKS{11},
    RRType::kPTR{12}, RRType::kHINFO{13}, RRType::kMINFO{14}, RRType::kMX{15},
    RRType::kTXT{16}, RRType::kRP{17}, RRType::kAFSDB{18}, RRType::kSIG{24},
    RRType::kPX{26}, RRType::kAAAA{28}, RRType::kLOC{29}, RRType::kNXT{30},
    RRType::kSRV{33}, RRType::kNAPTR{35}, RRType::kKX{36}, RRType::kDNAME{39},
    RRType::kOPT{41}, RRType::kDS{43}, RRType::kSSHFP{44}, RRType::kRRSIG{46},
    RRType::kNSEC{47}, RRType::kDNSKEY{48}, RRType::kNSEC3{50},
    RRType::kNSEC3PARAM{51}, RRType::kTLSA{52}, RRType::kCDS{59},
    RRType::kCDNSKEY{60}, RRType::kZONEMD{63}, RRType::kSVCB{64},
    RRType::kHTTPS{65}, RRType::kSPF{99}, RRType::kTSIG{250},
    RRType::kIXFR{251}, RRType::kAXFR{252}, RRType::kANY{255},
    RRType::kCAA{257}, RRType::kRT{21};

class RRClass {
 public:
  constexpr RRClass() = default;
  constexpr explicit RRClass(uint16_t v) : v_(v) {}
  constexpr uint16_t value() const { return v_; }
  friend constexpr bool operator==(RRClass, RRClass) = default;
  friend constexpr auto operator<=>(RRClass, RRClass) = default;
  static const RRClass kIN, kCH, kHS, kNONE, kANY;
  std::string ToString() const;
  static std::optional<RRClass> FromString(std::string_view s);

 private:
  uint16_t v_ = 0;
};
inline constexpr RRClass RRClass::kIN{1}, RRClass::kCH{3}, RRClass::kHS{4},
    RRClass::kNONE{254}, RRClass::kANY{255};

// Response code, including the extended ones carried in OPT (RFC 6891) and
// the TSIG error space (RFC 8945 §5.3). 12 bits in messages; TSIG errors are
// 16 bits and live in the TSIG record, not in the header.
class Rcode {
 public:
  constexpr Rcode() = default;
  constexpr explicit Rcode(uint16_t v) : v_(v) {}
  constexpr uint16_t value() const { return v_; }
  friend constexpr bool operator==(Rcode, Rcode) = default;
  static const Rcode kNoError, kFormErr, kServFail, kNXDomain, kNotImp,
      kRefused, kYXDomain, kYXRRSet, kNXRRSet, kNotAuth, kNotZone, kBadVers,
      kBadSig, kBadKey, kBadTime, kBadTrunc;
  std::string ToString() const;

 private:
  uint16_t v_ = 0;
};
inline constexpr Rcode Rcode::kNoError{0}, Rcode::kFormErr{1},
    Rcode::kServFail{2}, Rcode::kNXDomain{3}, Rcode::kNotImp{4},
    Rcode::kRefused{5}, Rcode::kYXDomain{6}, Rcode::kYXRRSet{7},
    Rcode::kNXRRSet{8}, Rcode::kNotAuth{9}, Rcode::kNotZone{10},
    Rcode::kBadVers{16}, Rcode::kBadSig{16}, Rcode::kBadKey{17},
    Rcode::kBadTime{18}, Rcode::kBadTrunc{22};

class Opcode {
 public:
  constexpr Opcode() = default;
  constexpr explicit Opcode(uint8_t v) : v_(v) {}
  constexpr uint8_t value() const { return v_; }
  friend constexpr bool operator==(Opcode, Opcode) = default;
  static const Opcode kQuery, kIQuery, kStatus, kNotify, kUpdate;
  std::string ToString() const;

 private:
  uint8_t v_ = 0;
};
inline constexpr Opcode Opcode::kQuery{0}, Opcode::kIQuery{1},
    Opcode::kStatus{2}, Opcode::kNotify{4}, Opcode::kUpdate{5};

}  // namespace xfr
