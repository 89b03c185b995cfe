#include "server/server.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "server/state.h"

namespace frugal::server {

namespace {

// Pending connections the kernel holds for us (capped by net.core.somaxconn).
constexpr int kListenBacklog = 1024;

// HTTP threads beyond the slots and queue places (see n_threads below).
constexpr int kSpareHttpThreads = 64;

using Clock = std::chrono::steady_clock;
thread_local Clock::time_point t_request_start;

ApiError status_error(int status) {
  ApiError e;
  e.status = status;
  switch (status) {
    case 400:  // httplib refused the request itself (e.g. a header line over 8 KiB)
      e.code = "bad_request", e.message = "the request is not well-formed HTTP";
      break;
    case 404:
      e.code = "not_found", e.message = "no such endpoint";
      break;
    case 405:
      e.code = "method_not_allowed", e.message = "method not allowed";
      break;
    case 413:
      e.code = "body_too_large", e.message = "the request body is larger than --max-body-bytes";
      break;
    default:
      e.type = "server_error", e.message = "the request failed";
      break;
  }
  return e;
}

json tokens_json(const std::vector<int32_t>& ids) {
  json a = json::array();
  for (int32_t id : ids) a.push_back(id);
  return a;
}

void handle_tokenize(State& st, const httplib::Request& req, httplib::Response& res) {
  if (reject_if_loading(st, res)) return;
  ApiError err;
  auto body = parse_body(req.body, err);
  if (!body) return send_error(res, err);
  auto it = body->find("content");
  if (it == body->end() || !it->is_string())
    return send_error(res, invalid("content", "'content' must be a string", "invalid_type"));
  bool special = false;
  if (auto s = body->find("parse_special"); s != body->end()) {
    if (!s->is_boolean())
      return send_error(
          res, invalid("parse_special", "'parse_special' must be a boolean", "invalid_type"));
    special = s->get<bool>();
  }
  auto ids = st.engine->tokenizer().encode(it->get<std::string>(), special);
  res.set_content(json_text(json{{"tokens", tokens_json(ids)}}), "application/json");
}

void handle_detokenize(State& st, const httplib::Request& req, httplib::Response& res) {
  if (reject_if_loading(st, res)) return;
  ApiError err;
  auto body = parse_body(req.body, err);
  if (!body) return send_error(res, err);
  auto it = body->find("tokens");
  if (it == body->end() || !it->is_array())
    return send_error(res,
                      invalid("tokens", "'tokens' must be a list of token ids", "invalid_type"));
  const auto& tok = st.engine->tokenizer();
  std::vector<int32_t> ids;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    if (!v.is_number_integer())
      return send_error(res, invalid("tokens", fmt::format("'tokens[{}]' must be an integer", i),
                                     "invalid_type"));
    // nlohmann stores non-negative integers as unsigned; huge ones stay out of range.
    const uint64_t u = v.is_number_unsigned() ? v.get<uint64_t>() : 0;
    const int64_t id =
        v.is_number_unsigned() ? (u > (1u << 31) ? -1 : static_cast<int64_t>(u)) : v.get<int64_t>();
    if (id < 0 || id >= tok.n_vocab())
      return send_error(
          res, invalid("tokens", fmt::format("'tokens[{}]' is not in [0, {})", i, tok.n_vocab())));
    ids.push_back(static_cast<int32_t>(id));
  }
  res.set_content(json_text(json{{"content", tok.decode(ids)}}), "application/json");
}

bool authorized(const State& st, const httplib::Request& req) {
  if (st.opt.api_key.empty()) return true;
  const std::string auth = req.get_header_value("Authorization");
  static constexpr std::string_view kBearer = "Bearer ";
  std::string_view given;
  if (auth.size() > kBearer.size() && std::string_view(auth).substr(0, kBearer.size()) == kBearer)
    given = std::string_view(auth).substr(kBearer.size());
  else
    given = req.get_header_value("x-api-key");  // Anthropic-style clients
  return !given.empty() && constant_time_equal(given, st.opt.api_key);
}

}  // namespace

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(json_text(error_body(e)), "application/json");
}

bool reject_if_loading(const State& st, httplib::Response& res) {
  if (st.ready.load()) return false;
  ApiError e;
  e.status = 503;
  e.type = "server_error";
  e.code = "loading";
  e.message = "the model is loading; retry shortly";
  res.set_header("Retry-After", "1");
  send_error(res, e);
  return true;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

int serve(const ServerOptions& opt_in) {
  State st;
  st.opt = opt_in;
  if (!is_loopback_host(st.opt.host) && st.opt.api_key.empty()) {
    std::fprintf(stderr,
                 "frugal: refusing to listen on non-loopback host %s without an API key; set "
                 "--api-key, --api-key-file or FRUGAL_API_KEY\n",
                 st.opt.host.c_str());
    return 1;
  }
  st.model_id = st.opt.model_id.empty()
                    ? std::filesystem::path(st.opt.engine.model_path).stem().string()
                    : st.opt.model_id;

  // HTTPS when a certificate and key are given (OpenSSL, through httplib).
  std::unique_ptr<httplib::Server> svr_owner;
  if (!st.opt.tls_cert_file.empty() || !st.opt.tls_key_file.empty()) {
    if (st.opt.tls_cert_file.empty() || st.opt.tls_key_file.empty()) {
      std::fprintf(stderr, "frugal: TLS needs both --ssl-cert-file and --ssl-key-file\n");
      return 1;
    }
    auto tls = std::make_unique<httplib::SSLServer>(st.opt.tls_cert_file.c_str(),
                                                    st.opt.tls_key_file.c_str());
    if (!tls->is_valid()) {
      std::fprintf(stderr, "frugal: cannot load the TLS certificate %s or key %s (PEM expected)\n",
                   st.opt.tls_cert_file.c_str(), st.opt.tls_key_file.c_str());
      return 1;
    }
    svr_owner = std::move(tls);
  } else {
    svr_owner = std::make_unique<httplib::Server>();
  }
  httplib::Server& svr = *svr_owner;
  // One pool thread per connection (cpp-httplib's model): every slot and queue
  // place may hold a streaming client, and the spare threads answer /health,
  // /metrics and quick refusals meanwhile. A client that drips its headers
  // holds a thread too, so the spare count is what it takes to starve them.
  const int n_threads = st.opt.parallel + st.opt.queue + kSpareHttpThreads;
  svr.new_task_queue = [n_threads] {
    return new httplib::ThreadPool(static_cast<size_t>(n_threads));
  };
  svr.set_payload_max_length(st.opt.max_body_bytes);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  if (!st.opt.cors_origin.empty()) {
    svr.set_default_headers({{"Access-Control-Allow-Origin", st.opt.cors_origin},
                             {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                             {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"}});
    svr.Options(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  }

  svr.set_pre_routing_handler([&st](const httplib::Request& req, httplib::Response& res) {
    t_request_start = Clock::now();
    if (!host_allowed(req.get_header_value("Host"), st.opt.host, st.opt.allowed_hosts)) {
      ApiError e;
      e.status = 403, e.code = "host_not_allowed";
      e.message =
          "the Host header names a host this server does not answer for (see --allowed-host)";
      send_error(res, e);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "OPTIONS" || req.path == "/health" || authorized(st, req))
      return httplib::Server::HandlerResponse::Unhandled;
    ApiError e;
    e.status = 401, e.type = "authentication_error", e.code = "invalid_api_key";
    e.message = "missing or invalid API key (send 'Authorization: Bearer <key>')";
    send_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) send_error(res, status_error(res.status));
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr) { send_error(res, status_error(500)); });
  svr.set_logger([&st](const httplib::Request& req, const httplib::Response& res) {
    // Method, route, status and duration only: never bodies, queries or headers.
    const std::string route = route_label(req.path);
    st.metrics.count_request(route, res.status);
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - t_request_start).count();
    std::fprintf(stderr, "frugal serve: %s %s %d %.1fms\n", req.method.c_str(), route.c_str(),
                 res.status, ms);
  });

  svr.Get("/health", [&st](const httplib::Request&, httplib::Response& res) {
    if (!st.ready.load()) {
      res.status = 503;
      res.set_header("Retry-After", "1");
      res.set_content(json_text(json{{"status", "loading"}, {"progress", st.load_progress.load()}}),
                      "application/json");
      return;
    }
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  auto models = [&st](const httplib::Request&, httplib::Response& res) {
    json m = {{"id", st.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "frugal"}};
    res.set_content(json_text(json{{"object", "list"}, {"data", json::array({m})}}),
                    "application/json");
  };
  svr.Get("/v1/models", models);
  svr.Get("/models", models);
  svr.Get("/api/tags", [&st](const httplib::Request&, httplib::Response& res) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(st.opt.engine.model_path, ec);
    json m = {{"name", st.model_id},
              {"model", st.model_id},
              {"size", ec ? 0 : size},
              {"digest", ""},
              {"details", {{"format", "gguf"}}}};
    res.set_content(json_text(json{{"models", json::array({m})}}), "application/json");
  });
  svr.Get("/metrics", [&st](const httplib::Request&, httplib::Response& res) {
    if (!st.opt.metrics) {
      ApiError e;
      e.status = 501, e.code = "metrics_disabled";
      e.message = "metrics are off; start the server with --metrics";
      return send_error(res, e);
    }
    SchedulerStats s;
    int n_slots = st.opt.parallel;
    if (st.ready.load()) s = st.scheduler->stats(), n_slots = st.scheduler->n_slots();
    res.set_content(st.metrics.render(s, n_slots, st.ready.load()), "text/plain; version=0.0.4");
  });
  svr.Post("/tokenize",
           [&st](const httplib::Request& q, httplib::Response& r) { handle_tokenize(st, q, r); });
  svr.Post("/detokenize",
           [&st](const httplib::Request& q, httplib::Response& r) { handle_detokenize(st, q, r); });
  for (const char* path : {"/v1/chat/completions", "/chat/completions"})
    svr.Post(path,
             [&st](const httplib::Request& q, httplib::Response& r) { handle_chat(st, q, r); });
  for (const char* path : {"/v1/completions", "/completions"})
    svr.Post(path, [&st](const httplib::Request& q, httplib::Response& r) {
      handle_completion(st, q, r);
    });
  svr.Post("/api/chat", [&st](const httplib::Request& q, httplib::Response& r) {
    handle_ollama_chat(st, q, r);
  });

  // The Debian libcpp-httplib build listens with a backlog of 5: a burst of
  // clients beyond that has its handshakes dropped and retried by the kernel
  // with backoff (1, 2, 4, 8 s...), so 100 clients arriving at once could wait
  // 15 s just to be accepted. Remember the socket and widen the backlog.
  int listen_fd = -1;
  svr.set_socket_options([&listen_fd](socket_t fd) {
    httplib::default_socket_options(fd);
    listen_fd = fd;
  });
  if (!svr.bind_to_port(st.opt.host, st.opt.port) ||
      (listen_fd >= 0 && ::listen(listen_fd, kListenBacklog) != 0)) {
    std::fprintf(stderr,
                 "frugal: cannot listen on %s:%d (in use, or not an address of this host)\n",
                 st.opt.host.c_str(), st.opt.port);
    return 1;
  }
  std::fprintf(stderr, "frugal serve: listening on http://%s:%d (model %s loading)\n",
               st.opt.host.c_str(), st.opt.port, st.model_id.c_str());

  // SIGINT/SIGTERM stop the server cleanly: a watcher thread takes them
  // (blocked in every other thread, which inherit this mask).
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::thread([&svr, sigs] {
    int sig = 0;
    sigwait(&sigs, &sig);
    std::fprintf(stderr, "frugal serve: stopping\n");
    svr.stop();
  }).detach();

  // Load after binding so /health can say "loading" meanwhile.
  int exit_code = 0;
  std::thread loader([&] {
    // Weights are paged in before /health says ok, so the first request does
    // not pay for the disk; the log shows how far it is every 10 %.
    runtime::EngineOptions eo = st.opt.engine;
    int last_decile = -1;
    eo.prefault_progress = [&st, &last_decile](uint64_t done, uint64_t total) {
      const double p = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
      st.load_progress.store(p);
      const int decile = static_cast<int>(p * 10);
      if (decile != last_decile) {
        last_decile = decile;
        std::fprintf(stderr, "frugal serve: loading weights %3d %% (%.0f of %.0f MiB)\n",
                     decile * 10, static_cast<double>(done) / (1 << 20),
                     static_cast<double>(total) / (1 << 20));
      }
    };
    auto eng = runtime::Engine::load(eo);
    if (!eng.ok()) {
      std::fprintf(stderr, "frugal: %s\n", eng.error().message.c_str());
      exit_code = 1;
      while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      svr.stop();
      return;
    }
    st.engine = std::move(*eng);
    st.scheduler = std::make_unique<Scheduler>(*st.engine, st.opt.parallel, st.opt.queue,
                                               st.opt.max_request_s);
    st.ready = true;
    std::fprintf(stderr,
                 "frugal serve: model loaded in %.2f s (%s, context %lld, KV %s, %d threads, %d "
                 "slots)\n",
                 st.engine->load_seconds(), st.engine->model().hparams().arch.c_str(),
                 static_cast<long long>(st.engine->n_ctx()),
                 model::kv_type_name(st.engine->kv_type()), st.engine->pool().size(),
                 st.scheduler->n_slots());
  });
  svr.listen_after_bind();
  loader.join();
  st.scheduler.reset();
  return exit_code;
}

}  // namespace frugal::server
