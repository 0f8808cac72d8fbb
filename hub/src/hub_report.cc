// The monthly supervision report's figures (report.h): the month's statistics per site,
// the alerts raised in it by rule and severity, the ratings given in it and their 差评
// loops, gathered from the same tables the console's pages read.
#include <map>

#include "tongban/hub/hub_store.h"

namespace tongban::hub {

Result<MonthlyReport> HubStore::monthly_report(Date month) {
  MonthlyReport out;
  out.district = district_.name;
  out.month = first_of_month(month);
  out.generated_at = clock_.now();
  const Date last = last_of_month(out.month);
  auto stats = statistics(StatsQuery{out.month, last, "site", ""});
  if (!stats.ok()) return stats.status();
  const auto site_row = [](const StatsRow& r, std::string site, std::string name) {
    return MonthlyReport::SiteRow{std::move(site), std::move(name), r.received, r.concluded,
                                  r.decided, r.on_time, r.used_days, r.promised_days,
                                  r.open_overdue, r.nearest, r.one_visit};
  };
  std::map<std::string, const StatsRow*> by_site;
  for (const StatsRow& r : stats->rows) by_site[r.key] = &r;
  static const StatsRow kNone;
  for (const SiteConfig& site : district_.sites) {
    const auto found = by_site.find(site.id);
    out.sites.push_back(site_row(found == by_site.end() ? kNone : *found->second, site.id, site.name));
  }
  out.total = site_row(stats->total, "", "全区");

  std::lock_guard lock(mu_);
  {  // alerts raised in the month, and how many of them nobody has acted on
    auto stmt = db_->cached(
        "SELECT rule, severity, COUNT(*),"
        " SUM(NOT EXISTS (SELECT 1 FROM alert_actions WHERE alert_id = alerts.id))"
        " FROM alerts WHERE raised_ts >= ?1 AND raised_ts < ?2 GROUP BY rule, severity");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, start_of(out.month)).bind(2, start_of(last + 1));
    auto rows = collect_rows<MonthlyReport::AlertRow>(*stmt, [](const Stmt& r) {
      return MonthlyReport::AlertRow{r.text_at(0), "", r.text_at(1), r.int_at(2), r.int_at(3)};
    });
    if (!rows.ok()) return rows.status();
    for (const auto& [rule, name_zh] : rule_names())  // in the rules' order
      for (auto& row : *rows)
        if (row.rule == rule) {
          row.name_zh = name_zh;
          out.alerts.push_back(row);
        }
  }
  {  // ratings given in the month, by level
    auto stmt = db_->cached(
        "SELECT rating, COUNT(*) FROM case_stats WHERE rated BETWEEN ?1 AND ?2"
        " AND rating BETWEEN 1 AND 5 GROUP BY rating");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, int64_t{out.month.days}).bind(2, int64_t{last.days});
    for (;;) {
      auto more = stmt->step();
      if (!more.ok()) return more.status();
      if (!*more) break;
      out.rating_levels[stmt->int_at(0) - 1] = stmt->int_at(1);
    }
  }
  // The 差评 of the month and their closed loop (measure 14): callback within 1 working
  // day, rectification within 15, then 追评; each read from the case as it folds.
  auto bad = db_->cached(
      "SELECT case_id FROM case_stats WHERE rated BETWEEN ?1 AND ?2 AND rating BETWEEN 1 AND 2");
  if (!bad.ok()) return bad.status();
  bad->bind(1, int64_t{out.month.days}).bind(2, int64_t{last.days});
  auto ids = collect_rows<std::string>(*bad, [](const Stmt& r) { return r.text_at(0); });
  if (!ids.ok()) return ids.status();
  const WorkCalendar& cal = district_.calendar;
  const Date today = date_of(clock_.now());
  int64_t callback_days = 0, rectify_days = 0;
  MonthlyReport::Loop& loop = out.loop;
  for (const std::string& id : *ids) {
    auto s = case_state_locked(id);
    if (!s.ok()) return s.status();
    if (!s->rating || !s->rating->bad()) continue;
    const RatingState& r = *s->rating;
    ++loop.bad;
    if (r.callback_done) {
      ++loop.called_back;
      callback_days += cal.working_days_between(r.rated, *r.callback_done);
    }
    if (r.appealed) ++loop.appealed;
    if (r.excluded()) ++loop.upheld;
    if (r.rectified) {
      ++loop.rectified;
      rectify_days += cal.working_days_between(r.rated, *r.rectified);
    }
    if (r.follow_up_level > 0) ++loop.followed_up;
    const auto late = [&](const std::optional<Date>& done, const std::optional<Date>& due, bool owed) {
      return due && (done ? *done > *due : owed && today > *due);
    };
    loop.overdue += late(r.callback_done, r.callback_due, true) +
                    late(r.rectified, r.rectify_due, r.rectification_owed());
  }
  if (loop.called_back) loop.callback_days = double(callback_days) / loop.called_back;
  if (loop.rectified) loop.rectify_days = double(rectify_days) / loop.rectified;
  return out;
}

}  // namespace tongban::hub
