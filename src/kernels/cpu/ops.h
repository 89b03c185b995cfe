// Element-wise and row-wise float32 ops used by the model graphs.
#pragma once

#include <cstdint>

namespace frugal::kernels {

// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], over one row of n.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// In-place RoPE on one head vector of head_dim at position pos.
// neox = true rotates pairs (i, i + d/2) (GPT-NeoX / Qwen2 style);
// neox = false rotates adjacent pairs (2i, 2i + 1) (GGUF llama, whose Q/K are
// permuted at conversion). freq_factors (may be null) divides each pair's
// frequency (llama3 scaling stores them as the `rope_freqs` tensor).
void rope(float* x, int64_t head_dim, int64_t pos, float theta, bool neox,
          const float* freq_factors);

// rope() in two steps, for the many heads of one position: the angles' cos
// and sin, [head_dim / 2] each, then the rotation of one head by them (the
// same bits as rope(); sincos is most of its time at prefill).
void rope_angles(int64_t head_dim, int64_t pos, float theta, const float* freq_factors, float* cos,
                 float* sin);
void rope_rotate(float* x, int64_t head_dim, bool neox, const float* cos, const float* sin);

// In-place softmax over n.
void softmax(float* x, int64_t n);

// out[i] = silu(gate[i]) * up[i], silu's exp as attention.h's expf_poly (the
// exp ggml uses), through the active kernel table.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace frugal::kernels
