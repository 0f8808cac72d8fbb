// 跨区通办 with real processes: an agent point forwards what it may not decide to its parent
// center, an operator hands a case to another center while its owner is cut off (both act:
// one owner, nothing lost, the conflict listed and resolved), a target returns a case, and
// every bad hand-over is refused with nothing stored.
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <thread>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {


bool has_case(Daemon& daemon, const std::string& token, const std::string& id) {
  return daemon.get(token, "/api/v1/cases/" + id).status == 200;
}

std::vector<std::string> kinds_of(Daemon& daemon, const std::string& token, const std::string& id) {
  const HttpReply r = daemon.get(token, "/api/v1/cases/" + id + "/events");
  REQUIRE(r.status == 200);
  std::vector<std::string> kinds;
  for (const json& e : r.body["events"])
    kinds.push_back(e["origin"].get<std::string>() + ":" + e["kind"].get<std::string>());
  return kinds;
}

size_t count_of(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), x));
}

}  // namespace

TEST_CASE("an agent point forwards what it may not decide to its parent center and delivers the result",
          "[integration][handover]") {
  LinkedDistrict d;
  NodeHarness a01(d.district, "A01");
  const std::string op = d.hub.login("operator");
  join(a01, d.hub, op);
  const std::string a01_clerk = a01.login("clerk");

  json app = application("MZ003", {"ID", "DISAB_CERT", "HKB", "BANK"}, resident_id(7));
  app["accept"] = json::object();
  const HttpReply created = a01.post(a01_clerk, "/api/v1/cases", app);
  INFO(created.body.dump());
  REQUIRE(created.status == 201);
  const std::string id = created.body["case_id"];
  CHECK(created.body["transfer"]["state"] == "requested");

  // The hub dispatches it to A01's parent S01 by itself; S01 holds the full history.
  const std::string s01_clerk = d.s01.login("clerk");
  const std::string s01_reviewer = d.s01.login("reviewer");
  eventually([&] { return has_case(d.s01, s01_clerk, id); });
  json at_s01 = case_at(d.s01, s01_clerk, id);
  CHECK(at_s01["owner_site"] == "S01");
  CHECK(at_s01["origin_site"] == "A01");
  CHECK(at_s01["status"] == "accepted");
  CHECK(at_s01["transfer"]["state"] == "dispatched");
  REQUIRE(at_s01["moves"].size() == 1);
  CHECK(at_s01["moves"][0]["mode"] == "forward");
  CHECK(at_s01["moves"][0]["from"] == "A01");
  CHECK(at_s01["applicant"]["id_number"] == resident_id(7));

  // The agent point acts no more; the center must take the case on first.
  eventually([&] { return case_at(a01, a01_clerk, id)["owner_site"] == "S01"; });
  const HttpReply refused = act(a01, a01_clerk, id, "withdraw", {{"reason", "试图撤回"}});
  CHECK(refused.status == 409);
  CHECK(refused.body["error"]["code"] == "not_owner");
  const HttpReply early = act(d.s01, s01_reviewer, id, "review");
  CHECK(early.status == 409);
  CHECK(early.body["error"]["code"] == "take_first");
  REQUIRE(act(d.s01, s01_clerk, id, "take").status == 200);
  REQUIRE(act(d.s01, s01_reviewer, id, "review").status == 200);
  const HttpReply decided =
      act(d.s01, s01_reviewer, id, "decide", {{"approve", true}, {"reason", "符合条件"}});
  INFO(decided.body.dump());
  REQUIRE(decided.status == 200);

  // The agent point sees the decision and hands the result over at its own window.
  eventually([&] { return case_at(a01, a01_clerk, id)["status"] == "approved"; });
  const HttpReply delivered = act(a01, a01_clerk, id, "deliver", {{"method", "window"}});
  INFO(delivered.body.dump());
  REQUIRE(delivered.status == 200);
  eventually([&] { return case_at(d.hub, op, id)["status"] == "delivered"; });
  eventually([&] { return case_at(d.s01, s01_clerk, id)["status"] == "delivered"; });

  const json at_hub = case_at(d.hub, op, id);
  CHECK(at_hub["owner_site"] == "S01");
  CHECK(at_hub["conflict_open"] == false);
  CHECK(at_hub["conflicts"].empty());
  const auto kinds = kinds_of(d.hub, op, id);
  CHECK(count_of(kinds, "A01:case.transfer_requested") == 1);
  CHECK(count_of(kinds, "HUB:case.handed_over") == 1);
  CHECK(count_of(kinds, "A01:case.released") == 1);
  CHECK(count_of(kinds, "S01:case.received") == 1);
  CHECK(count_of(kinds, "S01:case.taken") == 1);
  CHECK(count_of(kinds, "S01:case.decided") == 1);
  CHECK(count_of(kinds, "A01:case.delivered") == 1);

  // The hub's own log verifies like every site's.
  std::string out;
  CHECK(run_cli({"verify-log", "--data", d.hub.data().string(), "--site-config",
                 d.district.config().string()},
                &out) == 0);
  INFO(out);
  CHECK(out.find("OK   HUB:") != std::string::npos);
}

TEST_CASE("a hand-over while the owner is cut off keeps both sides' work and lists the conflict",
          "[integration][handover]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string id = submit(d.s01, d.s01.login("clerk"), 11);
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });

  // S01 loses its link and, still the owner as far as it knows, decides.
  d.s01.stop();
  d.s01.set_hub("");
  d.s01.start();
  const std::string s01_reviewer = d.s01.login("reviewer");
  REQUIRE(act(d.s01, s01_reviewer, id, "review").status == 200);
  REQUIRE(act(d.s01, s01_reviewer, id, "decide", {{"approve", true}, {"reason", "材料齐全"}})
              .status == 200);

  // Meanwhile the operator hands the case to S02, which takes it and decides too.
  const HttpReply moved =
      d.hub.post(op, "/api/v1/cases/" + id + "/handover", {{"to", "S02"}, {"reason", "丈八中心断网，转鱼化寨中心办理"}});
  INFO(moved.body.dump());
  REQUIRE(moved.status == 200);
  CHECK(moved.body["owner_site"] == "S02");
  CHECK(moved.body["moves"][0]["mode"] == "reassign");
  const std::string s02_clerk = s02.login("clerk");
  const std::string s02_reviewer = s02.login("reviewer");
  eventually([&] { return has_case(s02, s02_clerk, id); });
  REQUIRE(act(s02, s02_clerk, id, "take").status == 200);
  REQUIRE(act(s02, s02_reviewer, id, "review").status == 200);
  REQUIRE(act(s02, s02_reviewer, id, "decide", {{"approve", false}, {"reason", "不符合条件"}})
              .status == 200);
  const json dispatched = d.hub.get(op, "/api/v1/dispatch?state=dispatched").body;
  CHECK(dispatched["count"] == 0);  // taken

  // The link heals: S01 hears of the move, nothing of either side is lost, one owner,
  // and the two decisions are a conflict for the operator.
  d.s01.stop();
  d.s01.set_hub(d.hub.sync_endpoint());
  d.s01.start();
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });
  eventually([&] { return case_at(d.hub, op, id)["conflict_open"] == true; });
  const json at_hub = case_at(d.hub, op, id);
  CHECK(at_hub["owner_site"] == "S02");
  REQUIRE(at_hub["conflicts"].size() >= 1);
  const auto kinds = kinds_of(d.hub, op, id);
  CHECK(count_of(kinds, "S01:case.decided") == 1);
  CHECK(count_of(kinds, "S02:case.decided") == 1);
  CHECK(count_of(kinds, "S01:case.released") == 1);
  const json conflicts = d.hub.get(op, "/api/v1/conflicts").body;
  REQUIRE(conflicts["count"] == 1);
  CHECK(conflicts["cases"][0]["case_id"] == id);
  CHECK(conflicts["cases"][0]["owner"] == "S02");

  // S01 knows it is no longer the owner; S02 holds S01's offline work.
  const std::string s01_clerk = d.s01.login("clerk");
  eventually([&] { return case_at(d.s01, s01_clerk, id)["owner_site"] == "S02"; });
  CHECK(act(d.s01, s01_clerk, id, "withdraw", {{"reason", "x"}}).body["error"]["code"] == "not_owner");
  // Not even the result goes out while the conflict is open.
  CHECK(act(d.s01, s01_clerk, id, "deliver", {{"method", "window"}}).body["error"]["code"] ==
        "conflict_open");
  eventually([&] { return case_at(s02, s02_clerk, id)["conflict_open"] == true; });

  // An operator settles it with a reason; every site hears.
  CHECK(d.hub.post(op, "/api/v1/cases/" + id + "/resolve-conflict", json::object()).status == 400);
  const HttpReply resolved = d.hub.post(op, "/api/v1/cases/" + id + "/resolve-conflict",
                                        {{"reason", "已核实：丈八中心断网前已作出准予决定，以先作出的决定为准"}});
  INFO(resolved.body.dump());
  REQUIRE(resolved.status == 200);
  CHECK(resolved.body["conflict_open"] == false);
  CHECK(d.hub.get(op, "/api/v1/conflicts").body["count"] == 0);
  eventually([&] { return case_at(s02, s02_clerk, id)["conflict_open"] == false; });
  eventually([&] { return case_at(d.s01, s01_clerk, id)["conflict_open"] == false; });
  // The decision first in the hub's order stands; the receiving site hands it out.
  CHECK(case_at(d.hub, op, id)["status"] == "approved");
  CHECK(act(d.s01, s01_clerk, id, "deliver", {{"method", "window"}}).status == 200);
}

TEST_CASE("a target returns a dispatched case and it goes back with the reason on the queue",
          "[integration][handover]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string id = submit(d.s01, d.s01.login("clerk"), 21);
  eventually([&] { return has_case(d.hub, op, id); });

  REQUIRE(d.hub.post(op, "/api/v1/cases/" + id + "/handover", {{"to", "S02"}, {"reason", "均衡负荷"}})
              .status == 200);
  const json waiting = d.hub.get(op, "/api/v1/dispatch").body;
  REQUIRE(waiting["count"] == 1);
  CHECK(waiting["cases"][0]["case_id"] == id);
  CHECK(waiting["cases"][0]["stuck"] == false);
  const std::string s02_clerk = s02.login("clerk");
  eventually([&] { return has_case(s02, s02_clerk, id); });
  CHECK(act(s02, s02_clerk, id, "return").status == 400);  // a reason is required
  REQUIRE(act(s02, s02_clerk, id, "return", {{"reason", "本中心无此业务审批人员"}}).status == 200);

  eventually([&] { return case_at(d.hub, op, id)["owner_site"] == "S01"; });
  const json back = case_at(d.hub, op, id);
  CHECK(back["transfer"]["state"] == "returned");
  CHECK(back["transfer"]["reason"] == "本中心无此业务审批人员");
  CHECK(back["moves"].size() == 2);
  CHECK(back["moves"][1]["mode"] == "return");
  const json returned = d.hub.get(op, "/api/v1/dispatch?state=returned").body;
  REQUIRE(returned["count"] == 1);
  CHECK(returned["cases"][0]["case_id"] == id);
  // S01 has it back and may act on it again.
  const std::string s01_reviewer = d.s01.login("reviewer");
  eventually([&] { return act(d.s01, s01_reviewer, id, "review").status == 200; });
}

TEST_CASE("bad hand-overs are refused in Chinese and English and change nothing",
          "[integration][handover]") {
  LinkedDistrict d;
  const std::string op = d.hub.login("operator");
  const std::string clerk = d.s01.login("clerk");
  const std::string open_case = submit(d.s01, clerk, 31);
  const std::string done_case = submit(d.s01, clerk, 32);
  const std::string reviewer = d.s01.login("reviewer");
  REQUIRE(act(d.s01, reviewer, done_case, "review").status == 200);
  REQUIRE(act(d.s01, reviewer, done_case, "decide", {{"approve", true}, {"reason", "准予"}})
              .status == 200);
  eventually([&] { return case_at(d.hub, op, done_case)["status"] == "approved"; });
  eventually([&] { return has_case(d.hub, op, open_case); });
  const uint64_t hub_events_before = hub_held(d.hub, "HUB");

  struct Bad {
    std::string id;
    json body;
    int status;
    std::string error;
  };
  const std::vector<Bad> bad = {
      {"S01-20990101-000001", {{"to", "S02"}, {"reason", "x"}}, 404, "not_found"},
      {open_case, {{"to", "S99"}, {"reason", "x"}}, 400, "unknown_site"},
      {open_case, {{"to", "s02"}, {"reason", "x"}}, 400, "unknown_site"},
      {open_case, {{"to", "S02"}}, 400, "missing_field"},
      {open_case, {{"to", "S01"}, {"reason", "x"}}, 409, "already_owner"},
      {open_case, {{"to", "P04"}, {"reason", "x"}}, 422, "not_competent"},  // no RS001 there
      {open_case, {{"to", "A01"}, {"reason", "x"}}, 422, "not_competent"},  // may not decide
      {open_case, {{"to", 7}, {"reason", "x"}}, 400, "invalid_field"},
      {open_case, {{"to", "S03"}, {"reason", "x"}}, 422, "site_revoked"},  // no key
      {done_case, {{"to", "S02"}, {"reason", "x"}}, 409, "case_closed"},
  };
  for (const Bad& b : bad) {
    const HttpReply r = d.hub.post(op, "/api/v1/cases/" + b.id + "/handover", b.body);
    INFO(b.id << " " << b.body.dump() << " -> " << r.body.dump());
    CHECK(r.status == b.status);
    CHECK(r.body["error"]["code"] == b.error);
    CHECK(!r.body["error"]["message"].get<std::string>().empty());
  }
  const HttpReply not_json =
      d.hub.post_raw(op, "/api/v1/cases/" + open_case + "/handover", "{not json");
  CHECK(not_json.status == 400);
  CHECK(d.hub.post(op, "/api/v1/cases/" + open_case + "/resolve-conflict", {{"reason", "x"}})
            .body["error"]["code"] == "no_conflict");
  CHECK(d.hub.get(op, "/api/v1/dispatch?state=bogus").status == 400);
  CHECK(d.hub.get(op, "/api/v1/dispatch?stuck_hours=0").status == 400);
  CHECK(d.hub.get(op, "/api/v1/cases?transfer=bogus").status == 400);

  // Node side: a transfer request needs a reason; take and return need a dispatched case.
  CHECK(act(d.s01, clerk, open_case, "transfer-request").body["error"]["code"] == "missing_field");
  CHECK(act(d.s01, clerk, open_case, "transfer-request", {{"reason", "x"}, {"to", "S01"}})
            .body["error"]["code"] == "same_site");
  CHECK(act(d.s01, clerk, open_case, "take").body["error"]["code"] == "not_dispatched");
  CHECK(act(d.s01, clerk, open_case, "return", {{"reason", "x"}}).body["error"]["code"] ==
        "not_dispatched");

  // Nothing was stored: the hub's own log is as empty as before, the case unmoved.
  CHECK(hub_held(d.hub, "HUB") == hub_events_before);
  const json still = case_at(d.hub, op, open_case);
  CHECK(still["owner_site"] == "S01");
  CHECK(still["moves"].empty());
}

TEST_CASE("a site with no link gets its hand-overs in a sealed hub bundle exactly once",
          "[integration][handover]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");  // never linked: offline throughout
  s02.start();
  const std::string op = d.hub.login("operator");
  REQUIRE(d.hub.post(op, "/api/v1/keys/reload", json::object()).status == 200);
  const std::string id = submit(d.s01, d.s01.login("clerk"), 41);
  eventually([&] { return has_case(d.hub, op, id); });
  REQUIRE(d.hub.post(op, "/api/v1/cases/" + id + "/handover", {{"to", "S02"}, {"reason", "移交"}})
              .status == 200);
  // S01 hears the hand-over and releases the case; the hub forwards that to S02's stream
  // too. Exporting before it arrives would race it.
  eventually([&] { return count_of(kinds_of(d.hub, op, id), "S01:case.released") == 1; });

  const auto bundle = d.district.root() / "hub-to-S02.bundle";
  std::string out;
  REQUIRE(run_cli({"export-bundle", "--hub", "--site", "S02", "--site-config",
                   d.district.config().string(), "--data", d.hub.data().string(), "--out",
                   bundle.string()},
                  &out) == 0);
  INFO(out);
  const std::string sealed = read_file(bundle);
  REQUIRE(!sealed.empty());
  const std::string admin = s02.login("admin");
  const std::string clerk = s02.login("clerk");
  CHECK(s02.post_raw(clerk, "/api/v1/bundles", sealed, "application/octet-stream").status == 403);
  std::string tampered = sealed;
  tampered[tampered.size() / 2] ^= 0x20;
  const HttpReply bad = s02.post_raw(admin, "/api/v1/bundles", tampered, "application/octet-stream");
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["code"] == "invalid_bundle");
  CHECK(!has_case(s02, clerk, id));

  const HttpReply imported =
      s02.post_raw(admin, "/api/v1/bundles", sealed, "application/octet-stream");
  INFO(imported.body.dump());
  REQUIRE(imported.status == 200);
  CHECK(imported.body["added"].get<int>() >= 2);  // the hand-over and S01's release at least
  const json here = case_at(s02, clerk, id);
  CHECK(here["owner_site"] == "S02");
  CHECK(here["transfer"]["received"] == true);
  const HttpReply again = s02.post_raw(admin, "/api/v1/bundles", sealed, "application/octet-stream");
  CHECK(again.status == 200);
  CHECK(again.body["added"] == 0);  // exactly once
  REQUIRE(act(s02, clerk, id, "take").status == 200);

  // S02's answer travels back the same way; the hub sees the case taken.
  const auto back = d.district.root() / "S02-to-hub.bundle";
  s02.stop();
  REQUIRE(run_cli({"export-bundle", "--site", "S02", "--site-config",
                   d.district.config().string(), "--data", s02.data().string(), "--out",
                   back.string()}) == 0);
  REQUIRE(d.hub.post_raw(op, "/api/v1/bundles", read_file(back), "application/octet-stream")
              .status == 200);
  const json at_hub = case_at(d.hub, op, id);
  CHECK(at_hub["transfer"]["state"] == "taken");
  CHECK(at_hub["transfer"]["received"] == true);
  CHECK(d.hub.get(op, "/api/v1/dispatch").body["count"] == 0);
}

TEST_CASE("kill -9 of hub or node in the middle of hand-overs loses and duplicates nothing",
          "[integration][handover][crash]") {
  const int rounds = env_rounds("TONGBAN_HANDOVER_ROUNDS", 8);
  constexpr int kPerRound = 4;
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op0 = d.hub.login("operator");
  join(s02, d.hub, op0);
  std::vector<NodeHarness*> nodes = {&d.s01, &s02};
  std::vector<std::string> ids;
  {
    const std::string clerk = d.s01.login("clerk");
    for (int i = 0; i < rounds * kPerRound; ++i) ids.push_back(submit(d.s01, clerk, 100 + i));
  }
  eventually([&] { return hub_held(d.hub, "S01") == d.s01.head_seq(); });

  // An operator's hand-over is done once it answered 200, or 409 already_owner after a
  // request whose answer a crash swallowed.
  // A session survives as long as the hub does: log in again only when it is refused.
  std::string token;
  const auto hand_over = [&](const std::string& id) -> bool {
    httplib::Client c("127.0.0.1", d.hub.port());
    c.set_read_timeout(10, 0);
    if (token.empty()) {
      auto login = c.Post("/api/v1/login",
                          json{{"username", "operator"}, {"password", kTestPassword}}.dump(),
                          "application/json");
      if (!login || login->status != 200) return false;
      token = json::parse(login->body)["token"].get<std::string>();
    }
    auto r = c.Post("/api/v1/cases/" + id + "/handover", {{"Authorization", "Bearer " + token}},
                    json{{"to", "S02"}, {"reason", "压力测试移交"}}.dump(), "application/json");
    if (r && r->status == 401) token.clear();
    return r && (r->status == 200 ||
                 (r->status == 409 && json::parse(r->body)["error"]["code"] == "already_owner"));
  };
  std::mt19937 rng(20261129);
  std::set<std::string> done;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::string> batch(ids.begin() + round * kPerRound,
                                   ids.begin() + (round + 1) * kPerRound);
    std::thread orders([&] {
      for (const std::string& id : batch)
        if (hand_over(id)) done.insert(id);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    const int victim = static_cast<int>(rng() % 3);  // 0: hub, 1..: a node
    if (victim == 0)
      d.hub.kill9();
    else
      nodes[victim - 1]->kill9();
    orders.join();
    if (victim == 0)
      d.hub.start();
    else
      nodes[victim - 1]->start();
    for (const std::string& id : batch)  // what the crash interrupted is ordered again
      if (!done.count(id)) eventually([&] { return hand_over(id); });
    for (const std::string& id : batch) done.insert(id);
  }

  const std::string op = d.hub.login("operator");
  const std::string s02_clerk = s02.login("clerk"), s01_clerk = d.s01.login("clerk");
  for (NodeHarness* n : nodes)
    eventually([&] { return hub_held(d.hub, n->site()) == n->head_seq(); }, std::chrono::seconds(60));
  for (const std::string& id : ids) {
    INFO(id);
    eventually([&] {
      const HttpReply r = s02.get(s02_clerk, "/api/v1/cases/" + id);
      return r.status == 200 && r.body["transfer"]["received"] == true;
    });
    eventually([&] { return case_at(d.s01, s01_clerk, id)["owner_site"] == "S02"; });
    eventually([&] {
      const auto kinds = kinds_of(d.hub, op, id);
      return count_of(kinds, "S01:case.released") == 1 && count_of(kinds, "S02:case.received") == 1;
    });
    const json at_hub = case_at(d.hub, op, id);
    CHECK(at_hub["owner_site"] == "S02");
    CHECK(at_hub["moves"].size() == 1);
    CHECK(at_hub["conflict_open"] == false);
    const auto kinds = kinds_of(d.hub, op, id);
    CHECK(count_of(kinds, "HUB:case.handed_over") == 1);
    CHECK(count_of(kinds, "S01:case.released") == 1);
    CHECK(count_of(kinds, "S02:case.received") == 1);
    // The new owner comes to hold exactly the history the hub holds.
    eventually([&] {
      return s02.get(s02_clerk, "/api/v1/cases/" + id + "/events").body["events"].size() ==
             kinds.size();
    });
  }
  for (Daemon* daemon : std::vector<Daemon*>{&d.hub, &d.s01, &s02}) {
    std::string out;
    CHECK(run_cli({"verify-log", "--data", daemon->data().string(), "--site-config",
                   d.district.config().string()},
                  &out) == 0);
    INFO(out);
  }
}

TEST_CASE("a reviewer of a department decides only that department's items",
          "[integration][handover][department]") {
  NodeHarness node("S01");
  node.start();
  const std::string admin = node.login("admin"), clerk = node.login("clerk");
  const auto create = [&](const json& body) { return node.post(admin, "/api/v1/staff", body); };
  const json rs = {{"username", "rs_reviewer"}, {"display_name", "人社审核员"},
                   {"role", "reviewer"}, {"password", kTestPassword},
                   {"department", "人力资源和社会保障局"}};
  REQUIRE(create(rs).status == 201);
  json bad = rs;
  bad["username"] = "x_reviewer";
  bad["department"] = "不存在的局";
  CHECK(create(bad).body["error"]["code"] == "unknown_department");
  bad["department"] = "民政局";
  bad["role"] = "clerk";
  CHECK(create(bad).body["error"]["code"] == "department_for_reviewers");
  const json listed = node.get(admin, "/api/v1/staff").body;
  bool found = false;
  for (const json& s : listed["staff"])
    found = found || (s["username"] == "rs_reviewer" && s["department"] == "人力资源和社会保障局");
  CHECK(found);

  const std::string rs_case = submit(node, clerk, 51);  // RS001, 人社局
  json app = application("MZ003", {"ID", "DISAB_CERT", "HKB", "BANK"}, resident_id(52));
  app["accept"] = json::object();
  const HttpReply mz = node.post(clerk, "/api/v1/cases", app);  // 民政局: the front desk takes any
  REQUIRE(mz.status == 201);
  const std::string mz_case = mz.body["case_id"];

  const std::string reviewer = node.login("rs_reviewer");
  REQUIRE(act(node, reviewer, rs_case, "review").status == 200);
  REQUIRE(act(node, reviewer, rs_case, "decide", {{"approve", true}, {"reason", "准予"}}).status ==
          200);
  const HttpReply other = act(node, reviewer, mz_case, "review");
  CHECK(other.status == 403);
  CHECK(other.body["error"]["code"] == "not_your_department");
  CHECK(other.body["error"]["message"].get<std::string>().find("民政局") != std::string::npos);
  CHECK(case_at(node, clerk, mz_case)["status"] == "accepted");  // nothing changed
  // A reviewer of no department (a small site's only one) reviews everything.
  CHECK(act(node, node.login("reviewer"), mz_case, "review").status == 200);
}

TEST_CASE("多地联办: a bundle's part the park station may not decide is decided at a center and delivered once",
          "[integration][handover][bundle]") {
  LinkedDistrict d;
  NodeHarness p01(d.district, "P01");
  const std::string op = d.hub.login("operator");
  join(p01, d.hub, op);
  const std::string clerk = p01.login("clerk"), reviewer = p01.login("reviewer");
  json app = application("QY006", {});
  app["applicant"]["enterprise"] = true;
  app["applicant"]["uscc"] = "91110108551385082Q";
  app["applicant"]["org_name"] = "西安某某科技有限公司";
  const HttpReply probe = p01.post(clerk, "/api/v1/cases", app);  // learns what it asks for
  INFO(probe.body.dump());
  REQUIRE(probe.status == 201);
  json provided = json::array();
  for (const json& m : probe.body["materials"]) provided.push_back(m["code"]);
  app["provided"] = provided;
  app["applicant"]["uscc"] = "91110108551385082Q";
  app["accept"] = json::object();
  const HttpReply accepted = p01.post(clerk, "/api/v1/cases", app);
  INFO(accepted.body.dump());
  REQUIRE(accepted.status == 201);
  const std::string id = accepted.body["case_id"];

  // P01 handles QY007 and SW001 but not RS005: that part goes to a center (S01 is the only
  // one provisioned here); the case stays with P01.
  const auto part = [](const json& c, const std::string& code) {
    for (const json& p : c["parts"])
      if (p["item_code"] == code) return p;
    return json();
  };
  CHECK(part(accepted.body, "RS005")["requested"] == true);
  const std::string s01_clerk = d.s01.login("clerk"), s01_reviewer = d.s01.login("reviewer");
  eventually([&] { return has_case(d.s01, s01_clerk, id); });
  eventually([&] { return part(case_at(d.s01, s01_clerk, id), "RS005")["received"] == true; });
  json at_s01 = case_at(d.s01, s01_clerk, id);
  CHECK(at_s01["owner_site"] == "P01");
  CHECK(part(at_s01, "RS005")["site"] == "S01");
  CHECK(at_s01["moves"][0]["part"] == "RS005");
  // Each site decides only its parts.
  CHECK(act(d.s01, s01_reviewer, id, "decide", {{"approve", true}, {"part", "QY007"}, {"reason", "x"}})
            .body["error"]["code"] == "not_owner");
  CHECK(act(p01, reviewer, id, "decide", {{"approve", true}, {"part", "RS005"}, {"reason", "x"}})
            .body["error"]["code"] == "part_elsewhere");
  REQUIRE(act(d.s01, s01_reviewer, id, "decide",
              {{"approve", true}, {"part", "RS005"}, {"reason", "社保登记准予"}})
              .status == 200);
  // (No separate review: S01's part decision may already have put the case in review.)
  REQUIRE(act(p01, reviewer, id, "decide", {{"approve", true}, {"part", "QY007"}, {"reason", "准予"}})
              .status == 200);
  REQUIRE(act(p01, reviewer, id, "decide", {{"approve", true}, {"part", "SW001"}, {"reason", "准予"}})
              .status == 200);
  // Complete when every part is decided, wherever: P01 learns of S01's part and delivers once.
  eventually([&] { return case_at(p01, clerk, id)["status"] == "approved"; });
  REQUIRE(act(p01, clerk, id, "deliver", {{"method", "window"}}).status == 200);
  eventually([&] { return case_at(d.hub, op, id)["status"] == "delivered"; });
  eventually([&] { return case_at(d.s01, s01_clerk, id)["status"] == "delivered"; });
  const json at_hub = case_at(d.hub, op, id);
  CHECK(at_hub["conflict_open"] == false);
  CHECK(part(at_hub, "RS005")["decision"] == "approved");
  const auto kinds = kinds_of(d.hub, op, id);
  CHECK(count_of(kinds, "P01:case.delivered") == 1);
  CHECK(count_of(kinds, "S01:case.decided") == 1);
  CHECK(count_of(kinds, "P01:case.decided") == 2);
}

TEST_CASE("a 容缺 commitment broken at one site bars the applicant at every site of the district",
          "[integration][handover][tolerance]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string resident = resident_id(61);
  const json tolerate = {{"tolerated", {"EXPENSE_LIST", "DISCHARGE", "BANK"}},
                         {"commitment_signed", true},
                         {"supply_days", 1}};
  json app = application("YB002", {"ID", "INVOICE"}, resident);
  app["accept"] = tolerate;
  const HttpReply r = d.s01.post(d.s01.login("clerk"), "/api/v1/cases", app);
  INFO(r.body.dump());
  REQUIRE(r.status == 201);
  const std::string id = r.body["case_id"];

  // Ten days later nothing was supplied: S01's sweep terminates the case.
  d.s01.stop();
  d.s01.set_extra_args({"--clock-offset-seconds", std::to_string(10 * 86400)});
  d.s01.start();
  const std::string s01_clerk = d.s01.login("clerk");
  eventually([&] { return case_at(d.s01, s01_clerk, id)["status"] == "terminated"; });

  // S02 hears it from the hub: the same resident gets no 容缺 there either.
  const std::string s02_clerk = s02.login("clerk");
  eventually([&] {
    const HttpReply again = s02.post(s02_clerk, "/api/v1/cases", app);
    return again.status == 422 && again.body["error"]["code"] == "tolerance_ineligible";
  });
  // Another resident still may; and a rebuild of S02's projections keeps the list.
  json other = application("YB002", {"ID", "INVOICE"}, resident_id(62));
  other["accept"] = tolerate;
  CHECK(s02.post(s02_clerk, "/api/v1/cases", other).status == 201);
  s02.stop();
  REQUIRE(run_cli({"rebuild", "--data", s02.data().string(), "--site", "S02", "--site-config",
                   d.district.config().string(), "--key-file", s02.key_file().string()}) == 0);
  s02.start();
  const HttpReply after = s02.post(s02.login("clerk"), "/api/v1/cases", app);
  CHECK(after.status == 422);
  CHECK(after.body["error"]["code"] == "tolerance_ineligible");
}

TEST_CASE("the hub notices a resident's open application for the same item at two sites",
          "[integration][handover][duplicates]") {
  LinkedDistrict d;
  NodeHarness s02(d.district, "S02");
  const std::string op = d.hub.login("operator");
  join(s02, d.hub, op);
  const std::string first = submit(d.s01, d.s01.login("clerk"), 71);
  const std::string second = submit(s02, s02.login("clerk"), 71);
  submit(s02, s02.login("clerk"), 72);  // someone else: no twin
  eventually([&] { return has_case(d.hub, op, first) && has_case(d.hub, op, second); });
  const json twin = case_at(d.hub, op, second);
  REQUIRE(twin["same_applicant_open"].size() == 1);
  CHECK(twin["same_applicant_open"][0]["case_id"] == first);
  CHECK(twin["same_applicant_open"][0]["site"] == "S01");
  const json groups = d.hub.get(op, "/api/v1/duplicates").body;
  REQUIRE(groups["count"] == 1);
  CHECK(groups["groups"][0]["item_code"] == "RS001");
  CHECK(groups["groups"][0]["cases"].size() == 2);
  // Once one is closed they are no longer twins.
  const std::string reviewer = d.s01.login("reviewer");
  REQUIRE(act(d.s01, reviewer, first, "review").status == 200);
  REQUIRE(act(d.s01, reviewer, first, "decide", {{"approve", false}, {"reason", "重复申请"}}).status ==
          200);
  eventually([&] { return d.hub.get(op, "/api/v1/duplicates").body["count"] == 0; });
  CHECK(case_at(d.hub, op, second)["same_applicant_open"].empty());
}

TEST_CASE("a bundle part no site could take waits on the operators' queue until placed by hand",
          "[integration][handover][bundle]") {
  DistrictDir district;
  HubHarness hub(district);
  NodeHarness p01(district, "P01");
  hub.start();
  p01.set_hub(hub.sync_endpoint());
  p01.start();
  const std::string op = hub.login("operator");
  const std::string clerk = p01.login("clerk");
  json app = application("QY006", {});
  app["applicant"]["enterprise"] = true;
  app["applicant"]["uscc"] = "91110108551385082Q";
  app["applicant"]["org_name"] = "西安某某科技有限公司";
  const HttpReply probe = p01.post(clerk, "/api/v1/cases", app);
  REQUIRE(probe.status == 201);
  json provided = json::array();
  for (const json& m : probe.body["materials"]) provided.push_back(m["code"]);
  app["provided"] = provided;
  app["accept"] = json::object();
  const HttpReply accepted = p01.post(clerk, "/api/v1/cases", app);
  REQUIRE(accepted.status == 201);
  const std::string id = accepted.body["case_id"];

  // No center is provisioned yet: RS005 cannot be placed and waits, visibly.
  eventually([&] {
    const json q = hub.get(op, "/api/v1/dispatch?state=requested").body;
    return q["count"] == 1 && q["cases"][0]["case_id"] == id;
  });
  NodeHarness s02(district, "S02");
  join(s02, hub, op);
  const auto hand = [&](const json& body) {
    return hub.post(op, "/api/v1/cases/" + id + "/handover", body);
  };
  CHECK(hand({{"part", "XX001"}, {"to", "S02"}, {"reason", "x"}}).body["error"]["code"] ==
        "unknown_part");
  CHECK(hand({{"part", "RS005"}, {"to", "P02"}, {"reason", "x"}}).body["error"]["code"] ==
        "not_competent");
  const HttpReply placed = hand({{"part", "RS005"}, {"to", "S02"}, {"reason", "中心已开通，手动派发"}});
  INFO(placed.body.dump());
  REQUIRE(placed.status == 200);
  CHECK(placed.body["owner_site"] == "P01");
  CHECK(hub.get(op, "/api/v1/dispatch?state=requested").body["count"] == 0);
  const std::string s02_clerk = s02.login("clerk");
  eventually([&] {
    const HttpReply r = s02.get(s02_clerk, "/api/v1/cases/" + id);
    if (r.status != 200) return false;
    for (const json& p : r.body["parts"])
      if (p["item_code"] == "RS005") return p["site"] == "S02" && p["received"] == true;
    return false;
  });
}
