// `frugal serve MODEL`: the OpenAI/DeepSeek- and Ollama-compatible HTTP API
// (src/server). Every flag is mirrored by a FRUGAL_* environment variable.
#include <csignal>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "server/server.h"

namespace frugal::cli {

namespace {

struct ServeFlags {
  server::ServerOptions opt;
  std::string api_key_file;
  std::string reasoning_format = "deepseek";
  int32_t max_tokens_cap = 0;
  size_t max_body_bytes = 4u << 20;
  std::string kv_type = "f16";
};

int serve(ServeFlags f) {
  if (!f.api_key_file.empty()) {
    std::ifstream in(f.api_key_file);
    if (!in) return fail("cannot read --api-key-file " + f.api_key_file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string key = ss.str();
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' '))
      key.pop_back();
    if (key.empty()) return fail("--api-key-file " + f.api_key_file + " is empty");
    f.opt.api_key = key;
  }
  auto rf = server::parse_reasoning_format(f.reasoning_format);
  if (!rf) return fail("--reasoning-format must be deepseek, reasoning or none");
  f.opt.reasoning_format = *rf;
  auto kv = model::parse_kv_type(f.kv_type);
  if (!kv.ok()) return fail("--kv-type: " + kv.error().message);
  f.opt.engine.kv_type = *kv;
  if (f.opt.parallel < 1 || f.opt.parallel > 256) return fail("--parallel must be in [1, 256]");
  if (f.opt.queue < 0 || f.opt.queue > 4096) return fail("--queue must be in [0, 4096]");
  if (f.opt.port < 0 || f.opt.port > 65535) return fail("--port must be in [0, 65535]");
  if (f.max_tokens_cap < 0) return fail("--max-tokens-cap must be >= 0");
  if (f.max_body_bytes < 1024) return fail("--max-body-bytes must be >= 1024");
  if (!(f.opt.max_request_s >= 0) || f.opt.max_request_s > 1e7)
    return fail("--max-request-seconds must be in [0, 1e7]");
  f.opt.limits.max_tokens_cap = f.max_tokens_cap;
  f.opt.max_body_bytes = f.max_body_bytes;
  for (auto& h : f.opt.allowed_hosts)
    for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // A client that disconnects mid-write must cost an error return, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  return server::serve(f.opt);
}

}  // namespace

Action add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "serve", "Serve a model over an OpenAI/DeepSeek- and Ollama-compatible HTTP API");
  auto f = std::make_shared<ServeFlags>();
  auto& o = f->opt;
  cmd->add_option("MODEL", o.engine.model_path, "Path to a .gguf model file")
      ->required()
      ->envname("FRUGAL_MODEL");
  cmd->add_option("--host", o.host,
                  "Address to listen on (default 127.0.0.1; others need an API key)")
      ->envname("FRUGAL_HOST");
  cmd->add_option("--port", o.port, "Port (default 8080)")->envname("FRUGAL_PORT");
  cmd->add_option("-c,--ctx-size", o.engine.n_ctx, "Context size per slot in tokens")
      ->envname("FRUGAL_CTX_SIZE");
  cmd->add_option("--kv-type", f->kv_type,
                  "KV cache element type: f16 (default: half the memory, and the faster decode at "
                  "depth measured on AVX2) or f32 (the parity tests' arithmetic)")
      ->envname("FRUGAL_KV_TYPE");
  cmd->add_option("-t,--threads", o.engine.n_threads, "Threads (default: all hardware threads)")
      ->envname("FRUGAL_THREADS");
  cmd->add_option("--parallel", o.parallel, "Slots: requests generated concurrently (default 1)")
      ->envname("FRUGAL_PARALLEL");
  cmd->add_option("--queue", o.queue,
                  "Requests that may wait for a slot; more get 429 (default 16)")
      ->envname("FRUGAL_QUEUE");
  cmd->add_option("--api-key", o.api_key, "Require 'Authorization: Bearer KEY'")
      ->envname("FRUGAL_API_KEY");
  cmd->add_option("--api-key-file", f->api_key_file, "Read the API key from this file")
      ->envname("FRUGAL_API_KEY_FILE");
  cmd->add_option("--reasoning-format", f->reasoning_format,
                  "Where reasoning goes: deepseek (reasoning_content), reasoning, none (raw tags)")
      ->envname("FRUGAL_REASONING_FORMAT");
  cmd->add_option("--max-body-bytes", f->max_body_bytes, "Largest request body (default 4 MiB)")
      ->envname("FRUGAL_MAX_BODY_BYTES");
  cmd->add_option("--max-tokens-cap", f->max_tokens_cap,
                  "Most tokens one request may generate; 0 = until the context is full")
      ->envname("FRUGAL_MAX_TOKENS_CAP");
  cmd->add_option("--max-request-seconds", o.max_request_s,
                  "Wall time a request may generate before it ends with finish_reason "
                  "'length'; 0 = no cap (default)")
      ->envname("FRUGAL_MAX_REQUEST_SECONDS");
  cmd->add_flag("--metrics", o.metrics,
                "Serve Prometheus metrics at GET /metrics (behind the API key)")
      ->envname("FRUGAL_METRICS");
  cmd->add_option("--chat-template", o.engine.chat_template,
                  "Force a chat template: deepseek-r1, chatml, llama3")
      ->envname("FRUGAL_CHAT_TEMPLATE");
  cmd->add_option("--allowed-host", o.allowed_hosts,
                  "Also accept this Host header name (repeatable; loopback names always pass)")
      ->envname("FRUGAL_ALLOWED_HOST");
  cmd->add_option("--cors-origin", o.cors_origin,
                  "Send CORS headers for this origin (default: none)")
      ->envname("FRUGAL_CORS_ORIGIN");
  cmd->add_option("--alias", o.model_id, "Model id to report (default: the file name)")
      ->envname("FRUGAL_ALIAS");
  cmd->add_option("--ssl-cert-file", o.tls_cert_file, "Serve HTTPS with this PEM certificate")
      ->envname("FRUGAL_SSL_CERT_FILE");
  cmd->add_option("--ssl-key-file", o.tls_key_file, "PEM private key for --ssl-cert-file")
      ->envname("FRUGAL_SSL_KEY_FILE");
  return [f]() { return serve(*f); };
}

}  // namespace frugal::cli
