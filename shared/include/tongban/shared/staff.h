// Staff accounts and sessions of one node or hub (local only: never replicated).
//
// Roles: window clerk (综窗), back-office reviewer, community agent (代办), site admin,
// and the hub's district operator.
// Passwords are Argon2id; a session token is 32 random bytes of which only the BLAKE2b
// hash is stored. Five failed logins lock an account for five minutes.
//
// Thread safety: every method locks the shared store mutex passed in; safe from any thread.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/clock.h"
#include "tongban/shared/db.h"

namespace tongban {

enum class Role { kClerk, kReviewer, kAgent, kAdmin, kOperator };
const char* to_string(Role r);
const char* label_zh(Role r);
std::optional<Role> role_from(const std::string& s);

struct Staff {
  std::string username;
  std::string display_name;
  Role role = Role::kClerk;
};

struct Session {
  std::string token;  // given to the client once, at login
  Staff staff;
  Timestamp expires_at = 0;
};

class StaffDirectory {
 public:
  static constexpr Timestamp kSessionSeconds = 12 * 3600;

  // SQL creating the staff and session tables; owners include it in their migrations.
  static const std::string& schema();

  // `mu` guards `db`, shared with the owner's other users of the connection.
  StaffDirectory(Db& db, std::mutex& mu, const Clock& clock) : db_(db), mu_(mu), clock_(clock) {}

  // InvalidArgument for a bad username/password shape, Conflict if the name is taken.
  Status create(const std::string& username, const std::string& display_name, Role role,
                const std::string& password);
  // Unauthenticated (with the same message for an unknown user and a wrong password).
  Result<Session> login(const std::string& username, const std::string& password);
  Result<Staff> authenticate(const std::string& token);
  Status logout(const std::string& token);
  Result<std::vector<Staff>> list();
  Status set_disabled(const std::string& username, bool disabled);

 private:
  Db& db_;
  std::mutex& mu_;
  const Clock& clock_;
  std::map<std::string, std::pair<int, Timestamp>> failures_;  // username -> (count, last)
};

}  // namespace tongban
