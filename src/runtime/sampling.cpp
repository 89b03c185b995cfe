#include "runtime/sampling.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace frugal::runtime {

Status SamplingParams::validate() const {
  auto finite = [](float v) { return std::isfinite(v); };
  if (!finite(temperature) || temperature < 0.0f || temperature > 100.0f)
    return make_error("temperature must be in [0, 100], got {}", temperature);
  if (!finite(top_p) || top_p <= 0.0f || top_p > 1.0f)
    return make_error("top_p must be in (0, 1], got {}", top_p);
  if (top_k < 0) return make_error("top_k must be >= 0, got {}", top_k);
  if (!finite(min_p) || min_p < 0.0f || min_p > 1.0f)
    return make_error("min_p must be in [0, 1], got {}", min_p);
  if (!finite(repetition_penalty) || repetition_penalty <= 0.0f || repetition_penalty > 10.0f)
    return make_error("repetition_penalty must be in (0, 10], got {}", repetition_penalty);
  if (!finite(presence_penalty) || std::fabs(presence_penalty) > 2.0f)
    return make_error("presence_penalty must be in [-2, 2], got {}", presence_penalty);
  if (!finite(frequency_penalty) || std::fabs(frequency_penalty) > 2.0f)
    return make_error("frequency_penalty must be in [-2, 2], got {}", frequency_penalty);
  if (penalty_last_n < -1) return make_error("penalty_last_n must be >= -1, got {}", penalty_last_n);
  return {};
}

namespace sampling_steps {

namespace {
void sort_desc(std::vector<Candidate>& c) {
  // Ties broken by id so results never depend on the sort's stability.
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
  });
}
}  // namespace

void apply_penalties(std::vector<Candidate>& c, std::span<const int32_t> recent, float repetition,
                     float presence, float frequency) {
  if (recent.empty() || (repetition == 1.0f && presence == 0.0f && frequency == 0.0f)) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t id : recent) ++counts[id];
  for (auto& cand : c) {
    auto it = counts.find(cand.id);
    if (it == counts.end()) continue;
    if (repetition != 1.0f)
      cand.logit = cand.logit > 0 ? cand.logit / repetition : cand.logit * repetition;
    cand.logit -= static_cast<float>(it->second) * frequency + presence;
  }
}

void top_k(std::vector<Candidate>& c, int32_t k) {
  if (k > 0 && static_cast<size_t>(k) < c.size()) {
    std::partial_sort(c.begin(), c.begin() + k, c.end(), [](const Candidate& a, const Candidate& b) {
      return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
    });
    c.resize(static_cast<size_t>(k));
  }
  // Off (or k >= size): nothing to cut, and no later step needs the list
  // sorted, so the vocabulary is not sorted on every token.
}

void softmax(std::vector<Candidate>& c) {
  sort_desc(c);
  const float max_logit = c.front().logit;
  double sum = 0.0;
  for (auto& cand : c) {
    cand.p = std::exp(cand.logit - max_logit);
    sum += cand.p;
  }
  for (auto& cand : c) cand.p = static_cast<float>(cand.p / sum);
}

void top_p(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f) return;
  // Probabilities without sorting, then a partial sort of a growing head
  // until it holds mass p: usually a few hundred of 150k candidates, so this
  // avoids a full sort of the vocabulary on every token.
  float max_logit = c.front().logit;
  for (const auto& cand : c) max_logit = std::max(max_logit, cand.logit);
  double sum = 0.0;
  for (auto& cand : c) {
    cand.p = std::exp(cand.logit - max_logit);
    sum += cand.p;
  }
  for (auto& cand : c) cand.p = static_cast<float>(cand.p / sum);
  auto by_p = [](const Candidate& a, const Candidate& b) {
    return a.p != b.p ? a.p > b.p : a.id < b.id;
  };
  size_t head = std::min<size_t>(c.size(), 256);
  for (;;) {
    std::partial_sort(c.begin(), c.begin() + static_cast<ptrdiff_t>(head), c.end(), by_p);
    double cum = 0.0;
    for (size_t i = 0; i < head; ++i) {
      cum += c[i].p;
      if (cum >= p) {
        c.resize(i + 1);
        return;
      }
    }
    if (head == c.size()) return;
    head = std::min(c.size(), head * 4);
  }
}

void min_p(std::vector<Candidate>& c, float p) {
  if (p <= 0.0f) return;
  // p_i >= p * p_max  <=>  logit_i >= logit_max + log(p): no softmax or sort
  // needed; the kept candidates stay in their order.
  float max_logit = c.front().logit;
  for (const auto& cand : c) max_logit = std::max(max_logit, cand.logit);
  const float threshold = max_logit + std::log(p);
  std::erase_if(c, [&](const Candidate& cand) { return cand.logit < threshold; });
}

void temperature(std::vector<Candidate>& c, float t) {
  for (auto& cand : c) cand.logit /= t;
}

int32_t greedy(const std::vector<Candidate>& c) {
  const Candidate* best = &c.front();
  for (const auto& cand : c)
    if (cand.logit > best->logit || (cand.logit == best->logit && cand.id < best->id)) best = &cand;
  return best->id;
}

int32_t draw(std::vector<Candidate>& c, std::mt19937_64& rng) {
  // Probabilities in the candidates' current order (no sort: any fixed
  // order draws from the same distribution, and the order is a function of
  // the logits, so a seed still gives the same tokens).
  float max_logit = c.front().logit;
  for (const auto& cand : c) max_logit = std::max(max_logit, cand.logit);
  double sum = 0.0;
  for (auto& cand : c) {
    cand.p = std::exp(cand.logit - max_logit);
    sum += cand.p;
  }
  for (auto& cand : c) cand.p = static_cast<float>(cand.p / sum);
  // 53 random bits → a double in [0, 1); independent of the library's
  // distribution implementation, so a seed means the same on every platform.
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  double cum = 0.0;
  for (const auto& cand : c) {
    cum += cand.p;
    if (u < cum) return cand.id;
  }
  return c.back().id;
}

}  // namespace sampling_steps

Sampler::Sampler(SamplingParams params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  scratch_.reserve(static_cast<size_t>(n_vocab));
}

void Sampler::accept(int32_t id) { history_.push_back(id); }

int32_t Sampler::sample(std::span<const float> logits) {
  namespace s = sampling_steps;
  scratch_.clear();
  const int32_t n = std::min<int32_t>(n_vocab_, static_cast<int32_t>(logits.size()));
  for (int32_t i = 0; i < n; ++i) scratch_.push_back({i, logits[static_cast<size_t>(i)], 0.0f});

  std::span<const int32_t> recent(history_);
  if (params_.penalty_last_n >= 0 && recent.size() > static_cast<size_t>(params_.penalty_last_n))
    recent = recent.last(static_cast<size_t>(params_.penalty_last_n));
  s::apply_penalties(scratch_, recent, params_.repetition_penalty, params_.presence_penalty,
                     params_.frequency_penalty);

  if (params_.temperature <= 0.0f) return s::greedy(scratch_);
  s::top_k(scratch_, params_.top_k);
  s::top_p(scratch_, params_.top_p);
  s::min_p(scratch_, params_.min_p);
  s::temperature(scratch_, params_.temperature);
  return s::draw(scratch_, rng_);
}

}  // namespace frugal::runtime
