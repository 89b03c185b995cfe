// `frugal mkmodel` (hidden): writes a random-weight GGUF in the exact shapes of
// a real model, for benchmarks (bench/README.md). Timing depends on shapes and
// tensor types, not on the values, so such a file measures what the real model
// would; it is a complete model (tokenizer metadata copied from --vocab) that
// llama.cpp loads too.
//
// The file is streamed: the header is built with gguf::ByteBuilder and
// gguf::encode_value (the writer's low-level half), then each tensor is
// quantized and written in turn. gguf::Writer keeps every tensor in memory and
// builds the whole image again in to_bytes(), which for a 7B Q8_0 file would be
// 16 GB. The result is re-opened with gguf::File to validate it.
//
// Values: weights uniform in ±0.05 (activations stay finite through 28
// layers), biases ±0.01, norms 1. To keep a 1.5B file under a minute, each
// tensor draws its rows from a pool of kPoolRows distinct quantized random
// rows (every row still has its own bytes in the file, so memory traffic is
// that of a real model).
#include <cstdio>
#include <cstring>
#include <map>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/quant.h"

namespace frugal::cli {

namespace {

using gguf::GgmlType;

constexpr int kPoolRows = 256;
constexpr uint64_t kAlign = 32;

struct Shape {
  const char* name;
  const char* general_name;
  int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
  float rope_theta, rms_eps;
};

// DeepSeek-R1-Distill-Qwen-{1.5B,7B} hyperparameters (from their config.json).
constexpr Shape kShapes[] = {
    {"r1-qwen-1.5b", "DeepSeek-R1-Distill-Qwen-1.5B (random weights)", 1536, 28, 12, 2, 8960,
     151936, 131072, 10000.0f, 1e-6f},
    {"r1-qwen-7b", "DeepSeek-R1-Distill-Qwen-7B (random weights)", 3584, 28, 28, 4, 18944, 152064,
     131072, 10000.0f, 1e-6f},
};

// Quantization mixes. Q4_K_M follows llama-quantize's rule: attn_v and
// ffn_down get Q6_K on the first and last eighth of the layers and on every
// third layer in between; output Q6_K; the other matrices Q4_K.
struct Mix {
  const char* name;
  uint32_t file_type;  // llama_ftype numbering
  GgmlType base;
  GgmlType output;
  bool k_mix;
};
constexpr Mix kMixes[] = {
    {"q4_0", 2, GgmlType::Q4_0, GgmlType::Q6_K, false},
    {"q8_0", 7, GgmlType::Q8_0, GgmlType::Q8_0, false},
    {"q4_k_m", 15, GgmlType::Q4_K, GgmlType::Q6_K, true},
};

bool more_bits_layer(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

struct TensorPlan {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> shape;  // shape[0] = row length
  float fill;                   // > 0: uniform in ±fill; 0: all ones
  uint64_t n_bytes = 0;
};

// xorshift64*: fast, deterministic, good enough for weights nobody reads.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
  float uniform(float a) {  // in [-a, a)
    const uint64_t r = next();
    return a * (static_cast<float>(r >> 40) / static_cast<float>(1 << 23) - 1.0f);
  }
};

Status write_tensor_data(std::FILE* f, const TensorPlan& t, Rng& rng) {
  const int64_t n_in = static_cast<int64_t>(t.shape[0]);
  const int64_t n_rows = t.shape.size() > 1 ? static_cast<int64_t>(t.shape[1]) : 1;
  const uint64_t row_bytes = *gguf::row_size(t.type, n_in);
  std::vector<float> src(n_in);  // [n_in]
  if (t.fill == 0.0f) {          // norms: ones, F32 vectors
    std::fill(src.begin(), src.end(), 1.0f);
    for (int64_t r = 0; r < n_rows; ++r)
      if (std::fwrite(src.data(), 4, n_in, f) != static_cast<size_t>(n_in))
        return make_error("mkmodel: short write");
    return {};
  }
  const int pool_n = static_cast<int>(std::min<int64_t>(kPoolRows, n_rows));
  std::vector<uint8_t> pool(pool_n * row_bytes);  // [pool_n, row_bytes]
  for (int i = 0; i < pool_n; ++i) {
    for (auto& x : src) x = rng.uniform(t.fill);
    if (t.type == GgmlType::F32) {
      std::memcpy(pool.data() + i * row_bytes, src.data(), row_bytes);
    } else {
      FRUGAL_TRY(tensor::quantize_row(t.type, src.data(), pool.data() + i * row_bytes, n_in));
    }
  }
  std::vector<uint8_t> out;  // rows in chunks of up to 64 MiB
  const int64_t rows_per_chunk = std::max<int64_t>(1, (int64_t{64} << 20) / row_bytes);
  for (int64_t r0 = 0; r0 < n_rows; r0 += rows_per_chunk) {
    const int64_t nr = std::min(rows_per_chunk, n_rows - r0);
    out.resize(nr * row_bytes);
    for (int64_t r = 0; r < nr; ++r) {
      const uint64_t pick = rng.next() % pool_n;
      std::memcpy(out.data() + r * row_bytes, pool.data() + pick * row_bytes, row_bytes);
    }
    if (std::fwrite(out.data(), 1, out.size(), f) != out.size())
      return make_error("mkmodel: short write");
  }
  return {};
}

Status make_model(const Shape& sh, const Mix& mix, int64_t n_layer, const std::string& vocab_path,
                  const std::string& out_path, uint64_t seed) {
  const int64_t E = sh.n_embd, F = sh.n_ff, V = sh.n_vocab;
  const int64_t D = E / sh.n_head, KV = sh.n_head_kv * D;
  std::vector<TensorPlan> plan;
  auto add = [&](std::string name, GgmlType type, std::vector<uint64_t> shape, float fill) {
    plan.push_back({std::move(name), type, std::move(shape), fill});
  };
  const auto U = [](int64_t x) { return static_cast<uint64_t>(x); };
  constexpr float kW = 0.05f, kB = 0.01f;
  add("token_embd.weight", mix.base, {U(E), U(V)}, kW);
  add("output_norm.weight", GgmlType::F32, {U(E)}, 0);
  add("output.weight", mix.output, {U(E), U(V)}, kW);
  for (int64_t i = 0; i < n_layer; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    const GgmlType hi = mix.k_mix && more_bits_layer(i, n_layer) ? GgmlType::Q6_K : mix.base;
    add(b + "attn_norm.weight", GgmlType::F32, {U(E)}, 0);
    add(b + "attn_q.weight", mix.base, {U(E), U(E)}, kW);
    add(b + "attn_q.bias", GgmlType::F32, {U(E)}, kB);
    add(b + "attn_k.weight", mix.base, {U(E), U(KV)}, kW);
    add(b + "attn_k.bias", GgmlType::F32, {U(KV)}, kB);
    add(b + "attn_v.weight", hi, {U(E), U(KV)}, kW);
    add(b + "attn_v.bias", GgmlType::F32, {U(KV)}, kB);
    add(b + "attn_output.weight", mix.base, {U(E), U(E)}, kW);
    add(b + "ffn_norm.weight", GgmlType::F32, {U(E)}, 0);
    add(b + "ffn_gate.weight", mix.base, {U(E), U(F)}, kW);
    add(b + "ffn_up.weight", mix.base, {U(E), U(F)}, kW);
    add(b + "ffn_down.weight", hi, {U(F), U(E)}, kW);
  }
  for (auto& t : plan) {
    auto rs = gguf::row_size(t.type, t.shape[0]);
    if (!rs)
      return make_error("mkmodel: tensor '{}': row of {} not whole {} blocks", t.name, t.shape[0],
                        gguf::type_name(t.type));
    t.n_bytes = *rs * (t.shape.size() > 1 ? t.shape[1] : 1);
  }

  // Metadata: architecture first, then hyperparameters, then the tokenizer.
  std::vector<std::pair<std::string, gguf::Value>> kv;
  kv.emplace_back("general.architecture", gguf::make_string("qwen2"));
  kv.emplace_back("general.name", gguf::make_string(sh.general_name));
  kv.emplace_back("general.file_type", gguf::make_uint(gguf::ValueType::UINT32, mix.file_type));
  kv.emplace_back("general.quantization_version", gguf::make_uint(gguf::ValueType::UINT32, 2));
  auto u32 = [](int64_t v) {
    return gguf::make_uint(gguf::ValueType::UINT32, static_cast<uint64_t>(v));
  };
  kv.emplace_back("qwen2.context_length", u32(sh.n_ctx));
  kv.emplace_back("qwen2.embedding_length", u32(E));
  kv.emplace_back("qwen2.block_count", u32(n_layer));
  kv.emplace_back("qwen2.feed_forward_length", u32(F));
  kv.emplace_back("qwen2.attention.head_count", u32(sh.n_head));
  kv.emplace_back("qwen2.attention.head_count_kv", u32(sh.n_head_kv));
  kv.emplace_back("qwen2.rope.freq_base",
                  gguf::make_float(gguf::ValueType::FLOAT32, sh.rope_theta));
  kv.emplace_back("qwen2.attention.layer_norm_rms_epsilon",
                  gguf::make_float(gguf::ValueType::FLOAT32, sh.rms_eps));
  std::unique_ptr<gguf::File> vocab;
  if (!vocab_path.empty()) {
    auto vf = gguf::File::open(vocab_path);
    if (!vf.ok()) return vf.error();
    vocab = std::move(*vf);
    for (const auto& [key, value] : vocab->metadata()) {
      if (key.rfind("tokenizer.", 0) != 0) continue;
      gguf::Value v = value;
      // The 7B's embedding has 128 more rows than the tokenizer has tokens;
      // converted files pad the vocabulary with unused "[PAD<i>]" tokens.
      if (key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.token_type") {
        const gguf::Array* a = value.as_array();
        if (!a || static_cast<int64_t>(a->size()) > V)
          return make_error("mkmodel: --vocab '{}': {} has more than {} entries", vocab_path, key,
                            V);
        std::vector<gguf::Value> items = gguf::Array(*a).items();
        for (int64_t i = static_cast<int64_t>(items.size()); i < V; ++i)
          items.push_back(key == "tokenizer.ggml.tokens"
                              ? gguf::make_string(fmt::format("[PAD{}]", i))
                              : gguf::make_int(gguf::ValueType::INT32, 5));  // UNUSED
        v = gguf::make_array(a->elem_type(), std::move(items));
      }
      kv.emplace_back(key, std::move(v));
    }
  }

  gguf::ByteBuilder h;
  h.raw("GGUF", 4).u32(3).u64(plan.size()).u64(kv.size());
  for (const auto& [key, v] : kv) {
    h.str(key).u32(static_cast<uint32_t>(v.type));
    gguf::encode_value(h, v);
  }
  uint64_t offset = 0;
  for (const auto& t : plan) {
    h.str(t.name).u32(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) h.u64(d);
    h.u32(static_cast<uint32_t>(t.type)).u64(offset);
    offset += (t.n_bytes + kAlign - 1) / kAlign * kAlign;
  }
  h.pad_to(kAlign);

  std::FILE* f = std::fopen(out_path.c_str(), "wb");
  if (!f) return make_error("mkmodel: cannot create '{}': {}", out_path, std::strerror(errno));
  Rng rng{seed * 0x9E3779B97F4A7C15ULL + 1};
  Status st;
  if (std::fwrite(h.bytes().data(), 1, h.size(), f) != h.size())
    st = make_error("mkmodel: short write");
  static const uint8_t zeros[kAlign] = {};
  for (size_t i = 0; st.ok() && i < plan.size(); ++i) {
    st = write_tensor_data(f, plan[i], rng);
    const uint64_t pad = (kAlign - plan[i].n_bytes % kAlign) % kAlign;
    if (st.ok() && pad && std::fwrite(zeros, 1, pad, f) != pad)
      st = make_error("mkmodel: short write");
  }
  if (std::fclose(f) != 0 && st.ok()) st = make_error("mkmodel: cannot finish '{}'", out_path);
  if (!st.ok()) return st;
  auto check = gguf::File::open(out_path);  // what we wrote must read back
  if (!check.ok())
    return make_error("mkmodel: wrote an unreadable file: {}", check.error().message);
  return {};
}

}  // namespace

Action add_mkmodel_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("mkmodel", "Write a random-weight GGUF in a real model's shapes");
  cmd->group("");  // hidden: a benchmarking tool, not a user verb
  struct Opts {
    std::string shape, type, out, vocab;
    int64_t layers = 0;
    uint64_t seed = 1;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--shape", o->shape, "r1-qwen-1.5b or r1-qwen-7b")->required();
  cmd->add_option("--type", o->type, "q4_0, q8_0 or q4_k_m")->required();
  cmd->add_option("-o,--output", o->out, "File to write")->required();
  cmd->add_option("--vocab", o->vocab, "GGUF whose tokenizer.* metadata to copy");
  cmd->add_option("--layers", o->layers, "Fewer layers than the real model (quick tests)");
  cmd->add_option("--seed", o->seed, "Random seed (default 1)");
  return [o]() -> int {
    const Shape* sh = nullptr;
    for (const auto& s : kShapes)
      if (o->shape == s.name) sh = &s;
    if (!sh)
      return fail(fmt::format("mkmodel: --shape '{}' is not r1-qwen-1.5b or r1-qwen-7b", o->shape));
    const Mix* mix = nullptr;
    for (const auto& m : kMixes)
      if (o->type == m.name) mix = &m;
    if (!mix) return fail(fmt::format("mkmodel: --type '{}' is not q4_0, q8_0 or q4_k_m", o->type));
    if (o->layers < 0 || o->layers > sh->n_layer)
      return fail(fmt::format("mkmodel: --layers {} is not in 1..{}", o->layers, sh->n_layer));
    const int64_t n_layer = o->layers ? o->layers : sh->n_layer;
    if (auto st = make_model(*sh, *mix, n_layer, o->vocab, o->out, o->seed); !st.ok())
      return fail(st.error().message);
    return 0;
  };
}

}  // namespace frugal::cli
