// One GRPO step, as DeepSeek-R1 trains: for every prompt sample a group of
// completions with the current weights (runtime::Engine on an exported image,
// the same engine users run), score them with a rule-checked reward, turn the
// rewards into group-relative advantages, and take one AdamW step on the
// clipped GRPO loss (train/grpo.h) computed by the libtorch policy.
//
// `updates_per_batch` AdamW steps per batch of rollouts (TRL's
// num_iterations, DeepSeekMath's mu): the first is on-policy (ratio 1 in
// value, the clip never binds), later ones use the log-probs of the weights
// that sampled as logp_old, so the clip keeps them near those weights.
//
// Resumable: save_checkpoint writes the policy, the AdamW state and the step;
// rollout seeds depend only on (seed, step, prompt, completion), so a run
// resumed from a checkpoint continues exactly as the unbroken run would.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "runtime/engine.h"
#include "train/grpo.h"
#include "train/policy.h"

namespace frugal::train {

struct TrainerOptions {
  int32_t group_size = 8;  // completions per prompt (G)
  int32_t max_completion_tokens = 256;
  float temperature = 1.0f;  // rollout sampling; the loss uses the same softmax
  double learning_rate = 1e-6;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.99;
  double adam_eps = 1e-8;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;     // global L2 clip; <= 0 disables
  int32_t updates_per_batch = 1;  // AdamW steps on each batch of rollouts (mu)
  AdvantageScale advantage_scale = AdvantageScale::Group;
  GrpoOptions loss;  // beta > 0 keeps a frozen reference policy
  uint64_t seed = 0;
  int n_threads = 1;  // rollout engine threads
  bool bf16 = false;  // the update's matrix products in bfloat16 (Bf16Autocast)
};

// The reward of completion `result` of prompt `prompt_index` (rule-checked:
// train/rewards.h for the R1 tasks).
using RewardFn = std::function<double(size_t prompt_index, const runtime::GenerationResult&)>;

struct StepStats {
  int64_t step = 0;  // 1-based number of this step
  double mean_reward = 0;
  double reward_std = 0;  // over all completions of the step
  double loss = 0;
  double mean_kl = 0;
  double clip_fraction = 0;  // of the last update's tokens
  double grad_norm = 0;      // before clipping, of the last update
  double mean_completion_tokens = 0;
  double rollout_s = 0;  // sampling with the engine
  double update_s = 0;   // forward, backward, AdamW
};

class GrpoTrainer {
 public:
  // The policy starts from the GGUF model at `model_path` (qwen2 / llama).
  static Result<std::unique_ptr<GrpoTrainer>> create(const std::string& model_path,
                                                     const TrainerOptions& opt);
  ~GrpoTrainer();

  // One step on `prompts` (token ids, BOS and chat template applied).
  Result<StepStats> step(std::span<const std::vector<int32_t>> prompts, const RewardFn& reward);

  // Writes <dir>/policy.pt, optimizer.pt and state.json (each file written
  // whole, then renamed into place; state.json last). `dir` must exist.
  Status save_checkpoint(const std::string& dir) const;
  // Restores what save_checkpoint wrote; the trainer must have been created
  // from the same model file.
  Status load_checkpoint(const std::string& dir);

  // The current weights as a GGUF image (the source's metadata).
  Result<std::vector<uint8_t>> export_image(gguf::GgmlType matrix_type) const;

  Policy& policy() { return *policy_; }
  int64_t steps_done() const { return steps_; }

 private:
  GrpoTrainer() = default;
  Result<std::unique_ptr<runtime::Engine>> rollout_engine(int64_t n_ctx) const;

  TrainerOptions opt_;
  std::unique_ptr<gguf::File> source_;
  std::shared_ptr<Policy> policy_;
  std::shared_ptr<Policy> reference_;  // frozen copy when loss.beta > 0
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t steps_ = 0;
};

}  // namespace frugal::train
