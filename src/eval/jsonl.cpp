#include "eval/jsonl.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>

namespace frugal::eval {

namespace {

Result<std::string> read_limited(const std::string& path, size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error("cannot open '{}'", path);
  if (!S_ISREG(st.st_mode)) return make_error("'{}' is not a regular file", path);
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return make_error("'{}' is {} bytes; the limit for this file is {} bytes", path,
                      static_cast<uint64_t>(st.st_size), max_bytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open '{}'", path);
  std::string data;
  data.resize(static_cast<size_t>(st.st_size));
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

}  // namespace

Status for_each_json_line(const std::string& path, const JsonlLimits& limits,
                          const std::function<Status(size_t, const nlohmann::json&)>& each) {
  FRUGAL_ASSIGN_OR_RETURN(std::string data, read_limited(path, limits.max_file_bytes));
  size_t pos = 0, line_no = 0, n_objects = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    ++line_no;
    std::string_view line(data.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (line.size() > limits.max_line_bytes)
      return make_error("{} line {}: {} bytes; lines are limited to {}", path, line_no, line.size(),
                        limits.max_line_bytes);
    if (++n_objects > limits.max_records)
      return make_error("{} line {}: more than {} records", path, line_no, limits.max_records);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return make_error("{} line {}: not valid JSON", path, line_no);
    if (!j.is_object()) return make_error("{} line {}: not a JSON object", path, line_no);
    FRUGAL_TRY(each(line_no, j));
  }
  if (n_objects == 0) return make_error("{}: no records in the file", path);
  return {};
}

std::string json_dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace frugal::eval
