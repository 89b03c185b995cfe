// Countdown equation checking (checkers.h: check_countdown).
//
// A hand-written recursive-descent parser over exact rationals: no library in
// our dependency set evaluates arithmetic exactly (an expression evaluator on
// doubles would call 6/(1-3/4) 23.999999 or accept 1/3*3 by rounding), and the
// grammar is five rules long:
//
//   equation := expr [ '=' integer ]
//   expr     := term { ('+' | '-') term }
//   term     := factor { ('*' | '/') factor }
//   factor   := integer | '(' expr ')' | '\frac' '{' expr '}' '{' expr '}'
//
// No unary minus: Countdown combines the given numbers with binary
// operations only. Input length and nesting depth are bounded before any
// recursion (kMaxEquationBytes, kMaxEquationDepth), so hostile input costs
// microseconds and a shallow stack.
#include <cstdint>
#include <map>
#include <numeric>
#include <vector>

#include "eval/checkers.h"

namespace frugal::eval {

namespace {

enum class Tok { Num, Plus, Minus, Mul, Div, LParen, RParen, LBrace, RBrace, Frac, Eq, End };

struct Token {
  Tok kind;
  int64_t value = 0;     // Num
  bool too_big = false;  // Num with more than 18 digits
};

bool starts_with(std::string_view s, size_t pos, std::string_view prefix) {
  return s.size() >= pos + prefix.size() && s.compare(pos, prefix.size(), prefix) == 0;
}

// Spellings of each operator a model writes in LaTeX or Unicode.
struct Spelling {
  std::string_view text;
  Tok kind;  // End: skipped (spacing and math-mode markers)
};
constexpr Spelling kSpellings[] = {
    {"\\times", Tok::Mul},
    {"\\cdot", Tok::Mul},
    {"\xc3\x97", Tok::Mul},  // ×
    {"\xc2\xb7", Tok::Mul},  // ·
    {"\\div", Tok::Div},
    {"\xc3\xb7", Tok::Div},        // ÷
    {"\xe2\x88\x92", Tok::Minus},  // − U+2212
    {"\xe2\x80\x93", Tok::Minus},  // – U+2013
    {"\\left(", Tok::LParen},
    {"\\right)", Tok::RParen},
    {"\\dfrac", Tok::Frac},
    {"\\tfrac", Tok::Frac},
    {"\\frac", Tok::Frac},
    {"\\,", Tok::End},
    {"\\;", Tok::End},
    {"\\!", Tok::End},
    {"\\ ", Tok::End},
    {"$", Tok::End},
};

// Splits `s` into tokens; false on a character outside the grammar.
bool lex(std::string_view s, std::vector<Token>& out) {
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (c >= '0' && c <= '9') {
      Token t{Tok::Num};
      size_t n = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (++n > 18) {
          t.too_big = true;
        } else {
          t.value = t.value * 10 + (s[i] - '0');
        }
        ++i;
      }
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) return false;  // integers only
      out.push_back(t);
      continue;
    }
    Tok k = Tok::End;
    bool matched = true;
    switch (c) {
      case '+':
        k = Tok::Plus;
        break;
      case '-':
        k = Tok::Minus;
        break;
      case '*':
        k = Tok::Mul;
        break;
      case '/':
        k = Tok::Div;
        break;
      case '(':
        k = Tok::LParen;
        break;
      case ')':
        k = Tok::RParen;
        break;
      case '{':
        k = Tok::LBrace;
        break;
      case '}':
        k = Tok::RBrace;
        break;
      case '=':
        k = Tok::Eq;
        break;
      default:
        matched = false;
    }
    if (matched) {
      out.push_back({k});
      ++i;
      continue;
    }
    bool found = false;
    for (const Spelling& sp : kSpellings) {
      if (starts_with(s, i, sp.text)) {
        if (sp.kind != Tok::End) out.push_back({sp.kind});
        i += sp.text.size();
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  out.push_back({Tok::End});
  return true;
}

// An exact rational num/den with den > 0, always reduced. Every operation is
// overflow-checked; INT64_MIN is treated as overflow so that negation and
// std::gcd stay defined.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;
};

constexpr int64_t kMin = INT64_MIN;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& toks) : toks_(toks) {}

  // Parses the whole equation; false on a syntax error or excess depth.
  bool parse() {
    if (!expr(value_)) return false;
    if (peek() == Tok::Eq) {
      ++pos_;
      if (peek() != Tok::Num) return false;
      const Token& t = toks_[pos_++];
      stated_ = t.too_big ? std::optional<int64_t>() : t.value;
      stated_present_ = true;
    }
    return peek() == Tok::End;
  }

  bool too_deep() const { return too_deep_; }
  const std::vector<const Token*>& literals() const { return literals_; }
  std::optional<Reason> eval_error() const { return eval_error_; }
  const Rational& value() const { return value_; }
  bool stated_present() const { return stated_present_; }
  std::optional<int64_t> stated() const { return stated_; }

 private:
  Tok peek() const { return toks_[pos_].kind; }

  bool expr(Rational& out) {
    if (++depth_ > kMaxEquationDepth) {
      too_deep_ = true;
      return false;
    }
    if (!term(out)) return false;
    while (peek() == Tok::Plus || peek() == Tok::Minus) {
      const bool minus = toks_[pos_++].kind == Tok::Minus;
      Rational r;
      if (!term(r)) return false;
      if (minus) r.num = -r.num;  // r.num != INT64_MIN by construction
      out = add(out, r);
    }
    --depth_;
    return true;
  }

  bool term(Rational& out) {
    if (!factor(out)) return false;
    while (peek() == Tok::Mul || peek() == Tok::Div) {
      const bool div = toks_[pos_++].kind == Tok::Div;
      Rational r;
      if (!factor(r)) return false;
      out = div ? divide(out, r) : mul(out, r);
    }
    return true;
  }

  bool factor(Rational& out) {
    switch (peek()) {
      case Tok::Num: {
        const Token& t = toks_[pos_++];
        literals_.push_back(&t);
        if (t.too_big) fail(Reason::Overflow);
        out = Rational{t.value, 1};
        return true;
      }
      case Tok::LParen:
        ++pos_;
        if (!expr(out) || peek() != Tok::RParen) return false;
        ++pos_;
        return true;
      case Tok::Frac: {
        ++pos_;
        Rational a, b;
        if (!braced(a) || !braced(b)) return false;
        out = divide(a, b);
        return true;
      }
      default:
        return false;  // unary minus, an operator or the end where an operand belongs
    }
  }

  bool braced(Rational& out) {
    if (peek() != Tok::LBrace) return false;
    ++pos_;
    if (!expr(out) || peek() != Tok::RBrace) return false;
    ++pos_;
    return true;
  }

  void fail(Reason r) {
    if (!eval_error_) eval_error_ = r;
  }

  Rational checked(__int128 num, __int128 den) {
    // Both fit in int128 (products of two int64); reduce, then narrow.
    if (den < 0) num = -num, den = -den;
    __int128 a = num < 0 ? -num : num, b = den;
    while (b != 0) {
      __int128 t = a % b;
      a = b;
      b = t;
    }
    if (a > 1) num /= a, den /= a;
    if (num <= kMin || num > INT64_MAX || den > INT64_MAX) {
      fail(Reason::Overflow);
      return {0, 1};
    }
    return {static_cast<int64_t>(num), static_cast<int64_t>(den)};
  }

  Rational add(const Rational& x, const Rational& y) {
    // x.num*y.den + y.num*x.den fits in int128: each product < 2^126.
    return checked(static_cast<__int128>(x.num) * y.den + static_cast<__int128>(y.num) * x.den,
                   static_cast<__int128>(x.den) * y.den);
  }
  Rational mul(const Rational& x, const Rational& y) {
    return checked(static_cast<__int128>(x.num) * y.num, static_cast<__int128>(x.den) * y.den);
  }
  Rational divide(const Rational& x, const Rational& y) {
    if (y.num == 0) {
      fail(Reason::DivisionByZero);
      return {0, 1};
    }
    return checked(static_cast<__int128>(x.num) * y.den, static_cast<__int128>(x.den) * y.num);
  }

  const std::vector<Token>& toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool too_deep_ = false;
  std::vector<const Token*> literals_;
  std::optional<Reason> eval_error_;
  Rational value_;
  bool stated_present_ = false;
  std::optional<int64_t> stated_;
};

}  // namespace

CountdownCheck check_countdown(std::string_view equation, std::span<const int64_t> numbers,
                               int64_t target) {
  CountdownCheck c;
  if (equation.size() > kMaxEquationBytes) {
    c.reason = Reason::TooLong;
    return c;
  }
  std::vector<Token> toks;
  if (!lex(equation, toks)) {
    c.reason = Reason::Malformed;
    return c;
  }
  Parser p(toks);
  if (!p.parse()) {
    c.reason = p.too_deep() ? Reason::TooLong : Reason::Malformed;
    return c;
  }
  // Every given number exactly once (a multiset: [3, 3, 8] allows two 3s).
  std::map<int64_t, int> left;
  for (int64_t n : numbers) ++left[n];
  for (const Token* t : p.literals()) {
    auto it = t->too_big ? left.end() : left.find(t->value);
    if (it == left.end()) {
      c.reason = Reason::NumberNotGiven;
      return c;
    }
    if (it->second == 0) {
      c.reason = Reason::NumberReused;
      return c;
    }
    --it->second;
  }
  for (const auto& [n, count] : left) {
    if (count > 0) {
      c.reason = Reason::NumberUnused;
      return c;
    }
  }
  if (auto e = p.eval_error()) {
    c.reason = *e;
    return c;
  }
  c.value = std::make_pair(p.value().num, p.value().den);
  if (p.stated_present() && p.stated() != std::optional<int64_t>(target)) {
    c.reason = Reason::WrongTarget;
    return c;
  }
  c.reason = p.value().den == 1 && p.value().num == target ? Reason::Correct : Reason::WrongResult;
  return c;
}

}  // namespace frugal::eval
