// `xfrproxy demo`: the whole product on loopback
// with no setup, in one process. xfrload's synthetic primary serves a
// generated zone that changes every few seconds and NOTIFYs the proxy; the
// proxy (the real Server, from a generated config with a `proxied` policy)
// follows it and fans NOTIFY out to a few hundred simulated secondaries
// (xfrload's, each on its own 127.2.x.y address), which check the SOA and
// take each change by IXFR. A live view on the terminal shows the serials,
// the NOTIFY fan-out time, convergence, and how many transfers were served
// from the proxy's cache for each one made upstream. Ctrl-C (or
// --duration) stops everything cleanly.
#pragma once

#include "proxy/cli.h"

namespace xfr {

int RunDemo(const DemoSettings& settings);

}  // namespace xfr
