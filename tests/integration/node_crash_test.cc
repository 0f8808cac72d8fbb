// Real faults against a real tongban-node: restart, kill -9 in the middle of traffic,
// tampering with the log on disk.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "support/node_harness.h"
#include "tongban/shared/db.h"

using namespace tongban;
using nlohmann::json;
using tongban::test::application;
using tongban::test::NodeHarness;

TEST_CASE("a restarted node keeps every case, session and its chain",
          "[integration][node][restart]") {
  NodeHarness node;
  node.start();
  std::string clerk = node.login("clerk");
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto r = node.post(clerk, "/api/v1/cases",
                       application("RS001", {"ID", "PHOTO"}, test::resident_id(i)));
    REQUIRE(r.status == 201);
    ids.push_back(r.body["case_id"]);
  }
  const uint64_t head = node.head_seq();
  node.stop();
  node.start();
  CHECK(node.head_seq() == head);
  CHECK(node.get(clerk, "/api/v1/me").status == 200);  // the session survived the restart
  for (const std::string& id : ids)
    CHECK(node.get(clerk, "/api/v1/cases/" + id).body["status"] == "submitted");
  auto r = node.post(clerk, "/api/v1/cases", application("RS001", {"ID"}));
  REQUIRE(r.status == 201);
  CHECK(r.body["case_id"] != ids.back());  // numbering continues
  node.stop();
  std::string out;
  CHECK(node.cli(
            {"verify-log", "--data", node.data().string(), "--site-config", node.config().string()},
            &out) == 0);
  CHECK(out.find("head signature verified") != std::string::npos);
}

TEST_CASE("kill -9 mid-traffic loses no acknowledged case and the chain verifies",
          "[integration][node][crash]") {
  NodeHarness node;
  std::set<std::string> acknowledged;
  int n = 0;
  for (int round = 0; round < 3; ++round) {
    node.start();
    const std::string clerk = node.login("clerk");
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::atomic<int> acks{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 3; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", node.port());
        const httplib::Headers h = {{"Authorization", "Bearer " + clerk}};
        for (int i = 0; !stop; ++i) {
          json app = application("RS001", {"ID", "PHOTO"}, test::resident_id(n + c * 10000 + i));
          app["accept"] = json::object();
          auto r = client.Post("/api/v1/cases", h, app.dump(), "application/json");
          if (!r) break;  // the node is gone
          if (r->status == 201) {
            std::lock_guard lock(mu);
            acknowledged.insert(json::parse(r->body)["case_id"].get<std::string>());
            ++acks;
          }
        }
      });
    }
    while (acks < 40 * (round + 1)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    node.kill9();
    stop = true;
    for (auto& t : clients) t.join();
    n += 100000;
  }
  node.start();
  const std::string clerk = node.login("clerk");
  for (const std::string& id : acknowledged) {
    const auto r = node.get(clerk, "/api/v1/cases/" + id);
    INFO(id);
    REQUIRE(r.status == 200);
    CHECK(r.body["status"] == "accepted");
  }
  // Every case in the index is whole: two events each, none half-written.
  const json all = node.get(clerk, "/api/v1/cases?limit=500").body;
  CHECK(all["count"].get<size_t>() >= acknowledged.size());
  for (const json& c : all["cases"]) CHECK(c["status"] == "accepted");
  CHECK(node.head_seq() == 2 * all["count"].get<uint64_t>());
  node.stop();
  std::string out;
  const int verified = node.cli(
      {"verify-log", "--data", node.data().string(), "--site-config", node.config().string()}, &out);
  INFO(out);
  CHECK(verified == 0);
  CHECK(node.cli({"rebuild", "--data", node.data().string(), "--site-config",
                  node.config().string(), "--site", "S01", "--key-file", node.key_file().string()},
                 &out) == 0);
  CHECK(out.find("(unchanged)") != std::string::npos);
  auto db = Db::open(node.data() / "node.db");
  REQUIRE(db.ok());
  auto check = db->prepare("PRAGMA integrity_check");
  REQUIRE(check.ok());
  REQUIRE(*check->step());
  CHECK(check->text_at(0) == "ok");
}

TEST_CASE("verify-log names the first edited event in a node's data dir",
          "[integration][node][tamper]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");
  for (int i = 0; i < 5; ++i)
    node.post(clerk, "/api/v1/cases", application("RS001", {"ID"}, test::resident_id(i)));
  node.stop();
  {
    auto db = Db::open(node.data() / "node.db");
    REQUIRE(db.ok());
    REQUIRE(db->exec("UPDATE events SET actor='mallory' WHERE seq=3").ok());
  }
  std::string out;
  CHECK(node.cli({"verify-log", "--data", node.data().string()}, &out) == 1);
  CHECK(out.find("seq 3") != std::string::npos);
  CHECK(out.find("edited") != std::string::npos);
}
