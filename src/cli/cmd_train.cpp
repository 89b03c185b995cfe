// `frugal train ...`: runs `frugal-train` from the directory of this binary
// with the same arguments. Training links libtorch (~300 MB of shared
// libraries); keeping it in its own binary keeps `frugal`'s start-up and
// memory free of it, and a build without -DFRUGAL_TRAIN still has every
// other verb.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"

namespace frugal::cli {

Action add_train_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "train", "Make reasoning models: GRPO with rule-checked rewards (runs frugal-train)");
  sub->prefix_command();  // every argument after `train` goes to frugal-train
  sub->set_help_flag();   // so does --help
  sub->footer("Example: frugal train grpo model.gguf --task countdown --steps 50 --out out.gguf");
  return [sub]() -> int {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return fail("cannot find this binary's directory: " + ec.message());
    const std::filesystem::path trainer = self.parent_path() / "frugal-train";
    if (!std::filesystem::exists(trainer, ec))
      return fail("training is not in this build: " + trainer.string() +
                  " is missing (configure with -DFRUGAL_TRAIN=ON; it needs libtorch, which "
                  "scripts/setup.sh installs)");
    std::vector<std::string> args = sub->remaining();
    std::vector<char*> argv;
    std::string name = "frugal-train";
    argv.push_back(name.data());
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(trainer.c_str(), argv.data());
    return fail("cannot run " + trainer.string() + ": " + std::strerror(errno));
  };
}

}  // namespace frugal::cli
