// xfrproxy's entry point.
#include "proxy/cli.h"
#include "proxy/server.h"
#ifdef XFR_WITH_DEMO
#include "proxy/demo.h"
#endif

int main(int argc, char** argv) {
#ifdef XFR_WITH_DEMO
  return xfr::CliMain(argc, argv, xfr::RunServer, xfr::RunDemo);
#else
  return xfr::CliMain(argc, argv, xfr::RunServer);
#endif
}
