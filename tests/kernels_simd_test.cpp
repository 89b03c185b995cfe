// Compared against: the scalar reference table (kernels/cpu/ref and tensor/'s
// quantizers, which kernels_matmul_test and tensor_quant_test hold to a double
// dot and to ggml's reference C quantizers). For every kernel table this CPU
// runs (available_kernels(); only "ref" on a CPU without AVX2):
// - activation quantizers (Q8_0, Q8_1, Q8_K) produce byte-identical blocks,
//   ties of the rounding included;
// - matmul_with(table) matches matmul_with(ref) for every weight type, n_in
//   256 / 896 / 4864, T = 1, 2, 3, 8, 13, 19, threads 1 and 2, within 1e-5 of
//   sum_i |w_i * a_i| (the integer sums per block are the same; only the order
//   of float accumulation of the scaled block sums differs);
// - a tile of tokens gives bit-identical results to one token at a time, and
//   one token through matmul (multi-row dot_block kernels, 37 rows: full
//   row groups and tails) the bits of the table's single-row dot.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/matmul.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace frugal::kernels {
namespace {

using gguf::GgmlType;

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                           GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                           GgmlType::Q6_K};

bool is_float(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
}

// Byte offsets of the f16 scale fields in one block (layouts: tensor/blocks.h).
std::vector<int> f16_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
      return {0};
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
      return {0, 2};
    case GgmlType::Q2_K:
      return {80, 82};
    case GgmlType::Q3_K:
      return {108};
    case GgmlType::Q6_K:
      return {208};
    default:
      return {};
  }
}

// [n_out, n_in] weights: random floats for float types; random bytes (every
// code value, Q8_0's -128 included) with finite moderate scales otherwise.
std::vector<uint8_t> random_weights(GgmlType t, int64_t n_in, int64_t n_out, std::mt19937& rng) {
  const uint64_t row_bytes = *gguf::row_size(t, n_in);
  std::vector<uint8_t> w(row_bytes * n_out);
  if (is_float(t)) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> f(n_in * n_out);
    for (auto& v : f) v = nd(rng);
    EXPECT_TRUE(tensor::quantize_row(t, f.data(), w.data(), n_in * n_out).ok());
    return w;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
  const uint64_t block = gguf::type_traits(t)->type_size;
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  for (uint64_t blk = 0; blk < w.size() / block; ++blk) {
    for (int off : f16_fields(t)) {
      const uint16_t h = tensor::fp32_to_fp16(scale(rng) * (byte(rng) & 1 ? 1.0f : -1.0f));
      std::memcpy(w.data() + blk * block + off, &h, 2);
    }
  }
  return w;
}

// Activations [T, n] with a spread of magnitudes, some outliers, a zero block
// and blocks whose scaled values land exactly on rounding ties: with the
// block's largest magnitude 127, the Q8_0/Q8_1 scale is 1, and with its
// signed extreme -127 the Q8_K scale is 1, so the k + 0.5 values are ties.
std::vector<float> random_activations(int64_t rows, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_int_distribution<int> half_steps(-253, 253);
  std::vector<float> x(rows * n);
  for (auto& v : x) v = nd(rng) * (rng() % 50 == 0 ? 20.0f : 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x.data() + r * n;
    for (int64_t i = 0; i < 32 && i < n; ++i) row[i] = 0.0f;  // an all-zero Q8_0 block
    if (n >= 512) {
      float* ties = row + 256;  // one whole Q8_K block of ties
      for (int i = 0; i < 256; ++i) ties[i] = 0.5f * static_cast<float>(half_steps(rng));
      ties[3] = -127.0f;
      ties[100] = 127.0f;  // same magnitude later: the first extreme must win
    }
  }
  return x;
}

std::string table_names() {
  std::string s;
  for (const KernelTable* t : available_kernels()) s += std::string(s.empty() ? "" : ", ") + t->isa;
  return s;
}

TEST(KernelsSimd, TablesAndSelection) {
  std::printf("[ kernels ] tables on this CPU: %s; active: %s\n", table_names().c_str(),
              active_kernels().isa);
  const auto tables = available_kernels();
  // scripts/test_arm64.sh names the tables each emulated CPU must give.
  if (const char* want = std::getenv("FRUGAL_EXPECT_TABLES"); want != nullptr) {
    EXPECT_EQ(table_names(), want);
  }
  ASSERT_GE(tables.size(), 1u);
  EXPECT_STREQ(tables[0]->isa, "ref");
  EXPECT_EQ(tables[0], &ref_kernels());
  EXPECT_EQ(find_kernels("ref"), &ref_kernels());
  EXPECT_EQ(find_kernels("no-such-isa"), nullptr);
  EXPECT_FALSE(select_kernels("no-such-isa").ok());
  ASSERT_TRUE(select_kernels("ref").ok());
  EXPECT_EQ(&active_kernels(), &ref_kernels());
  ASSERT_TRUE(select_kernels("auto").ok());
  EXPECT_EQ(&active_kernels(), tables.back());
  for (const KernelTable* t : tables) {
    for (GgmlType w : kTypes) {
      const DotKernel* k = t->find(w);
      ASSERT_NE(k, nullptr) << t->isa << " " << gguf::type_name(w);
      // Every table quantizes activations to the same format as ref.
      EXPECT_EQ(k->act_type, ref_kernels().find(w)->act_type) << t->isa;
    }
  }
}

TEST(KernelsSimd, ActivationQuantizersByteIdentical) {
  std::mt19937 rng(12345);
  const int64_t n = 4864;
  const auto x = random_activations(6, n, rng);
  // Q4_0 -> Q8_0, Q4_1 -> Q8_1, Q4_K -> Q8_K.
  for (GgmlType w : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q4_K}) {
    const DotKernel* ref = ref_kernels().find(w);
    const uint64_t row_bytes = *gguf::row_size(ref->act_type, n);
    std::vector<uint8_t> want(row_bytes), got(row_bytes);
    for (const KernelTable* table : available_kernels()) {
      const DotKernel* k = table->find(w);
      for (int64_t r = 0; r < 6; ++r) {
        std::memset(want.data(), 0xAB, row_bytes);
        std::memset(got.data(), 0xCD, row_bytes);
        ref->quantize_act(x.data() + r * n, want.data(), n);
        k->quantize_act(x.data() + r * n, got.data(), n);
        for (uint64_t b = 0; b < row_bytes; ++b) {
          ASSERT_EQ(want[b], got[b]) << table->isa << " " << gguf::type_name(ref->act_type)
                                     << " row " << r << " byte " << b;
        }
      }
    }
  }
}

class SimdVsRef : public ::testing::TestWithParam<GgmlType> {};

TEST_P(SimdVsRef, MatmulAllShapesTokensThreads) {
  const GgmlType t = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(t) * 104729u + 3u);
  ThreadPool pool1(1), pool2(2);
  const DotKernel* rk = ref_kernels().find(t);
  std::vector<int64_t> sizes = {256, 4864};
  if (gguf::type_traits(t)->block_size == 32 || is_float(t)) sizes.insert(sizes.begin() + 1, 896);
  for (int64_t n_in : sizes) {
    const int64_t n_out = 37;  // not a multiple of matmul's row block
    const auto wbytes = random_weights(t, n_in, n_out, rng);
    const WeightView w{t, wbytes.data(), n_in, n_out, *gguf::row_size(t, n_in)};
    ASSERT_TRUE(check_weight(w).ok());
    std::vector<float> wf(n_in * n_out);  // [n_out, n_in]
    for (int64_t o = 0; o < n_out; ++o) get_row(w, o, wf.data() + o * n_in);
    const int64_t max_tok = 19;  // GEMM calls: 13 = 8 + 5 tokens, 19 = 16, then 3
    const auto x = random_activations(max_tok, n_in, rng);  // [19, n_in]
    // The activations as every table sees them (identical bytes, checked above).
    std::vector<float> xa = x;  // [19, n_in]
    if (rk->quantize_act != nullptr) {
      std::vector<uint8_t> q(*gguf::row_size(rk->act_type, n_in));
      for (int64_t tk = 0; tk < max_tok; ++tk) {
        rk->quantize_act(x.data() + tk * n_in, q.data(), n_in);
        ASSERT_TRUE(
            tensor::dequantize_row(rk->act_type, q.data(), xa.data() + tk * n_in, n_in).ok());
      }
    }
    std::vector<double> mag(max_tok * n_out);  // [19, n_out]: sum |w_i a_i|
    for (int64_t tk = 0; tk < max_tok; ++tk) {
      for (int64_t o = 0; o < n_out; ++o) {
        double m = 0;
        for (int64_t i = 0; i < n_in; ++i)
          m += std::fabs(double{wf[o * n_in + i]} * xa[tk * n_in + i]);
        mag[tk * n_out + o] = m;
      }
    }
    for (const KernelTable* table : available_kernels()) {
      // One token at a time (the decode path) with one thread: the baseline
      // every tiled / threaded call of this table must reproduce bit for bit.
      std::vector<float> single(max_tok * n_out);  // [19, n_out]
      for (int64_t tk = 0; tk < max_tok; ++tk) {
        matmul_with(*table, w, x.data() + tk * n_in, single.data() + tk * n_out, 1, pool1);
      }
      // ... which must itself be the table's plain dot, row by row: the
      // multi-row block kernels (dot_block) may not change a row's bits.
      {
        const DotKernel* k = table->find(t);
        std::vector<uint8_t> xq(x.size() * sizeof(float));  // [19, act row bytes]
        uint64_t arb = n_in * sizeof(float);
        if (k->quantize_act != nullptr) arb = *gguf::row_size(k->act_type, n_in);
        for (int64_t tk = 0; tk < max_tok; ++tk) {
          if (k->quantize_act != nullptr) {
            k->quantize_act(x.data() + tk * n_in, xq.data() + tk * arb, n_in);
          } else {
            std::memcpy(xq.data() + tk * arb, x.data() + tk * n_in, arb);
          }
          for (int64_t o = 0; o < n_out; ++o) {
            const float d = k->dot(wbytes.data() + o * w.row_bytes, xq.data() + tk * arb, n_in);
            ASSERT_EQ(d, single[tk * n_out + o])
                << table->isa << " " << gguf::type_name(t) << " n_in " << n_in << " token " << tk
                << " row " << o << ": matmul vs dot";
          }
        }
      }
      for (int64_t n_tok : {1, 2, 3, 8, 13, 19}) {
        for (ThreadPool* pool : {&pool1, &pool2}) {
          std::vector<float> y(n_tok * n_out, -1.0f), yref(n_tok * n_out, -2.0f);  // [T, n_out]
          matmul_with(*table, w, x.data(), y.data(), n_tok, *pool);
          matmul_with(ref_kernels(), w, x.data(), yref.data(), n_tok, *pool);
          for (int64_t i = 0; i < n_tok * n_out; ++i) {
            const auto where = [&] {
              return std::string(table->isa) + " " + std::string(gguf::type_name(t)) + " n_in " +
                     std::to_string(n_in) + " T " + std::to_string(n_tok) + " threads " +
                     std::to_string(pool->size()) + " token " + std::to_string(i / n_out) +
                     " row " + std::to_string(i % n_out);
            };
            ASSERT_LE(std::fabs(double{y[i]} - yref[i]), 1e-5 * mag[i]) << where();
            ASSERT_EQ(y[i], single[i]) << "tile vs single token: " << where();
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SimdVsRef, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return std::string(gguf::type_name(info.param)); });

}  // namespace
}  // namespace frugal::kernels
