// The tiny model the R1 pipeline starts from is a GGUF the engine runs in the
// R1 distills' format: special tokens are single ids, the chat template is
// detected as deepseek-r1 and opens <think>, and the trainer's policy built
// from it has the parameter count the shape promises.
#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "runtime/engine.h"
#include "train/policy.h"
#include "train/tiny_model.h"

namespace frugal::train {
namespace {

TEST(TinyModel, EngineRunsItInTheR1Format) {
  TinyModelShape s;
  auto image = tiny_model_image(s, 1);
  ASSERT_TRUE(image.ok()) << image.error().message;
  runtime::EngineOptions eo;
  eo.model_image = std::make_shared<const std::vector<uint8_t>>(*image);
  eo.n_threads = 1;
  auto e = runtime::Engine::load(eo);
  ASSERT_TRUE(e.ok()) << e.error().message;
  const auto& tok = (*e)->tokenizer();
  EXPECT_EQ((*e)->model().hparams().n_vocab, kTinyVocabSize);
  EXPECT_EQ(tok.encode("<think></think><answer></answer>", true),
            (std::vector<int32_t>{260, 261, 262, 263}));
  EXPECT_EQ(tok.encode("47+3\n", true), (std::vector<int32_t>{'4', '7', '+', '3', '\n'}));
  EXPECT_TRUE((*e)->chat_template().prompt_opens_reasoning());
  auto ids = (*e)->chat_prompt(std::vector<chat::Message>{{"user", "12+5"}});
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<int32_t>{256, 258, '1', '2', '+', '5', 259, 260, '\n'}));

  runtime::Session session(**e);
  runtime::GenerateRequest req;
  req.prompt = *ids;
  req.max_tokens = 8;
  req.sampling.temperature = 0;
  auto r = session.generate(req, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->tokens.size(), 0u);
}

TEST(TinyModel, PolicyHasTheParametersOfTheShape) {
  for (TinyModelShape s : {TinyModelShape{}, TinyModelShape{"s", 48, 3, 4, 2, 128, 64}}) {
    auto image = tiny_model_image(s, 2);
    ASSERT_TRUE(image.ok()) << image.error().message;
    auto f = gguf::File::from_memory(*image);
    ASSERT_TRUE(f.ok()) << f.error().message;
    auto p = Policy::from_gguf(**f);
    ASSERT_TRUE(p.ok()) << p.error().message;
    int64_t n = 0;
    for (const auto& [name, w] : (*p)->weights()) n += w.numel();
    EXPECT_EQ(n, tiny_model_parameters(s));
    // The same seed gives the same weights; another seed others.
    auto again = tiny_model_image(s, 2), other = tiny_model_image(s, 3);
    EXPECT_EQ(*again, *image);
    EXPECT_NE(*other, *image);
  }
}

TEST(TinyModel, RejectsShapesTheEngineCannotRun) {
  EXPECT_FALSE(tiny_model_image({"x", 0, 1, 1, 1, 8, 16}, 0).ok());
  EXPECT_FALSE(tiny_model_image({"x", 30, 1, 4, 4, 8, 16}, 0).ok());  // 30 / 4 heads
  EXPECT_FALSE(tiny_model_image({"x", 12, 1, 4, 3, 8, 16}, 0).ok());  // 4 / 3 kv heads
  EXPECT_FALSE(tiny_model_image({"x", 12, 1, 4, 4, 8, 16}, 0).ok());  // head size 3
}

}  // namespace
}  // namespace frugal::train
