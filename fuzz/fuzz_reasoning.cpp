// Fuzz target: chat::ReasoningSplitter on arbitrary text cut into arbitrary
// chunks. The splitter documents that "the concatenated streams do not depend
// on how the text was chunked" (chat/reasoning_splitter.h): the input is fed
// whole, byte by byte, and in chunks whose lengths come from the input, and
// all three must give the same reasoning and content. The closing tag never
// appears in the reasoning stream.
#include <cstdint>
#include <string>
#include <string_view>

#include "chat/reasoning_splitter.h"
#include "fuzz_check.h"

namespace {

using frugal::chat::ReasoningDelta;
using frugal::chat::ReasoningSplitter;

struct Streams {
  std::string reasoning, content;
  void add(const ReasoningDelta& d) {
    reasoning += d.reasoning;
    content += d.content;
  }
};

// Feeds `text` in chunks; `next_len` returns the next chunk length (>= 1).
template <class NextLen>
Streams run(bool starts_in_reasoning, std::string_view text, NextLen next_len) {
  ReasoningSplitter sp(starts_in_reasoning);
  Streams s;
  while (!text.empty()) {
    const size_t n = std::min(text.size(), next_len());
    s.add(sp.push(text.substr(0, n)));
    text.remove_prefix(n);
  }
  s.add(sp.finish());
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // Byte 0: flags; byte 1: how many of the following bytes are chunk
  // lengths; the rest is the text.
  const bool starts_in_reasoning = data[0] & 1;
  const size_t n_lens = std::min<size_t>(data[1] % 32, size - 2);
  const uint8_t* lens = data + 2;
  const std::string_view text(reinterpret_cast<const char*>(data + 2 + n_lens), size - 2 - n_lens);

  const Streams whole = run(starts_in_reasoning, text, [&] { return text.size() + 1; });
  const Streams bytes = run(starts_in_reasoning, text, [] { return size_t{1}; });
  size_t k = 0;
  const Streams chunked = run(starts_in_reasoning, text, [&]() -> size_t {
    if (n_lens == 0) return 3;
    return 1 + lens[k++ % n_lens] % 16;
  });
  FUZZ_CHECK(whole.reasoning == bytes.reasoning && whole.content == bytes.content);
  FUZZ_CHECK(whole.reasoning == chunked.reasoning && whole.content == chunked.content);
  FUZZ_CHECK(whole.reasoning.find("</think>") == std::string::npos);
  // Nothing is invented: the two streams together are never longer than the text.
  FUZZ_CHECK(whole.reasoning.size() + whole.content.size() <= text.size());
  return 0;
}
