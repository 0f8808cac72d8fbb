// 中介超市's two pure rules: who may be chosen for an item today, and the random draw's
// index from its recorded seed (the same seed always draws the same; seeds spread evenly).
#include <catch2/catch.hpp>

#include <array>

#include "tongban/hub/hub_store.h"
#include "support/test_support.h"
#include "tongban/shared/crypto.h"

using namespace tongban;
using namespace tongban::hub;

TEST_CASE("an intermediary is eligible only unsuspended with every qualification valid and the item offered",
          "[hub][intermediaries]") {
  const Date today = date_from_ymd(2026, 11, 30);
  HubStore::Intermediary i;
  i.code = "91610131MA6TXA0019";
  i.qualifications = {{"安全评价机构资质", "APJ-001", today}, {"甲级", "A-2", today + 100}};
  i.services = {{"YJ001", "安全评价"}};
  CHECK(HubStore::eligible(i, "YJ001", today));  // valid through its last day
  CHECK_FALSE(HubStore::eligible(i, "QY002", today));
  CHECK_FALSE(HubStore::eligible(i, "YJ001", today + 1));  // one of two lapsed
  i.suspended_kind = "low_ratings";
  CHECK_FALSE(HubStore::eligible(i, "YJ001", today));
  i.suspended_kind.clear();
  i.qualifications.clear();
  CHECK_FALSE(HubStore::eligible(i, "YJ001", today));  // none at all
}

TEST_CASE("the random draw is the seed's BLAKE2b mod n and spreads evenly", "[hub][intermediaries]") {
  // Known answers, computed outside the code (Python: int.from_bytes(hashlib.blake2b(
  // seed.encode(), digest_size=32).digest()[:8], 'little') % n).
  const std::string zeros(64, '0');
  CHECK(HubStore::draw_index(zeros, 3) == 2);
  CHECK(HubStore::draw_index(zeros, 7) == 5);
  CHECK(HubStore::draw_index(zeros, 1000) == 48);
  const std::string seed = "f9e614916f8fb408355f5b264a8db03459eda2c3713c5e73e837e636b47c41c2";
  CHECK(HubStore::draw_index(seed, 3) == 1);
  CHECK(HubStore::draw_index(seed, 1000) == 938);
  CHECK(HubStore::draw_index(seed, 1) == 0);
  CHECK(HubStore::draw_index(seed, 0) == 0);
  std::array<int, 3> counts{};
  for (int k = 0; k < 3000; ++k) {
    std::array<uint8_t, 32> bytes{};
    for (int b = 0; b < 4; ++b) bytes[b] = static_cast<uint8_t>(k >> (8 * b));
    const size_t at = HubStore::draw_index(to_hex(bytes), counts.size());
    REQUIRE(at < counts.size());
    ++counts[at];
  }
  for (int c : counts) CHECK((c > 850 && c < 1150));  // 1000 each, ±15 %
}

namespace {

// A project step's inputs (the step and its author are filled in by the caller).
HubStore::ProjectAct choose(const std::string& code, int64_t amount_fen = 0) {
  HubStore::ProjectAct a;
  a.code = code;
  a.amount_fen = amount_fen;
  return a;
}

HubStore::ProjectAct contract(int64_t amount_fen, Date due) {
  HubStore::ProjectAct a;
  a.amount_fen = amount_fen;
  a.due = due;
  return a;
}

HubStore::ProjectAct rating(int level, const std::string& note) {
  HubStore::ProjectAct a;
  a.level = level;
  a.note = note;
  return a;
}

HubStore::Intermediary firm(const std::string& code, Date expires) {
  HubStore::Intermediary i;
  i.code = code;
  i.name = "陕西安泰安全评价有限公司";
  i.qualifications = {{"安全评价机构资质", "APJ-001", expires}};
  i.services = {{"YJ001", "安全评价报告"}};
  return i;
}

}  // namespace

TEST_CASE("优胜劣汰 suspends on expiry and low ratings and a reinstatement counts afresh",
          "[hub][intermediaries]") {
  test::TempDir dir;
  const Date start = date_from_ymd(2026, 11, 2);
  ManualClock clock(start_of(start) + 9 * 3600);
  const SigningKey key = SigningKey::generate();
  auto opened = HubStore::open(dir.path(), test::sample_district(), clock, key, nullptr);
  REQUIRE(opened.ok());
  HubStore& hub = **opened;
  hub.set_supervision(SupervisionRules::defaults(2));  // 3 ratings of 2 or lower in 365 days
  const std::string a = "91610131MA6TXA0019", lapsed = "91610131MA6TXC003X";

  // Registered with a qualification already past its day: suspended at once.
  auto late = hub.save_intermediary(firm(lapsed, start + -1), "operator", false);
  REQUIRE(late.ok());
  CHECK(late->suspended_kind == "qualification_expired");
  REQUIRE(hub.save_intermediary(firm(a, start + 30), "operator", false).ok());

  const auto step = [&](int64_t id, const std::string& what, HubStore::ProjectAct act = {}) {
    act.step = what;
    act.by = "operator";
    clock.set(clock.now() + 1);  // each act its own second
    return hub.act_on_project(id, act);
  };
  // Three services under way; then the qualification lapses and the timer suspends.
  std::vector<int64_t> ids;
  for (int k = 0; k < 3; ++k) {
    auto p = hub.create_project({"某化工贸易有限公司", "", "YJ001", "安全评价", "direct"}, "operator");
    REQUIRE(p.ok());
    ids.push_back(p->id);
    REQUIRE(step(p->id, "select", choose(a)).ok());
    REQUIRE(step(p->id, "contract", contract(500000, start + 20)).ok());
    REQUIRE(step(p->id, "complete").ok());
  }
  clock.set(start_of(start + 31) + 9 * 3600);
  auto swept = hub.suspend_expired();
  REQUIRE(swept.ok());
  CHECK(*swept == 1);
  CHECK(hub.intermediary(a)->suspended_kind == "qualification_expired");
  // Rated low while suspended for the lapse (a 差评's reason may run over lines)...
  for (int64_t id : ids) {
    auto r = step(id, "rate", rating(2, "报告质量差\n多次返工"));
    INFO(r.status().message_en());
    REQUIRE(r.ok());
  }
  // ...the renewal does not lift it: the low ratings now suspend.
  auto renewed = hub.save_intermediary(firm(a, start + 400), "operator", true);
  REQUIRE(renewed.ok());
  CHECK(renewed->suspended_kind == "low_ratings");
  CHECK(renewed->low_ratings == 3);

  // A supervisor reinstates: the count starts again, and a good rating keeps it active.
  auto back = hub.set_suspension(a, false, "约谈后已整改", "supervisor");
  REQUIRE(back.ok());
  CHECK(back->suspended_kind.empty());
  CHECK(back->low_ratings == 0);
  const auto served = [&](int level) {
    auto p = hub.create_project({"某化工贸易有限公司", "", "YJ001", "安全评价", "direct"}, "operator");
    REQUIRE(p.ok());
    REQUIRE(step(p->id, "select", choose(a)).ok());
    REQUIRE(step(p->id, "contract", contract(500000, date_of(clock.now()) + 20)).ok());
    REQUIRE(step(p->id, "complete").ok());
    REQUIRE(step(p->id, "rate", rating(level, level <= 2 ? "不满意" : "")).ok());
  };
  served(5);
  CHECK(hub.intermediary(a)->suspended_kind.empty());
  served(1);
  served(2);
  CHECK(hub.intermediary(a)->suspended_kind.empty());
  served(1);
  CHECK(hub.intermediary(a)->suspended_kind == "low_ratings");

  // The contract follows the choice: not above the winning quote, not once suspended.
  REQUIRE(hub.set_suspension(a, false, "复核后恢复", "supervisor").ok());
  const std::string b = "91610131MA6TXB002K";
  REQUIRE(hub.save_intermediary(firm(b, start + 400), "operator", false).ok());
  auto bid = hub.create_project({"某化工贸易有限公司", "", "YJ001", "安全评价", "lowest_quote"}, "operator");
  REQUIRE(bid.ok());
  REQUIRE(step(bid->id, "quote", choose(a, 300000)).ok());
  REQUIRE(step(bid->id, "quote", choose(b, 320000)).ok());
  auto chosen = step(bid->id, "select");
  REQUIRE(chosen.ok());
  CHECK(chosen->chosen == a);
  auto dear = step(bid->id, "contract", contract(300001, date_of(clock.now()) + 10));
  CHECK(dear.status().reason() == "invalid_amount");
  REQUIRE(hub.set_suspension(a, true, "涉嫌出具虚假报告", "supervisor").ok());
  auto barred = step(bid->id, "contract", contract(300000, date_of(clock.now()) + 10));
  CHECK(barred.status().reason() == "not_eligible");
  CHECK(hub.project(bid->id)->state == "selected");
}
