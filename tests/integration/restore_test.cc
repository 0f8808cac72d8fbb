// Rebuilding a site from the hub (issue 7): a node's data directory is deleted mid-day (a
// stolen or dead PC), `tongban restore --from-hub` fetches the site's own chain, verifies
// every hash and the site's signature, rebuilds projections and case keys under a new
// keyring, and the node carries on: every acknowledged event is back, no seq is reused,
// and the hub sees no fork.
#include <httplib.h>

#include <catch2/catch.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "tongban/shared/documents.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("a site whose data directory is lost is restored from the hub and goes on",
          "[integration][restore]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string clerk = d.s01.login("clerk");
  // A case S02 accepted, handed to S01, which takes it on (an event with nothing sealed).
  const std::string s02_clerk = s02.login("clerk");
  const std::string handed = submit(s02, s02_clerk, 700);
  eventually([&] { return d.hub.get(op, "/api/v1/cases/" + handed).status == 200; });
  REQUIRE(d.hub.post(op, "/api/v1/cases/" + handed + "/handover", {{"to", "S01"}, {"reason", "均衡负荷"}})
              .status == 200);
  eventually([&] { return d.s01.get(clerk, "/api/v1/cases/" + handed).status == 200; });
  REQUIRE(d.s01.post(clerk, "/api/v1/cases/" + handed + "/take", json::object()).status == 200);
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    json app = application("RS001", {"ID", "PHOTO"}, resident_id(500 + i));
    app["applicant"]["name"] = "恢复" + std::to_string(i);
    if (i % 2 == 0) app["accept"] = json::object();
    const HttpReply r = d.s01.post(clerk, "/api/v1/cases", app);
    REQUIRE(r.status == 201);
    ids.push_back(r.body["case_id"]);
  }
  REQUIRE(d.s01.post(clerk, "/api/v1/cases/" + ids[1] + "/withdraw", {{"reason", "申请人撤回"}})
              .status == 200);
  // A scanned file: the hub holds it once the site has sent it.
  const std::string pdf = "%PDF-1.4\n% 恢复测试材料\n%%EOF\n";
  REQUIRE(d.s01.post_raw(clerk, "/api/v1/cases/" + ids[0] + "/documents?material=ID&name=id.pdf",
                         pdf, "application/pdf")
              .status == 201);
  eventually([&] {
    const HttpReply r = d.hub.get(op, "/api/v1/cases/" + ids[0] + "/documents");
    return r.status == 200 && r.body["documents"].size() == 1 &&
           r.body["documents"][0]["state"] == "complete";
  });
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  const uint64_t head = d.s01.head_seq();

  d.s01.kill9();
  std::filesystem::remove_all(d.s01.data());
  const std::vector<std::string> restore = {
      "restore",      "--from-hub",    "--url",          d.hub.url(),
      "--token",      op,              "--site-config",  d.district.config().string(),
      "--site",       "S01",           "--data",         d.s01.data().string(),
      "--key-file",   d.s01.key_file().string(),         "--district-key",
      d.district.district_key().string(),                "--demo-staff",
      "--password-env", "TONGBAN_TEST_PASSWORD",         "--page", "5"};
  std::string out;
  REQUIRE(run_cli(restore, &out) == 0);
  INFO(out);
  CHECK(out.find(std::to_string(head) + " events verified") != std::string::npos);
  // Never over a directory that holds data.
  CHECK(run_cli(restore, &out) != 0);
  CHECK(out.find("恢复只写入新的空目录") != std::string::npos);
  CHECK(run_cli({"verify-log", "--data", d.s01.data().string(), "--site-config",
                 d.district.config().string()}) == 0);

  d.s01.start();
  CHECK(d.s01.head_seq() == head);
  const std::string again = d.s01.login("clerk");
  for (int i = 0; i < 8; ++i) {
    const HttpReply r = d.s01.get(again, "/api/v1/cases/" + ids[i]);
    REQUIRE(r.status == 200);
    CHECK(r.body["applicant"]["name"] == "恢复" + std::to_string(i));  // case keys are back
  }
  CHECK(d.s01.get(again, "/api/v1/cases/" + ids[1]).body["status"] == "withdrawn");
  // Its documents come back from the hub like any file it lacks.
  eventually([&] {
    const HttpReply r = d.s01.get(again, "/api/v1/cases/" + ids[0] + "/documents");
    return r.status == 200 && r.body["documents"].size() == 1 &&
           r.body["documents"][0]["state"] == "complete";
  });
  // The case handed in reads too: its key came from S02's sealed events, re-wrapped.
  CHECK(case_at(d.s01, again, handed)["applicant"]["name"] == "张三");
  // The hub's stream, re-sent from 1 with keys wrapped for the old box key, does not stop
  // the site: a case handed over after the restore arrives and reads.
  const std::string later = submit(s02, s02_clerk, 701);
  eventually([&] { return d.hub.get(op, "/api/v1/cases/" + later).status == 200; });
  REQUIRE(d.hub.post(op, "/api/v1/cases/" + later + "/handover", {{"to", "S01"}, {"reason", "均衡负荷"}})
              .status == 200);
  eventually([&] { return d.s01.get(again, "/api/v1/cases/" + later).status == 200; });
  CHECK(case_at(d.s01, again, later)["applicant"]["name"] == "张三");
  CHECK(d.s01.get(again, "/api/v1/cases?id_number=" + resident_id(503)).body["count"] == 1);
  // The sequence goes on from the hub's head; the hub stores it, with no fork.
  const uint64_t before = d.s01.head_seq();  // head, and the Received of the later case
  CHECK(before == head + 1);
  json app = application("RS001", {"ID", "PHOTO"}, resident_id(600));
  const HttpReply created = d.s01.post(again, "/api/v1/cases", app);
  REQUIRE(created.status == 201);
  CHECK(created.body["case_id"] != ids.back());
  CHECK(d.s01.head_seq() == before + 1);
  eventually([&] { return hub_held(d.hub, "S01") == before + 1; });
  const json sites = d.hub.get(op, "/api/v1/sites").body;
  for (const json& s : sites["sites"])
    if (s["site"] == "S01") CHECK(s["fork"].is_null());
  CHECK(d.hub.get(op, "/api/v1/cases/" + created.body["case_id"].get<std::string>()).status == 200);
  // The restored file opens with the case key the hub re-wrapped, whole and unchanged.
  httplib::Client c("127.0.0.1", d.s01.port());
  auto file = c.Get("/api/v1/cases/" + ids[0] + "/documents/" + to_hex(document_hash(pdf)),
                    {{"Authorization", "Bearer " + again}});
  REQUIRE(file);
  CHECK(file->status == 200);
  CHECK(file->body == pdf);
}

TEST_CASE("a restore refuses what the hub cannot prove and an unknown site",
          "[integration][restore]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const auto data = d.district.root() / "fresh";
  std::string out;
  CHECK(run_cli({"restore", "--from-hub", "--url", d.hub.url(), "--token", op, "--site-config",
                 d.district.config().string(), "--site", "S02", "--data", data.string(),
                 "--key-file", (d.district.root() / "fresh.kek").string(), "--district-key",
                 d.district.district_key().string(), "--password-env", "TONGBAN_TEST_PASSWORD"},
                &out) != 0);
  INFO(out);
  // S02 was never provisioned: nothing to verify its events with.
  CHECK(out.find("没有该站点的公钥") != std::string::npos);
  CHECK(d.hub.get(op, "/api/v1/sites/S99/restore").status == 404);
  CHECK(d.hub.get(op, "/api/v1/sites/S01/restore?limit=0").status == 400);
  CHECK(d.hub.get("", "/api/v1/sites/S01/restore").status == 401);
  // Provisioned but never synced: the hub holds nothing of it, so there is nothing to restore.
  NodeHarness s02(d.district, "S02");
  CHECK(run_cli({"restore", "--from-hub", "--url", d.hub.url(), "--token", op, "--site-config",
                 d.district.config().string(), "--site", "S02", "--data",
                 (d.district.root() / "fresh2").string(), "--key-file",
                 (d.district.root() / "fresh2.kek").string(), "--district-key",
                 d.district.district_key().string(), "--password-env", "TONGBAN_TEST_PASSWORD"},
                &out) != 0);
  CHECK(out.find("无可恢复") != std::string::npos);
}
