// Workflow defects of issue 8, driven over HTTP against a real tongban-node (and hub): each
// test fails without its fix.
#include <catch2/catch.hpp>

#include "support/node_harness.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("issue 8: the case view lists the notes staff wrote with who wrote them",
          "[integration][node][issue8]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk"), reviewer = node.login("reviewer");
  auto r = node.post(clerk, "/api/v1/cases", application("GA002", {"ID"}));
  REQUIRE(r.status == 201);
  const std::string id = r.body["case_id"];
  const std::string path = "/api/v1/cases/" + id;
  REQUIRE(node.post(clerk, path + "/request-materials", {{"note", "请补交照片和居住证明"}}).status ==
          200);
  REQUIRE(node.post(clerk, path + "/supply", {{"provided", {"PHOTO", "RESIDENCE"}}}).status == 200);
  REQUIRE(node.post(clerk, path + "/accept", json::object()).status == 200);
  REQUIRE(node.post(reviewer, path + "/review", json::object()).status == 200);
  REQUIRE(node.post(reviewer, path + "/suspend", {{"reason", "testing"}, {"note", "送检"}})
              .status == 200);
  r = node.post(reviewer, path + "/resume", {{"note", "检测合格"}});
  REQUIRE(r.status == 200);
  for (const json& view : {r.body, node.get(clerk, path).body}) {
    INFO(view.dump());
    REQUIRE(view["notes"].size() == 3);
    CHECK(view["notes"][0]["kind"] == "notice");
    CHECK(view["notes"][0]["text"] == "请补交照片和居住证明");
    CHECK(view["notes"][0]["by"] == "clerk");
    CHECK(view["notes"][1]["kind"] == "suspension");
    CHECK(view["notes"][1]["kind_zh"] == "中止说明");
    CHECK(view["notes"][1]["by"] == "reviewer");
    CHECK(view["notes"][2]["text"] == "检测合格");
    CHECK_FALSE(view["notes"][2]["at"].get<std::string>().empty());
  }
  // A rebuild of the index from the log (a restart) shows the same notes.
  node.stop();
  node.start();
  CHECK(node.get(node.login("clerk"), path).body["notes"][1]["by"] == "reviewer");
}

TEST_CASE("issue 8: an enterprise applicant's USCC is checked on bookings as on applications",
          "[integration][node][input][issue8]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");
  const std::string date = node.get(clerk, "/api/v1/queue/today").body["date"];
  json booking = {{"item_code", "RS001"},
                  {"date", date},
                  {"slot", "09:00"},
                  {"applicant",
                   {{"name", "王五"},
                    {"id_number", resident_id(1)},
                    {"phone", "13800001111"},
                    {"enterprise", true},
                    {"uscc", "91610131MA6TXXXX0X"},
                    {"org_name", "西安某公司"}}}};
  expect_error(node.post(clerk, "/api/v1/appointments", booking), 400, "invalid_uscc");
  booking["applicant"]["enterprise"] = false;  // a person with a USCC
  expect_error(node.post(clerk, "/api/v1/appointments", booking), 400, "unexpected_field");
  CHECK(node.get(clerk, "/api/v1/appointments?date=" + date).body["appointments"].empty());
  // The same person item applied for with that USCC.
  json app = application("RS001", {"ID", "PHOTO"});
  app["applicant"]["enterprise"] = true;
  app["applicant"]["uscc"] = "91610131MA6TXXXX0X";
  app["applicant"]["org_name"] = "西安某公司";
  expect_error(node.post(clerk, "/api/v1/cases", app), 400, "invalid_uscc");
  CHECK(node.get(clerk, "/api/v1/cases").body["count"] == 0);
}

TEST_CASE("issue 8: every list endpoint refuses a limit it cannot read",
          "[integration][node][hub][input][issue8]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness node(district, "S01");
  hub.start();
  node.start();
  const std::string clerk = node.login("clerk"), agent = node.login("agent");
  for (int i = 0; i < 2; ++i) {
    json app = application("MZ002", {"ID", "HKB", "AUTH_CHECK", "HOUSE_PROOF"}, resident_id(i));
    app["committed"] = {"INCOME"};
    app["authorization"] = {
        {"document_no", "WT-001"}, {"signed_date", "2026-01-05"}, {"priority_group", "elderly"}};
    REQUIRE(node.post(agent, "/api/v1/cases", app).status == 201);
  }
  // The agent's own list took only `status`, unchecked: a bad limit was ignored.
  expect_error(node.get(agent, "/api/v1/agent/cases?limit=abc"), 400, "invalid_limit");
  expect_error(node.get(agent, "/api/v1/agent/cases?limit=0"), 400, "invalid_limit");
  expect_error(node.get(agent, "/api/v1/agent/cases?offset=x"), 400, "invalid_offset");
  expect_error(node.get(agent, "/api/v1/agent/cases?status=lost"), 400, "invalid_status");
  CHECK(node.get(agent, "/api/v1/agent/cases").body["count"] == 2);
  const json page = node.get(agent, "/api/v1/agent/cases?limit=1&offset=1").body;
  CHECK(page["count"] == 1);
  CHECK(page["limit"] == 1);
  expect_error(node.get(clerk, "/api/v1/cases?limit=abc"), 400, "invalid_limit");

  const std::string op = hub.login("operator");
  expect_error(hub.get(op, "/api/v1/cases?limit=abc"), 400, "invalid_limit");
  expect_error(hub.get(op, "/api/v1/cases?offset=-1"), 400, "invalid_offset");
  expect_error(hub.get(op, "/api/v1/dispatch?limit=abc"), 400, "invalid_limit");
  expect_error(hub.get(op, "/api/v1/dispatch?stuck=yes"), 400, "invalid_stuck");
  expect_error(hub.get(op, "/api/v1/dispatch?stuck_hours=abc"), 400, "invalid_stuck_hours");
  expect_error(hub.get(op, "/api/v1/conflicts?limit=0"), 400, "invalid_limit");
  expect_error(hub.get(op, "/api/v1/duplicates?limit=abc"), 400, "invalid_limit");
  CHECK(hub.get(op, "/api/v1/dispatch?limit=10&stuck=0").status == 200);
  CHECK(hub.get(op, "/api/v1/conflicts?limit=10").status == 200);
  CHECK(hub.get(op, "/api/v1/duplicates?limit=10").status == 200);
}
