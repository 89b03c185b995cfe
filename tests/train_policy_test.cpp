// The trainer's policy (libtorch) against Hugging Face transformers' logits
// for the tiny random qwen2 and llama models (tests/data/models, from
// tools/gen_tiny_models.py): the same bound the engine's forward test uses.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "train/policy.h"

namespace frugal::train {
namespace {

struct Reference {
  std::vector<int64_t> prompt;
  std::vector<float> logits;  // [T, V]
};

Reference reference(const std::string& name, const std::string& dtype) {
  std::ifstream jf(std::string(FRUGAL_TEST_DATA) + "/models/" + name + ".json");
  const auto j = nlohmann::json::parse(jf);
  Reference r;
  r.prompt = j.at("prompt").get<std::vector<int64_t>>();
  std::ifstream lf(std::string(FRUGAL_TEST_DATA) + "/models/" + name + "." + dtype + ".logits.f32",
                   std::ios::binary);
  lf.seekg(0, std::ios::end);
  r.logits.resize(static_cast<size_t>(lf.tellg()) / sizeof(float));
  lf.seekg(0);
  lf.read(reinterpret_cast<char*>(r.logits.data()),
          static_cast<std::streamsize>(r.logits.size() * 4));
  return r;
}

std::shared_ptr<Policy> load(const std::string& name, const std::string& dtype,
                             std::unique_ptr<gguf::File>& file) {
  auto f =
      gguf::File::open(std::string(FRUGAL_TEST_DATA) + "/models/" + name + "." + dtype + ".gguf");
  EXPECT_TRUE(f.ok()) << f.error().message;
  file = std::move(*f);
  auto p = Policy::from_gguf(*file);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return *p;
}

class PolicyVsTransformers : public testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(PolicyVsTransformers, LogitsMatchEveryPosition) {
  const auto [name, dtype] = GetParam();
  std::unique_ptr<gguf::File> file;
  auto policy = load(name, dtype, file);
  ASSERT_TRUE(policy);
  const Reference ref = reference(name, dtype);
  const int64_t n_t = static_cast<int64_t>(ref.prompt.size());
  const int64_t n_v = policy->hparams().n_vocab;
  ASSERT_EQ(static_cast<int64_t>(ref.logits.size()), n_t * n_v);
  torch::NoGradGuard no_grad;
  const torch::Tensor logits =
      policy->forward(torch::tensor(ref.prompt, torch::kInt64).unsqueeze(0))[0];  // [T, V]
  for (int64_t t = 0; t < n_t; ++t) {
    const torch::Tensor want =
        torch::from_blob(const_cast<float*>(ref.logits.data()) + t * n_v, {n_v}, torch::kFloat32);
    // Max abs difference within 1e-3 of the reference row's range, same argmax.
    const double range = (want.max() - want.min()).item<double>();
    const double diff = (logits[t] - want).abs().max().item<double>();
    EXPECT_LE(diff, 1e-3 * range) << "position " << t;
    EXPECT_EQ(logits[t].argmax().item<int64_t>(), want.argmax().item<int64_t>())
        << "position " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, PolicyVsTransformers,
                         testing::Values(std::pair{"tiny-qwen2", "f32"},
                                         std::pair{"tiny-llama", "f32"},
                                         std::pair{"tiny-qwen2", "bf16"},
                                         std::pair{"tiny-llama", "f16"}));

TEST(Policy, NextTokenLogprobsAndGradientsReachEveryWeight) {
  std::unique_ptr<gguf::File> file;
  auto policy = load("tiny-qwen2", "f32", file);
  ASSERT_TRUE(policy);
  const Reference ref = reference("tiny-qwen2", "f32");
  // Two rows; the second is the first shifted, so both are real text.
  std::vector<int64_t> row2(ref.prompt.begin() + 1, ref.prompt.end());
  row2.push_back(ref.prompt[0]);
  const torch::Tensor tokens =
      torch::stack({torch::tensor(ref.prompt, torch::kInt64), torch::tensor(row2, torch::kInt64)});
  const torch::Tensor lp = policy->next_token_logprobs(tokens);  // [2, T-1]
  ASSERT_EQ(lp.size(0), 2);
  ASSERT_EQ(lp.size(1), tokens.size(1) - 1);
  EXPECT_TRUE((lp <= 0).all().item<bool>());
  // Entry t equals log_softmax(forward)[t][token t+1].
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor full = torch::log_softmax(policy->forward(tokens), -1);
    EXPECT_NEAR(lp[1][3].item<double>(), full[1][3][tokens[1][4].item<int64_t>()].item<double>(),
                1e-6);
  }
  lp.sum().backward();
  for (const auto& [name, t] : policy->weights()) {
    ASSERT_TRUE(t.grad().defined()) << name;
    EXPECT_GT(t.grad().abs().sum().item<double>(), 0.0) << name;
  }
}

TEST(Policy, RightPaddingLeavesEarlierLogprobsAlone) {
  std::unique_ptr<gguf::File> file;
  auto policy = load("tiny-llama", "f32", file);
  ASSERT_TRUE(policy);
  const Reference ref = reference("tiny-llama", "f32");
  torch::NoGradGuard no_grad;
  const torch::Tensor a = torch::tensor(ref.prompt, torch::kInt64).unsqueeze(0);
  torch::Tensor b = a.clone();
  b[0].narrow(0, 10, a.size(1) - 10).fill_(0);  // "padding" after position 9
  const torch::Tensor la = policy->next_token_logprobs(a), lb = policy->next_token_logprobs(b);
  EXPECT_TRUE(torch::equal(la.narrow(1, 0, 9), lb.narrow(1, 0, 9)));
}

}  // namespace
}  // namespace frugal::train
