// Running tongban as a district IT office does (issue 11): /metrics scraped by a real
// Prometheus, JSON log lines, readiness and stop told to systemd over $NOTIFY_SOCKET, and
// nightly backups of a running node and hub restored with real processes.
#include <httplib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <set>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/transport.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

std::string scrape(const Daemon& d) {
  httplib::Client c("127.0.0.1", d.port());
  auto r = c.Get("/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  return r->body;
}

// The exposition format, checked line by line: every sample's family declared (HELP, then
// TYPE) before it, names and labels well formed, values numbers, no series twice.
void expect_exposition(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*)?\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)");
  std::set<std::string> typed, seen;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      CHECK((type == "counter" || type == "gauge" || type == "histogram"));
      CHECK(typed.insert(name).second);
      continue;
    }
    std::smatch m;
    REQUIRE(std::regex_match(line, m, sample));
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (!typed.count(family) && family.size() > strlen(suffix) &&
          family.compare(family.size() - strlen(suffix), strlen(suffix), suffix) == 0)
        family.resize(family.size() - strlen(suffix));
    CHECK(typed.count(family) == 1);
    CHECK(seen.insert(m[1].str() + m[2].str()).second);
  }
}

// The value of the sample `series` (name and labels exactly as printed), or -1.
double value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t n = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}


// A backup of the running hub, with its identity key, in `dir`; returns the file.
std::string backup_hub(LinkedDistrict& d, const TempDir& dir, std::string* out) {
  const std::string file = (dir.path() / "hub.backup").string();
  REQUIRE(run_cli({"backup", "--data", d.hub.data().string(), "--out", file, "--with-keys"}, out) == 0);
  return file;
}

// The hub's data directory set aside (a dead disk) and restored from `file` into a new one.
void restore_hub(LinkedDistrict& d, const std::string& file, std::string* out) {
  std::filesystem::rename(d.hub.data(), d.hub.data().string() + ".dead");
  REQUIRE(run_cli({"restore-backup", "--from", file, "--data", d.hub.data().string(), "--site-config",
                   d.district.config().string(), "--key-file", d.hub.key_file().string()},
                  out) == 0);
}

}  // namespace

TEST_CASE("node and hub serve Prometheus metrics that a real Prometheus scrapes",
          "[integration][operations]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const std::string clerk = d.s01.login("clerk");
  const std::string id = submit(d.s01, clerk, 1);
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  const uint64_t head = d.s01.head_seq();

  const std::string node = scrape(d.s01);
  expect_exposition(node);
  CHECK(value_of(node, "tongban_events_appended_total") == static_cast<double>(head));
  eventually([&] { return value_of(scrape(d.s01), "tongban_sync_lag_events") == 0; });
  CHECK(value_of(node, R"(tongban_cases_open{clock="normal"})") >= 1);
  CHECK(value_of(node, R"(tongban_http_requests_total{route="/api/v1/cases",method="POST",status="201"})") == 1);
  CHECK(value_of(node, R"(tongban_http_request_duration_seconds_count{route="/api/v1/cases",method="POST"})") == 1);
  CHECK(value_of(node, "process_open_fds") > 0);
  CHECK(value_of(node, "process_resident_memory_bytes") > 1e6);
  CHECK(value_of(node, R"(tongban_sqlite_wal_bytes{db="node"})") >= 0);
  CHECK(node.find("tongban_build_info{version=") != std::string::npos);
  // A path nobody registered counts as one label, whatever it is.
  CHECK(d.s01.get("", "/no/such/path/" + std::string(40, 'x')).status == 404);
  CHECK(scrape(d.s01).find("/no/such/path") == std::string::npos);

  const std::string hub = scrape(d.hub);
  expect_exposition(hub);
  CHECK(value_of(hub, R"(tongban_events_acknowledged_total{site="S01"})") == static_cast<double>(head));
  CHECK(std::max(value_of(hub, R"(tongban_sync_link{site="S01",state="connected"})"),
                 value_of(hub, R"(tongban_sync_link{site="S01",state="idle"})")) == 1);
  CHECK(value_of(hub, R"(tongban_cases_open{site="S01",clock="normal"})") >= 1);
  eventually([&] { return value_of(scrape(d.hub), R"(tongban_directives_pending{site="S01"})") == 0; });
  CHECK(value_of(hub, R"(tongban_site_forked{site="S01"})") == 0);
  CHECK(value_of(hub, R"(tongban_sqlite_wal_bytes{db="hub"})") >= 0);
  (void)id;

  // A real Prometheus with the sample configuration of tools/ops (its scrape interval cut
  // to 1 s) scrapes both daemons.
  TempDir prom;
  std::ifstream sample(std::string(TONGBAN_SOURCE_DIR) + "/tools/ops/prometheus/prometheus.yml");
  REQUIRE(sample);
  std::string config((std::istreambuf_iterator<char>(sample)), std::istreambuf_iterator<char>());
  config = std::regex_replace(config, std::regex("scrape_interval: 15s"), "scrape_interval: 1s");
  std::filesystem::create_directories(prom.path() / "targets");
  std::ofstream(prom.path() / "prometheus.yml") << config;
  std::ofstream(prom.path() / "targets" / "hub.json")
      << json::array({{{"targets", {"127.0.0.1:" + std::to_string(d.hub.port())}}}}).dump();
  std::ofstream(prom.path() / "targets" / "nodes.json")
      << json::array({{{"targets", {"127.0.0.1:" + std::to_string(d.s01.port())}},
                       {"labels", {{"site", "S01"}}}}})
             .dump();
  const int port = free_port();
  const std::string command = "prometheus --config.file=" + (prom.path() / "prometheus.yml").string() +
                              " --storage.tsdb.path=" + (prom.path() / "data").string() +
                              " --web.listen-address=127.0.0.1:" + std::to_string(port) +
                              " > " + (prom.path() / "log").string() + " 2>&1 & echo $!";
  std::string pid;
  REQUIRE(run_command(command, &pid) == 0);
  struct Killer {
    std::string pid;
    ~Killer() { (void)run_command("kill " + pid + " 2>/dev/null; true"); }
  } killer{pid};
  httplib::Client c("127.0.0.1", port);
  const auto query = [&](const std::string& q) -> json {
    auto r = c.Get("/api/v1/query", httplib::Params{{"query", q}}, httplib::Headers{});
    if (!r || r->status != 200) return json::array();
    return json::parse(r->body)["data"]["result"];
  };
  eventually([&] {
    const json up = query("up");
    if (up.size() != 2) return false;
    for (const json& s : up)
      if (s["value"][1] != "1") return false;
    return true;
  }, std::chrono::seconds(60));
  eventually([&] {
    const json r = query(R"(tongban_events_acknowledged_total{job="tongban-hub",site="S01"})");
    return r.size() == 1 && r[0]["value"][1] == std::to_string(head);
  }, std::chrono::seconds(30));
  const json appended = query(R"(tongban_events_appended_total{job="tongban-node"})");
  REQUIRE(appended.size() == 1);
  CHECK(appended[0]["metric"]["site"] == "S01");
  CHECK(appended[0]["value"][1] == std::to_string(head));
}

TEST_CASE("a daemon logs JSON lines when asked and tells systemd it is ready and stopping",
          "[integration][operations]") {
  NodeHarness node;
  // systemd's notification socket, played by this test.
  TempDir dir;
  const std::string path = (dir.path() / "notify").string();
  const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const auto receive = [&] {
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[256];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  node.set_env({"NOTIFY_SOCKET=" + path});
  node.set_extra_args({"--log-format", "json"});
  node.start();
  CHECK(receive() == "READY=1");
  const std::string clerk = node.login("clerk");
  CHECK(submit(node, clerk, 3).size() > 0);
  node.stop();
  CHECK(receive() == "STOPPING=1");
  close(fd);

  std::ifstream log(node.data() / "daemon.log");
  int lines = 0;
  for (std::string line; std::getline(log, line);) {
    INFO(line);
    if (line.rfind("listening ", 0) == 0) continue;  // stdout's announcement, for scripts
    const json j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["ts"].get<std::string>().back() == 'Z');
    CHECK(j["logger"] == "node-S01");
    CHECK(j.contains("level"));
    CHECK(j["msg"].is_string());
    ++lines;
  }
  CHECK(lines >= 3);
  // Anything but text or json is refused at the start.
  node.set_extra_args({"--log-format", "xml"});
  std::string out;
  CHECK(node.start_refused(&out) != 0);
  CHECK(out.find("log-format") != std::string::npos);
}

TEST_CASE("a node backed up while serving is restored with the hub's later events and no fork",
          "[integration][operations][backup]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const std::string clerk = d.s01.login("clerk");
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit(d.s01, clerk, 300 + i));
  TempDir backups;
  const std::string file = (backups.path() / "S01.backup").string();
  std::string out;
  REQUIRE(run_cli({"backup", "--data", d.s01.data().string(), "--out", file}, &out) == 0);
  INFO(out);
  CHECK(out.find("identity key left out") != std::string::npos);
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_read) ==
        std::filesystem::perms::none);
  // A backup is never overwritten.
  CHECK(run_cli({"backup", "--data", d.s01.data().string(), "--out", file}, &out) != 0);
  CHECK(out.find("不会覆盖") != std::string::npos);
  // After the backup, more work the hub acknowledges.
  for (int i = 0; i < 3; ++i) ids.push_back(submit(d.s01, clerk, 310 + i));
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  const uint64_t head = d.s01.head_seq();

  // The PC dies; the data directory is gone.
  d.s01.kill9();
  const auto dead = d.s01.data().string() + ".dead";
  std::filesystem::rename(d.s01.data(), dead);
  const std::vector<std::string> base = {"restore-backup", "--from", file, "--data", d.s01.data().string(),
                                         "--site", "S01", "--site-config", d.district.config().string(),
                                         "--key-file", d.s01.key_file().string()};
  // Without the hub it would restart behind its own history: refused.
  CHECK(run_cli(base, &out) != 0);
  CHECK(out.find("--url") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(d.s01.data() / "node.db"));
  // Not a backup at all.
  {
    auto args = base;
    args[2] = (std::filesystem::path(dead) / "site.key").string();
    CHECK(run_cli(args, &out) != 0);
    CHECK(out.find("不是有效的 tongban 备份文件") != std::string::npos);
  }
  // A hub that refuses the operator's token: the restore fails after the new identity was
  // made, and leaves nothing behind that a second run or the daemon would take for restored.
  {
    auto wrong = base;
    for (const std::string& a : {std::string("--url"), d.hub.url(), std::string("--token"), std::string("nope")})
      wrong.push_back(a);
    CHECK(run_cli(wrong, &out) != 0);
    CHECK_FALSE(std::filesystem::exists(d.s01.data() / "node.db"));
    CHECK_FALSE(std::filesystem::exists(d.s01.data() / "site.key"));
  }
  auto args = base;
  for (const std::string& a : {std::string("--url"), d.hub.url(), std::string("--token"), op}) args.push_back(a);
  {  // an identity key in the directory that is not the published one is not published silently
    const auto published = d.district.config() / "keys" / "S01.pub";
    const std::string before = read_file(published);
    std::filesystem::copy_file(d.hub.data() / "hub.key", d.s01.data() / "site.key");
    CHECK(run_cli(args, &out) != 0);
    CHECK(out.find("--new-identity") != std::string::npos);
    CHECK(read_file(published) == before);
    CHECK_FALSE(std::filesystem::exists(d.s01.data() / "node.db"));
    CHECK_FALSE(std::filesystem::exists(d.s01.data() / ".restoring"));
    std::filesystem::remove(d.s01.data() / "site.key");
  }
  REQUIRE(run_cli(args, &out) == 0);
  CHECK(out.find("new identity for S01") != std::string::npos);
  CHECK(out.find("later event(s) from the hub") != std::string::npos);
  // Never over a restored directory.
  CHECK(run_cli(args, &out) != 0);
  CHECK(run_cli({"verify-log", "--data", d.s01.data().string(), "--site-config",
                 d.district.config().string()}) == 0);

  d.s01.start();
  CHECK(d.s01.head_seq() == head);
  const std::string again = d.s01.login("clerk");
  for (const std::string& id : ids) CHECK(case_at(d.s01, again, id)["applicant"]["name"] == "张三");
  // The sequence goes on past every acknowledged event: the hub takes it, with no fork.
  const std::string next = submit(d.s01, again, 320);
  CHECK(d.s01.head_seq() > head);
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  CHECK(site_row(d.hub, op, "S01")["fork"].is_null());
  CHECK(d.hub.get(op, "/api/v1/cases/" + next).status == 200);
}

TEST_CASE("the hub restored from its backup takes the sites' later events again",
          "[integration][operations][backup]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const std::string clerk = d.s01.login("clerk");
  const std::string before = submit(d.s01, clerk, 400);
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  TempDir backups;
  std::string out;
  const std::string file = backup_hub(d, backups, &out);
  INFO(out);
  CHECK(out.find("identity key included") != std::string::npos);
  const std::string after = submit(d.s01, clerk, 401);
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });

  d.hub.kill9();
  restore_hub(d, file, &out);
  d.hub.start();
  // The site connects to the hub's new ports and sends again what the backup lacks.
  d.s01.stop();
  d.s01.set_hub(d.hub.sync_endpoint());
  d.s01.start();
  const std::string op2 = d.hub.login("operator");
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  CHECK(d.hub.get(op2, "/api/v1/cases/" + before).status == 200);
  CHECK(d.hub.get(op2, "/api/v1/cases/" + after).status == 200);
}

namespace {


}  // namespace

TEST_CASE("a hub restored from an older backup takes back what it wrote after it from the sites",
          "[integration][operations][backup]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string clerk = d.s01.login("clerk");
  const std::string moved = submit(d.s01, clerk, 420);
  const std::string later = submit(d.s01, clerk, 421);
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  TempDir backups;
  std::string out;
  const std::string file = backup_hub(d, backups, &out);

  // After the backup the hub hands a case to S02: its own log and both sites' streams grow,
  // and both sites apply what it wrote.
  const HttpReply handed = d.hub.post(op, "/api/v1/cases/" + moved + "/handover",
                                      {{"to", "S02"}, {"reason", "丈八中心窗口满负荷，转鱼化寨中心办理"}});
  INFO(handed.body.dump());
  REQUIRE(handed.status == 200);
  const std::string s02_clerk = s02.login("clerk");
  eventually([&] { return s02.get(s02_clerk, "/api/v1/cases/" + moved).status == 200; });
  eventually([&] { return case_at(d.s01, clerk, moved)["owner_site"] == "S02"; });
  // Each site's answer to the move (S01 released it, S02 received it) reaches the hub and
  // goes on to the other site.
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  eventually([&] { return hub_held(d.hub, "S02") == s02.head_seq(); });
  streams_delivered(d.hub, op, {"S01", "S02"});

  d.hub.kill9();
  s02.stop();
  d.s01.stop();
  restore_hub(d, file, &out);
  INFO(out);
  d.hub.start();
  std::string op2;
  SECTION("one site after the other") {
    // S01 comes back first and returns its stream; the hub still waits for S02 and writes
    // nothing to any site or its own log meanwhile.
    d.s01.set_hub(d.hub.sync_endpoint());
    d.s01.start();
    op2 = d.hub.login("operator");
    eventually([&] { return site_row(d.hub, op2, "S01")["return_awaited"] == false; });
    CHECK(site_row(d.hub, op2, "S02")["return_awaited"] == true);
    CHECK(d.hub.get("", "/api/v1/healthz").body["restoring"]["awaiting_sites"] == json::array({"S02"}));
    CHECK(value_of(scrape(d.hub), "tongban_hub_restore_awaited_sites") == 1);
    const HttpReply waiting = d.hub.post(op2, "/api/v1/cases/" + later + "/handover",
                                         {{"to", "S02"}, {"reason", "转鱼化寨中心办理"}});
    CHECK(waiting.status == 503);
    CHECK(waiting.body["error"]["code"] == "hub_restoring");
    CHECK(d.hub.post(op2, "/api/v1/sites/S01/return-waiver", {{"reason", "站点已回传"}}).status == 404);
    CHECK(d.hub.post(op2, "/api/v1/sites/S02/return-waiver", json::object()).status == 400);
    // S02 returns too.
    s02.set_hub(d.hub.sync_endpoint());
    s02.start();
  }
  SECTION("both sites at once") {  // the hub takes back one stream at a time, in turn
    d.s01.set_hub(d.hub.sync_endpoint());
    s02.set_hub(d.hub.sync_endpoint());
    d.s01.start();
    s02.start();
    op2 = d.hub.login("operator");
  }
  // The hub's log holds its hand-over again, and it hands over once more at sequence
  // numbers no site has seen — both sites apply it, no fork.
  eventually([&] { return !d.hub.get("", "/api/v1/healthz").body.contains("restoring"); });
  CHECK(value_of(scrape(d.hub), "tongban_hub_restore_awaited_sites") == 0);
  // Each site handed back the directives it applied after the backup, and the hub found
  // its own event (the hand-over) in them.
  const auto log = d.hub.data() / "daemon.log";
  for (const std::string site : {"S01", "S02"}) {
    eventually([&] { return count_lines_with(log, "site " + site + " answered the restore: ") == 1; });
    CHECK(count_lines_with(log, "site " + site + " answered the restore: 0 directive") == 0);
  }
  CHECK(count_lines_with(log, "1 event(s) of its own log recovered") == 1);
  const json back = case_at(d.hub, op2, moved);
  CHECK(back["owner_site"] == "S02");
  CHECK(back["moves"].size() == 1);
  const HttpReply again = d.hub.post(op2, "/api/v1/cases/" + later + "/handover",
                                     {{"to", "S02"}, {"reason", "转鱼化寨中心办理"}});
  INFO(again.body.dump());
  REQUIRE(again.status == 200);
  const std::string s02_clerk2 = s02.login("clerk");
  eventually([&] { return s02.get(s02_clerk2, "/api/v1/cases/" + later).status == 200; });
  const std::string clerk2 = d.s01.login("clerk");
  eventually([&] { return case_at(d.s01, clerk2, later)["owner_site"] == "S02"; });
  streams_delivered(d.hub, op2, {"S01", "S02"});
  REQUIRE(run_cli({"verify-log", "--data", d.hub.data().string(), "--site-config",
                   d.district.config().string()},
                  &out) == 0);
  CHECK(out.find("OK   HUB:") != std::string::npos);
}

TEST_CASE("a restored hub refuses a returned stream its own key did not sign and goes on waiting",
          "[integration][operations][backup][security]") {
  LinkedDistrict d;
  TempDir backups;
  std::string out;
  const std::string file = backup_hub(d, backups, &out);
  d.hub.kill9();
  d.s01.stop();
  restore_hub(d, file, &out);
  d.hub.start();
  {
    // S01's key, but directives the hub never wrote: claimed applied up to 3, returned
    // with a valid chain and S01's own signature instead of the hub's.
    RawClient forger(d.hub.sync_endpoint(), hub_public_key(d.district), site_key(d.s01), "S01");
    pb::Envelope h = hello("S01");
    h.mutable_hello()->set_delivered_seq(3);
    forger.send(h);
    std::optional<pb::Envelope> ask;
    for (int i = 0; i < 5 && !(ask && ask->has_stream_return_request()); ++i) ask = forger.recv(5000);
    REQUIRE(ask);
    REQUIRE(ask->has_stream_return_request());
    CHECK(ask->stream_return_request().from_seq() == 1);
    std::vector<sync::Event> forged;
    Hash32 prev{};
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      sync::Event e;
      e.origin = sync::stream_origin("S01");
      e.seq = e.lamport = seq;
      e.case_id = "directive";
      e.kind = "hub.case_events";
      e.actor = "hub";
      e.ts = 1'780'000'000;
      e.body = "forged";
      e.prev_hash = prev;
      e.hash = prev = sync::compute_event_hash(e);
      forged.push_back(e);
    }
    pb::Envelope page;
    *page.mutable_stream_return()->mutable_batch() = sync::make_batch(forged, site_key(d.s01));
    page.mutable_stream_return()->set_head_seq(3);
    forger.send(page);
    eventually([&] {
      return value_of(scrape(d.hub), R"(tongban_sync_refused_total{reason="STREAM_RETURN"})") == 1;
    });
    CHECK(count_lines_with(d.hub.data() / "daemon.log", "batch signature does not verify") == 1);
  }
  const std::string op = d.hub.login("operator");
  CHECK(site_row(d.hub, op, "S01")["stream_head"] == 0);
  CHECK(site_row(d.hub, op, "S01")["return_awaited"] == true);
  CHECK(d.hub.get("", "/api/v1/healthz").body["restoring"]["awaiting_sites"] == json::array({"S01"}));
  // The real S01, which applied nothing the hub lost, answers and the hub writes again.
  d.s01.set_hub(d.hub.sync_endpoint());
  d.s01.start();
  eventually([&] { return !d.hub.get("", "/api/v1/healthz").body.contains("restoring"); });
}

TEST_CASE("an operator waives a site that cannot return its stream and the restored hub writes again",
          "[integration][operations][backup]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string id = submit(d.s01, d.s01.login("clerk"), 430);
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  TempDir backups;
  std::string out;
  const std::string file = backup_hub(d, backups, &out);
  d.hub.kill9();
  s02.stop();  // its PC is gone for good
  d.s01.stop();
  restore_hub(d, file, &out);
  d.hub.start();
  d.s01.set_hub(d.hub.sync_endpoint());
  d.s01.start();
  const std::string op2 = d.hub.login("operator");
  eventually([&] { return site_row(d.hub, op2, "S01")["return_awaited"] == false; });
  CHECK(d.hub.post(op2, "/api/v1/cases/" + id + "/handover", {{"to", "S02"}, {"reason", "转办"}})
            .body["error"]["code"] == "hub_restoring");
  const HttpReply waived = d.hub.post(op2, "/api/v1/sites/S02/return-waiver",
                                      {{"reason", "鱼化寨中心工控机损毁，无法回传"}});
  INFO(waived.body.dump());
  REQUIRE(waived.status == 200);
  CHECK(waived.body["still_awaited"].empty());
  CHECK(site_row(d.hub, op2, "S02")["return_awaited"] == false);
  CHECK(!d.hub.get("", "/api/v1/healthz").body.contains("restoring"));
  CHECK(count_lines_with(d.hub.data() / "daemon.log", "operator stopped waiting for site S02") == 1);
  // The hub writes again: the hand-over goes through and reaches the site that answered.
  const HttpReply handed = d.hub.post(op2, "/api/v1/cases/" + id + "/handover",
                                      {{"to", "S02"}, {"reason", "转鱼化寨中心办理"}});
  INFO(handed.body.dump());
  CHECK(handed.status == 200);
  const std::string clerk = d.s01.login("clerk");
  eventually([&] { return case_at(d.s01, clerk, id)["owner_site"] == "S02"; });
  CHECK(d.hub.post(op2, "/api/v1/sites/S02/return-waiver", {{"reason", "再次"}}).status == 404);
}

namespace {

// The serial of the certificate a daemon presents, read with the openssl command line.
std::string served_serial(int port) {
  std::string out;
  REQUIRE(run_command("openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                          " </dev/null 2>/dev/null | openssl x509 -noout -serial",
                      &out) == 0);
  return out;
}

}  // namespace

TEST_CASE("beyond loopback a daemon serves HTTPS only with a certificate of the district CA",
          "[integration][operations][https]") {
  DistrictDir district;
  HubHarness hub(district);  // provisioning the hub made the district CA
  const auto ca = district.config() / "district-ca.pem";
  const auto ca_key = hub.data() / "district-ca.key";
  REQUIRE(std::filesystem::exists(ca));
  CHECK((std::filesystem::status(ca_key).permissions() & std::filesystem::perms::group_all) ==
        std::filesystem::perms::none);
  NodeHarness node(district, "S01");
  // On the LAN without a certificate: refused at the start, saying how to get one.
  node.set_extra_args({"--listen", "0.0.0.0:0"});
  std::string out;
  CHECK(node.start_refused(&out) != 0);
  CHECK(out.find("须使用 HTTPS") != std::string::npos);
  CHECK(out.find("tongban cert issue") != std::string::npos);
  const std::vector<std::string> issue = {"cert", "issue", "--site-config", district.config().string(),
                                          "--ca-key", ca_key.string(), "--name", "S01", "--host",
                                          "127.0.0.1", "--host", "s01.district.local", "--out-dir",
                                          node.data().string()};
  // A host that is no host is refused; nothing is written.
  {
    auto bad = issue;
    bad[9] = "a b";
    CHECK(run_cli(bad, &out) != 0);
    CHECK_FALSE(std::filesystem::exists(node.data() / "tls.crt"));
  }
  REQUIRE(run_cli(issue, &out) == 0);
  INFO(out);
  CHECK((std::filesystem::status(node.data() / "tls.key").permissions() & std::filesystem::perms::group_all) ==
        std::filesystem::perms::none);
  node.start();
  const int port = node.port();
  httplib::SSLClient trusting("127.0.0.1", port);
  trusting.set_ca_cert_path(ca.string().c_str());
  trusting.enable_server_certificate_verification(true);
  auto ok = trusting.Get("/api/v1/healthz");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  // A client that does not trust the district CA (another district's) is refused.
  TempDir other;
  REQUIRE(run_cli({"cert", "init-ca", "--site-config", other.path().string(), "--ca-key",
                   (other.path() / "ca.key").string()}) == 0);
  httplib::SSLClient stranger("127.0.0.1", port);
  stranger.set_ca_cert_path((other.path() / "district-ca.pem").string().c_str());
  stranger.enable_server_certificate_verification(true);
  auto refused = stranger.Get("/api/v1/healthz");
  CHECK_FALSE(refused);
  // Plain HTTP to the HTTPS port gets no answer.
  httplib::Client plain("127.0.0.1", port);
  plain.set_read_timeout(5, 0);
  CHECK_FALSE(plain.Get("/api/v1/healthz"));
  // The CLI trusts the CA it is given, and only then.
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  CHECK(run_cli({"--ca", ca.string(), "api", "--url", url, "GET", "/api/v1/healthz"}, &out) == 0);
  CHECK(out.find("head_seq") != std::string::npos);
  CHECK(run_cli({"--ca", (other.path() / "district-ca.pem").string(), "api", "--url", url, "GET",
                 "/api/v1/healthz"},
                &out) == 2);
  // Rotation: issue again, restart (a graceful stop), and the new certificate is served.
  const std::string before = served_serial(port);
  CHECK(before.rfind("serial=", 0) == 0);
  REQUIRE(run_cli(issue, &out) == 0);
  node.stop();
  node.start();
  const std::string after = served_serial(node.port());
  CHECK(after.rfind("serial=", 0) == 0);
  CHECK(after != before);
  httplib::SSLClient again("127.0.0.1", node.port());
  again.set_ca_cert_path(ca.string().c_str());
  again.enable_server_certificate_verification(true);
  auto still = again.Get("/api/v1/healthz");
  REQUIRE(still);
  CHECK(still->status == 200);
}

TEST_CASE("a node and a hub one protocol version apart agree on the older and sync",
          "[integration][operations][protocol]") {
  const auto case_reaches_hub = [](LinkedDistrict& d) {
    const std::string op = d.hub.login("operator");
    const std::string id = submit(d.s01, d.s01.login("clerk"), 77);
    eventually([&] { return d.hub.get(op, "/api/v1/cases/" + id).status == 200; });
  };
  SECTION("a hub of the previous release (version 1) and an upgraded node") {
    LinkedDistrict d;
    CHECK(agreed_version(d.s01) == sync::kProtocolVersion);
    d.hub.stop();
    d.hub.set_extra_args({"--max-protocol-version", "1"});
    d.hub.start();
    d.s01.stop();
    d.s01.set_hub(d.hub.sync_endpoint());
    d.s01.start();
    CHECK(agreed_version(d.s01) == 1);  // refused with BAD_VERSION, said Hello again in version 1
    case_reaches_hub(d);
    CHECK(count_lines_with(d.s01.data() / "daemon.log", "does not speak protocol 2") >= 1);
  }
  SECTION("an upgraded hub and a node of the previous release") {
    LinkedDistrict d;
    d.s01.stop();
    d.s01.set_extra_args({"--max-protocol-version", "1"});
    d.s01.start();
    CHECK(agreed_version(d.s01) == 1);
    case_reaches_hub(d);
  }
}

TEST_CASE("a district written by the previous release opens on this one and goes on",
          "[integration][operations][upgrade]") {
  namespace fs = std::filesystem;
  // tests/fixtures/make_fixture.sh ran the release at commit 0fad329 (schema and protocol
  // version 1): the hub and S01 with three accepted cases, replicated, stopped.
  const fs::path fixture = fs::path(TONGBAN_SOURCE_DIR) / "tests/fixtures/v0.1.0-0fad329";
  REQUIRE(fs::exists(fixture / "cases.json"));
  DistrictDir district;
  fs::remove_all(district.config());
  fs::copy(fixture, district.root(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  // git keeps no modes: the data directories and keys get their owner-only ones back.
  for (const auto& e : fs::recursive_directory_iterator(district.root()))
    if (e.path().string().find("site-config") == std::string::npos)
      fs::permissions(e.path(), e.is_directory() ? fs::perms::owner_all
                                                 : fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace);
  const auto schema = [](const fs::path& db) {
    Db d = open_db(db);
    auto s = d.prepare("PRAGMA user_version");
    REQUIRE(s.ok());
    REQUIRE(*s->step());
    return s->int_at(0);
  };
  const int64_t node_before = schema(district.root() / "S01" / "node.db");
  const int64_t hub_before = schema(district.root() / "HUB" / "hub.db");

  HubHarness hub(district, Existing{});
  hub.start();
  NodeHarness s01(district, "S01", Existing{});
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  const json ids = json::parse(read_file(fixture / "cases.json"));
  REQUIRE(ids.size() == 3);
  const std::string clerk = s01.login("clerk");
  const std::string op = hub.login("operator");
  for (const json& id : ids) {
    const json c = case_at(s01, clerk, id.get<std::string>());
    CHECK(c["applicant"]["name"] == "旧版");  // sealed by the old release, opened by this one
    CHECK(c["status"] == "accepted");
    CHECK(hub.get(op, "/api/v1/cases/" + id.get<std::string>()).status == 200);
  }
  // The old log goes on: a new case at the next seq, replicated, no fork.
  const uint64_t head = s01.head_seq();
  const std::string next = submit(s01, clerk, 901);
  CHECK(s01.head_seq() > head);
  eventually([&] { return hub.get(op, "/api/v1/cases/" + next).status == 200; });
  CHECK(site_row(hub, op, "S01")["fork"].is_null());
  s01.stop();
  hub.stop();
  // Migrations ran forward (never below what the release wrote) and the chains verify.
  CHECK(schema(district.root() / "S01" / "node.db") >= node_before);
  CHECK(schema(district.root() / "HUB" / "hub.db") >= hub_before);
  CHECK(schema(district.root() / "HUB" / "hub.db") > hub_before);  // the release's hub had fewer
  CHECK(run_cli({"verify-log", "--data", (district.root() / "S01").string(), "--site-config",
                 district.config().string()}) == 0);
  CHECK(run_cli({"verify-log", "--data", (district.root() / "HUB").string(), "--site-config",
                 district.config().string()}) == 0);
}
