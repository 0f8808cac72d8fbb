// The node's storage: one SQLite file in the data dir holding the site's event log, the
// projections built from it (the case index, appointments) and local-only staff accounts,
// the hub→node inbox with the catalog versions it brought, and the sync cursor.
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
#include "tongban/shared/case_index.h"
#include "tongban/shared/config.h"
#include "tongban/shared/db.h"
#include "tongban/sync/event_log.h"

namespace tongban::node {

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
  // The migrations of node.db, for other connections to the same file.
  static const std::vector<std::string>& migrations();

  Db& db() { return *db_; }
  sync::EventLog& log() { return log_; }
  CaseIndex& cases() { return index_; }

  // Replays one case's events; a state with status kNone when there are none.
  Result<CaseState> load_case(const std::string& case_id);
  // Updates the projections for `event` (inside the caller's LogWriter transaction).
  Status project(const pb::CaseEvent& body, const CaseState& after, const District& district);
  // Next case or appointment number for a counter (inside the caller's transaction).
  Result<int64_t> next_number(const std::string& counter);

  Result<std::optional<Appointment>> appointment(const std::string& id);
  Result<std::vector<Appointment>> appointments_on(const std::string& date,
                                                   const std::string& agent);
  Result<int> booked_count(const std::string& date, const std::string& slot);

  // Catalog versions received from the hub, as catalog.toml text by version.
  Result<std::vector<std::pair<int, std::string>>> catalog_versions();
  Status save_catalog_version(int version, const std::string& toml);

  // Drops and recreates every projection from the event log.
  Status rebuild_projections(const District& district);

  NodeStore(NodeStore&&) = default;

 private:
  NodeStore(std::unique_ptr<Db> db, sync::EventLog log)
      : db_(std::move(db)), log_(std::move(log)), index_(*db_) {}
  Status project_appointment(const pb::CaseEvent& body);

  std::unique_ptr<Db> db_;  // heap-held: the log and index keep references across moves
  sync::EventLog log_;
  CaseIndex index_;
};

}  // namespace tongban::node
