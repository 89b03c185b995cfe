// Forward half of layers.h: the blocks of a pre-norm decoder over the KV cache.
#include "model/layers.h"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <limits>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"

namespace frugal::model {
namespace {

std::atomic<int64_t> g_split_min_positions{kDefaultSplitMinPositions};  // F32 caches
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
std::atomic<int64_t> g_split_min_positions_f16{kNever};

// Rows from which the per-row ops (norms, biases, RoPE, SwiGLU, residual
// adds) run on the pool's threads: a prompt's. Done by the calling thread
// alone while the other waited, they were 1.9 % of the pp512 samples (perf,
// 1.5B Q8_0, 2 threads), so about 4 % of the time. At decode (a row or a
// few) one parallel region costs more than the work.
constexpr int64_t kParallelRowsMin = 8;

// fn(r0, r1) over rows [0, rows): contiguous ranges on the pool's threads,
// or one range on the caller for fewer than kParallelRowsMin rows.
template <typename Fn>
void for_rows(ThreadPool& pool, int64_t rows, const Fn& fn) {
  if (rows < kParallelRowsMin || pool.size() == 1)
    fn(int64_t{0}, rows);
  else
    pool.parallel_for(rows, fn);
}

// y[t] = rms_norm(x[t]) * w for each of `rows` rows of n.
void rms_norm_rows(const float* x, const std::vector<float>& w, float* y, int64_t rows, int64_t n,
                   float eps, ThreadPool& pool) {
  for_rows(pool, rows, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) kernels::rms_norm(x + t * n, w.data(), y + t * n, n, eps);
  });
}

// y += b over one row; a no-op for an absent (empty) bias.
void add_bias(float* y, const std::vector<float>& b) {
  for (size_t i = 0; i < b.size(); ++i) y[i] += b[i];
}

// Each row's Q, K, V biases, then RoPE of its query and key heads at the
// row's position, cos and sin computed once for all of them (sincos was
// most of RoPE's time at prefill). q: [T, H*D], k and v: [T, Hkv*D].
void bias_and_rope_rows(const HParams& hp, const LayerWeights& w, const std::vector<float>& ff_vec,
                        const BatchPlan& plan, DecoderScratch& s, ThreadPool& pool) {
  const int64_t D = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv;
  const float* ff = ff_vec.empty() ? nullptr : ff_vec.data();
  for_rows(pool, plan.n_rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> angles(static_cast<size_t>(D));  // cos [D/2], then sin [D/2]
    float* cos = angles.data();
    float* sin = angles.data() + D / 2;
    for (int64_t r = r0; r < r1; ++r) {
      float* q = s.q.data() + r * H * D;    // [H, D]
      float* k = s.k.data() + r * Hkv * D;  // [Hkv, D]
      add_bias(q, w.bq);
      add_bias(k, w.bk);
      add_bias(s.v.data() + r * Hkv * D, w.bv);
      const auto& sq = plan.seqs[static_cast<size_t>(plan.row_seq[static_cast<size_t>(r)])];
      kernels::rope_angles(D, sq.pos0 + (r - sq.row0), hp.rope_theta, ff, cos, sin);
      for (int64_t h = 0; h < H; ++h) kernels::rope_rotate(q + h * D, D, hp.rope_neox, cos, sin);
      for (int64_t h = 0; h < Hkv; ++h) kernels::rope_rotate(k + h * D, D, hp.rope_neox, cos, sin);
    }
  });
}

// x[t] += y[t] for each of `rows` rows of n (the residual add).
void add_rows(float* x, const float* y, int64_t rows, int64_t n, ThreadPool& pool) {
  for_rows(pool, rows, [&](int64_t t0, int64_t t1) {
    for (int64_t i = t0 * n; i < t1 * n; ++i) x[i] += y[i];
  });
}

// How many query heads of a GQA group one work item of attend_items takes:
// the whole group (up to kMaxGroupQueries), so each KV head is read once for
// all of its queries; halved while there are fewer items than threads, or
// fewer than twice as many and not a multiple of them (decode of one
// sequence), so every thread has work and they finish together. The 1.5B's
// 2 KV heads on 2 threads: one whole group per thread, each streaming its
// own head, 12 % faster at 16k positions than half groups sharing a head.
int64_t heads_per_attention_item(const HParams& hp, const BatchPlan& plan, int n_threads) {
  const int64_t Hkv = hp.n_head_kv, group = hp.n_head / Hkv;
  int64_t heads_per_item = std::min(group, kMaxGroupQueries);
  const int64_t rows_per_item = std::max<int64_t>(1, kMaxGroupQueries / heads_per_item);
  int64_t n_row_blocks = 0;
  for (const auto& sq : plan.seqs)
    n_row_blocks += (sq.n_tokens + rows_per_item - 1) / rows_per_item;
  const int64_t P = n_threads;
  auto too_few = [&](int64_t h) {
    const int64_t items = n_row_blocks * Hkv * ((group + h - 1) / h);
    return items < P || (items < 2 * P && items % P != 0);
  };
  while (heads_per_item > 1 && too_few(heads_per_item)) heads_per_item = (heads_per_item + 1) / 2;
  return heads_per_item;
}

// K and V of KV head g in `layer` of a sequence's cache: [n_kv, D] rows, contiguous.
void set_head_kv(const KvCache& cache, int64_t layer, int64_t g, int64_t D,
                 kernels::AttendGroupArgs& a) {
  a.k = cache.k_head(layer, g);
  a.v = cache.v_head(layer, g);
  a.kv_type = cache.type();
  a.kv_stride = cache.head_dim();
  a.head_dim = D;
  a.scale = 1.0f / std::sqrt(static_cast<float>(D));
}

// Work items: up to kMaxGroupQueries queries that share one KV head (the
// GQA group's heads, for one or more consecutive rows of a sequence), run
// by kernels::attend_group so each tile of K and V is read once for all of
// them. A one-token sequence scores in the order llama.cpp uses for one
// token, a longer one in its batched order (kernels/cpu/attention.h); a
// query's result never depends on the others in its item.
void attend_items(const HParams& hp, int64_t layer, const BatchPlan& plan, int64_t heads_per_item,
                  DecoderScratch& s, ThreadPool& pool) {
  const int64_t D = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv, group = H / Hkv;
  struct Item {
    int32_t seq;
    int64_t row0, n_rows, g, h0, n_heads;  // rows of s.q, kv head, its query heads
  };
  const int64_t rows_per_item = std::max<int64_t>(1, kMaxGroupQueries / heads_per_item);
  std::vector<Item> items;
  // Longest rows first (causal: they attend over the most positions), so the
  // threads that take items as they go finish together. Items are made KV
  // head by KV head, so threads splitting one group work on the same head at
  // once and read its cache from memory once between them.
  for (size_t si = 0; si < plan.seqs.size(); ++si) {
    const auto& sq = plan.seqs[si];
    const int64_t R = sq.n_tokens == 1 ? 1 : rows_per_item;
    for (int64_t r1 = sq.n_tokens; r1 > 0; r1 -= R) {
      const int64_t r0 = std::max<int64_t>(0, r1 - R);
      for (int64_t g = 0; g < Hkv; ++g)
        for (int64_t h0 = g * group; h0 < (g + 1) * group; h0 += heads_per_item)
          items.push_back(Item{static_cast<int32_t>(si), sq.row0 + r0, r1 - r0, g, h0,
                               std::min(heads_per_item, (g + 1) * group - h0)});
    }
  }
  std::atomic<size_t> next{0};
  pool.run([&](int thread, int) {
    float* scratch = s.attend.data() + thread * s.attend_per_thread;
    for (size_t it = next.fetch_add(1); it < items.size(); it = next.fetch_add(1)) {
      const Item& item = items[it];
      const auto& sq = plan.seqs[static_cast<size_t>(item.seq)];
      kernels::AttendQuery queries[kMaxGroupQueries];
      int64_t m = 0;
      for (int64_t row = item.row0; row < item.row0 + item.n_rows; ++row)
        for (int64_t h = item.h0; h < item.h0 + item.n_heads; ++h)
          queries[m++] =
              kernels::AttendQuery{s.q.data() + (row * H + h) * D,  // [D]
                                   sq.pos0 + (row - sq.row0) + 1,  // causal: positions 0 .. its own
                                   s.attn.data() + (row * H + h) * D};  // [D]
      kernels::AttendGroupArgs a;
      set_head_kv(*sq.cache, layer, item.g, D, a);
      a.order = sq.n_tokens == 1 ? kernels::ScoreOrder::kSingle : kernels::ScoreOrder::kBatch;
      a.queries = queries;
      a.n_queries = m;
      a.scratch = scratch;  // [m * (n_kv rounded up to 8 + 8*D)]
      kernels::attend_group(a);
    }
  });
}

// One new token of one sequence, with fewer KV heads than the threads need
// work items (the 1.5B has 2 for 2 threads): instead of two threads each
// reading a whole head for half its queries, every thread takes a part of
// every head, in kernels::AttendPhase's three phases with a barrier between
// them: a slice of positions for the scores, whole queries for the softmax,
// a slice of columns for the values. Each thread streams its own part of K
// and of V, once. The bits are those of attend_items (attention.h).
void attend_token_split(const HParams& hp, int64_t layer, const BatchPlan::Seq& sq,
                        DecoderScratch& s, ThreadPool& pool) {
  const int64_t D = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv, group = H / Hkv;
  const int64_t n = sq.pos0 + 1;  // positions attended, causal
  const int P = pool.size();
  const int64_t per_head = kernels::attend_group_scratch_len(group, n, D);
  std::vector<kernels::AttendQuery> queries(static_cast<size_t>(H));  // head h of the row
  for (int64_t h = 0; h < H; ++h)
    queries[static_cast<size_t>(h)] = {s.q.data() + (sq.row0 * H + h) * D, n,   // [D]
                                       s.attn.data() + (sq.row0 * H + h) * D};  // [D]
  std::vector<float> part_max(static_cast<size_t>(Hkv * P * group));            // [Hkv, P, group]
  std::vector<float> head_max(static_cast<size_t>(H));                          // [H]
  auto args = [&](int64_t g, kernels::AttendPhase phase) {
    kernels::AttendGroupArgs a;
    set_head_kv(*sq.cache, layer, g, D, a);
    a.order = kernels::ScoreOrder::kSingle;
    a.queries = queries.data() + g * group;
    a.n_queries = group;
    a.scratch = s.attend.data() + g * per_head;  // [group * (n rounded up to 8 + 8*D)]
    a.phase = phase;
    return a;
  };
  // Slices of whole 32-position tiles, and of whole 8-column blocks.
  const int64_t slice = ((n + P - 1) / P + 31) / 32 * 32;
  const int64_t cols = ((D + 7) / 8 + P - 1) / P * 8;
  std::barrier sync(P);
  pool.run([&](int t, int) {
    for (int64_t g = 0; g < Hkv; ++g) {
      auto a = args(g, kernels::AttendPhase::kScores);
      a.begin = std::min(n, t * slice);
      a.end = std::min(n, a.begin + slice);
      a.maxima = part_max.data() + (g * P + t) * group;
      kernels::attend_group(a);
    }
    sync.arrive_and_wait();
    for (int64_t u = H * t / P; u < H * (t + 1) / P; ++u) {
      const int64_t g = u / group, i = u % group;
      float mx = -std::numeric_limits<float>::infinity();  // max is exact in any order
      for (int p = 0; p < P; ++p)
        mx = std::max(mx, part_max[static_cast<size_t>((g * P + p) * group + i)]);
      head_max[static_cast<size_t>(u)] = mx;
      auto a = args(g, kernels::AttendPhase::kSoftmax);
      a.begin = i, a.end = i + 1;
      a.maxima = head_max.data() + g * group;
      kernels::attend_group(a);
    }
    sync.arrive_and_wait();
    for (int64_t g = 0; g < Hkv; ++g) {
      auto a = args(g, kernels::AttendPhase::kValues);
      a.begin = std::min(D, t * cols);
      a.end = std::min(D, a.begin + cols);
      kernels::attend_group(a);
    }
  });
}

}  // namespace

void set_attention_split_min_positions(int64_t n) {
  g_split_min_positions.store(n, std::memory_order_relaxed);
  g_split_min_positions_f16.store(n, std::memory_order_relaxed);
}

void restore_attention_split_defaults() {
  g_split_min_positions.store(kDefaultSplitMinPositions, std::memory_order_relaxed);
  g_split_min_positions_f16.store(kNever, std::memory_order_relaxed);
}

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
      attend_per_thread(kernels::attend_group_scratch_len(kMaxGroupQueries, n_kv_, hp.head_dim)),
      attend(static_cast<size_t>(n_threads * attend_per_thread)),
      n_kv(n_kv_) {}

void embed(const kernels::WeightView& token_embd, std::span<const int32_t> tokens, float* x) {
  for (size_t t = 0; t < tokens.size(); ++t) {
    kernels::get_row(token_embd, tokens[t], x + static_cast<int64_t>(t) * token_embd.n_in);
  }
}

void BatchPlan::add(KvCache* cache, int64_t n_tokens) {
  seqs.push_back(Seq{cache, cache->n_past, n_tokens, n_rows});
  row_seq.insert(row_seq.end(), static_cast<size_t>(n_tokens),
                 static_cast<int32_t>(seqs.size() - 1));
  n_rows += n_tokens;
  max_kv = std::max(max_kv, cache->n_past + n_tokens);
}

void attention_block(const HParams& hp, const LayerWeights& w, const std::vector<float>& rope_freqs,
                     int64_t layer, const BatchPlan& plan, DecoderScratch& s, ThreadPool& pool) {
  const int64_t T = plan.n_rows, E = hp.n_embd, D = hp.head_dim;
  const int64_t H = hp.n_head, Hkv = hp.n_head_kv, KVD = Hkv * D;

  rms_norm_rows(s.x.data(), w.attn_norm, s.xn.data(), T, E, hp.rms_eps, pool);  // [T, E]
  const kernels::MatmulOut qkv[] = {{&w.wq, s.q.data()},                        // [T, H*D]
                                    {&w.wk, s.k.data()},                        // [T, Hkv*D]
                                    {&w.wv, s.v.data()}};                       // [T, Hkv*D]
  kernels::matmul_many(qkv, s.xn.data(), T, pool);
  bias_and_rope_rows(hp, w, rope_freqs, plan, s, pool);
  for (const auto& sq : plan.seqs) {
    sq.cache->store(layer, sq.pos0, sq.n_tokens, s.k.data() + sq.row0 * KVD,
                    s.v.data() + sq.row0 * KVD);  // [T_seq, Hkv*D] each
  }

  const int64_t group = H / Hkv;  // query heads sharing one KV head
  const int64_t heads_per_item = heads_per_attention_item(hp, plan, pool.size());
  const bool one_token = plan.seqs.size() == 1 && plan.seqs[0].n_tokens == 1;
  if (one_token && heads_per_item < std::min(group, kMaxGroupQueries) &&
      H <= kMaxGroupQueries * pool.size() &&
      plan.seqs[0].pos0 + 1 >= (plan.seqs[0].cache->type() == KvType::kF16
                                    ? g_split_min_positions_f16
                                    : g_split_min_positions)
                                   .load(std::memory_order_relaxed))
    attend_token_split(hp, layer, plan.seqs[0], s, pool);
  else
    attend_items(hp, layer, plan, heads_per_item, s, pool);

  kernels::matmul(w.wo, s.attn.data(), s.proj.data(), T, pool);  // [T, E]
  add_rows(s.x.data(), s.proj.data(), T, E, pool);
}

void ffn_block(const HParams& hp, const LayerWeights& w, int64_t n_tokens, DecoderScratch& s,
               ThreadPool& pool) {
  const int64_t T = n_tokens, E = hp.n_embd, F = hp.n_ff;
  rms_norm_rows(s.x.data(), w.ffn_norm, s.xn.data(), T, E, hp.rms_eps, pool);  // [T, E]
  const kernels::MatmulOut gate_up[] = {{&w.w_gate, s.gate.data()},            // [T, F]
                                        {&w.w_up, s.up.data()}};               // [T, F]
  kernels::matmul_many(gate_up, s.xn.data(), T, pool);
  for_rows(pool, T, [&](int64_t t0, int64_t t1) {
    // Row by row, as ggml runs it (a row's last F mod 8 take the scalar tail).
    for (int64_t t = t0; t < t1; ++t)
      kernels::swiglu(s.gate.data() + t * F, s.up.data() + t * F, s.act.data() + t * F, F);
  });                                                               // [T, F]
  kernels::matmul(w.w_down, s.act.data(), s.proj.data(), T, pool);  // [T, E]
  add_rows(s.x.data(), s.proj.data(), T, E, pool);
}

void output_block(const HParams& hp, const DecoderWeights& w, int64_t n_tokens, bool all_logits,
                  DecoderScratch& s, std::span<float> logits, ThreadPool& pool) {
  const int64_t E = hp.n_embd;
  const int64_t first = all_logits ? 0 : n_tokens - 1;
  const int64_t rows = n_tokens - first;
  rms_norm_rows(s.x.data() + first * E, w.output_norm, s.xn.data(), rows, E, hp.rms_eps,
                pool);                                                // [rows, E]
  kernels::matmul(w.output, s.xn.data(), logits.data(), rows, pool);  // [rows, V]
}

void PreNormDecoder::run_layers(std::span<const int32_t> rows_tokens, const BatchPlan& plan,
                                DecoderScratch& s, ThreadPool& pool) const {
  embed(w_.token_embd, rows_tokens, s.x.data());  // [T, E]
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    attention_block(hp_, lw, w_.rope_freqs, l, plan, s, pool);
    ffn_block(hp_, lw, plan.n_rows, s, pool);
  }
}

Status PreNormDecoder::forward(std::span<const int32_t> tokens, KvCache& cache,
                               std::span<float> logits, bool all_logits, ThreadPool& pool) const {
  FRUGAL_TRY(check_forward_args(hp_, tokens, cache, logits, all_logits));
  const int64_t T = static_cast<int64_t>(tokens.size());
  BatchPlan plan;
  plan.add(&cache, T);
  DecoderScratch s(hp_, T, plan.max_kv, pool.size());
  run_layers(tokens, plan, s, pool);
  output_block(hp_, w_, T, all_logits, s, logits, pool);  // [T or 1, V]
  cache.n_past += T;
  return {};
}

Status PreNormDecoder::forward_batch(std::span<const SeqForward> seqs, ThreadPool& pool) const {
  if (seqs.empty()) return {};
  BatchPlan plan;
  std::vector<int32_t> rows_tokens;  // [T] all sequences' tokens, in order
  for (size_t i = 0; i < seqs.size(); ++i) {
    const SeqForward& sf = seqs[i];
    if (sf.cache == nullptr) return make_error("model: sequence {} of a batch has no cache", i);
    for (size_t j = 0; j < i; ++j)
      if (seqs[j].cache == sf.cache)
        return make_error("model: sequences {} and {} share a cache", j, i);
    FRUGAL_TRY(check_forward_args(hp_, sf.tokens, *sf.cache, sf.logits, false));
    plan.add(sf.cache, static_cast<int64_t>(sf.tokens.size()));
    rows_tokens.insert(rows_tokens.end(), sf.tokens.begin(), sf.tokens.end());
  }
  const int64_t E = hp_.n_embd, V = hp_.n_vocab, S = static_cast<int64_t>(seqs.size());
  DecoderScratch s(hp_, plan.n_rows, plan.max_kv, pool.size());
  run_layers(rows_tokens, plan, s, pool);

  // Norm and project only each sequence's last row.
  std::vector<float> last(static_cast<size_t>(S * E));  // [S, E]
  for (int64_t i = 0; i < S; ++i) {
    const auto& sq = plan.seqs[static_cast<size_t>(i)];
    std::copy_n(s.x.begin() + (sq.row0 + sq.n_tokens - 1) * E, E, last.begin() + i * E);
  }
  std::vector<float> normed(last.size());  // [S, E]
  rms_norm_rows(last.data(), w_.output_norm, normed.data(), S, E, hp_.rms_eps, pool);
  std::vector<float> logits(static_cast<size_t>(S * V));  // [S, V]
  kernels::matmul(w_.output, normed.data(), logits.data(), S, pool);
  for (int64_t i = 0; i < S; ++i) {
    std::copy_n(logits.begin() + i * V, V, seqs[static_cast<size_t>(i)].logits.begin());
    seqs[static_cast<size_t>(i)].cache->n_past += plan.seqs[static_cast<size_t>(i)].n_tokens;
  }
  return {};
}

}  // namespace frugal::model
