// Writes seed inputs for the fuzz harnesses, derived from the repository's
// test data, into OUT/<target>/: small real-shaped GGUF files (the tiny test
// models and the shared vocabularies re-encoded with our gguf::Writer, arrays
// cut to a few entries and every tensor cut to one block of its type), the
// tokenizer reference strings, and the chat-template golden conversations.
// Usage: fuzz_make_seeds OUT
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace fs = std::filesystem;
using frugal::gguf::File;
using frugal::gguf::GgmlType;
using frugal::gguf::Value;
using frugal::gguf::ValueType;
using frugal::gguf::Writer;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const void* data, size_t n) {
  std::ofstream out(p, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}
void write_file(const fs::path& p, std::string_view s) {
  write_file(p, s.data(), s.size());
}

// Cuts arrays (and arrays nested in them) to at most `keep` items.
Value shrink(Value v, size_t keep) {
  if (auto* a = std::get_if<frugal::gguf::Array>(&v.v)) {
    std::vector<Value>& items = a->items();
    if (items.size() > keep) items.resize(keep);
    for (Value& item : items) item = shrink(std::move(item), keep);
  }
  return v;
}

// Re-encodes `path` small: arrays cut to `keep` items, every tensor cut to
// one block of its type (same name, type and number of dimensions).
bool shrunk_copy(const fs::path& path, size_t keep, const fs::path& out) {
  auto f = File::open(path.string());
  if (!f.ok()) {
    std::fprintf(stderr, "make_seeds: %s\n", f.error().message.c_str());
    return false;
  }
  Writer w((*f)->alignment());
  for (const auto& [key, value] : (*f)->metadata()) {
    if (key == "general.alignment") continue;
    w.set(key, shrink(value, keep));
  }
  for (const auto& t : (*f)->tensors()) {
    const auto traits = frugal::gguf::type_traits(t.type);
    std::vector<uint64_t> shape(t.shape.size(), 1);
    shape[0] = traits->block_size;
    std::vector<uint8_t> data(traits->type_size);
    // Keep the first bytes of the real data (f16 scales etc. stay plausible).
    std::copy_n(t.data, std::min<uint64_t>(data.size(), t.n_bytes), data.begin());
    if (auto s = w.add_tensor(t.name, t.type, shape, data); !s.ok()) {
      std::fprintf(stderr, "make_seeds: %s\n", s.error().message.c_str());
      return false;
    }
  }
  const std::vector<uint8_t> bytes = w.to_bytes();
  write_file(out, bytes.data(), bytes.size());
  return true;
}

// One file holding every value type, nested arrays and a tensor of every
// type the reader knows, at a non-default alignment.
void every_type_file(const fs::path& out) {
  using namespace frugal::gguf;
  Writer w(64);
  w.set("u8", make_uint(ValueType::UINT8, 200));
  w.set("i8", make_int(ValueType::INT8, -3));
  w.set("u16", make_uint(ValueType::UINT16, 65000));
  w.set("i16", make_int(ValueType::INT16, -300));
  w.set("u32", make_uint(ValueType::UINT32, 4000000000u));
  w.set("i32", make_int(ValueType::INT32, -70000));
  w.set("f32", make_float(ValueType::FLOAT32, 0.5));
  w.set("b", make_bool(true));
  w.set("s", make_string("text"));
  w.set("u64", make_uint(ValueType::UINT64, ~uint64_t{0}));
  w.set("i64", make_int(ValueType::INT64, -1));
  w.set("f64", make_float(ValueType::FLOAT64, -2.25));
  w.set("nested", make_array(ValueType::ARRAY,
                             {make_array(ValueType::UINT8, {make_uint(ValueType::UINT8, 1)}),
                              make_array(ValueType::STRING, {make_string("x")})}));
  w.set_string_array("strs", {"a", "bc", ""});
  // Nested to the default depth limit (8), one step from its error.
  Value deep = make_array(ValueType::UINT8, {make_uint(ValueType::UINT8, 7)});
  for (int d = 1; d < 8; ++d) deep = make_array(ValueType::ARRAY, {deep});
  w.set("deep", deep);
  int n = 0;
  for (uint32_t raw = 0; raw < 64; ++raw) {
    const auto traits = type_traits(raw);
    if (!traits) continue;
    std::vector<uint8_t> data(traits->type_size, 0);
    if (auto s = w.add_tensor("t" + std::to_string(n++), static_cast<GgmlType>(raw),
                              {traits->block_size}, data);
        !s.ok())
      std::fprintf(stderr, "make_seeds: %s\n", s.error().message.c_str());
  }
  const std::vector<uint8_t> bytes = w.to_bytes();
  write_file(out, bytes.data(), bytes.size());
}

// Strings of llama.cpp's tokenizer vectors (*.inp, separated by a marker line).
std::vector<std::string> vector_strings(const fs::path& dir) {
  std::vector<std::string> out;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".inp") continue;
    const std::string all = read_file(e.path());
    for (size_t start = 0; start < all.size();) {
      size_t end = all.find(sep, start);
      if (end == std::string::npos) end = all.size();
      out.push_back(all.substr(start, end - start));
      start = end + sep.size();
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path data = FRUGAL_TEST_DATA, shared = FRUGAL_SHARED_TESTDATA;
  for (const char* t : {"gguf", "tokenizer", "chat_template"}) fs::create_directories(out / t);
  int n_files = 0;

  // gguf: the PyPI-written fixtures as they are, shrunk tiny models and vocabs.
  for (const auto& e : fs::directory_iterator(data / "gguf")) {
    if (e.path().extension() == ".gguf")
      fs::copy_file(e.path(), out / "gguf" / e.path().filename(),
                    fs::copy_options::overwrite_existing),
          ++n_files;
  }
  for (const char* m : {"tiny-qwen2.f32", "tiny-qwen2.f16", "tiny-llama.bf16"})
    n_files += shrunk_copy(data / "models" / (std::string(m) + ".gguf"), 8,
                           out / "gguf" / (std::string(m) + ".gguf"));
  for (const auto& e : fs::directory_iterator(shared / "vocab"))
    n_files += shrunk_copy(e.path(), 16, out / "gguf" / e.path().filename());
  every_type_file(out / "gguf" / "every-type.gguf"), ++n_files;

  // tokenizer: byte 0 picks vocab and operation (see fuzz_tokenizer.cpp):
  // 0 gpt-2 encode, 1 r1-qwen encode, 3 r1-qwen encode with specials.
  std::vector<std::string> strings = vector_strings(shared / "vectors");
  {
    const auto golden = nlohmann::json::parse(read_file(data / "tokenizer" / "hf_golden.json"));
    for (const auto& s : golden["strings"]) strings.push_back(s.get<std::string>());
  }
  strings.push_back("<｜User｜>hi<｜Assistant｜><think>\nok</think>\n\nyes<｜end▁of▁sentence｜>");
  for (size_t i = 0; i < strings.size(); ++i) {
    for (char mode : {'\x00', '\x01', '\x03'}) {
      write_file(out / "tokenizer" / fmt::format("s{:04d}-{}", i, static_cast<int>(mode)),
                 std::string(1, mode) + strings[i]);
      ++n_files;
    }
  }

  // chat_template: the golden conversations, each for its own family;
  // and each real template source once with family detection on.
  const auto chat = nlohmann::json::parse(read_file(data / "chat" / "golden.json"));
  int i = 0;
  for (const auto& c : chat["cases"]) {
    const std::string tmpl = c["template"].get<std::string>();
    uint8_t flags = tmpl.find("Llama") != std::string::npos         ? 2
                    : tmpl.find("DeepSeek-R1") != std::string::npos ? 0
                                                                    : 1;
    if (c["add_generation_prompt"] == true) flags |= 4;
    if (c["enable_thinking"] == false) flags |= 16;
    std::string seed(1, static_cast<char>(flags));
    for (const auto& m : c["messages"]) {
      const std::string role = m["role"].get<std::string>();
      const char r = role == "system" ? 0 : role == "user" ? 1 : role == "assistant" ? 2 : 4;
      seed += '\x1e';
      seed += r;
      if (m["content"].is_string()) seed += m["content"].get<std::string>();
    }
    write_file(out / "chat_template" / fmt::format("golden{:03d}", i++), seed), ++n_files;
  }
  for (const auto& e : fs::directory_iterator(shared / "templates")) {
    const std::string seed = std::string(1, '\x0c') + read_file(e.path()) + "\x1e\x01hi";
    write_file(out / "chat_template" / e.path().filename(), seed), ++n_files;
  }
  std::printf("make_seeds: %d files under %s\n", n_files, out.c_str());
  return 0;
}
