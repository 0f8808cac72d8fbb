// 好差评's monthly rankings over the hub's own store: best mean first, fewer 差评 breaking a
// tie, those with too few ratings unranked, an upheld appeal's rating counted for nobody,
// and the last-ranked flagged for 限期整改 only after the configured months running.
#include <catch2/catch.hpp>

#include "support/test_support.h"
#include "tongban/hub/hub_store.h"
#include "tongban/hub/statistics.h"

using namespace tongban;
using namespace tongban::hub;
using tongban::test::TempDir;

namespace {

const District& district() {
  static const District d = *load_district(TONGBAN_SITE_CONFIG_DIR);
  return d;
}

// A case of `site` rated `level` on `day` (appeal: 0 none, 2 upheld).
CaseFacts rated(const std::string& site, int n, int level, Date day, int appeal = 0) {
  CaseFacts f;
  f.case_id = site + "-" + std::to_string(day.days) + "-" + std::to_string(n);
  f.site = f.origin = f.rated_site = site;
  f.department = "民政局";
  f.item_code = "MZ001";
  f.staff = "reviewer";
  f.received = day;
  f.concluded = day;
  f.rating = level;
  f.rated = day;
  f.served_by = site == "S01" ? "clerk1" : "clerk2";
  f.appeal = appeal;
  return f;
}

std::map<std::string, HubStore::RankingRow> by_key(const std::vector<HubStore::RankingRow>& rows) {
  std::map<std::string, HubStore::RankingRow> out;
  for (const auto& r : rows) out[r.key] = r;
  return out;
}

}  // namespace

TEST_CASE("rankings put the best mean first and flag the last only after months running",
          "[hub][ratings]") {
  TempDir dir;
  ManualClock clock(start_of(date_from_ymd(2026, 11, 20)));
  const SigningKey key = SigningKey::generate();
  auto store = HubStore::open(dir.path(), district(), clock, key, nullptr);
  REQUIRE(store.ok());
  SupervisionRules rules = SupervisionRules::defaults(2);
  rules.ranking_min_ratings = 2;
  rules.ranking_bottom_months = 3;
  (*store)->set_supervision(rules);
  auto opened = Db::open(dir.path() / HubStore::kDbFile);  // a second connection, as a writer
  REQUIRE(opened.ok());
  Db& db = *opened;
  int n = 0;
  const auto add = [&](const std::string& site, int level, Date day, int appeal = 0) {
    REQUIRE(HubStore::write_facts(db, rated(site, ++n, level, day, appeal)).ok());
  };
  // Three months: S01 best, S02 last each month; S03 with one rating is unranked.
  for (int m : {9, 10, 11}) {
    const Date day = date_from_ymd(2026, m, 10);
    add("S01", 5, day);
    add("S01", 4, day);
    add("S02", 3, day);
    add("S02", 2, day);
    add("S04", 4, day);
    add("S04", 3, day);
  }
  add("S03", 1, date_from_ymd(2026, 11, 12));
  // An upheld appeal: S04's 非常不满意 in November counts for nobody.
  add("S04", 1, date_from_ymd(2026, 11, 12), 2);

  auto november = (*store)->rankings("site", date_from_ymd(2026, 11, 1));
  REQUIRE(november.ok());
  REQUIRE(november->size() == 4);
  CHECK((*november)[0].key == "S01");
  CHECK((*november)[1].key == "S04");
  CHECK((*november)[2].key == "S02");
  CHECK((*november)[3].key == "S03");
  auto rows = by_key(*november);
  CHECK(rows["S01"].rank == 1);
  CHECK(rows["S04"].ratings == 2);  // not the upheld appeal's
  CHECK(rows["S02"].rank == 3);
  CHECK(rows["S02"].bad == 1);
  CHECK(rows["S02"].bottom_months == 3);
  CHECK(rows["S02"].flagged);
  CHECK(rows["S03"].rank == 0);  // one rating: not ranked, not flagged
  CHECK(!rows["S03"].flagged);
  CHECK(!rows["S01"].flagged);

  // In October S02 was last for two months running only: not yet flagged.
  auto october = (*store)->rankings("site", date_from_ymd(2026, 10, 1));
  REQUIRE(october.ok());
  rows = by_key(*october);
  CHECK(rows["S02"].bottom_months == 2);
  CHECK(!rows["S02"].flagged);

  // December: equal means and 差评 rates share the first place; nobody is last alone.
  for (const std::string site : {"S01", "S02"}) {
    add(site, 4, date_from_ymd(2026, 12, 3));
    add(site, 4, date_from_ymd(2026, 12, 4));
  }
  auto december = (*store)->rankings("site", date_from_ymd(2026, 12, 1));
  REQUIRE(december.ok());
  rows = by_key(*december);
  CHECK(rows["S01"].rank == 1);
  CHECK(rows["S02"].rank == 1);
  CHECK(!rows["S02"].flagged);

  // By staff (the one rated), and an unknown grouping.
  auto staff = (*store)->rankings("staff", date_from_ymd(2026, 11, 1));
  REQUIRE(staff.ok());
  CHECK(by_key(*staff)["clerk1"].rank == 1);
  CHECK((*store)->rankings("counter", date_from_ymd(2026, 11, 1)).status().code() ==
        StatusCode::kInvalidArgument);
  // By window: only the ratings whose ticket named one.
  CaseFacts at_window = rated("S01", ++n, 5, date_from_ymd(2026, 11, 13));
  at_window.rated_window = "S01-2";
  REQUIRE(HubStore::write_facts(db, at_window).ok());
  auto windows = (*store)->rankings("window", date_from_ymd(2026, 11, 1));
  REQUIRE(windows.ok());
  REQUIRE(windows->size() == 1);
  CHECK((*windows)[0].key == "S01-2");
  CHECK((*windows)[0].ratings == 1);
}
