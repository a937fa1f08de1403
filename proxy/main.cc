// xfrproxy's entry point.
#include "proxy/cli.h"
#include "proxy/server.h"

int main(int argc, char** argv) { return xfr::CliMain(argc, argv, xfr::RunServer); }
