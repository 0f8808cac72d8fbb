// 中介超市 with a real hub: an operator registers intermediaries (the credit code checked,
// qualifications with expiry, services against the catalog's items); projects choose one by
// direct selection, a random draw (recomputed here from the recorded seed) or the lowest
// quote; contracts, completion and the owner's rating follow; three low ratings suspend an
// intermediary, an expired qualification suspends it as it is registered and its renewal
// lifts that, and a supervisor reinstates with a reason. Every refusal changes nothing.
#include <sodium.h>

#include <catch2/catch.hpp>

#include "support/node_harness.h"
#include "support/sync_support.h"

using namespace tongban;
using namespace tongban::test;
using nlohmann::json;

namespace {

// Codes whose GB 32100 check characters are right.
const std::string kAnquan = "91610131MA6TXA0019";  // 安全评价
const std::string kHuanping = "91610131MA6TXB002K";
const std::string kLapsed = "91610131MA6TXC003X";
const std::string kCheap = "91610131MA6TXD0048";

json intermediary(const std::string& code, const std::string& name, Date expires) {
  return {{"code", code},
          {"name", name},
          {"contact", "李经理 029-88886666"},
          {"qualifications", {{{"name", "安全评价机构资质"}, {"number", "APJ-(陕)-" + code.substr(14)},
                               {"expires", format_date(expires)}}}},
          {"services", {{{"item_code", "YJ001"}, {"service", "危险化学品经营单位安全评价报告"}}}}};
}

// The index the seed draws, as docs/api.md tells anyone to recompute it.
size_t recompute_draw(const std::string& seed_hex, size_t n) {
  uint8_t hash[32];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const uint8_t*>(seed_hex.data()),
                     seed_hex.size(), nullptr, 0);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | hash[i];
  return v % n;
}

}  // namespace

TEST_CASE("中介超市 draws reproducibly and suspends the intermediary rated low or lapsed",
          "[integration][intermediaries]") {
  DistrictDir district;
  HubHarness hub(district);
  hub.start();
  const std::string op = hub.login("operator");
  const std::string sup = hub.login("supervisor");
  const Date today = date_of(std::time(nullptr));

  // The registry: bad input refused with nothing stored.
  json bad = intermediary("91610131MA6TXA0010", "错误代码公司", today + 300);
  expect_error(hub.post(op, "/api/v1/intermediaries", bad), 400, "invalid_uscc");
  bad = intermediary(kAnquan, "陕西安泰安全评价有限公司", today + 300);
  bad["services"][0]["item_code"] = "ZZ999";
  expect_error(hub.post(op, "/api/v1/intermediaries", bad), 400, "unknown_item");
  bad = intermediary(kAnquan, "陕西安泰安全评价有限公司", today + 300);
  bad["qualifications"] = json::array();
  expect_error(hub.post(op, "/api/v1/intermediaries", bad), 400, "invalid_qualification");
  bad["qualifications"] = "资质";
  expect_error(hub.post(op, "/api/v1/intermediaries", bad), 400, "invalid_field");
  expect_error(hub.post(sup, "/api/v1/intermediaries", intermediary(kAnquan, "安泰", today + 300)), 403,
               "forbidden_role");
  CHECK(hub.get(op, "/api/v1/intermediaries").body["intermediaries"].empty());

  for (const auto& [code, name, expires] :
       {std::tuple{kAnquan, "陕西安泰安全评价有限公司", today + 300},
        std::tuple{kHuanping, "西安环评技术服务有限公司", today + 300},
        std::tuple{kCheap, "西安惠通安全咨询有限公司", today + 300},
        std::tuple{kLapsed, "过期资质评价所", today + -1}}) {
    const HttpReply r = hub.post(op, "/api/v1/intermediaries", intermediary(code, name, expires));
    INFO(r.body.dump());
    REQUIRE(r.status == 201);
  }
  expect_error(hub.post(op, "/api/v1/intermediaries", intermediary(kAnquan, "重复", today + 300)), 409,
               "intermediary_exists");
  // The one whose qualification has lapsed is suspended as it is registered.
  const json lapsed = hub.get(op, "/api/v1/intermediaries/" + kLapsed).body;
  CHECK(lapsed["suspended_kind"] == "qualification_expired");
  CHECK(lapsed["qualifications"][0]["expired"] == true);
  const json eligible = hub.get(op, "/api/v1/intermediaries?item_code=YJ001&eligible=1").body;
  CHECK(eligible["intermediaries"].size() == 3);
  // The public list names no contact.
  const HttpReply open_list = hub.get("", "/api/v1/public/intermediaries?item_code=YJ001");
  REQUIRE(open_list.status == 200);
  CHECK(open_list.body["intermediaries"].size() == 4);
  CHECK(!open_list.body["intermediaries"][0].contains("contact"));

  const auto project = [&](const std::string& method, const std::string& item = "YJ001") {
    const HttpReply r = hub.post(op, "/api/v1/intermediary-projects",
                                 {{"owner", "西安高新区某化工贸易有限公司"}, {"owner_code", kCheap},
                                  {"item_code", item}, {"title", "危险化学品经营许可安全评价"},
                                  {"method", method}});
    INFO(r.body.dump());
    REQUIRE(r.status == 201);
    CHECK(r.body["state"] == "open");
    return "/api/v1/intermediary-projects/" + std::to_string(r.body["id"].get<int64_t>());
  };
  expect_error(hub.post(op, "/api/v1/intermediary-projects",
                        {{"owner", "某公司"}, {"item_code", "YJ001"}, {"title", "评价"}, {"method", "lottery"}}),
               400, "invalid_method");

  // 随机抽取: among the eligible only, reproducible from the recorded seed.
  const std::string drawn = project("random");
  const HttpReply draw = hub.post(op, drawn + "/select", json::object());
  INFO(draw.body.dump());
  REQUIRE(draw.status == 200);
  const std::vector<std::string> candidates = draw.body["candidates"];
  CHECK(candidates == std::vector<std::string>{kAnquan, kHuanping, kCheap});
  const std::string seed = draw.body["seed"];
  CHECK(seed.size() == 64);
  CHECK(draw.body["chosen"] == candidates[recompute_draw(seed, candidates.size())]);
  CHECK(draw.body["state"] == "selected");
  expect_error(hub.post(op, drawn + "/select", json::object()), 409, "invalid_transition");
  // No eligible intermediary for the item: refused, the project still open.
  const std::string nobody = project("random", "QY002");
  expect_error(hub.post(op, nobody + "/select", json::object()), 409, "no_eligible_intermediary");
  CHECK(hub.get(op, nobody).body["state"] == "open");
  CHECK(hub.get(op, nobody).body["seed"] == "");

  // 竞价选取: quotes from eligible intermediaries, final; the lowest wins.
  const std::string bid = project("lowest_quote");
  expect_error(hub.post(op, bid + "/quote", {{"code", kLapsed}, {"amount_fen", 100000}}), 409, "not_eligible");
  expect_error(hub.post(op, bid + "/quote", {{"code", kAnquan}, {"amount_fen", -5}}), 400, "invalid_amount");
  expect_error(hub.post(op, bid + "/quote", {{"code", kAnquan}, {"amount_fen", "5万"}}), 400, "invalid_amount");
  REQUIRE(hub.post(op, bid + "/quote", {{"code", kAnquan}, {"amount_fen", 4800000}}).status == 200);
  REQUIRE(hub.post(op, bid + "/quote", {{"code", kCheap}, {"amount_fen", 4500000}}).status == 200);
  REQUIRE(hub.post(op, bid + "/quote", {{"code", kHuanping}, {"amount_fen", 4500000}}).status == 200);
  expect_error(hub.post(op, bid + "/quote", {{"code", kCheap}, {"amount_fen", 100}}), 409, "quote_exists");
  const json quoted = hub.get(op, bid).body;
  REQUIRE(quoted["quotes"].size() == 3);  // the refused one changed nothing
  CHECK(quoted["quotes"][0]["code"] == kCheap);
  CHECK(quoted["quotes"][0]["amount_fen"] == 4500000);
  CHECK(quoted["quotes"][2]["amount_fen"] == 4800000);
  expect_error(hub.post(op, bid + "/quote", json::object()), 404, "intermediary_not_found");
  const HttpReply lowest = hub.post(op, bid + "/select", json::object());
  REQUIRE(lowest.status == 200);
  CHECK(lowest.body["chosen"] == kCheap);  // a tie goes to the first quote
  CHECK(lowest.body["quotes"][0]["code"] == kCheap);

  // 直接选取, then the contract, completion and the owner's rating: three low ones suspend.
  const std::string direct = project("direct");
  expect_error(hub.post(op, direct + "/select", {{"code", kLapsed}}), 409, "not_eligible");
  expect_error(hub.post(op, direct + "/contract", {{"amount_fen", 100}, {"due", format_date(today + 30)}}), 409,
               "invalid_transition");
  for (int round = 0; round < 3; ++round) {
    const std::string path = round == 0 ? direct : project("direct");
    REQUIRE(hub.post(op, path + "/select", {{"code", kAnquan}}).status == 200);
    expect_error(hub.post(op, path + "/contract", {{"amount_fen", 5000000}, {"due", "2020-01-01"}}), 400,
                 "invalid_due");
    REQUIRE(hub.post(op, path + "/contract", {{"amount_fen", 5000000}, {"due", format_date(today + 30)}}).status ==
            200);
    expect_error(hub.post(op, path + "/rate", {{"level", 1}, {"note", "拖延"}}), 409, "invalid_transition");
    REQUIRE(hub.post(op, path + "/complete", {{"note", "已出具安全评价报告"}}).status == 200);
    expect_error(hub.post(op, path + "/rate", {{"level", 6}}), 400, "invalid_level");
    expect_error(hub.post(op, path + "/rate", {{"level", 1}}), 400, "missing_field");  // a 差评 says why
    const HttpReply rated = hub.post(op, path + "/rate", {{"level", 2}, {"note", "报告质量差\n多次返工"}});
    INFO(rated.body.dump());
    REQUIRE(rated.status == 200);
    CHECK(rated.body["state"] == "rated");
    expect_error(hub.post(op, path + "/rate", {{"level", 5}}), 409, "invalid_transition");
    const json now = hub.get(op, "/api/v1/intermediaries/" + kAnquan).body;
    CHECK(now["state"] == (round < 2 ? "active" : "suspended"));
  }
  const json suspended = hub.get(op, "/api/v1/intermediaries/" + kAnquan).body;
  CHECK(suspended["suspended_kind"] == "low_ratings");
  CHECK(suspended["low_ratings"] == 3);
  CHECK(suspended["avg"] == 2.0);
  bool logged = false;
  for (const json& e : suspended["log"]) logged |= e["what"] == "suspended" && e["by"] == "system";
  CHECK(logged);
  const std::string after = project("direct");
  expect_error(hub.post(op, after + "/select", {{"code", kAnquan}}), 409, "not_eligible");
  CHECK(hub.get(op, "/api/v1/intermediaries?item_code=YJ001&eligible=1").body["intermediaries"].size() == 2);

  // A supervisor reinstates with a reason; a lapsed qualification must be renewed first,
  // and its renewal lifts that suspension by itself.
  expect_error(hub.post(op, "/api/v1/intermediaries/" + kAnquan + "/reinstate", {{"reason", "已整改"}}), 403,
               "forbidden_role");
  expect_error(hub.post(sup, "/api/v1/intermediaries/" + kAnquan + "/reinstate", json::object()), 400,
               "missing_field");
  const HttpReply back = hub.post(sup, "/api/v1/intermediaries/" + kAnquan + "/reinstate",
                                  {{"reason", "约谈后已整改，恢复选取资格"}});
  REQUIRE(back.status == 200);
  CHECK(back.body["state"] == "active");
  expect_error(hub.post(sup, "/api/v1/intermediaries/" + kLapsed + "/reinstate", {{"reason", "申请恢复"}}), 409,
               "qualification_expired");
  json renewed = intermediary(kLapsed, "", today + 700);
  const HttpReply renewal = hub.post(op, "/api/v1/intermediaries/" + kLapsed + "/update", renewed);
  INFO(renewal.body.dump());
  REQUIRE(renewal.status == 200);
  CHECK(renewal.body["state"] == "active");
  CHECK(renewal.body["name"] == "过期资质评价所");
  REQUIRE(hub.post(op, after + "/select", {{"code", kLapsed}}).status == 200);
  const HttpReply manual = hub.post(sup, "/api/v1/intermediaries/" + kHuanping + "/suspend",
                                    {{"reason", "涉嫌出具虚假报告，暂停选取"}});
  REQUIRE(manual.status == 200);
  CHECK(manual.body["suspended_kind"] == "supervisor");
  expect_error(hub.post(sup, "/api/v1/intermediaries/" + kHuanping + "/suspend", {{"reason", "再次暂停"}}), 409,
               "invalid_transition");
  expect_error(hub.get(op, "/api/v1/intermediary-projects/0"), 404, "project_not_found");
  expect_error(hub.get(op, "/api/v1/intermediaries/91610131MA6TXZ0000"), 404, "intermediary_not_found");
  CHECK(hub.get(op, "/api/v1/intermediary-projects?state=rated").body["projects"].size() == 3);
}
