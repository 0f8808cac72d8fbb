// The hub and its nodes as real processes on loopback: replication, outages, kill -9 at
// random moments, hostile traffic, offline bundles and catalog streams.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "tongban/shared/case_index.h"
#include "tongban/shared/db.h"
#include "tongban/shared/projector.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/replica.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("a case accepted at one node shows up in the hub's API", "[integration][sync]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01"), a01(district, "A01");
  hub.start();
  s01.set_hub(hub.sync_endpoint());
  a01.set_hub(hub.sync_endpoint());
  s01.start();
  a01.start();
  const std::string id = submit(s01, s01.login("clerk"), 1);
  const std::string op = hub.login("operator");
  eventually([&] { return hub.get(op, "/api/v1/cases/" + id).status == 200; });
  const json c = hub.get(op, "/api/v1/cases/" + id).body;
  CHECK(c["status"] == "accepted");
  CHECK(c["origin_site"] == "S01");
  CHECK(hub.get(op, "/api/v1/cases?site=S01").body["count"] == 1);
  CHECK(hub.get(op, "/api/v1/cases?status=bogus").body["error"]["code"] == "invalid_status");
  const json sites = hub.get(op, "/api/v1/sites").body["sites"];
  const auto s = std::find_if(sites.begin(), sites.end(),
                              [](const json& site) { return site["site"] == "S01"; });
  REQUIRE(s != sites.end());
  CHECK((*s)["acked_seq"] == 2);
  CHECK((*s)["events_behind"] == 0);
  CHECK_FALSE((*s)["last_contact"].is_null());
  CHECK((*s)["fork"].is_null());
  CHECK(hub.get(s01.login("clerk"), "/api/v1/sites").status ==
        401);  // a node token means nothing here
}

TEST_CASE("with the hub gone nodes keep working, and all converge when it returns",
          "[integration][sync]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01"), s02(district, "S02");
  hub.start();
  for (NodeHarness* n : {&s01, &s02}) {
    n->set_hub(hub.sync_endpoint());
    n->start();
  }
  const std::string t1 = s01.login("clerk"), t2 = s02.login("clerk");
  submit(s01, t1, 1);
  eventually([&] { return hub_held(hub, "S01") == 2; });
  hub.kill9();
  for (int i = 0; i < 10; ++i) {
    submit(s01, t1, 100 + i);
    submit(s02, t2, 200 + i);
  }
  hub.start();
  eventually([&] {
    return hub_held(hub, "S01") == s01.head_seq() && hub_held(hub, "S02") == s02.head_seq();
  });
  CHECK(hub_digest(hub) == digest_from_nodes({&s01, &s02}));
}

TEST_CASE("kill -9 of hub and nodes at random moments loses and duplicates nothing",
          "[integration][sync][crash]") {
  const int rounds = env_rounds("TONGBAN_SOAK_ROUNDS", 20);
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01"), p01(district, "P01");
  std::vector<NodeHarness*> nodes = {&s01, &p01};
  hub.start();
  for (NodeHarness* n : nodes) {
    n->set_hub(hub.sync_endpoint());
    n->start();
  }
  std::mt19937 rng(20261126);
  std::mutex mu;
  std::set<std::string> acknowledged;
  int next_id = 0;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> load;
    for (NodeHarness* n : nodes) {
      const std::string token = n->login("clerk");
      load.emplace_back([&, n, token] {
        httplib::Client c("127.0.0.1", n->port());
        const httplib::Headers h = {{"Authorization", "Bearer " + token}};
        while (!stop) {
          int k;
          {
            std::lock_guard lock(mu);
            k = next_id++;
          }
          json app = application(n->site() == "S01" ? "RS001" : "QY001", {}, resident_id(k));
          app["provided"] =
              n->site() == "S01" ? json{"ID", "PHOTO"} : json{"ID", "REG_FORM", "PREMISES"};
          app["accept"] = json::object();
          auto r = c.Post("/api/v1/cases", h, app.dump(), "application/json");
          if (!r) break;
          if (r->status == 201) {
            std::lock_guard lock(mu);
            acknowledged.insert(json::parse(r->body)["case_id"].get<std::string>());
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    const int victim = static_cast<int>(rng() % 3);  // 0: hub, 1..: a node
    if (victim == 0)
      hub.kill9();
    else
      nodes[victim - 1]->kill9();
    stop = true;
    for (auto& t : load) t.join();
    if (victim == 0)
      hub.start();
    else
      nodes[victim - 1]->start();
  }
  for (NodeHarness* n : nodes)
    eventually([&] { return hub_held(hub, n->site()) == n->head_seq(); }, std::chrono::seconds(60));
  const std::string op = hub.login("operator");
  for (const std::string& id : acknowledged) {
    INFO(id);
    CHECK(hub.get(op, "/api/v1/cases/" + id).status == 200);
  }
  hub.stop();
  for (NodeHarness* n : nodes) n->stop();
  Db hub_db = open_db(hub.data() / "hub.db");
  for (NodeHarness* n : nodes) {
    Db node_db = open_db(n->data() / "node.db");
    const int64_t at_node =
        count_rows(node_db, "SELECT count(*) FROM events WHERE origin=?1", n->site());
    CHECK(count_rows(hub_db, "SELECT count(*) FROM events WHERE origin=?1", n->site()) == at_node);
    CHECK(count_rows(hub_db, "SELECT max(seq) FROM events WHERE origin=?1", n->site()) == at_node);
    expect_integrity(n->data() / "node.db");
  }
  expect_integrity(hub.data() / "hub.db");
  CHECK(hub_digest(hub) == digest_from_nodes(nodes));
  std::string out;
  CHECK(run_cli({"verify-log", "--data", hub.data().string(), "--site-config",
                 district.config().string()},
                &out) == 0);
  INFO(out);
}

TEST_CASE("hostile traffic is refused and stores nothing while real nodes keep syncing",
          "[integration][sync][security]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01"), s02(district, "S02");
  hub.start();
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  const std::string t1 = s01.login("clerk");
  submit(s01, t1, 1);
  eventually([&] { return hub_held(hub, "S01") == 2; });
  const PublicKey hub_key = hub_public_key(district);
  // S02's real events, made offline, to misuse.
  s02.start();
  submit(s02, s02.login("clerk"), 2);
  s02.stop();
  std::vector<sync::Event> s02_events;
  {
    Db db = open_db(s02.data() / "node.db");
    s02_events = *sync::Replica(db).read("S02", 1, 100);
  }
  const pb::Batch s02_batch = sync::make_batch(s02_events, site_key(s02));

  SECTION("an unknown key is refused at the handshake") {
    RawClient stranger(hub.sync_endpoint(), hub_key, SigningKey::generate(), "S09");
    stranger.send(hello("S09"));
    CHECK_FALSE(stranger.recv(1500));
  }
  SECTION("site A's key cannot push site B's events") {
    RawClient a(hub.sync_endpoint(), hub_key, site_key(s01), "S01");
    pb::Envelope env;
    *env.mutable_batch() = s02_batch;
    a.send(env);
    const auto reply = a.recv();
    REQUIRE(reply);
    CHECK(reply->error().code() == pb::Error::WRONG_ORIGIN);
    CHECK(hub_stored(hub, "S02") == 0);
  }
  SECTION("a batch with any bit flipped is refused") {
    RawClient b(hub.sync_endpoint(), hub_key, site_key(s02), "S02");
    pb::Envelope env;
    *env.mutable_batch() = s02_batch;
    std::string* body = env.mutable_batch()->mutable_events(1)->mutable_body();
    (*body)[body->size() / 2] ^= 0x01;
    b.send(env);
    auto reply = b.recv();
    REQUIRE(reply);
    CHECK(reply->error().code() == pb::Error::BROKEN_CHAIN);
    *env.mutable_batch() = s02_batch;
    std::string* sig = env.mutable_batch()->mutable_signature();
    (*sig)[7] ^= 0x40;
    b.send(env);
    reply = b.recv();
    REQUIRE(reply);
    CHECK(reply->error().code() == pb::Error::BAD_SIGNATURE);
    CHECK(hub_stored(hub, "S02") == 0);
  }
  SECTION("a replayed batch adds no rows") {
    RawClient b(hub.sync_endpoint(), hub_key, site_key(s02), "S02");
    pb::Envelope env;
    *env.mutable_batch() = s02_batch;
    for (int i = 0; i < 3; ++i) {
      b.send(env);
      const auto reply = b.recv();
      REQUIRE(reply);
      CHECK(reply->ack().acked_seq() == 2);
    }
    Db db = open_db(hub.data() / "hub.db");
    CHECK(count_rows(db, "SELECT count(*) FROM events WHERE origin=?1", "S02") == 2);
  }
  SECTION("malformed and oversized frames are refused or dropped") {
    RawClient a(hub.sync_endpoint(), hub_key, site_key(s01), "S01");
    a.send_raw("\xff\x01not a protobuf envelope");
    auto reply = a.recv();
    REQUIRE(reply);
    CHECK(reply->error().code() == pb::Error::MALFORMED);
    pb::Envelope wrong_version = hello("S01");
    a.send(wrong_version);  // encode() sets the version; send a raw one with version 99
    (void)a.recv();
    wrong_version.set_version(99);
    a.send_raw(wrong_version.SerializeAsString());
    reply = a.recv();
    REQUIRE(reply);
    CHECK(reply->error().code() == pb::Error::BAD_VERSION);
    RawClient big(hub.sync_endpoint(), hub_key, site_key(s01), "S01");
    big.send_raw(std::string(20 * 1024 * 1024, 'x'));  // over ZMQ_MAXMSGSIZE: the link drops
    CHECK_FALSE(big.recv(1500));
  }
  SECTION("a revoked site is refused on its next connection") {
    std::filesystem::remove(district.config() / "keys" / "S02.pub");
    const HttpReply reloaded = hub.post(hub.login("operator"), "/api/v1/keys/reload", json::object());
    REQUIRE(reloaded.status == 200);
    CHECK(reloaded.body["allowed_sites"] == 1);  // S01 only
    RawClient b(hub.sync_endpoint(), hub_key, site_key(s02), "S02");
    b.send(hello("S02"));
    CHECK_FALSE(b.recv(1500));
  }
  // Through all of it the legitimate node keeps syncing.
  submit(s01, t1, 3);
  eventually([&] { return hub_held(hub, "S01") == 4; });
  CHECK(hub_stored(hub, "S02") <= 2);
}

TEST_CASE("a node with no link syncs through a sealed bundle imported exactly once",
          "[integration][sync][bundle]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness a02(district, "A02");
  hub.start();
  a02.start();  // offline: no --hub
  const std::string token = a02.login("clerk");
  json app = application("MZ001", {"ID", "HKB", "BANK"}, resident_id(5));
  for (int i = 0; i < 5; ++i) {
    app["applicant"]["id_number"] = resident_id(10 + i);
    REQUIRE(a02.post(token, "/api/v1/cases", app).status == 201);
  }
  const auto file = district.root() / "A02.bundle";
  std::string out;
  REQUIRE(run_cli({"export-bundle", "--site-config", district.config().string(), "--site", "A02",
                   "--data", a02.data().string(), "--out", file.string()},
                  &out) == 0);
  const std::string op = hub.login("operator");
  REQUIRE(run_cli({"import-bundle", file.string(), "--url", hub.url(), "--token", op}, &out) == 0);
  CHECK(out.find("\"added\": 5") != std::string::npos);
  REQUIRE(run_cli({"import-bundle", file.string(), "--url", hub.url(), "--token", op}, &out) == 0);
  CHECK(out.find("\"added\": 0") != std::string::npos);  // exactly once
  CHECK(hub_held(hub, "A02") == 5);
  // A tampered bundle is refused.
  std::string sealed;
  {
    std::ifstream in(file, std::ios::binary);
    sealed.assign(std::istreambuf_iterator<char>(in), {});
  }
  sealed[sealed.size() / 2] ^= 1;
  CHECK(hub.post_raw(op, "/api/v1/bundles", sealed, "application/octet-stream").status == 400);
  // The live link resumes after what the bundle brought.
  a02.stop();
  a02.set_hub(hub.sync_endpoint());
  a02.start();
  REQUIRE(a02.post(a02.login("clerk"), "/api/v1/cases", app).status == 201);
  eventually([&] { return hub_held(hub, "A02") == 6; });
  CHECK(hub.get(op, "/api/v1/cases?site=A02").body["count"] == 6);
}

TEST_CASE("a catalog published at the hub reaches every node while old cases keep their version",
          "[integration][sync][catalog]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01");
  hub.start();
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  const std::string clerk = s01.login("clerk");
  const std::string before = submit(s01, clerk, 1);
  std::string toml = read_file(district.config() / "catalog.toml");
  toml.replace(toml.find("version = 1"), 11, "version = 2");
  const std::string op = hub.login("operator");
  std::string stale = toml;
  stale.replace(stale.find("version = 2"), 11, "version = 1");
  CHECK(hub.post_raw(op, "/api/v1/catalog", stale, "text/plain").status == 409);
  CHECK(hub.post_raw(op, "/api/v1/catalog", "version = [", "text/plain").status == 400);
  REQUIRE(hub.post_raw(op, "/api/v1/catalog", toml, "text/plain").status == 201);
  eventually([&] { return s01.get(clerk, "/api/v1/catalog").body["version"] == 2; });
  const std::string after = submit(s01, clerk, 2);
  CHECK(s01.get(clerk, "/api/v1/cases/" + before).body["catalog_version"] == 1);
  CHECK(s01.get(clerk, "/api/v1/cases/" + after).body["catalog_version"] == 2);
  // The node restarts with the version it received.
  s01.stop();
  s01.start();
  CHECK(s01.get(s01.login("clerk"), "/api/v1/catalog").body["version"] == 2);
}

TEST_CASE("node clocks hours apart change nothing in ordering or acceptance",
          "[integration][sync][clock]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness early(district, "S03"), late(district, "S04");
  hub.start();
  early.set_extra_args({"--clock-offset-seconds", "-18000"});
  late.set_extra_args({"--clock-offset-seconds", "21600"});
  for (NodeHarness* n : {&early, &late}) {
    n->set_hub(hub.sync_endpoint());
    n->start();
  }
  std::vector<std::pair<NodeHarness*, std::string>> cases;
  for (int i = 0; i < 5; ++i) {
    cases.emplace_back(&early, submit(early, early.login("clerk"), i));
    cases.emplace_back(&late, submit(late, late.login("clerk"), 50 + i));
  }
  eventually([&] { return hub_held(hub, "S03") == 10 && hub_held(hub, "S04") == 10; });
  // Each case reads the same at the hub as at the node that took it, on that node's own
  // (skewed) dates: the hub neither re-dates nor reorders what a node decided.
  const std::string op = hub.login("operator");
  for (const auto& [node, id] : cases) {
    const json mine = node->get(node->login("clerk"), "/api/v1/cases/" + id).body;
    const json held = hub.get(op, "/api/v1/cases/" + id).body;
    INFO(id << " node " << mine.dump() << " hub " << held.dump());
    for (const char* field : {"status", "created_at", "accepted_date", "updated_at"}) {
      INFO(field);
      CHECK(held.value(field, json()).dump() == mine.value(field, json()).dump());
    }
    // The deadline and its warning day; how many days remain depends on whose today.
    CHECK(held["clock"]["deadline"] == mine["clock"]["deadline"]);
    CHECK(held["clock"]["yellow_from"] == mine["clock"]["yellow_from"]);
    // The events of a case keep their node's order at the hub.
    const json events = hub.get(op, "/api/v1/cases/" + id + "/events").body["events"];
    REQUIRE(events.size() == 2);
    CHECK(events[0]["kind"] == "case.submitted");
    CHECK(events[1]["kind"] == "case.accepted");
    CHECK(events[0]["seq"].get<int>() + 1 == events[1]["seq"].get<int>());
  }
  // The accepted dates follow each node's own clock: the early node is five hours behind
  // the late one, so its date is never after the late node's.
  const json e = early.get(early.login("clerk"), "/api/v1/cases/" + cases[0].second).body;
  const json l = late.get(late.login("clerk"), "/api/v1/cases/" + cases[1].second).body;
  CHECK(e["accepted_date"].get<std::string>() <= l["accepted_date"].get<std::string>());
  CHECK(hub_digest(hub) == digest_from_nodes({&early, &late}));
}

TEST_CASE("the hub projects after a restart what it stored and acknowledged before it projected",
          "[integration][sync][projection]") {
  LinkedDistrict d;
  const std::string clerk = d.s01.login("clerk");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit(d.s01, clerk, 710 + i));
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  const std::string op = d.hub.login("operator");
  REQUIRE(d.hub.get(op, "/api/v1/cases?site=S01").body["count"] == 3);
  // The state a crash leaves between the acknowledging commit and the projection's: the
  // events held, the index and the cursor without them.
  d.s01.stop();
  d.hub.stop();
  {
    Db db = open_db(d.hub.data() / "hub.db");
    REQUIRE(db.exec("UPDATE projected SET seq=0 WHERE origin='S01'; DELETE FROM cases;"
                    " DELETE FROM supervision_due").ok());
  }
  d.hub.start();
  const std::string again = d.hub.login("operator");
  eventually([&] { return d.hub.get(again, "/api/v1/cases?site=S01").body["count"] == 3; });
  CHECK(d.hub.get(again, "/api/v1/healthz").body["projection"]["pending_events"] == 0);
  CHECK(d.hub.get(again, "/api/v1/cases/" + ids[2]).body["status"] == "accepted");
}

TEST_CASE("the hub refuses a signed event that is no case event and stores nothing of it",
          "[integration][sync][projection]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01"), s02(district, "S02");
  hub.start();
  s01.set_hub(hub.sync_endpoint());
  s02.set_hub(hub.sync_endpoint());
  s01.start();
  submit(s01, s01.login("clerk"), 720);
  eventually([&] { return hub_held(hub, "S01") == 2; });
  s01.stop();
  // S01's key signs an event whose body is not a case event (a broken or tampered node):
  // once acknowledged it could never be projected.
  sync::Event bad;
  {
    Db db = open_db(s01.data() / "node.db");
    auto events = sync::Replica(db).read("S01", 1, 10);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 2);
    bad = events->back();
    bad.seq = 3;
    bad.lamport += 1;
    bad.kind = "case.accepted";
    bad.body = std::string("\xff\xff\xff\xff", 4);
    bad.prev_hash = events->back().hash;
    bad.hash = sync::compute_event_hash(bad);
  }
  {
    RawClient raw(hub.sync_endpoint(), hub_public_key(district), site_key(s01), "S01");
    pb::Envelope env;
    *env.mutable_batch() = sync::make_batch({bad}, site_key(s01));
    raw.send(env);
    auto reply = raw.recv();
    REQUIRE(reply);
    INFO(reply->DebugString());
    CHECK(reply->error().code() == pb::Error::MALFORMED);
    CHECK(reply->error().expected_seq() == 3);
  }
  CHECK(hub_stored(hub, "S01") == 2);
  // The other sites go on as before.
  s02.start();
  const std::string theirs = submit(s02, s02.login("clerk"), 721);
  eventually([&] { return hub_held(hub, "S02") == s02.head_seq(); });
  const std::string op = hub.login("operator");
  CHECK(hub.get(op, "/api/v1/cases?site=S02").body["count"] == 1);
  CHECK(hub.get(op, "/api/v1/cases/" + theirs).body["status"] == "accepted");
  CHECK(hub.get(op, "/api/v1/healthz").body["projection"]["pending_events"] == 0);
  CHECK(hub_stored(hub, "S01") == 2);
}

TEST_CASE("a site is welcomed while the hub's writer waits on a long write",
          "[integration][sync][fairness]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01"), s02(district, "S02");
  hub.start();
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  const std::string clerk = s01.login("clerk");
  submit(s01, clerk, 1);
  eventually([&] { return hub_held(hub, "S01") == 2; });
  // Another connection holds hub.db's write lock: the hub's store thread, storing S01's
  // next case, waits for it (up to its 5 s busy timeout) while holding the writer's mutex.
  Db blocker = open_db(hub.data() / "hub.db");
  REQUIRE(blocker.exec("BEGIN IMMEDIATE").ok());
  submit(s01, clerk, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the batch reaches the store
  // The socket loop answers a Hello from what is committed, through its own reader: the
  // writer's wait holds up no other site (before, the Welcome waited behind it).
  RawClient raw(hub.sync_endpoint(), hub_public_key(district), site_key(s02), "S02");
  raw.send(hello("S02"));
  const auto welcome = raw.recv(2500);
  const bool write_lock_still_held = hub_stored(hub, "S01") == 2;
  REQUIRE(blocker.exec("ROLLBACK").ok());
  REQUIRE(welcome);
  CHECK(welcome->has_welcome());
  CHECK(write_lock_still_held);
  // Nothing is lost by the wait: S01's case is stored once the lock is free.
  eventually([&] { return hub_held(hub, "S01") == 4; });
}
