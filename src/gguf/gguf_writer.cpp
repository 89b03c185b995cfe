// GGUF v3 writer. Layout as in gguf_file.cpp; tensor data is laid out in
// add_tensor order, each tensor starting at a multiple of the alignment and
// the file padded after the tensor infos and after every tensor.
#include "gguf/gguf_writer.h"

#include <fmt/ranges.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/checked_math.h"

namespace frugal::gguf {
namespace {

constexpr uint64_t kDefaultAlignment = 32;

bool valid_alignment(uint64_t a) {
  return a != 0 && (a & (a - 1)) == 0 && a <= UINT32_MAX;
}

uint64_t raw_uint(const Value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.v)) return static_cast<uint64_t>(*i);
  if (const auto* b = std::get_if<bool>(&v.v)) return *b ? 1 : 0;
  if (const auto* d = std::get_if<double>(&v.v)) return static_cast<uint64_t>(*d);
  return 0;
}

double raw_float(const Value& v) {
  if (const auto* d = std::get_if<double>(&v.v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v.v)) return static_cast<double>(*i);
  return 0.0;
}

}  // namespace

void ByteBuilder::patch_u64(size_t pos, uint64_t v) {
  if (pos + 8 <= bytes_.size()) std::memcpy(bytes_.data() + pos, &v, 8);
}

void ByteBuilder::patch_u32(size_t pos, uint32_t v) {
  if (pos + 4 <= bytes_.size()) std::memcpy(bytes_.data() + pos, &v, 4);
}

Value make_uint(ValueType t, uint64_t v) {
  return Value{t, v};
}
Value make_int(ValueType t, int64_t v) {
  return Value{t, v};
}
Value make_float(ValueType t, double v) {
  return Value{t, v};
}
Value make_bool(bool v) {
  return Value{ValueType::BOOL, v};
}
Value make_string(std::string v) {
  return Value{ValueType::STRING, std::move(v)};
}
Value make_array(ValueType elem_type, std::vector<Value> items) {
  return Value{ValueType::ARRAY, Array{elem_type, std::move(items)}};
}

void encode_value(ByteBuilder& out, const Value& v) {
  switch (v.type) {
    case ValueType::UINT8:
      out.u8(static_cast<uint8_t>(raw_uint(v)));
      break;
    case ValueType::INT8:
      out.u8(static_cast<uint8_t>(raw_uint(v)));
      break;
    case ValueType::UINT16:
      out.u16(static_cast<uint16_t>(raw_uint(v)));
      break;
    case ValueType::INT16:
      out.u16(static_cast<uint16_t>(raw_uint(v)));
      break;
    case ValueType::UINT32:
      out.u32(static_cast<uint32_t>(raw_uint(v)));
      break;
    case ValueType::INT32:
      out.u32(static_cast<uint32_t>(raw_uint(v)));
      break;
    case ValueType::UINT64:
      out.u64(raw_uint(v));
      break;
    case ValueType::INT64:
      out.u64(raw_uint(v));
      break;
    case ValueType::FLOAT32:
      out.f32(static_cast<float>(raw_float(v)));
      break;
    case ValueType::FLOAT64:
      out.f64(raw_float(v));
      break;
    case ValueType::BOOL:
      out.u8(raw_uint(v) != 0 ? 1 : 0);
      break;
    case ValueType::STRING: {
      const std::string* s = v.as_string();
      out.str(s ? std::string_view(*s) : std::string_view());
      break;
    }
    case ValueType::ARRAY: {
      const Array* a = v.as_array();
      out.u32(static_cast<uint32_t>(a ? a->elem_type() : ValueType::UINT8));
      out.u64(a ? a->size() : 0);
      if (a) {
        for (size_t i = 0; i < a->size(); ++i) encode_value(out, a->at(i));
      }
      break;
    }
  }
}

void Writer::set(const std::string& key, Value v) {
  for (auto& [k, old] : kv_) {
    if (k == key) {  // keep the first insertion's position
      old = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void Writer::set_u32(const std::string& key, uint32_t v) {
  set(key, make_uint(ValueType::UINT32, v));
}
void Writer::set_i32(const std::string& key, int32_t v) {
  set(key, make_int(ValueType::INT32, v));
}
void Writer::set_u64(const std::string& key, uint64_t v) {
  set(key, make_uint(ValueType::UINT64, v));
}
void Writer::set_f32(const std::string& key, float v) {
  set(key, make_float(ValueType::FLOAT32, v));
}
void Writer::set_bool(const std::string& key, bool v) {
  set(key, make_bool(v));
}
void Writer::set_string(const std::string& key, const std::string& v) {
  set(key, make_string(v));
}

void Writer::set_string_array(const std::string& key, const std::vector<std::string>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(make_string(s));
  set(key, make_array(ValueType::STRING, std::move(items)));
}

void Writer::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(make_int(ValueType::INT32, x));
  set(key, make_array(ValueType::INT32, std::move(items)));
}

void Writer::set_f32_array(const std::string& key, const std::vector<float>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (float x : v) items.push_back(make_float(ValueType::FLOAT32, x));
  set(key, make_array(ValueType::FLOAT32, std::move(items)));
}

Status Writer::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> shape,
                          std::span<const uint8_t> data) {
  if (!valid_alignment(alignment_)) {
    return make_error("gguf writer: alignment {} is not a nonzero power of two", alignment_);
  }
  if (name.empty()) return make_error("gguf writer: empty tensor name");
  for (const auto& t : tensors_) {
    if (t.name == name) return make_error("gguf writer: duplicate tensor name '{}'", name);
  }
  auto tr = type_traits(type);
  if (!tr) {
    return make_error("gguf writer: tensor '{}': unknown ggml type {}", name,
                      static_cast<uint32_t>(type));
  }
  if (shape.empty() || shape.size() > 4) {
    return make_error("gguf writer: tensor '{}': n_dims {} out of range 1..4", name, shape.size());
  }
  uint64_t n_el = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return make_error("gguf writer: tensor '{}': dim[{}] is 0", name, d);
    auto p = checked_mul(n_el, shape[d]);
    if (!p) return make_error("gguf writer: tensor '{}': element count overflows", name);
    n_el = *p;
  }
  auto row = row_size(type, shape[0]);
  if (!row) {
    return make_error(
        "gguf writer: tensor '{}': shape[0] {} is not a multiple of the {} block size {}", name,
        shape[0], tr->name, tr->block_size);
  }
  auto bytes = checked_mul(*row, n_el / shape[0]);
  if (!bytes) return make_error("gguf writer: tensor '{}': byte size overflows", name);
  if (*bytes != data.size()) {
    return make_error("gguf writer: tensor '{}': {} {} needs {} bytes, got {}", name, tr->name,
                      fmt::format("[{}]", fmt::join(shape, ", ")), *bytes, data.size());
  }
  tensors_.push_back(
      PendingTensor{name, type, std::move(shape), std::vector<uint8_t>(data.begin(), data.end())});
  return {};
}

std::vector<uint8_t> Writer::to_bytes() const {
  const uint64_t align = valid_alignment(alignment_) ? alignment_ : kDefaultAlignment;
  bool has_alignment_key = false;
  for (const auto& [k, v] : kv_) has_alignment_key |= (k == "general.alignment");
  const bool add_alignment_key = !has_alignment_key && align != kDefaultAlignment;

  ByteBuilder b;
  b.raw("GGUF", 4).u32(3).u64(tensors_.size()).u64(kv_.size() + (add_alignment_key ? 1 : 0));
  if (add_alignment_key) {
    b.str("general.alignment").u32(static_cast<uint32_t>(ValueType::UINT32));
    b.u32(static_cast<uint32_t>(align));
  }
  for (const auto& [k, v] : kv_) {
    b.str(k).u32(static_cast<uint32_t>(v.type));
    encode_value(b, v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    b.str(t.name).u32(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) b.u64(d);
    b.u32(static_cast<uint32_t>(t.type)).u64(offset);
    offset += t.data.size();
    offset = (offset + align - 1) / align * align;
  }
  b.pad_to(align);
  for (const auto& t : tensors_) {
    b.raw(t.data.data(), t.data.size());
    b.pad_to(align);
  }
  return b.take();
}

Status Writer::write(const std::string& path) const {
  if (!valid_alignment(alignment_)) {
    return make_error("gguf writer: alignment {} is not a nonzero power of two", alignment_);
  }
  std::vector<uint8_t> bytes = to_bytes();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error("gguf writer: cannot create '{}': {}", path, std::strerror(errno));
  size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
  bool ok = n == bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return make_error("gguf writer: short write to '{}'", path);
  return {};
}

}  // namespace frugal::gguf
