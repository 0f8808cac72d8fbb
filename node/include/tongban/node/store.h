// The node's storage: one SQLite file in the data dir holding the site's event log and
// the projections built from it (case summaries for search and supervision, appointments,
// applicants who broke a 容缺 commitment), plus local-only staff accounts and sessions.
//
// Projections are derived: rebuild_projections() recreates them from the log alone.
//
// Thread safety: not thread-safe; the CaseService serializes every call.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/case.h"
#include "tongban/shared/config.h"
#include "tongban/shared/db.h"
#include "tongban/sync/event_log.h"

namespace tongban::node {

// One row of the case index.
struct CaseSummary {
  std::string case_id, item_code, item_name, status, applicant_name, applicant_id, agent;
  Timestamp updated_at = 0;
  std::optional<Date> deadline;
  std::string clock;  // normal | yellow | red | paused | done | none, as of the query
};

struct CaseQuery {
  std::string case_id_prefix;
  std::string applicant_id;
  std::string status;
  std::string clock;
  std::string item_code;
  std::string agent;
  int limit = 50;
  int offset = 0;
};

struct Appointment {
  std::string id, item_code, date, slot, status, agent, case_id;
  int window = 0;
  bool extended_hours = false;
  pb::Applicant applicant;
};

class NodeStore {
 public:
  static constexpr const char* kDbFile = "node.db";
  static constexpr const char* kKeyFile = "site.key";

  // Opens (creating and migrating) data_dir/node.db.
  static Result<NodeStore> open(const std::filesystem::path& data_dir, const std::string& site_id,
                                const SigningKey* key);

  Db& db() { return *db_; }
  sync::EventLog& log() { return log_; }

  // Replays one case's events; a state with status kNone when there are none.
  Result<CaseState> load_case(const std::string& case_id);
  // Updates the projections for `event` (inside the caller's LogWriter transaction).
  Status project(const sync::Event& event, const pb::CaseEvent& body, const CaseState& after,
                 const District& district);
  // Next case or appointment number for a day (inside the caller's transaction).
  Result<int64_t> next_number(const std::string& counter);

  Result<std::vector<CaseSummary>> search(const CaseQuery& q, Date today);
  // Cases whose supervision sweep is due (deemed acceptance, 容缺 deadline) as of today.
  Result<std::vector<std::string>> cases_due_for_sweep(Date today);
  // Open bad-rating callbacks and rectifications.
  Result<std::vector<CaseSummary>> open_rating_tasks();
  Result<bool> broke_commitment(const std::string& applicant_id);

  Result<std::optional<Appointment>> appointment(const std::string& id);
  Result<std::vector<Appointment>> appointments_on(const std::string& date,
                                                   const std::string& agent);
  Result<int> booked_count(const std::string& date, const std::string& slot);

  // Drops and recreates every projection from the event log.
  Status rebuild_projections(const District& district);
  // BLAKE2b over the case index, to compare a live projection with a rebuilt one.
  Result<std::string> projection_digest();

  NodeStore(NodeStore&&) = default;

 private:
  NodeStore(std::unique_ptr<Db> db, sync::EventLog log)
      : db_(std::move(db)), log_(std::move(log)) {}
  Status upsert_case(const CaseState& s, const District& district);
  Status project_appointment(const sync::Event& event, const pb::CaseEvent& body);

  std::unique_ptr<Db> db_;  // heap-held: the log keeps a pointer to it across moves
  sync::EventLog log_;
};

}  // namespace tongban::node
