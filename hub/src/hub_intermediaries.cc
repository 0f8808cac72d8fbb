// 中介超市 (measure 12) at the hub: a registry of intermediaries (统一社会信用代码 checked,
// qualifications with expiry, the services each offers against the catalog's items), and
// projects whose owner chooses one by direct selection (直接选取), a random draw (随机抽取:
// the seed and the candidates recorded, so anyone can recompute it) or the lowest quote
// (竞价选取); a service contract with a deadline, completion and the owner's rating after
// service. 优胜劣汰: an intermediary whose qualification expired, or rated low repeatedly,
// is suspended from selection automatically. Every act is a row of intermediary_log
// (immutable: who, when, what).
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "tongban/hub/hub_store.h"
#include "tongban/shared/validation.h"

namespace tongban::hub {

namespace {

Status no_intermediary() {
  return Status::NotFound("intermediary_not_found", "中介机构不存在", "no such intermediary");
}

Status no_project() {
  return Status::NotFound("project_not_found", "中介服务项目不存在", "no such project");
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace

const std::string& HubStore::market_schema() {
  static const std::string kSql = R"sql(
    CREATE TABLE intermediaries(
      code TEXT PRIMARY KEY, name TEXT NOT NULL, contact TEXT NOT NULL,
      registered_by TEXT NOT NULL, registered_ts INTEGER NOT NULL,
      suspended_kind TEXT NOT NULL DEFAULT '', suspended_reason TEXT NOT NULL DEFAULT '',
      suspended_ts INTEGER) WITHOUT ROWID;
    CREATE TABLE intermediary_qualifications(
      code TEXT NOT NULL REFERENCES intermediaries(code), name TEXT NOT NULL,
      number TEXT NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY(code, name)) WITHOUT ROWID;
    CREATE TABLE intermediary_services(
      code TEXT NOT NULL REFERENCES intermediaries(code), item_code TEXT NOT NULL,
      service TEXT NOT NULL, PRIMARY KEY(code, item_code)) WITHOUT ROWID;
    CREATE INDEX intermediary_services_by_item ON intermediary_services(item_code, code);
    CREATE TABLE intermediary_projects(
      id INTEGER PRIMARY KEY, owner TEXT NOT NULL, owner_code TEXT NOT NULL,
      item_code TEXT NOT NULL, title TEXT NOT NULL, method TEXT NOT NULL, state TEXT NOT NULL,
      created_by TEXT NOT NULL, created_ts INTEGER NOT NULL,
      seed TEXT NOT NULL DEFAULT '', candidates TEXT NOT NULL DEFAULT '',
      chosen TEXT NOT NULL DEFAULT '', chosen_by TEXT NOT NULL DEFAULT '',
      chosen_why TEXT NOT NULL DEFAULT '', chosen_ts INTEGER,
      amount_fen INTEGER NOT NULL DEFAULT 0, due INTEGER, completed_ts INTEGER,
      rating INTEGER NOT NULL DEFAULT 0, rating_note TEXT NOT NULL DEFAULT '', rated_ts INTEGER);
    CREATE INDEX intermediary_projects_by_chosen ON intermediary_projects(chosen, rated_ts);
    CREATE TABLE intermediary_quotes(
      project_id INTEGER NOT NULL REFERENCES intermediary_projects(id),
      code TEXT NOT NULL REFERENCES intermediaries(code), amount_fen INTEGER NOT NULL,
      ts INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(project_id, code)) WITHOUT ROWID;
    CREATE TABLE intermediary_log(
      id INTEGER PRIMARY KEY, code TEXT NOT NULL, project_id INTEGER NOT NULL,
      what TEXT NOT NULL, username TEXT NOT NULL, note TEXT NOT NULL, ts INTEGER NOT NULL);
    CREATE INDEX intermediary_log_by_code ON intermediary_log(code, id);
    CREATE TRIGGER intermediary_log_kept BEFORE DELETE ON intermediary_log
      BEGIN SELECT RAISE(ABORT, 'the log is kept'); END;
    CREATE TRIGGER intermediary_log_immutable BEFORE UPDATE ON intermediary_log
      BEGIN SELECT RAISE(ABORT, 'the log is immutable'); END;
  )sql";
  return kSql;
}

bool HubStore::eligible(const Intermediary& i, const std::string& item_code, Date today) {
  if (!i.suspended_kind.empty() || i.qualifications.empty()) return false;
  for (const auto& q : i.qualifications)
    if (q.expires < today) return false;
  return std::any_of(i.services.begin(), i.services.end(),
                     [&](const auto& s) { return s.first == item_code; });
}

size_t HubStore::draw_index(const std::string& seed, size_t n) {
  if (n == 0) return 0;
  uint8_t hash[32];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const uint8_t*>(seed.data()), seed.size(),
                     nullptr, 0);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | hash[i];
  return static_cast<size_t>(v % n);
}

Status HubStore::market_log_locked(const std::string& code, int64_t project, const std::string& what,
                                   const std::string& by, const std::string& note) {
  auto insert = db_->cached(
      "INSERT INTO intermediary_log(code, project_id, what, username, note, ts)"
      " VALUES(?1,?2,?3,?4,?5,?6)");
  if (!insert.ok()) return insert.status();
  insert->bind(1, code).bind(2, project).bind(3, what).bind(4, by).bind(5, note).bind(6, clock_.now());
  return insert->run();
}

Status HubStore::review_standing_locked(const std::string& code, const std::string& by) {
  auto found = intermediary_locked(code);
  if (!found.ok()) return found.status();
  const Intermediary& i = *found;
  if (i.suspended_kind == "supervisor" || i.suspended_kind == "low_ratings")
    return Status::Ok();  // only a supervisor lifts these
  const Date today = date_of(clock_.now());
  std::string kind, reason;
  for (const Qualification& q : i.qualifications)
    if (q.expires < today) {
      kind = "qualification_expired";
      reason = "资质“" + q.name + "”已于 " + format_date(q.expires) + " 过期 / a qualification expired";
      break;
    }
  if (kind.empty() && i.low_ratings >= rules_.intermediary_low_count) {
    kind = "low_ratings";
    reason = std::to_string(rules_.intermediary_window_days) + " 日内差评 " + std::to_string(i.low_ratings) +
             " 次 / rated low " + std::to_string(i.low_ratings) + " times";
  }
  if (kind == i.suspended_kind) return Status::Ok();
  auto stmt = db_->cached(
      "UPDATE intermediaries SET suspended_kind=?2, suspended_reason=?3, suspended_ts=?4 WHERE code=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, code).bind(2, kind).bind(3, reason);
  if (kind.empty()) stmt->bind_null(4); else stmt->bind(4, clock_.now());
  TB_RETURN_IF_ERROR(stmt->run());
  const std::string note = kind.empty() ? "资质已更新 / qualifications renewed" : reason;
  TB_RETURN_IF_ERROR(market_log_locked(code, 0, kind.empty() ? "reinstated" : "suspended",
                                       kind.empty() ? by : "system", note));
  spdlog::info("intermediary {} {}", code, kind.empty() ? "reinstated: renewed" : "suspended: " + kind);
  return Status::Ok();
}

Result<HubStore::Intermediary> HubStore::save_intermediary(const Intermediary& in,
                                                           const std::string& by, bool update) {
  TB_RETURN_IF_ERROR(validate_uscc(in.code));
  if (!update) TB_RETURN_IF_ERROR(validate_required_text(in.name, "机构名称", "name", 200));
  TB_RETURN_IF_ERROR(validate_text(in.contact, "联系方式", "contact", 200));
  if (in.qualifications.empty() || in.qualifications.size() > 20)
    return Status::InvalidArgument("invalid_qualification", "请填写 1 至 20 项资质",
                                   "1 to 20 qualifications are required");
  if (in.services.empty() || in.services.size() > 200)
    return Status::InvalidArgument("invalid_service", "请填写 1 至 200 项服务事项",
                                   "1 to 200 services are required");
  for (const auto& q : in.qualifications) {
    TB_RETURN_IF_ERROR(validate_required_text(q.name, "资质名称", "qualification name", 200));
    TB_RETURN_IF_ERROR(validate_required_text(q.number, "资质证书编号", "qualification number", 64));
  }
  for (const auto& [item, service] : in.services) {
    if (!district_.catalog.find(item))
      return Status::InvalidArgument("unknown_item", "事项目录中没有该事项：" + item, "no such item");
    TB_RETURN_IF_ERROR(validate_required_text(service, "服务内容", "service", 500));
  }
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto existing = intermediaries_locked(in.code);  // the code is valid: never ""
  if (!existing.ok()) return existing.status();
  std::string what = "registered";
  if (update) {
    if (existing->empty()) return no_intermediary();
    auto stmt = db_->cached("UPDATE intermediaries SET contact=?2 WHERE code=?1");
    if (!stmt.ok()) return stmt.status();
    TB_RETURN_IF_ERROR(stmt->bind(1, in.code).bind(2, in.contact).run());
    for (const char* sql : {"DELETE FROM intermediary_qualifications WHERE code=?1",
                            "DELETE FROM intermediary_services WHERE code=?1"}) {
      auto del = db_->cached(sql);
      if (!del.ok()) return del.status();
      TB_RETURN_IF_ERROR(del->bind(1, in.code).run());
    }
    what = "updated";
    } else {
    if (!existing->empty())
      return Status::Conflict("intermediary_exists", "该统一社会信用代码已入驻中介超市",
                              "an intermediary with this code is registered");
    auto stmt = db_->cached(
        "INSERT INTO intermediaries(code, name, contact, registered_by, registered_ts)"
        " VALUES(?1,?2,?3,?4,?5)");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, in.code).bind(2, in.name).bind(3, in.contact).bind(4, by).bind(5, clock_.now());
    TB_RETURN_IF_ERROR(stmt->run());
  }
  auto qual = db_->cached(
      "INSERT OR REPLACE INTO intermediary_qualifications(code, name, number, expires)"
      " VALUES(?1,?2,?3,?4)");
  if (!qual.ok()) return qual.status();
  for (const auto& q : in.qualifications)
    TB_RETURN_IF_ERROR(
        qual->bind(1, in.code).bind(2, q.name).bind(3, q.number).bind(4, int64_t{q.expires.days}).run());
  auto service = db_->cached(
      "INSERT OR REPLACE INTO intermediary_services(code, item_code, service) VALUES(?1,?2,?3)");
  if (!service.ok()) return service.status();
  for (const auto& [item, text] : in.services)
    TB_RETURN_IF_ERROR(service->bind(1, in.code).bind(2, item).bind(3, text).run());
  TB_RETURN_IF_ERROR(market_log_locked(in.code, 0, what, by, ""));
  // A qualification already past its day suspends at once; a renewal lifts that.
  TB_RETURN_IF_ERROR(review_standing_locked(in.code, by));
  TB_RETURN_IF_ERROR(tx.commit());
  spdlog::info("intermediary {} {} by {}", in.code, what, by);
  return intermediary_locked(in.code);
}

Result<std::vector<HubStore::Intermediary>> HubStore::intermediaries_locked(const std::string& code) {
  const Date today = date_of(clock_.now());
  auto stmt = db_->cached(
      "SELECT code, name, contact, registered_ts, registered_by, suspended_kind,"
      " suspended_reason, suspended_ts, counted_from FROM intermediaries WHERE (?1 = '' OR code = ?1)"
      " ORDER BY code");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, code);
  auto rows = collect_rows<Intermediary>(*stmt, [](const Stmt& r) {
    Intermediary i;
    i.code = r.text_at(0);
    i.name = r.text_at(1);
    i.contact = r.text_at(2);
    i.registered_at = r.int_at(3);
    i.registered_by = r.text_at(4);
    i.suspended_kind = r.text_at(5);
    i.suspended_reason = r.text_at(6);
    i.suspended_at = r.null_at(7) ? 0 : r.int_at(7);
    i.counted_from = r.int_at(8);
    return i;
  });
  if (!rows.ok()) return rows.status();
  auto quals = db_->cached(
      "SELECT name, number, expires FROM intermediary_qualifications WHERE code=?1 ORDER BY name");
  auto services = db_->cached(
      "SELECT item_code, service FROM intermediary_services WHERE code=?1 ORDER BY item_code");
  // Ratings given after service; the low ones within the window (and since the last
  // reinstatement: a supervisor's decision starts the count again) toward suspension.
  auto ratings = db_->cached(
      "SELECT count(*), coalesce(sum(rating), 0),"
      " coalesce(sum(rating <= ?2 AND rated_ts >= ?3), 0)"
      " FROM intermediary_projects WHERE chosen=?1 AND rated_ts IS NOT NULL");
  for (auto* s : {&quals, &services, &ratings})
    if (!s->ok()) return s->status();
  const Timestamp window = start_of(today + -rules_.intermediary_window_days);
  for (Intermediary& i : *rows) {
    quals->bind(1, i.code);
    auto q = collect_rows<Qualification>(*quals, [](const Stmt& r) {
      return Qualification{r.text_at(0), r.text_at(1), Date{static_cast<int32_t>(r.int_at(2))}};
    });
    quals->reset();
    if (!q.ok()) return q.status();
    i.qualifications = std::move(*q);
    services->bind(1, i.code);
    auto s = collect_rows<std::pair<std::string, std::string>>(*services, [](const Stmt& r) {
      return std::pair{r.text_at(0), r.text_at(1)};
    });
    services->reset();
    if (!s.ok()) return s.status();
    i.services = std::move(*s);
    ratings->bind(1, i.code).bind(2, int64_t{rules_.intermediary_low_level});
    ratings->bind(3, std::max(window, i.counted_from + 1));
    auto row = ratings->step();
    if (!row.ok()) return row.status();
    i.ratings = ratings->int_at(0);
    i.rating_sum = ratings->int_at(1);
    i.low_ratings = ratings->int_at(2);
    ratings->reset();
  }
  return rows;
}

Result<std::map<std::string, std::string>> HubStore::intermediary_names() {
  std::lock_guard lock(mu_);
  auto s = db_->cached("SELECT code, name FROM intermediaries");
  if (!s.ok()) return s.status();
  std::map<std::string, std::string> names;
  for (;;) {
    auto row = s->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    names[s->text_at(0)] = s->text_at(1);
  }
  return names;
}

Result<std::vector<HubStore::Intermediary>> HubStore::intermediaries(const std::string& item_code,
                                                                     bool only_eligible) {
  std::lock_guard lock(mu_);
  auto all = intermediaries_locked("");
  if (!all.ok()) return all.status();
  const Date today = date_of(clock_.now());
  std::erase_if(*all, [&](const Intermediary& i) {
    if (item_code.empty()) return false;
    if (only_eligible) return !eligible(i, item_code, today);
    return std::none_of(i.services.begin(), i.services.end(),
                        [&](const auto& s) { return s.first == item_code; });
  });
  return all;
}

Result<HubStore::Intermediary> HubStore::intermediary_locked(const std::string& code) {
  if (code.empty()) return no_intermediary();  // "" would mean every one to the list query
  auto found = intermediaries_locked(code);
  if (!found.ok()) return found.status();
  if (found->empty()) return no_intermediary();
  return std::move(found->front());
}

Result<HubStore::Intermediary> HubStore::intermediary(const std::string& code) {
  std::lock_guard lock(mu_);
  return intermediary_locked(code);
}

Result<HubStore::Intermediary> HubStore::set_suspension(const std::string& code, bool suspend,
                                                        const std::string& reason,
                                                        const std::string& by) {
  TB_RETURN_IF_ERROR(validate_required_text(reason, suspend ? "暂停理由" : "恢复理由", "reason", 1000, true));
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto found = intermediary_locked(code);
  if (!found.ok()) return found.status();
  const Intermediary& i = *found;
  if (suspend == !i.suspended_kind.empty())
    return Status::Conflict("invalid_transition", suspend ? "该中介机构已暂停选取" : "该中介机构未被暂停",
                            suspend ? "already suspended" : "not suspended");
  if (!suspend) {
    const Date today = date_of(clock_.now());
    for (const auto& q : i.qualifications)
      if (q.expires < today)
        return Status::Conflict("qualification_expired", "资质“" + q.name + "”已过期，请先更新资质",
                                "a qualification has expired: renew it first");
  }
  // Reinstated: the low ratings are counted again from now.
  auto stmt = db_->cached(
      "UPDATE intermediaries SET suspended_kind=?2, suspended_reason=?3, suspended_ts=?4,"
      " counted_from=CASE WHEN ?2 = '' THEN ?5 ELSE counted_from END WHERE code=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, code).bind(2, suspend ? "supervisor" : "").bind(3, suspend ? reason : "");
  if (suspend) stmt->bind(4, clock_.now()); else stmt->bind_null(4);
  stmt->bind(5, clock_.now());
  TB_RETURN_IF_ERROR(stmt->run());
  TB_RETURN_IF_ERROR(market_log_locked(code, 0, suspend ? "suspended" : "reinstated", by, reason));
  TB_RETURN_IF_ERROR(tx.commit());
  spdlog::info("intermediary {} {} by {}", code, suspend ? "suspended" : "reinstated", by);
  return intermediary_locked(code);
}

Result<int> HubStore::suspend_expired() {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto stmt = db_->cached(
      "SELECT DISTINCT i.code FROM intermediaries i JOIN intermediary_qualifications q"
      " ON q.code = i.code WHERE i.suspended_kind = '' AND q.expires < ?1 ORDER BY i.code");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{date_of(clock_.now()).days});
  auto expired = collect_rows<std::string>(*stmt, [](const Stmt& r) { return r.text_at(0); });
  if (!expired.ok()) return expired.status();
  for (const std::string& code : *expired) TB_RETURN_IF_ERROR(review_standing_locked(code, "system"));
  TB_RETURN_IF_ERROR(tx.commit());
  return static_cast<int>(expired->size());
}

Result<HubStore::Project> HubStore::create_project(const NewProject& in, const std::string& by) {
  TB_RETURN_IF_ERROR(validate_required_text(in.owner, "项目业主", "owner", 200));
  if (!in.owner_code.empty()) TB_RETURN_IF_ERROR(validate_uscc(in.owner_code));
  TB_RETURN_IF_ERROR(validate_required_text(in.title, "项目名称", "title", 200));
  if (!district_.catalog.find(in.item_code))
    return Status::InvalidArgument("unknown_item", "事项目录中没有该事项：" + in.item_code, "no such item");
  if (in.method != "direct" && in.method != "random" && in.method != "lowest_quote")
    return Status::InvalidArgument("invalid_method", "选取方式应为 direct（直接选取）、random（随机抽取）或 lowest_quote（竞价选取）",
                                   "method must be direct, random or lowest_quote");
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto insert = db_->cached(
      "INSERT INTO intermediary_projects(owner, owner_code, item_code, title, method, state,"
      " created_by, created_ts) VALUES(?1,?2,?3,?4,?5,'open',?6,?7)");
  if (!insert.ok()) return insert.status();
  insert->bind(1, in.owner).bind(2, in.owner_code).bind(3, in.item_code).bind(4, in.title);
  insert->bind(5, in.method).bind(6, by).bind(7, clock_.now());
  TB_RETURN_IF_ERROR(insert->run());
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  TB_RETURN_IF_ERROR(market_log_locked("", id, "project_created", by, in.method));
  TB_RETURN_IF_ERROR(tx.commit());
  return project_locked(id);
}

Result<std::vector<HubStore::Project>> HubStore::projects_locked(int64_t id, const std::string& state,
                                                                 const std::string& code) {
  auto stmt = db_->cached(
      "SELECT id, owner, owner_code, item_code, title, method, state, created_ts, created_by,"
      " seed, candidates, chosen, chosen_by, chosen_why, chosen_ts, amount_fen, due,"
      " completed_ts, rating, rating_note, rated_ts FROM intermediary_projects"
      " WHERE (?1 = 0 OR id = ?1) AND (?2 = '' OR state = ?2) AND (?3 = '' OR chosen = ?3)"
      " ORDER BY id DESC LIMIT 1000");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, id).bind(2, state).bind(3, code);
  auto rows = collect_rows<Project>(*stmt, [](const Stmt& r) {
    Project p;
    p.id = r.int_at(0);
    p.owner = r.text_at(1);
    p.owner_code = r.text_at(2);
    p.item_code = r.text_at(3);
    p.title = r.text_at(4);
    p.method = r.text_at(5);
    p.state = r.text_at(6);
    p.created_at = r.int_at(7);
    p.created_by = r.text_at(8);
    p.seed = r.text_at(9);
    p.candidates = split(r.text_at(10));
    p.chosen = r.text_at(11);
    p.chosen_by = r.text_at(12);
    p.chosen_why = r.text_at(13);
    p.chosen_at = r.null_at(14) ? 0 : r.int_at(14);
    p.amount_fen = r.int_at(15);
    if (!r.null_at(16)) p.due = Date{static_cast<int32_t>(r.int_at(16))};
    p.completed_at = r.null_at(17) ? 0 : r.int_at(17);
    p.rating = static_cast<int>(r.int_at(18));
    p.rating_note = r.text_at(19);
    p.rated_at = r.null_at(20) ? 0 : r.int_at(20);
    return p;
  });
  if (!rows.ok()) return rows.status();
  auto quotes = db_->cached(
      "SELECT code, amount_fen, ts FROM intermediary_quotes WHERE project_id=?1"
      " ORDER BY amount_fen, seq");
  if (!quotes.ok()) return quotes.status();
  for (Project& p : *rows) {
    if (p.method != "lowest_quote") continue;
    quotes->bind(1, p.id);
    auto q = collect_rows<Quote>(*quotes, [](const Stmt& r) {
      return Quote{r.text_at(0), r.int_at(1), r.int_at(2)};
    });
    quotes->reset();
    if (!q.ok()) return q.status();
    p.quotes = std::move(*q);
  }
  return rows;
}

Result<HubStore::Project> HubStore::project_locked(int64_t id) {
  if (id <= 0) return no_project();  // 0 would mean "any" to the list query
  auto found = projects_locked(id, "", "");
  if (!found.ok()) return found.status();
  if (found->empty()) return no_project();
  return std::move(found->front());
}

Result<std::vector<HubStore::Project>> HubStore::projects(const std::string& state,
                                                          const std::string& code) {
  std::lock_guard lock(mu_);
  return projects_locked(0, state, code);
}

Result<HubStore::Project> HubStore::project(int64_t id) {
  std::lock_guard lock(mu_);
  return project_locked(id);
}

Result<HubStore::Project> HubStore::act_on_project(int64_t id, const ProjectAct& act) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto p = project_locked(id);
  if (!p.ok()) return p.status();
  const Date today = date_of(clock_.now());
  const auto wrong_state = [&](const char* zh) {
    return Status::Conflict("invalid_transition", std::string("该项目当前不能") + zh,
                            "the project is " + p->state + ": not now");
  };
  // The intermediary `code` as it stands, eligible for this project's item today.
  const auto eligible_one = [&](const std::string& code) -> Result<Intermediary> {
    auto found = intermediary_locked(code);
    if (!found.ok()) return found.status();
    if (!eligible(*found, p->item_code, today))
      return Status::Conflict("not_eligible", "该中介机构当前不可选取（已暂停、资质过期或未提供该事项服务）",
                              "the intermediary may not be chosen for this item now");
    return found;
  };
  const auto check_amount = [&](const char* zh) -> Status {
    if (act.amount_fen <= 0 || act.amount_fen > 100'000'000'000)
      return Status::InvalidArgument("invalid_amount", std::string(zh) + "应为正整数（单位：分）",
                                     "amount_fen must be a positive whole number of fen");
    return Status::Ok();
  };
  std::string code = p->chosen, note;
  if (act.step == "quote") {  // 竞价选取: an eligible intermediary's quote, while open
    if (p->method != "lowest_quote") return wrong_state("报价（非竞价选取项目）");
    if (p->state != "open") return wrong_state("报价");
    auto who = eligible_one(act.code);
    if (!who.ok()) return who.status();
    TB_RETURN_IF_ERROR(check_amount("报价"));
    auto insert = db_->cached(
        "INSERT INTO intermediary_quotes(project_id, code, amount_fen, ts, seq) VALUES(?1,?2,?3,?4,"
        " (SELECT coalesce(max(seq), 0) + 1 FROM intermediary_quotes WHERE project_id=?1))"
        " ON CONFLICT(project_id, code) DO NOTHING");
    if (!insert.ok()) return insert.status();
    TB_RETURN_IF_ERROR(insert->bind(1, id).bind(2, act.code).bind(3, act.amount_fen).bind(4, clock_.now()).run());
    if (db_->changes() == 0)
      return Status::Conflict("quote_exists", "该中介机构已报价，报价不可更改",
                              "this intermediary has quoted: a quote is final");
    code = act.code;
    note = format_yuan(act.amount_fen) + " 元";
  } else if (act.step == "select") {
    if (p->state != "open") return wrong_state("选取（已选定）");
    std::string seed, why;
    std::vector<std::string> candidates;
    if (p->method == "direct") {
      auto who = eligible_one(act.code);
      if (!who.ok()) return who.status();
      code = act.code;
      why = "直接选取 / direct selection";
    } else if (p->method == "random") {
      auto all = intermediaries_locked("");
      if (!all.ok()) return all.status();
      for (const auto& i : *all)
        if (eligible(i, p->item_code, today)) candidates.push_back(i.code);  // by code
      if (candidates.empty())
        return Status::Conflict("no_eligible_intermediary", "没有可供抽取的中介机构（须提供该事项服务、资质有效且未暂停）",
                                "no eligible intermediary to draw from");
      uint8_t bytes[32];
      randombytes_buf(bytes, sizeof bytes);
      seed = to_hex(bytes, sizeof bytes);
      code = candidates[draw_index(seed, candidates.size())];
      why = "随机抽取，" + std::to_string(candidates.size()) + " 家候选 / random draw among " +
            std::to_string(candidates.size());
    } else {  // lowest_quote: the cheapest quote of one still eligible; ties: the first quoted
      for (const Quote& q : p->quotes) {
        auto who = eligible_one(q.code);
        if (!who.ok() && who.status().code() != StatusCode::kConflict) return who.status();
        if (who.ok()) {
          code = q.code;
          why = "最低报价 " + format_yuan(q.amount_fen) + " 元 / lowest quote";
          break;
        }
      }
      if (code.empty())
        return Status::Conflict("no_eligible_intermediary", "没有有效报价的可选中介机构",
                                "no eligible intermediary has quoted");
    }
    auto update = db_->cached(
        "UPDATE intermediary_projects SET state='selected', seed=?2, candidates=?3, chosen=?4,"
        " chosen_by=?5, chosen_why=?6, chosen_ts=?7 WHERE id=?1");
    if (!update.ok()) return update.status();
    update->bind(1, id).bind(2, seed).bind(3, join(candidates)).bind(4, code).bind(5, act.by);
    TB_RETURN_IF_ERROR(update->bind(6, why).bind(7, clock_.now()).run());
    note = why + (seed.empty() ? "" : "，seed " + seed);
  } else if (act.step == "contract") {  // the service contract: price and deadline
    if (p->state != "selected") return wrong_state("签订合同（尚未选定或已签订）");
    auto who = eligible_one(p->chosen);  // suspended since it was chosen: choose again
    if (!who.ok()) return who.status();
    TB_RETURN_IF_ERROR(check_amount("合同金额"));
    for (const Quote& q : p->quotes)
      if (q.code == p->chosen && act.amount_fen > q.amount_fen)
        return Status::InvalidArgument("invalid_amount", "合同金额不得高于中选报价 " + format_yuan(q.amount_fen) + " 元",
                                       "the contract may not exceed the winning quote");
    if (!act.due || *act.due <= today || *act.due > today + 3 * 366)
      return Status::InvalidArgument("invalid_due", "服务期限应为今后三年内的日期 YYYY-MM-DD",
                                     "due must be a date YYYY-MM-DD within three years");
    auto update = db_->cached(
        "UPDATE intermediary_projects SET state='contracted', amount_fen=?2, due=?3 WHERE id=?1");
    if (!update.ok()) return update.status();
    TB_RETURN_IF_ERROR(update->bind(1, id).bind(2, act.amount_fen).bind(3, int64_t{act.due->days}).run());
    note = format_yuan(act.amount_fen) + " 元，" + format_date(*act.due) + " 前完成";
  } else if (act.step == "complete") {
    if (p->state != "contracted") return wrong_state("完成（尚未签订合同）");
    TB_RETURN_IF_ERROR(validate_text(act.note, "完成说明", "note", 1000, true));
    auto update = db_->cached(
        "UPDATE intermediary_projects SET state='completed', completed_ts=?2 WHERE id=?1");
    if (!update.ok()) return update.status();
    TB_RETURN_IF_ERROR(update->bind(1, id).bind(2, clock_.now()).run());
    note = act.note + (p->due && today > *p->due ? "（逾期完成 / late）" : "");
  } else if (act.step == "rate") {  // the owner's rating after service, once
    if (p->state != "completed") return wrong_state("评价（服务尚未完成或已评价）");
    if (act.level < 1 || act.level > 5)
      return Status::InvalidArgument("invalid_level", "评价等级应为 1 至 5（5 为非常满意）",
                                     "level must be 1 to 5 (5: very satisfied)");
    if (act.level <= rules_.intermediary_low_level)
      TB_RETURN_IF_ERROR(validate_required_text(act.note, "差评理由", "note", 1000, true));
    else
      TB_RETURN_IF_ERROR(validate_text(act.note, "评价意见", "note", 1000, true));
    auto update = db_->cached(
        "UPDATE intermediary_projects SET state='rated', rating=?2, rating_note=?3, rated_ts=?4"
        " WHERE id=?1");
    if (!update.ok()) return update.status();
    TB_RETURN_IF_ERROR(update->bind(1, id).bind(2, int64_t{act.level}).bind(3, act.note).bind(4, clock_.now()).run());
    note = std::to_string(act.level) + " 星" + (act.note.empty() ? "" : "：" + act.note);
  } else {
    return Status::InvalidArgument("invalid_step", "未知的办理步骤", "unknown step");
  }
  TB_RETURN_IF_ERROR(market_log_locked(code, id, act.step, act.by, note));
  // 优胜劣汰: rated low too often within the window.
  if (act.step == "rate") TB_RETURN_IF_ERROR(review_standing_locked(code, "system"));
  TB_RETURN_IF_ERROR(tx.commit());
  spdlog::info("intermediary project {} {} by {}", id, act.step, act.by);
  return project_locked(id);
}

Result<std::vector<HubStore::MarketLog>> HubStore::market_log(const std::string& code, int limit) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "SELECT ts, code, username, what, note, project_id FROM intermediary_log"
      " WHERE (?1 = '' OR code = ?1) ORDER BY id DESC LIMIT ?2");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, code).bind(2, int64_t{limit});
  return collect_rows<MarketLog>(*stmt, [](const Stmt& r) {
    return MarketLog{r.int_at(0), r.text_at(1), r.text_at(2), r.text_at(3), r.text_at(4), r.int_at(5)};
  });
}

}  // namespace tongban::hub
