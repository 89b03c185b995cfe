// Compared against: a double-precision dot of the weights dequantized by
// tensor/ (itself checked bit-exact against gguf-py in tensor_quant_test) with
// the activations as the kernel sees them (quantized to the partner format and
// dequantized again), for every weight type and every kernel table this CPU
// can run. Tolerance: 1e-5 of sum |w_i * a_i| (float rounding of per-block
// scales and of the block sums), far below any quantization error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/packed_q4_k.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace frugal::kernels {
namespace {

using gguf::GgmlType;

// Byte offsets of f16 scale fields per block (random bytes elsewhere).
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

// Random weights [n_out, n_in]: floats for F32/F16/BF16, random blocks with
// moderate finite scales for the quantized types (covers every code value).
std::vector<uint8_t> random_weights(GgmlType t, int64_t n_in, int64_t n_out, std::mt19937& rng) {
  const uint64_t row_bytes = *gguf::row_size(t, n_in);
  std::vector<uint8_t> w(row_bytes * n_out);
  if (t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> f(n_in * n_out);
    for (auto& v : f) v = nd(rng);
    EXPECT_TRUE(tensor::quantize_row(t, f.data(), w.data(), n_in * n_out).ok());
    return w;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : w) b = static_cast<uint8_t>(byte(rng));
  const auto tr = *gguf::type_traits(t);
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  for (uint64_t blk = 0; blk < w.size() / tr.type_size; ++blk) {
    for (int off : f16_fields(t)) {
      const float s = scale(rng) * (byte(rng) & 1 ? 1.0f : -1.0f);
      const uint16_t h = tensor::fp32_to_fp16(s);
      std::memcpy(w.data() + blk * tr.type_size + off, &h, 2);
    }
  }
  return w;
}

class MatmulVsReference : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatmulVsReference, AllTablesShapesThreads) {
  const GgmlType t = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(t) * 7919u + 1u);
  for (const KernelTable* table : available_kernels()) {
    const DotKernel* k = table->find(t);
    ASSERT_NE(k, nullptr) << table->isa << " " << gguf::type_name(t);
    for (int64_t n_in : {256, 768}) {
      std::uniform_int_distribution<int64_t> n_out_dist(1, 37);
      const int64_t n_out = n_out_dist(rng);
      const auto wbytes = random_weights(t, n_in, n_out, rng);
      const WeightView w{t, wbytes.data(), n_in, n_out, *gguf::row_size(t, n_in)};
      ASSERT_TRUE(check_weight(w).ok());
      std::vector<float> wf(n_in * n_out);  // [n_out, n_in]
      for (int64_t o = 0; o < n_out; ++o) {
        get_row(w, o, wf.data() + o * n_in);
        std::vector<float> direct(n_in);
        ASSERT_TRUE(
            tensor::dequantize_row(t, wbytes.data() + o * w.row_bytes, direct.data(), n_in).ok());
        ASSERT_EQ(0, std::memcmp(direct.data(), wf.data() + o * n_in, n_in * 4)) << "get_row " << o;
      }
      for (int64_t n_tok : {1, 7}) {
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> x(n_tok * n_in);  // [T, n_in]
        for (auto& v : x) v = nd(rng);
        // The activations as the kernel sees them, and the Q8_1 sums it uses.
        std::vector<float> xa = x;  // [T, n_in]
        std::vector<float> s_q81;   // [T, n_in / 32]
        if (k->quantize_act) {
          const uint64_t arb = *gguf::row_size(k->act_type, n_in);
          std::vector<uint8_t> q(arb);
          for (int64_t tk = 0; tk < n_tok; ++tk) {
            k->quantize_act(x.data() + tk * n_in, q.data(), n_in);
            ASSERT_TRUE(
                tensor::dequantize_row(k->act_type, q.data(), xa.data() + tk * n_in, n_in).ok());
            if (k->act_type == GgmlType::Q8_1) {
              for (int64_t b = 0; b < n_in / 32; ++b) {
                tensor::BlockQ8_1 blk;
                std::memcpy(&blk, q.data() + b * sizeof(blk), sizeof(blk));
                s_q81.push_back(tensor::fp16_to_fp32(blk.s));
              }
            }
          }
        }
        for (int threads : {1, 3}) {
          ThreadPool pool(threads);
          std::vector<float> y(n_tok * n_out, -1.0f);  // [T, n_out]
          matmul_with(*table, w, x.data(), y.data(), n_tok, pool);
          for (int64_t tk = 0; tk < n_tok; ++tk) {
            for (int64_t o = 0; o < n_out; ++o) {
              const float* wr = wf.data() + o * n_in;
              const float* ar = xa.data() + tk * n_in;
              double ref = 0, mag = 0;
              for (int64_t i = 0; i < n_in; ++i) {
                ref += double{wr[i]} * ar[i];
                mag += std::fabs(double{wr[i]} * ar[i]);
              }
              if (k->act_type == GgmlType::Q8_1) {
                // The min term uses the block's stored f16 sum s (llama.cpp's
                // numerics), not the sum of the dequantized activations.
                ref = 0;
                for (int64_t b = 0; b < n_in / 32; ++b) {
                  uint16_t mh;
                  std::memcpy(
                      &mh,
                      wbytes.data() + o * w.row_bytes + b * gguf::type_traits(t)->type_size + 2, 2);
                  const double m = tensor::fp16_to_fp32(mh);
                  for (int j = 0; j < 32; ++j) ref += (wr[b * 32 + j] - m) * ar[b * 32 + j];
                  ref += m * s_q81[tk * (n_in / 32) + b];
                  mag += std::fabs(m * s_q81[tk * (n_in / 32) + b]);
                }
              }
              ASSERT_NEAR(y[tk * n_out + o], ref, 1e-5 * mag + 1e-6)
                  << table->isa << " " << gguf::type_name(t) << " n_in=" << n_in << " T=" << n_tok
                  << " threads=" << threads << " t=" << tk << " o=" << o;
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulVsReference,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::BF16,
                                           GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                                           GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,
                                           GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                                           GgmlType::Q6_K),
                         [](const auto& info) { return std::string(gguf::type_name(info.param)); });

// Output must not depend on the thread count or on how many tokens share a call.
TEST(Matmul, DeterministicAcrossThreadsAndBatching) {
  std::mt19937 rng(5);
  const int64_t n_in = 512, n_out = 29, n_tok = 5;
  const auto wb = random_weights(GgmlType::Q4_K, n_in, n_out, rng);
  const WeightView w{GgmlType::Q4_K, wb.data(), n_in, n_out, *gguf::row_size(GgmlType::Q4_K, n_in)};
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(n_tok * n_in);
  for (auto& v : x) v = nd(rng);
  ThreadPool p1(1), p3(3);
  std::vector<float> a(n_tok * n_out), b(n_tok * n_out);
  matmul(w, x.data(), a.data(), n_tok, p1);
  matmul(w, x.data(), b.data(), n_tok, p3);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4));
  for (int64_t tk = 0; tk < n_tok; ++tk) {
    std::vector<float> one(n_out);
    matmul(w, x.data() + tk * n_in, one.data(), 1, p3);
    EXPECT_EQ(0, std::memcmp(one.data(), a.data() + tk * n_out, n_out * 4)) << tk;
  }
}

// Several weights of one input (mixed types, so mixed activation formats,
// and row counts off the 8-row blocks) give each output the bits matmul()
// gives it alone, at decode (one region split by bytes) and prefill, on every
// table and thread count.
TEST(Matmul, ManyWeightsMatchOneAtATime) {
  std::mt19937 rng(11);
  const int64_t n_in = 512;
  struct Spec {
    GgmlType type;
    int64_t n_out;
  };
  const Spec specs[] = {{GgmlType::Q4_K, 45}, {GgmlType::Q6_K, 8}, {GgmlType::Q8_0, 1},
                        {GgmlType::Q4_K, 3},  {GgmlType::F16, 17}, {GgmlType::Q4_1, 24}};
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<WeightView> ws;
  for (const Spec& sp : specs) {
    bytes.push_back(random_weights(sp.type, n_in, sp.n_out, rng));
    ws.push_back({sp.type, bytes.back().data(), n_in, sp.n_out, *gguf::row_size(sp.type, n_in)});
  }
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const KernelTable* table : available_kernels()) {
    for (int64_t n_tok : {1, 3, 9}) {
      std::vector<float> x(n_tok * n_in);  // [T, n_in]
      for (auto& v : x) v = nd(rng);
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<std::vector<float>> got(ws.size()), want(ws.size());
        std::vector<MatmulOut> outs;
        for (size_t i = 0; i < ws.size(); ++i) {
          got[i].assign(n_tok * ws[i].n_out, std::numeric_limits<float>::quiet_NaN());
          want[i].resize(got[i].size());
          matmul_with(*table, ws[i], x.data(), want[i].data(), n_tok, pool);
          outs.push_back({&ws[i], got[i].data()});
        }
        matmul_many_with(*table, outs, x.data(), n_tok, pool);
        for (size_t i = 0; i < ws.size(); ++i)
          ASSERT_EQ(0, std::memcmp(want[i].data(), got[i].data(), got[i].size() * 4))
              << table->isa << " weight " << i << " T=" << n_tok << " threads=" << threads;
      }
    }
  }
}

TEST(Matmul, CheckWeightRejectsBadViews) {
  std::vector<uint8_t> buf(4096);
  WeightView w{GgmlType::Q4_K, buf.data(), 128, 2, 72};
  EXPECT_FALSE(check_weight(w).ok());  // 128 is not a multiple of 256
  w = WeightView{GgmlType::Q8_0, buf.data(), 64, 2, 60};
  EXPECT_FALSE(check_weight(w).ok());  // row_bytes should be 68
  w = WeightView{GgmlType::IQ4_XS, buf.data(), 256, 2, 136};
  EXPECT_FALSE(check_weight(w).ok());
  w = WeightView{GgmlType::Q8_0, buf.data(), 64, 2, 68};
  EXPECT_TRUE(check_weight(w).ok());
}

// The 16-row Q4_K layout (packed_q4_k.h) is a bijection of the file's bytes:
// unpacking a packed weight gives them back, row groups and single rows.
TEST(PackedQ4K, UnpackGivesTheFileBytes) {
  std::mt19937 rng(21);
  const int64_t n_in = 768, n_out = 48, nb = n_in / 256;
  const uint64_t rb = *gguf::row_size(GgmlType::Q4_K, n_in);
  const auto wb = random_weights(GgmlType::Q4_K, n_in, n_out, rng);
  const WeightView w{GgmlType::Q4_K, wb.data(), n_in, n_out, rb};
  std::vector<uint8_t> packed(wb.size()), back(wb.size()), row(rb);
  auto pw = pack_weight(w, WeightLayout::kQ4K_x16, packed.data());
  ASSERT_TRUE(pw.ok()) << pw.error().message;
  EXPECT_EQ(pw->layout, WeightLayout::kQ4K_x16);
  EXPECT_NE(0, std::memcmp(packed.data(), wb.data(), wb.size()));  // it did reorder
  for (int64_t o = 0; o < n_out; o += kQ4KPackRows) {
    unpack_q4_k_x16(packed.data() + o * rb, nb, back.data() + o * rb, rb);
    for (int r = 0; r < kQ4KPackRows; ++r) {
      unpack_row_q4_k_x16(packed.data() + o * rb, nb, r, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), wb.data() + (o + r) * rb, rb)) << o + r;
    }
  }
  EXPECT_EQ(0, std::memcmp(back.data(), wb.data(), wb.size()));
}

// A packed weight gives the bits of the plain one through every table (the
// packed decode kernel where the table has one, else rows unpacked for the
// plain kernels), at decode, in dot_block tiles and through the GEMM, alone
// and among other weights, on 1..3 threads; get_row too.
TEST(PackedQ4K, MatmulGivesThePlainBits) {
  std::mt19937 rng(23);
  const int64_t n_in = 768, n_out = 80;
  const uint64_t rb = *gguf::row_size(GgmlType::Q4_K, n_in);
  const auto wb = random_weights(GgmlType::Q4_K, n_in, n_out, rng);
  const auto qb = random_weights(GgmlType::Q6_K, n_in, 24, rng);
  const WeightView plain{GgmlType::Q4_K, wb.data(), n_in, n_out, rb};
  const WeightView other{GgmlType::Q6_K, qb.data(), n_in, 24,
                         *gguf::row_size(GgmlType::Q6_K, n_in)};
  std::vector<uint8_t> packed_bytes(wb.size());
  auto pw = pack_weight(plain, WeightLayout::kQ4K_x16, packed_bytes.data());
  ASSERT_TRUE(pw.ok()) << pw.error().message;
  const WeightView packed = *pw;
  ASSERT_TRUE(check_weight(packed).ok());
  {  // split between threads: the same bytes
    ThreadPool pool(3);
    std::vector<uint8_t> split(wb.size());
    ASSERT_TRUE(pack_weight(plain, WeightLayout::kQ4K_x16, split.data(), &pool).ok());
    ASSERT_EQ(split, packed_bytes);
  }
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const KernelTable* table : available_kernels()) {
    for (int64_t n_tok : {1, 3, 9, 17}) {
      std::vector<float> x(n_tok * n_in);  // [T, n_in]
      for (auto& v : x) v = nd(rng);
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<float> want(n_tok * n_out), got(n_tok * n_out, -1.0f);
        matmul_with(*table, plain, x.data(), want.data(), n_tok, pool);
        matmul_with(*table, packed, x.data(), got.data(), n_tok, pool);
        ASSERT_EQ(0, std::memcmp(want.data(), got.data(), got.size() * 4))
            << table->isa << " T=" << n_tok << " threads=" << threads;
        std::vector<float> many(n_tok * n_out, -1.0f), other_y(n_tok * other.n_out);
        const MatmulOut outs[] = {{&other, other_y.data()}, {&packed, many.data()}};
        matmul_many_with(*table, outs, x.data(), n_tok, pool);
        ASSERT_EQ(0, std::memcmp(want.data(), many.data(), many.size() * 4))
            << table->isa << " matmul_many T=" << n_tok << " threads=" << threads;
      }
    }
  }
  std::vector<float> a(n_in), b(n_in);
  for (int64_t o : {0, 15, 16, 47, 79}) {
    get_row(plain, o, a.data());
    get_row(packed, o, b.data());
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4)) << o;
  }
}

TEST(PackedQ4K, RejectsWeightsThatDoNotTile) {
  std::mt19937 rng(25);
  std::vector<uint8_t> dst(1 << 16);
  const auto q4k = random_weights(GgmlType::Q4_K, 256, 20, rng);
  const WeightView rows20{GgmlType::Q4_K, q4k.data(), 256, 20, 144};
  EXPECT_FALSE(pack_weight(rows20, WeightLayout::kQ4K_x16, dst.data()).ok());  // 20 % 16
  EXPECT_EQ(preferred_layout(rows20), WeightLayout::kRows);
  const auto q80 = random_weights(GgmlType::Q8_0, 256, 16, rng);
  const WeightView q8{GgmlType::Q8_0, q80.data(), 256, 16, 272};
  EXPECT_FALSE(pack_weight(q8, WeightLayout::kQ4K_x16, dst.data()).ok());
  EXPECT_EQ(preferred_layout(q8), WeightLayout::kRows);
  WeightView claimed = q8;
  claimed.layout = WeightLayout::kQ4K_x16;
  EXPECT_FALSE(check_weight(claimed).ok());
  // Packing twice is a caller's mistake, not a new layout.
  auto once = pack_weight(WeightView{GgmlType::Q4_K, q4k.data(), 256, 16, 144},
                          WeightLayout::kQ4K_x16, dst.data());
  ASSERT_TRUE(once.ok());
  EXPECT_FALSE(pack_weight(*once, WeightLayout::kQ4K_x16, dst.data() + 4096).ok());
}

}  // namespace
}  // namespace frugal::kernels
