// Compared against Hugging Face `tokenizers` (PyPI): ids for ~250 multilingual
// strings in tests/data/tokenizer/hf_golden.json, written by
// tools/gen_tokenizer_golden.py from ../shared/testdata/tokenizers/{qwen2,llama3.1}
// (qwen2 with the R1-distill added tokens of constructed-vocab-deepseek-r1-qwen.gguf).
// Also llama.cpp's reference vectors for llama-bpe, and llama.cpp's own tokenizer
// (llama-cpp-python) on SmolLM2 when its golden file and model are present.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

using frugal::tokenizer::Tokenizer;
using frugal::tokenizer::TokenType;
using frugal::tokenizer::Vocab;
using nlohmann::json;

namespace {

const std::string kShared = FRUGAL_SHARED_TESTDATA;
const std::string kData = FRUGAL_TEST_DATA;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::unique_ptr<Tokenizer> load_gguf(const std::string& path) {
  auto f = frugal::gguf::File::open(path);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  if (!f.ok()) return nullptr;
  auto t = Tokenizer::from_gguf(**f);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(*t) : nullptr;
}

// Llama 3.1's vocab from its HF tokenizer.json: model.vocab + model.merges,
// added tokens as control (special) or user-defined.
std::unique_ptr<Tokenizer> load_llama3_json() {
  const auto j = json::parse(read_file(kShared + "/tokenizers/llama3.1/tokenizer.json"));
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
  auto t = Tokenizer::from_vocab(std::move(v));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? std::move(*t) : nullptr;
}

// llama.cpp's reference vectors for llama-bpe (../shared/testdata/vectors):
// .inp strings separated by "\n__ggml_vocab_test__\n", .out ids per line.
std::vector<std::pair<std::string, std::vector<int32_t>>> load_vectors(const std::string& name) {
  const std::string inp = read_file(kShared + "/vectors/ggml-vocab-" + name + ".gguf.inp");
  std::istringstream out(read_file(kShared + "/vectors/ggml-vocab-" + name + ".gguf.out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::pair<std::string, std::vector<int32_t>>> cases;
  for (size_t pos = 0, next; (next = inp.find(sep, pos)) != std::string::npos;
       pos = next + sep.size()) {
    cases.push_back({inp.substr(pos, next - pos), {}});
  }
  std::string line;
  for (auto& c : cases) {
    if (!std::getline(out, line)) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.second.push_back(id);
  }
  return cases;
}

class HfGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new json(json::parse(read_file(kData + "/tokenizer/hf_golden.json")));
    qwen_ = load_gguf(kShared + "/vocab/constructed-vocab-deepseek-r1-qwen.gguf").release();
    llama3_ = load_llama3_json().release();
  }
  static void TearDownTestSuite() {
    delete golden_;
    delete qwen_;
    delete llama3_;
  }

  static void check(const Tokenizer& tok, const std::string& key, bool expect_nfc) {
    const auto& strings = (*golden_)["strings"];
    const auto& nfc = (*golden_)["nfc"];
    const auto& ids = (*golden_)[key]["ids"];
    const auto& plain = (*golden_)[key]["ids_plain"];
    ASSERT_GE(strings.size(), 200u);
    ASSERT_EQ(ids.size(), strings.size());
    ASSERT_EQ(plain.size(), strings.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < strings.size(); ++i) {
      const std::string s = strings[i].get<std::string>();
      const auto got = tok.encode(s, /*parse_special=*/true);
      const auto got_plain = tok.encode(s, /*parse_special=*/false);
      EXPECT_EQ(got, ids[i].get<std::vector<int32_t>>()) << key << " string #" << i;
      EXPECT_EQ(got_plain, plain[i].get<std::vector<int32_t>>()) << key << " plain string #" << i;
      mismatches += got != ids[i].get<std::vector<int32_t>>();
      const std::string want = expect_nfc ? nfc[i].get<std::string>() : s;
      EXPECT_EQ(tok.decode(got, /*special=*/true), want) << key << " round trip #" << i;
      EXPECT_EQ(tok.decode(got_plain), want) << key << " plain round trip #" << i;
    }
    EXPECT_EQ(mismatches, 0u);
  }

  static json* golden_;
  static Tokenizer* qwen_;
  static Tokenizer* llama3_;
};
json* HfGolden::golden_ = nullptr;
Tokenizer* HfGolden::qwen_ = nullptr;
Tokenizer* HfGolden::llama3_ = nullptr;

TEST_F(HfGolden, Qwen2ViaR1DistillGguf) {
  ASSERT_TRUE(qwen_);
  check(*qwen_, "qwen2", /*expect_nfc=*/true);
}

TEST_F(HfGolden, Llama3ViaTokenizerJson) {
  ASSERT_TRUE(llama3_);
  check(*llama3_, "llama3", /*expect_nfc=*/false);
}

TEST_F(HfGolden, LlamaBpeReferenceVectors) {
  ASSERT_TRUE(llama3_);
  const auto cases = load_vectors("llama-bpe");
  ASSERT_EQ(cases.size(), 46u);
  for (size_t i = 0; i < cases.size(); ++i) {
    for (bool parse_special : {false, true}) {
      EXPECT_EQ(llama3_->encode(cases[i].first, parse_special), cases[i].second)
          << "llama-bpe string #" << i << " parse_special=" << parse_special;
    }
  }
}

TEST_F(HfGolden, Llama3EndOfGeneration) {
  ASSERT_TRUE(llama3_);
  EXPECT_TRUE(llama3_->is_eog(128009));   // <|eot_id|> (control, by text)
  EXPECT_TRUE(llama3_->is_eog(128001));   // <|end_of_text|>
  EXPECT_FALSE(llama3_->is_eog(128000));  // <|begin_of_text|>
  EXPECT_FALSE(llama3_->is_eog(128006));  // <|start_header_id|>
}

// 100 KB of the golden strings (all scripts, emoji, code, whitespace).
TEST_F(HfGolden, HundredKilobytesIsFast) {
  ASSERT_TRUE(qwen_ && llama3_);
  std::string text;
  while (text.size() < 100 * 1024) {
    for (const auto& s : (*golden_)["strings"]) text += s.get<std::string>() + " ";
  }
  for (const Tokenizer* tok : {qwen_, llama3_}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, false);
    const auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    std::printf("encode %zu bytes -> %zu ids: %.1f ms\n", text.size(), ids.size(), ms.count());
    // Generous: Release takes a few tens of ms; this also holds in Debug+ASan.
    EXPECT_LT(ms.count(), 20000.0);
    EXPECT_GT(ids.size(), text.size() / 8);
  }
}

// llama.cpp's tokenizer (llama-cpp-python) on the real SmolLM2 file.
TEST(SmolLmGolden, MatchesLlamaCpp) {
  const std::string golden_path = kData + "/tokenizer/smollm_golden.json";
  const char* cache = std::getenv("FRUGAL_MODEL_CACHE");
  if (!cache) GTEST_SKIP() << "FRUGAL_MODEL_CACHE not set";
  const std::string model = std::string(cache) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  if (!std::filesystem::exists(golden_path)) {
    GTEST_SKIP() << "no smollm_golden.json (run tools/gen_tokenizer_golden.py --smollm)";
  }
  const json g = json::parse(read_file(golden_path));
  auto tok = load_gguf(model);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->vocab().pre, "smollm");
  for (size_t i = 0; i < g["strings"].size(); ++i) {
    const std::string s = g["strings"][i].get<std::string>();
    EXPECT_EQ(tok->encode(s, false), g["ids"][i].get<std::vector<int32_t>>()) << "string #" << i;
  }
}

}  // namespace
