// Request counters for GET /metrics (Prometheus text format). Labels are a
// fixed set of route names and status codes, never anything a client sent.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "server/scheduler.h"

namespace frugal::server {

class Metrics {
 public:
  void count_request(const std::string& route, int status);
  // Prometheus exposition text with the scheduler's gauges and totals.
  std::string render(const SchedulerStats& s, int n_slots, bool ready) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
};

// The route label for a path: one of the served routes, or "other".
std::string route_label(const std::string& path);

}  // namespace frugal::server
