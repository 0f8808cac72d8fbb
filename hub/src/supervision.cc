#include "tongban/hub/supervision.h"

#include <toml++/toml.h>

#include <algorithm>
#include <tuple>

#include "tongban/shared/validation.h"

namespace tongban::hub {

namespace {

constexpr const char* kFile = "supervision.toml";

// The reasons 行政许可法 art. 45 lets the clock stop for (the node's suspend command).
const std::vector<std::string>& lawful_suspensions() {
  static const std::vector<std::string> kReasons = {"correction", "hearing", "testing",
                                                    "expert_review"};
  return kReasons;
}

Status bad(const toml::source_region& where, const std::string& zh, const std::string& en) {
  const std::string line = std::to_string(where.begin.line);
  return Status::InvalidArgument("invalid_config",
                                 std::string("站点配置有误：") + kFile + " 第 " + line + " 行：" + zh,
                                 std::string("invalid site-config ") + kFile + " line " + line +
                                     ": " + en);
}

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::string();
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// A whole number setting in [lo, hi].
Result<int> whole(const toml::node& n, int lo, int hi, const std::string& key) {
  const auto v = n.value<int64_t>();
  if (!n.is_integer() || !v || *v < lo || *v > hi)
    return bad(n.source(), key + " 应为 " + std::to_string(lo) + " 至 " + std::to_string(hi) + " 的整数",
               key + " must be a whole number from " + std::to_string(lo) + " to " +
                   std::to_string(hi));
  return static_cast<int>(*v);
}

// The day a case became accepted: by the window, or by law when no answer came (art. 32:
// its clock starts at filing, but nobody could act on it before the 5 days ran out).
Date acceptance_day(const CaseState& s, const WorkCalendar& cal) {
  return s.deemed_accepted ? deemed_acceptance_date(s, cal) : *s.accepted_date;
}

// The day a pause ended: resumed, or the case decided or closed while suspended; nullopt
// while it runs.
std::optional<Date> pause_end(const CaseState& s, const Pause& p) {
  if (p.to) return p.to;
  if (s.decided_date) return s.decided_date;
  if (!is_active(s.status)) return date_of(s.updated_at);
  return std::nullopt;
}

// Each denial's or refusal's reason (a bundle's parts each carry their own).
std::vector<std::string> reasons(const CaseState& s) {
  std::vector<std::string> out;
  if (s.status == CaseStatus::kDenied && !s.parts.empty()) {
    for (const CasePart& p : s.parts)
      if (p.decision == "denied") out.push_back(p.reason);
  } else {
    out.push_back(s.reason);
  }
  return out;
}

}  // namespace

const char* to_string(Severity s) {
  switch (s) {
    case Severity::kNotice:
      return "notice";
    case Severity::kYellow:
      return "yellow";
    case Severity::kRed:
      return "red";
  }
  return "?";
}

const char* label_zh(Severity s) {
  switch (s) {
    case Severity::kNotice:
      return "提示";
    case Severity::kYellow:
      return "黄牌";
    case Severity::kRed:
      return "红牌";
  }
  return "?";
}

std::optional<Severity> severity_from(const std::string& s) {
  for (Severity v : {Severity::kNotice, Severity::kYellow, Severity::kRed})
    if (s == to_string(v) || s == label_zh(v)) return v;
  return std::nullopt;
}

const std::vector<std::pair<std::string, std::string>>& rule_names() {
  static const std::vector<std::pair<std::string, std::string>> kNames = {
      {"deadline_approaching", "临近办结时限"},
      {"deadline_overdue", "超期办理"},
      {"accept_to_review", "受理后未及时审查"},
      {"review_to_decision", "审查后未及时决定"},
      {"decision_to_license", "决定后未及时发证"},
      {"license_to_delivery", "发证后未及时送达"},
      {"deemed_acceptance", "逾期视为受理"},
      {"brief_reason", "不予受理/不予许可理由不充分"},
      {"suspension_length", "中止超过规定时长"},
      {"unlawful_suspension", "无法定事由中止"},
      {"license_without_case", "体外办理（无受理记录发证）"},
      {"refile_after_withdrawal", "撤回后重复申请"},
      {"rating_callback_overdue", "差评未按时回访"},
      {"rating_rectify_overdue", "差评未按时整改"},
      {"rectification_overdue", "整改通知逾期未答复"},
      {"decider_department", "非本部门人员作出审批决定"},
      {"fee_overcharge", "违规收费（免费事项收费或超标准收费）"},
  };
  return kNames;
}

SupervisionRules SupervisionRules::defaults(int yellow_days) {
  SupervisionRules r;
  r.rules = {
      {"deadline_approaching", {true, Severity::kNotice, yellow_days}},
      {"deadline_overdue", {true, Severity::kRed, 0}},
      {"accept_to_review", {true, Severity::kYellow, 2}},
      {"review_to_decision", {true, Severity::kYellow, 0}},
      {"decision_to_license", {true, Severity::kRed, 10}},
      {"license_to_delivery", {true, Severity::kYellow, 5}},
      {"deemed_acceptance", {true, Severity::kYellow, 0}},
      {"brief_reason", {true, Severity::kYellow, 6}},
      {"suspension_length", {true, Severity::kYellow, 20}},
      {"unlawful_suspension", {true, Severity::kRed, 0}},
      {"license_without_case", {true, Severity::kRed, 0}},
      {"refile_after_withdrawal", {true, Severity::kNotice, 2}},
      {"rating_callback_overdue", {true, Severity::kYellow, 0}},
      {"rating_rectify_overdue", {true, Severity::kRed, 0}},
      {"rectification_overdue", {true, Severity::kRed, 0}},
      {"decider_department", {true, Severity::kRed, 0}},
      {"fee_overcharge", {true, Severity::kRed, 0}},
  };
  r.suspension_days = {{"correction", 20}, {"hearing", 20}, {"testing", 60}, {"expert_review", 60}};
  return r;
}

const SupervisionRule* SupervisionRules::rule(const std::string& name) const {
  auto it = rules.find(name);
  return it == rules.end() || !it->second.enabled ? nullptr : &it->second;
}

Result<SupervisionRules> load_supervision(const std::filesystem::path& config_dir, int yellow_days) {
  // The rules with a threshold, and its range (decision_to_license: the law's 10 days at most;
  // review_to_decision 0: the item's promised days).
  static const std::map<std::string, std::pair<int, int>> kLimits = {
      {"deadline_approaching", {1, 60}}, {"accept_to_review", {1, 60}},
      {"review_to_decision", {0, 365}},  {"decision_to_license", {1, 10}},
      {"license_to_delivery", {1, 60}},  {"brief_reason", {1, 200}},
      {"suspension_length", {1, 365}},   {"refile_after_withdrawal", {1, 20}}};
  SupervisionRules out = SupervisionRules::defaults(yellow_days);
  const auto file = config_dir / kFile;
  if (!std::filesystem::exists(file)) return out;
  toml::table doc;
  try {
    doc = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return bad(e.source(), std::string(e.description()), std::string(e.description()));
  }
  for (const auto& [name_key, node] : doc) {
    const std::string name(name_key.str());
    // Not rules: how 好差评's monthly rankings flag the bottom, and when 中介超市 suspends an
    // intermediary rated low.
    using Setting = std::tuple<const char*, int*, int, int>;  // key, target, min, max
    const std::map<std::string, std::vector<Setting>> sections = {
        {"rankings",
         {{"bottom_months", &out.ranking_bottom_months, 1, 12},
          {"min_ratings", &out.ranking_min_ratings, 1, 1000}}},
        {"intermediaries",
         {{"low_level", &out.intermediary_low_level, 1, 4},
          {"low_count", &out.intermediary_low_count, 1, 100},
          {"window_days", &out.intermediary_window_days, 1, 3660}}}};
    if (auto section = sections.find(name); section != sections.end()) {
      const toml::table* t = node.as_table();
      if (!t) return bad(node.source(), name + " 应为表 [" + name + "]", name + " must be a table");
      for (const auto& [key_key, value] : *t) {
        const std::string key(key_key.str());
        const auto setting = std::find_if(section->second.begin(), section->second.end(),
                                          [&](const Setting& s) { return std::get<0>(s) == key; });
        if (setting == section->second.end())
          return bad(value.source(), name + " 没有设置项 " + key, name + " has no setting " + key);
        auto v = whole(value, std::get<2>(*setting), std::get<3>(*setting), key);
        if (!v.ok()) return v.status();
        *std::get<1>(*setting) = *v;
      }
      continue;
    }
    auto rule = out.rules.find(name);
    if (rule == out.rules.end())
      return bad(node.source(), "未知的监察规则 " + name, "unknown rule " + name);
    const toml::table* t = node.as_table();
    if (!t) return bad(node.source(), name + " 应为表 [" + name + "]", name + " must be a table");
    for (const auto& [key_key, value] : *t) {
      const std::string key(key_key.str());
      if (key == "enabled") {
        if (!value.is_boolean())
          return bad(value.source(), "enabled 应为 true 或 false", "enabled must be true or false");
        rule->second.enabled = *value.value<bool>();
      } else if (key == "severity") {
        const auto text = value.value<std::string>();
        const auto sev = text ? severity_from(*text) : std::nullopt;
        if (!sev)
          return bad(value.source(), "severity 应为 提示/黄牌/红牌（notice/yellow/red）",
                     "severity must be notice, yellow or red (提示/黄牌/红牌)");
        rule->second.severity = *sev;
      } else if (auto range = kLimits.find(name); key == "limit" && range != kLimits.end()) {
        auto v = whole(value, range->second.first, range->second.second, "limit");
        if (!v.ok()) return v.status();
        rule->second.limit = *v;
      } else if (name == "suspension_length" &&
                 std::count(lawful_suspensions().begin(), lawful_suspensions().end(), key)) {
        auto v = whole(value, 1, 365, key);
        if (!v.ok()) return v.status();
        out.suspension_days[key] = *v;
      } else if (key == "window_days" && name == "refile_after_withdrawal") {
        auto v = whole(value, 1, 366, "window_days");
        if (!v.ok()) return v.status();
        out.refile_window_days = *v;
      } else {
        return bad(value.source(), "规则 " + name + " 没有设置项 " + key,
                   "rule " + name + " has no setting " + key);
      }
    }
  }
  return out;
}

std::vector<Finding> evaluate(const CaseState& s, Date today, const District& district,
                              const SupervisionRules& rules, bool opened, int refiled_after) {
  std::vector<Finding> out;
  const WorkCalendar& cal = district.calendar;
  const auto hit = [&](const char* name, std::string occurrence, std::string zh, std::string en,
                       std::string site = std::string()) {
    if (const SupervisionRule* r = rules.rule(name))
      out.push_back({name, r->severity, std::move(occurrence), std::move(zh), std::move(en),
                     std::move(site)});
  };
  const auto limit = [&](const char* name) {
    const SupervisionRule* r = rules.rule(name);
    return r ? r->limit : -1;
  };
  const bool approved = s.status == CaseStatus::kApproved || s.status == CaseStatus::kDelivered;

  // The promised deadline: approaching (the rule's own margin) and overdue.
  if (rules.rule("deadline_approaching") || rules.rule("deadline_overdue")) {
    const int margin = std::max(0, limit("deadline_approaching"));
    const ClockView clock = clock_of(s, today, cal, margin);
    if (clock.deadline) {
      const std::string due = format_date(*clock.deadline);
      if (clock.color == ClockColor::kYellow)
        hit("deadline_approaching", due, "距承诺办结时限 " + due + " 还有 " +
                                              std::to_string(clock.remaining_working_days) + " 个工作日",
            std::to_string(clock.remaining_working_days) + " working days to the deadline " + due);
      if (clock.color == ClockColor::kRed || clock.overdue_at_decision)
        hit("deadline_overdue", due, "已超过承诺办结时限 " + due,
            "past the promised deadline " + due);
    }
  }
  // Each step within its own limit, even inside the total.
  if (s.accepted_date && limit("accept_to_review") >= 0) {
    const bool waiting = s.status == CaseStatus::kAccepted;
    if (s.review_started_date || waiting) {
      const Date end = s.review_started_date ? *s.review_started_date : today;
      const int used = cal.working_days_between(acceptance_day(s, cal), end);
      if (used > limit("accept_to_review"))
        hit("accept_to_review", "", "受理后 " + std::to_string(used) + " 个工作日未开始审查（限 " +
                                        std::to_string(limit("accept_to_review")) + " 个）",
            "review started " + std::to_string(used) + " working days after acceptance");
    }
  }
  if (s.review_started_date && limit("review_to_decision") >= 0 &&
      (s.decided_date || is_active(s.status))) {
    const Date end = s.decided_date ? *s.decided_date : today;
    int paused = 0;
    for (const Pause& p : s.pauses)
      paused += cal.working_days_between(std::max(p.from + -1, *s.review_started_date),
                                         (p.to ? *p.to : end) + -1);
    const int used = cal.working_days_between(*s.review_started_date, end) - paused;
    const int allowed = limit("review_to_decision") > 0 ? limit("review_to_decision") : s.promised_days;
    if (used > allowed)
      hit("review_to_decision", "", "审查 " + std::to_string(used) + " 个工作日未作决定（限 " +
                                        std::to_string(allowed) + " 个，中止期间不计）",
          "no decision " + std::to_string(used) + " working days into review (limit " +
              std::to_string(allowed) + ")");
  }
  if (approved && s.decided_date && limit("decision_to_license") >= 0 && !s.instant) {
    const Date end = s.license_issued_date ? *s.license_issued_date : today;
    const int days = end - *s.decided_date;
    if (days > limit("decision_to_license"))
      hit("decision_to_license", "", "准予许可后 " + std::to_string(days) + " 日未颁发证照（法定 " +
                                         std::to_string(limit("decision_to_license")) + " 日内）",
          "license " + std::to_string(days) + " days after the approval");
  }
  if (s.license_issued_date && limit("license_to_delivery") >= 0 &&
      (s.delivered_date || s.status == CaseStatus::kApproved)) {
    const Date end = s.delivered_date ? *s.delivered_date : today;
    const int used = cal.working_days_between(*s.license_issued_date, end);
    if (used > limit("license_to_delivery"))
      hit("license_to_delivery", "", "发证后 " + std::to_string(used) + " 个工作日未送达",
          "not delivered " + std::to_string(used) + " working days after the license");
  }
  if (s.deemed_accepted)
    hit("deemed_acceptance", "", "5 个工作日内未作受理决定，依法视为受理（行政许可法第三十二条）",
        "no answer within 5 working days: deemed accepted (art. 32)");
  // A refusal or a denial must say why, in more than a word or two.
  // An empty reason is one the hub could not open (a site must give one): not judged.
  if (opened && (s.status == CaseStatus::kRefused || s.status == CaseStatus::kDenied) &&
      limit("brief_reason") > 0) {
    for (const std::string& reason : reasons(s)) {
      const int chars = static_cast<int>(utf8_length(trimmed(reason)));
      if (chars == 0 || chars >= limit("brief_reason")) continue;
      hit("brief_reason", to_string(s.status),
          std::string(s.status == CaseStatus::kRefused ? "不予受理" : "不予许可") + "理由仅 " +
              std::to_string(chars) + " 字（应不少于 " + std::to_string(limit("brief_reason")) + " 字）",
          "the reason has " + std::to_string(chars) + " characters");
      break;
    }
  }
  // Suspensions: only art. 45's reasons, each for no longer than the district allows.
  for (size_t i = 0; i < s.pauses.size(); ++i) {
    const Pause& p = s.pauses[i];
    const bool lawful =
        std::count(lawful_suspensions().begin(), lawful_suspensions().end(), p.reason) > 0;
    if (!lawful)
      hit("unlawful_suspension", std::to_string(i + 1), "中止事由“" + p.reason + "”不属于法定事由",
          "suspended for " + p.reason + ", not a reason of art. 45");
    if (limit("suspension_length") < 0) continue;
    auto allowed = rules.suspension_days.find(p.reason);
    const int max = allowed != rules.suspension_days.end() ? allowed->second : limit("suspension_length");
    const Date end = pause_end(s, p).value_or(today);
    const int used = cal.working_days_between(p.from, end);
    if (used > max)
      hit("suspension_length", std::to_string(i + 1), "第 " + std::to_string(i + 1) + " 次中止已 " +
                                                          std::to_string(used) + " 个工作日（限 " +
                                                          std::to_string(max) + " 个）",
          "suspension " + std::to_string(i + 1) + " lasted " + std::to_string(used) +
              " working days (limit " + std::to_string(max) + ")");
  }
  // A decision by an account of another department than the item's (or the part's): the
  // site's 后台分类审批 refuses it, so only a bypassed or altered node makes one.
  const auto decided_elsewhere = [&](const std::string& by, const std::string& owner,
                                     const std::string& occurrence) {
    if (!by.empty() && by != owner)
      hit("decider_department", occurrence, "由" + by + "人员作出决定，该事项由" + owner + "审批",
          "decided by an account of " + by + ", the item is " + owner + "'s");
  };
  if (s.parts.empty() && s.decided_date) decided_elsewhere(s.decided_department, s.department, "");
  for (const CasePart& p : s.parts)
    if (!p.decision.empty()) decided_elsewhere(p.decided_department, p.department, p.item_code);
  // Fees: a free item charged anything, or more than the catalog's fee_fen.
  // The limit is the one the case was filed under (Submitted.fee_fen); a case filed before
  // fees were recorded is judged by the hub's catalog. The site that charged must answer.
  if (s.fees_fen > 0) {
    const Item* item = district.catalog.find(s.item_code);
    const std::optional<int64_t> allowed =
        s.fee_fen ? s.fee_fen : item ? std::optional<int64_t>(district.catalog.fee_limit(*item)) : std::nullopt;
    if (allowed && s.fees_fen > *allowed)
      hit("fee_overcharge", std::to_string(s.fee_receipts.size()),
          *allowed == 0 ? "免费事项收费 " + format_yuan(s.fees_fen) + " 元"
                        : "收费 " + format_yuan(s.fees_fen) + " 元，超过目录规定的 " + format_yuan(*allowed) + " 元",
          "charged " + format_yuan(s.fees_fen) + " yuan, the catalog allows " + format_yuan(*allowed),
          s.fee_site);
  }
  if (!s.license_no.empty() && !s.accepted_date && !s.deemed_accepted)
    hit("license_without_case", "", "证照 " + s.license_no + " 所属办件无受理记录",
        "license " + s.license_no + " on a case never accepted");
  if (limit("refile_after_withdrawal") > 0 && refiled_after >= limit("refile_after_withdrawal"))
    hit("refile_after_withdrawal", "",
        "同一申请人同一事项 " + std::to_string(rules.refile_window_days) + " 日内已撤回 " +
            std::to_string(refiled_after) + " 次后重新申请",
        "filed again after " + std::to_string(refiled_after) + " withdrawals within " +
            std::to_string(rules.refile_window_days) + " days");
  // 好差评's closed loop (measure 14): a 差评 is called back within 1 working day and
  // rectified within 15; a step late, or still open past its day, is a hit.
  if (s.rating && s.rating->bad()) {
    const RatingState& r = *s.rating;
    const auto late = [&](const char* rule, const std::optional<Date>& due,
                          const std::optional<Date>& done, const char* zh, const char* en) {
      if (!due || (done ? *done : today) <= *due) return;
      const std::string day = format_date(*due);
      // The receiving site runs the loop (收受分离: it delivered and was rated).
      hit(rule, day, std::string(zh) + (done ? "（" + format_date(*done) + " 完成，" : "（") +
                         "应于 " + day + " 前）",
          std::string(en) + " (due " + day + ")", s.origin);
    };
    late("rating_callback_overdue", r.callback_due, r.callback_done, "差评回访超期",
         "bad rating called back late");
    // Not while the supervisor weighs the site's appeal, nor after upholding it.
    if (r.rectified || r.rectification_owed())
      late("rating_rectify_overdue", r.rectify_due, r.rectified, "差评整改超期",
           "bad rating rectified late");
  }
  // A supervisor's rectification order the site has not answered by its day.
  for (const SupervisionOrder& o : s.supervision_orders) {
    if ((o.answered ? *o.answered : today) <= o.due) continue;
    const std::string day = format_date(o.due);
    hit("rectification_overdue", std::to_string(o.alert_id) + "@" + day,
        "站点 " + o.site + " 未在 " + day + " 前答复第 " + std::to_string(o.alert_id) +
            " 号预警的整改通知" + (o.answered ? "（" + format_date(*o.answered) + " 答复）" : ""),
        "site " + o.site + " did not answer the rectification order on alert " +
            std::to_string(o.alert_id) + " by " + day,
        o.site);
  }
  return out;
}

std::optional<Date> next_due(const CaseState& s, Date today, const District& district,
                             const SupervisionRules& rules) {
  const WorkCalendar& cal = district.calendar;
  std::optional<Date> due;
  const auto candidate = [&](Date d) {
    if (d > today && (!due || d < *due)) due = d;
  };
  const auto limit = [&](const char* name) {
    const SupervisionRule* r = rules.rule(name);
    return r ? r->limit : -1;
  };
  // Whatever the case's state: the rating loop's steps and the supervisors' orders.
  if (s.rating && s.rating->bad()) {
    if (s.rating->callback_due && !s.rating->callback_done && rules.rule("rating_callback_overdue"))
      candidate(*s.rating->callback_due + 1);
    if (s.rating->rectify_due && s.rating->rectification_owed() && rules.rule("rating_rectify_overdue"))
      candidate(*s.rating->rectify_due + 1);
  }
  if (rules.rule("rectification_overdue"))
    for (const SupervisionOrder& o : s.supervision_orders)
      if (o.open()) candidate(o.due + 1);
  if (!is_active(s.status) && s.status != CaseStatus::kApproved) return due;
  if (is_active(s.status) && (rules.rule("deadline_approaching") || rules.rule("deadline_overdue"))) {
    const ClockView clock = clock_of(s, today, cal, std::max(0, limit("deadline_approaching")));
    if (clock.deadline && !s.paused()) {
      if (rules.rule("deadline_approaching") && clock.yellow_from) candidate(*clock.yellow_from);
      candidate(*clock.deadline + 1);
    }
  }
  // Unanswered: its deadline starts counting from filing once the 5 days run out.
  if (s.status == CaseStatus::kSubmitted) candidate(deemed_acceptance_date(s, cal) + 1);
  if (s.status == CaseStatus::kAccepted && s.accepted_date && limit("accept_to_review") >= 0)
    candidate(cal.add_working_days(acceptance_day(s, cal), limit("accept_to_review") + 1));
  if (is_active(s.status) && s.review_started_date && !s.paused() && limit("review_to_decision") >= 0) {
    // The day the working days in review, suspensions excluded, pass the limit.
    int paused = 0;
    for (const Pause& p : s.pauses)
      if (p.to)
        paused += cal.working_days_between(std::max(p.from + -1, *s.review_started_date), *p.to + -1);
    const int allowed = limit("review_to_decision") > 0 ? limit("review_to_decision") : s.promised_days;
    candidate(cal.add_working_days(*s.review_started_date, allowed + paused + 1));
  }
  if (s.paused() && limit("suspension_length") >= 0) {
    const Pause& p = s.pauses.back();
    auto allowed = rules.suspension_days.find(p.reason);
    const int max = allowed != rules.suspension_days.end() ? allowed->second : limit("suspension_length");
    candidate(cal.add_working_days(p.from, max + 1));
  }
  if (s.status == CaseStatus::kApproved && s.decided_date && !s.license_issued_date && !s.instant &&
      limit("decision_to_license") >= 0)
    candidate(*s.decided_date + (limit("decision_to_license") + 1));
  if (s.status == CaseStatus::kApproved && s.license_issued_date && limit("license_to_delivery") >= 0)
    candidate(cal.add_working_days(*s.license_issued_date, limit("license_to_delivery") + 1));
  return due;
}

}  // namespace tongban::hub
