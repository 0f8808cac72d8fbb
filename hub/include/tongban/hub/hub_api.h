// The hub's HTTP JSON API for district operators (docs/api.md, "Hub"): any case of any
// site, each site's sync state, catalog publishing and offline-bundle import.
//
// Thread safety: the server runs its own worker threads; stop() from any thread.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "tongban/hub/hub_service.h"
#include "tongban/shared/metrics.h"
#include "tongban/shared/static_files.h"

namespace tongban::hub {

class HubApi {
 public:
  static constexpr size_t kMaxBodyBytes = 64 * 1024;
  // Catalogs and bundles (operators only, admitted before their body is read): a week
  // offline at a busy center is a few hundred thousand events.
  static constexpr size_t kMaxUploadBytes = 64 * 1024 * 1024;

  // `on_stream_change` runs after a publish or import (wakes the sync server);
  // `reload_keys` reads the sync allow-list from site-config/keys again.
  HubApi(HubService& hub, std::function<void()> on_stream_change,
         std::function<Result<size_t>()> reload_keys);
  ~HubApi();
  HubApi(const HubApi&) = delete;
  HubApi& operator=(const HubApi&) = delete;

  // Serves the web console under /console/ (null: answers that it was not built).
  // Call before run().
  void serve_console(std::shared_ptr<const http::StaticFiles> files);
  // GET /metrics: the HTTP server's and the process's series, then `write`'s (the
  // daemon's own; docs/api.md "Metrics"). Call before run().
  void serve_metrics(std::function<void(metrics::Text&)> write);
  // HTTPS with this certificate chain and key (http::Server::use_tls). Call before bind().
  Status use_tls(const std::filesystem::path& cert, const std::filesystem::path& key);
  Result<int> bind(const std::string& host, int port);
  bool run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tongban::hub
