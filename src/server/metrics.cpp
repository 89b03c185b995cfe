#include "server/metrics.h"

#include <fmt/format.h>

#include <array>

namespace frugal::server {

std::string route_label(const std::string& path) {
  static constexpr std::array<const char*, 12> kRoutes = {
      "/health",         "/v1/models",        "/v1/chat/completions",
      "/v1/completions", "/tokenize",         "/detokenize",
      "/metrics",        "/api/chat",         "/api/tags",
      "/models",         "/chat/completions", "/completions"};
  for (const char* r : kRoutes)
    if (path == r) return r;
  return "other";
}

void Metrics::count_request(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
}

std::string Metrics::render(const SchedulerStats& s, int n_slots, bool ready) const {
  std::string out;
  out += "# HELP frugal_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE frugal_requests_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : requests_)
      out += fmt::format("frugal_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first,
                         key.second, n);
  }
  out += "# HELP frugal_tokens_generated_total Tokens generated since start.\n";
  out += "# TYPE frugal_tokens_generated_total counter\n";
  out += fmt::format("frugal_tokens_generated_total {}\n", s.tokens_generated);
  out += "# HELP frugal_prompt_tokens_total Prompt tokens received since start.\n";
  out += "# TYPE frugal_prompt_tokens_total counter\n";
  out += fmt::format("frugal_prompt_tokens_total {}\n", s.prompt_tokens);
  out += "# HELP frugal_slots_active Slots generating now.\n";
  out += "# TYPE frugal_slots_active gauge\n";
  out += fmt::format("frugal_slots_active {}\n", s.active_slots);
  out += "# HELP frugal_slots_total Slots configured (--parallel).\n";
  out += "# TYPE frugal_slots_total gauge\n";
  out += fmt::format("frugal_slots_total {}\n", n_slots);
  out += "# HELP frugal_queue_length Requests waiting for a slot.\n";
  out += "# TYPE frugal_queue_length gauge\n";
  out += fmt::format("frugal_queue_length {}\n", s.queued);
  out +=
      "# HELP frugal_cancel_to_free_seconds_max Slowest time from a client leaving being seen to "
      "its slot or queue place being free.\n";
  out += "# TYPE frugal_cancel_to_free_seconds_max gauge\n";
  out += fmt::format("frugal_cancel_to_free_seconds_max {:.6f}\n", s.max_cancel_to_free_s);
  out += "# HELP frugal_model_loaded 1 once the model is loaded.\n";
  out += "# TYPE frugal_model_loaded gauge\n";
  out += fmt::format("frugal_model_loaded {}\n", ready ? 1 : 0);
  return out;
}

}  // namespace frugal::server
