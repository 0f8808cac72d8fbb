// 电子监察's statistics at the hub: each case's facts (statistics.h) are written beside its
// index row whenever its state changes, and a period's figures per site, department, item
// or staff member are two grouped reads of `case_stats` (received in the period, with those
// of them still open past the deadline today; concluded in the period).
#include <map>

#include "tongban/hub/hub_store.h"
#include "tongban/hub/statistics.h"

namespace tongban::hub {

const std::string& HubStore::stats_schema() {
  static const std::string kSql = R"sql(
    CREATE TABLE case_stats(
      case_id TEXT PRIMARY KEY, site TEXT NOT NULL, origin TEXT NOT NULL,
      department TEXT NOT NULL, item_code TEXT NOT NULL, staff TEXT NOT NULL,
      received INTEGER, concluded INTEGER, decided INTEGER NOT NULL,
      on_time INTEGER NOT NULL, used_days INTEGER NOT NULL, promised INTEGER NOT NULL,
      legal INTEGER NOT NULL, deemed INTEGER NOT NULL, tolerated INTEGER NOT NULL,
      broke INTEGER NOT NULL, one_visit INTEGER NOT NULL, nearest INTEGER NOT NULL,
      active INTEGER NOT NULL, paused INTEGER NOT NULL, deadline INTEGER,
      rating INTEGER NOT NULL, rated INTEGER, served_by TEXT NOT NULL, rated_site TEXT NOT NULL,
      appeal INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX case_stats_received ON case_stats(received) WHERE received IS NOT NULL;
    CREATE INDEX case_stats_concluded ON case_stats(concluded) WHERE concluded IS NOT NULL;
    CREATE INDEX case_stats_rated ON case_stats(rated) WHERE rated IS NOT NULL;
    CREATE INDEX case_stats_appeals ON case_stats(appeal, rated) WHERE appeal > 0;
    -- Cases the hub held before the statistics existed are counted on the first start.
    INSERT INTO supervision_state(key, value)
      SELECT 'stats_backfill', 1 WHERE EXISTS (SELECT 1 FROM cases);
  )sql";
  return kSql;
}

Status HubStore::record_facts_locked(const CaseState& s) {
  return write_facts(*db_, facts_of(s, district_));
}

Status HubStore::write_facts(Db& db, const CaseFacts& f) {
  static const RowShape kRow(
      "case_stats",
      {"case_id", "site", "origin", "department", "item_code", "staff", "received", "concluded",
       "decided", "on_time", "used_days", "promised", "legal", "deemed", "tolerated", "broke",
       "one_visit", "nearest", "active", "paused", "deadline", "rating", "rated", "served_by",
       "rated_site", "appeal", "rated_window"},
      {"received", "concluded", "rated", "appeal"});
  const auto day = [](const std::optional<Date>& d) {
    return d ? SqlValue::of(int64_t{d->days}) : SqlValue::null();
  };
  const auto n = [](int64_t v) { return SqlValue::of(v); };
  // Most new states of a case leave its facts as they were: then nothing is written.
  return write_row(db, kRow,
                   {SqlValue::text(f.case_id), SqlValue::text(f.site), SqlValue::text(f.origin),
                    SqlValue::text(f.department), SqlValue::text(f.item_code),
                    SqlValue::text(f.staff), day(f.received), day(f.concluded), n(f.decided),
                    n(f.on_time), n(f.used_working_days), n(f.promised_days), n(f.legal_days),
                    n(f.deemed), n(f.tolerated), n(f.broke_commitment), n(f.one_visit),
                    n(f.nearest), n(f.active), n(f.paused), day(f.deadline), n(f.rating),
                    day(f.rated), SqlValue::text(f.served_by), SqlValue::text(f.rated_site),
                    n(f.appeal), SqlValue::text(f.rated_window)})
      .status();
}

Result<HubStore::Statistics> HubStore::statistics(const StatsQuery& q) {
  static const std::map<std::string, std::string> kColumn = {
      {"site", "site"}, {"department", "department"}, {"item", "item_code"}, {"staff", "staff"}};
  auto column = kColumn.find(q.by);
  if (column == kColumn.end())
    return Status::InvalidArgument("invalid_group", "by 应为 site/department/item/staff",
                                   "by must be site, department, item or staff");
  const std::string& key = column->second;
  std::lock_guard lock(mu_);
  std::map<std::string, StatsRow> rows;
  const auto row = [&](const std::string& k) -> StatsRow& {
    StatsRow& r = rows[k];
    r.key = k;
    return r;
  };
  {  // received in the period, and of those still open past the deadline today
    auto stmt = db_->prepare("SELECT " + key + ", COUNT(*),"
                             " SUM(active AND NOT paused AND deadline < ?4) FROM case_stats"
                             " WHERE received BETWEEN ?1 AND ?2 AND (?3 = '' OR site = ?3) GROUP BY 1");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, int64_t{q.from.days}).bind(2, int64_t{q.to.days}).bind(3, q.site);
    stmt->bind(4, int64_t{date_of(clock_.now()).days});
    for (;;) {
      auto more = stmt->step();
      if (!more.ok()) return more.status();
      if (!*more) break;
      StatsRow& r = row(stmt->text_at(0));
      r.received = stmt->int_at(1);
      r.open_overdue = stmt->int_at(2);
    }
  }
  {  // concluded in the period
    auto stmt = db_->prepare(
        "SELECT " + key + ", COUNT(*), SUM(decided), SUM(decided AND on_time),"
        " SUM(CASE WHEN decided THEN used_days END), SUM(CASE WHEN decided THEN promised END),"
        " SUM(CASE WHEN decided THEN legal END), SUM(deemed), SUM(tolerated),"
        " SUM(tolerated AND NOT broke), SUM(broke), SUM(one_visit), SUM(nearest),"
        " SUM(rating > 0), SUM(rating BETWEEN 1 AND 2), SUM(rating)"
        " FROM case_stats WHERE concluded BETWEEN ?1 AND ?2 AND (?3 = '' OR site = ?3) GROUP BY 1");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, int64_t{q.from.days}).bind(2, int64_t{q.to.days}).bind(3, q.site);
    for (;;) {
      auto more = stmt->step();
      if (!more.ok()) return more.status();
      if (!*more) break;
      StatsRow& r = row(stmt->text_at(0));
      r.concluded = stmt->int_at(1);
      r.decided = stmt->int_at(2);
      r.on_time = stmt->int_at(3);
      r.used_days = stmt->int_at(4);
      r.promised_days = stmt->int_at(5);
      r.legal_days = stmt->int_at(6);
      r.deemed = stmt->int_at(7);
      r.tolerated = stmt->int_at(8);
      r.tolerance_kept = stmt->int_at(9);
      r.tolerance_broken = stmt->int_at(10);
      r.one_visit = stmt->int_at(11);
      r.nearest = stmt->int_at(12);
      r.ratings = stmt->int_at(13);
      r.bad_ratings = stmt->int_at(14);
      r.rating_sum = stmt->int_at(15);
    }
  }
  Statistics out;
  out.total.key = "";
  for (auto& [k, r] : rows) {
    out.total += r;
    out.rows.push_back(std::move(r));
  }
  return out;
}

HubStore::StatsRow& HubStore::StatsRow::operator+=(const StatsRow& o) {
  received += o.received;
  concluded += o.concluded;
  decided += o.decided;
  on_time += o.on_time;
  used_days += o.used_days;
  promised_days += o.promised_days;
  legal_days += o.legal_days;
  open_overdue += o.open_overdue;
  deemed += o.deemed;
  tolerated += o.tolerated;
  tolerance_kept += o.tolerance_kept;
  tolerance_broken += o.tolerance_broken;
  one_visit += o.one_visit;
  nearest += o.nearest;
  ratings += o.ratings;
  bad_ratings += o.bad_ratings;
  rating_sum += o.rating_sum;
  return *this;
}

}  // namespace tongban::hub
