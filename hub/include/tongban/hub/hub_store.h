// The hub's storage: one SQLite file holding every site's verified events verbatim (keyed
// origin, seq, with each site's own signature over its head), the district case index
// built through the shared CaseProjector (the same projection the nodes run), the signed
// hub->node streams, published catalog versions, each site's recorded sync state, and the
// operators' staff accounts.
//
// Thread safety: safe from any thread. The store owns its connection and the mutex that
// guards it; every public method that touches it takes the mutex, and each write is one
// durable (synchronous=FULL) transaction. A second connection checkpoints the WAL in the
// background so the writer never pays for it. The calls the sync socket loop makes on
// every frame (held heads and hashes, stream heads and pages, stream cursors) never take
// the writer's mutex: the reads go through a third, read-only connection with its own
// mutex (what is committed), the cursors are noted in memory.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tongban/shared/case.h"
#include "tongban/shared/case_index.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/db.h"
#include "tongban/shared/documents.h"
#include "tongban/shared/personal.h"
#include "tongban/shared/projector.h"
#include "tongban/shared/staff.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/event_log.h"
#include "tongban/sync/replica.h"
#include "tongban/hub/report.h"
#include "tongban/hub/statistics.h"
#include "tongban/hub/supervision.h"

namespace tongban::hub {

// What the hub has recorded of one site's sync (zeros: never).
struct SiteRecord {
  Timestamp last_contact = 0;  // the last batch stored
  uint64_t head_seq = 0;       // the newest seq the site advertised with a stored batch
  Timestamp head_ts = 0;
  uint64_t acked_seq = 0;  // held at the hub
  Timestamp acked_ts = 0;
  uint64_t stream_head = 0;    // newest hub->node event for the site
  uint64_t delivered_seq = 0;  // newest the site has applied
  // The site's history forked from what the hub acknowledged (0: never).
  uint64_t fork_seq = 0;
  Timestamp fork_detected = 0;
  std::string fork_message;
};

// The result of checking and storing a batch in one step (offline bundles).
struct Ingested {
  sync::ChainHead before;  // what the hub held of the origin before
  sync::BatchCheck check;  // !check.ok(): refused, nothing stored
};

// A site's log holds case events only: InvalidArgument naming the first event whose body
// does not parse as one (the hub could store it but never project it). Thread-safe.
Status case_events_only(const std::vector<sync::Event>& events);

class HubStore {
 public:
  static constexpr const char* kDbFile = "hub.db";

  // Opens (creating and migrating) data_dir/hub.db. `district`, `clock`, `key` (the
  // hub's, signing its own log and the streams) and `keys` (its unlocked keyring: case
  // keys sealed to the hub open with it; null: the hub reads no personal field) must
  // outlive it.
  static Result<std::unique_ptr<HubStore>> open(const std::filesystem::path& data_dir,
                                                const District& district, const Clock& clock,
                                                const SigningKey& key, const Keyring* keys);
  // Called (under the store's lock, after the commit) whenever a write appended to a
  // hub->node stream, so the sync server sends it. Set before traffic starts.
  void set_on_stream_change(std::function<void()> fn) { on_stream_change_ = std::move(fn); }
  HubStore(const HubStore&) = delete;
  HubStore& operator=(const HubStore&) = delete;

  // The highest contiguous event held for `origin`, and the hash of one held event, as
  // committed (through the reader: never waits for the writer's lock).
  Result<sync::ChainHead> held(const std::string& origin);
  Result<Hash32> held_hash(const std::string& origin, uint64_t seq);
  // Records that `site` forked at `seq` (the first fork stands until the site is restored);
  // true when this is news.
  Result<bool> record_fork(const std::string& site, uint64_t seq, const std::string& message);
  // Stores checked runs of events in one transaction (group commit), in order, and records
  // the head each site advertised. A run that does not continue its site's stored chain (a
  // bundle imported since the run was checked) is left out with the site's later runs;
  // the answer names those sites. The stored runs are durable (and may be acknowledged) on
  // return; their projection follows behind, through project_pending.
  Result<std::set<std::string>> store_runs(const std::vector<sync::StoreRun>& runs);
  // Checks `batch` against the held chain with `origin_key` and stores what is new, under
  // one lock so no live batch of the same origin interleaves; then projects everything
  // pending, so the caller (a bundle import) sees the result.
  Result<Ingested> check_and_store(const pb::Batch& batch, const PublicKey& origin_key);
  // The projection behind the log: projects up to `budget` of the sites' events stored and
  // not yet projected (each site's from its cursor, the sites with fewest pending first,
  // an equal share each), in one transaction with their reactions (forwarding, dispatch,
  // the district's lists; recorded for later while a restored hub waits) and the cursors.
  // True when events remain. The hub's own events are projected as it writes them.
  // An error leaves the cursors where they were (the caller retries later).
  Result<bool> project_pending(size_t budget);
  // Sites' events stored and not yet projected: a snapshot, never waits for the lock.
  uint64_t projection_backlog() const { return backlog_.load(std::memory_order_relaxed); }

  // The hub->node stream of `site`: its newest seq and a run of it, as committed (through
  // the reader), and the site's cursor. The cursor is noted in memory and written by the
  // writer's next store or projection step (project_pending writes it even with nothing to
  // project); a node says its cursor again in every Hello, so one lost with a crash costs
  // nothing. site_record reports the noted value meanwhile.
  Result<uint64_t> stream_head(const std::string& site);
  Result<std::vector<sync::Event>> stream_read(const std::string& site, uint64_t from,
                                               size_t max, size_t max_bytes);
  Status stream_acked(const std::string& site, uint64_t seq);

  // 跨区通办. Hands `case_id` over to site `to` (empty: the dispatch rules choose) with the
  // operator's reason: one HandedOver in the hub's own log, the full history streamed to
  // the new owner, the move to the former owner and the receiving site. NotFound,
  // InvalidArgument, Conflict or Rejected (zh/en) and nothing stored when it may not move.
  // With `part`, only that bundle part moves (多地联办), e.g. one the rules could not place.
  Result<CaseState> hand_over(const std::string& case_id, const std::string& to,
                              const std::string& reason, const std::string& by,
                              const std::string& part = "");
  // An operator settles a case's open conflict with a reason (ConflictResolved, told to
  // every site involved).
  Result<CaseState> resolve_conflict(const std::string& case_id, const std::string& reason,
                                     const std::string& by);

  // Restoring a site from the hub: up to `max` of its own events from seq `from`, its signed
  // head, and the keys of the cases of those events (from any site's sealed event of the
  // case) wrapped for its box key as site-config holds it now (re-read, since a replaced
  // site has a new one). Serialized pb::RestorePage.
  Result<std::string> restore_page(const std::string& site, uint64_t from, size_t max);

  // A hub restored from a backup (docs/protocol.md "Backups") lost what it wrote after
  // it: its own case events and the directives of each site's stream, which the sites
  // applied. await_returns() (restore-backup) makes it wait for every provisioned site:
  // until each has said how far it applied its stream, handing back the run the hub lacks
  // (checked by the sync server against the hub's own key), the hub writes to no stream
  // and not to its own log: an operator's act answers Unavailable (hub_restoring), and the
  // reactions to the sites' events (forwarding, dispatch) wait. After the last site, the
  // hub's own events found in the returned directives rejoin its log and the reactions run.
  Status await_returns();
  bool awaits_return(const std::string& site);
  std::vector<std::string> awaited_returns();
  // True when stored; false when the site was not awaited (answered before, or waived).
  Result<bool> returned(const std::string& site, const std::vector<sync::Event>& run,
                        const Signature& signature);
  // An operator stops waiting for a site that cannot answer (gone for good, an old
  // release), with a reason (recorded): what only that site held of the hub's writes is
  // lost. NotFound when the hub does not wait for it.
  Status waive_return(const std::string& site, const std::string& reason, const std::string& by);

  // The newest catalog version: published here, or the one site-config carries.
  Result<int> catalog_version();
  // Records catalog `version` (catalog.toml text) and appends it to every site's stream,
  // signed with `key`. Conflict when the version does not exceed the current one.
  Status publish_catalog(int version, const std::string& toml, const std::string& operator_name,
                         const SigningKey& key);

  // A case as its events fold. With `reveal`, its personal fields opened with the hub's
  // keyring, and the read recorded (who, why) in the personal-data audit; else they fold
  // empty, as the hub stores them.
  Result<CaseState> load_case(const std::string& case_id);
  Result<CaseState> reveal_case(const std::string& case_id, const std::string& by,
                                const std::string& reason);
  // The personal-data reads recorded, newest first.
  struct PersonalRead {
    Timestamp at = 0;
    std::string by, case_id, reason;
  };
  Result<std::vector<PersonalRead>> personal_reads(int limit);
  Result<std::vector<sync::Event>> case_events(const std::string& case_id);

  // 电子材料. The documents a case's events name, as held here; one whole file opened with
  // the case key and checked, for an operator who states a reason (recorded with the
  // personal-data reads).
  Result<std::vector<StoredDocument>> documents(const std::string& case_id);
  struct DocumentFile {
    std::string mime, file_name, content;
  };
  Result<DocumentFile> read_document(const std::string& case_id, const Hash32& hash,
                                     const std::string& by, const std::string& reason);
  // The transfer with the sites (hub_service.cc): a sealed chunk for `site` (nullopt unless
  // the site holds the case: received it, owns or owned it, decides a part of it), the
  // documents still to fetch from `site` (those its events named), the next chunk fetched
  // (checked with the case key when the hub can open it), and a document not to ask for
  // again for `seconds`.
  Result<std::optional<std::string>> document_chunk_for(const std::string& site,
                                                        const std::string& case_id,
                                                        const Hash32& hash, uint32_t index);
  Result<std::vector<StoredDocument>> documents_wanted_from(const std::string& site, size_t max);
  Result<DocumentStore::Put> put_document_chunk(const std::string& case_id, const Hash32& hash,
                                                uint32_t index, const std::string& sealed);
  Status defer_document(const std::string& case_id, const Hash32& hash, int seconds);
  Result<std::vector<CaseSummary>> search(const CaseQuery& q, Date today);
  Result<std::vector<ClockCounts>> clock_counts(Date today);
  Result<std::vector<std::vector<CaseSummary>>> open_duplicates(const std::string& case_id,
                                                                int limit, Date today);
  Result<SiteRecord> site_record(const std::string& site);

  // One person across the district: every case of a resident (by blind index, hex) at any
  // site, and whether they broke a 容缺 commitment anywhere.
  struct Resident {
    std::vector<CaseSummary> cases;
    bool broke_commitment = false;
  };
  // `item_code` ("" any) narrows to one item (up to 500 cases are returned).
  Result<Resident> resident(const std::string& applicant_id, const std::string& item_code,
                            Date today);
  // A clerk's break-glass lookup through the hub (DHIS2's "breaking the glass"): who, from
  // which site, of whom (blind index), why, and how many cases it showed; durable before
  // the answer goes out. Listed newest first for supervisors.
  struct ResidentLookup {
    Timestamp at = 0;
    std::string site, by, applicant_id, reason;
    int hits = 0;
  };
  Status record_resident_lookup(const ResidentLookup& l);
  // 容缺 granted (by a site that had not heard yet) to an applicant on the district's list
  // of broken commitments, flagged as the acceptance arrived; newest first.
  struct ToleranceBreach {
    std::string case_id, site, applicant_id;
    Timestamp at = 0;
  };
  Result<std::vector<ToleranceBreach>> tolerance_breaches(int limit);
  Result<std::vector<ResidentLookup>> resident_lookups(int limit);
  // BLAKE2b over the case index, to compare with one rebuilt from the nodes' logs.
  Result<std::string> index_digest();

  // 电子监察. The district's rules (set before traffic starts); they run over each case as
  // its events are stored, and over every open case on supervise() (a timer).
  void set_supervision(SupervisionRules rules) { rules_ = std::move(rules); }
  const SupervisionRules& supervision_rules() const { return rules_; }
  // When the hub last heard from a site and the head it claimed then ({0, nullopt}: never);
  // the rules judge a site's cases only as of a moment the hub held all the site had.
  using ContactOf = std::function<std::pair<Timestamp, std::optional<uint64_t>>(const std::string&)>;
  void set_contact_of(ContactOf fn) { contact_of_ = std::move(fn); }
  // The cases due today (next_due) against the rules — every open or approved case the
  // first time, after an upgrade; how many new alerts it raised. Each case is judged as of
  // the day the hub holds all of its owning site's events (known_day_locked); a case whose
  // site is not known up to its due day yet is passed over without being read.
  Result<int> supervise();
  // Cases the sweeps judged, and passed over waiting for their site, since the start: a
  // snapshot, never waits for the lock.
  struct SweepCounts {
    uint64_t judged = 0;
    uint64_t waiting = 0;
  };
  SweepCounts sweep_counts() const {
    return {swept_judged_.load(std::memory_order_relaxed),
            swept_waiting_.load(std::memory_order_relaxed)};
  }
  // Statistics over a period (both days included), grouped `by` site, department, item or
  // staff (who decided or refused); `site` "" for the whole district. InvalidArgument
  // (invalid_group) for another grouping.
  struct StatsQuery {
    Date from, to;
    std::string by = "site", site;
  };
  struct StatsRow {
    std::string key;
    int64_t received = 0;          // filed in the period
    int64_t concluded = 0;         // decided, refused, withdrawn or terminated in the period
    int64_t decided = 0, on_time = 0;
    int64_t used_days = 0, promised_days = 0, legal_days = 0;  // sums over the decided
    int64_t open_overdue = 0;      // of those received: open, not suspended, past the deadline today
    int64_t deemed = 0, tolerated = 0, tolerance_kept = 0, tolerance_broken = 0;
    int64_t one_visit = 0, nearest = 0;
    int64_t ratings = 0, bad_ratings = 0, rating_sum = 0;
    StatsRow& operator+=(const StatsRow& o);
  };
  struct Statistics {
    std::vector<StatsRow> rows;  // by key
    StatsRow total;              // the district (or the site)
  };
  Result<Statistics> statistics(const StatsQuery& q);
  static const std::string& stats_schema();
  // One case's statistics row (also the hub benchmark's filler).
  static Status write_facts(Db& db, const CaseFacts& facts);

  // 好差评: cases whose 差评 the site appealed (pending: awaiting the supervisor, oldest
  // first; else decided, newest first), and the supervisor's 申诉复核 (an event of the hub's
  // log, sent to the sites that hold the case). NotFound; Conflict (no_pending_appeal).
  Result<std::vector<CaseState>> rating_appeals(bool pending, int limit);
  Result<CaseState> decide_appeal(const std::string& case_id, bool upheld,
                                  const std::string& reason, const std::string& by);
  // 好差评's ranking for the month of `month`, grouped by site, department, item or staff
  // (the one rated); an upheld appeal's rating counts for nobody. Ranked by mean level, then
  // fewer 差评; keys with fewer than the rules' min_ratings are listed unranked (rank 0).
  struct RankingRow {
    std::string key;
    int64_t ratings = 0, rating_sum = 0, satisfied = 0, bad = 0;  // satisfied: levels 4-5
    int rank = 0;
    int bottom_months = 0;  // months running (to this one) ranked last
    bool flagged = false;   // bottom_months reached the rules' ranking_bottom_months: 限期整改
  };
  Result<std::vector<RankingRow>> rankings(const std::string& by, Date month);

  // 改革体验官 (measure 16): officers registered by a supervisor (an account of role
  // officer, a term); the issues they file, assigned to a department with a deadline by an
  // operator, answered, and closed (销号) when their officer confirms or a supervisor
  // overrules. Each step is kept.
  struct Officer {
    std::string username, name, organization;
    Date term_from, term_to;
    std::string registered_by;
  };
  // InvalidArgument (invalid_term, a bad name or username); Conflict (username_taken).
  Result<Officer> register_officer(const Officer& o, const std::string& password);
  Result<std::vector<Officer>> officers();
  struct NewIssue {
    std::string title, detail, site, item_code;  // site, item_code optional
  };
  struct IssueStep {
    std::string step, by, note;  // filed | assigned | answered | reopened | confirmed | overruled
    Timestamp at = 0;
  };
  struct OfficerIssue {
    int64_t id = 0;
    std::string officer, site, item_code, title, detail;
    Timestamp filed_at = 0;
    std::string state;  // filed | assigned | answered | closed
    std::string department;
    std::optional<Date> due;
    std::string answer;
    Timestamp closed_at = 0;
    std::string close_kind;  // confirmed | overruled
    std::vector<IssueStep> steps;
  };
  // PermissionDenied (officer_not_serving) outside the officer's term.
  Result<OfficerIssue> file_issue(const std::string& officer, const NewIssue& in);
  // Newest first; `officer` "" for all, `state` "" for any; `published`: the public list
  // (issues an operator has taken up, without steps).
  Result<std::vector<OfficerIssue>> issues(const std::string& officer, const std::string& state,
                                           bool published = false);
  struct IssueAct {
    std::string step;  // assigned | answered | confirmed | reopened | overruled
    std::string by, note, department;
    std::optional<Date> due;
  };
  // The caller checks the role; the officer's own steps are checked here (not_issue_officer).
  // NotFound (issue_not_found); Conflict (invalid_transition); InvalidArgument.
  Result<OfficerIssue> act_on_issue(int64_t id, const IssueAct& act);
  static const std::string& officer_schema();

  // The monthly supervision report's figures for the month starting `month` (hub_report.cc;
  // render_report_pdf lays them out).
  Result<MonthlyReport> monthly_report(Date month);

  // 中介超市 (measure 12): intermediaries registered by an operator (unified social credit
  // code, qualifications with expiry, the services each offers against the catalog's
  // items); projects whose owner chooses one by direct selection, a random draw (the seed
  // and the candidates recorded: draw_index recomputes it) or the lowest quote; a contract
  // with a deadline, completion, and the owner's rating. 优胜劣汰: an intermediary with an
  // expired qualification, or rated low `intermediary_low_count` times within the window,
  // is suspended from selection at once (the timer catches expiries). Every act is logged.
  struct Qualification {
    std::string name, number;
    Date expires;
  };
  struct Intermediary {
    std::string code, name, contact;  // contact: for the hub's staff only
    std::vector<Qualification> qualifications;
    std::vector<std::pair<std::string, std::string>> services;  // item code, what is offered
    Timestamp registered_at = 0;
    std::string registered_by;
    std::string suspended_kind;  // "" | qualification_expired | low_ratings | supervisor
    std::string suspended_reason;
    Timestamp suspended_at = 0;
    int64_t ratings = 0, rating_sum = 0, low_ratings = 0;  // low: within the window
    Timestamp counted_from = 0;  // low ratings count from here on (the last reinstatement)
  };
  // Eligible today to be chosen for `item_code`: not suspended, offers it, every
  // qualification valid.
  static bool eligible(const Intermediary& i, const std::string& item_code, Date today);
  // Registers `in` (a new code), or with `update` replaces an existing one's contact,
  // qualifications and services (an expired qualification renewed lifts that suspension).
  // InvalidArgument (invalid_uscc, unknown_item, invalid_qualification…); Conflict
  // (intermediary_exists); NotFound (intermediary_not_found).
  Result<Intermediary> save_intermediary(const Intermediary& in, const std::string& by, bool update);
  // `item_code` "" any; with `only_eligible`, those eligible for it today.
  Result<std::vector<Intermediary>> intermediaries(const std::string& item_code, bool only_eligible);
  Result<Intermediary> intermediary(const std::string& code);
  // Every intermediary's name by code (one read; for answers that name them).
  Result<std::map<std::string, std::string>> intermediary_names();
  // A supervisor suspends (with a reason) or reinstates (Conflict qualification_expired while
  // one is).
  Result<Intermediary> set_suspension(const std::string& code, bool suspend, const std::string& reason,
                                      const std::string& by);
  struct Quote {
    std::string code;
    int64_t amount_fen = 0;
    Timestamp at = 0;
  };
  struct Project {
    int64_t id = 0;
    std::string owner, owner_code, item_code, title;
    std::string method;  // direct | random | lowest_quote
    std::string state;   // open | selected | contracted | completed | rated
    Timestamp created_at = 0;
    std::string created_by;
    std::vector<Quote> quotes;  // lowest_quote, cheapest first
    std::string seed;           // random: hex, as drawn
    std::vector<std::string> candidates;  // random: the eligible codes drawn among, in order
    std::string chosen, chosen_by, chosen_why;
    Timestamp chosen_at = 0;
    int64_t amount_fen = 0;
    std::optional<Date> due;  // the contract's deadline
    Timestamp completed_at = 0;
    int rating = 0;
    std::string rating_note;
    Timestamp rated_at = 0;
  };
  struct NewProject {
    std::string owner, owner_code, item_code, title, method;
  };
  Result<Project> create_project(const NewProject& in, const std::string& by);
  Result<std::vector<Project>> projects(const std::string& state, const std::string& code);
  Result<Project> project(int64_t id);
  struct ProjectAct {
    std::string step;  // quote | select | contract | complete | rate
    std::string by, code, note;
    int64_t amount_fen = 0;
    std::optional<Date> due;
    int level = 0;
  };
  // NotFound (project_not_found); Conflict (invalid_transition, no_eligible_intermediary,
  // not_eligible); InvalidArgument. A low rating may suspend the intermediary.
  Result<Project> act_on_project(int64_t id, const ProjectAct& act);
  // The random draw: the index among `n` candidates the seed picks — BLAKE2b-256 (no key)
  // over the seed's 64 hex characters, its first 8 bytes read as a little-endian uint64, mod n.
  static size_t draw_index(const std::string& seed, size_t n);
  // Suspends those whose qualification expired by today (the timer); how many.
  Result<int> suspend_expired();
  struct MarketLog {
    Timestamp at = 0;
    std::string code, by, what, note;
    int64_t project = 0;
  };
  Result<std::vector<MarketLog>> market_log(const std::string& code, int limit);
  static const std::string& market_schema();

  struct AlertAction {
    std::string action;  // acknowledged | rectification_ordered | answered (by the site)
    std::string by, note, due;  // due: the rectification's deadline (YYYY-MM-DD) or ""
    Timestamp at = 0;
  };
  struct Alert {
    int64_t id = 0;
    std::string rule, severity, case_id, site, department, staff, occurrence, detail_zh,
        detail_en;
    Timestamp raised_at = 0;
    std::vector<AlertAction> actions;  // oldest first
    std::string state() const;  // open | acknowledged | rectifying | answered
  };
  struct AlertQuery {
    std::string severity, rule, site, state, case_id;  // "" any
    Timestamp from = 0, to = 0;                        // raised in [from, to); 0 open-ended
    int64_t id = 0;                                    // 0 any
    int limit = 100, offset = 0;
  };
  // Newest first, and how many match in all.
  Result<std::pair<std::vector<Alert>, int64_t>> alerts(const AlertQuery& q);
  // Every alert counted by rule, severity and state (open, rectifying, answered,
  // acknowledged), for /metrics.
  struct AlertCount {
    std::string rule, severity, state;
    int64_t count = 0;
  };
  Result<std::vector<AlertCount>> alert_counts();
  // A supervisor acknowledges an alert (a note) or orders the site to rectify by `due`: the
  // order is an event of the hub's log on the case, sent down the site's stream, and the
  // site's answer (its own case event) is recorded beside the alert as it arrives.
  // NotFound; Conflict (alert_closed) once acknowledged, (order_pending) while an order
  // awaits the answer.
  Result<Alert> act_on_alert(int64_t id, const AlertAction& action);

  // Operator accounts and sessions, in the same file under the same lock.
  StaffDirectory& staff() { return staff_; }

 private:
  HubStore(std::unique_ptr<Db> db, const District& district, const Clock& clock,
           const SigningKey& key, const Keyring* keys);
  // Each *_locked member expects mu_ held (and a transaction open, for writes).
  // Appends `fresh` to the replica (documents it names are noted for fetching).
  Status store_locked(const std::vector<sync::Event>& fresh, const Signature& signature);
  // Projects stored `events` (one origin, in order); the states of cases that have moved
  // are added to `moved`.
  Status project_locked(const std::vector<sync::Event>& events,
                        std::map<std::string, CaseState>& moved);
  // Stores and projects `fresh` at once (the hub's own log).
  Status append_locked(const std::vector<sync::Event>& fresh, const Signature& signature,
                       std::map<std::string, CaseState>& moved);
  // A site with events to project: how many, and its cursor.
  struct Pending {
    uint64_t count = 0;
    std::string origin;
    uint64_t projected = 0;
  };
  // The sites with events to project, fewest first; backlog_ is set to their sum.
  Result<std::vector<Pending>> pending_locked();
  // One transaction of project_pending over `origins`; how many events it projected.
  Result<uint64_t> project_some_locked(const std::vector<Pending>& origins, size_t budget);
  // Projects everything pending of `origin` (a bundle import answers with its result).
  Status project_origin_locked(const std::string& origin);
  // What the hub does about events it just stored: their cases' other sites hear of them,
  // a transfer request is dispatched, a returned case goes back.
  Status record_facts_locked(const CaseState& s);
  // 优胜劣汰 as the record now reads: a qualification past its day suspends (and its renewal
  // lifts that), `intermediary_low_count` low ratings suspend; a supervisor's suspension, or
  // one for low ratings, only a supervisor lifts. Logged by `by` (or "system").
  Status review_standing_locked(const std::string& code, const std::string& by);
  Status market_log_locked(const std::string& code, int64_t project, const std::string& what,
                           const std::string& by, const std::string& note);
  Result<std::vector<Intermediary>> intermediaries_locked(const std::string& code);
  // One intermediary; NotFound (intermediary_not_found) for "" or an unknown code.
  Result<Intermediary> intermediary_locked(const std::string& code);
  Result<std::vector<Project>> projects_locked(int64_t id, const std::string& state,
                                               const std::string& code);
  Result<Project> project_locked(int64_t id);
  Status issue_step_locked(int64_t id, const std::string& step, const std::string& by,
                           const std::string& note);
  Result<OfficerIssue> issue_locked(int64_t id);
  Result<std::vector<OfficerIssue>> issues_locked(const std::string& officer,
                                                  const std::string& state, int64_t id, int limit,
                                                  bool published = false);
  // Appends the hub's act `e` on case `s` to the hub's log, sends it to each site of `tell`
  // (and the whole history to `whole_history_to`, a new owner), and indexes and judges the
  // case's new state, which it returns.
  Result<CaseState> commit_hub_event_locked(const CaseState& s, const pb::CaseEvent& e,
                                            const std::string& by,
                                            const std::set<std::string>& tell,
                                            const std::string& whole_history_to = "");
  // The day a case is judged as of: the earliest of its sites' known days, and the site
  // that day is of ('' when the case names none: today).
  struct JudgeDay {
    Date day;
    std::string site;
  };
  Result<JudgeDay> judge_day_locked(const CaseState& s, std::map<std::string, Date>& known);
  // Counts the cases held before the statistics existed (once, after the upgrade).
  Status backfill_stats();
  Status record_alert_action_locked(int64_t id, const AlertAction& action, Timestamp at);
  Status order_rectification_locked(const Alert& alert, const AlertAction& action);
  // Sites' answers to rectification orders (case.rectification_answered), as they arrive.
  Status record_answers_locked(const std::vector<const sync::Event*>& answers);
  Status react_locked(const std::vector<const std::vector<sync::Event>*>& runs,
                      const std::map<std::string, CaseState>& moved);
  // `opened`: with the personal fields (to act on them: a request's reason becomes the
  // hand-over's); else as stored.
  Result<CaseState> case_state_locked(const std::string& case_id, bool opened = false);
  // The same, folded into `fresh` (a default state) in place.
  Status load_case_locked(const std::string& case_id, CaseState& fresh, bool opened);
  // The case key of `case_id` wrapped for `site`'s box key, from the first of `events` that
  // carries one (a history sent whole always does); "" when none does or the hub cannot
  // read it.
  Result<std::string> case_key_for_locked(const std::string& site, const std::string& case_id,
                                          const std::vector<sync::Event>& events);
  // The first sealed envelope among `events` that carries the case key for the hub (parsed
  // into `scratch`), or null.
  static const pb::Sealed* hub_sealed(const std::vector<sync::Event>& events,
                                      pb::CaseEvent& scratch);
  // Records a read of a case's personal data (a reveal, a document) in personal_reads.
  Status record_personal_read_locked(const std::string& by, const std::string& case_id,
                                     const std::string& reason);
  // InvalidArgument (reason_required) unless 4-500 bytes.
  Status check_read_reason(const std::string& reason) const;
  // The case key of `case_id` for its documents (from any of its sealed events), or null
  // when the hub cannot open it.
  Result<const SecretKey*> document_key_locked(const std::string& case_id);
  // The state of a case the hub holds; NotFound (zh/en) when it holds none.
  Result<CaseState> existing_case_locked(const std::string& case_id);
  // Picks the site the rules give the case to (preferred first when it may decide), and
  // says why in `why`. Rejected when no other provisioned site may decide the item.
  Result<std::string> choose_target_locked(const CaseState& s, const std::string& item_code,
                                           const std::string& preferred, std::string& why);
  Status check_target_locked(const CaseState& s, const std::string& to,
                             const std::string& part = "");
  bool may_move_to(const CaseState& s, const std::string& to) const;
  // Moves the case (or, with `part`, one part of a bundle: 多地联办) to `to`.
  Status hand_over_locked(CaseState& s, const std::string& to, const std::string& reason,
                          const std::string& mode, const std::string& by, const std::string& why,
                          const std::string& part = "");
  // Appends the hub's own event for a case; returns the case's history ending with it.
  Result<std::vector<sync::Event>> append_hub_event_locked(const CaseState& s,
                                                           const pb::CaseEvent& e,
                                                           const std::string& by);
  // The rules over one case as its events were stored (`created`: the run made it);
  // `known_days` keeps known_day_locked's answers for the rest of the run.
  Status supervise_locked(const CaseState& s, bool created,
                          std::map<std::string, Date>* known_days = nullptr);
  Result<int> raise_locked(const CaseState& s, const std::vector<Finding>& findings);
  // The rules over `s` as of `as_of.day`, and its next day due (or none), kept with the
  // site whose known day held the judgement back (the sweep waits for that site's day).
  Result<int> judge_locked(const CaseState& s, const JudgeDay& as_of, bool opened, int refiled);
  // The day up to which the hub holds every event `site` had: today when the site's last
  // contact claimed no more than the hub holds, else the day of its newest event held (a
  // backlog still on its way must not look like a case left waiting).
  Result<Date> known_day_locked(const std::string& site);
  Result<Date> known_day_cached_locked(const std::string& site, std::map<std::string, Date>& known);
  Result<Alert> alert_locked(int64_t id);
  Result<std::pair<std::vector<Alert>, int64_t>> alerts_locked(const AlertQuery& q);
  Status send_case_events_locked(const std::string& site, const std::string& case_id,
                                 const std::vector<sync::Event>& events);
  // Directives drafted for each site's stream, appended by send_runs_locked under one
  // signature per site.
  using DirectiveRuns = std::map<std::string, std::vector<sync::Event>>;
  // Drafts the hub.case_events directive telling `site` of `events` of a case (with the
  // case key sealed to the site); nothing for no events or a site not in site-config.
  Status queue_case_events_locked(DirectiveRuns& runs, const std::string& site,
                                  const std::string& case_id,
                                  const std::vector<sync::Event>& events);
  Status send_runs_locked(DirectiveRuns& runs);
  void streams_changed();
  Result<int> catalog_version_locked();
  // Unavailable (hub_restoring) while a restored hub waits for sites' returns: nothing may
  // extend a stream or the hub's log then.
  Status writable_locked() const;
  // Replica::extend of a chain the hub writes (its log, a site's stream), behind that check:
  // every such write goes through here.
  Result<sync::Event> extend_locked(const std::string& origin, const std::string& case_id,
                                    const std::string& kind, const std::string& actor,
                                    Timestamp ts, std::string body, const SigningKey& key,
                                    uint64_t after = 0);
  // Replica::extend_run, behind the same check (one signature for the run).
  Status extend_run_locked(const std::string& origin, std::vector<sync::Event>& drafts);
  // While it waits, the reactions to stored runs are recorded, to run when it stops.
  Status defer_reactions_locked(const std::vector<const std::vector<sync::Event>*>& runs);
  Status react_or_defer_locked(const std::vector<const std::vector<sync::Event>*>& runs,
                               const std::map<std::string, CaseState>& moved);
  // `site` answered (or was waived): it leaves the awaited set, and with the last one the
  // recovered events of the hub's log are stored and the deferred reactions run.
  // (tx is committed here: when that or the finish fails, `site` is awaited again.)
  Status stop_awaiting_locked(Transaction& tx, const std::string& site);
  // Copies awaited_ for the readers that must not take mu_.
  void publish_awaited_locked();
  Status finish_returns_locked();

  // Writes the stream cursors noted (stream_acked) into `tx` and commits it; a cursor is
  // forgotten once written, so stream_cursors_ holds only what waits.
  Status commit_with_cursors_locked(Transaction& tx);

  std::mutex mu_;
  std::unique_ptr<Db> db_;  // guarded by mu_
  std::mutex read_mu_;          // never held with mu_ (either order)
  std::unique_ptr<Db> reader_;  // guarded by read_mu_: the sync loop's reads
  std::mutex cursors_mu_;       // guards stream_cursors_ (never held with I/O)
  std::map<std::string, uint64_t> stream_cursors_;  // sites' delivered seqs not yet written
  const District& district_;
  const Clock& clock_;
  const SigningKey& key_;
  const Keyring* keys_;
  // With keys_: opens case keys sealed to the hub (each run's epoch once), and gives them
  // to sites, one epoch per site and run. Guarded by mu_.
  std::optional<KeyUnwrapper> unwrapper_;
  std::map<std::string, std::unique_ptr<KeyWrapper>> wrappers_;
  // Sites' box keys: site-config's at the start, re-read for a site provisioned since or
  // restored with a new key (restore_page). Guarded by mu_.
  std::map<std::string, CurveKey> box_keys_;
  std::function<void()> on_stream_change_;
  bool streams_extended_ = false;  // guarded by mu_: a write appended to a stream
  std::set<std::string> awaited_;  // guarded by mu_: sites a restored hub waits for
  std::mutex awaited_snapshot_mu_;  // guards awaited_snapshot_ (never held with I/O)
  std::set<std::string> awaited_snapshot_;
  sync::Replica replica_;    // guarded by mu_
  CaseProjector projector_;  // guarded by mu_
  DocumentStore documents_;  // guarded by mu_
  std::map<std::string, SecretKey> document_keys_;  // guarded by mu_: bounded cache
  StaffDirectory staff_;     // locks mu_ itself
  SupervisionRules rules_ = SupervisionRules::defaults(2);
  ContactOf contact_of_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  // Sites' events stored, not yet projected: written under mu_, read without it.
  std::atomic<uint64_t> backlog_{0};
  std::atomic<uint64_t> swept_judged_{0}, swept_waiting_{0};  // written by supervise()
};

}  // namespace tongban::hub
