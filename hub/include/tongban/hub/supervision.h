// 电子监察 (measure 15): the rules the hub runs over every case of every site, on each event it
// stores and on a timer, and the findings they raise. The rules and their thresholds are the
// district's (site-config/supervision.toml, reviewed by the 行政审批服务局); a file with an
// unknown rule, an unknown setting or a threshold out of range refuses to load, naming the
// line.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/case.h"
#include "tongban/shared/config.h"
#include "tongban/shared/status.h"

namespace tongban::hub {

enum class Severity { kNotice, kYellow, kRed };  // 提示, 黄牌, 红牌
const char* to_string(Severity s);               // notice | yellow | red
const char* label_zh(Severity s);
std::optional<Severity> severity_from(const std::string& s);  // either form

struct SupervisionRule {
  bool enabled = true;
  Severity severity = Severity::kYellow;
  int limit = 0;  // the rule's threshold (what it counts: see kRuleNames' comments)
};

// Every rule by name, with its default. The thresholds:
//   deadline_approaching   working days before the deadline (提示; the clock's yellow)
//   deadline_overdue       — (past the promised deadline, or decided after it)
//   accept_to_review       working days from acceptance to the start of review
//   review_to_decision     working days from review to decision, suspensions excluded
//                          (0: the item's promised days)
//   decision_to_license    calendar days from an approval to its license (行政许可法 art. 44: 10)
//   license_to_delivery    working days from the license to delivery
//   deemed_acceptance      — (the 5-working-day answer period ran out: art. 32)
//   brief_reason           fewest characters a refusal's or a denial's reason may have
//   suspension_length      working days a suspension may last (per reason: `[suspension_length]`
//                          keys correction, hearing, testing, expert_review; `limit` the others)
//   unlawful_suspension    — (a suspension whose reason is none of art. 45's)
//   license_without_case   — (a license on a case never accepted: handled outside the system)
//   refile_after_withdrawal withdrawn applications of the same resident and item within
//                          `window_days` before a new one is filed (clock reset by refiling)
//   rating_callback_overdue — (a 差评 not called back within its 1 working day)
//   rating_rectify_overdue  — (a 差评 not rectified within its 15 working days)
//   rectification_overdue   — (a supervisor's rectification order unanswered past its day)
//   decider_department      — (a decision recorded for an account of another department than
//                          the item's or the part's; an account of no department is not judged)
//   fee_overcharge          — (fees recorded on a case above the catalog's fee_fen: any fee on a
//                          free item)
struct SupervisionRules {
  std::map<std::string, SupervisionRule> rules;
  std::map<std::string, int> suspension_days;  // per art. 45 reason
  int refile_window_days = 30;
  // 好差评 rankings (`[rankings]`): a unit or person ranked last this many months running is
  // flagged for 限期整改; only those with at least `min_ratings` ratings in a month rank.
  int ranking_bottom_months = 3;
  int ranking_min_ratings = 5;
  // 中介超市's 优胜劣汰 (`[intermediaries]`): an intermediary given `low_count` ratings of
  // `low_level` or lower within `window_days` is suspended from selection.
  int intermediary_low_level = 2;
  int intermediary_low_count = 3;
  int intermediary_window_days = 365;

  static SupervisionRules defaults(int yellow_days);
  const SupervisionRule* rule(const std::string& name) const;  // null when disabled
};

// The rule names, in display order, with their Chinese names.
const std::vector<std::pair<std::string, std::string>>& rule_names();

// site-config/supervision.toml when present, else the defaults. InvalidArgument
// (invalid_config) naming the file, the line and what is wrong.
Result<SupervisionRules> load_supervision(const std::filesystem::path& config_dir, int yellow_days);

// One rule's hit on one case. `occurrence` tells hits of one rule on one case apart (a
// later deadline, another suspension); the same hit found again is the same alert.
struct Finding {
  std::string rule;
  Severity severity = Severity::kYellow;
  std::string occurrence;
  std::string detail_zh, detail_en;
  std::string site;  // the site that must act ("" the owner): the rating loop's, an order's
};

// What the rules find on a case as of `today`. `opened`: the personal fields are open, so
// the reasons can be read (brief_reason is skipped otherwise). Withdrawals are counted by
// the caller (they are other cases): `refiled_after` is how many of the same resident's
// applications for the item were withdrawn within the window before this one was filed.
std::vector<Finding> evaluate(const CaseState& s, Date today, const District& district,
                              const SupervisionRules& rules, bool opened, int refiled_after = 0);

// The first day after `today` on which a timer rule could newly fire on `s` if nothing
// more happens to it (a step's limit running out, the deadline, a suspension's length), or
// nullopt when none can: the hub's timer looks only at cases due, not at every open one.
// An event on the case computes it again.
std::optional<Date> next_due(const CaseState& s, Date today, const District& district,
                             const SupervisionRules& rules);

}  // namespace tongban::hub
