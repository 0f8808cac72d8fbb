// The append-only, hash-chained event log of one origin site, stored in SQLite.
//
// Every change is an event: origin, seq (1, 2, 3… without gaps), Lamport clock, case id,
// kind, actor, time, protobuf body, the previous event's hash and its own BLAKE2b hash.
// The chain head (last seq and hash) is kept signed with the site's Ed25519 key, so a
// truncated tail is detected as well as an edited, deleted or reordered event.
//
// Thread safety: an EventLog and its LogWriter are used by one thread at a time (the
// owner of the Db); callers serialize.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/calendar.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/db.h"
#include "tongban/shared/status.h"

namespace tongban::sync {

struct Event {
  std::string origin;
  uint64_t seq = 0;
  uint64_t lamport = 0;
  std::string case_id;
  std::string kind;
  std::string actor;
  Timestamp ts = 0;
  std::string body;  // serialized pb::CaseEvent
  Hash32 prev_hash{};
  Hash32 hash{};
};

// BLAKE2b-256 over the previous hash and every field, length-prefixed.
Hash32 compute_event_hash(const Event& e);

// What an event adds to a batch on the wire, at most: its body and 256 bytes for the other
// fields (ids, numbers, two hashes). Deliveries are cut by it.
inline size_t wire_size(const Event& e) { return e.body.size() + 256; }

struct ChainHead {
  uint64_t seq = 0;
  uint64_t lamport = 0;
  Hash32 hash{};
};

// SQL creating the log's tables; owners include it in their schema migrations.
const std::string& event_log_schema();

// SQL creating the table of borrowed events: events of other origins' chains held for the
// cases handed to this side (跨区通办), verbatim, without the rest of their chains — so they
// live beside the log, never in it, and verify_log does not see them. A later migration.
const std::string& borrowed_events_schema();
// Rebuilds the tables of the two above made by an older release (WITHOUT ROWID tables,
// where a row over 1,001 bytes spilled into an overflow page of its own) in their present
// layout, keeping every row. A migration after both; it copies the largest table once.
const std::string& events_layout_migration();
// Stores borrowed events, each once (an event already held is skipped); returns how many
// were new. Inside the caller's transaction.
Result<size_t> store_borrowed(Db& db, const std::vector<Event>& events);

// The events table's columns in the order event_from_row() reads and bind_event() binds
// (parameters ?1..?10).
extern const char* const kEventColumns;
// Every event of one case, of any origin (the log's and the borrowed), in Lamport order.
Result<std::vector<Event>> events_of_case(Db& db, const std::string& case_id);
// Sorts one case's events in the order every side replays them: Lamport clock, then origin
// (byte-wise, as SQLite's BINARY collation), then seq.
void sort_in_case_order(std::vector<Event>& events);
Event event_from_row(const Stmt& s);
// Binds `e` without copying: run or reset `s` while `e` is alive.
void bind_event(Stmt& s, const Event& e);

class EventLog {
 public:
  // Reads the head of `origin`'s chain from `db` (tables from event_log_schema()). The Db
  // and key are borrowed and must outlive the log.
  static Result<EventLog> open(Db& db, std::string origin, const SigningKey* key);

  const std::string& origin() const { return origin_; }
  const ChainHead& head() const { return head_; }
  // The time of the newest own event. Own events never carry an earlier time: a clock
  // stepped back (NTP, a wrong manual setting) holds still until it passes it again —
  // for up to kMaxClockHold. A newest event further ahead than that was dated by a clock
  // that was wrong (a year typed wrong), and holding until then would date every event
  // wrongly: the clock's own time is used again.
  Timestamp newest_ts() const { return head_ts_; }
  // The time to date the next event at, given the clock's `now` and the newest event.
  static Timestamp next_ts(Timestamp now, Timestamp newest) {
    return newest > now && newest - now <= kMaxClockHold ? newest : now;
  }
  static constexpr Timestamp kMaxClockHold = 24 * 3600;
  // The signature over head(), when this process signed it (the last commit with a key).
  const std::optional<Signature>& head_signature() const { return head_signature_; }
  // Lamport: later own events order after `lamport`, seen in another origin's event.
  void observe(uint64_t lamport) { head_.lamport = std::max(head_.lamport, lamport); }

  // The events of one case in log order.
  Result<std::vector<Event>> case_events(const std::string& case_id);
  // Calls `fn` for every event of `origin` with seq >= from, in order; stops early when
  // fn returns false.
  Status scan(uint64_t from, const std::function<bool(const Event&)>& fn);

  EventLog(EventLog&&) = default;

 private:
  friend class LogWriter;
  EventLog(Db& db, std::string origin, const SigningKey* key)
      : db_(&db), origin_(std::move(origin)), key_(key) {}

  Db* db_;
  std::string origin_;
  const SigningKey* key_;
  ChainHead head_;
  Timestamp head_ts_ = 0;
  std::optional<Signature> head_signature_;
  Stmt insert_;
  Stmt update_head_;
};

// One transaction of appends. Nothing is visible or durable until commit() returns Ok;
// destroying an uncommitted writer rolls back and leaves the log's head unchanged.
class LogWriter {
 public:
  explicit LogWriter(EventLog& log);
  const Status& begun() const { return tx_.begun(); }
  // Appends an event at EventLog::next_ts(ts, newest time already in the log).
  Result<Event> append(const std::string& case_id, const std::string& kind,
                       const std::string& actor, Timestamp ts, std::string body);
  // The earliest time the next append may carry.
  Timestamp not_before() const { return staged_ts_; }
  // Events appended so far in this transaction.
  uint64_t pending() const { return staged_.seq - log_.head_.seq; }
  // Signs and stores the new head, then commits (synchronous=FULL: durable on return).
  Status commit();
  Db& db() { return *log_.db_; }

 private:
  EventLog& log_;
  Transaction tx_;
  ChainHead staged_;
  Timestamp staged_ts_;
};

// The outcome of checking a data dir's chain.
struct VerifyReport {
  bool ok = true;
  std::string origin;
  uint64_t events = 0;
  uint64_t broken_seq = 0;  // first broken link, when !ok
  std::string problem;      // what is wrong there (English)
  std::string problem_zh;
};

// Checks every origin's chain in `db`: seq continuity from 1, each prev_hash, each hash,
// and the signed head (with the origin's key from `keys`, when present). Reads one
// snapshot, so a log being appended to meanwhile verifies as of one moment.
Result<std::vector<VerifyReport>> verify_log(Db& db, const std::map<std::string, PublicKey>& keys);

// Checks `origin`'s chain from a trusted point on: the event at `from.seq` is held with
// `from.hash` (from.seq 0: the chain starts at 1), every later event links and hashes, and
// the signed head matches the last event (its signature checked when `key` is set). The
// node's cold start checks only what was appended since its last witnessed head.
Result<VerifyReport> verify_chain(Db& db, const std::string& origin, const PublicKey* key,
                                  const ChainHead& from);

// The message the chain head signature covers.
std::string chain_head_message(const std::string& origin, const ChainHead& head);

}  // namespace tongban::sync
