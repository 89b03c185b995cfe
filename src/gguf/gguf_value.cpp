// gguf::Value and gguf::Array accessors, value-type names. Kept apart from the
// parser so the parser file holds only the byte-level validation.
#include <cstdint>
#include <cstring>
#include <limits>

#include "gguf/gguf_file.h"

namespace frugal::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
      return "uint8";
    case ValueType::INT8:
      return "int8";
    case ValueType::UINT16:
      return "uint16";
    case ValueType::INT16:
      return "int16";
    case ValueType::UINT32:
      return "uint32";
    case ValueType::INT32:
      return "int32";
    case ValueType::FLOAT32:
      return "float32";
    case ValueType::BOOL:
      return "bool";
    case ValueType::STRING:
      return "string";
    case ValueType::ARRAY:
      return "array";
    case ValueType::UINT64:
      return "uint64";
    case ValueType::INT64:
      return "int64";
    case ValueType::FLOAT64:
      return "float64";
  }
  return "unknown";
}

// The parser stores every unsigned type as uint64_t, every signed one as
// int64_t and both float widths as double; the accessors only convert when the
// value is exactly representable in the requested kind.
std::optional<uint64_t> Value::as_uint() const {
  if (const auto* u = std::get_if<uint64_t>(&v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(*u);
    }
  }
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return std::nullopt;
}

const std::string* Value::as_string() const {
  return std::get_if<std::string>(&v);
}

const Array* Value::as_array() const {
  return std::get_if<Array>(&v);
}

namespace {

template <class T>
T load(const uint8_t* p) {
  T x;
  std::memcpy(&x, p, sizeof(T));  // unaligned, little-endian like the target
  return x;
}

// Encoded size of one scalar element (not STRING or ARRAY).
size_t scalar_bytes(ValueType t) {
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
    default:
      return 8;
  }
}

}  // namespace

Array::Array(ValueType elem_type, std::vector<Value> items)
    : elem_type_(elem_type), items_(std::move(items)) {}

Array::Array(const Array& other) : elem_type_(other.elem_type_) {
  if (other.data_ == nullptr) {
    items_ = other.items_;
    return;
  }
  items_.reserve(other.size());
  for (size_t i = 0; i < other.size(); ++i) items_.push_back(other.at(i));
}

Array& Array::operator=(const Array& other) {
  if (this != &other) *this = Array(other);
  return *this;
}

Array::~Array() = default;

Array Array::view(ValueType elem_type, const uint8_t* data, uint64_t count,
                  std::vector<uint64_t> string_pos) {
  Array a;
  a.elem_type_ = elem_type;
  a.data_ = data;
  a.count_ = count;
  a.string_pos_ = std::move(string_pos);
  return a;
}

size_t Array::size() const {
  return data_ != nullptr ? static_cast<size_t>(count_) : items_.size();
}

Value Array::at(size_t i) const {
  if (i >= size()) return Value{};
  if (data_ == nullptr) return items_[i];
  if (elem_type_ == ValueType::STRING) return Value{elem_type_, std::string(*string_at(i))};
  const uint8_t* p = data_ + i * scalar_bytes(elem_type_);
  switch (elem_type_) {
    case ValueType::UINT8:
      return Value{elem_type_, uint64_t{load<uint8_t>(p)}};
    case ValueType::UINT16:
      return Value{elem_type_, uint64_t{load<uint16_t>(p)}};
    case ValueType::UINT32:
      return Value{elem_type_, uint64_t{load<uint32_t>(p)}};
    case ValueType::UINT64:
      return Value{elem_type_, load<uint64_t>(p)};
    case ValueType::INT8:
      return Value{elem_type_, int64_t{load<int8_t>(p)}};
    case ValueType::INT16:
      return Value{elem_type_, int64_t{load<int16_t>(p)}};
    case ValueType::INT32:
      return Value{elem_type_, int64_t{load<int32_t>(p)}};
    case ValueType::INT64:
      return Value{elem_type_, load<int64_t>(p)};
    case ValueType::FLOAT32:
      return Value{elem_type_, static_cast<double>(load<float>(p))};
    case ValueType::FLOAT64:
      return Value{elem_type_, load<double>(p)};
    case ValueType::BOOL:
      return Value{elem_type_, load<uint8_t>(p) != 0};
    case ValueType::STRING:
    case ValueType::ARRAY:
      break;  // strings handled above; arrays of arrays are never views
  }
  return Value{};
}

std::optional<std::string_view> Array::string_at(size_t i) const {
  if (elem_type_ != ValueType::STRING || i >= size()) return std::nullopt;
  if (data_ == nullptr) {
    const std::string* s = items_[i].as_string();
    if (s == nullptr) return std::nullopt;
    return std::string_view(*s);
  }
  const uint8_t* p = data_ + string_pos_[i / kStringStride];
  for (size_t k = 0; k < i % kStringStride; ++k) p += 8 + load<uint64_t>(p);  // checked at parse
  return std::string_view(reinterpret_cast<const char*>(p + 8),
                          static_cast<size_t>(load<uint64_t>(p)));
}

const Array* Array::array_at(size_t i) const {
  if (elem_type_ != ValueType::ARRAY || data_ != nullptr || i >= items_.size()) return nullptr;
  return items_[i].as_array();
}

std::vector<Value>& Array::items() {
  if (data_ != nullptr) {
    Array owned(*this);
    *this = std::move(owned);
  }
  return items_;
}

}  // namespace frugal::gguf
