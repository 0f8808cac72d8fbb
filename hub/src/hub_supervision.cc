// 电子监察 at the hub: the rules (supervision.h) run over each case as its events are stored
// and over every open case on a timer; their hits are kept as immutable alerts, and what
// supervisors did about each is appended beside it.
#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "tongban/hub/hub_store.h"
#include "tongban/shared/personal.h"
#include "tongban/shared/validation.h"

namespace tongban::hub {

namespace {

constexpr int kSweepChunk = 500;  // cases per lock hold: ingest goes on between chunks

}  // namespace

std::string HubStore::Alert::state() const {
  if (actions.empty()) return "open";
  const std::string& last = actions.back().action;
  if (last == "acknowledged" || last == "answered") return last;
  return "rectifying";
}

Result<Date> HubStore::known_day_locked(const std::string& site) {
  const Timestamp now = clock_.now();
  auto held = replica_.head(site);
  if (!held.ok()) return held.status();
  // As far as the projection has seen: events stored but not projected yet do not count.
  auto seen = db_->cached("SELECT seq FROM projected WHERE origin=?1");
  if (!seen.ok()) return seen.status();
  seen->bind(1, site);
  auto seen_row = seen->step();
  if (!seen_row.ok()) return seen_row.status();
  const uint64_t upto =
      std::min(held->seq, *seen_row ? static_cast<uint64_t>(seen->int_at(0)) : uint64_t{0});
  seen->reset();
  if (contact_of_ && upto == held->seq) {
    const auto [at, claimed] = contact_of_(site);
    if (at && claimed && held->seq >= *claimed) return date_of(std::min(now, at));
  }
  auto ts = db_->cached("SELECT ts FROM events WHERE origin=?1 AND seq=?2");
  if (!ts.ok()) return ts.status();
  ts->bind(1, site).bind(2, static_cast<int64_t>(upto));
  auto row = ts->step();
  if (!row.ok()) return row.status();
  const Timestamp newest = *row ? ts->int_at(0) : 0;
  ts->reset();
  return date_of(std::min(now, newest));
}

Result<Date> HubStore::known_day_cached_locked(const std::string& site,
                                               std::map<std::string, Date>& known) {
  if (auto it = known.find(site); it != known.end()) return it->second;
  auto day = known_day_locked(site);
  if (day.ok()) known.emplace(site, *day);
  return day;
}

Result<HubStore::JudgeDay> HubStore::judge_day_locked(const CaseState& s,
                                                      std::map<std::string, Date>& known) {
  // Every site with a step to take on the case: its owner, the receiving site (delivery and
  // the rating loop, 收受分离) and each site an open order names. A rule never fires on a
  // step a site may have taken that the hub has not heard of yet.
  std::set<std::string> sites = {s.owner, s.origin};
  for (const SupervisionOrder& o : s.supervision_orders)
    if (o.open()) sites.insert(o.site);
  std::optional<JudgeDay> earliest;
  for (const std::string& site : sites) {
    if (site.empty()) continue;
    auto d = known_day_cached_locked(site, known);
    if (!d.ok()) return d.status();
    if (!earliest || *d < earliest->day) earliest = JudgeDay{*d, site};
  }
  return earliest.value_or(JudgeDay{date_of(clock_.now()), ""});
}

Status HubStore::supervise_locked(const CaseState& s, bool created,
                                  std::map<std::string, Date>* known_days) {
  if (!is_case(s)) return Status::Ok();
  TB_RETURN_IF_ERROR(record_facts_locked(s));  // the statistics follow every new state
  std::map<std::string, Date> once;
  auto as_of = judge_day_locked(s, known_days ? *known_days : once);
  if (!as_of.ok()) return as_of.status();
  int refiled = 0;
  // A new application of someone who withdrew the same one lately: the clock reset by
  // refiling (withdrawn cases of the same blind-indexed resident and item).
  if (created && rules_.rule("refile_after_withdrawal")) {
    const std::string who = applicant_key(s.applicant);
    if (!who.empty()) {
      auto count = db_->cached(
          "SELECT COUNT(*) FROM cases WHERE applicant_id=?1 AND item_code=?2 AND"
          " status='withdrawn' AND updated_ts>=?3 AND case_id<>?4");
      if (!count.ok()) return count.status();
      count->bind(1, who).bind(2, s.item_code);
      count->bind(3, s.created_at - int64_t{rules_.refile_window_days} * 86400).bind(4, s.case_id);
      auto row = count->step();
      if (!row.ok()) return row.status();
      refiled = *row ? static_cast<int>(count->int_at(0)) : 0;
      count->reset();
    }
  }
  // A refusal's or a denial's reason is sealed as stored: read it opened (rare events).
  const bool needs_reason = (s.status == CaseStatus::kRefused || s.status == CaseStatus::kDenied) &&
                            rules_.rule("brief_reason") && keys_;
  if (needs_reason) {
    auto opened = case_state_locked(s.case_id, true);
    if (!opened.ok()) return opened.status();
    return judge_locked(*opened, *as_of, true, refiled).status();
  }
  return judge_locked(s, *as_of, false, refiled).status();
}

Result<int> HubStore::judge_locked(const CaseState& s, const JudgeDay& as_of, bool opened,
                                   int refiled) {
  auto raised = raise_locked(s, evaluate(s, as_of.day, district_, rules_, opened, refiled));
  if (!raised.ok()) return raised.status();
  const std::optional<Date> due = next_due(s, as_of.day, district_, rules_);
  if (due) {
    static const RowShape kDue("supervision_due", {"case_id", "due", "site"}, {"due"});
    auto written = write_row(*db_, kDue,
                             {SqlValue::text(s.case_id), SqlValue::of(int64_t{due->days}),
                              SqlValue::text(as_of.site)});
    if (!written.ok()) return written.status();
    return raised;
  }
  auto stmt = db_->cached("DELETE FROM supervision_due WHERE case_id=?1");
  if (!stmt.ok()) return stmt.status();
  TB_RETURN_IF_ERROR(stmt->bind(1, s.case_id).run());
  return raised;
}

Result<int> HubStore::raise_locked(const CaseState& s, const std::vector<Finding>& findings) {
  int raised = 0;
  for (const Finding& f : findings) {
    auto insert = db_->cached(
        "INSERT OR IGNORE INTO alerts(rule, severity, case_id, site, department, staff,"
        " occurrence, detail_zh, detail_en, raised_ts) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
    if (!insert.ok()) return insert.status();
    insert->bind(1, f.rule).bind(2, std::string(to_string(f.severity))).bind(3, s.case_id);
    insert->bind(4, f.site.empty() ? s.owner : f.site).bind(5, s.department);
    insert->bind(6, s.last_actor).bind(7, f.occurrence);
    insert->bind(8, f.detail_zh).bind(9, f.detail_en).bind(10, clock_.now());
    TB_RETURN_IF_ERROR(insert->run());
    if (db_->changes() > 0) {
      ++raised;  // the sweep logs how many; a line each only when debugging (a sweep may raise thousands)
      spdlog::debug("alert {} ({}) on case {} at {}", f.rule, to_string(f.severity), s.case_id,
                    s.owner);
    }
  }
  return raised;
}

Status HubStore::backfill_stats() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    auto flag = db_->cached("SELECT value FROM supervision_state WHERE key='stats_backfill'");
    if (!flag.ok()) return flag.status();
    auto row = flag->step();
    if (!row.ok()) return row.status();
    flag->reset();
    if (!*row) return Status::Ok();
    auto stmt = db_->prepare("SELECT case_id FROM cases");
    if (!stmt.ok()) return stmt.status();
    auto rows = collect_rows<std::string>(*stmt, [](const Stmt& r) { return r.text_at(0); });
    if (!rows.ok()) return rows.status();
    ids = std::move(*rows);
  }
  spdlog::info("statistics: counting and judging {} cases held before they existed", ids.size());
  for (size_t at = 0; at < ids.size(); at += kSweepChunk) {
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    TB_RETURN_IF_ERROR(tx.begun());
    std::map<std::string, Date> known;
    for (size_t i = at; i < std::min(ids.size(), at + kSweepChunk); ++i) {
      auto s = case_state_locked(ids[i]);
      if (!s.ok()) return s.status();
      // Counted, and judged (closed cases too: the rating loop's and the orders' rules).
      if (is_case(*s)) TB_RETURN_IF_ERROR(supervise_locked(*s, false, &known));
    }
    TB_RETURN_IF_ERROR(tx.commit());
  }
  std::lock_guard lock(mu_);
  return db_->exec("DELETE FROM supervision_state WHERE key='stats_backfill'");
}

Result<int> HubStore::supervise() {
  TB_RETURN_IF_ERROR(backfill_stats());
  // A case due, with the site whose known day held its last judgement back.
  struct Due {
    std::string case_id;
    int64_t due = 0;
    std::string site;
  };
  std::vector<Due> ids;
  bool backfill = false;
  {
    std::lock_guard lock(mu_);
    auto done = db_->cached("SELECT value FROM supervision_state WHERE key='backfilled'");
    if (!done.ok()) return done.status();
    auto row = done->step();
    if (!row.ok()) return row.status();
    backfill = !*row;
    done->reset();
    // A hub that held cases before the rules ran (an upgrade) judges each open one once.
    auto stmt = db_->cached(
        backfill ? "SELECT case_id, 0, '' FROM cases WHERE active OR status='approved'"
                 : "SELECT case_id, due, site FROM supervision_due WHERE due<=?1");
    if (!stmt.ok()) return stmt.status();
    if (!backfill) stmt->bind(1, int64_t{date_of(clock_.now()).days});
    auto rows = collect_rows<Due>(
        *stmt, [](const Stmt& r) { return Due{r.text_at(0), r.int_at(1), r.text_at(2)}; });
    if (!rows.ok()) return rows.status();
    ids = std::move(*rows);
  }
  int raised = 0;
  for (size_t at = 0; at < ids.size(); at += kSweepChunk) {
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    TB_RETURN_IF_ERROR(tx.begun());
    std::map<std::string, Date> known;  // per owning site, for this chunk
    for (size_t i = at; i < std::min(ids.size(), at + kSweepChunk); ++i) {
      // Due by the calendar, but the site that held it back has not been heard of up to
      // that day: judged as of its day, nothing can fire yet (the rules are a function of
      // the case and the day, and any new event of the case judges it as it is stored).
      // Without this the cases of a site silent for days were re-read on every sweep.
      if (!ids[i].site.empty()) {
        auto day = known_day_cached_locked(ids[i].site, known);
        if (!day.ok()) return day.status();
        if (day->days < ids[i].due) {
          swept_waiting_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
      }
      auto s = case_state_locked(ids[i].case_id);
      if (!s.ok()) return s.status();
      if (!is_case(*s)) continue;
      swept_judged_.fetch_add(1, std::memory_order_relaxed);
      auto as_of = judge_day_locked(*s, known);
      if (!as_of.ok()) return as_of.status();
      auto n = judge_locked(*s, *as_of, false, 0);
      if (!n.ok()) return n.status();
      raised += *n;
    }
    TB_RETURN_IF_ERROR(tx.commit());
  }
  if (backfill) {
    std::lock_guard lock(mu_);
    TB_RETURN_IF_ERROR(
        db_->exec("INSERT OR IGNORE INTO supervision_state(key, value) VALUES('backfilled', 1)"));
  }
  return raised;
}

Result<HubStore::Alert> HubStore::alert_locked(int64_t id) {
  AlertQuery q;
  q.id = id;
  q.limit = 1;
  auto found = alerts_locked(q);
  if (!found.ok()) return found.status();
  if (found->first.empty()) return Status::NotFound("alert_not_found", "监察预警不存在", "no such alert");
  return std::move(found->first.front());
}

Result<std::pair<std::vector<HubStore::Alert>, int64_t>> HubStore::alerts(const AlertQuery& q) {
  std::lock_guard lock(mu_);
  return alerts_locked(q);
}

Result<std::vector<HubStore::AlertCount>> HubStore::alert_counts() {
  std::lock_guard lock(mu_);
  auto s = db_->cached(
      "SELECT rule, severity, COALESCE((SELECT CASE action WHEN 'acknowledged' THEN 'acknowledged'"
      " WHEN 'answered' THEN 'answered' ELSE 'rectifying' END FROM alert_actions"
      " WHERE alert_id=alerts.id ORDER BY id DESC LIMIT 1), 'open') AS state, COUNT(*)"
      " FROM alerts GROUP BY 1, 2, 3");
  if (!s.ok()) return s.status();
  return collect_rows<AlertCount>(*s, [](const Stmt& r) {
    return AlertCount{r.text_at(0), r.text_at(1), r.text_at(2), r.int_at(3)};
  });
}

Result<std::pair<std::vector<HubStore::Alert>, int64_t>> HubStore::alerts_locked(
    const AlertQuery& q) {
  // Each filter is bound (or NULL: any); the state is the last action's.
  const std::string where =
      " FROM alerts WHERE (?1 IS NULL OR severity=?1) AND (?2 IS NULL OR rule=?2)"
      " AND (?3 IS NULL OR site=?3) AND (?4 IS NULL OR case_id=?4)"
      " AND (?5 IS NULL OR raised_ts>=?5) AND (?6 IS NULL OR raised_ts<?6)"
      " AND (?7 IS NULL OR COALESCE((SELECT CASE action WHEN 'acknowledged' THEN 'acknowledged'"
      " WHEN 'answered' THEN 'answered' ELSE 'rectifying' END FROM alert_actions WHERE alert_id=alerts.id ORDER BY id DESC"
      " LIMIT 1), 'open')=?7) AND (?10 IS NULL OR id=?10)";
  const auto bind = [&](Stmt& st) {
    const auto text = [&](int i, const std::string& v) {
      if (v.empty()) st.bind_null(i); else st.bind(i, v);
    };
    const auto number = [&](int i, int64_t v) {
      if (v) st.bind(i, v); else st.bind_null(i);
    };
    text(1, q.severity);
    text(2, q.rule);
    text(3, q.site);
    text(4, q.case_id);
    number(5, q.from);
    number(6, q.to);
    text(7, q.state);
    number(10, q.id);
  };
  auto count = db_->cached("SELECT COUNT(*)" + where);
  if (!count.ok()) return count.status();
  bind(*count);
  auto total = count->step();
  if (!total.ok()) return total.status();
  const int64_t matched = count->int_at(0);
  count->reset();
  // Two queries however long the page (an export holds the lock for both only).
  auto page = db_->cached(
      "SELECT id, rule, severity, case_id, site, department, staff, occurrence, detail_zh,"
      " detail_en, raised_ts" + where + " ORDER BY id DESC LIMIT ?8 OFFSET ?9");
  if (!page.ok()) return page.status();
  bind(*page);
  page->bind(8, int64_t{q.limit}).bind(9, int64_t{q.offset});
  auto rows = collect_rows<Alert>(*page, [](const Stmt& r) {
    return Alert{r.int_at(0),  r.text_at(1), r.text_at(2), r.text_at(3),
                 r.text_at(4), r.text_at(5), r.text_at(6), r.text_at(7),
                 r.text_at(8), r.text_at(9), r.int_at(10), {}};
  });
  if (!rows.ok()) return rows.status();
  if (!rows->empty()) {
    std::map<int64_t, Alert*> by_id;
    for (Alert& a : *rows) by_id[a.id] = &a;
    auto actions = db_->cached(
        "SELECT alert_id, action, username, note, due, ts FROM alert_actions"
        " WHERE alert_id BETWEEN ?1 AND ?2 ORDER BY id");
    if (!actions.ok()) return actions.status();
    actions->bind(1, by_id.begin()->first).bind(2, by_id.rbegin()->first);
    for (;;) {
      auto row = actions->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto it = by_id.find(actions->int_at(0));
      if (it == by_id.end()) continue;
      it->second->actions.push_back({actions->text_at(1), actions->text_at(2), actions->text_at(3),
                                     actions->text_at(4), actions->int_at(5)});
    }
  }
  return std::make_pair(std::move(*rows), matched);
}

Result<HubStore::Alert> HubStore::act_on_alert(int64_t id, const AlertAction& action) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto alert = alert_locked(id);
  if (!alert.ok()) return alert.status();
  if (alert->state() == "acknowledged")
    return Status::Conflict("alert_closed", "该预警已确认办结", "the alert was acknowledged already");
  const bool ordering = action.action == "rectification_ordered";
  // An order awaiting its answer stays open at the site: it is answered before the alert
  // is closed or ordered again.
  if (alert->state() == "rectifying")
    return Status::Conflict("order_pending", "整改通知已下发，等待站点答复",
                            "a rectification order awaits the site's answer");
  TB_RETURN_IF_ERROR(record_alert_action_locked(id, action, clock_.now()));
  // The order travels: an event of the hub's log on the case, down the site's stream.
  if (ordering) TB_RETURN_IF_ERROR(order_rectification_locked(*alert, action));
  TB_RETURN_IF_ERROR(tx.commit());
  if (ordering) streams_changed();
  spdlog::info("alert {} {} by {}", id, action.action, action.by);
  return alert_locked(id);
}

Status HubStore::record_alert_action_locked(int64_t id, const AlertAction& action, Timestamp at) {
  auto insert = db_->cached(
      "INSERT INTO alert_actions(alert_id, action, username, note, due, ts)"
      " VALUES(?1,?2,?3,?4,?5,?6)");
  if (!insert.ok()) return insert.status();
  insert->bind(1, id).bind(2, action.action).bind(3, action.by).bind(4, action.note);
  insert->bind(5, action.due).bind(6, at);
  return insert->run();
}

Status HubStore::order_rectification_locked(const Alert& alert, const AlertAction& action) {
  auto s = existing_case_locked(alert.case_id);
  if (!s.ok()) return s.status();
  const auto due = parse_date(action.due);
  if (!due) return Status::InvalidArgument("invalid_due", "整改期限无效", "due is not a date");
  pb::CaseEvent e;
  auto* o = e.mutable_rectification_ordered();
  o->set_alert_id(alert.id);
  o->set_rule(alert.rule);
  for (const auto& [name, zh] : rule_names())
    if (name == alert.rule) o->set_rule_zh(zh);
  o->set_severity(alert.severity);
  o->set_finding(alert.detail_zh);
  o->set_site(alert.site);
  o->set_note(action.note);
  o->set_due_date(due->days);
  o->set_supervisor(action.by);
  // To the site that must answer, and to those that hold the case (the same history).
  auto next = commit_hub_event_locked(*s, e, action.by, {alert.site, s->origin, s->owner});
  return next.status();
}

Status HubStore::record_answers_locked(const std::vector<const sync::Event*>& answers) {
  for (const sync::Event* e : answers) {
    pb::CaseEvent body;
    if (!body.ParseFromString(e->body) || !body.has_rectification_answered()) continue;
    const auto& a = body.rectification_answered();
    auto alert = alert_locked(a.alert_id());
    // The site the order named answers it, once per order; anything else stands in the
    // case's history only.
    if (!alert.ok() || alert->case_id != e->case_id || alert->site != e->origin ||
        alert->state() != "rectifying" || !validate_text(a.answer(), "答复", "answer", 500, true).ok()) {
      spdlog::warn("hub: case {}: {}'s answer to alert {} matches no open order", e->case_id,
                   e->origin, a.alert_id());
      continue;
    }
    TB_RETURN_IF_ERROR(record_alert_action_locked(
        alert->id, AlertAction{"answered", e->actor + "@" + e->origin, a.answer(), "", 0}, e->ts));
    spdlog::info("alert {} answered by {} at {}", alert->id, e->actor, e->origin);
  }
  return Status::Ok();
}

}  // namespace tongban::hub
