// Perplexity by llama.cpp's chunked method (see perplexity.h).
#include "runtime/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace frugal::runtime {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

double PerplexityResult::ppl() const {
  return n_scored > 0 ? std::exp(nll_sum / static_cast<double>(n_scored)) : 0.0;
}

double PerplexityResult::ppl_stderr() const {
  if (n_scored < 2) return 0.0;
  const double n = static_cast<double>(n_scored);
  const double mean = nll_sum / n;
  const double var = std::max(0.0, nll2_sum / n - mean * mean);
  return ppl() * std::sqrt(var / (n - 1));
}

double log_softmax_at(std::span<const float> logits, int32_t target) {
  float mx = logits[0];
  for (float x : logits) mx = std::max(mx, x);
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - mx);
  return static_cast<double>(logits[static_cast<size_t>(target)]) - mx - std::log(sum);
}

Result<PerplexityResult> perplexity(const Engine& engine, std::span<const int32_t> tokens,
                                    const PerplexityOptions& opt, const ChunkCallback& on_chunk,
                                    const LogitsSink& sink) {
  const auto& hp = engine.model().hparams();
  const auto& vocab = engine.tokenizer().vocab();
  if (opt.n_ctx < 16 || opt.n_ctx > (int64_t{1} << 20))
    return make_error("perplexity context must be in [16, 1048576], got {}", opt.n_ctx);
  if (opt.n_batch < 1) return make_error("batch size must be >= 1, got {}", opt.n_batch);
  const int64_t n_tokens = static_cast<int64_t>(tokens.size());
  const int64_t max_chunks = n_tokens / opt.n_ctx;
  if (max_chunks < 1)
    return make_error("the text is {} tokens; perplexity needs at least one chunk of {} (lower -c)",
                      n_tokens, opt.n_ctx);
  const int64_t n_chunks = opt.n_chunks < 0 ? max_chunks : std::min(opt.n_chunks, max_chunks);
  if (n_chunks == 0) return make_error("--chunks must be >= 1");
  for (int32_t id : tokens)
    if (!engine.tokenizer().valid(id))
      return make_error("token id {} is outside the vocabulary", id);

  const int64_t V = hp.n_vocab;
  const int64_t first = opt.n_ctx / 2;  // first scored logit position
  const bool bos = vocab.add_bos && vocab.bos >= 0;

  model::KvCache cache(hp, opt.n_ctx, engine.kv_type());
  if (cache.capacity() != opt.n_ctx)
    return make_error("a KV cache of {} positions is too large", opt.n_ctx);
  std::vector<int32_t> chunk(static_cast<size_t>(opt.n_ctx));  // [n_ctx]
  std::vector<float> logits;                                   // [T, V]

  PerplexityResult res;
  res.n_tokens = n_tokens;
  res.n_chunks = n_chunks;
  const auto t_all = Clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    const auto t0 = Clock::now();
    std::copy_n(tokens.begin() + c * opt.n_ctx, opt.n_ctx, chunk.begin());
    if (bos) chunk[0] = vocab.bos;
    cache.n_past = 0;
    ChunkScore score;
    score.index = c;
    for (int64_t pos = 0; pos < opt.n_ctx;) {
      const int64_t n = std::min(opt.n_batch, opt.n_ctx - pos);
      logits.resize(static_cast<size_t>(n * V));
      std::span<const int32_t> batch(chunk.data() + pos, static_cast<size_t>(n));
      FRUGAL_TRY(engine.model().forward(batch, cache, logits, true, engine.pool()));
      // Logit row t (position pos + t) predicts token pos + t + 1.
      for (int64_t t = std::max<int64_t>(0, first - pos); t < n && pos + t + 1 < opt.n_ctx; ++t) {
        std::span<const float> row(logits.data() + t * V, static_cast<size_t>(V));
        const double nll = -log_softmax_at(row, chunk[static_cast<size_t>(pos + t + 1)]);
        score.nll_sum += nll;
        res.nll2_sum += nll * nll;
        ++score.n_scored;
        if (sink) FRUGAL_TRY(sink(c, chunk, pos + t, row));
      }
      pos += n;
    }
    score.seconds = seconds_since(t0);
    res.nll_sum += score.nll_sum;
    res.n_scored += score.n_scored;
    if (on_chunk) on_chunk(score);
  }
  res.seconds = seconds_since(t_all);
  return res;
}

}  // namespace frugal::runtime
