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
