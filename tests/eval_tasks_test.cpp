// Eval problem generators and files (src/eval/tasks.h, grade.h). Reference:
// each arithmetic answer is recomputed here from the numbers parsed out of
// the prompt text; each Countdown problem is checked by the validator
// (check_countdown) against its own construction; the JSONL loaders are fed
// the files in tests/data/eval (a GSM8K-format sample, written by hand in the
// dataset's format, and broken variants).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "eval/grade.h"
#include "eval/tasks.h"

namespace {

using namespace frugal::eval;
namespace fs = std::filesystem;

const std::string kData = std::string(FRUGAL_TEST_DATA) + "/eval";

// A file in the temp directory, removed at scope exit.
struct TempFile {
  fs::path path;
  explicit TempFile(const std::string& content, const std::string& name = "t.jsonl") {
    path = fs::temp_directory_path() / ("frugal_eval_" + std::to_string(getpid()) + "_" + name);
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { fs::remove(path); }
  std::string str() const { return path.string(); }
};

TEST(EvalTasks, ArithmeticIsDeterministicAndCorrect) {
  auto a = generate_arithmetic(7, 40);
  auto b = generate_arithmetic(7, 40);
  auto c = generate_arithmetic(8, 40);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->size(), 40u);
  int differing = 0;
  std::set<char> ops_seen;
  // "What is X OP Y? Please reason ..." parsed with sscanf (not std::regex:
  // GCC 12 warns inside <regex> under ASan, and warnings are errors).
  const std::string suffix =
      " Please reason step by step, and put your final answer within \\boxed{}.";
  for (size_t i = 0; i < a->size(); ++i) {
    const Problem& p = (*a)[i];
    EXPECT_EQ(p.prompt, (*b)[i].prompt);
    EXPECT_EQ(p.answer, (*b)[i].answer);
    differing += p.prompt != (*c)[i].prompt;
    EXPECT_EQ(p.id, "arith-" + std::to_string(i));
    EXPECT_EQ(p.kind, TaskKind::Arithmetic);
    long long xl = 0, yl = 0;
    char op = 0;
    int x_begin = 0, x_end = 0, y_begin = 0, y_end = 0;
    ASSERT_EQ(std::sscanf(p.prompt.c_str(), "What is %n%lld%n %c %n%lld%n?", &x_begin, &xl, &x_end,
                          &op, &y_begin, &yl, &y_end),
              3)
        << p.prompt;
    ASSERT_TRUE(op == '+' || op == '-' || op == '*') << p.prompt;
    EXPECT_EQ(p.prompt.substr(static_cast<size_t>(y_end) + 1), suffix) << p.prompt;
    EXPECT_EQ(x_end - x_begin, 3);  // default: 3-digit operands
    EXPECT_EQ(y_end - y_begin, 3);
    EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(p.prompt[static_cast<size_t>(x_begin)])));
    EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(p.prompt[static_cast<size_t>(y_begin)])));
    EXPECT_EQ(p.prompt[static_cast<size_t>(y_end)], '?');
    const int64_t x = xl, y = yl;
    ops_seen.insert(op);
    const int64_t want = op == '+' ? x + y : op == '-' ? x - y : x * y;
    EXPECT_EQ(p.answer, std::to_string(want)) << p.prompt;
    // The answer, boxed, scores correct; one off does not.
    EXPECT_TRUE(score_problem(p, "\\boxed{" + p.answer + "}").correct);
    EXPECT_FALSE(score_problem(p, "\\boxed{" + std::to_string(want + 1) + "}").correct);
  }
  EXPECT_GT(differing, 30);  // another seed, other problems
  EXPECT_EQ(ops_seen.size(), 3u);
  // Problem i depends only on (seed, i): a shorter run is a prefix.
  auto prefix = generate_arithmetic(7, 5);
  ASSERT_TRUE(prefix.ok());
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ((*prefix)[i].prompt, (*a)[i].prompt);
}

TEST(EvalTasks, ArithmeticOptions) {
  auto r = generate_arithmetic(1, 20, {6, "*"});
  ASSERT_TRUE(r.ok());
  for (const auto& p : *r) {
    EXPECT_NE(p.prompt.find(" * "), std::string::npos);
    EXPECT_GE(p.answer.size(), 11u);  // two 6-digit factors: >= 10^10
  }
  EXPECT_FALSE(generate_arithmetic(1, 5, {0, "+"}).ok());
  EXPECT_FALSE(generate_arithmetic(1, 5, {10, "+"}).ok());
  EXPECT_FALSE(generate_arithmetic(1, 5, {3, "/"}).ok());
  EXPECT_FALSE(generate_arithmetic(1, 5, {3, ""}).ok());
  EXPECT_FALSE(generate_arithmetic(1, -1).ok());
}

TEST(EvalTasks, CountdownSolvableByConstruction) {
  auto a = generate_countdown(3, 200);
  auto b = generate_countdown(3, 200);
  ASSERT_TRUE(a.ok() && b.ok());
  std::set<size_t> sizes;
  std::set<int64_t> targets;
  bool saw_nonsum = false;
  for (size_t i = 0; i < a->size(); ++i) {
    const Problem& p = (*a)[i];
    EXPECT_EQ(p.prompt, (*b)[i].prompt);
    EXPECT_EQ(p.solution, (*b)[i].solution);
    EXPECT_EQ(p.kind, TaskKind::Countdown);
    sizes.insert(p.numbers.size());
    targets.insert(p.target);
    EXPECT_GE(p.target, 1);
    EXPECT_LE(p.target, 999);
    for (int64_t n : p.numbers) {
      EXPECT_GE(n, 1);
      EXPECT_LE(n, 99);
      EXPECT_NE(p.prompt.find(std::to_string(n)), std::string::npos);
    }
    EXPECT_NE(p.prompt.find("equals " + std::to_string(p.target) + "."), std::string::npos);
    EXPECT_NE(p.prompt.find("\\boxed{}"), std::string::npos);
    // The construction is a valid answer, by the validator the rewards use.
    const CountdownCheck c = check_countdown(p.solution, p.numbers, p.target);
    EXPECT_EQ(c.reason, Reason::Correct) << p.solution << " target " << p.target;
    EXPECT_TRUE(score_problem(p, "\\boxed{" + p.solution + "}").correct);
    EXPECT_FALSE(score_problem(p, "\\boxed{" + p.solution + " + 1}").correct);
    if (p.solution.find_first_of("-*/") != std::string::npos) saw_nonsum = true;
  }
  EXPECT_EQ(sizes, (std::set<size_t>{3, 4}));
  EXPECT_GT(targets.size(), 50u);
  EXPECT_TRUE(saw_nonsum);
  auto other = generate_countdown(4, 5);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)[0].prompt, (*a)[0].prompt);
  // Options are checked.
  EXPECT_FALSE(generate_countdown(1, 3, {1, 4, 99, 999}).ok());
  EXPECT_FALSE(generate_countdown(1, 3, {3, 7, 99, 999}).ok());
  EXPECT_FALSE(generate_countdown(1, 3, {4, 3, 99, 999}).ok());
  EXPECT_FALSE(generate_countdown(1, 3, {3, 4, 99, 10}).ok());
}

TEST(EvalTasks, QaJsonlLoads) {
  auto r = load_qa_jsonl(kData + "/gsm8k_sample.jsonl");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].id, "numeric-0");
  EXPECT_EQ((*r)[0].kind, TaskKind::Numeric);
  EXPECT_EQ((*r)[0].answer, "72");
  EXPECT_EQ((*r)[1].answer, "1000");  // "#### 1,000"
  EXPECT_EQ((*r)[2].answer, "17");    // a JSON number
  EXPECT_EQ((*r)[3].answer, "-2.5");  // a plain numeric string
  // The prompt is the question plus R1's instruction.
  EXPECT_EQ((*r)[0].prompt.rfind(std::string(kMathInstruction)),
            (*r)[0].prompt.size() - kMathInstruction.size());
  EXPECT_TRUE(score_problem((*r)[1], "so \\boxed{1,000}").correct);
  EXPECT_TRUE(score_problem((*r)[3], "\\boxed{-2.50}").correct);
}

TEST(EvalTasks, QaJsonlErrorsNameTheLine) {
  struct Case {
    const char* content;
    const char* fragment;
  } cases[] = {
      {"{\"question\": \"q\", \"answer\": \"#### 1\"}\n{not json}\n", "line 2: not valid JSON"},
      {"\n\n[1, 2]\n", "line 3: not a JSON object"},
      {"{\"answer\": \"#### 1\"}\n", "line 1: field 'question'"},
      {"{\"question\": \"\", \"answer\": \"#### 1\"}\n", "line 1: field 'question'"},
      {"{\"question\": \"q\"}\n", "line 1: field 'answer' missing"},
      {"{\"question\": \"q\", \"answer\": true}\n", "line 1: field 'answer' missing"},
      {"{\"question\": \"q\", \"answer\": \"#### twelve\"}\n",
       "line 1: field 'answer' has no numeric"},
      {"{\"question\": \"q\", \"answer\": \"#### 1\"}\r\n{\"question\": \"q\", \"answer\": "
       "\"x\"}\n",
       "line 2: field 'answer' has no numeric"},
      {"\n  \n", "no records"},
  };
  for (const auto& c : cases) {
    TempFile f(c.content);
    auto r = load_qa_jsonl(f.str());
    ASSERT_FALSE(r.ok()) << c.content;
    EXPECT_NE(r.error().message.find(c.fragment), std::string::npos) << r.error().message;
    // The message names the file and never quotes the line's text.
    EXPECT_NE(r.error().message.find(f.str()), std::string::npos);
    EXPECT_EQ(r.error().message.find("twelve"), std::string::npos);
  }
  auto missing = load_qa_jsonl("/nonexistent/q.jsonl");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot open"), std::string::npos);
  auto dir = load_qa_jsonl(fs::temp_directory_path().string());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("not a regular file"), std::string::npos);
}

TEST(EvalTasks, QaJsonlSizeLimits) {
  // One line over the per-line limit.
  std::string big = "{\"question\": \"" + std::string(kMaxProblemLineBytes, 'x') +
                    "\", \"answer\": \"#### 1\"}\n";
  TempFile f("{\"question\": \"q\", \"answer\": \"#### 1\"}\n" + big);
  auto r = load_qa_jsonl(f.str());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line 2:"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("limited"), std::string::npos) << r.error().message;
  // A file over the size limit is refused before it is read (sparse file).
  TempFile huge("", "huge.jsonl");
  fs::resize_file(huge.path, kMaxProblemsFileBytes + 1);
  auto h = load_qa_jsonl(huge.str());
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("limit"), std::string::npos) << h.error().message;
}

TEST(EvalTasks, ProblemsFileRoundTrip) {
  auto arith = generate_arithmetic(5, 3);
  auto countdown = generate_countdown(5, 3);
  auto qa = load_qa_jsonl(kData + "/gsm8k_sample.jsonl");
  ASSERT_TRUE(arith.ok() && countdown.ok() && qa.ok());
  std::vector<Problem> all = *arith;
  all.insert(all.end(), countdown->begin(), countdown->end());
  all.insert(all.end(), qa->begin(), qa->end());
  std::string text;
  for (const auto& p : all) text += problem_to_json_line(p) + "\n";
  TempFile f(text);
  auto back = load_problems_jsonl(f.str());
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const Problem &a = all[i], &b = (*back)[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.prompt, b.prompt);
    EXPECT_EQ(a.answer, b.answer);
    EXPECT_EQ(a.numbers, b.numbers);
    EXPECT_EQ(a.target, b.target);
    EXPECT_EQ(a.solution, b.solution);
  }
  // Bad problems files.
  struct Case {
    const char* content;
    const char* fragment;
  } cases[] = {
      {R"({"task": "arith", "prompt": "p", "answer": "1"})", "field 'id'"},
      {R"({"id": "a", "task": "arith", "prompt": "p", "answer": "1"})"
       "\n"
       R"({"id": "a", "task": "arith", "prompt": "p", "answer": "2"})",
       "line 2: duplicate id"},
      {R"({"id": "a", "task": "poetry", "prompt": "p", "answer": "1"})", "field 'task'"},
      {R"({"id": "a", "task": "arith", "answer": "1"})", "field 'prompt'"},
      {R"({"id": "a", "task": "arith", "prompt": "p", "answer": "one"})", "field 'answer'"},
      {R"({"id": "a", "task": "countdown", "prompt": "p", "numbers": [1], "target": 2})",
       "field 'numbers'"},
      {R"({"id": "a", "task": "countdown", "prompt": "p", "numbers": [1, 2.5], "target": 2})",
       "field 'numbers'"},
      {R"({"id": "a", "task": "countdown", "prompt": "p", "numbers": [1, 2]})", "field 'target'"},
  };
  for (const auto& c : cases) {
    TempFile bad(std::string(c.content) + "\n", "bad.jsonl");
    auto r = load_problems_jsonl(bad.str());
    ASSERT_FALSE(r.ok()) << c.content;
    EXPECT_NE(r.error().message.find(c.fragment), std::string::npos) << r.error().message;
  }
}

TEST(EvalGrade, CompletionsFileAndSummary) {
  auto generated = generate_arithmetic(9, 4);
  ASSERT_TRUE(generated.ok());
  const std::vector<Problem>& problems = *generated;
  // Two right (one boxed, one only as the last number), one wrong, one with
  // the reasoning never closed.
  std::string text;
  auto line = [](const std::string& id, const std::string& reply, const std::string& extra) {
    return "{\"id\": \"" + id + "\", \"text\": \"" + reply + "\"" + extra + "}\n";
  };
  text += line("arith-0", "\\\\boxed{" + problems[0].answer + "}",
               ", \"completion_tokens\": 10, \"reasoning_tokens\": 4, \"decode_s\": 1.0, "
               "\"decode_tokens\": 9, \"prompt_tokens\": 30");
  text += line("arith-1", "it is " + problems[1].answer,
               ", \"completion_tokens\": 20, \"decode_s\": 1.0, \"finish_reason\": \"stop\"");
  text += line("arith-2", "\\\\boxed{0.5}", "");
  text += line("arith-3", "thinking about \\\\boxed{" + problems[3].answer + "}",
               ", \"starts_in_reasoning\": true");
  TempFile f(text);
  auto comps = load_completions_jsonl(f.str());
  ASSERT_TRUE(comps.ok()) << comps.error().message;
  ASSERT_EQ(comps->size(), 4u);
  EXPECT_EQ((*comps)[0].decode_tokens, 9);
  EXPECT_EQ((*comps)[1].finish_reason, "stop");
  EXPECT_EQ((*comps)[2].completion_tokens, -1);
  std::vector<Graded> graded;
  for (size_t i = 0; i < 4; ++i) graded.push_back(grade(problems[i], (*comps)[i]));
  EXPECT_TRUE(graded[0].score.correct);
  EXPECT_TRUE(graded[1].score.correct);
  EXPECT_FALSE(graded[2].score.correct);
  EXPECT_FALSE(graded[3].score.correct);
  EXPECT_FALSE(graded[3].reasoning_closed);
  const Summary s = summarize(graded);
  EXPECT_EQ(s.n, 4);
  EXPECT_EQ(s.n_correct, 2);
  EXPECT_EQ(s.n_format_ok, 2);  // arith-0 and arith-2 (arith-3's box is in the reasoning)
  EXPECT_EQ(s.n_unclosed_reasoning, 1);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.5);
  EXPECT_EQ(s.finish_reasons.at("stop"), 4);
  EXPECT_EQ(s.reasons.at("correct"), 2);
  EXPECT_EQ(s.reasons.at("wrong_answer"), 1);
  EXPECT_EQ(s.reasons.at("no_answer"), 1);
  // Token means over the replies that report counts: (10 + 20) / 2.
  EXPECT_DOUBLE_EQ(s.mean_completion_tokens, 15);
  EXPECT_DOUBLE_EQ(s.mean_reasoning_tokens, 2);  // (4 + 0) / 2
  EXPECT_DOUBLE_EQ(s.mean_answer_tokens, 13);    // (6 + 20) / 2
  EXPECT_DOUBLE_EQ(s.mean_prompt_tokens, 30);
  EXPECT_DOUBLE_EQ(s.decode_tps, (9.0 + 19.0) / 2.0);  // decode_tokens, else completion - 1
  const Interval w = wilson_interval(2, 4);
  EXPECT_DOUBLE_EQ(s.ci95.lo, w.lo);
  EXPECT_DOUBLE_EQ(s.ci95.hi, w.hi);
  // Cut off by the token limit: the last number is not an answer, a box is.
  Completion cut = (*comps)[1];
  cut.finish_reason = "length";
  EXPECT_EQ(grade(problems[1], cut).score.reason, Reason::NoAnswer);
  cut.text = "\\boxed{" + problems[1].answer + "} and then more";
  EXPECT_TRUE(grade(problems[1], cut).score.correct);
  // A graded record read back grades the same (--output files can be re-graded).
  TempFile again(graded_to_json_line(problems[0], graded[0]) + "\n" +
                     graded_to_json_line(problems[3], graded[3]) + "\n",
                 "again.jsonl");
  auto back = load_completions_jsonl(again.str());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(grade(problems[0], (*back)[0]).score.correct);
  EXPECT_FALSE(grade(problems[3], (*back)[1]).reasoning_closed);
  EXPECT_EQ((*back)[0].reasoning_tokens, 4);

  // Bad completion files.
  for (auto [content, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"{\"text\": \"x\"}", "field 'id'"},
           {"{\"id\": \"a\"}", "field 'text'"},
           {"{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}",
            "line 2: duplicate"},
           {"{\"id\": \"a\", \"text\": \"x\", \"completion_tokens\": \"many\"}",
            "completion_tokens"},
           {"{\"id\": \"a\", \"text\": \"x\", \"decode_s\": -1}", "decode_s"},
           {"{\"id\": \"a\", \"text\": \"x\", \"starts_in_reasoning\": 1}", "starts_in_reasoning"},
       }) {
    TempFile bad(content + "\n", "badc.jsonl");
    auto r = load_completions_jsonl(bad.str());
    ASSERT_FALSE(r.ok()) << content;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  }
}

}  // namespace
