// gguf::File: a GGUF v3 (v2 readable) file, memory-mapped and validated once at
// open. After open() succeeds every metadata value is parsed (scalars and
// strings into owned memory, long arrays as views into the mapping) and every
// tensor's [offset, offset + n_bytes) lies inside the mapped file, so
// later layers index tensor data without further checks.
//
// Shape convention (as in GGUF): shape[0] is the fastest-varying dimension
// (the row length); a 2-D weight [n_in, n_out] holds n_out rows of n_in.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "gguf/ggml_type.h"

namespace frugal::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType t);

struct Value;

// An array value: one element type, `size()` elements. Arrays built in code
// (and arrays of arrays read from a file) own their elements as Values. Arrays
// of numbers, bools or strings read from a file stay where they are in the
// mapping: a vocabulary's hundreds of thousands of strings would otherwise
// cost ~50 bytes of heap each, tens of MiB for a model of a few hundred
// (issue 3: RSS after load within 5 % of the file). A copy always owns its
// elements, so no copy can outlive the file it points into.
class Array {
 public:
  Array() = default;
  Array(ValueType elem_type, std::vector<Value> items);
  Array(const Array& other);
  Array& operator=(const Array& other);
  Array(Array&&) noexcept = default;
  Array& operator=(Array&&) noexcept = default;
  ~Array();

  // Elements of an array read from a file, validated by the parser: `data`
  // is the first element's encoding; `string_pos` (STRING arrays only) holds
  // the offset from `data` of every kStringStride-th string (its u64 length,
  // then the bytes): string_at() walks at most kStringStride - 1 lengths from
  // there, and a 150k-token vocabulary keeps 18 KiB of positions, not 1.2 MiB.
  static constexpr size_t kStringStride = 64;
  static Array view(ValueType elem_type, const uint8_t* data, uint64_t count,
                    std::vector<uint64_t> string_pos);

  ValueType elem_type() const { return elem_type_; }
  size_t size() const;
  bool empty() const { return size() == 0; }
  // Element i (< size()) as an owned Value (a string element is copied).
  Value at(size_t i) const;
  // Element i of a STRING array without a copy; nullopt for other types.
  // Constant time (a short walk for an array read from a file).
  std::optional<std::string_view> string_at(size_t i) const;
  // Element i of an ARRAY array; nullptr for other types.
  const Array* array_at(size_t i) const;
  // The elements as owned Values, to build or edit an array; an array read
  // from a file is copied out of the mapping on the first call.
  std::vector<Value>& items();

 private:
  ValueType elem_type_ = ValueType::UINT8;
  std::vector<Value> items_;
  const uint8_t* data_ = nullptr;  // non-null: a view into the mapping
  uint64_t count_ = 0;             // elements of a view
  std::vector<uint64_t> string_pos_;
};

struct Value {
  ValueType type = ValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> v;

  // Typed accessors: nullopt when the stored type cannot represent the value
  // exactly (e.g. a negative INT32 read as unsigned).
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const Array* as_array() const;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // shape[0] fastest; 1 <= shape.size() <= 4
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping (read-only)
};

struct OpenOptions {
  // Limits on header counts so a crafted header cannot make us allocate
  // unbounded memory before the file size check catches it.
  uint64_t max_string_bytes = uint64_t{1} << 30;
  uint64_t max_array_items = uint64_t{1} << 28;
  // Arrays of arrays are legal; deeper nesting than this is rejected so a
  // crafted file cannot recurse the parser off the stack.
  uint32_t max_array_depth = 8;
};

class File {
 public:
  // Maps and validates `path`. Errors name the field and value at fault.
  static Result<std::unique_ptr<File>> open(const std::string& path, const OpenOptions& opt = {});
  // Parses an in-memory image (used by tests and fuzzers); the bytes must
  // outlive the File.
  static Result<std::unique_ptr<File>> from_memory(std::span<const uint8_t> bytes,
                                                   const OpenOptions& opt = {});
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::map<std::string, Value>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  // Typed lookups; nullopt if absent or of an incompatible type.
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  const Array* get_array(std::string_view key) const;

  // Reads one byte of every page of the tensor data so it is resident before
  // the first request needs it (the mapping is lazy: otherwise the first
  // prompt pays every page fault, from disk for a cold file). `progress` is
  // called with (bytes done, bytes total) about every 1 %.
  void prefault(const std::function<void(uint64_t, uint64_t)>& progress) const;

  // Gives back the pages wholly inside [p, p + n) of the mapping (a tensor
  // the model has copied elsewhere, e.g. repacked), so they stop counting in
  // RSS; reading them again faults them back in from the file, and
  // prefault() skips them. A no-op for in-memory images. Not safe to call
  // while another thread runs prefault().
  void release(const uint8_t* p, uint64_t n) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  Status parse(const OpenOptions& opt);

  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when we own an mmap
  // [begin, end) byte offsets from base_ given back by release(): residency,
  // not content, hence mutable.
  mutable std::vector<std::pair<uint64_t, uint64_t>> released_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, Value> kv_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace frugal::gguf
