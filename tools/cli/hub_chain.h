// A site's chain fetched back from the hub (GET /api/v1/sites/{site}/restore pages), shared
// by `tongban restore --from-hub` (the whole chain into an empty database) and
// `tongban restore-backup` (the events after a backup's head).
//
// Thread safety: single-threaded CLI code (fetch_chain fetches the next page on a helper
// thread itself).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tongban/shared/crypto.h"
#include "tongban/shared/db.h"
#include "tongban/shared/status.h"
#include "tongban/sync/event_log.h"

namespace tongban::cli {

struct HubLink {
  std::string url, token;  // the hub's URL and an operator's token
  int page = 5000;         // events per request
};

struct FetchedChain {
  sync::ChainHead head;      // the site's head as the hub holds it, signed by the site
  Signature signature{};     // the site's signature over head
  uint64_t appended = 0;     // events appended to the database
  std::vector<std::pair<std::string, std::string>> case_keys;  // (case id, wrapped key)
};

// GET `path` at the hub with the operator's token: the body, or the hub's error (zh/en).
Result<std::string> hub_get(const HubLink& link, const std::string& path);
// POST /api/v1/keys/reload: the hub reads site-config/keys again.
Status hub_reload_keys(const HubLink& link);
// Fetches `site`'s events from seq `next` on (the first must follow `prev`), checks every
// hash and link and the site's signature over the hub's head with `site_key`, and appends
// them to `db` (one transaction per page). Corruption (restore_unverified, zh/en) when the
// hub's events fail a check; what was appended before stays (the caller discards the
// database).
Result<FetchedChain> fetch_chain(const HubLink& link, Db& db, const std::string& site,
                                 const PublicKey& site_key, uint64_t next, Hash32 prev);

}  // namespace tongban::cli
