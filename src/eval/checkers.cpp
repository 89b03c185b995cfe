// Answer extraction, number parsing and scoring (checkers.h). The Countdown
// equation parser is in countdown_check.cpp.
#include "eval/checkers.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

namespace frugal::eval {

std::string_view reason_name(Reason r) {
  switch (r) {
    case Reason::Correct:
      return "correct";
    case Reason::NoAnswer:
      return "no_answer";
    case Reason::WrongAnswer:
      return "wrong_answer";
    case Reason::Malformed:
      return "malformed";
    case Reason::TooLong:
      return "too_long";
    case Reason::NumberNotGiven:
      return "number_not_given";
    case Reason::NumberReused:
      return "number_reused";
    case Reason::NumberUnused:
      return "number_unused";
    case Reason::DivisionByZero:
      return "division_by_zero";
    case Reason::Overflow:
      return "overflow";
    case Reason::WrongTarget:
      return "wrong_target";
    case Reason::WrongResult:
      return "wrong_result";
  }
  return "unknown";
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
bool starts_with(std::string_view s, size_t pos, std::string_view prefix) {
  return s.size() >= pos + prefix.size() && s.compare(pos, prefix.size(), prefix) == 0;
}

constexpr std::string_view kUnicodeMinus = "\xe2\x88\x92";  // U+2212 "−"

// A decimal as written: sign, integer digits (commas removed), fraction digits.
struct Decimal {
  bool negative = false;
  std::string int_digits;
  std::string frac_digits;
};

// Reads an unsigned decimal at `pos`: digits with optional thousands groups
// ("1,234,567": a comma only counts when exactly three digits follow it) and
// an optional fraction (".5"; a '.' not followed by a digit is a sentence
// period and ends the number). Returns the end position or npos.
size_t read_unsigned(std::string_view s, size_t pos, Decimal& d) {
  size_t i = pos;
  while (i < s.size() && is_digit(s[i])) d.int_digits += s[i++];
  if (i == pos) return std::string_view::npos;
  // Thousands groups only after a lead of 1-3 digits.
  if (d.int_digits.size() <= 3) {
    while (i + 3 < s.size() && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
           is_digit(s[i + 3]) && (i + 4 >= s.size() || !is_digit(s[i + 4]))) {
      d.int_digits.append(s.substr(i + 1, 3));
      i += 4;
    }
  }
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i])) d.frac_digits += s[i++];
  }
  return i;
}

// Canonical form: no leading zeros in the integer part, no trailing zeros in
// the fraction; "-0" is "0".
Number to_number(Decimal d) {
  size_t nz = d.int_digits.find_first_not_of('0');
  d.int_digits = nz == std::string::npos ? "0" : d.int_digits.substr(nz);
  while (!d.frac_digits.empty() && d.frac_digits.back() == '0') d.frac_digits.pop_back();
  const bool zero = d.int_digits == "0" && d.frac_digits.empty();
  std::string canon = (d.negative && !zero ? "-" : "") + d.int_digits;
  Number n;
  n.is_integer = d.frac_digits.empty();
  if (n.is_integer) n.integer = canon;
  if (!d.frac_digits.empty()) canon += "." + d.frac_digits;
  n.value = std::strtod(canon.c_str(), nullptr);
  return n;
}

// a/b from two integer Numbers; exact when b divides a and both fit in int64.
std::optional<Number> divide(const Number& a, const Number& b) {
  if (!a.is_integer || !b.is_integer || b.integer == "0") return std::nullopt;
  Number q;
  q.value = a.value / b.value;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(a.integer.c_str(), &end, 10);
  const bool ax = errno == 0 && *end == '\0';
  errno = 0;
  const long long y = std::strtoll(b.integer.c_str(), &end, 10);
  const bool bx = errno == 0 && *end == '\0';
  if (ax && bx && y != 0 && !(x == std::numeric_limits<long long>::min() && y == -1) &&
      x % y == 0) {
    q.is_integer = true;
    q.integer = std::to_string(x / y);
  }
  return q;
}

// Reads "\frac{A}{B}" (also \dfrac, \tfrac) at `pos`, A and B plain numbers
// with optional spaces. Returns the end position or npos.
size_t read_latex_frac(std::string_view s, size_t pos, std::optional<Number>& out) {
  size_t i = pos;
  for (std::string_view cmd : {"\\frac", "\\dfrac", "\\tfrac"}) {
    if (starts_with(s, i, cmd)) {
      i += cmd.size();
      break;
    }
  }
  if (i == pos) return std::string_view::npos;
  Number parts[2];
  for (Number& part : parts) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size() || s[i] != '{') return std::string_view::npos;
    ++i;
    while (i < s.size() && is_space(s[i])) ++i;
    Decimal d;
    if (i < s.size() && s[i] == '-') d.negative = true, ++i;
    const size_t e = read_unsigned(s, i, d);
    if (e == std::string_view::npos) return std::string_view::npos;
    i = e;
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size() || s[i] != '}') return std::string_view::npos;
    ++i;
    part = to_number(std::move(d));
  }
  out = divide(parts[0], parts[1]);
  return out ? i : std::string_view::npos;
}

// One number token at `pos` (no sign): a decimal, "a/b", or \frac{a}{b}.
size_t read_number_token(std::string_view s, size_t pos, std::optional<Number>& out) {
  if (pos < s.size() && s[pos] == '\\') return read_latex_frac(s, pos, out);
  Decimal d;
  size_t i = read_unsigned(s, pos, d);
  if (i == std::string_view::npos) return i;
  Number n = to_number(d);
  // "a/b" written without spaces, both integers.
  if (d.frac_digits.empty() && i + 1 < s.size() && s[i] == '/' && is_digit(s[i + 1])) {
    Decimal den;
    size_t j = read_unsigned(s, i + 1, den);
    if (j != std::string_view::npos && den.frac_digits.empty()) {
      if (auto q = divide(n, to_number(den))) {
        out = q;
        return j;
      }
    }
  }
  out = n;
  return i;
}

Number negate(Number n) {
  n.value = -n.value;
  if (n.is_integer && n.integer != "0")
    n.integer = n.integer[0] == '-' ? n.integer.substr(1) : "-" + n.integer;
  return n;
}

// Removes decoration around an answer: spaces, "$", "**", LaTeX spacing
// (\, \! \; \quad), "%". "\text{...}" wrappers are left to the last-number
// rule.
std::string strip_decoration(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '$' || s[i] == '%' || is_space(s[i])) {
      ++i;
    } else if (starts_with(s, i, "\\$") || starts_with(s, i, "\\%")) {
      i += 2;
    } else if (starts_with(s, i, "**")) {
      i += 2;
    } else if (starts_with(s, i, "\\,") || starts_with(s, i, "\\!") || starts_with(s, i, "\\;") ||
               starts_with(s, i, "\\ ")) {
      i += 2;
    } else if (starts_with(s, i, "\\quad")) {
      i += 5;
    } else {
      out += s[i++];
    }
  }
  while (!out.empty() && out.back() == '.') out.pop_back();  // a sentence's period
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

std::optional<Number> parse_number(std::string_view text) {
  const std::string s = strip_decoration(text);
  size_t i = 0;
  bool negative = false;
  if (starts_with(s, 0, "-")) {
    negative = true, i = 1;
  } else if (starts_with(s, 0, kUnicodeMinus)) {
    negative = true, i = kUnicodeMinus.size();
  } else if (starts_with(s, 0, "+")) {
    i = 1;
  }
  std::optional<Number> n;
  const size_t end = read_number_token(s, i, n);
  if (end != s.size() || !n) return std::nullopt;
  if (negative) n = negate(*n);
  n->text = std::string(trim(text));
  return n;
}

bool numbers_equal(const Number& got, const Number& expected) {
  if (got.is_integer && expected.is_integer) return got.integer == expected.integer;
  if (!std::isfinite(got.value) || !std::isfinite(expected.value)) return false;
  const double diff = std::fabs(got.value - expected.value);
  return diff <= std::max(1e-9, 1e-6 * std::fabs(expected.value));
}

std::optional<std::string> last_boxed(std::string_view s) {
  // One pass with a stack of open braces, each marked with whether it opened
  // a \boxed: linear in the input however many boxes or braces it holds.
  struct Open {
    size_t content_start;
    bool boxed;
  };
  std::vector<Open> stack;
  std::optional<std::pair<size_t, size_t>> last;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;  // an escaped brace is text
    } else if (starts_with(s, i, "\\boxed")) {
      size_t j = i + 6;
      while (j < s.size() && is_space(s[j])) ++j;
      if (j < s.size() && s[j] == '{') {
        stack.push_back({j + 1, true});
        i = j;
      }
    } else if (s[i] == '{') {
      stack.push_back({i + 1, false});
    } else if (s[i] == '}' && !stack.empty()) {
      const Open o = stack.back();
      stack.pop_back();
      if (o.boxed) last = std::make_pair(o.content_start, i);
    }
  }
  if (!last) return std::nullopt;
  return std::string(s.substr(last->first, last->second - last->first));
}

std::optional<Number> last_number(std::string_view s) {
  std::optional<Number> last;
  for (size_t i = 0; i < s.size();) {
    const bool frac =
        s[i] == '\\' && (starts_with(s, i, "\\frac") || starts_with(s, i, "\\dfrac") ||
                         starts_with(s, i, "\\tfrac"));
    if (!is_digit(s[i]) && !frac) {
      ++i;
      continue;
    }
    std::optional<Number> n;
    size_t end = read_number_token(s, i, n);
    if (end == std::string_view::npos || !n) {
      ++i;
      continue;
    }
    // A minus sign right before the number makes it negative unless it is a
    // binary minus ("5-3", "x - 3" keeps 3): the character before the sign
    // must not end an operand.
    size_t start = i;
    size_t sign_len = 0;
    if (i >= 1 && s[i - 1] == '-') sign_len = 1;
    if (i >= kUnicodeMinus.size() && s.substr(i - kUnicodeMinus.size(), 3) == kUnicodeMinus)
      sign_len = kUnicodeMinus.size();
    if (sign_len > 0) {
      const size_t before = i - sign_len;
      const bool operand_before =
          before > 0 && (std::isalnum(static_cast<unsigned char>(s[before - 1])) ||
                         s[before - 1] == ')' || s[before - 1] == '}' || s[before - 1] == '.');
      if (!operand_before) {
        n = negate(*n);
        start = before;
      }
    }
    n->text = std::string(s.substr(start, end - start));
    last = std::move(n);
    i = end;
  }
  return last;
}

std::optional<Number> parse_gsm8k_answer(std::string_view answer) {
  const size_t p = answer.rfind("####");
  if (p != std::string_view::npos) answer = answer.substr(p + 4);
  return parse_number(answer);
}

Score score_numeric(std::string_view content, const Number& expected, const ScoreOptions& opt) {
  Score s;
  std::optional<Number> got;
  if (auto box = last_boxed(content)) {
    s.format_ok = true;
    s.extracted = trim(*box);
    got = parse_number(*box);
    if (!got) got = last_number(*box);  // "\boxed{x = 42}", "\boxed{42 \text{ apples}}"
  } else if (opt.allow_unboxed) {
    got = last_number(content);
    if (got) s.extracted = got->text;
  }
  if (!got) {
    s.reason = Reason::NoAnswer;
    return s;
  }
  s.correct = numbers_equal(*got, expected);
  s.reason = s.correct ? Reason::Correct : Reason::WrongAnswer;
  return s;
}

namespace {

// The last line of `content` that reads as an equation and nothing else
// (digits, operators, parentheses, '=', spaces, '$' and '*' decoration):
// Countdown's answer when the model did not use \boxed{}.
std::optional<std::string> last_equation_line(std::string_view content) {
  std::optional<std::string> found;
  size_t pos = 0;
  while (pos <= content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    std::string line = trim(content.substr(pos, nl - pos));
    while (!line.empty() && (line.back() == '.' || line.back() == '$')) line.pop_back();
    while (!line.empty() && line.front() == '$') line.erase(line.begin());
    bool digit = false, op = false, only = !line.empty();
    for (size_t i = 0; i < line.size() && only; ++i) {
      const char c = line[i];
      if (is_digit(c)) {
        digit = true;
      } else if (c == '+' || c == '-' || c == '*' || c == '/') {
        op = true;
      } else if (!(c == '(' || c == ')' || c == '=' || is_space(c))) {
        only = false;
      }
    }
    if (only && digit && op) found = line;
    pos = nl + 1;
  }
  return found;
}

}  // namespace

Score score_countdown(std::string_view content, std::span<const int64_t> numbers, int64_t target,
                      const ScoreOptions& opt) {
  Score s;
  std::optional<std::string> eq;
  if (auto box = last_boxed(content)) {
    s.format_ok = true;
    eq = trim(*box);
  } else if (opt.allow_unboxed) {
    eq = last_equation_line(content);
  }
  if (!eq || eq->empty()) {
    s.reason = Reason::NoAnswer;
    return s;
  }
  s.extracted = *eq;
  const CountdownCheck c = check_countdown(*eq, numbers, target);
  s.reason = c.reason;
  s.correct = c.ok();
  return s;
}

double reward(const Score& s, const RewardLevels& levels) {
  if (s.correct) return levels.correct;
  if (s.format_ok) return levels.format_only;
  return levels.none;
}

}  // namespace frugal::eval
