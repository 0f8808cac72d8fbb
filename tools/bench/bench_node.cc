// tongban bench node: cases through a real tongban-node over HTTP with durable commits,
// beside the raw SQLite one-commit-per-transaction rate measured in the same run; then
// the node's idle memory and its cold start with a 1M-event log.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "../cli/commands.h"
#include "bench_support.h"
#include "tongban/node/case_service.h"
#include "tongban/shared/staff.h"
#include "tongban/node/store.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/validation.h"
#include "tongban/tools/process.h"

namespace tongban::cli {

namespace {

using namespace tongban::bench;

using Clock = SteadyClock;
using nlohmann::json;


struct BenchOptions {
  std::string config_dir = "site-config";
  std::string node_bin;
  int cases = 3000;
  int clients = 4;
  long log_events = 1000000;
  int cold_runs = 5;
  int slow_clients = 500;
  int uploads = 20;
  int upload_mib = 1024;
  int sealed_cases = 2000;  // per side, one durable commit each
};

json application(int n) {
  return {{"item_code", "RS001"},
          {"applicant",
           {{"name", "测试申请人"}, {"id_number", resident_id(n)}, {"phone", "13912345678"}}},
          {"provided", {"ID", "PHOTO"}},
          {"accept", json::object()}};
}

Result<Daemon> start_node(const BenchOptions& o, const std::filesystem::path& config,
                          const std::filesystem::path& data) {
  const auto port_file = data / "bench.port";
  return start_daemon({o.node_bin, "--site-config", config.string(), "--site", "S01", "--data",
                       data.string(), "--port-file", port_file.string(), "--log-level", "warn",
                       "--offline", "--key-file", kek_file(data).string()},
                      port_file, data / "node.log");
}

// Time from exec to the first answered health check.
Result<double> cold_start_ms(const BenchOptions& o, const std::filesystem::path& config,
                             const std::filesystem::path& data) {
  const auto t0 = Clock::now();
  auto node = start_node(o, config, data);
  if (!node.ok()) return node.status();
  httplib::Client c("127.0.0.1", node->port);
  for (int i = 0; i < 10000; ++i) {
    if (auto r = c.Get("/api/v1/healthz"); r && r->status == 200) {
      const double ms = ms_since(t0);
      node->process.signal(SIGTERM);
      node->process.wait(std::chrono::seconds(10));
      return ms;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Unavailable("node never answered");
}

struct LoadResult {
  double cases_per_s = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  int errors = 0;
};

LoadResult drive_load(int port, const std::string& token, int cases, int clients) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::atomic<int> errors{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      const httplib::Headers h = {{"Authorization", "Bearer " + token}};
      std::vector<double> mine;
      for (int n = next++; n < cases; n = next++) {
        const std::string body = application(n).dump();
        const auto t = Clock::now();
        auto r = client.Post("/api/v1/cases", h, body, "application/json");
        mine.push_back(ms_since(t));
        if (!r || r->status != 201) ++errors;
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  LoadResult r;
  r.cases_per_s = cases / (ms_since(t0) / 1000.0);
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    r.p50_ms = latencies[latencies.size() / 2];
    r.p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
    r.max_ms = latencies.back();
  }
  r.errors = errors;
  return r;
}

// A TCP connection to the node from a loopback source address (127.0.0.x); -1 if refused.
int connect_from(const std::string& source, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in local{}, peer{};
  local.sin_family = peer.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  peer.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Normal traffic while `slow` connections (spread over loopback addresses, under the
// per-address limit) drip a request header one byte every second.
LoadResult load_beside_slow_clients(int port, const std::string& token, int slow, int cases) {
  std::vector<int> fds;
  for (int i = 0; static_cast<int>(fds.size()) < slow && i < slow * 2; ++i) {
    const int fd = connect_from("127.0.0." + std::to_string(2 + i / 60), port);
    if (fd >= 0) fds.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread dripper([&] {
    const std::string header = "POST /api/v1/login HTTP/1.1\r\nHost: bench\r\nX-Slow: ";
    for (size_t i = 0; !stop; ++i) {
      for (int fd : fds)
        (void)::send(fd, &header[i % header.size()], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      for (int t = 0; t < 10 && !stop; ++t) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const LoadResult r = drive_load(port, token, cases, 4);
  stop = true;
  dripper.join();
  for (int fd : fds) ::close(fd);
  std::fprintf(stderr, "  %zu slow connections were open\n", fds.size());
  return r;
}

// The peak RSS of a fresh node (no login yet: no Argon2id) that is sent `uploads` chunked
// bodies of `mib` MiB each in parallel, without a token.
Result<double> unauthenticated_upload_peak_mb(const BenchOptions& o,
                                              const std::filesystem::path& config,
                                              const std::filesystem::path& data, int uploads,
                                              int mib) {
  auto node = start_node(o, config, data);
  if (!node.ok()) return node.status();
  std::vector<std::thread> senders;
  std::atomic<long> sent_mib{0};
  for (int u = 0; u < uploads; ++u)
    senders.emplace_back([&, u] {
      const int fd = connect_from("127.0.0." + std::to_string(20 + u % 8), node->port);
      if (fd < 0) return;
      const std::string head =
          "POST /api/v1/cases HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n";
      const std::string chunk = "100000\r\n" + std::string(0x100000, '{') + "\r\n";
      bool ok = ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) > 0;
      for (int i = 0; ok && i < mib; ++i) {
        size_t off = 0;
        while (ok && off < chunk.size()) {
          const ssize_t n = ::send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
          ok = n > 0;
          if (ok) off += static_cast<size_t>(n);
        }
        if (ok) ++sent_mib;
      }
      ::close(fd);
    });
  for (auto& t : senders) t.join();
  const double peak = tools::proc_status_kb(node->process.pid(), "VmHWM") / 1024.0;
  std::fprintf(stderr, "  %ld MiB were accepted by the socket before the node hung up\n",
               sent_mib.load());
  node->process.signal(SIGTERM);
  node->process.wait(std::chrono::seconds(10));
  return peak;
}

// The console's cold load from the node (bench/console_paint.mjs in headless Chromium):
// {first_paint_ms, ready_ms, bytes}, or null when Node.js or Chromium cannot run it.
json console_load(int port, const std::string& password) {
  const std::string cmd = std::string("'") + TONGBAN_NODE_JS + "' '" + TONGBAN_CONSOLE_PAINT +
                          "' http://127.0.0.1:" + std::to_string(port) + " clerk '" + password +
                          "' 5 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) return nullptr;
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int rc = ::pclose(pipe);
  const size_t line = out.rfind("{\"first_paint_ms\"");
  if (rc != 0 || line == std::string::npos) {
    std::fprintf(stderr, "  console load not measured: %s\n", out.c_str());
    return nullptr;
  }
  return json::parse(out.substr(line), nullptr, false);
}

// Cases/s through the node's own write path (CaseService, no HTTP) with the site's keyring
// sealing every event and, in another data dir of the same run, without one; runs
// alternate so drift in the disk's speed hits both alike. One durable commit per case (the
// HTTP path's shape), and 200 cases per commit (where the CPU cost of sealing shows).
struct SealedFigures {
  double sealed_cps = 0, plain_cps = 0, sealed_bulk_cps = 0, plain_bulk_cps = 0;
  double overhead_pct() const { return 100.0 * (plain_cps - sealed_cps) / plain_cps; }
  double bulk_overhead_pct() const {
    return 100.0 * (plain_bulk_cps - sealed_bulk_cps) / plain_bulk_cps;
  }
};

Result<SealedFigures> sealed_overhead(const std::filesystem::path& config,
                                      const std::filesystem::path& root, int cases) {
  auto district = load_district(config);
  if (!district.ok()) return district.status();
  const SiteConfig* site = district->site("S01");
  // As at a real site: every case key is also wrapped for the hub.
  district->box_keys[district->hub_id] = Keyring::generate("HUB", random_key(), 0).box().public_key;
  ManualClock clock(static_cast<Timestamp>(date_from_ymd(2026, 3, 2).days) * 86400 + 3600);
  struct Side {
    SigningKey key = SigningKey::generate();
    std::optional<Keyring> keys;
    std::unique_ptr<node::NodeStore> store;
    std::unique_ptr<node::CaseService> service;
    double one_s = 0, bulk_s = 0;
    int n = 0;
  };
  Side sealed, plain;
  sealed.keys.emplace(Keyring::generate("S01", random_key(), 0));
  for (Side* side : {&sealed, &plain}) {
    const auto dir = root / (side == &sealed ? "sealed" : "plain");
    auto st = node::NodeStore::open(dir, "S01", &side->key, *district, clock,
                                    side->keys ? &*side->keys : nullptr);
    if (!st.ok()) return st.status();
    side->store = std::move(*st);
    side->service = std::make_unique<node::CaseService>(*district, *site, *side->store, side->key);
  }
  const node::Actor clerk{"clerk", Role::kClerk, false, ""};
  const auto script = [&](Side& side) {
    ApplicationInput app;
    app.item_code = "RS001";
    app.applicant.set_name("测试申请人");
    app.applicant.set_id_number(resident_id(side.n++));
    app.applicant.set_phone("13912345678");
    app.provided = {"ID", "PHOTO"};
    return node::CaseService::Script{{clerk, Submit{app, AcceptInput{}}}};
  };
  const auto run = [&](Side& side, int batches, int per_batch, double& seconds) -> Status {
    const auto t0 = Clock::now();
    for (int b = 0; b < batches; ++b) {
      std::vector<node::CaseService::Script> batch;
      for (int i = 0; i < per_batch; ++i) batch.push_back(script(side));
      auto ids = side.service->bulk_create(batch);
      if (!ids.ok()) return ids.status();
    }
    seconds += ms_since(t0) / 1000;
    return Status::Ok();
  };
  constexpr int kRounds = 10;
  for (int r = 0; r < kRounds; ++r)
    for (Side* side : {&sealed, &plain}) {
      TB_RETURN_IF_ERROR(run(*side, cases / kRounds, 1, side->one_s));
      TB_RETURN_IF_ERROR(run(*side, 4, 200, side->bulk_s));
    }
  SealedFigures f;
  f.sealed_cps = cases / sealed.one_s;
  f.plain_cps = cases / plain.one_s;
  f.sealed_bulk_cps = kRounds * 800 / sealed.bulk_s;
  f.plain_bulk_cps = kRounds * 800 / plain.bulk_s;
  return f;
}

int run_bench_node(BenchOptions o) {
  if (o.node_bin.empty())
    o.node_bin = (tools::self_dir().parent_path() / "node" / "tongban-node").string();
  char tmpl[] = "/tmp/tongban-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return 2;
  const std::filesystem::path root(tmpl);
  const auto config = root / "site-config";
  const std::string password = random_token().substr(0, 20);
  const auto fail = [&](const Status& s) {
    std::cerr << "bench node: " << s.message_zh() << " / " << s.message_en() << "\n";
    return 2;
  };
  if (Status copied = copy_site_config(o.config_dir, config); !copied.ok()) {
    std::filesystem::remove_all(root);
    return fail(copied);
  }

  std::fprintf(stderr, "raw SQLite commits...\n");
  const double raw = raw_commits_per_s(root);
  std::fprintf(stderr, "sealing: the write path with and without the keyring...\n");
  auto sealing = sealed_overhead(config, root / "sealing", o.sealed_cases);
  if (!sealing.ok()) return fail(sealing.status());

  const auto live = root / "live";
  if (Status s = provision_site(config, live, "S01", password); !s.ok()) return fail(s);
  auto node = start_node(o, config, live);
  if (!node.ok()) return fail(node.status());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_rss_mb = tools::proc_status_kb(node->process.pid(), "VmRSS") / 1024.0;
  httplib::Client c("127.0.0.1", node->port);
  auto login = c.Post("/api/v1/login", json{{"username", "clerk"}, {"password", password}}.dump(),
                      "application/json");
  if (!login || login->status != 200) return fail(Status::Unavailable("login failed"));
  const std::string token = json::parse(login->body)["token"];
  std::fprintf(stderr, "load: %d cases from %d clients...\n", o.cases, o.clients);
  drive_load(node->port, token, 100, 1);  // warm-up
  const LoadResult load = drive_load(node->port, token, o.cases, o.clients);
  const double load_rss_mb = tools::proc_status_kb(node->process.pid(), "VmRSS") / 1024.0;
  // The high-water mark includes the login's Argon2id (64 MiB, freed right after).
  const double peak_rss_mb = tools::proc_status_kb(node->process.pid(), "VmHWM") / 1024.0;
  std::fprintf(stderr, "console: cold loads of the clerk's queue page in headless Chromium...\n");
  const json console = console_load(node->port, password);
  const auto console_figure = [&](const char* key) -> json {
    return console.is_object() && console.contains(key) ? console[key] : json(nullptr);
  };
  std::fprintf(stderr, "load beside %d slow-drip connections...\n", o.slow_clients);
  const LoadResult slow = load_beside_slow_clients(node->port, token, o.slow_clients, 1000);
  node->process.signal(SIGTERM);
  node->process.wait(std::chrono::seconds(10));

  std::fprintf(stderr, "%d unauthenticated chunked uploads of %d MiB...\n", o.uploads,
               o.upload_mib);
  const auto fresh = root / "fresh";
  if (Status s = provision_site(config, fresh, "S01", password); !s.ok()) return fail(s);
  auto unauth_peak = unauthenticated_upload_peak_mb(o, config, fresh, o.uploads, o.upload_mib);
  if (!unauth_peak.ok()) return fail(unauth_peak.status());

  std::fprintf(stderr, "building a %ld-event log...\n", o.log_events);
  const auto big = root / "big";
  if (Status s = provision_site(config, big, "S01", password); !s.ok()) return fail(s);
  const auto fill_t0 = Clock::now();
  if (auto s = fill_log(config, big, "S01", o.log_events, true); !s.ok()) return fail(s.status());
  const double fill_s = ms_since(fill_t0) / 1000;
  std::vector<double> starts;
  for (int i = 0; i < o.cold_runs; ++i) {
    auto ms = cold_start_ms(o, config, big);
    if (!ms.ok()) return fail(ms.status());
    starts.push_back(*ms);
  }
  std::sort(starts.begin(), starts.end());
  const double cold = starts[starts.size() / 2];
  auto big_node = start_node(o, config, big);
  if (!big_node.ok()) return fail(big_node.status());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle_rss_1m_mb = tools::proc_status_kb(big_node->process.pid(), "VmRSS") / 1024.0;
  big_node->process.signal(SIGTERM);
  big_node->process.wait(std::chrono::seconds(10));
  std::filesystem::remove_all(root);

  std::printf(
      "tongban bench node (2 events per case: submitted + accepted, one durable commit each)\n");
  std::printf("%-44s %12s %12s\n", "figure", "value", "target");
  std::printf("%-44s %12.0f %12s\n", "raw SQLite commits/s (1 row/txn, FULL)", raw, "-");
  std::printf("%-44s %12.0f %12s\n", "cases/s via HTTP, durable", load.cases_per_s, "-");
  std::printf("%-44s %12.0f %12s\n", "cases/s, write path, sealed (1 case/commit)",
              sealing->sealed_cps, "-");
  std::printf("%-44s %12.0f %12s\n", "cases/s, write path, not sealed", sealing->plain_cps, "-");
  std::printf("%-44s %12.1f %12s\n", "sealing overhead %", sealing->overhead_pct(), "<= 15");
  std::printf("%-44s %12.0f %12s\n", "cases/s sealed, 200 cases/commit", sealing->sealed_bulk_cps,
              "-");
  std::printf("%-44s %12.0f %12s\n", "cases/s not sealed, 200 cases/commit",
              sealing->plain_bulk_cps, "-");
  std::printf("%-44s %12.1f %12s\n", "sealing overhead % at 200 cases/commit",
              sealing->bulk_overhead_pct(), "-");
  std::printf("%-44s %12.2f %12s\n", "p50 latency ms", load.p50_ms, "-");
  std::printf("%-44s %12.2f %12s\n", "p99 latency ms", load.p99_ms, "< 10");
  std::printf("%-44s %12.2f %12s\n", "max latency ms", load.max_ms, "-");
  std::printf("%-44s %12d %12s\n", "failed requests", load.errors, "0");
  std::printf("%-44s %12.1f %12s\n", "idle RSS MB (fresh node)", idle_rss_mb, "< 30");
  std::printf("%-44s %12.1f %12s\n", "RSS MB right after the load", load_rss_mb, "-");
  std::printf("%-44s %12.1f %12s\n", "peak RSS MB (incl. Argon2id login, 64 MiB)", peak_rss_mb,
              "-");
  std::printf("%-44s %12.2f %12s\n", "p99 ms beside slow-drip connections", slow.p99_ms, "< 100");
  std::printf("%-44s %12d %12s\n", "  slow-drip connections attempted", o.slow_clients, "500");
  std::printf("%-44s %12d %12s\n", "  failed requests beside them", slow.errors, "0");
  std::printf("%-44s %12.1f %12s\n", "peak RSS MB beside unauthenticated uploads", *unauth_peak,
              "< 64");
  const auto print_json = [](const char* what, const json& v, const char* target) {
    std::printf("%-44s %12s %12s\n", what, v.is_null() ? "n/a" : v.dump().c_str(), target);
  };
  print_json("console first paint ms (cold, median of 5)", console_figure("first_paint_ms"),
             "< 1000");
  print_json("console queue shown ms (cold, median of 5)", console_figure("ready_ms"), "-");
  print_json("console bytes for the first page", console_figure("bytes"), "< 1.5 MB");
  std::printf("%-44s %12ld %12s\n", "events in cold-start log", o.log_events, "1000000");
  std::printf("%-44s %12.1f %12s\n", "log build s (bulk, 1000 events/txn)", fill_s, "-");
  std::printf("%-44s %12.1f %12s\n", "cold start ms (median, exec to healthz)", cold, "< 300");
  std::printf("%-44s %12.1f %12s\n", "idle RSS MB with that log", idle_rss_1m_mb, "< 30");
  const json figures = {{"cases_per_s", load.cases_per_s},
                        {"p50_ms", load.p50_ms},
                        {"p99_ms", load.p99_ms},
                        {"max_ms", load.max_ms},
                        {"failed_requests", load.errors},
                        {"idle_rss_mb", idle_rss_mb},
                        {"load_rss_mb", load_rss_mb},
                        {"peak_rss_mb", peak_rss_mb},
                        {"cold_start_ms", cold},
                        {"cold_start_events", o.log_events},
                        {"idle_rss_1m_mb", idle_rss_1m_mb},
                        {"raw_commits_per_s", raw},
                        {"slow_clients_ok_p99_ms", slow.p99_ms},
                        {"slow_clients", o.slow_clients},
                        {"unauth_peak_rss_mb", *unauth_peak},
                        {"console_first_paint_ms", console_figure("first_paint_ms")},
                        {"console_ready_ms", console_figure("ready_ms")},
                        {"console_bytes", console_figure("bytes")},
                        {"sealed_cases_per_s", sealing->sealed_cps},
                        {"unsealed_cases_per_s", sealing->plain_cps},
                        {"sealed_overhead_pct", sealing->overhead_pct()},
                        {"sealed_overhead_bulk_pct", sealing->bulk_overhead_pct()},
                        {"clients", o.clients}};
  std::printf("%s\n", figures.dump().c_str());
  return load.errors == 0 && slow.errors == 0 ? 0 : 1;
}

}  // namespace

void add_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "性能基准 / benchmarks");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();
  CLI::App* node = bench->add_subcommand(
      "node", "节点吞吐、延迟、内存与冷启动 / node throughput, latency, memory, cold start");
  node->add_option("--site-config", o->config_dir, "站点配置目录 / site-config directory");
  node->add_option("--node-bin", o->node_bin, "tongban-node 路径 / path to tongban-node");
  node->add_option("--sealed-cases", o->sealed_cases,
                   "加密开销测量的案件数（每侧）/ cases per side for the sealing overhead")
      ->check(CLI::Range(100, 1000000));
  node->add_option("--cases", o->cases, "案件数 / cases to submit")
      ->check(CLI::Range(10, 10000000));
  node->add_option("--clients", o->clients, "并发客户端 / concurrent clients")
      ->check(CLI::Range(1, 64));
  node->add_option("--events", o->log_events, "冷启动日志事件数 / events in the cold-start log")
      ->check(CLI::Range(5L, 100000000L));
  node->add_option("--cold-runs", o->cold_runs, "冷启动测量次数 / cold-start runs")
      ->check(CLI::Range(1, 50));
  node->add_option("--slow-clients", o->slow_clients,
                   "慢速连接数 / slow-drip connections beside the load")
      ->check(CLI::Range(0, 2000));
  node->add_option("--uploads", o->uploads, "未认证上传数 / parallel unauthenticated uploads")
      ->check(CLI::Range(1, 100));
  node->add_option("--upload-mib", o->upload_mib, "每个上传的MiB / MiB per upload")
      ->check(CLI::Range(1, 4096));
  node->callback([o] { exit_code() = run_bench_node(*o); });
  add_bench_sync(*bench);
  add_bench_hub(*bench);
}

}  // namespace tongban::cli
