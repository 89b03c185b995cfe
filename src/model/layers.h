// Shared building blocks of decoder-only transformers: reading and checking
// hyperparameters and weights from a GGUF file, and the pieces of the forward
// pass (embedding, pre-norm attention block with GQA over the KV cache, SwiGLU
// feed-forward block, output head). Architectures in model/arch/ compose them;
// nothing here knows an architecture's name.
//
// Shapes use the legend of model.h. Weight matrices follow GGUF order: a
// weight "[n_in, n_out]" holds n_out rows of n_in elements.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/thread_pool.h"
#include "common/zeroed_pages.h"
#include "gguf/gguf_file.h"
#include "kernels/cpu/matmul.h"
#include "model/model.h"

namespace frugal::model {

// ---------------------------------------------------------------------------
// Hyperparameters

// Reads the `<arch>.*` keys of a llama-family decoder (embedding_length,
// block_count, attention.head_count …) and the vocabulary size (from
// `<arch>.vocab_size` or the rows of token_embd), and checks that they are
// positive, bounded and consistent. `arch` is only used to build key names.
Result<HParams> read_decoder_hparams(const gguf::File& file, const std::string& arch);

// ---------------------------------------------------------------------------
// Weights

enum class Need { kRequired, kOptional, kAbsent };

// Looks tensors up by name and checks them against the shapes the
// hyperparameters imply, so a file whose tensors disagree with its metadata is
// an error at load time, never an out-of-bounds read later.
class WeightLoader {
 public:
  explicit WeightLoader(const gguf::File& file) : file_(file) {}
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  // A 2-D weight [n_in, n_out] of a type the matmul kernels support; the view
  // points into the file's mapping.
  Result<kernels::WeightView> matrix(const std::string& name, int64_t n_in, int64_t n_out) const;
  // A 1-D tensor of n elements (norm weights, biases, rope factors), copied out
  // as float32.
  Result<std::vector<float>> vector(const std::string& name, int64_t n) const;

 private:
  const gguf::File& file_;
};

struct LayerWeights {
  std::vector<float> attn_norm;  // [E]
  kernels::WeightView wq;        // [E, H*D]
  kernels::WeightView wk;        // [E, Hkv*D]
  kernels::WeightView wv;        // [E, Hkv*D]
  std::vector<float> bq;         // [H*D]   (empty when the model has no QKV bias)
  std::vector<float> bk;         // [Hkv*D] (empty when absent)
  std::vector<float> bv;         // [Hkv*D] (empty when absent)
  kernels::WeightView wo;        // [H*D, E]
  std::vector<float> ffn_norm;   // [E]
  kernels::WeightView w_gate;    // [E, F]
  kernels::WeightView w_up;      // [E, F]
  kernels::WeightView w_down;    // [F, E]
};

struct DecoderWeights {
  kernels::WeightView token_embd;    // [E, V]
  std::vector<LayerWeights> layers;  // [L]
  std::vector<float> output_norm;    // [E]
  kernels::WeightView output;        // [E, V]; token_embd when the output is tied
  std::vector<float> rope_freqs;     // [D/2] frequency divisors, empty when absent
  // Matmul weights repacked at load for the active kernels
  // (kernels::preferred_layout); the views of those weights point here.
  ZeroedPages packed;
};

// What an architecture's tensors look like beyond the common decoder set.
struct DecoderOptions {
  Need qkv_bias = Need::kAbsent;    // blk.N.attn_{q,k,v}.bias
  Need rope_freqs = Need::kAbsent;  // rope_freqs.weight (llama3 scaling)
};

// Loads llama.cpp-named tensors (token_embd, blk.N.attn_norm/attn_q/…,
// output_norm, output). Sets hp.tied_output when `output.weight` is absent.
Result<DecoderWeights> load_decoder_weights(const gguf::File& file, HParams& hp,
                                            const DecoderOptions& opt);

// ---------------------------------------------------------------------------
// Forward pass

// Checks everything forward() must reject before it touches the cache: an
// empty batch, ids outside [0, V), a cache of another shape, a batch that does
// not fit, a logits buffer that is too small.
Status check_forward_args(const HParams& hp, std::span<const int32_t> tokens, const KvCache& cache,
                          std::span<const float> logits, bool all_logits);

// Activations of one forward call, sized for T tokens attending to n_kv
// positions (cache plus batch).
// Most queries one attention work item runs together over its KV head
// (kernels::attend_group): GQA heads x prompt rows.
inline constexpr int64_t kMaxGroupQueries = 16;

// Decode of one sequence with fewer KV heads than the threads need work items
// splits each head between the threads (positions, then columns) from this
// many attended positions on; below it, threads share heads by queries. Both
// give the same bits. Measured on 2 threads, 1.5B decode shape, F32 cache
// (bench/kernels/attention_bench.cpp, runs alternating): the split took
// 19-36 vs 23-40 ns per query-position at 16384 in four runs of four, about
// equal at 4096. With an F16 cache it was no faster at any length, so F16
// caches never split. Tests lower the threshold (both types) to exercise
// the split on small models. (Those runs compared the split with half-group
// items and the kernels before the register-blocked ones; 2 threads on the
// 1.5B now take one whole group each, 11.3 vs 17.6 ns for the split at
// 16384 with an F32 cache, and no longer reach this choice. It stays for
// more threads than KV heads, which this 2-core host cannot measure.)
inline constexpr int64_t kDefaultSplitMinPositions = 8192;
// Thread-safe; for tests: the threshold n for both cache types, and back.
void set_attention_split_min_positions(int64_t n);
void restore_attention_split_defaults();

// The allocator of activation buffers: a sized vector's floats are left
// uninitialized (default-initialized), not zeroed. Every buffer of a forward
// call is written before it is read, and zeroing them (over 50 MB for a
// 512-token prompt on the 1.5B) was 0.3 % of pp512 time on one thread
// while the other waited (perf).
template <typename T>
struct UninitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <typename U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0)
      ::new (static_cast<void*>(p)) U;
    else
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using ActivationBuffer = std::vector<float, UninitAllocator<float>>;

struct DecoderScratch {
  DecoderScratch(const HParams& hp, int64_t n_tokens, int64_t n_kv, int n_threads);
  ActivationBuffer x;         // [T, E] residual stream
  ActivationBuffer xn;        // [T, E] normed input of a block
  ActivationBuffer q;         // [T, H*D]
  ActivationBuffer k;         // [T, Hkv*D]
  ActivationBuffer v;         // [T, Hkv*D]
  ActivationBuffer attn;      // [T, H*D] attention output before projection
  ActivationBuffer proj;      // [T, E] block output before the residual add
  ActivationBuffer gate;      // [T, F]
  ActivationBuffer up;        // [T, F]
  ActivationBuffer act;       // [T, F] silu(gate) * up
  int64_t attend_per_thread;  // floats of attention scratch per thread
  // [n_threads, kMaxGroupQueries * (round8(n_kv) + 8*D)] scores and value lanes
  ActivationBuffer attend;
  int64_t n_kv;
};

// x[t] = row tokens[t] of token_embd.
void embed(const kernels::WeightView& token_embd, std::span<const int32_t> tokens, float* x);

// Where each sequence of a forward call sits in the batch's rows: its rows
// are row0 .. row0+T-1 and sit at positions pos0 .. pos0+T-1 of its cache.
struct BatchPlan {
  struct Seq {
    KvCache* cache;
    int64_t pos0;
    int64_t n_tokens;
    int64_t row0;
  };
  std::vector<Seq> seqs;
  std::vector<int32_t> row_seq;  // [rows] index into seqs
  int64_t n_rows = 0;
  int64_t max_kv = 0;  // largest pos0 + n_tokens
  void add(KvCache* cache, int64_t n_tokens);
};

// Pre-norm self-attention block for layer `layer`: x += Wo·attn(rope(Wq·n(x)),
// rope(Wk·n(x)), Wv·n(x)). Each sequence's K/V are written to its cache at
// positions pos0 .. pos0+T-1 (n_past is not changed here); its token t attends
// causally to positions 0 .. pos0+t of its own cache.
void attention_block(const HParams& hp, const LayerWeights& w, const std::vector<float>& rope_freqs,
                     int64_t layer, const BatchPlan& plan, DecoderScratch& s, ThreadPool& pool);

// Pre-norm SwiGLU block: x += Wdown·(silu(Wgate·n(x)) * Wup·n(x)).
void ffn_block(const HParams& hp, const LayerWeights& w, int64_t n_tokens, DecoderScratch& s,
               ThreadPool& pool);

// Final norm and output projection: logits [T, V] for every token when
// all_logits, else [V] for the last one.
void output_block(const HParams& hp, const DecoderWeights& w, int64_t n_tokens, bool all_logits,
                  DecoderScratch& s, std::span<float> logits, ThreadPool& pool);

// The pre-norm decoder shared by llama and qwen2:
//   embed → L × (attention block, SwiGLU block) → final norm → output.
// Architecture files configure it (RoPE layout, which tensors must exist);
// an architecture with another block shape (e.g. deepseek2's MLA + MoE)
// writes its own Model.
class PreNormDecoder final : public Model {
 public:
  PreNormDecoder(HParams hp, DecoderWeights w) : hp_(std::move(hp)), w_(std::move(w)) {}
  const HParams& hparams() const override { return hp_; }
  Status forward(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits,
                 bool all_logits, ThreadPool& pool) const override;
  Status forward_batch(std::span<const SeqForward> seqs, ThreadPool& pool) const override;

 private:
  // embed → layers over the plan's rows; leaves the final hidden states in s.x.
  void run_layers(std::span<const int32_t> rows_tokens, const BatchPlan& plan, DecoderScratch& s,
                  ThreadPool& pool) const;

  HParams hp_;
  DecoderWeights w_;
};

}  // namespace frugal::model
