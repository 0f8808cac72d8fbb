// The service catalog (事项标准化, policy measure 1): one standard definition of every
// item a site may accept — code, legal basis, department, time limits, materials, which
// site kinds may decide it, 秒批 rules and 一件事 bundles. Versioned: a case records the
// version it was accepted under.
//
// Thread safety: a Catalog is immutable once loaded; const methods are safe from any thread.
#pragma once

#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/status.h"

namespace tongban {

// Kinds of site in the 12+5+N layout (policy measure 11).
enum class SiteKind { kCenter, kParkStation, kAgentPoint };
const char* to_string(SiteKind k);
std::optional<SiteKind> site_kind_from(const std::string& s);

enum class ItemType {
  kLicense,        // 行政许可
  kConfirmation,   // 行政确认
  kPayment,        // 行政给付
  kFiling,         // 行政备案 (measure 4)
  kPublicService,  // 公共服务
  kOther,          // 其他行政权力
};
const char* to_string(ItemType t);
std::optional<ItemType> item_type_from(const std::string& s);

enum class ApplicantKind { kPerson, kEnterprise };

struct Material {
  std::string code;
  std::string name;
  bool required = true;
  // Key materials (要件) can never be missing at acceptance; only non-key ones may be
  // tolerated under 容缺受理 (measures 5–6).
  bool key = false;
  // 告知承诺制: a signed commitment may stand in for this proof.
  bool commitment_allowed = false;
};

// One condition of a 秒批 rule on a form field. Numbers compare numerically.
struct RuleCondition {
  std::string field;
  std::string op;     // eq ne lt le gt ge in
  std::string value;  // for "in": values separated by '|'
};

struct Item {
  std::string code;
  std::string name;
  ItemType type = ItemType::kPublicService;
  std::string legal_basis;
  std::string department;
  ApplicantKind applicant = ApplicantKind::kPerson;
  int promised_days = 0;  // 承诺时限, working days
  int legal_days = 0;     // 法定时限, working days
  std::string fee;        // "免费" or an amount with its basis
  int64_t fee_fen = 0;    // the most a case of the item may be charged, 分 (0: free)
  std::vector<Material> materials;
  std::vector<std::string> channels;        // window, online, mobile, agent
  std::vector<SiteKind> decided_at;         // which site kinds may decide it
  bool cross_region = false;                // 跨区通办 eligible (measure 8)
  bool tolerance_allowed = false;           // 容缺受理 allowed for this item
  std::vector<RuleCondition> instant_rule;  // 秒批 when every condition holds
  std::vector<std::string> bundle_of;       // 一件事一次办 (measure 7): member item codes
  std::string delegated_from;               // 委托下放 (measure 3): authority, record no.

  bool is_bundle() const { return !bundle_of.empty(); }
  bool has_instant_rule() const { return !instant_rule.empty(); }
  bool decidable_at(SiteKind k) const;
  const Material* material(const std::string& code) const;
};

class Catalog {
 public:
  Catalog() = default;
  Catalog(int version, std::vector<Item> items);

  int version() const { return version_; }
  const Item* find(const std::string& code) const;
  const std::vector<Item>& items() const { return items_; }
  // The departments items name (the 行政审批 units a case or an issue goes to).
  std::set<std::string> departments() const;

  // For a bundle: its members, and the union of their materials (one set of materials
  // shared by every part, deduplicated by code). For a plain item: the item itself.
  std::vector<const Item*> parts_of(const Item& item) const;
  std::vector<Material> materials_of(const Item& item) const;
  // The most a case of `item` may charge, in fen: its own fee_fen, or for a bundle without
  // one the sum of its parts' (0: free).
  int64_t fee_limit(const Item& item) const;

  // Checks references (bundle members exist, no nested bundles, limits positive,
  // promised <= legal). Ok or InvalidArgument naming the item.
  Status validate() const;

 private:
  int version_ = 0;
  std::vector<Item> items_;
  std::map<std::string, size_t> index_;
};

// True when every condition of the rule holds for `form` (field -> value). A missing
// field fails its condition.
bool instant_rule_holds(const std::vector<RuleCondition>& rule,
                        const std::map<std::string, std::string>& form);

}  // namespace tongban
