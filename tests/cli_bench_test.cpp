// `frugal bench` as a user runs it. Reference: the hyperparameters that
// tools/gen_tiny_models.py (Hugging Face transformers) recorded in
// tests/data/models/tiny-qwen2.json, from which the test derives the parameter
// count and F32 byte size that bench must report; JSON validity is judged by
// nlohmann::json; the test names follow llama-bench's convention (pp<P>, tg<N>,
// suffix @d<D>).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace {

namespace fs = std::filesystem;

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

Run frugal(const std::string& args) {
  const fs::path err_file =
      fs::temp_directory_path() / ("frugal_bench_err_" + std::to_string(getpid()));
  const std::string cmd = std::string("timeout 120 ") + FRUGAL_CLI + " " + args + " </dev/null 2>" +
                          quote(err_file.string());
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* e = fopen(err_file.c_str(), "r")) {
    while ((n = fread(buf.data(), 1, buf.size(), e)) > 0) r.err.append(buf.data(), n);
    fclose(e);
  }
  fs::remove(err_file);
  return r;
}

const std::string kTiny = std::string(FRUGAL_TEST_DATA) + "/models/tiny-qwen2.f32.gguf";

void expect_one_line_error(const Run& r, const std::string& fragment) {
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(r.err.rfind("frugal: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

// Parameters of the tiny qwen2 from its HF config: embedding, output (untied),
// final norm, and per layer q/k/v/o with q/k/v biases, gate/up/down, two norms.
uint64_t expected_params() {
  std::ifstream f(std::string(FRUGAL_TEST_DATA) + "/models/tiny-qwen2.json");
  const auto j = nlohmann::json::parse(f);
  const uint64_t V = j["n_vocab"], E = j["n_embd"], L = j["n_layer"], H = j["n_head"];
  const uint64_t Hkv = j["n_head_kv"], F = j["n_ff"];
  const uint64_t KV = Hkv * (E / H);
  const uint64_t layer = E * E + E + 2 * (E * KV + KV) + E * E + 3 * E * F + 2 * E;
  return 2 * V * E + E + L * layer;
}

TEST(CliBench, JsonHasOneRowPerTestWithConsistentFigures) {
  auto r = frugal("bench " + quote(kTiny) + " -p 16 -n 8 -r 2 -t 1 -o json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u) << r.out;
  const uint64_t params = expected_params();
  std::set<std::string> tests;
  for (const auto& row : j) {
    for (const char* k :
         {"model", "size_bytes", "size_gib", "n_params", "type", "kernels", "kv_type", "threads",
          "test", "n_prompt", "n_gen", "n_depth", "reps", "samples_ts", "avg_ts", "stddev_ts"})
      ASSERT_TRUE(row.contains(k)) << k << " missing in " << row.dump();
    EXPECT_EQ(row["model"], "tiny-qwen2.f32.gguf");
    EXPECT_EQ(row["n_params"].get<uint64_t>(), params);
    EXPECT_EQ(row["size_bytes"].get<uint64_t>(), 4 * params);  // all F32
    EXPECT_EQ(row["type"], "F32");
    EXPECT_EQ(row["kv_type"], "f16");  // the default, as frugal run's
    EXPECT_EQ(row["threads"], 1);
    EXPECT_EQ(row["reps"], 2);
    EXPECT_EQ(row["n_depth"], 0);
    const auto& s = row["samples_ts"];
    ASSERT_EQ(s.size(), 2u);
    double sum = 0;
    for (const auto& x : s) {
      EXPECT_TRUE(std::isfinite(x.get<double>()));
      EXPECT_GT(x.get<double>(), 0.0);
      sum += x.get<double>();
    }
    EXPECT_NEAR(row["avg_ts"].get<double>(), sum / 2, 1e-4 * sum);
    const double sd = std::fabs(s[0].get<double>() - s[1].get<double>()) / std::sqrt(2.0);
    EXPECT_NEAR(row["stddev_ts"].get<double>(), sd, 1e-4 * sum + 1e-9);
    tests.insert(row["test"].get<std::string>());
  }
  EXPECT_EQ(tests, (std::set<std::string>{"pp16", "tg8"}));
  const auto pp = j[0]["test"] == "pp16" ? j[0] : j[1];
  EXPECT_EQ(pp["n_prompt"], 16);
  EXPECT_EQ(pp["n_gen"], 0);
}

TEST(CliBench, DepthsAndThreadListsMultiplyTheTests) {
  auto r = frugal("bench " + quote(kTiny) + " -p 4 -n 2 -r 1 -t 1,2 -d 0,8 -o json --no-warmup");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  std::set<std::pair<int, std::string>> seen;
  for (const auto& row : j)
    seen.insert({row["threads"].get<int>(), row["test"].get<std::string>()});
  std::set<std::pair<int, std::string>> want;
  for (int t : {1, 2})
    for (const char* name : {"pp4", "tg2", "pp4@d8", "tg2@d8"}) want.insert({t, name});
  EXPECT_EQ(seen, want);
}

TEST(CliBench, KvTypeFlagPicksTheCacheType) {
  for (const char* kv : {"f32", "f16"}) {
    auto r = frugal("bench " + quote(kTiny) + " -p 4 -n 2 -r 1 -t 1 -d 8 --kv-type " + kv +
                    " -o json --no-warmup");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_array() && j.size() == 2) << r.out;
    for (const auto& row : j) EXPECT_EQ(row["kv_type"], kv);
  }
}

TEST(CliBench, MarkdownAndCsvTables) {
  auto md = frugal("bench " + quote(kTiny) + " -p 4 -n 0 -r 1 -t 1");
  ASSERT_EQ(md.code, 0) << md.err;
  EXPECT_EQ(md.out.rfind("| model | size | params | type |", 0), 0u) << md.out;
  EXPECT_NE(md.out.find("| pp4 |"), std::string::npos) << md.out;
  EXPECT_EQ(md.out.find("tg"), std::string::npos) << md.out;  // -n 0 skips tg
  auto csv = frugal("bench " + quote(kTiny) + " -p 0 -n 2 -r 1 -t 1 -o csv");
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("model,size_bytes,n_params,type,", 0), 0u) << csv.out;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 2) << csv.out;
  EXPECT_NE(csv.out.find(",tg2,"), std::string::npos) << csv.out;
}

TEST(CliBench, BadFlagsAreOneLineErrors) {
  const std::string m = quote(kTiny);
  expect_one_line_error(frugal("bench " + m + " -p abc"), "-p 'abc'");
  expect_one_line_error(frugal("bench " + m + " -n -3"), "-n '-3'");
  expect_one_line_error(frugal("bench " + m + " -r 0"), "-r '0'");
  expect_one_line_error(frugal("bench " + m + " -t 0"), "-t '0'");
  expect_one_line_error(frugal("bench " + m + " -t 1,,2"), "-t");
  expect_one_line_error(frugal("bench " + m + " -t 2,"), "-t");
  expect_one_line_error(frugal("bench " + m + " -p 4,8"), "-p takes one value");
  expect_one_line_error(frugal("bench " + m + " -d 1x"), "-d '1x'");
  expect_one_line_error(frugal("bench " + m + " -d 0,99999999"), "-d '99999999'");
  expect_one_line_error(frugal("bench " + m + " -o xml"), "-o 'xml'");
  expect_one_line_error(frugal("bench " + m + " --kv-type q8_0"), "'q8_0' is not one of f16, f32");
  expect_one_line_error(frugal("bench " + m + " -p 0 -n 0"), "nothing to measure");
  expect_one_line_error(frugal("bench /nonexistent/model.gguf -r 1"), "/nonexistent/model.gguf");
  expect_one_line_error(frugal("mkmodel --shape nosuch --type q4_0 -o /dev/null"), "nosuch");
  expect_one_line_error(frugal("mkmodel --shape r1-qwen-1.5b --type q2_k -o /dev/null"), "q2_k");
}

}  // namespace
