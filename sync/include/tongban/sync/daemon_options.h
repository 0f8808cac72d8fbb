// The command-line options tongban-node and tongban-hub share: logging, HTTPS and the sync
// protocol version (README "Operating a district").
//
// Thread safety: single-threaded start-up code.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <string>

#include "tongban/shared/daemon.h"
#include "tongban/sync/transport.h"

namespace tongban::sync {

struct DaemonOptions {
  std::string log_level = "info";
  std::string log_format = "text";
  std::string tls_cert, tls_key;  // empty: DATA/tls.crt and DATA/tls.key when present
  uint32_t max_protocol = kProtocolVersion;
};

inline void add_daemon_options(CLI::App& app, DaemonOptions& o) {
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-format", o.log_format,
                 "日志格式：text 或 json（每行一个 JSON 对象）/ text, or json lines")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--tls-cert", o.tls_cert,
                 "HTTPS 证书链（默认数据目录中的 tls.crt）/ HTTPS certificate chain (default: DATA/tls.crt)");
  app.add_option("--tls-key", o.tls_key,
                 "HTTPS 私钥（默认数据目录中的 tls.key）/ HTTPS key (default: DATA/tls.key)");
  app.add_option("--max-protocol-version", o.max_protocol,
                 "最高同步协议版本（逐站升级时可暂设为旧版）/ the newest sync protocol version to speak")
      ->check(CLI::Range(kMinProtocolVersion, kProtocolVersion));
}

// Serves `api` (node::HttpApi or hub::HubApi) over HTTPS when tls_files says so; the scheme
// it will serve ("http" or "https"). Call before bind().
template <class Api>
Result<std::string> serve_securely(Api& api, const std::string& host,
                                   const std::filesystem::path& data_dir, const DaemonOptions& o) {
  auto tls = tls_files(host, data_dir, o.tls_cert, o.tls_key);
  if (!tls.ok()) return tls.status();
  if (!*tls) return std::string("http");
  TB_RETURN_IF_ERROR(api.use_tls((*tls)->cert, (*tls)->key));
  return std::string("https");
}

}  // namespace tongban::sync
