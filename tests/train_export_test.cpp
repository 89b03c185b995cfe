// Policy -> GGUF image -> runtime::Engine (in memory): an untouched policy
// gives the engine the same logits as the file it came from, bit for bit; a
// changed weight reaches the engine (its logits follow the policy's own
// forward); quantized export writes the asked type where rows allow it.
#include <gtest/gtest.h>

#include "runtime/engine.h"
#include "tensor/quant.h"
#include "train/export.h"

namespace frugal::train {
namespace {

std::string model_path(const std::string& name) {
  return std::string(FRUGAL_TEST_DATA) + "/models/" + name + ".f32.gguf";
}

const std::vector<int32_t> kPrompt = {1, 17, 42, 5, 99, 3, 64, 8, 120, 33, 7, 250};

// Logits [T, V] of kPrompt from an engine's model.
std::vector<float> engine_logits(const runtime::Engine& e) {
  const auto& hp = e.model().hparams();
  model::KvCache cache(hp, 64);
  std::vector<float> logits(kPrompt.size() * static_cast<size_t>(hp.n_vocab));
  const Status st = e.model().forward(kPrompt, cache, logits, /*all_logits=*/true, e.pool());
  EXPECT_TRUE(st.ok()) << st.error().message;
  return logits;
}

std::unique_ptr<runtime::Engine> engine_from(std::vector<uint8_t> image) {
  runtime::EngineOptions opt;
  opt.model_image = std::make_shared<const std::vector<uint8_t>>(std::move(image));
  opt.n_threads = 1;
  opt.n_ctx = 64;
  auto e = runtime::Engine::load(opt);
  EXPECT_TRUE(e.ok()) << e.error().message;
  return e.ok() ? std::move(*e) : nullptr;
}

class Export : public testing::TestWithParam<const char*> {};

TEST_P(Export, UntouchedPolicyGivesTheFilesLogitsBitForBit) {
  auto file = gguf::File::open(model_path(GetParam()));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto policy = Policy::from_gguf(**file);
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  auto image = export_gguf(**policy, **file);
  ASSERT_TRUE(image.ok()) << image.error().message;
  auto from_image = engine_from(std::move(*image));
  ASSERT_TRUE(from_image);

  runtime::EngineOptions opt;
  opt.model_path = model_path(GetParam());
  opt.n_threads = 1;
  opt.n_ctx = 64;
  auto from_file = runtime::Engine::load(opt);
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(engine_logits(*from_image), engine_logits(**from_file));
  EXPECT_EQ(from_image->file().metadata().size(), (*file)->metadata().size());
}

TEST_P(Export, ChangedWeightsReachTheEngine) {
  auto file = gguf::File::open(model_path(GetParam()));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto policy = Policy::from_gguf(**file);
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  const std::vector<float> before = engine_logits(*engine_from(*export_gguf(**policy, **file)));
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    for (const auto& [name, w] : (*policy)->weights()) w.add_(torch::randn_like(w) * 0.05);
  }
  auto e = engine_from(*export_gguf(**policy, **file));
  ASSERT_TRUE(e);
  const std::vector<float> after = engine_logits(*e);
  EXPECT_NE(after, before);
  torch::NoGradGuard no_grad;
  const torch::Tensor want =
      (*policy)->forward(torch::tensor(std::vector<int64_t>(kPrompt.begin(), kPrompt.end()))
                             .unsqueeze(0))[0];  // [T, V]
  const int64_t n_v = want.size(1);
  for (int64_t t = 0; t < want.size(0); ++t) {
    const torch::Tensor got = torch::from_blob(const_cast<float*>(after.data()) + t * n_v, {n_v});
    const double range = (want[t].max() - want[t].min()).item<double>();
    EXPECT_LE((got - want[t]).abs().max().item<double>(), 1e-3 * range) << "position " << t;
    EXPECT_EQ(got.argmax().item<int64_t>(), want[t].argmax().item<int64_t>()) << "position " << t;
  }
}

TEST_P(Export, Q8_0MatricesWhereRowsAllowF32Elsewhere) {
  auto file = gguf::File::open(model_path(GetParam()));
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto policy = Policy::from_gguf(**file);
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  auto image = export_gguf(**policy, **file, ExportOptions{gguf::GgmlType::Q8_0});
  ASSERT_TRUE(image.ok()) << image.error().message;
  auto e = engine_from(std::move(*image));
  ASSERT_TRUE(e);
  int quantized = 0;
  for (const gguf::TensorInfo& t : e->file().tensors()) {
    const auto it = (*policy)->weights().find(t.name);
    if (it == (*policy)->weights().end()) continue;
    const bool matrix = t.shape.size() == 2 && t.shape[0] % 32 == 0;
    EXPECT_EQ(t.type, matrix ? gguf::GgmlType::Q8_0 : gguf::GgmlType::F32) << t.name;
    quantized += matrix;
    // F32 weights exactly; Q8_0 ones within half a step (amax / 127 of the block).
    const auto n = static_cast<int64_t>(t.n_elements);
    std::vector<float> got(static_cast<size_t>(n));
    ASSERT_TRUE(tensor::dequantize_row(t.type, t.data, got.data(), n).ok());
    const torch::Tensor want = it->second.detach().reshape({-1});
    const torch::Tensor have = torch::from_blob(got.data(), {n});
    if (!matrix) {
      EXPECT_TRUE(torch::equal(have, want)) << t.name;
      continue;
    }
    // The block scale amax / 127 is stored as fp16 (relative error <= 2^-11),
    // which moves the largest reconstructed value by up to 127 * 2^-11 steps.
    const torch::Tensor step = want.reshape({-1, 32}).abs().amax(1, true) / 127.0;
    const torch::Tensor err = (have - want).abs().reshape({-1, 32});
    const double worst = (err / step.clamp_min(1e-30)).max().item<double>();
    EXPECT_LE(worst, 0.5 + 127.0 / 2048.0) << t.name;
  }
  EXPECT_GT(quantized, 0);
  EXPECT_EQ(engine_logits(*e).size(), kPrompt.size() * static_cast<size_t>(e->model().hparams().n_vocab));
}

TEST(Export, RejectsATypeItCannotWrite) {
  auto file = gguf::File::open(model_path("tiny-qwen2"));
  ASSERT_TRUE(file.ok());
  auto policy = Policy::from_gguf(**file);
  ASSERT_TRUE(policy.ok());
  auto image = export_gguf(**policy, **file, ExportOptions{gguf::GgmlType::Q2_K});
  if (tensor::can_quantize(gguf::GgmlType::Q2_K)) GTEST_SKIP() << "Q2_K is writable here";
  ASSERT_FALSE(image.ok());
  EXPECT_NE(image.error().message.find("cannot write"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, Export, testing::Values("tiny-qwen2", "tiny-llama"));

}  // namespace
}  // namespace frugal::train
