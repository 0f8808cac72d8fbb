// 好差评 at the hub (measure 14): the supervisor's 申诉复核 of a site's appeal against a
// 差评 (an event of the hub's log on the case, sent to the sites that hold it), and the
// monthly rankings by site, department, item or staff member over `case_stats`, with the
// units ranked last several months running flagged for 限期整改.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "tongban/hub/hub_store.h"
#include "tongban/shared/validation.h"

namespace tongban::hub {

Result<std::vector<CaseState>> HubStore::rating_appeals(bool pending, int limit) {
  std::lock_guard lock(mu_);
  // `appeal > 0` restates the partial index's condition, so SQLite reads only the appeals.
  auto stmt = db_->cached(
      pending ? "SELECT case_id FROM case_stats WHERE appeal > 0 AND appeal = 1 ORDER BY rated LIMIT ?1"
              : "SELECT case_id FROM case_stats WHERE appeal > 0 AND appeal > 1 ORDER BY rated DESC LIMIT ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{limit});
  auto ids = collect_rows<std::string>(*stmt, [](const Stmt& r) { return r.text_at(0); });
  if (!ids.ok()) return ids.status();
  std::vector<CaseState> out;
  for (const std::string& id : *ids) {
    auto s = case_state_locked(id);
    if (!s.ok()) return s.status();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<CaseState> HubStore::decide_appeal(const std::string& case_id, bool upheld,
                                          const std::string& reason, const std::string& by) {
  if (reason.empty())
    return Status::InvalidArgument("missing_field", "请填写复核意见", "reason is required");
  TB_RETURN_IF_ERROR(validate_text(reason, "复核意见", "reason", 500, true));
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto s = existing_case_locked(case_id);
  if (!s.ok()) return s.status();
  if (!s->rating || !s->rating->appeal_pending())
    return Status::Conflict("no_pending_appeal", "该案件没有待复核的差评申诉",
                            "the case has no appeal awaiting a decision");
  pb::CaseEvent e;
  auto* d = e.mutable_rating_appeal_decided();
  d->set_upheld(upheld);
  d->set_reason(reason);
  d->set_supervisor(by);
  const Date today = date_of(clock_.now());
  d->set_decided_date(today.days);
  if (!upheld && s->rating->rectify_due) {
    const WorkCalendar& cal = district_.calendar;
    const int left = std::max(1, cal.working_days_between(*s->rating->appealed, *s->rating->rectify_due));
    d->set_rectify_due_date(cal.add_working_days(today, left).days);
  }
  auto next = commit_hub_event_locked(*s, e, by, {s->origin, s->owner});
  if (!next.ok()) return next.status();
  TB_RETURN_IF_ERROR(tx.commit());
  streams_changed();
  spdlog::info("hub: appeal on case {}'s rating {} by {}", case_id,
               upheld ? "upheld" : "rejected", by);
  return case_state_locked(case_id);  // as the hub shows it: personal fields sealed
}

Result<std::vector<HubStore::RankingRow>> HubStore::rankings(const std::string& by, Date month) {
  static const std::map<std::string, std::string> kColumn = {{"site", "rated_site"},
                                                             {"department", "department"},
                                                             {"item", "item_code"},
                                                             {"staff", "served_by"},
                                                             {"window", "rated_window"}};
  auto column = kColumn.find(by);
  if (column == kColumn.end())
    return Status::InvalidArgument("invalid_group", "by 应为 site/window/department/item/staff",
                                   "by must be site, window, department, item or staff");
  int y = 0, m = 0, d = 0;
  ymd_from_date(month, y, m, d);
  const auto first_of = [](int year, int mon) {
    while (mon < 1) mon += 12, --year;
    while (mon > 12) mon -= 12, ++year;
    return date_from_ymd(year, mon, 1);
  };
  std::lock_guard lock(mu_);
  // One month's ranking: ratings (an upheld appeal's excepted) per key, best first.
  const auto ranked = [&](int back) -> Result<std::vector<RankingRow>> {
    const Date from = first_of(y, m - back), to = first_of(y, m - back + 1) + -1;
    auto stmt = db_->prepare("SELECT " + column->second +
                             ", COUNT(*), SUM(rating), SUM(rating >= 4), SUM(rating <= 2)"
                             " FROM case_stats WHERE rated BETWEEN ?1 AND ?2 AND rating > 0"
                             " AND appeal <> 2"
                             // A rating with no key (a ticket that named no window) ranks nobody.
                             " AND " + column->second + " <> ''"
                             " GROUP BY 1");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, int64_t{from.days}).bind(2, int64_t{to.days});
    auto rows = collect_rows<RankingRow>(*stmt, [](const Stmt& r) {
      RankingRow row;
      row.key = r.text_at(0);
      row.ratings = r.int_at(1);
      row.rating_sum = r.int_at(2);
      row.satisfied = r.int_at(3);
      row.bad = r.int_at(4);
      return row;
    });
    if (!rows.ok()) return rows.status();
    std::sort(rows->begin(), rows->end(), [&](const RankingRow& a, const RankingRow& b) {
      const bool ra = a.ratings >= rules_.ranking_min_ratings, rb = b.ratings >= rules_.ranking_min_ratings;
      if (ra != rb) return ra;  // the ranked first, the rest after in key order
      if (ra && a.rating_sum * b.ratings != b.rating_sum * a.ratings)
        return a.rating_sum * b.ratings > b.rating_sum * a.ratings;
      if (ra && a.bad * b.ratings != b.bad * a.ratings) return a.bad * b.ratings < b.bad * a.ratings;
      return a.key < b.key;
    });
    // Equal means and 差评 rates share a rank (1, 1, 3): the last place may be shared too.
    int place = 0;
    const RankingRow* prev = nullptr;
    for (RankingRow& r : *rows) {
      if (r.ratings < rules_.ranking_min_ratings) continue;
      ++place;
      const bool tie = prev && r.rating_sum * prev->ratings == prev->rating_sum * r.ratings &&
                       r.bad * prev->ratings == prev->bad * r.ratings;
      r.rank = tie ? prev->rank : place;
      prev = &r;
    }
    return rows;
  };
  auto now = ranked(0);
  if (!now.ok()) return now.status();
  // Last of the ranked (with more than one ranked) this month and each month before, back to
  // `bottom_months`: flagged for 限期整改.
  std::map<std::string, int> bottom_run;
  for (int back = 0; back < rules_.ranking_bottom_months; ++back) {
    auto month_rows = back == 0 ? now : ranked(back);
    if (!month_rows.ok()) return month_rows.status();
    int last = 0;
    for (const RankingRow& r : *month_rows) last = std::max(last, r.rank);
    if (last < 2) break;
    bool any = false;
    for (const RankingRow& r : *month_rows)
      if (r.rank == last && bottom_run[r.key] == back) {
        bottom_run[r.key] = back + 1;
        any = true;
      }
    if (!any) break;
  }
  for (RankingRow& r : *now) {
    r.bottom_months = bottom_run.count(r.key) ? bottom_run[r.key] : 0;
    r.flagged = r.bottom_months >= rules_.ranking_bottom_months;
  }
  return now;
}

}  // namespace tongban::hub
