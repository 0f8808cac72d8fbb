// tongban bench sync: hub and nodes as separate processes on loopback, durable on both
// ends: one node's catch-up of a large unsynced log, live latency from append at the node
// to commit at the hub, 20 nodes at once, 20 simultaneous CURVE reconnects, hand-overs
// with 20 live nodes, directives streamed to one node (跨区通办) and 20 MiB documents
// node -> hub (电子材料) — beside the raw limits (CURVE DEALER->ROUTER transport, batched SQLite append) measured in the
// same run for the same event size.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "../cli/commands.h"
#include "bench_support.h"
#include "tongban/faultproxy/fault_proxy.h"
#include "tongban/hub/hub_service.h"
#include "tongban/node/store.h"
#include "tongban/shared/config.h"
#include "tongban/shared/documents.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/replica.h"
#include "tongban/sync/transport.h"

namespace tongban::cli {

namespace {

using namespace tongban::bench;
using nlohmann::json;

struct SyncBenchOptions {
  std::string config_dir = "site-config";
  std::string bin_dir;
  long catchup_events = 1000000;
  long per_node_events = 50000;
  int live_seconds = 5;
  int live_events_per_s = 1000;
  int beside_catchup_events_per_s = 100;  // S02's live load while S01 catches up
  int handoffs = 100;                       // hand-overs timed with 20 live nodes
  // Hand-overs queued for one node's stream: enough that the link's opening (the first
  // acknowledgement, about 0.2 s) is a small part of the timed run.
  long directive_cases = 20000;
  int documents = 5;                        // 20 MiB files node -> hub
  bool documents_only = false;              // run the documents figure alone
};

// Watches a hub's chain heads with one read connection.
class HeadWatcher {
 public:
  explicit HeadWatcher(const std::filesystem::path& hub_db) {
    auto db = Db::open(hub_db, Db::Options{false, true, 5000});
    if (db.ok()) db_ = std::make_unique<Db>(std::move(*db));
  }
  uint64_t held(const std::string& origin) {
    if (!db_) return 0;
    auto h = sync::Replica(*db_).head(origin);
    return h.ok() ? h->seq : 0;
  }
  // How far the hub's projection (case index, 电子监察, dispatch) has followed.
  uint64_t projected(const std::string& origin) {
    if (!db_) return 0;
    auto stmt = db_->cached("SELECT seq FROM projected WHERE origin=?1");
    if (!stmt.ok()) return 0;
    stmt->bind(1, origin);
    auto row = stmt->step();
    const uint64_t seq = row.ok() && *row ? static_cast<uint64_t>(stmt->int_at(0)) : 0;
    stmt->reset();
    return seq;
  }

 private:
  std::unique_ptr<Db> db_;
};

struct Scratch {
  std::filesystem::path root, config;
  std::string password = random_token().substr(0, 20);
};

Result<Scratch> make_scratch(const std::string& config_dir, const std::string& name) {
  Scratch s;
  char tmpl[] = "/tmp/tongban-bench-sync-XXXXXX";
  if (!mkdtemp(tmpl)) return Status::Unavailable("mkdtemp");
  s.root = std::filesystem::path(tmpl) / name;
  s.config = s.root / "site-config";
  std::filesystem::create_directories(s.root);
  TB_RETURN_IF_ERROR(copy_site_config(config_dir, s.config));
  std::filesystem::remove_all(s.config / "keys");
  return s;
}

Result<Daemon> start_hub(const SyncBenchOptions& o, const Scratch& s, int sync_port = 0) {
  const auto data = s.root / "HUB";
  std::filesystem::remove(data / "sync.port");
  return start_daemon({o.bin_dir + "/hub/tongban-hub", "--site-config", s.config.string(), "--data",
                       data.string(), "--sync", "tcp://127.0.0.1:" + std::to_string(sync_port),
                       "--port-file", (data / "http.port").string(), "--sync-port-file",
                       (data / "sync.port").string(), "--log-level", "warn", "--key-file",
                       kek_file(data).string()},
                      data / "http.port", data / "hub.log");
}

int read_port(const std::filesystem::path& file) {
  std::ifstream in(file);
  int p = 0;
  in >> p;
  return p;
}

Result<Daemon> start_node(const SyncBenchOptions& o, const Scratch& s, const std::string& site, int sync_port) {
  const auto data = s.root / site;
  return start_daemon({o.bin_dir + "/node/tongban-node", "--site-config", s.config.string(), "--site", site,
                       "--data", data.string(), "--port-file", (data / "http.port").string(), "--hub",
                       "tcp://127.0.0.1:" + std::to_string(sync_port), "--log-level", "warn",
                       "--key-file", kek_file(data).string()},
                      data / "http.port", data / "node.log");
}

size_t mean_wire_event_bytes(const std::filesystem::path& node_db, const std::string& site) {
  auto db = Db::open(node_db);
  if (!db.ok()) return 400;
  auto events = sync::Replica(*db).read(site, 1, 1000);
  if (!events.ok() || events->empty()) return 400;
  size_t total = 0;
  for (const sync::Event& e : *events) total += sync::to_wire(e).ByteSizeLong();
  return total / events->size();
}

// 20 DEALERs with 20 sites' keys connect at once; time until every one is welcomed.
Result<double> reconnect_all(const Scratch& s, const std::vector<std::string>& sites, int sync_port) {
  auto keys = load_public_keys(s.config, {"HUB"});
  if (!keys.ok() || !keys->count("HUB")) return Status::NotFound("no_hub_key", "无中心公钥", "no hub key");
  const CurveKey server = *curve_public_from(keys->at("HUB"));
  zmq::context_t ctx(2);
  std::vector<std::unique_ptr<zmq::socket_t>> socks;
  std::vector<SigningKey> site_keys;
  for (const std::string& site : sites) {
    auto k = SigningKey::load(s.root / site / node::NodeStore::kKeyFile);
    if (!k.ok()) return k.status();
    site_keys.push_back(*k);
  }
  const auto t0 = SteadyClock::now();
  for (size_t i = 0; i < sites.size(); ++i) {
    const CurveKeypair c = site_keys[i].curve_keypair();
    auto sock = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
    sock->set(zmq::sockopt::linger, 0);
    sock->set(zmq::sockopt::routing_id, sites[i]);
    sock->set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server.data(), 32));
    sock->set(zmq::sockopt::curve_publickey, zmq::const_buffer(c.public_key.data(), 32));
    sock->set(zmq::sockopt::curve_secretkey, zmq::const_buffer(c.secret_key.data(), 32));
    sock->connect("tcp://127.0.0.1:" + std::to_string(sync_port));
    pb::Envelope hello;
    hello.mutable_hello()->set_site(sites[i]);
    sock->send(sync::encode(hello), zmq::send_flags::none);
    socks.push_back(std::move(sock));
  }
  size_t welcomed = 0;
  std::vector<bool> done(sites.size(), false);
  while (welcomed < sites.size() && ms_since(t0) < 30000) {
    std::vector<zmq::pollitem_t> items;
    for (auto& sock : socks) items.push_back({sock->handle(), 0, ZMQ_POLLIN, 0});
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    for (size_t i = 0; i < socks.size(); ++i) {
      if (done[i] || !(items[i].revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      (void)socks[i]->recv(m);
      const auto env = sync::decode(m);
      if (env && env->has_welcome()) {
        done[i] = true;
        ++welcomed;
      }
    }
  }
  if (welcomed < sites.size()) return Status::Unavailable("not every site was welcomed");
  return ms_since(t0) / 1000.0;
}

// Submits cases to one node at a steady rate until told to stop (or for `seconds`), and
// times each from the node's 201 (after its commit) to the hub holding its last event.
class LiveProbe {
 public:
  LiveProbe(int node_port, const std::string& password, std::string site, std::filesystem::path hub_db,
            int events_per_s)
      : port_(node_port), password_(password), site_(std::move(site)), hub_db_(std::move(hub_db)),
        events_per_s_(events_per_s) {}

  // Blocks until `stop` is set or `seconds` pass, then until the hub holds every case sent.
  Result<std::vector<double>> run(const std::atomic<bool>& stop, double seconds) {
    httplib::Client c("127.0.0.1", port_);
    c.set_tcp_nodelay(true);
    auto health = c.Get("/api/v1/healthz");
    if (!health || health->status != 200) return Status::Unavailable("healthz failed");
    uint64_t seq = json::parse(health->body)["head_seq"].get<uint64_t>();
    auto login = c.Post("/api/v1/login", json{{"username", "clerk"}, {"password", password_}}.dump(),
                        "application/json");
    if (!login || login->status != 200) return Status::Unavailable("login failed");
    const httplib::Headers h = {
        {"Authorization", "Bearer " + json::parse(login->body)["token"].get<std::string>()}};
    std::map<uint64_t, SteadyClock::time_point> appended, committed;
    std::mutex mu;
    std::atomic<bool> stop_watch{false};
    std::thread watcher([&] {
      HeadWatcher w(hub_db_);
      while (!stop_watch) {
        const uint64_t held = w.held(site_);
        const auto now = SteadyClock::now();
        {
          std::lock_guard lock(mu);
          for (auto& [s, t] : appended)
            if (s <= held && !committed.count(s)) committed[s] = now;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    const auto t0 = SteadyClock::now();
    Status failed = Status::Ok();
    for (int i = 0; !stop && ms_since(t0) < seconds * 1000; ++i) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(static_cast<int64_t>(i * 2e6 / events_per_s_)));
      json app = {{"item_code", "RS001"},
                  {"applicant", {{"name", "测试"}, {"id_number", resident_id(500000 + i)}, {"phone", "13912345678"}}},
                  {"provided", {"ID", "PHOTO"}},
                  {"accept", json::object()}};
      auto r = c.Post("/api/v1/cases", h, app.dump(), "application/json");
      if (!r || r->status != 201) {
        failed = Status::Unavailable("live submission failed");
        break;
      }
      seq += 2;  // submitted + accepted
      std::lock_guard lock(mu);
      appended[seq] = SteadyClock::now();
    }
    for (const auto t1 = SteadyClock::now(); failed.ok();) {
      {
        std::lock_guard lock(mu);
        if (committed.size() == appended.size()) break;
      }
      if (ms_since(t1) > 60000) failed = Status::Unavailable("the hub did not receive the live cases");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop_watch = true;
    watcher.join();
    if (!failed.ok()) return failed;
    std::vector<double> ms;
    for (auto& [k, t] : appended)
      ms.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(committed[k] - t).count()));
    return ms;
  }

 private:
  int port_;
  std::string password_, site_;
  std::filesystem::path hub_db_;
  int events_per_s_;
};

// One HTTP session on a daemon (clerk at a node, operator at the hub).
Result<httplib::Headers> session(int port, const std::string& user, const std::string& password) {
  httplib::Client c("127.0.0.1", port);
  auto login = c.Post("/api/v1/login", json{{"username", user}, {"password", password}}.dump(),
                      "application/json");
  if (!login || login->status != 200) return Status::Unavailable("login failed for " + user);
  return httplib::Headers{
      {"Authorization", "Bearer " + json::parse(login->body)["token"].get<std::string>()}};
}

// Hand-over latency with every node live: an operator's POST /handover until the new
// owner's case.received (it holds the full history) is durable at the hub.
Result<std::vector<double>> time_handoffs(const Scratch& d, int node_port, int hub_port,
                                          const std::vector<std::string>& targets, int count) {
  auto clerk = session(node_port, "clerk", d.password);
  if (!clerk.ok()) return clerk.status();
  auto op = session(hub_port, "operator", d.password);
  if (!op.ok()) return op.status();
  httplib::Client node("127.0.0.1", node_port), hub("127.0.0.1", hub_port);
  node.set_tcp_nodelay(true);
  hub.set_tcp_nodelay(true);
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    json app = {{"item_code", "RS001"},
                {"applicant", {{"name", "测试"}, {"id_number", resident_id(700000 + i)}, {"phone", "13912345678"}}},
                {"provided", {"ID", "PHOTO"}},
                {"accept", json::object()}};
    auto r = node.Post("/api/v1/cases", *clerk, app.dump(), "application/json");
    if (!r || r->status != 201) return Status::Unavailable("case for the hand-over failed");
    ids.push_back(json::parse(r->body)["case_id"]);
  }
  auto db = Db::open(d.root / "HUB" / "hub.db", Db::Options{false, true, 5000});
  if (!db.ok()) return db.status();
  const auto held = [&](const std::string& sql, const std::string& a, const std::string& b) {
    auto stmt = db->prepare(sql);
    if (!stmt.ok()) return false;
    stmt->bind(1, a).bind(2, b);
    auto row = stmt->step();
    return row.ok() && *row;
  };
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const std::string& id = ids[i];
    const auto t_case = SteadyClock::now();
    while (!held("SELECT 1 FROM cases WHERE case_id=?1 AND origin=?2", id, "S01")) {
      if (ms_since(t_case) > 60000) return Status::Unavailable("the hub did not receive " + id);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const std::string& to = targets[i % targets.size()];
    const auto t0 = SteadyClock::now();
    auto r = hub.Post("/api/v1/cases/" + id + "/handover", *op,
                      json{{"to", to}, {"reason", "基准测试移交"}}.dump(), "application/json");
    if (!r || r->status != 200) return Status::Unavailable("hand-over of " + id + " refused");
    while (!held("SELECT 1 FROM events WHERE case_id=?1 AND origin=?2 AND kind='case.received'",
                 id, to)) {
      if (ms_since(t0) > 60000) return Status::Unavailable(to + " never received " + id);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ms.push_back(ms_since(t0));
  }
  return ms;
}

// Directives from the hub to one node, durable on both ends: `cases` open cases of S02 are
// handed to S01 through the hub's own code while the hub is down; then hub and S01 start,
// S01's link held shut (a stalled proxy) until both are up, and S01 drains its stream.
// Timed from the link opening (so the CURVE handshake and Hello count, the processes'
// start and key unsealing do not) to the hub recording S01's DeliveryAck of the last one
// (S01 acknowledges only after its commit). The proxy stays in the path: its relay thread
// (in this process) takes a little of the two cores and is in neither CPU figure.
struct DirectiveFigures {
  uint64_t directives = 0;
  double seconds = 0;
  // Of `seconds`, until the hub recorded the first DeliveryAck: the CURVE handshake, Hello
  // and Welcome, and the first delivery (polled every 5 ms).
  double first_ack_ms = 0;
  uint64_t first_acked = 0;  // how many that first acknowledgement covered
  // CPU used meanwhile per directive, µs: the node's, and the hub's (which also projects
  // the new owner's Received events and tells the former owner of them).
  double node_cpu_us = 0, hub_cpu_us = 0;
  // Of those, the busiest single thread's (a pipeline stage runs on one thread: its CPU per
  // directive bounds the rate however many cores the process had).
  double node_thread_us = 0, hub_thread_us = 0;
};
Result<DirectiveFigures> time_directives(const SyncBenchOptions& o, long cases) {
  auto s = make_scratch(o.config_dir, "directives");
  if (!s.ok()) return s.status();
  TB_RETURN_IF_ERROR(provision_hub(s->config, s->root / "HUB", s->password));
  for (const char* site : {"S01", "S02"})
    TB_RETURN_IF_ERROR(provision_site(s->config, s->root / site, site, s->password));
  std::fprintf(stderr, "queueing %ld hand-overs to S01...\n", cases);
  auto head = fill_log(s->config, s->root / "S02", "S02", cases * 2, false, Fill::kOpen);
  if (!head.ok()) return head.status();
  DirectiveFigures out;
  {
    auto district = load_district(s->config);
    if (!district.ok()) return district.status();
    auto hub_key = SigningKey::load(s->root / "HUB" / "hub.key");
    auto s02_key = SigningKey::load(s->root / "S02" / node::NodeStore::kKeyFile);
    if (!hub_key.ok() || !s02_key.ok()) return Status::Unavailable("keys");
    SystemClock clock;
    auto hub_keys = bench_keyring(s->root / "HUB", district->hub_id);
    if (!hub_keys.ok()) return hub_keys.status();
    auto hub = hub::HubService::open(*district, s->root / "HUB", *hub_key, clock, &*hub_keys);
    if (!hub.ok()) return hub.status();
    auto db = Db::open(s->root / "S02" / node::NodeStore::kDbFile);
    if (!db.ok()) return db.status();
    auto events = sync::Replica(*db).read("S02", 1, *head);
    if (!events.ok()) return events.status();
    pb::Bundle bundle;
    *bundle.mutable_batch() = sync::make_batch(*events, *s02_key);
    auto imported = (*hub)->import_bundle(
        seal(bundle.SerializeAsString(), *curve_public_from(hub_key->public_key())));
    if (!imported.ok()) return imported.status();
    for (const sync::Event& e : *events) {
      if (e.kind != "case.submitted") continue;
      auto moved = (*hub)->hand_over(e.case_id, "S01", "基准测试", "bench");
      if (!moved.ok()) return moved.status();
    }
  }
  out.directives = held_seq(s->root / "HUB" / "hub.db", sync::stream_origin("S01"));
  auto hub = start_hub(o, *s);
  if (!hub.ok()) return hub.status();
  const int sync_port = read_port(s->root / "HUB" / "sync.port");
  auto hub_db = Db::open(s->root / "HUB" / "hub.db", Db::Options{false, true, 5000});
  if (!hub_db.ok()) return hub_db.status();
  const auto delivered = [&]() -> uint64_t {
    auto stmt = hub_db->prepare("SELECT delivered_seq FROM site_state WHERE site='S01'");
    if (!stmt.ok()) return 0;
    auto row = stmt->step();
    return row.ok() && *row ? static_cast<uint64_t>(stmt->int_at(0)) : 0;
  };
  auto link = tools::FaultProxy::start(sync_port);
  if (!link.ok()) return link.status();
  (*link)->set_flow(tools::Flow::kStall);
  auto node = start_node(o, *s, "S01", (*link)->port());
  if (!node.ok()) return node.status();
  const double hub_cpu0 = tools::proc_cpu_seconds(hub->process.pid());
  const double node_cpu0 = tools::proc_cpu_seconds(node->process.pid());
  const auto hub_threads0 = tools::thread_cpu_seconds(hub->process.pid());
  const auto node_threads0 = tools::thread_cpu_seconds(node->process.pid());
  const auto t0 = SteadyClock::now();
  (*link)->set_flow(tools::Flow::kRelay);
  for (uint64_t held = 0; (held = delivered()) < out.directives;) {
    if (ms_since(t0) > 600000) return Status::Unavailable("the directives were not delivered");
    if (held > 0 && out.first_ack_ms == 0) {
      out.first_ack_ms = ms_since(t0);
      out.first_acked = held;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  out.seconds = ms_since(t0) / 1000.0;
  if (out.first_ack_ms == 0) {  // all in the first look
    out.first_ack_ms = out.seconds * 1000.0;
    out.first_acked = out.directives;
  }
  const double per = 1e6 / static_cast<double>(std::max<uint64_t>(out.directives, 1));
  out.node_cpu_us = (tools::proc_cpu_seconds(node->process.pid()) - node_cpu0) * per;
  out.hub_cpu_us = (tools::proc_cpu_seconds(hub->process.pid()) - hub_cpu0) * per;
  out.node_thread_us =
      tools::busiest_thread_seconds(node_threads0, tools::thread_cpu_seconds(node->process.pid())) *
      per;
  out.hub_thread_us =
      tools::busiest_thread_seconds(hub_threads0, tools::thread_cpu_seconds(hub->process.pid())) *
      per;
  node->process.signal(SIGTERM);
  node->process.wait(std::chrono::seconds(10));
  hub->process.signal(SIGTERM);
  hub->process.wait(std::chrono::seconds(10));
  if (held_seq(s->root / "S01" / node::NodeStore::kDbFile, sync::stream_origin("S01")) <
      out.directives)
    return Status::Corruption("the hub recorded deliveries the node does not hold");
  if (!std::getenv("TONGBAN_BENCH_KEEP")) std::filesystem::remove_all(s->root.parent_path());
  return out;
}

// 电子材料: `docs` files of 20 MiB uploaded at S01 while the hub is down, then the hub
// starts; seconds until every file is complete (every chunk durable, checked with the case
// key and the whole hash) at the hub.
struct DocFigures {
  double seconds = 0;
  double megabytes = 0;
};

Result<DocFigures> time_documents(const SyncBenchOptions& o, int docs) {
  auto s = make_scratch(o.config_dir, "documents");
  if (!s.ok()) return s.status();
  TB_RETURN_IF_ERROR(provision_hub(s->config, s->root / "HUB", s->password));
  TB_RETURN_IF_ERROR(provision_site(s->config, s->root / "S01", "S01", s->password));
  int sync_port = 0;
  {
    auto probe = start_hub(o, *s);  // learns a free port the hub can bind again
    if (!probe.ok()) return probe.status();
    sync_port = read_port(s->root / "HUB" / "sync.port");
    probe->process.signal(SIGTERM);
    probe->process.wait(std::chrono::seconds(10));
  }
  auto node = start_node(o, *s, "S01", sync_port);
  if (!node.ok()) return node.status();
  auto clerk = session(node->port, "clerk", s->password);
  if (!clerk.ok()) return clerk.status();
  httplib::Client c("127.0.0.1", node->port);
  c.set_read_timeout(120, 0);
  c.set_write_timeout(120, 0);
  json app = {{"item_code", "RS001"},
              {"applicant", {{"name", "测试"}, {"id_number", "11010519491231002X"}, {"phone", "13800138000"}}},
              {"provided", {"ID", "PHOTO"}},
              {"accept", json::object()}};
  auto created = c.Post("/api/v1/cases", *clerk, app.dump(), "application/json");
  if (!created || created->status != 201) return Status::Unavailable("bench case not created");
  const std::string id = json::parse(created->body)["case_id"];
  std::mt19937_64 rng(20261130);
  double megabytes = 0;
  for (int i = 0; i < docs; ++i) {
    std::string pdf = "%PDF-1.7\n";
    pdf.resize(kMaxDocumentBytes - 8);
    for (size_t k = 9; k + 8 <= pdf.size(); k += 8) {
      const uint64_t r = rng();
      std::memcpy(pdf.data() + k, &r, 8);
    }
    pdf += "\n%%EOF\n";
    pdf.resize(kMaxDocumentBytes);
    auto up = c.Post("/api/v1/cases/" + id + "/documents?material=ID&name=scan" + std::to_string(i) + ".pdf",
                     *clerk, pdf, "application/pdf");
    if (!up || up->status != 201)
      return Status::Unavailable("upload failed: " + (up ? up->body : std::string("no answer")));
    megabytes += pdf.size() / 1e6;
  }
  auto hub = start_hub(o, *s, sync_port);
  if (!hub.ok()) return hub.status();
  // The clock starts once the link is up (the hub holds the site's events): the node's
  // reconnect backoff while the hub was down is not the documents' time.
  HeadWatcher watch(s->root / "HUB" / "hub.db");
  const auto linked = SteadyClock::now();
  while (watch.held("S01") == 0) {
    if (ms_since(linked) > 60000) return Status::Unavailable("S01 did not reach the hub");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto t0 = SteadyClock::now();
  auto db = Db::open(s->root / "HUB" / "hub.db", Db::Options{false, true, 5000});
  if (!db.ok()) return db.status();
  for (;;) {
    auto stmt = db->prepare("SELECT count(*) FROM documents WHERE state=1");
    if (stmt.ok() && *stmt->step() && stmt->int_at(0) >= docs) break;
    if (ms_since(t0) > 600000) return Status::Unavailable("documents did not reach the hub in 10 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  DocFigures out{ms_since(t0) / 1000.0, megabytes};
  node->process.signal(SIGTERM);
  node->process.wait(std::chrono::seconds(10));
  hub->process.signal(SIGTERM);
  hub->process.wait(std::chrono::seconds(10));
  std::filesystem::remove_all(s->root.parent_path());
  return out;
}

int run_bench_sync(SyncBenchOptions o) {
  if (o.bin_dir.empty()) o.bin_dir = tools::self_dir().parent_path().string();
  const auto fail = [](const Status& s) {
    std::cerr << "bench sync: " << s.message_en() << "\n";
    return 2;
  };
  if (o.documents_only) {
    auto documents = time_documents(o, o.documents);
    if (!documents.ok()) return fail(documents.status());
    const double raw_mb = raw_curve_msgs_per_s(kDocChunkBytes, 400) * kDocChunkBytes / 1e6;
    const double mb = documents->megabytes / documents->seconds;
    std::printf("%-52s %14.0f %12s\n", "raw CURVE DEALER->ROUTER MB/s (1 MiB frames)", raw_mb, "-");
    std::printf("%-52s %14.1f %12s\n", "documents node -> hub MB/s (20 MiB files, durable)", mb, ">= 50");
    std::printf("%s\n", json{{"doc_mb_per_s", mb}, {"doc_seconds", documents->seconds},
                             {"raw_curve_mb_per_s", raw_mb}}.dump().c_str());
    return 0;
  }
  auto s = make_scratch(o.config_dir, "one");
  if (!s.ok()) return fail(s.status());
  if (Status st = provision_hub(s->config, s->root / "HUB", s->password); !st.ok()) return fail(st);
  for (const char* site : {"S01", "S02"})
    if (Status st = provision_site(s->config, s->root / site, site, s->password); !st.ok()) return fail(st);

  // 1. Catch-up: a node with a large unsynced log meets the hub.
  std::fprintf(stderr, "filling S01 with %ld events...\n", o.catchup_events);
  auto head = fill_log(s->config, s->root / "S01", "S01", o.catchup_events, true);
  if (!head.ok()) return fail(head.status());
  const size_t event_bytes = mean_wire_event_bytes(s->root / "S01" / "node.db", "S01");
  std::fprintf(stderr, "raw limits (%zu-byte events)...\n", event_bytes);
  const double raw_curve = raw_curve_msgs_per_s(event_bytes, 200000);
  const double raw_append = raw_batched_appends_per_s(s->root, event_bytes, 300000);
  const double raw_pipeline = std::min(raw_curve, raw_append);

  auto hub = start_hub(o, *s);
  if (!hub.ok()) return fail(hub.status());
  const int sync_port = read_port(s->root / "HUB" / "sync.port");
  HeadWatcher watch(s->root / "HUB" / "hub.db");
  // S02 is live while S01 catches up: the hub must not starve it.
  auto other = start_node(o, *s, "S02", sync_port);
  if (!other.ok()) return fail(other.status());
  std::atomic<bool> caught_up{false};
  Result<std::vector<double>> during = Status::Unavailable("not run");
  std::thread other_live([&] {
    LiveProbe probe(other->port, s->password, "S02", s->root / "HUB" / "hub.db",
                    o.beside_catchup_events_per_s);
    during = probe.run(caught_up, 600);
  });
  std::fprintf(stderr, "catch-up of %lu events, S02 live beside it...\n", static_cast<unsigned long>(*head));
  const auto t0 = SteadyClock::now();
  auto node = start_node(o, *s, "S01", sync_port);
  if (!node.ok()) {
    caught_up = true;
    other_live.join();
    return fail(node.status());
  }
  double peak_rss_mb = 0;
  bool timed_out = false;
  while (watch.held("S01") < *head) {
    peak_rss_mb = std::max(peak_rss_mb, tools::proc_status_kb(node->process.pid(), "VmRSS") / 1024.0);
    if ((timed_out = ms_since(t0) > 600000)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double catchup_s = ms_since(t0) / 1000.0;
  caught_up = true;
  other_live.join();
  if (timed_out) return fail(Status::Unavailable("catch-up did not finish in 10 minutes"));
  // The projection follows storage: how long until the hub's view shows all of it.
  while (watch.projected("S01") < *head && ms_since(t0) < 600000)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double catchup_projected_s = ms_since(t0) / 1000.0;
  if (!during.ok()) return fail(during.status());
  peak_rss_mb = std::max(peak_rss_mb, tools::proc_status_kb(node->process.pid(), "VmHWM") / 1024.0);
  const double events_per_s = *head / catchup_s;

  // 2. Live alone: cases at a steady rate; append (HTTP 201 after the node's commit) to commit at the hub.
  std::fprintf(stderr, "live latency at %d events/s...\n", o.live_events_per_s);
  const std::atomic<bool> never{false};
  auto live_ms = LiveProbe(node->port, s->password, "S01", s->root / "HUB" / "hub.db", o.live_events_per_s)
                     .run(never, o.live_seconds);
  if (!live_ms.ok()) return fail(live_ms.status());
  other->process.signal(SIGTERM);
  other->process.wait(std::chrono::seconds(10));
  node->process.signal(SIGTERM);
  node->process.wait(std::chrono::seconds(10));

  // 2b. S01's PC is replaced: `tongban restore --from-hub` into an empty directory, from
  // exec to exit (fetch, verify, store, case keys, projections).
  std::fprintf(stderr, "restoring S01 (%lu events) from the hub...\n",
               static_cast<unsigned long>(watch.held("S01")));
  double restore_s = -1;
  {
    httplib::Client c("127.0.0.1", hub->port);
    auto login = c.Post("/api/v1/login", json{{"username", "operator"}, {"password", s->password}}.dump(),
                        "application/json");
    if (!login || login->status != 200) return fail(Status::Unavailable("hub login failed"));
    const std::string token = json::parse(login->body)["token"];
    const auto restored = s->root / "S01-restored";
    const auto t_restore = SteadyClock::now();
    auto child = tools::ChildProcess::spawn(
        {(tools::self_dir() / "tongban").string(), "restore", "--from-hub", "--url",
         "http://127.0.0.1:" + std::to_string(hub->port), "--token", token, "--site-config",
         s->config.string(), "--site", "S01", "--data", restored.string(), "--key-file",
         kek_file(restored).string(), "--district-key", (s->config.parent_path() / "district.key").string(),
         "--password-env", "TONGBAN_BENCH_PASSWORD", "--page", "20000"},
        s->root / "restore.log", {"TONGBAN_BENCH_PASSWORD=" + s->password});
    if (!child.ok()) return fail(child.status());
    const auto rc = child->wait(std::chrono::minutes(10));
    if (rc != 0) return fail(Status::Unavailable("restore failed; see " + (s->root / "restore.log").string()));
    restore_s = ms_since(t_restore) / 1000.0;
    std::ifstream phases(s->root / "restore.log");
    for (std::string line; std::getline(phases, line);)
      if (line.rfind("restore:", 0) == 0) std::fprintf(stderr, "  %s\n", line.c_str());
  }
  const uint64_t restored_events = watch.held("S01");
  hub->process.signal(SIGTERM);
  hub->process.wait(std::chrono::seconds(10));

  // 3. Twenty nodes at once, then 4. twenty simultaneous CURVE handshakes.
  auto d = make_scratch(o.config_dir, "twenty");
  if (!d.ok()) return fail(d.status());
  if (Status st = provision_hub(d->config, d->root / "HUB", d->password); !st.ok()) return fail(st);
  auto district = load_district(d->config);
  if (!district.ok()) return fail(district.status());
  const std::vector<std::string> sites = district->site_ids();
  std::map<std::string, uint64_t> heads;
  std::fprintf(stderr, "filling %zu sites with %ld events each...\n", sites.size(), o.per_node_events);
  for (const std::string& site : sites) {
    if (Status st = provision_site(d->config, d->root / site, site, d->password); !st.ok()) return fail(st);
    auto h20 = fill_log(d->config, d->root / site, site, o.per_node_events, false);
    if (!h20.ok()) return fail(h20.status());
    heads[site] = *h20;
  }
  auto hub20 = start_hub(o, *d);
  if (!hub20.ok()) return fail(hub20.status());
  const int port20 = read_port(d->root / "HUB" / "sync.port");
  HeadWatcher watch20(d->root / "HUB" / "hub.db");
  std::fprintf(stderr, "20 nodes at once...\n");
  std::vector<Daemon> nodes;
  const auto t20 = SteadyClock::now();
  for (const std::string& site : sites) {
    auto n = start_node(o, *d, site, port20);
    if (!n.ok()) return fail(n.status());
    nodes.push_back(std::move(*n));
  }
  std::map<std::string, double> finished;
  while (finished.size() < sites.size()) {
    for (const std::string& site : sites)
      if (!finished.count(site) && watch20.held(site) >= heads[site]) finished[site] = ms_since(t20) / 1000.0;
    if (ms_since(t20) > 600000) return fail(Status::Unavailable("20-node sync did not finish"));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  double total = 0, slowest = 0, mean_rate = 0, min_rate = 1e18;
  for (const std::string& site : sites) {
    total += heads[site];
    slowest = std::max(slowest, finished[site]);
    const double rate = heads[site] / finished[site];
    mean_rate += rate / sites.size();
    min_rate = std::min(min_rate, rate);
  }
  const double nodes20_rate = total / slowest;
  for (const std::string& site : sites)
    while (watch20.projected(site) < heads[site] && ms_since(t20) < 600000)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double nodes20_projected_rate = total / (ms_since(t20) / 1000.0);
  // 5. Hand-overs with all twenty nodes live: S01's cases to the other centers in turn.
  std::fprintf(stderr, "%d hand-overs with 20 live nodes...\n", o.handoffs);
  std::vector<std::string> centers;
  for (const SiteConfig& site : district->sites)
    if (site.kind == SiteKind::kCenter && site.id != "S01") centers.push_back(site.id);
  const size_t s01_index = static_cast<size_t>(
      std::find(sites.begin(), sites.end(), "S01") - sites.begin());
  auto handoff_ms = time_handoffs(*d, nodes[s01_index].port, hub20->port, centers, o.handoffs);
  if (!handoff_ms.ok()) return fail(handoff_ms.status());
  for (Daemon& n : nodes) n.process.signal(SIGTERM);
  for (Daemon& n : nodes) n.process.wait(std::chrono::seconds(10));
  auto reconnect = reconnect_all(*d, sites, port20);
  if (!reconnect.ok()) return fail(reconnect.status());
  hub20->process.signal(SIGTERM);
  hub20->process.wait(std::chrono::seconds(10));
  if (!std::getenv("TONGBAN_BENCH_KEEP")) {  // kept for profiling when set
    std::filesystem::remove_all(s->root.parent_path());
    std::filesystem::remove_all(d->root.parent_path());
  }
  // 6. Directives, hub -> one node.
  auto directives = time_directives(o, o.directive_cases);
  if (!directives.ok()) return fail(directives.status());
  const double directives_per_s = directives->directives / directives->seconds;
  // The stream's own pace, once the link is open and the first delivery acknowledged.
  const double directives_after_first_per_s =
      directives->directives > directives->first_acked
          ? static_cast<double>(directives->directives - directives->first_acked) /
                std::max(directives->seconds - directives->first_ack_ms / 1000.0, 1e-3)
          : directives_per_s;
  // What the CPU the run used allows at most: hub and node share this machine's cores here;
  // on machines of their own each would still be held to its busiest thread's pace.
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  const double directive_bound_shared =
      cores * 1e6 / std::max(directives->node_cpu_us + directives->hub_cpu_us, 1.0);
  const double directive_bound_apart =
      1e6 / std::max({directives->node_thread_us, directives->hub_thread_us,
                      directives->node_cpu_us / cores, directives->hub_cpu_us / cores, 1.0});
  // 7. Documents, node -> hub, beside the raw CURVE bandwidth for 1 MiB frames.
  std::fprintf(stderr, "%d documents of 20 MiB node -> hub...\n", o.documents);
  auto documents = time_documents(o, o.documents);
  if (!documents.ok()) return fail(documents.status());
  const double doc_mb_per_s = documents->megabytes / documents->seconds;
  const double raw_curve_mb_per_s = raw_curve_msgs_per_s(kDocChunkBytes, 400) * kDocChunkBytes / 1e6;

  const double ratio = events_per_s / raw_pipeline;
  std::printf("tongban bench sync (hub and nodes as processes on loopback, synchronous=FULL on both ends)\n");
  std::printf("%-52s %14s %12s\n", "figure", "value", "target");
  std::printf("%-52s %14zu %12s\n", "event size on the wire, bytes", event_bytes, "-");
  std::printf("%-52s %14.0f %12s\n", "raw CURVE DEALER->ROUTER msgs/s (event-sized)", raw_curve, "-");
  std::printf("%-52s %14.0f %12s\n", "raw SQLite batched append rows/s (1000/txn, FULL)", raw_append, "-");
  std::printf("%-52s %14.0f %12s\n", "raw pipeline events/s (min of the two)", raw_pipeline, "-");
  std::printf("%-52s %14.0f %12s\n", "one node -> hub events/s", events_per_s, ">= 80000");
  std::printf("%-52s %14.2f %12s\n", "ratio to raw pipeline", ratio, ">= 0.5");
  std::printf("%-52s %14.2f %12s\n", ("catch-up of " + std::to_string(*head) + " events, s").c_str(), catchup_s, "<= 15");
  std::printf("%-52s %14.2f %12s\n", "  ... until the hub's projection shows it all, s", catchup_projected_s, "-");
  std::printf("%-52s %14.1f %12s\n", "node peak RSS during catch-up, MB", peak_rss_mb, "< 64");
  std::printf("%-52s %14.2f %12s\n",
              ("restore of " + std::to_string(restored_events) + " events from the hub, s").c_str(),
              restore_s, "<= 30");
  std::printf("%-52s %14.2f %12s\n", "live p50 append->hub commit ms", percentile(*live_ms, 0.5), "-");
  std::printf("%-52s %14.2f %12s\n", "live p99 append->hub commit ms", percentile(*live_ms, 0.99), "< 50");
  std::printf("%-52s %14.2f %12s\n",
              ("S02 live p99 during S01's catch-up (" + std::to_string(o.beside_catchup_events_per_s) +
               " ev/s), ms").c_str(),
              percentile(*during, 0.99), "< 50");
  std::printf("%-52s %14.0f %12s\n", "20 nodes at once, events/s together", nodes20_rate, ">= 60000");
  std::printf("%-52s %14.0f %12s\n", "  ... projected at the hub, events/s together", nodes20_projected_rate, "-");
  std::printf("%-52s %14.2f %12s\n", "20 nodes: slowest node rate / mean rate", min_rate / mean_rate, ">= 0.5");
  std::printf("%-52s %14.3f %12s\n", "20 simultaneous reconnects (CURVE), s", *reconnect, "< 1");
  std::printf("%-52s %14.2f %12s\n", "hand-over p50, 20 live nodes, ms", percentile(*handoff_ms, 0.5), "-");
  std::printf("%-52s %14.2f %12s\n", "hand-over p99, 20 live nodes, ms", percentile(*handoff_ms, 0.99), "< 200");
  std::printf("%-52s %14.0f %12s\n",
              ("directives hub -> one node /s (" + std::to_string(directives->directives) + ")").c_str(),
              directives_per_s, ">= 20000");
  std::printf("%-52s %14.1f %12s\n", "  ... until the first was acknowledged, ms", directives->first_ack_ms, "-");
  std::printf("%-52s %14.0f %12s\n", "  ... after that first acknowledgement, /s", directives_after_first_per_s, "-");
  std::printf("%-52s %14.1f %12s\n", "  ... node CPU per directive meanwhile, us", directives->node_cpu_us, "-");
  std::printf("%-52s %14.1f %12s\n", "  ... hub CPU per directive meanwhile, us", directives->hub_cpu_us, "-");
  std::printf("%-52s %14.1f %12s\n", "  ... node's busiest thread per directive, us", directives->node_thread_us, "-");
  std::printf("%-52s %14.1f %12s\n", "  ... hub's busiest thread per directive, us", directives->hub_thread_us, "-");
  std::printf("%-52s %14.0f %12s\n",
              ("  ... most that CPU allows, " + std::to_string(static_cast<int>(cores)) + " cores shared, /s").c_str(),
              directive_bound_shared, "-");
  std::printf("%-52s %14.0f %12s\n", "  ... most it allows, hub and node apart, /s", directive_bound_apart, "-");
  std::printf("%-52s %14.0f %12s\n", "raw CURVE DEALER->ROUTER MB/s (1 MiB frames)", raw_curve_mb_per_s, "-");
  std::printf("%-52s %14.1f %12s\n",
              ("documents node -> hub MB/s (" + std::to_string(o.documents) + " x 20 MiB, durable)").c_str(),
              doc_mb_per_s, ">= 50");
  const json figures = {{"events_per_s", events_per_s},
                        {"raw_pipeline_events_per_s", raw_pipeline},
                        {"raw_curve_msgs_per_s", raw_curve},
                        {"raw_append_rows_per_s", raw_append},
                        {"ratio_to_raw", ratio},
                        {"catchup_events", *head},
                        {"catchup_1m_s", catchup_s},
                        {"catchup_projected_s", catchup_projected_s},
                        {"restore_events", restored_events},
                        {"restore_1m_s", restore_s},
                        {"catchup_peak_rss_mb", peak_rss_mb},
                        {"live_p50_ms", percentile(*live_ms, 0.5)},
                        {"live_p99_ms", percentile(*live_ms, 0.99)},
                        {"live_p99_during_catchup_ms", percentile(*during, 0.99)},
                        {"live_cases_during_catchup", during->size()},
                        {"nodes20_events_per_s", nodes20_rate},
                        {"nodes20_projected_events_per_s", nodes20_projected_rate},
                        {"nodes20_min_over_mean", min_rate / mean_rate},
                        {"reconnect20_s", *reconnect},
                        {"handoff_p50_ms", percentile(*handoff_ms, 0.5)},
                        {"handoff_p99_ms", percentile(*handoff_ms, 0.99)},
                        {"handoffs", handoff_ms->size()},
                        {"directives_per_s", directives_per_s},
                        {"directives", directives->directives},
                        {"directive_node_cpu_us", directives->node_cpu_us},
                        {"directive_first_ack_ms", directives->first_ack_ms},
                        {"directives_after_first_ack_per_s", directives_after_first_per_s},
                        {"directive_hub_cpu_us", directives->hub_cpu_us},
                        {"directive_node_thread_us", directives->node_thread_us},
                        {"directive_hub_thread_us", directives->hub_thread_us},
                        {"directive_bound_shared_per_s", directive_bound_shared},
                        {"directive_bound_apart_per_s", directive_bound_apart},
                        {"doc_mb_per_s", doc_mb_per_s},
                        {"doc_seconds", documents->seconds},
                        {"raw_curve_mb_per_s", raw_curve_mb_per_s},
                        {"event_bytes", event_bytes}};
  std::printf("%s\n", figures.dump().c_str());
  return 0;
}

}  // namespace

void add_bench_sync(CLI::App& bench) {
  auto o = std::make_shared<SyncBenchOptions>();
  CLI::App* cmd = bench.add_subcommand("sync", "节点到中心的同步吞吐、追赶、时延、20节点、重连 / replication benchmark");
  cmd->add_option("--site-config", o->config_dir, "站点配置目录 / site-config directory");
  cmd->add_option("--bin-dir", o->bin_dir, "构建目录（含 node/ 与 hub/）/ build dir with node/ and hub/");
  cmd->add_option("--events", o->catchup_events, "追赶测试事件数 / events in the catch-up")->check(CLI::Range(1000L, 100000000L));
  cmd->add_option("--per-node-events", o->per_node_events, "20节点测试每节点事件数 / events per node")->check(CLI::Range(100L, 10000000L));
  cmd->add_option("--live-seconds", o->live_seconds, "实时测试秒数 / live test seconds")->check(CLI::Range(1, 600));
  cmd->add_option("--beside-catchup-rate", o->beside_catchup_events_per_s,
                  "追赶期间另一站点每秒事件数 / S02 events/s while S01 catches up")
      ->check(CLI::Range(2, 10000));
  cmd->add_option("--handoffs", o->handoffs, "20节点在线时计时的移交次数 / hand-overs timed")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--directive-cases", o->directive_cases,
                  "下发测试排队的移交数 / hand-overs queued for the directive test")
      ->check(CLI::Range(10L, 10000000L));
  cmd->add_option("--documents", o->documents, "传输测试的 20 MiB 材料文件数 / 20 MiB documents sent")
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--documents-only", o->documents_only, "只测材料文件传输 / only the documents figure");
  cmd->callback([o] { exit_code() = run_bench_sync(*o); });
}

}  // namespace tongban::cli
