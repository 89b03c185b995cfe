// The policy GRPO trains: the same decoder the engine runs (qwen2 / llama,
// model/arch/), written over libtorch tensors so autograd gives gradients.
// Built from a GGUF file: hyperparameters through model::load_model (one
// source of truth with the engine), weights dequantized to float32 trainable
// parameters under their GGUF names.
//
// Conventions are the engine's on GGUF weights: RoPE pairs (i, i + D/2) when
// hparams.rope_neox (qwen2), (2i, 2i + 1) otherwise (llama, whose Q/K rows the
// converter permuted), angles divided by `rope_freqs` when the file has it
// (Llama 3 scaling); query head h reads KV head h / (H / Hkv).
//
// Shapes: B sequences, T tokens, E n_embd, V n_vocab, H/Hkv heads, D head_dim,
// F n_ff (model/model.h's legend).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "model/model.h"

namespace frugal::train {

// Mixed precision for a scope: while it lives, libtorch's CPU autocast runs
// matrix products (linear, matmul) in bfloat16; weights, gradients and the
// optimizer state stay float32, and next_token_logprobs takes its softmax in
// float32. Off (a no-op) when constructed with false. Nestable.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool on);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool on_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

class Policy : public torch::nn::Module {
 public:
  static Result<std::shared_ptr<Policy>> from_gguf(const gguf::File& file);

  const model::HParams& hparams() const { return hp_; }

  // tokens [B, T] int64 -> logits [B, T, V] float32. Causal attention over
  // positions 0..T-1 of each row; right padding never affects earlier tokens.
  torch::Tensor forward(const torch::Tensor& tokens);

  // Log-prob of each next token: [B, T-1], entry t = log p(tokens[t+1] | tokens[..t]),
  // under softmax(logits / temperature) (the distribution rollouts sample).
  torch::Tensor next_token_logprobs(const torch::Tensor& tokens, double temperature = 1.0);

  // The trainable tensors by GGUF name (e.g. "blk.0.attn_q.weight"), each
  // in row-major [out, in] / [n] shape.
  const std::map<std::string, torch::Tensor>& weights() const { return by_name_; }

 private:
  explicit Policy(model::HParams hp) : hp_(std::move(hp)) {}
  const torch::Tensor& w(const std::string& name) const { return by_name_.at(name); }
  bool has(const std::string& name) const { return by_name_.count(name) != 0; }
  torch::Tensor rms_norm(const torch::Tensor& x, const std::string& weight) const;
  torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos,
                     const torch::Tensor& sin) const;

  model::HParams hp_;
  std::map<std::string, torch::Tensor> by_name_;
  torch::Tensor rope_freqs_;  // [D/2] Llama 3 RoPE divisors, undefined when absent
};

}  // namespace frugal::train
