#include "tongban/hub/hub_api.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>

#include "tongban/shared/case_json.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/http_errors.h"
#include "tongban/shared/http_server.h"
#include "tongban/shared/validation.h"
#include "tongban/hub/report.h"
#include "tongban/hub/supervision.h"

namespace tongban::hub {

namespace {

using nlohmann::json;

json time_or_null(Timestamp t) { return t ? json(format_time(t)) : json(nullptr); }

// A mean rating level to two places, or null when there is none.
json mean_level(int64_t sum, int64_t count) {
  return count ? json(std::round(100.0 * sum / count) / 100.0) : json(nullptr);
}

// The `limit` of a list answer: a whole number 1..500, `fallback` when absent. Anything else
// is 400 invalid_limit, never silently ignored (issue 8).
Result<int> list_limit(const http::Request& req, int fallback) {
  if (!req.has_param("limit")) return fallback;
  const auto limit = int_param(req.get_param_value("limit"), 1, 500);
  if (!limit)
    return Status::InvalidArgument("invalid_limit", "limit 应为 1 至 500 的整数",
                                   "limit must be a whole number from 1 to 500");
  return *limit;
}

}  // namespace

struct HubApi::Impl {
  HubService& hub;
  StaffDirectory& staff = hub.staff();
  std::function<void()> on_stream_change;
  JsonHttpServer http{http::ServerOptions{.max_body_bytes = kMaxBodyBytes}};
  http::Server& server = http.routes();

  using Handler = std::function<Result<json>(const http::Request&, const Staff&)>;

  std::function<Result<size_t>()> reload_keys;

  Impl(HubService& h, std::function<void()> change, std::function<Result<size_t>()> reload)
      : hub(h), on_stream_change(std::move(change)), reload_keys(std::move(reload)) {
    // Nothing of a protected request's body is read before a hub account's session checks out.
    server.set_gate([this](const http::Request& head) { return hub_staff_of(head); });
  }

  // The hub's two roles: the operator (区级调度员) coordinates and acts; the supervisor (监察员
  // of the 行政审批服务局) watches: every view, every audit record, no act on a case.
  // 改革体验官 (officers) also log in here, to their own issues only.
  Result<Staff> hub_staff_of(const http::Request& req) {
    auto who = staff.authenticate(bearer_token(req));
    if (!who.ok()) return who.status();
    if (who->role != Role::kOperator && who->role != Role::kSupervisor && who->role != Role::kOfficer)
      return Status::PermissionDenied("forbidden_role", "仅区级中心人员可用",
                                      "district hub accounts only");
    return who;
  }

  // kHubStaff: operators and supervisors; kAnyone: they and the officers.
  enum class Access { kOperators, kSupervisors, kHubStaff, kOfficers, kAnyone };

  static Status allowed(const Staff& who, Access access) {
    if (access == Access::kOperators && who.role != Role::kOperator)
      return Status::PermissionDenied("forbidden_role", "仅区级调度员可用", "district operators only");
    if (access == Access::kSupervisors && who.role != Role::kSupervisor)
      return Status::PermissionDenied("forbidden_role", "仅监察员可用", "supervisors only");
    if (access == Access::kHubStaff && who.role != Role::kOperator && who.role != Role::kSupervisor)
      return Status::PermissionDenied("forbidden_role", "仅区级调度员和监察员可用",
                                      "district operators and supervisors only");
    if (access == Access::kOfficers && who.role != Role::kOfficer)
      return Status::PermissionDenied("forbidden_role", "仅改革体验官可用", "experience officers only");
    return Status::Ok();
  }

  // GET /alerts and /alerts.csv: the filters, each checked (400 on anything else).
  Result<HubStore::AlertQuery> alert_query(const http::Request& req, int max_limit,
                                           int fallback_limit) {
    HubStore::AlertQuery q;
    q.severity = req.get_param_value("severity");
    if (!q.severity.empty()) {
      auto sev = severity_from(q.severity);
      if (!sev)
        return Status::InvalidArgument("invalid_severity", "severity 应为 notice/yellow/red",
                                       "severity must be notice, yellow or red");
      q.severity = to_string(*sev);
    }
    q.rule = req.get_param_value("rule");
    if (!q.rule.empty() && !rule_label(q.rule))
      return Status::InvalidArgument("invalid_rule", "未知的监察规则：" + q.rule, "no such rule");
    q.site = req.get_param_value("site");
    if (!q.site.empty() && !hub.district().site(q.site))
      return Status::InvalidArgument("unknown_site", "站点不存在：" + q.site, "no such site");
    q.state = req.get_param_value("state");
    if (!q.state.empty() && q.state != "open" && q.state != "acknowledged" &&
        q.state != "rectifying" && q.state != "answered")
      return Status::InvalidArgument("invalid_state",
                                     "state 应为 open/rectifying/answered/acknowledged",
                                     "state must be open, rectifying, answered or acknowledged");
    q.case_id = req.get_param_value("case_id");
    for (auto [name, at] : {std::pair{"from", &q.from}, std::pair{"to", &q.to}}) {
      const std::string text = req.get_param_value(name);
      if (text.empty()) continue;
      auto d = parse_date(text);
      if (!d)
        return Status::InvalidArgument("invalid_date", std::string(name) + " 应为 YYYY-MM-DD 日期",
                                       std::string(name) + " must be a date YYYY-MM-DD");
      *at = start_of(*d) + (std::string(name) == "to" ? 86400 : 0);  // to: the whole day
    }
    q.limit = fallback_limit;
    if (req.has_param("limit")) {
      const auto limit = int_param(req.get_param_value("limit"), 1, max_limit);
      if (!limit)
        return Status::InvalidArgument("invalid_limit", "limit 应为 1 至 " + std::to_string(max_limit) + " 的整数",
                                       "limit must be a whole number from 1 to " + std::to_string(max_limit));
      q.limit = *limit;
    }
    if (req.has_param("offset")) {
      const auto offset = int_param(req.get_param_value("offset"), 0, 100000000);
      if (!offset)
        return Status::InvalidArgument("invalid_offset", "offset 应为非负整数",
                                       "offset must be a whole number >= 0");
      q.offset = *offset;
    }
    return q;
  }

  static json officer_json(const HubStore::Officer& o) {
    return {{"username", o.username}, {"name", o.name}, {"organization", o.organization},
            {"term_from", format_date(o.term_from)}, {"term_to", format_date(o.term_to)},
            {"registered_by", o.registered_by}};
  }

  // `full`: for the hub's staff and the issue's officer; else the public form (no officer,
  // no detail, no steps' authors).
  json issue_json(const HubStore::OfficerIssue& i, bool full) {
    const Date today = hub.today();
    const Date filed = date_of(i.filed_at);
    const Date until = i.closed_at ? date_of(i.closed_at) : today;
    json j = {{"id", i.id},
              {"title", i.title},
              {"site", i.site},
              {"site_name", key_name("site", i.site)},
              {"item_code", i.item_code},
              {"item_name", key_name("item", i.item_code)},
              {"state", i.state},
              {"department", i.department},
              {"filed_date", format_date(filed)},
              {"due", i.due ? json(format_date(*i.due)) : json(nullptr)},
              {"age_days", until - filed},
              {"overdue", i.due && until > *i.due},
              {"closed_date", i.closed_at ? json(format_date(date_of(i.closed_at))) : json(nullptr)},
              {"close_kind", i.close_kind},
              {"answer", i.answer}};
    if (!full) return j;
    j["officer"] = i.officer;
    j["detail"] = i.detail;
    json steps = json::array();
    for (const auto& s : i.steps)
      steps.push_back({{"step", s.step}, {"by", s.by}, {"note", s.note}, {"at", format_time(s.at)}});
    j["steps"] = steps;
    return j;
  }

  // A statistics or ranking key's name: a site's or an item's, else the key itself.
  std::string key_name(const std::string& by, const std::string& key) {
    if (by == "site") {
      if (const SiteConfig* site = hub.district().site(key)) return site->name;
    } else if (by == "window") {  // "S01-3": 丈八街道便民服务中心 3号窗口
      const size_t dash = key.rfind('-');
      if (dash != std::string::npos)
        if (const SiteConfig* site = hub.district().site(key.substr(0, dash)))
          return site->name + " " + key.substr(dash + 1) + "号窗口";
    } else if (by == "item") {
      if (const Item* item = hub.district().catalog.find(key)) return item->name;
    }
    return key;
  }

  // `month` (YYYY-MM; default this month): its first day.
  Result<Date> month_param(const http::Request& req) {
    std::string month = req.get_param_value("month");
    if (month.empty()) month = format_date(hub.today()).substr(0, 7);
    const auto first = month.size() == 7 ? parse_date(month + "-01") : std::nullopt;
    if (!first)
      return Status::InvalidArgument("invalid_period", "month 应为 YYYY-MM", "month must be YYYY-MM");
    return *first;
  }

  json ranking_json(const HubStore::RankingRow& r, const std::string& by, bool flags) {
    const auto ratio = [&](int64_t part) {
      return r.ratings ? json(std::round(1000.0 * part / r.ratings) / 1000.0) : json(nullptr);
    };
    const std::string name = key_name(by, r.key);
    json j = {{"rank", r.rank ? json(r.rank) : json(nullptr)},
              {"key", r.key},
              {"name", name},
              {"ratings", r.ratings},
              {"avg", mean_level(r.rating_sum, r.ratings)},
              {"satisfied_rate", ratio(r.satisfied)},
              {"bad", r.bad},
              {"bad_rate", ratio(r.bad)}};
    if (flags) {
      j["bottom_months"] = r.bottom_months;
      j["flagged"] = r.flagged;
    }
    return j;
  }

  static json appeal_json(const CaseState& s) {
    const RatingState& r = *s.rating;
    json indicators = json::object();
    for (const auto& [name, level] : r.indicators) indicators[name] = level;
    return {{"case_id", s.case_id},
            {"site", s.origin},
            {"owner", s.owner},
            {"item_code", s.item_code},
            {"item_name", s.item_name},
            {"level", r.level},
            {"indicators", indicators},
            {"served_by", r.served_by},
            {"rated_date", format_date(r.rated)},
            {"callback_done", r.callback_done ? json(format_date(*r.callback_done)) : json(nullptr)},
            {"evidence", r.appeal_evidence},
            {"appealed_by", r.appealed_by},
            {"appealed_date", r.appealed ? json(format_date(*r.appealed)) : json(nullptr)},
            {"decided_date", r.appeal_decided ? json(format_date(*r.appeal_decided)) : json(nullptr)},
            {"upheld", r.appeal_decided ? json(r.appeal_upheld) : json(nullptr)},
            {"reason", r.appeal_reason},
            {"supervisor", r.appeal_supervisor}};
  }

  // GET /stats: `month` (YYYY-MM) or `from` and `to` (YYYY-MM-DD, at most 366 days), `by`,
  // `site`; each checked (400 on anything else).
  Result<HubStore::StatsQuery> stats_query(const http::Request& req) {
    HubStore::StatsQuery q;
    if (req.has_param("month")) {
      if (req.has_param("from") || req.has_param("to"))
        return Status::InvalidArgument("invalid_period", "month 不与 from/to 同用",
                                       "month is not given with from/to");
      auto first = month_param(req);
      if (!first.ok()) return first.status();
      q.from = *first;
      q.to = last_of_month(*first);
    } else {
      const auto from = parse_date(req.get_param_value("from"));
      const auto to = parse_date(req.get_param_value("to"));
      if (!from || !to || *to < *from || *to - *from > 365)
        return Status::InvalidArgument("invalid_period",
                                       "请给出 month=YYYY-MM，或 from 与 to（YYYY-MM-DD，不超过 366 天）",
                                       "give month=YYYY-MM, or from and to (YYYY-MM-DD, at most 366 days)");
      q.from = *from;
      q.to = *to;
    }
    if (req.has_param("by")) q.by = req.get_param_value("by");
    q.site = req.get_param_value("site");
    if (!q.site.empty() && !hub.district().site(q.site))
      return Status::InvalidArgument("unknown_site", "站点不存在：" + q.site, "no such site");
    return q;
  }

  json stats_row_json(const HubStore::StatsRow& r, const std::string& by) {
    const auto rate = [](int64_t part, int64_t whole) {
      return whole ? json(std::round(1000.0 * part / whole) / 1000.0) : json(nullptr);
    };
    const auto avg = [](int64_t sum, int64_t n) {
      return n ? json(std::round(10.0 * sum / n) / 10.0) : json(nullptr);
    };
    const std::string name = key_name(by, r.key);
    return {{"key", r.key},
            {"name", name},
            {"received", r.received},
            {"concluded", r.concluded},
            {"decided", r.decided},
            {"on_time", r.on_time},
            {"on_time_rate", rate(r.on_time, r.decided)},
            {"avg_used_days", avg(r.used_days, r.decided)},
            {"avg_promised_days", avg(r.promised_days, r.decided)},
            {"avg_legal_days", avg(r.legal_days, r.decided)},
            {"overdue", r.decided - r.on_time},
            {"open_overdue", r.open_overdue},
            {"deemed", r.deemed},
            {"tolerated", r.tolerated},
            {"tolerance_kept", r.tolerance_kept},
            {"tolerance_broken", r.tolerance_broken},
            {"one_visit", r.one_visit},
            {"one_visit_rate", rate(r.one_visit, r.concluded)},
            {"nearest", r.nearest},
            {"nearest_rate", rate(r.nearest, r.concluded)},
            {"ratings", r.ratings},
            {"bad_ratings", r.bad_ratings},
            {"avg_rating", avg(r.rating_sum, r.ratings)}};
  }

  static const std::string* rule_label(const std::string& rule) {
    for (const auto& [name, zh] : rule_names())
      if (name == rule) return &zh;
    return nullptr;
  }

  static json alert_json(const HubStore::Alert& a) {
    json actions = json::array();
    for (const auto& x : a.actions)
      actions.push_back({{"action", x.action}, {"by", x.by}, {"note", x.note},
                         {"due", x.due.empty() ? json(nullptr) : json(x.due)},
                         {"at", format_time(x.at)}});
    const auto sev = severity_from(a.severity);
    const std::string* zh = rule_label(a.rule);
    return {{"id", a.id}, {"rule", a.rule}, {"rule_zh", zh ? *zh : a.rule},
            {"severity", a.severity}, {"severity_zh", sev ? label_zh(*sev) : a.severity},
            {"case_id", a.case_id}, {"site", a.site}, {"department", a.department},
            {"staff", a.staff}, {"detail", a.detail_zh}, {"detail_en", a.detail_en},
            {"raised_at", format_time(a.raised_at)}, {"state", a.state()}, {"actions", actions}};
  }

  // Every failure becomes the bilingual error body.
  http::Handler wrap(Handler handler, int ok_status = 200, Access access = Access::kOperators) {
    return wrap_raw(
        [handler, ok_status](const http::Request& req, http::Response& res) {
          auto out = handler(req, *req.staff);
          if (!out.ok())
            return send_json(res, http_status(out.status().code()), error_json(out.status()));
          send_json(res, ok_status, *out);
        },
        access);
  }
  // The gate of every protected route: the caller's role is admitted before the handler
  // writes `res` (JSON through wrap(); a file, CSV, PDF or protobuf itself).
  http::Handler wrap_raw(http::Handler handler, Access access) {
    return [handler, access](const http::Request& req, http::Response& res) {
      try {
        // The gate admitted a hub account (req.staff) before the body was read.
        if (!req.staff) return send_json(res, 500, error_json(Status::Internal("no session")));
        if (Status s = allowed(*req.staff, access); !s.ok())
          return send_json(res, http_status(s.code()), error_json(s));
        handler(req, res);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: {}", req.method, req.path, e.what());
        send_json(res, 500, error_json(Status::Internal("unexpected error")));
      }
    };
  }


  // 中介超市: the registry (operators write, supervisors suspend and reinstate, anyone reads
  // the public list) and the projects (operators act for their owners).
  static const char* method_zh(const std::string& m) {
    return m == "direct" ? "直接选取" : m == "random" ? "随机抽取" : "竞价选取";
  }

  json intermediary_json(const HubStore::Intermediary& i, bool full) {
    const Date today = hub.today();
    json quals = json::array(), services = json::array();
    for (const auto& q : i.qualifications)
      quals.push_back({{"name", q.name}, {"number", q.number}, {"expires", format_date(q.expires)},
                       {"expired", q.expires < today}});
    for (const auto& [item, service] : i.services)
      services.push_back({{"item_code", item}, {"item_name", key_name("item", item)}, {"service", service}});
    json j = {{"code", i.code},
              {"name", i.name},
              {"qualifications", quals},
              {"services", services},
              {"state", i.suspended_kind.empty() ? "active" : "suspended"},
              {"suspended_kind", i.suspended_kind},
              {"suspended_reason", i.suspended_reason},
              {"suspended_at", time_or_null(i.suspended_at)},
              {"ratings", i.ratings},
              {"avg", mean_level(i.rating_sum, i.ratings)},
              {"low_ratings", i.low_ratings}};
    if (!full) return j;
    j["contact"] = i.contact;
    j["registered_at"] = format_time(i.registered_at);
    j["registered_by"] = i.registered_by;
    return j;
  }

  Result<json> project_json(const HubStore::Project& p) {
    auto names = hub.store().intermediary_names();
    if (!names.ok()) return names.status();
    return project_json(p, *names);
  }

  json project_json(const HubStore::Project& p, const std::map<std::string, std::string>& names) {
    const auto name_of = [&](const std::string& code) -> std::string {
      const auto it = names.find(code);
      return it == names.end() ? code : it->second;
    };
    json quotes = json::array();
    for (const auto& q : p.quotes)
      quotes.push_back({{"code", q.code}, {"name", name_of(q.code)}, {"amount_fen", q.amount_fen},
                        {"at", format_time(q.at)}});
    const Date until = p.completed_at ? date_of(p.completed_at) : hub.today();
    return {{"id", p.id},
            {"owner", p.owner},
            {"owner_code", p.owner_code},
            {"item_code", p.item_code},
            {"item_name", key_name("item", p.item_code)},
            {"title", p.title},
            {"method", p.method},
            {"method_zh", method_zh(p.method)},
            {"state", p.state},
            {"created_at", format_time(p.created_at)},
            {"created_by", p.created_by},
            {"quotes", quotes},
            {"seed", p.seed},
            {"candidates", p.candidates},
            {"chosen", p.chosen},
            {"chosen_name", name_of(p.chosen)},
            {"chosen_by", p.chosen_by},
            {"chosen_why", p.chosen_why},
            {"chosen_at", time_or_null(p.chosen_at)},
            {"amount_fen", p.amount_fen},
            {"due", p.due ? json(format_date(*p.due)) : json(nullptr)},
            {"overdue", p.due && until > *p.due},
            {"completed_at", time_or_null(p.completed_at)},
            {"rating", p.rating ? json(p.rating) : json(nullptr)},
            {"rating_note", p.rating_note},
            {"rated_at", time_or_null(p.rated_at)}};
  }

  // The registry fields of a POST body: contact, qualifications [{name, number, expires}] and
  // services [{item_code, service}] (both bounded before they are read).
  static Result<HubStore::Intermediary> intermediary_body(const json& body) {
    HubStore::Intermediary in;
    for (auto [key, out] : {std::pair{"code", &in.code}, std::pair{"name", &in.name},
                            std::pair{"contact", &in.contact}}) {
      auto v = json_string(body, key);
      if (!v.ok()) return v.status();
      *out = *v;
    }
    const auto list = [&](const char* key, size_t max) -> Result<const json*> {
      auto it = body.find(key);
      if (it == body.end() || !it->is_array() || it->size() > max)
        return Status::InvalidArgument("invalid_field", std::string(key) + " 应为数组（至多 " + std::to_string(max) + " 项）",
                                       std::string(key) + " must be an array of at most " + std::to_string(max));
      for (const json& e : *it)
        if (!e.is_object())
          return Status::InvalidArgument("invalid_field", std::string(key) + " 的每一项应为对象",
                                         std::string(key) + " must hold objects");
      return &*it;
    };
    auto quals = list("qualifications", 20);
    if (!quals.ok()) return quals.status();
    for (const json& q : **quals) {
      HubStore::Qualification out;
      auto name = json_string(q, "name");
      auto number = json_string(q, "number");
      auto expires = json_string(q, "expires");
      for (auto* r : {&name, &number, &expires})
        if (!r->ok()) return r->status();
      const auto d = parse_date(*expires);
      if (!d)
        return Status::InvalidArgument("invalid_qualification", "资质有效期应为 YYYY-MM-DD 日期",
                                       "a qualification's expires must be a date YYYY-MM-DD");
      in.qualifications.push_back({*name, *number, *d});
    }
    auto services = list("services", 200);
    if (!services.ok()) return services.status();
    for (const json& s : **services) {
      auto item = json_string(s, "item_code");
      auto text = json_string(s, "service");
      if (!item.ok()) return item.status();
      if (!text.ok()) return text.status();
      in.services.emplace_back(*item, *text);
    }
    return in;
  }

  void market_routes() {
    server.Post("/api/v1/intermediaries",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto body = parse_json_object(req.body);
                  if (!body.ok()) return body.status();
                  auto in = intermediary_body(*body);
                  if (!in.ok()) return in.status();
                  auto saved = hub.store().save_intermediary(*in, who.username, false);
                  if (!saved.ok()) return saved.status();
                  return intermediary_json(*saved, true);
                }, 201));
    server.Post(R"(/api/v1/intermediaries/([0-9A-Z]{18})/update)",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto body = parse_json_object(req.body);
                  if (!body.ok()) return body.status();
                  auto in = intermediary_body(*body);
                  if (!in.ok()) return in.status();
                  in->code = req.matches[1];
                  auto saved = hub.store().save_intermediary(*in, who.username, true);
                  if (!saved.ok()) return saved.status();
                  return intermediary_json(*saved, true);
                }));
    for (const auto& [path, suspend] : {std::pair{"suspend", true}, std::pair{"reinstate", false}}) {
      const bool s = suspend;
      server.Post(std::string(R"(/api/v1/intermediaries/([0-9A-Z]{18})/)") + path,
                  wrap([this, s](const http::Request& req, const Staff& who) -> Result<json> {
                    auto reason = body_string(req.body, "reason");
                    if (!reason.ok()) return reason.status();
                    auto saved = hub.store().set_suspension(req.matches[1], s, *reason, who.username);
                    if (!saved.ok()) return saved.status();
                    return intermediary_json(*saved, true);
                  }, 200, Access::kSupervisors));
    }
    const auto list = [this](const http::Request& req, bool full) -> Result<json> {
      const std::string item = req.get_param_value("item_code");
      if (!item.empty() && !hub.district().catalog.find(item))
        return Status::InvalidArgument("unknown_item", "事项目录中没有该事项：" + item, "no such item");
      const bool only_eligible = req.get_param_value("eligible") == "1";
      if (only_eligible && item.empty())
        return Status::InvalidArgument("missing_field", "eligible=1 须同时给出 item_code",
                                       "eligible=1 needs item_code");
      auto found = hub.store().intermediaries(item, only_eligible);
      if (!found.ok()) return found.status();
      json out = json::array();
      for (const auto& i : *found) out.push_back(intermediary_json(i, full));
      return json{{"intermediaries", out}};
    };
    server.Get("/api/v1/intermediaries",
               wrap([list](const http::Request& req, const Staff&) { return list(req, true); }, 200,
                    Access::kHubStaff));
    server.Get(
        "/api/v1/public/intermediaries",
        [list](const http::Request& req, http::Response& res) {
          auto out = list(req, false);
          if (!out.ok()) return send_json(res, http_status(out.status().code()), error_json(out.status()));
          send_json(res, 200, *out);
        },
        http::RouteOptions{.open = true});
    server.Get(R"(/api/v1/intermediaries/([0-9A-Z]{18}))",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto i = hub.store().intermediary(req.matches[1]);
                 if (!i.ok()) return i.status();
                 auto log = hub.store().market_log(i->code, 200);
                 if (!log.ok()) return log.status();
                 json j = intermediary_json(*i, true), entries = json::array();
                 for (const auto& e : *log)
                   entries.push_back({{"at", format_time(e.at)}, {"by", e.by}, {"what", e.what},
                                      {"note", e.note}, {"project_id", e.project ? json(e.project) : json(nullptr)}});
                 j["log"] = entries;
                 return j;
               }, 200, Access::kHubStaff));
    server.Post("/api/v1/intermediary-projects",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto body = parse_json_object(req.body);
                  if (!body.ok()) return body.status();
                  HubStore::NewProject in;
                  for (auto [key, out] : {std::pair{"owner", &in.owner}, std::pair{"owner_code", &in.owner_code},
                                          std::pair{"item_code", &in.item_code}, std::pair{"title", &in.title},
                                          std::pair{"method", &in.method}}) {
                    auto v = json_string(*body, key);
                    if (!v.ok()) return v.status();
                    *out = *v;
                  }
                  auto p = hub.store().create_project(in, who.username);
                  if (!p.ok()) return p.status();
                  return project_json(*p);
                }, 201));
    server.Get("/api/v1/intermediary-projects",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 const std::string state = req.get_param_value("state");
                 if (!state.empty() && state != "open" && state != "selected" && state != "contracted" &&
                     state != "completed" && state != "rated")
                   return Status::InvalidArgument("invalid_state", "state 应为 open/selected/contracted/completed/rated",
                                                  "state must be open, selected, contracted, completed or rated");
                 auto found = hub.store().projects(state, req.get_param_value("code"));
                 if (!found.ok()) return found.status();
                 json out = json::array();
                 auto names = hub.store().intermediary_names();
                 if (!names.ok()) return names.status();
                 for (const auto& p : *found) out.push_back(project_json(p, *names));
                 return json{{"projects", out}};
               }, 200, Access::kHubStaff));
    server.Get(R"(/api/v1/intermediary-projects/([0-9]{1,18}))",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto p = hub.store().project(std::stoll(req.matches[1]));
                 if (!p.ok()) return p.status();
                 return project_json(*p);
               }, 200, Access::kHubStaff));
    for (const char* step : {"quote", "select", "contract", "complete", "rate"}) {
      const std::string act_step = step;
      server.Post(std::string(R"(/api/v1/intermediary-projects/([0-9]{1,18})/)") + step,
                  wrap([this, act_step](const http::Request& req, const Staff& who) -> Result<json> {
                    auto body = parse_json_object(req.body);
                    if (!body.ok()) return body.status();
                    HubStore::ProjectAct act;
                    act.step = act_step;
                    act.by = who.username;
                    for (auto [key, out] : {std::pair{"code", &act.code}, std::pair{"note", &act.note}}) {
                      auto v = json_string(*body, key);
                      if (!v.ok()) return v.status();
                      *out = *v;
                    }
                    // Numbers of the wrong type become values the store refuses, in its words.
                    if (auto it = body->find("amount_fen"); it != body->end())
                      act.amount_fen = it->is_number_integer() ? it->get<int64_t>() : -1;
                    if (auto it = body->find("level"); it != body->end())
                      act.level = it->is_number_integer() && it->get<int64_t>() >= 1 && it->get<int64_t>() <= 5
                                      ? it->get<int>() : -1;
                    auto due = json_string(*body, "due");
                    if (!due.ok()) return due.status();
                    if (!due->empty()) {
                      act.due = parse_date(*due);
                      if (!act.due)
                        return Status::InvalidArgument("invalid_due", "服务期限应为 YYYY-MM-DD 日期",
                                                       "due must be a date YYYY-MM-DD");
                    }
                    auto p = hub.store().act_on_project(std::stoll(req.matches[1]), act);
                    if (!p.ok()) return p.status();
                    return project_json(*p);
                  }));
    }
  }

  // The monthly supervision report: its figures (JSON) and the PDF (月度监察报告).
  json report_json(const MonthlyReport& r) {
    const auto site_json = [](const MonthlyReport::SiteRow& s) {
      return json{{"site", s.site}, {"name", s.name}, {"received", s.received},
                  {"concluded", s.concluded}, {"decided", s.decided}, {"on_time", s.on_time},
                  {"used_days", s.used_days}, {"promised_days", s.promised_days},
                  {"open_overdue", s.open_overdue}, {"nearest", s.nearest}, {"one_visit", s.one_visit}};
    };
    json sites = json::array(), alerts = json::array();
    for (const auto& s : r.sites) sites.push_back(site_json(s));
    for (const auto& a : r.alerts)
      alerts.push_back({{"rule", a.rule}, {"rule_zh", a.name_zh}, {"severity", a.severity},
                        {"raised", a.raised}, {"open", a.open}});
    const auto& l = r.loop;
    return {{"district", r.district},
            {"month", format_date(r.month).substr(0, 7)},
            {"generated_at", format_time(r.generated_at)},
            {"sites", sites},
            {"total", site_json(r.total)},
            {"alerts", alerts},
            {"rating_levels", r.rating_levels},
            {"loop", {{"bad", l.bad}, {"called_back", l.called_back}, {"appealed", l.appealed},
                      {"upheld", l.upheld}, {"rectified", l.rectified}, {"followed_up", l.followed_up},
                      {"callback_days", std::round(10 * l.callback_days) / 10},
                      {"rectify_days", std::round(10 * l.rectify_days) / 10}, {"overdue", l.overdue}}}};
  }

  void report_routes() {
    server.Get("/api/v1/reports/monthly",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto month = month_param(req);
                 if (!month.ok()) return month.status();
                 auto r = hub.store().monthly_report(*month);
                 if (!r.ok()) return r.status();
                 return report_json(*r);
               }, 200, Access::kHubStaff));
    server.Get("/api/v1/reports/monthly.pdf", wrap_raw([this](const http::Request& req, http::Response& res) {
      auto month = month_param(req);
      auto r = month.ok() ? hub.store().monthly_report(*month) : Result<MonthlyReport>(month.status());
      auto pdf = r.ok() ? render_report_pdf(*r) : Result<std::string>(r.status());
      if (!pdf.ok()) return send_json(res, http_status(pdf.status().code()), error_json(pdf.status()));
      const std::string name = "report-" + format_date(*month).substr(0, 7) + ".pdf";
      res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + "\"");
      res.set_content(std::move(*pdf), "application/pdf");
    }, Access::kHubStaff));
  }

  // The alerts as rows of text, the header first (the CSV's and the XLSX's).
  std::vector<std::vector<std::string>> alert_rows(const std::vector<HubStore::Alert>& alerts) {
    std::vector<std::vector<std::string>> rows = {
        {"编号", "预警时间", "等级", "规则", "办件编号", "站点", "部门", "经办人", "情况", "状态", "处理记录"}};
    for (const auto& a : alerts) {
      const json j = alert_json(a);
      std::string handled;
      for (const auto& x : a.actions)
        handled += (handled.empty() ? "" : "；") + format_time(x.at) + " " + x.by + " " +
                   (x.action == "acknowledged" ? "确认"
                    : x.action == "answered"   ? std::string("站点答复")
                                               : "责令整改（" + x.due + "前）") +
                   "：" + x.note;
      const std::string st = a.state();
      const std::string state = st == "open"           ? "待处理"
                                : st == "acknowledged" ? "已确认"
                                : st == "answered"     ? "已答复"
                                                       : "整改中";
      rows.push_back({std::to_string(a.id), j["raised_at"], j["severity_zh"], j["rule_zh"], a.case_id,
                      a.site, a.department, a.staff, a.detail_zh, state, handled});
    }
    return rows;
  }

  static std::string csv_text(const std::vector<std::vector<std::string>>& rows) {
    const auto cell = [](const std::string& v) {
      std::string out = "\"";
      for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
      // A cell a spreadsheet would run as a formula is kept as text.
      if (!v.empty() && std::string("=+-@\t\r").find(v[0]) != std::string::npos) out.insert(1, "'");
      return out + "\"";
    };
    std::string csv = "\xEF\xBB\xBF";
    for (size_t r = 0; r < rows.size(); ++r) {
      for (size_t c = 0; c < rows[r].size(); ++c)
        csv += (c ? "," : "") + (r == 0 || c == 0 ? rows[r][c] : cell(rows[r][c]));
      csv += "\r\n";
    }
    return csv;
  }

  void routes() {
    const http::RouteOptions open{.open = true};
    const http::RouteOptions upload{.max_body = kMaxUploadBytes};
    market_routes();
    report_routes();
    server.Get(
        "/api/v1/healthz",
        [this](const http::Request&, http::Response& res) {
          json out = {{"status", "ok"}, {"hub", hub.district().hub_id}};
          // A restored hub waiting for sites' returns writes nothing to them yet.
          if (auto awaited = hub.store().awaited_returns(); !awaited.empty())
            out["restoring"] = {{"awaiting_sites", awaited}};
          // Sites' events stored (acknowledged) whose projection has not caught up yet.
          out["projection"] = {{"pending_events", hub.store().projection_backlog()}};
          send_json(res, 200, out);
        },
        open);
    server.Post("/api/v1/login", [this](const http::Request& req, http::Response& res) {
      const json j = json::parse(req.body, nullptr, false);
      if (!j.is_object())
        return send_json(
            res, 400,
            error_json(Status::InvalidArgument("invalid_json", "请求内容不是合法的JSON",
                                               "request body is not valid JSON")));
      auto user = json_string(j, "username");
      auto pass = json_string(j, "password");
      if (!user.ok() || !pass.ok())
        return send_json(res, 400, error_json(user.ok() ? pass.status() : user.status()));
      auto s = staff.login(*user, *pass, req.remote_addr);
      if (!s.ok()) return send_json(res, http_status(s.status().code()), error_json(s.status()));
      send_json(res, 200,
                {{"token", s->token},
                 {"username", s->staff.username},
                 {"display_name", s->staff.display_name},
                 {"role", to_string(s->staff.role)},
                 {"role_zh", label_zh(s->staff.role)},
                 {"expires_at", format_time(s->expires_at)}});
    }, open);

    server.Post("/api/v1/logout",
                wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                  TB_RETURN_IF_ERROR(staff.logout(bearer_token(req)));
                  return json{{"ok", true}};
                }, 200, Access::kAnyone));

    server.Post("/api/v1/password",
                wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                  return change_own_password(staff, req);
                }, 200, Access::kAnyone));

    server.Get("/api/v1/cases",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto q = case_query_from(req, hub.keyring());
                 if (!q.ok()) return q.status();
                 auto found = hub.search(*q);
                 if (!found.ok()) return found.status();
                 return search_result_json(*q, *found);
               }, 200, Access::kHubStaff));

    server.Get(R"(/api/v1/cases/([A-Za-z0-9-]+))",
               wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                 // The hub stores personal fields sealed; an operator opens them only with
                 // a stated reason, and every such read is recorded.
                 const std::string reveal = req.get_param_value("reveal");
                 if (!reveal.empty() && reveal != "1" && reveal != "0")
                   return Status::InvalidArgument("invalid_reveal", "reveal 应为 1 或 0",
                                                  "reveal must be 1 or 0");
                 auto s = reveal == "1"
                              ? hub.reveal_case(req.matches[1], who.username,
                                                req.get_param_value("reason"))
                              : hub.get_case(req.matches[1]);
                 if (!s.ok()) return s.status();
                 const District& d = hub.district();
                 json out = case_to_json(*s, hub.today(), d.calendar, d.yellow_days);
                 // The same resident's other open applications for the item, at any site.
                 auto twins = hub.open_duplicates(s->case_id, 1);
                 if (!twins.ok()) return twins.status();
                 json same = json::array();
                 for (const auto& group : *twins)
                   for (const CaseSummary& c : group)
                     if (c.case_id != s->case_id) same.push_back(summary_to_json(c));
                 out["same_applicant_open"] = same;
                 return out;
               }, 200, Access::kHubStaff));

    // 电子材料: the case's documents as the hub holds them, and one file for an operator who
    // states a reason (?reason=, recorded with the personal-data reads).
    server.Get(R"(/api/v1/cases/([A-Za-z0-9-]+)/documents)",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto s = hub.get_case(req.matches[1]);
                 if (!s.ok()) return s.status();
                 auto held = hub.documents(s->case_id);
                 if (!held.ok()) return held.status();
                 return documents_to_json(*s, *held);
               }, 200, Access::kHubStaff));
    server.Get(R"(/api/v1/cases/([A-Za-z0-9-]+)/documents/([0-9a-f]{64}))",
               wrap_raw([this](const http::Request& req, http::Response& res) {
                 Hash32 hash{};
                 (void)from_hex(std::string(req.matches[2]), hash);
                 auto file = hub.read_document(req.matches[1], hash, req.staff->username,
                                               req.get_param_value("reason"));
                 if (!file.ok())
                   return send_json(res, http_status(file.status().code()), error_json(file.status()));
                 send_file(res, file->mime, file->file_name, std::move(file->content));
               }, Access::kHubStaff));

    server.Get("/api/v1/audit/personal-reads",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto limit = list_limit(req, 500);
                 if (!limit.ok()) return limit.status();
                 auto reads = hub.personal_reads(*limit);
                 if (!reads.ok()) return reads.status();
                 json list = json::array();
                 for (const auto& r : *reads)
                   list.push_back({{"at", format_time(r.at)},
                                   {"by", r.by},
                                   {"case_id", r.case_id},
                                   {"reason", r.reason}});
                 return json{{"reads", list}, {"count", list.size()}};
               }, 200, Access::kHubStaff));

    // Every clerk's break-glass lookup of a resident across sites (who, where, why).
    server.Get("/api/v1/audit/resident-lookups",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto limit = list_limit(req, 500);
                 if (!limit.ok()) return limit.status();
                 auto lookups = hub.resident_lookups(*limit);
                 if (!lookups.ok()) return lookups.status();
                 json list = json::array();
                 for (const auto& l : *lookups)
                   list.push_back({{"at", format_time(l.at)},
                                   {"site", l.site},
                                   {"by", l.by},
                                   {"applicant_id", l.applicant_id},
                                   {"reason", l.reason},
                                   {"cases_shown", l.hits}});
                 return json{{"lookups", list}, {"count", list.size()}};
               }, 200, Access::kHubStaff));

    // 容缺 granted despite a commitment broken elsewhere (the granting site was offline).
    server.Get("/api/v1/tolerance-breaches",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto limit = list_limit(req, 500);
                 if (!limit.ok()) return limit.status();
                 auto breaches = hub.tolerance_breaches(*limit);
                 if (!breaches.ok()) return breaches.status();
                 json list = json::array();
                 for (const auto& b : *breaches)
                   list.push_back({{"case_id", b.case_id},
                                   {"site", b.site},
                                   {"applicant_id", b.applicant_id},
                                   {"at", format_time(b.at)}});
                 return json{{"breaches", list}, {"count", list.size()}};
               }, 200, Access::kHubStaff));

    server.Get("/api/v1/duplicates",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto limit = list_limit(req, 500);
                 if (!limit.ok()) return limit.status();
                 auto groups = hub.open_duplicates("", *limit);
                 if (!groups.ok()) return groups.status();
                 json list = json::array();
                 for (const auto& group : *groups) {
                   json cases = json::array();
                   for (const CaseSummary& c : group) cases.push_back(summary_to_json(c));
                   list.push_back({{"item_code", group.empty() ? "" : group[0].item_code},
                                   {"cases", cases}});
                 }
                 return json{{"groups", list}, {"count", list.size()}};
               }, 200, Access::kHubStaff));

    server.Get(R"(/api/v1/cases/([A-Za-z0-9-]+)/events)",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto events = hub.case_events(req.matches[1]);
                 if (!events.ok()) return events.status();
                 return case_events_json(req.matches[1], *events);
               }, 200, Access::kHubStaff));

    // 电子监察: the alerts the rules raised, filtered; a supervisor acknowledges one or
    // orders the site to rectify by a date.
    server.Get("/api/v1/alerts",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto q = alert_query(req, 500, 100);
                 if (!q.ok()) return q.status();
                 auto found = hub.alerts(*q);
                 if (!found.ok()) return found.status();
                 json list = json::array();
                 for (const auto& a : found->first) list.push_back(alert_json(a));
                 return json{{"alerts", list}, {"count", found->second}, {"limit", q->limit},
                             {"offset", q->offset}};
               }, 200, Access::kHubStaff));
    // The district's rules as the hub runs them (names, severities, thresholds).
    server.Get("/api/v1/alerts/rules",
               wrap([this](const http::Request&, const Staff&) -> Result<json> {
                 const SupervisionRules& rules = hub.supervision_rules();
                 json list = json::array();
                 for (const auto& [name, zh] : rule_names()) {
                   const auto it = rules.rules.find(name);
                   if (it == rules.rules.end()) continue;
                   list.push_back({{"rule", name}, {"rule_zh", zh}, {"enabled", it->second.enabled},
                                   {"severity", to_string(it->second.severity)},
                                   {"severity_zh", label_zh(it->second.severity)},
                                   {"limit", it->second.limit}});
                 }
                 return json{{"rules", list}};
               }, 200, Access::kHubStaff));
    // The list as a spreadsheet: CSV (UTF-8 with a BOM, so Excel opens the Chinese as
    // Chinese) or XLSX (libxlsxwriter); the same rows.
    for (const bool xlsx : {false, true}) {
      server.Get(xlsx ? "/api/v1/alerts.xlsx" : "/api/v1/alerts.csv",
                 wrap_raw([this, xlsx](const http::Request& req, http::Response& res) {
        auto q = alert_query(req, 100000, 100000);
        auto found = q.ok() ? hub.alerts(*q) : Result<std::pair<std::vector<HubStore::Alert>, int64_t>>(q.status());
        if (!found.ok())
          return send_json(res, http_status(found.status().code()), error_json(found.status()));
        const auto rows = alert_rows(found->first);
        if (!xlsx) {
          res.headers.emplace_back("Content-Disposition", "attachment; filename=\"alerts.csv\"");
          return res.set_content(csv_text(rows), "text/csv; charset=utf-8");
        }
        auto book = xlsx_book(rows, "电子监察预警");
        if (!book.ok()) return send_json(res, http_status(book.status().code()), error_json(book.status()));
        res.headers.emplace_back("Content-Disposition", "attachment; filename=\"alerts.xlsx\"");
        res.set_content(std::move(*book), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
      }, Access::kHubStaff));
    }
    // 电子监察's statistics over a period, grouped by site, department, item or staff.
    server.Get("/api/v1/stats",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto q = stats_query(req);
                 if (!q.ok()) return q.status();
                 auto stats = hub.statistics(*q);
                 if (!stats.ok()) return stats.status();
                 json rows = json::array();
                 for (const auto& r : stats->rows) rows.push_back(stats_row_json(r, q->by));
                 return json{{"from", format_date(q->from)}, {"to", format_date(q->to)},
                             {"by", q->by}, {"site", q->site}, {"rows", rows},
                             {"total", stats_row_json(stats->total, "")}};
               }, 200, Access::kHubStaff));
    // 好差评: 申诉复核 of the sites' appeals, and the monthly rankings (also public, by site).
    server.Get("/api/v1/rating-appeals",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 const std::string state = req.has_param("state") ? req.get_param_value("state") : "pending";
                 if (state != "pending" && state != "decided")
                   return Status::InvalidArgument("invalid_state", "state 应为 pending 或 decided",
                                                  "state must be pending or decided");
                 auto found = hub.rating_appeals(state == "pending", 500);
                 if (!found.ok()) return found.status();
                 json list = json::array();
                 for (const CaseState& s : *found) list.push_back(appeal_json(s));
                 return json{{"appeals", list}};
               }, 200, Access::kHubStaff));
    server.Post(R"(/api/v1/rating-appeals/([A-Za-z0-9-]+)/decide)",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto body = parse_json_object(req.body);
                  if (!body.ok()) return body.status();
                  auto upheld = body->find("upheld");
                  if (upheld == body->end() || !upheld->is_boolean())
                    return Status::InvalidArgument("invalid_field",
                                                   "upheld 应为 true（申诉成立）或 false（不成立）",
                                                   "upheld must be true or false");
                  auto reason = json_string(*body, "reason");
                  if (!reason.ok()) return reason.status();
                  auto s = hub.decide_appeal(req.matches[1], upheld->get<bool>(), *reason, who.username);
                  if (!s.ok()) return s.status();
                  return appeal_json(*s);
                }, 201, Access::kSupervisors));
    server.Get("/api/v1/ratings/rankings",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto month = month_param(req);
                 if (!month.ok()) return month.status();
                 const std::string by = req.has_param("by") ? req.get_param_value("by") : "site";
                 auto rows = hub.rankings(by, *month);
                 if (!rows.ok()) return rows.status();
                 json list = json::array();
                 for (const auto& r : *rows) list.push_back(ranking_json(r, by, true));
                 const SupervisionRules& rules = hub.supervision_rules();
                 return json{{"month", format_date(*month).substr(0, 7)}, {"by", by},
                             {"bottom_months", rules.ranking_bottom_months},
                             {"min_ratings", rules.ranking_min_ratings}, {"rows", list}};
               }, 200, Access::kHubStaff));
    // Published: the sites' ranking of a month, nothing personal and no staff (no login).
    server.Get(
        "/api/v1/public/ratings",
        [this](const http::Request& req, http::Response& res) {
          auto month = month_param(req);
          auto rows = month.ok() ? hub.rankings("site", *month)
                                 : Result<std::vector<HubStore::RankingRow>>(month.status());
          if (!rows.ok())
            return send_json(res, http_status(rows.status().code()), error_json(rows.status()));
          json list = json::array();
          for (const auto& r : *rows) list.push_back(ranking_json(r, "site", false));
          send_json(res, 200, {{"district", hub.district().name},
                               {"month", format_date(*month).substr(0, 7)},
                               {"sites", list}});
        },
        open);
    // 改革体验官: supervisors register officers; officers file issues; operators assign and
    // record answers; the officer confirms (销号) or reopens; a supervisor may overrule.
    server.Post("/api/v1/officers",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto body = parse_json_object(req.body);
                  if (!body.ok()) return body.status();
                  HubStore::Officer o;
                  for (auto [key, out] : {std::pair{"username", &o.username}, std::pair{"name", &o.name},
                                          std::pair{"organization", &o.organization}}) {
                    auto v = json_string(*body, key);
                    if (!v.ok()) return v.status();
                    *out = *v;
                  }
                  for (auto [key, out] : {std::pair{"term_from", &o.term_from}, std::pair{"term_to", &o.term_to}}) {
                    auto v = json_string(*body, key);
                    if (!v.ok()) return v.status();
                    const auto d = parse_date(*v);
                    if (!d)
                      return Status::InvalidArgument("invalid_term", "聘期起止应为 YYYY-MM-DD 日期",
                                                     "term_from and term_to must be dates YYYY-MM-DD");
                    *out = *d;
                  }
                  o.registered_by = who.username;
                  const std::string password = random_token().substr(0, 20);
                  auto done = hub.register_officer(o, password);
                  if (!done.ok()) return done.status();
                  json j = officer_json(*done);
                  j["initial_password"] = password;  // shown once: the officer changes it
                  return j;
                }, 201, Access::kSupervisors));
    server.Get("/api/v1/officers",
               wrap([this](const http::Request&, const Staff&) -> Result<json> {
                 auto list = hub.officers();
                 if (!list.ok()) return list.status();
                 json out = json::array();
                 for (const auto& o : *list) out.push_back(officer_json(o));
                 return json{{"officers", out}};
               }, 200, Access::kHubStaff));
    server.Post("/api/v1/officer-issues",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto body = parse_json_object(req.body);
                  if (!body.ok()) return body.status();
                  HubStore::NewIssue in;
                  for (auto [key, out] : {std::pair{"title", &in.title}, std::pair{"detail", &in.detail},
                                          std::pair{"site", &in.site}, std::pair{"item_code", &in.item_code}}) {
                    auto v = json_string(*body, key);
                    if (!v.ok()) return v.status();
                    *out = *v;
                  }
                  auto issue = hub.file_issue(who.username, in);
                  if (!issue.ok()) return issue.status();
                  return issue_json(*issue, true);
                }, 201, Access::kOfficers));
    server.Get("/api/v1/officer-issues",
               wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                 const std::string state = req.get_param_value("state");
                 if (!state.empty() && state != "filed" && state != "assigned" && state != "answered" &&
                     state != "closed")
                   return Status::InvalidArgument("invalid_state", "state 应为 filed/assigned/answered/closed",
                                                  "state must be filed, assigned, answered or closed");
                 // An officer sees their own issues; the hub's staff every one.
                 auto list = hub.issues(who.role == Role::kOfficer ? who.username : "", state);
                 if (!list.ok()) return list.status();
                 json out = json::array();
                 for (const auto& i : *list) out.push_back(issue_json(i, true));
                 return json{{"issues", out}};
               }, 200, Access::kAnyone));
    for (const auto& [path, step, access] :
         {std::tuple{"assign", "assigned", Access::kOperators}, std::tuple{"answer", "answered", Access::kOperators},
          std::tuple{"confirm", "confirmed", Access::kOfficers}, std::tuple{"reopen", "reopened", Access::kOfficers},
          std::tuple{"overrule", "overruled", Access::kSupervisors}}) {
      const std::string act_step = step;
      server.Post(std::string(R"(/api/v1/officer-issues/([0-9]{1,18})/)") + path,
                  wrap([this, act_step](const http::Request& req, const Staff& who) -> Result<json> {
                    auto body = parse_json_object(req.body);
                    if (!body.ok()) return body.status();
                    HubStore::IssueAct act{act_step, who.username, "", "", std::nullopt};
                    for (auto [key, out] : {std::pair{"note", &act.note}, std::pair{"department", &act.department}}) {
                      auto v = json_string(*body, key);
                      if (!v.ok()) return v.status();
                      *out = *v;
                    }
                    for (const char* alias : {"answer", "reason"}) {  // the same text by its name
                      auto v = json_string(*body, alias);
                      if (!v.ok()) return v.status();
                      if (!v->empty()) act.note = *v;
                    }
                    auto due = json_string(*body, "due");
                    if (!due.ok()) return due.status();
                    if (!due->empty()) act.due = parse_date(*due);
                    auto issue = hub.act_on_issue(std::stoll(req.matches[1]), act);
                    if (!issue.ok()) return issue.status();
                    return issue_json(*issue, true);
                  }, 200, access));
    }
    // Published: the issues, their ages and overdue ones, without officers or details.
    server.Get(
        "/api/v1/public/officer-issues",
        [this](const http::Request&, http::Response& res) {
          auto list = hub.issues("", "", true);
          if (!list.ok())
            return send_json(res, http_status(list.status().code()), error_json(list.status()));
          json out = json::array();
          for (const auto& i : *list) out.push_back(issue_json(i, false));
          send_json(res, 200, {{"district", hub.district().name}, {"issues", out}});
        },
        open);
    for (const char* action : {"acknowledge", "rectify"}) {
      server.Post(std::string(R"(/api/v1/alerts/([0-9]{1,18})/)") + action,
                  wrap([this, action](const http::Request& req, const Staff& who) -> Result<json> {
                    auto body = parse_json_object(req.body);
                    if (!body.ok()) return body.status();
                    auto note = json_string(*body, "note");
                    if (!note.ok()) return note.status();
                    if (note->size() < 4 || note->size() > 1000)
                      return Status::InvalidArgument("note_required", "请填写处理意见（4 至 1000 字节）",
                                                     "note: 4-1000 bytes");
                    // It travels to the site in a signed event: clean text only.
                    TB_RETURN_IF_ERROR(validate_text(*note, "处理意见", "note", 1000, true));
                    HubStore::AlertAction a{"acknowledged", who.username, *note, "", 0};
                    if (std::string(action) == "rectify") {
                      a.action = "rectification_ordered";
                      auto due = json_string(*body, "due");
                      if (!due.ok()) return due.status();
                      const auto d = parse_date(*due);
                      if (!d || *d <= hub.today() || *d > hub.today() + 366)
                        return Status::InvalidArgument("invalid_due", "整改期限应为今后一年内的日期 YYYY-MM-DD",
                                                       "due must be a date YYYY-MM-DD within the coming year");
                      a.due = format_date(*d);
                    }
                    auto done = hub.act_on_alert(std::stoll(req.matches[1]), a);
                    if (!done.ok()) return done.status();
                    return alert_json(*done);
                  }, 201, Access::kSupervisors));
    }

    // 跨区通办: hand a case over (to: a site, or absent for the dispatch rules).
    server.Post(R"(/api/v1/cases/([A-Za-z0-9-]+)/handover)",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto body = parse_json_object(req.body);
                  if (!body.ok()) return body.status();
                  auto to = json_string(*body, "to");
                  if (!to.ok()) return to.status();
                  auto reason = json_string(*body, "reason");
                  if (!reason.ok()) return reason.status();
                  auto part = json_string(*body, "part");
                  if (!part.ok()) return part.status();
                  auto s = hub.hand_over(req.matches[1], *to, *reason, who.username, *part);
                  if (!s.ok()) return s.status();
                  const District& d = hub.district();
                  return case_to_json(*s, hub.today(), d.calendar, d.yellow_days);
                }));

    // A restored hub waits for every site to return what it lost; an operator stops
    // waiting for one that cannot answer (docs/protocol.md "Backups").
    server.Post(R"(/api/v1/sites/([A-Za-z0-9_-]+)/return-waiver)",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto reason = body_string(req.body, "reason");
                  if (!reason.ok()) return reason.status();
                  TB_RETURN_IF_ERROR(
                      hub.store().waive_return(req.matches[1], *reason, who.username));
                  return json{{"site", std::string(req.matches[1])},
                              {"still_awaited", hub.store().awaited_returns()}};
                }));

    server.Post(R"(/api/v1/cases/([A-Za-z0-9-]+)/resolve-conflict)",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto reason = body_string(req.body, "reason");
                  if (!reason.ok()) return reason.status();
                  auto s = hub.resolve_conflict(req.matches[1], *reason, who.username);
                  if (!s.ok()) return s.status();
                  const District& d = hub.district();
                  return case_to_json(*s, hub.today(), d.calendar, d.yellow_days);
                }));

    server.Get("/api/v1/dispatch",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 const std::string state =
                     req.has_param("state") ? req.get_param_value("state") : "dispatched";
                 double stuck_hours = 8;
                 if (req.has_param("stuck_hours")) {
                   auto h = int_param(req.get_param_value("stuck_hours"), 1, 2000);
                   if (!h)
                     return Status::InvalidArgument("invalid_stuck_hours",
                                                    "stuck_hours 应为 1 至 2000 的整数",
                                                    "stuck_hours must be a whole number 1..2000");
                   stuck_hours = *h;
                 }
                 bool stuck_only = false;
                 if (req.has_param("stuck")) {
                   const std::string stuck = req.get_param_value("stuck");
                   if (stuck != "0" && stuck != "1")
                     return Status::InvalidArgument("invalid_stuck", "stuck 应为 0 或 1",
                                                    "stuck must be 0 or 1");
                   stuck_only = stuck == "1";
                 }
                 auto limit = list_limit(req, 500);
                 if (!limit.ok()) return limit.status();
                 auto queue = hub.dispatch_queue(state, stuck_hours, stuck_only, *limit);
                 if (!queue.ok()) return queue.status();
                 json list = json::array();
                 for (const auto& e : *queue) {
                   json j = summary_to_json(e.c);
                   j["waited_working_hours"] = std::round(e.waited_working_hours * 10) / 10;
                   j["stuck"] = e.stuck;
                   list.push_back(std::move(j));
                 }
                 return json{{"state", state}, {"stuck_hours", stuck_hours},
                             {"cases", list}, {"count", list.size()}};
               }, 200, Access::kHubStaff));

    server.Get("/api/v1/conflicts",
               wrap([this](const http::Request& req, const Staff&) -> Result<json> {
                 auto parsed = case_query_from(req, hub.keyring());  // the filters of GET /cases
                 if (!parsed.ok()) return parsed.status();
                 CaseQuery q = std::move(*parsed);
                 q.conflict_only = true;
                 if (!req.has_param("limit")) q.limit = 500;
                 auto found = hub.search(q);
                 if (!found.ok()) return found.status();
                 return search_result_json(q, *found);
               }, 200, Access::kHubStaff));

    // Restoring a replaced site (tongban restore --from-hub): its own chain, page by page.
    server.Get(R"(/api/v1/sites/([A-Z0-9]+)/restore)", wrap_raw([this](const http::Request& req, http::Response& res) {
      const std::string from_text = req.get_param_value("from");
      const auto from = from_text.empty() ? std::optional<int>(1) : int_param(from_text, 1, 2000000000);
      const std::string limit_text = req.get_param_value("limit");
      const auto limit = limit_text.empty() ? std::optional<int>(5000) : int_param(limit_text, 1, 20000);
      if (!from || !limit)
        return send_json(res, 400,
                         error_json(Status::InvalidArgument(
                             "invalid_range", "from 应为正整数，limit 应为 1–20000",
                             "from must be a whole number >= 1 and limit 1-20000")));
      auto page = hub.restore_page(req.matches[1], static_cast<uint64_t>(*from),
                                   static_cast<size_t>(*limit));
      if (!page.ok())
        return send_json(res, http_status(page.status().code()), error_json(page.status()));
      spdlog::info("restore page of {} from seq {} read by {}", std::string(req.matches[1]), *from,
                   req.staff->username);
      res.set_content(std::move(*page), "application/x-protobuf");
    }, Access::kOperators));

    server.Get("/api/v1/sites", wrap([this](const http::Request&, const Staff&) -> Result<json> {
                 const auto or_null = [](const auto& v) { return v ? json(*v) : json(nullptr); };
                 auto states = hub.sync_states();
                 if (!states.ok()) return states.status();
                 auto counts = hub.clock_counts();
                 if (!counts.ok()) return counts.status();
                 std::map<std::string, json> cases;
                 for (const ClockCounts& c : *counts)
                   cases[c.owner] = {{"open", c.open}, {"normal", c.normal}, {"yellow", c.yellow},
                                     {"red", c.red}, {"paused", c.paused}};
                 const json none = {{"open", 0}, {"normal", 0}, {"yellow", 0}, {"red", 0},
                                    {"paused", 0}};
                 const auto awaited = hub.store().awaited_returns();
                 json list = json::array();
                 for (const SiteSyncState& s : *states)
                   list.push_back({{"site", s.site},
                                   {"return_awaited", std::find(awaited.begin(), awaited.end(),
                                                                s.site) != awaited.end()},
                                   {"cases", cases.count(s.site) ? cases[s.site] : none},
                                   {"name", s.name},
                                   {"kind", s.kind},
                                   {"provisioned", s.provisioned},
                                   {"link", to_string(s.link)},
                                   {"since", time_or_null(s.since)},
                                   {"last_contact", time_or_null(s.last_contact)},
                                   {"head_seq", or_null(s.head_seq)},
                                   {"acked_seq", s.acked_seq},
                                   {"events_behind", or_null(s.events_behind())},
                                   {"seconds_behind", or_null(s.seconds_behind())},
                                   {"stream_head", s.stream_head},
                                   {"delivered_seq", s.delivered_seq},
                                   {"fork", s.fork_seq == 0
                                                ? json(nullptr)
                                                : json{{"seq", s.fork_seq},
                                                       {"detected_at", format_time(s.fork_detected)},
                                                       {"message", s.fork_message}}}});
                 return json{{"sites", list}};
               }, 200, Access::kHubStaff));

    server.Post("/api/v1/catalog",
                wrap(
                    [this](const http::Request& req, const Staff& who) -> Result<json> {
                      auto version = hub.publish_catalog(req.body, who.username);
                      if (!version.ok()) return version.status();
                      on_stream_change();
                      return json{{"version", *version}, {"sites", hub.district().sites.size()}};
                    },
                    201),
                upload);

    server.Get("/api/v1/catalog",
               wrap([this](const http::Request&, const Staff&) -> Result<json> {
                 auto version = hub.catalog_version();
                 if (!version.ok()) return version.status();
                 const Catalog& catalog = hub.district().catalog;
                 const auto departments = catalog.departments();
                 json items = json::array();
                 for (const Item& i : catalog.items())
                   items.push_back({{"code", i.code}, {"name", i.name}, {"department", i.department}});
                 return json{{"version", *version},
                             {"departments", json(std::vector<std::string>(departments.begin(), departments.end()))},
                             {"items", items}};
               }, 200, Access::kHubStaff));

    server.Post("/api/v1/keys/reload",
                wrap([this](const http::Request&, const Staff& who) -> Result<json> {
                  auto allowed = reload_keys();
                  if (!allowed.ok())
                    return Status::Make(StatusCode::kUnavailable, "keys_not_reloaded",
                                        "站点公钥未能重新加载，仍使用原名单：" +
                                            allowed.status().message_en(),
                                        "site keys not reloaded; the previous allow-list "
                                        "stays: " + allowed.status().message_en());
                  spdlog::info("sync allow-list reloaded by {}: {} sites", who.username, *allowed);
                  return json{{"allowed_sites", *allowed}};
                }));

    server.Post("/api/v1/bundles",
                wrap([this](const http::Request& req, const Staff& who) -> Result<json> {
                  auto imported = hub.import_bundle(req.body);
                  if (!imported.ok()) return imported.status();
                  spdlog::info("bundle of {} imported by {}", imported->origin, who.username);
                  return json{{"origin", imported->origin},
                              {"added", imported->added},
                              {"acked_seq", imported->acked_seq}};
                }),
                upload);
  }
};

HubApi::HubApi(HubService& hub, std::function<void()> on_stream_change,
               std::function<Result<size_t>()> reload_keys)
    : impl_(std::make_unique<Impl>(hub, std::move(on_stream_change), std::move(reload_keys))) {
  impl_->routes();
}

HubApi::~HubApi() = default;

Result<int> HubApi::bind(const std::string& host, int port) { return impl_->http.bind(host, port); }
void HubApi::serve_console(std::shared_ptr<const http::StaticFiles> files) {
  http::mount_console(impl_->http.routes(), std::move(files));
}
Status HubApi::use_tls(const std::filesystem::path& cert, const std::filesystem::path& key) {
  return impl_->http.routes().use_tls(cert, key);
}
void HubApi::serve_metrics(std::function<void(metrics::Text&)> write) {
  impl_->http.serve_metrics(std::move(write));
}
bool HubApi::run() { return impl_->http.run(); }
void HubApi::stop() { impl_->http.stop(); }

}  // namespace tongban::hub
