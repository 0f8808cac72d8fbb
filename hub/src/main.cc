// tongban-hub: the district hub. Receives every site's signed events over ZeroMQ/CURVE,
// keeps the global case index, streams catalog versions back to the nodes, and serves
// the operators' HTTP API.
#include <CLI/CLI.hpp>
#include <iostream>

#include "tongban/hub/hub_api.h"
#include "tongban/hub/hub_service.h"
#include "tongban/shared/config.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/log.h"
#include "tongban/shared/staff.h"
#include "tongban/sync/sync_server.h"

using namespace tongban;

namespace {
int fail(const Status& s) {
  std::cerr << "tongban-hub: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  private_files_only();
  CLI::App app{"tongban-hub — 区级通办中心 / the district hub"};
  std::string config_dir = "site-config", data_dir, listen = "127.0.0.1:0", sync_endpoint,
              port_file, sync_port_file, level = "info";
  app.add_option("--site-config", config_dir, "站点配置目录 / site-config directory")
      ->check(CLI::ExistingDirectory);
  app.add_option("--data", data_dir, "数据目录 / data directory")->required();
  app.add_option("--listen", listen, "HTTP 监听地址 host:port (0 = any free port)");
  app.add_option("--sync", sync_endpoint,
                 "同步端点，默认取 district.toml / sync endpoint (tcp://host:port)");
  app.add_option("--port-file", port_file, "写入 HTTP 端口的文件 / file for the bound HTTP port");
  app.add_option("--sync-port-file", sync_port_file,
                 "写入同步端口的文件 / file for the bound sync port");
  app.add_option("--log-level", level, "trace|debug|info|warn|error");
  std::string key_file;
  app.add_option("--key-file", key_file,
                 "密钥加密密钥文件（放在数据盘之外）；也可用 TONGBAN_KEY_FILE 或 TONGBAN_PASSPHRASE / "
                 "the key-encryption key file, kept off the data disk");
  int supervision_seconds = 60;
  app.add_option("--supervision-seconds", supervision_seconds,
                 "电子监察巡检间隔秒数 / seconds between 电子监察 sweeps over the cases due")
      ->check(CLI::Range(1, 86400));
  int64_t clock_offset = 0;
  app.add_option("--clock-offset-seconds", clock_offset,
                 "时钟偏移秒数（测试用）/ run with the clock off by this much (tests)");
  std::string console_dir = http::default_console_dir().string();
  app.add_option("--console", console_dir, "工作台页面目录 / the built web console's folder")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const sigset_t signals = block_termination_signals();
  init_logging("hub", level);
  if (Status s = init_crypto(); !s.ok()) return fail(s);
  // 1,024 HTTP connections at most, plus databases, sync sockets and logs.
  auto descriptors = raise_descriptor_limit(65536, 1280);
  if (!descriptors.ok()) return fail(descriptors.status());
  auto district = load_district(config_dir);
  if (!district.ok()) return fail(district.status());
  auto key = SigningKey::load(std::filesystem::path(data_dir) / hub::HubService::kKeyFile);
  if (!key.ok())
    return fail(Status::NotFound("not_provisioned",
                                 "区级中心未初始化，请先运行 tongban provision --hub",
                                 "hub not provisioned: run `tongban provision --hub` first"));
  if (Status s = lock_data_dir(data_dir); !s.ok()) return fail(s);
  auto kek = kek_source(key_file);
  if (!kek.ok()) return fail(kek.status());
  auto keys =
      Keyring::unlock(std::filesystem::path(data_dir) / Keyring::kFile, *kek, district->hub_id);
  if (!keys.ok()) return fail(keys.status());
  OffsetClock clock(clock_offset);
  auto service = hub::HubService::open(*district, data_dir, *key, clock, &*keys);
  if (!service.ok()) return fail(service.status());

  sync::ServerOptions options;
  options.endpoint = sync_endpoint.empty() ? district->hub_endpoint : sync_endpoint;
  options.curve = key->curve_keypair();
  options.key = &*key;
  const std::vector<std::string> site_ids = district->site_ids();
  options.load_keys = [dir = district->dir, site_ids] { return load_public_keys(dir, site_ids); };
  options.documents = service->get();
  sync::SyncServer server(options, **service);
  // Hand-overs the store makes by itself (a transfer request, a return) reach the nodes.
  (*service)->set_on_stream_change([&server] { server.wake_streams(); });
  auto bound = server.start();
  if (!bound.ok()) return fail(bound.status());

  hub::HubApi api(
      **service, [&server] { server.wake_streams(); }, [&server] { return server.reload(); });
  const auto host_port = split_host_port(listen);
  if (!host_port)
    return fail(Status::InvalidArgument("invalid_listen", "监听地址应为 host:port",
                                        "--listen must be host:port"));
  api.serve_console(http::load_console(console_dir));
  auto port = api.bind(host_port->first, host_port->second);
  if (!port.ok()) return fail(port.status());
  if (!sync_port_file.empty()) {
    const auto sync_port = split_host_port(*bound);
    if (Status s = write_port_file(sync_port_file, sync_port ? sync_port->second : 0); !s.ok())
      return fail(s);
  }
  if (!port_file.empty())
    if (Status s = write_port_file(port_file, *port); !s.ok()) return fail(s);
  spdlog::info("hub {} sync on {}, operators on http://{}:{}", district->hub_id, *bound,
               host_port->first, *port);
  std::cout << "sync " << *bound << "\nlistening http://" << host_port->first << ":" << *port
            << std::endl;

  std::thread watcher = watch_termination(signals, [&](int sig) {
    spdlog::info("signal {}: shutting down", sig);
    api.stop();
  });
  // 电子监察 over the cases due (time passes without events: deadlines, steps, pauses).
  Periodic supervisor(std::chrono::seconds(supervision_seconds), [&service] {
    auto raised = (*service)->supervise();
    if (!raised.ok())
      spdlog::error("supervision sweep failed: {}", raised.status().message_en());
    else if (*raised > 0)
      spdlog::info("supervision sweep raised {} alert(s)", *raised);
    // 中介超市: an intermediary whose qualification expired is suspended from selection.
    if (auto expired = (*service)->store().suspend_expired(); !expired.ok())
      spdlog::error("intermediary expiry check failed: {}", expired.status().message_en());
    return false;
  });
  const bool served = api.run();
  server.stop();
  if (!served) pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  return served ? 0 : 1;
}
