#include "tongban/node/store.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <thread>
#include <unordered_map>

#include "case_keys.h"
#include "tongban/shared/personal.h"
#include "tongban/sync/head_witness.h"
#include "tongban/sync/replica.h"
#include "wire.pb.h"

namespace tongban::node {

namespace {

constexpr const char* kCacheSize = "PRAGMA cache_size=-32768";  // 32 MiB of pages

const std::string kNodeSchema = R"sql(
  CREATE TABLE appointments(
    id TEXT PRIMARY KEY, item_code TEXT NOT NULL, date TEXT NOT NULL, slot TEXT NOT NULL,
    window INTEGER NOT NULL, extended INTEGER NOT NULL, applicant BLOB NOT NULL,
    applicant_id TEXT NOT NULL, agent TEXT NOT NULL, status TEXT NOT NULL,
    case_id TEXT NOT NULL) WITHOUT ROWID;
  CREATE INDEX appointments_by_date ON appointments(date, slot);
  CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// Ends a write for the case keys: what it cached stays only if it committed (a key cached
// in a rolled-back write would seal later events with a key the table never got).
class SettleKeys {
 public:
  explicit SettleKeys(CaseKeys& keys) : keys_(keys) {}
  ~SettleKeys() { keys_.settle(committed_); }
  void committed() { committed_ = true; }

 private:
  CaseKeys& keys_;
  bool committed_ = false;
};

// A log's events read on a second connection and thread, each body parsed there, handed
// over in order a batch at a time: a rebuild's fold overlaps SQLite's reads and protobuf's
// parsing (1M events restored from the hub, issue 7). The events must be committed.
class ParsedEvents {
 public:
  struct Item {
    sync::Event event;
    pb::CaseEvent body;
    bool parsed = false;
  };

  ParsedEvents(std::filesystem::path db_file, std::string origin)
      : file_(std::move(db_file)), origin_(std::move(origin)), reader_([this] { run(); }) {}
  ~ParsedEvents() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    reader_.join();
  }
  ParsedEvents(const ParsedEvents&) = delete;
  ParsedEvents& operator=(const ParsedEvents&) = delete;

  // The next batch, empty at the end; the reader's error when it failed. Each batch goes
  // back through give_back(): the reader refills it in place, so the messages' memory is
  // reused on one thread instead of freed across threads (glibc's arenas made that a third
  // of the rebuild).
  Result<std::vector<Item>> next() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return !ready_.empty() || done_; });
    if (ready_.empty()) {
      if (!failure_.ok()) return failure_;
      return std::vector<Item>{};
    }
    std::vector<Item> batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return batch;
  }
  void give_back(std::vector<Item> batch) {
    std::lock_guard lock(mu_);
    spare_.push_back(std::move(batch));
    changed_.notify_all();
  }

 private:
  static constexpr size_t kBatch = 1024, kBatches = 8;  // at most kBatches + 1 in flight

  void run() {
    Status s = read();
    std::lock_guard lock(mu_);
    failure_ = s;
    done_ = true;
    changed_.notify_all();
  }

  Status read() {
    auto db = Db::open(file_, Db::Options{.full_sync = false});
    if (!db.ok()) return db.status();
    auto stmt = db->prepare(std::string("SELECT ") + sync::kEventColumns +
                            " FROM events WHERE origin=?1 ORDER BY seq");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, origin_);
    std::vector<Item> batch;
    bool more = true;
    for (size_t made = 0; more;) {
      size_t n = 0;
      for (; n < kBatch; ++n) {
        auto row = stmt->step();  // never again once done: SQLite would start over
        if (!row.ok()) return row.status();
        if (!(more = *row)) break;
        if (n == batch.size()) batch.emplace_back();
        Item& item = batch[n];
        item.event = sync::event_from_row(*stmt);
        item.parsed = item.body.ParseFromString(item.event.body);
      }
      if (n == 0) return Status::Ok();
      batch.resize(n);
      std::unique_lock lock(mu_);
      ready_.push_back(std::move(batch));
      changed_.notify_all();
      if (made < kBatches) {
        ++made;
        batch = {};
        continue;
      }
      changed_.wait(lock, [&] { return !spare_.empty() || stop_; });
      if (stop_) return Status::Ok();
      batch = std::move(spare_.front());
      spare_.pop_front();
    }
    return Status::Ok();
  }

  const std::filesystem::path file_;
  const std::string origin_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::vector<Item>> ready_, spare_;  // guarded by mu_
  bool done_ = false, stop_ = false;     // guarded by mu_
  Status failure_;                       // guarded by mu_
  std::thread reader_;                   // last: starts once the rest is built
};

}  // namespace

const std::vector<std::string>& NodeStore::migrations() {
  static const std::vector<std::string> kMigrations = {
      sync::event_log_schema(), CaseIndex::schema() + StaffDirectory::schema() + kNodeSchema,
      // Catalog versions received from the hub (the stream events stay in the log too).
      "CREATE TABLE catalogs(version INTEGER PRIMARY KEY, toml TEXT NOT NULL)",
      // Why the node stopped taking writes (one row at most; see NodeStore::halt).
      "CREATE TABLE node_halt(id INTEGER PRIMARY KEY CHECK(id = 1), reason TEXT NOT NULL,"
      " message_zh TEXT NOT NULL, message_en TEXT NOT NULL, since_ts INTEGER NOT NULL)",
      StaffDirectory::throttle_schema(),
      // 跨区通办: other sites' events of the cases handed here, and each case's owner.
      sync::borrowed_events_schema() + CaseIndex::ownership_schema(),
      StaffDirectory::department_schema(),
      // One-time rating tickets: the hash of each token, never the token.
      "CREATE TABLE rating_tickets(token_hash BLOB PRIMARY KEY, case_id TEXT NOT NULL,"
      " issued_by TEXT NOT NULL, expires_ts INTEGER NOT NULL, used_ts INTEGER NOT NULL DEFAULT 0)"
      " WITHOUT ROWID",
      // Residents' data sealed at rest: each case's key, under the site's data key.
      CaseKeys::schema(),
      // 电子材料: the documents cases name, and their sealed chunks.
      DocumentStore::schema(),
      // 电子监察: rectification orders from the hub's supervisors, by due day.
      CaseIndex::supervision_schema(),
      // 好差评 by window: the window number a ticket was issued at (0: not given).
      "ALTER TABLE rating_tickets ADD COLUMN window INTEGER NOT NULL DEFAULT 0",
      // The event tables as rowid tables (a 1.3 KB hand-over no longer takes a 4 KB page).
      sync::events_layout_migration()};
  return kMigrations;
}

NodeStore::NodeStore(std::unique_ptr<Db> db, sync::EventLog log, const District& district,
                     const Clock& clock, std::filesystem::path data_dir, const SigningKey* key,
                     Keyring* keys)
    : data_dir_(std::move(data_dir)),
      key_(key),
      keys_(keys),
      clock_(clock),
      db_(std::move(db)),
      log_(std::move(log)),
      projector_(*db_, district, keys),
      documents_(*db_),
      case_keys_(std::make_unique<CaseKeys>(
          *db_, keys,
          district.box_keys.count(district.hub_id)
              ? std::optional<CurveKey>(district.box_keys.at(district.hub_id))
              : std::nullopt)),
      staff_(*db_, mu_, clock) {}

NodeStore::~NodeStore() = default;

Result<std::unique_ptr<NodeStore>> NodeStore::open(const std::filesystem::path& data_dir,
                                                   const std::string& site_id,
                                                   const SigningKey* key, const District& district,
                                                   const Clock& clock, Keyring* keys) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto db = Db::open(data_dir / kDbFile);
  if (!db.ok()) return db.status();
  auto owned = std::make_unique<Db>(std::move(*db));
  TB_RETURN_IF_ERROR(owned->migrate(migrations()));
  // The writer (a window's commit, a delivery from the hub) never pays for checkpoints: a
  // second connection does them, as at the hub.
  TB_RETURN_IF_ERROR(owned->exec("PRAGMA wal_autocheckpoint=0"));
  // A delivery from the hub (about 1 MiB of case histories) touches more pages than
  // SQLite's default 2 MiB cache holds, which then spills dirty pages to the WAL in the
  // middle of the transaction. Filled as pages are read: an idle node stays small.
  TB_RETURN_IF_ERROR(owned->exec(kCacheSize));
  auto checkpointer = WalCheckpointer::start(data_dir / kDbFile, 200);
  if (!checkpointer.ok()) return checkpointer.status();
  auto log = sync::EventLog::open(*owned, site_id, key);
  if (!log.ok()) return log.status();
  auto store = std::unique_ptr<NodeStore>(
      new NodeStore(std::move(owned), std::move(*log), district, clock, data_dir, key, keys));
  store->checkpointer_ = std::move(*checkpointer);
  TB_RETURN_IF_ERROR(store->check_own_log());
  auto halt = store->db_->prepare("SELECT reason, message_zh, message_en, since_ts FROM node_halt");
  if (!halt.ok()) return halt.status();
  auto row = halt->step();
  if (!row.ok()) return row.status();
  if (*row) store->halt_ = Halt{halt->text_at(0), halt->text_at(1), halt->text_at(2), halt->int_at(3)};
  return store;
}

Status NodeStore::check_own_log() {
  if (!key_) return Status::Ok();  // read-only tools verify with `tongban verify-log`
  const std::string& site = log_.origin();
  auto witnessed = sync::read_head_witness(data_dir_ / kHeadFile, site, key_->public_key());
  if (!witnessed.ok()) return witnessed.status();
  const sync::ChainHead from = witnessed->value_or(sync::ChainHead{});
  if (!*witnessed && log_.head().seq > 0)
    spdlog::warn("no head witness for {}: verifying all {} events once", site, log_.head().seq);
  auto report = sync::verify_chain(*db_, site, &key_->public_key(), from);
  if (!report.ok()) return report.status();
  if (!report->ok)
    return Status::Make(StatusCode::kCorruption, "log_broken",
                        "本站点事件日志已损坏或被篡改：" + report->problem_zh +
                            "。节点拒绝启动；请用 tongban verify-log 查看，并从区级中心恢复本站点",
                        "the site's event log is broken: " + report->problem +
                            "; the node refuses to run on it (see tongban verify-log; restore the "
                            "site from the hub)");
  return write_witness_locked();
}

Status NodeStore::write_witness_locked() {
  if (!key_ || log_.head().seq == 0) return Status::Ok();
  if (!witness_) {
    auto opened = sync::HeadWitness::open(data_dir_ / kHeadFile);
    if (!opened.ok()) return opened.status();
    witness_.emplace(std::move(*opened));
  }
  // The commit signed this head already; a head from an earlier run is signed here once.
  const auto& signed_by_commit = log_.head_signature();
  const Signature sig = signed_by_commit
                            ? *signed_by_commit
                            : key_->sign(sync::chain_head_message(log_.origin(), log_.head()));
  return witness_->write(log_.origin(), log_.head(), sig);
}

Status NodeStore::halt(const Halt& why) {
  std::lock_guard lock(mu_);
  if (halt_) return Status::Ok();
  Halt h = why;
  h.since = clock_.now();
  auto stmt = db_->cached(
      "INSERT OR IGNORE INTO node_halt(id, reason, message_zh, message_en, since_ts)"
      " VALUES(1, ?1, ?2, ?3, ?4)");
  if (!stmt.ok()) return stmt.status();
  TB_RETURN_IF_ERROR(
      stmt->bind(1, h.reason).bind(2, h.message_zh).bind(3, h.message_en).bind(4, h.since).run());
  halt_ = h;
  spdlog::error("node halted ({}): {}; it takes no more writes until restored from the hub",
                h.reason, h.message_en);
  return Status::Ok();
}

std::optional<Halt> NodeStore::halted() {
  std::lock_guard lock(mu_);
  return halt_;
}

Status NodeStore::audit_log(const std::map<std::string, PublicKey>& keys) {
  auto db = Db::open(data_dir_ / kDbFile);
  if (!db.ok()) return db.status();
  sqlite3_progress_handler(
      db->handle(), 1000,
      [](void* cancelled) { return static_cast<std::atomic<bool>*>(cancelled)->load() ? 1 : 0; },
      &audit_cancelled_);
  auto reports = sync::verify_log(*db, keys);
  if (audit_cancelled_)
    return Status::Make(StatusCode::kUnavailable, "audit_cancelled", "日志校验已中止（服务停止）",
                        "the log audit was cancelled (the node is stopping)");
  if (!reports.ok()) return reports.status();
  for (const sync::VerifyReport& r : *reports) {
    if (r.ok) continue;
    TB_RETURN_IF_ERROR(halt(Halt{"log_broken", "事件日志校验失败（" + r.origin + "）：" + r.problem_zh,
                                 "log of " + r.origin + " is broken: " + r.problem}));
    return Status::Corruption("log of " + r.origin + " is broken: " + r.problem);
  }
  return Status::Ok();
}

Result<uint64_t> NodeStore::write(const std::function<Status(Writer&)>& fn) {
  std::lock_guard lock(mu_);
  if (halt_)
    return Status::Make(StatusCode::kUnavailable, "node_halted",
                        "本站点已停止办理新业务：" + halt_->message_zh +
                            "。请联系区级中心，从中心恢复本站点数据",
                        "this node takes no writes: " + halt_->message_en +
                            "; restore the site from the hub");
  SettleKeys settle(*case_keys_);
  sync::LogWriter log(log_);
  TB_RETURN_IF_ERROR(log.begun());
  Writer writer(*this, log);
  TB_RETURN_IF_ERROR(fn(writer));
  const uint64_t appended = log.pending();
  if (appended == 0) return appended;  // a command that changed nothing: roll back
  TB_RETURN_IF_ERROR(log.commit());
  settle.committed();
  if (Status s = write_witness_locked(); !s.ok())  // the commit stands; the witness lags
    spdlog::warn("head witness not written: {}", s.message_en());
  return appended;
}

Timestamp NodeStore::now() {
  std::lock_guard lock(mu_);
  return sync::EventLog::next_ts(clock_.now(), log_.newest_ts());
}

Timestamp NodeStore::Writer::now() const {
  return sync::EventLog::next_ts(store_.clock_.now(), log_.not_before());
}

Result<CaseState> NodeStore::Writer::load_case(const std::string& case_id) {
  return store_.load_case_locked(case_id);
}

Result<int64_t> NodeStore::Writer::next_number(const std::string& counter) {
  auto stmt = store_.db_->cached(
      "INSERT INTO counters(name, value) VALUES(?1, 1) ON CONFLICT(name) DO UPDATE SET "
      "value=value+1 RETURNING value");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, counter);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  const int64_t v = stmt->int_at(0);
  TB_RETURN_IF_ERROR(stmt->run());
  return v;
}

Result<bool> NodeStore::Writer::broke_commitment(const pb::Applicant& applicant) {
  pb::Applicant a = applicant;
  // From the number when it is here; a state folded without its key keeps the blind index.
  const std::string& number = a.enterprise() ? a.uscc() : a.id_number();
  if (store_.keys_ && !number.empty())
    a.set_blind(a.enterprise() ? blind_uscc(*store_.keys_, number) : blind_id(*store_.keys_, number));
  const std::string key = applicant_key(a);
  if (key.empty()) return false;
  return store_.projector_.cases().broke_commitment(key);
}

Result<std::optional<Appointment>> NodeStore::Writer::appointment(const std::string& id) {
  return store_.appointment_locked(id);
}

Result<std::vector<Appointment>> NodeStore::Writer::appointments_on(const std::string& date,
                                                                    const std::string& agent) {
  return store_.appointments_on_locked(date, agent);
}

Status NodeStore::Writer::append(CaseState& state, const std::string& stream_id,
                                 const pb::CaseEvent& event, const std::string& actor,
                                 Timestamp ts) {
  // The event as the site sees it (blind indexes added) is projected; the log holds it with
  // its personal fields sealed under the case key.
  pb::CaseEvent plain = event;
  std::string body;
  if (store_.keys_) {
    add_blind_indexes(plain, *store_.keys_);
    if (has_personal(plain)) {
      auto key = store_.case_keys_->for_append(stream_id);
      if (!key.ok()) return key.status();
      pb::CaseEvent sealed = plain;
      seal_personal(sealed, (*key)->key, stream_id, (*key)->hub_key);
      body = sealed.SerializeAsString();
    }
  }
  if (body.empty()) body = plain.SerializeAsString();
  auto appended = log_.append(stream_id, event_kind(plain), actor, ts, std::move(body));
  if (!appended.ok()) return appended.status();
  return store_.project_locked(state, plain, EventMeta{stream_id, appended->origin, ts, actor});
}

Status NodeStore::Writer::put_document(const std::string& case_id, const Hash32& hash,
                                       std::string_view content) {
  if (!store_.keys_) return Status::Internal("documents need the site's keyring");
  auto key = store_.case_keys_->for_append(case_id);
  if (!key.ok()) return key.status();
  return store_.documents_.put_all(case_id, hash, seal_document((*key)->key, case_id, hash, content));
}

Result<std::vector<StoredDocument>> NodeStore::documents(const std::string& case_id) {
  std::lock_guard lock(mu_);
  return documents_.of_case(case_id);
}

Result<std::string> NodeStore::read_document(const std::string& case_id, const Hash32& hash) {
  std::lock_guard lock(mu_);
  auto key = case_keys_->find(case_id);
  case_keys_->settle(true);  // read from committed rows: worth keeping
  if (!key.ok()) return key.status();
  if (!*key)
    return Status::NotFound("document_key_missing", "本站点没有该案件的密钥，无法打开材料",
                            "this site holds no key for the case: the document cannot be opened");
  return documents_.read(case_id, hash, (*key)->key);
}

Result<std::optional<std::string>> NodeStore::document_chunk(const std::string& case_id,
                                                             const Hash32& hash, uint32_t index) {
  std::lock_guard lock(mu_);
  return documents_.chunk(case_id, hash, index);
}

Result<std::vector<StoredDocument>> NodeStore::documents_wanted(size_t max) {
  std::lock_guard lock(mu_);
  return documents_.wanted("", clock_.now(), max);
}

Result<DocumentStore::Put> NodeStore::put_document_chunk(const std::string& case_id,
                                                         const Hash32& hash, uint32_t index,
                                                         const std::string& sealed) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto key = case_keys_->find(case_id);
  case_keys_->settle(true);
  if (!key.ok()) return key.status();
  auto put = documents_.put_chunk(case_id, hash, index, sealed, *key ? &(*key)->key : nullptr);
  if (!put.ok()) return put.status();
  if (Status committed = tx.commit(); !committed.ok()) {
    documents_.forget_progress(case_id, hash);
    return committed;
  }
  return put;
}

Status NodeStore::defer_document(const std::string& case_id, const Hash32& hash, Timestamp until) {
  std::lock_guard lock(mu_);
  return documents_.defer(case_id, hash, until);
}

Result<CaseState> NodeStore::load_case_locked(const std::string& case_id) {
  auto events = log_.case_events(case_id);
  if (!events.ok()) return events.status();
  return CaseProjector::replay(*events, case_keys_.get());
}

Result<CaseState> NodeStore::load_case(const std::string& case_id) {
  std::lock_guard lock(mu_);
  return load_case_locked(case_id);
}

Result<std::vector<sync::Event>> NodeStore::case_events(const std::string& case_id) {
  std::lock_guard lock(mu_);
  return log_.case_events(case_id);
}

Result<std::vector<CaseSummary>> NodeStore::search(const CaseQuery& q, Date today) {
  std::lock_guard lock(mu_);
  return projector_.cases().search(q, today);
}

Result<std::vector<std::string>> NodeStore::due_for_sweep(Date today) {
  std::lock_guard lock(mu_);
  return projector_.cases().due_for_sweep(today);
}

Status NodeStore::add_rating_ticket(const std::string& token, const RatingTicket& ticket) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "INSERT INTO rating_tickets(token_hash, case_id, issued_by, expires_ts, window)"
      " VALUES(?1,?2,?3,?4,?5)");
  if (!stmt.ok()) return stmt.status();
  const std::string h = token_hash(token);
  stmt->bind_blob(1, h.data(), h.size()).bind(2, ticket.case_id).bind(3, ticket.issued_by);
  stmt->bind(4, ticket.expires_at).bind(5, int64_t{ticket.window});
  return stmt->run();
}

Result<std::optional<RatingTicket>> NodeStore::rating_ticket(const std::string& token) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "SELECT case_id, issued_by, expires_ts, used_ts, window FROM rating_tickets WHERE token_hash=?1");
  if (!stmt.ok()) return stmt.status();
  const std::string h = token_hash(token);
  stmt->bind_blob(1, h.data(), h.size());
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<RatingTicket>();
  return std::optional<RatingTicket>(
      RatingTicket{stmt->text_at(0), stmt->text_at(1), stmt->int_at(2), stmt->int_at(3),
                   static_cast<int>(stmt->int_at(4))});
}

Status NodeStore::Writer::spend_rating_ticket(const std::string& token, Timestamp at) {
  auto stmt = store_.db_->cached(
      "UPDATE rating_tickets SET used_ts=?2 WHERE token_hash=?1 AND used_ts=0");
  if (!stmt.ok()) return stmt.status();
  const std::string h = token_hash(token);
  TB_RETURN_IF_ERROR(stmt->bind_blob(1, h.data(), h.size()).bind(2, at).run());
  if (store_.db_->changes() == 0)
    return Status::Conflict("already_rated", "该评价码已使用，每次服务只评价一次",
                            "this rating ticket was used: one rating per service");
  return Status::Ok();
}

Result<std::vector<CaseSummary>> NodeStore::open_rating_tasks() {
  std::lock_guard lock(mu_);
  return projector_.cases().open_rating_tasks();
}

Result<std::vector<CaseState>> NodeStore::open_supervision_orders() {
  std::lock_guard lock(mu_);
  auto ids = projector_.cases().with_open_orders();
  if (!ids.ok()) return ids.status();
  std::vector<CaseState> out;
  for (const std::string& id : *ids) {
    auto s = load_case_locked(id);
    if (!s.ok()) return s.status();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::string> NodeStore::index_digest() {
  std::lock_guard lock(mu_);
  return projector_.cases().digest();
}

sync::ChainHead NodeStore::head() {
  std::lock_guard lock(mu_);
  return log_.head();
}

Result<ClockCounts> NodeStore::clock_counts(Date today) {
  std::lock_guard lock(mu_);
  ClockCounts mine;
  mine.owner = log_.origin();
  auto clocks = projector_.cases().clock_counts(today);
  if (!clocks.ok()) return clocks.status();
  for (const ClockCounts& c : *clocks)
    if (c.owner == log_.origin()) mine = c;
  return mine;
}

Result<std::optional<Timestamp>> NodeStore::oldest_unacked_ts(uint64_t acked) {
  std::lock_guard lock(mu_);
  std::optional<Timestamp> ts;
  if (acked < log_.head().seq)
    TB_RETURN_IF_ERROR(log_.scan(acked + 1, [&](const sync::Event& e) {
      ts = e.ts;
      return false;
    }));
  return ts;
}

Status NodeStore::project_appointment_locked(const pb::CaseEvent& body) {
  if (body.has_appointment_booked()) {
    const auto& b = body.appointment_booked();
    auto stmt = db_->cached(
        "INSERT INTO appointments(id, item_code, date, slot, window, extended, applicant, "
        "applicant_id, agent, status, case_id) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,'booked','')");
    if (!stmt.ok()) return stmt.status();
    const std::string applicant = seal_appointment(b.applicant(), b.appointment_id());
    stmt->bind(1, b.appointment_id()).bind(2, b.item_code()).bind(3, b.date()).bind(4, b.slot());
    stmt->bind(5, int64_t{b.window()}).bind(6, int64_t{b.extended_hours()});
    stmt->bind_blob(7, applicant.data(), applicant.size())
        .bind(8, applicant_key(b.applicant()))
        .bind(9, b.agent());
    return stmt->run();
  }
  const std::string id = body.has_appointment_checked_in()
                             ? body.appointment_checked_in().appointment_id()
                             : body.appointment_cancelled().appointment_id();
  auto stmt = db_->cached("UPDATE appointments SET status=?2 WHERE id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, id).bind(
      2, std::string(body.has_appointment_checked_in() ? "checked_in" : "cancelled"));
  return stmt->run();
}

// The node's projections of one event: the shared case projection, plus the appointments
// (a node-only table) and the link from an appointment to the case it became.
Status NodeStore::project_locked(CaseState& state, const pb::CaseEvent& body,
                                 const EventMeta& meta, bool index) {
  if (body.has_appointment_booked() || body.has_appointment_checked_in() ||
      body.has_appointment_cancelled())
    TB_RETURN_IF_ERROR(project_appointment_locked(body));
  if (index) {
    TB_RETURN_IF_ERROR(projector_.apply(state, body, meta));
  } else {
    evolve(state, body, meta);
  }
  TB_RETURN_IF_ERROR(documents_.note(meta.case_id, meta.origin, body));
  if (!state.appointment_id.empty() && (body.has_prereview_started() || body.has_submitted())) {
    auto link = db_->cached("UPDATE appointments SET case_id=?2 WHERE id=?1");
    if (!link.ok()) return link.status();
    TB_RETURN_IF_ERROR(link->bind(1, state.appointment_id).bind(2, state.case_id).run());
  }
  return Status::Ok();
}

// An appointment's applicant at rest: sealed under the data key (plain only in read-only
// tools, which never write).
std::string NodeStore::seal_appointment(const pb::Applicant& a, const std::string& id) const {
  const std::string plain = a.SerializeAsString();
  return keys_ ? keys_->seal_row(plain, id) : plain;
}

Appointment NodeStore::appointment_from_row(const Stmt& s) const {
  Appointment a;
  a.id = s.text_at(0);
  a.item_code = s.text_at(1);
  a.date = s.text_at(2);
  a.slot = s.text_at(3);
  a.window = static_cast<int>(s.int_at(4));
  a.extended_hours = s.int_at(5) != 0;
  if (keys_) {
    auto plain = keys_->open_row(s.blob_at(6), a.id);
    if (plain.ok()) a.applicant.ParseFromString(*plain);
  }
  a.agent = s.text_at(7);
  a.status = s.text_at(8);
  a.case_id = s.text_at(9);
  return a;
}

namespace {
constexpr const char* kAppointmentColumns =
    "SELECT id, item_code, date, slot, window, extended, applicant, agent, status, case_id FROM "
    "appointments";
}  // namespace

Result<std::optional<Appointment>> NodeStore::appointment(const std::string& id) {
  std::lock_guard lock(mu_);
  return appointment_locked(id);
}

Result<std::optional<Appointment>> NodeStore::appointment_locked(const std::string& id) {
  auto stmt = db_->cached(std::string(kAppointmentColumns) + " WHERE id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Appointment>();
  return std::optional<Appointment>(appointment_from_row(*stmt));
}

Result<std::vector<Appointment>> NodeStore::appointments_on(const std::string& date,
                                                            const std::string& agent) {
  std::lock_guard lock(mu_);
  return appointments_on_locked(date, agent);
}

Result<std::vector<Appointment>> NodeStore::appointments_on_locked(const std::string& date,
                                                                   const std::string& agent) {
  auto stmt = db_->cached(std::string(kAppointmentColumns) +
                          " WHERE date=?1 AND (?2 = '' OR agent=?2) ORDER BY slot, window");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, date).bind(2, agent);
  return collect_rows<Appointment>(*stmt, [this](const Stmt& r) { return appointment_from_row(r); });
}

Result<int> NodeStore::booked_count(const std::string& date, const std::string& slot) {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached(
      "SELECT count(*) FROM appointments WHERE date=?1 AND slot=?2 AND status<>'cancelled'");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, date).bind(2, slot);
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  return static_cast<int>(stmt->int_at(0));
}

Result<std::vector<std::pair<int, std::string>>> NodeStore::catalog_versions() {
  std::lock_guard lock(mu_);
  auto stmt = db_->cached("SELECT version, toml FROM catalogs ORDER BY version");
  if (!stmt.ok()) return stmt.status();
  return collect_rows<std::pair<int, std::string>>(*stmt, [](const Stmt& s) {
    return std::pair{static_cast<int>(s.int_at(0)), s.text_at(1)};
  });
}

Result<sync::ChainHead> NodeStore::delivered() {
  std::lock_guard lock(mu_);
  return sync::Replica(*db_).head(sync::stream_origin(log_.origin()));
}

Result<Hash32> NodeStore::delivered_hash(uint64_t seq) {
  std::lock_guard lock(mu_);
  return sync::Replica(*db_).hash_at(sync::stream_origin(log_.origin()), seq);
}

namespace {
// A delivered case's events start with its beginning: its whole history came.
bool whole_history(const NodeStore::DeliveredCase& c) {
  return !c.events.empty() && (c.events.front().kind == "case.submitted" ||
                               c.events.front().kind == "case.prereview_started");
}

// Opens one case's events with a key opened beforehand, as CaseKeys::open would.
class OpenedKey final : public EventOpener {
 public:
  explicit OpenedKey(const SecretKey& key) : key_(key) {}
  Status open(pb::CaseEvent& e, const std::string& stream_id) override {
    return CaseKeys::open_with(e, &key_, stream_id);
  }

 private:
  const SecretKey& key_;
};
}  // namespace

void NodeStore::prepare_delivered(DeliveredCase& c, KeyUnwrapper& unwrapper) const {
  if (!keys_ || c.case_key.empty()) return;
  auto opened = unwrapper.unwrap(c.case_key, c.case_id);
  if (!opened.ok()) return;
  c.key = *opened;
  sodium_memzero(opened->data(), opened->size());
  c.sealed_key = CaseKeys::seal(*keys_, *c.key, c.case_id);
  if (!whole_history(c)) return;
  OpenedKey opener(*c.key);
  auto folded = CaseProjector::replay(c.events, &opener);
  if (folded.ok()) c.folded = std::move(*folded);
}

Status NodeStore::apply_delivery(const sync::BatchCheck& checked,
                                 const std::vector<std::pair<int, std::string>>& catalogs,
                                 std::vector<DeliveredCase>& cases,
                                 const std::vector<BrokenCommitment>& broken) {
  std::lock_guard lock(mu_);
  // Own events appended below order after everything delivered (Lamport).
  uint64_t newest = checked.fresh.empty() ? 0 : checked.fresh.back().lamport;
  for (const DeliveredCase& c : cases)
    for (const sync::Event& e : c.events) newest = std::max(newest, e.lamport);
  log_.observe(newest);
  SettleKeys settle(*case_keys_);
  sync::LogWriter log(log_);
  TB_RETURN_IF_ERROR(log.begun());
  TB_RETURN_IF_ERROR(sync::Replica(*db_).append(checked.fresh, checked.signature));
  auto insert = db_->cached("INSERT OR IGNORE INTO catalogs(version, toml) VALUES(?1, ?2)");
  if (!insert.ok()) return insert.status();
  for (const auto& [version, toml] : catalogs)
    TB_RETURN_IF_ERROR(insert->bind(1, int64_t{version}).bind(2, toml).run());
  for (const BrokenCommitment& b : broken)
    TB_RETURN_IF_ERROR(projector_.cases().record_broken_commitment(b.applicant_id, b.case_id));
  Writer writer(*this, log);
  for (DeliveredCase& c : cases) {
    // A case new here is folded from what was delivered (the whole history, in order);
    // one with local history is replayed from the store after the new events join it.
    auto known = projector_.cases().contains(c.case_id);
    if (!known.ok()) return known.status();
    bool key_adopted = false;  // the key c.folded was folded with is the case's
    if (c.key) {
      auto adopted = case_keys_->adopt_opened(c.case_id, *c.key, c.sealed_key);
      if (!adopted.ok()) return adopted.status();
      key_adopted = *adopted;
    } else {
      TB_RETURN_IF_ERROR(case_keys_->adopt(c.case_id, c.case_key));
    }
    auto added = sync::store_borrowed(*db_, c.events);
    if (!added.ok()) return added.status();
    for (const sync::Event& e : c.events)  // their files come from the hub
      TB_RETURN_IF_ERROR(documents_.note_stored(e.case_id, e.origin, e.kind, e.body));
    const bool whole = whole_history(c);
    // This node's own events of the case count too (a site restored from the hub holds its
    // Received and Taken before the history comes back): replay from the store then.
    auto own = db_->cached("SELECT 1 FROM events WHERE case_id=?1 AND origin=?2 LIMIT 1");
    if (!own.ok()) return own.status();
    own->bind(1, c.case_id).bind(2, log_.origin());
    auto has_own = own->step();
    if (!has_own.ok()) return has_own.status();
    own->reset();
    auto state = *known || !whole || *has_own ? load_case_locked(c.case_id)
                 : c.folded && key_adopted    ? Result<CaseState>(std::move(*c.folded))
                                              : CaseProjector::replay(c.events, case_keys_.get());
    if (!state.ok()) return state.status();
    auto acknowledged = acknowledge_move_locked(writer, *state);  // projects what it appends
    if (!acknowledged.ok()) return acknowledged.status();
    if (!*acknowledged) TB_RETURN_IF_ERROR(projector_.index(*state));
  }
  const uint64_t appended = log.pending();
  TB_RETURN_IF_ERROR(log.commit());
  settle.committed();
  if (appended > 0)
    if (Status s = write_witness_locked(); !s.ok())
      spdlog::warn("head witness not written: {}", s.message_en());
  return Status::Ok();
}

// The node's answer to a move it has just heard of, in its own log: the former owner
// records that it acts no more (what it did before stands), the new owner that it holds
// the full history. Each once.
Result<bool> NodeStore::acknowledge_move_locked(Writer& writer, CaseState& state) {
  const std::string& me = log_.origin();
  if (state.moves.empty() || !is_case(state)) return false;
  const Timestamp now = writer.now();
  bool appended = false;
  // 多地联办: a part handed here.
  for (size_t i = 0; i < state.parts.size(); ++i) {
    if (state.parts[i].site != me || state.parts[i].received) continue;
    pb::CaseEvent e;
    e.mutable_received()->set_from_site(state.owner);
    e.mutable_received()->set_part_item_code(state.parts[i].item_code);
    TB_RETURN_IF_ERROR(writer.append(state, state.case_id, e, "system", now));
    appended = true;
  }
  const auto whole = [](const OwnershipMove& m) { return m.part.empty(); };
  if (std::none_of(state.moves.begin(), state.moves.end(), whole)) return appended;
  if (state.owner == me && !state.received) {
    pb::CaseEvent e;
    const auto last = std::find_if(state.moves.rbegin(), state.moves.rend(), whole);
    e.mutable_received()->set_from_site(last->from);
    TB_RETURN_IF_ERROR(writer.append(state, state.case_id, e, "system", now));
    return true;
  }
  const bool was_owner =
      state.origin == me ||
      std::any_of(state.moves.begin(), state.moves.end(),
                  [&](const OwnershipMove& m) { return m.part.empty() && m.to == me; });
  if (state.owner != me && was_owner && !state.released.count(me)) {
    pb::CaseEvent e;
    e.mutable_released()->set_to_site(state.owner);
    TB_RETURN_IF_ERROR(writer.append(state, state.case_id, e, "system", now));
    return true;
  }
  return appended;
}

Status NodeStore::rebuild_projections() {
  std::lock_guard lock(mu_);
  // The whole index is rewritten in one transaction: let its pages stay in memory for it
  // (128 MiB, back to the usual 32 MiB after).
  TB_RETURN_IF_ERROR(db_->exec("PRAGMA cache_size=-131072"));
  struct DefaultCache {
    Db& db;
    ~DefaultCache() { (void)db.exec(kCacheSize); }
  } restore_cache{*db_};
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  TB_RETURN_IF_ERROR(projector_.clear());
  TB_RETURN_IF_ERROR(db_->exec("DELETE FROM appointments"));
  std::unordered_map<std::string, CaseState> states;
  states.reserve(static_cast<size_t>(log_.head().seq / 4 + 16));
  ParsedEvents events(data_dir_ / kDbFile, log_.origin());
  for (;;) {
    auto batch = events.next();
    if (!batch.ok()) return batch.status();
    if (batch->empty()) break;
    for (ParsedEvents::Item& item : *batch) {
      const sync::Event& e = item.event;
      if (!item.parsed)
        return Status::Corruption("event body does not parse at seq " + std::to_string(e.seq));
      TB_RETURN_IF_ERROR(case_keys_->open(item.body, e.case_id));
      // Each case is indexed once, below, not once per event.
      TB_RETURN_IF_ERROR(project_locked(states[e.case_id], item.body,
                                        EventMeta{e.case_id, e.origin, e.ts, e.actor}, false));
    }
    events.give_back(std::move(*batch));
  }
  Status failure;
  {  // in case id order: the index's B-tree is written front to back
    std::vector<const CaseState*> order;
    order.reserve(states.size());
    for (const auto& [id, state] : states) order.push_back(&state);
    std::sort(order.begin(), order.end(),
              [](const CaseState* a, const CaseState* b) { return a->case_id < b->case_id; });
    for (const CaseState* state : order) TB_RETURN_IF_ERROR(projector_.index(*state));
  }
  // The district's list of broken commitments, as the hub's stream brought it.
  auto stream = sync::EventLog::open(*db_, sync::stream_origin(log_.origin()), nullptr);
  if (!stream.ok()) return stream.status();
  TB_RETURN_IF_ERROR(stream->scan(1, [&](const sync::Event& e) {
                           if (e.kind != "hub.broken_commitment") return true;
                           pb::BrokenCommitment b;
                           failure = b.ParseFromString(e.body)
                                         ? projector_.cases().record_broken_commitment(
                                               b.applicant_id(), b.case_id())
                                         : Status::Corruption("broken commitment does not parse");
                           return failure.ok();
                         }));
  TB_RETURN_IF_ERROR(failure);
  // Cases with other sites' events (handed here, or followed from here) replay in full.
  auto borrowed = db_->prepare("SELECT DISTINCT case_id FROM borrowed_events");
  if (!borrowed.ok()) return borrowed.status();
  auto ids = collect_rows<std::string>(*borrowed, [](const Stmt& r) { return r.text_at(0); });
  if (!ids.ok()) return ids.status();
  for (const std::string& id : *ids) {
    auto events = log_.case_events(id);
    if (!events.ok()) return events.status();
    for (const sync::Event& e : *events)
      TB_RETURN_IF_ERROR(documents_.note_stored(e.case_id, e.origin, e.kind, e.body));
    auto state = CaseProjector::replay(*events, case_keys_.get());
    if (!state.ok()) return state.status();
    TB_RETURN_IF_ERROR(projector_.index(*state));
  }
  return tx.commit();
}

Status NodeStore::adopt_case_keys(const std::vector<std::pair<std::string, std::string>>& wrapped) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  SettleKeys settle(*case_keys_);
  for (const auto& [id, key] : wrapped) TB_RETURN_IF_ERROR(case_keys_->adopt(id, key));
  TB_RETURN_IF_ERROR(tx.commit());
  settle.committed();
  return Status::Ok();
}

Result<NodeStore::KeyStatus> NodeStore::rotate_data_key() {
  std::lock_guard lock(mu_);
  if (!keys_)
    return Status::Conflict("no_keyring", "本节点未加载数据密钥", "this store has no keyring");
  // Under the store's lock nothing seals a row until the new key is on disk.
  auto rotated = keys_->rotate(clock_.now(), data_dir_ / Keyring::kFile);
  if (!rotated.ok()) return rotated.status();
  const uint32_t id = *rotated;
  spdlog::info("data key {} is active; rows under older keys are re-sealed in the background", id);
  return KeyStatus{id, keys_->key_ids(), 0};
}

Result<NodeStore::KeyStatus> NodeStore::reseal(size_t n) {
  std::lock_guard lock(mu_);
  if (!keys_)
    return Status::Conflict("no_keyring", "本节点未加载数据密钥", "this store has no keyring");
  KeyStatus st{keys_->active_key(), keys_->key_ids(), 0};
  if (st.keys.size() < 2) return st;
  Transaction tx(*db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto keys = case_keys_->reseal(n);
  if (!keys.ok()) return keys.status();
  auto names = projector_.cases().reseal_names(n);
  if (!names.ok()) return names.status();
  auto appointments = reseal_rows(*db_, *keys_, "appointments", "id", "applicant", n);
  if (!appointments.ok()) return appointments.status();
  TB_RETURN_IF_ERROR(tx.commit());
  st.resealed = *keys + *names + *appointments;
  if (st.resealed == 0) {
    keys_->retire_others();
    TB_RETURN_IF_ERROR(keys_->save(data_dir_ / Keyring::kFile));
    st.keys = keys_->key_ids();
    spdlog::info("every row is under data key {}: older keys retired", st.active);
  }
  return st;
}

}  // namespace tongban::node
