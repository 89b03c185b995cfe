// Internal to the server layer: what the route handlers share.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>

#include "runtime/engine.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace frugal::server {

struct State {
  ServerOptions opt;
  std::string model_id;
  std::atomic<bool> ready{false};
  std::atomic<double> load_progress{0};     // share of the weights paged in, 0..1
  std::unique_ptr<runtime::Engine> engine;  // set once before `ready`
  std::unique_ptr<Scheduler> scheduler;     // set once before `ready`
  Metrics metrics;
};

// Writes an error response.
void send_error(httplib::Response& res, const ApiError& e);
// 503 {"status":"loading"}-style answer while the model loads; true if sent.
bool reject_if_loading(const State& st, httplib::Response& res);

// Generation endpoints (generate_routes.cpp).
void handle_chat(State& st, const httplib::Request& req, httplib::Response& res);
void handle_completion(State& st, const httplib::Request& req, httplib::Response& res);
void handle_ollama_chat(State& st, const httplib::Request& req, httplib::Response& res);

}  // namespace frugal::server
