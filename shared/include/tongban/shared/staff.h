// Staff accounts and sessions of one node or hub (local only: never replicated).
//
// Roles: window clerk (综窗), back-office reviewer, community agent (代办), site admin,
// and the hub's district operator.
// Passwords are Argon2id; a session token is 32 random bytes of which only the BLAKE2b
// hash is stored. Failed logins are throttled, never locked: each failure counts against
// the (account, address) pair, the address and the account, and past a threshold each
// makes the next try wait longer (1 s, 2 s, 4 s… up to a cap). The counts are stored, so
// a restart does not forget them; a failure is counted before the password is checked, so
// a parallel burst gets no more tries than a serial one; counts older than an hour lapse.
// A stranger at another address can delay an account by at most the account cap (60 s),
// never lock it. An unknown user costs the same Argon2id verification as a wrong
// password, so timing does not tell which user names exist.
//
// Thread safety: every method locks the shared store mutex passed in; safe from any thread.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tongban/shared/clock.h"
#include "tongban/shared/db.h"

namespace tongban {

// A site's four roles, and the hub's two: the operator (区级调度员) acts across the district,
// the supervisor (监察员, 电子监察 of the 行政审批服务局) watches and audits.
enum class Role { kClerk, kReviewer, kAgent, kAdmin, kOperator, kSupervisor, kOfficer };
const char* to_string(Role r);
const char* label_zh(Role r);
std::optional<Role> role_from(const std::string& s);

struct Staff {
  std::string username;
  std::string display_name;
  Role role = Role::kClerk;
  // A reviewer's department (back office 后台分类审批): they review and decide only items
  // and bundle parts of it. Empty: every department (a small site's one reviewer).
  std::string department;
};

struct Session {
  std::string token;  // given to the client once, at login
  Staff staff;
  Timestamp expires_at = 0;
};

class StaffDirectory {
 public:
  static constexpr Timestamp kSessionSeconds = 12 * 3600;

  // SQL creating the staff and session tables, and (a later migration) the login throttle;
  // owners include both in their migrations, in this order.
  static const std::string& schema();
  static const std::string& throttle_schema();
  // A later migration: each account's department.
  static const std::string& department_schema();

  // `mu` guards `db`, shared with the owner's other users of the connection.
  StaffDirectory(Db& db, std::mutex& mu, const Clock& clock) : db_(db), mu_(mu), clock_(clock) {}

  // InvalidArgument for a bad username/password shape, Conflict if the name is taken.
  Status create(const std::string& username, const std::string& display_name, Role role,
                const std::string& password, const std::string& department = "");
  // Unauthenticated (with the same message for an unknown user and a wrong password);
  // TooManyRequests (login_throttled, with the seconds to wait) while throttled.
  // `address` is the client's IP address.
  Result<Session> login(const std::string& username, const std::string& password,
                        const std::string& address = "local");
  Result<Staff> authenticate(const std::string& token);
  Status logout(const std::string& token);
  Result<std::vector<Staff>> list();
  Status set_disabled(const std::string& username, bool disabled);
  // The holder of `token` changes their own password: `current` is checked as a login is
  // (throttled the same way, from `address`); every other session of the account ends.
  Status change_password(const std::string& token, const std::string& current,
                         const std::string& next, const std::string& address);
  // An admin sets another account's password (the holder forgot it): all of that
  // account's sessions end. NotFound for an unknown or disabled account.
  Status reset_password(const std::string& username, const std::string& next);

 private:
  // Stores the new password's hash and ends the account's sessions but `keep_token`'s.
  Status set_password(const std::string& username, const std::string& next,
                      const std::string& keep_token);

  Db& db_;
  std::mutex& mu_;
  const Clock& clock_;
};

}  // namespace tongban
