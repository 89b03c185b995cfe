// JSONL reading shared by the problem and completion loaders (internal to the
// eval layer): size limits checked before parsing, every line a JSON object,
// errors that name the file and line and never quote the line's text.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace frugal::eval {

struct JsonlLimits {
  size_t max_file_bytes;
  size_t max_line_bytes;
  size_t max_records;
};

// Calls `each(line_number, object)` for every non-blank line of `path`.
// An empty file (no objects) is an error.
Status for_each_json_line(const std::string& path, const JsonlLimits& limits,
                          const std::function<Status(size_t, const nlohmann::json&)>& each);

// Serializes without throwing: invalid UTF-8 (a model can emit a broken byte
// sequence) is replaced by U+FFFD.
std::string json_dump(const nlohmann::json& j);
std::string json_dump(const nlohmann::ordered_json& j);  // keys in insertion order

}  // namespace frugal::eval
