// frugal-train: the R1 recipe on your own machine. `frugal train ...` runs
// this binary (kept apart so `frugal` itself never loads libtorch).
//
//   frugal-train grpo MODEL.gguf --task countdown --steps 50 --out trained.gguf
//
// Each step draws --prompts problems (Problem i of a task depends only on the
// seed and i, as in `frugal eval`), samples --group completions of each with
// the engine on the current weights, scores them with the rule-checked
// rewards (train/rewards.h: accuracy gated by the <think> format) and takes
// an AdamW step on the GRPO loss. One CSV row per step; a checkpoint after
// every step when --checkpoint is given (--resume continues from it).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "eval/tasks.h"
#include "train/grpo_trainer.h"
#include "train/rewards.h"
#include "train_cli/pipeline.h"

namespace {

using namespace frugal;

int fail(const std::string& message) {
  std::fprintf(stderr, "frugal-train: %s\n", message.c_str());
  return 1;
}

struct GrpoFlags {
  std::string model, task = "countdown", chat_template, checkpoint, metrics, out;
  std::string out_type = "f32";
  int steps = 20, prompts = 4, digits = 3;
  bool resume = false, no_think = false;
  train::TrainerOptions t;
};

Result<std::vector<eval::Problem>> problems_for(const GrpoFlags& f, int n) {
  if (f.task == "arith") {
    eval::ArithmeticOptions o;
    o.digits = f.digits;
    return eval::generate_arithmetic(f.t.seed, n, o);
  }
  if (f.task == "countdown") return eval::generate_countdown(f.t.seed, n);
  return eval::load_qa_jsonl(f.task);  // {question, answer} lines
}

Result<train::RewardProblem> reward_problem(const eval::Problem& p) {
  train::RewardProblem r;
  if (p.kind == eval::TaskKind::Countdown) {
    r.kind = train::RewardProblem::Kind::Countdown;
    r.numbers = p.numbers;
    r.target = p.target;
    return r;
  }
  FRUGAL_ASSIGN_OR_RETURN(r.expected, eval::expected_number(p));
  return r;
}

Result<gguf::GgmlType> out_type(const std::string& name) {
  if (name == "f32") return gguf::GgmlType::F32;
  if (name == "f16") return gguf::GgmlType::F16;
  if (name == "q8_0") return gguf::GgmlType::Q8_0;
  if (name == "q4_0") return gguf::GgmlType::Q4_0;
  if (name == "q4_k") return gguf::GgmlType::Q4_K;
  return make_error("--out-type must be f32, f16, q8_0, q4_0 or q4_k, got '{}'", name);
}

int run_grpo(const GrpoFlags& f) {
  if (f.steps < 1 || f.prompts < 1) return fail("--steps and --prompts must be >= 1");
  auto otype = out_type(f.out_type);
  if (!otype.ok()) return fail(otype.error().message);
  // Prompts are rendered by the engine's chat template and tokenizer.
  runtime::EngineOptions eo;
  eo.model_path = f.model;
  eo.n_threads = 1;
  eo.n_ctx = 64;
  eo.chat_template = f.chat_template;
  auto engine = runtime::Engine::load(eo);
  if (!engine.ok()) return fail(engine.error().message);
  auto trainer = train::GrpoTrainer::create(f.model, f.t);
  if (!trainer.ok()) return fail(trainer.error().message);
  train::GrpoTrainer& tr = **trainer;
  if (f.resume) {
    if (f.checkpoint.empty()) return fail("--resume needs --checkpoint DIR");
    if (auto st = tr.load_checkpoint(f.checkpoint); !st.ok()) return fail(st.error().message);
    std::fprintf(stderr, "resumed at step %lld\n", static_cast<long long>(tr.steps_done()));
  }
  if (!f.checkpoint.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(f.checkpoint, ec);
    if (ec) return fail("cannot create " + f.checkpoint + ": " + ec.message());
  }
  auto all = problems_for(f, f.steps * f.prompts);
  if (!all.ok()) return fail(all.error().message);
  if (all->empty()) return fail("the task has no problems");

  train::RewardOptions ro;
  ro.prompt_opens_think = (*engine)->chat_template().prompt_opens_reasoning();
  ro.require_think = !f.no_think;

  std::ofstream csv;
  if (!f.metrics.empty()) {
    const bool fresh = !f.resume || !std::filesystem::exists(f.metrics);
    csv.open(f.metrics, fresh ? std::ios::trunc : std::ios::app);
    if (!csv) return fail("cannot write " + f.metrics);
    if (fresh)
      csv << "step,mean_reward,reward_std,accuracy,format_ok,loss,mean_kl,clip_fraction,"
             "grad_norm,mean_completion_tokens,rollout_tokens_per_s,rollout_s,update_s\n";
  }

  const auto t_start = std::chrono::steady_clock::now();
  const int64_t first = tr.steps_done();
  for (int64_t s = first; s < f.steps; ++s) {
    std::vector<std::vector<int32_t>> prompts;
    std::vector<train::RewardProblem> rps;
    std::vector<std::string> texts;
    for (int i = 0; i < f.prompts; ++i) {
      const auto& p = (*all)[static_cast<size_t>(s * f.prompts + i) % all->size()];
      auto ids = (*engine)->chat_prompt(std::vector<chat::Message>{{"user", p.prompt}});
      if (!ids.ok()) return fail(ids.error().message);
      auto rp = reward_problem(p);
      if (!rp.ok()) return fail(p.id + ": " + rp.error().message);
      prompts.push_back(std::move(*ids));
      rps.push_back(std::move(*rp));
      texts.push_back(p.prompt);
    }
    double correct = 0, format_ok = 0, n = 0;
    const auto reward = [&](size_t i, const runtime::GenerationResult& r) {
      train::RewardOptions o = ro;
      o.prompt = texts[i];
      const train::Reward rw = train::score_completion(r.text, rps[i], o);
      correct += rw.accuracy == o.levels.correct;
      format_ok += rw.think_closed || !ro.require_think;
      n += 1;
      return rw.total;
    };
    auto st = tr.step(prompts, reward);
    if (!st.ok()) return fail(st.error().message);
    const double tokens = st->mean_completion_tokens * n;
    const double tps = st->rollout_s > 0 ? tokens / st->rollout_s : 0;
    if (csv.is_open()) {
      csv << fmt::format(
          "{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},"
          "{:.6g},{:.6g}\n",
          st->step, st->mean_reward, st->reward_std, correct / n, format_ok / n, st->loss,
          st->mean_kl, st->clip_fraction, st->grad_norm, st->mean_completion_tokens, tps,
          st->rollout_s, st->update_s);
      csv.flush();
    }
    if (!f.checkpoint.empty()) {
      if (auto c = tr.save_checkpoint(f.checkpoint); !c.ok()) return fail(c.error().message);
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    const double per_step = elapsed / static_cast<double>(s + 1 - first);
    const double eta = per_step * static_cast<double>(f.steps - s - 1);
    std::fprintf(stderr,
                 "step %lld/%d  reward %.3f  accuracy %5.1f %%  length %.0f  kl %.4f  "
                 "%.1f tok/s  %.1f s/step  ETA %d:%02d\n",
                 static_cast<long long>(st->step), f.steps, st->mean_reward, 100 * correct / n,
                 st->mean_completion_tokens, st->mean_kl, tps, per_step, static_cast<int>(eta) / 60,
                 static_cast<int>(eta) % 60);
  }
  if (!f.out.empty()) {
    auto image = tr.export_image(*otype);
    if (!image.ok()) return fail(image.error().message);
    std::ofstream o(f.out + ".tmp", std::ios::binary | std::ios::trunc);
    o.write(reinterpret_cast<const char*>(image->data()),
            static_cast<std::streamsize>(image->size()));
    o.close();
    std::error_code ec;
    if (!o) return fail("cannot write " + f.out);
    std::filesystem::rename(f.out + ".tmp", f.out, ec);
    if (ec) return fail("cannot write " + f.out + ": " + ec.message());
    std::fprintf(stderr, "wrote %s (%zu bytes)\n", f.out.c_str(), image->size());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"frugal-train: GRPO with rule-checked rewards (the R1 recipe) on your own CPU"};
  app.require_subcommand(1);
  GrpoFlags f;
  f.t.n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CLI::App* grpo =
      app.add_subcommand("grpo", "Reinforcement learning with group-relative advantages");
  grpo->add_option("MODEL", f.model, "Policy to start from (.gguf, qwen2 or llama)")
      ->required()
      ->check(CLI::ExistingFile);
  grpo->add_option("--task", f.task, "arith, countdown, or a JSONL file of {question, answer}")
      ->capture_default_str();
  grpo->add_option("--digits", f.digits, "Operand digits for arith")->capture_default_str();
  grpo->add_option("--steps", f.steps, "Training steps")->capture_default_str();
  grpo->add_option("--prompts", f.prompts, "Problems per step")->capture_default_str();
  grpo->add_option("-G,--group", f.t.group_size, "Completions per problem")->capture_default_str();
  grpo->add_option("-n,--max-tokens", f.t.max_completion_tokens, "Most tokens per completion")
      ->capture_default_str();
  grpo->add_option("--temperature", f.t.temperature, "Rollout temperature")->capture_default_str();
  grpo->add_option("--lr", f.t.learning_rate, "AdamW learning rate")->capture_default_str();
  grpo->add_option("--weight-decay", f.t.weight_decay, "AdamW weight decay")->capture_default_str();
  grpo->add_option("--max-grad-norm", f.t.max_grad_norm, "Gradient clip (<= 0: off)")
      ->capture_default_str();
  grpo->add_option("--beta", f.t.loss.beta, "KL coefficient to the starting model (0: no KL)")
      ->capture_default_str();
  grpo->add_option("--epsilon", f.t.loss.epsilon_low, "Clip range below 1")->capture_default_str();
  grpo->add_option("--epsilon-high", f.t.loss.epsilon_high, "Clip range above 1 (DAPO: 0.28)")
      ->capture_default_str();
  grpo->add_option("--mu", f.t.updates_per_batch, "AdamW updates per batch of rollouts")
      ->capture_default_str();
  grpo->add_option("--seed", f.t.seed, "Seed of problems and rollouts")->capture_default_str();
  grpo->add_option("-t,--threads", f.t.n_threads, "Rollout threads")->capture_default_str();
  grpo->add_option("--chat-template", f.chat_template,
                   "deepseek-r1, chatml or llama3 (default: the model's)");
  grpo->add_flag("--no-think-format", f.no_think,
                 "Do not require reasoning closed by </think> for a reward");
  grpo->add_flag("--bf16", f.t.bf16,
                 "Matrix products of the update in bfloat16 (weights and AdamW stay float32)");
  grpo->add_option("--checkpoint", f.checkpoint, "Directory for a checkpoint after every step");
  grpo->add_flag("--resume", f.resume, "Continue from the checkpoint in --checkpoint");
  grpo->add_option("--metrics", f.metrics, "CSV file, one row per step");
  grpo->add_option("--out", f.out, "Write the trained model here (.gguf)");
  grpo->add_option("--out-type", f.out_type,
                   "f32, f16, q8_0, q4_0 or q4_k for the matrices (rows that do not divide "
                   "into the type's blocks stay f32)")
      ->capture_default_str();
  train_cli::PipelineFlags pf;
  pf.threads = f.t.n_threads;
  CLI::App* pipe = app.add_subcommand(
      "pipeline", "The R1 recipe on a tiny model: pretrain, GRPO, distill (minutes on 2 cores)");
  pipe->add_option("--out-dir", pf.out_dir, "Directory for the models, CSVs and summary.json")
      ->required();
  pipe->add_option("--seed", pf.seed, "Seed of weights, data and sampling")->capture_default_str();
  pipe->add_option("-t,--threads", pf.threads, "Training threads")->capture_default_str();
  pipe->add_flag("--bf16", pf.bf16, "Matrix products of every training stage in bfloat16");
  pipe->add_option("--pretrain-steps", pf.pretrain_steps, "Pretraining steps per model")
      ->capture_default_str();
  pipe->add_option("--batch", pf.pretrain_batch, "Sequences per pretraining / distillation step")
      ->capture_default_str();
  pipe->add_option("--reasoned-share", pf.reasoned_share,
                   "Share of pretraining replies that reason digit by digit")
      ->capture_default_str();
  pipe->add_option("--careless-share", pf.careless_share,
                   "Share of the direct pretraining replies that forget carries")
      ->capture_default_str();
  pipe->add_option("--grpo-steps", pf.grpo_steps, "GRPO steps on the teacher")
      ->capture_default_str();
  pipe->add_option("--grpo-prompts", pf.grpo_prompts, "Problems per GRPO step")
      ->capture_default_str();
  pipe->add_option("-G,--group", pf.grpo_group, "Completions per problem")->capture_default_str();
  pipe->add_option("--grpo-lr", pf.grpo_lr, "GRPO learning rate")->capture_default_str();
  pipe->add_option("--beta", pf.grpo_beta, "KL coefficient to the pretrained teacher")
      ->capture_default_str();
  pipe->add_option("--digits", pf.grpo_digits, "Operand digits of GRPO and held-out problems")
      ->capture_default_str();
  pipe->add_option("--eval-every", pf.eval_every, "GRPO steps between held-out evaluations")
      ->capture_default_str();
  pipe->add_option("--heldout", pf.heldout, "Held-out problems")->capture_default_str();
  pipe->add_option("--distill-problems", pf.distill_problems, "Problems the teacher answers")
      ->capture_default_str();
  pipe->add_option("--distill-samples", pf.distill_samples, "Teacher replies per problem")
      ->capture_default_str();
  pipe->add_option("--distill-steps", pf.distill_steps, "Student fine-tuning steps")
      ->capture_default_str();
  std::string eval_model;
  CLI::App* aeval = app.add_subcommand(
      "addition-eval", "Held-out accuracy of a model on the pipeline's additions (JSON)");
  aeval->add_option("MODEL", eval_model, "Model file (.gguf)")
      ->required()
      ->check(CLI::ExistingFile);
  aeval->add_option("--seed", pf.seed, "The pipeline run's seed")->capture_default_str();
  aeval->add_option("--digits", pf.grpo_digits, "Operand digits")->capture_default_str();
  aeval->add_option("--heldout", pf.heldout, "Held-out problems")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (grpo->parsed()) return run_grpo(f);
  if (aeval->parsed())
    return train_cli::run_addition_eval(eval_model, pf.seed, pf.grpo_digits, pf.heldout, 1);
  if (pipe->parsed()) return train_cli::run_pipeline(pf);
  return 1;
}
