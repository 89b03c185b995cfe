// `frugal-train pipeline`: the R1 recipe end to end at a size two CPU cores
// train in minutes (issue 7). Three stages, every model a GGUF file in
// --out-dir that frugal and llama.cpp run:
//
//   1. pretrain  a tiny teacher and a 4x smaller student from random weights
//                on synthetic additions in the R1 format (train/addition_task.h):
//                most replies direct guesses, most of those careless (carries
//                forgotten), the rest reasoned digit by digit and right;
//   2. grpo      the teacher on longer additions with R1's rule-checked
//                reward (answer checked, reasoning closed by </think>), its
//                held-out accuracy measured as it goes;
//   3. distill   the trained teacher samples replies to training problems,
//                only correct ones are kept (rejection sampling) and the
//                student is fine-tuned on them.
//
// Writes pretrain.csv, grpo.csv, distill.csv and summary.json beside the
// models; tools/plot_train.py draws the curves.
#pragma once

#include <cstdint>
#include <string>

namespace frugal::train_cli {

struct PipelineFlags {
  std::string out_dir;
  uint64_t seed = 0;
  int threads = 2;
  bool bf16 = false;  // matrix products of every training stage in bfloat16
  // Stage 1.
  int pretrain_steps = 1500;
  int pretrain_batch = 32;
  double pretrain_lr = 2e-3;
  int pretrain_min_digits = 2;  // pretraining operands have 2..3 digits
  int pretrain_max_digits = 3;
  double reasoned_share = 0.35;  // of pretraining replies written digit by digit
  double careless_share = 0.7;   // of the direct ones, those that forget carries
  // Stage 2.
  int grpo_steps = 60;
  int grpo_prompts = 8;
  int grpo_group = 8;
  int grpo_digits = 3;
  double grpo_lr = 2e-4;
  double grpo_beta = 0.0;
  int eval_every = 10;
  int heldout = 200;
  // Stage 3.
  int distill_problems = 1024;
  int distill_samples = 2;
  int distill_steps = 800;
  double distill_lr = 1e-3;
};

int run_pipeline(const PipelineFlags& f);

// `frugal-train addition-eval MODEL`: the pipeline's held-out evaluation of
// any model file (e.g. a quantized copy of the teacher), printed as JSON.
int run_addition_eval(const std::string& model, uint64_t seed, int digits, int heldout,
                      int threads);

}  // namespace frugal::train_cli
