#include "tongban/sync/event_log.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"
#include "tongban/sync/batch.h"
#include "tongban/sync/replica.h"

using namespace tongban;
using namespace tongban::sync;

namespace {

Db open_log_db(const std::filesystem::path& file) {
  auto d = Db::open(file);
  REQUIRE(d.ok());
  REQUIRE(d->migrate({event_log_schema(), borrowed_events_schema()}).ok());
  return std::move(*d);
}

struct LogFixture {
  test::TempDir dir;
  SigningKey key = SigningKey::generate();
  Db db = open_log_db(dir.path() / "log.db");

  EventLog open() {
    auto log = EventLog::open(db, "S01", &key);
    REQUIRE(log.ok());
    return std::move(*log);
  }
  void append(EventLog& log, int n) {
    LogWriter w(log);
    REQUIRE(w.begun().ok());
    for (int i = 0; i < n; ++i)
      REQUIRE(w.append("S01-" + std::to_string(i % 3), "case.test", "clerk", 1000 + i,
                       "body" + std::to_string(i))
                  .ok());
    REQUIRE(w.commit().ok());
  }
  VerifyReport verify() {
    auto r = verify_log(db, {{"S01", key.public_key()}});
    REQUIRE(r.ok());
    REQUIRE(r->size() == 1);
    return r->front();
  }
};

// The hub's directive drafts with these bodies, stamped from `ts` on, appended to
// `stream` as one run (signed once at its head) in its own transaction.
std::vector<Event> extend_with_run(LogFixture& f, Replica& replica, const std::string& stream,
                                   const std::vector<std::string>& bodies, Timestamp ts,
                                   uint64_t after = 0) {
  std::vector<Event> run(bodies.size());
  for (size_t i = 0; i < run.size(); ++i) {
    run[i].case_id = "directives";
    run[i].kind = "hub.case_events";
    run[i].actor = "hub";
    run[i].ts = ts + static_cast<Timestamp>(i);
    run[i].body = bodies[i];
  }
  Transaction tx(f.db);
  REQUIRE(tx.begun().ok());
  REQUIRE(replica.extend_run(stream, run, f.key, after).ok());
  REQUIRE(tx.commit().ok());
  return run;
}

}  // namespace

TEST_CASE("appends chain each event to the previous one without gaps", "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 5);
  CHECK(log.head().seq == 5);
  std::vector<Event> seen;
  REQUIRE(log.scan(1,
                   [&](const Event& e) {
                     seen.push_back(e);
                     return true;
                   })
              .ok());
  REQUIRE(seen.size() == 5);
  for (size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].seq == seen[i - 1].seq + 1);
    CHECK(seen[i].prev_hash == seen[i - 1].hash);
    CHECK(seen[i].lamport > seen[i - 1].lamport);
  }
  CHECK(f.verify().ok);
  CHECK(f.verify().events == 5);
  auto of_case = log.case_events("S01-1");
  REQUIRE(of_case.ok());
  CHECK(of_case->size() == 2);
}

TEST_CASE("a rolled-back writer leaves the head and the chain unchanged", "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 2);
  {
    LogWriter w(log);
    REQUIRE(w.append("S01-9", "case.test", "clerk", 5, "x").ok());
  }
  CHECK(log.head().seq == 2);
  f.append(log, 1);
  CHECK(log.head().seq == 3);
  CHECK(f.verify().ok);
}

TEST_CASE("a clock stepped back holds still for up to a day, then its own time is used again",
          "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  const auto append_at = [&](Timestamp ts) {
    LogWriter w(log);
    auto e = w.append("S01-1", "case.test", "clerk", ts, "x");
    REQUIRE(e.ok());
    REQUIRE(w.commit().ok());
    return e->ts;
  };
  const Timestamp t = 1796000000;
  CHECK(append_at(t) == t);
  CHECK(append_at(t - 3600) == t);  // an hour back: held at the newest event
  CHECK(log.newest_ts() == t);
  CHECK(append_at(t + 5) == t + 5);
  // The newest event is two days ahead of the clock: it was dated by a wrong clock.
  CHECK(append_at(t - 2 * 86400) == t - 2 * 86400);
  EventLog reopened = f.open();
  CHECK(reopened.newest_ts() == t - 2 * 86400);
  CHECK(f.verify().ok);
}

TEST_CASE("reopening continues the chain from the stored head", "[sync][log]") {
  LogFixture f;
  {
    EventLog log = f.open();
    f.append(log, 3);
  }
  EventLog log = f.open();
  CHECK(log.head().seq == 3);
  f.append(log, 2);
  CHECK(f.verify().ok);
}

TEST_CASE("verify-log names an edited event", "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 6);
  REQUIRE(f.db.exec("UPDATE events SET body=x'00' WHERE seq=4").ok());
  const VerifyReport r = f.verify();
  CHECK_FALSE(r.ok);
  CHECK(r.broken_seq == 4);
  CHECK(r.problem.find("edited") != std::string::npos);
}

TEST_CASE("verify-log names a deleted event", "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 6);
  REQUIRE(f.db.exec("DELETE FROM events WHERE seq=3").ok());
  const VerifyReport r = f.verify();
  CHECK(r.broken_seq == 3);
  CHECK(r.problem.find("deleted") != std::string::npos);
}

TEST_CASE("verify-log names reordered events", "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 6);
  // Swap the contents of events 2 and 3 while keeping their seq numbers.
  REQUIRE(f.db.exec("UPDATE events SET seq=-1 WHERE seq=2; UPDATE events SET seq=2 WHERE seq=3;"
                    "UPDATE events SET seq=3 WHERE seq=-1")
              .ok());
  const VerifyReport r = f.verify();
  CHECK(r.broken_seq == 2);
  CHECK(r.problem.find("reordered") != std::string::npos);
}

TEST_CASE("verify-log names a truncated tail", "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 6);
  REQUIRE(f.db.exec("DELETE FROM events WHERE seq>=5").ok());
  const VerifyReport r = f.verify();
  CHECK(r.broken_seq == 5);
  CHECK(r.problem.find("truncated") != std::string::npos);
}

TEST_CASE("verify-log refuses a chain head not signed by the site", "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 2);
  auto other = verify_log(f.db, {{"S01", SigningKey::generate().public_key()}});
  REQUIRE(other.ok());
  CHECK_FALSE(other->front().ok);
  CHECK(other->front().problem.find("signature") != std::string::npos);
}

TEST_CASE("a run the hub extends a chain with links each event and is signed once at its head",
          "[sync][log]") {
  LogFixture f;
  Replica replica(f.db);
  const std::string stream = "HUB>S01";
  REQUIRE(replica.extend(stream, "directives", "hub.case_events", "hub", 1000, "first", f.key).ok());
  const std::vector<Event> run =
      extend_with_run(f, replica, stream, {"run 0", "run 1", "run 2"}, 1001, 50);
  CHECK(run.front().seq == 2);
  CHECK(run.back().seq == 4);
  CHECK(run.front().lamport == 51);  // after the newest event it follows
  CHECK(run.back().lamport == 53);
  // A peer checks the stream as a delivery: the links from the first event on, and the one
  // signature over the head.
  auto held = replica.read(stream, 1, 10);
  REQUIRE(held.ok());
  REQUIRE(held->size() == 4);
  CHECK((*held)[1].prev_hash == (*held)[0].hash);
  auto head = replica.signed_head(stream);
  REQUIRE(head.ok());
  REQUIRE(head->has_value());
  CHECK((*head)->head.seq == 4);
  CHECK(verify_signature(f.key.public_key(),
                         chain_head_message(stream, ChainHead{4, 0, (*head)->head.hash}),
                         (*head)->signature));
  pb::Batch batch = make_batch(*held, f.key);
  batch.set_signature((*head)->signature.data(), (*head)->signature.size());  // the stored one
  const BatchCheck check = check_batch(batch, ChainHead{}, f.key.public_key(),
                                       [](uint64_t) { return Result<Hash32>(Hash32{}); });
  REQUIRE(check.ok());
  CHECK(check.fresh.size() == 4);
}

TEST_CASE("a read bounded by bytes stops before the event that would pass the bound",
          "[sync][log]") {
  LogFixture f;
  Replica replica(f.db);
  const std::string stream = "HUB>S01";
  std::vector<std::string> bodies;
  for (char c = 'a'; c < 'f'; ++c) bodies.emplace_back(1000, c);
  const std::vector<Event> run = extend_with_run(f, replica, stream, bodies, 1000);
  const size_t each = wire_size(run[0]);  // 1,000 bytes of body and 256 for the rest
  CHECK(each == 1256);
  auto two = replica.read(stream, 1, 10, 3 * each - 1);
  REQUIRE(two.ok());
  REQUIRE(two->size() == 2);
  CHECK(two->back().seq == 2);
  auto three = replica.read(stream, 2, 10, 3 * each);  // exactly at the bound: kept
  REQUIRE(three.ok());
  REQUIRE(three->size() == 3);
  CHECK(three->front().seq == 2);
  auto one = replica.read(stream, 1, 10, 10);  // the first always comes
  REQUIRE(one.ok());
  CHECK(one->size() == 1);
  auto capped = replica.read(stream, 1, 4, 100 * each);  // the count still bounds it
  REQUIRE(capped.ok());
  CHECK(capped->size() == 4);
}

TEST_CASE("the layout migration keeps every event of an older release's tables and unspills them",
          "[sync][log]") {
  test::TempDir dir;
  SigningKey key = SigningKey::generate();
  auto opened = Db::open(dir.path() / "old.db");
  REQUIRE(opened.ok());
  Db& db = *opened;
  // The two tables as releases before the migration made them (an index B-tree each).
  const auto old_table = [](const std::string& table, const std::string& by_case) {
    return "CREATE TABLE " + table +
           "(origin TEXT NOT NULL, seq INTEGER NOT NULL, lamport INTEGER NOT NULL,"
           " case_id TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, ts INTEGER NOT NULL,"
           " body BLOB NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,"
           " PRIMARY KEY(origin, seq)) WITHOUT ROWID; CREATE INDEX " + by_case + " ON " + table +
           "(case_id);";
  };
  const std::string old_log =
      old_table("events", "events_by_case") +
      "CREATE TABLE chain_head(origin TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
      " lamport INTEGER NOT NULL, hash BLOB NOT NULL, signature BLOB NOT NULL) WITHOUT ROWID;";
  REQUIRE(db.migrate({old_log, old_table("borrowed_events", "borrowed_by_case")}).ok());

  const std::string big(1300, 'h');  // a hand-over's size: over an index page's 1,001 bytes
  {
    auto log = EventLog::open(db, "S01", &key);
    REQUIRE(log.ok());
    LogWriter w(*log);
    REQUIRE(w.begun().ok());
    for (int i = 0; i < 40; ++i)
      REQUIRE(w.append("S01-" + std::to_string(i % 4), "case.test", "clerk", 1000 + i,
                       i == 7 ? big : "body" + std::to_string(i))
                  .ok());
    REQUIRE(w.commit().ok());
  }
  Event borrowed;
  borrowed.origin = "S02";
  borrowed.seq = 3;
  borrowed.case_id = "S01-1";
  borrowed.kind = "case.accepted";
  borrowed.actor = "clerk";
  borrowed.body = "borrowed";
  borrowed.hash = compute_event_hash(borrowed);
  {
    Transaction tx(db);
    REQUIRE(tx.begun().ok());
    REQUIRE(store_borrowed(db, {borrowed}).ok());
    REQUIRE(tx.commit().ok());
  }
  const auto overflow_pages = [&] {
    auto stmt = db.prepare("SELECT count(*) FROM dbstat WHERE name='events' AND pagetype='overflow'");
    REQUIRE(stmt.ok());
    REQUIRE(*stmt->step());
    return stmt->int_at(0);
  };
  const auto all_rows = [&](const std::string& table) {
    auto stmt = db.prepare(std::string("SELECT ") + kEventColumns + " FROM " + table +
                           " ORDER BY origin, seq");
    REQUIRE(stmt.ok());
    auto rows = collect_rows<Event>(*stmt, event_from_row);
    REQUIRE(rows.ok());
    return *rows;
  };
  const auto same = [](const std::vector<Event>& a, const std::vector<Event>& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].origin == b[i].origin);
      CHECK(a[i].seq == b[i].seq);
      CHECK(a[i].body == b[i].body);
      CHECK(a[i].hash == b[i].hash);
      CHECK(compute_event_hash(b[i]) == b[i].hash);
    }
  };
  CHECK(overflow_pages() == 1);  // the old layout spilled the 1.3 KB event
  const std::vector<Event> log_before = all_rows("events"), borrowed_before = all_rows("borrowed_events");
  REQUIRE(log_before.size() == 40);

  REQUIRE(db.migrate({old_log, old_table("borrowed_events", "borrowed_by_case"),
                      events_layout_migration()})
              .ok());
  CHECK(overflow_pages() == 0);
  same(log_before, all_rows("events"));
  same(borrowed_before, all_rows("borrowed_events"));
  auto layout = db.prepare(
      "SELECT name FROM sqlite_schema WHERE tbl_name IN ('events','borrowed_events') AND"
      " (type='index' OR sql NOT LIKE '%WITHOUT ROWID%') ORDER BY name");
  REQUIRE(layout.ok());
  auto names = collect_rows<std::string>(*layout, [](const Stmt& r) { return r.text_at(0); });
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"borrowed_by_case", "borrowed_events", "borrowed_key",
                                           "events", "events_by_case", "events_key"});

  // The chain still verifies and goes on; (origin, seq) is still one event.
  auto report = verify_log(db, {{"S01", key.public_key()}});
  REQUIRE(report.ok());
  CHECK(report->front().ok);
  CHECK(report->front().events == 40);
  auto of_case = events_of_case(db, "S01-1");
  REQUIRE(of_case.ok());
  CHECK(of_case->size() == 11);  // ten of the log's and the borrowed one
  auto log = EventLog::open(db, "S01", &key);
  REQUIRE(log.ok());
  CHECK(log->head().seq == 40);
  {
    LogWriter w(*log);
    REQUIRE(w.begun().ok());
    REQUIRE(w.append("S01-0", "case.test", "clerk", 2000, "after").ok());
    REQUIRE(w.commit().ok());
  }
  auto twice = db.prepare(std::string("INSERT INTO events(") + kEventColumns +
                          ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
  REQUIRE(twice.ok());
  bind_event(*twice, log_before.front());
  CHECK_FALSE(twice->run().ok());
  {
    Transaction tx(db);
    REQUIRE(tx.begun().ok());
    auto added = store_borrowed(db, {borrowed});
    REQUIRE(added.ok());
    CHECK(*added == 0);
    REQUIRE(tx.commit().ok());
  }
  report = verify_log(db, {{"S01", key.public_key()}});
  REQUIRE(report.ok());
  CHECK(report->front().ok);
  CHECK(report->front().events == 41);
}

TEST_CASE("a case's events come in Lamport then origin then seq order from log and borrowed alike",
          "[sync][log]") {
  LogFixture f;
  EventLog log = f.open();
  f.append(log, 6);  // S01-0 gets seq 1 and 4 at Lamport 1 and 4
  const auto borrowed = [](const std::string& origin, uint64_t seq, uint64_t lamport) {
    Event e;
    e.origin = origin;
    e.seq = seq;
    e.lamport = lamport;
    e.case_id = "S01-0";
    e.kind = "case.test";
    e.actor = "clerk";
    e.hash = compute_event_hash(e);
    return e;
  };
  {
    Transaction tx(f.db);
    REQUIRE(tx.begun().ok());
    // Stored out of order: a later Lamport first, and two at Lamport 4 whose origins sort
    // on either side of S01.
    REQUIRE(store_borrowed(f.db, {borrowed("S02", 9, 5), borrowed("S09", 2, 4),
                                  borrowed("HUB", 7, 4), borrowed("S02", 3, 2)})
                .ok());
    REQUIRE(tx.commit().ok());
  }
  auto events = events_of_case(f.db, "S01-0");
  REQUIRE(events.ok());
  std::vector<std::string> order;
  for (const Event& e : *events) order.push_back(e.origin + "#" + std::to_string(e.seq));
  CHECK(order == std::vector<std::string>{"S01#1", "S02#3", "HUB#7", "S01#4", "S09#2", "S02#9"});
}
