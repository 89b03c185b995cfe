// Splits generated text into two streams, reasoning (inside <think>…</think>)
// and content, with no tag text in either. Works on arbitrary text chunks, so
// a tag split across tokens is recognized; text that might be the start of a
// tag is held back until it is known not to be.
//
// Rules (the same as llama.cpp's R1 parser and the DeepSeek API, see
// src/chat/README.md):
// - "<think>" opens reasoning only at the very start of the output (leading
//   whitespace skipped); once the reply has started, or after "</think>",
//   a literal "<think>" is ordinary content.
// - When the prompt opened reasoning, a repeated "<think>" at its start is
//   dropped.
// - Reasoning is trimmed of whitespace at both ends (R1 writes "<think>\n" and
//   "\n</think>"); an unterminated reasoning block is flushed by finish().
// - Content drops its leading whitespace (R1 writes "</think>\n\n").
// The concatenated streams do not depend on how the text was chunked.
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
  void emit_reasoning(std::string_view s, ReasoningDelta& out);
  void emit_content(std::string_view s, ReasoningDelta& out);

  bool in_reasoning_;
  bool seen_open_ = false;          // an opening tag was consumed (or the prompt had one)
  bool seen_close_ = false;         // "</think>" was consumed; no more tags after it
  bool open_checked_ = false;       // a repeated "<think>" can no longer come
  bool reasoning_started_ = false;  // a non-whitespace reasoning byte was emitted
  bool content_started_ = false;    // a non-whitespace content byte was emitted
  std::string held_;                // a suffix that may be the start of a tag
  std::string reasoning_ws_;        // trailing reasoning whitespace, dropped if "</think>" follows
};

}  // namespace frugal::chat
