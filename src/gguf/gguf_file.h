// gguf::File: a GGUF v3 (v2 readable) file, memory-mapped and validated once at
// open. After open() succeeds every metadata value is parsed into owned memory
// and every tensor's [offset, offset + n_bytes) lies inside the mapped file, so
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
// Arrays hold one element type; arrays of arrays are legal in the format and
// kept as nested Values.
struct Array {
  ValueType elem_type = ValueType::UINT8;
  std::vector<Value> items;
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

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  Status parse(const OpenOptions& opt);

  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when we own an mmap
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, Value> kv_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace frugal::gguf
