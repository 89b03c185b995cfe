// Compared against: the PyPI `gguf` package (gguf-py, llama.cpp's Python
// reader) via tests/data/quant/ from tools/gen_quant_golden.py — dequantize is
// bit-exact for every type, quantize bit-exact where gguf-py can quantize
// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0). Q4_K, Q6_K, Q8_K and Q8_1, which gguf-py
// cannot quantize, are compared bit-exact with ggml's own reference C
// quantizers (libggml-base from llama-cpp-python, called by the same script),
// and additionally checked by round-trip error bounds and format invariants.
// The matmul activation quantizers quantize_act_q8_{0,1} are compared
// bit-exact with what llama.cpp's x86 CPU backend runs (from_float of
// libggml-cpu's type traits, same script), which differs from ggml's scalar
// reference on ties and on 127/amax vs 1/(amax/127).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"
#include "tensor/quant_rows.h"

namespace frugal::tensor {
namespace {

using gguf::GgmlType;

std::vector<uint8_t> read_file(const std::string& name) {
  std::ifstream f(std::string(FRUGAL_TEST_DATA) + "/quant/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing golden " << name;
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<float> read_floats(const std::string& name) {
  const auto bytes = read_file(name);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

class DequantizeGolden : public ::testing::TestWithParam<GgmlType> {};

TEST_P(DequantizeGolden, BitExact) {
  const GgmlType t = GetParam();
  const std::string name(gguf::type_name(t));
  const auto raw = read_file(name + ".bin");
  const auto want = read_floats(name + ".f32");
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(*gguf::row_size(t, want.size()), raw.size());
  ASSERT_TRUE(can_dequantize(t));
  std::vector<float> got(want.size());
  ASSERT_TRUE(dequantize_row(t, raw.data(), got.data(), static_cast<int64_t>(got.size())).ok());
  for (size_t i = 0; i < want.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    ASSERT_EQ(a, b) << name << " element " << i << ": " << got[i] << " vs " << want[i];
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantizeGolden,
                         ::testing::Values(GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0,
                                           GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                           GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
                                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(gguf::type_name(info.param)); });

class QuantizeGolden : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantizeGolden, BitExact) {
  const GgmlType t = GetParam();
  const std::string name(gguf::type_name(t));
  const auto x = read_floats("input.f32");
  const auto want = read_file(name + ".q.bin");
  ASSERT_EQ(*gguf::row_size(t, x.size()), want.size());
  std::vector<uint8_t> got(want.size());
  ASSERT_TRUE(quantize_row(t, x.data(), got.data(), static_cast<int64_t>(x.size())).ok());
  const size_t bs = gguf::type_traits(t)->type_size;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << name << " block " << i / bs << " byte " << i % bs;
  }
}

INSTANTIATE_TEST_SUITE_P(GgufPyQuantizers, QuantizeGolden,
                         ::testing::Values(GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                                           GgmlType::Q5_1, GgmlType::Q8_0),
                         [](const auto& info) { return std::string(gguf::type_name(info.param)); });

INSTANTIATE_TEST_SUITE_P(GgmlRefQuantizers, QuantizeGolden,
                         ::testing::Values(GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_K,
                                           GgmlType::Q8_1),
                         [](const auto& info) { return std::string(gguf::type_name(info.param)); });

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

std::vector<float> round_trip(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(*gguf::row_size(t, x.size()));
  EXPECT_TRUE(quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size())).ok());
  std::vector<float> y(x.size());
  EXPECT_TRUE(dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size())).ok());
  return y;
}

// Bounds for unit Gaussians: a uniform quantizer with step s has RMSE s/sqrt(12).
// Q4_K: 16 levels over a 32-value range (~4.1 sigma) -> s ~0.27, RMSE ~0.079;
// the scale/min search lowers it, the 6-bit scales raise it slightly. We bound
// at 0.085. Q6_K: 64 levels, symmetric over 16 values (max ~1.8 sigma), s ~0.056 ->
// ~0.016; bound 0.02. (ggml's own quantize-fns test uses similar absolute limits.)
TEST(QuantizeK, Q4KRoundTripError) {
  const auto x = gaussian(256 * 64, 1);
  const double e = rmse(x, round_trip(GgmlType::Q4_K, x));
  RecordProperty("rmse", std::to_string(e));
  EXPECT_LT(e, 0.085);
  EXPECT_GT(e, 0.01);  // a quantizer that is lossless at 4 bits would be a bug in the test
}

TEST(QuantizeK, Q6KRoundTripError) {
  const auto x = gaussian(256 * 64, 2);
  const double e = rmse(x, round_trip(GgmlType::Q6_K, x));
  RecordProperty("rmse", std::to_string(e));
  EXPECT_LT(e, 0.02);
  EXPECT_GT(e, 0.001);
}

TEST(QuantizeK, ZeroBlocksStayZero) {
  const std::vector<float> x(512, 0.0f);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_K}) {
    for (float v : round_trip(t, x)) ASSERT_EQ(v, 0.0f) << gguf::type_name(t);
  }
}

// Dequantized Q4_K/Q6_K values are exactly representable by the format, so
// quantizing them again must reproduce them (the scale search finds the grid).
TEST(QuantizeK, RequantizingDequantizedValuesIsLossless) {
  const auto x = gaussian(256 * 8, 3);
  const auto y = round_trip(GgmlType::Q6_K, x);
  EXPECT_LT(rmse(y, round_trip(GgmlType::Q6_K, y)), 1e-3);
}

TEST(QuantizeQ8K, InvariantsOfActivationFormat) {
  auto x = gaussian(256 * 4, 4);
  x[17] = -5.0f;  // the extreme value of block 0 is negative
  std::vector<BlockQ8_K> q(4);
  ASSERT_TRUE(quantize_row(GgmlType::Q8_K, x.data(), q.data(), 1024).ok());
  // iscale = -127 / max maps the extreme value to -127 whatever its sign.
  EXPECT_EQ(q[0].qs[17], -127);
  EXPECT_FLOAT_EQ(q[0].d * q[0].qs[17], -5.0f);
  for (int b = 0; b < 4; ++b) {
    for (int s = 0; s < 16; ++s) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += q[b].qs[s * 16 + l];
      ASSERT_EQ(q[b].bsums[s], sum);
    }
    for (int e = 0; e < 256; ++e) {
      ASSERT_LE(std::fabs(q[b].d * q[b].qs[e] - x[b * 256 + e]), std::fabs(q[b].d) * 0.5f + 1e-6f);
    }
  }
}

// llama.cpp's x86 backend quantizes matmul activations with its AVX2 routines,
// not the _ref ones; quantize_act_q8_{0,1} must give the same bytes.
TEST(QuantizeActivations, MatchGgmlX86FromFloat) {
  const auto x = read_floats("act_input.f32");
  ASSERT_EQ(x.size(), 2048u);
  const int64_t n = static_cast<int64_t>(x.size());
  struct Case {
    const char* golden;
    void (*act)(const float*, void*, int64_t);
    void (*scalar_ref)(const float*, void*, int64_t);
  };
  for (const Case& c : {Case{"Q8_0.act.bin", quantize_act_q8_0, quantize_row_q8_0},
                        Case{"Q8_1.act.bin", quantize_act_q8_1, quantize_row_q8_1}}) {
    const auto want = read_file(c.golden);
    std::vector<uint8_t> got(want.size(), 0xAB), scalar(want.size(), 0xCD);
    c.act(x.data(), got.data(), n);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << c.golden << " byte " << i;
    // The input's tie blocks must tell the two roundings apart, or this test
    // would not pin down which one we implement.
    c.scalar_ref(x.data(), scalar.data(), n);
    EXPECT_NE(scalar, want) << c.golden;
  }
}

TEST(QuantizeActivations, TiesRoundToEven) {
  float x[32] = {};
  x[0] = 127.0f;  // id = 127 / 127 = 1: the codes are x itself, rounded
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  x[4] = 0.5f;
  x[5] = -1.5f;
  BlockQ8_0 b;
  quantize_act_q8_0(x, &b, 32);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], -2);
  EXPECT_EQ(b.qs[3], 4);
  EXPECT_EQ(b.qs[4], 0);
  EXPECT_EQ(b.qs[5], -2);
  BlockQ8_1 b1;
  quantize_act_q8_1(x, &b1, 32);
  EXPECT_EQ(std::memcmp(b1.qs, b.qs, 32), 0);
  EXPECT_EQ(fp16_to_fp32(b1.s), (127 + 2 - 2 + 4 + 0 - 2) * fp16_to_fp32(b1.d));
}

// Q8_1 shares Q8_0's quantizer (checked against gguf-py above) and adds s.
TEST(QuantizeQ8_1, MatchesQ8_0CodesAndStoresScaledSum) {
  const auto x = read_floats("input.f32");
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<BlockQ8_0> a(n / 32);
  std::vector<BlockQ8_1> b(n / 32);
  ASSERT_TRUE(quantize_row(GgmlType::Q8_0, x.data(), a.data(), n).ok());
  ASSERT_TRUE(quantize_row(GgmlType::Q8_1, x.data(), b.data(), n).ok());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].d, b[i].d);
    ASSERT_EQ(0, std::memcmp(a[i].qs, b[i].qs, 32));
    int sum = 0;
    float amax = 0;
    for (int j = 0; j < 32; ++j) {
      sum += b[i].qs[j];
      amax = std::max(amax, std::fabs(x[i * 32 + j]));
    }
    // s uses the unrounded f32 scale, as the format's reference does.
    ASSERT_EQ(b[i].s, fp32_to_fp16(static_cast<float>(sum) * (amax / 127.0f)));
  }
}

TEST(QuantizeApi, RejectsPartialBlocksAndUnknownTypes) {
  std::vector<float> x(33, 1.0f);
  std::vector<uint8_t> buf(1024);
  const Status s = quantize_row(GgmlType::Q8_0, x.data(), buf.data(), 33);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("33"), std::string::npos);
  EXPECT_FALSE(dequantize_row(GgmlType::IQ4_XS, buf.data(), x.data(), 32).ok());
  EXPECT_FALSE(can_quantize(GgmlType::Q5_K));
  EXPECT_TRUE(can_dequantize(GgmlType::Q3_K));
}

TEST(NearestInt, RoundsHalfToEven) {
  EXPECT_EQ(nearest_int(0.5f), 0);
  EXPECT_EQ(nearest_int(1.5f), 2);
  EXPECT_EQ(nearest_int(-2.5f), -2);
  EXPECT_EQ(nearest_int(-2.6f), -3);
  EXPECT_EQ(nearest_int(127.49f), 127);
}

}  // namespace
}  // namespace frugal::tensor
