// Scalar reference dots of K-quant weights against Q8_K activations. Each
// block's codes are unpacked to int8, multiplied with the activation codes and
// summed in integers per 16- or 32-element sub-block times its integer scale;
// as in llama.cpp's generic kernels the integer sums go into 8 lanes, each lane
// is scaled by d_w * d_a in float, and the min terms use Q8_K's bsums.
#include <cstring>

#include "kernels/cpu/ref/vec_dot_ref.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace frugal::kernels::ref {

using namespace frugal::tensor;

namespace {

constexpr int kLanes = 8;

// lanes[l] += sum over e = l (mod 8) of scale[e / group] * w[e] * a[e].
template <int kGroup, class Scale>
void accumulate_lanes(const int8_t* w, const int8_t* a, const Scale* scale, int32_t lanes[kLanes]) {
  for (int g = 0; g < kQKK / kLanes; ++g) {
    const int32_t s = scale[g * kLanes / kGroup];
    for (int l = 0; l < kLanes; ++l) {
      lanes[l] += s * (int16_t{w[g * kLanes + l]} * int16_t{a[g * kLanes + l]});
    }
  }
}

// The shared tail: sums[l] += d * lanes[l].
void scale_lanes(float d, const int32_t lanes[kLanes], float sums[kLanes]) {
  for (int l = 0; l < kLanes; ++l) sums[l] += d * static_cast<float>(lanes[l]);
}

float sum_lanes(float sumf, const float sums[kLanes]) {
  for (int l = 0; l < kLanes; ++l) sumf += sums[l];
  return sumf;
}

// sum_s bsums[s] * mins[s / 2] for the 8 per-32 mins of Q4_K/Q5_K.
int min_term(const int16_t* bsums, const uint8_t* mins) {
  int s = 0;
  for (int j = 0; j < kQKK / 16; ++j) s += bsums[j] * mins[j / 2];
  return s;
}

}  // namespace

float dot_q2_k_q8_k(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(act);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
    const float dall = y[i].d * fp16_to_fp32(x[i].d);
    const float dmin = y[i].d * fp16_to_fp32(x[i].dmin);
    int isum = 0;
    for (int sub = 0; sub < 16; ++sub) {  // 16 sub-blocks of 16 elements
      const int half = sub / 8, shift = 2 * ((sub % 8) / 2), off = (sub % 2) * 16;
      const uint8_t* q = x[i].qs + half * 32 + off;
      const int8_t* a = y[i].qs + sub * 16;
      int s = 0;
      for (int l = 0; l < 16; ++l) s += a[l] * ((q[l] >> shift) & 3);
      isum += (x[i].scales[sub] & 0xF) * s;
    }
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

float dot_q3_k_q8_k(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(act);
  float sums[kLanes] = {};
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int8_t codes[kQKK];
    for (int e = 0; e < kQKK; ++e) {
      const int low = (x[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      const int high = (x[i].hmask[e % 32] >> (e / 32)) & 1;
      codes[e] = static_cast<int8_t>(low - (high ? 0 : 4));
    }
    int8_t sc[16];
    q3k_scales(x[i].scales, sc);
    int32_t lanes[kLanes] = {};
    accumulate_lanes<16>(codes, y[i].qs, sc, lanes);
    scale_lanes(fp16_to_fp32(x[i].d) * y[i].d, lanes, sums);
  }
  return sum_lanes(0.0f, sums);
}

namespace {

// Shared by Q4_K and Q5_K once the codes (0..15 or 0..31) are unpacked.
void k4_block(const uint16_t d, const uint16_t dmin, const uint8_t* packed_scales,
              const int8_t* codes, const BlockQ8_K& y, float sums[kLanes], float* sumf) {
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) k4_scale_min(j, packed_scales, &sc[j], &mn[j]);
  int32_t lanes[kLanes] = {};
  accumulate_lanes<32>(codes, y.qs, sc, lanes);
  scale_lanes(fp16_to_fp32(d) * y.d, lanes, sums);
  *sumf -= (fp16_to_fp32(dmin) * y.d) * static_cast<float>(min_term(y.bsums, mn));
}

}  // namespace

float dot_q4_k_q8_k(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(act);
  float sums[kLanes] = {};
  float sumf = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int8_t codes[kQKK];
    for (int j = 0; j < 4; ++j) {  // 32 bytes hold sub-blocks 2j (low) and 2j+1 (high)
      for (int l = 0; l < 32; ++l) {
        codes[64 * j + l] = static_cast<int8_t>(x[i].qs[32 * j + l] & 0xF);
        codes[64 * j + 32 + l] = static_cast<int8_t>(x[i].qs[32 * j + l] >> 4);
      }
    }
    k4_block(x[i].d, x[i].dmin, x[i].scales, codes, y[i], sums, &sumf);
  }
  return sum_lanes(sumf, sums);
}

float dot_q5_k_q8_k(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(act);
  float sums[kLanes] = {};
  float sumf = 0;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int8_t codes[kQKK];
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 32; ++l) {
        const int h0 = ((x[i].qh[l] >> (2 * j)) & 1) << 4;
        const int h1 = ((x[i].qh[l] >> (2 * j + 1)) & 1) << 4;
        codes[64 * j + l] = static_cast<int8_t>((x[i].qs[32 * j + l] & 0xF) | h0);
        codes[64 * j + 32 + l] = static_cast<int8_t>((x[i].qs[32 * j + l] >> 4) | h1);
      }
    }
    k4_block(x[i].d, x[i].dmin, x[i].scales, codes, y[i], sums, &sumf);
  }
  return sum_lanes(sumf, sums);
}

float dot_q6_k_q8_k(const void* w, const void* act, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(act);
  float sums[kLanes] = {};
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int8_t codes[kQKK];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[i].ql + 64 * half;
      const uint8_t* qh = x[i].qh + 32 * half;
      int8_t* c = codes + 128 * half;
      for (int l = 0; l < 32; ++l) {
        c[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        c[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        c[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        c[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int32_t lanes[kLanes] = {};
    accumulate_lanes<16>(codes, y[i].qs, x[i].scales, lanes);
    scale_lanes(fp16_to_fp32(x[i].d) * y[i].d, lanes, sums);
  }
  return sum_lanes(0.0f, sums);
}

}  // namespace frugal::kernels::ref
