// K-quant super-block formats (256 elements): dequantize Q2_K..Q6_K and Q8_K,
// quantize Q8_K (the activation partner of every K-quant weight) and the
// reference (no importance matrix) weight quantizers for Q4_K and Q6_K.
// The float operations follow ggml's reference algorithms step by step
// (make_qkx2_quants for Q4_K, make_qx_quants for Q6_K) so the bytes agree.
#include <algorithm>
#include <cmath>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quant_rows.h"

namespace frugal::tensor {

void dequantize_row_q2_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d = fp16_to_fp32(b[i].d);
    const float dmin = fp16_to_fp32(b[i].dmin);
    // Element e: 32-byte half h = e / 128, bit pair p = (e % 128) / 32, byte l = e % 32.
    for (int e = 0; e < kQKK; ++e) {
      const int sub = e / 16;
      const float dl = d * static_cast<float>(b[i].scales[sub] & 0xF);
      const float ml = dmin * static_cast<float>(b[i].scales[sub] >> 4);
      const int q = (b[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

void dequantize_row_q3_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d = fp16_to_fp32(b[i].d);
    int8_t sc[16];
    q3k_scales(b[i].scales, sc);
    for (int e = 0; e < kQKK; ++e) {
      const float dl = d * static_cast<float>(sc[e / 16]);
      const int low = (b[i].qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      // A clear high bit means "subtract 4" (the bit is stored inverted).
      const int high = (b[i].hmask[e % 32] >> (e / 32)) & 1;
      y[e] = dl * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

void dequantize_row_q4_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d = fp16_to_fp32(b[i].d);
    const float dmin = fp16_to_fp32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {  // 8 sub-blocks of 32; pairs share 32 bytes of qs
      uint8_t sc, m;
      k4_scale_min(j, b[i].scales, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* q = b[i].qs + (j / 2) * 32;
      const int shift = (j % 2) * 4;
      for (int l = 0; l < 32; ++l) {
        y[j * 32 + l] = dl * static_cast<float>((q[l] >> shift) & 0xF) - ml;
      }
    }
  }
}

void dequantize_row_q5_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d = fp16_to_fp32(b[i].d);
    const float dmin = fp16_to_fp32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k4_scale_min(j, b[i].scales, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* q = b[i].qs + (j / 2) * 32;
      const int shift = (j % 2) * 4;
      for (int l = 0; l < 32; ++l) {
        const int code = ((q[l] >> shift) & 0xF) | (((b[i].qh[l] >> j) & 1) << 4);
        y[j * 32 + l] = dl * static_cast<float>(code) - ml;
      }
    }
  }
}

namespace {

// The 6-bit code (0..63) of element e of a Q6_K block.
int q6k_code(const BlockQ6_K& b, int e) {
  const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
  const uint8_t* ql = b.ql + half * 64;
  const uint8_t* qh = b.qh + half * 32;
  const int low = (ql[l + (quarter % 2) * 32] >> (4 * (quarter / 2))) & 0xF;
  const int high = (qh[l] >> (2 * quarter)) & 3;
  return low | (high << 4);
}

}  // namespace

void dequantize_row_q6_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    const float d = fp16_to_fp32(b[i].d);
    for (int e = 0; e < kQKK; ++e) {
      const float dl = d * static_cast<float>(b[i].scales[e / 16]);
      y[e] = dl * static_cast<float>(q6k_code(b[i], e) - 32);
    }
  }
}

void dequantize_row_q8_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, y += kQKK) {
    for (int e = 0; e < kQKK; ++e) y[e] = b[i].d * static_cast<float>(b[i].qs[e]);
  }
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    float amax = 0.0f, max = 0.0f;
    for (int e = 0; e < kQKK; ++e) {
      if (std::fabs(x[e]) > amax) {
        amax = std::fabs(x[e]);
        max = x[e];
      }
    }
    if (amax == 0.0f) {
      b[i] = BlockQ8_K{};
      continue;
    }
    // The extreme value maps to -127; its opposite sign may reach +128, clamped.
    const float iscale = -127.0f / max;
    for (int e = 0; e < kQKK; ++e) {
      b[i].qs[e] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[e])));
    }
    for (int s = 0; s < kQKK / 16; ++s) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[s * 16 + l];
      b[i].bsums[s] = static_cast<int16_t>(sum);
    }
    b[i].d = 1.0f / iscale;
  }
}

}  // namespace frugal::tensor
