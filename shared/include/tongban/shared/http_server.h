// The HTTP server node and hub both run, built so that nobody can stop it without logging
// in: event-driven (Boost.Beast on one I/O thread), so a slow or idle connection costs a
// socket and a buffer, never a thread; a connection limit in total and per client address;
// absolute deadlines for a request's header, its body and the answer (a client dripping
// one byte every few seconds is cut off when its deadline passes, not kept alive by the
// drip); bodies bounded while they are read, chunked or not, per route; the session gate
// run on the header before any body of a protected route is read; and handlers on a
// bounded worker pool (a full queue answers 503 at once).
//
// Errors the server answers itself carry the bilingual body of http_errors.h: unknown
// endpoint 404, body over the limit 413, malformed request 400, overloaded 503.
//
// Thread safety: register routes and the gate before run(); handlers run on the worker
// threads, concurrently; stop() may be called from any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tongban/shared/case_index.h"
#include "tongban/shared/metrics.h"
#include "tongban/shared/staff.h"
#include "tongban/shared/status.h"

namespace tongban::http {

struct Request {
  std::string method;       // GET, POST…
  std::string path;         // percent-decoded, without the query
  std::string remote_addr;  // the client's IP address
  std::vector<std::string> matches;            // the route's regex: [0] whole path, [1..] groups
  std::map<std::string, std::string> params;   // query parameters, decoded (at most 64)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::optional<Staff> staff;  // who the gate admitted (protected routes); unset on open ones

  std::string get_param_value(const std::string& name) const;
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string get_header_value(const std::string& name) const;  // any case
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  std::string cache_control = "no-store";
  std::vector<std::pair<std::string, std::string>> headers;  // any further header fields
  void set_content(std::string content, std::string type) {
    body = std::move(content);
    content_type = std::move(type);
  }
};

// A request target ("/path?query") as the server splits and percent-decodes it into
// Request::path and Request::params.
Request parse_target(std::string_view target);

using Handler = std::function<void(const Request&, Response&)>;
// Runs on a protected route's header (no body yet): the staff member it returns is handed
// to the handler in Request::staff (one session lookup per request); a Status is answered
// at once and the body is never read.
using Gate = std::function<Result<Staff>(const Request& head)>;

struct RouteOptions {
  bool open = false;     // the gate is not asked (login, health)
  size_t max_body = 0;   // 0: the server's default
};

struct ServerOptions {
  size_t max_body_bytes = 64 * 1024;
  size_t max_header_bytes = 16 * 1024;
  int max_connections = 1024;
  int max_connections_per_address = 64;
  int worker_threads = 8;
  int max_queued = 512;  // requests waiting for a worker; more answer 503
  std::chrono::seconds header_deadline{10};  // whole request line and headers (and keep-alive idle)
  std::chrono::seconds body_deadline{60};    // whole body
  std::chrono::seconds write_deadline{30};   // whole answer
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // `pattern` is an ECMAScript regex matched against the whole decoded path.
  void Get(const std::string& pattern, Handler h, RouteOptions o = {});
  void Post(const std::string& pattern, Handler h, RouteOptions o = {});
  void set_gate(Gate gate);
  // The requests answered so far and the connections (metrics.h).
  void write_metrics(metrics::Text& t);

  // Serves HTTPS (TLS 1.2+) with this PEM certificate chain and key; InvalidArgument
  // (tls_unusable, zh/en) when they do not load or do not match. Call before bind().
  Status use_tls(const std::filesystem::path& cert_chain, const std::filesystem::path& key);
  // Binds host:port (port 0 picks a free one); returns the bound port.
  Result<int> bind(const std::string& host, int port);
  // Serves on the calling thread until stop(); false if the listener failed.
  bool run();
  void stop();

  struct Impl;  // opaque: the connections of http_server.cc reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tongban::http

namespace tongban {

// The server node and hub both run, with the JSON conventions of tongban.
class JsonHttpServer {
 public:
  explicit JsonHttpServer(http::ServerOptions options);
  http::Server& routes() { return server_; }
  Result<int> bind(const std::string& host, int port) { return server_.bind(host, port); }
  bool run() { return server_.run(); }
  void stop() { server_.stop(); }
  // GET /metrics (open, like a health check: counts only, never a case or a name): the
  // server's requests and connections, the process, the build, then `write` for the
  // daemon's own series.
  void serve_metrics(std::function<void(metrics::Text&)> write);

 private:
  http::Server server_;
};

void send_json(http::Response& res, int status, const nlohmann::json& body);
// A document's bytes (200), shown inline under a sandboxing policy, with its file name.
void send_file(http::Response& res, const std::string& mime, const std::string& file_name,
               std::string content);
// The token of an "Authorization: Bearer <token>" header, or "".
std::string bearer_token(const http::Request& req);
// An optional string member of a JSON request body ("" when absent or null);
// InvalidArgument (invalid_field, naming it) for a non-string, over 4 KiB, invalid UTF-8 or
// control characters other than tab and line breaks.
Result<std::string> json_string(const nlohmann::json& body, const char* key);
// A request body that must be a JSON object ("" counts as {}); InvalidArgument
// (invalid_json, zh/en) otherwise.
Result<nlohmann::json> parse_json_object(const std::string& body);
// The one string member `key` of a JSON object body (a reason, say): both checks above.
Result<std::string> body_string(const std::string& body, const char* key);

// POST /password on node and hub: the caller changes their own password
// ({current_password, new_password}); answers {ok}.
Result<nlohmann::json> change_own_password(StaffDirectory& staff, const http::Request& req);

// A whole decimal number in [lo, hi] (a query parameter), or nullopt.
std::optional<int> int_param(const std::string& s, int lo, int hi);

// The case-search filters of a query string (q, id_number, status, clock, item_code, site,
// owner, transfer, conflict=1, limit 1..500, default 50, offset >= 0); InvalidArgument for
// an unknown status, clock colour or transfer state, or a limit or offset out of range.
// `id_number` and `uscc` are looked up by their blind index under `keys` (null: they
// match nothing).
Result<CaseQuery> case_query_from(const http::Request& req, const Keyring* keys);

}  // namespace tongban
