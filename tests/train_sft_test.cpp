// Supervised fine-tuning: the loss is the mean next-token cross-entropy over
// the scored tokens only (prompt tokens and padding never count), it falls
// when the model learns a fixed batch, and the learning rate follows its
// warm-up and cosine schedule.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "train/sft.h"
#include "train/tiny_model.h"

namespace frugal::train {
namespace {

namespace fs = std::filesystem;

// A tiny model file for this process, removed when the process exits (each
// ctest case is its own process: no file per run is left in the temp dir).
struct TinyFile {
  std::string path;
  TinyFile() {
    const fs::path p =
        fs::temp_directory_path() / ("frugal_sft_tiny_" + std::to_string(getpid()) + ".gguf");
    auto image = tiny_model_image(TinyModelShape{"t", 32, 2, 2, 2, 64, 64}, 5);
    std::ofstream o(p, std::ios::binary);
    o.write(reinterpret_cast<const char*>(image->data()),
            static_cast<std::streamsize>(image->size()));
    path = p.string();
  }
  ~TinyFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

const std::string& tiny_file() {
  static const TinyFile file;
  return file.path;
}

TEST(Sft, LossCoversOnlyTheScoredTokens) {
  SftOptions o;
  auto t = SftTrainer::create(tiny_file(), o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::vector<int32_t> seq = {256, 258, '1', '+', '2', 259, 260, '3', 257};
  // Scoring only the last token is -log p(last | the rest).
  const SftExample last{seq, static_cast<int32_t>(seq.size() - 1)};
  auto l = (*t)->loss(std::span(&last, 1));
  ASSERT_TRUE(l.ok());
  torch::NoGradGuard g;
  const torch::Tensor ids =
      torch::tensor(std::vector<int64_t>(seq.begin(), seq.end())).unsqueeze(0);
  const double want = -(*t)->policy().next_token_logprobs(ids)[0][-1].item<double>();
  EXPECT_NEAR(*l, want, 1e-5);
  // Padding a shorter example beside a longer one does not change its loss,
  // and the mean is over tokens, not examples.
  const SftExample whole{seq, 0}, part{{256, 258, '7', 257}, 2};
  auto lw = (*t)->loss(std::span(&whole, 1));
  auto lp = (*t)->loss(std::span(&part, 1));
  const std::vector<SftExample> both = {whole, part};
  auto lb = (*t)->loss(both);
  ASSERT_TRUE(lw.ok() && lp.ok() && lb.ok());
  EXPECT_NEAR(*lb, (*lw * 8 + *lp * 2) / 10, 1e-5);
}

TEST(Sft, LearnsAFixedBatch) {
  SftOptions o;
  o.learning_rate = 1e-2;
  o.warmup_steps = 5;
  o.total_steps = 100;
  auto t = SftTrainer::create(tiny_file(), o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::vector<SftExample> batch = {
      {{256, 258, '1', '+', '2', 259, 260, '3', 257}, 7},
      {{256, 258, '4', '+', '4', 259, 260, '8', 257}, 7},
  };
  auto first = (*t)->loss(batch);
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*t)->step(batch).ok());
  auto last = (*t)->loss(batch);
  ASSERT_TRUE(last.ok());
  EXPECT_GT(*first, 4.0);  // ~ln 264 at random weights
  EXPECT_LT(*last, 0.1);
  EXPECT_EQ((*t)->steps_done(), 100);
}

// bfloat16 products (autocast) give nearly the float32 loss, still learn,
// and leave autocast off when done.
TEST(Sft, Bf16ProductsStayCloseAndLearn) {
  SftOptions o;
  o.learning_rate = 1e-2;
  o.warmup_steps = 5;
  o.total_steps = 100;
  auto f32 = SftTrainer::create(tiny_file(), o);
  o.bf16 = true;
  auto bf16 = SftTrainer::create(tiny_file(), o);
  ASSERT_TRUE(f32.ok() && bf16.ok());
  const std::vector<SftExample> batch = {
      {{256, 258, '1', '+', '2', 259, 260, '3', 257}, 7},
      {{256, 258, '4', '+', '4', 259, 260, '8', 257}, 7},
  };
  auto a = (*f32)->loss(batch), b = (*bf16)->loss(batch);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // the products did run in another precision
  EXPECT_NEAR(*b, *a, 0.02 * *a);
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*bf16)->step(batch).ok());
  auto last = (*bf16)->loss(batch);
  ASSERT_TRUE(last.ok());
  EXPECT_LT(*last, 0.1);
  EXPECT_EQ((*bf16)->policy().weights().begin()->second.scalar_type(), torch::kFloat32);
}

TEST(Sft, LearningRateWarmsUpThenDecays) {
  SftOptions o;
  o.learning_rate = 1e-3;
  o.warmup_steps = 4;
  o.total_steps = 14;
  o.min_lr_ratio = 0.1;
  auto t = SftTrainer::create(tiny_file(), o);
  ASSERT_TRUE(t.ok());
  const std::vector<SftExample> batch = {{{256, 258, '1', 259, 260, '1', 257}, 6}};
  std::vector<double> lr;
  for (int i = 0; i < 16; ++i) {
    lr.push_back((*t)->current_learning_rate());
    ASSERT_TRUE((*t)->step(batch).ok());
  }
  EXPECT_NEAR(lr[0], 1e-3 / 5, 1e-12);
  EXPECT_NEAR(lr[3], 1e-3 * 4 / 5, 1e-12);
  EXPECT_NEAR(lr[4], 1e-3, 1e-12);                      // peak after warm-up
  EXPECT_NEAR(lr[9], 1e-3 * (0.1 + 0.9 * 0.5), 1e-12);  // half way down the cosine
  EXPECT_NEAR(lr[14], 1e-4, 1e-12);                     // floor at total_steps and after
  EXPECT_NEAR(lr[15], 1e-4, 1e-12);
}

TEST(Sft, BadBatchesAreErrorsThatChangeNothing) {
  auto t = SftTrainer::create(tiny_file(), SftOptions{});
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE((*t)->step({}).ok());
  const SftExample bad_id{{256, 9999, 257}, 0}, nothing{{256, 258, 257}, 3},
      too_long{std::vector<int32_t>(65, 'a'), 0};
  EXPECT_FALSE((*t)->step(std::span(&bad_id, 1)).ok());
  EXPECT_FALSE((*t)->step(std::span(&nothing, 1)).ok());
  EXPECT_FALSE((*t)->step(std::span(&too_long, 1)).ok());
  EXPECT_EQ((*t)->steps_done(), 0);
  SftOptions o;
  o.learning_rate = 0;
  EXPECT_FALSE(SftTrainer::create(tiny_file(), o).ok());
  EXPECT_FALSE(SftTrainer::create("/nonexistent.gguf", SftOptions{}).ok());
}

}  // namespace
}  // namespace frugal::train
