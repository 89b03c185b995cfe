// Compared against llama.cpp's tokenizer reference vectors
// (../shared/testdata/vectors/ggml-vocab-*.gguf.inp/.out), which were produced
// with Hugging Face `tokenizers` on the same vocabularies (llama-bpe's are
// checked in tokenizer_hf_test.cpp). Crafted GGUF headers check validation.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

using frugal::tokenizer::Tokenizer;
using frugal::tokenizer::TokenType;
using frugal::tokenizer::Vocab;

namespace {

const std::string kShared = FRUGAL_SHARED_TESTDATA;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: strings separated by "\n__ggml_vocab_test__\n" (the file ends with
// one); .out: one line of space-separated ids per string.
std::vector<Case> load_vectors(const std::string& name) {
  const std::string inp = read_file(kShared + "/vectors/ggml-vocab-" + name + ".gguf.inp");
  const std::string out = read_file(kShared + "/vectors/ggml-vocab-" + name + ".gguf.out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  size_t pos = 0;
  while (true) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    cases.push_back({inp.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (i >= cases.size()) {
      ADD_FAILURE() << name << ": more .out lines than .inp strings";
      break;
    }
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) cases[i].ids.push_back(id);
    ++i;
  }
  EXPECT_EQ(i, cases.size()) << name;
  return cases;
}

std::unique_ptr<Tokenizer> load_gguf(const std::string& file) {
  auto f = frugal::gguf::File::open(kShared + "/vocab/" + file);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  if (!f.ok()) return nullptr;
  auto t = Tokenizer::from_gguf(**f);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(*t) : nullptr;
}

void check_vectors(const Tokenizer& tok, const std::string& name) {
  const std::vector<Case> cases = load_vectors(name);
  ASSERT_EQ(cases.size(), 46u) << name;
  for (size_t i = 0; i < cases.size(); ++i) {
    // The vectors were produced without special-token parsing; none of the
    // strings contains special-token text, so both settings must agree.
    for (bool parse_special : {false, true}) {
      EXPECT_EQ(tok.encode(cases[i].text, parse_special), cases[i].ids)
          << name << " string #" << i << " parse_special=" << parse_special;
    }
  }
}

class Vectors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    qwen_ = load_gguf("constructed-vocab-deepseek-r1-qwen.gguf").release();
  }
  static void TearDownTestSuite() { delete qwen_; }
  static Tokenizer* qwen_;
};
Tokenizer* Vectors::qwen_ = nullptr;

TEST_F(Vectors, Gpt2) {
  auto t = load_gguf("ggml-vocab-gpt-2.gguf");
  ASSERT_TRUE(t);
  check_vectors(*t, "gpt-2");
}

TEST_F(Vectors, DeepseekLlm) {
  auto t = load_gguf("ggml-vocab-deepseek-llm.gguf");
  ASSERT_TRUE(t);
  check_vectors(*t, "deepseek-llm");
}

TEST_F(Vectors, DeepseekCoder) {
  auto t = load_gguf("ggml-vocab-deepseek-coder.gguf");
  ASSERT_TRUE(t);
  check_vectors(*t, "deepseek-coder");
}

TEST_F(Vectors, Qwen2) {
  ASSERT_TRUE(qwen_);
  check_vectors(*qwen_, "qwen2");
}

TEST_F(Vectors, DeepseekR1Qwen) {
  ASSERT_TRUE(qwen_);
  check_vectors(*qwen_, "deepseek-r1-qwen");
}

// llama-bpe's vectors run in tokenizer_hf_test, which loads the Llama 3 vocab
// from tokenizer.json anyway (parsing it twice would slow both binaries).

// R1-distill chat markers are control tokens: single ids only when asked.
TEST_F(Vectors, SpecialTokensOnlyWithParseSpecial) {
  ASSERT_TRUE(qwen_);
  const std::string s = "<｜User｜>hi<｜Assistant｜>";
  const auto with = qwen_->encode(s, true);
  ASSERT_EQ(with.size(), 3u);
  EXPECT_EQ(with[0], 151644);
  EXPECT_EQ(with[2], 151645);
  EXPECT_EQ(qwen_->decode(with, /*special=*/true), s);
  EXPECT_EQ(qwen_->decode(with, /*special=*/false), "hi");
  const auto without = qwen_->encode(s, false);
  EXPECT_GT(without.size(), 3u);
  for (int32_t id : without) EXPECT_LT(id, 151643) << "special id from plain text";
  EXPECT_EQ(qwen_->decode(without), s);
  // User-defined tokens (<think>) are split out in both modes, as HF and
  // llama.cpp do for non-special added tokens.
  EXPECT_EQ(qwen_->encode("<think>", false), std::vector<int32_t>{151648});
  EXPECT_EQ(qwen_->token_to_piece(151648), "<think>");
}

// Long runs stress the regex engine (JIT stack, backtracking); whatever the
// split, the bytes must round-trip. Invalid UTF-8 is tokenized byte-wise.
TEST_F(Vectors, LongRunsAndInvalidUtf8RoundTrip) {
  ASSERT_TRUE(qwen_);
  const std::string cases[] = {std::string(30000, ' ') + "x", std::string(10000, '\n') + "y",
                               std::string(5000, '7'), std::string(6000, 'a'),
                               std::string("\xff\xfe ok \xc3") + "\x28" + "\xe2\x82"};
  for (const std::string& s : cases) {
    const auto ids = qwen_->encode(s, false);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(qwen_->decode(ids), s) << "size " << s.size();
  }
}

TEST_F(Vectors, EndOfGeneration) {
  ASSERT_TRUE(qwen_);
  EXPECT_TRUE(qwen_->is_eog(151643));   // <｜end▁of▁sentence｜> = eos
  EXPECT_FALSE(qwen_->is_eog(151644));  // <｜User｜>
  EXPECT_FALSE(qwen_->is_eog(9707));
  EXPECT_FALSE(qwen_->is_eog(-1));
  EXPECT_FALSE(qwen_->is_eog(1 << 30));
}

TEST_F(Vectors, VocabFieldsFromGguf) {
  ASSERT_TRUE(qwen_);
  EXPECT_EQ(qwen_->n_vocab(), 151936);
  EXPECT_EQ(qwen_->vocab().bos, 151646);
  EXPECT_EQ(qwen_->vocab().eos, 151643);
  EXPECT_TRUE(qwen_->vocab().add_bos);
  EXPECT_EQ(qwen_->find_token("Ġthe"), std::optional<int32_t>(279));
  EXPECT_EQ(qwen_->token_to_piece(279), " the");
  EXPECT_EQ(qwen_->token_to_piece(-5), "");
  EXPECT_EQ(qwen_->token_to_piece(151936), "");
}

TEST(VocabValidation, ErrorsNameTheField) {
  Vocab v;
  v.model = "llama";
  auto r = Tokenizer::from_vocab(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tokenizer.ggml.model"), std::string::npos);

  v = Vocab{};
  for (int b = 0; b < 256; ++b) v.tokens.push_back("x" + std::to_string(b));
  v.types.assign(10, TokenType::Normal);
  r = Tokenizer::from_vocab(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tokenizer.ggml.token_type"), std::string::npos);

  v.types.clear();
  r = Tokenizer::from_vocab(v);  // no byte tokens
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("byte"), std::string::npos);

  v.eos = 999;
  r = Tokenizer::from_vocab(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("eos_token_id"), std::string::npos);

  v.eos = -1;
  v.pre = "no-such-pre";
  r = Tokenizer::from_vocab(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tokenizer.ggml.pre"), std::string::npos);
}

// Crafted GGUF headers (gguf::Writer): a minimal valid vocab loads and
// merges; each malformed field is refused with its name in the message.
TEST(VocabValidation, CraftedGguf) {
  using frugal::gguf::Writer;
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(frugal::tokenizer::byte_to_unicode(uint8_t(b)));
  tokens.push_back("ab");
  const auto base = [&](Writer& w) {
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "gpt2");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_string_array("tokenizer.ggml.merges", {"a b", "x nothere"});
  };
  const auto load = [](const Writer& w, std::vector<uint8_t>& bytes) {
    bytes = w.to_bytes();
    auto f = frugal::gguf::File::from_memory(bytes);
    EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
    return Tokenizer::from_gguf(**f);
  };
  std::vector<uint8_t> bytes;
  {
    Writer w;
    base(w);
    auto t = load(w, bytes);
    ASSERT_TRUE(t.ok()) << t.error().message;
    const auto ids = (*t)->encode("abab", false);
    EXPECT_EQ(ids, (std::vector<int32_t>{256, 256}));
    EXPECT_EQ((*t)->decode(ids), "abab");
  }
  struct BadCase {
    const char* field;
    void (*set)(Writer&);
  };
  const BadCase cases[] = {
      {"tokenizer.ggml.model", [](Writer& w) { w.set_string("tokenizer.ggml.model", "llama"); }},
      {"tokenizer.ggml.model", [](Writer& w) { w.set_u32("tokenizer.ggml.model", 1); }},
      {"tokenizer.ggml.tokens", [](Writer& w) { w.set_i32_array("tokenizer.ggml.tokens", {1}); }},
      {"tokenizer.ggml.merges", [](Writer& w) { w.set_i32_array("tokenizer.ggml.merges", {1}); }},
      {"tokenizer.ggml.token_type",
       [](Writer& w) {
         w.set_i32_array("tokenizer.ggml.token_type", {1, 1});
       }},
      {"tokenizer.ggml.eos_token_id",
       [](Writer& w) { w.set_u32("tokenizer.ggml.eos_token_id", 5000); }},
      {"tokenizer.ggml.bos_token_id",
       [](Writer& w) { w.set_string("tokenizer.ggml.bos_token_id", "x"); }},
      {"tokenizer.ggml.add_bos_token",
       [](Writer& w) { w.set_u32("tokenizer.ggml.add_bos_token", 7); }},
      {"tokenizer.ggml.pre", [](Writer& w) { w.set_string("tokenizer.ggml.pre", "klingon"); }},
  };
  for (const BadCase& c : cases) {
    Writer w;
    base(w);
    c.set(w);  // a later set of the same key replaces the value
    auto t = load(w, bytes);
    ASSERT_FALSE(t.ok()) << c.field;
    EXPECT_NE(t.error().message.find(c.field), std::string::npos) << t.error().message;
  }
}

}  // namespace
