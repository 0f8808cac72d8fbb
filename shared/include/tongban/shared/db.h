// A small RAII layer over SQLite: a connection (WAL, synchronous=FULL by default),
// prepared statements with parameter binding only (never SQL built from input), a
// transaction guard and numbered schema migrations.
//
// Thread safety: a Db and its Stmts belong to one thread at a time; callers serialize.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tongban/shared/status.h"

namespace tongban {

// One column's value for write_row(): NULL, an integer, text or a blob. Text and blob bytes
// are borrowed: they must outlive the write.
struct SqlValue {
  enum Kind : uint8_t { kNull, kInt, kText, kBlob };
  Kind kind = kNull;
  int64_t i = 0;
  std::string_view bytes;
  static SqlValue null() { return {}; }
  static SqlValue of(int64_t v) { return {kInt, v, {}}; }
  static SqlValue of(std::optional<int64_t> v) { return v ? of(*v) : null(); }
  static SqlValue text(std::string_view v) { return {kText, 0, v}; }
  static SqlValue blob(std::string_view v) { return {kBlob, 0, v}; }
};

class Stmt {
 public:
  Stmt() = default;
  // An owned statement is finalized on destruction; a borrowed one (from Db::cached) is
  // only reset, so it is ready for the next user and holds no read snapshot open.
  explicit Stmt(sqlite3_stmt* s, bool owned = true) : s_(s), owned_(owned) {}
  Stmt(Stmt&& o) noexcept : s_(o.s_), owned_(o.owned_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters are 1-based, as in SQLite. Resets the statement first if it ran.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind_blob(int i, const void* data, size_t n);
  // Binds without copying: the bytes must stay alive and unchanged until the statement is
  // run or reset (for hot paths that bind and run at once).
  Stmt& bind_borrowed(int i, std::string_view v);
  Stmt& bind_borrowed_blob(int i, const void* data, size_t n);
  Stmt& bind_null(int i);
  // Binds a value borrowing its bytes (as bind_borrowed).
  Stmt& bind(int i, const SqlValue& v);

  // True when a row is ready, false when done; Unavailable on any SQLite error.
  Result<bool> step();
  // Steps to completion (for statements without rows).
  Status run();
  void reset();

  int64_t int_at(int col) const { return sqlite3_column_int64(s_, col); }
  std::string text_at(int col) const;
  std::string blob_at(int col) const;
  bool null_at(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  bool blob_type_at(int col) const { return sqlite3_column_type(s_, col) == SQLITE_BLOB; }
  // Whether column `col` of the current row holds exactly `v` (type and value).
  bool holds(int col, const SqlValue& v) const;

 private:
  Stmt& bind_bytes(int i, const void* data, size_t n, bool text, bool copy);
  sqlite3_stmt* s_ = nullptr;
  bool owned_ = true;
  bool ran_ = false;
};

class Db {
 public:
  struct Options {
    bool full_sync = true;  // synchronous=FULL: anything acknowledged must survive power loss
    bool wal = true;
    int busy_timeout_ms = 5000;
  };
  static Result<Db> open(const std::filesystem::path& path, Options options);
  static Result<Db> open(const std::filesystem::path& path) { return open(path, Options{}); }

  Db(Db&& o) noexcept : db_(o.db_), cache_(std::move(o.cache_)) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  Status exec(const std::string& sql);
  Result<Stmt> prepare(std::string_view sql);
  // The same, prepared once per connection and borrowed on each call (hot paths). Only one
  // borrowed Stmt per SQL text may be alive at a time.
  Result<Stmt> cached(const std::string& sql);
  // Applies migrations[user_version..] in one transaction each and bumps user_version.
  Status migrate(const std::vector<std::string>& migrations);
  int64_t changes() const { return sqlite3_changes64(db_); }
  sqlite3* handle() { return db_; }
  std::string error() const { return db_ ? sqlite3_errmsg(db_) : "closed"; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  void close();
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// Steps `s` to the end, turning each row into a T with `row(const Stmt&)`.
template <typename T, typename F>
Result<std::vector<T>> collect_rows(Stmt& s, F row) {
  std::vector<T> out;
  for (;;) {
    auto r = s.step();
    if (!r.ok()) return r.status();
    if (!*r) break;
    out.push_back(row(s));
  }
  return out;
}

// A table's row as write_row() writes it: the table and its columns, the primary key
// first, and the columns any index covers (its key or a partial index's WHERE). Names come
// from the code, never from input. Immutable once built (share it). The `indexed` list
// decides only which columns get UPDATEs of their own: a wrong one costs speed, never
// correctness (SQLite keeps every index over an assigned column).
class RowShape {
 public:
  RowShape(std::string table, std::vector<std::string> columns,
           const std::vector<std::string>& indexed);
  size_t size() const { return columns_.size(); }
  // The columns no index covers, as update_sql() bits.
  uint64_t unindexed() const { return unindexed_; }
  const std::string& select_sql() const { return select_; }
  const std::string& insert_sql() const { return insert_; }
  // UPDATE of the columns whose bit is set in `changed` (bit i: column i), keyed by ?1,
  // the new values bound in column order from ?2.
  std::string update_sql(uint64_t changed) const;

 private:
  std::string table_;
  std::vector<std::string> columns_;
  uint64_t unindexed_ = 0;
  std::string select_, insert_;
};

// Writes the row `values` (in `shape`'s column order) keyed by values[0]: inserts it when
// absent, else updates the indexed columns whose stored value differs, with every column
// no index covers — SQLite then rewrites only the indexes over changed columns (an upsert
// that sets every column rewrites every index) — and writes nothing when no value differs. Returns whether it wrote. The caller holds the write
// transaction (the read and the write see the same row).
Result<bool> write_row(Db& db, const RowShape& shape, const std::vector<SqlValue>& values);

// Checkpoints a WAL database from its own connection and thread, so the writer never
// stalls on copying WAL pages into the main file (SQLite's autocheckpoint runs inside the
// committing transaction). The writer's connection should set wal_autocheckpoint=0.
class WalCheckpointer {
 public:
  // Opens a second connection to `file` and checkpoints (PASSIVE) every `period_ms`.
  static Result<std::unique_ptr<WalCheckpointer>> start(const std::filesystem::path& file,
                                                        int period_ms);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

 private:
  WalCheckpointer(Db db, int period_ms);
  struct Loop;
  std::unique_ptr<Loop> loop_;
};

// The WAL checkpoints this process ran that copied pages, by WalCheckpointer or by a connection's automatic
// checkpoint (every connection's is timed: Db::open installs a hook doing what SQLite's
// own does, at 1,000 pages, and measuring it). For /metrics.
struct CheckpointTotals {
  uint64_t count = 0;
  double seconds = 0, last_seconds = 0;
};
CheckpointTotals checkpoint_totals();

// BEGIN IMMEDIATE on construction; rolls back unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& begun() const { return begun_; }
  Status commit();

 private:
  Db& db_;
  Status begun_;
  bool done_ = false;
};

}  // namespace tongban
