#include "train/policy.h"

#include <ATen/autocast_mode.h>

#include <cmath>
#include <vector>

#include "tensor/quant.h"

namespace frugal::train {
namespace {

// A GGUF tensor as a float32 torch tensor of the same row-major shape
// (GGUF shape[0] is the fastest axis, so [in, out] there is [out, in] here).
Result<torch::Tensor> dequantized(const gguf::TensorInfo& t) {
  if (!tensor::can_dequantize(t.type))
    return make_error("policy: tensor '{}' has a type that cannot be dequantized", t.name);
  std::vector<int64_t> shape(t.shape.rbegin(), t.shape.rend());
  torch::Tensor out = torch::empty(shape, torch::kFloat32);
  FRUGAL_TRY(tensor::dequantize_row(t.type, t.data, out.data_ptr<float>(),
                                    static_cast<int64_t>(t.n_elements)));
  return out;
}

}  // namespace

Bf16Autocast::Bf16Autocast(bool on) : on_(on) {
  if (!on_) return;
  was_enabled_ = at::autocast::is_cpu_enabled();
  previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
  at::autocast::set_cpu_enabled(true);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::increment_nesting();
}

Bf16Autocast::~Bf16Autocast() {
  if (!on_) return;
  // The outermost scope drops the bfloat16 copies of the weights autocast
  // cached, so the next scope sees the weights as updated.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_cpu_enabled(was_enabled_);
  at::autocast::set_autocast_cpu_dtype(previous_dtype_);
}

Result<std::shared_ptr<Policy>> Policy::from_gguf(const gguf::File& file) {
  // The engine's loader checks the architecture, every hyperparameter and
  // every tensor's shape against them; a file it accepts has all we read.
  FRUGAL_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> m, model::load_model(file));
  std::shared_ptr<Policy> p(new Policy(m->hparams()));
  const model::HParams& hp = p->hp_;
  if (hp.head_dim % 2 != 0) return make_error("policy: head_dim {} is odd", hp.head_dim);
  std::vector<std::string> names = {"token_embd.weight", "output_norm.weight"};
  if (file.find_tensor("output.weight") != nullptr) names.push_back("output.weight");
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    for (const char* n :
         {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
          "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
          "ffn_down.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias"}) {
      if (file.find_tensor(b + n) != nullptr) names.push_back(b + n);
    }
  }
  // Llama 3's RoPE scaling: per-pair divisors of the angle, a constant.
  if (const gguf::TensorInfo* rf = file.find_tensor("rope_freqs.weight")) {
    FRUGAL_ASSIGN_OR_RETURN(torch::Tensor f, dequantized(*rf));
    if (f.numel() != hp.head_dim / 2)
      return make_error("policy: rope_freqs has {} entries, want head_dim / 2 = {}", f.numel(),
                        hp.head_dim / 2);
    p->rope_freqs_ = p->register_buffer("rope_freqs", f.reshape({hp.head_dim / 2}));
  }
  for (const std::string& name : names) {
    const gguf::TensorInfo* t = file.find_tensor(name);
    if (t == nullptr) return make_error("policy: missing tensor '{}'", name);
    FRUGAL_ASSIGN_OR_RETURN(torch::Tensor x, dequantized(*t));
    // register_parameter wants names without dots.
    std::string key = name;
    for (char& c : key)
      if (c == '.') c = '_';
    p->by_name_[name] = p->register_parameter(key, x);
  }
  return p;
}

torch::Tensor Policy::rms_norm(const torch::Tensor& x, const std::string& weight) const {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + hp_.rms_eps) * w(weight);
}

// x [B, T, h, D]; cos, sin [T, D/2].
torch::Tensor Policy::rope(const torch::Tensor& x, const torch::Tensor& cos,
                           const torch::Tensor& sin) const {
  const int64_t half = hp_.head_dim / 2;
  const torch::Tensor c = cos.unsqueeze(0).unsqueeze(2);  // [1, T, 1, D/2]
  const torch::Tensor s = sin.unsqueeze(0).unsqueeze(2);
  if (hp_.rope_neox) {
    const torch::Tensor a = x.narrow(-1, 0, half), b = x.narrow(-1, half, half);
    return torch::cat({a * c - b * s, b * c + a * s}, -1);
  }
  const auto sizes = x.sizes().vec();
  const torch::Tensor pairs = x.reshape({sizes[0], sizes[1], sizes[2], half, 2});
  const torch::Tensor a = pairs.select(-1, 0), b = pairs.select(-1, 1);
  return torch::stack({a * c - b * s, b * c + a * s}, -1).reshape(sizes);
}

torch::Tensor Policy::forward(const torch::Tensor& tokens) {
  const int64_t n_b = tokens.size(0), n_t = tokens.size(1);
  const int64_t H = hp_.n_head, Hkv = hp_.n_head_kv, D = hp_.head_dim;
  // Rotation angles: position * theta^(-2i/D), i < D/2.
  const torch::Tensor inv_freq =
      torch::pow(hp_.rope_theta, -torch::arange(0, D, 2, torch::kFloat64) / static_cast<double>(D));
  torch::Tensor angle = torch::outer(torch::arange(n_t, torch::kFloat64), inv_freq);  // [T, D/2]
  if (rope_freqs_.defined()) angle = angle / rope_freqs_.to(torch::kFloat64);
  angle = angle.to(torch::kFloat32);
  const torch::Tensor cos = angle.cos(), sin = angle.sin();
  const torch::Tensor causal =
      torch::ones({n_t, n_t}, torch::kBool).triu(1);  // [T, T], true above the diagonal

  torch::Tensor x = torch::embedding(w("token_embd.weight"), tokens);  // [B, T, E]
  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const torch::Tensor h = rms_norm(x, b + "attn_norm.weight");
    auto proj = [&](const char* n) {
      const std::string bias = b + n + ".bias";
      return torch::linear(h, w(b + n + ".weight"), has(bias) ? w(bias) : torch::Tensor());
    };
    torch::Tensor q = proj("attn_q").view({n_b, n_t, H, D});              // [B, T, H, D]
    torch::Tensor k = proj("attn_k").view({n_b, n_t, Hkv, D});            // [B, T, Hkv, D]
    torch::Tensor v = proj("attn_v").view({n_b, n_t, Hkv, D});            // [B, T, Hkv, D]
    q = rope(q, cos, sin).transpose(1, 2);                                // [B, H, T, D]
    k = rope(k, cos, sin).transpose(1, 2).repeat_interleave(H / Hkv, 1);  // [B, H, T, D]
    v = v.transpose(1, 2).repeat_interleave(H / Hkv, 1);                  // [B, H, T, D]
    torch::Tensor scores =
        torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(D));
    scores = scores.masked_fill(causal, -std::numeric_limits<float>::infinity());  // [B, H, T, T]
    const torch::Tensor attn = torch::matmul(torch::softmax(scores, -1), v);       // [B, H, T, D]
    x = x +
        torch::linear(attn.transpose(1, 2).reshape({n_b, n_t, H * D}), w(b + "attn_output.weight"));
    const torch::Tensor f = rms_norm(x, b + "ffn_norm.weight");
    const torch::Tensor gate =
        torch::silu(torch::linear(f, w(b + "ffn_gate.weight")));  // [B, T, F]
    x = x +
        torch::linear(gate * torch::linear(f, w(b + "ffn_up.weight")), w(b + "ffn_down.weight"));
  }
  x = rms_norm(x, "output_norm.weight");
  return torch::linear(x, has("output.weight") ? w("output.weight") : w("token_embd.weight"));
}

torch::Tensor Policy::next_token_logprobs(const torch::Tensor& tokens, double temperature) {
  const int64_t n_t = tokens.size(1);
  // float32 for the softmax whatever the products ran in (Bf16Autocast).
  torch::Tensor logits = forward(tokens).narrow(1, 0, n_t - 1).to(torch::kFloat32);  // [B, T-1, V]
  if (temperature != 1.0) logits = logits / temperature;
  const torch::Tensor next = tokens.narrow(1, 1, n_t - 1).unsqueeze(-1);
  return torch::log_softmax(logits, -1).gather(-1, next).squeeze(-1);  // [B, T-1]
}

}  // namespace frugal::train
