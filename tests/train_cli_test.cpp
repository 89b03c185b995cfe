// `frugal-train grpo` (and `frugal train`, which runs it) on the tiny qwen2
// model: a short run writes one CSV row per step, a checkpoint and a GGUF
// file the engine loads; --resume continues where it stopped; bad flags are
// one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf_file.h"

namespace {

namespace fs = std::filesystem;

struct Outcome {
  int code = -1;
  std::string out, err;
};

Outcome run(const std::string& binary, const std::string& args) {
  const fs::path err_file =
      fs::temp_directory_path() / ("frugal_train_err_" + std::to_string(getpid()));
  const std::string cmd =
      "timeout 300 " + binary + " " + args + " </dev/null 2>'" + err_file.string() + "'";
  Outcome r;
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

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

const std::string kTiny = std::string(FRUGAL_TEST_DATA) + "/models/tiny-qwen2.f32.gguf";

TEST(TrainCli, GrpoRunWritesMetricsCheckpointAndModelThenResumes) {
  const fs::path dir = fs::temp_directory_path() / ("frugal_train_cli_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string common = "grpo " + kTiny +
                             " --task arith --digits 1 --prompts 2 -G 2 -n 6 -t 1 "
                             "--chat-template chatml --no-think-format --lr 1e-3 --seed 3"
                             " --metrics '" +
                             (dir / "m.csv").string() + "' --checkpoint '" + (dir / "ck").string() +
                             "'";
  Outcome r = run(FRUGAL_TRAIN_CLI, common + " --steps 2 --out '" + (dir / "out.gguf").string() +
                                        "' --out-type q8_0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("step 2/2"), std::string::npos) << r.err;
  auto csv = lines(dir / "m.csv");
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0].rfind("step,mean_reward,", 0), 0u);
  EXPECT_EQ(csv[2].rfind("2,", 0), 0u);
  EXPECT_EQ(std::count(csv[1].begin(), csv[1].end(), ','), 12);
  std::ifstream state(dir / "ck" / "state.json");
  EXPECT_EQ(nlohmann::json::parse(state)["step"], 2);
  auto out = frugal::gguf::File::open((dir / "out.gguf").string());
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ((*out)->find_tensor("blk.0.attn_q.weight")->type, frugal::gguf::GgmlType::Q8_0);
  EXPECT_EQ((*out)->get_string("general.architecture"), "qwen2");

  // The trained file runs in frugal.
  Outcome info = run(FRUGAL_CLI, "run '" + (dir / "out.gguf").string() +
                                     "' --raw hello -n 4 --temp 0 --chat-template chatml");
  EXPECT_EQ(info.code, 0) << info.err;

  r = run(FRUGAL_TRAIN_CLI, common + " --steps 3 --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed at step 2"), std::string::npos) << r.err;
  csv = lines(dir / "m.csv");
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(csv[3].rfind("3,", 0), 0u);
  fs::remove_all(dir);
}

// The tiny R1 pipeline with a few steps per stage: every model of stages 1
// and 2 is written and runs in frugal, the CSVs have their rows. A teacher
// trained this briefly answers nothing right, so stage 3 must say that
// rather than fine-tune the student on no data.
TEST(TrainCli, PipelineWritesEveryStageAndRefusesToDistillNothing) {
  const fs::path dir = fs::temp_directory_path() / ("frugal_pipeline_" + std::to_string(getpid()));
  fs::remove_all(dir);
  Outcome r = run(FRUGAL_TRAIN_CLI, "pipeline --out-dir '" + dir.string() +
                                        "' -t 1 --pretrain-steps 3 --batch 4 --grpo-steps 2 "
                                        "--grpo-prompts 2 -G 2 --eval-every 1 --heldout 3 "
                                        "--distill-problems 2 --distill-steps 2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("frugal-train: distill: the teacher answered no problem correctly"),
            std::string::npos)
      << r.err;
  for (const char* m : {"teacher-init.gguf", "student-init.gguf", "teacher-base.gguf",
                        "student-base.gguf", "teacher.gguf"}) {
    Outcome o = run(FRUGAL_CLI, "run '" + (dir / m).string() + "' 1+2 -n 4 --temp 0");
    EXPECT_EQ(o.code, 0) << m << ": " << o.err;
  }
  EXPECT_FALSE(fs::exists(dir / "student.gguf"));
  const auto pre = lines(dir / "pretrain.csv");
  ASSERT_EQ(pre.size(), 7u);
  EXPECT_EQ(pre[0], "model,step,loss,lr,seconds");
  EXPECT_EQ(pre[6].rfind("student,3,", 0), 0u);
  const auto grpo = lines(dir / "grpo.csv");
  ASSERT_EQ(grpo.size(), 4u);  // header, step 0 (held-out only), steps 1 and 2
  EXPECT_EQ(grpo[1].rfind("0,,", 0), 0u);
  EXPECT_EQ(grpo[3].rfind("2,", 0), 0u);
  EXPECT_EQ(std::count(grpo[3].begin(), grpo[3].end(), ','), 12);
  EXPECT_EQ(grpo[3].find(",,"), std::string::npos) << grpo[3];  // held-out measured
  fs::remove_all(dir);
}

TEST(TrainCli, FrugalTrainRunsTheTrainer) {
  Outcome r = run(FRUGAL_CLI, "train grpo --help");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("--group"), std::string::npos) << r.out;
}

TEST(TrainCli, BadFlagsAreOneLineErrors) {
  Outcome r = run(FRUGAL_TRAIN_CLI, "grpo " + kTiny + " --out-type q9 --steps 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("frugal-train: --out-type must be"), std::string::npos) << r.err;
  r = run(FRUGAL_TRAIN_CLI, "grpo " + kTiny + " -G 1 --steps 1 --chat-template chatml");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("group size must be >= 2"), std::string::npos) << r.err;
  r = run(FRUGAL_TRAIN_CLI, "grpo " + kTiny + " --resume --steps 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--resume needs --checkpoint"), std::string::npos) << r.err;
}

}  // namespace
