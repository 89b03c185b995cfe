// Stream decoding, compared against Tokenizer::decode of the same ids on the
// Hugging Face golden strings (tests/data/tokenizer/hf_golden.json, ids from
// PyPI `tokenizers`), with UTF-8 validity checked by utf8proc-independent
// rules (RFC 3629): deltas must be whole characters and concatenate to decode().
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

using frugal::tokenizer::StreamDecoder;
using frugal::tokenizer::Tokenizer;
using nlohmann::json;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// RFC 3629 well-formedness (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else
      return false;
    if (i + n > s.size()) return false;
    if (b(i + 1) < lo || b(i + 1) > hi) return false;
    for (size_t k = 2; k < n; ++k) {
      if (b(i + k) < 0x80 || b(i + k) > 0xBF) return false;
    }
    i += n;
  }
  return true;
}

class Stream : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = frugal::gguf::File::open(std::string(FRUGAL_SHARED_TESTDATA) +
                                      "/vocab/constructed-vocab-deepseek-r1-qwen.gguf");
    ASSERT_TRUE(f.ok()) << f.error().message;
    auto t = Tokenizer::from_gguf(**f);
    ASSERT_TRUE(t.ok()) << t.error().message;
    tok_ = t->release();
    golden_ = new json(
        json::parse(read_file(std::string(FRUGAL_TEST_DATA) + "/tokenizer/hf_golden.json")));
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete golden_;
  }
  static Tokenizer* tok_;
  static json* golden_;
};
Tokenizer* Stream::tok_ = nullptr;
json* Stream::golden_ = nullptr;

TEST_F(Stream, DeltasAreWholeCharactersAndConcatenateToDecode) {
  ASSERT_TRUE(tok_);
  const auto& all = (*golden_)["qwen2"]["ids"];
  ASSERT_GE(all.size(), 200u);
  size_t held_back = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const auto ids = all[i].get<std::vector<int32_t>>();
    for (bool special : {false, true}) {
      StreamDecoder dec(*tok_, special);
      std::string joined;
      for (int32_t id : ids) {
        const std::string d = dec.push(id);
        EXPECT_TRUE(valid_utf8(d)) << "string #" << i;
        if (d.empty() && !tok_->token_to_piece(id, special).empty()) ++held_back;
        joined += d;
      }
      const std::string tail = dec.flush();
      EXPECT_TRUE(valid_utf8(tail));
      joined += tail;
      EXPECT_EQ(joined, tok_->decode(ids, special)) << "string #" << i;
    }
  }
  // The golden set has characters split across byte tokens (emoji, CJK).
  EXPECT_GT(held_back, 0u);
}

// A 4-byte emoji spread over byte tokens comes out whole, in one delta.
TEST_F(Stream, EmojiOverByteTokensIsNeverSplit) {
  ASSERT_TRUE(tok_);
  const std::string emoji = "\xF0\x9F\xA6\x99";  // U+1F999
  // Byte-level text of each byte: F0 -> "ð", 9F -> "Ł", A6 -> "¦", 99 -> "Ļ".
  std::vector<int32_t> ids;
  for (const char* text : {"ð", "Ł", "¦", "Ļ"}) {
    const auto id = tok_->find_token(text);
    ASSERT_TRUE(id.has_value()) << text;
    ids.push_back(*id);
  }
  ASSERT_EQ(tok_->decode(ids), emoji);
  StreamDecoder dec(*tok_);
  EXPECT_EQ(dec.push(tok_->encode("a", false)[0]), "a");
  for (size_t k = 0; k + 1 < ids.size(); ++k) EXPECT_EQ(dec.push(ids[k]), "") << k;
  EXPECT_EQ(dec.push(ids.back()), emoji);
  EXPECT_EQ(dec.flush(), "");
}

// A sequence that can never complete is replaced, never passed through raw.
TEST_F(Stream, BrokenSequenceBecomesReplacementCharacter) {
  ASSERT_TRUE(tok_);
  const auto lead = tok_->find_token("ð");  // byte F0 alone
  const auto a = tok_->find_token("a");
  ASSERT_TRUE(lead && a);
  StreamDecoder dec(*tok_);
  EXPECT_EQ(dec.push(*lead), "");
  EXPECT_EQ(dec.push(*a),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(dec.push(*lead), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");
}

}  // namespace
