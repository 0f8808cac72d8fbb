#include "tongban/shared/db.h"

#include <spdlog/spdlog.h>

#include "tongban/shared/daemon.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace tongban {

namespace {
// Every SQLite failure is a 503 (nothing was changed: the transaction rolled back); a full
// disk and an I/O error say so, because staff can act on them.
Status sqlite_status(int code, const std::string& what, const std::string& message) {
  const std::string en = what + ": " + message;
  switch (code & 0xff) {
    case SQLITE_FULL:
      return Status::Make(StatusCode::kUnavailable, "storage_full",
                          "存储空间已满，本次操作未保存；请管理员清理磁盘后重试", en);
    case SQLITE_IOERR:
      return Status::Make(StatusCode::kUnavailable, "storage_io_error",
                          "存储设备读写失败，本次操作未保存，请稍后重试", en);
    default:
      return Status::Unavailable(en);
  }
}

Status sqlite_error(sqlite3* db, const std::string& what) {
  if (!db) return Status::Unavailable(what + ": no connection");
  return sqlite_status(sqlite3_extended_errcode(db), what, sqlite3_errmsg(db));
}
}  // namespace

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    this->~Stmt();
    s_ = o.s_;
    owned_ = o.owned_;
    ran_ = o.ran_;
    o.s_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  if (!s_) return;
  if (owned_) {
    sqlite3_finalize(s_);
  } else {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  ran_ = false;
}

Stmt& Stmt::bind(int i, int64_t v) {
  if (ran_) reset();
  sqlite3_bind_int64(s_, i, v);
  return *this;
}

Stmt& Stmt::bind_bytes(int i, const void* data, size_t n, bool text, bool copy) {
  if (ran_) reset();
  const auto keep = copy ? SQLITE_TRANSIENT : SQLITE_STATIC;
  if (text)
    sqlite3_bind_text(s_, i, static_cast<const char*>(data), static_cast<int>(n), keep);
  else
    sqlite3_bind_blob(s_, i, data, static_cast<int>(n), keep);
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  return bind_bytes(i, v.data(), v.size(), true, true);
}

Stmt& Stmt::bind_blob(int i, const void* data, size_t n) {
  return bind_bytes(i, data, n, false, true);
}

Stmt& Stmt::bind_borrowed(int i, std::string_view v) {
  return bind_bytes(i, v.data(), v.size(), true, false);
}

Stmt& Stmt::bind_borrowed_blob(int i, const void* data, size_t n) {
  return bind_bytes(i, data, n, false, false);
}

Stmt& Stmt::bind(int i, const SqlValue& v) {
  switch (v.kind) {
    case SqlValue::kNull:
      return bind_null(i);
    case SqlValue::kInt:
      return bind(i, v.i);
    // Empty bytes are bound as "" (SQLite binds a null pointer as NULL).
    case SqlValue::kText:
      return bind_borrowed(i, v.bytes.empty() ? std::string_view("") : v.bytes);
    case SqlValue::kBlob:
      return bind_borrowed_blob(i, v.bytes.empty() ? "" : v.bytes.data(), v.bytes.size());
  }
  return *this;
}

bool Stmt::holds(int col, const SqlValue& v) const {
  const int type = sqlite3_column_type(s_, col);
  const auto same_bytes = [&](const void* p) {
    const auto n = static_cast<size_t>(sqlite3_column_bytes(s_, col));
    return n == v.bytes.size() && (n == 0 || std::memcmp(p, v.bytes.data(), n) == 0);
  };
  switch (v.kind) {
    case SqlValue::kNull:
      return type == SQLITE_NULL;
    case SqlValue::kInt:
      return type == SQLITE_INTEGER && sqlite3_column_int64(s_, col) == v.i;
    case SqlValue::kText:
      return type == SQLITE_TEXT && same_bytes(sqlite3_column_text(s_, col));
    case SqlValue::kBlob:
      return type == SQLITE_BLOB && same_bytes(sqlite3_column_blob(s_, col));
  }
  return false;
}

Stmt& Stmt::bind_null(int i) {
  if (ran_) reset();
  sqlite3_bind_null(s_, i);
  return *this;
}

Result<bool> Stmt::step() {
  ran_ = true;
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(s_), "sqlite step");
}

Status Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r.ok()) {
      reset();
      return r.status();
    }
    if (!*r) break;
  }
  sqlite3_reset(s_);
  return Status::Ok();
}

std::string Stmt::text_at(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}

std::string Stmt::blob_at(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}

namespace {

std::mutex checkpoint_mu;
CheckpointTotals checkpoint_sum;  // guarded by checkpoint_mu

void count_checkpoint(std::chrono::steady_clock::time_point began) {
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::lock_guard lock(checkpoint_mu);
  ++checkpoint_sum.count;
  checkpoint_sum.seconds += took;
  checkpoint_sum.last_seconds = took;
}

// SQLite's automatic checkpoint (sqlite3_wal_autocheckpoint's hook, 1,000 pages), timed.
// `PRAGMA wal_autocheckpoint=N` replaces it as before.
int timed_autocheckpoint(void*, sqlite3* db, const char* name, int pages) {
  if (pages < 1000) return SQLITE_OK;
  const auto began = std::chrono::steady_clock::now();
  int copied = 0;
  if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied) == SQLITE_OK &&
      copied > 0)
    count_checkpoint(began);
  return SQLITE_OK;
}

}  // namespace

CheckpointTotals checkpoint_totals() {
  std::lock_guard lock(checkpoint_mu);
  return checkpoint_sum;
}

Result<Db> Db::open(const std::filesystem::path& path, Options options) {
  // SQLite counts every allocation under one global mutex unless told not to; nothing here
  // reads the counts, and the writers allocate per row (before the first connection only:
  // later it answers SQLITE_MISUSE and changes nothing).
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return sqlite_error(raw, "cannot open " + path.string());
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  if (options.wal) {
    TB_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode=WAL"));
    sqlite3_wal_hook(raw, timed_autocheckpoint, nullptr);
  }
  TB_RETURN_IF_ERROR(
      db.exec(options.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  TB_RETURN_IF_ERROR(db.exec("PRAGMA foreign_keys=ON"));
  return db;
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    close();
    db_ = o.db_;
    cache_ = std::move(o.cache_);
    o.db_ = nullptr;
  }
  return *this;
}

Db::~Db() { close(); }

void Db::close() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  cache_.clear();
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

Result<Stmt> Db::cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &raw, nullptr) != SQLITE_OK)
      return sqlite_error(db_, "prepare");
    it = cache_.emplace(sql, raw).first;
  }
  return Stmt(it->second, false);
}

RowShape::RowShape(std::string table, std::vector<std::string> columns,
                   const std::vector<std::string>& indexed)
    : table_(std::move(table)), columns_(std::move(columns)) {
  std::string names, marks;
  for (size_t i = 0; i < columns_.size(); ++i) {
    names += (i ? "," : "") + columns_[i];
    marks += (i ? ",?" : "?") + std::to_string(i + 1);
    if (i > 0 && std::find(indexed.begin(), indexed.end(), columns_[i]) == indexed.end())
      unindexed_ |= uint64_t{1} << i;
  }
  select_ = "SELECT " + names + " FROM " + table_ + " WHERE " + columns_[0] + "=?1";
  insert_ = "INSERT INTO " + table_ + "(" + names + ") VALUES(" + marks + ")";
}

std::string RowShape::update_sql(uint64_t changed) const {
  std::string sql = "UPDATE " + table_ + " SET ";
  int mark = 2;
  for (size_t i = 1; i < columns_.size(); ++i) {
    if (!(changed & (uint64_t{1} << i))) continue;
    if (mark > 2) sql += ",";
    sql += columns_[i] + "=?" + std::to_string(mark);
    ++mark;
  }
  return sql + " WHERE " + columns_[0] + "=?1";
}

Result<bool> write_row(Db& db, const RowShape& shape, const std::vector<SqlValue>& values) {
  if (values.size() != shape.size() || values.size() > 64)
    return Status::Internal("write_row: " + std::to_string(values.size()) + " values for " +
                            std::to_string(shape.size()) + " columns");
  auto read = db.cached(shape.select_sql());
  if (!read.ok()) return read.status();
  auto row = read->bind(1, values[0]).step();
  if (!row.ok()) return row.status();
  if (!*row) {
    read->reset();
    auto insert = db.cached(shape.insert_sql());
    if (!insert.ok()) return insert.status();
    for (size_t i = 0; i < values.size(); ++i) insert->bind(static_cast<int>(i + 1), values[i]);
    TB_RETURN_IF_ERROR(insert->run());
    return true;
  }
  uint64_t changed = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (!read->holds(static_cast<int>(i), values[i])) changed |= uint64_t{1} << i;
  read->reset();
  if (changed == 0) return false;
  // The columns no index covers go along with any change, so each table has at most one
  // UPDATE per set of changed indexed columns (each prepared once per connection).
  changed |= shape.unindexed();
  auto update = db.cached(shape.update_sql(changed));
  if (!update.ok()) return update.status();
  update->bind(1, values[0]);
  int mark = 2;
  for (size_t i = 1; i < values.size(); ++i)
    if (changed & (uint64_t{1} << i)) update->bind(mark++, values[i]);
  TB_RETURN_IF_ERROR(update->run());
  return true;
}

Status Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    return sqlite_status(sqlite3_extended_errcode(db_), "sqlite exec", msg);
  }
  return Status::Ok();
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &s, nullptr) != SQLITE_OK)
    return sqlite_error(db_, "prepare");
  return Stmt(s);
}

Status Db::migrate(const std::vector<std::string>& migrations) {
  auto version_stmt = prepare("PRAGMA user_version");
  if (!version_stmt.ok()) return version_stmt.status();
  auto row = version_stmt->step();
  if (!row.ok()) return row.status();
  const int64_t current = version_stmt->int_at(0);
  version_stmt->reset();
  const bool upgrading = current > 0 && static_cast<size_t>(current) < migrations.size();
  if (upgrading)
    spdlog::info("database: upgrading the schema from version {} to {}", current,
                 migrations.size());
  for (size_t v = static_cast<size_t>(current); v < migrations.size(); ++v) {
    // A step may copy a large table (the events' relayout): under systemd, each step gets
    // an hour more to start instead of being killed by the unit's start timeout (and
    // rolled back, and begun again on the restart).
    if (upgrading)
      notify_systemd("EXTEND_TIMEOUT_USEC=3600000000\nSTATUS=upgrading the database schema to " +
                     std::to_string(v + 1));
    Transaction tx(*this);
    TB_RETURN_IF_ERROR(tx.begun());
    TB_RETURN_IF_ERROR(exec(migrations[v]));
    TB_RETURN_IF_ERROR(exec("PRAGMA user_version=" + std::to_string(v + 1)));
    TB_RETURN_IF_ERROR(tx.commit());
  }
  return Status::Ok();
}

struct WalCheckpointer::Loop {
  Db db;
  int period_ms;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;

  Loop(Db d, int period) : db(std::move(d)), period_ms(period) {
    thread = std::thread([this] { run(); });
  }
  void run() {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(period_ms), [this] { return stop; })) {
      // Counted only when it copied pages: the timer runs 5 times a second, mostly idle.
      const auto began = std::chrono::steady_clock::now();
      int copied = 0;
      const int rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                               nullptr, &copied);
      if (rc == SQLITE_OK && copied > 0) count_checkpoint(began);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) spdlog::warn("WAL checkpoint failed: {}", db.error());
    }
  }
};

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(const std::filesystem::path& file,
                                                                int period_ms) {
  auto db = Db::open(file);
  if (!db.ok()) return db.status();
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(std::move(*db), period_ms));
}

WalCheckpointer::WalCheckpointer(Db db, int period_ms)
    : loop_(std::make_unique<Loop>(std::move(db), period_ms)) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(loop_->mu);
    loop_->stop = true;
  }
  loop_->cv.notify_all();
  loop_->thread.join();
}

Transaction::Transaction(Db& db) : db_(db), begun_(db.exec("BEGIN IMMEDIATE")) {}

Transaction::~Transaction() {
  if (begun_.ok() && !done_) (void)db_.exec("ROLLBACK");
}

Status Transaction::commit() {
  Status s = db_.exec("COMMIT");
  if (s.ok()) done_ = true;
  return s;
}

}  // namespace tongban
