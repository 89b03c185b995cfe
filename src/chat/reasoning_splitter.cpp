// Streaming <think>…</think> splitter. The only state that spans chunks is a
// held-back suffix that could still become a tag and the reasoning's trailing
// whitespace, so the result is the same for any chunking of the same text.
#include "chat/reasoning_splitter.h"

#include <algorithm>

namespace frugal::chat {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(bool starts_in_reasoning)
    : in_reasoning_(starts_in_reasoning), seen_open_(starts_in_reasoning) {}

void ReasoningSplitter::emit_reasoning(std::string_view s, ReasoningDelta& out) {
  if (!reasoning_started_) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    if (s.empty()) return;
    reasoning_started_ = true;
  }
  size_t end = s.size();
  while (end > 0 && is_space(s[end - 1])) --end;
  if (end == 0) {  // only whitespace: it may yet be trailing
    reasoning_ws_ += s;
    return;
  }
  out.reasoning += reasoning_ws_;
  reasoning_ws_.clear();
  out.reasoning += s.substr(0, end);
  reasoning_ws_ = s.substr(end);
}

void ReasoningSplitter::emit_content(std::string_view s, ReasoningDelta& out) {
  if (!content_started_) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    if (s.empty()) return;
    content_started_ = true;
  }
  out.content += s;
}

ReasoningDelta ReasoningSplitter::push(std::string_view text) {
  ReasoningDelta out;
  std::string buf = std::move(held_);
  held_.clear();
  buf += text;
  std::string_view rest = buf;
  while (!rest.empty()) {
    if (in_reasoning_) {
      if (!reasoning_started_ && !open_checked_) {
        // A model may repeat the "<think>" its prompt already opened; only
        // whitespace can precede it, and that is dropped anyway.
        while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
        if (rest.empty()) break;
        if (kOpen.starts_with(rest) && rest.size() < kOpen.size()) {
          held_ = rest;
          break;
        }
        open_checked_ = true;
        if (rest.starts_with(kOpen)) rest.remove_prefix(kOpen.size());
        continue;
      }
      if (size_t pos = rest.find(kClose); pos != std::string_view::npos) {
        emit_reasoning(rest.substr(0, pos), out);
        reasoning_ws_.clear();  // whitespace right before "</think>" is trailing
        rest.remove_prefix(pos + kClose.size());
        in_reasoning_ = false;
        seen_close_ = true;
        continue;
      }
      const size_t keep = partial_tag_suffix(rest, kClose);
      emit_reasoning(rest.substr(0, rest.size() - keep), out);
      held_ = rest.substr(rest.size() - keep);
      break;
    }
    if (!seen_open_ && !seen_close_ && !content_started_) {
      // Start of the output: an opening tag may still come after whitespace.
      while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
      if (rest.empty()) break;
      if (rest.starts_with(kOpen)) {
        rest.remove_prefix(kOpen.size());
        in_reasoning_ = true;
        seen_open_ = true;
        open_checked_ = true;
        continue;
      }
      if (kOpen.starts_with(rest)) {  // "<thi": undecided until more arrives
        held_ = rest;
        break;
      }
    }
    emit_content(rest, out);
    break;
  }
  return out;
}

ReasoningDelta ReasoningSplitter::finish() {
  ReasoningDelta out;
  if (in_reasoning_) {
    emit_reasoning(held_, out);  // a partial "</thi" at the end is reasoning text
    reasoning_ws_.clear();       // trailing whitespace of the reasoning is trimmed
  } else {
    emit_content(held_, out);  // a lone "<thi" at the start is content
  }
  held_.clear();
  return out;
}

}  // namespace frugal::chat
