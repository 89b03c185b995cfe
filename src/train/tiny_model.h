// A tiny qwen2 model with random weights, the starting point of the frugal
// R1 pipeline (frugal-train pipeline): a real GGUF file in the format of the
// R1 distills, so every tool that runs them (frugal run, frugal serve,
// frugal-train grpo, llama.cpp) runs it too.
//
// Vocabulary: the 256 byte-level tokens (GPT-2's byte-to-character map, no
// merges), then the R1 distills' special tokens — <｜begin▁of▁sentence｜>,
// <｜end▁of▁sentence｜>, <｜User｜>, <｜Assistant｜> (control) and <think>,
// </think>, <answer>, </answer> (user-defined, so they show in the text) —
// 264 tokens. The chat template is a short one of our own in the R1 format
// (detected as the deepseek-r1 family): BOS, <｜User｜>question,
// <｜Assistant｜><think>\n.
//
// Weights: matrices and embeddings ~ N(0, 0.02²), the two projections that
// write into the residual stream (attn_output, ffn_down) scaled down by
// sqrt(2 n_layer) as GPT-2 does, biases 0, norms 1; the output projection is
// tied to the embeddings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace frugal::train {

struct TinyModelShape {
  std::string name = "frugal-tiny";
  int64_t n_embd = 96;
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_head_kv = 4;
  int64_t n_ff = 256;
  int64_t n_ctx = 256;
};

inline constexpr int64_t kTinyVocabSize = 264;

// Parameters of a model of this shape (embeddings counted once: tied).
int64_t tiny_model_parameters(const TinyModelShape& s);

// The GGUF image (F32 weights). Errors: a shape the engine could not run
// (non-positive sizes, n_embd not divisible by n_head, n_head by n_head_kv,
// or an odd head size).
Result<std::vector<uint8_t>> tiny_model_image(const TinyModelShape& shape, uint64_t seed);

}  // namespace frugal::train
