// 电子监察 rules, one by one: each fires on the case built for it and stays silent on a clean
// one; supervision.toml refuses unknown rules, unknown settings and thresholds out of range,
// naming the line.
#include "tongban/hub/supervision.h"
#include "tongban/hub/statistics.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "support/test_support.h"

using namespace tongban;
using namespace tongban::hub;

namespace {

const District& district() {
  static const District d = *load_district(TONGBAN_SITE_CONFIG_DIR);
  return d;
}

Date day(int y, int m, int d) { return date_from_ymd(y, m, d); }

// RS001 (promised 3 working days) accepted on Monday 2026-11-02 at S01.
CaseState accepted_case() {
  CaseState s;
  s.case_id = "S01-20261102-000001";
  s.origin = s.owner = "S01";
  s.status = CaseStatus::kAccepted;
  s.item_code = "RS001";
  s.department = "人力资源和社会保障局";
  s.promised_days = 3;
  s.legal_days = 10;
  s.submitted_date = day(2026, 11, 2);
  s.accepted_date = day(2026, 11, 2);
  s.last_actor = "clerk";
  return s;
}

std::vector<std::string> rules_hit(const CaseState& s, Date today, bool opened = false,
                                   int refiled = 0,
                                   const SupervisionRules& r = SupervisionRules::defaults(2)) {
  std::vector<std::string> out;
  for (const Finding& f : evaluate(s, today, district(), r, opened, refiled)) out.push_back(f.rule);
  return out;
}

using V = std::vector<std::string>;

// Delivered on Monday 2026-11-02 and rated 非常不满意 the same day: called back by 11-03,
// rectified by 11-23 (15 working days).
CaseState badly_rated() {
  CaseState s = accepted_case();
  s.status = CaseStatus::kDelivered;
  s.review_started_date = s.decided_date = s.license_issued_date = s.delivered_date = day(2026, 11, 2);
  s.license_no = "L1";
  RatingState r;
  r.level = 1;
  r.rated = day(2026, 11, 2);
  r.callback_due = day(2026, 11, 3);
  r.rectify_due = day(2026, 11, 23);
  s.rating = r;
  return s;
}

SupervisionOrder order_due(Date due) {
  SupervisionOrder o;
  o.alert_id = 7;
  o.rule = "brief_reason";
  o.site = "S01";
  o.ordered = day(2026, 11, 2);
  o.due = due;
  return o;
}

}  // namespace

TEST_CASE("a clean case raises nothing", "[hub][supervision]") {
  CaseState s = accepted_case();
  CHECK(rules_hit(s, day(2026, 11, 2)).empty());
  s.status = CaseStatus::kInReview;
  s.review_started_date = day(2026, 11, 2);
  CHECK(rules_hit(s, day(2026, 11, 2)).empty());
  s.status = CaseStatus::kDelivered;
  s.decided_date = s.license_issued_date = s.delivered_date = day(2026, 11, 4);
  s.license_no = "L1";
  CHECK(rules_hit(s, day(2026, 12, 30)).empty());
}

TEST_CASE("the deadline rules fire before and after the promised day", "[hub][supervision]") {
  CaseState s = accepted_case();
  s.status = CaseStatus::kInReview;
  s.review_started_date = day(2026, 11, 2);
  // Deadline: 3 working days after Monday = Thursday 11-05; 2 days before it: yellow.
  CHECK(rules_hit(s, day(2026, 11, 3)) == V{"deadline_approaching"});
  CHECK(rules_hit(s, day(2026, 11, 6)) == V{"deadline_overdue", "review_to_decision"});
  // Decided after the deadline: the overdue stays on record.
  s.status = CaseStatus::kDenied;
  s.decided_date = day(2026, 11, 9);
  s.reason = "申请人不符合就业困难人员认定条件";
  CHECK(rules_hit(s, day(2026, 11, 20), true) == V{"deadline_overdue", "review_to_decision"});
}

TEST_CASE("each step has its own limit", "[hub][supervision]") {
  CaseState s = accepted_case();
  // 3 working days, limit 2 (and the promised deadline is that day)
  CHECK(rules_hit(s, day(2026, 11, 5)) == V{"deadline_approaching", "accept_to_review"});
  s.status = CaseStatus::kApproved;
  s.review_started_date = day(2026, 11, 3);
  s.decided_date = day(2026, 11, 4);
  CHECK(rules_hit(s, day(2026, 11, 16)) == V{"decision_to_license"});  // 12 days, law: 10
  s.license_issued_date = day(2026, 11, 4);
  s.license_no = "L1";
  CHECK(rules_hit(s, day(2026, 11, 11)).empty());  // 5 working days: within
  CHECK(rules_hit(s, day(2026, 11, 12)) == V{"license_to_delivery"});  // 6 working days
  // A step that took too long stays found after it ended.
  s.status = CaseStatus::kDelivered;
  s.delivered_date = day(2026, 11, 13);
  CHECK(rules_hit(s, day(2026, 12, 30)) == V{"license_to_delivery"});
}

TEST_CASE("suspensions: only lawful reasons and no longer than allowed", "[hub][supervision]") {
  CaseState s = accepted_case();
  s.status = CaseStatus::kSuspended;
  s.review_started_date = day(2026, 11, 2);
  s.pauses.push_back({"correction", day(2026, 11, 3), std::nullopt});
  CHECK(rules_hit(s, day(2026, 11, 20)).empty());  // paused: the clock does not run
  CHECK(rules_hit(s, day(2026, 12, 10)) == V{"suspension_length"});  // 27 working days > 20
  s.pauses.back().reason = "vacation";
  CHECK(rules_hit(s, day(2026, 11, 20)) == V{"unlawful_suspension"});
}

TEST_CASE("deemed acceptance and a license on a case never accepted", "[hub][supervision]") {
  // Filed Monday 11-02, unanswered: by law accepted after 5 working days (11-09), its clock
  // from filing; review is late only from the day it could first have begun.
  CaseState s = accepted_case();
  s.deemed_accepted = true;
  CHECK(rules_hit(s, day(2026, 11, 9)) == V{"deadline_overdue", "deemed_acceptance"});
  CHECK(rules_hit(s, day(2026, 11, 12)) ==
        V{"deadline_overdue", "accept_to_review", "deemed_acceptance"});
  CaseState outside = accepted_case();
  outside.accepted_date.reset();
  outside.status = CaseStatus::kApproved;
  outside.license_no = "L-OUTSIDE";
  CHECK(rules_hit(outside, day(2026, 11, 2)) == V{"license_without_case"});
}

TEST_CASE("a decision recorded for another department than the item's is found", "[hub][supervision]") {
  CaseState s = accepted_case();
  s.status = CaseStatus::kApproved;
  s.review_started_date = s.decided_date = day(2026, 11, 2);
  s.license_no = "L-1";
  s.license_issued_date = day(2026, 11, 2);
  CHECK(rules_hit(s, day(2026, 11, 2)).empty());  // no department recorded: not judged
  s.decided_department = "人力资源和社会保障局";
  CHECK(rules_hit(s, day(2026, 11, 2)).empty());
  s.decided_department = "公安分局";
  CHECK(rules_hit(s, day(2026, 11, 2)) == V{"decider_department"});
  // 一件事: each decided part against its own department.
  CaseState bundle = accepted_case();
  bundle.status = CaseStatus::kInReview;
  bundle.review_started_date = day(2026, 11, 2);
  const auto part = [](const char* code, const char* department, const char* decision,
                       const char* decider) {
    CasePart p;
    p.item_code = code;
    p.department = department;
    p.decision = decision;
    p.decided_department = decider;
    return p;
  };
  bundle.parts = {part("GA001", "公安分局", "approved", "公安分局"),
                  part("WJ001", "卫生健康局", "approved", "公安分局"),
                  part("YB001", "医疗保障局", "", "")};
  const auto found = evaluate(bundle, day(2026, 11, 2), district(), SupervisionRules::defaults(2), false, 0);
  REQUIRE(found.size() == 1);
  CHECK(found[0].rule == "decider_department");
  CHECK(found[0].occurrence == "WJ001");
  CHECK(found[0].severity == Severity::kRed);
}

TEST_CASE("a fee on a free item or above the catalog's is found", "[hub][supervision]") {
  CaseState s = accepted_case();
  CHECK(rules_hit(s, day(2026, 11, 2)).empty());
  s.fees_fen = 2000;
  s.fee_receipts = {"FS-1"};
  const auto found = evaluate(s, day(2026, 11, 2), district(), SupervisionRules::defaults(2), false, 0);
  REQUIRE(found.size() == 1);
  CHECK(found[0].rule == "fee_overcharge");
  CHECK(found[0].detail_zh == "免费事项收费 20.00 元");
  // An item whose catalog allows 20 yuan: 20 is fine, a second charge of 5.50 is not.
  District priced = district();
  std::vector<Item> items = priced.catalog.items();
  for (Item& i : items)
    if (i.code == "RS001") i.fee_fen = 2000;
  priced.catalog = Catalog(priced.catalog.version(), items);
  CHECK(evaluate(s, day(2026, 11, 2), priced, SupervisionRules::defaults(2), false, 0).empty());
  s.fees_fen = 2550;
  s.fee_receipts = {"FS-1", "FS-2"};
  const auto over = evaluate(s, day(2026, 11, 2), priced, SupervisionRules::defaults(2), false, 0);
  REQUIRE(over.size() == 1);
  CHECK(over[0].occurrence == "2");  // each further charge is judged again
  CHECK(over[0].detail_zh == "收费 25.50 元，超过目录规定的 20.00 元");
  // The limit the case was filed under stands, whatever the catalog says since.
  s.fee_fen = 3000;
  CHECK(evaluate(s, day(2026, 11, 2), priced, SupervisionRules::defaults(2), false, 0).empty());
  s.fee_fen = 0;
  s.fee_site = "S02";  // charged at the receiving site on delivery: it answers for it
  const auto snap = evaluate(s, day(2026, 11, 2), priced, SupervisionRules::defaults(2), false, 0);
  REQUIRE(snap.size() == 1);
  CHECK(snap[0].site == "S02");
}

TEST_CASE("a bundle filed before fees were recorded is judged by its parts' fees", "[hub][supervision]") {
  // The limit Submitted would have carried (Catalog::fee_limit): a bundle with no fee of its
  // own may charge what its parts charge together.
  District priced = district();
  std::vector<Item> items = priced.catalog.items();
  for (Item& i : items)
    if (i.code == "WJ001") i.fee_fen = 1000;
  priced.catalog = Catalog(priced.catalog.version(), items);
  CaseState bundle = accepted_case();
  bundle.item_code = "BZ001";
  bundle.fee_fen = std::nullopt;  // filed before fees were recorded
  bundle.fees_fen = 1000;
  bundle.fee_receipts = {"FS-1"};
  CHECK(evaluate(bundle, day(2026, 11, 2), priced, SupervisionRules::defaults(2), false, 0).empty());
  bundle.fees_fen = 1500;
  bundle.fee_receipts = {"FS-1", "FS-2"};
  const auto over = evaluate(bundle, day(2026, 11, 2), priced, SupervisionRules::defaults(2), false, 0);
  REQUIRE(over.size() == 1);
  CHECK(over[0].rule == "fee_overcharge");
  CHECK(over[0].detail_zh == "收费 15.00 元，超过目录规定的 10.00 元");
}

TEST_CASE("a brief reason is found only where the reason can be read", "[hub][supervision]") {
  CaseState s = accepted_case();
  s.status = CaseStatus::kRefused;
  s.reason = " 不符 ";
  CHECK(rules_hit(s, day(2026, 11, 2), true) == V{"brief_reason"});
  CHECK(rules_hit(s, day(2026, 11, 2), false).empty());  // sealed: not judged
  s.reason = "申请材料不齐全，逾期未补正";
  CHECK(rules_hit(s, day(2026, 11, 2), true).empty());
  s.reason = "";  // the hub could not open it: not judged
  CHECK(rules_hit(s, day(2026, 11, 2), true).empty());
  // A bundle denied part by part: each part's own reason counts.
  CaseState bundle = accepted_case();
  bundle.status = CaseStatus::kDenied;
  bundle.review_started_date = bundle.decided_date = day(2026, 11, 2);
  bundle.parts.resize(2);
  bundle.parts[0].decision = bundle.parts[1].decision = "denied";
  bundle.parts[0].reason = "不符合就业困难人员认定条件";
  bundle.parts[1].reason = "年龄不符";
  CHECK(rules_hit(bundle, day(2026, 11, 2), true) == V{"brief_reason"});
  bundle.parts[1].reason = "申请人未满八十周岁";
  CHECK(rules_hit(bundle, day(2026, 11, 2), true).empty());
}

TEST_CASE("the 差评 loop's steps and a supervisor's order are each timed", "[hub][supervision]") {
  CaseState s = badly_rated();
  CHECK(rules_hit(s, day(2026, 11, 3)).empty());
  CHECK(rules_hit(s, day(2026, 11, 4)) == V{"rating_callback_overdue"});
  s.rating->callback_done = day(2026, 11, 3);  // on time
  CHECK(rules_hit(s, day(2026, 11, 23)).empty());
  CHECK(rules_hit(s, day(2026, 11, 24)) == V{"rating_rectify_overdue"});
  s.rating->rectified = day(2026, 11, 20);
  CHECK(rules_hit(s, day(2026, 12, 30)).empty());
  s.rating->callback_done = day(2026, 11, 5);  // late, and on record so
  CHECK(rules_hit(s, day(2026, 12, 30)) == V{"rating_callback_overdue"});
  s.rating->level = 3;  // 基本满意 is no 差评: no loop
  CHECK(rules_hit(s, day(2026, 12, 30)).empty());

  CaseState o = accepted_case();
  o.supervision_orders.push_back(order_due(day(2026, 11, 10)));
  CHECK(rules_hit(o, day(2026, 11, 10)) == rules_hit(accepted_case(), day(2026, 11, 10)));  // its day
  CHECK(rules_hit(o, day(2026, 11, 11)) == V{"deadline_overdue", "accept_to_review", "rectification_overdue"});
  o.supervision_orders[0].answered = day(2026, 11, 9);
  CHECK(rules_hit(o, day(2026, 11, 11)) == V{"deadline_overdue", "accept_to_review"});
  // Ordered again and answered late: the second order is its own hit.
  o.supervision_orders.push_back(order_due(day(2026, 11, 16)));
  o.supervision_orders[1].answered = day(2026, 11, 18);
  const auto found = evaluate(o, day(2026, 11, 20), district(), SupervisionRules::defaults(2), false);
  const auto late = std::find_if(found.begin(), found.end(),
                                 [](const Finding& f) { return f.rule == "rectification_overdue"; });
  REQUIRE(late != found.end());
  CHECK(late->severity == Severity::kRed);
  CHECK(late->occurrence == "7@2026-11-16");
  CHECK(late->site == "S01");  // the site the order names

  // The rating loop is the receiving site's (收受分离: the case was decided at S02).
  CaseState moved = badly_rated();
  moved.owner = "S02";
  const auto hits = evaluate(moved, day(2026, 11, 4), district(), SupervisionRules::defaults(2), false);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].rule == "rating_callback_overdue");
  CHECK(hits[0].site == "S01");
  // An appeal pending past the day, or upheld, owes no rectification on time.
  CaseState appealed = badly_rated();
  appealed.rating->callback_done = day(2026, 11, 3);
  appealed.rating->appealed = day(2026, 11, 4);
  CHECK(rules_hit(appealed, day(2026, 12, 30)).empty());
  appealed.rating->appeal_decided = day(2026, 12, 1);
  appealed.rating->appeal_upheld = true;
  CHECK(rules_hit(appealed, day(2026, 12, 30)).empty());
  appealed.rating->appeal_upheld = false;
  CHECK(rules_hit(appealed, day(2026, 12, 30)) == V{"rating_rectify_overdue"});
}

TEST_CASE("refiling after withdrawals is counted against the limit", "[hub][supervision]") {
  const CaseState s = accepted_case();
  CHECK(rules_hit(s, day(2026, 11, 2), false, 1).empty());
  CHECK(rules_hit(s, day(2026, 11, 2), false, 2) == V{"refile_after_withdrawal"});
}

TEST_CASE("supervision.toml sets severities and thresholds and refuses what it does not know",
          "[hub][supervision]") {
  test::TempDir dir;
  const auto write = [&](const std::string& text) {
    std::ofstream(dir.path() / "supervision.toml") << text;
  };
  auto defaults = load_supervision(dir.path(), 2);
  REQUIRE(defaults.ok());
  CHECK(defaults->rule("decision_to_license")->limit == 10);

  write("[accept_to_review]\nseverity = \"红牌\"\nlimit = 1\n\n[deemed_acceptance]\nenabled = false\n"
        "[suspension_length]\ncorrection = 5\n[refile_after_withdrawal]\nwindow_days = 60\n"
        "[rankings]\nbottom_months = 2\nmin_ratings = 10\n[intermediaries]\nlow_level = 1\nlow_count = 2\n");
  auto set = load_supervision(dir.path(), 2);
  REQUIRE(set.ok());
  CHECK(set->rule("accept_to_review")->severity == Severity::kRed);
  CHECK(set->rule("accept_to_review")->limit == 1);
  CHECK(set->rule("deemed_acceptance") == nullptr);
  CHECK(set->suspension_days.at("correction") == 5);
  CHECK(set->refile_window_days == 60);
  CHECK(set->ranking_bottom_months == 2);
  CHECK(set->ranking_min_ratings == 10);
  CHECK(set->intermediary_low_level == 1);
  CHECK(set->intermediary_low_count == 2);
  CHECK(set->intermediary_window_days == 365);

  const auto refused = [&](const std::string& text, const std::string& line, const std::string& what) {
    write(text);
    auto r = load_supervision(dir.path(), 2);
    REQUIRE(!r.ok());
    CHECK(r.status().reason() == "invalid_config");
    CHECK_THAT(r.status().message_zh(), Catch::Contains("第 " + line + " 行"));
    CHECK_THAT(r.status().message_en(), Catch::Contains(what));
  };
  refused("\n[no_such_rule]\nlimit = 1\n", "2", "unknown rule no_such_rule");
  refused("[accept_to_review]\nlimt = 1\n", "2", "has no setting limt");
  refused("[decision_to_license]\nlimit = 11\n", "2", "from 1 to 10");
  refused("[accept_to_review]\nlimit = \"2\"\n", "2", "whole number");
  refused("[deadline_overdue]\nseverity = \"orange\"\n", "2", "severity");
  refused("[brief_reason]\nlimit = 0\n", "2", "from 1 to 200");
  refused("[accept_to_review\n", "1", "line 1");
  refused("[rankings]\nbottom_months = 13\n", "2", "from 1 to 12");
  refused("[rankings]\nlast = 1\n", "2", "rankings has no setting last");
  refused("[intermediaries]\nlow_level = 5\n", "2", "from 1 to 4");
  refused("\n[intermediaries]\nwindow = 30\n", "3", "intermediaries has no setting window");
  refused("intermediaries = 3\n", "1", "intermediaries must be a table");
}

TEST_CASE("the district's supervision.toml loads and states the defaults", "[hub][supervision]") {
  auto loaded = load_supervision(TONGBAN_SITE_CONFIG_DIR, 2);
  INFO(loaded.status().message_en());
  REQUIRE(loaded.ok());
  const SupervisionRules defaults = SupervisionRules::defaults(2);
  for (const auto& [name, zh] : rule_names()) {
    INFO(name);
    REQUIRE(loaded->rule(name));
    CHECK(loaded->rule(name)->severity == defaults.rule(name)->severity);
    CHECK(loaded->rule(name)->limit == defaults.rule(name)->limit);
  }
  CHECK(loaded->suspension_days == defaults.suspension_days);
  CHECK(loaded->refile_window_days == defaults.refile_window_days);
}

// The timer's next day is exactly the first day a new finding appears, for every kind of
// waiting case (checked day by day over four months).
TEST_CASE("next_due names the first day a rule would newly fire", "[hub][supervision]") {
  const SupervisionRules rules = SupervisionRules::defaults(2);
  const auto first_new = [&](const CaseState& s, Date today) -> std::optional<Date> {
    std::set<std::string> now;
    for (const Finding& f : evaluate(s, today, district(), rules, false)) now.insert(f.rule + f.occurrence);
    for (Date d = today + 1; d <= today + 120; d = d + 1)
      for (const Finding& f : evaluate(s, d, district(), rules, false))
        if (!now.count(f.rule + f.occurrence)) return d;
    return std::nullopt;
  };
  std::vector<std::pair<std::string, CaseState>> cases;
  CaseState waiting = accepted_case();
  cases.emplace_back("accepted", waiting);
  CaseState review = accepted_case();
  review.status = CaseStatus::kInReview;
  review.review_started_date = day(2026, 11, 3);
  cases.emplace_back("in review", review);
  CaseState resumed = review;
  resumed.pauses.push_back({"testing", day(2026, 11, 4), day(2026, 11, 10)});
  cases.emplace_back("resumed", resumed);
  CaseState paused = review;
  paused.status = CaseStatus::kSuspended;
  paused.pauses.push_back({"hearing", day(2026, 11, 4), std::nullopt});
  cases.emplace_back("suspended", paused);
  CaseState approved = review;
  approved.status = CaseStatus::kApproved;
  approved.decided_date = day(2026, 11, 4);
  cases.emplace_back("approved without license", approved);
  approved.license_issued_date = day(2026, 11, 5);
  approved.license_no = "L1";
  cases.emplace_back("licensed", approved);
  cases.emplace_back("badly rated", badly_rated());
  CaseState ordered = badly_rated();
  ordered.rating.reset();
  ordered.supervision_orders.push_back(order_due(day(2026, 11, 12)));
  cases.emplace_back("ordered to rectify", ordered);
  for (const auto& [name, s] : cases)
    for (Date today : {day(2026, 11, 2), day(2026, 11, 4), day(2026, 11, 9)}) {
      INFO(name << " as of " << format_date(today));
      const auto due = next_due(s, today, district(), rules);
      const auto expected = first_new(s, today);
      CHECK(due.has_value() == expected.has_value());
      if (due && expected) CHECK(format_date(*due) == format_date(*expected));
    }
  CaseState unanswered = accepted_case();
  unanswered.status = CaseStatus::kSubmitted;
  unanswered.accepted_date.reset();
  for (Date today : {day(2026, 11, 2), day(2026, 11, 6)}) {
    INFO("unanswered as of " << format_date(today));
    const auto due = next_due(unanswered, today, district(), rules);
    REQUIRE(due);
    CHECK(format_date(*due) == format_date(*first_new(unanswered, today)));
  }
  CaseState done = accepted_case();
  done.status = CaseStatus::kDelivered;
  CHECK(!next_due(done, day(2026, 11, 2), district(), rules));
}

TEST_CASE("each concluded case counts for on time and days used and 容缺 and one visit",
          "[hub][supervision][stats]") {
  // Rated 非常不满意 after a decision on the day of acceptance.
  CaseFacts f = facts_of(badly_rated(), district());
  CHECK(f.site == "S01");
  CHECK(f.department == "人力资源和社会保障局");
  CHECK(f.decided);
  CHECK(f.on_time);
  CHECK(f.used_working_days == 0);
  CHECK(f.promised_days == 3);
  REQUIRE(f.concluded);
  CHECK(format_date(*f.concluded) == "2026-11-02");
  CHECK(f.rating == 1);
  CHECK(f.one_visit);
  CHECK(f.nearest);
  CHECK(!f.active);

  // Suspended two working days (11-03, 11-04) and decided on Monday 11-09: 5 working days
  // after acceptance, 3 of them counted, inside the deadline the suspension moved.
  CaseState s = accepted_case();
  s.status = CaseStatus::kApproved;
  s.review_started_date = day(2026, 11, 2);
  s.pauses.push_back({"correction", day(2026, 11, 3), day(2026, 11, 5)});
  s.decided_date = day(2026, 11, 9);
  s.decided_by = "reviewer";
  f = facts_of(s, district());
  CHECK(f.used_working_days == 3);
  CHECK(f.on_time);
  CHECK(f.staff == "reviewer");
  s.pauses.clear();  // without it, two days late
  CHECK(!facts_of(s, district()).on_time);

  // 容缺 granted, 补正 asked, handed over to another site, still open and overdue.
  CaseState open = accepted_case();
  open.supply_deadline = day(2026, 11, 9);
  open.materials_requested = true;
  open.owner = "S02";
  f = facts_of(open, district());
  CHECK(f.tolerated);
  CHECK(!f.concluded);
  CHECK(!f.decided);
  CHECK(!f.one_visit);
  CHECK(!f.nearest);
  CHECK(f.active);
  REQUIRE(f.deadline);
  CHECK(format_date(*f.deadline) == "2026-11-05");
}
