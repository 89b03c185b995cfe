// `frugal eval`: rule-checked accuracy of a model on generated or file-based
// problems (src/eval/README.md). Three modes:
//   run    frugal eval MODEL --task arith|countdown|FILE.jsonl   (or --problems FILE)
//   dump   frugal eval --task ... --dump-problems FILE           (no model needed)
//   grade  frugal eval --grade OUTPUTS.jsonl --problems FILE     (replies made elsewhere)
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "eval/grade.h"
#include "eval/runner.h"
#include "eval/tasks.h"
#include "runtime/engine.h"

namespace frugal::cli {

namespace {

std::atomic<bool> g_stop{false};
void on_sigint(int) {
  g_stop = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

struct EvalFlags {
  std::string model;
  std::string task;
  std::string problems_file;
  std::string grade_file;
  std::string dump_file;
  std::string output_file;
  std::string chat_template;
  int n = 0;  // 0 (unset): 50 generated problems, or every problem of a file
  int64_t seed = 0;
  int digits = 3;
  std::string ops = "+-*";
  int threads = 0;
  int64_t ctx = 0;
  int32_t max_tokens = 2048;
  runtime::SamplingParams sampling;
  bool json = false;
  bool quiet = false;
  bool boxed_only = false;
};

Result<std::vector<eval::Problem>> make_problems(const EvalFlags& f) {
  if (!f.task.empty() && !f.problems_file.empty())
    return make_error("give either --task or --problems, not both");
  if (f.task.empty() && f.problems_file.empty())
    return make_error("no problems: give --task arith|countdown|FILE.jsonl or --problems FILE");
  const int n_gen = f.n > 0 ? f.n : 50;
  std::vector<eval::Problem> problems;
  if (f.task == "arith") {
    FRUGAL_ASSIGN_OR_RETURN(problems, eval::generate_arithmetic(static_cast<uint64_t>(f.seed),
                                                                n_gen, {f.digits, f.ops}));
  } else if (f.task == "countdown") {
    FRUGAL_ASSIGN_OR_RETURN(problems,
                            eval::generate_countdown(static_cast<uint64_t>(f.seed), n_gen));
  } else if (!f.task.empty()) {
    if (f.task.find('.') == std::string::npos && f.task.find('/') == std::string::npos)
      return make_error("--task must be arith, countdown or a .jsonl file, got '{}'", f.task);
    FRUGAL_ASSIGN_OR_RETURN(problems, eval::load_qa_jsonl(f.task));
  } else {
    FRUGAL_ASSIGN_OR_RETURN(problems, eval::load_problems_jsonl(f.problems_file));
  }
  if (f.n > 0 && problems.size() > static_cast<size_t>(f.n))
    problems.resize(static_cast<size_t>(f.n));
  return problems;
}

std::string task_label(const EvalFlags& f) {
  return !f.task.empty() ? f.task : f.problems_file;
}

// Writes the summary to stdout as text or JSON.
void print_summary(const EvalFlags& f, const eval::Summary& s, const std::string& mode) {
  if (f.json) {
    nlohmann::json j = eval::summary_to_json(s);
    j["mode"] = mode;
    j["task"] = task_label(f);
    j["seed"] = f.seed;
    if (mode == "run") {
      j["model"] = f.model;
      // The flags are floats: print them as typed (0.6, not 0.6000000238).
      j["temperature"] = std::stod(fmt::format("{}", f.sampling.temperature));
      j["top_p"] = std::stod(fmt::format("{}", f.sampling.top_p));
      j["max_tokens"] = f.max_tokens;
    }
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    if (mode == "run")
      std::printf("%s: %lld problems from %s, seed %lld, temperature %g, top-p %g, max tokens %d\n",
                  f.model.c_str(), static_cast<long long>(s.n), task_label(f).c_str(),
                  static_cast<long long>(f.seed), f.sampling.temperature, f.sampling.top_p,
                  f.max_tokens);
    else
      std::printf("%s graded against %s\n", f.grade_file.c_str(), f.problems_file.c_str());
    std::printf("%s", eval::summary_to_text(s).c_str());
  }
  std::fflush(stdout);
}

Status write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return make_error("cannot write '{}'", path);
  for (const std::string& l : lines) out << l << '\n';
  out.flush();
  if (!out) return make_error("error while writing '{}'", path);
  return {};
}

int grade_mode(const EvalFlags& f) {
  if (f.problems_file.empty())
    return fail("--grade needs --problems FILE (the file written by --dump-problems)");
  if (!f.model.empty() || !f.task.empty())
    return fail("--grade reads replies made elsewhere: give no MODEL and no --task");
  auto problems = eval::load_problems_jsonl(f.problems_file);
  if (!problems.ok()) return fail(problems.error().message);
  auto completions = eval::load_completions_jsonl(f.grade_file);
  if (!completions.ok()) return fail(completions.error().message);
  std::map<std::string, const eval::Problem*> by_id;
  for (const auto& p : *problems) by_id[p.id] = &p;
  std::vector<eval::Graded> graded;
  std::vector<std::string> lines;
  for (auto& c : *completions) {
    auto it = by_id.find(c.id);
    if (it == by_id.end())
      return fail(fmt::format("{}: a reply's id is not in {}", f.grade_file, f.problems_file));
    graded.push_back(eval::grade(*it->second, std::move(c), {!f.boxed_only}));
    if (!f.output_file.empty())
      lines.push_back(eval::graded_to_json_line(*it->second, graded.back()));
  }
  if (graded.size() < problems->size())
    std::fprintf(stderr, "frugal: note: %zu of %zu problems have no reply and are not counted\n",
                 problems->size() - graded.size(), problems->size());
  if (!f.output_file.empty()) {
    if (auto st = write_lines(f.output_file, lines); !st.ok()) return fail(st.error().message);
  }
  print_summary(f, eval::summarize(graded), "grade");
  return 0;
}

int run_mode(const EvalFlags& f, const std::vector<eval::Problem>& problems) {
  if (f.model.empty())
    return fail("no MODEL given (only --dump-problems and --grade run without one)");
  if (auto st = f.sampling.validate(); !st.ok()) return fail(st.error().message);
  if (f.max_tokens < -1)
    return fail(fmt::format("--max-tokens must be >= -1, got {}", f.max_tokens));
  if (f.seed < 0) return fail(fmt::format("--seed must be >= 0, got {}", f.seed));
  // Open the results file before the (slow) model load so a bad path fails
  // at once; records are written as problems finish, so an interrupted run
  // keeps what it did.
  std::ofstream out;
  if (!f.output_file.empty()) {
    out.open(f.output_file, std::ios::binary | std::ios::trunc);
    if (!out) return fail(fmt::format("cannot write '{}'", f.output_file));
  }
  runtime::EngineOptions opt;
  opt.model_path = f.model;
  opt.n_threads = f.threads;
  opt.n_ctx = f.ctx;
  opt.chat_template = f.chat_template;
  auto engine = runtime::Engine::load(opt);
  if (!engine.ok()) return fail(engine.error().message);

  eval::RunOptions ro;
  ro.sampling = f.sampling;
  ro.sampling.seed = static_cast<uint64_t>(f.seed);
  ro.max_tokens = f.max_tokens;
  ro.score.allow_unboxed = !f.boxed_only;
  ro.stop = &g_stop;
  g_stop = false;
  std::signal(SIGINT, on_sigint);

  const bool tty = isatty(STDERR_FILENO);
  int64_t n_correct = 0, n_tokens = 0;
  double decode_s = 0;
  bool write_failed = false;
  auto progress = [&](size_t i, const eval::Graded& g) {
    n_correct += g.score.correct;
    n_tokens += g.completion.decode_tokens;
    decode_s += g.completion.decode_s;
    if (out.is_open()) {
      out << eval::graded_to_json_line(problems[i], g) << '\n';
      out.flush();
      write_failed = write_failed || !out;
    }
    if (f.quiet) return;
    // Counts and timings only: the replies stay out of the terminal log.
    std::fprintf(stderr, "%s[%zu/%zu] %lld correct (%.1f%%), %.1f tok/s, last: %s%s",
                 tty ? "\r" : "", i + 1, problems.size(), static_cast<long long>(n_correct),
                 100.0 * static_cast<double>(n_correct) / static_cast<double>(i + 1),
                 decode_s > 0 ? static_cast<double>(n_tokens) / decode_s : 0.0,
                 std::string(eval::reason_name(g.score.reason)).c_str(), tty ? "\033[K" : "\n");
    std::fflush(stderr);
  };
  auto graded = eval::run_eval(**engine, problems, ro, progress);
  std::signal(SIGINT, SIG_DFL);
  if (tty && !f.quiet) std::fputs("\n", stderr);
  if (!graded.ok()) return fail(graded.error().message);
  if (write_failed) return fail(fmt::format("error while writing '{}'", f.output_file));
  if (graded->size() < problems.size())
    std::fprintf(stderr, "frugal: interrupted: %zu of %zu problems were run\n", graded->size(),
                 problems.size());
  print_summary(f, eval::summarize(*graded), "run");
  return graded->size() < problems.size() ? 130 : 0;
}

int run(const EvalFlags& f) {
  if (!f.grade_file.empty()) return grade_mode(f);
  auto problems = make_problems(f);
  if (!problems.ok()) return fail(problems.error().message);
  if (!f.dump_file.empty()) {
    std::vector<std::string> lines;
    for (const auto& p : *problems) lines.push_back(eval::problem_to_json_line(p));
    if (auto st = write_lines(f.dump_file, lines); !st.ok()) return fail(st.error().message);
    std::fprintf(stderr, "wrote %zu problems to %s\n", problems->size(), f.dump_file.c_str());
    return 0;
  }
  return run_mode(f, *problems);
}

}  // namespace

Action add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "Measure accuracy on rule-checked problems (arithmetic, Countdown, GSM8K-style files)");
  cmd->footer(
      "The answer is read from the reply's content (after </think>), never from the reasoning:\n"
      "the last \\boxed{...}, else the last number (Countdown: the last equation line).\n"
      "Examples:\n"
      "  frugal eval model.gguf --task arith -n 50 -t 2\n"
      "  frugal eval model.gguf --task countdown -n 20 --output replies.jsonl --json\n"
      "  frugal eval model.gguf --task gsm8k_test.jsonl -n 100\n"
      "  frugal eval --task arith -n 50 --dump-problems problems.jsonl\n"
      "  frugal eval --grade replies.jsonl --problems problems.jsonl");
  auto f = std::make_shared<EvalFlags>();
  cmd->add_option("MODEL", f->model,
                  "Path to a .gguf model file (not needed for --dump-problems, --grade)");
  cmd->add_option(
      "--task", f->task,
      "arith (multi-digit + - *), countdown (reach a target with 3-4 numbers), or a\n"
      "JSONL file of {\"question\", \"answer\"} lines (GSM8K format: answer ends '#### 42')");
  cmd->add_option("--problems", f->problems_file,
                  "A problems file written by --dump-problems (to run, or to --grade against)");
  cmd->add_option("-n,--num-problems", f->n,
                  "Number of problems (default: 50 generated, or every problem of a file)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--seed", f->seed,
                  "Seed of the generated problems and of sampling (problem i samples with seed+i; "
                  "default 0)");
  cmd->add_option("--digits", f->digits, "arith: digits of each operand, 1-9 (default 3)");
  cmd->add_option("--ops", f->ops, "arith: operators to draw from (default \"+-*\")");
  cmd->add_option(
      "--max-tokens", f->max_tokens,
      "Most tokens per reply, reasoning included (default 2048; -1: until the context is full)");
  cmd->add_option("-t,--threads", f->threads, "Threads (default: all hardware threads)");
  cmd->add_option("-c,--ctx-size", f->ctx,
                  "Context size in tokens (default: the model's, at most 8192)");
  cmd->add_option("--chat-template", f->chat_template,
                  "Force a chat template: deepseek-r1, chatml, llama3");
  cmd->add_option("--temp", f->sampling.temperature,
                  "Temperature; 0 = greedy (default 0.6, R1's recommendation)");
  cmd->add_option("--top-p", f->sampling.top_p, "Nucleus sampling mass (default 0.95)");
  cmd->add_option("--top-k", f->sampling.top_k, "Keep the k most likely tokens; 0 = off (default)");
  cmd->add_option("--min-p", f->sampling.min_p,
                  "Drop tokens below min-p x the top probability; 0 = off");
  cmd->add_option("--repeat-penalty", f->sampling.repetition_penalty,
                  "Repetition penalty; 1 = off");
  cmd->add_option("--presence-penalty", f->sampling.presence_penalty,
                  "Presence penalty (OpenAI semantics)");
  cmd->add_option("--frequency-penalty", f->sampling.frequency_penalty,
                  "Frequency penalty (OpenAI semantics)");
  cmd->add_option(
      "--output", f->output_file,
      "Write one JSON line per problem (reply text, reasoning, content, verdict, tokens)");
  cmd->add_flag("--json", f->json, "Print the summary as one JSON object instead of text");
  cmd->add_flag("-q,--quiet", f->quiet, "No progress line on stderr");
  cmd->add_flag("--boxed-only", f->boxed_only,
                "Count only answers inside \\boxed{} (no last-number fallback)");
  cmd->add_option("--dump-problems", f->dump_file,
                  "Write the problems (exact prompt, expected answer) as JSONL and exit");
  cmd->add_option(
      "--grade", f->grade_file,
      "Grade replies made elsewhere: JSONL lines with \"id\" and \"text\" (needs --problems)");
  return [f]() { return run(*f); };
}

}  // namespace frugal::cli
