// tongban-node: the edge node daemon of one site. Serves the HTTP API for window staff and
// agents from the site's own SQLite log, offline or not, and runs the supervision sweep.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <thread>

#include "tongban/node/case_service.h"
#include "tongban/node/http_api.h"
#include "tongban/shared/config.h"
#include "tongban/shared/log.h"
#include "tongban/shared/staff.h"

using namespace tongban;

namespace {

int fail(const Status& s) {
  std::cerr << "tongban-node: " << s.message_zh() << " / " << s.message_en() << "\n";
  return 1;
}

// Runs the sweep now and then every `period` until stopped.
class Sweeper {
 public:
  Sweeper(node::CaseService& cases, int period) : cases_(cases), period_(period) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Sweeper() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      auto changed = cases_.sweep();
      if (!changed.ok())
        spdlog::error("sweep failed: {}", changed.status().message_en());
      else if (*changed > 0)
        spdlog::info("sweep changed {} case(s)", *changed);
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(period_), [this] { return stop_; });
    }
  }
  node::CaseService& cases_;
  int period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tongban-node — 站点边缘节点 / the edge node of one service site"};
  std::string config_dir = "site-config", site_id, data_dir, listen = "127.0.0.1:0", port_file,
              level = "info";
  int sweep_seconds = 60;
  app.add_option("--site-config", config_dir, "站点配置目录 / site-config directory")
      ->check(CLI::ExistingDirectory);
  app.add_option("--site", site_id, "本站点编号 / this site's id (e.g. S01)")->required();
  app.add_option("--data", data_dir, "数据目录 / data directory")->required();
  app.add_option("--listen", listen, "HTTP 监听地址 host:port (port 0 = any free port)");
  app.add_option("--port-file", port_file, "写入实际端口的文件 / file to write the bound port to");
  app.add_option("--sweep-seconds", sweep_seconds,
                 "电子监察扫描间隔秒数 / supervision sweep period")
      ->check(CLI::Range(1, 3600));
  app.add_option("--log-level", level, "trace|debug|info|warn|error");
  CLI11_PARSE(app, argc, argv);

  // Block termination signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  init_logging("node-" + site_id, level);
  if (Status s = init_crypto(); !s.ok()) return fail(s);
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
  auto store = node::NodeStore::open(data_dir, site_id, &*key);
  if (!store.ok()) return fail(store.status());

  SystemClock clock;
  node::CaseService cases(*district, *site, *store, *key, clock);
  StaffDirectory staff(store->db(), cases.mutex(), clock);
  node::HttpApi api(cases, staff);
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos)
    return fail(Status::InvalidArgument("invalid_listen", "监听地址应为 host:port",
                                        "--listen must be host:port"));
  auto port = api.bind(listen.substr(0, colon), std::atoi(listen.c_str() + colon + 1));
  if (!port.ok()) return fail(port.status());
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << *port << "\n";
    std::filesystem::rename(tmp, port_file);
  }
  spdlog::info("site {} ({}) serving http://{}:{} with log head seq {}", site->id,
               to_string(site->kind), listen.substr(0, colon), *port, store->log().head().seq);
  std::cout << "listening http://" << listen.substr(0, colon) << ":" << *port << std::endl;

  std::thread signal_watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: shutting down", sig);
    api.stop();
  });
  bool served;
  {
    Sweeper sweeper(cases, sweep_seconds);
    served = api.run();
  }
  if (!served) {
    spdlog::error("HTTP listener failed");
    pthread_kill(signal_watcher.native_handle(), SIGTERM);
  }
  signal_watcher.join();
  return served ? 0 : 1;
}
