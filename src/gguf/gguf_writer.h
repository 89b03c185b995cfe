// gguf::Writer: builds a GGUF v3 file (metadata, tensor infos, aligned data).
// Used by tests (crafted files), by tools that make random-weight models, and
// by export/quantize. It writes what it is given; callers that want a
// malformed file for a test use the raw-bytes helpers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"

namespace frugal::gguf {

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
