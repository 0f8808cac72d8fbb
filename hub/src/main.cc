// tongban-hub: the district hub. Receives every site's signed events over ZeroMQ/CURVE,
// keeps the global case index, streams catalog versions back to the nodes, and serves
// the operators' HTTP API.
#include <CLI/CLI.hpp>
#include <iostream>

#include "tongban/hub/hub_api.h"
#include "tongban/hub/hub_service.h"
#include "tongban/shared/allocator.h"
#include "tongban/shared/config.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/log.h"
#include "tongban/shared/staff.h"
#include "tongban/sync/sync_server.h"
#include "tongban/sync/daemon_options.h"
#include "tongban/sync/transport.h"

using namespace tongban;

namespace {
int fail(const Status& s) {
  std::cerr << "tongban-hub: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 1;
}

// The hub's own series for /metrics (docs/api.md "Metrics").
void write_metrics(metrics::Text& t, hub::HubService& hub, const sync::SyncServer& server,
                   const std::filesystem::path& db_file) {
  metrics::write_build_info(t, TONGBAN_VERSION, static_cast<int>(sync::kProtocolVersion));
  if (auto states = hub.sync_states(); states.ok()) {
    t.family("tongban_events_acknowledged_total", "counter",
             "Events of each site the hub holds durably (and has acknowledged).");
    for (const auto& s : *states)
      t.sample("tongban_events_acknowledged_total", static_cast<double>(s.acked_seq), {{"site", s.site}});
    t.family("tongban_sync_link", "gauge",
             "Each site's link: 1 on its state (never, connected, idle, unreachable).");
    for (const auto& s : *states)
      t.sample("tongban_sync_link", 1, {{"site", s.site}, {"state", to_string(s.link)}});
    t.family("tongban_sync_lag_events", "gauge",
             "Events a live site has that the hub does not hold yet (absent while unknown).");
    for (const auto& s : *states)
      if (auto n = s.events_behind())
        t.sample("tongban_sync_lag_events", static_cast<double>(*n), {{"site", s.site}});
    t.family("tongban_sync_lag_seconds", "gauge",
             "How far behind a live site's newest event the hub's copy is, in seconds.");
    for (const auto& s : *states)
      if (auto n = s.seconds_behind())
        t.sample("tongban_sync_lag_seconds", static_cast<double>(*n), {{"site", s.site}});
    t.family("tongban_sync_last_contact_seconds", "gauge",
             "Seconds since each site was last heard from (absent: never).");
    const Timestamp now = hub.now();
    for (const auto& s : *states)
      if (s.last_contact)
        t.sample("tongban_sync_last_contact_seconds",
                 static_cast<double>(std::max<Timestamp>(0, now - s.last_contact)), {{"site", s.site}});
    t.family("tongban_directives_pending", "gauge",
             "Hub-to-site directives (hand-overs, catalogs, orders) the site has not applied yet.");
    for (const auto& s : *states)
      t.sample("tongban_directives_pending",
               static_cast<double>(s.stream_head > s.delivered_seq ? s.stream_head - s.delivered_seq : 0),
               {{"site", s.site}});
    t.family("tongban_site_forked", "gauge", "1 when a site's history disagrees with the hub's.");
    for (const auto& s : *states)
      t.sample("tongban_site_forked", s.fork_seq ? 1 : 0, {{"site", s.site}});
  }
  t.family("tongban_hub_restore_awaited_sites", "gauge",
           "Sites a hub restored from a backup still waits for (0: it writes as usual).");
  t.sample("tongban_hub_restore_awaited_sites",
           static_cast<double>(hub.store().awaited_returns().size()));
  t.family("tongban_hub_projection_pending_events", "gauge",
           "Sites' events stored and acknowledged whose projection (case index, 电子监察, "
           "dispatch) has not caught up yet.");
  t.sample("tongban_hub_projection_pending_events",
           static_cast<double>(hub.store().projection_backlog()));
  t.family("tongban_hub_supervision_sweep_cases_total", "counter",
           "Cases the 电子监察 sweeps took up as due: judged, or passed over while the site "
           "that holds them back is not known up to their due day (waiting).");
  const hub::HubStore::SweepCounts swept = hub.store().sweep_counts();
  t.sample("tongban_hub_supervision_sweep_cases_total", static_cast<double>(swept.judged),
           {{"outcome", "judged"}});
  t.sample("tongban_hub_supervision_sweep_cases_total", static_cast<double>(swept.waiting),
           {{"outcome", "waiting"}});
  t.family("tongban_sync_refused_total", "counter",
           "Sync messages and handshakes the hub refused, by reason.");
  for (const auto& [reason, n] : server.refusals())
    t.sample("tongban_sync_refused_total", static_cast<double>(n), {{"reason", reason}});
  static metrics::Cached scans(std::chrono::seconds(10));
  scans.write(t, [&hub](metrics::Text& t) {
  if (auto clocks = hub.clock_counts(); clocks.ok()) {
    t.family("tongban_cases_open", "gauge",
             "Open cases by owning site and time-limit clock (normal, yellow, red, paused).");
    for (const ClockCounts& c : *clocks)
      for (const auto& [colour, n] : {std::pair{"normal", c.normal}, {"yellow", c.yellow},
                                      {"red", c.red}, {"paused", c.paused}})
        t.sample("tongban_cases_open", static_cast<double>(n), {{"site", c.owner}, {"clock", colour}});
  }
  if (auto alerts = hub.store().alert_counts(); alerts.ok()) {
    t.family("tongban_alerts", "gauge",
             "电子监察 alerts by rule, severity and state (open, rectifying, answered, acknowledged).");
    for (const auto& a : *alerts)
      t.sample("tongban_alerts", static_cast<double>(a.count),
               {{"rule", a.rule}, {"severity", a.severity}, {"state", a.state}});
  }
  });
  metrics::write_sqlite(t, {{"hub", db_file}});
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  private_files_only();
  CLI::App app{"tongban-hub — 区级通办中心 / the district hub"};
  std::string config_dir = "site-config", data_dir, listen = "127.0.0.1:0", sync_endpoint,
              port_file, sync_port_file;
  app.add_option("--site-config", config_dir, "站点配置目录 / site-config directory")
      ->check(CLI::ExistingDirectory);
  app.add_option("--data", data_dir, "数据目录 / data directory")->required();
  app.add_option("--listen", listen, "HTTP 监听地址 host:port (0 = any free port)");
  app.add_option("--sync", sync_endpoint,
                 "同步端点，默认取 district.toml / sync endpoint (tcp://host:port)");
  app.add_option("--port-file", port_file, "写入 HTTP 端口的文件 / file for the bound HTTP port");
  app.add_option("--sync-port-file", sync_port_file,
                 "写入同步端口的文件 / file for the bound sync port");
  sync::DaemonOptions daemon;
  sync::add_daemon_options(app, daemon);
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
  if (Status s = init_logging("hub", daemon.log_level, daemon.log_format); !s.ok()) return fail(s);
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
  options.max_version = daemon.max_protocol;
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
  api.serve_metrics([&service, &server,
                     db = std::filesystem::path(data_dir) / hub::HubStore::kDbFile](metrics::Text& t) {
    write_metrics(t, **service, server, db);
  });
  api.serve_console(http::load_console(console_dir));
  auto secured = sync::serve_securely(api, host_port->first, data_dir, daemon);
  if (!secured.ok()) return fail(secured.status());
  const std::string scheme = *secured;
  auto port = api.bind(host_port->first, host_port->second);
  if (!port.ok()) return fail(port.status());
  if (!sync_port_file.empty()) {
    const auto sync_port = split_host_port(*bound);
    if (Status s = write_port_file(sync_port_file, sync_port ? sync_port->second : 0); !s.ok())
      return fail(s);
  }
  if (!port_file.empty())
    if (Status s = write_port_file(port_file, *port); !s.ok()) return fail(s);
  spdlog::info("hub {} sync on {}, operators on {}://{}:{}", district->hub_id, *bound, scheme,
               host_port->first, *port);
  std::cout << "sync " << *bound << "\nlistening " << scheme << "://" << host_port->first << ":" << *port
            << std::endl;

  notify_systemd("READY=1");
  std::thread watcher = watch_termination(signals, [&](int sig) {
    spdlog::info("signal {}: shutting down", sig);
    notify_systemd("STOPPING=1");
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
