// The district as data (site-config/): district.toml (hub, sites, the items each handles,
// windows and hours), catalog.toml (the service catalog), calendar.toml (holidays and
// adjusted working days per published year) and keys/<site>.pub (public keys).
//
// Thread safety: a loaded District is immutable; const access from any thread is safe.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tongban/shared/calendar.h"
#include "tongban/shared/catalog.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/status.h"

namespace tongban {

struct SiteConfig {
  std::string id;
  std::string name;
  SiteKind kind = SiteKind::kCenter;
  std::set<std::string> items;  // item codes this site accepts
  bool all_items = false;       // "all": every item of the current catalog version
  int windows = 4;
  bool extended_hours = false;  // 5+2 延时服务: evenings and weekend mornings
  // An agent point's parent center: where it forwards what it may not decide; dispatch
  // breaks ties in its favour. Empty: none.
  std::string parent;
  int reviewers = 4;  // staff who review cases (dispatch load = open cases per reviewer)
};

struct District {
  std::filesystem::path dir;
  std::string name;
  std::string hub_id;
  std::string hub_endpoint;
  int yellow_days = 2;  // the clock turns yellow this many working days before the deadline
  std::vector<SiteConfig> sites;
  Catalog catalog;
  WorkCalendar calendar;
  std::map<std::string, PublicKey> public_keys;  // site or hub id -> Ed25519 public key
  // site or hub id -> X25519 box key (keys/<id>.box.pub): case keys are sealed to it.
  std::map<std::string, CurveKey> box_keys;

  const SiteConfig* site(const std::string& id) const;
  // Sites that may decide `item_code`: they handle it and their kind may decide it.
  std::vector<const SiteConfig*> competent_sites(const std::string& item_code) const;
  std::vector<std::string> site_ids() const;
  std::filesystem::path public_key_file(const std::string& id) const {
    return dir / "keys" / (id + ".pub");
  }
};

// Loads and cross-checks a site-config directory (every item a site lists exists, ids are
// unique, the catalog validates). InvalidArgument naming the file and the problem.
Result<District> load_district(const std::filesystem::path& dir);

// Catalog versions run from 1 to this.
constexpr int64_t kMaxCatalogVersion = 1000000;
// Parses catalog.toml text (as the hub publishes it) and validates it.
Result<Catalog> parse_catalog(const std::string& toml_text);

// Reads keys/<id>.pub for each id; ids without a key file are left out (not provisioned
// or revoked). InvalidArgument for a malformed key file, Unavailable for one that exists
// but cannot be read (never taken as a revocation).
// With kBoxKeySuffix, the box keys (keys/<id>.box.pub) instead.
inline constexpr const char* kBoxKeySuffix = ".box.pub";
Result<std::map<std::string, PublicKey>> load_public_keys(const std::filesystem::path& dir,
                                                          const std::vector<std::string>& ids,
                                                          const std::string& suffix = ".pub");

// Writes keys/<id>.pub (hex; or another suffix) into a site-config directory.
Status write_public_key(const std::filesystem::path& dir, const std::string& id,
                        const PublicKey& key, const std::string& suffix = ".pub");

}  // namespace tongban
