// Llama-family decoder (Llama 2/3, R1-Distill-Llama, SmolLM2): pre-norm
// blocks of GQA attention and SwiGLU. GGUF llama files have their Q/K rows
// permuted at conversion, so RoPE rotates adjacent pairs; llama3 frequency
// scaling comes as the optional `rope_freqs` tensor; QKV biases are optional
// (present in a few fine-tunes).
#include "model/layers.h"

namespace frugal::model {

Result<std::unique_ptr<Model>> load_llama(const gguf::File& file, const std::string& arch) {
  FRUGAL_ASSIGN_OR_RETURN(HParams hp, read_decoder_hparams(file, arch));
  hp.rope_neox = false;
  const DecoderOptions opt{.qkv_bias = Need::kOptional, .rope_freqs = Need::kOptional};
  FRUGAL_ASSIGN_OR_RETURN(DecoderWeights w, load_decoder_weights(file, hp, opt));
  return std::unique_ptr<Model>(new PreNormDecoder(std::move(hp), std::move(w)));
}

}  // namespace frugal::model
