#include "tongban/shared/config.h"

#include "tongban/shared/case.h"
#include "tongban/shared/validation.h"

#include <toml++/toml.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace tongban {

namespace {

Status bad_config(const std::string& file, const std::string& what) {
  return Status::InvalidArgument("invalid_config", "站点配置有误：" + file + "：" + what,
                                 "invalid site-config " + file + ": " + what);
}

Result<toml::table> parse_text(const std::string& text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    return bad_config("catalog.toml", std::string(e.description()));
  }
}

Result<toml::table> parse(const std::filesystem::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return bad_config(file.filename().string(), std::string(e.description()));
  }
}

std::vector<std::string> strings(const toml::node_view<const toml::node>& v) {
  std::vector<std::string> out;
  if (const toml::array* a = v.as_array())
    for (const toml::node& n : *a)
      if (auto s = n.value<std::string>()) out.push_back(*s);
  return out;
}

Result<Item> parse_item(const toml::table& t) {
  Item item;
  item.code = t["code"].value_or(std::string());
  item.name = t["name"].value_or(std::string());
  const auto type = item_type_from(t["type"].value_or(std::string()));
  if (!type) return bad_config("catalog.toml", "item " + item.code + ": unknown type");
  item.type = *type;
  item.legal_basis = t["legal_basis"].value_or(std::string());
  item.department = t["department"].value_or(std::string());
  item.applicant = t["applicant"].value_or(std::string("person")) == "enterprise"
                       ? ApplicantKind::kEnterprise
                       : ApplicantKind::kPerson;
  item.promised_days = t["promised_days"].value_or(0);
  item.legal_days = t["legal_days"].value_or(0);
  item.fee = t["fee"].value_or(std::string("免费"));
  item.fee_fen = t["fee_fen"].value_or(int64_t{0});
  if (t.contains("fee_fen") && !t["fee_fen"].is_integer())
    return bad_config("catalog.toml", "item " + item.code + ": fee_fen must be a whole number of fen");
  if (item.fee_fen < 0 || item.fee_fen > 100'000'000)
    return bad_config("catalog.toml", "item " + item.code + ": fee_fen must be 0 to 100000000 (fen)");
  item.channels = strings(t["channels"]);
  for (const std::string& k : strings(t["decided_at"])) {
    const auto kind = site_kind_from(k);
    if (!kind) return bad_config("catalog.toml", "item " + item.code + ": unknown site kind " + k);
    item.decided_at.push_back(*kind);
  }
  item.cross_region = t["cross_region"].value_or(false);
  item.tolerance_allowed = t["tolerance"].value_or(false);
  item.bundle_of = strings(t["bundle_of"]);
  item.delegated_from = t["delegated_from"].value_or(std::string());
  if (const toml::array* mats = t["material"].as_array()) {
    for (const toml::node& n : *mats) {
      // `material = [1, 2]` is an array of non-tables: once dereferenced as a table (null),
      // crashing the hub that was asked to publish it (found by the catalog fuzz target).
      if (!n.is_table())
        return bad_config("catalog.toml", "item " + item.code + ": [[item.material]] must be tables");
      const toml::table& m = *n.as_table();
      item.materials.push_back(Material{
          m["code"].value_or(std::string()), m["name"].value_or(std::string()),
          m["required"].value_or(true), m["key"].value_or(false), m["commitment"].value_or(false)});
    }
  }
  if (const toml::array* rule = t["instant"].as_array()) {
    for (const toml::node& n : *rule) {
      if (!n.is_table())
        return bad_config("catalog.toml", "item " + item.code + ": [[item.instant]] must be tables");
      const toml::table& c = *n.as_table();
      item.instant_rule.push_back(RuleCondition{c["field"].value_or(std::string()),
                                                c["op"].value_or(std::string()),
                                                c["value"].value_or(std::string())});
    }
  }
  return item;
}

Result<Catalog> catalog_from(const Result<toml::table>& t) {
  if (!t.ok()) return t.status();
  std::vector<Item> items;
  if (const toml::array* arr = (*t)["item"].as_array()) {
    for (const toml::node& n : *arr) {
      if (!n.is_table()) return bad_config("catalog.toml", "[[item]] must be a table");
      auto item = parse_item(*n.as_table());
      if (!item.ok()) return item.status();
      items.push_back(std::move(*item));
    }
  }
  // Versions only ever grow, one step per publication: a version near INT_MAX would leave
  // no room to publish another, so they stay far below it.
  const int64_t version = (*t)["version"].value_or(int64_t{0});
  if (version <= 0 || version > kMaxCatalogVersion)
    return bad_config("catalog.toml",
                      "version must be a whole number from 1 to " + std::to_string(kMaxCatalogVersion));
  if (items.empty()) return bad_config("catalog.toml", "a catalog needs at least one [[item]]");
  for (const Item& item : items)
    if (!is_clean_utf8(item.name) || !is_clean_utf8(item.code) ||
        item.name.find_first_of("\t\r\n") != std::string::npos)
      return bad_config("catalog.toml", "item " + item.code + ": control characters in its name");
  Catalog catalog(static_cast<int>(version), std::move(items));
  TB_RETURN_IF_ERROR(catalog.validate());
  return catalog;
}

// Dates as "YYYY-MM-DD" or ranges "YYYY-MM-DD..YYYY-MM-DD" (inclusive).
Status add_dates(const std::vector<std::string>& specs, bool holiday, WorkCalendar& cal) {
  for (const std::string& spec : specs) {
    const size_t dots = spec.find("..");
    const auto from = parse_date(spec.substr(0, dots));
    const auto to = dots == std::string::npos ? from : parse_date(spec.substr(dots + 2));
    if (!from || !to || *to < *from) return bad_config("calendar.toml", "bad date " + spec);
    for (Date d = *from; d <= *to; d = d + 1)
      holiday ? cal.add_holiday(d) : cal.add_adjusted_workday(d);
  }
  return Status::Ok();
}

Result<WorkCalendar> load_calendar(const std::filesystem::path& file) {
  auto t = parse(file);
  if (!t.ok()) return t.status();
  WorkCalendar cal;
  if (const toml::array* years = (*t)["year"].as_array()) {
    for (const toml::node& n : *years) {
      if (!n.is_table()) return bad_config("calendar.toml", "[[year]] must be tables");
      const toml::table& y = *n.as_table();
      const int year = y["year"].value_or(0);
      if (year < 2000 || year > 2100) return bad_config("calendar.toml", "year out of range");
      cal.add_published_year(year);
      TB_RETURN_IF_ERROR(add_dates(strings(y["holidays"]), true, cal));
      TB_RETURN_IF_ERROR(add_dates(strings(y["workdays"]), false, cal));
    }
  }
  return cal;
}

}  // namespace

const SiteConfig* District::site(const std::string& id) const {
  for (const SiteConfig& s : sites)
    if (s.id == id) return &s;
  return nullptr;
}

std::vector<const SiteConfig*> District::competent_sites(const std::string& item_code) const {
  std::vector<const SiteConfig*> out;
  const Item* item = catalog.find(item_code);
  if (!item) return out;
  for (const SiteConfig& s : sites)
    if (s.items.count(item_code) && item->decidable_at(s.kind)) out.push_back(&s);
  return out;
}

Result<District> load_district(const std::filesystem::path& dir) {
  District d;
  d.dir = dir;
  auto t = parse(dir / "district.toml");
  if (!t.ok()) return t.status();
  auto catalog = catalog_from(parse(dir / "catalog.toml"));
  if (!catalog.ok()) return catalog.status();
  d.catalog = std::move(*catalog);
  auto cal = load_calendar(dir / "calendar.toml");
  if (!cal.ok()) return cal.status();
  d.calendar = std::move(*cal);

  d.name = (*t)["name"].value_or(std::string());
  d.hub_id = (*t)["hub"]["id"].value_or(std::string("HUB"));
  set_hub_origin(d.hub_id);  // only its events carry the hub's acts (case.h, is_hub_act)
  d.hub_endpoint = (*t)["hub"]["endpoint"].value_or(std::string());
  d.yellow_days = (*t)["supervision"]["yellow_days"].value_or(2);
  const toml::array* sites = (*t)["site"].as_array();
  if (!sites) return bad_config("district.toml", "no [[site]]");
  for (const toml::node& n : *sites) {
    if (!n.is_table()) return bad_config("district.toml", "[[site]] must be tables");
    const toml::table& s = *n.as_table();
    SiteConfig site;
    site.id = s["id"].value_or(std::string());
    site.name = s["name"].value_or(std::string());
    const auto kind = site_kind_from(s["kind"].value_or(std::string()));
    if (!valid_site_id(site.id) || !kind)
      return bad_config("district.toml",
                        "site needs an id (A-Z then up to 7 of A-Z, 0-9) and a kind: " + site.id);
    if (d.site(site.id)) return bad_config("district.toml", "duplicate site id " + site.id);
    site.kind = *kind;
    site.windows = s["windows"].value_or(site.kind == SiteKind::kAgentPoint ? 1 : 4);
    site.extended_hours = s["extended_hours"].value_or(false);
    site.parent = s["parent"].value_or(std::string());
    site.reviewers = s["reviewers"].value_or(site.windows);
    if (site.reviewers < 1)
      return bad_config("district.toml", "site " + site.id + ": reviewers must be at least 1");
    site.all_items = s["items"].value<std::string>() == std::optional<std::string>("all");
    if (site.all_items) {
      for (const Item& item : d.catalog.items()) site.items.insert(item.code);
    } else {
      for (const std::string& code : strings(s["items"])) {
        if (!d.catalog.find(code))
          return bad_config("district.toml", "site " + site.id + " lists unknown item " + code);
        site.items.insert(code);
      }
    }
    d.sites.push_back(std::move(site));
  }
  for (const SiteConfig& site : d.sites)
    if (!site.parent.empty() && (site.parent == site.id || !d.site(site.parent)))
      return bad_config("district.toml",
                        "site " + site.id + " names an unknown parent " + site.parent);
  std::vector<std::string> ids = d.site_ids();
  ids.push_back(d.hub_id);
  auto keys = load_public_keys(dir, ids);
  if (!keys.ok()) return keys.status();
  d.public_keys = std::move(*keys);
  auto box = load_public_keys(dir, ids, kBoxKeySuffix);
  if (!box.ok()) return box.status();
  d.box_keys = std::move(*box);
  return d;
}

Result<Catalog> parse_catalog(const std::string& toml_text) {
  return catalog_from(parse_text(toml_text));
}

std::vector<std::string> District::site_ids() const {
  std::vector<std::string> ids;
  for (const SiteConfig& s : sites) ids.push_back(s.id);
  return ids;
}

Result<std::map<std::string, PublicKey>> load_public_keys(const std::filesystem::path& dir,
                                                          const std::vector<std::string>& ids,
                                                          const std::string& suffix) {
  std::map<std::string, PublicKey> keys;
  for (const std::string& id : ids) {
    const std::filesystem::path file = dir / "keys" / (id + suffix);
    // Only a file that is not there means "not provisioned, or revoked". One that cannot be
    // read (out of descriptors, permissions, a directory in its place) is an error: treating
    // it as a revocation would let anyone who exhausts descriptors empty the allow-list.
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0)
      return Status::Unavailable("cannot read " + file.string() + ": " + std::strerror(errno));
    char buf[130];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    const int read_errno = errno;
    ::close(fd);
    if (n < 0)
      return Status::Unavailable("cannot read " + file.string() + ": " + std::strerror(read_errno));
    std::string hex(buf, static_cast<size_t>(n));
    hex.erase(hex.find_last_not_of(" \t\r\n") + 1);
    PublicKey key;
    if (!from_hex(hex, key)) return bad_config("keys/" + id + suffix, "not a 32-byte hex key");
    keys[id] = key;
  }
  return keys;
}

Status write_public_key(const std::filesystem::path& dir, const std::string& id,
                        const PublicKey& key, const std::string& suffix) {
  // Public keys: readable by every daemon of the district, whoever wrote them (provision runs
  // as root with umask 077; the daemons run as the user tongban).
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir / "keys", ec);
  fs::permissions(dir / "keys", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec,
                  fs::perm_options::add, ec);
  const fs::path file = dir / "keys" / (id + suffix);
  std::ofstream out(file, std::ios::trunc);
  out << to_hex(key) << "\n";
  out.flush();
  if (!out) return Status::Unavailable("cannot write public key for " + id);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read,
                  fs::perm_options::replace, ec);
  return Status::Ok();
}

}  // namespace tongban
