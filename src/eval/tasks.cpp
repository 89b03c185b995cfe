// Problem generators and problem files (tasks.h).
#include "eval/tasks.h"

#include <limits>
#include <random>
#include <set>

#include "eval/jsonl.h"

namespace frugal::eval {

using json = nlohmann::json;

std::string_view task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::Arithmetic:
      return "arith";
    case TaskKind::Countdown:
      return "countdown";
    case TaskKind::Numeric:
      return "numeric";
  }
  return "unknown";
}

namespace {

// splitmix64: spreads (seed, task, index) into independent generator seeds.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::mt19937_64 problem_rng(uint64_t seed, uint64_t task_salt, uint64_t index) {
  return std::mt19937_64(mix(mix(seed ^ task_salt) + index));
}

// Uniform integer in [lo, hi] by rejection: the same numbers on every
// standard library.
int64_t uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (range == 0) return static_cast<int64_t>(rng());  // the full 64-bit range
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return lo + static_cast<int64_t>(x % range);
}

int64_t pow10(int d) {
  int64_t p = 1;
  while (d-- > 0) p *= 10;
  return p;
}

std::string countdown_prompt(const std::vector<int64_t>& numbers, int64_t target) {
  std::string list;
  for (size_t i = 0; i < numbers.size(); ++i) list += (i ? ", " : "") + std::to_string(numbers[i]);
  return fmt::format(
      "Using the numbers [{}], create an equation that equals {}. You can use +, -, * and / "
      "and parentheses, and you must use each number exactly once. Please reason step by step, "
      "and put your final answer within \\boxed{{}} as an equation using the numbers, for "
      "example \\boxed{{(1 + 2) * 3}}.",
      list, target);
}

// One node of a Countdown construction: its value (a positive integer), its
// text, and the precedence of its top operator (3 for a bare number).
struct Item {
  int64_t value;
  std::string text;
  int prec;
};

// Combines a and b with op, or nullopt when the result would not be a
// positive integer of reasonable size. '+' always succeeds.
std::optional<Item> combine(const Item& a, const Item& b, char op) {
  int64_t v = 0;
  switch (op) {
    case '+':
      v = a.value + b.value;
      break;
    case '-':
      v = a.value - b.value;
      break;
    case '*':
      v = a.value * b.value;
      break;
    case '/':
      if (b.value == 0 || a.value % b.value != 0) return std::nullopt;
      v = a.value / b.value;
      break;
  }
  // Positive intermediate values (classic Countdown); products capped so
  // that no value grows past a few million and nothing can overflow.
  if (v <= 0 || (op == '*' && v > 1000000)) return std::nullopt;
  const int prec = (op == '+' || op == '-') ? 1 : 2;
  // Parentheses only where precedence needs them: a - (b + c), a / (b * c).
  const bool paren_l = a.prec < prec;
  const bool paren_r = b.prec < prec || (b.prec == prec && (op == '-' || op == '/'));
  std::string text = (paren_l ? "(" + a.text + ")" : a.text) + " " + op + " " +
                     (paren_r ? "(" + b.text + ")" : b.text);
  return Item{v, std::move(text), prec};
}

}  // namespace

Result<std::vector<Problem>> generate_arithmetic(uint64_t seed, int n,
                                                 const ArithmeticOptions& opt) {
  if (n < 0) return make_error("number of problems must be >= 0, got {}", n);
  if (opt.digits < 1 || opt.digits > 9)
    return make_error("arithmetic digits must be in 1..9, got {}", opt.digits);
  if (opt.ops.empty() || opt.ops.find_first_not_of("+-*") != std::string::npos)
    return make_error("arithmetic operators must be a non-empty subset of \"+-*\", got \"{}\"",
                      opt.ops);
  const int64_t lo = opt.digits == 1 ? 1 : pow10(opt.digits - 1);
  const int64_t hi = pow10(opt.digits) - 1;
  std::vector<Problem> out;
  for (int i = 0; i < n; ++i) {
    auto rng = problem_rng(seed, 0xA51, static_cast<uint64_t>(i));
    const int64_t a = uniform(rng, lo, hi), b = uniform(rng, lo, hi);
    const char op =
        opt.ops[static_cast<size_t>(uniform(rng, 0, static_cast<int64_t>(opt.ops.size()) - 1))];
    const int64_t v = op == '+' ? a + b : op == '-' ? a - b : a * b;  // |v| < 10^18
    Problem p;
    p.id = fmt::format("arith-{}", i);
    p.kind = TaskKind::Arithmetic;
    p.prompt = fmt::format("What is {} {} {}? {}", a, op, b, kMathInstruction);
    p.answer = std::to_string(v);
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<Problem>> generate_countdown(uint64_t seed, int n, const CountdownOptions& opt) {
  if (n < 0) return make_error("number of problems must be >= 0, got {}", n);
  if (opt.min_numbers < 2 || opt.max_numbers > 6 || opt.min_numbers > opt.max_numbers)
    return make_error("countdown needs 2 <= min_numbers <= max_numbers <= 6, got {}..{}",
                      opt.min_numbers, opt.max_numbers);
  if (opt.max_number < 1 || opt.max_number > 10000)
    return make_error("countdown max_number must be in 1..10000, got {}", opt.max_number);
  if (opt.max_target < opt.max_number * opt.max_numbers)
    return make_error("countdown max_target must be >= max_number x max_numbers ({}), got {}",
                      opt.max_number * opt.max_numbers, opt.max_target);
  static constexpr char kOps[] = {'+', '-', '*', '/'};
  std::vector<Problem> out;
  for (int i = 0; i < n; ++i) {
    auto rng = problem_rng(seed, 0xC0D, static_cast<uint64_t>(i));
    const int count = static_cast<int>(uniform(rng, opt.min_numbers, opt.max_numbers));
    std::vector<int64_t> numbers;
    for (int k = 0; k < count; ++k) numbers.push_back(uniform(rng, 1, opt.max_number));
    // Draw random trees until one lands in 1..max_target. The sum of all the
    // numbers always does (checked above), so the loop ends with it at worst.
    std::optional<Item> found;
    for (int attempt = 0; attempt < 200 && !found; ++attempt) {
      std::vector<Item> items;
      for (int64_t v : numbers) items.push_back({v, std::to_string(v), 3});
      while (items.size() > 1) {
        const size_t a =
            static_cast<size_t>(uniform(rng, 0, static_cast<int64_t>(items.size()) - 1));
        size_t b = static_cast<size_t>(uniform(rng, 0, static_cast<int64_t>(items.size()) - 2));
        if (b >= a) ++b;
        std::optional<Item> c = combine(items[a], items[b], kOps[uniform(rng, 0, 3)]);
        if (!c) c = combine(items[a], items[b], '+');  // always valid
        items[a] = std::move(*c);
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(b));
      }
      if (items[0].value >= 1 && items[0].value <= opt.max_target) found = std::move(items[0]);
    }
    if (!found) {
      Item sum{numbers[0], std::to_string(numbers[0]), 3};
      for (size_t k = 1; k < numbers.size(); ++k)
        sum = *combine(sum, {numbers[k], std::to_string(numbers[k]), 3}, '+');
      found = std::move(sum);
    }
    Problem p;
    p.id = fmt::format("countdown-{}", i);
    p.kind = TaskKind::Countdown;
    p.numbers = numbers;
    p.target = found->value;
    p.answer = std::to_string(p.target);
    p.solution = found->text;
    p.prompt = countdown_prompt(numbers, p.target);
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

// A JSON number or numeric string as the answer text; errors name the line.
Result<std::string> numeric_answer(const json& v, const std::string& path, size_t line_no,
                                   bool gsm8k) {
  std::optional<Number> n;
  if (v.is_number()) {
    n = parse_number(json_dump(v));
  } else if (v.is_string()) {
    n = gsm8k ? parse_gsm8k_answer(v.get<std::string>()) : parse_number(v.get<std::string>());
  } else {
    return make_error("{} line {}: field 'answer' missing or not a string/number", path, line_no);
  }
  if (!n)
    return make_error(
        "{} line {}: field 'answer' has no numeric final answer (expected "
        "'... #### NUMBER' or a number)",
        path, line_no);
  return n->is_integer ? n->integer : n->text;
}

}  // namespace

constexpr JsonlLimits kProblemFileLimits{kMaxProblemsFileBytes, kMaxProblemLineBytes, kMaxProblems};

Result<std::vector<Problem>> load_qa_jsonl(const std::string& path) {
  std::vector<Problem> out;
  FRUGAL_TRY(
      for_each_json_line(path, kProblemFileLimits, [&](size_t line_no, const json& j) -> Status {
        auto q = j.find("question");
        if (q == j.end() || !q->is_string() || q->get<std::string>().empty())
          return make_error("{} line {}: field 'question' missing, empty or not a string", path,
                            line_no);
        auto a = j.find("answer");
        FRUGAL_ASSIGN_OR_RETURN(std::string answer,
                                numeric_answer(a == j.end() ? json() : *a, path, line_no, true));
        Problem p;
        p.id = fmt::format("numeric-{}", out.size());
        p.kind = TaskKind::Numeric;
        p.prompt = q->get<std::string>() + "\n" + std::string(kMathInstruction);
        p.answer = std::move(answer);
        out.push_back(std::move(p));
        return {};
      }));
  return out;
}

std::string problem_to_json_line(const Problem& p) {
  nlohmann::ordered_json j = {
      {"id", p.id}, {"task", task_kind_name(p.kind)}, {"prompt", p.prompt}, {"answer", p.answer}};
  if (p.kind == TaskKind::Countdown) {
    j["numbers"] = p.numbers;
    j["target"] = p.target;
    j["solution"] = p.solution;
  }
  return json_dump(j);
}

Result<std::vector<Problem>> load_problems_jsonl(const std::string& path) {
  std::vector<Problem> out;
  std::set<std::string> ids;
  FRUGAL_TRY(
      for_each_json_line(path, kProblemFileLimits, [&](size_t line_no, const json& j) -> Status {
        auto str = [&](const char* key) -> Result<std::string> {
          auto it = j.find(key);
          if (it == j.end() || !it->is_string() || it->get<std::string>().empty())
            return make_error("{} line {}: field '{}' missing, empty or not a string", path,
                              line_no, key);
          return it->get<std::string>();
        };
        Problem p;
        FRUGAL_ASSIGN_OR_RETURN(p.id, str("id"));
        if (p.id.size() > 256)
          return make_error("{} line {}: 'id' longer than 256 bytes", path, line_no);
        if (!ids.insert(p.id).second)
          return make_error("{} line {}: duplicate id (ids must be unique)", path, line_no);
        FRUGAL_ASSIGN_OR_RETURN(std::string task, str("task"));
        FRUGAL_ASSIGN_OR_RETURN(p.prompt, str("prompt"));
        if (task == "arith" || task == "numeric") {
          p.kind = task == "arith" ? TaskKind::Arithmetic : TaskKind::Numeric;
          auto a = j.find("answer");
          FRUGAL_ASSIGN_OR_RETURN(p.answer,
                                  numeric_answer(a == j.end() ? json() : *a, path, line_no, false));
        } else if (task == "countdown") {
          p.kind = TaskKind::Countdown;
          auto nums = j.find("numbers");
          auto target = j.find("target");
          if (nums == j.end() || !nums->is_array() || nums->size() < 2 || nums->size() > 16)
            return make_error("{} line {}: field 'numbers' must be an array of 2..16 integers",
                              path, line_no);
          for (const json& v : *nums) {
            if (!v.is_number_integer())
              return make_error("{} line {}: field 'numbers' must be an array of 2..16 integers",
                                path, line_no);
            p.numbers.push_back(v.get<int64_t>());
          }
          if (target == j.end() || !target->is_number_integer())
            return make_error("{} line {}: field 'target' missing or not an integer", path,
                              line_no);
          p.target = target->get<int64_t>();
          p.answer = std::to_string(p.target);
          if (auto s = j.find("solution"); s != j.end() && s->is_string()) p.solution = *s;
        } else {
          return make_error("{} line {}: field 'task' must be arith, countdown or numeric", path,
                            line_no);
        }
        out.push_back(std::move(p));
        return {};
      }));
  return out;
}

Result<Number> expected_number(const Problem& p) {
  auto n = parse_number(p.answer);
  if (!n) return make_error("problem {}: expected answer is not a number", p.id);
  return *n;
}

Score score_problem(const Problem& p, std::string_view content, const ScoreOptions& opt) {
  if (p.kind == TaskKind::Countdown) return score_countdown(content, p.numbers, p.target, opt);
  auto n = expected_number(p);
  if (!n.ok()) return Score{};  // cannot happen for loaded or generated problems
  return score_numeric(content, *n, opt);
}

}  // namespace frugal::eval
