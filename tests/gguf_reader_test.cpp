// gguf::File on real GGUF files compared against the PyPI `gguf` package's
// GGUFReader: tests/data/gguf/golden.json holds every metadata key (type and
// value, array counts and sampled items), the tensor count, alignment, data
// offset and sampled tensors (name, shape, type, offset, first/last bytes) as
// that reader sees them (tools/gen_gguf_golden.py). Vocab files come from
// ../shared/testdata; model files from $FRUGAL_MODEL_CACHE (skipped if absent).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"

namespace frugal::gguf {
namespace {

using json = nlohmann::json;

const json& golden() {
  static const json g = [] {
    std::ifstream f(std::string(FRUGAL_TEST_DATA) + "/gguf/golden.json");
    return json::parse(f);
  }();
  return g;
}

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

// Compares one scalar Value with the golden JSON value of type `t`.
void expect_scalar(const Value& v, ValueType t, const json& want, const std::string& what) {
  ASSERT_EQ(v.type, t) << what;
  switch (t) {
    case ValueType::STRING:
      ASSERT_NE(v.as_string(), nullptr) << what;
      EXPECT_EQ(*v.as_string(), unhex(want.get<std::string>())) << what;
      break;
    case ValueType::FLOAT32:
    case ValueType::FLOAT64:
      EXPECT_EQ(v.as_float(), want.get<double>()) << what;
      break;
    case ValueType::BOOL:
      EXPECT_EQ(v.as_bool(), want.get<bool>()) << what;
      break;
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64:
      EXPECT_EQ(v.as_int(), want.get<int64_t>()) << what;
      break;
    default:
      EXPECT_EQ(v.as_uint(), want.get<uint64_t>()) << what;
  }
}

void check_file(const File& f, const json& g) {
  EXPECT_EQ(f.file_size(), g["file_size"].get<uint64_t>());
  EXPECT_EQ(f.version(), g["version"].get<uint32_t>());
  EXPECT_EQ(f.alignment(), g["alignment"].get<uint64_t>());
  EXPECT_EQ(f.data_offset(), g["data_offset"].get<uint64_t>());
  EXPECT_EQ(f.tensors().size(), g["tensor_count"].get<size_t>());
  EXPECT_EQ(f.metadata().size(), g["kv_count"].get<size_t>());
  for (const auto& [key, want] : g["kv"].items()) {
    const Value* v = f.find(key);
    ASSERT_NE(v, nullptr) << "missing key " << key;
    auto type = static_cast<ValueType>(want["type"].get<uint32_t>());
    if (type != ValueType::ARRAY) {
      expect_scalar(*v, type, want["value"], key);
      continue;
    }
    const Array* a = v->as_array();
    ASSERT_NE(a, nullptr) << key;
    ASSERT_EQ(a->size(), want["count"].get<size_t>()) << key;
    if (want.contains("elem_type")) {
      EXPECT_EQ(a->elem_type(), static_cast<ValueType>(want["elem_type"].get<uint32_t>())) << key;
    }
    if (!want.contains("samples")) continue;
    for (const auto& [idx, item] : want["samples"].items()) {
      size_t i = std::stoul(idx);
      expect_scalar(a->at(i), a->elem_type(), item, key + "[" + idx + "]");
    }
  }
  if (!g.contains("tensors")) return;
  for (const json& t : g["tensors"]) {
    const size_t i = t["index"].get<size_t>();
    ASSERT_LT(i, f.tensors().size());
    const TensorInfo& ti = f.tensors()[i];
    const std::string name = t["name"].get<std::string>();
    EXPECT_EQ(ti.name, name);
    EXPECT_EQ(f.find_tensor(name), &ti);
    EXPECT_EQ(ti.shape, t["shape"].get<std::vector<uint64_t>>()) << name;
    EXPECT_EQ(static_cast<uint32_t>(ti.type), t["type"].get<uint32_t>()) << name;
    EXPECT_EQ(ti.n_elements, t["n_elements"].get<uint64_t>()) << name;
    EXPECT_EQ(ti.n_bytes, t["n_bytes"].get<uint64_t>()) << name;
    EXPECT_EQ(ti.offset, t["offset"].get<uint64_t>()) << name;
    ASSERT_GE(ti.n_bytes, 16u);
    EXPECT_EQ(hex(ti.data, 16), t["first_bytes"].get<std::string>()) << name;
    EXPECT_EQ(hex(ti.data + ti.n_bytes - 16, 16), t["last_bytes"].get<std::string>()) << name;
  }
}

std::string vocab_path(const std::string& name) {
  return std::string(FRUGAL_SHARED_TESTDATA) + "/vocab/" + name;
}

TEST(GgufReader, Gpt2VocabMatchesGGUFReader) {
  auto r = File::open(vocab_path("ggml-vocab-gpt-2.gguf"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_file(**r, golden()["files"]["ggml-vocab-gpt-2.gguf"]);
  // The facts later layers rely on, spelled out.
  const File& f = **r;
  EXPECT_EQ(f.tensors().size(), 0u);          // vocab-only files are valid
  EXPECT_GT(f.data_offset(), f.file_size());  // it ends unpadded after the metadata
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_array("tokenizer.ggml.tokens")->size(), 50257u);
  EXPECT_EQ(f.get_array("tokenizer.ggml.merges")->size(), 50000u);
}

TEST(GgufReader, DeepseekR1QwenVocabMatchesGGUFReader) {
  auto r = File::open(vocab_path("constructed-vocab-deepseek-r1-qwen.gguf"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const json& g = golden()["files"]["constructed-vocab-deepseek-r1-qwen.gguf"];
  check_file(**r, g);
  const File& f = **r;
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"),
            unhex(g["kv"]["tokenizer.ggml.pre"]["value"].get<std::string>()));
  EXPECT_EQ(f.get_uint("tokenizer.ggml.bos_token_id"),
            g["kv"]["tokenizer.ggml.bos_token_id"]["value"].get<uint64_t>());
  EXPECT_EQ(f.get_uint("tokenizer.ggml.eos_token_id"),
            g["kv"]["tokenizer.ggml.eos_token_id"]["value"].get<uint64_t>());
}

TEST(GgufReader, FromMemoryMatchesOpen) {
  const std::string path = vocab_path("ggml-vocab-gpt-2.gguf");
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  auto r = File::from_memory(bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_file(**r, golden()["files"]["ggml-vocab-gpt-2.gguf"]);
}

TEST(GgufReader, OpenErrorsNameThePath) {
  auto r = File::open("/nonexistent/x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/x.gguf"), std::string::npos);
  auto d = File::open(FRUGAL_TEST_DATA);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("not a regular file"), std::string::npos);
  const std::string empty = std::string(FRUGAL_BINARY_DIR) + "/gguf_reader_test_empty.gguf";
  { std::ofstream(empty, std::ios::binary | std::ios::trunc); }
  auto e = File::open(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("empty"), std::string::npos);
}

class ModelFiles : public ::testing::TestWithParam<const char*> {};

TEST_P(ModelFiles, MatchGGUFReader) {
  const char* cache = std::getenv("FRUGAL_MODEL_CACHE");
  if (!cache) GTEST_SKIP() << "FRUGAL_MODEL_CACHE not set; model file checks skipped";
  const std::string path = std::string(cache) + "/" + GetParam();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " absent";
  const json& g = golden()["files"][GetParam()];
  if (g.is_null()) GTEST_SKIP() << "no golden values for " << GetParam();
  if (std::filesystem::file_size(path) != g["file_size"].get<uint64_t>()) {
    GTEST_SKIP() << path << " differs from the file the golden values were made from";
  }
  auto r = File::open(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  check_file(**r, g);
  if (std::string(GetParam()).starts_with("SmolLM2")) {
    EXPECT_EQ((*r)->tensors().size(), 272u);
    EXPECT_EQ((*r)->get_string("tokenizer.ggml.pre"), "smollm");
  }
}

INSTANTIATE_TEST_SUITE_P(Cache, ModelFiles,
                         ::testing::Values("SmolLM2-135M-Instruct.Q4_1.gguf",
                                           "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"));

}  // namespace
}  // namespace frugal::gguf
