// Forward pass of the tiny qwen2 / llama models against Hugging Face
// `transformers` (float32, eager attention): logits at every prompt position
// and a 32-token greedy continuation, as produced by tools/gen_tiny_models.py
// into tests/data/models (versions in the .json files). F16/BF16 variants are
// compared with HF run on the same rounded weights. An F16 KV cache is held to
// the same tolerance, and must hold exactly the F32 cache's first-layer
// entries rounded to half. Decode is bit-identical across thread counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/layers.h"
#include "model/model.h"
#include "tensor/fp16.h"

namespace frugal::model {
namespace {

const std::string kDir = std::string(FRUGAL_TEST_DATA) + "/models/";

struct Golden {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<Model> model;
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  std::vector<float> logits;  // [T, V]
  int64_t n_vocab = 0;
};

Golden load_golden(const std::string& name, const std::string& dtype) {
  Golden g;
  std::ifstream js(kDir + name + ".json");
  EXPECT_TRUE(js.good()) << name;
  const nlohmann::json j = nlohmann::json::parse(js);
  const auto& var = j.at("variants").at(dtype);
  g.prompt = j.at("prompt").get<std::vector<int32_t>>();
  g.greedy = var.at("greedy").get<std::vector<int32_t>>();
  g.n_vocab = j.at("n_vocab").get<int64_t>();
  const auto shape = var.at("logits_shape").get<std::vector<int64_t>>();
  EXPECT_EQ(shape.at(0), static_cast<int64_t>(g.prompt.size()));
  EXPECT_EQ(shape.at(1), g.n_vocab);

  g.logits.resize(static_cast<size_t>(shape[0] * shape[1]));
  std::FILE* f = std::fopen((kDir + var.at("logits").get<std::string>()).c_str(), "rb");
  EXPECT_NE(f, nullptr);
  if (f != nullptr) {
    EXPECT_EQ(std::fread(g.logits.data(), sizeof(float), g.logits.size(), f), g.logits.size());
    std::fclose(f);
  }

  auto file = gguf::File::open(kDir + var.at("gguf").get<std::string>());
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().message);
  if (!file.ok()) return g;
  g.file = std::move(file).value();
  auto model = load_model(*g.file);
  EXPECT_TRUE(model.ok()) << (model.ok() ? "" : model.error().message);
  if (model.ok()) g.model = std::move(model).value();
  return g;
}

int64_t argmax(const float* x, int64_t n) {
  return std::max_element(x, x + n) - x;
}

// Max abs difference within rel_tol (default 1e-3) of the reference row's
// range, same argmax.
void expect_row_matches(const float* got, const float* want, int64_t n, const std::string& where,
                        float rel_tol = 1e-3f) {
  const auto [lo, hi] = std::minmax_element(want, want + n);
  const float tol = rel_tol * (*hi - *lo);
  float max_diff = 0;
  for (int64_t i = 0; i < n; ++i) max_diff = std::max(max_diff, std::abs(got[i] - want[i]));
  EXPECT_LE(max_diff, tol) << where;
  EXPECT_EQ(argmax(got, n), argmax(want, n)) << where;
}

struct Case {
  std::string name;
  std::string dtype;
  int threads;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string n =
      info.param.name + "_" + info.param.dtype + "_t" + std::to_string(info.param.threads);
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

class ForwardTest : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    g_ = load_golden(GetParam().name, GetParam().dtype);
    ASSERT_NE(g_.model, nullptr);
    ASSERT_EQ(g_.model->hparams().n_vocab, g_.n_vocab);
    pool_ = std::make_unique<ThreadPool>(GetParam().threads);
  }
  int64_t T() const { return static_cast<int64_t>(g_.prompt.size()); }
  int64_t V() const { return g_.n_vocab; }

  Golden g_;
  std::unique_ptr<ThreadPool> pool_;
};

TEST_P(ForwardTest, PrefillAllLogitsMatchesHf) {
  KvCache cache(g_.model->hparams(), 64);
  std::vector<float> logits(static_cast<size_t>(T() * V()));  // [T, V]
  Status st = g_.model->forward(g_.prompt, cache, logits, /*all_logits=*/true, *pool_);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(cache.n_past, T());
  for (int64_t t = 0; t < T(); ++t) {
    expect_row_matches(logits.data() + t * V(), g_.logits.data() + t * V(), V(),
                       "position " + std::to_string(t));
  }
}

TEST_P(ForwardTest, TokenByTokenThroughCacheMatchesHf) {
  KvCache cache(g_.model->hparams(), 64);
  std::vector<float> logits(static_cast<size_t>(V()));  // [V]
  for (int64_t t = 0; t < T(); ++t) {
    Status st = g_.model->forward(std::span(g_.prompt).subspan(t, 1), cache, logits, false, *pool_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_EQ(cache.n_past, t + 1);
    expect_row_matches(logits.data(), g_.logits.data() + t * V(), V(),
                       "position " + std::to_string(t));
  }
}

// Batches that attend both within themselves and to earlier cache entries.
TEST_P(ForwardTest, ChunkedPrefillMatchesHf) {
  KvCache cache(g_.model->hparams(), 64);
  const int64_t chunks[] = {5, 1, 7, T() - 13};
  int64_t pos = 0;
  for (int64_t n : chunks) {
    std::vector<float> logits(static_cast<size_t>(n * V()));  // [n, V]
    Status st =
        g_.model->forward(std::span(g_.prompt).subspan(pos, n), cache, logits, true, *pool_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (int64_t t = 0; t < n; ++t) {
      expect_row_matches(logits.data() + t * V(), g_.logits.data() + (pos + t) * V(), V(),
                         "position " + std::to_string(pos + t));
    }
    pos += n;
  }
  EXPECT_EQ(cache.n_past, T());
}

TEST_P(ForwardTest, GreedyContinuationMatchesHf) {
  KvCache cache(g_.model->hparams(), 64);
  std::vector<float> logits(static_cast<size_t>(V()));  // [V]
  Status st = g_.model->forward(g_.prompt, cache, logits, false, *pool_);
  ASSERT_TRUE(st.ok()) << st.error().message;
  std::vector<int32_t> got;
  for (size_t i = 0; i < g_.greedy.size(); ++i) {
    const int32_t next = static_cast<int32_t>(argmax(logits.data(), V()));
    got.push_back(next);
    if (i + 1 == g_.greedy.size()) break;
    st = g_.model->forward(std::span(&next, 1), cache, logits, false, *pool_);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  EXPECT_EQ(got, g_.greedy);
}

// A half-precision KV cache: prefill of part of the prompt, then the rest
// token by token. Storing K and V as halves rounds each entry by up to 2^-11
// of itself, on top of the float arithmetic the 1e-3 tolerance is for; the
// worst row measured here is 1.07e-3 of the range (tiny-llama, F16 weights),
// so these rows get 2e-3. A wrong position, head or stride would miss by a
// sizeable fraction of the range.
TEST_P(ForwardTest, HalfKvCacheMatchesHf) {
  KvCache cache(g_.model->hparams(), 64, KvType::kF16);
  const int64_t T0 = 9;
  std::vector<float> logits(static_cast<size_t>(T0 * V()));  // [T0, V]
  Status st = g_.model->forward(std::span(g_.prompt).first(T0), cache, logits, true, *pool_);
  ASSERT_TRUE(st.ok()) << st.error().message;
  for (int64_t t = 0; t < T(); ++t) {
    if (t >= T0) {
      st = g_.model->forward(std::span(g_.prompt).subspan(t, 1), cache, logits, false, *pool_);
      ASSERT_TRUE(st.ok()) << st.error().message;
    }
    expect_row_matches(logits.data() + (t < T0 ? t * V() : 0), g_.logits.data() + t * V(), V(),
                       "position " + std::to_string(t), 2e-3f);
  }
}

// Layer 0's K and V do not depend on attention, so an F16 cache holds
// exactly the F32 cache's layer-0 entries rounded to half.
TEST_P(ForwardTest, HalfKvCacheHoldsTheRoundedFloatEntries) {
  const auto& hp = g_.model->hparams();
  KvCache f32(hp, 64, KvType::kF32), f16(hp, 64, KvType::kF16);
  std::vector<float> logits(static_cast<size_t>(V()));  // [V]
  for (KvCache* c : {&f32, &f16}) {
    Status st = g_.model->forward(g_.prompt, *c, logits, false, *pool_);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  const auto* h_k = static_cast<const uint16_t*>(f16.k(0));  // [C, Hkv*D]
  const auto* h_v = static_cast<const uint16_t*>(f16.v(0));  // [C, Hkv*D]
  for (int64_t i = 0; i < T() * f32.kv_dim(); ++i) {
    ASSERT_EQ(h_k[i], tensor::fp32_to_fp16(f32.k_f32(0)[i])) << i;
    ASSERT_EQ(h_v[i], tensor::fp32_to_fp16(f32.v_f32(0)[i])) << i;
  }
}

// Continuous batching: three sequences in one forward_batch (a 9-token
// prefill, a 1-token decode step after 6 cached tokens, a 4-token chunk after
// 11; the second on an F16 cache) give each sequence exactly the logits
// forward() gives it alone.
TEST_P(ForwardTest, BatchOfSequencesEqualsEachAloneBitForBit) {
  const auto& hp = g_.model->hparams();
  struct Seq {
    int64_t cached, n;
  };
  const Seq plan[] = {{0, 9}, {6, 1}, {11, 4}};
  std::vector<KvCache> alone, batched;
  for (size_t i = 0; i < 3; ++i) {
    const KvType type = i == 1 ? KvType::kF16 : KvType::kF32;
    alone.emplace_back(hp, 64, type);
    batched.emplace_back(hp, 64, type);
  }
  std::vector<float> scratch(static_cast<size_t>(V()));
  std::vector<std::vector<float>> want(3), got(3, std::vector<float>(static_cast<size_t>(V())));
  std::vector<SeqForward> seqs;
  for (size_t i = 0; i < 3; ++i) {
    const Seq& sq = plan[i];
    for (KvCache* c : {&alone[i], &batched[i]}) {
      if (sq.cached == 0) continue;
      Status st =
          g_.model->forward(std::span(g_.prompt).first(sq.cached), *c, scratch, false, *pool_);
      ASSERT_TRUE(st.ok()) << st.error().message;
    }
    const auto toks = std::span(g_.prompt).subspan(sq.cached, sq.n);
    want[i].resize(static_cast<size_t>(V()));
    Status st = g_.model->forward(toks, alone[i], want[i], false, *pool_);
    ASSERT_TRUE(st.ok()) << st.error().message;
    seqs.push_back(SeqForward{toks, &batched[i], got[i]});
  }
  Status st = g_.model->forward_batch(seqs, *pool_);
  ASSERT_TRUE(st.ok()) << st.error().message;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(batched[i].n_past, plan[i].cached + plan[i].n);
    EXPECT_EQ(0, std::memcmp(want[i].data(), got[i].data(), want[i].size() * sizeof(float)))
        << "sequence " << i;
  }
  // A bad sequence fails the whole batch and leaves every cache as it was.
  const int32_t bad = static_cast<int32_t>(V());
  const std::vector<SeqForward> mixed = {{std::span(g_.prompt).first(2), &batched[0], got[0]},
                                         {std::span(&bad, 1), &batched[1], got[1]}};
  EXPECT_FALSE(g_.model->forward_batch(mixed, *pool_).ok());
  EXPECT_EQ(batched[0].n_past, 9);
  EXPECT_EQ(batched[1].n_past, 7);
}

// Decode after a long prompt gives the same bits on 1, 2 and 3 threads: one
// and two threads run each KV head's queries as one item (the tiny models
// have 2 KV heads); three split every head by positions and columns
// (layers.cpp attend_token_split), with parts whose maxima must be merged.
// F32 and F16 caches.
TEST(ForwardThreads, DecodeAfterLongPromptIsTheSameOnOneTwoAndThreeThreads) {
  set_attention_split_min_positions(1);  // the split at every length
  for (const char* name : {"tiny-qwen2", "tiny-llama"}) {
    for (KvType kv : {KvType::kF32, KvType::kF16}) {
      Golden g = load_golden(name, "F32");
      ASSERT_NE(g.model, nullptr);
      const auto& hp = g.model->hparams();
      std::vector<int32_t> prompt(100);  // positions 0..99: cut into parts at 64
      for (size_t i = 0; i < prompt.size(); ++i)
        prompt[i] = static_cast<int32_t>((i * 37 + 11) % static_cast<size_t>(hp.n_vocab));
      std::vector<std::vector<float>> logits;  // per thread count: [steps, V]
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        KvCache cache(hp, 128, kv);
        std::vector<float> row(static_cast<size_t>(hp.n_vocab));  // [V]
        ASSERT_TRUE(g.model->forward(prompt, cache, row, false, pool).ok());
        std::vector<float> all;
        int32_t tok = 7;
        for (int step = 0; step < 6; ++step) {
          ASSERT_TRUE(g.model->forward(std::span(&tok, 1), cache, row, false, pool).ok());
          all.insert(all.end(), row.begin(), row.end());
          tok = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
        }
        logits.push_back(std::move(all));
      }
      for (size_t i = 1; i < logits.size(); ++i) {
        ASSERT_EQ(logits[0].size(), logits[i].size());
        EXPECT_EQ(0,
                  std::memcmp(logits[0].data(), logits[i].data(), logits[0].size() * sizeof(float)))
            << name << (kv == KvType::kF16 ? " f16" : " f32") << ": " << i + 1 << " threads";
      }
    }
  }
  restore_attention_split_defaults();
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (const char* name : {"tiny-qwen2", "tiny-llama"}) {
    for (const char* dtype : {"F32", "F16", "BF16"}) {
      for (int threads : {1, 2}) out.push_back({name, dtype, threads});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ForwardTest, testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace frugal::model
