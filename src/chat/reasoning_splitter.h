// Splits generated text into two streams, reasoning (inside <think>…</think>)
// and content, with no tag text in either. Works on arbitrary text chunks, so
// a tag split across tokens is recognized; text that might be the start of a
// tag is held back until it is known not to be.
#pragma once

#include <string>
#include <string_view>

namespace frugal::chat {

struct ReasoningDelta {
  std::string reasoning;
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

class ReasoningSplitter {
 public:
  // starts_in_reasoning: the prompt already opened <think> (R1 templates).
  explicit ReasoningSplitter(bool starts_in_reasoning = false);

  ReasoningDelta push(std::string_view text);
  ReasoningDelta finish();  // releases any held-back text
  bool in_reasoning() const { return in_reasoning_; }

 private:
  bool in_reasoning_;
  bool seen_open_ = false;
  bool seen_close_ = false;
  std::string held_;
};

}  // namespace frugal::chat
