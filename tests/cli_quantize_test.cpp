// `frugal quantize IN OUT TYPE` as a user runs it. References: llama.cpp's
// own quantizer (llama_model_quantize via llama-cpp-python; per-tensor types
// and bytes in tests/data/quant/quantize_golden.json, tools/
// gen_quantize_golden.py), numpy's float16 rounding (the committed
// tests/data/models/*.f16.gguf), the error the block layouts allow (a Q8_0
// value is off by at most half a step of amax/127, a Q4_0 value by at most one
// step of amax/8, an F16 value by its half-ULP), llama-quantize's Q4_K_M rule
// (llama.cpp src/llama-quant.cpp, use_more_bits) on a crafted file, and the
// engine's own outputs on the f32 fixture (tests/data/models,
// tools/gen_tiny_models.py) for the Q8_0 file.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "tensor/quant.h"

namespace {

namespace fs = std::filesystem;
using frugal::gguf::GgmlType;

struct Run {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs frugal with stdin from /dev/null.
Run frugal(const std::string& args) {
  const fs::path err_file =
      fs::temp_directory_path() / ("frugal_quantize_err_" + std::to_string(getpid()));
  const std::string cmd = std::string("timeout 120 ") + FRUGAL_CLI + " " + args + " </dev/null 2>" +
                          quote(err_file.string());
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  FILE* e = fopen(err_file.c_str(), "r");
  if (e) {
    while ((n = fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
    fclose(e);
  }
  fs::remove(err_file);
  return r;
}

const std::string kModels = std::string(FRUGAL_TEST_DATA) + "/models/";

// A fresh directory per test, removed afterwards.
class Quantize : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / fmt::format("frugal_quantize_{}_{}", getpid(), info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::unique_ptr<frugal::gguf::File> open_gguf(const std::string& path) {
  auto f = frugal::gguf::File::open(path);
  EXPECT_TRUE(f.ok()) << path << ": " << (f.ok() ? "" : f.error().message);
  return f.ok() ? std::move(*f) : nullptr;
}

std::vector<uint8_t> encoded(const frugal::gguf::Value& v) {
  frugal::gguf::ByteBuilder b;
  b.u32(static_cast<uint32_t>(v.type));
  frugal::gguf::encode_value(b, v);
  return b.take();
}

std::vector<float> dequantized(const frugal::gguf::TensorInfo& t) {
  std::vector<float> x(t.n_elements);  // [rows, shape[0]]
  const int64_t n = static_cast<int64_t>(t.shape[0]);
  const uint64_t row = *frugal::gguf::row_size(t.type, t.shape[0]);
  for (uint64_t r = 0; r < t.n_elements / t.shape[0]; ++r) {
    auto st = frugal::tensor::dequantize_row(t.type, t.data + r * row, x.data() + r * n, n);
    EXPECT_TRUE(st.ok()) << t.name;
  }
  return x;
}

// The largest error the format allows for each element of a block of `x`.
double allowed_error(GgmlType type, const float* x, size_t n, size_t i) {
  const size_t block = type == GgmlType::Q4_K || type == GgmlType::Q6_K ? 256 : 32;
  const size_t b0 = i / block * block;
  double amax = 0, lo = 0, hi = 0;
  for (size_t j = b0; j < std::min(n, b0 + block); ++j) {
    amax = std::max(amax, std::fabs(double{x[j]}));
    lo = std::min(lo, double{x[j]});
    hi = std::max(hi, double{x[j]});
  }
  // d is stored as fp16 (relative error 2^-11), which moves a code q by
  // |q| * d * 2^-11: at most 127 * 2^-11 * d for Q8_0, 8 * 2^-11 * d for Q4_0.
  switch (type) {
    case GgmlType::F16:
      return std::fabs(x[i]) * std::ldexp(1.0, -11) + 6e-8;
    case GgmlType::Q8_0:
      return amax / 127 * (0.5 + 127 * std::ldexp(1.0, -11)) + 1e-7;
    case GgmlType::Q4_0:  // the far side of the signed max is clamped to 7: one whole step
      return amax / 8 * (1 + 8 * std::ldexp(1.0, -11)) + 1e-7;
    case GgmlType::Q4_K:  // 15 steps over [min, max], 6-bit scales: a step, loosely
      return (hi - lo) / 15 * 1.5 + 1e-6;
    case GgmlType::Q6_K:
      return (hi - lo) / 63 * 1.5 + 1e-6;
    default:
      return 0;
  }
}

// Everything `frugal quantize IN OUT` promises about OUT given the type it
// was asked for (`want` for each matrix whose rows divide into its blocks).
void expect_quantized(const std::string& in_path, const std::string& out_path, uint64_t file_type,
                      const std::function<GgmlType(const std::string&)>& want) {
  auto in = open_gguf(in_path);
  auto out = open_gguf(out_path);
  ASSERT_TRUE(in && out);
  // Metadata: the same keys and values, but general.file_type.
  EXPECT_EQ(out->get_uint("general.file_type"), file_type);
  for (const auto& [key, v] : in->metadata()) {
    if (key == "general.file_type" || key == "general.alignment") continue;
    const auto* o = out->find(key);
    ASSERT_NE(o, nullptr) << key;
    EXPECT_EQ(encoded(*o), encoded(v)) << key;
  }
  for (const auto& [key, v] : out->metadata())
    EXPECT_TRUE(in->find(key) || key == "general.file_type") << key;

  ASSERT_EQ(out->tensors().size(), in->tensors().size());
  for (size_t i = 0; i < in->tensors().size(); ++i) {
    const auto& a = in->tensors()[i];
    const auto& b = out->tensors()[i];
    ASSERT_EQ(b.name, a.name);
    ASSERT_EQ(b.shape, a.shape) << a.name;
    GgmlType expect = a.type;
    size_t n_dims = a.shape.size();  // as ggml_n_dims counts: [n, 1] is a vector
    while (n_dims > 1 && a.shape[n_dims - 1] == 1) --n_dims;
    if (n_dims >= 2) {
      const GgmlType w = want(a.name);
      if (frugal::gguf::row_size(w, a.shape[0])) expect = w;
    }
    EXPECT_EQ(b.type, expect) << a.name << " [" << a.shape[0] << " x ...]";
    if (b.type == a.type) {  // kept: the very same bytes
      ASSERT_EQ(b.n_bytes, a.n_bytes);
      EXPECT_EQ(std::memcmp(a.data, b.data, a.n_bytes), 0) << a.name;
      continue;
    }
    const std::vector<float> x = dequantized(a), y = dequantized(b);
    const size_t n = a.shape[0];
    double worst = 0;  // error / allowed, over the tensor
    for (size_t r = 0; r < x.size() / n; ++r)
      for (size_t j = 0; j < n; ++j) {
        const double err = std::fabs(double{x[r * n + j]} - y[r * n + j]);
        const double ok = allowed_error(b.type, x.data() + r * n, n, j);
        worst = std::max(worst, ok > 0 ? err / ok : err * 1e30);
      }
    EXPECT_LE(worst, 1.0) << a.name << " as " << frugal::gguf::type_name(b.type);
  }
}

void expect_one_line_error(const Run& r, const std::string& fragment) {
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err.rfind("frugal: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

struct Case {
  const char* type;  // with its flags
  GgmlType ggml;
  uint64_t file_type;
};
// Every matrix in the type: q4_0 needs --pure for that (its default puts the
// output matrix in Q8_0 or Q6_K; OutputMatrixRule below).
constexpr Case kCases[] = {
    {"q8_0", GgmlType::Q8_0, 7},
    {"q4_0 --pure", GgmlType::Q4_0, 2},
    {"q4_k", GgmlType::Q4_K, 14},
    {"f16", GgmlType::F16, 1},
};

TEST_F(Quantize, TinyModelsToEachType) {
  for (const char* model : {"tiny-qwen2.f32.gguf", "tiny-llama.f32.gguf", "tiny-qwen2.f16.gguf"}) {
    for (const Case& c : kCases) {
      SCOPED_TRACE(std::string(model) + " -> " + c.type);
      std::string stem = c.type;
      std::replace(stem.begin(), stem.end(), ' ', '_');
      const std::string out = path(stem + ".gguf");
      auto r = frugal("quantize " + quote(kModels + model) + " " + quote(out) + " " + c.type);
      ASSERT_EQ(r.code, 0) << r.err;
      // Without -v: only the summary line.
      EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
      EXPECT_NE(r.out.find("quantized"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find(" s\n"), std::string::npos) << r.out;
      EXPECT_FALSE(fs::exists(out + ".tmp"));
      expect_quantized(kModels + model, out, c.file_type,
                       [&](const std::string&) { return c.ggml; });
    }
  }
}

void write_k_model(const std::string& path, int n_layer, bool tied);  // below

// q4_0 as llama-quantize makes it: the output matrix (token_embd when the
// embeddings are tied) in Q6_K, or in Q8_0 when its rows are not whole
// 256-value blocks; every other matrix in Q4_0.
TEST_F(Quantize, OutputMatrixRule) {
  const std::string tied = kModels + "tiny-llama.f32.gguf",
                    untied = kModels + "tiny-qwen2.f32.gguf";
  for (const std::string& in : {tied, untied}) {
    SCOPED_TRACE(in);
    auto r = frugal("quantize " + quote(in) + " " + quote(path("q.gguf")) + " q4_0");
    ASSERT_EQ(r.code, 0) << r.err;
    auto a = open_gguf(in);
    ASSERT_TRUE(a);
    const bool has_output = a->find_tensor("output.weight") != nullptr;
    EXPECT_EQ(has_output, in == untied);
    const std::string out_name = has_output ? "output.weight" : "token_embd.weight";
    ASSERT_NE(a->find_tensor(out_name)->shape[0] % 256, 0u);  // rows of 64
    expect_quantized(in, path("q.gguf"), 2, [&](const std::string& name) {
      return name == out_name ? GgmlType::Q8_0 : GgmlType::Q4_0;
    });
  }
  const std::string k = path("k.gguf");
  write_k_model(k, 8, true);  // rows of 256, tied
  auto r = frugal("quantize " + quote(k) + " " + quote(path("kq.gguf")) + " q4_0");
  ASSERT_EQ(r.code, 0) << r.err;
  auto q = open_gguf(path("kq.gguf"));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->find_tensor("token_embd.weight")->type, GgmlType::Q6_K);
  EXPECT_EQ(q->find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q4_0);
}

TEST_F(Quantize, Q4KKeepsMatricesWhoseRowsAreNotWholeBlocks) {
  // The tiny models' rows hold 64 (n_embd) or 192 (n_ff) values, not whole
  // 256-value Q4_K blocks: every tensor must come through byte for byte.
  const std::string in = kModels + "tiny-qwen2.f32.gguf", out = path("q4k.gguf");
  auto r = frugal("quantize " + quote(in) + " " + quote(out) + " q4_k -v");
  ASSERT_EQ(r.code, 0) << r.err;
  auto a = open_gguf(in);
  auto b = open_gguf(out);
  ASSERT_TRUE(a && b);
  size_t matrices = 0;
  for (size_t i = 0; i < a->tensors().size(); ++i) {
    const auto& t = a->tensors()[i];
    EXPECT_NE(t.shape[0] % 256, 0u) << t.name;  // the premise of this test
    EXPECT_EQ(b->tensors()[i].type, t.type) << t.name;
    EXPECT_EQ(std::memcmp(b->tensors()[i].data, t.data, t.n_bytes), 0) << t.name;
    matrices += t.shape.size() >= 2;
  }
  EXPECT_GT(matrices, 0u);
  // -v: one line per tensor saying why it was kept, then the summary.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'),
            static_cast<long>(a->tensors().size()) + 1)
      << r.out;
  EXPECT_NE(r.out.find("not whole Q4_K blocks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 of "), std::string::npos) << r.out;
}

TEST_F(Quantize, TypeIsCaseInsensitiveAndSameTypeCopies) {
  const std::string in = kModels + "tiny-llama.f32.gguf";
  auto r = frugal("quantize " + quote(in) + " " + quote(path("a.gguf")) + " Q8_0");
  ASSERT_EQ(r.code, 0) << r.err;
  auto q = open_gguf(path("a.gguf"));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->find_tensor("blk.0.attn_q.weight")->type, GgmlType::Q8_0);
  // f32 -> f32: every tensor kept.
  r = frugal("quantize " + quote(in) + " " + quote(path("b.gguf")) + " F32");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_quantized(in, path("b.gguf"), 0, [](const std::string&) { return GgmlType::F32; });
}

struct Outputs {
  std::vector<float> logits;    // [T, V]: every prompt position, teacher-forced
  std::vector<int32_t> greedy;  // greedy continuation
};

// The engine's logits over the fixture's prompt and its greedy continuation.
Outputs run_engine(const std::string& model, const std::vector<int32_t>& prompt, int n) {
  Outputs o;
  frugal::runtime::EngineOptions opt;
  opt.model_path = model;
  opt.n_threads = 2;
  auto engine = frugal::runtime::Engine::load(opt);
  EXPECT_TRUE(engine.ok()) << (engine.ok() ? "" : engine.error().message);
  if (!engine.ok()) return o;
  const auto& m = (*engine)->model();
  frugal::model::KvCache cache(m.hparams(), static_cast<int64_t>(prompt.size()));
  o.logits.resize(prompt.size() * static_cast<size_t>(m.hparams().n_vocab));
  auto st = m.forward(prompt, cache, o.logits, true, (*engine)->pool());
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
  frugal::runtime::Session session(**engine);
  frugal::runtime::GenerateRequest req;
  req.prompt = prompt;
  req.sampling.temperature = 0.0f;
  req.max_tokens = n;
  auto r = session.generate(req, nullptr);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (r.ok()) o.greedy = r->tokens;
  return o;
}

// The engine on the Q8_0 file against the engine on the f32 file it came
// from. The tiny random models' top logits are often closer than Q8_0's
// error (at 15 of the 48 prompt positions the f32 top-2 margin is under 0.5,
// while Q8_0 moves logits by up to ~1 of a ~24 range; HF's own F16 greedy
// run leaves F32's after 4 tokens on tiny-llama, tests/data/models/
// tiny-llama.json), so a long greedy match is
// not a property of a correct Q8_0 file here: the logits are held to 10 %
// of their range (measured: 4 % and 6 %), top-1 to 20 of 24 positions
// (measured 23 and 22) and the first generated token to the f32 model's.
// Q4_0 moves logits by ~half their range on these models and is not checked.
TEST_F(Quantize, Q8_0OutputRunsCloseToTheF32Model) {
  for (const char* name : {"tiny-qwen2", "tiny-llama"}) {
    SCOPED_TRACE(name);
    const std::string in = kModels + name + ".f32.gguf", out = path(std::string(name) + ".gguf");
    ASSERT_EQ(frugal("quantize " + quote(in) + " " + quote(out) + " q8_0").code, 0);
    std::ifstream js(kModels + name + ".json");
    const auto j = nlohmann::json::parse(js);
    const auto prompt = j["prompt"].get<std::vector<int32_t>>();
    const size_t V = j["n_vocab"].get<size_t>();
    const Outputs a = run_engine(in, prompt, 4), b = run_engine(out, prompt, 4);
    ASSERT_EQ(a.logits.size(), prompt.size() * V);
    ASSERT_EQ(b.logits.size(), a.logits.size());
    size_t top1_same = 0;
    for (size_t t = 0; t < prompt.size(); ++t) {
      const float* x = a.logits.data() + t * V;
      const float* y = b.logits.data() + t * V;
      const auto [lo, hi] = std::minmax_element(x, x + V);
      float max_diff = 0;
      for (size_t i = 0; i < V; ++i) max_diff = std::max(max_diff, std::fabs(x[i] - y[i]));
      EXPECT_LE(max_diff, 0.10f * (*hi - *lo)) << "position " << t;
      top1_same += std::max_element(x, x + V) - x == std::max_element(y, y + V) - y;
    }
    EXPECT_GE(top1_same, 20u);
    ASSERT_FALSE(a.greedy.empty());
    ASSERT_FALSE(b.greedy.empty());
    EXPECT_EQ(b.greedy[0], a.greedy[0]);
    // And as a user runs it.
    auto r = frugal("run " + quote(out) + " 'Once upon' --raw --temp 0 -n 8 --color never");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_FALSE(r.out.empty());
  }
}

// tests/data/models' F16 files were rounded by numpy (gguf-py's converter):
// f32 -> f16 here must give the same tensors, bit for bit.
TEST_F(Quantize, F16EqualsTheFixturesRoundedByNumpy) {
  for (const char* name : {"tiny-qwen2", "tiny-llama"}) {
    SCOPED_TRACE(name);
    const std::string out = path(std::string(name) + ".gguf");
    auto r = frugal("quantize " + quote(kModels + name + ".f32.gguf") + " " + quote(out) + " f16");
    ASSERT_EQ(r.code, 0) << r.err;
    auto want = open_gguf(kModels + name + ".f16.gguf");
    auto got = open_gguf(out);
    ASSERT_TRUE(want && got);
    ASSERT_EQ(got->tensors().size(), want->tensors().size());
    for (const auto& w : want->tensors()) {
      const auto* g = got->find_tensor(w.name);
      ASSERT_NE(g, nullptr) << w.name;
      EXPECT_EQ(g->type, w.type) << w.name;
      ASSERT_EQ(g->n_bytes, w.n_bytes) << w.name;
      EXPECT_EQ(std::memcmp(g->data, w.data, w.n_bytes), 0) << w.name;
    }
  }
}

// A model whose matrices have 256-value rows, so K-quants apply, with a
// matrix of 64-value rows beside them; `tied` leaves out output.weight.
void write_k_model(const std::string& path, int n_layer, bool tied) {
  frugal::gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "k-mix test");
  w.set_u32("general.file_type", 0);
  w.set_u32("llama.block_count", static_cast<uint32_t>(n_layer));
  uint64_t s = 12345;
  auto tensor = [&](const std::string& name, std::vector<uint64_t> shape) {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    std::vector<float> x(n);
    for (auto& v : x) {  // xorshift; a few outliers as real weights have
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      v = (static_cast<float>(s % 20001) / 10000.0f - 1.0f) * (s % 97 == 0 ? 8.0f : 0.05f);
    }
    std::vector<uint8_t> bytes(n * 4);
    std::memcpy(bytes.data(), x.data(), bytes.size());
    ASSERT_TRUE(w.add_tensor(name, GgmlType::F32, shape, bytes).ok()) << name;
  };
  tensor("token_embd.weight", {256, 16});
  tensor("output_norm.weight", {256});
  tensor("scale.weight", {256, 1});  // a vector stored as a matrix: kept
  if (!tied) tensor("output.weight", {256, 16});
  for (int i = 0; i < n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    tensor(b + "attn_norm.weight", {256});
    tensor(b + "attn_q.weight", {256, 8});
    tensor(b + "attn_k.weight", {64, 8});  // rows of 64: never a K-quant
    tensor(b + "attn_v.weight", {256, 4});
    tensor(b + "ffn_down.weight", {256, 4});
  }
  ASSERT_TRUE(w.write(path).ok());
}

TEST_F(Quantize, Q4KAndQ4KMOnWholeBlocks) {
  const int n_layer = 8;  // more bits (llama.cpp's use_more_bits): layers 0, 3, 6, 7
  const std::string in = path("k.gguf");
  write_k_model(in, n_layer, false);
  auto r = frugal("quantize " + quote(in) + " " + quote(path("q4k.gguf")) + " q4_k");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_quantized(in, path("q4k.gguf"), 14, [](const std::string&) { return GgmlType::Q4_K; });

  auto mix = [](const std::string& name) {
    if (name == "output.weight") return GgmlType::Q6_K;
    for (int i : {0, 3, 6, 7})
      for (const char* t : {"attn_v", "ffn_down"})
        if (name == "blk." + std::to_string(i) + "." + t + ".weight") return GgmlType::Q6_K;
    return GgmlType::Q4_K;
  };
  r = frugal("quantize " + quote(in) + " " + quote(path("q4km.gguf")) + " q4_k_m -t 3");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_quantized(in, path("q4km.gguf"), 15, mix);
  auto out = open_gguf(path("q4km.gguf"));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find_tensor("blk.1.attn_v.weight")->type, GgmlType::Q4_K);
  EXPECT_EQ(out->find_tensor("blk.3.ffn_down.weight")->type, GgmlType::Q6_K);
  EXPECT_EQ(out->find_tensor("blk.3.attn_k.weight")->type, GgmlType::F32);
  EXPECT_EQ(out->find_tensor("scale.weight")->type, GgmlType::F32);

  // Tied embeddings: token_embd is the output matrix too, so it gets Q6_K.
  write_k_model(in, n_layer, true);
  r = frugal("quantize " + quote(in) + " " + quote(path("tied.gguf")) + " q4_k_m");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_quantized(in, path("tied.gguf"), 15, [&](const std::string& name) {
    return name == "token_embd.weight" ? GgmlType::Q6_K : mix(name);
  });
}

uint64_t fnv1a64(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (uint64_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ULL;
  return h;
}

// llama.cpp's llama_model_quantize on the same inputs (tools/gen_quantize_golden.py):
// every tensor's type and bytes, and general.file_type, must be the same.
TEST_F(Quantize, SameTensorsAsLlamaCppQuantize) {
  std::ifstream js(std::string(FRUGAL_TEST_DATA) + "/quant/quantize_golden.json");
  ASSERT_TRUE(js.good());
  const auto golden = nlohmann::json::parse(js);
  int compared = 0;
  for (const auto& [rel, types] : golden.at("inputs").items()) {
    const std::string in = std::string(FRUGAL_TEST_DATA) + "/" + rel;
    for (const auto& [type, want] : types.items()) {
      SCOPED_TRACE(rel + " -> " + type);
      std::string stem = type;  // e.g. "q4_0 --pure": the type and its flags
      std::replace(stem.begin(), stem.end(), ' ', '_');
      const std::string out = path(stem + ".gguf");
      auto r = frugal("quantize " + quote(in) + " " + quote(out) + " " + type);
      ASSERT_EQ(r.code, 0) << r.err;
      auto got = open_gguf(out);
      ASSERT_TRUE(got);
      EXPECT_EQ(got->get_uint("general.file_type"), want.at("file_type").get<uint64_t>());
      ASSERT_EQ(got->tensors().size(), want.at("tensors").size());
      for (const auto& [name, w] : want.at("tensors").items()) {
        const auto* t = got->find_tensor(name);
        ASSERT_NE(t, nullptr) << name;
        EXPECT_EQ(frugal::gguf::type_name(t->type), w.at("type").get<std::string>()) << name;
        EXPECT_EQ(fmt::format("{:016x}", fnv1a64(t->data, t->n_bytes)),
                  w.at("fnv1a64").get<std::string>())
            << name;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 300);
}

TEST_F(Quantize, BadInputsFailCleanly) {
  const std::string good = kModels + "tiny-qwen2.f32.gguf";
  const std::string out = path("out.gguf");
  auto nothing_left = [&] {
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(out + ".tmp"));
  };
  expect_one_line_error(
      frugal("quantize " + quote(path("missing.gguf")) + " " + quote(out) + " q8_0"),
      "missing.gguf");
  nothing_left();

  // Truncated: the first half of a real model.
  {
    std::ifstream src(good, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(src)), {});
    std::ofstream(path("half.gguf"), std::ios::binary).write(bytes.data(), bytes.size() / 2);
  }
  expect_one_line_error(frugal("quantize " + quote(path("half.gguf")) + " " + quote(out) + " q8_0"),
                        "");
  nothing_left();

  auto r = frugal("quantize " + quote(good) + " " + quote(out) + " q5_k");
  expect_one_line_error(r, "q5_k");
  for (const char* t : {"f32", "f16", "q8_0", "q4_0", "q4_k", "q4_k_m"})
    EXPECT_NE(r.err.find(t), std::string::npos) << t;
  nothing_left();

  // OUT == IN, spelled the same and spelled differently: refused, IN untouched.
  fs::copy_file(good, path("model.gguf"));
  const auto before = fs::file_size(path("model.gguf"));
  expect_one_line_error(
      frugal("quantize " + quote(path("model.gguf")) + " " + quote(path("model.gguf")) + " q8_0"),
      "input");
  expect_one_line_error(frugal("quantize " + quote(path("model.gguf")) + " " +
                               quote((dir_ / "." / "model.gguf").string()) + " q4_0"),
                        "input");
  EXPECT_EQ(fs::file_size(path("model.gguf")), before);
  EXPECT_FALSE(fs::exists(path("model.gguf.tmp")));
  ASSERT_TRUE(open_gguf(path("model.gguf")));

  // An output directory that does not exist.
  expect_one_line_error(
      frugal("quantize " + quote(good) + " " + quote(path("no/such/dir/out.gguf")) + " q8_0"),
      "no/such/dir");
  // Missing operands are usage errors.
  EXPECT_NE(frugal("quantize " + quote(good) + " " + quote(out)).code, 0);
  nothing_left();
}

TEST_F(Quantize, HelpListsTheTypes) {
  auto r = frugal("quantize --help");
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"IN", "OUT", "TYPE", "q8_0", "q4_k_m", "--verbose", "--threads"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  EXPECT_NE(frugal("--help").out.find("quantize"), std::string::npos);
}

}  // namespace
