// 改革体验官 (measure 16) at the hub: registered experience officers (named, with a term) file
// issues about any site or item (清单式); an operator assigns each to a department with a
// deadline and records the department's answer; the issue is closed (销号) only when its
// officer confirms the answer, or a supervisor overrules with a reason. Every step is kept
// (officer_issue_steps: who, when, what); the list, its ages and its overdue items are
// published without the officers' names or the details.
#include <spdlog/spdlog.h>

#include "tongban/hub/hub_store.h"
#include "tongban/shared/validation.h"

namespace tongban::hub {

namespace {

Status no_issue() {
  return Status::NotFound("issue_not_found", "体验官问题不存在", "no such issue");
}

}  // namespace

const std::string& HubStore::officer_schema() {
  static const std::string kSql = R"sql(
    CREATE TABLE officers(
      username TEXT PRIMARY KEY, name TEXT NOT NULL, organization TEXT NOT NULL,
      term_from INTEGER NOT NULL, term_to INTEGER NOT NULL,
      registered_by TEXT NOT NULL, registered_ts INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE officer_issues(
      id INTEGER PRIMARY KEY, officer TEXT NOT NULL REFERENCES officers(username),
      site TEXT NOT NULL, item_code TEXT NOT NULL, title TEXT NOT NULL, detail TEXT NOT NULL,
      filed_ts INTEGER NOT NULL, state TEXT NOT NULL, department TEXT NOT NULL DEFAULT '',
      due INTEGER, answer TEXT NOT NULL DEFAULT '', closed_ts INTEGER, close_kind TEXT NOT NULL DEFAULT '');
    CREATE INDEX officer_issues_by_officer ON officer_issues(officer, id);
    CREATE TABLE officer_issue_steps(
      id INTEGER PRIMARY KEY, issue_id INTEGER NOT NULL REFERENCES officer_issues(id),
      step TEXT NOT NULL, username TEXT NOT NULL, note TEXT NOT NULL, ts INTEGER NOT NULL);
    CREATE TRIGGER officer_issue_steps_kept BEFORE DELETE ON officer_issue_steps
      BEGIN SELECT RAISE(ABORT, 'steps are kept'); END;
    CREATE TRIGGER officer_issue_steps_immutable BEFORE UPDATE ON officer_issue_steps
      BEGIN SELECT RAISE(ABORT, 'steps are immutable'); END;
  )sql";
  return kSql;
}

Result<HubStore::Officer> HubStore::register_officer(const Officer& o, const std::string& password) {
  if (o.term_to < o.term_from || o.term_to - o.term_from > 5 * 366)
    return Status::InvalidArgument("invalid_term", "聘期应为起止日期，且不超过五年",
                                   "the term must run from a day to a later one, 5 years at most");
  TB_RETURN_IF_ERROR(validate_required_text(o.name, "体验官姓名", "name", 64, true));
  TB_RETURN_IF_ERROR(validate_text(o.organization, "所在单位", "organization", 200));
  {  // The registry's row first; then the account (it locks mu_ itself), or neither.
    std::lock_guard lock(mu_);
    auto insert = db_->cached(
        "INSERT OR IGNORE INTO officers(username, name, organization, term_from, term_to,"
        " registered_by, registered_ts) VALUES(?1,?2,?3,?4,?5,?6,?7)");
    if (!insert.ok()) return insert.status();
    insert->bind(1, o.username).bind(2, o.name).bind(3, o.organization);
    insert->bind(4, int64_t{o.term_from.days}).bind(5, int64_t{o.term_to.days});
    insert->bind(6, o.registered_by).bind(7, clock_.now());
    TB_RETURN_IF_ERROR(insert->run());
    if (db_->changes() == 0)
      return Status::Conflict("username_taken", "该用户名已被使用", "username already exists");
  }
  if (Status made = staff_.create(o.username, o.name, Role::kOfficer, password); !made.ok()) {
    std::lock_guard lock(mu_);
    auto undo = db_->cached("DELETE FROM officers WHERE username=?1");
    if (undo.ok()) (void)undo->bind(1, o.username).run();
    return made;
  }
  spdlog::info("officer {} registered by {}", o.username, o.registered_by);
  return o;
}

Result<std::vector<HubStore::Officer>> HubStore::officers() {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "SELECT username, name, organization, term_from, term_to, registered_by FROM officers"
      " ORDER BY term_to DESC, username");
  if (!stmt.ok()) return stmt.status();
  return collect_rows<Officer>(*stmt, [](const Stmt& r) {
    return Officer{r.text_at(0), r.text_at(1), r.text_at(2), Date{static_cast<int32_t>(r.int_at(3))},
                   Date{static_cast<int32_t>(r.int_at(4))}, r.text_at(5)};
  });
}

Result<HubStore::OfficerIssue> HubStore::file_issue(const std::string& officer, const NewIssue& in) {
  TB_RETURN_IF_ERROR(validate_required_text(in.title, "问题标题", "title", 200, true));
  TB_RETURN_IF_ERROR(validate_required_text(in.detail, "问题描述", "detail", 4000, true));
  if (!in.site.empty() && !district_.site(in.site))
    return Status::InvalidArgument("unknown_site", "站点不存在：" + in.site, "no such site");
  if (!in.item_code.empty() && !district_.catalog.find(in.item_code))
    return Status::InvalidArgument("unknown_item", "事项不存在：" + in.item_code, "no such item");
  std::lock_guard lock(mu_);
  const Date today = date_of(clock_.now());
  auto term = db_->cached("SELECT term_from, term_to FROM officers WHERE username=?1");
  if (!term.ok()) return term.status();
  term->bind(1, officer);
  auto row = term->step();
  if (!row.ok()) return row.status();
  const bool serving = *row && term->int_at(0) <= today.days && today.days <= term->int_at(1);
  term->reset();
  if (!serving)
    return Status::PermissionDenied("officer_not_serving", "不在改革体验官聘期内，不能提交问题",
                                    "not an experience officer serving today");
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto insert = db_->cached(
      "INSERT INTO officer_issues(officer, site, item_code, title, detail, filed_ts, state)"
      " VALUES(?1,?2,?3,?4,?5,?6,'filed')");
  if (!insert.ok()) return insert.status();
  insert->bind(1, officer).bind(2, in.site).bind(3, in.item_code).bind(4, in.title);
  insert->bind(5, in.detail).bind(6, clock_.now());
  TB_RETURN_IF_ERROR(insert->run());
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  TB_RETURN_IF_ERROR(issue_step_locked(id, "filed", officer, ""));
  TB_RETURN_IF_ERROR(tx.commit());
  return issue_locked(id);
}

Status HubStore::issue_step_locked(int64_t id, const std::string& step, const std::string& by,
                                   const std::string& note) {
  auto insert = db_->cached(
      "INSERT INTO officer_issue_steps(issue_id, step, username, note, ts) VALUES(?1,?2,?3,?4,?5)");
  if (!insert.ok()) return insert.status();
  insert->bind(1, id).bind(2, step).bind(3, by).bind(4, note).bind(5, clock_.now());
  return insert->run();
}

Result<HubStore::OfficerIssue> HubStore::issue_locked(int64_t id) {
  if (id <= 0) return no_issue();  // 0 would mean "any" to the list query
  auto found = issues_locked("", "", id, 1);
  if (!found.ok()) return found.status();
  if (found->empty()) return no_issue();
  return std::move(found->front());
}

Result<std::vector<HubStore::OfficerIssue>> HubStore::issues(const std::string& officer,
                                                             const std::string& state,
                                                             bool published) {
  std::lock_guard lock(mu_);
  return issues_locked(officer, state, 0, 1000, published);
}

Result<std::vector<HubStore::OfficerIssue>> HubStore::issues_locked(const std::string& officer,
                                                                    const std::string& state,
                                                                    int64_t id, int limit,
                                                                    bool published) {
  // Published: only issues an operator has taken up (a title nobody has read yet may name
  // someone), without their steps.
  auto stmt = db_->cached(
      "SELECT id, officer, site, item_code, title, detail, filed_ts, state, department, due,"
      " answer, closed_ts, close_kind FROM officer_issues"
      " WHERE (?1 = '' OR officer = ?1) AND (?2 = '' OR state = ?2) AND (?3 = 0 OR id = ?3)"
      " AND (?5 = 0 OR state <> 'filed') ORDER BY id DESC LIMIT ?4");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, officer).bind(2, state).bind(3, id).bind(4, int64_t{limit});
  stmt->bind(5, int64_t{published});
  auto rows = collect_rows<OfficerIssue>(*stmt, [](const Stmt& r) {
    OfficerIssue i;
    i.id = r.int_at(0);
    i.officer = r.text_at(1);
    i.site = r.text_at(2);
    i.item_code = r.text_at(3);
    i.title = r.text_at(4);
    i.detail = r.text_at(5);
    i.filed_at = r.int_at(6);
    i.state = r.text_at(7);
    i.department = r.text_at(8);
    if (!r.null_at(9)) i.due = Date{static_cast<int32_t>(r.int_at(9))};
    i.answer = r.text_at(10);
    i.closed_at = r.null_at(11) ? 0 : r.int_at(11);
    i.close_kind = r.text_at(12);
    return i;
  });
  if (!rows.ok()) return rows.status();
  if (published) return rows;
  auto steps = db_->cached(
      "SELECT step, username, note, ts FROM officer_issue_steps WHERE issue_id=?1 ORDER BY id");
  if (!steps.ok()) return steps.status();
  for (OfficerIssue& i : *rows) {
    steps->bind(1, i.id);
    auto s = collect_rows<IssueStep>(*steps, [](const Stmt& r) {
      return IssueStep{r.text_at(0), r.text_at(1), r.text_at(2), r.int_at(3)};
    });
    steps->reset();
    if (!s.ok()) return s.status();
    i.steps = std::move(*s);
  }
  return rows;
}

Result<HubStore::OfficerIssue> HubStore::act_on_issue(int64_t id, const IssueAct& act) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto issue = issue_locked(id);
  if (!issue.ok()) return issue.status();
  const auto wrong_state = [&](const char* zh) {
    return Status::Conflict("invalid_transition", std::string("该问题当前不能") + zh,
                            "the issue is " + issue->state + ": not now");
  };
  if (issue->state == "closed") return wrong_state("再办理（已销号）");
  std::string next = issue->state;
  auto update = db_->cached(
      "UPDATE officer_issues SET state=?2, department=?3, due=?4, answer=?5, closed_ts=?6,"
      " close_kind=?7 WHERE id=?1");
  if (!update.ok()) return update.status();
  std::string department = issue->department, answer = issue->answer, close_kind;
  std::optional<Date> due = issue->due;
  Timestamp closed = 0;
  std::string note;
  if (act.step == "assigned") {  // an operator: to a department, by a day
    if (issue->state != "filed" && issue->state != "assigned") return wrong_state("交办");
    TB_RETURN_IF_ERROR(validate_required_text(act.department, "承办部门", "department", 64, true));
    const auto departments = district_.catalog.departments();
    if (!departments.count(act.department))
      return Status::InvalidArgument("unknown_department", "事项目录中没有该部门：" + act.department,
                                     "no such department in the catalog");
    const Date today = date_of(clock_.now());
    if (!act.due || *act.due <= today || *act.due > today + 366)
      return Status::InvalidArgument("invalid_due", "办理期限应为今后一年内的日期 YYYY-MM-DD",
                                     "due must be a date YYYY-MM-DD within the coming year");
    department = act.department;
    due = act.due;
    next = "assigned";
    note = act.department + "，" + format_date(*act.due) + " 前办结";
  } else if (act.step == "answered") {  // an operator records the department's answer
    if (issue->state != "assigned") return wrong_state("答复（请先交办）");
    TB_RETURN_IF_ERROR(validate_required_text(act.note, "办理答复", "answer", 2000, true));
    answer = act.note;
    next = "answered";
    note = act.note;
  } else if (act.step == "confirmed" || act.step == "reopened") {  // the officer, on the answer
    if (act.by != issue->officer)
      return Status::PermissionDenied("not_issue_officer", "仅提出该问题的体验官本人可确认",
                                      "only the officer who filed the issue confirms it");
    if (issue->state != "answered") return wrong_state("确认（尚未答复）");
    if (act.step == "reopened") TB_RETURN_IF_ERROR(validate_required_text(act.note, "不满意的理由", "note", 1000, true));
    else TB_RETURN_IF_ERROR(validate_text(act.note, "确认意见", "note", 1000, true));
    next = act.step == "confirmed" ? "closed" : "assigned";
    if (act.step == "reopened") answer.clear();  // the rejected answer stays in the steps
    if (act.step == "confirmed") {
      closed = clock_.now();
      close_kind = "confirmed";
    }
    note = act.note;
  } else if (act.step == "overruled") {  // a supervisor closes it, with a reason
    TB_RETURN_IF_ERROR(validate_required_text(act.note, "销号理由", "reason", 1000, true));
    next = "closed";
    closed = clock_.now();
    close_kind = "overruled";
    note = act.note;
  } else {
    return Status::InvalidArgument("invalid_step", "未知的办理步骤", "unknown step");
  }
  update->bind(1, id).bind(2, next).bind(3, department);
  if (due) update->bind(4, int64_t{due->days}); else update->bind_null(4);
  update->bind(5, answer);
  if (closed) update->bind(6, closed); else update->bind_null(6);
  update->bind(7, close_kind);
  TB_RETURN_IF_ERROR(update->run());
  TB_RETURN_IF_ERROR(issue_step_locked(id, act.step, act.by, note));
  TB_RETURN_IF_ERROR(tx.commit());
  spdlog::info("officer issue {} {} by {}", id, act.step, act.by);
  return issue_locked(id);
}

}  // namespace tongban::hub
