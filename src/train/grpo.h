// GRPO (Group Relative Policy Optimization, DeepSeekMath §4.1; the RL step of
// DeepSeek-R1): the advantage of each sampled completion relative to the other
// completions of its prompt, and the clipped policy-gradient loss with a k3 KL
// penalty to a frozen reference, on libtorch tensors so autograd gives the
// gradient.
//
// Conventions follow TRL's GRPOTrainer (the reference the tests check against,
// tools/gen_grpo_golden.py), so numbers compare one to one:
//   advantage  A_i = (r_i - mean_group(r)) / (std_group(r) + 1e-4), std with
//              Bessel's correction; a group whose rewards are all equal gives
//              A = 0 (no signal), which is what GRPO intends.
//   ratio      rho = exp(logp - logp_old) per token
//   per token  l = -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)
//                  + beta (exp(ref - logp) - (ref - logp) - 1)
//   loss       SequenceMean: mean over completions of (sum_t l m / |o_i|)
//                            (DeepSeekMath's 1/G sum_i 1/|o_i| sum_t)
//              TokenMean:    sum l m / (number of completion tokens), every
//                            token weighs the same (DAPO; TRL "bnpo"/"dapo")
//              ConstantNorm: sum l m / (B * max_completion_length) (Dr. GRPO)
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "common/result.h"

namespace frugal::train {

enum class AdvantageScale {
  Group,  // divide by the group's reward std (GRPO)
  Batch,  // divide by the whole batch's reward std
  None,   // centre only (Dr. GRPO)
};

// rewards [B] with B = n_prompts * group_size, completions of one prompt
// adjacent. Returns advantages [B] (float64).
Result<torch::Tensor> group_advantages(const torch::Tensor& rewards, int64_t group_size,
                                       AdvantageScale scale);

enum class LossAggregation { SequenceMean, TokenMean, ConstantNorm };

struct GrpoOptions {
  double epsilon_low = 0.2;   // clip range below 1
  double epsilon_high = 0.2;  // clip range above 1 (DAPO's clip-higher: 0.28)
  double beta = 0.0;          // KL coefficient; 0 skips the reference policy
  LossAggregation aggregation = LossAggregation::SequenceMean;
  int64_t max_completion_length = 0;  // ConstantNorm's denominator, > 0 there
  // TokenMean: the number of tokens to divide by; 0 = the mask's sum. Set it
  // to the whole batch's count when a batch is split into micro-batches.
  double token_normalizer = 0;
};

struct GrpoInputs {
  torch::Tensor logp;        // [B, T] log-prob of each sampled token under the policy (grad)
  torch::Tensor old_logp;    // [B, T] under the policy that sampled; undefined = logp.detach()
  torch::Tensor ref_logp;    // [B, T] under the frozen reference; needed when beta != 0
  torch::Tensor advantages;  // [B]
  torch::Tensor mask;        // [B, T] 1 for completion tokens, 0 for padding
};

struct GrpoLoss {
  torch::Tensor loss;        // scalar, differentiable w.r.t. logp
  double mean_kl = 0;        // token mean of the k3 estimate (0 when beta == 0)
  double clip_fraction = 0;  // share of tokens whose ratio the clip bound held
};

// Checks every shape and option before computing; never aborts on bad input.
Result<GrpoLoss> grpo_loss(const GrpoInputs& in, const GrpoOptions& opt);

}  // namespace frugal::train
