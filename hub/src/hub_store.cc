#include "tongban/hub/hub_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "tongban/sync/batch.h"
#include "wire.pb.h"

namespace tongban::hub {

using sync::stream_origin;

namespace {

// Up to 2 GiB of the database read through a memory map (SQLite's usual build caps it
// there; beyond, reads fall back to pread).
constexpr const char* kMmapSize = "PRAGMA mmap_size=2147418112";

const std::string kHubSchema = R"sql(
  CREATE TABLE site_state(
    site TEXT PRIMARY KEY, last_contact_ts INTEGER NOT NULL, head_seq INTEGER NOT NULL,
    head_ts INTEGER NOT NULL, delivered_seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE catalogs(
    version INTEGER PRIMARY KEY, toml TEXT NOT NULL, published_ts INTEGER NOT NULL,
    published_by TEXT NOT NULL);
)sql";

// Sites whose history forked from what the hub acknowledged.
// Every read of a case's personal data at the hub: who, when, why (audited).
const std::string kPersonalReadSchema =
    "CREATE TABLE personal_reads(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " username TEXT NOT NULL, case_id TEXT NOT NULL, reason TEXT NOT NULL)";

// Every break-glass lookup of a resident across sites: who, from where, why (audited).
const std::string kResidentLookupSchema =
    "CREATE TABLE resident_lookups(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " site TEXT NOT NULL, username TEXT NOT NULL, applicant_id TEXT NOT NULL,"
    " reason TEXT NOT NULL, hits INTEGER NOT NULL)";

// 容缺 granted to an applicant on the district's broken-commitment list (an offline site).
const std::string kToleranceBreachSchema =
    "CREATE TABLE tolerance_breaches(case_id TEXT PRIMARY KEY, site TEXT NOT NULL,"
    " applicant_id TEXT NOT NULL, ts INTEGER NOT NULL) WITHOUT ROWID";

// 电子监察: each rule's hit on a case (immutable: a trigger refuses any change), and what
// supervisors did about it (appended, never changed).
const std::string kAlertSchema = R"sql(
  CREATE TABLE alerts(
    id INTEGER PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL, case_id TEXT NOT NULL,
    site TEXT NOT NULL, department TEXT NOT NULL, staff TEXT NOT NULL,
    occurrence TEXT NOT NULL, detail_zh TEXT NOT NULL, detail_en TEXT NOT NULL,
    raised_ts INTEGER NOT NULL, UNIQUE(rule, case_id, occurrence));
  CREATE INDEX alerts_by_site ON alerts(site, raised_ts);
  CREATE TABLE alert_actions(
    id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL REFERENCES alerts(id),
    action TEXT NOT NULL, username TEXT NOT NULL, note TEXT NOT NULL, due TEXT NOT NULL,
    ts INTEGER NOT NULL);
  CREATE INDEX alert_actions_by_alert ON alert_actions(alert_id, id);
  CREATE TRIGGER alerts_immutable BEFORE UPDATE ON alerts
    BEGIN SELECT RAISE(ABORT, 'alerts are immutable'); END;
  CREATE TRIGGER alerts_kept BEFORE DELETE ON alerts
    BEGIN SELECT RAISE(ABORT, 'alerts are kept'); END;
  CREATE TRIGGER alert_actions_immutable BEFORE UPDATE ON alert_actions
    BEGIN SELECT RAISE(ABORT, 'alert actions are immutable'); END;
  CREATE TRIGGER alert_actions_kept BEFORE DELETE ON alert_actions
    BEGIN SELECT RAISE(ABORT, 'alert actions are kept'); END;
)sql";

// 电子监察's timer: the next day each case could newly break a rule (next_due), so the
// sweep reads only the cases due; `backfilled` once every case held had its day computed.
const std::string kSupervisionDueSchema = R"sql(
  CREATE TABLE supervision_due(case_id TEXT PRIMARY KEY, due INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX supervision_due_by_day ON supervision_due(due);
  CREATE TABLE supervision_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// A hub restored from a backup: the sites it waits for, the events of its own log found in
// the directives they returned, the runs stored meanwhile whose reactions wait, and the
// sites an operator stopped waiting for.
const std::string kReturnSchema = R"sql(
  CREATE TABLE return_awaited(site TEXT PRIMARY KEY) WITHOUT ROWID;
  CREATE TABLE return_recovered(seq INTEGER PRIMARY KEY, event BLOB NOT NULL);
  CREATE TABLE return_deferred(
    id INTEGER PRIMARY KEY, origin TEXT NOT NULL, first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL);
  CREATE TABLE return_waivers(
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, username TEXT NOT NULL, reason TEXT NOT NULL,
    ts INTEGER NOT NULL);
)sql";

// The projection behind the log: each site's events projected so far. A hub that had
// them projected at ingest (before this table) starts with everything held projected.
const std::string kProjectedSchema = R"sql(
  CREATE TABLE projected(origin TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO projected(origin, seq) SELECT origin, seq FROM chain_head;
)sql";

// A hub created with these tables judges every case as it projects it (supervise_locked):
// only one that held events before them needs the sweep's one-time backfill. Without
// this, a new hub filled by bundles before its first sweep re-read every open case.
const std::string kNoBackfillSchema = R"sql(
  INSERT OR IGNORE INTO supervision_state(key, value)
    SELECT 'backfilled', 1 WHERE NOT EXISTS (SELECT 1 FROM events);
)sql";

// The site whose known day a case's last judgement was as of: the sweep passes over a
// case due while that site's day is still before its due day ('': judged next sweep).
const std::string kDueSiteSchema =
    "ALTER TABLE supervision_due ADD COLUMN site TEXT NOT NULL DEFAULT ''";

const std::string kForkSchema = R"sql(
  CREATE TABLE site_forks(
    site TEXT PRIMARY KEY, seq INTEGER NOT NULL, detected_ts INTEGER NOT NULL,
    message TEXT NOT NULL) WITHOUT ROWID;
)sql";

}  // namespace

HubStore::HubStore(std::unique_ptr<Db> db, const District& district, const Clock& clock,
                   const SigningKey& key, const Keyring* keys)
    : db_(std::move(db)),
      district_(district),
      clock_(clock),
      key_(key),
      keys_(keys),
      unwrapper_(keys ? std::optional<KeyUnwrapper>(std::in_place, keys->box()) : std::nullopt),
      box_keys_(district.box_keys),
      replica_(*db_),
      projector_(*db_, district),
      documents_(*db_),
      staff_(*db_, mu_, clock) {}

Result<std::unique_ptr<HubStore>> HubStore::open(const std::filesystem::path& data_dir,
                                                 const District& district, const Clock& clock,
                                                 const SigningKey& key, const Keyring* keys) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto db = Db::open(data_dir / kDbFile);
  if (!db.ok()) return db.status();
  auto owned = std::make_unique<Db>(std::move(*db));
  TB_RETURN_IF_ERROR(owned->migrate({sync::event_log_schema(),
                                     CaseIndex::schema() + StaffDirectory::schema() + kHubSchema,
                                     kForkSchema, StaffDirectory::throttle_schema(),
                                     sync::borrowed_events_schema() +
                                         CaseIndex::ownership_schema(),
                                     StaffDirectory::department_schema(), kPersonalReadSchema,
                                     DocumentStore::schema(),
                                     kResidentLookupSchema + ";" + kToleranceBreachSchema,
                                     kAlertSchema, kSupervisionDueSchema,
                                     CaseIndex::supervision_schema(), stats_schema(),
                                     officer_schema(), market_schema(),
                                     "ALTER TABLE case_stats ADD COLUMN rated_window TEXT NOT NULL DEFAULT ''",
                                     // 中介超市: low ratings count from the last reinstatement.
                                     "ALTER TABLE intermediaries ADD COLUMN counted_from INTEGER NOT NULL DEFAULT 0",
                                     kReturnSchema, kProjectedSchema, kNoBackfillSchema, kDueSiteSchema,
                                     // The event tables as rowid tables (docs/architecture.md).
                                     sync::events_layout_migration()}));
  // The hub's one writer never pays for checkpoints: a second connection does them.
  TB_RETURN_IF_ERROR(owned->exec("PRAGMA wal_autocheckpoint=0"));
  // The index pages every ingest touches stay in memory (the default cache is 2 MiB).
  TB_RETURN_IF_ERROR(owned->exec("PRAGMA cache_size=-65536"));
  // Pages outside that cache are read through a memory map, not one pread (a syscall and a
  // copy) each: loading a case's events for its projection is mostly such reads. SQLite
  // never writes through the map. A disk read error then ends the process (SIGBUS) instead
  // of failing one statement; systemd restarts it and nothing durable is lost
  // (docs/architecture.md, "Processes and threads").
  TB_RETURN_IF_ERROR(owned->exec(kMmapSize));
  auto checkpointer = WalCheckpointer::start(data_dir / kDbFile, 200);
  if (!checkpointer.ok()) return checkpointer.status();
  auto reader = Db::open(data_dir / kDbFile);
  if (!reader.ok()) return reader.status();
  TB_RETURN_IF_ERROR(reader->exec("PRAGMA query_only=1"));
  TB_RETURN_IF_ERROR(reader->exec(kMmapSize));
  auto store =
      std::unique_ptr<HubStore>(new HubStore(std::move(owned), district, clock, key, keys));
  store->checkpointer_ = std::move(*checkpointer);
  store->reader_ = std::make_unique<Db>(std::move(*reader));
  auto awaited = store->db_->prepare("SELECT site FROM return_awaited");
  if (!awaited.ok()) return awaited.status();
  auto sites = collect_rows<std::string>(*awaited, [](const Stmt& r) { return r.text_at(0); });
  if (!sites.ok()) return sites.status();
  store->awaited_.insert(sites->begin(), sites->end());
  store->publish_awaited_locked();
  if (auto pending = store->pending_locked(); !pending.ok()) return pending.status();
  if (store->backlog_ > 0)
    spdlog::info("hub: {} stored event(s) of the sites wait for projection", store->backlog_.load());
  if (!store->awaited_.empty())
    spdlog::warn("hub: restored from a backup, waiting for {} site(s) to return what it lost "
                 "before it writes to any stream or its own log",
                 store->awaited_.size());
  return store;
}

Result<sync::ChainHead> HubStore::held(const std::string& origin) {
  std::lock_guard lock(read_mu_);
  return sync::Replica(*reader_).head(origin);
}

Result<Hash32> HubStore::held_hash(const std::string& origin, uint64_t seq) {
  std::lock_guard lock(read_mu_);
  return sync::Replica(*reader_).hash_at(origin, seq);
}

Result<bool> HubStore::record_fork(const std::string& site, uint64_t seq,
                                   const std::string& message) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "INSERT OR IGNORE INTO site_forks(site, seq, detected_ts, message) VALUES(?1,?2,?3,?4)");
  if (!stmt.ok()) return stmt.status();
  TB_RETURN_IF_ERROR(stmt->bind(1, site)
                         .bind(2, static_cast<int64_t>(seq))
                         .bind(3, clock_.now())
                         .bind(4, message)
                         .run());
  return db_->changes() > 0;
}

Status HubStore::store_locked(const std::vector<sync::Event>& fresh, const Signature& signature) {
  TB_RETURN_IF_ERROR(replica_.append(fresh, signature));
  for (const sync::Event& e : fresh)  // files named here are fetched from the site that attached them
    TB_RETURN_IF_ERROR(documents_.note_stored(e.case_id, e.origin, e.kind, e.body));
  return Status::Ok();
}

Status HubStore::project_locked(const std::vector<sync::Event>& events,
                                std::map<std::string, CaseState>& moved) {
  std::map<std::string, Date> known_days;  // per owning site, for this run
  return projector_.project_stored(
      events,
      [&](const std::string& case_id, CaseState& fresh) {
        return load_case_locked(case_id, fresh, false);
      },
      [&](CaseState& s, bool created) {
        TB_RETURN_IF_ERROR(supervise_locked(s, created, &known_days));
        // A case with history that has moved is reacted to after the run (react_locked).
        if (!created && !s.moves.empty()) moved.insert_or_assign(s.case_id, std::move(s));
        return Status::Ok();
      });
}

Status HubStore::append_locked(const std::vector<sync::Event>& fresh, const Signature& signature,
                               std::map<std::string, CaseState>& moved) {
  TB_RETURN_IF_ERROR(store_locked(fresh, signature));
  return project_locked(fresh, moved);
}

Result<std::vector<HubStore::Pending>> HubStore::pending_locked() {
  auto stmt = db_->cached(
      "SELECT c.origin, c.seq - coalesce(p.seq, 0), coalesce(p.seq, 0) FROM chain_head c"
      " LEFT JOIN projected p ON p.origin=c.origin WHERE c.seq > coalesce(p.seq, 0)");
  if (!stmt.ok()) return stmt.status();
  std::vector<Pending> out;
  uint64_t total = 0;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    // Sites' events only: the hub's own log is projected as written, its streams are not cases.
    std::string origin = stmt->text_at(0);
    if (!district_.site(origin)) continue;
    out.push_back({static_cast<uint64_t>(stmt->int_at(1)), std::move(origin),
                   static_cast<uint64_t>(stmt->int_at(2))});
    total += out.back().count;
  }
  std::sort(out.begin(), out.end(),  // fewest pending first
            [](const Pending& a, const Pending& b) { return a.count < b.count; });
  backlog_ = total;
  return out;
}

Result<uint64_t> HubStore::project_some_locked(const std::vector<Pending>& origins,
                                               size_t budget) {
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto cursor = db_->cached(
      "INSERT INTO projected(origin, seq) VALUES(?1,?2)"
      " ON CONFLICT(origin) DO UPDATE SET seq=excluded.seq");
  if (!cursor.ok()) return cursor.status();
  std::vector<std::vector<sync::Event>> runs;
  runs.reserve(origins.size());
  std::map<std::string, CaseState> moved;
  uint64_t projected = 0;
  for (size_t i = 0; i < origins.size() && projected < budget; ++i) {
    const Pending& p = origins[i];
    // An equal share of what is left, so one site's backlog never holds back the others.
    const uint64_t share = std::max<uint64_t>(1, (budget - projected) / (origins.size() - i));
    auto run = replica_.read(p.origin, p.projected + 1, static_cast<size_t>(std::min(p.count, share)));
    if (!run.ok()) return run.status();
    if (run->empty()) continue;
    // The cursor moves first: 电子监察 judges the site as of what the projection has seen
    // (known_day_locked), never ahead of events stored but not projected yet.
    TB_RETURN_IF_ERROR(
        cursor->bind(1, p.origin).bind(2, static_cast<int64_t>(run->back().seq)).run());
    TB_RETURN_IF_ERROR(project_locked(*run, moved));
    projected += run->size();
    runs.push_back(std::move(*run));
  }
  std::vector<const std::vector<sync::Event>*> reacting;
  for (const auto& run : runs) reacting.push_back(&run);
  TB_RETURN_IF_ERROR(react_or_defer_locked(reacting, moved));
  TB_RETURN_IF_ERROR(commit_with_cursors_locked(tx));
  backlog_ -= std::min<uint64_t>(projected, backlog_);  // pending_locked counted them
  streams_changed();
  return projected;
}

Result<bool> HubStore::project_pending(size_t budget) {
  std::lock_guard lock(mu_);
  auto origins = pending_locked();
  if (!origins.ok()) return origins.status();
  if (origins->empty()) {  // the store loop's idle look: stream cursors noted meanwhile
    Transaction tx(*db_);
    TB_RETURN_IF_ERROR(tx.begun());
    TB_RETURN_IF_ERROR(commit_with_cursors_locked(tx));
    return false;
  }
  auto done = project_some_locked(*origins, budget);
  if (!done.ok()) return done.status();
  if (*done == 0)  // a held chain with a hole below its head: retried later, never spun on
    return Status::Corruption("the stored events of the sites stop short of their heads");
  return backlog_ > 0;
}

Status HubStore::project_origin_locked(const std::string& origin) {
  for (;;) {
    auto origins = pending_locked();
    if (!origins.ok()) return origins.status();
    const auto mine = std::find_if(origins->begin(), origins->end(),
                                   [&](const Pending& p) { return p.origin == origin; });
    if (mine == origins->end()) return Status::Ok();
    auto done = project_some_locked({*mine}, 20000);
    if (!done.ok()) return done.status();
    if (*done == 0)  // the held chain has a hole below its head: nothing more to read
      return Status::Corruption("the stored events of " + origin + " stop short of its head");
  }
}

Status case_events_only(const std::vector<sync::Event>& events) {
  pb::CaseEvent scratch;
  for (const sync::Event& e : events)
    if (!scratch.ParseFromString(e.body))
      return Status::InvalidArgument("malformed_event", "事件内容不是合法的办件事件",
                                     "event " + std::to_string(e.seq) + " of " + e.origin +
                                         " is not a case event (its body does not parse)");
  return Status::Ok();
}

Result<CaseState> HubStore::case_state_locked(const std::string& case_id, bool opened) {
  CaseState s;
  TB_RETURN_IF_ERROR(load_case_locked(case_id, s, opened));
  return s;
}

Status HubStore::load_case_locked(const std::string& case_id, CaseState& fresh, bool opened) {
  auto events = sync::events_of_case(*db_, case_id);
  if (!events.ok()) return events.status();
  if (!opened || !keys_) return CaseProjector::replay_into(fresh, *events);
  HubOpener opener(*unwrapper_);
  return CaseProjector::replay_into(fresh, *events, &opener);
}

void HubStore::streams_changed() {
  if (streams_extended_ && on_stream_change_) on_stream_change_();
  streams_extended_ = false;
}

Result<std::set<std::string>> HubStore::store_runs(const std::vector<sync::StoreRun>& runs) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto state = db_->cached(
      "INSERT INTO site_state(site, last_contact_ts, head_seq, head_ts, delivered_seq)"
      " VALUES(?1,?2,?3,?4,0) ON CONFLICT(site) DO UPDATE SET "
      "last_contact_ts=excluded.last_contact_ts,"
      " head_seq=max(head_seq, excluded.head_seq), head_ts=max(head_ts, excluded.head_ts)");
  if (!state.ok()) return state.status();
  uint64_t stored = 0;
  std::set<std::string> left_out;
  for (const sync::StoreRun& run : runs) {
    const std::vector<sync::Event>& fresh = run.check.fresh;
    if (fresh.empty() || left_out.count(run.site)) continue;
    // The loop checked against what it had handed on; a bundle imported meanwhile may have
    // moved the chain. Such a run is left out (its site sends again from the stored head);
    // the other sites' runs are not held up by it.
    auto held = replica_.head(run.site);
    if (!held.ok()) return held.status();
    if (held->seq + 1 != fresh.front().seq || held->hash != fresh.front().prev_hash) {
      left_out.insert(run.site);
      continue;
    }
    TB_RETURN_IF_ERROR(store_locked(fresh, run.check.signature));
    stored += fresh.size();
    TB_RETURN_IF_ERROR(state->bind(1, run.site)
                           .bind(2, clock_.now())
                           .bind(3, static_cast<int64_t>(run.head_seq))
                           .bind(4, run.head_ts)
                           .run());
  }
  TB_RETURN_IF_ERROR(commit_with_cursors_locked(tx));
  backlog_ += stored;
  return left_out;
}

Result<Ingested> HubStore::check_and_store(const pb::Batch& batch, const PublicKey& origin_key) {
  std::lock_guard lock(mu_);
  auto held = replica_.head(batch.origin());
  if (!held.ok()) return held.status();
  Ingested out{*held, sync::check_batch(batch, *held, origin_key, [&](uint64_t seq) {
                  return replica_.hash_at(batch.origin(), seq);
                })};
  if (!out.check.ok() || out.check.fresh.empty()) return out;  // refused, or held already
  TB_RETURN_IF_ERROR(case_events_only(out.check.fresh));
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  TB_RETURN_IF_ERROR(store_locked(out.check.fresh, out.check.signature));
  TB_RETURN_IF_ERROR(tx.commit());
  backlog_ += out.check.fresh.size();
  // Durable already: a projection that fails here is retried by the store thread's sweep.
  if (Status projected = project_origin_locked(batch.origin()); !projected.ok())
    spdlog::error("hub: the bundle of {} is stored; projecting it failed: {}", batch.origin(),
                  projected.message_en());
  return out;
}

Result<uint64_t> HubStore::stream_head(const std::string& site) {
  std::lock_guard lock(read_mu_);
  auto h = sync::Replica(*reader_).head(stream_origin(site));
  if (!h.ok()) return h.status();
  return h->seq;
}

Result<std::vector<sync::Event>> HubStore::stream_read(const std::string& site, uint64_t from,
                                                       size_t max, size_t max_bytes) {
  std::lock_guard lock(read_mu_);
  return sync::Replica(*reader_).read(stream_origin(site), from, max, max_bytes);
}

Status HubStore::stream_acked(const std::string& site, uint64_t seq) {
  std::lock_guard cursors(cursors_mu_);
  uint64_t& noted = stream_cursors_[site];  // sites only: bounded by the district
  noted = std::max(noted, seq);
  return Status::Ok();  // written by the writer's next store or projection step
}

Status HubStore::commit_with_cursors_locked(Transaction& tx) {
  std::map<std::string, uint64_t> noted;
  {
    std::lock_guard lock(cursors_mu_);
    noted = stream_cursors_;
  }
  if (!noted.empty()) {
    auto stmt = db_->cached(
        "INSERT INTO site_state(site, last_contact_ts, head_seq, head_ts, delivered_seq) "
        "VALUES(?1,?2,0,0,?3)"
        " ON CONFLICT(site) DO UPDATE SET delivered_seq=max(delivered_seq, excluded.delivered_seq)");
    if (!stmt.ok()) return stmt.status();
    for (const auto& [site, seq] : noted)
      TB_RETURN_IF_ERROR(
          stmt->bind(1, site).bind(2, clock_.now()).bind(3, static_cast<int64_t>(seq)).run());
  }
  TB_RETURN_IF_ERROR(tx.commit());
  // Written: forgotten, unless a newer one was noted meanwhile (a failed commit keeps all).
  std::lock_guard lock(cursors_mu_);
  for (const auto& [site, seq] : noted)
    if (auto it = stream_cursors_.find(site); it != stream_cursors_.end() && it->second <= seq)
      stream_cursors_.erase(it);
  return Status::Ok();
}

Result<int> HubStore::catalog_version_locked() {
  auto stmt = db_->cached("SELECT coalesce(max(version), 0) FROM catalogs");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  return std::max(static_cast<int>(stmt->int_at(0)), district_.catalog.version());
}

Result<int> HubStore::catalog_version() {
  std::lock_guard lock(mu_);
  return catalog_version_locked();
}

Status HubStore::publish_catalog(int version, const std::string& toml,
                                 const std::string& operator_name, const SigningKey& key) {
  std::lock_guard lock(mu_);
  auto current = catalog_version_locked();
  if (!current.ok()) return current.status();
  if (version <= *current)
    return Status::Conflict("stale_catalog_version",
                            "目录版本号须大于当前版本 " + std::to_string(*current),
                            "catalog version must exceed the current " + std::to_string(*current));
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto insert = db_->cached(
      "INSERT INTO catalogs(version, toml, published_ts, published_by) VALUES(?1,?2,?3,?4)");
  if (!insert.ok()) return insert.status();
  const Timestamp now = clock_.now();
  TB_RETURN_IF_ERROR(
      insert->bind(1, int64_t{version}).bind(2, toml).bind(3, now).bind(4, operator_name).run());
  pb::CatalogVersion body;
  body.set_version(version);
  body.set_catalog_toml(toml);
  const std::string serialized = body.SerializeAsString();
  for (const SiteConfig& site : district_.sites) {
    auto e = extend_locked(stream_origin(site.id), "catalog", "hub.catalog_version",
                             operator_name, now, serialized, key);
    if (!e.ok()) return e.status();
  }
  return tx.commit();
}

Result<CaseState> HubStore::load_case(const std::string& case_id) {
  std::lock_guard lock(mu_);
  return case_state_locked(case_id);
}

Status HubStore::check_read_reason(const std::string& reason) const {
  if (reason.size() < 4 || reason.size() > 500)
    return Status::InvalidArgument("reason_required", "查看个人信息须说明事由（4–500 字节）",
                                   "reading personal data needs a stated reason (4-500 bytes)");
  return Status::Ok();
}

Result<CaseState> HubStore::reveal_case(const std::string& case_id, const std::string& by,
                                        const std::string& reason) {
  TB_RETURN_IF_ERROR(check_read_reason(reason));
  if (!keys_)
    return Status::Conflict("no_keyring", "区级中心未加载数据密钥", "the hub has no keyring");
  std::lock_guard lock(mu_);
  auto s = case_state_locked(case_id, true);
  if (!s.ok() || !is_case(*s)) return s;
  TB_RETURN_IF_ERROR(record_personal_read_locked(by, case_id, reason));
  spdlog::info("hub: {} read the personal data of case {} (reason recorded)", by, case_id);
  return s;
}

Status HubStore::record_personal_read_locked(const std::string& by, const std::string& case_id,
                                             const std::string& reason) {
  auto stmt = db_->cached(
      "INSERT INTO personal_reads(ts, username, case_id, reason) VALUES(?1,?2,?3,?4)");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, clock_.now()).bind(2, by).bind(3, case_id).bind(4, reason).run();
}

Result<const SecretKey*> HubStore::document_key_locked(const std::string& case_id) {
  if (!keys_) return static_cast<const SecretKey*>(nullptr);
  if (auto it = document_keys_.find(case_id); it != document_keys_.end()) return &it->second;
  auto events = sync::events_of_case(*db_, case_id);
  if (!events.ok()) return events.status();
  pb::CaseEvent scratch;
  const pb::Sealed* sealed = hub_sealed(*events, scratch);
  if (!sealed) return static_cast<const SecretKey*>(nullptr);
  auto key = unwrapper_->unwrap(sealed->hub_key(), case_id);
  if (!key.ok()) return static_cast<const SecretKey*>(nullptr);
  if (document_keys_.size() >= 1024) document_keys_.clear();
  return &(document_keys_[case_id] = *key);
}

Result<std::optional<std::string>> HubStore::document_chunk_for(const std::string& site,
                                                                const std::string& case_id,
                                                                const Hash32& hash,
                                                                uint32_t index) {
  std::lock_guard lock(mu_);
  auto s = case_state_locked(case_id);
  if (!s.ok()) return s.status();
  // A site gets the files of the cases it holds: received, owns, owned, or decides a part of.
  bool involved = s->origin == site || s->owner == site;
  for (const OwnershipMove& m : s->moves) involved = involved || m.from == site || m.to == site;
  for (const CasePart& p : s->parts) involved = involved || p.site == site;
  if (!involved) return std::optional<std::string>{};
  return documents_.chunk(case_id, hash, index);
}

Result<std::vector<StoredDocument>> HubStore::documents_wanted_from(const std::string& site,
                                                                    size_t max) {
  std::lock_guard lock(mu_);
  return documents_.wanted(site, clock_.now(), max);
}

Result<DocumentStore::Put> HubStore::put_document_chunk(const std::string& case_id,
                                                        const Hash32& hash, uint32_t index,
                                                        const std::string& sealed) {
  std::lock_guard lock(mu_);
  auto key = document_key_locked(case_id);
  if (!key.ok()) return key.status();
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto put = documents_.put_chunk(case_id, hash, index, sealed, *key);
  if (!put.ok()) return put.status();
  if (Status committed = tx.commit(); !committed.ok()) {
    documents_.forget_progress(case_id, hash);
    return committed;
  }
  return put;
}

Status HubStore::defer_document(const std::string& case_id, const Hash32& hash, int seconds) {
  std::lock_guard lock(mu_);
  return documents_.defer(case_id, hash, clock_.now() + seconds);
}

Result<std::vector<StoredDocument>> HubStore::documents(const std::string& case_id) {
  std::lock_guard lock(mu_);
  return documents_.of_case(case_id);
}

Result<HubStore::DocumentFile> HubStore::read_document(const std::string& case_id,
                                                       const Hash32& hash, const std::string& by,
                                                       const std::string& reason) {
  TB_RETURN_IF_ERROR(check_read_reason(reason));
  std::lock_guard lock(mu_);
  auto s = case_state_locked(case_id, true);
  if (!s.ok()) return s.status();
  const std::string hex = to_hex(hash);
  const auto doc = std::find_if(s->documents.begin(), s->documents.end(),
                                [&](const CaseDocument& d) { return d.hash == hex; });
  if (!is_case(*s) || doc == s->documents.end())
    return Status::NotFound("document_not_found", "该案件没有此材料文件",
                            "the case has no such document");
  auto key = document_key_locked(case_id);
  if (!key.ok()) return key.status();
  if (!*key)
    return Status::Conflict("no_keyring", "区级中心无法打开该案件的密钥",
                            "the hub cannot open the case's key");
  auto content = documents_.read(case_id, hash, **key);
  if (!content.ok()) return content.status();
  TB_RETURN_IF_ERROR(record_personal_read_locked(by, case_id, "材料 " + hex.substr(0, 12) + "：" + reason));
  spdlog::info("hub: {} read a document of case {} (reason recorded)", by, case_id);
  return DocumentFile{doc->mime, doc->file_name, std::move(*content)};
}

Result<std::vector<HubStore::PersonalRead>> HubStore::personal_reads(int limit) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "SELECT ts, username, case_id, reason FROM personal_reads ORDER BY id DESC LIMIT ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{limit});
  return collect_rows<PersonalRead>(*stmt, [](const Stmt& r) {
    return PersonalRead{r.int_at(0), r.text_at(1), r.text_at(2), r.text_at(3)};
  });
}

Result<std::string> HubStore::restore_page(const std::string& site, uint64_t from, size_t max) {
  if (!district_.site(site))
    return Status::NotFound("unknown_site", "站点不存在：" + site, "no such site: " + site);
  std::lock_guard lock(mu_);
  auto head = replica_.signed_head(site);
  if (!head.ok()) return head.status();
  if (!*head)
    return Status::NotFound("nothing_held", "区级中心没有该站点的事件", "the hub holds no event of " + site);
  auto events = replica_.read(site, std::max<uint64_t>(from, 1), max);
  if (!events.ok()) return events.status();
  pb::RestorePage page;
  *page.mutable_head() = sync::to_wire(**head);
  page.set_head_lamport((*head)->head.lamport);
  // The site's box key as site-config holds it now: a replaced site has a new one.
  std::optional<CurveKey> box;
  if (keys_) {
    auto loaded = load_public_keys(district_.dir, {site}, kBoxKeySuffix);
    if (!loaded.ok()) return loaded.status();
    if (loaded->count(site)) {
      box = loaded->at(site);
      auto known = box_keys_.find(site);
      if (known == box_keys_.end() || known->second != *box) {
        wrappers_.erase(site);  // hand-overs wrap for the new key from now on
        box_keys_[site] = *box;
      }
    }
  }
  // Each case's key as the hub holds it: from the page's own sealed events, else (a case
  // handed to the site, where it sealed nothing itself) from any site's event of the case.
  std::map<std::string, std::string> hub_keys;
  pb::CaseEvent body;
  for (const sync::Event& e : *events) {
    *page.add_events() = sync::to_wire(e);
    std::string& hub_key = hub_keys[e.case_id];
    if (!hub_key.empty() || !box || !body.ParseFromString(e.body) || !body.has_sealed()) continue;
    hub_key = body.sealed().hub_key();
  }
  if (box) {
    auto& wrapper = wrappers_[site];
    if (!wrapper) wrapper = std::make_unique<KeyWrapper>(*box);
    for (auto& [id, hub_key] : hub_keys) {
      if (hub_key.empty()) {
        auto all = sync::events_of_case(*db_, id);
        if (!all.ok()) return all.status();
        const pb::Sealed* sealed = hub_sealed(*all, body);
        if (!sealed) continue;
        hub_key = sealed->hub_key();
      }
      auto key = unwrapper_->unwrap(hub_key, id);
      if (!key.ok()) continue;  // folds empty at the site, as at the hub
      pb::RestoreKey* k = page.add_case_keys();
      k->set_case_id(id);
      k->set_key(wrapper->wrap(*key, id));
    }
  }
  return page.SerializeAsString();
}

Result<std::vector<sync::Event>> HubStore::case_events(const std::string& case_id) {
  std::lock_guard lock(mu_);
  return sync::events_of_case(*db_, case_id);
}

Result<std::vector<CaseSummary>> HubStore::search(const CaseQuery& q, Date today) {
  std::lock_guard lock(mu_);
  return projector_.cases().search(q, today);
}

Result<HubStore::Resident> HubStore::resident(const std::string& applicant_id,
                                              const std::string& item_code, Date today) {
  std::lock_guard lock(mu_);
  Resident r;
  CaseQuery q;
  q.applicant_id = applicant_id;
  q.item_code = item_code;
  q.limit = 500;
  auto cases = projector_.cases().search(q, today);
  if (!cases.ok()) return cases.status();
  r.cases = std::move(*cases);
  auto broke = projector_.cases().broke_commitment(applicant_id);
  if (!broke.ok()) return broke.status();
  r.broke_commitment = *broke;
  return r;
}

Status HubStore::record_resident_lookup(const ResidentLookup& l) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "INSERT INTO resident_lookups(ts, site, username, applicant_id, reason, hits)"
      " VALUES(?1,?2,?3,?4,?5,?6)");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, l.at)
      .bind(2, l.site)
      .bind(3, l.by)
      .bind(4, l.applicant_id)
      .bind(5, l.reason)
      .bind(6, int64_t{l.hits})
      .run();
}

Result<std::vector<HubStore::ResidentLookup>> HubStore::resident_lookups(int limit) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "SELECT ts, site, username, applicant_id, reason, hits FROM resident_lookups"
      " ORDER BY id DESC LIMIT ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{limit});
  return collect_rows<ResidentLookup>(*stmt, [](const Stmt& r) {
    return ResidentLookup{r.int_at(0), r.text_at(1), r.text_at(2), r.text_at(3), r.text_at(4),
                          static_cast<int>(r.int_at(5))};
  });
}

Result<std::vector<HubStore::ToleranceBreach>> HubStore::tolerance_breaches(int limit) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "SELECT case_id, site, applicant_id, ts FROM tolerance_breaches ORDER BY ts DESC LIMIT ?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, int64_t{limit});
  return collect_rows<ToleranceBreach>(*stmt, [](const Stmt& r) {
    return ToleranceBreach{r.text_at(0), r.text_at(1), r.text_at(2), r.int_at(3)};
  });
}

Result<std::vector<ClockCounts>> HubStore::clock_counts(Date today) {
  std::lock_guard lock(mu_);
  return projector_.cases().clock_counts(today);
}

Result<std::vector<std::vector<CaseSummary>>> HubStore::open_duplicates(
    const std::string& case_id, int limit, Date today) {
  std::lock_guard lock(mu_);
  return projector_.cases().open_duplicates(case_id, limit, today);
}

Result<std::string> HubStore::index_digest() {
  std::lock_guard lock(mu_);
  return projector_.cases().digest();
}

Result<SiteRecord> HubStore::site_record(const std::string& site) {
  std::lock_guard lock(mu_);
  SiteRecord r;
  auto stmt = db_->cached(
      "SELECT last_contact_ts, head_seq, head_ts, delivered_seq FROM site_state WHERE site=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, site);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (*row) {
    r.last_contact = stmt->int_at(0);
    r.head_seq = static_cast<uint64_t>(stmt->int_at(1));
    r.head_ts = stmt->int_at(2);
    r.delivered_seq = static_cast<uint64_t>(stmt->int_at(3));
  }
  stmt->reset();
  {  // a cursor noted and not written yet
    std::lock_guard cursors(cursors_mu_);
    if (auto noted = stream_cursors_.find(site); noted != stream_cursors_.end())
      r.delivered_seq = std::max(r.delivered_seq, noted->second);
  }
  auto held = replica_.head(site);
  if (!held.ok()) return held.status();
  r.acked_seq = held->seq;
  auto acked_ts = db_->cached("SELECT ts FROM events WHERE origin=?1 AND seq=?2");
  if (!acked_ts.ok()) return acked_ts.status();
  acked_ts->bind(1, site).bind(2, static_cast<int64_t>(held->seq));
  auto ts = acked_ts->step();
  if (!ts.ok()) return ts.status();
  if (*ts) r.acked_ts = acked_ts->int_at(0);
  auto stream = replica_.head(stream_origin(site));
  if (!stream.ok()) return stream.status();
  r.stream_head = stream->seq;
  auto fork = db_->cached("SELECT seq, detected_ts, message FROM site_forks WHERE site=?1");
  if (!fork.ok()) return fork.status();
  fork->bind(1, site);
  auto forked = fork->step();
  if (!forked.ok()) return forked.status();
  if (*forked) {
    r.fork_seq = static_cast<uint64_t>(fork->int_at(0));
    r.fork_detected = fork->int_at(1);
    r.fork_message = fork->text_at(2);
  }
  return r;
}

}  // namespace tongban::hub
