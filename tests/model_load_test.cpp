// Validation of model files and forward() arguments. The reference is the
// GGUF format and llama.cpp's naming (tensor shapes implied by the `<arch>.*`
// metadata): files crafted from the tiny HF-generated models in tests/data/models
// (tools/gen_tiny_models.py) with one field broken must be refused with an
// error naming that field; bad token ids and a full cache must be errors that
// leave the cache untouched. With FRUGAL_MODEL_CACHE set, the real SmolLM2 and
// Qwen2.5-Coder files must load and give finite logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"

namespace frugal::model {
namespace {

const std::string kDir = std::string(FRUGAL_TEST_DATA) + "/models/";

std::unique_ptr<gguf::File> open_or_die(const std::string& path) {
  auto f = gguf::File::open(path);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? std::move(f).value() : nullptr;
}

// Re-encodes `src` with its metadata and tensors passed through `edit_kv` and
// `edit_tensor` (which may change a value, or drop an entry by returning false).
struct Crafted {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::File> file;
};
using KvEdit = std::function<bool(const std::string&, gguf::Value&)>;
using TensorEdit = std::function<bool(const std::string&, gguf::GgmlType&, std::vector<uint64_t>&,
                                      std::vector<uint8_t>&)>;

Crafted craft(const gguf::File& src, const KvEdit& edit_kv, const TensorEdit& edit_tensor) {
  gguf::Writer w;
  for (const auto& [key, value] : src.metadata()) {
    gguf::Value v = value;
    if (key == "general.alignment") continue;
    if (!edit_kv || edit_kv(key, v)) w.set(key, std::move(v));
  }
  for (const gguf::TensorInfo& t : src.tensors()) {
    gguf::GgmlType type = t.type;
    std::vector<uint64_t> shape = t.shape;
    std::vector<uint8_t> data(t.data, t.data + t.n_bytes);
    if (edit_tensor && !edit_tensor(t.name, type, shape, data)) continue;
    Status st = w.add_tensor(t.name, type, shape, data);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  }
  Crafted c;
  c.bytes = w.to_bytes();
  auto f = gguf::File::from_memory(c.bytes);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  if (f.ok()) c.file = std::move(f).value();
  return c;
}

// Loading `c` must fail with a message that contains `needle`.
void expect_load_error(const Crafted& c, const std::string& needle) {
  ASSERT_NE(c.file, nullptr);
  auto m = load_model(*c.file);
  ASSERT_FALSE(m.ok()) << "expected an error mentioning '" << needle << "'";
  EXPECT_NE(m.error().message.find(needle), std::string::npos) << m.error().message;
}

class CraftedFileTest : public testing::Test {
 protected:
  void SetUp() override {
    qwen_ = open_or_die(kDir + "tiny-qwen2.f32.gguf");
    llama_ = open_or_die(kDir + "tiny-llama.f32.gguf");
    ASSERT_NE(qwen_, nullptr);
    ASSERT_NE(llama_, nullptr);
  }
  std::unique_ptr<gguf::File> qwen_, llama_;
};

TEST_F(CraftedFileTest, UnchangedCopyLoads) {
  Crafted c = craft(*qwen_, nullptr, nullptr);
  ASSERT_NE(c.file, nullptr);
  auto m = load_model(*c.file);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->hparams().n_vocab, 320);
  EXPECT_EQ((*m)->hparams().head_dim, 16);
  EXPECT_FALSE((*m)->hparams().tied_output);
  auto l = load_model(*llama_);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_TRUE((*l)->hparams().tied_output);
}

TEST_F(CraftedFileTest, UnknownArchitecture) {
  Crafted c = craft(
      *qwen_,
      [](const std::string& k, gguf::Value& v) {
        if (k == "general.architecture") v = gguf::make_string("gpt-j");
        return true;
      },
      nullptr);
  expect_load_error(c, "unsupported architecture 'gpt-j'");
  EXPECT_EQ(supported_architectures(), (std::vector<std::string>{"llama", "qwen2"}));
}

TEST_F(CraftedFileTest, MissingKey) {
  Crafted c = craft(
      *qwen_, [](const std::string& k, gguf::Value&) { return k != "qwen2.block_count"; }, nullptr);
  expect_load_error(c, "qwen2.block_count");
}

TEST_F(CraftedFileTest, HeadCountNotDividingEmbedding) {
  Crafted c = craft(
      *qwen_,
      [](const std::string& k, gguf::Value& v) {
        if (k == "qwen2.attention.head_count") v = gguf::make_uint(gguf::ValueType::UINT32, 3);
        return true;
      },
      nullptr);
  expect_load_error(c, "head_count");
}

TEST_F(CraftedFileTest, KvHeadsNotDividingHeads) {
  Crafted c = craft(
      *qwen_,
      [](const std::string& k, gguf::Value& v) {
        if (k == "qwen2.attention.head_count_kv") v = gguf::make_uint(gguf::ValueType::UINT32, 3);
        return true;
      },
      nullptr);
  expect_load_error(c, "head_count_kv");
}

TEST_F(CraftedFileTest, ZeroAndHugeCounts) {
  expect_load_error(craft(
                        *qwen_,
                        [](const std::string& k, gguf::Value& v) {
                          if (k == "qwen2.embedding_length")
                            v = gguf::make_uint(gguf::ValueType::UINT32, 0);
                          return true;
                        },
                        nullptr),
                    "embedding_length");
  expect_load_error(craft(
                        *qwen_,
                        [](const std::string& k, gguf::Value& v) {
                          if (k == "qwen2.feed_forward_length")
                            v = gguf::make_uint(gguf::ValueType::UINT64, 1ull << 40);
                          return true;
                        },
                        nullptr),
                    "feed_forward_length");
  expect_load_error(craft(
                        *qwen_,
                        [](const std::string& k, gguf::Value& v) {
                          if (k == "qwen2.attention.layer_norm_rms_epsilon")
                            v = gguf::make_float(gguf::ValueType::FLOAT32, -1);
                          return true;
                        },
                        nullptr),
                    "layer_norm_rms_epsilon");
}

TEST_F(CraftedFileTest, VocabSizeDisagreesWithEmbedding) {
  Crafted c = craft(
      *qwen_,
      [](const std::string& k, gguf::Value& v) {
        if (k == "qwen2.vocab_size") v = gguf::make_uint(gguf::ValueType::UINT32, 400);
        return true;
      },
      nullptr);
  expect_load_error(c, "vocab_size");
}

// A tensor whose shape disagrees with the metadata (here a K projection for 1
// KV head while the file says 2) would be read past its end if trusted.
TEST_F(CraftedFileTest, TensorShapeMismatch) {
  Crafted c = craft(*qwen_, nullptr,
                    [](const std::string& name, gguf::GgmlType&, std::vector<uint64_t>& shape,
                       std::vector<uint8_t>& data) {
                      if (name == "blk.1.attn_k.weight") {
                        shape = {64, 16};
                        data.resize(64 * 16 * 4);
                      }
                      return true;
                    });
  expect_load_error(c, "blk.1.attn_k.weight");
}

TEST_F(CraftedFileTest, MissingTensorAndBias) {
  expect_load_error(craft(*qwen_, nullptr,
                          [](const std::string& name, auto&, auto&, auto&) {
                            return name != "blk.0.ffn_down.weight";
                          }),
                    "blk.0.ffn_down.weight");
  // qwen2 requires its QKV biases.
  expect_load_error(craft(*qwen_, nullptr,
                          [](const std::string& name, auto&, auto&, auto&) {
                            return name != "blk.1.attn_v.bias";
                          }),
                    "blk.1.attn_v.bias");
}

TEST_F(CraftedFileTest, RopeFreqsWrongLength) {
  Crafted c = craft(*llama_, nullptr,
                    [](const std::string& name, gguf::GgmlType&, std::vector<uint64_t>& shape,
                       std::vector<uint8_t>& data) {
                      if (name == "rope_freqs.weight") {
                        shape = {4};
                        data.resize(16);
                      }
                      return true;
                    });
  expect_load_error(c, "rope_freqs.weight");
}

TEST(ForwardArgsTest, BadTokenIdLeavesCacheUnchanged) {
  auto file = open_or_die(kDir + "tiny-llama.f32.gguf");
  ASSERT_NE(file, nullptr);
  auto m = load_model(*file);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Model& model = **m;
  const int64_t V = model.hparams().n_vocab;
  ThreadPool pool(1);
  KvCache cache(model.hparams(), 8);
  std::vector<float> logits(static_cast<size_t>(4 * V));  // [T, V]
  const std::vector<int32_t> first = {1, 2};
  ASSERT_TRUE(model.forward(first, cache, logits, false, pool).ok());
  const std::vector<float> k_before(cache.k_f32(0),
                                    cache.k_f32(0) + 8 * cache.kv_dim());  // [C, Hkv*D]
  const std::vector<float> v_before(cache.v_f32(1),
                                    cache.v_f32(1) + 8 * cache.kv_dim());  // [C, Hkv*D]

  for (int32_t bad : {static_cast<int32_t>(V), -1, 1 << 30}) {
    const std::vector<int32_t> tokens = {3, bad, 4};
    Status st = model.forward(tokens, cache, logits, true, pool);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("token id"), std::string::npos) << st.error().message;
    EXPECT_EQ(cache.n_past, 2);
    EXPECT_EQ(std::vector<float>(cache.k_f32(0), cache.k_f32(0) + 8 * cache.kv_dim()), k_before);
    EXPECT_EQ(std::vector<float>(cache.v_f32(1), cache.v_f32(1) + 8 * cache.kv_dim()), v_before);
  }
}

TEST(ForwardArgsTest, FullCacheAndShortBuffers) {
  auto file = open_or_die(kDir + "tiny-qwen2.f32.gguf");
  ASSERT_NE(file, nullptr);
  auto m = load_model(*file);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Model& model = **m;
  const int64_t V = model.hparams().n_vocab;
  ThreadPool pool(2);
  KvCache cache(model.hparams(), 4);
  std::vector<float> logits(static_cast<size_t>(4 * V));  // [T, V]
  const std::vector<int32_t> three = {5, 6, 7}, two = {8, 9}, one = {10};
  ASSERT_TRUE(model.forward(three, cache, logits, true, pool).ok());
  Status st = model.forward(two, cache, logits, true, pool);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("cache full"), std::string::npos) << st.error().message;
  EXPECT_EQ(cache.n_past, 3);
  ASSERT_TRUE(model.forward(one, cache, logits, false, pool).ok());  // fills the last slot
  EXPECT_EQ(cache.n_past, 4);
  EXPECT_FALSE(model.forward(one, cache, logits, false, pool).ok());
  EXPECT_EQ(cache.n_past, 4);

  KvCache fresh(model.hparams(), 4);
  std::vector<float> small(static_cast<size_t>(V));  // [V]: too small for all logits of 3
  EXPECT_FALSE(model.forward(three, fresh, small, true, pool).ok());
  EXPECT_FALSE(model.forward(std::span<const int32_t>(), fresh, small, false, pool).ok());
  EXPECT_EQ(fresh.n_past, 0);

  // A capacity whose byte size overflows gives an empty cache, not UB.
  KvCache huge(model.hparams(), int64_t{1} << 62);
  EXPECT_EQ(huge.capacity(), 0);
  EXPECT_FALSE(model.forward(one, huge, small, false, pool).ok());

  // A cache shaped for another model is refused.
  HParams other = model.hparams();
  other.n_layer += 1;
  KvCache wrong(other, 4);
  EXPECT_FALSE(model.forward(one, wrong, small, false, pool).ok());
}

// Real files from the project's package cache (not in git).
TEST(RealModelTest, LoadAndRunShortSequence) {
  const char* dir = std::getenv("FRUGAL_MODEL_CACHE");
  if (dir == nullptr) GTEST_SKIP() << "FRUGAL_MODEL_CACHE not set; real-model check skipped";
  int ran = 0;
  for (const char* name :
       {"SmolLM2-135M-Instruct.Q4_1.gguf", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (!std::filesystem::exists(path)) continue;
    SCOPED_TRACE(name);
    auto file = open_or_die(path);
    ASSERT_NE(file, nullptr);
    auto m = load_model(*file);
    ASSERT_TRUE(m.ok()) << m.error().message;
    const Model& model = **m;
    const int64_t V = model.hparams().n_vocab;
    ThreadPool pool(2);
    KvCache cache(model.hparams(), 16);
    const std::vector<int32_t> tokens = {1, 1000, 30};
    std::vector<float> logits(static_cast<size_t>(V));  // [V]
    Status st = model.forward(tokens, cache, logits, false, pool);
    ASSERT_TRUE(st.ok()) << st.error().message;
    float lo = logits[0], hi = logits[0];
    for (float x : logits) {
      ASSERT_TRUE(std::isfinite(x));
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    EXPECT_GT(hi - lo, 1.0f);  // not a constant vector
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "no real model files in FRUGAL_MODEL_CACHE";
}

}  // namespace
}  // namespace frugal::model
