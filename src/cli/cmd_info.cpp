// `frugal info MODEL`: what a GGUF file holds, without loading the weights.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "gguf/gguf_file.h"

namespace frugal::cli {

namespace {

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return fmt::format("{:.2f} {}", v, units[u]);
}

std::string value_summary(const gguf::Value& v, bool full) {
  using gguf::ValueType;
  if (const auto* a = v.as_array()) {
    std::string s = fmt::format("[{} x {}]", a->size(), gguf::value_type_name(a->elem_type()));
    if (full || a->size() <= 8) {
      s += " ";
      for (size_t i = 0; i < a->size() && (full || i < 8); ++i)
        s += (i ? ", " : "") + value_summary(a->at(i), full);
    }
    return s;
  }
  if (const auto* s = v.as_string()) {
    std::string t = *s;
    if (!full && t.size() > 80) t = t.substr(0, 77) + "...";
    std::string out;
    for (char c : t) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return "\"" + out + "\"";
  }
  if (v.type == ValueType::BOOL) return *v.as_bool() ? "true" : "false";
  if (v.type == ValueType::FLOAT32 || v.type == ValueType::FLOAT64) return fmt::format("{}", *v.as_float());
  if (auto i = v.as_int()) return fmt::format("{}", *i);
  if (auto u = v.as_uint()) return fmt::format("{}", *u);
  return "?";
}

}  // namespace

Action add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show a GGUF file's architecture, quantization, sizes and metadata");
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto tensors = std::make_shared<bool>(false);
  cmd->add_option("MODEL", *path, "Path to a .gguf file")->required();
  cmd->add_flag("--full", *all, "Print long strings and arrays in full");
  cmd->add_flag("--tensors", *tensors, "List every tensor");
  return [=]() -> int {
    auto f = gguf::File::open(*path);
    if (!f.ok()) return fail(f.error().message);
    const gguf::File& file = **f;
    const std::string arch = file.get_string("general.architecture").value_or("(none)");
    uint64_t n_params = 0, n_bytes = 0;
    std::map<std::string, std::pair<int, uint64_t>> by_type;
    for (const auto& t : file.tensors()) {
      n_params += t.n_elements;
      n_bytes += t.n_bytes;
      auto& e = by_type[std::string(gguf::type_name(t.type))];
      e.first++;
      e.second += t.n_elements;
    }
    std::printf("file:          %s (%s)\n", path->c_str(), human_bytes(file.file_size()).c_str());
    std::printf("gguf version:  %u, alignment %llu\n", file.version(),
                static_cast<unsigned long long>(file.alignment()));
    std::printf("name:          %s\n", file.get_string("general.name").value_or("(none)").c_str());
    std::printf("architecture:  %s\n", arch.c_str());
    std::printf("parameters:    %.2f M in %zu tensors, %s of weights (%.2f bits/weight)\n",
                n_params / 1e6, file.tensors().size(), human_bytes(n_bytes).c_str(),
                n_params ? 8.0 * n_bytes / n_params : 0.0);
    std::printf("tensor types: ");
    for (auto& [name, e] : by_type)
      std::printf(" %s x%d (%.1f%%)", name.c_str(), e.first, n_params ? 100.0 * e.second / n_params : 0.0);
    std::printf("\n\nmetadata (%zu keys):\n", file.metadata().size());
    for (const auto& [key, value] : file.metadata())
      std::printf("  %-44s %s\n", key.c_str(), value_summary(value, *all).c_str());
    if (*tensors) {
      std::printf("\ntensors:\n");
      for (const auto& t : file.tensors()) {
        std::string shape;
        for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? " x " : "") + std::to_string(t.shape[i]);
        std::printf("  %-40s %-6s [%s] %s\n", t.name.c_str(), std::string(gguf::type_name(t.type)).c_str(),
                    shape.c_str(), human_bytes(t.n_bytes).c_str());
      }
    }
    return 0;
  };
}

}  // namespace frugal::cli
