#include "tongban/shared/case_index.h"

#include <algorithm>

#include "tongban/shared/crypto.h"
#include "tongban/shared/personal.h"

namespace tongban {

namespace {

std::optional<int64_t> opt_date(const std::optional<Date>& d) {
  return d ? std::optional<int64_t>(d->days) : std::nullopt;
}

// The clock colour from the indexed columns, as search() filters on them.
std::string clock_from_row(bool active, bool paused, std::optional<Date> deadline,
                           std::optional<Date> yellow, Date today) {
  if (!active) return deadline ? "done" : "none";
  if (!deadline) return "none";
  if (paused) return "paused";
  if (today > *deadline) return "red";
  if (yellow && today >= *yellow) return "yellow";
  return "normal";
}

std::optional<Date> date_at(const Stmt& s, int col) {
  if (s.null_at(col)) return std::nullopt;
  return Date{static_cast<int32_t>(s.int_at(col))};
}

}  // namespace

// The columns every summary query starts with (case_id .. updated_ts), and the deadline.
CaseSummary CaseIndex::summary_from_row(const Stmt& s, int deadline_col) const {
  CaseSummary c;
  c.case_id = s.text_at(0);
  c.origin = s.text_at(1);
  c.item_code = s.text_at(2);
  c.item_name = s.text_at(3);
  c.status = s.text_at(4);
  if (!s.blob_type_at(5)) {
    c.applicant_name = s.text_at(5);
  } else if (keys_) {
    auto name = keys_->open_row(s.blob_at(5), c.case_id);
    if (name.ok()) c.applicant_name = std::move(*name);
  }
  c.applicant_id = s.text_at(6);
  c.agent = s.text_at(7);
  c.updated_at = s.int_at(8);
  c.deadline = date_at(s, deadline_col);
  return c;
}

const std::string& CaseIndex::schema() {
  static const std::string kSql = R"sql(
    CREATE TABLE cases(
      case_id TEXT PRIMARY KEY, origin TEXT NOT NULL, item_code TEXT NOT NULL,
      item_name TEXT NOT NULL, status TEXT NOT NULL, applicant_name TEXT NOT NULL,
      applicant_id TEXT NOT NULL, agent TEXT NOT NULL, updated_ts INTEGER NOT NULL,
      active INTEGER NOT NULL, paused INTEGER NOT NULL,
      deadline INTEGER, yellow_from INTEGER, sweep_date INTEGER,
      callback_due INTEGER, rectify_due INTEGER) WITHOUT ROWID;
    CREATE INDEX cases_by_applicant ON cases(applicant_id);
    CREATE INDEX cases_by_status ON cases(status);
    CREATE INDEX cases_by_agent ON cases(agent) WHERE agent <> '';
    CREATE INDEX cases_by_sweep ON cases(sweep_date) WHERE sweep_date IS NOT NULL;
    CREATE TABLE broken_commitments(applicant_id TEXT PRIMARY KEY, case_id TEXT NOT NULL) WITHOUT ROWID;
  )sql";
  return kSql;
}

const std::string& CaseIndex::ownership_schema() {
  static const std::string kSql = R"sql(
    ALTER TABLE cases ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    ALTER TABLE cases ADD COLUMN transfer TEXT NOT NULL DEFAULT 'none';
    ALTER TABLE cases ADD COLUMN transfer_ts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cases ADD COLUMN conflict INTEGER NOT NULL DEFAULT 0;
    UPDATE cases SET owner = origin;
    CREATE INDEX cases_by_owner ON cases(owner) WHERE active;
    CREATE INDEX cases_by_transfer ON cases(transfer, transfer_ts) WHERE transfer <> 'none';
    CREATE INDEX cases_in_conflict ON cases(case_id) WHERE conflict <> 0;
  )sql";
  return kSql;
}

const std::string& CaseIndex::supervision_schema() {
  static const std::string kSql = R"sql(
    ALTER TABLE cases ADD COLUMN order_due INTEGER;
    CREATE INDEX cases_by_order_due ON cases(order_due) WHERE order_due IS NOT NULL;
  )sql";
  return kSql;
}

Status CaseIndex::upsert(const CaseState& s, const District& district) {
  const Date today = date_of(s.updated_at);
  const ClockView clock = clock_of(s, today, district.calendar, district.yellow_days);
  std::optional<int64_t> sweep;
  if (s.status == CaseStatus::kSubmitted)
    sweep = deemed_acceptance_date(s, district.calendar).days;
  else if (!s.tolerated.empty() && s.supply_deadline && is_active(s.status))
    sweep = s.supply_deadline->days;
  std::optional<int64_t> callback_due, rectify_due;
  if (s.rating && s.rating->bad()) {
    if (!s.rating->callback_done) callback_due = opt_date(s.rating->callback_due);
    if (s.rating->rectification_owed()) rectify_due = opt_date(s.rating->rectify_due);
  }
  std::optional<int64_t> order_due;  // the earliest unanswered rectification order's
  for (const SupervisionOrder& o : s.supervision_orders)
    if (o.open() && (!order_due || o.due.days < *order_due)) order_due = o.due.days;
  static const RowShape kRow(
      "cases", {"case_id", "origin", "item_code", "item_name", "status", "applicant_name",
                "applicant_id", "agent", "updated_ts", "active", "paused", "deadline",
                "yellow_from", "sweep_date", "callback_due", "rectify_due", "owner", "transfer",
                "transfer_ts", "conflict", "order_due"},
      {"applicant_id", "status", "agent", "sweep_date", "owner", "active", "transfer",
       "transfer_ts", "conflict", "order_due"});
  SqlValue name = SqlValue::text("");
  if (s.applicant.enterprise())
    name = SqlValue::text(s.applicant.org_name());
  else if (keys_ && !s.applicant.name().empty())
    name = SqlValue::blob(this->sealed_name(s.case_id, s.applicant.name()));
  const std::string applicant = applicant_key(s.applicant);
  // A bundle part no site was found for waits on the operators' queue like a whole case.
  const bool part_waiting =
      s.transfer == Transfer::kNone && is_active(s.status) &&
      std::any_of(s.parts.begin(), s.parts.end(), [](const CasePart& p) {
        return p.requested && p.site.empty() && p.decision.empty();
      });
  const auto as_text = [](std::string_view v) { return SqlValue::text(v); };
  auto written = write_row(
      db_, kRow,
      {as_text(s.case_id), as_text(s.origin), as_text(s.item_code), as_text(s.item_name),
       as_text(to_string(s.status)), name, as_text(applicant), as_text(s.agent),
       SqlValue::of(s.updated_at), SqlValue::of(int64_t{is_active(s.status)}),
       SqlValue::of(int64_t{s.paused()}), SqlValue::of(opt_date(clock.deadline)),
       SqlValue::of(opt_date(clock.yellow_from)), SqlValue::of(sweep),
       SqlValue::of(callback_due), SqlValue::of(rectify_due), as_text(s.owner),
       as_text(part_waiting ? "requested" : to_string(s.transfer)),
       SqlValue::of(s.transfer_since), SqlValue::of(int64_t{s.conflict_open}),
       SqlValue::of(order_due)});
  if (!written.ok()) return written.status();
  if (!s.broke_commitment) return Status::Ok();
  return record_broken_commitment(applicant_key(s.applicant), s.case_id);
}

Status CaseIndex::record_broken_commitment(const std::string& applicant_id,
                                           const std::string& case_id) {
  auto broken =
      db_.cached("INSERT OR REPLACE INTO broken_commitments(applicant_id, case_id) VALUES(?1, ?2)");
  if (!broken.ok()) return broken.status();
  return broken->bind(1, applicant_id).bind(2, case_id).run();
}

Result<std::vector<ClockCounts>> CaseIndex::clock_counts(Date today) {
  // The colours as search() and clock_from_row() define them; an active case with no
  // deadline yet (not accepted) counts as open only.
  auto stmt = db_.cached(
      "SELECT owner, count(*),"
      " sum(deadline IS NOT NULL AND NOT paused AND deadline >= ?1 AND yellow_from > ?1),"
      " sum(deadline IS NOT NULL AND NOT paused AND deadline >= ?1 AND yellow_from <= ?1),"
      " sum(deadline IS NOT NULL AND NOT paused AND deadline < ?1),"
      " sum(deadline IS NOT NULL AND paused)"
      " FROM cases WHERE active GROUP BY owner ORDER BY owner");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{today.days});
  return collect_rows<ClockCounts>(*stmt, [](const Stmt& s) {
    return ClockCounts{s.text_at(0), s.int_at(1), s.int_at(2), s.int_at(3), s.int_at(4),
                       s.int_at(5)};
  });
}

Result<std::vector<CaseSummary>> CaseIndex::search(const CaseQuery& q, Date today) {
  // Only the filters that are set go into the statement, each a fixed clause with bound
  // parameters (never text from the query), so SQLite can use the index of the one that
  // narrows (a resident's blind index among millions of cases: an index seek, not a scan).
  // Each combination of filters is prepared once per connection.
  std::string sql =
      "SELECT case_id, origin, item_code, item_name, status, applicant_name, applicant_id, agent,"
      " updated_ts, active, paused, deadline, yellow_from, owner, transfer, transfer_ts, conflict"
      " FROM cases WHERE 1";
  if (!q.case_id_prefix.empty()) sql += " AND case_id >= ?1 AND case_id < ?1 || char(1114111)";
  if (!q.applicant_id.empty()) sql += " AND applicant_id = ?2";
  if (!q.status.empty()) sql += " AND status = ?3";
  if (!q.item_code.empty()) sql += " AND item_code = ?4";
  if (!q.agent.empty()) sql += " AND agent = ?5";
  if (!q.origin.empty()) sql += " AND origin = ?10";
  if (!q.clock.empty())
    sql +=
        " AND ((?6 = 'red' AND active AND NOT paused AND deadline < ?7)"
        "  OR (?6 = 'yellow' AND active AND NOT paused AND deadline >= ?7 AND yellow_from <= ?7)"
        "  OR (?6 = 'normal' AND active AND NOT paused AND deadline >= ?7 AND yellow_from > ?7)"
        "  OR (?6 = 'paused' AND active AND paused)"
        "  OR (?6 = 'done' AND NOT active AND deadline IS NOT NULL))";
  if (!q.owner.empty()) sql += " AND owner = ?11";
  if (!q.transfer.empty()) sql += " AND transfer = ?12";
  if (q.conflict_only) sql += " AND conflict <> 0";
  if (q.transfer_before) sql += " AND transfer_ts < ?14";
  std::string items;  // ",A,B,": item codes hold no commas (catalog validation)
  if (q.item_codes) {
    items = ",";
    for (const std::string& c : *q.item_codes) items += c + ",";
    sql += " AND instr(?15, ',' || item_code || ',') > 0";
  }
  sql += " ORDER BY updated_ts DESC, case_id LIMIT ?8 OFFSET ?9";
  auto stmt = db_.cached(sql);
  if (!stmt.ok()) return stmt.status();
  // Parameters a clause does not use are bound all the same (SQLite allows it).
  stmt->bind(1, q.case_id_prefix).bind(2, q.applicant_id).bind(3, q.status).bind(4, q.item_code);
  stmt->bind(5, q.agent).bind(6, q.clock).bind(7, int64_t{today.days});
  stmt->bind(8, int64_t{q.limit}).bind(9, int64_t{q.offset}).bind(10, q.origin);
  stmt->bind(11, q.owner).bind(12, q.transfer).bind(13, int64_t{q.conflict_only});
  stmt->bind(14, q.transfer_before);
  stmt->bind(15, items);
  return collect_rows<CaseSummary>(*stmt, [&](const Stmt& s) {
    CaseSummary c = summary_from_row(s, 11);
    c.clock =
        clock_from_row(s.int_at(9) != 0, s.int_at(10) != 0, c.deadline, date_at(s, 12), today);
    c.owner = s.text_at(13);
    c.transfer = s.text_at(14);
    c.transfer_since = s.int_at(15);
    c.conflict = s.int_at(16) != 0;
    return c;
  });
}

Result<bool> CaseIndex::contains(const std::string& case_id) {
  auto stmt = db_.cached("SELECT 1 FROM cases WHERE case_id=?1");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, case_id).step();
}

Result<std::vector<std::string>> CaseIndex::due_for_sweep(Date today) {
  auto stmt =
      db_.cached("SELECT case_id FROM cases WHERE sweep_date IS NOT NULL AND sweep_date < ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{today.days});
  return collect_rows<std::string>(*stmt, [](const Stmt& s) { return s.text_at(0); });
}

Result<std::vector<CaseSummary>> CaseIndex::open_rating_tasks() {
  auto stmt = db_.cached(
      "SELECT case_id, origin, item_code, item_name, status, applicant_name, applicant_id, agent,"
      " updated_ts, coalesce(callback_due, rectify_due) FROM cases"
      " WHERE callback_due IS NOT NULL OR rectify_due IS NOT NULL"
      " ORDER BY coalesce(callback_due, rectify_due)");
  if (!stmt.ok()) return stmt.status();
  return collect_rows<CaseSummary>(*stmt, [this](const Stmt& s) {
    CaseSummary c = summary_from_row(s, 9);
    c.clock = "rating";
    return c;
  });
}

Result<std::vector<std::string>> CaseIndex::with_open_orders() {
  auto stmt = db_.cached("SELECT case_id FROM cases WHERE order_due IS NOT NULL ORDER BY order_due");
  if (!stmt.ok()) return stmt.status();
  return collect_rows<std::string>(*stmt, [](const Stmt& s) { return s.text_at(0); });
}

Result<std::vector<std::vector<CaseSummary>>> CaseIndex::open_duplicates(
    const std::string& case_id, int limit, Date today) {
  auto groups = db_.cached(
      "SELECT applicant_id, item_code FROM cases WHERE active AND applicant_id <> ''"
      " AND (?1 = '' OR (applicant_id, item_code) ="
      "  (SELECT applicant_id, item_code FROM cases WHERE case_id = ?1))"
      " GROUP BY applicant_id, item_code HAVING count(*) > 1 LIMIT ?2");
  if (!groups.ok()) return groups.status();
  groups->bind(1, case_id).bind(2, int64_t{limit});
  auto keys = collect_rows<std::pair<std::string, std::string>>(
      *groups, [](const Stmt& r) { return std::make_pair(r.text_at(0), r.text_at(1)); });
  if (!keys.ok()) return keys.status();
  std::vector<std::vector<CaseSummary>> out;
  for (const auto& [applicant, item] : *keys) {
    CaseQuery q;
    q.applicant_id = applicant;
    q.item_code = item;
    q.limit = 50;
    auto found = search(q, today);
    if (!found.ok()) return found.status();
    std::vector<CaseSummary> open;
    for (CaseSummary& c : *found)
      if (is_active(*case_status_from(c.status))) open.push_back(std::move(c));
    out.push_back(std::move(open));
  }
  return out;
}

Result<int64_t> CaseIndex::open_cases_of(const std::string& owner) {
  auto stmt = db_.cached("SELECT count(*) FROM cases WHERE owner=?1 AND active");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, owner);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  const int64_t n = stmt->int_at(0);
  stmt->reset();
  return n;
}

Result<bool> CaseIndex::broke_commitment(const std::string& applicant_id) {
  auto stmt = db_.cached("SELECT 1 FROM broken_commitments WHERE applicant_id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, applicant_id);
  return stmt->step();
}

Result<std::string> CaseIndex::broken_by(const std::string& applicant_id) {
  auto stmt = db_.cached("SELECT case_id FROM broken_commitments WHERE applicant_id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, applicant_id);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  return *row ? stmt->text_at(0) : std::string();
}

Result<std::string> CaseIndex::digest() {
  auto stmt = db_.cached(
      "SELECT case_id, origin, status, applicant_id, agent, owner, transfer, active, paused,"
      " coalesce(deadline, -1), coalesce(sweep_date, -1), coalesce(callback_due, -1),"
      " coalesce(rectify_due, -1), conflict FROM cases ORDER BY case_id");
  if (!stmt.ok()) return stmt.status();
  Hasher h;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    for (int c = 0; c < 7; ++c) h.update_field(stmt->text_at(c));
    for (int c = 7; c < 14; ++c) h.update_u64(static_cast<uint64_t>(stmt->int_at(c)));
  }
  return to_hex(h.finish());
}

const std::string& CaseIndex::sealed_name(const std::string& case_id, const std::string& name) {
  auto it = sealed_names_.find(case_id);
  if (it != sealed_names_.end() && it->second.first == name && keys_->row_current(it->second.second))
    return it->second.second;
  if (sealed_names_.size() >= 4096) sealed_names_.clear();
  auto& slot = sealed_names_[case_id];
  slot = {name, keys_->seal_row(name, case_id)};
  return slot.second;
}

Result<size_t> CaseIndex::reseal_names(size_t n) {
  if (!keys_) return size_t{0};
  return reseal_rows(db_, *keys_, "cases", "case_id", "applicant_name", n,
                     "typeof(applicant_name) = 'blob'");
}

Status CaseIndex::clear() {
  TB_RETURN_IF_ERROR(db_.exec("DELETE FROM cases"));
  return db_.exec("DELETE FROM broken_commitments");
}

}  // namespace tongban
