// The model and tokenizer half of the crafted-file corpus (issue 6): one file
// per bug class that GGUF loaders have shipped (llama.cpp / Ollama
// advisories): absurd block, head and context counts, counts of the wrong
// type, vocabularies whose size disagrees with the embedding, malformed byte
// tokens ("<0x-1>"), broken tokenizer arrays. Each file is the tiny
// HF-generated qwen2 model of tests/data/models re-encoded with our
// gguf::Writer with one field made hostile. The reference is the GGUF format
// and llama.cpp's key names and token types; every file must be refused by the
// layer that owns the field with an error naming it, in under 10 ms, holding
// under 1 MiB beyond the parsed file. (The gguf container half is
// tests/gguf_malformed_test.cpp.)
// Our operator new below is malloc and our delete is free, which GCC at -O3
// misreads as a new/free mismatch once it sees both, also inside gtest's
// headers (a false positive): hence before the includes.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

// Peak live heap bytes (malloc_usable_size, so unsized deletes count too).
static std::atomic<int64_t> g_live{0}, g_peak_live{0};
void* operator new(size_t n) {
  if (void* p = std::malloc(n ? n : 1)) {
    const int64_t live = g_live += static_cast<int64_t>(malloc_usable_size(p));
    int64_t peak = g_peak_live.load(std::memory_order_relaxed);
    while (live > peak && !g_peak_live.compare_exchange_weak(peak, live)) {
    }
    return p;
  }
  throw std::bad_alloc();
}
// The nothrow form too (std::stable_sort's buffer uses it): left to the
// sanitizer's allocator, its blocks would reach our delete as a mismatch.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  if (p) g_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  if (p) g_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}

namespace frugal::model {
namespace {

using gguf::Value;
using gguf::ValueType;

// A model file as editable parts: metadata in file order, tensors with data.
struct Spec {
  struct Tensor {
    std::string name;
    gguf::GgmlType type;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  std::vector<std::pair<std::string, Value>> kv;
  std::vector<Tensor> tensors;

  Value* find(const std::string& key) {
    for (auto& [k, v] : kv)
      if (k == key) return &v;
    return nullptr;
  }
  void set(const std::string& key, Value v) {
    if (Value* old = find(key)) {
      *old = std::move(v);
    } else {
      kv.emplace_back(key, std::move(v));
    }
  }
  gguf::Array& array(const std::string& key) { return std::get<gguf::Array>(find(key)->v); }
  Tensor& tensor(const std::string& name) {
    return *std::find_if(tensors.begin(), tensors.end(),
                         [&](const Tensor& t) { return t.name == name; });
  }
};

const Spec& tiny_qwen2() {
  static const Spec spec = [] {
    auto f = gguf::File::open(std::string(FRUGAL_TEST_DATA) + "/models/tiny-qwen2.f32.gguf");
    EXPECT_TRUE(f.ok());
    Spec s;
    for (const auto& [k, v] : (*f)->metadata())
      if (k != "general.alignment") s.kv.emplace_back(k, v);
    for (const auto& t : (*f)->tensors())
      s.tensors.push_back({t.name, t.type, t.shape, {t.data, t.data + t.n_bytes}});
    return s;
  }();
  return spec;
}

std::vector<uint8_t> encode(const Spec& s) {
  gguf::Writer w;
  for (const auto& [k, v] : s.kv) w.set(k, v);
  for (const auto& t : s.tensors) {
    Status st = w.add_tensor(t.name, t.type, t.shape, t.data);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  return w.to_bytes();
}

Value u32(uint64_t v) {
  return gguf::make_uint(ValueType::UINT32, v);
}
Value u64(uint64_t v) {
  return gguf::make_uint(ValueType::UINT64, v);
}

// Gives every token a token_type (Normal) so a case can change one.
gguf::Array& token_types(Spec& s) {
  if (!s.find("tokenizer.ggml.token_type")) {
    std::vector<Value> types(s.array("tokenizer.ggml.tokens").items().size(),
                             gguf::make_int(ValueType::INT32, 1));
    s.set("tokenizer.ggml.token_type", gguf::make_array(ValueType::INT32, std::move(types)));
  }
  return s.array("tokenizer.ggml.token_type");
}

// Token 300 becomes a byte token (type 6) spelled `text`.
std::function<void(Spec&)> byte_token(std::string text) {
  return [text](Spec& s) {
    s.array("tokenizer.ggml.tokens").items()[300] = gguf::make_string(text);
    token_types(s).items()[300] = gguf::make_int(ValueType::INT32, 6);
  };
}

enum class Layer { Model, Tokenizer };

struct Case {
  std::string name;
  std::function<void(Spec&)> edit;
  Layer layer;
  std::string fragment;  // must appear in the error
};

std::vector<Case> cases() {
  const auto kv = [](std::string key, Value v) { return [key, v](Spec& s) { s.set(key, v); }; };
  const std::string p = "qwen2.";
  const uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
  return {
      // Absurd layer counts: out of range, of the wrong type, or in range
      // with nothing behind them.
      {"BlockCountHuge", kv(p + "block_count", u64(uint64_t{1} << 40)), Layer::Model,
       "'qwen2.block_count' = 1099511627776 is out of range [1, 1024]"},
      {"BlockCountU64Max", kv(p + "block_count", u64(kU64Max)), Layer::Model,
       "'qwen2.block_count' = 18446744073709551615 is out of range"},
      {"BlockCountZero", kv(p + "block_count", u32(0)), Layer::Model,
       "'qwen2.block_count' = 0 is out of range"},
      {"BlockCountNegative", kv(p + "block_count", gguf::make_int(ValueType::INT32, -1)),
       Layer::Model, "'qwen2.block_count' must be a non-negative integer"},
      {"BlockCountFloat", kv(p + "block_count", gguf::make_float(ValueType::FLOAT32, 2.0)),
       Layer::Model, "'qwen2.block_count' must be a non-negative integer"},
      {"BlockCountString", kv(p + "block_count", gguf::make_string("2")), Layer::Model,
       "'qwen2.block_count' must be a non-negative integer"},
      {"BlockCountArray", kv(p + "block_count", gguf::make_array(ValueType::UINT32, {u32(2)})),
       Layer::Model, "'qwen2.block_count' is an array"},
      {"BlockCountAtLimitWithoutTensors", kv(p + "block_count", u32(1024)), Layer::Model,
       "missing tensor 'blk.2.attn_norm.weight'"},
      // Head counts.
      {"HeadCountHuge", kv(p + "attention.head_count", u32(1u << 20)), Layer::Model,
       "'qwen2.attention.head_count' = 1048576 is out of range [1, 1024]"},
      {"HeadCountZero", kv(p + "attention.head_count", u32(0)), Layer::Model,
       "'qwen2.attention.head_count' = 0 is out of range"},
      {"HeadCountKvZero", kv(p + "attention.head_count_kv", u32(0)), Layer::Model,
       "'qwen2.attention.head_count_kv' = 0 is out of range"},
      {"HeadCountKvAboveHeadCount", kv(p + "attention.head_count_kv", u32(8)), Layer::Model,
       "'qwen2.attention.head_count_kv' = 8 does not divide head_count 4"},
      {"HeadDimOdd", kv(p + "attention.head_count", u32(64)), Layer::Model,
       "head dimension 1 must be even"},
      {"KeyLengthHuge", kv(p + "attention.key_length", u32(1u << 30)), Layer::Model,
       "'qwen2.attention.key_length' = 1073741824 is out of range"},
      {"HeadsTimesKeyLengthTooLarge", kv(p + "attention.key_length", u32(1u << 19)), Layer::Model,
       "head_count 4 x head_dim 524288 is too large"},
      // Context length.
      {"ContextLengthZero", kv(p + "context_length", u32(0)), Layer::Model,
       "'qwen2.context_length' = 0 is out of range"},
      {"ContextLengthHuge", kv(p + "context_length", u64(uint64_t{1} << 40)), Layer::Model,
       "'qwen2.context_length' = 1099511627776 is out of range [1, 4294967296]"},
      {"ContextLengthU64Max", kv(p + "context_length", u64(kU64Max)), Layer::Model,
       "'qwen2.context_length' = 18446744073709551615 is out of range"},
      // Widths that the tensors do not back.
      {"EmbeddingLengthAboveLimit", kv(p + "embedding_length", u32(1u << 21)), Layer::Model,
       "'qwen2.embedding_length' = 2097152 is out of range [1, 1048576]"},
      {"EmbeddingLengthInRangeButUnbacked", kv(p + "embedding_length", u32(1u << 20)), Layer::Model,
       "'qwen2.rope.dimension_count' = 16 != head_dim 262144"},
      {"FeedForwardInRangeButUnbacked", kv(p + "feed_forward_length", u32(4096)), Layer::Model,
       "tensor 'blk.0.ffn_gate.weight' has shape [64, 192], expected [64, 4096]"},
      {"RmsEpsilonNaN",
       kv(p + "attention.layer_norm_rms_epsilon",
          gguf::make_float(ValueType::FLOAT32, std::numeric_limits<double>::quiet_NaN())),
       Layer::Model, "'qwen2.attention.layer_norm_rms_epsilon' = nan must be finite"},
      {"RopeFreqBaseInf",
       kv(p + "rope.freq_base",
          gguf::make_float(ValueType::FLOAT32, std::numeric_limits<double>::infinity())),
       Layer::Model, "'qwen2.rope.freq_base' = inf must be finite"},
      // Vocabulary against the embedding.
      {"VocabSizeKeyDisagrees", kv(p + "vocab_size", u32(400)), Layer::Model,
       "'qwen2.vocab_size' = 400 but token_embd has 320 rows"},
      {"TokenizerLargerThanEmbedding",
       [](Spec& s) {
         auto& types = token_types(s).items();
         for (int i = 0; i < 10; ++i) types.push_back(gguf::make_int(ValueType::INT32, 1));
         auto& tokens = s.array("tokenizer.ggml.tokens").items();
         for (int i = 0; i < 10; ++i)
           tokens.push_back(gguf::make_string("extra" + std::to_string(i)));
       },
       Layer::Model, "tokenizer.ggml.tokens has 330 entries but token_embd has only 320 rows"},
      {"EmbeddingRowsDisagreeWithVocabSize",
       [](Spec& s) {
         Spec::Tensor& t = s.tensor("token_embd.weight");
         t.shape = {64, 160};
         t.data.resize(64 * 160 * 4);
       },
       Layer::Model, "'qwen2.vocab_size' = 320 but token_embd has 160 rows"},
      {"EmbeddingThreeDimensional",
       [](Spec& s) {
         s.tensor("token_embd.weight").shape = {64, 320, 1};
       },
       Layer::Model, "tensor 'token_embd.weight' has shape [64, 320, 1], expected 2 dimensions"},
      {"OutputRowsDisagree",
       [](Spec& s) {
         Spec::Tensor& t = s.tensor("output.weight");
         t.shape = {64, 160};
         t.data.resize(64 * 160 * 4);
       },
       Layer::Model, "tensor 'output.weight' has shape [64, 160], expected [64, 320]"},
      // Byte tokens spelled the ways that broke lenient parsers.
      {"ByteTokenMinusOne", byte_token("<0x-1>"), Layer::Tokenizer,
       "tokenizer.ggml.tokens[300]: a byte token (token_type 6) must be written <0xHH>"},
      {"ByteTokenNotHex", byte_token("<0xZZ>"), Layer::Tokenizer,
       "tokenizer.ggml.tokens[300]: a byte token"},
      {"ByteTokenThreeDigits", byte_token("<0x100>"), Layer::Tokenizer,
       "tokenizer.ggml.tokens[300]: a byte token"},
      {"ByteTokenNoDigits", byte_token("<0x>"), Layer::Tokenizer,
       "tokenizer.ggml.tokens[300]: a byte token"},
      {"ByteTokenSpaceInside", byte_token("<0x 1>"), Layer::Tokenizer,
       "tokenizer.ggml.tokens[300]: a byte token"},
      {"ByteTokenNoBrackets", byte_token("0x41"), Layer::Tokenizer,
       "tokenizer.ggml.tokens[300]: a byte token"},
      {"ByteTokenEmpty", byte_token(""), Layer::Tokenizer,
       "tokenizer.ggml.tokens[300]: a byte token"},
      // Token types and special ids.
      {"TokenTypeShorterThanTokens", [](Spec& s) { token_types(s).items().pop_back(); },
       Layer::Tokenizer,
       "tokenizer.ggml.token_type: length 319 != tokenizer.ggml.tokens length 320"},
      {"TokenTypeSeven",
       [](Spec& s) { token_types(s).items()[5] = gguf::make_int(ValueType::INT32, 7); },
       Layer::Tokenizer, "tokenizer.ggml.token_type[5]: bad value"},
      {"TokenTypeNegative",
       [](Spec& s) { token_types(s).items()[5] = gguf::make_int(ValueType::INT32, -1); },
       Layer::Tokenizer, "tokenizer.ggml.token_type[5]: bad value"},
      {"TokenTypeNotAnArray", kv("tokenizer.ggml.token_type", u32(1)), Layer::Tokenizer,
       "tokenizer.ggml.token_type: expected an array"},
      {"BosIdAtVocabSize", kv("tokenizer.ggml.bos_token_id", u32(320)), Layer::Tokenizer,
       "tokenizer.ggml.bos_token_id: 320 out of range [0, 320)"},
      {"EosIdU32Max", kv("tokenizer.ggml.eos_token_id", u32(0xFFFFFFFFu)), Layer::Tokenizer,
       "tokenizer.ggml.eos_token_id: 4294967295 out of range [0, 320)"},
      {"PadIdMinusTwo", kv("tokenizer.ggml.padding_token_id", gguf::make_int(ValueType::INT32, -2)),
       Layer::Tokenizer, "tokenizer.ggml.padding_token_id: -2 out of range"},
      {"TokensNotStrings",
       kv("tokenizer.ggml.tokens", gguf::make_array(ValueType::UINT32, {u32(1), u32(2)})),
       Layer::Tokenizer, "tokenizer.ggml.tokens: expected an array of strings"},
      {"TokensNotAnArray", kv("tokenizer.ggml.tokens", gguf::make_string("a")), Layer::Tokenizer,
       "tokenizer.ggml.tokens: expected an array, got string"},
      {"TokensEmpty",
       [](Spec& s) {
         s.set("tokenizer.ggml.tokens", gguf::make_array(ValueType::STRING, {}));
         token_types(s).items().clear();
       },
       Layer::Tokenizer, "tokenizer.ggml.bos_token_id: 315 out of range [0, 0)"},
      {"TokensArrayOfArrays",
       kv("tokenizer.ggml.tokens",
          gguf::make_array(ValueType::ARRAY,
                           {gguf::make_array(ValueType::STRING, {gguf::make_string("a")})})),
       Layer::Tokenizer,
       "tokenizer.ggml.tokens: expected an array of strings, got an array of array"},
      {"MergesNotStrings",
       kv("tokenizer.ggml.merges",
          gguf::make_array(ValueType::INT32, {gguf::make_int(ValueType::INT32, 1)})),
       Layer::Tokenizer, "tokenizer.ggml.merges: expected an array of strings"},
      {"MostByteTokensMissing",
       [](Spec& s) {
         auto& tokens = s.array("tokenizer.ggml.tokens").items();
         for (int i = 0; i < 200; ++i) tokens[i] = gguf::make_string("renamed" + std::to_string(i));
       },
       Layer::Tokenizer, "of 256 byte tokens missing"},
      {"TokenizerModelNotGpt2", kv("tokenizer.ggml.model", gguf::make_string("llama")),
       Layer::Tokenizer, "tokenizer.ggml.model: unsupported model 'llama'"},
      {"TokenizerModelNotString", kv("tokenizer.ggml.model", u32(2)), Layer::Tokenizer,
       "tokenizer.ggml.model: expected a string"},
      {"PreTokenizerUnknown", kv("tokenizer.ggml.pre", gguf::make_string("no-such-pre")),
       Layer::Tokenizer, "tokenizer.ggml.pre"},
      {"AddBosNotBool", kv("tokenizer.ggml.add_bos_token", u32(1)), Layer::Tokenizer,
       "tokenizer.ggml.add_bos_token: expected a bool"},
  };
}

// Loads `file` with the layer under test; returns its error ("" when it loads).
std::string load_error(const gguf::File& file, Layer layer) {
  if (layer == Layer::Model) {
    auto m = load_model(file);
    return m.ok() ? "" : m.error().message;
  }
  auto t = tokenizer::Tokenizer::from_gguf(file);
  return t.ok() ? "" : t.error().message;
}

class Crafted : public testing::TestWithParam<Case> {};

TEST_P(Crafted, IsRefusedNamingTheField) {
  const Case& c = GetParam();
  Spec spec = tiny_qwen2();
  c.edit(spec);
  const std::vector<uint8_t> bytes = encode(spec);
  auto file = gguf::File::from_memory(bytes);
  ASSERT_TRUE(file.ok()) << "the container itself must be valid: " << file.error().message;

  const int64_t base = g_live.load();
  g_peak_live = base;
  const std::string err = load_error(**file, c.layer);
  const int64_t peak_extra = g_peak_live.load() - base;
  ASSERT_FALSE(err.empty()) << "accepted; expected an error containing: " << c.fragment;
  EXPECT_NE(err.find(c.fragment), std::string::npos)
      << "error: " << err << "\nwanted: " << c.fragment;
  EXPECT_LE(peak_extra, int64_t{1} << 20) << err;

  // Fastest of a few runs: work in proportion to a bogus count shows in
  // every run, a busy machine's preemption does not.
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)load_error(**file, c.layer);
    best = std::min(
        best,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  EXPECT_LT(best, 10.0) << err;
}

INSTANTIATE_TEST_SUITE_P(Corpus, Crafted, testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// The unedited re-encoding loads in both layers (so every refusal above is
// the edit's doing).
TEST(CraftedBase, UneditedCopyLoads) {
  const std::vector<uint8_t> bytes = encode(tiny_qwen2());
  auto file = gguf::File::from_memory(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(load_error(**file, Layer::Model), "");
  EXPECT_EQ(load_error(**file, Layer::Tokenizer), "");
}

// Well-formed byte tokens are accepted and stand for their byte (GGUF token
// type 6, "<0xHH>", either case of hex digit).
TEST(CraftedBase, WellFormedByteTokensDecodeToTheirByte) {
  Spec spec = tiny_qwen2();
  byte_token("<0x41>")(spec);
  spec.array("tokenizer.ggml.tokens").items()[301] = gguf::make_string("<0xfe>");
  token_types(spec).items()[301] = gguf::make_int(ValueType::INT32, 6);
  const std::vector<uint8_t> bytes = encode(spec);
  auto file = gguf::File::from_memory(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = tokenizer::Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ((*tok)->token_to_piece(300), "A");
  EXPECT_EQ((*tok)->token_to_piece(301), "\xFE");
  EXPECT_TRUE(load_model(**file).ok());
}

// Fewer tokens than embedding rows is legitimate (Qwen2.5 pads its embedding
// to a multiple of 128): both layers load, and the model still refuses ids
// past its rows at forward time.
TEST(CraftedBase, EmbeddingRowsBeyondTheTokensAreAccepted) {
  Spec spec = tiny_qwen2();
  spec.array("tokenizer.ggml.tokens").items().resize(318);  // bos 315 and eos 317 stay inside
  token_types(spec).items().resize(318);
  const std::vector<uint8_t> bytes = encode(spec);
  auto file = gguf::File::from_memory(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = tokenizer::Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ((*tok)->n_vocab(), 318);
  auto m = load_model(**file);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->hparams().n_vocab, 320);
  ThreadPool pool(1);
  KvCache cache((*m)->hparams(), 8);
  std::vector<float> logits(320);  // [V]
  const std::vector<int32_t> bad = {320};
  EXPECT_FALSE((*m)->forward(bad, cache, logits, false, pool).ok());
  EXPECT_EQ(cache.n_past, 0);
}

TEST(CraftedBase, AtLeast45Cases) {
  EXPECT_GE(cases().size(), 45u);
}

}  // namespace
}  // namespace frugal::model
