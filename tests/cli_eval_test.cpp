// `frugal eval` as a user runs it: --dump-problems / --grade round trips
// (the expected answers come from the dumped problems themselves: arithmetic
// recomputed here from the prompt, Countdown from the construction the dump
// carries), one-line errors, and short runs on the tiny test model and — when
// $FRUGAL_MODEL_CACHE has it — SmolLM2-135M, whose --output records must
// grade the same again through --grade.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

fs::path tmp(const std::string& name) {
  return fs::temp_directory_path() / ("frugal_cli_eval_" + std::to_string(getpid()) + "_" + name);
}

Run frugal(const std::string& args) {
  const fs::path err_file = tmp("stderr");
  const std::string cmd = std::string("timeout 300 ") + FRUGAL_CLI + " " + args + " </dev/null 2>" +
                          quote(err_file.string());
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

std::vector<json> read_jsonl(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

void write_jsonl(const fs::path& path, const std::vector<json>& rows) {
  std::ofstream out(path);
  for (const json& r : rows) out << r.dump() << "\n";
}

void expect_one_line_error(const Run& r, const std::string& fragment) {
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err.rfind("frugal: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

const std::string kTiny = std::string(FRUGAL_TEST_DATA) + "/models/tiny-qwen2.f32.gguf";
const std::string kGsm = std::string(FRUGAL_TEST_DATA) + "/eval/gsm8k_sample.jsonl";

TEST(CliEval, Help) {
  auto h = frugal("eval --help");
  EXPECT_EQ(h.code, 0);
  for (const char* flag :
       {"--task", "-n", "--seed", "--temp", "--top-p", "--max-tokens", "--output", "--json",
        "--dump-problems", "--grade", "--problems", "-t", "-c"})
    EXPECT_NE(h.out.find(flag), std::string::npos) << flag;
  EXPECT_NE(h.out.find("0.6"), std::string::npos);   // R1's temperature is the default
  EXPECT_NE(h.out.find("0.95"), std::string::npos);  // and its top-p
  auto top = frugal("--help");
  EXPECT_NE(top.out.find("eval"), std::string::npos);
}

TEST(CliEval, DumpProblemsIsDeterministic) {
  const fs::path a = tmp("a.jsonl"), b = tmp("b.jsonl"), c = tmp("c.jsonl");
  ASSERT_EQ(frugal("eval --task arith -n 5 --seed 11 --dump-problems " + quote(a)).code, 0);
  ASSERT_EQ(frugal("eval --task arith -n 5 --seed 11 --dump-problems " + quote(b)).code, 0);
  ASSERT_EQ(frugal("eval --task arith -n 5 --seed 12 --dump-problems " + quote(c)).code, 0);
  const auto ra = read_jsonl(a), rb = read_jsonl(b), rc = read_jsonl(c);
  ASSERT_EQ(ra.size(), 5u);
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
  for (const json& p : ra) {
    EXPECT_EQ(p["task"], "arith");
    const std::string prompt = p["prompt"];
    EXPECT_NE(prompt.find("\\boxed{}"), std::string::npos);
    // "What is X OP Y?" (sscanf, not std::regex: GCC 12 warns inside
    // <regex> under ASan, and warnings are errors).
    long long x = 0, y = 0;
    char op = 0;
    int end = 0;
    ASSERT_EQ(std::sscanf(prompt.c_str(), "What is %lld %c %lld?%n", &x, &op, &y, &end), 3)
        << prompt;
    ASSERT_GT(end, 0) << prompt;
    ASSERT_TRUE(op == '+' || op == '-' || op == '*') << prompt;
    EXPECT_EQ(p["answer"], std::to_string(op == '+' ? x + y : op == '-' ? x - y : x * y));
  }
  auto file = frugal("eval --task " + quote(kGsm) + " -n 3 --dump-problems " + quote(c));
  ASSERT_EQ(file.code, 0) << file.err;
  EXPECT_EQ(read_jsonl(c).size(), 3u);
  for (const auto& p : {a, b, c}) fs::remove(p);
}

TEST(CliEval, GradeRoundTrip) {
  const fs::path problems = tmp("problems.jsonl"), replies = tmp("replies.jsonl"),
                 graded = tmp("graded.jsonl");
  // Arithmetic: three right (two boxed, one as the last number), one wrong.
  ASSERT_EQ(frugal("eval --task arith -n 4 --seed 3 --dump-problems " + quote(problems)).code, 0);
  auto ps = read_jsonl(problems);
  ASSERT_EQ(ps.size(), 4u);
  const std::string a0 = ps[0]["answer"], a1 = ps[1]["answer"], a2 = ps[2]["answer"],
                    a3 = ps[3]["answer"];
  write_jsonl(replies, {{{"id", ps[0]["id"]}, {"text", "<think>hmm</think>\\boxed{" + a0 + "}"}},
                        {{"id", ps[1]["id"]}, {"text", "It is \\boxed{" + a1 + "}."}},
                        {{"id", ps[2]["id"]}, {"text", "The result is " + a2}},
                        {{"id", ps[3]["id"]}, {"text", "\\boxed{" + a3 + "1}"}}});
  auto r = frugal("eval --grade " + quote(replies) + " --problems " + quote(problems) +
                  " --json --output " + quote(graded));
  ASSERT_EQ(r.code, 0) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["n"], 4);
  EXPECT_EQ(s["correct"], 3);
  EXPECT_EQ(s["format_ok"], 3);
  EXPECT_DOUBLE_EQ(s["accuracy"].get<double>(), 0.75);
  EXPECT_LT(s["accuracy_ci95"][0].get<double>(), 0.75);
  EXPECT_GT(s["accuracy_ci95"][1].get<double>(), 0.75);
  EXPECT_EQ(s["reasons"]["wrong_answer"], 1);
  auto g = read_jsonl(graded);
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[0]["reasoning"], "hmm");
  EXPECT_EQ(g[0]["reward"], 1.0);
  EXPECT_EQ(g[2]["format_ok"], false);
  EXPECT_EQ(g[3]["reward"], 0.1);
  // Text output says the same.
  r = frugal("eval --grade " + quote(replies) + " --problems " + quote(problems));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy: 3/4 = 75.0%"), std::string::npos) << r.out;
  // Only boxed answers: the last-number reply no longer counts.
  r = frugal("eval --grade " + quote(replies) + " --problems " + quote(problems) +
             " --json --boxed-only");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["correct"], 2);

  // Countdown: the construction in the dump is right; a reused number is not.
  ASSERT_EQ(frugal("eval --task countdown -n 3 --seed 3 --dump-problems " + quote(problems)).code,
            0);
  ps = read_jsonl(problems);
  ASSERT_EQ(ps.size(), 3u);
  const std::string n0 = std::to_string(ps[2]["numbers"][0].get<long long>());
  write_jsonl(
      replies,
      {{{"id", ps[0]["id"]}, {"text", "\\boxed{" + ps[0]["solution"].get<std::string>() + "}"}},
       {{"id", ps[1]["id"]}, {"text", "\\boxed{" + ps[1]["solution"].get<std::string>() + "}"}},
       {{"id", ps[2]["id"]},
        {"text",
         "\\boxed{" + ps[2]["solution"].get<std::string>() + " + " + n0 + " - " + n0 + "}"}}});
  r = frugal("eval --grade " + quote(replies) + " --problems " + quote(problems) + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  s = json::parse(r.out);
  EXPECT_EQ(s["correct"], 2);
  EXPECT_EQ(s["reasons"]["number_reused"], 1);

  // A reply whose id is not in the problems file.
  write_jsonl(replies, {{{"id", "nosuch"}, {"text", "1"}}});
  expect_one_line_error(frugal("eval --grade " + quote(replies) + " --problems " + quote(problems)),
                        "not in");
  for (const auto& p : {problems, replies, graded}) fs::remove(p);
}

TEST(CliEval, FailuresAreOneLineErrors) {
  expect_one_line_error(frugal("eval"), "--task");
  expect_one_line_error(frugal("eval " + quote(kTiny) + " --task poetry"), "poetry");
  expect_one_line_error(frugal("eval " + quote(kTiny) + " --task arith --problems x.jsonl"),
                        "not both");
  expect_one_line_error(frugal("eval --task arith --digits 12 --dump-problems /dev/null"),
                        "digits");
  expect_one_line_error(frugal("eval --task arith"), "MODEL");
  expect_one_line_error(frugal("eval /nonexistent/m.gguf --task arith -n 1"),
                        "/nonexistent/m.gguf");
  expect_one_line_error(frugal("eval " + quote(kTiny) + " --task arith --top-p 0"), "top_p");
  expect_one_line_error(frugal("eval --grade x.jsonl"), "--problems");
  EXPECT_NE(frugal("eval --task arith -n 0 --dump-problems /dev/null").code, 0);  // usage error
  expect_one_line_error(frugal("eval --grade /nonexistent/r.jsonl --problems " + quote(kGsm)),
                        "line 1");  // kGsm is not a problems file: no 'id'
  const fs::path bad = tmp("bad.jsonl");
  std::ofstream(bad) << "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": 5}\n";
  expect_one_line_error(frugal("eval " + quote(kTiny) + " --task " + quote(bad)), "line 2");
  fs::remove(bad);
  expect_one_line_error(
      frugal("eval " + quote(kTiny) + " --task arith --output /nonexistent/dir/out.jsonl"),
      "/nonexistent/dir/out.jsonl");
}

TEST(CliEval, RunsOnTheTinyModel) {
  // Random weights, so the answers are noise; what is checked is the
  // plumbing: records, counts, determinism and the --grade round trip.
  const fs::path out1 = tmp("o1.jsonl"), out2 = tmp("o2.jsonl"), problems = tmp("p.jsonl");
  const std::string common =
      "eval " + quote(kTiny) +
      " --chat-template chatml --task arith -n 2 --seed 5 --max-tokens 8 -t 2";
  auto r = frugal(common + " --json --output " + quote(out1));
  ASSERT_EQ(r.code, 0) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["n"], 2);
  EXPECT_EQ(s["mode"], "run");
  EXPECT_DOUBLE_EQ(s["temperature"].get<double>(), 0.6);
  EXPECT_NE(r.err.find("[2/2]"), std::string::npos) << r.err;  // progress
  auto recs = read_jsonl(out1);
  ASSERT_EQ(recs.size(), 2u);
  for (const json& rec : recs) {
    EXPECT_LE(rec["completion_tokens"].get<int>(), 8);
    EXPECT_GT(rec["prompt_tokens"].get<int>(), 10);
    EXPECT_GT(rec["decode_s"].get<double>(), 0.0);
    EXPECT_TRUE(rec["finish_reason"] == "stop" || rec["finish_reason"] == "length");
    EXPECT_EQ(rec["starts_in_reasoning"], false);
  }
  // Same seed, same replies.
  ASSERT_EQ(frugal(common + " -q --output " + quote(out2)).code, 0);
  auto recs2 = read_jsonl(out2);
  ASSERT_EQ(recs2.size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(recs[i]["text"], recs2[i]["text"]);
  // The records grade the same through --grade.
  ASSERT_EQ(frugal("eval --task arith -n 2 --seed 5 --dump-problems " + quote(problems)).code, 0);
  auto g = frugal("eval --grade " + quote(out1) + " --problems " + quote(problems) + " --json");
  ASSERT_EQ(g.code, 0) << g.err;
  json gs = json::parse(g.out);
  for (const char* k : {"n", "correct", "format_ok", "mean_completion_tokens",
                        "mean_reasoning_tokens", "reasons", "finish_reasons"})
    EXPECT_EQ(gs[k], s[k]) << k;
  // A GSM8K-format file runs too.
  r = frugal("eval " + quote(kTiny) + " --chat-template chatml --task " + quote(kGsm) +
             " -n 1 --max-tokens 4 -t 2 --json -q");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["n"], 1);
  for (const auto& p : {out1, out2, problems}) fs::remove(p);
}

TEST(CliEval, RealModelRoundTrip) {
  const char* cache = std::getenv("FRUGAL_MODEL_CACHE");
  if (!cache) GTEST_SKIP() << "FRUGAL_MODEL_CACHE not set (scripts/test.sh sets it)";
  const fs::path model = fs::path(cache) / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!fs::exists(model)) GTEST_SKIP() << model << " not fetched";
  const fs::path out = tmp("real.jsonl"), problems = tmp("realp.jsonl");
  ASSERT_EQ(frugal("eval --task countdown -n 2 --seed 1 --dump-problems " + quote(problems)).code,
            0);
  auto r = frugal("eval " + quote(model.string()) + " --problems " + quote(problems) +
                  " --max-tokens 48 -t 2 --json --output " + quote(out));
  ASSERT_EQ(r.code, 0) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["n"], 2);
  EXPECT_GT(s["decode_tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(s["mean_completion_tokens"].get<double>(), 0.0);
  auto recs = read_jsonl(out);
  ASSERT_EQ(recs.size(), 2u);
  for (const json& rec : recs) {
    EXPECT_FALSE(rec["text"].get<std::string>().empty());
    EXPECT_EQ(rec["task"], "countdown");
  }
  auto g = frugal("eval --grade " + quote(out) + " --problems " + quote(problems) + " --json");
  ASSERT_EQ(g.code, 0) << g.err;
  json gs = json::parse(g.out);
  for (const char* k : {"n", "correct", "format_ok", "reasons", "decode_tokens_per_s"})
    EXPECT_EQ(gs[k], s[k]) << k;
  for (const auto& p : {out, problems}) fs::remove(p);
}

}  // namespace
