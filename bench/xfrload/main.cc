// xfrload: the load tool. Two modes:
// `secondaries`, N simulated secondaries against one server, and
// `primary`, a synthetic primary serving a changing zone (primary_cli.cc).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <string>
#include <vector>

#include "bench/xfrload/options.h"
#include "bench/xfrload/primary_options.h"
#include "bench/xfrload/secondaries.h"
#include "core/ascii.h"

namespace {

constexpr char kUsage[] =
    "usage: xfrload secondaries --target ADDR:PORT --zone ZONE [options]\n"
    "       xfrload primary --listen ADDR:PORT --zone ZONE [options]\n"
    "       xfrload secondaries|primary --help\n"
    "       xfrload --version\n";

int RunSecondaries(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(xfr::load::SecondariesUsage().c_str(), stdout);
      return 0;
    }
  }
  auto options = xfr::load::ParseSecondariesOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "xfrload: %s\n%s", std::string(xfr::ToStd(options.status().message())).c_str(),
                 xfr::load::SecondariesUsage().c_str());
    return 2;
  }
  if (options->print_config) {
    std::fputs(xfr::load::SecondariesConfigYaml(*options).c_str(), stdout);
    return 0;
  }
  bool json = options->json;
  auto load = xfr::load::SecondariesLoad::Create(*std::move(options));
  if (!load.ok()) {
    std::fprintf(stderr, "xfrload: %s\n",
                 std::string(xfr::ToStd(load.status().message())).c_str());
    return 1;
  }
  // Ctrl-C or SIGTERM ends the run with its report: a thread waits for the
  // signal (blocked everywhere else) and asks the load to stop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  xfr::load::SecondariesLoad* raw = load->get();
  std::atomic<bool> done{false};
  std::thread waiter([raw, set, &done] {
    int sig = 0;
    sigwait(&set, &sig);
    if (!done.load()) raw->Stop();
  });
  xfr::load::LoadReport report = (*load)->Run();
  done.store(true);
  pthread_kill(waiter.native_handle(), SIGTERM);  // ends its sigwait
  waiter.join();
  std::string out = json ? report.ToJson() : report.ToText();
  std::fputs(out.c_str(), stdout);
  return report.TotalErrors() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string mode = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (mode == "secondaries") return RunSecondaries(args);
  if (mode == "primary") return xfr::load::RunPrimaryCommand(args);
  if (mode == "--help" || mode == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (mode == "--version" || mode == "-V") {
    // The project's version (CMakeLists.txt): xfrload ships with xfrproxy.
    std::puts("xfrload " XFR_VERSION);
    return 0;
  }
  std::fprintf(stderr, "xfrload: unknown mode '%s'\n%s", mode.c_str(), kUsage);
  return 2;
}
