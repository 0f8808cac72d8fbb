// The case index: one row per case, derived from its events, for search, the supervision
// sweep, the rating loop and the 容缺 eligibility list. The node indexes its own cases;
// the hub indexes every site's with the same code, so digests compare across them.
//
// Thread safety: not thread-safe; the owner of the Db serializes calls.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tongban/shared/case.h"
#include "tongban/shared/config.h"
#include "tongban/shared/db.h"
#include "tongban/shared/keyring.h"

namespace tongban {

// Open cases of one owning site by clock colour (the hub's district board).
struct ClockCounts {
  std::string owner;
  int64_t open = 0, normal = 0, yellow = 0, red = 0, paused = 0;  // open: every active case
};

struct CaseSummary {
  std::string case_id, origin, item_code, item_name, status, applicant_name, applicant_id, agent;
  Timestamp updated_at = 0;
  std::optional<Date> deadline;
  std::string clock;  // normal | yellow | red | paused | done | none, as of the query
  std::string owner;     // the site that handles it now (跨区通办)
  std::string transfer;  // none | requested | dispatched | taken | returned
  Timestamp transfer_since = 0;
  bool conflict = false;  // two sites acted in conflict; not yet resolved
};

struct CaseQuery {
  std::string case_id_prefix;
  std::string applicant_id;  // the applicant's key: hex blind index (applicant_key())
  std::string status;
  std::string clock;
  std::string item_code;
  std::string agent;
  std::string origin;
  std::string owner;
  std::string transfer;
  bool conflict_only = false;
  Timestamp transfer_before = 0;  // 0: any; else transfer state entered before this time
  // Set: only cases of these items (a departmental reviewer's); an empty set matches none.
  std::optional<std::vector<std::string>> item_codes;
  int limit = 50;
  int offset = 0;
};

class CaseIndex {
 public:
  // SQL creating the index tables; owners include it in their migrations.
  static const std::string& schema();
  // A later migration: each case's owner, transfer state and open conflict (跨区通办).
  static const std::string& ownership_schema();
  // 电子监察: the earliest unanswered rectification order's due day (a later migration).
  static const std::string& supervision_schema();

  // With `keys` (a node's), a person's name is stored sealed under the data key and opened
  // for search results; without (the hub), it is not stored at all. An enterprise's name
  // is not personal and is stored as it is. The applicant is indexed by applicant_key():
  // the blind index, never the number.
  explicit CaseIndex(Db& db, const Keyring* keys = nullptr) : db_(db), keys_(keys) {}

  // Writes the row for `s` (and records a broken 容缺 commitment).
  Status upsert(const CaseState& s, const District& district);
  Result<std::vector<CaseSummary>> search(const CaseQuery& q, Date today);
  // Whether the case has a row.
  Result<bool> contains(const std::string& case_id);
  // Cases whose supervision sweep is due (deemed acceptance, 容缺 deadline) as of today.
  Result<std::vector<std::string>> due_for_sweep(Date today);
  // Open bad-rating callbacks and rectifications, earliest due first.
  Result<std::vector<CaseSummary>> open_rating_tasks();
  // Cases with an unanswered rectification order (any site's), earliest due first.
  Result<std::vector<std::string>> with_open_orders();
  Result<bool> broke_commitment(const std::string& applicant_id);
  // The case whose broken commitment bars the applicant ("" none).
  Result<std::string> broken_by(const std::string& applicant_id);
  // Records a commitment broken elsewhere in the district (the hub's list).
  Status record_broken_commitment(const std::string& applicant_id, const std::string& case_id);
  // The same applicant's open cases of the same item at more than one case (a resident who
  // filed the same at two sites): groups of case summaries, up to `limit` groups. With
  // `case_id`, only the group of that case (empty when it has no twin).
  Result<std::vector<std::vector<CaseSummary>>> open_duplicates(const std::string& case_id,
                                                                int limit, Date today);
  // Active cases per owning site by clock colour as of `today` (sites with none omitted).
  Result<std::vector<ClockCounts>> clock_counts(Date today);
  // Active cases a site owns (the dispatch rules' load).
  Result<int64_t> open_cases_of(const std::string& owner);
  // BLAKE2b over every row, to compare a live index with a rebuilt one (or node with hub).
  Result<std::string> digest();
  Status clear();
  // Re-seals up to `n` names not under the active data key; how many it re-sealed.
  Result<size_t> reseal_names(size_t n);

 private:
  CaseSummary summary_from_row(const Stmt& s, int deadline_col) const;
  // The sealed name of a case, re-used while the name and the active data key stay the
  // same: every event rewrites the row, and sealing each time would cost the write path.
  const std::string& sealed_name(const std::string& case_id, const std::string& name);
  Db& db_;
  const Keyring* keys_;
  std::unordered_map<std::string, std::pair<std::string, std::string>> sealed_names_;
};

}  // namespace tongban
