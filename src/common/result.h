// Result<T>: the error channel of all library code (no exceptions across layer
// boundaries, no exit/abort on bad input). An Error carries a one-line message
// that names the offending field and value; the CLI and server turn it into a
// message or an HTTP status. Messages never contain user content (DESIGN §8).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace frugal {

struct Error {
  std::string message;
};

// Builds an Error with fmt-style formatting: return make_error("tensor '{}': bad type {}", name, t);
template <class... Args>
Error make_error(fmt::format_string<Args...> f, Args&&... args) {
  return Error{fmt::format(f, std::forward<Args>(args)...)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace frugal

// Propagates an error from an expression returning Result/Status.
#define FRUGAL_TRY(expr)                                  \
  do {                                                    \
    auto&& frugal_try_r_ = (expr);                        \
    if (!frugal_try_r_.ok()) return frugal_try_r_.error(); \
  } while (0)

// Assigns the value of a Result to `lhs`, or returns its error.
#define FRUGAL_CONCAT_INNER_(a, b) a##b
#define FRUGAL_CONCAT_(a, b) FRUGAL_CONCAT_INNER_(a, b)
#define FRUGAL_ASSIGN_OR_RETURN(lhs, expr)                                  \
  auto FRUGAL_CONCAT_(frugal_r_, __LINE__) = (expr);                        \
  if (!FRUGAL_CONCAT_(frugal_r_, __LINE__).ok())                            \
    return FRUGAL_CONCAT_(frugal_r_, __LINE__).error();                     \
  lhs = std::move(FRUGAL_CONCAT_(frugal_r_, __LINE__)).value()
