// JSON views of a case for the HTTP APIs of node and hub (one rendering for both).
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "tongban/shared/case.h"
#include "tongban/shared/case_index.h"

namespace tongban {

// The full case as staff see it, with the clock as of `today` and, while the application
// is unanswered, the date it will count as accepted (art. 32).
nlohmann::json case_to_json(const CaseState& s, Date today, const WorkCalendar& cal,
                            int yellow_days);
nlohmann::json clock_to_json(const ClockView& clock);
// One row of a search result; the applicant's ID number is masked.
nlohmann::json summary_to_json(const CaseSummary& c);
// A search answer: {cases: [summary], count, limit, offset}.
nlohmann::json search_result_json(const CaseQuery& q, const std::vector<CaseSummary>& found);

}  // namespace tongban
