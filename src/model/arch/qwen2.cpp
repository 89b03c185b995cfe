// Qwen2-family decoder (Qwen2/2.5, R1-Distill-Qwen): the llama block shape
// with biased Q/K/V projections and NEOX-style RoPE (pairs i, i + D/2; GGUF
// qwen2 files are not permuted at conversion).
#include "model/layers.h"

namespace frugal::model {

Result<std::unique_ptr<Model>> load_qwen2(const gguf::File& file, const std::string& arch) {
  FRUGAL_ASSIGN_OR_RETURN(HParams hp, read_decoder_hparams(file, arch));
  hp.rope_neox = true;
  const DecoderOptions opt{.qkv_bias = Need::kRequired, .rope_freqs = Need::kAbsent};
  FRUGAL_ASSIGN_OR_RETURN(DecoderWeights w, load_decoder_weights(file, hp, opt));
  return std::unique_ptr<Model>(new PreNormDecoder(std::move(hp), std::move(w)));
}

}  // namespace frugal::model
