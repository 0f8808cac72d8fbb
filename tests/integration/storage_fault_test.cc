// Storage faults below a real daemon: tests/support/fault_vfs.cc is loaded with LD_PRELOAD
// and makes SQLite's writes, truncations or syncs of node.db / hub.db fail on command (a
// full disk, an I/O error). A request that cannot be stored answers 503 and changes
// nothing; what was acknowledged before stays; when the space returns the daemon goes on
// without a restart.
#include <catch2/catch.hpp>
#include <fstream>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

void set_fault(const std::filesystem::path& control, const std::string& mode) {
  std::ofstream(control, std::ios::trunc) << mode << "\n";
}

std::vector<std::string> fault_env(const std::filesystem::path& control) {
  return {std::string("LD_PRELOAD=") + TONGBAN_FAULT_VFS_LIB,
          "TONGBAN_FAULT_VFS=" + control.string()};
}

json accepted_case(int n) {
  json app = application("RS001", {"ID", "PHOTO"}, resident_id(n));
  app["accept"] = json::object();
  return app;
}

}  // namespace

TEST_CASE("a full disk or failing writes and syncs answer 503 and lose nothing acknowledged",
          "[integration][node][faults]") {
  NodeHarness node("S01");
  const auto control = node.config().parent_path() / "fault-vfs";
  set_fault(control, "ok");
  node.set_env(fault_env(control));
  node.start();
  const std::string clerk = node.login("clerk");
  std::vector<std::string> acknowledged;
  int n = 0;
  const auto submit_ok = [&] {
    const HttpReply r = node.post(clerk, "/api/v1/cases", accepted_case(++n));
    INFO(r.body.dump());
    REQUIRE(r.status == 201);
    acknowledged.push_back(r.body["case_id"]);
  };
  submit_ok();
  // A case waiting for acceptance: accepting it is a command on an existing case.
  const HttpReply waiting = node.post(clerk, "/api/v1/cases", application("RS001", {"ID", "PHOTO"}, resident_id(500)));
  REQUIRE(waiting.status == 201);
  const std::string pending = waiting.body["case_id"];
  const uint64_t head_before = node.head_seq();
  for (const auto& [mode, code] : std::vector<std::pair<std::string, std::string>>{
           {"full", "storage_full"}, {"eio-write", "storage_io_error"},
           {"eio-fsync", "storage_io_error"}}) {
    INFO("fault " << mode);
    const uint64_t head = node.head_seq();
    set_fault(control, mode);
    for (int i = 0; i < 5; ++i) {
      const HttpReply r = node.post(clerk, "/api/v1/cases", accepted_case(1000 + i));
      CHECK(r.status == 503);
      CHECK(r.body["error"]["code"] == code);
      CHECK_FALSE(r.body["error"]["message"].get<std::string>().empty());
    }
    // A command on an existing case fails the same way and changes nothing.
    CHECK(node.post(clerk, "/api/v1/cases/" + pending + "/accept", json::object()).status == 503);
    // Reads still work while the disk is full.
    CHECK(node.get(clerk, "/api/v1/cases/" + acknowledged.front()).status == 200);
    CHECK(node.get("", "/api/v1/healthz").status == 200);
    set_fault(control, "ok");
    CHECK(node.head_seq() == head);  // nothing half-written
    submit_ok();                     // the space returned: no restart needed
  }
  CHECK(node.head_seq() == head_before + 3 * 2);
  CHECK(node.get(clerk, "/api/v1/cases/" + pending).body["status"] != "accepted");
  CHECK(node.post(clerk, "/api/v1/cases/" + pending + "/accept", json::object()).status == 200);
  for (const std::string& id : acknowledged) {
    INFO(id);
    const HttpReply r = node.get(clerk, "/api/v1/cases/" + id);
    CHECK(r.status == 200);
    CHECK(r.body["status"] == "accepted");
  }
  node.stop();
  std::string out;
  CHECK(node.cli({"verify-log", "--data", node.data().string(), "--site-config",
                  node.config().string()},
                 &out) == 0);
  INFO(out);
  expect_integrity(node.data() / "node.db");
  node.set_env({});
  node.start();  // the head witness agrees with the log
  CHECK(node.get(node.login("clerk"), "/api/v1/cases/" + acknowledged.back()).status == 200);
}

TEST_CASE("a hub whose disk fills refuses batches unacknowledged and catches up when space returns",
          "[integration][sync][faults]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness s01(district, "S01");
  const auto control = district.config().parent_path() / "fault-vfs";
  set_fault(control, "ok");
  hub.set_env(fault_env(control));
  hub.start();
  s01.set_hub(hub.sync_endpoint());
  s01.start();
  const std::string clerk = s01.login("clerk");
  submit(s01, clerk, 1);
  eventually([&] { return hub_held(hub, "S01") == s01.head_seq(); });
  const std::string op = hub.login("operator");

  set_fault(control, "full");
  for (int i = 2; i <= 20; ++i) submit(s01, clerk, i);  // the node's own disk is fine
  std::string toml = read_file(district.config() / "catalog.toml");
  toml.replace(toml.find("version = 1"), 11, "version = 2");
  const HttpReply publish = hub.post_raw(op, "/api/v1/catalog", toml, "text/plain");
  CHECK(publish.status == 503);
  CHECK(publish.body["error"]["code"] == "storage_full");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(hub_stored(hub, "S01") == 2);  // nothing stored, so nothing acknowledged
  CHECK(s01.get("", "/api/v1/healthz").body["sync"]["acked_seq"] == 2);

  set_fault(control, "ok");
  eventually([&] { return hub_held(hub, "S01") == s01.head_seq(); }, std::chrono::seconds(60));
  REQUIRE(hub.post_raw(op, "/api/v1/catalog", toml, "text/plain").status == 201);
  eventually([&] { return s01.get(clerk, "/api/v1/catalog").body["version"] == 2; });
  hub.stop();
  s01.stop();
  CHECK(hub_digest(hub) == digest_from_nodes({&s01}));
  expect_integrity(hub.data() / "hub.db");
}
