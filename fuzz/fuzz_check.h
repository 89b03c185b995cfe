// Invariant checks for the libFuzzer harnesses. A failed check prints what
// broke and aborts, which libFuzzer reports as a crash and saves the input.
// (Harnesses are test code: aborting here is how a fuzzer reports a finding;
// the library code under test never aborts on bad input.)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace frugal::fuzz {

// True when `s` starts with `prefix`.
inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace frugal::fuzz
