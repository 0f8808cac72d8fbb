// 电子监察's statistics (measure 15): what each concluded case counts for, kept per case in
// the hub's `case_stats` as its events arrive, and summed per site, department, item or
// staff member over a period by one grouped query (HubStore::statistics).
#pragma once

#include <optional>
#include <string>

#include "tongban/shared/case.h"
#include "tongban/shared/config.h"

namespace tongban::hub {

// One case's contribution. Dates are days since 1970-01-01 (China Standard Time).
struct CaseFacts {
  std::string case_id, site, origin, department, item_code, staff;
  std::optional<Date> received;      // filed (none: still in pre-review)
  std::optional<Date> concluded;     // decided, refused, withdrawn or terminated
  bool decided = false;              // approved or denied (the on-time rate's cases)
  bool on_time = false;              // decided within the promised working days
  int used_working_days = 0;         // acceptance to decision, suspensions excluded
  int promised_days = 0, legal_days = 0;
  bool deemed = false;               // deemed accepted (art. 32)
  bool tolerated = false;            // 容缺受理 granted
  bool broke_commitment = false;     // ... and the promise broken
  bool one_visit = false;            // 一次办成: no 补正 request and no 容缺 supply owed
  bool nearest = false;              // 就近办: decided at the site that received it
  bool active = false, paused = false;
  std::optional<Date> deadline;      // the promised deadline while open
  int rating = 0;                    // 1..5 (national scale), 0 none
  std::optional<Date> rated;         // the day of the rating (rankings go by it)
  std::string served_by;             // the staff member rated (who issued the ticket)
  std::string rated_site;            // where the rating was given: the receiving site
  std::string rated_window;          // "S01-3": that site's window 3 ("" when not given)
  int appeal = 0;                    // 申诉复核: 0 none, 1 pending, 2 upheld, 3 rejected
};

CaseFacts facts_of(const CaseState& s, const District& district);

}  // namespace tongban::hub
