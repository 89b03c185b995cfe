// Supervised fine-tuning (next-token cross-entropy) of a Policy: how the
// tiny R1 pipeline pretrains its models on synthetic text and how it
// distills a teacher's checked traces into a student (R1 §2.4: the small
// models were fine-tuned on reasoning data the big one generated).
//
// Each example is one token sequence whose first `n_prompt` tokens are
// context only: the loss covers the tokens after them (all of them when
// n_prompt is 0 or 1). Learning rate: linear warm-up, then cosine decay to
// `min_lr_ratio` of the peak at `total_steps`.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "train/policy.h"

namespace frugal::train {

struct SftExample {
  std::vector<int32_t> tokens;
  int32_t n_prompt = 0;  // leading tokens not scored
};

struct SftOptions {
  double learning_rate = 1e-3;  // peak
  int64_t warmup_steps = 50;
  int64_t total_steps = 1000;  // cosine reaches min_lr_ratio here
  double min_lr_ratio = 0.1;
  double weight_decay = 0.01;
  double max_grad_norm = 1.0;  // <= 0: off
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.95;
  bool bf16 = false;  // matrix products in bfloat16 (Bf16Autocast); weights stay float32
};

class SftTrainer {
 public:
  static Result<std::unique_ptr<SftTrainer>> create(const std::string& model_path,
                                                    const SftOptions& opt);
  ~SftTrainer();

  // One AdamW step on `batch`; returns the mean loss per scored token
  // (before the step). Errors: an empty batch, token ids outside the
  // vocabulary, a sequence longer than the model's context, nothing to score.
  Result<double> step(std::span<const SftExample> batch);
  // The same mean loss without a step (no gradients).
  Result<double> loss(std::span<const SftExample> batch);

  double current_learning_rate() const;
  int64_t steps_done() const { return steps_; }
  Policy& policy() { return *policy_; }
  // The current weights as a GGUF image (the source's metadata).
  Result<std::vector<uint8_t>> export_image(gguf::GgmlType matrix_type) const;

 private:
  SftTrainer() = default;
  Result<torch::Tensor> batch_loss(std::span<const SftExample> batch);

  SftOptions opt_;
  std::unique_ptr<gguf::File> source_;
  std::shared_ptr<Policy> policy_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t steps_ = 0;
};

}  // namespace frugal::train
