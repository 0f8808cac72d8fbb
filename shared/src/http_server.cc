#include "tongban/shared/http_server.h"

#include <httplib.h>

#include "tongban/shared/http_errors.h"

namespace tongban {

JsonHttpServer::JsonHttpServer(size_t max_body_bytes)
    : server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  s.set_payload_max_length(max_body_bytes);
  // Answers go out in several writes: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms.
  s.set_tcp_nodelay(true);
  s.set_read_timeout(10, 0);
  s.set_write_timeout(10, 0);
  const std::string limit = std::to_string(max_body_bytes / 1024) + " KiB";
  s.set_error_handler([limit](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    Status st = Status::InvalidArgument("bad_request", "请求无效", "bad request");
    if (res.status == 413)
      st = Status::Make(StatusCode::kTooLarge, "payload_too_large",
                        "请求内容过大（上限" + limit + "）", "request body exceeds " + limit);
    else if (res.status == 404)
      st = Status::NotFound("no_such_endpoint", "没有该接口", "no such endpoint");
    res.set_content(error_json(st).dump(), "application/json; charset=utf-8");
  });
}

JsonHttpServer::~JsonHttpServer() = default;

Result<int> JsonHttpServer::bind(const std::string& host, int port) {
  const int bound =
      port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0)
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port));
  return bound;
}

bool JsonHttpServer::run() { return server_->listen_after_bind(); }

void JsonHttpServer::stop() { server_->stop(); }

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json; charset=utf-8");
}

std::string bearer_token(const httplib::Request& req) {
  const std::string h = req.get_header_value("Authorization");
  return h.rfind("Bearer ", 0) == 0 ? h.substr(7) : std::string();
}

Result<CaseQuery> case_query_from(const httplib::Request& req) {
  CaseQuery q;
  q.case_id_prefix = req.get_param_value("q");
  q.applicant_id = req.get_param_value("id_number");
  q.status = req.get_param_value("status");
  q.clock = req.get_param_value("clock");
  q.item_code = req.get_param_value("item_code");
  q.origin = req.get_param_value("site");
  if (!q.status.empty() && !case_status_from(q.status))
    return Status::InvalidArgument("invalid_status", "状态取值无效", "unknown status filter");
  if (!q.clock.empty() && !clock_color_from(q.clock))
    return Status::InvalidArgument("invalid_clock", "时限状态应为 normal/yellow/red/paused/done",
                                   "clock must be normal, yellow, red, paused or done");
  q.limit = std::clamp(std::atoi(req.get_param_value("limit").c_str()), 0, 500);
  if (q.limit == 0) q.limit = 50;
  q.offset = std::max(0, std::atoi(req.get_param_value("offset").c_str()));
  return q;
}

}  // namespace tongban
