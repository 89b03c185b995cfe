// Fuzz target: the GGUF reader (gguf::File::from_memory) on arbitrary bytes.
// Every input must either be rejected with a "gguf: " error or give a File
// whose metadata can be walked completely (typed lookups agreeing with the
// values) and whose tensors all lie inside the buffer (the reader's documented guarantee,
// src/gguf/README.md); ASan checks that no byte outside the input is read while parsing or walking.
// Each input is also parsed with tight OpenOptions, whose limits must hold
// for anything that parse accepts.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_check.h"
#include "gguf/gguf_file.h"

namespace {

using frugal::gguf::Array;
using frugal::gguf::File;
using frugal::gguf::Value;
using frugal::gguf::ValueType;

// Reads every accessor of `v` (and of nested array items) so that a value
// the parser built inconsistently (wrong variant for its type) shows up.
uint64_t walk_value(const Value& v, int depth) {
  FUZZ_CHECK(depth <= 64);
  uint64_t h = static_cast<uint64_t>(v.type);
  FUZZ_CHECK(!frugal::gguf::value_type_name(v.type).empty());
  if (auto u = v.as_uint()) h += *u;
  if (auto i = v.as_int()) h += static_cast<uint64_t>(*i);
  if (auto f = v.as_float()) h += *f == *f ? 1 : 2;  // NaN is a legal stored float
  if (auto b = v.as_bool()) h += *b;
  if (const std::string* s = v.as_string()) {
    FUZZ_CHECK(v.type == ValueType::STRING);
    for (char c : *s) h = h * 31 + static_cast<uint8_t>(c);
  }
  if (const Array* a = v.as_array()) {
    FUZZ_CHECK(v.type == ValueType::ARRAY);
    for (size_t i = 0; i < a->size(); ++i) {
      const Value item = a->at(i);
      FUZZ_CHECK(item.type == a->elem_type());
      // The zero-copy accessors agree with the owned element.
      if (const std::string* s = item.as_string()) FUZZ_CHECK(a->string_at(i) == *s);
      FUZZ_CHECK((a->array_at(i) != nullptr) == (item.as_array() != nullptr));
      h += walk_value(item, depth + 1);
    }
  }
  return h;
}

// Deepest array nesting below `v` (0 for a scalar).
uint32_t depth_of(const Value& v) {
  const Array* a = v.as_array();
  if (!a) return 0;
  uint32_t d = 0;
  for (size_t i = 0; i < a->size(); ++i) d = std::max(d, depth_of(a->at(i)));
  return d + 1;
}

// The OpenOptions limits hold for whatever a tight parse accepts.
void check_tight_limits(const std::vector<uint8_t>& buf) {
  frugal::gguf::OpenOptions tight;
  tight.max_string_bytes = 64;
  tight.max_array_items = 64;
  tight.max_array_depth = 2;
  auto r = File::from_memory(buf, tight);
  if (!r.ok()) {
    FUZZ_CHECK(frugal::fuzz::starts_with(r.error().message, "gguf: "));
    return;
  }
  for (const auto& [key, value] : (*r)->metadata()) {
    FUZZ_CHECK(depth_of(value) <= 2);
    if (const Array* a = value.as_array()) FUZZ_CHECK(a->size() <= 64);
    if (const std::string* s = value.as_string()) FUZZ_CHECK(s->size() <= 64);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size heap copy: ASan flags any read past the last byte.
  const std::vector<uint8_t> buf(data, data + size);
  check_tight_limits(buf);
  auto r = File::from_memory(buf);
  if (!r.ok()) {
    FUZZ_CHECK(frugal::fuzz::starts_with(r.error().message, "gguf: "));
    return 0;
  }
  const File& f = **r;
  FUZZ_CHECK(f.version() == 2 || f.version() == 3);
  FUZZ_CHECK(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0);
  volatile uint64_t sink = 0;
  for (const auto& [key, value] : f.metadata()) {
    FUZZ_CHECK(!key.empty());
    FUZZ_CHECK(f.find(key) == &value);
    sink = sink + walk_value(value, 0);
    // The typed lookups must agree with the accessors of the stored value.
    FUZZ_CHECK(f.get_uint(key) == value.as_uint());
    FUZZ_CHECK(f.get_int(key) == value.as_int());
    FUZZ_CHECK(f.get_bool(key) == value.as_bool());
    FUZZ_CHECK(f.get_array(key) == value.as_array());
    FUZZ_CHECK(f.get_string(key).has_value() == (value.as_string() != nullptr));
    const auto fl = f.get_float(key);
    const auto vf = value.as_float();
    FUZZ_CHECK(fl.has_value() == vf.has_value());
    if (fl && *fl == *fl) FUZZ_CHECK(*fl == *vf);
  }
  const uint8_t* begin = buf.data();
  const uint8_t* end = buf.data() + buf.size();
  for (const auto& t : f.tensors()) {
    FUZZ_CHECK(!t.name.empty());
    FUZZ_CHECK(f.find_tensor(t.name) == &t);
    FUZZ_CHECK(t.shape.size() >= 1 && t.shape.size() <= 4);
    uint64_t n = 1;
    for (uint64_t d : t.shape) {
      FUZZ_CHECK(d >= 1);
      FUZZ_CHECK(!__builtin_mul_overflow(n, d, &n));
    }
    FUZZ_CHECK(n == t.n_elements);
    const auto row = frugal::gguf::row_size(t.type, t.shape[0]);
    FUZZ_CHECK(row.has_value());
    FUZZ_CHECK(t.n_bytes == *row * (t.n_elements / t.shape[0]));
    FUZZ_CHECK(t.offset % f.alignment() == 0);
    FUZZ_CHECK(t.data >= begin && t.data <= end);
    FUZZ_CHECK(t.n_bytes <= static_cast<uint64_t>(end - t.data));
    // Touch the first and last byte: ASan checks them against the buffer.
    if (t.n_bytes > 0) sink = sink + t.data[0] + t.data[t.n_bytes - 1];
  }
  return 0;
}
