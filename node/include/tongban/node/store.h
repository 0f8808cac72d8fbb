// The node's storage: one SQLite file in the data dir holding the site's event log, the
// projections built from it (the case index through the shared CaseProjector, and the
// appointments), local-only staff accounts, the hub->node stream with the catalog
// versions it brought, and the sync cursor.
//
// Projections are derived: rebuild_projections() recreates them from the log alone, through
// the same projector the commit path uses.
//
// Thread safety: safe from any thread. The store owns its connection and the mutex that
// guards it (nothing outside sees either); every public method takes the mutex, and
// write() runs a whole command (read, decide, append, project) under it in one transaction.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/case.h"
#include "tongban/shared/case_index.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/db.h"
#include "tongban/shared/documents.h"
#include "tongban/shared/keyring.h"
#include "tongban/shared/personal.h"
#include "tongban/shared/projector.h"
#include "tongban/shared/staff.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/head_witness.h"

namespace tongban::node {

class CaseKeys;

// Why the node stopped taking writes, and since when.
struct Halt {
  std::string reason;  // fork | behind_own_history | log_broken | hub_refused
  std::string message_zh, message_en;
  Timestamp since = 0;
};

struct Appointment {
  std::string id, item_code, date, slot, status, agent, case_id;
  int window = 0;
  bool extended_hours = false;
  pb::Applicant applicant;
};

// A one-time rating ticket (好差评: the resident rates, never the staff). The token (32
// random bytes, hex) is given once, to be shown on the rating pad or as a QR code; only
// its BLAKE2b hash is stored. A ticket rates its case once, before it expires.
struct RatingTicket {
  std::string case_id;
  std::string issued_by;  // the staff member who served the resident (the one rated)
  Timestamp expires_at = 0;
  Timestamp used_at = 0;  // 0: not used
  int window = 0;         // the window (窗口号) it was issued at, 1-99; 0: not given
};

class NodeStore {
 public:
  static constexpr const char* kDbFile = "node.db";
  static constexpr const char* kKeyFile = "site.key";
  static constexpr const char* kHeadFile = "log.head";  // the signed head witness

  // Opens (creating and migrating) data_dir/node.db. `key` (null for read-only tools) signs
  // the log head; `keys` (null for read-only tools: personal fields stay sealed) is the
  // site's unlocked keyring: events are sealed with it as they are appended and opened as
  // they are folded, names and appointments are sealed at rest, applicants are indexed by
  // blind index. `district`, `clock` and `keys` must outlive the store. With a key, the node's own
  // chain is checked first: from the witnessed head in data_dir/log.head to the log's head
  // (the whole chain when there is no witness). Corruption when it is broken, edited, or
  // behind its witness: a node never runs on a broken log.
  static Result<std::unique_ptr<NodeStore>> open(const std::filesystem::path& data_dir,
                                                 const std::string& site_id,
                                                 const SigningKey* key, const District& district,
                                                 const Clock& clock, Keyring* keys);
  // The migrations of node.db, for other connections to the same file.
  static const std::vector<std::string>& migrations();

  ~NodeStore();
  NodeStore(const NodeStore&) = delete;
  NodeStore& operator=(const NodeStore&) = delete;

  // What a command may do inside write(): read the state it decides on and append events.
  // Valid only during the write() call that hands it out.
  class Writer {
   public:
    // Replays one case's events (a state with status kNone when there are none).
    Result<CaseState> load_case(const std::string& case_id);
    // Next case or appointment number for a counter.
    Result<int64_t> next_number(const std::string& counter);
    // Whether the applicant broke a 容缺 commitment anywhere in the district (by blind index).
    Result<bool> broke_commitment(const pb::Applicant& applicant);
    Result<std::optional<Appointment>> appointment(const std::string& id);
    Result<std::vector<Appointment>> appointments_on(const std::string& date,
                                                     const std::string& agent);
    // The time to decide and append at: the clock, never before the newest event (for up
    // to a day: sync::EventLog::next_ts).
    Timestamp now() const;
    // Appends `event` to the log under `stream_id` (a case id, or an appointment id for
    // appointment events), applies it to `state` and projects it.
    Status append(CaseState& state, const std::string& stream_id, const pb::CaseEvent& event,
                  const std::string& actor, Timestamp ts);
    // Spends a rating ticket; Conflict (already_rated) if it was spent before.
    Status spend_rating_ticket(const std::string& token, Timestamp at);
    // Keeps the file of a DocumentAttached this write appended, sealed under the case key
    // in chunks (shared/documents.h): committed with the event, or not at all.
    Status put_document(const std::string& case_id, const Hash32& hash, std::string_view content);

   private:
    friend class NodeStore;
    Writer(NodeStore& store, sync::LogWriter& log) : store_(store), log_(log) {}
    NodeStore& store_;
    sync::LogWriter& log_;
  };
  // Runs `fn` under the store's lock in one transaction. When fn returns Ok and appended
  // events, the transaction commits (synchronous=FULL: durable on return) and the result
  // is how many events it appended; on any failure nothing was written. Unavailable
  // (node_halted) once the node is halted.
  Result<uint64_t> write(const std::function<Status(Writer&)>& fn);
  // The node's time: its clock, but never before its newest event, so that a clock
  // stepped back (NTP, a wrong manual setting) neither dates an event before the one it
  // follows nor makes "today" the day before: it holds still until the clock passes it
  // (for up to a day: sync::EventLog::next_ts).
  // Takes the store's lock: inside write(), use Writer::now().
  Timestamp now();

  Result<CaseState> load_case(const std::string& case_id);
  Result<std::vector<sync::Event>> case_events(const std::string& case_id);
  Result<std::vector<CaseSummary>> search(const CaseQuery& q, Date today);
  // Cases whose supervision sweep is due (deemed acceptance, 容缺 deadline).
  Result<std::vector<std::string>> due_for_sweep(Date today);
  Result<std::vector<CaseSummary>> open_rating_tasks();
  // Cases with an unanswered rectification order (电子监察), earliest due first, as folded
  // (the caller keeps the orders addressed to this site).
  Result<std::vector<CaseState>> open_supervision_orders();
  // Stores a new rating ticket for `token` (committed on return).
  Status add_rating_ticket(const std::string& token, const RatingTicket& ticket);
  Result<std::optional<RatingTicket>> rating_ticket(const std::string& token);
  // BLAKE2b over the case index, to compare with a rebuilt one or with the hub's.
  Result<std::string> index_digest();
  // The newest own event.
  sync::ChainHead head();
  // For /metrics: this site's open cases by clock colour as of `today` (a scan), and when
  // the first event after `acked` was written (nullopt: every event is acknowledged).
  Result<ClockCounts> clock_counts(Date today);
  Result<std::optional<Timestamp>> oldest_unacked_ts(uint64_t acked);

  Result<std::optional<Appointment>> appointment(const std::string& id);
  Result<std::vector<Appointment>> appointments_on(const std::string& date,
                                                   const std::string& agent);
  Result<int> booked_count(const std::string& date, const std::string& slot);

  // Catalog versions received from the hub, as catalog.toml text by version.
  Result<std::vector<std::pair<int, std::string>>> catalog_versions();
  // The newest hub->node stream event applied, and the hash of one applied.
  Result<sync::ChainHead> delivered();
  Result<Hash32> delivered_hash(uint64_t seq);
  // Stores a checked run of the hub->node stream with what it carries (already parsed and
  // checked by the caller) in one durable transaction: catalog versions, the district's
  // list of broken 容缺 commitments, and events of
  // cases that moved (borrowed, each once), whose projections are rebuilt and whose moves
  // this node acknowledges in its own log (Released as former owner, Received as new).
  struct DeliveredCase {
    std::string case_id;
    std::vector<sync::Event> events;
    std::string case_key;  // the case key sealed to this site's box key ("" none)
    // Made beforehand by prepare_delivered: the case key opened and sealed as case_keys
    // keeps it, and the case folded from `events` with it when they are its whole history.
    // Used when the case is new here and that key is the one adopted; redone otherwise.
    std::optional<SecretKey> key;  // the owner wipes it
    std::string sealed_key;
    std::optional<CaseState> folded;
  };
  struct BrokenCommitment {
    std::string applicant_id, case_id;
  };
  // The part of applying `c` that needs neither the store nor its lock (any thread):
  // opens its key with `unwrapper` (the caller's own: it is not thread-safe), seals it for
  // case_keys and folds a whole history. Whatever fails here is redone, and reported, by
  // apply_delivery.
  void prepare_delivered(DeliveredCase& c, KeyUnwrapper& unwrapper) const;
  Status apply_delivery(const sync::BatchCheck& checked,
                        const std::vector<std::pair<int, std::string>>& catalogs,
                        std::vector<DeliveredCase>& cases,
                        const std::vector<BrokenCommitment>& broken = {});

  // 电子材料: the documents a case's events name, as held here (a file another site
  // attached arrives from the hub after its events), and one whole file, opened with the
  // case key and checked against its hash (NotFound document_not_here until it is in).
  Result<std::vector<StoredDocument>> documents(const std::string& case_id);
  Result<std::string> read_document(const std::string& case_id, const Hash32& hash);
  // The transfer with the hub (node_sync.cc): a sealed chunk held, the documents still to
  // fetch, the next chunk fetched (checked with the case key; committed on return unless
  // refused), and a document the hub does not hold yet, not asked for before `until`.
  Result<std::optional<std::string>> document_chunk(const std::string& case_id,
                                                    const Hash32& hash, uint32_t index);
  Result<std::vector<StoredDocument>> documents_wanted(size_t max);
  Result<DocumentStore::Put> put_document_chunk(const std::string& case_id, const Hash32& hash,
                                                uint32_t index, const std::string& sealed);
  Status defer_document(const std::string& case_id, const Hash32& hash, Timestamp until);

  // Drops and recreates every projection from the event log.
  Status rebuild_projections();
  // Stores case keys the hub wrapped for this site's box key (a site restored from the
  // hub), in one transaction; keys already held are kept.
  Status adopt_case_keys(const std::vector<std::pair<std::string, std::string>>& wrapped);

  // Key rotation (no downtime): a new data key becomes active and the keyring file is
  // rewritten; reseal() then moves the rows still under an older key, `n` at a time, and
  // once none is left retires the old keys (rewriting the file again). Conflict
  // (no_keyring) without a keyring.
  struct KeyStatus {
    uint32_t active = 0;
    std::vector<uint32_t> keys;
    size_t resealed = 0;  // by this call
  };
  Result<KeyStatus> rotate_data_key();
  Result<KeyStatus> reseal(size_t n);
  // The site's keyring (null for read-only tools).
  const Keyring* keyring() const { return keys_; }

  // Stops every further write, durably (a restart keeps refusing): the node's history
  // diverged from what the hub acknowledged, or its own log is broken. The recovery is
  // restoring the site from the hub. The first halt stands; later ones are ignored.
  Status halt(const Halt& why);
  std::optional<Halt> halted();
  // Verifies the whole log on a second connection (the start checked only the tail) and
  // halts the node when it is broken. For a background thread; returns the verdict.
  Status audit_log(const std::map<std::string, PublicKey>& keys);
  // Stops a running audit_log at its next SQLite step (a stop must not wait for a whole
  // chain's walk): it then returns Unavailable (audit_cancelled) and halts nothing.
  void cancel_audit() { audit_cancelled_ = true; }

  // Staff accounts and sessions, in the same file under the same lock.
  StaffDirectory& staff() { return staff_; }

 private:
  NodeStore(std::unique_ptr<Db> db, sync::EventLog log, const District& district,
            const Clock& clock, std::filesystem::path data_dir, const SigningKey* key,
            Keyring* keys);
  std::string seal_appointment(const pb::Applicant& a, const std::string& id) const;
  Appointment appointment_from_row(const Stmt& s) const;
  Status check_own_log();
  Status write_witness_locked();
  std::optional<sync::HeadWitness> witness_;  // guarded by mu_; null for read-only tools
  // Each *_locked member expects mu_ held.
  Result<CaseState> load_case_locked(const std::string& case_id);
  // `index` false: the state is folded, its index row written later by the caller (a
  // rebuild indexes each case once).
  Status project_locked(CaseState& state, const pb::CaseEvent& event, const EventMeta& meta,
                        bool index = true);
  Status project_appointment_locked(const pb::CaseEvent& event);
  // Appends Released or Received when due (projecting it); true when it appended.
  Result<bool> acknowledge_move_locked(Writer& writer, CaseState& state);
  Result<std::optional<Appointment>> appointment_locked(const std::string& id);
  Result<std::vector<Appointment>> appointments_on_locked(const std::string& date,
                                                          const std::string& agent);

  std::mutex mu_;
  const std::filesystem::path data_dir_;
  const SigningKey* key_;
  Keyring* keys_;
  const Clock& clock_;
  std::optional<Halt> halt_;  // guarded by mu_
  std::atomic<bool> audit_cancelled_{false};
  std::unique_ptr<Db> db_;  // guarded by mu_
  sync::EventLog log_;      // guarded by mu_
  CaseProjector projector_;  // guarded by mu_
  DocumentStore documents_;  // guarded by mu_
  std::unique_ptr<CaseKeys> case_keys_;  // guarded by mu_
  StaffDirectory staff_;     // locks mu_ itself
  std::unique_ptr<WalCheckpointer> checkpointer_;  // its own connection and thread
};

}  // namespace tongban::node
