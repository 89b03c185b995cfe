// The one place architecture names appear: `general.architecture` → loader.
// Adding an architecture: write model/arch/<name>.cpp defining its loader, then
// add its declaration and one row to kArchitectures below.
#include <string_view>

#include "model/model.h"

namespace frugal::model {

// Defined in model/arch/<name>.cpp. `arch` is the name the file states, used
// to build its `<arch>.*` metadata keys.
Result<std::unique_ptr<Model>> load_llama(const gguf::File& file, const std::string& arch);
Result<std::unique_ptr<Model>> load_qwen2(const gguf::File& file, const std::string& arch);

namespace {

struct ArchEntry {
  std::string_view name;
  Result<std::unique_ptr<Model>> (*load)(const gguf::File&, const std::string&);
};

constexpr ArchEntry kArchitectures[] = {
    {"llama", load_llama},
    {"qwen2", load_qwen2},
};

}  // namespace

Result<std::unique_ptr<Model>> load_model(const gguf::File& file) {
  const std::optional<std::string> arch = file.get_string("general.architecture");
  if (!arch) return make_error("model: missing string metadata 'general.architecture'");
  for (const ArchEntry& e : kArchitectures) {
    if (e.name == *arch) return e.load(file, *arch);
  }
  std::vector<std::string> names = supported_architectures();
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  // The name comes from the file, not from a user prompt, so it may be shown
  // (truncated, in case the file is hostile).
  return make_error("model: unsupported architecture '{}' (supported: {})", arch->substr(0, 64),
                    list);
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const ArchEntry& e : kArchitectures) out.emplace_back(e.name);
  return out;
}

}  // namespace frugal::model
