// Perplexity of a model on a token stream, by llama.cpp's method (so figures
// compare directly with its `llama-perplexity`): the tokens are cut into
// chunks of n_ctx; each chunk is evaluated from an empty cache with its first
// token replaced by BOS when the model adds one; the second half of each chunk
// is scored (the logits at positions n_ctx/2 .. n_ctx-2 predict the tokens
// after them), so every scored token has at least n_ctx/2 tokens of context.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/result.h"
#include "runtime/engine.h"

namespace frugal::runtime {

struct PerplexityOptions {
  int64_t n_ctx = 512;    // chunk length; must fit the engine's context
  int64_t n_chunks = -1;  // -1: as many whole chunks as the tokens hold
  int64_t n_batch = 512;  // tokens per forward call inside a chunk
};

struct ChunkScore {
  int64_t index = 0;
  double nll_sum = 0;  // summed negative log-likelihood of the scored tokens
  int64_t n_scored = 0;
  double seconds = 0;
};

struct PerplexityResult {
  int64_t n_tokens = 0;  // tokens in the input
  int64_t n_chunks = 0;
  int64_t n_scored = 0;
  double nll_sum = 0;
  double nll2_sum = 0;  // sum of squared per-token NLL (for the error estimate)
  double seconds = 0;
  double ppl() const;
  double ppl_stderr() const;  // standard error of the perplexity estimate
};

// Called for each scored position with the chunk's tokens (as evaluated, BOS
// substituted), the position, and its logits [V]; lets a caller keep the full
// distributions (e.g. for KL divergence against another engine).
using LogitsSink = std::function<Status(int64_t chunk, std::span<const int32_t> chunk_tokens,
                                        int64_t pos, std::span<const float> logits)>;
using ChunkCallback = std::function<void(const ChunkScore&)>;

Result<PerplexityResult> perplexity(const Engine& engine, std::span<const int32_t> tokens,
                                    const PerplexityOptions& opt, const ChunkCallback& on_chunk,
                                    const LogitsSink& sink);

// Natural-log probability of `target` under softmax(logits), computed in
// double with the max subtracted.
double log_softmax_at(std::span<const float> logits, int32_t target);

}  // namespace frugal::runtime
