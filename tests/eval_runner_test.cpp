// Reasoning-token counting of the eval runner (src/eval/runner.h). Reference:
// token ids from the GPT-2 vocabulary of llama.cpp's tokenizer test files
// (../shared/testdata/vocab), and the count worked out from byte offsets:
// every token that starts before the end of "</think>" in the decoded text.
#include <gtest/gtest.h>

#include <string>

#include "eval/runner.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace {

using frugal::tokenizer::Tokenizer;

const Tokenizer& gpt2() {
  static std::unique_ptr<frugal::gguf::File> file;
  static std::unique_ptr<Tokenizer> tok;
  if (!tok) {
    auto f = frugal::gguf::File::open(std::string(FRUGAL_SHARED_TESTDATA) +
                                      "/vocab/ggml-vocab-gpt-2.gguf");
    EXPECT_TRUE(f.ok());
    file = std::move(*f);
    auto t = Tokenizer::from_gguf(*file);
    EXPECT_TRUE(t.ok());
    tok = std::move(*t);
  }
  return *tok;
}

// Tokens that start before the end of the first "</think>" (0 if none).
int64_t by_offsets(const Tokenizer& tok, const std::vector<int32_t>& ids, const std::string& text) {
  const size_t close = text.find("</think>");
  if (close == std::string::npos) return 0;
  const size_t end = close + 8;
  size_t pos = 0;
  int64_t n = 0;
  for (int32_t id : ids) {
    if (pos >= end) break;
    pos += tok.token_to_piece(id).size();
    ++n;
  }
  return n;
}

TEST(EvalRunner, CountsReasoningTokens) {
  const Tokenizer& tok = gpt2();
  struct Case {
    std::string text;
    bool starts_in_reasoning;
  } cases[] = {
      {"Let me add 2 and 2.\n</think>\n\nThe answer is 4.", true},
      {"<think>Compute 6*7 first.</think>It is \\boxed{42}.", false},
      {"  <think>\nhmm\n</think>\n\nfine", false},
  };
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.text, false);
    ASSERT_EQ(tok.decode(ids), c.text);
    const int64_t want = by_offsets(tok, ids, c.text);
    EXPECT_GT(want, 3);
    EXPECT_LT(want, static_cast<int64_t>(ids.size()));
    EXPECT_EQ(frugal::eval::count_reasoning_tokens(tok, ids, c.starts_in_reasoning), want)
        << c.text;
  }
  // No reasoning block: nothing counts.
  auto plain = tok.encode("The answer is 4.", false);
  EXPECT_EQ(frugal::eval::count_reasoning_tokens(tok, plain, false), 0);
  // A block that never closes: everything counts.
  auto open = tok.encode("still thinking about it", false);
  EXPECT_EQ(frugal::eval::count_reasoning_tokens(tok, open, true),
            static_cast<int64_t>(open.size()));
  auto opened = tok.encode("<think>still thinking", false);
  EXPECT_EQ(frugal::eval::count_reasoning_tokens(tok, opened, false),
            static_cast<int64_t>(opened.size()));
}

}  // namespace
