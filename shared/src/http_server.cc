// Boost.Beast rather than cpp-httplib's server: cpp-httplib (0.11) serves each connection
// on one of a fixed pool of threads with blocking reads, so eight slow-drip connections
// stopped every user, and chunked bodies were read in full before any limit applied. Beast
// gives an asynchronous server with per-operation deadlines and a parser that enforces the
// body limit while reading; handlers run on our own bounded pool.
#include "tongban/shared/http_server.h"

#include "tongban/shared/personal.h"

#include <spdlog/spdlog.h>
#include <cctype>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <regex>
#include <thread>
#include <unordered_map>

#include "tongban/shared/http_errors.h"
#include "tongban/shared/validation.h"

namespace tongban::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxParams = 64;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; '+' is a space only in a query.
std::string decode(std::string_view s, bool query) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(query && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

void parse_query(std::string_view q, std::map<std::string, std::string>& out) {
  while (!q.empty() && out.size() < kMaxParams) {
    const size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const size_t eq = pair.find('=');
    if (!pair.empty())
      out.emplace(decode(pair.substr(0, eq), true),
                  eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1), true));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
}

Response error_response(const Status& s) {
  Response r;
  r.status = http_status(s.code());
  r.body = error_json(s).dump();
  return r;
}

// A fixed set of threads running handlers, with a bounded queue.
class WorkerPool {
 public:
  WorkerPool(int threads, int max_queued) : max_queued_(static_cast<size_t>(max_queued)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~WorkerPool() { stop(); }
  // False when the queue is full (the caller answers 503).
  bool try_post(std::function<void()> job) {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(job));
    cv_.notify_one();
    return true;
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }
  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

struct Route {
  std::string method;
  std::string name;  // the pattern as written: the metrics' route label
  std::regex pattern;
  Handler handler;
  RouteOptions options;
};

}  // namespace

Request parse_target(std::string_view target) {
  Request req;
  const size_t q = target.find('?');
  req.path = decode(target.substr(0, q), false);
  if (q != std::string_view::npos) parse_query(target.substr(q + 1), req.params);
  return req;
}

std::string Request::get_param_value(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string Request::get_header_value(const std::string& name) const {
  std::string key = name;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

struct Server::Impl {
  explicit Impl(ServerOptions o) : options(o), pool(o.worker_threads, o.max_queued) {}
  ~Impl() { pool.stop(); }

  // Declared so that sessions still queued in the io_context, destroyed with it, can
  // release their counts, and the pool stops (draining its queue) before anything else.
  const ServerOptions options;
  std::mutex conn_mu;
  int open_connections = 0;                          // guarded by conn_mu
  uint64_t refused_connections = 0;                  // guarded by conn_mu
  std::unordered_map<std::string, int> per_address;  // guarded by conn_mu; bounded by the limit
  std::vector<Route> routes;
  Gate gate;
  // A graceful stop: no new connection or request once stopping; requests already taken
  // (in_flight: from dispatch until their answer is written) finish first. Declared before
  // the io_context, whose queued sessions release their counts when it is destroyed.
  std::atomic<bool> stopping{false};
  std::mutex flight_mu;
  std::condition_variable flight_cv;
  int in_flight = 0;  // guarded by flight_mu
  void landed() {
    std::lock_guard lock(flight_mu);
    if (--in_flight == 0) flight_cv.notify_all();
  }
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  WorkerPool pool;
  metrics::HttpMetrics metrics;
  std::unique_ptr<asio::ssl::context> tls;  // set: every connection is HTTPS

  // Counts a new connection in; false when a limit is reached.
  bool admit(const std::string& addr) {
    std::lock_guard lock(conn_mu);
    if (open_connections >= options.max_connections) {
      ++refused_connections;
      return false;
    }
    int& n = per_address[addr];
    if (n >= options.max_connections_per_address) {
      if (n == 0) per_address.erase(addr);
      ++refused_connections;
      return false;
    }
    ++n;
    ++open_connections;
    return true;
  }
  void release(const std::string& addr) {
    std::lock_guard lock(conn_mu);
    --open_connections;
    auto it = per_address.find(addr);
    if (it != per_address.end() && --it->second <= 0) per_address.erase(it);
  }

  const Route* match(Request& req) const {
    std::smatch m;
    for (const Route& r : routes) {
      if (r.method != req.method || !std::regex_match(req.path, m, r.pattern)) continue;
      req.matches.assign(m.begin(), m.end());
      return &r;
    }
    return nullptr;
  }

  void accept();
};

namespace {

// One connection: plain HTTP (Stream = beast::tcp_stream, loopback) or HTTPS
// (beast::ssl_stream over it, after the handshake).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Server::Impl& impl, Stream stream, std::string addr)
      : impl_(impl), stream_(std::move(stream)), addr_(std::move(addr)) {}

  // HTTPS: the TLS handshake, under the header's deadline, then the first request.
  void handshake() {
    tcp_layer().expires_after(impl_.options.header_deadline);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code ec) {
                              if (ec) return self->close();  // not TLS, a bad client, too slow
                              self->read_header();
                            });
  }
  ~Session() {
    if (in_flight_) impl_.landed();
    impl_.release(addr_);
  }

  void read_header() {
    req_ = Request{};
    route_ = nullptr;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(impl_.options.max_header_bytes));
    // The route's limit applies once the route is known (on_header); until then the parser
    // must not refuse a declared length by itself, or the client would get no answer.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    tcp_layer().expires_after(impl_.options.header_deadline);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               self->on_header(ec);
                             });
  }

 private:
  void on_header(beast::error_code ec) {
    if (ec == bhttp::error::header_limit)
      return finish(error_response(Status::Make(StatusCode::kTooLarge, "header_too_large",
                                                "请求头过大", "request header too large")),
                    false);
    if (ec) return close();  // deadline passed, peer gone, or not HTTP
    started_ = std::chrono::steady_clock::now();
    const auto& head = parser_->get();
    req_ = parse_target(std::string_view(head.target().data(), head.target().size()));
    req_.method = std::string(head.method_string());
    req_.remote_addr = addr_;
    for (const auto& field : head) {
      if (req_.headers.size() >= kMaxParams) break;
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req_.headers[name] = std::string(field.value());
    }
    if (impl_.stopping) return finish(stopping_answer(), false);
    route_ = impl_.match(req_);
    if (!route_)
      return finish(error_response(Status::NotFound("no_such_endpoint", "没有该接口",
                                                    "no such endpoint")),
                    parser_->is_done());
    const size_t limit = route_->options.max_body ? route_->options.max_body
                                                  : impl_.options.max_body_bytes;
    if (!route_->options.open && impl_.gate) {
      auto admitted = impl_.gate(req_);
      if (!admitted.ok()) return finish(error_response(admitted.status()), false);
      req_.staff = std::move(*admitted);
      // Someone we know may be told "too large" while still uploading a large file: drain
      // enough for the answer to reach them.
      drain_limit_ = std::max(kLingerBytes, limit + kLingerBytes);
    }
    if (auto length = parser_->content_length(); length && *length > limit)
      return finish(too_large(limit), false);
    parser_->body_limit(limit);
    if (parser_->is_done()) return dispatch();
    if (beast::iequals(req_.get_header_value("expect"), "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      tcp_layer().expires_after(impl_.options.write_deadline);
      return asio::async_write(stream_, asio::buffer(kContinue),
                               [self = this->shared_from_this(), limit](beast::error_code e, size_t) {
                                 if (e) return self->close();
                                 self->read_body(limit);
                               });
    }
    read_body(limit);
  }

  void read_body(size_t limit) {
    tcp_layer().expires_after(impl_.options.body_deadline);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this(), limit](beast::error_code ec, size_t) {
                        if (ec == bhttp::error::body_limit) return self->finish(too_large(limit), false);
                        if (ec) return self->close();
                        self->dispatch();
                      });
  }

  static Response stopping_answer() {
    return error_response(Status::Make(StatusCode::kUnavailable, "shutting_down",
                                       "服务正在停止，请稍后重试", "the server is stopping; retry shortly"));
  }

  static Response too_large(size_t limit) {
    const std::string text = limit >= 1024 * 1024 ? std::to_string(limit / (1024 * 1024)) + " MiB"
                                                   : std::to_string(limit / 1024) + " KiB";
    return error_response(Status::Make(StatusCode::kTooLarge, "payload_too_large",
                                       "请求内容过大（上限" + text + "）",
                                       "request body exceeds " + text));
  }

  void dispatch() {
    req_.body = std::move(parser_->get().body());
    keep_alive_ = parser_->get().keep_alive();
    const Handler* handler = &route_->handler;
    auto self = this->shared_from_this();
    {  // counted under the lock stop() sets `stopping` under: it waits for this one, or
       // this one is not run (a body that completed after the stop began: answered 503)
      std::lock_guard lock(impl_.flight_mu);
      if (!impl_.stopping) {
        ++impl_.in_flight;
        in_flight_ = true;
      }
    }
    if (!in_flight_) return finish(stopping_answer(), false);
    const bool queued = impl_.pool.try_post([self, handler] {
      Response res;
      try {
        (*handler)(self->req_, res);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: unexpected exception: {}", self->req_.method, self->req_.path,
                      e.what());
        res = error_response(Status::Internal("unexpected error"));
      }
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->finish(std::move(res), self->keep_alive_); });
    });
    if (!queued) {
      in_flight_ = false;
      impl_.landed();
    }
    if (!queued)
      finish(error_response(Status::Make(StatusCode::kUnavailable, "overloaded",
                                         "系统繁忙，请稍后重试", "server busy; retry shortly")),
             false);
  }

  // Writes the answer; reads the next request on a kept-alive connection.
  void finish(Response res, bool keep_alive) {
    if (!req_.method.empty())
      impl_.metrics.observe(route_ ? route_->name : "unmatched", req_.method, res.status,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - started_)
                                .count());
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(res.status), 11);
    out->set(bhttp::field::content_type, res.content_type);
    out->set(bhttp::field::cache_control, res.cache_control);
    out->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : res.headers) out->set(name, value);
    out->body() = std::move(res.body);
    out->keep_alive(keep_alive && !impl_.stopping);
    out->prepare_payload();
    tcp_layer().expires_after(impl_.options.write_deadline);
    bhttp::async_write(stream_, *out,
                       [self = this->shared_from_this(), out, keep_alive](beast::error_code ec, size_t) {
                         if (self->in_flight_) {
                           self->in_flight_ = false;
                           self->impl_.landed();
                         }
                         if (ec) return self->close();
                         if (!keep_alive || self->impl_.stopping) return self->linger();
                         self->read_header();
                       });
  }

  // Closing with unread input makes the kernel send a reset, which can destroy the answer
  // just written before the client reads it (a 413 while the client still uploads). So
  // stop sending, then read and drop what still comes, for a short while and a bounded
  // amount, and close.
  void linger() {
    beast::error_code ignored;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp_layer().expires_after(kLinger);
    drain_budget_ = drain_limit_;
    drain();
  }
  void drain() {
    stream_.async_read_some(asio::buffer(drain_buffer_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec || n >= self->drain_budget_) return self->close();
                              self->drain_budget_ -= n;
                              self->drain();
                            });
  }

  void close() {
    beast::error_code ignored;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_layer().socket().close(ignored);
  }

  Server::Impl& impl_;
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  Stream stream_;
  std::string addr_;
  beast::flat_buffer buffer_{8192};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request req_;
  const Route* route_ = nullptr;
  std::chrono::steady_clock::time_point started_;
  bool in_flight_ = false;  // counted in impl_.in_flight (I/O thread only)
  bool keep_alive_ = false;
  static constexpr std::chrono::seconds kLinger{2};
  static constexpr size_t kLingerBytes = 4 * 1024 * 1024;
  size_t drain_budget_ = 0;
  size_t drain_limit_ = kLingerBytes;  // raised for an admitted caller of a large route
  std::array<char, 16 * 1024> drain_buffer_;
};

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      beast::error_code e;
      const auto peer = socket.remote_endpoint(e);
      const std::string addr = e ? std::string("?") : peer.address().to_string();
      if (admit(addr)) {
        socket.set_option(tcp::no_delay(true), e);  // answers go out in one write; no Nagle wait
        if (tls)
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              *this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls),
              addr)
              ->handshake();
        else
          std::make_shared<Session<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(socket)), addr)
              ->read_header();
      } else {
        // Over a limit: say so in one non-blocking write and hang up (never wait on it).
        static const std::string kBusy =
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        (void)::send(socket.native_handle(), kBusy.data(), kBusy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        socket.close(e);
      }
    }
    accept();
  });
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(options)) {}

Server::~Server() { stop(); }

void Server::Get(const std::string& pattern, Handler h, RouteOptions o) {
  impl_->routes.push_back(Route{"GET", pattern, std::regex(pattern), std::move(h), o});
}

void Server::Post(const std::string& pattern, Handler h, RouteOptions o) {
  impl_->routes.push_back(Route{"POST", pattern, std::regex(pattern), std::move(h), o});
}

void Server::set_gate(Gate gate) { impl_->gate = std::move(gate); }

Status Server::use_tls(const std::filesystem::path& cert_chain, const std::filesystem::path& key) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  const auto unusable = [&](const std::string& what, const std::string& why) {
    return Status::InvalidArgument("tls_unusable", "无法使用 TLS " + what + "：" + why,
                                   "cannot use the TLS " + what + ": " + why);
  };
  // TLS 1.2 and 1.3 only; no compression, no renegotiation.
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                   asio::ssl::context::single_dh_use);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  beast::error_code ec;
  ctx->use_certificate_chain_file(cert_chain.string(), ec);
  if (ec) return unusable("certificate " + cert_chain.string(), ec.message());
  ctx->use_private_key_file(key.string(), asio::ssl::context::pem, ec);
  if (ec) return unusable("key " + key.string(), ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return unusable("key " + key.string(), "it does not match the certificate");
  impl_->tls = std::move(ctx);
  return Status::Ok();
}

void Server::write_metrics(metrics::Text& t) {
  int open = 0;
  uint64_t refused = 0;
  {
    std::lock_guard lock(impl_->conn_mu);
    open = impl_->open_connections;
    refused = impl_->refused_connections;
  }
  impl_->metrics.write(t, open, refused);
}

Result<int> Server::bind(const std::string& host, int port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  const auto cannot = [&] {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               ec.message());
  };
  if (ec) return cannot();
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return cannot();
  impl_->accept();
  return static_cast<int>(impl_->acceptor.local_endpoint().port());
}

bool Server::run() {
  if (!impl_->acceptor.is_open()) return false;
  impl_->ioc.run();
  return true;
}

void Server::stop() {
  {
    std::lock_guard lock(impl_->flight_mu);
    if (impl_->stopping) return;  // once (a signal, then the destructor)
    impl_->stopping = true;
  }
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  // Requests already taken are answered (a window clerk's 受理 is not cut off by a
  // restart); a handler stuck longer than this is abandoned.
  {
    std::unique_lock lock(impl_->flight_mu);
    impl_->flight_cv.wait_for(lock, std::chrono::seconds(10), [this] { return impl_->in_flight == 0; });
  }
  impl_->ioc.stop();
  impl_->pool.stop();
}

}  // namespace tongban::http

namespace tongban {

JsonHttpServer::JsonHttpServer(http::ServerOptions options) : server_(options) {}

void JsonHttpServer::serve_metrics(std::function<void(metrics::Text&)> write) {
  server_.Get(
      "/metrics",
      [this, write = std::move(write)](const http::Request&, http::Response& res) {
        metrics::Text t;
        server_.write_metrics(t);
        metrics::write_process(t);
        if (write) write(t);
        res.set_content(t.str(), "text/plain; version=0.0.4; charset=utf-8");
      },
      http::RouteOptions{.open = true, .max_body = 0});
}

void send_json(http::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // A stored string that is not UTF-8 (a site's bad actor name, say) is shown with U+FFFD
  // rather than failing every answer that includes it.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}

void send_file(http::Response& res, const std::string& mime, const std::string& file_name,
               std::string content) {
  res.status = 200;
  res.set_content(std::move(content), mime);
  // A resident's file is shown, never run: no script, no plugin, no frame of ours around it.
  res.headers.emplace_back("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'");
  std::string encoded;  // RFC 5987: the name as UTF-8, percent-encoded
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : file_name) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  res.headers.emplace_back("Content-Disposition",
                           encoded.empty() ? std::string("inline")
                                           : "inline; filename*=UTF-8''" + encoded);
}

std::string bearer_token(const http::Request& req) {
  const std::string h = req.get_header_value("Authorization");
  return h.rfind("Bearer ", 0) == 0 ? h.substr(7) : std::string();
}

// A whole decimal number in [lo, hi], or nullopt.
std::optional<int> int_param(const std::string& s, int lo, int hi) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

Result<nlohmann::json> change_own_password(StaffDirectory& staff, const http::Request& req) {
  auto j = parse_json_object(req.body);
  if (!j.ok()) return j.status();
  auto current = json_string(*j, "current_password");
  if (!current.ok()) return current.status();
  auto next = json_string(*j, "new_password");
  if (!next.ok()) return next.status();
  if (current->empty())
    return Status::InvalidArgument("missing_field", "请填写当前密码",
                                   "current_password is required");
  TB_RETURN_IF_ERROR(staff.change_password(bearer_token(req), *current, *next, req.remote_addr));
  return nlohmann::json{{"ok", true}};
}

Result<nlohmann::json> parse_json_object(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (j.is_discarded())
    return Status::InvalidArgument("invalid_json", "请求内容不是合法的JSON",
                                   "request body is not valid JSON");
  if (!j.is_object())
    return Status::InvalidArgument("invalid_json", "请求内容应为JSON对象",
                                   "request body must be a JSON object");
  return j;
}

Result<std::string> body_string(const std::string& body, const char* key) {
  auto j = parse_json_object(body);
  if (!j.ok()) return j.status();
  return json_string(*j, key);
}

Result<std::string> json_string(const nlohmann::json& body, const char* key) {
  const auto bad = [key](const char* zh, const char* en) {
    return Status::InvalidArgument("invalid_field", std::string("字段「") + key + "」" + zh,
                                   std::string("field '") + key + "' " + en);
  };
  if (!body.is_object()) return bad("所在的请求体应为对象", "needs a JSON object body");
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad("应为字符串", "must be a string");
  const auto& v = it->get_ref<const std::string&>();
  if (v.size() > 4096 || !is_clean_utf8(v))
    return bad("过长或含有控制字符", "is too long or holds control characters");
  return v;
}

Result<CaseQuery> case_query_from(const http::Request& req, const Keyring* keys) {
  CaseQuery q;
  q.case_id_prefix = req.get_param_value("q");
  // The applicant by blind index: the number itself is never stored (nor compared).
  const std::string id_number = req.get_param_value("id_number"), uscc = req.get_param_value("uscc");
  if (!id_number.empty() || !uscc.empty()) {
    const std::string blind = !keys              ? std::string()
                              : !id_number.empty() ? blind_id(*keys, id_number)
                                                   : blind_uscc(*keys, uscc);
    q.applicant_id = blind.empty() ? "-" : to_hex(reinterpret_cast<const uint8_t*>(blind.data()),
                                                   blind.size());
  }
  q.status = req.get_param_value("status");
  q.clock = req.get_param_value("clock");
  q.item_code = req.get_param_value("item_code");
  q.origin = req.get_param_value("site");
  q.owner = req.get_param_value("owner");
  q.transfer = req.get_param_value("transfer");
  if (!q.owner.empty() && !valid_site_id(q.owner))
    return Status::InvalidArgument("invalid_owner", "owner 应为站点编号", "owner must be a site id");
  if (!q.transfer.empty() && q.transfer != "none" && q.transfer != "requested" &&
      q.transfer != "dispatched" && q.transfer != "taken" && q.transfer != "returned")
    return Status::InvalidArgument(
        "invalid_transfer", "transfer 应为 none/requested/dispatched/taken/returned",
        "transfer must be none, requested, dispatched, taken or returned");
  if (req.has_param("conflict")) {
    const std::string c = req.get_param_value("conflict");
    if (c != "1" && c != "0")
      return Status::InvalidArgument("invalid_conflict", "conflict 应为 0 或 1",
                                     "conflict must be 0 or 1");
    q.conflict_only = c == "1";
  }
  if (!q.status.empty() && !case_status_from(q.status))
    return Status::InvalidArgument("invalid_status", "状态取值无效", "unknown status filter");
  if (!q.clock.empty() && !clock_color_from(q.clock))
    return Status::InvalidArgument("invalid_clock", "时限状态应为 normal/yellow/red/paused/done",
                                   "clock must be normal, yellow, red, paused or done");
  if (req.has_param("limit")) {
    auto limit = int_param(req.get_param_value("limit"), 1, 500);
    if (!limit)
      return Status::InvalidArgument("invalid_limit", "limit 应为 1 至 500 的整数",
                                     "limit must be a whole number from 1 to 500");
    q.limit = *limit;
  }
  if (req.has_param("offset")) {
    auto offset = int_param(req.get_param_value("offset"), 0, 100000000);
    if (!offset)
      return Status::InvalidArgument("invalid_offset", "offset 应为非负整数",
                                     "offset must be a whole number >= 0");
    q.offset = *offset;
  }
  return q;
}

}  // namespace tongban
