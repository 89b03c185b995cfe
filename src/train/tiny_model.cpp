#include "train/tiny_model.h"

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>

#include "gguf/gguf_writer.h"
#include "tokenizer/byte_level.h"

namespace frugal::train {
namespace {

// Ours, in the R1 distills' format: what chat::render_deepseek_r1 renders.
constexpr const char* kChatTemplate =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ message['content'] }}{% endif %}{% endfor %}{% for message in messages %}"
    "{% if message['role'] == 'user' %}<｜User｜>{{ message['content'] }}"
    "{% elif message['role'] == 'assistant' %}<｜Assistant｜>"
    "{{ message['content'].split('</think>')[-1] }}<｜end▁of▁sentence｜>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜><think>\n{% endif %}";

constexpr int32_t kTypeNormal = 1, kTypeControl = 3, kTypeUserDefined = 4;

// N(0, std²) floats from a seeded generator; Box-Muller by hand so the same
// seed gives the same weights with every standard library.
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : rng_(seed) {}
  float operator()(float std) {
    const double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    return static_cast<float>(std * std::sqrt(-2.0 * std::log(u1)) *
                              std::cos(2.0 * std::numbers::pi * u2));
  }

 private:
  std::mt19937_64 rng_;
};

std::span<const uint8_t> as_bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

}  // namespace

int64_t tiny_model_parameters(const TinyModelShape& s) {
  const int64_t d = s.n_embd / s.n_head, kv = s.n_head_kv * d;
  const int64_t per_layer = 2 * s.n_embd                      // norms
                            + s.n_embd * s.n_embd + s.n_embd  // q + bias
                            + 2 * (s.n_embd * kv + kv)        // k, v + biases
                            + s.n_embd * s.n_embd             // output
                            + 3 * s.n_embd * s.n_ff;          // gate, up, down
  return kTinyVocabSize * s.n_embd + s.n_layer * per_layer + s.n_embd;
}

Result<std::vector<uint8_t>> tiny_model_image(const TinyModelShape& s, uint64_t seed) {
  if (s.n_embd <= 0 || s.n_layer <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 || s.n_ff <= 0 ||
      s.n_ctx <= 0)
    return make_error("tiny model: every size must be positive");
  if (s.n_embd % s.n_head != 0 || s.n_head % s.n_head_kv != 0 || (s.n_embd / s.n_head) % 2 != 0)
    return make_error(
        "tiny model: n_embd {} / n_head {} / n_head_kv {} do not divide into even heads", s.n_embd,
        s.n_head, s.n_head_kv);
  const int64_t E = s.n_embd, F = s.n_ff, D = E / s.n_head, KV = s.n_head_kv * D;

  gguf::Writer w;
  w.set_string("general.architecture", "qwen2");
  w.set_string("general.name", s.name);
  w.set_u32("general.file_type", 0);  // all F32
  w.set_u32("qwen2.context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32("qwen2.embedding_length", static_cast<uint32_t>(E));
  w.set_u32("qwen2.block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32("qwen2.feed_forward_length", static_cast<uint32_t>(F));
  w.set_u32("qwen2.attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32("qwen2.attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_f32("qwen2.attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_f32("qwen2.rope.freq_base", 10000.0f);

  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(tokenizer::byte_to_unicode(static_cast<uint8_t>(b)));
    types.push_back(kTypeNormal);
  }
  for (const char* t :
       {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"}) {
    tokens.emplace_back(t);
    types.push_back(kTypeControl);
  }
  for (const char* t : {"<think>", "</think>", "<answer>", "</answer>"}) {
    tokens.emplace_back(t);
    types.push_back(kTypeUserDefined);
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "deepseek-r1-qwen");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", {});
  w.set_u32("tokenizer.ggml.bos_token_id", 256);
  w.set_u32("tokenizer.ggml.eos_token_id", 257);
  w.set_u32("tokenizer.ggml.padding_token_id", 257);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  w.set_string("tokenizer.chat_template", kChatTemplate);

  Gaussian g(seed);
  const float std = 0.02f, out_std = std / std::sqrt(2.0f * static_cast<float>(s.n_layer));
  // GGUF shapes list the row length first: [in, out] for an out x in matrix.
  auto add = [&](const std::string& name, std::vector<uint64_t> shape, float fill_std,
                 float constant) -> Status {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    std::vector<float> v(n, constant);
    if (fill_std > 0)
      for (float& x : v) x = g(fill_std);
    return w.add_tensor(name, gguf::GgmlType::F32, std::move(shape), as_bytes(v));
  };
  const auto u = [](int64_t x) { return static_cast<uint64_t>(x); };
  FRUGAL_TRY(add("token_embd.weight", {u(E), u(kTinyVocabSize)}, std, 0));
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    FRUGAL_TRY(add(b + "attn_norm.weight", {u(E)}, 0, 1));
    FRUGAL_TRY(add(b + "attn_q.weight", {u(E), u(E)}, std, 0));
    FRUGAL_TRY(add(b + "attn_q.bias", {u(E)}, 0, 0));
    FRUGAL_TRY(add(b + "attn_k.weight", {u(E), u(KV)}, std, 0));
    FRUGAL_TRY(add(b + "attn_k.bias", {u(KV)}, 0, 0));
    FRUGAL_TRY(add(b + "attn_v.weight", {u(E), u(KV)}, std, 0));
    FRUGAL_TRY(add(b + "attn_v.bias", {u(KV)}, 0, 0));
    FRUGAL_TRY(add(b + "attn_output.weight", {u(E), u(E)}, out_std, 0));
    FRUGAL_TRY(add(b + "ffn_norm.weight", {u(E)}, 0, 1));
    FRUGAL_TRY(add(b + "ffn_gate.weight", {u(E), u(F)}, std, 0));
    FRUGAL_TRY(add(b + "ffn_up.weight", {u(E), u(F)}, std, 0));
    FRUGAL_TRY(add(b + "ffn_down.weight", {u(F), u(E)}, out_std, 0));
  }
  FRUGAL_TRY(add("output_norm.weight", {u(E)}, 0, 1));
  return w.to_bytes();
}

}  // namespace frugal::train
