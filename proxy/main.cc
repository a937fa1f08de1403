// xfrproxy's entry point.
#include <malloc.h>

#include "proxy/cli.h"
#include "proxy/server.h"
#ifdef XFR_WITH_DEMO
#include "proxy/demo.h"
#endif

int main(int argc, char** argv) {
  // Every version of a zone is one arena of its wire size (50 MB for a
  // million records). glibc serves allocations that big with a fresh mmap
  // and unmaps them when freed, so each new version would fault in every
  // page again: on the VMs measured, 170 ms per 50 MB, thirty times the
  // copy itself (bench/RESULTS.md). Kept in the heap, freed arenas are
  // reused by the next version; resident memory then stays at its peak,
  // which an appliance sized for its zones has anyway.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#ifdef XFR_WITH_DEMO
  return xfr::CliMain(argc, argv, xfr::RunServer, xfr::RunDemo);
#else
  return xfr::CliMain(argc, argv, xfr::RunServer);
#endif
}
