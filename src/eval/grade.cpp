// Grading, summaries and completion files (grade.h).
#include "eval/grade.h"

#include <cmath>
#include <set>

#include "chat/reasoning_splitter.h"
#include "eval/jsonl.h"

namespace frugal::eval {

using json = nlohmann::json;

Graded grade(const Problem& p, Completion c, const ScoreOptions& opt) {
  Graded g;
  chat::ReasoningSplitter splitter(c.starts_in_reasoning);
  for (const chat::ReasoningDelta& d : {splitter.push(c.text), splitter.finish()}) {
    g.reasoning += d.reasoning;
    g.content += d.content;
  }
  // The splitter flushes an unterminated block as reasoning; it is still
  // "inside" then, and the reply has no answer whatever the reasoning says.
  g.reasoning_closed = !splitter.in_reasoning();
  // A reply cut off by the token limit never gave its final answer: its last
  // number may be a half-written one ("= 18" of "= 184"). Only a box counts.
  ScoreOptions o = opt;
  if (c.finish_reason == "length") o.allow_unboxed = false;
  g.score = g.reasoning_closed ? score_problem(p, g.content, o) : Score{};
  g.completion = std::move(c);
  return g;
}

Interval wilson_interval(int64_t k, int64_t n, double z) {
  if (n <= 0) return {0, 1};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double z2 = z * z;
  const double denom = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denom;
  const double half = z / denom * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  // At k = 0 and k = n the bound is exactly 0 or 1; rounding would miss it.
  return {k == 0 ? 0.0 : std::max(0.0, center - half), k == n ? 1.0 : std::min(1.0, center + half)};
}

Summary summarize(std::span<const Graded> graded) {
  Summary s;
  s.n = static_cast<int64_t>(graded.size());
  int64_t n_prompt = 0, n_completion = 0;
  double sum_prompt = 0, sum_completion = 0, sum_reasoning = 0, sum_answer = 0;
  double decode_tokens = 0, decode_s = 0;
  for (const Graded& g : graded) {
    const Completion& c = g.completion;
    s.n_correct += g.score.correct;
    s.n_format_ok += g.score.format_ok;
    s.n_unclosed_reasoning += !g.reasoning_closed;
    ++s.finish_reasons[c.finish_reason];
    ++s.reasons[std::string(reason_name(g.score.reason))];
    if (c.prompt_tokens >= 0) ++n_prompt, sum_prompt += static_cast<double>(c.prompt_tokens);
    if (c.completion_tokens >= 0) {
      const int64_t r = std::clamp<int64_t>(c.reasoning_tokens, 0, c.completion_tokens);
      ++n_completion;
      sum_completion += static_cast<double>(c.completion_tokens);
      sum_reasoning += static_cast<double>(r);
      sum_answer += static_cast<double>(c.completion_tokens - r);
    }
    if (c.decode_s > 0) {
      decode_s += c.decode_s;
      decode_tokens += static_cast<double>(
          c.decode_tokens >= 0 ? c.decode_tokens : std::max<int64_t>(0, c.completion_tokens - 1));
    }
  }
  if (s.n > 0) s.accuracy = static_cast<double>(s.n_correct) / static_cast<double>(s.n);
  s.ci95 = wilson_interval(s.n_correct, s.n);
  if (n_prompt > 0) s.mean_prompt_tokens = sum_prompt / static_cast<double>(n_prompt);
  if (n_completion > 0) {
    s.mean_completion_tokens = sum_completion / static_cast<double>(n_completion);
    s.mean_reasoning_tokens = sum_reasoning / static_cast<double>(n_completion);
    s.mean_answer_tokens = sum_answer / static_cast<double>(n_completion);
  }
  if (decode_s > 0) s.decode_tps = decode_tokens / decode_s;
  return s;
}

json summary_to_json(const Summary& s) {
  return json{{"n", s.n},
              {"correct", s.n_correct},
              {"accuracy", s.accuracy},
              {"accuracy_ci95", {s.ci95.lo, s.ci95.hi}},
              {"format_ok", s.n_format_ok},
              {"unclosed_reasoning", s.n_unclosed_reasoning},
              {"mean_prompt_tokens", s.mean_prompt_tokens},
              {"mean_completion_tokens", s.mean_completion_tokens},
              {"mean_reasoning_tokens", s.mean_reasoning_tokens},
              {"mean_answer_tokens", s.mean_answer_tokens},
              {"decode_tokens_per_s", s.decode_tps},
              {"finish_reasons", s.finish_reasons},
              {"reasons", s.reasons}};
}

std::string summary_to_text(const Summary& s) {
  std::string out = fmt::format(
      "accuracy: {}/{} = {:.1f}% (95% Wilson interval {:.1f}%..{:.1f}%)\n"
      "answer in \\boxed{{}}: {}/{}   reasoning never closed: {}\n"
      "mean tokens: prompt {:.1f}, reasoning {:.1f}, answer {:.1f}, generated {:.1f}\n"
      "decode: {:.1f} tokens/s\n",
      s.n_correct, s.n, 100 * s.accuracy, 100 * s.ci95.lo, 100 * s.ci95.hi, s.n_format_ok, s.n,
      s.n_unclosed_reasoning, s.mean_prompt_tokens, s.mean_reasoning_tokens, s.mean_answer_tokens,
      s.mean_completion_tokens, s.decode_tps);
  auto counts = [](const std::map<std::string, int64_t>& m) {
    std::string line;
    for (const auto& [k, v] : m) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", k, v);
    return line;
  };
  out += "finish: " + counts(s.finish_reasons) + "\n";
  out += "verdicts: " + counts(s.reasons) + "\n";
  return out;
}

std::string graded_to_json_line(const Problem& p, const Graded& g) {
  const Completion& c = g.completion;
  nlohmann::ordered_json j = {{"id", c.id},
                              {"task", task_kind_name(p.kind)},
                              {"expected", p.answer},
                              {"correct", g.score.correct},
                              {"format_ok", g.score.format_ok},
                              {"extracted", g.score.extracted},
                              {"reason", reason_name(g.score.reason)},
                              {"reward", reward(g.score)},
                              {"finish_reason", c.finish_reason},
                              {"prompt_tokens", c.prompt_tokens},
                              {"completion_tokens", c.completion_tokens},
                              {"reasoning_tokens", c.reasoning_tokens},
                              {"decode_s", c.decode_s},
                              {"decode_tokens", c.decode_tokens},
                              {"starts_in_reasoning", c.starts_in_reasoning},
                              {"text", c.text},
                              {"reasoning", g.reasoning},
                              {"content", g.content}};
  return json_dump(j);
}

namespace {

// Completions can be long (a reasoning model writes thousands of tokens).
constexpr JsonlLimits kCompletionFileLimits{1u << 30, 16u << 20, 1000000};

}  // namespace

Result<std::vector<Completion>> load_completions_jsonl(const std::string& path) {
  std::vector<Completion> out;
  std::set<std::string> ids;
  FRUGAL_TRY(
      for_each_json_line(path, kCompletionFileLimits, [&](size_t line_no, const json& j) -> Status {
        Completion c;
        auto id = j.find("id");
        auto text = j.find("text");
        if (id == j.end() || !id->is_string() || id->get<std::string>().empty())
          return make_error("{} line {}: field 'id' missing, empty or not a string", path, line_no);
        if (text == j.end() || !text->is_string())
          return make_error("{} line {}: field 'text' missing or not a string", path, line_no);
        c.id = id->get<std::string>();
        if (!ids.insert(c.id).second)
          return make_error("{} line {}: duplicate id (one completion per problem)", path, line_no);
        c.text = text->get<std::string>();
        auto int_field = [&](const char* key, int64_t& dst) -> Status {
          auto it = j.find(key);
          if (it == j.end() || it->is_null()) return {};
          if (!it->is_number_integer() || it->get<int64_t>() < -1)
            return make_error("{} line {}: field '{}' must be an integer >= -1", path, line_no,
                              key);
          dst = it->get<int64_t>();
          return {};
        };
        FRUGAL_TRY(int_field("prompt_tokens", c.prompt_tokens));
        FRUGAL_TRY(int_field("completion_tokens", c.completion_tokens));
        FRUGAL_TRY(int_field("reasoning_tokens", c.reasoning_tokens));
        FRUGAL_TRY(int_field("decode_tokens", c.decode_tokens));
        if (auto it = j.find("decode_s"); it != j.end() && !it->is_null()) {
          if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0)
            return make_error("{} line {}: field 'decode_s' must be a number >= 0", path, line_no);
          c.decode_s = it->get<double>();
        }
        if (auto it = j.find("starts_in_reasoning"); it != j.end() && !it->is_null()) {
          if (!it->is_boolean())
            return make_error("{} line {}: field 'starts_in_reasoning' must be true or false", path,
                              line_no);
          c.starts_in_reasoning = it->get<bool>();
        }
        if (auto it = j.find("finish_reason"); it != j.end() && !it->is_null()) {
          if (!it->is_string() || it->get<std::string>().empty() ||
              it->get<std::string>().size() > 32)
            return make_error("{} line {}: field 'finish_reason' must be a short string", path,
                              line_no);
          c.finish_reason = it->get<std::string>();
        }
        out.push_back(std::move(c));
        return {};
      }));
  return out;
}

}  // namespace frugal::eval
