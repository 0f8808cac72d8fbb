#include "tongban/shared/catalog.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"
#include "tongban/shared/config.h"

using namespace tongban;

TEST_CASE("the sample catalog covers the policy's special kinds of item", "[shared][catalog]") {
  const Catalog& c = test::sample_district().catalog;
  CHECK(c.items().size() >= 30);
  int instant = 0, commitment = 0, tolerance = 0, cross = 0, bundle = 0;
  for (const Item& item : c.items()) {
    instant += item.has_instant_rule();
    tolerance += item.tolerance_allowed;
    cross += item.cross_region;
    bundle += item.is_bundle();
    for (const Material& m : item.materials) commitment += m.commitment_allowed;
    CHECK(item.promised_days <= item.legal_days);
  }
  CHECK(instant > 0);
  CHECK(commitment > 0);
  CHECK(tolerance > 0);
  CHECK(cross > 0);
  CHECK(bundle > 0);
  REQUIRE(c.find("BZ001"));
  CHECK(c.find("BZ001")->name == "出生一件事");
}

TEST_CASE("a bundle asks for each shared material once", "[shared][catalog]") {
  const Catalog& c = test::sample_district().catalog;
  const Item& birth = *c.find("BZ001");
  CHECK(c.parts_of(birth).size() == 4);
  const auto materials = c.materials_of(birth);
  int parent_ids = 0;
  for (const Material& m : materials) parent_ids += m.code == "PARENT_ID";
  CHECK(parent_ids == 1);  // WJ001 and GA001 both need it
}

TEST_CASE("instant-approval rules compare numbers and sets", "[shared][catalog]") {
  const std::vector<RuleCondition> rule = {{"age", "ge", "80"}, {"hukou_local", "eq", "yes"}};
  CHECK(instant_rule_holds(rule, {{"age", "85"}, {"hukou_local", "yes"}}));
  CHECK_FALSE(instant_rule_holds(rule, {{"age", "79"}, {"hukou_local", "yes"}}));
  CHECK_FALSE(instant_rule_holds(rule, {{"age", "eighty"}, {"hukou_local", "yes"}}));
  CHECK_FALSE(instant_rule_holds(rule, {{"age", "85"}}));
  CHECK(instant_rule_holds({{"reason", "in", "a|b|c"}}, {{"reason", "b"}}));
  CHECK_FALSE(instant_rule_holds({{"reason", "in", "a|b|c"}}, {{"reason", "d"}}));
  CHECK_FALSE(instant_rule_holds({}, {}));
}

TEST_CASE("catalog validation names the broken item", "[shared][catalog]") {
  Item bad;
  bad.code = "X1";
  bad.name = "x";
  bad.promised_days = 10;
  bad.legal_days = 5;
  bad.decided_at = {SiteKind::kCenter};
  const Status s = Catalog(1, {bad}).validate();
  CHECK(s.reason() == "invalid_catalog");
  CHECK(s.message_en().find("X1") != std::string::npos);
  Item bundle = bad;
  bundle.code = "B1";
  bundle.legal_days = 20;
  bundle.bundle_of = {"NOPE"};
  CHECK_FALSE(Catalog(1, {bundle}).validate().ok());
}

TEST_CASE("an item's fee_fen is read and a negative one refused", "[shared][catalog]") {
  const std::string item =
      "version = 3\n[[item]]\ncode = \"GA009\"\nname = \"居民身份证补领\"\ntype = \"license\"\n"
      "department = \"公安分局\"\npromised_days = 5\nlegal_days = 20\ndecided_at = [\"center\"]\n"
      "fee = \"工本费 20 元\"\n";
  auto priced = parse_catalog(item + "fee_fen = 2000\n");
  INFO(priced.status().message_en());
  REQUIRE(priced.ok());
  CHECK(priced->find("GA009")->fee_fen == 2000);
  auto free = parse_catalog(item);
  REQUIRE(free.ok());
  CHECK(free->find("GA009")->fee_fen == 0);  // absent: free
  auto negative = parse_catalog(item + "fee_fen = -1\n");
  REQUIRE_FALSE(negative.ok());
  CHECK(negative.status().message_en().find("fee_fen") != std::string::npos);
}
