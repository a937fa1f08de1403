// Placeholder until the engine lands (issue 3): reports its version.
#include <cstdio>
int main() {
  std::puts("xfrproxy 0.1.0");
  return 0;
}
