// One person across the district with real processes: at acceptance a site asks the hub
// whether the resident has the same application open elsewhere; a clerk looks up the
// resident's cases at every site only with a stated reason, which the hub records before
// it answers; offline the node proceeds and says the district was not checked.
#include <catch2/catch.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("a site sees the same resident's open application elsewhere and looks up with a reason",
          "[integration][residents]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string s01_clerk = d.s01.login("clerk");
  const std::string id_number = resident_id(800);
  const std::string open_here = submit(d.s01, s01_clerk, 800);
  eventually([&] { return d.hub.get(op, "/api/v1/cases/" + open_here).status == 200; });

  const std::string clerk = s02.login("clerk");
  // Typed with a lowercase check character or full-width digits, it is the same person.
  std::string typed = id_number;
  if (typed.back() == 'X') typed.back() = 'x';
  const HttpReply check =
      s02.get(clerk, "/api/v1/residents/check?id_number=" + typed + "&item_code=RS001");
  INFO(check.body.dump());
  REQUIRE(check.status == 200);
  CHECK(check.body["checked"] == true);
  REQUIRE(check.body["duplicates"].size() == 1);
  CHECK(check.body["duplicates"][0]["case_id"] == open_here);
  CHECK(check.body["duplicates"][0]["site"] == "S01");
  CHECK(check.body["duplicates"][0]["open"] == true);
  CHECK(check.body["broke_commitment"] == false);
  // Another item, or the case itself, is no duplicate.
  CHECK(s02.get(clerk, "/api/v1/residents/check?id_number=" + id_number + "&item_code=MZ002")
            .body["duplicates"].empty());
  CHECK(d.s01.get(s01_clerk, "/api/v1/residents/check?id_number=" + id_number +
                                 "&item_code=RS001&case_id=" + open_here)
            .body["duplicates"].empty());
  expect_error(s02.get(clerk, "/api/v1/residents/check?item_code=RS001"), 400, "missing_field");
  // An agent cannot probe residents by number.
  expect_error(s02.get(s02.login("agent"), "/api/v1/residents/check?id_number=" + id_number +
                                               "&item_code=RS001"),
               403, "forbidden_role");

  // 破窗查询: a reason first; the hub records who, from where, why.
  expect_error(s02.get(clerk, "/api/v1/residents/cases?id_number=" + id_number), 400,
               "reason_required");
  CHECK(d.hub.get(op, "/api/v1/audit/resident-lookups").body["count"] == 0);
  const HttpReply lookup = s02.get(clerk, "/api/v1/residents/cases?id_number=" + id_number +
                                              "&reason=%E6%A0%B8%E5%AE%9E%E9%87%8D%E5%A4%8D%E7%94%B3%E8%AF%B7");
  INFO(lookup.body.dump());
  REQUIRE(lookup.status == 200);
  REQUIRE(lookup.body["count"] == 1);
  CHECK(lookup.body["cases"][0]["case_id"] == open_here);
  CHECK(lookup.body["cases"][0]["status_zh"] == "已受理");
  const json audit = d.hub.get(op, "/api/v1/audit/resident-lookups").body;
  REQUIRE(audit["count"] == 1);
  CHECK(audit["lookups"][0]["site"] == "S02");
  CHECK(audit["lookups"][0]["by"] == "clerk");
  CHECK(audit["lookups"][0]["reason"] == "核实重复申请");
  CHECK(audit["lookups"][0]["cases_shown"] == 1);
  CHECK(audit["lookups"][0]["applicant_id"].get<std::string>().size() == 32);
  CHECK(audit["lookups"][0].dump().find(id_number) == std::string::npos);
  // The supervisor (监察员) sees the same records and the case, and acts on nothing.
  const std::string sup = d.hub.login("supervisor");
  CHECK(d.hub.get(sup, "/api/v1/audit/resident-lookups").body == audit);
  CHECK(d.hub.get(sup, "/api/v1/audit/personal-reads").status == 200);
  CHECK(d.hub.get(sup, "/api/v1/cases/" + open_here).status == 200);
  expect_error(d.hub.post(sup, "/api/v1/cases/" + open_here + "/handover",
                          json{{"to", "S02"}, {"reason", "核实"}}),
               403, "forbidden_role");
  expect_error(d.hub.get(sup, "/api/v1/sites/S01/restore"), 403, "forbidden_role");
  CHECK(d.hub.get(sup, "/api/v1/dispatch").status == 200);
  // Agents do not break the glass.
  expect_error(s02.get(s02.login("agent"), "/api/v1/residents/cases?id_number=" + id_number +
                                               "&reason=%E6%A0%B8%E5%AE%9E%E6%83%85%E5%86%B5"),
               403, "forbidden_role");

  // Offline, the window goes on: the check says it did not reach the hub; a lookup cannot.
  d.hub.stop();
  const HttpReply offline =
      s02.get(clerk, "/api/v1/residents/check?id_number=" + id_number + "&item_code=RS001");
  REQUIRE(offline.status == 200);
  CHECK(offline.body["checked"] == false);
  CHECK(!offline.body["message"].get<std::string>().empty());
  expect_error(s02.get(clerk, "/api/v1/residents/cases?id_number=" + id_number +
                                  "&reason=%E6%A0%B8%E5%AE%9E%E6%83%85%E5%86%B5"),
               503, "hub_unreachable");
}

TEST_CASE("a 容缺 commitment broken at one site bars the applicant everywhere and an offline grant is flagged",
          "[integration][residents]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  NodeHarness s03(d.district, "S03");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  s03.start();  // no link yet: it has not heard of any broken commitment
  const auto tolerant = [](int n) {
    json app = application("MZ002", {"ID", "HKB", "INCOME", "AUTH_CHECK"}, resident_id(n));
    app["accept"] = {{"tolerated", {"HOUSE_PROOF"}}, {"commitment_signed", true}, {"supply_days", 1}};
    return app;
  };
  const HttpReply granted = d.s01.post(d.s01.login("clerk"), "/api/v1/cases", tolerant(900));
  INFO(granted.body.dump());
  REQUIRE(granted.status == 201);
  const std::string id = granted.body["case_id"];

  // A month later by S01's clock, its sweep ends the case: the commitment was broken.
  d.s01.stop();
  d.s01.set_extra_args({"--clock-offset-seconds", std::to_string(30 * 86400)});
  d.s01.start();
  eventually([&] { return case_at(d.hub, op, id)["status"] == "terminated"; });

  // S02 heard: the acceptance check says so, and 容缺 is refused there.
  const std::string s02_clerk = s02.login("clerk");
  eventually([&] {
    return s02.get(s02_clerk, "/api/v1/residents/check?id_number=" + resident_id(900) +
                                  "&item_code=MZ002")
               .body["broke_commitment"] == true;
  });
  expect_error(s02.post(s02_clerk, "/api/v1/cases", tolerant(900)), 422, "tolerance_ineligible");

  // S03, offline, granted 容缺 all the same; the hub flags it when the events arrive.
  const HttpReply offline = s03.post(s03.login("clerk"), "/api/v1/cases", tolerant(900));
  INFO(offline.body.dump());
  REQUIRE(offline.status == 201);
  const std::string late = offline.body["case_id"];
  CHECK(d.hub.get(op, "/api/v1/tolerance-breaches").body["count"] == 0);
  s03.stop();
  join(s03, d.hub, op);
  eventually([&] { return d.hub.get(op, "/api/v1/tolerance-breaches").body["count"] == 1; });
  const json breaches = d.hub.get(op, "/api/v1/tolerance-breaches").body;
  CHECK(breaches["breaches"][0]["case_id"] == late);
  CHECK(breaches["breaches"][0]["site"] == "S03");
}
