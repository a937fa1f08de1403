// xfrproxy's entry point. The engine plugs its run function in here.
#include "proxy/cli.h"

int main(int argc, char** argv) {
  return xfr::CliMain(argc, argv, /*run=*/nullptr);
}
