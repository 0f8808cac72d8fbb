// tongban-node: the edge node daemon of one site. Serves the HTTP API for window staff and
// agents from the site's own SQLite log, offline or not, and runs the supervision sweep.
#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "tongban/node/case_service.h"
#include "tongban/node/http_api.h"
#include "tongban/node/node_sync.h"
#include "tongban/shared/allocator.h"
#include "tongban/shared/config.h"
#include "tongban/shared/daemon.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/log.h"
#include "tongban/shared/staff.h"
#include "tongban/sync/daemon_options.h"
#include "tongban/sync/transport.h"

using namespace tongban;

namespace {

int fail(const Status& s) {
  std::cerr << "tongban-node: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 1;
}

// The supervision sweep (deemed acceptance, 容缺 deadlines).
bool sweep(node::CaseService& cases) {
  auto changed = cases.sweep();
  if (!changed.ok())
    spdlog::error("sweep failed: {}", changed.status().message_en());
  else if (*changed > 0)
    spdlog::info("sweep changed {} case(s)", *changed);
  return false;
}

// After a data key rotation: re-seals rows still under an older key, 500 per transaction
// beside the traffic, until none is left (then the store retires the old key).
bool reseal(node::NodeStore& store) {
  if (!store.keyring() || store.keyring()->key_ids().size() < 2) return false;
  auto st = store.reseal(500);
  if (!st.ok()) {
    spdlog::error("re-sealing under the new data key failed: {}", st.status().message_en());
    return false;
  }
  return st->resealed > 0;
}

// The node's own series for /metrics (docs/api.md "Metrics").
void write_metrics(metrics::Text& t, node::NodeStore& store, sync::SyncClient* link,
                   const std::filesystem::path& db_file) {
  metrics::write_build_info(t, TONGBAN_VERSION, static_cast<int>(sync::kProtocolVersion));
  const uint64_t head = store.head().seq, acked = link ? link->acked() : 0;
  t.family("tongban_events_appended_total", "counter", "Events this site has appended to its log.");
  t.sample("tongban_events_appended_total", static_cast<double>(head));
  t.family("tongban_node_halted", "gauge",
           "1 when the node refuses to append (a fork, a broken log): see /api/v1/healthz.");
  t.sample("tongban_node_halted", store.halted() ? 1 : 0);
  if (link) {
    t.family("tongban_events_acknowledged_total", "counter",
             "Events of this site the hub has acknowledged (durably stored).");
    t.sample("tongban_events_acknowledged_total", static_cast<double>(acked));
    t.family("tongban_sync_connected", "gauge", "1 while the link to the hub is up.");
    t.sample("tongban_sync_connected", link->connected() ? 1 : 0);
    t.family("tongban_sync_protocol_version", "gauge",
             "The sync protocol version agreed with the hub (0: not yet).");
    t.sample("tongban_sync_protocol_version", link->protocol_version());
    t.family("tongban_sync_lag_events", "gauge", "Events written here and not yet acknowledged by the hub.");
    t.sample("tongban_sync_lag_events", static_cast<double>(head > acked ? head - acked : 0));
    if (auto oldest = store.oldest_unacked_ts(acked); oldest.ok()) {
      t.family("tongban_sync_unacked_age_seconds", "gauge",
               "Age of the oldest event not yet acknowledged by the hub (0: none).");
      t.sample("tongban_sync_unacked_age_seconds",
               *oldest ? static_cast<double>(std::max<Timestamp>(0, store.now() - **oldest)) : 0.0);
    }
  }
  static metrics::Cached scans(std::chrono::seconds(10));
  scans.write(t, [&store](metrics::Text& t) {
    auto c = store.clock_counts(date_of(store.now()));
    if (!c.ok()) return;
    t.family("tongban_cases_open", "gauge",
             "This site's open cases by time-limit clock (normal, yellow, red, paused).");
    for (const auto& [colour, n] : {std::pair{"normal", c->normal}, {"yellow", c->yellow},
                                    {"red", c->red}, {"paused", c->paused}})
      t.sample("tongban_cases_open", static_cast<double>(n), {{"clock", colour}});
  });
  metrics::write_sqlite(t, {{"node", db_file}});
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  private_files_only();
  CLI::App app{"tongban-node — 站点边缘节点 / the edge node of one service site"};
  std::string config_dir = "site-config", site_id, data_dir, listen = "127.0.0.1:0", port_file;
  int sweep_seconds = 60;
  std::string hub_endpoint;
  bool offline = false;
  Timestamp clock_offset = 0;
  std::string key_file;
  app.add_option("--site-config", config_dir, "站点配置目录 / site-config directory")
      ->check(CLI::ExistingDirectory);
  app.add_option("--site", site_id, "本站点编号 / this site's id (e.g. S01)")->required();
  app.add_option("--data", data_dir, "数据目录 / data directory")->required();
  app.add_option("--key-file", key_file,
                 "密钥加密密钥文件（放在数据盘之外）；也可用 TONGBAN_KEY_FILE 或 TONGBAN_PASSPHRASE / "
                 "the key-encryption key file, kept off the data disk");
  app.add_option("--listen", listen, "HTTP 监听地址 host:port (port 0 = any free port)");
  app.add_option("--port-file", port_file, "写入实际端口的文件 / file to write the bound port to");
  app.add_option("--sweep-seconds", sweep_seconds,
                 "电子监察扫描间隔秒数 / supervision sweep period")
      ->check(CLI::Range(1, 3600));
  sync::DaemonOptions daemon;
  sync::add_daemon_options(app, daemon);
  std::string console_dir = http::default_console_dir().string();
  app.add_option("--console", console_dir, "工作台页面目录 / the built web console's folder")
      ->capture_default_str();
  app.add_option("--hub", hub_endpoint,
                 "区级中心同步端点，默认取 district.toml / hub sync endpoint");
  app.add_flag("--offline", offline, "不连接区级中心 / do not connect to the hub");
  app.add_option("--clock-offset-seconds", clock_offset,
                 "时钟偏移秒数（测试时钟不准的站点）/ run with the clock off by this much (tests)");
  CLI11_PARSE(app, argc, argv);

  const sigset_t signals = block_termination_signals();

  if (Status s = init_logging("node-" + site_id, daemon.log_level, daemon.log_format); !s.ok()) return fail(s);
  if (Status s = init_crypto(); !s.ok()) return fail(s);
  // 1,024 HTTP connections at most, plus databases, sync sockets and logs.
  auto descriptors = raise_descriptor_limit(65536, 1280);
  if (!descriptors.ok()) return fail(descriptors.status());
  auto district = load_district(config_dir);
  if (!district.ok()) return fail(district.status());
  const SiteConfig* site = district->site(site_id);
  if (!site)
    return fail(Status::NotFound("unknown_site", "站点配置中没有该站点：" + site_id,
                                 "no such site: " + site_id));
  auto key = SigningKey::load(std::filesystem::path(data_dir) / node::NodeStore::kKeyFile);
  if (!key.ok())
    return fail(Status::NotFound(
        "not_provisioned", "站点未初始化，请先运行 tongban provision",
        "site not provisioned: run `tongban provision` first (" + key.status().message_en() + ")"));
  if (Status s = lock_data_dir(data_dir); !s.ok()) return fail(s);
  auto kek = kek_source(key_file);
  if (!kek.ok()) return fail(kek.status());
  auto keys = Keyring::unlock(std::filesystem::path(data_dir) / Keyring::kFile, *kek, site_id);
  if (!keys.ok()) return fail(keys.status());
  if (!district->box_keys.count(district->hub_id))
    spdlog::warn("no hub box key (site-config/keys/{}{}): the hub will not read the personal "
                 "fields of cases created until it is there",
                 district->hub_id, kBoxKeySuffix);
  OffsetClock clock(clock_offset);
  auto store = node::NodeStore::open(data_dir, site_id, &*key, *district, clock, &*keys);
  if (!store.ok()) return fail(store.status());
  node::CaseService cases(*district, *site, **store, *key);
  const auto host_port = split_host_port(listen);
  if (!host_port)
    return fail(Status::InvalidArgument("invalid_listen", "监听地址应为 host:port",
                                        "--listen must be host:port"));

  // Replication to the hub: the node keeps working whether or not it is reachable.
  node::NodeSync deliveries(**store, cases);
  node::NodeDocuments documents(**store);
  std::unique_ptr<sync::SyncClient> sync_client;
  const auto hub_key = district->public_keys.find(district->hub_id);
  if (offline) {
    spdlog::info("offline: not connecting to the hub");
  } else if (hub_key == district->public_keys.end() || !curve_public_from(hub_key->second)) {
    spdlog::warn("no hub key in site-config/keys/{}.pub: running offline", district->hub_id);
  } else {
    sync::ClientOptions o;
    o.endpoint = hub_endpoint.empty() ? district->hub_endpoint : hub_endpoint;
    o.hub_curve = *curve_public_from(hub_key->second);
    o.hub_signing = hub_key->second;
    o.site = site_id;
    o.key = &*key;
    o.db_file = std::filesystem::path(data_dir) / node::NodeStore::kDbFile;
    o.on_diverged = [s = store->get()](const Status& why) {
      (void)s->halt(node::Halt{why.reason(), why.message_zh(), why.message_en()});
    };
    o.documents = &documents;
    o.max_version = daemon.max_protocol;
    sync_client = std::make_unique<sync::SyncClient>(o, deliveries);
    if (Status s = sync_client->start(); !s.ok()) return fail(s);
    cases.set_on_commit([c = sync_client.get()] { c->notify(); });
    spdlog::info("replicating to the hub at {}", o.endpoint);
  }
  node::HttpApi api(**store, cases, [c = sync_client.get(), s = store->get()]() -> nlohmann::json {
    if (!c) return {{"offline", true}};
    const uint64_t head = s->head().seq, acked = c->acked();
    const auto quiet = c->seconds_since_answer();
    const uint64_t unacked = head > acked ? head - acked : 0;
    return {{"offline", false},
            {"connected", c->connected()},
            {"protocol_version", c->protocol_version()},
            {"acked_seq", acked},
            {"unacked_events", unacked},
            {"seconds_since_hub_answer", quiet ? nlohmann::json(*quiet) : nlohmann::json(nullptr)},
            // Connected, with events to send, and nothing heard from the hub for a while.
            {"stalled", c->connected() && unacked > 0 && quiet && *quiet >= 10},
            {"diverged", c->diverged()},
            {"documents", [&] {
               const auto d = c->document_stats();
               return nlohmann::json{{"chunks_sent", d.chunks_sent},
                                     {"chunks_received", d.chunks_received},
                                     {"chunks_refused", d.chunks_refused},
                                     {"documents_received", d.documents_completed}};
             }()}};
  }, [&](const std::string& sealed) -> Result<uint64_t> {
    if (hub_key == district->public_keys.end())
      return Status::NotFound("no_hub_key", "站点配置中没有区级中心公钥",
                              "no hub key in site-config/keys");
    auto added = deliveries.import_bundle(sealed, *key, hub_key->second);
    if (added.ok() && sync_client) sync_client->notify();
    return added;
  });
  if (sync_client)  // an answer within 2 s, or the window goes on without it
    api.set_ask_hub([c = sync_client.get()](pb::ResidentQuery q) {
      return c->ask_hub(std::move(q), std::chrono::milliseconds(2000));
    });
  api.serve_metrics([&store, c = sync_client.get(),
                     db = std::filesystem::path(data_dir) / node::NodeStore::kDbFile](metrics::Text& t) {
    write_metrics(t, **store, c, db);
  });
  api.serve_console(http::load_console(console_dir));
  auto secured = sync::serve_securely(api, host_port->first, data_dir, daemon);
  if (!secured.ok()) return fail(secured.status());
  const std::string scheme = *secured;
  auto port = api.bind(host_port->first, host_port->second);
  if (!port.ok()) return fail(port.status());
  if (!port_file.empty())
    if (Status s = write_port_file(port_file, *port); !s.ok()) return fail(s);
  spdlog::info("site {} ({}) serving {}://{}:{} with log head seq {}", site->id,
               to_string(site->kind), scheme, host_port->first, *port, (*store)->head().seq);
  std::cout << "listening " << scheme << "://" << host_port->first << ":" << *port << std::endl;

  // The start checked the log's tail against its witness; the whole chain is checked here,
  // beside the serving threads, and a broken one halts the node.
  std::map<std::string, PublicKey> log_keys{{site_id, key->public_key()}};
  if (hub_key != district->public_keys.end())
    log_keys[sync::stream_origin(site_id)] = hub_key->second;
  std::thread auditor([s = store->get(), log_keys] {
    // Background work: the walk yields the CPU to the windows and to sync (a node catching
    // up a long log after a restart would otherwise share its two cores with it). Linux
    // gives each thread its own nice value.
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19) != 0)
      spdlog::debug("log audit: cannot lower its priority");
    if (Status verdict = s->audit_log(log_keys); verdict.reason() == "audit_cancelled")
      spdlog::info("log audit: {}", verdict.message_en());
    else if (!verdict.ok())
      spdlog::error("log audit: {}", verdict.message_en());
  });
  notify_systemd("READY=1");
  std::thread signal_watcher = watch_termination(signals, [&](int sig) {
    spdlog::info("signal {}: shutting down", sig);
    notify_systemd("STOPPING=1");
    (*store)->cancel_audit();  // a whole chain's walk must not hold up the stop
    api.stop();
  });
  bool served;
  {
    Periodic sweeper(std::chrono::seconds(sweep_seconds), [&cases] { return sweep(cases); });
    Periodic resealer(std::chrono::seconds(1), [s = store->get()] { return reseal(*s); });
    served = api.run();
  }
  if (sync_client) {
    cases.set_on_commit(nullptr);
    // The sync window drains: what the windows committed before the stop reaches the hub
    // now if the link is up (for up to 5 s), not at the next start.
    const auto drain_until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sync_client->connected() && sync_client->welcomed() && !sync_client->diverged() &&
           sync_client->acked() < (*store)->head().seq && std::chrono::steady_clock::now() < drain_until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sync_client->stop();
  }
  if (!served) {
    spdlog::error("HTTP listener failed");
    pthread_kill(signal_watcher.native_handle(), SIGTERM);
  }
  signal_watcher.join();
  auditor.join();
  return served ? 0 : 1;
}
