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
