// server::Server: the HTTP shell (cpp-httplib) over the runtime. It binds the
// socket first, loads the model in a background thread (/health answers 503
// until it is ready), and maps each endpoint to a parse → scheduler job →
// response. Security defaults (DESIGN §8): API key compared in constant time,
// Host header checked, no CORS unless configured, logs carry only method,
// route, status, token counts and durations.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/api.h"

namespace frugal::server {

struct ServerOptions {
  runtime::EngineOptions engine;
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 1;
  int queue = 16;
  std::string api_key;  // "": no authentication (loopback only)
  ReasoningFormat reasoning_format = ReasoningFormat::DeepSeek;
  size_t max_body_bytes = 4u << 20;
  Limits limits;
  std::vector<std::string> allowed_hosts;
  std::string cors_origin;    // "": no CORS headers
  std::string model_id;       // served model name; "": the file name without .gguf
  std::string tls_cert_file;  // both set: serve HTTPS only (PEM files)
  std::string tls_key_file;
  bool metrics = false;      // serve GET /metrics (Prometheus text)
  double max_request_s = 0;  // wall time a request may spend in a slot; 0: no cap
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

// Runs the server until stop() or a fatal error; returns the exit code.
// Refuses a non-loopback host without an API key.
int serve(const ServerOptions& opt);

}  // namespace frugal::server
