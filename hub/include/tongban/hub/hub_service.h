// The district hub's service: takes verified traffic from the sync server into the
// HubStore (every site's events verbatim, projected into the district case index by the
// same projector the nodes run), keeps each site's hub->node stream (catalog versions
// first), imports sealed offline bundles exactly once, and reports each site's sync state.
//
// Thread safety: safe from any thread. The HubStore locks storage; the service's own
// mutex guards only the in-memory contact times.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tongban/hub/hub_store.h"
#include "tongban/shared/case_index.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/crypto.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/sync_server.h"

namespace tongban::hub {

// What the hub knows of one site's link. It believes only what it can check: the site's
// head only as a signed claim (sync::verify_head) not behind what it holds, and a number it
// cannot know now (how far behind an unreachable site is) is unknown, not 0.
struct SiteSyncState {
  // connected: heard within kLiveSeconds with events still to come; idle: heard within
  // kLiveSeconds, nothing outstanding; unreachable: not heard for longer; never: not since
  // the hub's data began.
  enum class Link { kNever, kConnected, kIdle, kUnreachable };
  static constexpr Timestamp kLiveSeconds = 15;  // 3 heartbeats (every 5 s)

  std::string site, name, kind;
  bool provisioned = false;    // has a public key in site-config
  Link link = Link::kNever;
  Timestamp since = 0;         // connected/idle: since the link came up; unreachable: last contact
  Timestamp last_contact = 0;  // 0: never
  std::optional<uint64_t> head_seq;  // the site's newest event by its last signed claim
  std::optional<Timestamp> head_ts;
  uint64_t acked_seq = 0;      // held at the hub
  Timestamp acked_ts = 0;
  uint64_t stream_head = 0, delivered_seq = 0;
  uint64_t fork_seq = 0;  // 0: the site's history agrees with the hub's
  Timestamp fork_detected = 0;
  std::string fork_message;
  // Known only while the link is live and the site has told its head.
  std::optional<uint64_t> events_behind() const;
  std::optional<int64_t> seconds_behind() const;
};

std::string to_string(SiteSyncState::Link link);

struct BundleImport {
  std::string origin;
  uint64_t added = 0;
  uint64_t acked_seq = 0;
};

class HubService final : public sync::SyncHandler, public sync::DocumentHandler {
 public:
  static constexpr const char* kKeyFile = "hub.key";

  // Opens the store in `data_dir`; every reference (and `keys`, the hub's unlocked
  // keyring; null: it reads no personal field) must outlive the service.
  static Result<std::unique_ptr<HubService>> open(const District& district,
                                                  const std::filesystem::path& data_dir,
                                                  const SigningKey& key, const Clock& clock,
                                                  const Keyring* keys);
  const Keyring* keyring() const { return keys_; }

  const District& district() const { return district_; }
  Date today() const { return date_of(clock_.now()); }
  Timestamp now() const { return clock_.now(); }
  StaffDirectory& staff() { return store_->staff(); }

  // SyncHandler (called from the sync server's loop thread; store from its store thread).
  Result<sync::ChainHead> held(const std::string& origin) override;
  Result<Hash32> held_hash(const std::string& origin, uint64_t seq) override {
    return store_->held_hash(origin, seq);
  }
  void diverged(const std::string& site, uint64_t seq, const std::string& message) override;
  Result<std::set<std::string>> store(const std::vector<sync::StoreRun>& group) override {
    return store_->store_runs(group);
  }
  // Every event of a site is a case event: one whose body does not parse is refused.
  Status admit(const std::vector<sync::Event>& fresh) override;
  Result<bool> project(size_t budget) override { return store_->project_pending(budget); }
  void contact(const std::string& site, const std::optional<sync::HeadClaim>& head) override;
  Result<uint64_t> stream_head(const std::string& site) override;
  Result<std::vector<sync::Event>> stream_read(const std::string& site, uint64_t from,
                                               size_t max, size_t max_bytes) override;
  Status stream_acked(const std::string& site, uint64_t seq) override;
  bool awaits_return(const std::string& site) override { return store_->awaits_return(site); }
  Result<bool> returned(const std::string& site, const std::vector<sync::Event>& run,
                        const Signature& signature) override {
    return store_->returned(site, run, signature);
  }
  // One person across the district (protocol.md "Residents across sites"): the acceptance
  // check (the resident's open cases of the item elsewhere) or, with a reason, a clerk's
  // break-glass lookup of every case, recorded before it is answered.
  pb::ResidentAnswer resident_query(const std::string& site, const pb::ResidentQuery& q) override;
  Result<std::vector<HubStore::ResidentLookup>> resident_lookups(int limit) {
    return store_->resident_lookups(limit);
  }
  // 电子监察 (HubStore::supervise, alerts, act_on_alert).
  Result<int> supervise() { return store_->supervise(); }
  // The store itself (thread-safe), for the records with no sync side: 中介超市 and the
  // monthly report.
  HubStore& store() { return *store_; }
  const SupervisionRules& supervision_rules() const { return store_->supervision_rules(); }
  Result<HubStore::Officer> register_officer(const HubStore::Officer& o, const std::string& password) {
    return store_->register_officer(o, password);
  }
  Result<std::vector<HubStore::Officer>> officers() { return store_->officers(); }
  Result<HubStore::OfficerIssue> file_issue(const std::string& officer, const HubStore::NewIssue& in) {
    return store_->file_issue(officer, in);
  }
  Result<std::vector<HubStore::OfficerIssue>> issues(const std::string& officer, const std::string& state,
                                                     bool published = false) {
    return store_->issues(officer, state, published);
  }
  Result<HubStore::OfficerIssue> act_on_issue(int64_t id, const HubStore::IssueAct& act) {
    return store_->act_on_issue(id, act);
  }
  Result<std::vector<CaseState>> rating_appeals(bool pending, int limit) {
    return store_->rating_appeals(pending, limit);
  }
  Result<CaseState> decide_appeal(const std::string& case_id, bool upheld,
                                  const std::string& reason, const std::string& by) {
    return store_->decide_appeal(case_id, upheld, reason, by);
  }
  Result<std::vector<HubStore::RankingRow>> rankings(const std::string& by, Date month) {
    return store_->rankings(by, month);
  }
  Result<HubStore::Statistics> statistics(const HubStore::StatsQuery& q) {
    return store_->statistics(q);
  }
  Result<std::pair<std::vector<HubStore::Alert>, int64_t>> alerts(const HubStore::AlertQuery& q) {
    return store_->alerts(q);
  }
  Result<HubStore::Alert> act_on_alert(int64_t id, const HubStore::AlertAction& a) {
    return store_->act_on_alert(id, a);
  }
  Result<std::vector<HubStore::ToleranceBreach>> tolerance_breaches(int limit) {
    return store_->tolerance_breaches(limit);
  }

  // DocumentHandler (the sync server's document transfer thread): the hub fetches from each
  // site the files its events name, and gives sites the files of the cases they hold.
  Result<std::optional<std::string>> chunk_for(const std::string& peer,
                                               const std::string& case_id, const Hash32& hash,
                                               uint32_t index) override {
    return store_->document_chunk_for(peer, case_id, hash, index);
  }
  Result<std::vector<StoredDocument>> wanted_from(const std::string& peer, size_t max) override {
    return store_->documents_wanted_from(peer, max);
  }
  Result<DocumentStore::Put> put(const std::string& case_id, const Hash32& hash, uint32_t index,
                                 const std::string& sealed) override {
    return store_->put_document_chunk(case_id, hash, index, sealed);
  }
  Status defer(const std::string& case_id, const Hash32& hash, int seconds) override {
    return store_->defer_document(case_id, hash, seconds);
  }
  // 电子材料 for operators (HubStore::documents, read_document).
  Result<std::vector<StoredDocument>> documents(const std::string& case_id) {
    return store_->documents(case_id);
  }
  Result<HubStore::DocumentFile> read_document(const std::string& case_id, const Hash32& hash,
                                               const std::string& by, const std::string& reason) {
    if (!valid_case_id(case_id)) return Status::NotFound("not_found", "案件不存在", "case not found");
    return store_->read_document(case_id, hash, by, reason);
  }

  // The largest catalog text published: it travels to each site as one stream event, which
  // must reach a site on a 2 Mbit/s link within the 5 s the link waits for a message
  // (docs/protocol.md); a larger one could never be delivered and would hold up every
  // directive behind it in every site's stream.
  static constexpr size_t kMaxCatalogBytes = sync::kSlowLinkMessageBytes;
  // An operator publishes a catalog (catalog.toml text): at most kMaxCatalogBytes,
  // validated, numbered above every earlier version, and appended to every site's stream.
  // Returns the version.
  Result<int> publish_catalog(const std::string& toml_text, const std::string& operator_name);
  Result<int> catalog_version() { return store_->catalog_version(); }
  // Opens a sealed bundle with the hub key and stores its events exactly once.
  Result<BundleImport> import_bundle(const std::string& sealed);

  Result<std::string> restore_page(const std::string& site, uint64_t from, size_t max) {
    return store_->restore_page(site, from, max);
  }
  // A case of any site; NotFound when the hub holds no such case.
  Result<CaseState> get_case(const std::string& case_id);
  // The same with the personal fields opened, for `by` with a stated reason (audited).
  Result<CaseState> reveal_case(const std::string& case_id, const std::string& by,
                                const std::string& reason);
  Result<std::vector<HubStore::PersonalRead>> personal_reads(int limit) {
    return store_->personal_reads(limit);
  }
  Result<std::vector<sync::Event>> case_events(const std::string& case_id) {
    if (!valid_case_id(case_id)) return Status::NotFound("not_found", "案件不存在", "case not found");
    return store_->case_events(case_id);
  }
  Result<std::vector<CaseSummary>> search(const CaseQuery& q) {
    return store_->search(q, today());
  }
  Result<std::vector<SiteSyncState>> sync_states();
  // Each owning site's open cases by clock colour, as of today.
  Result<std::vector<ClockCounts>> clock_counts() { return store_->clock_counts(today()); }
  // A resident's open applications for the same item at several sites (case_id: that
  // case's twins only).
  Result<std::vector<std::vector<CaseSummary>>> open_duplicates(const std::string& case_id,
                                                                int limit) {
    return store_->open_duplicates(case_id, limit, today());
  }

  // 跨区通办 (HubStore::hand_over, resolve_conflict).
  Result<CaseState> hand_over(const std::string& case_id, const std::string& to,
                              const std::string& reason, const std::string& by,
                              const std::string& part = "") {
    if (!valid_case_id(case_id)) return Status::NotFound("not_found", "案件不存在", "case not found");
    return store_->hand_over(case_id, to, reason, by, part);
  }
  Result<CaseState> resolve_conflict(const std::string& case_id, const std::string& reason,
                                     const std::string& by) {
    if (!valid_case_id(case_id)) return Status::NotFound("not_found", "案件不存在", "case not found");
    return store_->resolve_conflict(case_id, reason, by);
  }
  // The operators' dispatch queue: cases in transfer state `state` (requested: not placed;
  // dispatched: waiting for the target to take them; returned), oldest first, each with the
  // working hours (09:00-17:00 on working days) it has waited; stuck from `stuck_hours` on
  // (yellow on the queue); `stuck_only` keeps only those.
  struct QueueEntry {
    CaseSummary c;
    double waited_working_hours = 0;
    bool stuck = false;
  };
  Result<std::vector<QueueEntry>> dispatch_queue(const std::string& state, double stuck_hours,
                                                 bool stuck_only, int limit);
  // Sends new stream events (hand-overs caused by stored events) to the nodes.
  void set_on_stream_change(std::function<void()> fn) {
    store_->set_on_stream_change(std::move(fn));
  }

 private:
  HubService(const District& district, std::unique_ptr<HubStore> store, const SigningKey& key,
             const Clock& clock, const Keyring* keys)
      : district_(district), store_(std::move(store)), key_(key), clock_(clock), keys_(keys) {}

  struct Contact {
    Timestamp at = 0, up_since = 0;
    std::optional<uint64_t> head_seq;
    std::optional<Timestamp> head_ts;
  };

  const District& district_;
  std::unique_ptr<HubStore> store_;
  const SigningKey& key_;
  const Clock& clock_;
  const Keyring* keys_;
  std::mutex contacts_mu_;
  std::map<std::string, Contact> contacts_;  // guarded by contacts_mu_; in memory only
};

}  // namespace tongban::hub
