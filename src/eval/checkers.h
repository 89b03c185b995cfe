// Rule-based answer checkers: pure functions of text, no model, no engine, no
// I/O. `frugal eval` grades with them, and GRPO training (issue "R1-Zero on a
// laptop") calls the same functions as its rewards, so a model is trained on
// exactly what it is evaluated on.
//
// Every checker reads the *content* of a reply (what follows </think>), never
// the reasoning: the caller splits the two with chat::ReasoningSplitter first.
//
// Decisions (also in src/eval/README.md):
// - Answer = the last complete \boxed{...} (balanced braces) in the content;
//   several boxes: the last one wins (what R1's and lighteval's graders do).
//   Without a box, the last number in the content is the answer unless
//   ScoreOptions::allow_unboxed is false. format_ok means "a box was found".
// - Numbers: "1,234" (commas only in groups of three), "-3", "3.50", "$42$",
//   "**42**", "42." (sentence period), "\frac{a}{b}", "\dfrac{a}{b}", "a/b".
// - Comparison: when both numbers are integers (a decimal with only zeros
//   after the point counts as one) the digit strings must be equal, at any
//   length; otherwise the values must agree to a relative tolerance of 1e-6
//   (absolute 1e-9 near zero), which accepts "0.5" for "1/2" and "3.50" for
//   "3.5" but not "0.33" for "1/3".
// - Countdown: the equation must use every given number exactly once (as
//   TinyZero's reward does; a Countdown answer that leaves numbers out is a
//   different, easier puzzle), only + - * / and parentheses, no unary minus,
//   integer literals only; it is evaluated in exact rationals, so 6/(1-3/4) is
//   24 and division by zero is an error, never a float artifact.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace frugal::eval {

// Why a reply scored what it did. One enum for every task so training logs
// and eval reports can count reasons side by side.
enum class Reason {
  Correct,
  NoAnswer,        // no box and (if allowed) no number / equation in the content
  WrongAnswer,     // a number was found and it differs from the expected one
  Malformed,       // Countdown: the equation does not parse
  TooLong,         // Countdown: longer or deeper than the parser's bounds
  NumberNotGiven,  // Countdown: uses a number that is not in the list
  NumberReused,    // Countdown: uses a given number more often than it is given
  NumberUnused,    // Countdown: leaves a given number out
  DivisionByZero,  // Countdown
  Overflow,        // Countdown: an intermediate value does not fit in 64 bits
  WrongTarget,     // Countdown: "... = X" with X not the target
  WrongResult,     // Countdown: valid equation, value is not the target
};
std::string_view reason_name(Reason r);  // "correct", "no_answer", "wrong_answer", ...

// A number as written: exact integer digits when it is an integer, and a
// double for tolerance comparison otherwise.
struct Number {
  bool is_integer = false;
  std::string integer;  // canonical decimal integer ("-1234", "0") when is_integer
  double value = 0;     // always set
  std::string text;     // the text it was read from (for reports)
};

// Parses one number written in any of the accepted forms (whole string, after
// trimming spaces, '$', "**", a trailing period, and LaTeX spacing commands).
std::optional<Number> parse_number(std::string_view text);
// True when `got` equals `expected` under the rules above.
bool numbers_equal(const Number& got, const Number& expected);

// The text inside the last complete \boxed{...} of `content` (outer braces
// removed), or nullopt. Unbalanced boxes are ignored.
std::optional<std::string> last_boxed(std::string_view content);
// The last number in free text (commas, signs, decimals, a/b), or nullopt.
std::optional<Number> last_number(std::string_view text);

// GSM8K's reference answers end with "#### 42": the number after the last
// "####". A string without "####" is read as a plain number.
std::optional<Number> parse_gsm8k_answer(std::string_view answer);

// ---- Countdown ----------------------------------------------------------

// Bounds that keep the parser's time and recursion small on any input.
inline constexpr size_t kMaxEquationBytes = 512;
inline constexpr int kMaxEquationDepth = 32;

struct CountdownCheck {
  Reason reason = Reason::Malformed;
  // The exact value when the equation was evaluated (num/den, den > 0).
  std::optional<std::pair<int64_t, int64_t>> value;
  bool ok() const { return reason == Reason::Correct; }
};

// Validates `equation` (e.g. "(25 - 5) * 3", optionally "... = 60") against
// `numbers` (a multiset) and `target`. Common LaTeX/Unicode operator spellings
// are accepted: \times \cdot × · for *, \div ÷ for /, − for -, \left( \right).
CountdownCheck check_countdown(std::string_view equation, std::span<const int64_t> numbers,
                               int64_t target);

// ---- Scoring ------------------------------------------------------------

struct ScoreOptions {
  // Accept an answer outside \boxed{} (the last number; for Countdown the last
  // line that looks like an equation). Training may switch this off to reward
  // only the requested format.
  bool allow_unboxed = true;
};

struct Score {
  bool correct = false;
  bool format_ok = false;  // the answer was inside \boxed{}
  std::string extracted;   // the answer text that was checked ("" if none)
  Reason reason = Reason::NoAnswer;
};

// Numeric tasks (arithmetic, GSM8K-style files): `expected` is a number.
Score score_numeric(std::string_view content, const Number& expected, const ScoreOptions& opt = {});
// Countdown: the extracted text is validated by check_countdown.
Score score_countdown(std::string_view content, std::span<const int64_t> numbers, int64_t target,
                      const ScoreOptions& opt = {});

// TinyZero's reward levels: 1.0 when correct, 0.1 when only the format is
// right, 0 otherwise.
struct RewardLevels {
  double correct = 1.0;
  double format_only = 0.1;
  double none = 0.0;
};
double reward(const Score& s, const RewardLevels& levels = {});

}  // namespace frugal::eval
