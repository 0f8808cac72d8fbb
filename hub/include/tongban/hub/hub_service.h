// The district hub's service: stores every site's verified events verbatim (keyed origin,
// seq, with the site's own signature over its head), builds the global case index with the
// same evolve as the nodes, keeps one signed hub->node stream per site (catalog versions
// first), imports sealed offline bundles exactly once, and reports each site's sync state.
//
// Thread safety: every public method locks the service mutex; safe from any thread.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tongban/shared/case_index.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/db.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/replica.h"
#include "tongban/sync/sync_server.h"

namespace tongban::hub {

struct SiteSyncState {
  std::string site, name, kind;
  bool provisioned = false;    // has a public key in site-config
  Timestamp last_contact = 0;  // 0: never
  uint64_t head_seq = 0;       // the site's newest event, as it last said
  uint64_t acked_seq = 0;      // held at the hub
  Timestamp head_ts = 0, acked_ts = 0;
  uint64_t stream_head = 0, delivered_seq = 0;
  uint64_t events_behind() const { return head_seq > acked_seq ? head_seq - acked_seq : 0; }
  int64_t seconds_behind() const {
    return events_behind() && head_ts > acked_ts ? head_ts - acked_ts : 0;
  }
};

struct BundleImport {
  std::string origin;
  uint64_t added = 0;
  uint64_t acked_seq = 0;
};

class HubService final : public sync::SyncHandler {
 public:
  static constexpr const char* kDbFile = "hub.db";
  static constexpr const char* kKeyFile = "hub.key";

  static Result<std::unique_ptr<HubService>> open(const District& district,
                                                  const std::filesystem::path& data_dir,
                                                  const SigningKey& key, const Clock& clock);

  std::mutex& mutex() { return mu_; }
  Db& db() { return *db_; }
  const District& district() const { return district_; }
  Date today() const { return date_of(clock_.now()); }

  // SyncHandler (called from the sync server's loop thread).
  Result<sync::ChainHead> held(const std::string& origin) override;
  Status store(const std::string& site, const sync::BatchCheck& checked,
               const pb::Batch& batch) override;
  void contact(const std::string& site, uint64_t head_seq, int64_t head_ts) override;
  Result<uint64_t> stream_head(const std::string& site) override;
  Result<std::vector<sync::Event>> stream_read(const std::string& site, uint64_t from,
                                               size_t max) override;
  Status stream_acked(const std::string& site, uint64_t seq) override;

  // An operator publishes a catalog (catalog.toml text): validated, numbered above every
  // earlier version, and appended to every site's stream. Returns the version.
  Result<int> publish_catalog(const std::string& toml_text, const std::string& operator_name);
  Result<int> catalog_version();
  // Opens a sealed bundle with the hub key and stores its events exactly once.
  Result<BundleImport> import_bundle(const std::string& sealed);

  Result<CaseState> load_case(const std::string& case_id);
  Result<std::vector<sync::Event>> case_events(const std::string& case_id);
  Result<std::vector<CaseSummary>> search(const CaseQuery& q);
  Result<std::vector<SiteSyncState>> sync_states();

 private:
  HubService(const District& district, std::unique_ptr<Db> db, const SigningKey& key,
             const Clock& clock);
  Status store_locked(const std::vector<sync::Event>& fresh, const Signature& signature);
  Status append_to_streams(const std::string& kind, const std::string& body,
                           const std::string& actor);

  struct Contact {
    Timestamp at = 0;
    uint64_t head_seq = 0;
    int64_t head_ts = 0;
  };

  const District& district_;
  std::map<std::string, Contact> contacts_;  // in memory: written to site_state with batches
  std::unique_ptr<Db> db_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  const SigningKey& key_;
  const Clock& clock_;
  sync::Replica replica_;
  CaseIndex index_;
  std::mutex mu_;
};

}  // namespace tongban::hub
