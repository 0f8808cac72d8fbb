#include "tongban/sync/event_log.h"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace tongban::sync {

const char* const kEventColumns =
    "origin, seq, lamport, case_id, kind, actor, ts, body, prev_hash, hash";

Event event_from_row(const Stmt& s) {
  Event e;
  e.origin = s.text_at(0);
  e.seq = static_cast<uint64_t>(s.int_at(1));
  e.lamport = static_cast<uint64_t>(s.int_at(2));
  e.case_id = s.text_at(3);
  e.kind = s.text_at(4);
  e.actor = s.text_at(5);
  e.ts = s.int_at(6);
  e.body = s.blob_at(7);
  const std::string prev = s.blob_at(8), hash = s.blob_at(9);
  if (prev.size() == 32) std::memcpy(e.prev_hash.data(), prev.data(), 32);
  if (hash.size() == 32) std::memcpy(e.hash.data(), hash.data(), 32);
  return e;
}

Result<std::vector<Event>> events_of_case(Db& db, const std::string& case_id) {
  // Sorted here rather than by an ORDER BY, for which SQLite would copy every row, body
  // and all, into a temporary B-tree per table (a third of loading a case, on the hub).
  auto stmt = db.cached(std::string("SELECT ") + kEventColumns +
                        " FROM events WHERE case_id=?1 UNION ALL SELECT " + kEventColumns +
                        " FROM borrowed_events WHERE case_id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, case_id);
  auto events = collect_rows<Event>(*stmt, event_from_row);
  if (!events.ok()) return events.status();
  sort_in_case_order(*events);
  return events;
}

void sort_in_case_order(std::vector<Event>& events) {
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.lamport, a.origin, a.seq) < std::tie(b.lamport, b.origin, b.seq);
  });
}

void bind_event(Stmt& s, const Event& e) {
  s.bind_borrowed(1, e.origin).bind(2, static_cast<int64_t>(e.seq));
  s.bind(3, static_cast<int64_t>(e.lamport)).bind_borrowed(4, e.case_id);
  s.bind_borrowed(5, e.kind).bind_borrowed(6, e.actor).bind(7, e.ts);
  s.bind_borrowed_blob(8, e.body.data(), e.body.size());
  s.bind_borrowed_blob(9, e.prev_hash.data(), 32).bind_borrowed_blob(10, e.hash.data(), 32);
}

Hash32 compute_event_hash(const Event& e) {
  Hasher h;
  h.update(e.prev_hash.data(), e.prev_hash.size());
  h.update_field(e.origin).update_u64(e.seq).update_u64(e.lamport);
  h.update_field(e.case_id).update_field(e.kind).update_field(e.actor);
  h.update_u64(static_cast<uint64_t>(e.ts)).update_field(e.body);
  return h.finish();
}

std::string chain_head_message(const std::string& origin, const ChainHead& head) {
  return "tongban-chain-head-v1|" + origin + "|" + std::to_string(head.seq) + "|" +
         to_hex(head.hash);
}

namespace {
// A table of events (the log, or events borrowed from other chains), unique by (origin,
// seq), and its index by case. A rowid table, not WITHOUT ROWID: the rows of an index
// B-tree (which a WITHOUT ROWID table is) keep at most 1,001 bytes on a 4 KB page, so an
// event of 1.3 KB (a hand-over carrying a case's history) took a 4 KB overflow page of its
// own; a table B-tree row keeps up to 4,061 bytes in its leaf.
std::string events_table(const std::string& table) {
  return "CREATE TABLE " + table +
         "(origin TEXT NOT NULL, seq INTEGER NOT NULL, lamport INTEGER NOT NULL,"
         " case_id TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, ts INTEGER NOT NULL,"
         " body BLOB NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);";
}
std::string events_indexes(const std::string& table, const std::string& key,
                           const std::string& by_case) {
  return " CREATE UNIQUE INDEX " + key + " ON " + table + "(origin, seq);" +
         " CREATE INDEX " + by_case + " ON " + table + "(case_id);";
}
// Rebuilds `table` in the layout above: copied in (origin, seq) order, so one origin's
// events stay together, then swapped in under its own name.
std::string relaid(const std::string& table, const std::string& key, const std::string& by_case) {
  const std::string copy = table + "_relaid";
  return events_table(copy) + " INSERT INTO " + copy + "(" + kEventColumns + ") SELECT " +
         kEventColumns + " FROM " + table + " ORDER BY origin, seq; DROP TABLE " + table +
         "; ALTER TABLE " + copy + " RENAME TO " + table + ";" +
         events_indexes(table, key, by_case);
}
}  // namespace

const std::string& event_log_schema() {
  static const std::string kSql = events_table("events") +
                                  events_indexes("events", "events_key", "events_by_case") +
                                  R"sql(
    CREATE TABLE chain_head(
      origin TEXT PRIMARY KEY, seq INTEGER NOT NULL, lamport INTEGER NOT NULL,
      hash BLOB NOT NULL, signature BLOB NOT NULL) WITHOUT ROWID;
  )sql";
  return kSql;
}

const std::string& borrowed_events_schema() {
  static const std::string kSql =
      events_table("borrowed_events") +
      events_indexes("borrowed_events", "borrowed_key", "borrowed_by_case");
  return kSql;
}

const std::string& events_layout_migration() {
  static const std::string kSql = relaid("events", "events_key", "events_by_case") +
                                  relaid("borrowed_events", "borrowed_key", "borrowed_by_case");
  return kSql;
}

Result<size_t> store_borrowed(Db& db, const std::vector<Event>& events) {
  auto insert = db.cached(std::string("INSERT OR IGNORE INTO borrowed_events(") + kEventColumns +
                          ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
  if (!insert.ok()) return insert.status();
  size_t added = 0;
  for (const Event& e : events) {
    bind_event(*insert, e);
    TB_RETURN_IF_ERROR(insert->run());
    added += static_cast<size_t>(db.changes());
  }
  return added;
}

Result<EventLog> EventLog::open(Db& db, std::string origin, const SigningKey* key) {
  EventLog log(db, std::move(origin), key);
  auto head =
      db.prepare("SELECT seq, lamport, hash, ts FROM events WHERE origin=?1 ORDER BY seq DESC LIMIT 1");
  if (!head.ok()) return head.status();
  head->bind(1, log.origin_);
  auto row = head->step();
  if (!row.ok()) return row.status();
  if (*row) {
    log.head_.seq = static_cast<uint64_t>(head->int_at(0));
    log.head_.lamport = static_cast<uint64_t>(head->int_at(1));
    const std::string h = head->blob_at(2);
    if (h.size() != 32) return Status::Corruption("event hash of the log head is malformed");
    std::memcpy(log.head_.hash.data(), h.data(), 32);
    log.head_ts_ = head->int_at(3);
  }
  // The Lamport clock continues after every event held, own or received.
  auto lamport = db.prepare("SELECT coalesce(max(lamport), 0) FROM chain_head");
  if (!lamport.ok()) return lamport.status();
  auto lrow = lamport->step();
  if (!lrow.ok()) return lrow.status();
  log.head_.lamport = std::max(log.head_.lamport, static_cast<uint64_t>(lamport->int_at(0)));
  auto insert = db.prepare(std::string("INSERT INTO events(") + kEventColumns +
                           ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
  auto update = db.prepare(
      "INSERT INTO chain_head(origin, seq, lamport, hash, signature) VALUES(?1,?2,?3,?4,?5) "
      "ON CONFLICT(origin) DO UPDATE SET seq=excluded.seq, lamport=excluded.lamport, "
      "hash=excluded.hash, signature=excluded.signature");
  if (!insert.ok()) return insert.status();
  if (!update.ok()) return update.status();
  log.insert_ = std::move(*insert);
  log.update_head_ = std::move(*update);
  return log;
}

Result<std::vector<Event>> EventLog::case_events(const std::string& case_id) {
  return events_of_case(*db_, case_id);
}

Status EventLog::scan(uint64_t from, const std::function<bool(const Event&)>& fn) {
  auto stmt = db_->prepare(std::string("SELECT ") + kEventColumns +
                           " FROM events WHERE origin=?1 AND seq>=?2 ORDER BY seq");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, origin_).bind(2, static_cast<int64_t>(from));
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row || !fn(event_from_row(*stmt))) break;
  }
  return Status::Ok();
}

LogWriter::LogWriter(EventLog& log)
    : log_(log), tx_(*log.db_), staged_(log.head_), staged_ts_(log.head_ts_) {}

Result<Event> LogWriter::append(const std::string& case_id, const std::string& kind,
                                const std::string& actor, Timestamp ts, std::string body) {
  Event e;
  e.origin = log_.origin_;
  e.seq = staged_.seq + 1;
  e.lamport = staged_.lamport + 1;
  e.case_id = case_id;
  e.kind = kind;
  e.actor = actor;
  e.ts = EventLog::next_ts(ts, staged_ts_);
  e.body = std::move(body);
  e.prev_hash = staged_.hash;
  e.hash = compute_event_hash(e);
  bind_event(log_.insert_, e);
  TB_RETURN_IF_ERROR(log_.insert_.run());
  staged_ = ChainHead{e.seq, e.lamport, e.hash};
  staged_ts_ = e.ts;
  return e;
}

Status LogWriter::commit() {
  Signature sig{};
  if (staged_.seq != log_.head_.seq) {
    if (log_.key_) sig = log_.key_->sign(chain_head_message(log_.origin_, staged_));
    Stmt& s = log_.update_head_;
    s.bind(1, log_.origin_)
        .bind(2, static_cast<int64_t>(staged_.seq))
        .bind(3, static_cast<int64_t>(staged_.lamport));
    s.bind_blob(4, staged_.hash.data(), 32).bind_blob(5, sig.data(), sig.size());
    TB_RETURN_IF_ERROR(s.run());
  }
  TB_RETURN_IF_ERROR(tx_.commit());
  if (staged_.seq != log_.head_.seq)
    log_.head_signature_ = log_.key_ ? std::optional<Signature>(sig) : std::nullopt;
  log_.head_ = staged_;
  log_.head_ts_ = staged_ts_;
  return Status::Ok();
}

namespace {

VerifyReport broken(VerifyReport r, uint64_t seq, std::string en, std::string zh) {
  r.ok = false;
  r.broken_seq = seq;
  r.problem = std::move(en);
  r.problem_zh = std::move(zh);
  return r;
}

// A read transaction: every statement inside sees one snapshot of the database.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Db& db) : db_(db), begun_(db.exec("BEGIN")) {}
  ~ReadSnapshot() {
    if (begun_.ok()) (void)db_.exec("COMMIT");
  }
  const Status& begun() const { return begun_; }

 private:
  Db& db_;
  Status begun_;
};

}  // namespace

Result<VerifyReport> verify_chain(Db& db, const std::string& origin, const PublicKey* key,
                                  const ChainHead& from) {
  VerifyReport r;
  r.origin = origin;
  if (from.seq > 0) {
    auto at = db.prepare("SELECT hash FROM events WHERE origin=?1 AND seq=?2");
    if (!at.ok()) return at.status();
    at->bind(1, origin).bind(2, static_cast<int64_t>(from.seq));
    auto row = at->step();
    if (!row.ok()) return row.status();
    if (!*row)
      return broken(r, from.seq,
                    "event " + std::to_string(from.seq) +
                        " that the signed head witnessed is missing (log truncated or wiped)",
                    "已签名链头见证的第" + std::to_string(from.seq) + "号事件缺失（日志被截断或清空）");
    const std::string hash = at->blob_at(0);
    if (hash.size() != 32 || std::memcmp(hash.data(), from.hash.data(), 32) != 0)
      return broken(r, from.seq,
                    "event " + std::to_string(from.seq) +
                        " differs from the one the signed head witnessed (edited or replaced)",
                    "第" + std::to_string(from.seq) + "号事件与已签名链头见证的不符（被篡改或替换）");
  }
  auto stmt = db.prepare(std::string("SELECT ") + kEventColumns +
                         " FROM events WHERE origin=?1 AND seq>?2 ORDER BY seq");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, origin).bind(2, static_cast<int64_t>(from.seq));
  ChainHead last = from;
  r.events = from.seq;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const Event e = event_from_row(*stmt);
    const uint64_t expected = last.seq + 1;
    if (e.seq != expected)
      return broken(r, expected,
                    "event " + std::to_string(expected) + " is missing (deleted); next is " +
                        std::to_string(e.seq),
                    "第" + std::to_string(expected) + "号事件缺失（被删除）");
    if (e.prev_hash != last.hash)
      return broken(r, e.seq,
                    "event " + std::to_string(e.seq) + " does not follow event " +
                        std::to_string(last.seq) + " (reordered or replaced)",
                    "第" + std::to_string(e.seq) + "号事件与前一事件不衔接（顺序被改动或被替换）");
    if (compute_event_hash(e) != e.hash)
      return broken(
          r, e.seq,
          "event " + std::to_string(e.seq) + " was edited: its hash does not match its content",
          "第" + std::to_string(e.seq) + "号事件内容被篡改（哈希不符）");
    last = ChainHead{e.seq, e.lamport, e.hash};
    ++r.events;
  }
  auto head = db.prepare("SELECT seq, hash, signature FROM chain_head WHERE origin=?1");
  if (!head.ok()) return head.status();
  head->bind(1, origin);
  auto row = head->step();
  if (!row.ok()) return row.status();
  if (!*row) {
    if (last.seq == 0) return r;
    return broken(r, last.seq, "the signed chain head is missing", "链头记录缺失");
  }
  ChainHead recorded;
  recorded.seq = static_cast<uint64_t>(head->int_at(0));
  const std::string hash = head->blob_at(1), sig = head->blob_at(2);
  if (recorded.seq > last.seq)
    return broken(r, last.seq + 1,
                  "log truncated: the head records event " + std::to_string(recorded.seq) +
                      " but the log ends at " + std::to_string(last.seq),
                  "日志被截断：链头记录至第" + std::to_string(recorded.seq) + "号事件，实际仅至第" +
                      std::to_string(last.seq) + "号");
  if (recorded.seq < last.seq || hash.size() != 32 ||
      std::memcmp(hash.data(), last.hash.data(), 32) != 0)
    return broken(r, recorded.seq, "the chain head does not match the last event",
                  "链头与最后一个事件不符");
  recorded.hash = last.hash;
  Signature s{};
  if (key) {
    if (sig.size() != s.size())
      return broken(r, recorded.seq, "chain head signature malformed", "链头签名格式错误");
    std::memcpy(s.data(), sig.data(), s.size());
    if (!verify_signature(*key, chain_head_message(origin, recorded), s))
      return broken(r, recorded.seq,
                    "chain head signature does not verify with the site's public key",
                    "链头签名验证失败");
  }
  return r;
}

Result<std::vector<VerifyReport>> verify_log(Db& db, const std::map<std::string, PublicKey>& keys) {
  ReadSnapshot snapshot(db);
  TB_RETURN_IF_ERROR(snapshot.begun());
  auto origins =
      db.prepare("SELECT DISTINCT origin FROM events UNION SELECT origin FROM chain_head");
  if (!origins.ok()) return origins.status();
  std::vector<std::string> names;
  for (;;) {
    auto row = origins->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    names.push_back(origins->text_at(0));
  }
  std::vector<VerifyReport> reports;
  for (const std::string& origin : names) {
    const auto key = keys.find(origin);
    auto r = verify_chain(db, origin, key == keys.end() ? nullptr : &key->second, ChainHead{});
    if (!r.ok()) return r.status();
    reports.push_back(std::move(*r));
  }
  return reports;
}

}  // namespace tongban::sync
