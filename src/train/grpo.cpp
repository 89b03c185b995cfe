#include "train/grpo.h"

#include <cmath>

namespace frugal::train {
namespace {

std::string shape_of(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

Status check_bt(const char* name, const torch::Tensor& t, int64_t b, int64_t n_t) {
  if (!t.defined() || t.dim() != 2 || t.size(0) != b || t.size(1) != n_t)
    return make_error("grpo: {} must be [{}, {}], got {}", name, b, n_t, shape_of(t));
  if (!t.is_floating_point()) return make_error("grpo: {} must be floating point", name);
  return {};
}

}  // namespace

Result<torch::Tensor> group_advantages(const torch::Tensor& rewards, int64_t group_size,
                                       AdvantageScale scale) {
  if (!rewards.defined() || rewards.dim() != 1)
    return make_error("grpo: rewards must be [B], got {}", shape_of(rewards));
  if (group_size < 2)
    return make_error("grpo: group size {} (a group needs at least 2 completions)", group_size);
  const int64_t b = rewards.size(0);
  if (b == 0 || b % group_size != 0)
    return make_error("grpo: {} rewards do not split into groups of {}", b, group_size);
  const torch::Tensor r = rewards.to(torch::kFloat64).view({b / group_size, group_size});
  if (!torch::isfinite(r).all().item<bool>()) return make_error("grpo: a reward is not finite");
  torch::Tensor adv = r - r.mean(1, /*keepdim=*/true);
  if (scale == AdvantageScale::Group) {
    adv = adv / (r.std(1, /*unbiased=*/true, /*keepdim=*/true) + 1e-4);
  } else if (scale == AdvantageScale::Batch) {
    adv = adv / (r.std(/*unbiased=*/true) + 1e-4);
  }
  return adv.reshape({b});
}

Result<GrpoLoss> grpo_loss(const GrpoInputs& in, const GrpoOptions& opt) {
  if (!in.logp.defined() || in.logp.dim() != 2)
    return make_error("grpo: logp must be [B, T], got {}", shape_of(in.logp));
  const int64_t b = in.logp.size(0), n_t = in.logp.size(1);
  if (b == 0 || n_t == 0) return make_error("grpo: empty batch {}", shape_of(in.logp));
  FRUGAL_TRY(check_bt("logp", in.logp, b, n_t));
  FRUGAL_TRY(check_bt("mask", in.mask, b, n_t));
  if (in.old_logp.defined()) FRUGAL_TRY(check_bt("old_logp", in.old_logp, b, n_t));
  if (!in.advantages.defined() || in.advantages.dim() != 1 || in.advantages.size(0) != b)
    return make_error("grpo: advantages must be [{}], got {}", b, shape_of(in.advantages));
  if (!(opt.epsilon_low >= 0 && opt.epsilon_low < 1 && opt.epsilon_high >= 0 &&
        std::isfinite(opt.epsilon_high)))
    return make_error(
        "grpo: clip range eps_low {} eps_high {} (need 0 <= eps_low < 1, eps_high >= 0)",
        opt.epsilon_low, opt.epsilon_high);
  if (!(opt.beta >= 0 && std::isfinite(opt.beta)))
    return make_error("grpo: beta {} (need a finite value >= 0)", opt.beta);
  if (opt.beta != 0) FRUGAL_TRY(check_bt("ref_logp", in.ref_logp, b, n_t));
  if (opt.aggregation == LossAggregation::ConstantNorm && opt.max_completion_length <= 0)
    return make_error("grpo: the constant normalizer needs max_completion_length > 0");
  if (!(opt.token_normalizer >= 0 && std::isfinite(opt.token_normalizer)))
    return make_error("grpo: token normalizer {} (need >= 0)", opt.token_normalizer);

  const auto dtype = in.logp.scalar_type();
  const torch::Tensor& logp = in.logp;  // [B, T]
  const torch::Tensor old = in.old_logp.defined() ? in.old_logp.to(dtype) : logp.detach();
  const torch::Tensor mask = in.mask.to(dtype);                    // [B, T]
  const torch::Tensor adv = in.advantages.to(dtype).unsqueeze(1);  // [B, 1]

  const torch::Tensor ratio = torch::exp(logp - old);  // [B, T]
  const torch::Tensor clipped = torch::clamp(ratio, 1 - opt.epsilon_low, 1 + opt.epsilon_high);
  torch::Tensor per_token = -torch::min(ratio * adv, clipped * adv);  // [B, T]
  GrpoLoss out;
  const torch::Tensor n_tokens = mask.sum().clamp_min(1);
  if (opt.beta != 0) {
    const torch::Tensor d = in.ref_logp.to(dtype) - logp;
    const torch::Tensor kl = torch::exp(d) - d - 1;  // [B, T], k3 >= 0
    per_token = per_token + opt.beta * kl;
    out.mean_kl = ((kl * mask).sum() / n_tokens).item<double>();
  }
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor held =
        ((ratio < 1 - opt.epsilon_low) & (adv < 0)) | ((ratio > 1 + opt.epsilon_high) & (adv > 0));
    out.clip_fraction = ((held.to(dtype) * mask).sum() / n_tokens).item<double>();
  }
  const torch::Tensor masked = per_token * mask;
  switch (opt.aggregation) {
    case LossAggregation::SequenceMean:
      out.loss = (masked.sum(1) / mask.sum(1).clamp_min(1)).mean();
      break;
    case LossAggregation::TokenMean:
      out.loss =
          opt.token_normalizer > 0 ? masked.sum() / opt.token_normalizer : masked.sum() / n_tokens;
      break;
    case LossAggregation::ConstantNorm:
      out.loss = masked.sum() / static_cast<double>(b * opt.max_completion_length);
      break;
  }
  return out;
}

}  // namespace frugal::train
