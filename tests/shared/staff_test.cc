#include "tongban/shared/staff.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"

using namespace tongban;

namespace {
Db open_db(const std::filesystem::path& dir) {
  auto db = Db::open(dir / "staff.db");
  REQUIRE(db.ok());
  REQUIRE(db->migrate({StaffDirectory::schema()}).ok());
  return std::move(*db);
}

struct StaffFixture {
  test::TempDir dir;
  ManualClock clock{test::at(2026, 11, 2)};
  Db db = open_db(dir.path());
  std::mutex mu;
  StaffDirectory staff{db, mu, clock};
};
}  // namespace

TEST_CASE("passwords are stored as Argon2id hashes, never in clear", "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("clerk01", "窗口一", Role::kClerk, "correct horse").ok());
  auto row = f.db.prepare("SELECT password_hash FROM staff WHERE username='clerk01'");
  REQUIRE(row.ok());
  REQUIRE(*row->step());
  CHECK(row->text_at(0).rfind("$argon2id$", 0) == 0);
  CHECK(f.staff.create("clerk01", "x", Role::kClerk, "correct horse").reason() == "username_taken");
  CHECK(f.staff.create("c", "x", Role::kClerk, "correct horse").reason() == "invalid_username");
  CHECK(f.staff.create("clerk02", "x", Role::kClerk, "short").reason() == "weak_password");
}

TEST_CASE("a session authenticates until it expires", "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("agent01", "代办一", Role::kAgent, "correct horse").ok());
  auto s = f.staff.login("agent01", "correct horse");
  REQUIRE(s.ok());
  auto who = f.staff.authenticate(s->token);
  REQUIRE(who.ok());
  CHECK(who->role == Role::kAgent);
  f.clock.set(f.clock.now() + StaffDirectory::kSessionSeconds + 1);
  CHECK(f.staff.authenticate(s->token).status().reason() == "not_logged_in");
}

TEST_CASE("five failed logins lock the account for five minutes", "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("clerk01", "窗口一", Role::kClerk, "correct horse").ok());
  for (int i = 0; i < 5; ++i)
    CHECK(f.staff.login("clerk01", "wrong").status().reason() == "bad_credentials");
  CHECK(f.staff.login("clerk01", "correct horse").status().reason() == "account_locked");
  f.clock.set(f.clock.now() + 301);
  CHECK(f.staff.login("clerk01", "correct horse").ok());
  CHECK(f.staff.login("nobody", "x").status().reason() ==
        "bad_credentials");  // same answer as a wrong password
}
