// A day at a street service center, driven over HTTP against a real tongban-node.
#include <catch2/catch.hpp>

#include "support/node_harness.h"

using namespace tongban;
using nlohmann::json;
using tongban::test::application;
using tongban::test::NodeHarness;

namespace {

std::string today(NodeHarness& node, const std::string& token) {
  return node.get(token, "/api/v1/queue/today").body["date"];
}

}  // namespace

TEST_CASE("a window clerk, a reviewer and an agent work a day of cases over HTTP",
          "[integration][node]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");
  const std::string reviewer = node.login("reviewer");
  const std::string agent = node.login("agent");

  SECTION("综窗: accept at the front desk, review, approve, deliver, rate") {
    auto r = node.post(clerk, "/api/v1/cases", application("RS001", {"ID", "PHOTO"}));
    REQUIRE(r.status == 201);
    const std::string id = r.body["case_id"];
    CHECK(r.body["status"] == "submitted");
    CHECK(r.body.contains("answer_by"));
    r = node.post(clerk, "/api/v1/cases/" + id + "/accept", json::object());
    REQUIRE(r.status == 200);
    CHECK(r.body["clock"]["color"] == "normal");
    CHECK(node.post(reviewer, "/api/v1/cases/" + id + "/review", json::object()).status == 200);
    r = node.post(reviewer, "/api/v1/cases/" + id + "/decide", {{"approve", true}});
    REQUIRE(r.status == 200);
    CHECK(r.body["status"] == "approved");
    CHECK(r.body["license_no"] == "DZZZ-" + id);
    CHECK(node.post(clerk, "/api/v1/cases/" + id + "/deliver", {{"method", "post"}})
              .body["error"]["code"] == "missing_field");
    CHECK(node.post(clerk, "/api/v1/cases/" + id + "/deliver", {{"method", "electronic"}}).status ==
          200);
    // 好差评: the resident rates with a one-time ticket; no staff member can rate.
    CHECK(node.post(clerk, "/api/v1/cases/" + id + "/rate", {{"level", 5}}).status == 404);
    r = node.post(clerk, "/api/v1/cases/" + id + "/rating-ticket", json::object());
    REQUIRE(r.status == 201);
    const std::string ticket = r.body["token"];
    CHECK(node.get("", "/api/v1/ratings/" + ticket).body["item_name"] == "就业创业证申领");
    CHECK(node.post("", "/api/v1/ratings/" + ticket, {{"level", 0}}).body["error"]["code"] ==
          "invalid_level");
    r = node.post("", "/api/v1/ratings/" + ticket,
                  {{"level", 2}, {"comment", "排队太久"}, {"indicators", {{"efficiency", 1}}}});
    REQUIRE(r.status == 201);
    CHECK(r.body["bad"] == true);  // 2 不满意 is a 差评
    CHECK(r.body.size() == 4);  // the case id, the level, whether it is bad, a 追评 level: nothing else
    CHECK(node.post("", "/api/v1/ratings/" + ticket, {{"level", 5}}).status == 409);
    CHECK(node.post("", "/api/v1/ratings/" + std::string(64, 'a'), {{"level", 5}}).status == 404);
    r = node.get(clerk, "/api/v1/cases/" + id);
    CHECK(r.body["rating"]["served_by"] == "clerk");
    CHECK(r.body["rating"]["level"] == 2);
    const json queue = node.get(clerk, "/api/v1/queue/today").body;
    REQUIRE(queue["rating_tasks"].size() == 1);
    CHECK(node.post(clerk, "/api/v1/cases/" + id + "/callback", {{"note", "已回访"}}).status ==
          403);
    CHECK(node.post(reviewer, "/api/v1/cases/" + id + "/callback", {{"note", "已回访"}}).status ==
          200);
    const json events = node.get(clerk, "/api/v1/cases/" + id + "/events").body["events"];
    CHECK(events.size() ==
          8);  // submitted accepted review decided license delivered rated callback
  }

  SECTION("the license downloads and verifies offline; a tampered copy does not") {
    // Born 1936-03-15: 秒批 reads the age from the ID number.
    auto app = application("MZ001", {"ID", "HKB", "BANK"}, "11010519360315003X");
    app["form"] = {{"hukou_local", "yes"}};
    app["accept"] = json::object();
    auto r = node.post(clerk, "/api/v1/cases", app);
    REQUIRE(r.status == 201);
    CHECK(r.body["instant_approval"] == true);
    const std::string id = r.body["case_id"];
    const auto file = node.data() / "license.json";
    std::string out;
    REQUIRE(node.cli({"case", "license", id, "--out", file.string(), "--url", node.url(), "--token",
                      clerk},
                     &out) == 0);
    CHECK(node.cli({"verify-license", file.string(), "--site-config", node.config().string()},
                   &out) == 0);
    CHECK(out.find("VALID") != std::string::npos);
    std::ifstream in(file);
    json lic = json::parse(in);
    lic["payload"] = lic["payload"].get<std::string>().replace(
        lic["payload"].get<std::string>().find("张三"), 6, "李四");
    std::ofstream(file, std::ios::trunc) << lic.dump();
    CHECK(node.cli({"verify-license", file.string(), "--site-config", node.config().string()},
                   &out) == 1);
  }

  SECTION("容缺: accepted with a missing non-key material, then supplied") {
    auto r = node.post(clerk, "/api/v1/cases", application("YB002", {"ID", "INVOICE"}));
    REQUIRE(r.status == 201);
    const std::string id = r.body["case_id"];
    r = node.post(clerk, "/api/v1/cases/" + id + "/accept", json::object());
    CHECK(r.status == 422);
    CHECK(r.body["error"]["code"] == "materials_missing");
    r = node.post(clerk, "/api/v1/cases/" + id + "/accept",
                  {{"tolerated", {"EXPENSE_LIST", "DISCHARGE", "BANK"}},
                   {"commitment_signed", true},
                   {"supply_days", 5}});
    REQUIRE(r.status == 200);
    CHECK(r.body["tolerated_outstanding"].size() == 3);
    CHECK(node.post(reviewer, "/api/v1/cases/" + id + "/decide", {{"approve", true}})
              .body["error"]["code"] == "tolerated_outstanding");
    r = node.post(clerk, "/api/v1/cases/" + id + "/supply",
                  {{"provided", {"EXPENSE_LIST", "DISCHARGE", "BANK"}}});
    REQUIRE(r.status == 200);
    CHECK(r.body["tolerated_outstanding"].empty());
  }

  SECTION("一件事: the birth bundle is decided part by part") {
    auto app =
        application("BZ001", {"PARENT_ID", "DELIVERY_RECORD", "BIRTH_CERT", "HKB", "ID", "PHOTO"});
    app["committed"] = {"MARRIAGE"};
    app["accept"] = json::object();
    auto r = node.post(clerk, "/api/v1/cases", app);
    REQUIRE(r.status == 201);
    const std::string id = r.body["case_id"];
    REQUIRE(r.body["parts"].size() == 4);
    for (const char* part : {"WJ001", "GA001", "YB001", "RS003"})
      r = node.post(reviewer, "/api/v1/cases/" + id + "/decide",
                    {{"approve", true}, {"part", part}});
    CHECK(r.body["status"] == "approved");
  }

  SECTION("代办: an agent needs the resident's authorisation and sees only their own cases") {
    auto app = application("MZ002", {"ID", "HKB", "AUTH_CHECK", "HOUSE_PROOF"});
    app["committed"] = {"INCOME"};
    auto r = node.post(agent, "/api/v1/cases", app);
    CHECK(r.status == 422);
    CHECK(r.body["error"]["code"] == "agent_not_authorized");
    CHECK(r.body["error"]["message"].get<std::string>().find("授权") != std::string::npos);
    app["authorization"] = {
        {"document_no", "WT-001"}, {"signed_date", "2026-01-05"}, {"priority_group", "elderly"}};
    r = node.post(agent, "/api/v1/cases", app);
    REQUIRE(r.status == 201);
    const std::string mine = r.body["case_id"];
    CHECK(r.body["agent"] == "agent");
    const std::string other =
        node.post(clerk, "/api/v1/cases", application("RS001", {"ID"})).body["case_id"];
    // Another agent's case answers like one that does not exist: ids cannot be probed.
    CHECK(node.get(agent, "/api/v1/cases/" + other).status == 404);
    CHECK(node.post(agent, "/api/v1/cases/" + other + "/withdraw", json::object()).status == 404);
    const json own = node.get(agent, "/api/v1/agent/cases").body["cases"];
    REQUIRE(own.size() == 1);
    CHECK(own[0]["case_id"] == mine);
    CHECK(node.get(agent, "/api/v1/cases").body["count"] == 1);
    CHECK(node.post(clerk, "/api/v1/cases/" + mine + "/accept", json::object()).status == 200);
  }

  SECTION("search by case id, applicant ID number, status and clock colour") {
    const std::string other_id = test::resident_id(7);
    node.post(clerk, "/api/v1/cases", application("RS001", {"ID"}, other_id));
    const std::string id =
        node.post(clerk, "/api/v1/cases", application("GA002", {"ID"})).body["case_id"];
    CHECK(node.get(clerk, "/api/v1/cases?id_number=" + other_id).body["count"] == 1);
    CHECK(node.get(clerk, "/api/v1/cases?status=submitted").body["count"] == 2);
    CHECK(node.get(clerk, "/api/v1/cases?q=" + id).body["cases"][0]["case_id"] == id);
    node.post(clerk, "/api/v1/cases/" + id + "/accept", {{"tolerated", json::array()}});
    node.post(clerk, "/api/v1/cases/" + id + "/request-materials", {{"missing", {"PHOTO"}}});
    CHECK(node.get(clerk, "/api/v1/cases?status=awaiting_materials").body["count"] == 1);
    CHECK(node.get(clerk, "/api/v1/cases?clock=red").body["count"] == 0);
    CHECK(node.get(clerk, "/api/v1/cases?clock=purple").status == 400);
    const json summary = node.get(clerk, "/api/v1/cases?id_number=" + other_id).body["cases"][0];
    // A summary names the applicant but carries no identifier (found by blind index).
    CHECK_FALSE(summary.contains("applicant_id"));
    CHECK(summary.dump().find(other_id.substr(6, 8)) == std::string::npos);
  }

  SECTION("appointments: slots, booking, check-in, and a full slot") {
    const std::string date = today(node, clerk);
    const json slots = node.get(clerk, "/api/v1/appointments/slots?date=" + date).body;
    REQUIRE(slots.contains("slots"));
    // S01 keeps 5+2 extended hours: evening slots on working days, mornings on weekends.
    bool any_extended = false;
    for (const json& s : slots["slots"])
      any_extended = any_extended || s["extended_hours"].get<bool>();
    CHECK(any_extended);
    const std::string slot = slots["slots"].back()["time"];
    json booking = {
        {"item_code", "GA002"},
        {"date", date},
        {"slot", slot},
        {"applicant",
         {{"name", "王五"}, {"id_number", test::resident_id(1)}, {"phone", "13800001111"}}}};
    auto r = node.post(clerk, "/api/v1/appointments", booking);
    REQUIRE(r.status == 201);
    const std::string appointment = r.body["appointment_id"];
    CHECK(node.post(clerk, "/api/v1/appointments", booking).body["error"]["code"] ==
          "already_booked");
    for (int i = 2; i <= 6; ++i) {
      booking["applicant"]["id_number"] = test::resident_id(i);
      CHECK(node.post(agent, "/api/v1/appointments", booking).status == 201);
    }
    booking["applicant"]["id_number"] = test::resident_id(9);
    CHECK(node.post(clerk, "/api/v1/appointments", booking).body["error"]["code"] ==
          "slot_unavailable");  // 6 windows
    CHECK(node.post(agent, "/api/v1/appointments/" + appointment + "/check-in", json::object())
              .status == 403);
    r = node.post(clerk, "/api/v1/appointments/" + appointment + "/check-in", json::object());
    REQUIRE(r.status == 200);
    CHECK(r.body["status"] == "checked_in");
    CHECK(node.get(clerk, "/api/v1/queue/today").body["appointments"].size() == 6);
    auto pre = application("GA002", {"ID"}, test::resident_id(1));
    pre["appointment_id"] = appointment;
    r = node.post(clerk, "/api/v1/prereviews", pre);
    REQUIRE(r.status == 201);
    const std::string id = r.body["case_id"];
    CHECK(node.post(clerk, "/api/v1/cases/" + id + "/prereview-outcome",
                    {{"passed", false}, {"missing", {"PHOTO", "RESIDENCE"}}, {"note", "请补齐"}})
              .status == 200);
    auto submit = application("GA002", {"ID", "PHOTO", "RESIDENCE"}, test::resident_id(1));
    submit["accept"] = json::object();
    CHECK(node.post(clerk, "/api/v1/cases/" + id + "/submit", submit).body["status"] == "accepted");
  }
}

TEST_CASE("bad input gets a clear bilingual error and appends nothing", "[integration][node]") {
  NodeHarness node;
  node.start();
  const std::string clerk = node.login("clerk");
  const std::string reviewer = node.login("reviewer");
  const std::string id =
      node.post(clerk, "/api/v1/cases", application("RS001", {"ID", "PHOTO"})).body["case_id"];
  const uint64_t before = node.head_seq();
  CHECK(node.get("", "/api/v1/healthz").body["sync"]["offline"] == true);

  auto expect = [&](const test::HttpReply& r, int status, const std::string& code) {
    INFO(r.body.dump());
    CHECK(r.status == status);
    CHECK(r.body["error"]["code"] == code);
    CHECK_FALSE(r.body["error"]["message"].get<std::string>().empty());
    CHECK_FALSE(r.body["error"]["message_en"].get<std::string>().empty());
  };
  expect(node.post(clerk, "/api/v1/cases", application("RS001", {"ID"}, "110105194912310021")), 400,
         "invalid_id_number");
  expect(node.post(clerk, "/api/v1/cases", application("NOPE", {"ID"})), 404, "unknown_item");
  expect(node.post_raw(clerk, "/api/v1/cases", "{\"item_code\": "), 400, "invalid_json");
  expect(node.post_raw(clerk, "/api/v1/cases", "[1,2,3]"), 400, "invalid_json");
  expect(node.post(clerk, "/api/v1/cases", {{"item_code", 5}}), 400, "invalid_field");
  expect(node.post_raw(clerk, "/api/v1/cases", std::string(100 * 1024, ' ')), 413,
         "payload_too_large");
  expect(node.post(clerk, "/api/v1/cases/" + id + "/decide", {{"approve", true}}), 403,
         "forbidden_role");
  expect(node.post(reviewer, "/api/v1/cases/" + id + "/decide", {{"approve", true}}), 409,
         "invalid_transition");
  expect(node.post(clerk, "/api/v1/cases/" + id + "/fly", json::object()), 404, "unknown_action");
  expect(node.post(clerk, "/api/v1/cases/S01-19990101-000001/accept", json::object()), 404,
         "not_found");
  expect(node.post("", "/api/v1/cases", application("RS001", {"ID"})), 401, "not_logged_in");
  expect(node.post("deadbeef", "/api/v1/cases", application("RS001", {"ID"})), 401,
         "not_logged_in");
  expect(node.post("", "/api/v1/login", {{"username", "clerk"}, {"password", "wrong"}}), 401,
         "bad_credentials");
  CHECK(node.head_seq() == before);
}

TEST_CASE("only a site admin manages accounts", "[integration][node]") {
  NodeHarness node;
  node.start();
  const std::string admin = node.login("admin");
  const std::string clerk = node.login("clerk");
  json account = {{"username", "clerk2"},
                  {"display_name", "窗口二"},
                  {"role", "clerk"},
                  {"password", "a-long-password"}};
  CHECK(node.post(clerk, "/api/v1/staff", account).status == 403);
  CHECK(node.post(admin, "/api/v1/staff", account).status == 201);
  CHECK(node.post(admin, "/api/v1/staff", account).status == 409);
  const std::string clerk2 = [&] {
    auto r =
        node.post("", "/api/v1/login", {{"username", "clerk2"}, {"password", "a-long-password"}});
    REQUIRE(r.status == 200);
    return r.body["token"].get<std::string>();
  }();
  CHECK(node.get(clerk2, "/api/v1/me").body["role"] == "clerk");
  CHECK(node.post(admin, "/api/v1/staff/clerk2/disable", json::object()).status == 200);
  CHECK(node.get(clerk2, "/api/v1/me").status == 401);
  for (int i = 0; i < 5; ++i)
    node.post("", "/api/v1/login", {{"username", "clerk"}, {"password", "wrong"}});
  CHECK(
      node.post("", "/api/v1/login", {{"username", "clerk"}, {"password", NodeHarness::kPassword}})
          .body["error"]["code"] == "login_throttled");
}
