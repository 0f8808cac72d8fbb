#include "tongban/sync/event_log.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"

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
