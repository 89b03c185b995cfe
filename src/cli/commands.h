// The verbs of the `frugal` command. Each registers its subcommand and flags
// on the CLI11 app and returns the process exit code when run.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace frugal::cli {

using Action = std::function<int()>;

// Each adds a subcommand to `app` and returns the action to run when chosen.
Action add_run_command(CLI::App& app);
Action add_info_command(CLI::App& app);
Action add_tokenize_command(CLI::App& app);
Action add_serve_command(CLI::App& app);
Action add_bench_command(CLI::App& app);       // cmd_bench.cpp
Action add_mkmodel_command(CLI::App& app);     // cmd_mkmodel.cpp (hidden)
Action add_eval_command(CLI::App& app);        // cmd_eval.cpp
Action add_perplexity_command(CLI::App& app);  // cmd_perplexity.cpp
Action add_train_command(CLI::App& app);       // cmd_train.cpp (runs frugal-train)
Action add_quantize_command(CLI::App& app);    // cmd_quantize.cpp

// Prints "frugal: <message>" to stderr; returns the exit code for failures.
int fail(const std::string& message);

}  // namespace frugal::cli
