// GGUF parser: maps the file, then validates every count, length, type, shape
// and offset before anything is stored. The layout (facts of the format):
//   "GGUF" u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x { string key, u32 value_type, value },
//   tensor_count x { string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset },
//   padding to general.alignment, then the data section.
// A string is u64 length + bytes; an array is u32 elem_type, u64 count, items.
#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/checked_math.h"

namespace frugal::gguf {
namespace {

constexpr uint32_t kDefaultAlignment = 32;
// Smallest possible encodings, used to reject header counts that could not
// fit in the bytes that remain before anything is reserved.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // key length, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4;  // name length, n_dims, 1 dim, type
constexpr uint32_t kMaxDims = 4;
// Most items reserved from a header count before any of them is parsed: a
// count that fits the file can still claim far more memory than the file
// holds (a TensorInfo or a Value is ~50-100 bytes, its encoding 1-24).
constexpr uint64_t kMaxUpfrontItems = uint64_t{1} << 12;

// Bounds-checked little-endian reader over the mapped bytes. Every read
// returns nullopt instead of reading past the end; callers turn that into an
// error naming the field.
class Cursor {
 public:
  Cursor(const uint8_t* p, uint64_t n) : p_(p), n_(n) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return n_ - pos_; }

  template <class T>
  std::optional<T> read() {
    if (remaining() < sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));  // the target is little-endian (x86-64, aarch64)
    pos_ += sizeof(T);
    return v;
  }

  std::optional<std::string_view> bytes(uint64_t len) {
    if (len > remaining()) return std::nullopt;
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* p_;
  uint64_t n_;
  uint64_t pos_ = 0;
};

Error truncated(const Cursor& c, std::string_view what, uint64_t need) {
  return make_error("gguf: truncated file: {} at offset {} needs {} bytes, {} left", what, c.pos(),
                    need, c.remaining());
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool known_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::FLOAT64);
}

// Fewest bytes one value of type `t` can occupy (a string: its length field;
// an array: its elem type and count).
uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
      return 8;
    case ValueType::STRING:
      return 8;
    case ValueType::ARRAY:
      return 4 + 8;
  }
  return 1;
}

class Parser {
 public:
  Parser(const uint8_t* p, uint64_t n, const OpenOptions& opt)
      : c_(p, n), base_(p), size_(n), opt_(opt) {}

  // Reads a string (u64 length + bytes). `what()` names it in errors; it is a
  // callable so the name is only formatted on the error path (a vocabulary
  // holds hundreds of thousands of strings).
  template <class Describe>
  Result<std::string_view> string(Describe what) {
    auto len = c_.read<uint64_t>();
    if (!len) return truncated(c_, fmt::format("{} length", what()), 8);
    if (*len > c_.remaining()) {
      return make_error("gguf: {}: string length {} exceeds the {} bytes left in the file", what(),
                        *len, c_.remaining());
    }
    if (*len > opt_.max_string_bytes) {
      return make_error("gguf: {}: string length {} exceeds the limit of {} bytes", what(), *len,
                        opt_.max_string_bytes);
    }
    return *c_.bytes(*len);
  }

  // Parses one value of type `t` into `out` in place (no Result<Value>
  // round trip per item: a vocabulary has hundreds of thousands of them).
  Status value(Value& out, ValueType t, std::string_view key, uint32_t depth) {
    out.type = t;
    switch (t) {
      case ValueType::UINT8:
        return uint_value<uint8_t>(out, key);
      case ValueType::UINT16:
        return uint_value<uint16_t>(out, key);
      case ValueType::UINT32:
        return uint_value<uint32_t>(out, key);
      case ValueType::UINT64:
        return uint_value<uint64_t>(out, key);
      case ValueType::INT8:
        return int_value<int8_t>(out, key);
      case ValueType::INT16:
        return int_value<int16_t>(out, key);
      case ValueType::INT32:
        return int_value<int32_t>(out, key);
      case ValueType::INT64:
        return int_value<int64_t>(out, key);
      case ValueType::FLOAT32: {
        auto f = c_.read<float>();
        if (!f) return truncated(c_, fmt::format("key '{}' float32 value", key), 4);
        out.v = static_cast<double>(*f);
        return {};
      }
      case ValueType::FLOAT64: {
        auto f = c_.read<double>();
        if (!f) return truncated(c_, fmt::format("key '{}' float64 value", key), 8);
        out.v = *f;
        return {};
      }
      case ValueType::BOOL: {
        auto b = c_.read<uint8_t>();
        if (!b) return truncated(c_, fmt::format("key '{}' bool value", key), 1);
        if (*b > 1) {
          return make_error("gguf: key '{}': bool value {} (expected 0 or 1)", key, *b);
        }
        out.v = *b == 1;
        return {};
      }
      case ValueType::STRING: {
        auto s = string([&] { return fmt::format("key '{}' value", key); });
        if (!s.ok()) return s.error();
        out.v.emplace<std::string>(*s);
        return {};
      }
      case ValueType::ARRAY:
        return array(out, key, depth);
    }
    return make_error("gguf: key '{}': unknown value type {}", key, static_cast<uint32_t>(t));
  }

  Status array(Value& out, std::string_view key, uint32_t depth) {
    if (depth >= opt_.max_array_depth) {
      return make_error("gguf: key '{}': arrays nested deeper than {} levels", key,
                        opt_.max_array_depth);
    }
    auto et = c_.read<uint32_t>();
    if (!et) return truncated(c_, fmt::format("key '{}' array element type", key), 4);
    if (!known_value_type(*et)) {
      return make_error("gguf: key '{}': unknown array element type {}", key, *et);
    }
    auto count = c_.read<uint64_t>();
    if (!count) return truncated(c_, fmt::format("key '{}' array count", key), 8);
    const auto elem_type = static_cast<ValueType>(*et);
    // Bound the count by the bytes left before allocating anything.
    if (*count > c_.remaining() / min_value_bytes(elem_type)) {
      return make_error(
          "gguf: key '{}': array count {} of {} cannot fit in the {} bytes left in the file", key,
          *count, value_type_name(elem_type), c_.remaining());
    }
    if (*count > opt_.max_array_items) {
      return make_error("gguf: key '{}': array count {} exceeds the limit of {}", key, *count,
                        opt_.max_array_items);
    }
    if (elem_type == ValueType::ARRAY) {
      std::vector<Value> items;
      // The count fits the bytes left, but an item costs far more memory than
      // its smallest encoding (a Value is ~50 bytes), so memory grows with the
      // items actually parsed, never with the count up front.
      items.reserve(static_cast<size_t>(std::min<uint64_t>(*count, kMaxUpfrontItems)));
      for (uint64_t i = 0; i < *count; ++i)
        FRUGAL_TRY(value(items.emplace_back(), elem_type, key, depth + 1));
      out.v.emplace<Array>(elem_type, std::move(items));
      return {};
    }
    // Numbers, bools and strings stay in the mapping (Array::view); only
    // every Array::kStringStride-th string's position is stored.
    const uint8_t* data = base_ + c_.pos();
    std::vector<uint64_t> string_pos;
    if (elem_type == ValueType::STRING) {
      for (uint64_t i = 0; i < *count; ++i) {
        if (i % Array::kStringStride == 0)
          string_pos.push_back(static_cast<uint64_t>(base_ + c_.pos() - data));
        auto s = string([&] { return fmt::format("key '{}' item {}", key, i); });
        if (!s.ok()) return s.error();
      }
      string_pos.shrink_to_fit();
    } else {
      const uint64_t n_bytes = *count * min_value_bytes(elem_type);  // fits: checked above
      auto bytes = c_.bytes(n_bytes);
      if (!bytes) return truncated(c_, fmt::format("key '{}' array items", key), n_bytes);
      if (elem_type == ValueType::BOOL) {
        for (uint64_t i = 0; i < *count; ++i) {
          const auto b = static_cast<uint8_t>((*bytes)[i]);
          if (b > 1) {
            return make_error("gguf: key '{}': bool value {} at item {} (expected 0 or 1)", key, b,
                              i);
          }
        }
      }
    }
    out.v = Array::view(elem_type, data, *count, std::move(string_pos));
    return {};
  }

  template <class T>
  Status uint_value(Value& out, std::string_view key) {
    auto x = c_.read<T>();
    if (!x) return truncated(c_, fmt::format("key '{}' value", key), sizeof(T));
    out.v = static_cast<uint64_t>(*x);
    return {};
  }

  template <class T>
  Status int_value(Value& out, std::string_view key) {
    auto x = c_.read<T>();
    if (!x) return truncated(c_, fmt::format("key '{}' value", key), sizeof(T));
    out.v = static_cast<int64_t>(*x);
    return {};
  }

  Cursor c_;
  const uint8_t* base_;
  uint64_t size_;
  const OpenOptions& opt_;
};

std::string shape_str(const std::vector<uint64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

Status File::parse(const OpenOptions& opt) {
  Parser ps(base_, size_, opt);
  Cursor& c = ps.c_;

  // Header.
  auto magic = c.bytes(4);
  if (!magic) return truncated(c, "magic", 4);
  if (*magic != "GGUF") {
    uint32_t m;
    std::memcpy(&m, magic->data(), 4);
    return make_error("gguf: bad magic 0x{:08x} (expected \"GGUF\")", m);
  }
  auto version = c.read<uint32_t>();
  if (!version) return truncated(c, "version", 4);
  if (*version == 1) {
    return make_error("gguf: version 1 is not supported (obsolete format; need version 2 or 3)");
  }
  if (*version != 2 && *version != 3) {
    return make_error("gguf: unsupported version {} (supported: 2, 3)", *version);
  }
  version_ = *version;  // v2 and v3 share the little-endian layout
  auto tensor_count = c.read<uint64_t>();
  if (!tensor_count) return truncated(c, "tensor_count", 8);
  auto kv_count = c.read<uint64_t>();
  if (!kv_count) return truncated(c, "kv_count", 8);
  if (*kv_count > c.remaining() / kMinKvBytes) {
    return make_error("gguf: kv_count {} cannot fit in a file of {} bytes", *kv_count, size_);
  }
  if (*tensor_count > c.remaining() / kMinTensorInfoBytes) {
    return make_error("gguf: tensor_count {} cannot fit in a file of {} bytes", *tensor_count,
                      size_);
  }

  // Metadata.
  for (uint64_t i = 0; i < *kv_count; ++i) {
    FRUGAL_ASSIGN_OR_RETURN(std::string_view key,
                            ps.string([&] { return fmt::format("key #{}", i); }));
    if (key.empty()) return make_error("gguf: key #{}: empty key", i);
    if (!valid_utf8(key)) return make_error("gguf: key #{}: key is not valid UTF-8", i);
    if (kv_.count(std::string(key))) return make_error("gguf: duplicate key '{}'", key);
    auto type = c.read<uint32_t>();
    if (!type) return truncated(c, fmt::format("key '{}' value type", key), 4);
    if (!known_value_type(*type)) {
      return make_error("gguf: key '{}': unknown value type {}", key, *type);
    }
    Value& v = kv_[std::string(key)];
    FRUGAL_TRY(ps.value(v, static_cast<ValueType>(*type), key, 0));
  }

  alignment_ = kDefaultAlignment;
  if (const Value* a = find("general.alignment")) {
    if (a->type != ValueType::UINT32) {
      return make_error("gguf: general.alignment must be uint32, got {}", value_type_name(a->type));
    }
    uint64_t al = *a->as_uint();
    if (al == 0 || (al & (al - 1)) != 0) {
      return make_error("gguf: general.alignment {} is not a nonzero power of two", al);
    }
    alignment_ = al;
  }

  // Tensor infos. Offsets are checked once the data section start is known.
  tensors_.reserve(static_cast<size_t>(std::min<uint64_t>(*tensor_count, kMaxUpfrontItems)));
  for (uint64_t i = 0; i < *tensor_count; ++i) {
    TensorInfo t;
    FRUGAL_ASSIGN_OR_RETURN(std::string_view name,
                            ps.string([&] { return fmt::format("tensor #{} name", i); }));
    if (name.empty()) return make_error("gguf: tensor #{}: empty name", i);
    t.name = std::string(name);
    if (tensor_index_.count(t.name)) return make_error("gguf: duplicate tensor name '{}'", name);
    auto n_dims = c.read<uint32_t>();
    if (!n_dims) return truncated(c, fmt::format("tensor '{}' n_dims", name), 4);
    if (*n_dims < 1 || *n_dims > kMaxDims) {
      return make_error("gguf: tensor '{}': n_dims {} out of range 1..{}", name, *n_dims, kMaxDims);
    }
    uint64_t n_el = 1;
    bool el_overflow = false;
    for (uint32_t d = 0; d < *n_dims; ++d) {
      auto dim = c.read<uint64_t>();
      if (!dim) return truncated(c, fmt::format("tensor '{}' dim[{}]", name, d), 8);
      if (*dim == 0) return make_error("gguf: tensor '{}': dim[{}] is 0", name, d);
      t.shape.push_back(*dim);
      auto p = checked_mul(n_el, *dim);
      if (!p) el_overflow = true;
      n_el = p.value_or(0);
    }
    if (el_overflow) {
      return make_error("gguf: tensor '{}': element count of shape {} overflows 64 bits", name,
                        shape_str(t.shape));
    }
    auto type = c.read<uint32_t>();
    if (!type) return truncated(c, fmt::format("tensor '{}' type", name), 4);
    auto tr = type_traits(*type);
    if (!tr) return make_error("gguf: tensor '{}': unknown ggml type {}", name, *type);
    t.type = static_cast<GgmlType>(*type);
    if (t.shape[0] % tr->block_size != 0) {
      return make_error("gguf: tensor '{}': shape[0] {} is not a multiple of the {} block size {}",
                        name, t.shape[0], tr->name, tr->block_size);
    }
    auto bytes = checked_mul(n_el / tr->block_size, tr->type_size);
    if (!bytes) {
      return make_error("gguf: tensor '{}': byte size of {} shape {} overflows 64 bits", name,
                        tr->name, shape_str(t.shape));
    }
    auto offset = c.read<uint64_t>();
    if (!offset) return truncated(c, fmt::format("tensor '{}' offset", name), 8);
    if (*offset % alignment_ != 0) {
      return make_error("gguf: tensor '{}': offset {} is not a multiple of the alignment {}", name,
                        *offset, alignment_);
    }
    t.n_elements = n_el;
    t.n_bytes = *bytes;
    t.offset = *offset;
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // Data section. A vocab-only file may end right after its metadata, so the
  // aligned start may lie past the end when there are no tensors.
  auto data_offset = checked_align_up(c.pos(), alignment_);
  if (!data_offset) return make_error("gguf: data section offset overflows");
  data_offset_ = *data_offset;
  for (TensorInfo& t : tensors_) {
    auto begin = checked_add(data_offset_, t.offset);
    auto end = begin ? checked_add(*begin, t.n_bytes) : std::nullopt;
    if (!end) {
      return make_error("gguf: tensor '{}': offset {} + size {} overflows 64 bits", t.name,
                        t.offset, t.n_bytes);
    }
    if (*begin >= size_) {
      return make_error(
          "gguf: tensor '{}': offset {} (file offset {}) is past end of file ({} bytes)", t.name,
          t.offset, *begin, size_);
    }
    if (*end > size_) {
      return make_error("gguf: tensor '{}': data [{}, {}) extends past end of file ({} bytes)",
                        t.name, *begin, *end, size_);
    }
    t.data = base_ + *begin;
  }
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* a = by_offset[i - 1];
    const TensorInfo* b = by_offset[i];
    if (b->offset < a->offset + a->n_bytes) {  // no overflow: checked against size_ above
      return make_error("gguf: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", a->name, a->offset,
                        a->offset + a->n_bytes, b->name, b->offset, b->offset + b->n_bytes);
    }
  }
  return {};
}

Result<std::unique_ptr<File>> File::from_memory(std::span<const uint8_t> bytes,
                                                const OpenOptions& opt) {
  std::unique_ptr<File> f(new File());
  f->base_ = bytes.data();
  f->size_ = bytes.size();
  FRUGAL_TRY(f->parse(opt));
  return f;
}

Result<std::unique_ptr<File>> File::open(const std::string& path, const OpenOptions& opt) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("gguf: cannot open '{}': {}", path, std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return make_error("gguf: cannot stat '{}': {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error("gguf: '{}' is not a regular file", path);
  }
  if (st.st_size == 0) {
    ::close(fd);
    return make_error("gguf: '{}' is empty (truncated file: magic needs 4 bytes)", path);
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (m == MAP_FAILED) return make_error("gguf: cannot mmap '{}': {}", path, std::strerror(e));
  ::madvise(m, size, MADV_WILLNEED);
  std::unique_ptr<File> f(new File());
  f->mapping_ = m;
  f->base_ = static_cast<const uint8_t*>(m);
  f->size_ = size;
  auto st2 = f->parse(opt);
  if (!st2.ok()) return Error{fmt::format("{} (in '{}')", st2.error().message, path)};
  return f;
}

File::~File() {
  if (mapping_) ::munmap(mapping_, static_cast<size_t>(size_));
}

void File::prefault(const std::function<void(uint64_t, uint64_t)>& progress) const {
  // A vocabulary-only file may end before its aligned data section starts.
  const uint64_t total = data_offset_ < size_ ? size_ - data_offset_ : 0;
  const uint64_t step = std::max<uint64_t>(total / 100, 1u << 20);
  constexpr uint64_t kPage = 4096;  // touching more often than every page is harmless
  uint8_t sink = 0;
  // Offsets only grow below, so a cursor over the sorted ranges suffices.
  std::sort(released_.begin(), released_.end());
  size_t next = 0;
  auto released = [&](uint64_t off) {
    while (next < released_.size() && released_[next].second <= off) ++next;
    return next < released_.size() && off >= released_[next].first;
  };
  for (uint64_t at = 0; at < total;) {
    const uint64_t end = std::min(total, at + step);
    for (uint64_t i = at; i < end; i += kPage)
      if (!released(data_offset_ + i)) sink ^= base_[data_offset_ + i];
    at = end;
    if (progress) progress(at, total);
  }
  // Keeps the reads from being optimized away.
  static std::atomic<uint8_t> keep;
  keep.store(sink, std::memory_order_relaxed);
}

void File::release(const uint8_t* p, uint64_t n) const {
  const auto at = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(base_);
  if (mapping_ == nullptr || at < base || n == 0) return;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const auto off = static_cast<uint64_t>(at - base);
  if (off > size_ || n > size_ - off) return;
  const uint64_t b = (off + page - 1) / page * page, e = (off + n) / page * page;
  if (b >= e) return;
  // MADV_DONTNEED on a read-only private file mapping drops our page table
  // entries only; the bytes come back from the file if read again.
  if (::madvise(const_cast<uint8_t*>(base_) + b, static_cast<size_t>(e - b), MADV_DONTNEED) == 0)
    released_.emplace_back(b, e);
}

const Value* File::find(std::string_view key) const {
  auto it = kv_.find(std::string(key));
  return it == kv_.end() ? nullptr : &it->second;
}

std::optional<uint64_t> File::get_uint(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_uint() : std::nullopt;
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_int() : std::nullopt;
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_float() : std::nullopt;
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  const std::string* s = v ? v->as_string() : nullptr;
  return s ? std::optional<std::string>(*s) : std::nullopt;
}

const Array* File::get_array(std::string_view key) const {
  const Value* v = find(key);
  return v ? v->as_array() : nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace frugal::gguf
