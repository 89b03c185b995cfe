// Compared against llama.cpp's tokenizer reference vectors
// (../shared/testdata/vectors/ggml-vocab-*.gguf.inp/.out), which were produced
// with Hugging Face `tokenizers` on the same vocabularies. Llama 3's vocab is
// built from its HF tokenizer.json (no vocab GGUF is shipped for it).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

using frugal::tokenizer::TokenType;
using frugal::tokenizer::Tokenizer;
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

std::unique_ptr<Tokenizer> load_llama3_json() {
  const auto j = nlohmann::json::parse(read_file(kShared + "/tokenizers/llama3.1/tokenizer.json"));
  Vocab v;
  v.pre = "llama-bpe";
  size_t n = 0;
  for (const auto& [text, id] : j["model"]["vocab"].items()) n = std::max(n, id.get<size_t>() + 1);
  for (const auto& at : j["added_tokens"]) n = std::max(n, at["id"].get<size_t>() + 1);
  v.tokens.resize(n);
  v.types.assign(n, TokenType::Normal);
  for (const auto& [text, id] : j["model"]["vocab"].items()) v.tokens[id.get<size_t>()] = text;
  for (const auto& at : j["added_tokens"]) {
    const size_t id = at["id"].get<size_t>();
    v.tokens[id] = at["content"].get<std::string>();
    v.types[id] = at["special"].get<bool>() ? TokenType::Control : TokenType::UserDefined;
  }
  for (const auto& m : j["model"]["merges"]) {
    v.merges.push_back(m.is_string() ? m.get<std::string>()
                                     : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  v.bos = 128000;
  v.eos = 128009;
  auto t = Tokenizer::from_vocab(std::move(v));
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
    llama3_ = load_llama3_json().release();
  }
  static void TearDownTestSuite() {
    delete qwen_;
    delete llama3_;
  }
  static Tokenizer* qwen_;
  static Tokenizer* llama3_;
};
Tokenizer* Vectors::qwen_ = nullptr;
Tokenizer* Vectors::llama3_ = nullptr;

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

TEST_F(Vectors, LlamaBpe) {
  ASSERT_TRUE(llama3_);
  check_vectors(*llama3_, "llama-bpe");
}

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

TEST_F(Vectors, EndOfGeneration) {
  ASSERT_TRUE(qwen_ && llama3_);
  EXPECT_TRUE(qwen_->is_eog(151643));   // <｜end▁of▁sentence｜> = eos
  EXPECT_FALSE(qwen_->is_eog(151644));  // <｜User｜>
  EXPECT_FALSE(qwen_->is_eog(9707));
  EXPECT_TRUE(llama3_->is_eog(128009));  // <|eot_id|>
  EXPECT_TRUE(llama3_->is_eog(128001));  // <|end_of_text|>
  EXPECT_FALSE(llama3_->is_eog(128000));
  EXPECT_FALSE(llama3_->is_eog(-1));
  EXPECT_FALSE(llama3_->is_eog(1 << 30));
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

}  // namespace
