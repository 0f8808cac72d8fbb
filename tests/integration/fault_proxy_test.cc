// Faults beyond kill -9 on the link between a node and the hub: a proxy of our own
// (tools/faultproxy) cuts, stalls, throttles, half-opens and corrupts the TCP stream at
// random while the node takes cases and the hub publishes catalogs. Afterwards nothing
// acknowledged is lost, nothing duplicated, both directions complete, with no manual step.
// TONGBAN_PROXY_ROUNDS sets the rounds (default 200; tools/soak.sh runs more).
#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "tongban/faultproxy/fault_proxy.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

// Publishes the district catalog again as `version` (the node must receive it).
void publish_catalog(HubHarness& hub, const DistrictDir& district, const std::string& op, int version) {
  std::string toml = read_file(district.config() / "catalog.toml");
  toml.replace(toml.find("version = 1"), 11, "version = " + std::to_string(version));
  REQUIRE(hub.post_raw(op, "/api/v1/catalog", toml, "text/plain").status == 201);
}

}  // namespace

TEST_CASE("a link that is cut or stalled or throttled or half-open or corrupted loses and duplicates nothing",
          "[integration][sync][faults]") {
  const int rounds = env_rounds("TONGBAN_PROXY_ROUNDS", 200);
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01");
  hub.start();
  auto proxy = tools::FaultProxy::start(hub.sync_port());
  REQUIRE(proxy.ok());
  s01.set_hub("tcp://127.0.0.1:" + std::to_string((*proxy)->port()));
  s01.start();
  const std::string op = hub.login("operator");

  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::thread load([&] {
    const std::string token = s01.login("clerk");
    httplib::Client c("127.0.0.1", s01.port());
    const httplib::Headers h = {{"Authorization", "Bearer " + token}};
    for (int k = 0; !stop; ++k) {
      json app = application("RS001", {"ID", "PHOTO"}, resident_id(k));
      app["accept"] = json::object();
      auto r = c.Post("/api/v1/cases", h, app.dump(), "application/json");
      if (r && r->status == 201) {
        std::lock_guard lock(mu);
        acknowledged.insert(json::parse(r->body)["case_id"].get<std::string>());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });

  std::mt19937 rng(20261129);
  int catalog_version = 1;
  for (int round = 0; round < rounds; ++round) {
    tools::FaultProxy& p = **proxy;
    // A half-open link is only noticed by heartbeats (5 s): a few of them, evenly spread.
    if (round % 50 == 25) {
      p.half_open();
    } else {
      switch (rng() % 5) {
        case 0: p.cut(); break;
        case 1: p.set_flow(tools::Flow::kStall); break;
        case 2: p.set_flow(tools::Flow::kThrottle, 2000 + rng() % 64000); break;
        case 3: p.corrupt(); break;
        default: break;  // a quiet round: the link recovers
      }
    }
    if (round % 40 == 10) publish_catalog(hub, district, op, ++catalog_version);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 130));
    p.set_flow(tools::Flow::kRelay);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
  }
  stop = true;
  load.join();
  const tools::FaultStats stats = (*proxy)->stats();
  INFO("connections " << stats.accepted << ", cut " << stats.cut << ", half-open "
                      << stats.half_opened << ", bytes flipped " << stats.corrupted);
  CHECK(stats.cut > 0);
  CHECK(stats.corrupted > 0);
  CHECK(stats.half_opened > 0);
  CHECK(stats.accepted > 1);  // the node reconnected on its own

  // Both directions finish with no manual step.
  eventually([&] { return hub_held(hub, "S01") == s01.head_seq(); }, std::chrono::seconds(90));
  const std::string clerk = s01.login("clerk");
  eventually([&] { return s01.get(clerk, "/api/v1/catalog").body["version"] == catalog_version; },
             std::chrono::seconds(60));
  REQUIRE(acknowledged.size() > 100);
  for (const std::string& id : acknowledged) {
    INFO(id);
    CHECK(hub.get(op, "/api/v1/cases/" + id).status == 200);
  }
  hub.stop();
  s01.stop();
  Db hub_db = open_db(hub.data() / "hub.db");
  Db node_db = open_db(s01.data() / "node.db");
  const int64_t at_node = count_rows(node_db, "SELECT count(*) FROM events WHERE origin=?1", "S01");
  CHECK(count_rows(hub_db, "SELECT count(*) FROM events WHERE origin=?1", "S01") == at_node);
  CHECK(count_rows(hub_db, "SELECT max(seq) FROM events WHERE origin=?1", "S01") == at_node);
  CHECK(hub_digest(hub) == digest_from_nodes({&s01}));
  expect_integrity(hub.data() / "hub.db");
  expect_integrity(s01.data() / "node.db");
}
