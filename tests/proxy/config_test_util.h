// Tables of configurations that must be refused, shared by the config tests.
#pragma once

#include <span>
#include <string>

#include "gtest/gtest.h"
#include "proxy/config.h"

namespace xfr {

struct ConfigErrorCase {
  const char* name;
  std::string yaml;      // the whole file, loaded as "t.yaml"
  const char* expected;  // a part of the error message: "t.yaml:LINE:COL: path: what"
};

// Each case is refused as invalid, with `expected` in the message.
inline void ExpectConfigErrors(std::span<const ConfigErrorCase> cases) {
  for (const ConfigErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Config> cfg = LoadConfigText(c.yaml, "t.yaml", "");
    ASSERT_FALSE(cfg.ok()) << c.yaml;
    EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument);
    std::string msg(cfg.status().message());
    EXPECT_NE(msg.find(c.expected), std::string::npos)
        << "message: " << msg << "\nexpected: " << c.expected;
  }
}

}  // namespace xfr
