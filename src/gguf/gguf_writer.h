// gguf::Writer: builds a GGUF v3 file (metadata, tensor infos, aligned data).
// Used by tests (crafted files), by tools that make random-weight models, and
// by export/quantize. It writes what it is given; callers that want a
// malformed file for a test use the raw-bytes helpers.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"

namespace frugal::gguf {

// Little-endian byte builder: the low-level half of the writer, public so tests
// and fuzzers can craft headers byte by byte (wrong counts, bad types, ...).
class ByteBuilder {
 public:
  ByteBuilder& u8(uint8_t v) { return raw(&v, 1); }
  ByteBuilder& u16(uint16_t v) { return raw(&v, 2); }
  ByteBuilder& u32(uint32_t v) { return raw(&v, 4); }
  ByteBuilder& u64(uint64_t v) { return raw(&v, 8); }
  ByteBuilder& i32(int32_t v) { return raw(&v, 4); }
  ByteBuilder& i64(int64_t v) { return raw(&v, 8); }
  ByteBuilder& f32(float v) { return raw(&v, 4); }
  ByteBuilder& f64(double v) { return raw(&v, 8); }
  // GGUF string: u64 length, then the bytes (no terminator).
  ByteBuilder& str(std::string_view s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  ByteBuilder& raw(const void* p, size_t n) {
    // resize + memcpy rather than insert: GCC 12 at -O3 reports a false
    // stringop-overflow for vector::insert from a raw pointer range.
    const size_t old = bytes_.size();
    bytes_.resize(old + n);
    if (n) std::memcpy(bytes_.data() + old, p, n);
    return *this;
  }
  ByteBuilder& raw(std::span<const uint8_t> b) { return raw(b.data(), b.size()); }
  // Appends `fill` bytes until size() is a multiple of `align` (0 or 1: none).
  ByteBuilder& pad_to(uint64_t align, uint8_t fill = 0) {
    while (align > 1 && bytes_.size() % align != 0) bytes_.push_back(fill);
    return *this;
  }
  // Overwrites 8 bytes at `pos` (e.g. to patch a count after the fact).
  void patch_u64(size_t pos, uint64_t v);
  void patch_u32(size_t pos, uint32_t v);

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& mutable_bytes() { return bytes_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

// Value constructors, so tests can build every value type (and nested arrays).
Value make_uint(ValueType t, uint64_t v);  // UINT8/16/32/64
Value make_int(ValueType t, int64_t v);    // INT8/16/32/64
Value make_float(ValueType t, double v);   // FLOAT32/64
Value make_bool(bool v);
Value make_string(std::string v);
Value make_array(ValueType elem_type, std::vector<Value> items);

// Appends the encoding of `v` (without key or type tag) to `out`.
void encode_value(ByteBuilder& out, const Value& v);

// Writes a complete GGUF v3 file. `alignment` must be a nonzero power of two
// (it is checked by add_tensor/write; to_bytes() falls back to 32 for an invalid
// one). When alignment != 32 the general.alignment key is written first unless
// the caller set it; a caller-set value is written as given (which lets tests
// write a file whose declared alignment disagrees with its padding).
class Writer {
 public:
  explicit Writer(uint64_t alignment = 32) : alignment_(alignment) {}

  void set(const std::string& key, Value v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);

  // `data` must hold exactly the bytes of `type` for `shape` (checked).
  Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> shape,
                    std::span<const uint8_t> data);

  std::vector<uint8_t> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> kv_;  // file order = insertion order
  std::vector<PendingTensor> tensors_;
};

}  // namespace frugal::gguf
