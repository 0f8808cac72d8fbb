#include "tongban/node/store.h"

#include "tongban/shared/crypto.h"

namespace tongban::node {

namespace {

const std::string kNodeSchema = R"sql(
  CREATE TABLE cases(
    case_id TEXT PRIMARY KEY, item_code TEXT NOT NULL, item_name TEXT NOT NULL,
    status TEXT NOT NULL, applicant_name TEXT NOT NULL, applicant_id TEXT NOT NULL,
    agent TEXT NOT NULL, updated_ts INTEGER NOT NULL,
    active INTEGER NOT NULL, paused INTEGER NOT NULL,
    deadline INTEGER, yellow_from INTEGER, sweep_date INTEGER,
    callback_due INTEGER, rectify_due INTEGER) WITHOUT ROWID;
  CREATE INDEX cases_by_applicant ON cases(applicant_id);
  CREATE INDEX cases_by_status ON cases(status);
  CREATE INDEX cases_by_agent ON cases(agent) WHERE agent <> '';
  CREATE INDEX cases_by_sweep ON cases(sweep_date) WHERE sweep_date IS NOT NULL;
  CREATE TABLE broken_commitments(applicant_id TEXT PRIMARY KEY, case_id TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE appointments(
    id TEXT PRIMARY KEY, item_code TEXT NOT NULL, date TEXT NOT NULL, slot TEXT NOT NULL,
    window INTEGER NOT NULL, extended INTEGER NOT NULL, applicant BLOB NOT NULL,
    applicant_id TEXT NOT NULL, agent TEXT NOT NULL, status TEXT NOT NULL, case_id TEXT NOT NULL) WITHOUT ROWID;
  CREATE INDEX appointments_by_date ON appointments(date, slot);
  CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE staff(
    username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_ts INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE sessions(
    token_hash BLOB PRIMARY KEY, username TEXT NOT NULL, expires_ts INTEGER NOT NULL) WITHOUT ROWID;
)sql";

const char* kProjectionTables[] = {"cases", "broken_commitments", "appointments"};

std::optional<int64_t> opt_date(const std::optional<Date>& d) {
  return d ? std::optional<int64_t>(d->days) : std::nullopt;
}

void bind_opt(Stmt& s, int i, std::optional<int64_t> v) {
  if (v)
    s.bind(i, *v);
  else
    s.bind_null(i);
}

template <typename T, typename F>
Result<std::vector<T>> collect(Stmt& s, F row) {
  std::vector<T> out;
  for (;;) {
    auto r = s.step();
    if (!r.ok()) return r.status();
    if (!*r) break;
    out.push_back(row(s));
  }
  return out;
}

// The clock colour from the indexed columns, as SQL would compute it in search().
std::string clock_from_row(bool active, bool paused, std::optional<Date> deadline,
                           std::optional<Date> yellow, Date today) {
  if (!active) return deadline ? "done" : "none";
  if (!deadline) return "none";
  if (paused) return "paused";
  if (today > *deadline) return "red";
  if (yellow && today >= *yellow) return "yellow";
  return "normal";
}

}  // namespace

Result<NodeStore> NodeStore::open(const std::filesystem::path& data_dir, const std::string& site_id,
                                  const SigningKey* key) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto db = Db::open(data_dir / kDbFile);
  if (!db.ok()) return db.status();
  auto owned = std::make_unique<Db>(std::move(*db));
  TB_RETURN_IF_ERROR(owned->migrate({sync::event_log_schema(), kNodeSchema}));
  auto log = sync::EventLog::open(*owned, site_id, key);
  if (!log.ok()) return log.status();
  return NodeStore(std::move(owned), std::move(*log));
}

Result<CaseState> NodeStore::load_case(const std::string& case_id) {
  auto events = log_.case_events(case_id);
  if (!events.ok()) return events.status();
  CaseState s;
  for (const sync::Event& e : *events) {
    pb::CaseEvent body;
    if (!body.ParseFromString(e.body))
      return Status::Corruption("event body does not parse: " + e.case_id);
    evolve(s, body, EventMeta{e.case_id, e.origin, e.ts});
  }
  return s;
}

Status NodeStore::upsert_case(const CaseState& s, const District& district) {
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
    if (!s.rating->rectified) rectify_due = opt_date(s.rating->rectify_due);
  }
  auto stmt = db_->cached(
      "INSERT INTO cases(case_id, item_code, item_name, status, applicant_name, applicant_id, "
      "agent, updated_ts,"
      " active, paused, deadline, yellow_from, sweep_date, callback_due, rectify_due)"
      " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"
      " ON CONFLICT(case_id) DO UPDATE SET item_code=excluded.item_code, "
      "item_name=excluded.item_name,"
      " status=excluded.status, applicant_name=excluded.applicant_name, "
      "applicant_id=excluded.applicant_id,"
      " agent=excluded.agent, updated_ts=excluded.updated_ts, active=excluded.active, "
      "paused=excluded.paused,"
      " deadline=excluded.deadline, yellow_from=excluded.yellow_from, "
      "sweep_date=excluded.sweep_date,"
      " callback_due=excluded.callback_due, rectify_due=excluded.rectify_due");
  if (!stmt.ok()) return stmt.status();
  Stmt& q = *stmt;
  q.bind(1, s.case_id)
      .bind(2, s.item_code)
      .bind(3, s.item_name)
      .bind(4, std::string(to_string(s.status)));
  q.bind(5, s.applicant.enterprise() ? s.applicant.org_name() : s.applicant.name());
  q.bind(6, s.applicant.enterprise() ? s.applicant.uscc() : s.applicant.id_number());
  q.bind(7, s.agent).bind(8, s.updated_at);
  q.bind(9, int64_t{is_active(s.status)}).bind(10, int64_t{s.paused()});
  bind_opt(q, 11, opt_date(clock.deadline));
  bind_opt(q, 12, opt_date(clock.yellow_from));
  bind_opt(q, 13, sweep);
  bind_opt(q, 14, callback_due);
  bind_opt(q, 15, rectify_due);
  return q.run();
}

Status NodeStore::project_appointment(const sync::Event& event, const pb::CaseEvent& body) {
  if (body.has_appointment_booked()) {
    const auto& b = body.appointment_booked();
    auto stmt = db_->cached(
        "INSERT INTO appointments(id, item_code, date, slot, window, extended, applicant, "
        "applicant_id, agent,"
        " status, case_id) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,'booked','')");
    if (!stmt.ok()) return stmt.status();
    const std::string applicant = b.applicant().SerializeAsString();
    stmt->bind(1, b.appointment_id()).bind(2, b.item_code()).bind(3, b.date()).bind(4, b.slot());
    stmt->bind(5, int64_t{b.window()}).bind(6, int64_t{b.extended_hours()});
    stmt->bind_blob(7, applicant.data(), applicant.size())
        .bind(8, b.applicant().id_number())
        .bind(9, b.agent());
    return stmt->run();
  }
  const std::string id = body.has_appointment_checked_in()
                             ? body.appointment_checked_in().appointment_id()
                             : body.appointment_cancelled().appointment_id();
  auto stmt = db_->cached("UPDATE appointments SET status=?2 WHERE id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, id).bind(
      2, std::string(body.has_appointment_checked_in() ? "checked_in" : "cancelled"));
  (void)event;
  return stmt->run();
}

Status NodeStore::project(const sync::Event& event, const pb::CaseEvent& body,
                          const CaseState& after, const District& district) {
  if (body.has_appointment_booked() || body.has_appointment_checked_in() ||
      body.has_appointment_cancelled())
    return project_appointment(event, body);
  TB_RETURN_IF_ERROR(upsert_case(after, district));
  if (!after.appointment_id.empty() && (body.has_prereview_started() || body.has_submitted())) {
    auto link = db_->cached("UPDATE appointments SET case_id=?2 WHERE id=?1");
    if (!link.ok()) return link.status();
    TB_RETURN_IF_ERROR(link->bind(1, after.appointment_id).bind(2, after.case_id).run());
  }
  if (body.has_terminated() && body.terminated().broke_commitment()) {
    auto stmt = db_->cached(
        "INSERT OR REPLACE INTO broken_commitments(applicant_id, case_id) VALUES(?1, ?2)");
    if (!stmt.ok()) return stmt.status();
    TB_RETURN_IF_ERROR(stmt->bind(1, after.applicant.id_number()).bind(2, after.case_id).run());
  }
  return Status::Ok();
}

Result<int64_t> NodeStore::next_number(const std::string& counter) {
  auto stmt = db_->cached(
      "INSERT INTO counters(name, value) VALUES(?1, 1) ON CONFLICT(name) DO UPDATE SET "
      "value=value+1 "
      "RETURNING value");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, counter);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  const int64_t v = stmt->int_at(0);
  TB_RETURN_IF_ERROR(stmt->run());
  return v;
}

Result<std::vector<CaseSummary>> NodeStore::search(const CaseQuery& q, Date today) {
  // Every filter is a bound parameter; an empty one matches everything.
  auto stmt = db_->cached(
      "SELECT case_id, item_code, item_name, status, applicant_name, applicant_id, agent, "
      "updated_ts, active,"
      " paused, deadline, yellow_from FROM cases WHERE"
      " (?1 = '' OR case_id >= ?1 AND case_id < ?1 || char(1114111))"
      " AND (?2 = '' OR applicant_id = ?2) AND (?3 = '' OR status = ?3) AND (?4 = '' OR item_code "
      "= ?4)"
      " AND (?5 = '' OR agent = ?5)"
      " AND (?6 = '' OR (?6 = 'red' AND active AND NOT paused AND deadline < ?7)"
      "  OR (?6 = 'yellow' AND active AND NOT paused AND deadline >= ?7 AND yellow_from <= ?7)"
      "  OR (?6 = 'normal' AND active AND NOT paused AND deadline >= ?7 AND yellow_from > ?7)"
      "  OR (?6 = 'paused' AND active AND paused)"
      "  OR (?6 = 'done' AND NOT active AND deadline IS NOT NULL))"
      " ORDER BY updated_ts DESC, case_id LIMIT ?8 OFFSET ?9");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, q.case_id_prefix).bind(2, q.applicant_id).bind(3, q.status).bind(4, q.item_code);
  stmt->bind(5, q.agent).bind(6, q.clock).bind(7, int64_t{today.days});
  stmt->bind(8, int64_t{q.limit}).bind(9, int64_t{q.offset});
  return collect<CaseSummary>(*stmt, [&](const Stmt& s) {
    CaseSummary c{s.text_at(0), s.text_at(1), s.text_at(2), s.text_at(3), s.text_at(4),
                  s.text_at(5), s.text_at(6), s.int_at(7),  std::nullopt, ""};
    std::optional<Date> yellow;
    if (!s.null_at(10)) c.deadline = Date{static_cast<int32_t>(s.int_at(10))};
    if (!s.null_at(11)) yellow = Date{static_cast<int32_t>(s.int_at(11))};
    c.clock = clock_from_row(s.int_at(8) != 0, s.int_at(9) != 0, c.deadline, yellow, today);
    return c;
  });
}

Result<std::vector<std::string>> NodeStore::cases_due_for_sweep(Date today) {
  auto stmt =
      db_->cached("SELECT case_id FROM cases WHERE sweep_date IS NOT NULL AND sweep_date < ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{today.days});
  return collect<std::string>(*stmt, [](const Stmt& s) { return s.text_at(0); });
}

Result<std::vector<CaseSummary>> NodeStore::open_rating_tasks() {
  auto stmt = db_->cached(
      "SELECT case_id, item_code, item_name, status, applicant_name, applicant_id, agent, "
      "updated_ts,"
      " coalesce(callback_due, rectify_due) FROM cases WHERE callback_due IS NOT NULL OR "
      "rectify_due IS NOT NULL"
      " ORDER BY coalesce(callback_due, rectify_due)");
  if (!stmt.ok()) return stmt.status();
  return collect<CaseSummary>(*stmt, [](const Stmt& s) {
    CaseSummary c{s.text_at(0), s.text_at(1), s.text_at(2),
                  s.text_at(3), s.text_at(4), s.text_at(5),
                  s.text_at(6), s.int_at(7),  Date{static_cast<int32_t>(s.int_at(8))},
                  "rating"};
    return c;
  });
}

Result<bool> NodeStore::broke_commitment(const std::string& applicant_id) {
  auto stmt = db_->cached("SELECT 1 FROM broken_commitments WHERE applicant_id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, applicant_id);
  return stmt->step();
}

namespace {
Appointment appointment_from_row(const Stmt& s) {
  Appointment a;
  a.id = s.text_at(0);
  a.item_code = s.text_at(1);
  a.date = s.text_at(2);
  a.slot = s.text_at(3);
  a.window = static_cast<int>(s.int_at(4));
  a.extended_hours = s.int_at(5) != 0;
  a.applicant.ParseFromString(s.blob_at(6));
  a.agent = s.text_at(7);
  a.status = s.text_at(8);
  a.case_id = s.text_at(9);
  return a;
}
constexpr const char* kAppointmentColumns =
    "SELECT id, item_code, date, slot, window, extended, applicant, agent, status, case_id FROM "
    "appointments";
}  // namespace

Result<std::optional<Appointment>> NodeStore::appointment(const std::string& id) {
  auto stmt = db_->cached(std::string(kAppointmentColumns) + " WHERE id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Appointment>();
  return std::optional<Appointment>(appointment_from_row(*stmt));
}

Result<std::vector<Appointment>> NodeStore::appointments_on(const std::string& date,
                                                            const std::string& agent) {
  auto stmt = db_->cached(std::string(kAppointmentColumns) +
                          " WHERE date=?1 AND (?2 = '' OR agent=?2) ORDER BY slot, window");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, date).bind(2, agent);
  return collect<Appointment>(*stmt, appointment_from_row);
}

Result<int> NodeStore::booked_count(const std::string& date, const std::string& slot) {
  auto stmt = db_->cached(
      "SELECT count(*) FROM appointments WHERE date=?1 AND slot=?2 AND status<>'cancelled'");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, date).bind(2, slot);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  return static_cast<int>(stmt->int_at(0));
}

Status NodeStore::rebuild_projections(const District& district) {
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  for (const char* table : kProjectionTables)
    TB_RETURN_IF_ERROR(db_->exec(std::string("DELETE FROM ") + table));
  std::map<std::string, CaseState> states;
  Status failure;
  TB_RETURN_IF_ERROR(log_.scan(1, [&](const sync::Event& e) {
    pb::CaseEvent body;
    if (!body.ParseFromString(e.body)) {
      failure = Status::Corruption("event body does not parse at seq " + std::to_string(e.seq));
      return false;
    }
    CaseState& s = states[e.case_id];
    evolve(s, body, EventMeta{e.case_id, e.origin, e.ts});
    failure = project(e, body, s, district);
    return failure.ok();
  }));
  TB_RETURN_IF_ERROR(failure);
  return tx.commit();
}

Result<std::string> NodeStore::projection_digest() {
  auto stmt = db_->cached(
      "SELECT case_id, status, applicant_id, agent, active, paused, coalesce(deadline, -1), "
      "coalesce(sweep_date, -1), coalesce(callback_due, -1), coalesce(rectify_due, -1) FROM cases "
      "ORDER BY case_id");
  if (!stmt.ok()) return stmt.status();
  Hasher h;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    for (int c = 0; c < 4; ++c) h.update_field(stmt->text_at(c));
    for (int c = 4; c < 10; ++c) h.update_u64(static_cast<uint64_t>(stmt->int_at(c)));
  }
  return to_hex(h.finish());
}

}  // namespace tongban::node
