// Compared against: llama.cpp through llama-cpp-python (tools/gen_parity_golden.py;
// F32 KV cache, no flash attention), on the real models of
// scripts/fetch_models.py and Genesis text from Debian's bible-kjv-text.
// - Next-token distributions over one 256-token perplexity chunk: top-1
//   agreement >= 98 % and perplexity within 1 % of llama.cpp's (issue 3's
//   acceptance, on a smaller sample than docs/results/parity.md). When the
//   file holds no weight type that llama.cpp repacks on x86 (Q4_0, Q4_K,
//   IQ4_NL: it then runs other kernels with another summation order) and the
//   AVX2 table is active, every compared logit must equal llama.cpp's bit for
//   bit: our kernels follow ggml's float order (kernels/cpu/attention.h).
// - Long context: greedy continuation of a ~6k-token prompt at n_ctx 8192
//   equals llama.cpp's for at least the first 64 of 128 tokens.
// FRUGAL_KERNELS=ref|avx2|neon|neon-dotprod runs the distributions on that
// table (scripts/test_arm64.sh runs them on neon-dotprod under qemu).
// Skips when a model is not fetched (scripts/test.sh always fetches them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/cpu/dispatch.h"
#include "runtime/engine.h"
#include "runtime/perplexity.h"

namespace frugal::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> golden_files(bool long_context) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(FRUGAL_TEST_DATA) / "parity")) {
    const std::string stem = e.path().stem().string();
    const bool is_long = stem.size() > 5 && stem.ends_with("-long");
    if (e.path().extension() == ".json" && is_long == long_context)
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The model file a golden names, or empty when it is not in the cache.
std::string model_path(const json& g) {
  const char* cache = std::getenv("FRUGAL_MODEL_CACHE");
  if (!cache) return {};
  const fs::path p = fs::path(cache) / g["model"].get<std::string>();
  return fs::exists(p) ? p.string() : std::string();
}

bool llama_cpp_repacks_some_weight(const gguf::File& f) {
  for (const auto& t : f.tensors()) {
    if (t.type == gguf::GgmlType::Q4_0 || t.type == gguf::GgmlType::Q4_K ||
        t.type == gguf::GgmlType::IQ4_NL)
      return true;
  }
  return false;
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = fs::path(info.param).stem().string();
  for (auto& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class Distributions : public ::testing::TestWithParam<std::string> {};

TEST_P(Distributions, MatchLlamaCpp) {
  std::ifstream in(GetParam());
  const json g = json::parse(in);
  const std::string path = model_path(g);
  if (path.empty()) GTEST_SKIP() << g["model"] << " not fetched (scripts/fetch_models.py all)";
#if defined(__SANITIZE_ADDRESS__)
  // Memory safety is the point of the sanitized pass; the smallest model
  // covers the same code, the larger ones take minutes there.
  if (fs::file_size(path) > (200u << 20)) GTEST_SKIP() << "large model skipped under ASan";
#endif

  // FRUGAL_KERNELS picks the kernel table, as for the CLI (default: the best),
  // so every ISA path can be held to the goldens.
  const char* isa = std::getenv("FRUGAL_KERNELS");
  ASSERT_TRUE(kernels::select_kernels(isa != nullptr ? isa : "auto").ok()) << isa;
  const std::string_view table = kernels::active_kernels().isa;
  // SmolLM2-135M Q4_1 turns any change in the order of a dot's float sums
  // into diverging logits: llama.cpp's x86 order (the avx2 table) gives its
  // golden bit for bit, but the ref table's Q4_1 dot alone gives top-1
  // 0.921 and max |dlogit| 1.01, and a dot summed in double (more exact than
  // either) 0.937 and 1.31; the NEON tables under qemu 0.921. Those are the
  // model's sensitivity, not an error the 0.98 bound could tell from one
  // (llama.cpp against itself, F16 vs F32 cache, agrees on 96.1 %), so this
  // golden holds only the table that reproduces llama.cpp's order.
  // (docs/results/parity.md; the qwen2.5 Q4_K_M golden passes on every table.)
  if (g["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf" && table != "avx2")
    GTEST_SKIP() << "golden exact only in llama.cpp's x86 float order; table " << table;

  EngineOptions opt;
  opt.model_path = path;
  opt.n_threads = 2;
  opt.n_ctx = g["n_ctx"].get<int64_t>();
  auto engine = Engine::load(opt);
  ASSERT_TRUE(engine.ok()) << engine.error().message;

  const auto tokens = g["tokens"].get<std::vector<int32_t>>();
  const auto& rows = g["positions"];
  const int64_t first = g["first"].get<int64_t>();
  int64_t agree = 0, compared = 0;
  float max_diff = 0;
  PerplexityOptions po;
  po.n_ctx = opt.n_ctx;
  auto sink = [&](int64_t, std::span<const int32_t>, int64_t pos,
                  std::span<const float> logits) -> Status {
    const json& r = rows.at(static_cast<size_t>(pos - first));
    const auto ids = r["top_ids"].get<std::vector<int32_t>>();
    const auto want = r["top_logits"].get<std::vector<float>>();
    const auto top = std::max_element(logits.begin(), logits.end()) - logits.begin();
    agree += top == ids[0];
    for (size_t i = 0; i < ids.size(); ++i)
      max_diff = std::max(max_diff, std::fabs(logits[static_cast<size_t>(ids[i])] - want[i]));
    ++compared;
    return {};
  };
  auto res = perplexity(**engine, tokens, po, nullptr, sink);
  ASSERT_TRUE(res.ok()) << res.error().message;
  ASSERT_EQ(compared, static_cast<int64_t>(rows.size()));

  const double top1 = static_cast<double>(agree) / static_cast<double>(compared);
  const double ppl_ref = g["ppl"].get<double>();
  std::printf(
      "%s: top-1 agreement %.4f over %lld positions, ppl %.5f vs llama.cpp %.5f, max |dlogit| %g\n",
      g["model"].get<std::string>().c_str(), top1, static_cast<long long>(compared), res->ppl(),
      ppl_ref, max_diff);
  EXPECT_GE(top1, 0.98);
  EXPECT_LE(std::fabs(res->ppl() / ppl_ref - 1.0), 0.01);
  if (!llama_cpp_repacks_some_weight((*engine)->file()) && table == "avx2") {
    EXPECT_EQ(max_diff, 0.0f) << "logits should equal llama.cpp's bit for bit";
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, Distributions, ::testing::ValuesIn(golden_files(false)),
                         param_name);

class LongContext : public ::testing::TestWithParam<std::string> {};

TEST_P(LongContext, GreedyAfterSixThousandTokensMatchesLlamaCpp) {
  // Opt-in: the 6k-token prefill took 639 s on the shared 2-core machine
  // (attention at depth is not yet fast), too long for every CI run.
  // Measured 2026-11-22: first 83 of 128 greedy tokens equal llama.cpp's.
  if (std::getenv("FRUGAL_LONG_TESTS") == nullptr)
    GTEST_SKIP() << "set FRUGAL_LONG_TESTS=1 to run the 6k-token parity check";
  std::ifstream in(GetParam());
  const json g = json::parse(in);
  const std::string path = model_path(g);
  if (path.empty()) GTEST_SKIP() << g["model"] << " not fetched (scripts/fetch_models.py all)";
  EngineOptions opt;
  opt.model_path = path;
  opt.n_threads = 2;
  opt.n_ctx = 8192;
  auto engine = Engine::load(opt);
  ASSERT_TRUE(engine.ok()) << engine.error().message;

  Session session(**engine);
  GenerateRequest req;
  req.prompt = g["prompt_ids"].get<std::vector<int32_t>>();
  req.sampling.temperature = 0.0f;
  auto want = g["greedy_ids"].get<std::vector<int32_t>>();
  if (!want.empty() && (*engine)->tokenizer().is_eog(want.back())) want.pop_back();
  req.max_tokens = static_cast<int32_t>(want.size());
  auto r = session.generate(req, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  size_t same = 0;
  while (same < want.size() && same < r->tokens.size() && r->tokens[same] == want[same]) ++same;
  std::printf("%zu-token prompt: first %zu of %zu greedy tokens equal llama.cpp's\n",
              req.prompt.size(), same, want.size());
  EXPECT_GE(same, std::min<size_t>(64, want.size()));
}

INSTANTIATE_TEST_SUITE_P(Golden, LongContext, ::testing::ValuesIn(golden_files(true)), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LongContext);

}  // namespace
}  // namespace frugal::runtime
