// GRPO loss and gradient against TRL's GRPOTrainer._compute_loss (and a
// transcription of the DeepSeekMath formula, which the generator checks TRL
// against): tests/data/train/grpo_golden.json from tools/gen_grpo_golden.py.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "train/grpo.h"

namespace frugal::train {
namespace {

using nlohmann::json;

const json& golden() {
  static const json j = [] {
    std::ifstream f(FRUGAL_TEST_DATA "/train/grpo_golden.json");
    return json::parse(f);
  }();
  return j;
}

torch::Tensor tensor(const json& values, int64_t b, int64_t t) {
  std::vector<double> v = values.get<std::vector<double>>();
  return torch::tensor(v, torch::kFloat64).view({b, t}).clone();
}

GrpoOptions options_of(const json& c) {
  GrpoOptions o;
  o.epsilon_low = c["epsilon_low"];
  o.epsilon_high = c["epsilon_high"];
  o.beta = c["beta"];
  o.max_completion_length = c["max_completion_length"];
  const std::string kind = c["loss_type"];
  o.aggregation = kind == "grpo"      ? LossAggregation::SequenceMean
                  : kind == "dr_grpo" ? LossAggregation::ConstantNorm
                                      : LossAggregation::TokenMean;  // bnpo, dapo
  return o;
}

AdvantageScale scale_of(const std::string& s) {
  return s == "group"   ? AdvantageScale::Group
         : s == "batch" ? AdvantageScale::Batch
                        : AdvantageScale::None;
}

TEST(Grpo, GoldenCasesCoverEveryVariant) {
  ASSERT_GE(golden()["cases"].size(), 7u);
  std::set<std::string> kinds;
  for (const auto& c : golden()["cases"]) kinds.insert(c["loss_type"].get<std::string>());
  EXPECT_EQ(kinds, (std::set<std::string>{"grpo", "bnpo", "dapo", "dr_grpo"}));
}

TEST(Grpo, AdvantagesMatchTrl) {
  for (const auto& c : golden()["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto r = torch::tensor(c["rewards"].get<std::vector<double>>(), torch::kFloat64);
    auto adv = group_advantages(r, c["group_size"], scale_of(c["scale_rewards"]));
    ASSERT_TRUE(adv.ok()) << adv.error().message;
    const auto want = c["advantages"].get<std::vector<double>>();
    ASSERT_EQ(adv->size(0), static_cast<int64_t>(want.size()));
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR((*adv)[static_cast<int64_t>(i)].item<double>(), want[i], 1e-9) << i;
  }
}

TEST(Grpo, LossAndGradientMatchTrl) {
  for (const auto& c : golden()["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const int64_t b = c["batch"], t = c["length"];
    GrpoInputs in;
    in.logp = tensor(c["logp"], b, t).requires_grad_(true);
    in.old_logp = tensor(c["old_logp"], b, t);
    in.ref_logp = tensor(c["ref_logp"], b, t);
    in.mask = tensor(c["mask"], b, t);
    in.advantages = torch::tensor(c["advantages"].get<std::vector<double>>(), torch::kFloat64);
    auto out = grpo_loss(in, options_of(c));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_NEAR(out->loss.item<double>(), c["loss"].get<double>(), 1e-9);
    out->loss.backward();
    const auto want = c["grad"].get<std::vector<double>>();
    const torch::Tensor g = in.logp.grad().reshape({-1});
    ASSERT_EQ(g.size(0), static_cast<int64_t>(want.size()));
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, std::abs(g[static_cast<int64_t>(i)].item<double>() - want[i]));
    EXPECT_LE(worst, 1e-9);
  }
}

TEST(Grpo, Float32LossAgreesWithinTheIssueBound) {
  // Training runs in float32; the issue's bound (1e-5) holds there too.
  for (const auto& c : golden()["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const int64_t b = c["batch"], t = c["length"];
    GrpoInputs in;
    in.logp = tensor(c["logp"], b, t).to(torch::kFloat32).requires_grad_(true);
    in.old_logp = tensor(c["old_logp"], b, t).to(torch::kFloat32);
    in.ref_logp = tensor(c["ref_logp"], b, t).to(torch::kFloat32);
    in.mask = tensor(c["mask"], b, t).to(torch::kFloat32);
    in.advantages = torch::tensor(c["advantages"].get<std::vector<double>>(), torch::kFloat32);
    auto out = grpo_loss(in, options_of(c));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_NEAR(out->loss.item<double>(), c["loss"].get<double>(), 1e-5);
    out->loss.backward();
    const auto want = c["grad"].get<std::vector<double>>();
    const torch::Tensor g = in.logp.grad().reshape({-1}).to(torch::kFloat64);
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(g[static_cast<int64_t>(i)].item<double>(), want[i], 1e-5) << i;
  }
}

TEST(Grpo, OnPolicyFirstStepIsPlainPolicyGradient) {
  // With old == current the ratio is 1, nothing is clipped, and the gradient
  // of SequenceMean w.r.t. logp[i,t] is -A_i / (|o_i| * B).
  const auto logp = torch::log(torch::tensor({0.5, 0.25, 0.125, 0.9, 0.8, 0.7}, torch::kFloat64))
                        .view({2, 3})
                        .requires_grad_(true);
  GrpoInputs in{logp,
                {},
                {},
                torch::tensor({1.5, -0.5}, torch::kFloat64),
                torch::tensor({1.0, 1.0, 0.0, 1.0, 1.0, 1.0}, torch::kFloat64).view({2, 3})};
  auto out = grpo_loss(in, GrpoOptions{});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->clip_fraction, 0.0);
  out->loss.backward();
  const auto g = logp.grad();
  EXPECT_NEAR(g[0][0].item<double>(), -1.5 / (2 * 2), 1e-12);
  EXPECT_NEAR(g[0][2].item<double>(), 0.0, 1e-12);  // padding gets no gradient
  EXPECT_NEAR(g[1][1].item<double>(), 0.5 / (3 * 2), 1e-12);
}

TEST(Grpo, AllEqualRewardsGiveNoSignal) {
  auto adv =
      group_advantages(torch::tensor({0.1, 0.1, 0.1, 1.0, 0.0, 0.0}), 3, AdvantageScale::Group);
  ASSERT_TRUE(adv.ok());
  EXPECT_EQ((*adv)[0].item<double>(), 0.0);
  EXPECT_EQ((*adv)[2].item<double>(), 0.0);
  EXPECT_GT((*adv)[3].item<double>(), 0.0);
}

TEST(Grpo, BadInputIsAnErrorNotACrash) {
  const auto r = torch::zeros({6}, torch::kFloat64);
  EXPECT_FALSE(group_advantages(r, 4, AdvantageScale::Group).ok());  // 6 not a multiple of 4
  EXPECT_FALSE(group_advantages(r, 1, AdvantageScale::Group).ok());  // a group of one
  EXPECT_FALSE(group_advantages(torch::zeros({2, 3}), 3, AdvantageScale::Group).ok());
  EXPECT_FALSE(group_advantages(torch::tensor({1.0, std::numeric_limits<double>::quiet_NaN()}), 2,
                                AdvantageScale::None)
                   .ok());

  GrpoInputs in{torch::zeros({2, 3}, torch::kFloat64),
                {},
                {},
                torch::zeros({2}, torch::kFloat64),
                torch::ones({2, 3}, torch::kFloat64)};
  EXPECT_TRUE(grpo_loss(in, GrpoOptions{}).ok());
  GrpoOptions kl;
  kl.beta = 0.04;
  auto e = grpo_loss(in, kl);  // no reference log-probs
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("ref_logp"), std::string::npos);
  GrpoInputs bad_mask = in;
  bad_mask.mask = torch::ones({2, 4}, torch::kFloat64);
  EXPECT_FALSE(grpo_loss(bad_mask, GrpoOptions{}).ok());
  GrpoInputs bad_adv = in;
  bad_adv.advantages = torch::zeros({3}, torch::kFloat64);
  EXPECT_FALSE(grpo_loss(bad_adv, GrpoOptions{}).ok());
  GrpoOptions eps;
  eps.epsilon_low = 1.5;
  EXPECT_FALSE(grpo_loss(in, eps).ok());
  GrpoOptions norm;
  norm.aggregation = LossAggregation::ConstantNorm;
  EXPECT_FALSE(grpo_loss(in, norm).ok());  // no max_completion_length
}

}  // namespace
}  // namespace frugal::train
