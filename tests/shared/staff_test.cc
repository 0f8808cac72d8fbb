#include "tongban/shared/staff.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "support/test_support.h"

using namespace tongban;

namespace {
Db open_db(const std::filesystem::path& dir) {
  auto db = Db::open(dir / "staff.db");
  REQUIRE(db.ok());
  REQUIRE(db->migrate({StaffDirectory::schema(), StaffDirectory::throttle_schema(),
                       StaffDirectory::department_schema()})
              .ok());
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

TEST_CASE("failed logins make the next try wait longer, from that address only",
          "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("clerk01", "窗口一", Role::kClerk, "correct horse").ok());
  for (int i = 0; i < 5; ++i)
    CHECK(f.staff.login("clerk01", "wrong", "10.1.1.9").status().reason() == "bad_credentials");
  // The guesser waits a full 1 s, then 2 s, then 4 s... (whole seconds: one more to be sure)
  CHECK(f.staff.login("clerk01", "wrong", "10.1.1.9").status().reason() == "login_throttled");
  f.clock.set(f.clock.now() + 1);
  CHECK(f.staff.login("clerk01", "wrong", "10.1.1.9").status().reason() == "login_throttled");
  f.clock.set(f.clock.now() + 1);
  CHECK(f.staff.login("clerk01", "wrong", "10.1.1.9").status().reason() == "bad_credentials");
  f.clock.set(f.clock.now() + 2);
  CHECK(f.staff.login("clerk01", "wrong", "10.1.1.9").status().reason() == "login_throttled");
  // ...while the clerk at her own window logs in at once: strangers cannot lock her out.
  CHECK(f.staff.login("clerk01", "correct horse", "10.1.1.20").ok());
  CHECK(f.staff.login("nobody", "x", "10.1.1.20").status().reason() ==
        "bad_credentials");  // the same answer as a wrong password
}

TEST_CASE("login throttling survives a restart of the directory", "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("admin", "管理员", Role::kAdmin, "correct horse").ok());
  for (int i = 0; i < 9; ++i) (void)f.staff.login("admin", "guess", "10.1.1.9");
  std::mutex other_mu;
  StaffDirectory restarted(f.db, other_mu, f.clock);
  CHECK(restarted.login("admin", "correct horse", "10.1.1.9").status().reason() ==
        "login_throttled");
  f.clock.set(f.clock.now() + 3601);  // an hour later the failures have lapsed
  CHECK(restarted.login("admin", "correct horse", "10.1.1.9").ok());
}

TEST_CASE("a parallel burst of guesses gets no more tries than a serial one", "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("clerk01", "窗口一", Role::kClerk, "correct horse").ok());
  std::atomic<int> checked{0};
  std::vector<std::thread> burst;
  for (int i = 0; i < 12; ++i)
    burst.emplace_back([&] {
      if (f.staff.login("clerk01", "wrong", "10.1.1.9").status().reason() == "bad_credentials")
        ++checked;
    });
  for (auto& t : burst) t.join();
  CHECK(checked == 5);  // the rest were throttled before their password was even checked
}

TEST_CASE("a password change keeps the caller's session and ends the others",
          "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("clerk01", "窗口一", Role::kClerk, "correct horse").ok());
  auto here = f.staff.login("clerk01", "correct horse");
  auto there = f.staff.login("clerk01", "correct horse");
  REQUIRE(here.ok());
  REQUIRE(there.ok());
  CHECK(f.staff.change_password(here->token, "wrong horse", "battery staple", "10.1.1.9")
            .reason() == "wrong_password");
  CHECK(f.staff.change_password(here->token, "correct horse", "short", "10.1.1.9").reason() ==
        "weak_password");
  CHECK(f.staff.authenticate(there->token).ok());  // nothing changed by the refusals
  REQUIRE(f.staff.change_password(here->token, "correct horse", "battery staple", "10.1.1.9").ok());
  CHECK(f.staff.authenticate(here->token).ok());
  CHECK(f.staff.authenticate(there->token).status().reason() == "not_logged_in");
  CHECK(f.staff.login("clerk01", "correct horse").status().reason() == "bad_credentials");
  CHECK(f.staff.login("clerk01", "battery staple").ok());
}

TEST_CASE("wrong current passwords in a password change are throttled like logins",
          "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("clerk01", "窗口一", Role::kClerk, "correct horse").ok());
  auto s = f.staff.login("clerk01", "correct horse");
  REQUIRE(s.ok());
  for (int i = 0; i < 5; ++i)
    CHECK(f.staff.change_password(s->token, "guess", "battery staple", "10.1.1.9").reason() ==
          "wrong_password");
  CHECK(f.staff.change_password(s->token, "correct horse", "battery staple", "10.1.1.9")
            .reason() == "login_throttled");
}

TEST_CASE("an admin's password reset ends every session of the account", "[shared][staff]") {
  StaffFixture f;
  REQUIRE(f.staff.create("agent01", "代办一", Role::kAgent, "correct horse").ok());
  auto s = f.staff.login("agent01", "correct horse");
  REQUIRE(s.ok());
  CHECK(f.staff.reset_password("nobody", "battery staple").reason() == "unknown_staff");
  CHECK(f.staff.reset_password("agent01", "short").reason() == "weak_password");
  CHECK(f.staff.authenticate(s->token).ok());
  REQUIRE(f.staff.reset_password("agent01", "battery staple").ok());
  CHECK(f.staff.authenticate(s->token).status().reason() == "not_logged_in");
  CHECK(f.staff.login("agent01", "battery staple").ok());
}
