// Nothing acknowledged may diverge: a node restored from an old backup, a log rewritten
// with its hashes recomputed, a wiped log, an edited event that was never sent. Real hub
// and node processes; the faults are made on their files between runs.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "tongban/shared/db.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/replica.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

// Rewrites `origin`'s event `seq` with `edit`, then recomputes every hash after it and
// re-signs the head with `key`: the log is consistent again, as a careful forger makes it.
std::vector<sync::Event> rewrite_from(Db& db, const std::string& origin, uint64_t seq,
                                      const SigningKey& key,
                                      const std::function<void(sync::Event&)>& edit) {
  auto events = sync::Replica(db).read(origin, 1, 1000000);
  REQUIRE(events.ok());
  REQUIRE(events->size() >= seq);
  edit((*events)[seq - 1]);
  auto update = db.prepare("UPDATE events SET actor=?3, prev_hash=?4, hash=?5 WHERE origin=?1 AND seq=?2");
  REQUIRE(update.ok());
  for (size_t i = seq - 1; i < events->size(); ++i) {
    sync::Event& e = (*events)[i];
    if (i > 0) e.prev_hash = (*events)[i - 1].hash;
    e.hash = sync::compute_event_hash(e);
    update->bind(1, origin).bind(2, static_cast<int64_t>(e.seq)).bind(3, e.actor);
    update->bind_blob(4, e.prev_hash.data(), 32).bind_blob(5, e.hash.data(), 32);
    REQUIRE(update->run().ok());
  }
  const sync::Event& last = events->back();
  const Signature sig =
      key.sign(sync::chain_head_message(origin, sync::ChainHead{last.seq, last.lamport, last.hash}));
  auto head = db.prepare("UPDATE chain_head SET hash=?2, signature=?3 WHERE origin=?1");
  REQUIRE(head.ok());
  head->bind(1, origin).bind_blob(2, last.hash.data(), 32).bind_blob(3, sig.data(), sig.size());
  REQUIRE(head->run().ok());
  return *events;
}

void copy_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::remove_all(to);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

json halted(NodeHarness& node) { return node.get("", "/api/v1/healthz").body["halted"]; }

}  // namespace

TEST_CASE("a node refuses to start on a log that was rewritten or wiped or put back",
          "[integration][node][tamper]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");
  for (int i = 0; i < 5; ++i)
    REQUIRE(node.post(clerk, "/api/v1/cases", application("RS001", {"ID"}, resident_id(i))).status ==
            201);
  node.stop();
  const std::vector<std::string> verify = {"verify-log", "--data", node.data().string(),
                                           "--site-config", node.config().string()};
  std::string out;
  REQUIRE(node.cli(verify, &out) == 0);

  SECTION("an event edited with every later hash recomputed and the head re-signed") {
    {
      Db db = open_db(node.data() / "node.db");
      rewrite_from(db, "S01", 3, site_key(node), [](sync::Event& e) { e.actor = "mallory"; });
    }
    CHECK(node.start_refused(&out) != 0);
    CHECK(out.find("refuses to run") != std::string::npos);
    CHECK(node.cli(verify, &out) == 1);  // the chain is consistent; its witness is not
    CHECK(out.find("witnessed") != std::string::npos);
  }
  SECTION("a wiped log") {
    {
      Db db = open_db(node.data() / "node.db");
      REQUIRE(db.exec("DELETE FROM events; DELETE FROM chain_head").ok());
    }
    CHECK(node.start_refused(&out) != 0);
    CHECK(out.find("missing") != std::string::npos);
    CHECK(node.cli(verify, &out) == 1);
    CHECK(out.find("OK   empty log") == std::string::npos);
  }
  SECTION("an older copy of node.db put back") {
    TempDir backup;
    std::filesystem::copy(node.data() / "node.db", backup.path() / "node.db");
    node.start();
    REQUIRE(node.post(node.login("clerk"), "/api/v1/cases", application("RS001", {"ID"}, resident_id(9)))
                .status == 201);
    node.stop();
    std::filesystem::copy(backup.path() / "node.db", node.data() / "node.db",
                          std::filesystem::copy_options::overwrite_existing);
    CHECK(node.start_refused(&out) != 0);
    CHECK(out.find("refuses to run") != std::string::npos);
  }
  SECTION("a forged witness file") {
    std::string slot = "tongban-head-v1 S01 5 " + std::string(64, '0') + ' ' + std::string(128, '0');
    slot.resize(256, ' ');
    std::ofstream(node.data() / "log.head") << slot << slot;
    CHECK(node.start_refused(&out) != 0);
    CHECK(node.cli(verify, &out) == 1);
  }
}

TEST_CASE("a node restored from an old backup is halted by the hub's witness and forks nothing",
          "[integration][sync][fork]") {
  LinkedDistrict d;
  HubHarness& hub = d.hub;
  NodeHarness& s01 = d.s01;
  std::string clerk = s01.login("clerk");
  for (int i = 0; i < 3; ++i) submit(s01, clerk, i);
  eventually([&] { return hub_held(hub, "S01") == 6; });
  s01.stop();
  TempDir backup;
  copy_dir(s01.data(), backup.path() / "S01");

  s01.start();
  clerk = s01.login("clerk");
  const std::string later = submit(s01, clerk, 100);  // acknowledged by the hub, then "lost"
  submit(s01, clerk, 101);
  eventually([&] { return hub_held(hub, "S01") == 10; });
  s01.stop();
  copy_dir(backup.path() / "S01", s01.data());  // the PC's disk is replaced by last week's copy

  s01.start();
  eventually([&] { return !halted(s01).is_null(); });
  CHECK(halted(s01)["reason"] == "behind_own_history");
  clerk = s01.login("clerk");
  const HttpReply refused = s01.post(clerk, "/api/v1/cases", application("RS001", {"ID"}, resident_id(7)));
  CHECK(refused.status == 503);
  CHECK(refused.body["error"]["code"] == "node_halted");
  CHECK(s01.head_seq() == 6);
  s01.stop();
  s01.start();  // the halt survives a restart
  CHECK(halted(s01)["reason"] == "behind_own_history");
  CHECK(s01.post(s01.login("clerk"), "/api/v1/cases", application("RS001", {"ID"}, resident_id(8)))
            .status == 503);
  // The hub kept the acknowledged history: the case the backup lost is still there, whole.
  const std::string op = hub.login("operator");
  CHECK(hub_held(hub, "S01") == 10);
  CHECK(hub.get(op, "/api/v1/cases/" + later).body["status"] == "accepted");
}

TEST_CASE("the hub refuses a rewritten acknowledged event as a fork and alerts the operator",
          "[integration][sync][fork]") {
  LinkedDistrict d;
  HubHarness& hub = d.hub;
  NodeHarness& s01 = d.s01;
  const std::string clerk = s01.login("clerk");
  submit(s01, clerk, 1);
  submit(s01, clerk, 2);
  eventually([&] { return hub_held(hub, "S01") == 4; });
  s01.stop();
  Hash32 held_before;
  {
    Db db = open_db(hub.data() / "hub.db");
    held_before = *sync::Replica(db).hash_at("S01", 3);
  }
  std::vector<sync::Event> forged;
  {
    Db db = open_db(s01.data() / "node.db");
    forged = rewrite_from(db, "S01", 3, site_key(s01), [](sync::Event& e) { e.actor = "mallory"; });
  }
  RawClient raw(hub.sync_endpoint(), hub_public_key(d.district), site_key(s01), "S01");
  pb::Envelope env;
  // The rewritten events 3..4 alone (all "duplicates"), then with a new event 5 after them.
  *env.mutable_batch() = sync::make_batch({forged[2], forged[3]}, site_key(s01));
  raw.send(env);
  auto reply = raw.recv();
  REQUIRE(reply);
  CHECK(reply->error().code() == pb::Error::FORK);
  CHECK(reply->error().expected_seq() == 3);
  sync::Event next = forged[3];
  next.seq = 5;
  next.prev_hash = forged[3].hash;
  next.hash = sync::compute_event_hash(next);
  *env.mutable_batch() = sync::make_batch({forged[2], forged[3], next}, site_key(s01));
  raw.send(env);
  reply = raw.recv();
  REQUIRE(reply);
  CHECK(reply->error().code() == pb::Error::FORK);

  CHECK(hub_stored(hub, "S01") == 4);
  {
    Db db = open_db(hub.data() / "hub.db");
    CHECK(*sync::Replica(db).hash_at("S01", 3) == held_before);
  }
  const json sites = hub.get(hub.login("operator"), "/api/v1/sites").body["sites"];
  const auto s = std::find_if(sites.begin(), sites.end(), [](const json& j) { return j["site"] == "S01"; });
  REQUIRE(s != sites.end());
  CHECK((*s)["fork"]["seq"] == 3);
  CHECK(count_lines_with(hub.data() / "daemon.log", "FORKED") == 1);  // alerted once
}

TEST_CASE("an edited event that was never sent halts the node once instead of a retry loop",
          "[integration][sync][tamper]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01");
  hub.start();
  s01.start();  // offline: nothing reaches the hub
  const std::string clerk = s01.login("clerk");
  for (int i = 0; i < 3; ++i) submit(s01, clerk, i);
  s01.stop();
  {
    Db db = open_db(s01.data() / "node.db");
    REQUIRE(db.exec("UPDATE events SET actor='mallory' WHERE origin='S01' AND seq=5").ok());
  }
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  eventually([&] { return !halted(s01).is_null(); });
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the old client retried every second
  // The retry warning, not the halt: the halt's own two lines (the client stopping, the
  // store halting) both quote "the hub refused" and reach the file whenever it is flushed.
  CHECK(count_lines_with(s01.data() / "daemon.log", "sync client: hub refused") <= 1);
  CHECK(count_lines_with(hub.data() / "daemon.log", "BROKEN_CHAIN") <= 1);
  CHECK(hub_stored(hub, "S01") == 0);
  CHECK(s01.post(clerk, "/api/v1/cases", application("RS001", {"ID"}, resident_id(9))).status ==
        503);
}
