// Finds stop strings in streamed text. Text that could still become the start
// of a stop string is held back, so a stop string is never emitted, even in
// part, when it is split across tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace frugal::runtime {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Out {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string was found; text ends right before it
  };
  Out push(std::string_view delta);
  std::string flush();  // held-back text at the end of generation

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace frugal::runtime
