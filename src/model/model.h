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
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/thread_pool.h"
#include "common/zeroed_pages.h"
#include "gguf/gguf_file.h"
#include "kernels/cpu/attention.h"

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

using kernels::KvType;

// "f32" / "f16", and back (for flags and reports).
const char* kv_type_name(KvType t);
Result<KvType> parse_kv_type(std::string_view name);

// Per-layer K and V for up to `capacity` positions, as float32 or IEEE half
// (`type`; F16 halves the memory and the bytes attention reads, at the cost
// of rounding each cached value to 11 significant bits, as llama.cpp's
// default cache does). K is stored after RoPE. The caller bounds `capacity`
// (the engine checks it against memory limits); a negative or overflowing
// capacity gives an empty cache.
//
// Head-major: each KV head's rows of a layer are contiguous ([C, D], D
// elements apart), not interleaved with the other heads' ([C, Hkv*D]).
// Attention reads one head at a time, so it streams whole cache lines in
// order (the hardware prefetchers follow) and rows 8 positions apart, which
// the P.V kernel visits in turn, fall in fewer L1 sets: decode at 16k
// positions was 30 % faster in bench/kernels/attention_bench (session 13).
class KvCache {
 public:
  KvCache(const HParams& hp, int64_t capacity, KvType type = KvType::kF32);
  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t n_layer() const { return n_layer_; }
  KvType type() const { return type_; }
  // Bytes of K plus V per position over all layers.
  static uint64_t bytes_per_position(const HParams& hp, KvType type);
  // Layer l: [Hkv, C, D] elements of type(); head g's position p at element
  // (g * C + p) * D.
  void* k(int64_t layer) { return k_base() + layer_offset(layer); }
  void* v(int64_t layer) { return v_base() + layer_offset(layer); }
  const void* k(int64_t layer) const { return k_base() + layer_offset(layer); }
  const void* v(int64_t layer) const { return v_base() + layer_offset(layer); }
  // KV head g of layer l: [C, D], position p at element p * head_dim().
  const void* k_head(int64_t layer, int64_t g) const {
    return k_base() + layer_offset(layer) + head_offset(g);
  }
  const void* v_head(int64_t layer, int64_t g) const {
    return v_base() + layer_offset(layer) + head_offset(g);
  }
  // The same as floats: only for an F32 cache (null for F16).
  float* k_f32(int64_t layer) { return as_f32(k(layer)); }
  float* v_f32(int64_t layer) { return as_f32(v(layer)); }
  // Stores n_pos positions of float K and V rows ([n_pos, Hkv*D] each, heads
  // interleaved as the projections write them) at position pos of layer l,
  // each head's part into its rows, converted to type() (half: round to
  // nearest even). The caller checks pos + n_pos <= capacity().
  void store(int64_t layer, int64_t pos, int64_t n_pos, const float* k_rows, const float* v_rows);
  // Number of positions holding valid entries (the next position to write).
  int64_t n_past = 0;

 private:
  int64_t capacity_;
  int64_t kv_dim_;
  int64_t head_dim_;
  int64_t n_layer_;
  KvType type_;
  size_t elem_ = kernels::kv_type_size(type_);
  size_t layer_offset(int64_t layer) const {
    return static_cast<size_t>(layer * capacity_ * kv_dim_) * elem_;
  }
  size_t head_offset(int64_t g) const {
    return static_cast<size_t>(g * capacity_ * head_dim_) * elem_;
  }
  float* as_f32(void* p) const { return type_ == KvType::kF32 ? static_cast<float*>(p) : nullptr; }
  uint8_t* k_base() const { return static_cast<uint8_t*>(k_.data()); }
  uint8_t* v_base() const { return static_cast<uint8_t*>(v_.data()); }
  // Committed page by page as positions are written (common/zeroed_pages.h),
  // so RSS follows the context in use, not the capacity.
  ZeroedPages k_;  // [L, Hkv, C, D] of type_
  ZeroedPages v_;  // [L, Hkv, C, D] of type_
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
