// Compared against: IEEE 754 binary16/bfloat16 value definitions decoded with
// std::ldexp in this test (exhaustive over all 65536 halfs), round-to-nearest-
// even by exact double arithmetic, and numpy's float16 casts / gguf-py's bf16
// rounding via tests/data/quant/{fbits.f32,F16.q.bin,BF16.q.bin}.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unordered_map>
#include <vector>

#include "tensor/fp16.h"

namespace frugal::tensor {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary16 by definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m.
double half_value(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0)
    v = std::ldexp(static_cast<double>(m), -24);
  else if (e == 31)
    v = m == 0 ? INFINITY : NAN;
  else
    v = std::ldexp(static_cast<double>(1024 + m), e - 25);
  return s ? -v : v;
}

std::vector<char> read_file(const std::string& name) {
  std::ifstream f(std::string(FRUGAL_TEST_DATA) + "/quant/" + name, std::ios::binary);
  EXPECT_TRUE(f.good()) << name;
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(Fp16, DecodeAllHalfsMatchesDefinition) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = fp16_to_fp32(static_cast<uint16_t>(h));
    const double want = half_value(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
      EXPECT_EQ((bits(got) >> 13) & 0x3ff, h & 0x3ff) << "payload " << h;
      EXPECT_EQ(bits(got) >> 31, h >> 15) << "sign " << h;
    } else {
      ASSERT_EQ(bits(got), bits(static_cast<float>(want))) << h;  // also tells -0 from +0
    }
  }
}

TEST(Fp16, EncodeRoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h)));
    if (std::isnan(half_value(static_cast<uint16_t>(h)))) {
      EXPECT_EQ(back & 0x7e00, 0x7e00) << h;  // still NaN, quiet
    } else {
      ASSERT_EQ(back, h);
    }
  }
}

// Reference RNE: the nearest finite half (ties to even mantissa), or inf at/after 65520.
uint16_t encode_reference(float f, const std::unordered_map<double, uint16_t>& by_value) {
  const double x = f;
  const double ax = std::fabs(x);
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (ax >= 65520.0) return sign | 0x7c00;
  const int e = std::max(static_cast<int>(std::floor(std::log2(ax > 0 ? ax : 1))), -14);
  const double ulp = std::ldexp(1.0, e - 10);
  const double q = ax / ulp;  // exact: a power-of-two division
  double r = std::floor(q);
  const double frac = q - r;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0)) r += 1;
  return sign | by_value.at(r * ulp);
}

TEST(Fp16, EncodeRoundsToNearestEven) {
  std::unordered_map<double, uint16_t> by_value;
  for (uint32_t h = 0; h < 0x7c00; ++h) by_value[half_value(static_cast<uint16_t>(h))] = h;
  by_value[0.0] = 0;
  // A stride through all float bit patterns plus every value near halfway points.
  for (uint64_t u = 0; u < (1ull << 32); u += 4099) {
    const float f = from_bits(static_cast<uint32_t>(u));
    if (std::isnan(f) || std::isinf(f)) continue;
    ASSERT_EQ(fp32_to_fp16(f), encode_reference(f, by_value)) << "bits " << u;
  }
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double mid = (half_value(h) + half_value(h + 1)) / 2;  // exact in float
    for (float f : {std::nextafter(static_cast<float>(mid), 0.f), static_cast<float>(mid),
                    std::nextafter(static_cast<float>(mid), 1e9f)}) {
      ASSERT_EQ(fp32_to_fp16(f), encode_reference(f, by_value)) << "near midpoint after " << h;
      ASSERT_EQ(fp32_to_fp16(-f), encode_reference(-f, by_value));
    }
  }
  EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(NAN) & 0x7e00, 0x7e00);
}

TEST(Bf16, EncodeRoundsToNearestEvenAndKeepsNan) {
  for (uint64_t u = 0; u < (1ull << 32); u += 997) {
    const float f = from_bits(static_cast<uint32_t>(u));
    const uint16_t got = fp32_to_bf16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_fp32(got))) << u;
      continue;
    }
    const uint32_t lo = static_cast<uint32_t>(u) & 0xffff0000u;
    const double dlo = from_bits(lo);
    const double dhi =
        std::isinf(from_bits(lo)) ? INFINITY : static_cast<double>(from_bits(lo + 0x10000u));
    // Candidates: truncation, or the next bf16 away from zero (may be inf).
    const double x = f;
    uint16_t want = static_cast<uint16_t>(lo >> 16);
    const double dl = std::fabs(x - dlo);
    const double dh = (lo & 0x7fffffffu) == 0x7f7f0000u
                          ? std::ldexp(1.0, 128) - std::fabs(x)  // distance to the overflow point
                          : std::fabs(dhi - x);
    if (dh < dl || (dh == dl && (want & 1))) want = static_cast<uint16_t>((lo + 0x10000u) >> 16);
    ASSERT_EQ(got, want) << "bits " << u;
  }
}

TEST(Fp16, MatchesNumpyAndGgufGolden) {
  const auto in = read_file("fbits.f32");
  const auto f16 = read_file("F16.q.bin");
  const auto bf16 = read_file("BF16.q.bin");
  const size_t n = in.size() / 4;
  ASSERT_EQ(f16.size(), n * 2);
  ASSERT_EQ(bf16.size(), n * 2);
  for (size_t i = 0; i < n; ++i) {
    float f;
    uint16_t h, b;
    std::memcpy(&f, in.data() + 4 * i, 4);
    std::memcpy(&h, f16.data() + 2 * i, 2);
    std::memcpy(&b, bf16.data() + 2 * i, 2);
    ASSERT_EQ(fp32_to_fp16(f), h) << i;
    ASSERT_EQ(fp32_to_bf16(f), b) << i;
  }
}

}  // namespace
}  // namespace frugal::tensor
