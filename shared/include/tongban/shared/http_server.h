// The HTTP server node and hub both run: cpp-httplib set up the way tongban serves JSON
// (a body limit, TCP_NODELAY, timeouts, and the bilingual error body for unknown
// endpoints, oversized bodies and unparsable requests), plus the small helpers every
// handler needs. Handlers are registered on routes() by the owner.
//
// Thread safety: the server runs its own worker threads; stop() may be called from any.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tongban/shared/case_index.h"
#include "tongban/shared/status.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tongban {

class JsonHttpServer {
 public:
  explicit JsonHttpServer(size_t max_body_bytes);
  ~JsonHttpServer();
  JsonHttpServer(const JsonHttpServer&) = delete;
  JsonHttpServer& operator=(const JsonHttpServer&) = delete;

  httplib::Server& routes() { return *server_; }
  // Binds host:port (port 0 picks a free one); returns the bound port.
  Result<int> bind(const std::string& host, int port);
  // Serves until stop(); false if the listener failed.
  bool run();
  void stop();

 private:
  std::unique_ptr<httplib::Server> server_;
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// The token of an "Authorization: Bearer <token>" header, or "".
std::string bearer_token(const httplib::Request& req);
// The case-search filters of a query string (q, id_number, status, clock, item_code, site,
// limit <= 500, default 50, offset); InvalidArgument for an unknown status or clock colour.
Result<CaseQuery> case_query_from(const httplib::Request& req);

}  // namespace tongban
