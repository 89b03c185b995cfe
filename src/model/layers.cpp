// Forward half of layers.h: the blocks of a pre-norm decoder over the KV cache.
#include "model/layers.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"

namespace frugal::model {
namespace {

// y[t] = rms_norm(x[t]) * w for each of `rows` rows of n.
void rms_norm_rows(const float* x, const std::vector<float>& w, float* y, int64_t rows, int64_t n,
                   float eps) {
  for (int64_t t = 0; t < rows; ++t) kernels::rms_norm(x + t * n, w.data(), y + t * n, n, eps);
}

// y[t] += b for each of `rows` rows; a no-op for an absent (empty) bias.
void add_bias_rows(float* y, const std::vector<float>& b, int64_t rows) {
  const int64_t n = static_cast<int64_t>(b.size());
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t i = 0; i < n; ++i) y[t * n + i] += b[static_cast<size_t>(i)];
  }
}

// x[t, h] is rotated for position pos0 + t; x is [T, n_heads*D].
void rope_rows(float* x, int64_t n_tokens, int64_t n_heads, int64_t pos0, const HParams& hp,
               const std::vector<float>& freq_factors) {
  const float* ff = freq_factors.empty() ? nullptr : freq_factors.data();
  const int64_t D = hp.head_dim;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      kernels::rope(x + (t * n_heads + h) * D, D, pos0 + t, hp.rope_theta, hp.rope_neox, ff);
    }
  }
}

void add_rows(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

Status check_forward_args(const HParams& hp, std::span<const int32_t> tokens, const KvCache& cache,
                          std::span<const float> logits, bool all_logits) {
  const int64_t T = static_cast<int64_t>(tokens.size());
  if (T == 0) return make_error("model: forward called with no tokens");
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= hp.n_vocab) {
      return make_error("model: token id {} at batch index {} is outside the vocabulary [0, {})",
                        tokens[i], i, hp.n_vocab);
    }
  }
  if (cache.n_layer() != hp.n_layer || cache.kv_dim() != hp.n_head_kv * hp.head_dim) {
    return make_error("model: KV cache has {} layers x {} values, model needs {} x {}",
                      cache.n_layer(), cache.kv_dim(), hp.n_layer, hp.n_head_kv * hp.head_dim);
  }
  if (cache.n_past < 0 || cache.n_past > cache.capacity() || T > cache.capacity() - cache.n_past) {
    return make_error("model: KV cache full: {} positions used + {} new > capacity {}",
                      cache.n_past, T, cache.capacity());
  }
  const int64_t need = (all_logits ? T : 1) * hp.n_vocab;
  if (static_cast<int64_t>(logits.size()) < need) {
    return make_error("model: logits buffer holds {} floats, {} needed", logits.size(), need);
  }
  return {};
}

DecoderScratch::DecoderScratch(const HParams& hp, int64_t n_tokens, int64_t n_kv_, int n_threads)
    : x(static_cast<size_t>(n_tokens * hp.n_embd)),
      xn(x.size()),
      q(static_cast<size_t>(n_tokens * hp.n_head * hp.head_dim)),
      k(static_cast<size_t>(n_tokens * hp.n_head_kv * hp.head_dim)),
      v(k.size()),
      attn(q.size()),
      proj(x.size()),
      gate(static_cast<size_t>(n_tokens * hp.n_ff)),
      up(gate.size()),
      act(gate.size()),
      attend_per_thread(kernels::attend_scores_len(n_kv_) + kernels::attend_acc_len(hp.head_dim)),
      attend(static_cast<size_t>(n_threads * attend_per_thread)),
      n_kv(n_kv_) {}

void embed(const kernels::WeightView& token_embd, std::span<const int32_t> tokens, float* x) {
  for (size_t t = 0; t < tokens.size(); ++t) {
    kernels::get_row(token_embd, tokens[t], x + static_cast<int64_t>(t) * token_embd.n_in);
  }
}

void attention_block(const HParams& hp, const LayerWeights& w, const std::vector<float>& rope_freqs,
                     int64_t layer, int64_t pos0, int64_t n_tokens, KvCache& cache,
                     DecoderScratch& s, ThreadPool& pool) {
  const int64_t T = n_tokens, E = hp.n_embd, D = hp.head_dim;
  const int64_t H = hp.n_head, Hkv = hp.n_head_kv, KVD = Hkv * D;

  rms_norm_rows(s.x.data(), w.attn_norm, s.xn.data(), T, E, hp.rms_eps);  // [T, E]
  kernels::matmul(w.wq, s.xn.data(), s.q.data(), T, pool);                // [T, H*D]
  kernels::matmul(w.wk, s.xn.data(), s.k.data(), T, pool);                // [T, Hkv*D]
  kernels::matmul(w.wv, s.xn.data(), s.v.data(), T, pool);                // [T, Hkv*D]
  add_bias_rows(s.q.data(), w.bq, T);
  add_bias_rows(s.k.data(), w.bk, T);
  add_bias_rows(s.v.data(), w.bv, T);
  rope_rows(s.q.data(), T, H, pos0, hp, rope_freqs);
  rope_rows(s.k.data(), T, Hkv, pos0, hp, rope_freqs);

  float* k_cache = cache.k(layer);  // [C, Hkv*D]
  float* v_cache = cache.v(layer);  // [C, Hkv*D]
  std::copy(s.k.begin(), s.k.end(), k_cache + pos0 * KVD);
  std::copy(s.v.begin(), s.v.end(), v_cache + pos0 * KVD);

  // One work item per (token, head); each thread owns one block of s.attend.
  // One query row scores in the order llama.cpp uses for one token, a batch
  // in its batched order (kernels/cpu/attention.h), so both paths track it.
  const int64_t group = H / Hkv;  // query heads sharing one KV head
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t n_items = T * H;
  const auto order = T == 1 ? kernels::ScoreOrder::kSingle : kernels::ScoreOrder::kBatch;
  pool.run([&](int thread, int n_threads) {
    float* scratch = s.attend.data() + thread * s.attend_per_thread;
    const int64_t per = (n_items + n_threads - 1) / n_threads;
    const int64_t begin = std::min(n_items, per * thread);
    const int64_t end = std::min(n_items, begin + per);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / H, h = item % H, g = h / group;
      kernels::AttendArgs a;
      a.q = s.q.data() + (t * H + h) * D;  // [D]
      a.k = k_cache + g * D;               // [n_kv, D] rows KVD apart
      a.v = v_cache + g * D;               // [n_kv, D] rows KVD apart
      a.kv_stride = KVD;
      a.n_kv = pos0 + t + 1;  // causal: positions 0 .. pos0+t
      a.head_dim = D;
      a.scale = scale;
      a.order = order;
      a.scores = scratch;                                    // [n_kv rounded up to 8]
      a.acc = scratch + kernels::attend_scores_len(s.n_kv);  // [8, D]
      a.out = s.attn.data() + (t * H + h) * D;               // [D]
      kernels::attend(a);
    }
  });

  kernels::matmul(w.wo, s.attn.data(), s.proj.data(), T, pool);  // [T, E]
  add_rows(s.x.data(), s.proj.data(), T * E);
}

void ffn_block(const HParams& hp, const LayerWeights& w, int64_t n_tokens, DecoderScratch& s,
               ThreadPool& pool) {
  const int64_t T = n_tokens, E = hp.n_embd, F = hp.n_ff;
  rms_norm_rows(s.x.data(), w.ffn_norm, s.xn.data(), T, E, hp.rms_eps);  // [T, E]
  kernels::matmul(w.w_gate, s.xn.data(), s.gate.data(), T, pool);        // [T, F]
  kernels::matmul(w.w_up, s.xn.data(), s.up.data(), T, pool);            // [T, F]
  kernels::swiglu(s.gate.data(), s.up.data(), s.act.data(), T * F);      // [T, F]
  kernels::matmul(w.w_down, s.act.data(), s.proj.data(), T, pool);       // [T, E]
  add_rows(s.x.data(), s.proj.data(), T * E);
}

void output_block(const HParams& hp, const DecoderWeights& w, int64_t n_tokens, bool all_logits,
                  DecoderScratch& s, std::span<float> logits, ThreadPool& pool) {
  const int64_t E = hp.n_embd;
  const int64_t first = all_logits ? 0 : n_tokens - 1;
  const int64_t rows = n_tokens - first;
  rms_norm_rows(s.x.data() + first * E, w.output_norm, s.xn.data(), rows, E,
                hp.rms_eps);                                          // [rows, E]
  kernels::matmul(w.output, s.xn.data(), logits.data(), rows, pool);  // [rows, V]
}

Status PreNormDecoder::forward(std::span<const int32_t> tokens, KvCache& cache,
                               std::span<float> logits, bool all_logits, ThreadPool& pool) const {
  FRUGAL_TRY(check_forward_args(hp_, tokens, cache, logits, all_logits));
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t pos0 = cache.n_past;
  DecoderScratch s(hp_, T, pos0 + T, pool.size());
  embed(w_.token_embd, tokens, s.x.data());  // [T, E]
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    attention_block(hp_, lw, w_.rope_freqs, l, pos0, T, cache, s, pool);
    ffn_block(hp_, lw, T, s, pool);
  }
  output_block(hp_, w_, T, all_logits, s, logits, pool);  // [T or 1, V]
  cache.n_past = pos0 + T;
  return {};
}

}  // namespace frugal::model
