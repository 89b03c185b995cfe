#include "train/sft.h"

#include <cmath>
#include <numbers>

#include "train/export.h"

namespace frugal::train {

SftTrainer::~SftTrainer() = default;

Result<std::unique_ptr<SftTrainer>> SftTrainer::create(const std::string& model_path,
                                                       const SftOptions& opt) {
  if (!(opt.learning_rate > 0) || !std::isfinite(opt.learning_rate))
    return make_error("sft: learning rate must be > 0, got {}", opt.learning_rate);
  if (opt.warmup_steps < 0 || opt.total_steps < 1)
    return make_error("sft: need warmup >= 0 and total steps >= 1");
  if (!(opt.min_lr_ratio >= 0 && opt.min_lr_ratio <= 1))
    return make_error("sft: min_lr_ratio must be in [0, 1], got {}", opt.min_lr_ratio);
  if (!(opt.weight_decay >= 0)) return make_error("sft: weight decay must be >= 0");
  std::unique_ptr<SftTrainer> t(new SftTrainer());
  t->opt_ = opt;
  FRUGAL_ASSIGN_OR_RETURN(t->source_, gguf::File::open(model_path));
  FRUGAL_ASSIGN_OR_RETURN(t->policy_, Policy::from_gguf(*t->source_));
  t->optimizer_ = std::make_unique<torch::optim::AdamW>(
      t->policy_->parameters(), torch::optim::AdamWOptions(opt.learning_rate)
                                    .betas({opt.adam_beta1, opt.adam_beta2})
                                    .weight_decay(opt.weight_decay));
  return t;
}

double SftTrainer::current_learning_rate() const {
  const double s = static_cast<double>(steps_);
  if (steps_ < opt_.warmup_steps) return opt_.learning_rate * (s + 1) / (opt_.warmup_steps + 1);
  const double span =
      std::max<double>(1, static_cast<double>(opt_.total_steps - opt_.warmup_steps));
  const double progress = std::min(1.0, (s - static_cast<double>(opt_.warmup_steps)) / span);
  const double cosine = 0.5 * (1 + std::cos(std::numbers::pi * progress));
  return opt_.learning_rate * (opt_.min_lr_ratio + (1 - opt_.min_lr_ratio) * cosine);
}

Result<torch::Tensor> SftTrainer::batch_loss(std::span<const SftExample> batch) {
  if (batch.empty()) return make_error("sft: empty batch");
  const int64_t n_vocab = policy_->hparams().n_vocab, n_ctx = policy_->hparams().n_ctx_train;
  int64_t T = 2;
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto n = static_cast<int64_t>(batch[i].tokens.size());
    if (n > n_ctx && n_ctx > 0)
      return make_error("sft: example {} has {} tokens, more than the context {}", i, n, n_ctx);
    for (int32_t id : batch[i].tokens)
      if (id < 0 || id >= n_vocab)
        return make_error("sft: example {} has token id {} outside [0, {})", i, id, n_vocab);
    T = std::max(T, n);
  }
  const auto B = static_cast<int64_t>(batch.size());
  torch::Tensor tokens = torch::zeros({B, T}, torch::kInt64);      // [B, T], right-padded
  torch::Tensor mask = torch::zeros({B, T - 1}, torch::kFloat32);  // [B, T-1]: t predicts t+1
  auto tok = tokens.accessor<int64_t, 2>();
  auto msk = mask.accessor<float, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const SftExample& e = batch[static_cast<size_t>(b)];
    const auto n = static_cast<int64_t>(e.tokens.size());
    for (int64_t t = 0; t < n; ++t) tok[b][t] = e.tokens[static_cast<size_t>(t)];
    for (int64_t t = std::max<int64_t>(1, e.n_prompt); t < n; ++t) msk[b][t - 1] = 1.0f;
  }
  const double n_scored = mask.sum().item<double>();
  if (n_scored == 0) return make_error("sft: the batch has no token to score");
  Bf16Autocast autocast(opt_.bf16);
  const torch::Tensor logp = policy_->next_token_logprobs(tokens);  // [B, T-1]
  return -(logp * mask).sum() / n_scored;
}

Result<double> SftTrainer::step(std::span<const SftExample> batch) {
  try {
    policy_->train();
    FRUGAL_ASSIGN_OR_RETURN(torch::Tensor loss, batch_loss(batch));
    const double value = loss.item<double>();
    if (!std::isfinite(value)) return make_error("sft: the loss is not finite");
    for (auto& group : optimizer_->param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(current_learning_rate());
    optimizer_->zero_grad();
    loss.backward();
    if (opt_.max_grad_norm > 0)
      torch::nn::utils::clip_grad_norm_(policy_->parameters(), opt_.max_grad_norm);
    optimizer_->step();
    ++steps_;
    return value;
  } catch (const c10::Error& e) {
    return make_error("sft: libtorch failed: {}", e.what_without_backtrace());
  }
}

Result<double> SftTrainer::loss(std::span<const SftExample> batch) {
  try {
    torch::NoGradGuard no_grad;
    policy_->eval();
    FRUGAL_ASSIGN_OR_RETURN(torch::Tensor loss, batch_loss(batch));
    return loss.item<double>();
  } catch (const c10::Error& e) {
    return make_error("sft: libtorch failed: {}", e.what_without_backtrace());
  }
}

Result<std::vector<uint8_t>> SftTrainer::export_image(gguf::GgmlType matrix_type) const {
  return export_gguf(*policy_, *source_, ExportOptions{matrix_type});
}

}  // namespace frugal::train
