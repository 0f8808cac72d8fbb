#include "tongban/shared/catalog.h"

#include <charconv>
#include <set>

namespace tongban {

const char* to_string(SiteKind k) {
  switch (k) {
    case SiteKind::kCenter:
      return "center";
    case SiteKind::kParkStation:
      return "park";
    case SiteKind::kAgentPoint:
      return "agent_point";
  }
  return "?";
}

std::optional<SiteKind> site_kind_from(const std::string& s) {
  if (s == "center") return SiteKind::kCenter;
  if (s == "park") return SiteKind::kParkStation;
  if (s == "agent_point") return SiteKind::kAgentPoint;
  return std::nullopt;
}

const char* to_string(ItemType t) {
  switch (t) {
    case ItemType::kLicense:
      return "license";
    case ItemType::kConfirmation:
      return "confirmation";
    case ItemType::kPayment:
      return "payment";
    case ItemType::kFiling:
      return "filing";
    case ItemType::kPublicService:
      return "public_service";
    case ItemType::kOther:
      return "other";
  }
  return "?";
}

std::optional<ItemType> item_type_from(const std::string& s) {
  for (ItemType t : {ItemType::kLicense, ItemType::kConfirmation, ItemType::kPayment,
                     ItemType::kFiling, ItemType::kPublicService, ItemType::kOther})
    if (s == to_string(t)) return t;
  return std::nullopt;
}

bool Item::decidable_at(SiteKind k) const {
  for (SiteKind d : decided_at)
    if (d == k) return true;
  return false;
}

const Material* Item::material(const std::string& c) const {
  for (const Material& m : materials)
    if (m.code == c) return &m;
  return nullptr;
}

Catalog::Catalog(int version, std::vector<Item> items)
    : version_(version), items_(std::move(items)) {
  for (size_t i = 0; i < items_.size(); ++i) index_[items_[i].code] = i;
}

const Item* Catalog::find(const std::string& code) const {
  auto it = index_.find(code);
  return it == index_.end() ? nullptr : &items_[it->second];
}

std::set<std::string> Catalog::departments() const {
  std::set<std::string> out;
  for (const Item& i : items_)
    if (!i.department.empty()) out.insert(i.department);
  return out;
}

std::vector<const Item*> Catalog::parts_of(const Item& item) const {
  std::vector<const Item*> parts;
  if (!item.is_bundle()) return {&item};
  for (const std::string& code : item.bundle_of)
    if (const Item* member = find(code)) parts.push_back(member);
  return parts;
}

int64_t Catalog::fee_limit(const Item& item) const {
  if (!item.is_bundle() || item.fee_fen != 0) return item.fee_fen;
  int64_t sum = 0;
  for (const Item* part : parts_of(item)) sum += part->fee_fen;
  return sum;
}

std::vector<Material> Catalog::materials_of(const Item& item) const {
  std::vector<Material> out = item.materials;
  std::set<std::string> seen;
  for (const Material& m : out) seen.insert(m.code);
  if (!item.is_bundle()) return out;
  for (const Item* part : parts_of(item))
    for (const Material& m : part->materials)
      if (seen.insert(m.code).second) out.push_back(m);
  return out;
}

Status Catalog::validate() const {
  auto bad = [](const Item& item, const std::string& what) {
    return Status::InvalidArgument("invalid_catalog", "事项目录有误：" + item.code + " " + what,
                                   "invalid catalog item " + item.code + ": " + what);
  };
  if (index_.size() != items_.size())
    return Status::InvalidArgument("invalid_catalog", "事项编码重复", "duplicate item codes");
  for (const Item& item : items_) {
    if (item.code.empty() || item.name.empty()) return bad(item, "code/name empty");
    if (item.is_bundle()) {
      for (const std::string& code : item.bundle_of) {
        const Item* member = find(code);
        if (!member) return bad(item, "bundle member " + code + " unknown");
        if (member->is_bundle()) return bad(item, "bundle member " + code + " is a bundle");
      }
    }
    if (item.promised_days <= 0 || item.legal_days <= 0)
      return bad(item, "time limits must be > 0");
    if (item.promised_days > item.legal_days)
      return bad(item, "promised limit exceeds legal limit");
    if (item.decided_at.empty()) return bad(item, "no site kind may decide it");
    static const std::set<std::string> kOps = {"eq", "ne", "lt", "le", "gt", "ge", "in"};
    for (const RuleCondition& c : item.instant_rule)
      if (c.field.empty() || !kOps.count(c.op)) return bad(item, "bad instant rule on " + c.field);
  }
  return Status::Ok();
}

namespace {

std::optional<double> as_number(const std::string& s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

bool condition_holds(const RuleCondition& c, const std::string& actual) {
  if (c.op == "eq") return actual == c.value;
  if (c.op == "ne") return actual != c.value;
  if (c.op == "in") {
    size_t start = 0;
    while (start <= c.value.size()) {
      size_t bar = c.value.find('|', start);
      if (bar == std::string::npos) bar = c.value.size();
      if (c.value.compare(start, bar - start, actual) == 0) return true;
      start = bar + 1;
    }
    return false;
  }
  const auto a = as_number(actual);
  const auto b = as_number(c.value);
  if (!a || !b) return false;
  if (c.op == "lt") return *a < *b;
  if (c.op == "le") return *a <= *b;
  if (c.op == "gt") return *a > *b;
  if (c.op == "ge") return *a >= *b;
  return false;
}

}  // namespace

bool instant_rule_holds(const std::vector<RuleCondition>& rule,
                        const std::map<std::string, std::string>& form) {
  if (rule.empty()) return false;
  for (const RuleCondition& c : rule) {
    auto it = form.find(c.field);
    if (it == form.end() || !condition_holds(c, it->second)) return false;
  }
  return true;
}

}  // namespace tongban
