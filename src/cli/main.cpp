// The `frugal` command (placeholder until the verbs land).
#include <cstdio>
int main() {
  std::puts("frugal: under construction");
  return 0;
}
