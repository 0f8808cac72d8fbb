// 电子监察 with real processes: a site's cases reach the hub, whose rules raise alerts as the
// events arrive (a brief refusal, a refile after withdrawals) and on its timer as time
// passes (steps over their limits, the deadline, a long suspension, a deemed acceptance);
// a clean case stays silent; a supervisor acknowledges or orders rectification, and the
// list exports as CSV.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <fstream>

#include "support/node_harness.h"
#include "support/sync_support.h"
#include "events.pb.h"
#include "tongban/shared/case.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/replica.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

std::string file_case(NodeHarness& node, const std::string& token, const std::string& id_number,
                      bool accept) {
  json app = application("RS001", {"ID", "PHOTO"}, id_number);
  if (accept) app["accept"] = json::object();
  const HttpReply r = node.post(token, "/api/v1/cases", app);
  INFO(r.body.dump());
  REQUIRE(r.status == 201);
  return r.body["case_id"];
}

// The rules the hub has raised on a case, sorted.
std::vector<std::string> alerts_on(HubHarness& hub, const std::string& token, const std::string& id) {
  const HttpReply r = hub.get(token, "/api/v1/alerts?case_id=" + id);
  REQUIRE(r.status == 200);
  std::vector<std::string> rules;
  for (const json& a : r.body["alerts"]) rules.push_back(a["rule"]);
  std::sort(rules.begin(), rules.end());
  return rules;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("the hub's rules raise alerts on arrival and on its timer and a clean case stays silent",
          "[integration][supervision]") {
  LinkedDistrict d;
  d.hub.stop();
  d.hub.set_extra_args({"--supervision-seconds", "1"});
  d.hub.start();
  const std::string op = d.hub.login("operator");
  const std::string sup = d.hub.login("supervisor");
  const std::string clerk = d.s01.login("clerk");
  const std::string reviewer = d.s01.login("reviewer");

  // Today: a clean case, a refusal with a two-character reason, one with a real reason.
  const std::string clean = file_case(d.s01, clerk, resident_id(901), true);
  const std::string brief = file_case(d.s01, clerk, resident_id(902), false);
  REQUIRE(act(d.s01, clerk, brief, "refuse", {{"reason", "不符"}}).status == 200);
  const std::string reasoned = file_case(d.s01, clerk, resident_id(903), false);
  REQUIRE(act(d.s01, clerk, reasoned, "refuse", {{"reason", "申请人已在其他地区领取就业创业证"}}).status == 200);
  // 撤回后重复申请: the same resident withdraws twice and files a third time.
  const std::string again = resident_id(904);
  for (int i = 0; i < 2; ++i) {
    const std::string w = file_case(d.s01, clerk, again, false);
    REQUIRE(act(d.s01, clerk, w, "withdraw", {{"reason", "申请人要求撤回"}}).status == 200);
  }
  const std::string refiled = file_case(d.s01, clerk, again, false);
  eventually([&] { return has(alerts_on(d.hub, op, refiled), "refile_after_withdrawal"); });
  eventually([&] { return has(alerts_on(d.hub, op, brief), "brief_reason"); });
  // Cases that age below: one waits for review, one is in review, one suspended, one
  // approved (its license issued at once) and not delivered.
  const std::string in_review = file_case(d.s01, clerk, resident_id(905), true);
  REQUIRE(act(d.s01, reviewer, in_review, "review").status == 200);
  const std::string suspended = file_case(d.s01, clerk, resident_id(906), true);
  REQUIRE(act(d.s01, reviewer, suspended, "review").status == 200);
  REQUIRE(act(d.s01, reviewer, suspended, "suspend", {{"reason", "correction"}, {"note", "补正材料"}}).status == 200);
  const std::string approved = file_case(d.s01, clerk, resident_id(907), true);
  REQUIRE(act(d.s01, reviewer, approved, "review").status == 200);
  REQUIRE(act(d.s01, reviewer, approved, "decide", {{"approve", true}}).status == 200);
  eventually([&] { return d.hub.get(op, "/api/v1/cases/" + approved).status == 200 &&
                          d.hub.get(op, "/api/v1/cases/" + approved).body["status"] == "approved"; });
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two sweeps at least
  CHECK(alerts_on(d.hub, op, clean).empty());
  CHECK(alerts_on(d.hub, op, reasoned).empty());
  CHECK(alerts_on(d.hub, op, in_review).empty());
  CHECK(alerts_on(d.hub, op, approved).empty());
  CHECK(alerts_on(d.hub, op, brief) == V{"brief_reason"});

  // The alert as a supervisor reads it, and what may be done about it.
  const json list = d.hub.get(sup, "/api/v1/alerts?rule=brief_reason").body;
  REQUIRE(list["count"] == 1);
  const json alert = list["alerts"][0];
  CHECK(alert["severity"] == "yellow");
  CHECK(alert["severity_zh"] == "黄牌");
  CHECK(alert["rule_zh"] == "不予受理/不予许可理由不充分");
  CHECK(alert["site"] == "S01");
  CHECK(alert["department"] == "人力资源和社会保障局");
  CHECK(alert["staff"] == "clerk");
  CHECK(alert["state"] == "open");
  CHECK(alert["detail"].get<std::string>().find("2 字") != std::string::npos);
  const std::string id = std::to_string(alert["id"].get<int64_t>());
  expect_error(d.hub.post(op, "/api/v1/alerts/" + id + "/acknowledge", {{"note", "已核实"}}), 403,
               "forbidden_role");
  expect_error(d.hub.post(sup, "/api/v1/alerts/" + id + "/acknowledge", {{"note", "ok"}}), 400,
               "note_required");
  expect_error(d.hub.post(sup, "/api/v1/alerts/" + id + "/rectify",
                          {{"note", "请补充不予受理的具体理由"}, {"due", "2020-01-01"}}),
               400, "invalid_due");
  expect_error(d.hub.post(sup, "/api/v1/alerts/99999/acknowledge", {{"note", "已核实情况"}}), 404,
               "alert_not_found");
  expect_error(d.hub.get(sup, "/api/v1/alerts?severity=orange"), 400, "invalid_severity");
  expect_error(d.hub.get(sup, "/api/v1/alerts?rule=nope"), 400, "invalid_rule");
  CHECK(d.hub.get(sup, "/api/v1/alerts?state=open&rule=brief_reason").body["count"] == 1);
  const HttpReply ordered = d.hub.post(sup, "/api/v1/alerts/" + id + "/rectify",
                                       {{"note", "请补充不予受理的具体理由"}, {"due", format_date(date_of(std::time(nullptr)) + 15)}});
  INFO(ordered.body.dump());
  REQUIRE(ordered.status == 201);
  CHECK(ordered.body["state"] == "rectifying");
  CHECK(ordered.body["actions"][0]["action"] == "rectification_ordered");
  // The order is answered before the alert is closed (the answer: the next test).
  expect_error(d.hub.post(sup, "/api/v1/alerts/" + id + "/acknowledge", {{"note", "站点已补正理由"}}), 409,
               "order_pending");
  CHECK(d.hub.get(sup, "/api/v1/alerts?state=open&rule=brief_reason").body["count"] == 0);
  // Another alert acknowledged with a note: closed for good.
  const json refile = d.hub.get(sup, "/api/v1/alerts?rule=refile_after_withdrawal").body["alerts"][0];
  const std::string refile_path = "/api/v1/alerts/" + std::to_string(refile["id"].get<int64_t>());
  const HttpReply acked = d.hub.post(sup, refile_path + "/acknowledge", {{"note", "已核实为申请人自行撤回"}});
  REQUIRE(acked.status == 201);
  CHECK(acked.body["state"] == "acknowledged");
  REQUIRE(acked.body["actions"].size() == 1);
  CHECK(acked.body["actions"][0]["by"] == "supervisor");
  expect_error(d.hub.post(sup, refile_path + "/acknowledge", {{"note", "再次确认"}}), 409, "alert_closed");
  expect_error(d.hub.post(sup, refile_path + "/rectify", {{"note", "请整改"}, {"due", format_date(date_of(std::time(nullptr)) + 15)}}),
               409, "alert_closed");

  // Forty days on at the hub (its timer only: no event arrives).
  d.hub.stop();
  d.hub.set_extra_args({"--supervision-seconds", "1", "--clock-offset-seconds", std::to_string(40 * 86400)});
  d.hub.start();
  const std::string op2 = d.hub.login("operator");
  eventually([&] { return has(alerts_on(d.hub, op2, clean), "accept_to_review"); });
  CHECK(alerts_on(d.hub, op2, clean) == V{"accept_to_review", "deadline_overdue"});
  eventually([&] { return has(alerts_on(d.hub, op2, in_review), "review_to_decision"); });
  CHECK(alerts_on(d.hub, op2, in_review) == V{"deadline_overdue", "review_to_decision"});
  eventually([&] { return has(alerts_on(d.hub, op2, suspended), "suspension_length"); });
  CHECK(alerts_on(d.hub, op2, suspended) == V{"suspension_length"});
  eventually([&] { return has(alerts_on(d.hub, op2, approved), "license_to_delivery"); });
  CHECK(alerts_on(d.hub, op2, approved) == V{"license_to_delivery"});
  CHECK(alerts_on(d.hub, op2, reasoned).empty());

  // A case nobody answered in 5 working days: the site's own sweep deems it accepted (art. 32).
  const std::string unanswered = file_case(d.s01, clerk, resident_id(908), false);
  d.s01.stop();
  d.s01.set_extra_args({"--clock-offset-seconds", std::to_string(10 * 86400)});
  d.s01.start();
  eventually([&] { return has(alerts_on(d.hub, op2, unanswered), "deemed_acceptance"); });
  const json deemed = d.hub.get(op2, "/api/v1/alerts?rule=deemed_acceptance").body["alerts"][0];
  CHECK(deemed["staff"] == "system");

  // The list exports as CSV (UTF-8 with a BOM), one row per alert.
  const std::string sup2 = d.hub.login("supervisor");
  const HttpReply all = d.hub.get(sup2, "/api/v1/alerts?limit=500");
  httplib::Client c("127.0.0.1", d.hub.port());
  auto exported = c.Get("/api/v1/alerts.csv", {{"Authorization", "Bearer " + sup2}});
  REQUIRE(exported);
  REQUIRE(exported->status == 200);
  CHECK(exported->get_header_value("Content-Type").rfind("text/csv", 0) == 0);
  const std::string& csv = exported->body;
  CHECK(csv.rfind("\xEF\xBB\xBF编号,", 0) == 0);
  CHECK(static_cast<int64_t>(std::count(csv.begin(), csv.end(), '\n')) == all.body["count"].get<int64_t>() + 1);
  CHECK(csv.find(brief) != std::string::npos);
  CHECK(csv.find("责令整改") != std::string::npos);
  // The same rows as a workbook (.xlsx: a zip whose shared strings hold the cells).
  auto book = c.Get("/api/v1/alerts.xlsx", {{"Authorization", "Bearer " + sup2}});
  REQUIRE(book);
  REQUIRE(book->status == 200);
  CHECK(book->get_header_value("Content-Type").find("spreadsheetml") != std::string::npos);
  CHECK(book->body.rfind("PK", 0) == 0);
  {
    TempDir dir;
    const std::string file = (dir.path() / "alerts.xlsx").string();
    std::ofstream(file, std::ios::binary) << book->body;
    std::string strings;
    REQUIRE(run_command("unzip -p '" + file + "' xl/sharedStrings.xml", &strings) == 0);
    CHECK(strings.find(brief) != std::string::npos);
    CHECK(strings.find("责令整改") != std::string::npos);
    CHECK(strings.find("处理记录") != std::string::npos);
  }
  expect_error(d.hub.get(op2, "/api/v1/alerts.xlsx?severity=orange"), 400, "invalid_severity");

  // The month's supervision report: its figures, and the PDF the CLI saves.
  const std::string month = format_date(date_of(std::time(nullptr))).substr(0, 7);
  const HttpReply report = d.hub.get(sup2, "/api/v1/reports/monthly?month=" + month);
  INFO(report.body.dump());
  REQUIRE(report.status == 200);
  REQUIRE(report.body["sites"].size() >= 1);
  CHECK(report.body["sites"][0]["site"] == "S01");
  CHECK(report.body["sites"][0]["received"].get<int>() >= 5);
  CHECK(report.body["total"]["received"] == report.body["sites"][0]["received"]);
  int brief_rows = 0;
  for (const json& a : report.body["alerts"])
    if (a["rule"] == "brief_reason") {
      ++brief_rows;
      CHECK(a["raised"] == 1);
      CHECK(a["open"] == 0);  // ordered to rectify
    }
  CHECK(brief_rows == 1);
  expect_error(d.hub.get(sup2, "/api/v1/reports/monthly?month=2026-13"), 400, "invalid_period");
  expect_error(d.hub.get(sup2, "/api/v1/reports/monthly.pdf?month=11-2026"), 400, "invalid_period");
  TempDir out;
  const std::string pdf = (out.path() / "report.pdf").string();
  std::string printed;
  REQUIRE(run_cli({"report", "--url", d.hub.url(), "--token", sup2, "--month", month, "--out", pdf},
                  &printed) == 0);
  std::ifstream in(pdf, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(bytes.rfind("%PDF-", 0) == 0);
  std::string text;
  REQUIRE(run_command("pdftotext -layout '" + pdf + "' -", &text) == 0);
  CHECK(text.find("政务服务月度监察报告") != std::string::npos);
  CHECK(text.find("不予受理/不予许可理由不充分") != std::string::npos);
  std::string refused;
  CHECK(run_cli({"report", "--url", d.hub.url(), "--token", "nope", "--out", pdf}, &refused) == 1);
}

TEST_CASE("a rectification order travels down to the site and its answer comes back",
          "[integration][supervision]") {
  LinkedDistrict d;
  d.hub.stop();
  d.hub.set_extra_args({"--supervision-seconds", "1"});
  d.hub.start();
  const std::string sup = d.hub.login("supervisor");
  const std::string clerk = d.s01.login("clerk");
  const std::string reviewer = d.s01.login("reviewer");
  const std::string brief = file_case(d.s01, clerk, resident_id(911), false);
  REQUIRE(act(d.s01, clerk, brief, "refuse", {{"reason", "不符"}}).status == 200);
  eventually([&] { return has(alerts_on(d.hub, sup, brief), "brief_reason"); });
  const json alert = d.hub.get(sup, "/api/v1/alerts?case_id=" + brief).body["alerts"][0];
  const int64_t alert_id = alert["id"];
  const std::string path = "/api/v1/alerts/" + std::to_string(alert_id);
  const std::string due = format_date(date_of(std::time(nullptr)) + 5);
  const HttpReply ordered =
      d.hub.post(sup, path + "/rectify", {{"note", "请补充不予受理的具体理由并告知申请人"}, {"due", due}});
  INFO(ordered.body.dump());
  REQUIRE(ordered.status == 201);
  expect_error(d.hub.post(sup, path + "/rectify", {{"note", "再次下发整改"}, {"due", due}}), 409,
               "order_pending");

  // The site hears it on its own stream: in its list of orders and on the case.
  const auto orders = [&] { return d.s01.get(reviewer, "/api/v1/supervision-orders").body["orders"]; };
  eventually([&] { return orders().size() == 1; });
  expect_error(d.s01.get(d.s01.login("agent"), "/api/v1/supervision-orders"), 403, "forbidden_role");
  const json order = orders()[0];
  CHECK(order["case_id"] == brief);
  CHECK(order["alert_id"] == alert_id);
  CHECK(order["rule"] == "brief_reason");
  CHECK(order["rule_zh"] == "不予受理/不予许可理由不充分");
  CHECK(order["severity"] == "yellow");
  CHECK(order["note"] == "请补充不予受理的具体理由并告知申请人");
  CHECK(order["due"] == due);
  CHECK(order["supervisor"] == "supervisor");
  CHECK(order["answered"] == false);
  const json on_case = d.s01.get(reviewer, "/api/v1/cases/" + brief).body["supervision_orders"];
  REQUIRE(on_case.size() == 1);
  CHECK(on_case[0]["site"] == "S01");

  // Only the site's head or a reviewer answers, with a text, the order that is open.
  expect_error(act(d.s01, clerk, brief, "supervision-answer", {{"alert_id", alert_id}, {"answer", "已整改"}}),
               403, "forbidden_role");
  expect_error(act(d.s01, reviewer, brief, "supervision-answer", {{"alert_id", alert_id}}), 400,
               "missing_field");
  expect_error(act(d.s01, reviewer, brief, "supervision-answer", {{"alert_id", "x"}, {"answer", "已整改"}}),
               400, "invalid_field");
  expect_error(act(d.s01, reviewer, brief, "supervision-answer",
                   {{"alert_id", alert_id + 1000}, {"answer", "已整改"}}),
               409, "no_open_order");
  const std::string answer = "已电话告知申请人具体理由：参保年限不足，并组织窗口人员学习告知规范";
  const HttpReply answered =
      act(d.s01, reviewer, brief, "supervision-answer", {{"alert_id", alert_id}, {"answer", answer}});
  INFO(answered.body.dump());
  REQUIRE(answered.status == 200);
  CHECK(answered.body["supervision_orders"][0]["answered"] == true);
  CHECK(orders().empty());
  expect_error(act(d.s01, reviewer, brief, "supervision-answer", {{"alert_id", alert_id}, {"answer", answer}}),
               409, "no_open_order");

  // The answer travels up like any event and stands beside the alert.
  eventually([&] { return d.hub.get(sup, "/api/v1/alerts?case_id=" + brief)
                              .body["alerts"][0]["state"] == "answered"; });
  const json after = d.hub.get(sup, "/api/v1/alerts?state=answered").body;
  REQUIRE(after["count"] == 1);
  const json actions = after["alerts"][0]["actions"];
  REQUIRE(actions.size() == 2);
  CHECK(actions[1]["action"] == "answered");
  CHECK(actions[1]["by"] == "reviewer@S01");
  CHECK(actions[1]["note"] == answer);
  // Both acts are in the case's signed history at the hub.
  const json events = d.hub.get(sup, "/api/v1/cases/" + brief + "/events").body["events"];
  std::vector<std::string> kinds;
  for (const json& e : events) kinds.push_back(e["kind"]);
  CHECK(has(kinds, "case.rectification_ordered"));
  CHECK(has(kinds, "case.rectification_answered"));

  // Not good enough: ordered again (an answered alert may be), and this time the site lets
  // the day pass.
  REQUIRE(d.hub.post(sup, path + "/rectify", {{"note", "答复未说明整改措施，请补充"}, {"due", due}}).status == 201);
  eventually([&] { return orders().size() == 1; });
  CHECK(alerts_on(d.hub, sup, brief) == V{"brief_reason"});
  d.hub.stop();
  d.hub.set_extra_args({"--supervision-seconds", "1", "--clock-offset-seconds", std::to_string(10 * 86400)});
  d.hub.start();
  const std::string sup2 = d.hub.login("supervisor");
  eventually([&] { return has(alerts_on(d.hub, sup2, brief), "rectification_overdue"); });
  const json overdue = d.hub.get(sup2, "/api/v1/alerts?rule=rectification_overdue").body["alerts"][0];
  CHECK(overdue["severity"] == "red");
  CHECK(overdue["detail"].get<std::string>().find(due) != std::string::npos);
  CHECK(alerts_on(d.hub, sup2, brief) == V{"brief_reason", "rectification_overdue"});
}

TEST_CASE("the hub counts each site's month: on time and days used and 容缺 and one visit",
          "[integration][supervision][stats]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const std::string sup = d.hub.login("supervisor");
  const std::string clerk = d.s01.login("clerk");
  const std::string reviewer = d.s01.login("reviewer");
  // Approved on the day (on time, 0 working days used), refused, asked for 补正 and then
  // withdrawn, accepted with 容缺 and still open.
  const std::string approved = file_case(d.s01, clerk, resident_id(921), true);
  REQUIRE(act(d.s01, reviewer, approved, "review").status == 200);
  REQUIRE(act(d.s01, reviewer, approved, "decide", {{"approve", true}}).status == 200);
  const std::string refused = file_case(d.s01, clerk, resident_id(922), false);
  REQUIRE(act(d.s01, clerk, refused, "refuse", {{"reason", "申请人不属于本事项的服务对象"}}).status == 200);
  json partial = application("RS001", {"ID"}, resident_id(923));
  const HttpReply filed = d.s01.post(clerk, "/api/v1/cases", partial);
  REQUIRE(filed.status == 201);
  const std::string withdrawn = filed.body["case_id"];
  REQUIRE(act(d.s01, clerk, withdrawn, "request-materials", {{"note", "请补交照片"}}).status == 200);
  REQUIRE(act(d.s01, clerk, withdrawn, "withdraw", {{"reason", "申请人要求撤回"}}).status == 200);
  json tolerant = application("MZ002", {"ID", "HKB", "INCOME", "AUTH_CHECK"}, resident_id(924));
  tolerant["accept"] = {{"tolerated", {"HOUSE_PROOF"}}, {"commitment_signed", true}, {"supply_days", 5}};
  REQUIRE(d.s01.post(clerk, "/api/v1/cases", tolerant).status == 201);

  // The days around today (a run across midnight at a month's end stays in one period).
  const Date today = date_of(std::time(nullptr));
  const std::string period = "from=" + format_date(today + -1) + "&to=" + format_date(today + 1);
  const std::string month = format_date(today).substr(0, 7);
  const auto stats = [&](const std::string& query) { return d.hub.get(sup, "/api/v1/stats?" + query); };
  eventually([&] { return stats(period).body["total"]["received"] == 4 &&
                          stats(period).body["total"]["concluded"] == 3; });
  const json by_site = stats(period + "&by=site").body;
  REQUIRE(by_site["rows"].size() == 1);
  const json s01 = by_site["rows"][0];
  CHECK(s01["key"] == "S01");
  CHECK(s01["name"] == "丈八街道便民服务中心");
  CHECK(s01["received"] == 4);
  CHECK(s01["concluded"] == 3);  // the 容缺 case is still open
  CHECK(s01["decided"] == 1);
  CHECK(s01["on_time"] == 1);
  CHECK(s01["on_time_rate"] == 1.0);
  CHECK(s01["avg_used_days"] == 0.0);
  CHECK(s01["avg_promised_days"] == 3.0);
  CHECK(s01["overdue"] == 0);
  CHECK(s01["open_overdue"] == 0);
  CHECK(s01["one_visit"] == 2);  // not the one asked for 补正
  CHECK(s01["nearest"] == 3);
  CHECK(s01["tolerated"] == 0);  // concluded this month: the 容缺 case is not
  CHECK(s01["ratings"] == 0);
  CHECK(s01["avg_rating"].is_null());
  CHECK(by_site["total"]["received"] == 4);
  // By who decided, and by item; the same figures for an operator.
  const json by_staff = stats(period + "&by=staff").body["rows"];
  std::map<std::string, int64_t> decided_by;
  for (const json& r : by_staff) decided_by[r["key"]] = r["concluded"];
  CHECK(decided_by["reviewer"] == 1);
  CHECK(decided_by["clerk"] == 1);  // the refusal
  const json by_item = stats(period + "&by=item&site=S01").body["rows"];
  REQUIRE(by_item.size() == 2);
  CHECK(by_item[0]["key"] == "MZ002");
  CHECK(by_item[0]["received"] == 1);
  CHECK(by_item[1]["key"] == "RS001");
  CHECK(by_item[1]["name"] == "就业创业证申领");
  CHECK(d.hub.get(op, "/api/v1/stats?month=" + month).status == 200);
  // Another month holds none of it.
  CHECK(stats("month=2020-01").body["rows"].empty());

  expect_error(stats("month=" + month + "&by=window"), 400, "invalid_group");
  expect_error(stats("month=2026-13"), 400, "invalid_period");
  expect_error(stats("from=2026-01-01&to=2027-02-01"), 400, "invalid_period");
  expect_error(stats("from=2026-03-01&to=2026-02-01"), 400, "invalid_period");
  expect_error(stats("month=" + month + "&from=2026-01-01"), 400, "invalid_period");
  expect_error(stats("month=" + month + "&site=S99"), 400, "unknown_site");
  expect_error(d.s01.get(reviewer, "/api/v1/stats?month=" + month), 404, "no_such_endpoint");
}

TEST_CASE("acts a bypassed node signed raise decider_department and unlawful_suspension and decision_to_license",
          "[integration][supervision]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const std::string clerk = d.s01.login("clerk");
  const std::string reviewer = d.s01.login("reviewer");
  // An honest decision (the reviewer's account has no department): silent.
  const std::string honest = file_case(d.s01, clerk, resident_id(951), true);
  REQUIRE(act(d.s01, reviewer, honest, "review").status == 200);
  REQUIRE(act(d.s01, reviewer, honest, "decide", {{"approve", true}, {"reason", "符合条件"}}).status == 200);
  std::vector<std::string> ids;
  for (int n : {952, 953, 954}) {
    ids.push_back(file_case(d.s01, clerk, resident_id(n), true));
    REQUIRE(act(d.s01, reviewer, ids.back(), "review").status == 200);
  }
  const auto status_at_hub = [&](const std::string& case_id) {
    const HttpReply r = d.hub.get(op, "/api/v1/cases/" + case_id);
    return r.status == 200 ? r.body["status"].get<std::string>() : std::string();
  };
  eventually([&] { return status_at_hub(ids.back()) == "in_review" && status_at_hub(honest) == "approved"; });
  d.s01.stop();

  // A node whose own checks were bypassed: its next events, signed with the site's own key
  // and sent as any batch — a decision as an account of 公安分局 on a 人社 item, a suspension
  // for no reason of art. 45, an approval 12 days old whose license never came.
  const Date today = date_of(std::time(nullptr));
  std::vector<std::pair<std::string, pb::CaseEvent>> acts(3);
  acts[0].first = ids[0];
  acts[0].second.mutable_decided()->set_approved(true);
  acts[0].second.mutable_decided()->set_decided_date(today.days);
  acts[0].second.mutable_decided()->set_department("公安分局");
  acts[1].first = ids[1];
  acts[1].second.mutable_suspended()->set_reason("leader_busy");
  acts[1].second.mutable_suspended()->set_from_date(today.days);
  acts[2].first = ids[2];
  acts[2].second.mutable_decided()->set_approved(true);
  acts[2].second.mutable_decided()->set_decided_date((today + -12).days);
  std::vector<sync::Event> forged;
  {
    Db db = open_db(d.s01.data() / "node.db");
    auto events = sync::Replica(db).read("S01", 1, 1000000);
    REQUIRE(events.ok());
    sync::Event last = events->back();
    for (const auto& [case_id, body] : acts) {
      sync::Event next = last;
      next.seq = last.seq + 1;
      next.lamport = last.lamport + 1;
      next.case_id = case_id;
      next.kind = event_kind(body);
      next.actor = "reviewer";
      next.ts = last.ts + 1;
      next.body = body.SerializeAsString();
      next.prev_hash = last.hash;
      next.hash = sync::compute_event_hash(next);
      forged.push_back(next);
      last = next;
    }
  }
  RawClient raw(d.hub.sync_endpoint(), hub_public_key(d.district), site_key(d.s01), "S01");
  pb::Envelope env;
  *env.mutable_batch() = sync::make_batch(forged, site_key(d.s01));
  raw.send(env);
  auto reply = raw.recv();
  REQUIRE(reply);
  INFO(reply->DebugString());
  CHECK(reply->msg_case() == pb::Envelope::kAck);
  eventually([&] { return has(alerts_on(d.hub, op, ids[0]), "decider_department"); });
  const json alert = d.hub.get(op, "/api/v1/alerts?rule=decider_department").body["alerts"][0];
  CHECK(alert["severity"] == "red");
  CHECK(alert["detail"].get<std::string>().find("公安分局") != std::string::npos);
  CHECK(alerts_on(d.hub, op, ids[1]) == V{"unlawful_suspension"});
  CHECK(alerts_on(d.hub, op, ids[2]) == V{"decision_to_license"});
  CHECK(alerts_on(d.hub, op, honest).empty());
}

TEST_CASE("the hub's timer finds an approaching deadline and a 差评 not called back or rectified",
          "[integration][supervision]") {
  LinkedDistrict d;
  const std::string clerk = d.s01.login("clerk");
  const std::string reviewer = d.s01.login("reviewer");
  const std::string waiting = file_case(d.s01, clerk, resident_id(971), true);
  const std::string rated = file_case(d.s01, clerk, resident_id(972), true);
  REQUIRE(act(d.s01, reviewer, rated, "review").status == 200);
  REQUIRE(act(d.s01, reviewer, rated, "decide", {{"approve", true}, {"reason", "符合条件"}}).status == 200);
  const HttpReply ticket = act(d.s01, clerk, rated, "rating-ticket");
  REQUIRE(ticket.status == 201);
  REQUIRE(d.s01.post("", "/api/v1/ratings/" + ticket.body["token"].get<std::string>(), {{"level", 1}}).status == 201);
  const json view = d.s01.get(clerk, "/api/v1/cases/" + waiting).body;
  const Date deadline = *parse_date(view["clock"]["deadline"].get<std::string>());
  const Date callback_due =
      *parse_date(d.s01.get(clerk, "/api/v1/cases/" + rated).body["rating"]["callback_due"].get<std::string>());
  const Date today = date_of(std::time(nullptr));
  const std::string op = d.hub.login("operator");
  eventually([&] { return d.hub.get(op, "/api/v1/cases/" + rated).body["rating"].is_object(); });
  REQUIRE(alerts_on(d.hub, op, waiting).empty());
  REQUIRE(alerts_on(d.hub, op, rated).empty());

  // The day before the promised deadline (and past the callback's day), at the hub only.
  const int ahead = (deadline + -1) - today;
  REQUIRE(deadline + -1 > callback_due);
  const auto hub_at = [&](int days) {
    d.hub.stop();
    d.hub.set_extra_args({"--supervision-seconds", "1", "--clock-offset-seconds", std::to_string(days * 86400)});
    d.hub.start();
    return d.hub.login("operator");
  };
  std::string op2 = hub_at(ahead);
  eventually([&] { return has(alerts_on(d.hub, op2, waiting), "deadline_approaching"); });
  CHECK(alerts_on(d.hub, op2, waiting) == V{"deadline_approaching"});
  eventually([&] { return has(alerts_on(d.hub, op2, rated), "rating_callback_overdue"); });
  CHECK(alerts_on(d.hub, op2, rated) == V{"rating_callback_overdue"});
  // A month on: the rectification's 15 working days have run out too.
  op2 = hub_at(31);
  eventually([&] { return has(alerts_on(d.hub, op2, rated), "rating_rectify_overdue"); });
  const json alert = d.hub.get(op2, "/api/v1/alerts?rule=rating_rectify_overdue").body["alerts"][0];
  CHECK(alert["site"] == "S01");
  CHECK(alert["severity"] == "red");
}

// The sweep's count of cases it judged and passed over, from the hub's /metrics.
std::pair<double, double> swept(const HubHarness& hub) {
  httplib::Client c("127.0.0.1", hub.port());
  auto r = c.Get("/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const auto value = [&](const std::string& outcome) {
    const std::string key =
        "tongban_hub_supervision_sweep_cases_total{outcome=\"" + outcome + "\"} ";
    const size_t at = r->body.find(key);
    REQUIRE(at != std::string::npos);
    return std::stod(r->body.substr(at + key.size()));
  };
  return {value("judged"), value("waiting")};
}

TEST_CASE("the hub's sweep passes over a silent site's case until the site is heard from",
          "[integration][supervision]") {
  LinkedDistrict d;
  const std::string clerk = d.s01.login("clerk");
  const std::string waiting = file_case(d.s01, clerk, resident_id(981), true);
  const Date deadline = *parse_date(
      d.s01.get(clerk, "/api/v1/cases/" + waiting).body["clock"]["deadline"].get<std::string>());
  std::string op = d.hub.login("operator");
  eventually([&] { return d.hub.get(op, "/api/v1/cases/" + waiting).status == 200; });

  // S01 falls silent; the hub wakes the day before the deadline, sweeping every second. It
  // knows S01 only up to today (its newest event): the case is due, but judged as of
  // today nothing could fire, so each sweep passes it over unread.
  d.s01.stop();
  const int ahead = (deadline + -1) - date_of(std::time(nullptr));
  d.hub.stop();
  d.hub.set_extra_args({"--supervision-seconds", "1", "--clock-offset-seconds",
                        std::to_string(ahead * 86400)});
  d.hub.start();
  op = d.hub.login("operator");
  eventually([&] { return swept(d.hub).second >= 3; });
  CHECK(swept(d.hub).first == 0);
  CHECK(alerts_on(d.hub, op, waiting).empty());

  // S01 is heard from again: its known day is the hub's today, and the next sweep judges
  // the case and finds the deadline approaching.
  d.s01.set_hub(d.hub.sync_endpoint());
  d.s01.start();
  eventually([&] { return has(alerts_on(d.hub, op, waiting), "deadline_approaching"); });
  CHECK(swept(d.hub).first >= 1);
}

TEST_CASE("a fee recorded on a free item raises fee_overcharge at the hub", "[integration][supervision]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const std::string clerk = d.s01.login("clerk");
  const std::string reviewer = d.s01.login("reviewer");
  const std::string id = file_case(d.s01, clerk, resident_id(961), true);
  // Bad input: nothing recorded.
  expect_error(act(d.s01, clerk, id, "fee", {{"amount_fen", "20元"}, {"receipt_no", "FS-2026-000123"}}), 400,
               "invalid_amount");
  expect_error(act(d.s01, clerk, id, "fee", {{"amount_fen", 0}, {"receipt_no", "FS-2026-000123"}}), 400,
               "invalid_amount");
  expect_error(act(d.s01, clerk, id, "fee", {{"amount_fen", 2000}}), 400, "missing_field");
  expect_error(act(d.s01, reviewer, id, "fee", {{"amount_fen", 2000}, {"receipt_no", "FS-2026-000123"}}), 403,
               "forbidden_role");
  CHECK(d.s01.get(clerk, "/api/v1/cases/" + id).body["fees_fen"] == 0);
  // RS001 (就业创业证申领) is free: a 20-yuan charge is recorded as collected, and flagged.
  const HttpReply charged = act(d.s01, clerk, id, "fee", {{"amount_fen", 2000}, {"receipt_no", "FS-2026-000123"}});
  INFO(charged.body.dump());
  REQUIRE(charged.status == 200);
  CHECK(charged.body["fees_fen"] == 2000);
  eventually([&] { return has(alerts_on(d.hub, op, id), "fee_overcharge"); });
  const json alert = d.hub.get(op, "/api/v1/alerts?rule=fee_overcharge").body["alerts"][0];
  CHECK(alert["severity"] == "red");
  CHECK(alert["staff"] == "clerk");
  CHECK(alert["detail"] == "免费事项收费 20.00 元");
  // The same receipt again (a retried request) is refused: the total stays.
  expect_error(act(d.s01, clerk, id, "fee", {{"amount_fen", 2000}, {"receipt_no", "FS-2026-000123"}}), 409,
               "receipt_recorded");
  CHECK(d.s01.get(clerk, "/api/v1/cases/" + id).body["fees_fen"] == 2000);
}
