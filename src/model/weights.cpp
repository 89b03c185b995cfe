// Loading half of layers.h: hyperparameters from `<arch>.*` metadata and
// weights by llama.cpp tensor name, each checked against the other.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "common/checked_math.h"
#include "model/layers.h"
#include "tensor/quant.h"

namespace frugal::model {
namespace {

// Bounds far above any released model; they keep every product of sizes below
// (e.g. T * H * D, L * C * Hkv * D for sane C) well inside int64.
constexpr uint64_t kMaxDim = uint64_t{1} << 20;    // E, F, H*D
constexpr uint64_t kMaxVocab = uint64_t{1} << 24;  // V
constexpr uint64_t kMaxLayers = 1024;              // L
constexpr uint64_t kMaxHeads = 1024;               // H, Hkv

Result<int64_t> read_count(const gguf::File& f, const std::string& key, uint64_t max,
                           std::optional<int64_t> fallback) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) {
    if (fallback) return *fallback;
    return make_error("model: missing metadata key '{}'", key);
  }
  if (v->as_array() != nullptr) {
    return make_error("model: metadata '{}' is an array (per-layer values are not supported)", key);
  }
  std::optional<uint64_t> u = v->as_uint();
  if (!u) return make_error("model: metadata '{}' must be a non-negative integer", key);
  if (*u == 0 || *u > max) {
    return make_error("model: metadata '{}' = {} is out of range [1, {}]", key, *u, max);
  }
  return static_cast<int64_t>(*u);
}

Result<float> read_positive_float(const gguf::File& f, const std::string& key, float fallback) {
  const gguf::Value* v = f.find(key);
  if (v == nullptr) return fallback;
  std::optional<double> d = v->as_float();
  if (!d) return make_error("model: metadata '{}' must be a number", key);
  if (!std::isfinite(*d) || *d <= 0 || *d > 1e30) {
    return make_error("model: metadata '{}' = {} must be finite and > 0", key, *d);
  }
  return static_cast<float>(*d);
}

std::string shape_str(const std::vector<uint64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

Result<HParams> read_decoder_hparams(const gguf::File& f, const std::string& arch) {
  HParams hp;
  hp.arch = arch;
  const std::string p = arch + ".";
  FRUGAL_ASSIGN_OR_RETURN(hp.n_embd, read_count(f, p + "embedding_length", kMaxDim, {}));
  FRUGAL_ASSIGN_OR_RETURN(hp.n_layer, read_count(f, p + "block_count", kMaxLayers, {}));
  FRUGAL_ASSIGN_OR_RETURN(hp.n_ff, read_count(f, p + "feed_forward_length", kMaxDim, {}));
  FRUGAL_ASSIGN_OR_RETURN(hp.n_head, read_count(f, p + "attention.head_count", kMaxHeads, {}));
  FRUGAL_ASSIGN_OR_RETURN(hp.n_head_kv,
                          read_count(f, p + "attention.head_count_kv", kMaxHeads, hp.n_head));
  FRUGAL_ASSIGN_OR_RETURN(hp.n_ctx_train,
                          read_count(f, p + "context_length", uint64_t{1} << 32, {}));

  // head_dim is embedding/heads unless the file states a key length.
  std::optional<int64_t> default_head_dim;
  if (hp.n_embd % hp.n_head == 0) default_head_dim = hp.n_embd / hp.n_head;
  if (f.find(p + "attention.key_length") == nullptr && !default_head_dim) {
    return make_error("model: '{}attention.head_count' = {} does not divide embedding_length {}", p,
                      hp.n_head, hp.n_embd);
  }
  FRUGAL_ASSIGN_OR_RETURN(hp.head_dim,
                          read_count(f, p + "attention.key_length", kMaxDim, default_head_dim));
  FRUGAL_ASSIGN_OR_RETURN(int64_t value_len,
                          read_count(f, p + "attention.value_length", kMaxDim, hp.head_dim));
  if (value_len != hp.head_dim) {
    return make_error("model: '{}attention.value_length' = {} differs from key length {}", p,
                      value_len, hp.head_dim);
  }
  if (hp.head_dim % 2 != 0) {
    return make_error("model: head dimension {} must be even for RoPE", hp.head_dim);
  }
  if (static_cast<uint64_t>(hp.n_head * hp.head_dim) > kMaxDim) {
    return make_error("model: head_count {} x head_dim {} is too large", hp.n_head, hp.head_dim);
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    return make_error("model: '{}attention.head_count_kv' = {} does not divide head_count {}", p,
                      hp.n_head_kv, hp.n_head);
  }
  FRUGAL_ASSIGN_OR_RETURN(int64_t rope_dim,
                          read_count(f, p + "rope.dimension_count", kMaxDim, hp.head_dim));
  if (rope_dim != hp.head_dim) {
    return make_error(
        "model: '{}rope.dimension_count' = {} != head_dim {} (partial RoPE is not "
        "supported)",
        p, rope_dim, hp.head_dim);
  }
  FRUGAL_ASSIGN_OR_RETURN(hp.rms_eps,
                          read_positive_float(f, p + "attention.layer_norm_rms_epsilon", 1e-6f));
  FRUGAL_ASSIGN_OR_RETURN(hp.rope_theta, read_positive_float(f, p + "rope.freq_base", 10000.0f));

  // The vocabulary is the number of embedding rows; a stated vocab_size must agree.
  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return make_error("model: missing tensor 'token_embd.weight'");
  if (embd->shape.size() != 2) {
    return make_error("model: tensor 'token_embd.weight' has shape {}, expected 2 dimensions",
                      shape_str(embd->shape));
  }
  if (embd->shape[1] == 0 || embd->shape[1] > kMaxVocab) {
    return make_error("model: tensor 'token_embd.weight' has {} rows, out of range [1, {}]",
                      embd->shape[1], kMaxVocab);
  }
  hp.n_vocab = static_cast<int64_t>(embd->shape[1]);
  if (f.find(p + "vocab_size") != nullptr) {
    FRUGAL_ASSIGN_OR_RETURN(int64_t stated, read_count(f, p + "vocab_size", kMaxVocab, {}));
    if (stated != hp.n_vocab) {
      return make_error("model: '{}vocab_size' = {} but token_embd has {} rows", p, stated,
                        hp.n_vocab);
    }
  }
  // A tokenizer with more tokens than embedding rows would hand the model ids
  // it has no row for; rows beyond the tokens (padding, as in Qwen2.5) are fine.
  if (const gguf::Array* tokens = f.get_array("tokenizer.ggml.tokens");
      tokens != nullptr && tokens->size() > embd->shape[1]) {
    return make_error("model: tokenizer.ggml.tokens has {} entries but token_embd has only {} rows",
                      tokens->size(), hp.n_vocab);
  }
  return hp;
}

Result<kernels::WeightView> WeightLoader::matrix(const std::string& name, int64_t n_in,
                                                 int64_t n_out) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return make_error("model: missing tensor '{}'", name);
  const std::vector<uint64_t> want = {static_cast<uint64_t>(n_in), static_cast<uint64_t>(n_out)};
  if (t->shape != want) {
    return make_error("model: tensor '{}' has shape {}, expected {}", name, shape_str(t->shape),
                      shape_str(want));
  }
  if (!kernels::matmul_supported(t->type)) {
    return make_error("model: tensor '{}' has type {}, which matmul does not support", name,
                      gguf::type_name(t->type));
  }
  std::optional<uint64_t> row_bytes = gguf::row_size(t->type, t->shape[0]);
  std::optional<uint64_t> total = row_bytes ? checked_mul(*row_bytes, t->shape[1]) : std::nullopt;
  if (!total || *total != t->n_bytes) {
    return make_error("model: tensor '{}' of type {}: rows of {} do not fit its {} bytes", name,
                      gguf::type_name(t->type), t->shape[0], t->n_bytes);
  }
  return kernels::WeightView{t->type, t->data, n_in, n_out, *row_bytes};
}

Result<std::vector<float>> WeightLoader::vector(const std::string& name, int64_t n) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return make_error("model: missing tensor '{}'", name);
  const std::vector<uint64_t> want = {static_cast<uint64_t>(n)};
  if (t->shape != want) {
    return make_error("model: tensor '{}' has shape {}, expected {}", name, shape_str(t->shape),
                      shape_str(want));
  }
  std::optional<uint64_t> bytes = gguf::row_size(t->type, t->shape[0]);
  if (!tensor::can_dequantize(t->type) || !bytes || *bytes != t->n_bytes) {
    return make_error("model: tensor '{}' has unsupported type {} for a vector", name,
                      gguf::type_name(t->type));
  }
  std::vector<float> out(static_cast<size_t>(n));  // [n]
  FRUGAL_TRY(tensor::dequantize_row(t->type, t->data, out.data(), n));
  return out;
}

namespace {

// Repacks the matmul weights the active kernels decode faster from another
// layout (kernels::preferred_layout: Q4_K in 16-row tiles on AVX-512 VNNI)
// into one anonymous buffer, and gives the file's pages of each repacked
// tensor back as soon as it is copied, so RSS stays about the file's size
// (plus one tensor while packing). A packed weight has its file bytes'
// size and gives the same bits through every kernel table.
Status pack_for_decode(const gguf::File& file, DecoderWeights& w) {
  std::vector<kernels::WeightView*> views;
  for (LayerWeights& l : w.layers) {
    for (kernels::WeightView* v : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      views.push_back(v);
  }
  views.push_back(&w.output);  // token_embd's view when tied: get_row reads packed rows
  uint64_t total = 0;
  for (const kernels::WeightView* v : views) {
    if (kernels::preferred_layout(*v) == kernels::WeightLayout::kRows) continue;
    // Each view was checked by WeightLoader::matrix: n_out * row_bytes is its tensor's size.
    total += static_cast<uint64_t>(v->n_out) * v->row_bytes;
  }
  if (total == 0) return {};
  ZeroedPages buf(static_cast<size_t>(total));
  if (buf.data() == nullptr)
    return make_error("model: cannot map {} bytes for packed weights", total);
  buf.prefer_huge_pages();
  // Every core packs (about 1 GB/s each); the tensors go one at a time so
  // each one's file pages are given back before the next is read.
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  auto* at = static_cast<uint8_t*>(buf.data());
  for (kernels::WeightView* v : views) {
    const kernels::WeightLayout layout = kernels::preferred_layout(*v);
    if (layout == kernels::WeightLayout::kRows) continue;
    const uint64_t bytes = static_cast<uint64_t>(v->n_out) * v->row_bytes;
    const uint8_t* src = v->data;
    FRUGAL_ASSIGN_OR_RETURN(*v, kernels::pack_weight(*v, layout, at, &pool));
    file.release(src, bytes);
    at += bytes;
  }
  w.packed = std::move(buf);
  return {};
}

}  // namespace

Result<DecoderWeights> load_decoder_weights(const gguf::File& file, HParams& hp,
                                            const DecoderOptions& opt) {
  const WeightLoader ld(file);
  const int64_t E = hp.n_embd, V = hp.n_vocab, F = hp.n_ff;
  const int64_t HD = hp.n_head * hp.head_dim, KVD = hp.n_head_kv * hp.head_dim;
  DecoderWeights w;
  FRUGAL_ASSIGN_OR_RETURN(w.token_embd, ld.matrix("token_embd.weight", E, V));
  FRUGAL_ASSIGN_OR_RETURN(w.output_norm, ld.vector("output_norm.weight", E));
  hp.tied_output = !ld.has("output.weight");
  if (hp.tied_output) {
    w.output = w.token_embd;
  } else {
    FRUGAL_ASSIGN_OR_RETURN(w.output, ld.matrix("output.weight", E, V));
  }

  const bool has_rope_freqs = ld.has("rope_freqs.weight");
  if (opt.rope_freqs == Need::kRequired && !has_rope_freqs) {
    return make_error("model: missing tensor 'rope_freqs.weight'");
  }
  if (opt.rope_freqs == Need::kAbsent && has_rope_freqs) {
    return make_error("model: tensor 'rope_freqs.weight' is not used by architecture '{}'",
                      hp.arch);
  }
  if (has_rope_freqs) {
    FRUGAL_ASSIGN_OR_RETURN(w.rope_freqs, ld.vector("rope_freqs.weight", hp.head_dim / 2));
    for (float ff : w.rope_freqs) {
      if (!std::isfinite(ff) || ff <= 0) {
        return make_error("model: tensor 'rope_freqs.weight' holds {}, factors must be > 0", ff);
      }
    }
  }

  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    LayerWeights& lw = w.layers[static_cast<size_t>(l)];
    const std::string b = fmt::format("blk.{}.", l);
    FRUGAL_ASSIGN_OR_RETURN(lw.attn_norm, ld.vector(b + "attn_norm.weight", E));
    FRUGAL_ASSIGN_OR_RETURN(lw.wq, ld.matrix(b + "attn_q.weight", E, HD));
    FRUGAL_ASSIGN_OR_RETURN(lw.wk, ld.matrix(b + "attn_k.weight", E, KVD));
    FRUGAL_ASSIGN_OR_RETURN(lw.wv, ld.matrix(b + "attn_v.weight", E, KVD));
    const bool has_bias =
        ld.has(b + "attn_q.bias") || ld.has(b + "attn_k.bias") || ld.has(b + "attn_v.bias");
    if (opt.qkv_bias == Need::kAbsent && has_bias) {
      return make_error("model: tensor '{}attn_*.bias' is not used by architecture '{}'", b,
                        hp.arch);
    }
    if (opt.qkv_bias == Need::kRequired || has_bias) {
      FRUGAL_ASSIGN_OR_RETURN(lw.bq, ld.vector(b + "attn_q.bias", HD));
      FRUGAL_ASSIGN_OR_RETURN(lw.bk, ld.vector(b + "attn_k.bias", KVD));
      FRUGAL_ASSIGN_OR_RETURN(lw.bv, ld.vector(b + "attn_v.bias", KVD));
    }
    FRUGAL_ASSIGN_OR_RETURN(lw.wo, ld.matrix(b + "attn_output.weight", HD, E));
    FRUGAL_ASSIGN_OR_RETURN(lw.ffn_norm, ld.vector(b + "ffn_norm.weight", E));
    FRUGAL_ASSIGN_OR_RETURN(lw.w_gate, ld.matrix(b + "ffn_gate.weight", E, F));
    FRUGAL_ASSIGN_OR_RETURN(lw.w_up, ld.matrix(b + "ffn_up.weight", E, F));
    FRUGAL_ASSIGN_OR_RETURN(lw.w_down, ld.matrix(b + "ffn_down.weight", F, E));
  }
  FRUGAL_TRY(pack_for_decode(file, w));
  if (hp.tied_output) w.token_embd = w.output;
  return w;
}

}  // namespace frugal::model
