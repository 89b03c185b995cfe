// The GRPO loop end to end on the tiny qwen2 model: rollouts through the
// engine on exported weights, rewards, AdamW. It learns a task it can learn
// (the probability mass it puts on even token ids rises when completions are
// rewarded for them); a run resumed from a checkpoint equals the unbroken run
// bit for bit; bad options, prompts and checkpoints are errors that change
// nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "train/grpo_trainer.h"

namespace frugal::train {
namespace {

const std::string kModel = std::string(FRUGAL_TEST_DATA) + "/models/tiny-qwen2.f32.gguf";

const std::vector<std::vector<int32_t>> kPrompts = {
    {120, 56, 51, 58}, {151, 136, 191}, {268, 181, 264, 49, 93}};

// Share of even ids among the sampled tokens (the end token not counted).
double even_share(size_t, const runtime::GenerationResult& r) {
  if (r.tokens.empty()) return 0.0;
  double even = 0;
  for (int32_t id : r.tokens) even += id % 2 == 0;
  return even / static_cast<double>(r.tokens.size());
}

// Mean over the prompts of the next-token probability mass on even ids: what
// the reward asks for, measured exactly (no sampling).
double even_mass(Policy& p) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  for (const auto& prompt : kPrompts) {
    const torch::Tensor x =
        torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end())).unsqueeze(0);
    const torch::Tensor probs = torch::softmax(p.forward(x)[0][-1], -1);  // [V]
    sum += probs.index({torch::indexing::Slice(0, torch::indexing::None, 2)}).sum().item<double>();
  }
  return sum / static_cast<double>(kPrompts.size());
}

std::map<std::string, torch::Tensor> snapshot(Policy& p) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, w] : p.weights()) out[name] = w.detach().clone();
  return out;
}

bool same_weights(const std::map<std::string, torch::Tensor>& a,
                  const std::map<std::string, torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, w] : a)
    if (!b.count(name) || !torch::equal(w, b.at(name))) return false;
  return true;
}

std::string fresh_dir(const std::string& tag) {
  const auto d = std::filesystem::temp_directory_path() /
                 ("frugal-grpo-" + tag + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

TEST(GrpoTrainer, LearnsToPreferWhatTheRewardPays) {
  TrainerOptions o;
  o.group_size = 8;
  o.max_completion_tokens = 12;
  o.learning_rate = 3e-3;
  o.seed = 1;
  auto t = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const double before = even_mass((*t)->policy());
  std::vector<double> rewards;
  for (int s = 0; s < 10; ++s) {
    auto st = (*t)->step(kPrompts, even_share);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ(st->step, s + 1);
    EXPECT_TRUE(std::isfinite(st->loss) && std::isfinite(st->grad_norm));
    EXPECT_GT(st->mean_completion_tokens, 0);
    rewards.push_back(st->mean_reward);
  }
  const double after = even_mass((*t)->policy());
  std::printf("even-id mass %.3f -> %.3f; sampled reward step 1 %.3f, step 10 %.3f\n", before,
              after, rewards.front(), rewards.back());
  EXPECT_GT(after, before + 0.2);
  EXPECT_EQ((*t)->steps_done(), 10);
}

// With bfloat16 products in the update (and μ = 2, so the autocast cache
// must be dropped between updates) training still moves the policy the
// reward's way, and the weights stay float32.
TEST(GrpoTrainer, Bf16UpdatesLearnToo) {
  TrainerOptions o;
  o.group_size = 8;
  o.max_completion_tokens = 12;
  o.learning_rate = 3e-3;
  o.seed = 1;
  o.updates_per_batch = 2;
  o.bf16 = true;
  auto t = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const double before = even_mass((*t)->policy());
  for (int s = 0; s < 10; ++s) {
    auto st = (*t)->step(kPrompts, even_share);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_TRUE(std::isfinite(st->loss) && std::isfinite(st->grad_norm));
  }
  const double after = even_mass((*t)->policy());
  std::printf("bf16: even-id mass %.3f -> %.3f\n", before, after);
  EXPECT_GT(after, before + 0.2);
  EXPECT_EQ((*t)->policy().weights().begin()->second.scalar_type(), torch::kFloat32);
}

TEST(GrpoTrainer, ResumedRunEqualsTheUnbrokenRun) {
  TrainerOptions o;
  o.group_size = 4;
  o.max_completion_tokens = 8;
  o.learning_rate = 1e-2;
  o.loss.beta = 0.04;  // the reference policy's path too
  o.seed = 7;
  auto whole = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  StepStats last;
  for (int s = 0; s < 3; ++s) {
    auto st = (*whole)->step(kPrompts, even_share);
    ASSERT_TRUE(st.ok()) << st.error().message;
    last = *st;
  }

  const std::string dir = fresh_dir("resume");
  {
    auto first = GrpoTrainer::create(kModel, o);
    ASSERT_TRUE(first.ok());
    for (int s = 0; s < 2; ++s) ASSERT_TRUE((*first)->step(kPrompts, even_share).ok());
    const Status saved = (*first)->save_checkpoint(dir);
    ASSERT_TRUE(saved.ok()) << saved.error().message;
  }
  auto resumed = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(resumed.ok());
  const Status loaded = (*resumed)->load_checkpoint(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ((*resumed)->steps_done(), 2);
  auto st = (*resumed)->step(kPrompts, even_share);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(st->step, 3);
  EXPECT_EQ(st->mean_reward, last.mean_reward);
  EXPECT_EQ(st->loss, last.loss);
  EXPECT_GT(st->mean_kl, 0.0);
  EXPECT_TRUE(same_weights(snapshot((*resumed)->policy()), snapshot((*whole)->policy())));
  std::filesystem::remove_all(dir);
}

TEST(GrpoTrainer, LaterUpdatesOfABatchAreClippedAgainstTheSamplingWeights) {
  TrainerOptions o;
  o.group_size = 8;
  o.max_completion_tokens = 12;
  o.learning_rate = 3e-2;  // large steps, so the ratio leaves [0.8, 1.2]
  o.updates_per_batch = 1;
  auto once = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(once.ok());
  auto st1 = (*once)->step(kPrompts, even_share);
  ASSERT_TRUE(st1.ok()) << st1.error().message;
  EXPECT_EQ(st1->clip_fraction, 0.0);  // on-policy: ratio 1
  o.updates_per_batch = 4;
  auto four = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(four.ok());
  auto st4 = (*four)->step(kPrompts, even_share);
  ASSERT_TRUE(st4.ok()) << st4.error().message;
  EXPECT_EQ(st4->mean_reward, st1->mean_reward);  // the same rollouts
  EXPECT_GT(st4->clip_fraction, 0.0);
  EXPECT_GT(even_mass((*four)->policy()), even_mass((*once)->policy()));
}

TEST(GrpoTrainer, BadOptionsAndPromptsAreErrors) {
  TrainerOptions o;
  o.group_size = 1;
  EXPECT_FALSE(GrpoTrainer::create(kModel, o).ok());
  o = {};
  o.temperature = 0;
  EXPECT_FALSE(GrpoTrainer::create(kModel, o).ok());
  o = {};
  o.learning_rate = std::nan("");
  EXPECT_FALSE(GrpoTrainer::create(kModel, o).ok());
  o = {};
  o.updates_per_batch = 0;
  EXPECT_FALSE(GrpoTrainer::create(kModel, o).ok());
  EXPECT_FALSE(GrpoTrainer::create(kModel + ".missing", TrainerOptions{}).ok());

  o = {};
  o.group_size = 2;
  o.max_completion_tokens = 2;
  auto t = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(t.ok());
  const auto before = snapshot((*t)->policy());
  EXPECT_FALSE((*t)->step({}, even_share).ok());
  EXPECT_FALSE((*t)->step(std::vector<std::vector<int32_t>>{{}}, even_share).ok());
  const auto out_of_vocab = (*t)->step(std::vector<std::vector<int32_t>>{{1, 320}}, even_share);
  ASSERT_FALSE(out_of_vocab.ok());
  EXPECT_NE(out_of_vocab.error().message.find("outside [0, 320)"), std::string::npos);
  const auto nan_reward =
      (*t)->step(kPrompts, [](size_t, const runtime::GenerationResult&) { return std::nan(""); });
  EXPECT_FALSE(nan_reward.ok());
  EXPECT_TRUE(same_weights(before, snapshot((*t)->policy())));
  EXPECT_EQ((*t)->steps_done(), 0);
}

TEST(GrpoTrainer, ABrokenCheckpointChangesNothing) {
  TrainerOptions o;
  o.group_size = 2;
  o.max_completion_tokens = 4;
  o.learning_rate = 1e-2;
  auto t = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->step(kPrompts, even_share).ok());
  const std::string dir = fresh_dir("broken");
  ASSERT_TRUE((*t)->save_checkpoint(dir).ok());

  auto other = GrpoTrainer::create(kModel, o);
  ASSERT_TRUE(other.ok());
  const auto before = snapshot((*other)->policy());
  EXPECT_FALSE((*other)->load_checkpoint(dir + "/nope").ok());
  // optimizer.pt cut in half: the policy it loaded first is put back.
  const auto opt_path = std::filesystem::path(dir) / "optimizer.pt";
  std::filesystem::resize_file(opt_path, std::filesystem::file_size(opt_path) / 2);
  const Status st = (*other)->load_checkpoint(dir);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cannot restore"), std::string::npos) << st.error().message;
  EXPECT_TRUE(same_weights(before, snapshot((*other)->policy())));
  EXPECT_EQ((*other)->steps_done(), 0);
  // state.json that is not ours.
  std::ofstream(std::filesystem::path(dir) / "state.json") << "{\"step\": \"x\"}";
  EXPECT_FALSE((*other)->load_checkpoint(dir).ok());
  EXPECT_FALSE((*t)->save_checkpoint(dir + "/missing-dir").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace frugal::train
