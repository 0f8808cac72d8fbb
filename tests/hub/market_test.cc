// 中介超市's two pure rules: who may be chosen for an item today, and the random draw's
// index from its recorded seed (the same seed always draws the same; seeds spread evenly).
#include <catch2/catch.hpp>

#include <array>

#include "tongban/hub/hub_store.h"
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
  const std::string seed(64, 'a');
  CHECK(HubStore::draw_index(seed, 7) == HubStore::draw_index(seed, 7));
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
