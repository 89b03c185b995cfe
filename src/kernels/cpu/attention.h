// One query row of attention over cached keys and values, and the SwiGLU
// activation: the float32 ops whose rounding decides how closely frugal's
// logits follow llama.cpp's (issue 3). Their accumulation orders are those of
// ggml's x86 CPU backend, as facts about its arithmetic (see the .cpp files):
//   scores  s_j = q.k_j, accumulated in 8 lanes over the head dimension;
//           kBatch: four 8-lane accumulators over steps of 32, reduced
//           (0+2, 1+3, 0+1, then (l0+l1)+(l2+l3) of lo+hi) - ggml's vec_dot_f32,
//           which llama.cpp runs for prompt batches;
//           kSingle: one 8-lane accumulator, reduced ((l0+l2)+(l1+l3) of
//           lo+hi) - the tinyBLAS sgemm that llama.cpp runs for one query.
//   softmax exp by the 8-lane polynomial ggml uses on AVX2 (expf_poly below),
//           summed per group of 8 lanes into a double, scaled by 1/sum.
//   values  out_d = sum_j p_j v_j,d in 8 lanes over positions, reduced like
//           kSingle (tinyBLAS, which llama.cpp runs for P.V).
// The scalar reference emulates those lanes exactly, so every table returns
// the same bits (tests/kernels_attention_test.cpp).
//
// Keys and values are float32 or IEEE half (KvType). A half is widened to
// float exactly and then used as above, so attending over an F16 cache gives
// the bits attending over an F32 cache holding the same (rounded) values
// gives. F16 halves the bytes read per cached position, which is what decode
// at long context spends its time on.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace frugal::kernels {

enum class ScoreOrder : uint8_t { kBatch, kSingle };

// Element type of cached keys and values.
enum class KvType : uint8_t { kF32, kF16 };
inline size_t kv_type_size(KvType t) {
  return t == KvType::kF16 ? 2 : 4;
}

struct AttendArgs {
  const float* q = nullptr;  // [D]
  const void* k = nullptr;   // row j at element j * kv_stride: [n_kv, D] of kv_type
  const void* v = nullptr;   // row j at element j * kv_stride: [n_kv, D] of kv_type
  KvType kv_type = KvType::kF32;
  int64_t kv_stride = 0;  // elements between consecutive positions
  int64_t n_kv = 0;       // positions attended (>= 1)
  int64_t head_dim = 0;   // D
  float scale = 1.0f;     // applied to each score before softmax
  ScoreOrder order = ScoreOrder::kBatch;
  float* scores = nullptr;  // scratch [attend_scores_len(n_kv)]
  float* acc = nullptr;     // scratch [attend_acc_len(D)]
  float* out = nullptr;     // [D]
};

inline int64_t attend_scores_len(int64_t n_kv) {
  return (n_kv + 7) / 8 * 8;
}
inline int64_t attend_acc_len(int64_t head_dim) {
  return 8 * head_dim;
}

// Runs through the active kernel table (dispatch.h).
void attend(const AttendArgs& a);

// Several queries over the same keys and values (the query heads of one GQA
// group, for one or more prompt rows), each with its own causal length. The
// result of every query is bit-identical to attend() on it alone; a fast
// table reads each tile of K and V once for all the queries while it is in
// L1, instead of once per query from L2 or memory.
struct AttendQuery {
  const float* q = nullptr;  // [D]
  int64_t n_kv = 0;          // positions 0 .. n_kv-1 (>= 1)
  float* out = nullptr;      // [D]
};

// A group's work split between threads: three phases, each phase's parts
// run by any threads, every part of one phase finished before any part of the
// next starts (the caller's barrier). All the parts together give kAll's
// bits, whatever the split, because no sum crosses a part:
//   kScores   positions [begin, end) of every query (clipped to its n_kv):
//             scaled scores into the scratch, and maxima[i] = query i's max
//             over them (-inf if none);
//   kSoftmax  queries [begin, end): softmax of their scores, where maxima[i]
//             must be query i's max over all positions (the caller merges
//             the kScores parts' maxima; max is exact in any order); clears
//             their P.V lanes;
//   kValues   output columns [begin, end) of every query (begin a multiple
//             of 8): the probability-weighted sum of V, position by position.
// The threads share one scratch. Used at decode, where one sequence has fewer
// KV heads than there are threads: splitting the scores by position and the
// values by column lets every thread stream its own part of K and V once,
// instead of two threads reading the same head (model/layers.cpp).
enum class AttendPhase : uint8_t { kAll, kScores, kSoftmax, kValues };

struct AttendGroupArgs {
  const void* k = nullptr;  // as AttendArgs
  const void* v = nullptr;
  KvType kv_type = KvType::kF32;
  int64_t kv_stride = 0;
  int64_t head_dim = 0;
  float scale = 1.0f;
  ScoreOrder order = ScoreOrder::kBatch;
  const AttendQuery* queries = nullptr;
  int64_t n_queries = 0;
  float* scratch = nullptr;  // [attend_group_scratch_len(n_queries, max n_kv, D)]
  AttendPhase phase = AttendPhase::kAll;
  int64_t begin = 0, end = 0;  // the phase's positions, queries or columns
  float* maxima = nullptr;     // [n_queries]: kScores writes, kSoftmax reads
};

inline int64_t attend_group_scratch_len(int64_t n_queries, int64_t max_n_kv, int64_t head_dim) {
  return n_queries * (attend_scores_len(max_n_kv) + attend_acc_len(head_dim));
}

// Runs through the active kernel table.
void attend_group(const AttendGroupArgs& g);

// exp(x) by the polynomial of ggml's AVX2 ggml_v_expf (after Arm's optimized
// routines: max error ~1.5 ulp, flushes to 0 below about -104 and to inf above
// 88.4), one lane. Every step is written as the vector code rounds it (fma
// where it fuses), so this scalar twin gives the vector result bit for bit.
inline float expf_poly(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const uint32_t e = std::bit_cast<uint32_t>(z) << 23;
  const float k = std::bit_cast<float>(e + std::bit_cast<uint32_t>(1.0f));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, 0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return std::fma(j, k, k);
  // Large |n|: scale in two steps so 2^n neither overflows nor flushes early.
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = std::bit_cast<float>(g + 0x7f000000u);
  const float s2 = std::bit_cast<float>(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return std::fma(s2, j, s2) * s1;
}

}  // namespace frugal::kernels
