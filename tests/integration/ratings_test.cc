// 好差评's closed loop with real processes: the resident rates with a one-time ticket; a
// 差评 is called back; the site appeals one with evidence and the hub's supervisor decides
// (the decision travels down to the site); the other is rectified and the resident rates
// again (追评); the month's rankings count what stands.
#include <catch2/catch.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

// An approved case of S01, rated `level` by its resident (served at `window`, 0: not given).
std::string rated_case(NodeHarness& node, int n, int level, int window = 0) {
  const std::string clerk = node.login("clerk"), reviewer = node.login("reviewer");
  json app = application("RS001", {"ID", "PHOTO"}, resident_id(n));
  app["accept"] = json::object();
  const HttpReply filed = node.post(clerk, "/api/v1/cases", app);
  REQUIRE(filed.status == 201);
  const std::string id = filed.body["case_id"];
  REQUIRE(act(node, reviewer, id, "review").status == 200);
  REQUIRE(act(node, reviewer, id, "decide", {{"approve", true}}).status == 200);
  const HttpReply ticket =
      act(node, clerk, id, "rating-ticket", window ? json{{"window", window}} : json::object());
  INFO(ticket.body.dump());
  REQUIRE(ticket.status == 201);
  const HttpReply r = node.post("", "/api/v1/ratings/" + ticket.body["token"].get<std::string>(),
                                {{"level", level}, {"channel", "qr"}});
  INFO(r.body.dump());
  REQUIRE(r.status == 201);
  return id;
}

}  // namespace

TEST_CASE("a 差评 is appealed and decided at the hub and another is rectified and rated again",
          "[integration][ratings]") {
  LinkedDistrict d;
  const std::string sup = d.hub.login("supervisor");
  const std::string op = d.hub.login("operator");
  const std::string clerk = d.s01.login("clerk");
  const std::string reviewer = d.s01.login("reviewer");
  const std::string appealed = rated_case(d.s01, 931, 1);
  const std::string fixed = rated_case(d.s01, 932, 2, 3);
  rated_case(d.s01, 933, 5, 3);

  // 申诉复核: only after the callback, only with evidence, and it holds up rectification.
  expect_error(act(d.s01, reviewer, appealed, "rating-appeal", {{"evidence", "申请人当日情绪激动，恶意差评"}}),
               409, "not_appealable");
  REQUIRE(act(d.s01, reviewer, appealed, "callback", {{"note", "已电话回访，申请人对审批结果不满"}}).status == 200);
  expect_error(act(d.s01, clerk, appealed, "rating-appeal", {{"evidence", "窗口全程录像显示服务规范"}}), 403,
               "forbidden_role");
  expect_error(act(d.s01, reviewer, appealed, "rating-appeal"), 400, "missing_field");
  expect_error(act(d.s01, reviewer, appealed, "rating-appeal", {{"evidence", "恶意差评"}}), 400,
               "evidence_required");
  const std::string evidence = "窗口全程录像显示服务规范，申请人系因不符合条件被告知后给予差评";
  REQUIRE(act(d.s01, reviewer, appealed, "rating-appeal", {{"evidence", evidence}}).status == 200);
  expect_error(act(d.s01, reviewer, appealed, "rectify", {{"note", "已整改"}}), 409, "appeal_pending");
  expect_error(act(d.s01, reviewer, appealed, "rating-appeal", {{"evidence", evidence}}), 409,
               "not_appealable");

  // The supervisor sees it at the hub and decides; an operator may only look.
  const auto pending = [&] { return d.hub.get(sup, "/api/v1/rating-appeals").body["appeals"]; };
  eventually([&] { return pending().size() == 1; });
  const json appeal = pending()[0];
  CHECK(appeal["case_id"] == appealed);
  CHECK(appeal["site"] == "S01");
  CHECK(appeal["level"] == 1);
  CHECK(appeal["evidence"] == evidence);
  CHECK(appeal["appealed_by"] == "reviewer");
  CHECK(appeal["upheld"].is_null());
  const std::string decide = "/api/v1/rating-appeals/" + appealed + "/decide";
  expect_error(d.hub.post(op, decide, {{"upheld", true}, {"reason", "录像证实服务规范"}}), 403, "forbidden_role");
  expect_error(d.hub.post(sup, decide, {{"upheld", "yes"}, {"reason", "录像证实服务规范"}}), 400, "invalid_field");
  expect_error(d.hub.post(sup, decide, {{"upheld", true}}), 400, "missing_field");
  expect_error(d.hub.post(sup, "/api/v1/rating-appeals/" + fixed + "/decide",
                          {{"upheld", true}, {"reason", "录像证实服务规范"}}),
               409, "no_pending_appeal");
  const HttpReply decided = d.hub.post(sup, decide, {{"upheld", true}, {"reason", "录像证实窗口服务规范，差评不计入排名"}});
  INFO(decided.body.dump());
  REQUIRE(decided.status == 201);
  CHECK(decided.body["upheld"] == true);
  CHECK(pending().empty());
  CHECK(d.hub.get(sup, "/api/v1/rating-appeals?state=decided").body["appeals"].size() == 1);

  // The decision reaches the site: the rating stands on record, out of the rankings, and
  // no rectification is owed.
  eventually([&] {
    const json r = d.s01.get(reviewer, "/api/v1/cases/" + appealed).body["rating"];
    return r["appeal"].is_object() && r["appeal"]["upheld"] == true;
  });
  const json kept = d.s01.get(reviewer, "/api/v1/cases/" + appealed).body["rating"];
  CHECK(kept["level"] == 1);
  CHECK(kept["excluded"] == true);
  CHECK(kept["loop_closed"] == true);
  CHECK(kept["appeal"]["supervisor"] == "supervisor");
  expect_error(act(d.s01, reviewer, appealed, "rectify", {{"note", "已整改"}}), 409, "no_open_rectification");

  // The other 差评: called back, rectified, then the resident rates again (追评), once.
  REQUIRE(act(d.s01, reviewer, fixed, "callback", {{"note", "已回访，申请人反映等候时间过长"}}).status == 200);
  expect_error(act(d.s01, clerk, fixed, "rating-ticket"), 409, "already_rated");  // 追评 after rectification
  REQUIRE(act(d.s01, reviewer, fixed, "rectify", {{"note", "增设高峰时段窗口，缩短等候时间"}}).status == 200);
  const HttpReply again = act(d.s01, clerk, fixed, "rating-ticket");
  REQUIRE(again.status == 201);
  const std::string token = again.body["token"];
  const json page = d.s01.get("", "/api/v1/ratings/" + token).body;
  CHECK(page["follow_up"] == true);
  CHECK(page["rated"] == false);
  const HttpReply follow = d.s01.post("", "/api/v1/ratings/" + token, {{"level", 4}, {"comment", "整改后明显改善"}});
  INFO(follow.body.dump());
  REQUIRE(follow.status == 201);
  CHECK(follow.body["level"] == 2);  // the first rating stands
  CHECK(follow.body["follow_up_level"] == 4);
  expect_error(d.s01.post("", "/api/v1/ratings/" + token, {{"level", 5}}), 409, "already_rated");
  expect_error(act(d.s01, clerk, fixed, "rating-ticket"), 409, "already_rated");
  const json closed = d.s01.get(reviewer, "/api/v1/cases/" + fixed).body["rating"];
  CHECK(closed["follow_up_level"] == 4);
  CHECK(closed["loop_closed"] == true);

  // This month's ranking at the hub: the upheld appeal's 差评 counts for nobody (S01: 2 and
  // 5, below the 5 ratings a site needs to be ranked); the public page names no staff.
  eventually([&] {
    const json rows = d.hub.get(sup, "/api/v1/ratings/rankings?by=site").body["rows"];
    return rows.size() == 1 && rows[0]["ratings"] == 2;
  });
  const json row = d.hub.get(sup, "/api/v1/ratings/rankings?by=site").body["rows"][0];
  CHECK(row["key"] == "S01");
  CHECK(row["avg"] == 3.5);
  CHECK(row["bad"] == 1);
  CHECK(row["rank"].is_null());
  CHECK(row["flagged"] == false);
  // By window: only the ratings whose ticket named one (window 3: levels 2 and 5).
  const json windows = d.hub.get(sup, "/api/v1/ratings/rankings?by=window").body["rows"];
  REQUIRE(windows.size() == 1);
  CHECK(windows[0]["key"] == "S01-3");
  CHECK(windows[0]["name"] == "丈八街道便民服务中心 3号窗口");
  CHECK(windows[0]["ratings"] == 2);
  CHECK(d.s01.get(reviewer, "/api/v1/cases/" + fixed).body["rating"]["window"] == 3);
  expect_error(act(d.s01, clerk, fixed, "rating-ticket", {{"window", 100}}), 400, "invalid_window");
  const json staff = d.hub.get(sup, "/api/v1/ratings/rankings?by=staff").body["rows"];
  REQUIRE(staff.size() == 1);
  CHECK(staff[0]["key"] == "clerk");
  const HttpReply published = d.hub.get("", "/api/v1/public/ratings");
  REQUIRE(published.status == 200);
  CHECK(published.body["sites"][0]["name"] == "丈八街道便民服务中心");
  CHECK(published.body["sites"][0].find("flagged") == published.body["sites"][0].end());
  CHECK(published.body.dump().find("clerk") == std::string::npos);
  expect_error(d.hub.get("", "/api/v1/public/ratings?month=2026-13"), 400, "invalid_period");
  expect_error(d.hub.get(sup, "/api/v1/ratings/rankings?by=counter"), 400, "invalid_group");

  // The month's supervision report counts the same ratings and both 差评 loops.
  const std::string month = format_date(date_of(std::time(nullptr))).substr(0, 7);
  eventually([&] {
    return d.hub.get(sup, "/api/v1/reports/monthly?month=" + month).body["loop"]["followed_up"] == 1;
  });
  const json report = d.hub.get(sup, "/api/v1/reports/monthly?month=" + month).body;
  INFO(report.dump());
  CHECK(report["rating_levels"] == json::array({1, 1, 0, 0, 1}));
  const json& loop = report["loop"];
  CHECK(loop["bad"] == 2);
  CHECK(loop["called_back"] == 2);
  CHECK(loop["appealed"] == 1);
  CHECK(loop["upheld"] == 1);
  CHECK(loop["rectified"] == 1);
  CHECK(loop["overdue"] == 0);
  CHECK(loop["callback_days"] == 0.0);  // called back the day it was rated
}
