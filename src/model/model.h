// A decoder-only language model loaded from a GGUF file. Each architecture is
// one file in model/arch/ over the shared building blocks of model/layers.h and
// registers itself in model/registry.cpp; nothing outside those files looks at
// the architecture name.
//
// Shape legend (used on every buffer in model code):
//   T  tokens in the current batch        E  n_embd
//   V  n_vocab                            H  n_head, Hkv n_head_kv
//   D  head_dim                           F  n_ff
//   C  KV cache capacity (context)        L  n_layer
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/thread_pool.h"
#include "common/zeroed_pages.h"
#include "gguf/gguf_file.h"

namespace frugal::model {

struct HParams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;     // E
  int64_t n_layer = 0;    // L
  int64_t n_head = 0;     // H
  int64_t n_head_kv = 0;  // Hkv
  int64_t head_dim = 0;   // D
  int64_t n_ff = 0;       // F
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-6f;
  float rope_theta = 10000.0f;
  bool rope_neox = false;    // pairs (i, i + D/2) instead of (2i, 2i + 1)
  bool tied_output = false;  // output projection reuses token_embd
};

// Per-layer K and V for up to `capacity` positions, float32. K is stored after
// RoPE. The caller bounds `capacity` (the engine checks it against memory
// limits); a negative or overflowing capacity gives an empty cache.
class KvCache {
 public:
  KvCache(const HParams& hp, int64_t capacity);
  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t n_layer() const { return n_layer_; }
  // [C, Hkv*D] for layer l
  float* k(int64_t layer) { return k_base() + layer * capacity_ * kv_dim_; }
  float* v(int64_t layer) { return v_base() + layer * capacity_ * kv_dim_; }
  const float* k(int64_t layer) const { return k_base() + layer * capacity_ * kv_dim_; }
  const float* v(int64_t layer) const { return v_base() + layer * capacity_ * kv_dim_; }
  // Number of positions holding valid entries (the next position to write).
  int64_t n_past = 0;

 private:
  int64_t capacity_;
  int64_t kv_dim_;
  int64_t n_layer_;
  float* k_base() const { return static_cast<float*>(k_.data()); }
  float* v_base() const { return static_cast<float*>(v_.data()); }
  // Committed page by page as positions are written (common/zeroed_pages.h),
  // so RSS follows the context in use, not the capacity.
  ZeroedPages k_;  // [L, C, Hkv*D] float
  ZeroedPages v_;  // [L, C, Hkv*D] float
};

// One sequence of a batched forward (Model::forward_batch): its new tokens,
// its own KV cache, and where the logits of its last token go [V].
struct SeqForward {
  std::span<const int32_t> tokens;
  KvCache* cache = nullptr;
  std::span<float> logits;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const HParams& hparams() const = 0;

  // Runs `tokens` at positions cache.n_past .. n_past+T-1, appends their K/V to
  // the cache and advances n_past. Writes logits [T, V] when all_logits, else
  // only the last token's [V]. Errors on ids outside the vocabulary or a full
  // cache; the cache is unchanged on error.
  virtual Status forward(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits,
                         bool all_logits, ThreadPool& pool) const = 0;

  // Runs several sequences, each on its own cache, in one pass: the weights
  // are read once for all their tokens (continuous batching). Each sequence
  // gets exactly the logits forward() would give it alone, bit for bit.
  // PreNormDecoder checks every sequence before any cache changes; this
  // default runs them one at a time (on error, earlier ones have run).
  virtual Status forward_batch(std::span<const SeqForward> seqs, ThreadPool& pool) const;
};

// Builds the model for the file's `general.architecture` (see registry.cpp).
// The file must outlive the model (weights stay in the mapping).
Result<std::unique_ptr<Model>> load_model(const gguf::File& file);

// Architectures this build can run.
std::vector<std::string> supported_architectures();

}  // namespace frugal::model
