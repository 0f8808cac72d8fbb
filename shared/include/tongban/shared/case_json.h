// JSON views of a case for the HTTP APIs of node and hub (one rendering for both).
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "tongban/shared/calendar.h"
#include "tongban/shared/case.h"
#include "tongban/shared/documents.h"
#include "tongban/shared/case_index.h"
#include "tongban/shared/crypto.h"

namespace tongban {

// The full case as staff see it, with the clock as of `today` and, while the application
// is unanswered, the date it will count as accepted (art. 32).
nlohmann::json case_to_json(const CaseState& s, Date today, const WorkCalendar& cal,
                            int yellow_days);
nlohmann::json clock_to_json(const ClockView& clock);
// A rectification order (电子监察) and the site's answer, as the case view lists them.
nlohmann::json supervision_order_json(const SupervisionOrder& o);
// A case's documents (GET …/documents on node and hub): each as its DocumentAttached says,
// with where its file stands in `held` (fetching, complete, rejected; chunks held).
nlohmann::json documents_to_json(const CaseState& s, const std::vector<StoredDocument>& held);
// One row of a search result; the applicant's ID number is masked.
nlohmann::json summary_to_json(const CaseSummary& c);
// A search answer: {cases: [summary], count, limit, offset}.
nlohmann::json search_result_json(const CaseQuery& q, const std::vector<CaseSummary>& found);

// The events of one case as the node and hub APIs list them (no bodies: the case view
// shows the content): {case_id, events: [{origin, seq, lamport, kind, actor, time, hash}]}.
// `Event` is any stored event type with those members (sync::Event).
template <class Event>
nlohmann::json case_events_json(const std::string& case_id, const std::vector<Event>& events) {
  nlohmann::json list = nlohmann::json::array();
  for (const Event& e : events)
    list.push_back({{"origin", e.origin},
                    {"seq", e.seq},
                    {"lamport", e.lamport},
                    {"kind", e.kind},
                    {"actor", e.actor},
                    {"time", format_time(e.ts)},
                    {"hash", to_hex(e.hash)}});
  return {{"case_id", case_id}, {"events", list}};
}

}  // namespace tongban
