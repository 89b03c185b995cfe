// frugal: run R1-family reasoning models on your own CPU.
#include <cstdio>
#include <cstdlib>
#include <map>

#include "cli/commands.h"
#include "kernels/cpu/dispatch.h"

#ifndef FRUGAL_VERSION
#define FRUGAL_VERSION "0.1.0"
#endif

namespace frugal::cli {

int fail(const std::string& message) {
  std::fprintf(stderr, "frugal: %s\n", message.c_str());
  return 1;
}

}  // namespace frugal::cli

int main(int argc, char** argv) {
  using namespace frugal::cli;
  CLI::App app{"frugal: run DeepSeek-R1-family reasoning models on your own CPU, privately"};
  app.set_version_flag("--version", FRUGAL_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  frugal run model.gguf \"What is 17 * 23?\"   one answer, thinking shown dimmed\n"
      "  frugal run model.gguf                       interactive chat (/exit to quit)\n"
      "  frugal info model.gguf                      architecture, quantization, metadata\n"
      "  frugal tokenize model.gguf \"Hello world\"    token ids\n"
      "  frugal serve model.gguf --port 8080         OpenAI-compatible HTTP API\n"
      "  frugal eval model.gguf --task arith -n 50   accuracy on rule-checked problems\n"
      "  frugal perplexity model.gguf text.txt       perplexity (llama.cpp's method)\n"
      "  frugal quantize in.gguf out.gguf q8_0       convert the weights (like llama-quantize)\n"
      "  frugal train grpo model.gguf --task countdown   GRPO with rule-checked rewards\n"
      "  frugal train pipeline --out-dir run/        pretrain, GRPO, distill a tiny reasoner\n"
      "Run 'frugal <verb> --help' for the flags of a verb.");

  // FRUGAL_KERNELS=ref|avx2|avx512-vnni|avx-vnni|neon|neon-dotprod|auto forces a kernel table (A/B
  // checks, bisecting a numeric difference); read here, never inside the kernels.
  if (const char* isa = std::getenv("FRUGAL_KERNELS"); isa != nullptr && *isa != '\0') {
    if (auto st = frugal::kernels::select_kernels(isa); !st.ok()) return fail(st.error().message);
  }

  std::map<CLI::App*, Action> actions;
  auto reg = [&](Action (*add)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    Action a = add(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) actions[subs.back()] = std::move(a);
  };
  reg(add_run_command);
  reg(add_info_command);
  reg(add_tokenize_command);
  reg(add_serve_command);
  reg(add_bench_command);
  reg(add_mkmodel_command);
  reg(add_eval_command);
  reg(add_perplexity_command);
  reg(add_quantize_command);
  reg(add_train_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, action] : actions)
    if (sub->parsed()) return action();
  return fail("no command given; see frugal --help");
}
