// Llama-family decoder (Llama 2/3, R1-Distill-Llama, SmolLM2): pre-norm
// blocks of GQA attention and SwiGLU. GGUF llama files have their Q/K rows
// permuted at conversion, so RoPE rotates adjacent pairs; llama3 frequency
// scaling comes as the optional `rope_freqs` tensor; QKV biases are optional
// (present in a few fine-tunes).
#include "model/layers.h"

namespace frugal::model {
namespace {

class LlamaModel final : public Model {
 public:
  LlamaModel(HParams hp, DecoderWeights w) : hp_(std::move(hp)), w_(std::move(w)) {}
  const HParams& hparams() const override { return hp_; }

  Status forward(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits,
                 bool all_logits, ThreadPool& pool) const override {
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

 private:
  HParams hp_;
  DecoderWeights w_;
};

}  // namespace

Result<std::unique_ptr<Model>> load_llama(const gguf::File& file, const std::string& arch) {
  FRUGAL_ASSIGN_OR_RETURN(HParams hp, read_decoder_hparams(file, arch));
  hp.rope_neox = false;
  const DecoderOptions opt{.qkv_bias = Need::kOptional, .rope_freqs = Need::kOptional};
  FRUGAL_ASSIGN_OR_RETURN(DecoderWeights w, load_decoder_weights(file, hp, opt));
  return std::unique_ptr<Model>(new LlamaModel(std::move(hp), std::move(w)));
}

}  // namespace frugal::model
