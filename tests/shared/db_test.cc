#include "tongban/shared/db.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"

using namespace tongban;

TEST_CASE("migrations run once each and survive reopening", "[shared][db]") {
  test::TempDir dir;
  const std::vector<std::string> steps = {"CREATE TABLE a(x INTEGER)", "CREATE TABLE b(y TEXT)"};
  {
    auto db = Db::open(dir.path() / "t.db");
    REQUIRE(db.ok());
    REQUIRE(db->migrate(steps).ok());
  }
  auto db = Db::open(dir.path() / "t.db");
  REQUIRE(db.ok());
  REQUIRE(db->migrate(steps).ok());  // would fail with "table exists" if re-run
  auto v = db->prepare("PRAGMA user_version");
  REQUIRE(v.ok());
  REQUIRE(*v->step());
  CHECK(v->int_at(0) == 2);
}

TEST_CASE("an uncommitted transaction leaves nothing behind", "[shared][db]") {
  test::TempDir dir;
  auto db = Db::open(dir.path() / "t.db");
  REQUIRE(db.ok());
  REQUIRE(db->exec("CREATE TABLE a(x TEXT)").ok());
  {
    Transaction tx(*db);
    REQUIRE(tx.begun().ok());
    auto ins = db->prepare("INSERT INTO a VALUES(?1)");
    REQUIRE(ins.ok());
    REQUIRE(ins->bind(1, std::string_view("'); DROP TABLE a; --")).run().ok());
  }
  auto count = db->prepare("SELECT count(*) FROM a");
  REQUIRE(count.ok());
  REQUIRE(*count->step());
  CHECK(count->int_at(0) == 0);
}

TEST_CASE("the connection runs WAL with synchronous=FULL", "[shared][db]") {
  test::TempDir dir;
  auto db = Db::open(dir.path() / "t.db");
  REQUIRE(db.ok());
  auto mode = db->prepare("PRAGMA journal_mode");
  REQUIRE(mode.ok());
  REQUIRE(*mode->step());
  CHECK(mode->text_at(0) == "wal");
  auto sync = db->prepare("PRAGMA synchronous");
  REQUIRE(sync.ok());
  REQUIRE(*sync->step());
  CHECK(sync->int_at(0) == 2);
}

TEST_CASE("write_row inserts a new row and sets only the columns that changed", "[shared][db]") {
  test::TempDir dir;
  auto db = Db::open(dir.path() / "t.db");
  REQUIRE(db.ok());
  // A trigger per column records each UPDATE whose SET names it (UPDATE OF fires on the
  // columns assigned, changed or not): what write_row assigns is what SQLite re-indexes.
  REQUIRE(db->exec("CREATE TABLE t(k TEXT PRIMARY KEY, name, n INTEGER, due INTEGER) WITHOUT ROWID;"
                   "CREATE INDEX t_by_due ON t(due);"
                   "CREATE TABLE assigned(col TEXT);"
                   "CREATE TRIGGER t_name AFTER UPDATE OF name ON t BEGIN INSERT INTO assigned VALUES('name'); END;"
                   "CREATE TRIGGER t_n AFTER UPDATE OF n ON t BEGIN INSERT INTO assigned VALUES('n'); END;"
                   "CREATE TRIGGER t_due AFTER UPDATE OF due ON t BEGIN INSERT INTO assigned VALUES('due'); END;")
              .ok());
  const RowShape shape("t", {"k", "name", "n", "due"}, {"name", "n", "due"});
  const auto row = [&]() {
    auto s = db->prepare("SELECT typeof(name), name, n, typeof(due), due FROM t WHERE k='a'");
    REQUIRE(s.ok());
    REQUIRE(*s->step());
    return s->text_at(0) + "|" + s->text_at(1) + "|" + std::to_string(s->int_at(2)) + "|" +
           s->text_at(3) + "|" + std::to_string(s->int_at(4));
  };
  const auto assigned = [&]() {
    auto s = db->prepare("SELECT group_concat(col, ',') FROM (SELECT col FROM assigned ORDER BY col)");
    REQUIRE(s.ok());
    REQUIRE(*s->step());
    std::string cols = s->null_at(0) ? "" : s->text_at(0);
    REQUIRE(db->exec("DELETE FROM assigned").ok());
    return cols;
  };

  auto w = write_row(*db, shape, {SqlValue::text("a"), SqlValue::text("甲"), SqlValue::of(1),
                                  SqlValue::null()});
  REQUIRE(w.ok());
  CHECK(*w);
  CHECK(row() == "text|甲|1|null|0");
  CHECK(assigned().empty());

  w = write_row(*db, shape, {SqlValue::text("a"), SqlValue::text("甲"), SqlValue::of(1),
                             SqlValue::null()});
  REQUIRE(w.ok());
  CHECK_FALSE(*w);  // nothing differs: nothing written
  CHECK(assigned().empty());

  w = write_row(*db, shape, {SqlValue::text("a"), SqlValue::text("甲"), SqlValue::of(2),
                             SqlValue::of(std::optional<int64_t>(7))});
  REQUIRE(w.ok());
  CHECK(*w);
  CHECK(row() == "text|甲|2|integer|7");
  CHECK(assigned() == "due,n");

  // The same bytes as a blob are a change (a sealed name replacing a plain one).
  w = write_row(*db, shape, {SqlValue::text("a"), SqlValue::blob("甲"), SqlValue::of(2),
                             SqlValue::of(std::optional<int64_t>())});
  REQUIRE(w.ok());
  CHECK(*w);
  CHECK(row() == "blob|甲|2|null|0");
  CHECK(assigned() == "due,name");

  // Columns no index covers go along with any change (one UPDATE per set of changed
  // indexed columns); with nothing changed, still nothing is written.
  const RowShape due_indexed("t", {"k", "name", "n", "due"}, {"due"});
  w = write_row(*db, due_indexed, {SqlValue::text("a"), SqlValue::blob("甲"), SqlValue::of(3),
                                   SqlValue::null()});
  REQUIRE(w.ok());
  CHECK(*w);
  CHECK(row() == "blob|甲|3|null|0");
  CHECK(assigned() == "n,name");
  w = write_row(*db, due_indexed, {SqlValue::text("a"), SqlValue::blob("甲"), SqlValue::of(3),
                                   SqlValue::null()});
  REQUIRE(w.ok());
  CHECK_FALSE(*w);
  CHECK(assigned().empty());

  // Empty text is '' (not NULL).
  REQUIRE(write_row(*db, shape, {SqlValue::text("a"), SqlValue::text(std::string_view()),
                                 SqlValue::of(3), SqlValue::null()})
              .ok());
  CHECK(row() == "text||3|null|0");

  CHECK_FALSE(write_row(*db, shape, {SqlValue::text("a"), SqlValue::of(1)}).ok());
}
