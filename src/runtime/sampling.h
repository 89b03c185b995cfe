// Token sampling as a chain of small steps, each testable on a tiny
// distribution: penalties → top-k → top-p → min-p → temperature → draw.
// The order is llama.cpp's default chain, so a given configuration means the
// same thing in both engines. Temperature ≤ 0 means greedy (argmax).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "common/result.h"

namespace frugal::runtime {

struct SamplingParams {
  float temperature = 0.6f;       // R1's recommended setting
  float top_p = 0.95f;            // R1's recommended setting; 1 = off
  int32_t top_k = 0;              // 0 = off
  float min_p = 0.0f;             // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off (CTRL-style: divide positive logits)
  float presence_penalty = 0.0f;    // OpenAI semantics: once per seen token
  float frequency_penalty = 0.0f;   // OpenAI semantics: times the token was seen
  int32_t penalty_last_n = 64;      // window of recent tokens for penalties; -1 = all
  uint64_t seed = 0;

  // Rejects NaN/Inf and out-of-range values with a message naming the field.
  Status validate() const;
};

struct Candidate {
  int32_t id;
  float logit;
  float p;  // filled by softmax
};

namespace sampling_steps {
// Each step edits `c` in place; the vector may shrink but is never emptied.
void apply_penalties(std::vector<Candidate>& c, std::span<const int32_t> recent, float repetition,
                     float presence, float frequency);
void top_k(std::vector<Candidate>& c, int32_t k);  // when it cuts, the kept k sorted by logit
void softmax(std::vector<Candidate>& c);           // sorts descending, fills p
void top_p(std::vector<Candidate>& c, float p);    // keeps the smallest prefix with mass ≥ p
void min_p(std::vector<Candidate>& c, float p);    // keeps tokens with prob ≥ p * max prob
void temperature(std::vector<Candidate>& c, float t);
int32_t greedy(const std::vector<Candidate>& c);
int32_t draw(std::vector<Candidate>& c, std::mt19937_64& rng);  // by probability
}  // namespace sampling_steps

class Sampler {
 public:
  Sampler(SamplingParams params, int32_t n_vocab);

  // Picks the next token from logits [V]. Does not record it: call accept().
  int32_t sample(std::span<const float> logits);
  // Records a token (prompt or generated) for the penalties.
  void accept(int32_t id);
  void reset_history() { history_.clear(); }
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;
  std::vector<Candidate> scratch_;
};

}  // namespace frugal::runtime
