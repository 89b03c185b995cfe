#include "train/addition_task.h"

#include <fmt/format.h>

#include <random>
#include <set>
#include <utility>

namespace frugal::train {
namespace {

// splitmix64's finalizer: a well-mixed hash of the pair for the split.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int64_t pow10(int d) {
  int64_t v = 1;
  for (int i = 0; i < d; ++i) v *= 10;
  return v;
}

}  // namespace

bool in_split(const AdditionProblem& p, Split split) {
  const bool held_out =
      mix(static_cast<uint64_t>(p.a) * 1000000007ull ^ mix(static_cast<uint64_t>(p.b))) % 8 == 0;
  return held_out == (split == Split::HeldOut);
}

std::vector<AdditionProblem> addition_problems(uint64_t seed, int n, int min_digits, int max_digits,
                                               Split split) {
  std::vector<AdditionProblem> out;
  if (n <= 0 || min_digits < 1 || max_digits > 9 || min_digits > max_digits) return out;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> n_digits(min_digits, max_digits);
  auto operand = [&](int d) {
    const int64_t lo = d == 1 ? 0 : pow10(d - 1);
    return std::uniform_int_distribution<int64_t>(lo, pow10(d) - 1)(rng);
  };
  // The range holds at least 10 x 10 pairs; stop after many fruitless draws
  // instead of looping forever when n asks for more than it holds.
  std::set<std::pair<int64_t, int64_t>> seen;
  int64_t misses = 0;
  while (static_cast<int>(out.size()) < n && misses < 100000) {
    const int d = n_digits(rng);
    const AdditionProblem p{operand(d), operand(d)};
    if (!in_split(p, split) || !seen.insert({p.a, p.b}).second) {
      ++misses;
      continue;
    }
    out.push_back(p);
  }
  return out;
}

std::string addition_question(const AdditionProblem& p) {
  return fmt::format("{}+{}", p.a, p.b);
}

int64_t carry_less_sum(const AdditionProblem& p) {
  int64_t out = 0, place = 1;
  for (int64_t a = p.a, b = p.b; a > 0 || b > 0; a /= 10, b /= 10, place *= 10)
    out += (a % 10 + b % 10) % 10 * place;
  return out;
}

std::string addition_reply(const AdditionProblem& p, ReplyStyle style) {
  const std::string sum =
      std::to_string(style == ReplyStyle::Careless ? carry_less_sum(p) : p.sum());
  const std::string tail = fmt::format("</think>\n<answer>{}</answer>", sum);
  if (style != ReplyStyle::Reasoned)
    return fmt::format("{}={}\n", addition_question(p), sum) + tail;
  const std::string a = std::to_string(p.a), b = std::to_string(p.b);
  std::string out, digits;
  int carry = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const int da = i < a.size() ? a[a.size() - 1 - i] - '0' : 0;
    const int db = i < b.size() ? b[b.size() - 1 - i] - '0' : 0;
    const int s = da + db + carry;
    out +=
        carry ? fmt::format("{}+{}+{}={}", da, db, carry, s) : fmt::format("{}+{}={}", da, db, s);
    digits.insert(digits.begin(), static_cast<char>('0' + s % 10));
    carry = s / 10;
    out += ' ' + digits + '\n';
  }
  if (carry) out += "carry 1 1" + digits + '\n';
  return out + tail;
}

ReplyStyle reply_style(std::string_view reply, const AdditionProblem& p) {
  return reply.starts_with(addition_question(p) + "=") ? ReplyStyle::Direct : ReplyStyle::Reasoned;
}

}  // namespace frugal::train
