// 改革体验官 with a real hub: a supervisor registers an officer with a term; the officer
// logs in and files an issue about a site and an item; an operator assigns it to a
// department with a deadline and records the answer; the officer reopens once, then
// confirms (销号); a supervisor overrules another; the public list names no officer. Every
// step is kept, and whoever may not act on an issue is refused with nothing changed.
#include <catch2/catch.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

TEST_CASE("an experience officer's issue goes from filing to 销号 and whoever may not act is refused",
          "[integration][officers]") {
  DistrictDir district;
  HubHarness hub(district);
  hub.start();
  const std::string sup = hub.login("supervisor");
  const std::string op = hub.login("operator");
  const Date today = date_of(std::time(nullptr));
  const json officer = {{"username", "tyg01"}, {"name", "王晓燕"}, {"organization", "高新区人大代表"},
                        {"term_from", format_date(today + -30)}, {"term_to", format_date(today + 335)}};
  expect_error(hub.post(op, "/api/v1/officers", officer), 403, "forbidden_role");
  json bad_term = officer;
  bad_term["term_to"] = format_date(today + -31);
  expect_error(hub.post(sup, "/api/v1/officers", bad_term), 400, "invalid_term");
  const HttpReply registered = hub.post(sup, "/api/v1/officers", officer);
  INFO(registered.body.dump());
  REQUIRE(registered.status == 201);
  expect_error(hub.post(sup, "/api/v1/officers", officer), 409, "username_taken");
  json past = officer;
  past["username"] = "tyg02";
  past["term_from"] = format_date(today + -400);
  past["term_to"] = format_date(today + -35);
  const HttpReply expired = hub.post(sup, "/api/v1/officers", past);
  REQUIRE(expired.status == 201);
  CHECK(hub.get(op, "/api/v1/officers").body["officers"].size() == 2);

  const auto login_as = [&](const std::string& user, const std::string& password) {
    const HttpReply r = hub.post("", "/api/v1/login", {{"username", user}, {"password", password}});
    REQUIRE(r.status == 200);
    CHECK(r.body["role"] == "officer");
    return r.body["token"].get<std::string>();
  };
  const std::string tyg = login_as("tyg01", registered.body["initial_password"]);
  const std::string old = login_as("tyg02", expired.body["initial_password"]);
  // An officer reaches nothing but the issues.
  expect_error(hub.get(tyg, "/api/v1/cases"), 403, "forbidden_role");
  expect_error(hub.get(tyg, "/api/v1/alerts"), 403, "forbidden_role");
  expect_error(hub.get(tyg, "/api/v1/alerts.csv"), 403, "forbidden_role");
  expect_error(hub.get(tyg, "/api/v1/officers"), 403, "forbidden_role");

  const json issue = {{"title", "窗口叫号屏不显示办理进度"},
                      {"detail", "丈八街道便民服务中心综合窗口叫号屏只显示号码，不显示办理进度，群众反复询问。"},
                      {"site", "S01"}, {"item_code", "RS001"}};
  expect_error(hub.post(op, "/api/v1/officer-issues", issue), 403, "forbidden_role");
  expect_error(hub.post(old, "/api/v1/officer-issues", issue), 403, "officer_not_serving");
  json no_title = issue;
  no_title.erase("title");
  expect_error(hub.post(tyg, "/api/v1/officer-issues", no_title), 400, "missing_field");
  json bad_site = issue;
  bad_site["site"] = "S99";
  expect_error(hub.post(tyg, "/api/v1/officer-issues", bad_site), 400, "unknown_site");
  const HttpReply filed = hub.post(tyg, "/api/v1/officer-issues", issue);
  INFO(filed.body.dump());
  REQUIRE(filed.status == 201);
  CHECK(filed.body["state"] == "filed");
  CHECK(filed.body["site_name"] == "丈八街道便民服务中心");
  CHECK(filed.body["item_name"] == "就业创业证申领");
  const std::string path = "/api/v1/officer-issues/" + std::to_string(filed.body["id"].get<int64_t>());

  // Assigned to a department with a deadline, by an operator only.
  const std::string due = format_date(today + 10);
  expect_error(hub.post(tyg, path + "/assign", {{"department", "民政局"}, {"due", due}}), 403, "forbidden_role");
  expect_error(hub.post(op, path + "/assign", {{"department", "不存在的局"}, {"due", due}}), 400,
               "unknown_department");
  expect_error(hub.post(op, path + "/assign", {{"department", "民政局"}, {"due", "2020-01-01"}}), 400,
               "invalid_due");
  expect_error(hub.post(tyg, path + "/confirm", json::object()), 409, "invalid_transition");
  REQUIRE(hub.post(op, path + "/assign", {{"department", "民政局"}, {"due", due}}).status == 200);
  expect_error(hub.post(op, path + "/answer", json::object()), 400, "missing_field");
  REQUIRE(hub.post(op, path + "/answer", {{"answer", "已协调厂商升级叫号系统，下周上线"}}).status == 200);

  // Not satisfied once: back to the department; then answered again and confirmed.
  expect_error(hub.post(old, path + "/confirm", json::object()), 403, "not_issue_officer");
  expect_error(hub.post(op, path + "/confirm", json::object()), 403, "forbidden_role");
  expect_error(hub.post(tyg, "/api/v1/officer-issues/0/confirm", json::object()), 404, "issue_not_found");
  expect_error(hub.post(op, "/api/v1/officer-issues/0/assign", {{"department", "民政局"}, {"due", due}}), 404,
               "issue_not_found");
  expect_error(hub.post(tyg, path + "/reopen", json::object()), 400, "missing_field");
  REQUIRE(hub.post(tyg, path + "/reopen", {{"note", "未说明上线后如何验证"}}).status == 200);
  REQUIRE(hub.post(op, path + "/answer", {{"answer", "已上线，体验官可现场查看办理进度显示"}}).status == 200);
  const HttpReply closed = hub.post(tyg, path + "/confirm", {{"note", "现场查看，已解决"}});
  REQUIRE(closed.status == 200);
  CHECK(closed.body["state"] == "closed");
  CHECK(closed.body["close_kind"] == "confirmed");
  std::vector<std::string> steps;
  for (const json& s : closed.body["steps"]) steps.push_back(s["step"]);
  CHECK(steps == std::vector<std::string>{"filed", "assigned", "answered", "reopened", "answered", "confirmed"});
  CHECK(closed.body["steps"][1]["by"] == "operator");
  expect_error(hub.post(sup, path + "/overrule", {{"reason", "再次销号"}}), 409, "invalid_transition");

  // Another, overruled by a supervisor with a reason; only a supervisor may.
  json second = issue;
  second["title"] = "希望延长周末服务时间";
  second.erase("item_code");
  const HttpReply other = hub.post(tyg, "/api/v1/officer-issues", second);
  REQUIRE(other.status == 201);
  const std::string other_path = "/api/v1/officer-issues/" + std::to_string(other.body["id"].get<int64_t>());
  expect_error(hub.post(op, other_path + "/overrule", {{"reason", "已有5+2延时服务"}}), 403, "forbidden_role");
  expect_error(hub.post(sup, other_path + "/overrule", json::object()), 400, "missing_field");
  const HttpReply overruled = hub.post(sup, other_path + "/overrule", {{"reason", "该中心已实行5+2延时服务，不再单列"}});
  REQUIRE(overruled.status == 200);
  CHECK(overruled.body["close_kind"] == "overruled");

  // Lists: the officer's own; the supervisors' all; the public one without names or details.
  CHECK(hub.get(tyg, "/api/v1/officer-issues").body["issues"].size() == 2);
  const HttpReply again = hub.post(sup, "/api/v1/officers", officer);  // the registry refuses it too
  CHECK(again.status == 409);
  CHECK(hub.get(old, "/api/v1/officer-issues").body["issues"].empty());
  CHECK(hub.get(sup, "/api/v1/officer-issues?state=closed").body["issues"].size() == 2);
  expect_error(hub.get(sup, "/api/v1/officer-issues?state=lost"), 400, "invalid_state");
  // A third, not yet taken up by an operator, is not published.
  json third = issue;
  third["title"] = "第三个尚未交办的问题";
  REQUIRE(hub.post(tyg, "/api/v1/officer-issues", third).status == 201);
  const HttpReply published = hub.get("", "/api/v1/public/officer-issues");
  REQUIRE(published.status == 200);
  REQUIRE(published.body["issues"].size() == 2);
  CHECK(published.body.dump().find("第三个尚未交办的问题") == std::string::npos);
  CHECK(published.body["issues"][0].find("steps") == published.body["issues"][0].end());
  const std::string text = published.body.dump();
  CHECK(text.find("tyg01") == std::string::npos);
  CHECK(text.find("王晓燕") == std::string::npos);
  CHECK(text.find("群众反复询问") == std::string::npos);  // the detail stays inside
  CHECK(published.body["issues"][1]["department"] == "民政局");
  CHECK(published.body["issues"][1]["overdue"] == false);
}
