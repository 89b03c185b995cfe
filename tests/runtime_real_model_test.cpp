// Real GGUF models end to end through runtime::Engine, compared with
// llama.cpp (llama-cpp-python, see tools/gen_real_golden.py): our tokenizer
// must give llama.cpp's prompt ids, and our greedy continuation must equal
// llama.cpp's token for token for at least the first 32 tokens.
// The models come from scripts/fetch_models.py into $FRUGAL_MODEL_CACHE; the
// test skips when they are absent (scripts/test.sh always fetches them).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/engine.h"

namespace frugal::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#if defined(__SANITIZE_ADDRESS__)
// Sanitized builds run the scalar-heavy forward ~5x slower: check fewer
// tokens there (memory safety is the point of that pass; full parity runs in
// the Release pass).
constexpr int kTokensToMatch = 16;
constexpr size_t kMaxCases = 2;
#else
constexpr int kTokensToMatch = 32;
constexpr size_t kMaxCases = 100;
#endif

std::vector<std::string> golden_files() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(FRUGAL_TEST_DATA) / "real"))
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

class RealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(RealModel, TokenizerAndGreedyMatchLlamaCpp) {
  std::ifstream in(GetParam());
  const json g = json::parse(in);
  const char* cache = std::getenv("FRUGAL_MODEL_CACHE");
  if (!cache) GTEST_SKIP() << "FRUGAL_MODEL_CACHE not set (scripts/test.sh sets it)";
  const fs::path model = fs::path(cache) / g["model"].get<std::string>();
  if (!fs::exists(model)) GTEST_SKIP() << model << " not fetched (scripts/fetch_models.py all)";

  EngineOptions opt;
  opt.model_path = model.string();
  opt.n_threads = 2;
  opt.n_ctx = 512;
  auto engine = Engine::load(opt);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  const auto& tok = (*engine)->tokenizer();

  size_t n_cases = 0;
  for (const auto& c : g["cases"]) {
    if (n_cases++ >= kMaxCases) break;
    const std::string text = c["text"];
    const auto want_prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> prompt = tok.encode(text, c["parse_special"].get<bool>());
    if (g["add_bos"].get<bool>() && tok.vocab().bos >= 0) prompt.insert(prompt.begin(), tok.vocab().bos);
    EXPECT_EQ(prompt, want_prompt) << "tokenizer differs from llama.cpp on case " << n_cases;

    // Generate from llama.cpp's prompt ids, so this checks the model alone.
    Session session(**engine);
    GenerateRequest req;
    req.prompt = want_prompt;
    req.sampling.temperature = 0.0f;
    req.max_tokens = kTokensToMatch;
    auto r = session.generate(req, nullptr);
    ASSERT_TRUE(r.ok()) << r.error().message;

    auto want = c["greedy_ids"].get<std::vector<int32_t>>();
    // llama.cpp's list ends with the end-of-generation id if it stopped; ours
    // excludes it and reports finish=stop.
    if (!want.empty() && tok.is_eog(want.back())) {
      want.pop_back();
      if (static_cast<int>(want.size()) < kTokensToMatch) {
        EXPECT_EQ(r->finish, FinishReason::Stop);
      }
    }
    const size_t n = std::min<size_t>(want.size(), kTokensToMatch);
    want.resize(n);
    std::vector<int32_t> got = r->tokens;
    got.resize(std::min(got.size(), n));
    EXPECT_EQ(got, want) << g["model"] << " case " << n_cases << " (" << c["kind"] << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, RealModel, ::testing::ValuesIn(golden_files()),
                         [](const auto& info) {
                           std::string s = fs::path(info.param).stem().string();
                           for (auto& ch : s)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace frugal::runtime
