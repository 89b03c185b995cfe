// Sampler steps on tiny distributions, checked against values worked out by
// hand from the definitions (OpenAI penalty semantics, CTRL repetition
// penalty, nucleus/top-k/min-p as in their papers and llama.cpp's docs), plus
// statistical checks of the final draw against the softmax it samples from.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "runtime/sampling.h"

namespace frugal::runtime {
namespace {

namespace s = sampling_steps;

std::vector<Candidate> make(std::vector<float> logits) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({static_cast<int32_t>(i), logits[i], 0});
  return c;
}

std::vector<int32_t> ids(const std::vector<Candidate>& c) {
  std::vector<int32_t> r;
  for (auto& x : c) r.push_back(x.id);
  return r;
}

TEST(SamplingSteps, PenaltiesFollowOpenAIAndCtrl) {
  auto c = make({2.0f, -1.0f, 0.5f, 3.0f});
  const std::vector<int32_t> recent = {0, 0, 1, 3};
  s::apply_penalties(c, recent, 2.0f, 0.5f, 0.25f);
  EXPECT_FLOAT_EQ(c[0].logit, 2.0f / 2.0f - 2 * 0.25f - 0.5f);   // seen twice
  EXPECT_FLOAT_EQ(c[1].logit, -1.0f * 2.0f - 1 * 0.25f - 0.5f);  // negative: multiplied
  EXPECT_FLOAT_EQ(c[2].logit, 0.5f);                             // unseen: untouched
  EXPECT_FLOAT_EQ(c[3].logit, 3.0f / 2.0f - 0.25f - 0.5f);
}

TEST(SamplingSteps, TopKKeepsKLargest) {
  auto c = make({0.1f, 5.0f, 3.0f, 4.0f, -2.0f});
  s::top_k(c, 3);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3, 2}));
  auto all = make({1.0f, 2.0f});
  s::top_k(all, 0);  // off
  EXPECT_EQ(all.size(), 2u);
}

TEST(SamplingSteps, SoftmaxMatchesDefinition) {
  auto c = make({1.0f, 2.0f, 3.0f});
  s::softmax(c);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(c[0].p, std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(c[2].p, std::exp(1.0) / z, 1e-6);
}

TEST(SamplingSteps, TopPKeepsSmallestPrefixReachingMass) {
  // probabilities 0.5, 0.25, 0.125, 0.125 (logits are log-probs)
  auto c = make({std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)});
  auto c1 = c;
  s::top_p(c1, 0.6f);
  EXPECT_EQ(ids(c1), (std::vector<int32_t>{0, 1}));
  auto c2 = c;
  s::top_p(c2, 0.5f);
  EXPECT_EQ(ids(c2), (std::vector<int32_t>{0}));
  auto c3 = c;
  s::top_p(c3, 0.8f);
  EXPECT_EQ(c3.size(), 3u);
}

TEST(SamplingSteps, TopPOnLargeVocabularyGrowsItsHead) {
  // 10000 equal logits: mass 0.95 needs 9500 tokens, beyond the first head.
  std::vector<float> flat(10000, 1.0f);
  auto c = make(flat);
  s::top_p(c, 0.95f);
  EXPECT_NEAR(static_cast<double>(c.size()), 9500.0, 2.0);
}

TEST(SamplingSteps, MinPScalesWithTopProbability) {
  auto c = make({std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)});
  s::min_p(c, 0.5f);  // threshold 0.25
  EXPECT_EQ(ids(c), (std::vector<int32_t>{0, 1}));
}

TEST(SamplingSteps, MinPNeedsNoSortedInput) {
  // probabilities 0.05, 0.5, 0.15, 0.3 in id order: the same set as above is
  // kept, in the order given.
  auto c = make({std::log(0.05f), std::log(0.5f), std::log(0.15f), std::log(0.3f)});
  s::min_p(c, 0.5f);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
}

TEST(SamplingSteps, TemperatureDividesLogits) {
  auto c = make({1.0f, -2.0f});
  s::temperature(c, 0.5f);
  EXPECT_FLOAT_EQ(c[0].logit, 2.0f);
  EXPECT_FLOAT_EQ(c[1].logit, -4.0f);
}

TEST(SamplingSteps, GreedyBreaksTiesByLowestId) {
  auto c = make({1.0f, 3.0f, 3.0f});
  EXPECT_EQ(s::greedy(c), 1);
}

TEST(Sampler, DrawFrequenciesMatchSoftmax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 1.0f;
  p.seed = 42;
  Sampler sampler(p, 3);
  const std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  std::map<int32_t, int> hist;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++hist[sampler.sample(logits)];
  // 5 standard deviations of a binomial at n = 20000 is < 0.018.
  EXPECT_NEAR(hist[0] / double(n), 0.6, 0.018);
  EXPECT_NEAR(hist[1] / double(n), 0.3, 0.018);
  EXPECT_NEAR(hist[2] / double(n), 0.1, 0.018);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferent) {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(float(i));
  auto run = [&](uint64_t seed) {
    SamplingParams p;
    p.temperature = 1.5f;
    p.top_p = 1.0f;
    p.seed = seed;
    Sampler s(p, 50);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(logits));
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Sampler, ZeroTemperatureIsArgmaxAndPenaltiesApply) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.presence_penalty = 2.0f;
  Sampler s(p, 3);
  const std::vector<float> logits = {1.0f, 2.5f, 2.0f};
  EXPECT_EQ(s.sample(logits), 1);
  s.accept(1);
  EXPECT_EQ(s.sample(logits), 2);  // 2.5 - 2 < 2.0
}

TEST(Sampler, TopKOneIsGreedyEvenWhenHot) {
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  p.seed = 3;
  Sampler s(p, 4);
  const std::vector<float> logits = {0.0f, 0.1f, 0.3f, 0.2f};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(logits), 2);
}

TEST(SamplingParams, ValidationNamesTheField) {
  SamplingParams p;
  EXPECT_TRUE(p.validate().ok());
  p.temperature = NAN;
  ASSERT_FALSE(p.validate().ok());
  EXPECT_NE(p.validate().error().message.find("temperature"), std::string::npos);
  p = {};
  p.top_p = 0.0f;
  EXPECT_FALSE(p.validate().ok());
  p = {};
  p.top_k = -1;
  EXPECT_FALSE(p.validate().ok());
  p = {};
  p.frequency_penalty = INFINITY;
  EXPECT_FALSE(p.validate().ok());
  p = {};
  p.repetition_penalty = 0.0f;
  EXPECT_FALSE(p.validate().ok());
}

TEST(SamplingParams, DefaultsAreR1Recommendation) {
  SamplingParams p;
  EXPECT_FLOAT_EQ(p.temperature, 0.6f);
  EXPECT_FLOAT_EQ(p.top_p, 0.95f);
}

}  // namespace
}  // namespace frugal::runtime
