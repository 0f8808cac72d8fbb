// The node's HTTP JSON API for window staff, reviewers, community agents and the site
// admin (documented endpoint by endpoint in docs/api.md). Every mutating call is checked
// against the caller's role and site; a 2xx answer means the events are committed.
//
// Thread safety: the server runs its own worker threads; stop() may be called from any
// thread (e.g. a signal watcher).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tongban/node/case_service.h"
#include "tongban/node/store.h"
#include "tongban/shared/metrics.h"
#include "tongban/shared/static_files.h"
#include "wire.pb.h"

namespace tongban::node {

class HttpApi {
 public:
  static constexpr size_t kMaxBodyBytes = 64 * 1024;
  static constexpr size_t kMaxUploadBytes = 64 * 1024 * 1024;  // a hub bundle

  // `sync_status` describes the link to the hub for /healthz (null: offline by choice).
  // `store` and `cases` must outlive the API.
  // `import_bundle` opens and applies a sealed hub bundle (null: not offered).
  HttpApi(NodeStore& store, CaseService& cases,
          std::function<nlohmann::json()> sync_status = nullptr,
          std::function<Result<uint64_t>(const std::string& sealed)> import_bundle = nullptr);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // One person across the district: how the API asks the hub about a resident (the sync
  // client's ask_hub; unset: the node runs offline and says so). Call before run().
  using AskHub = std::function<Result<pb::ResidentAnswer>(pb::ResidentQuery)>;
  void set_ask_hub(AskHub ask);

  // Binds host:port (port 0 picks a free one); returns the bound port.
  // Serves the web console under /console/ (null: answers that it was not built).
  // Call before run().
  void serve_console(std::shared_ptr<const http::StaticFiles> files);
  // GET /metrics: the HTTP server's and the process's series, then `write`'s (the
  // daemon's own; docs/api.md "Metrics"). Call before run().
  void serve_metrics(std::function<void(metrics::Text&)> write);
  // HTTPS with this certificate chain and key (http::Server::use_tls). Call before bind().
  Status use_tls(const std::filesystem::path& cert, const std::filesystem::path& key);
  Result<int> bind(const std::string& host, int port);
  // Serves until stop(); returns false if the listener failed.
  bool run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tongban::node
