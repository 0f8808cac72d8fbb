#include "tongban/shared/staff.h"

#include <cctype>

#include "tongban/shared/crypto.h"
#include "tongban/shared/validation.h"

namespace tongban {

namespace {

Status bad_login() {
  return Status::Unauthenticated("bad_credentials", "用户名或密码错误",
                                 "wrong username or password");
}

bool valid_username(const std::string& u) {
  if (u.size() < 3 || u.size() > 32) return false;
  for (char c : u)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
      return false;
  return true;
}

}  // namespace

const std::string& StaffDirectory::schema() {
  static const std::string kSql = R"sql(
    CREATE TABLE staff(
      username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
      password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
      created_ts INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE sessions(
      token_hash BLOB PRIMARY KEY, username TEXT NOT NULL, expires_ts INTEGER NOT NULL) WITHOUT ROWID;
  )sql";
  return kSql;
}

const char* to_string(Role r) {
  switch (r) {
    case Role::kClerk:
      return "clerk";
    case Role::kReviewer:
      return "reviewer";
    case Role::kAgent:
      return "agent";
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kSupervisor:
      return "supervisor";
    case Role::kOfficer:
      return "officer";
  }
  return "?";
}

const char* label_zh(Role r) {
  switch (r) {
    case Role::kClerk:
      return "综窗受理员";
    case Role::kReviewer:
      return "后台审批员";
    case Role::kAgent:
      return "代办员";
    case Role::kAdmin:
      return "站点管理员";
    case Role::kOperator:
      return "区级调度员";
    case Role::kSupervisor:
      return "监察员";
    case Role::kOfficer:
      return "改革体验官";
  }
  return "?";
}

std::optional<Role> role_from(const std::string& s) {
  for (Role r : {Role::kClerk, Role::kReviewer, Role::kAgent, Role::kAdmin, Role::kOperator,
                 Role::kSupervisor, Role::kOfficer})
    if (s == to_string(r)) return r;
  return std::nullopt;
}

namespace {

Status check_password_shape(const std::string& password) {
  if (password.size() < 8 || password.size() > 128)
    return Status::InvalidArgument("weak_password", "密码长度应为8至128位",
                                   "password must be 8-128 characters");
  return Status::Ok();
}

}  // namespace

Status StaffDirectory::create(const std::string& username, const std::string& display_name,
                              Role role, const std::string& password,
                              const std::string& department) {
  if (!valid_username(username))
    return Status::InvalidArgument("invalid_username", "用户名应为3至32位字母、数字、_-.",
                                   "username: 3-32 letters, digits, _ - .");
  if (display_name.empty() || display_name.size() > 64 ||
      display_name.find_first_of("\t\r\n") != std::string::npos || !is_clean_utf8(display_name))
    return Status::InvalidArgument("invalid_display_name", "请填写姓名（最多64字节）",
                                   "display_name: 1-64 bytes");
  if (department.size() > 64 || department.find_first_of("\t\r\n") != std::string::npos ||
      !is_clean_utf8(department))
    return Status::InvalidArgument("invalid_department", "部门名称最多64字节",
                                   "department: at most 64 bytes on one line");
  TB_RETURN_IF_ERROR(check_password_shape(password));
  auto hash = hash_password(password);  // slow by design: outside the lock
  if (!hash.ok()) return hash.status();
  std::lock_guard lock(mu_);
  auto stmt = db_.cached(
      "INSERT INTO staff(username, display_name, role, password_hash, created_ts, department) "
      "VALUES(?1,?2,?3,?4,?5,?6) "
      "ON CONFLICT(username) DO NOTHING");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, username)
      .bind(2, display_name)
      .bind(3, std::string(to_string(role)))
      .bind(4, *hash);
  stmt->bind(5, clock_.now()).bind(6, department);
  TB_RETURN_IF_ERROR(stmt->run());
  if (db_.changes() == 0)
    return Status::Conflict("username_taken", "用户名已存在", "username already exists");
  return Status::Ok();
}

namespace {

struct ThrottleRule {
  const char* prefix;
  int free_failures;     // failures before any wait
  Timestamp max_wait_s;  // the wait doubles per further failure, up to this
};
// pair: one address guessing one account; address: one address guessing many accounts;
// account: many addresses guessing one account (capped low: strangers must not lock it).
constexpr ThrottleRule kPair{"p:", 5, 900}, kAddress{"a:", 30, 900}, kAccount{"u:", 100, 60};
constexpr Timestamp kFailureMemory = 3600;

Timestamp wait_after(const ThrottleRule& rule, int64_t failures) {
  if (failures < rule.free_failures) return 0;
  const int64_t doublings = std::min<int64_t>(failures - rule.free_failures, 20);
  return std::min<Timestamp>(Timestamp{1} << doublings, rule.max_wait_s);
}

// An Argon2id hash of a random password with the same parameters as real ones: verifying
// against it takes as long as verifying a wrong password of a real user.
const std::string& dummy_hash() {
  static const std::string kHash = [] {
    auto h = hash_password(random_token());
    return h.ok() ? *h : std::string();
  }();
  return kHash;
}

}  // namespace

const std::string& StaffDirectory::department_schema() {
  static const std::string kSql =
      "ALTER TABLE staff ADD COLUMN department TEXT NOT NULL DEFAULT ''";
  return kSql;
}

const std::string& StaffDirectory::throttle_schema() {
  static const std::string kSql =
      "CREATE TABLE login_throttle(key TEXT PRIMARY KEY, failures INTEGER NOT NULL,"
      " last_ts INTEGER NOT NULL) WITHOUT ROWID";
  return kSql;
}

Result<Session> StaffDirectory::login(const std::string& username, const std::string& password,
                                      const std::string& address) {
  std::string stored;
  Staff staff;
  const std::string addr = address.substr(0, 64);
  const std::string keys[] = {kPair.prefix + username + "|" + addr, kAddress.prefix + addr,
                              kAccount.prefix + username};
  const ThrottleRule* rules[] = {&kPair, &kAddress, &kAccount};
  const bool plausible = valid_username(username) && password.size() <= 128;
  {
    std::lock_guard lock(mu_);
    const Timestamp now = clock_.now();
    auto prune = db_.cached("DELETE FROM login_throttle WHERE last_ts < ?1");
    if (!prune.ok()) return prune.status();
    TB_RETURN_IF_ERROR(prune->bind(1, now - kFailureMemory).run());
    auto read = db_.cached("SELECT failures, last_ts FROM login_throttle WHERE key=?1");
    if (!read.ok()) return read.status();
    for (int i = 0; i < 3; ++i) {
      if (!plausible && i != 1) continue;  // only the address counts a malformed name
      read->bind(1, keys[i]);
      auto row = read->step();
      if (!row.ok()) return row.status();
      if (!*row) continue;
      // Times are whole seconds: a wait of N s lasts until N full seconds have passed, so
      // a failure late in one second is not forgiven early in the next.
      const Timestamp wait = wait_after(*rules[i], read->int_at(0));
      const Timestamp until = read->int_at(1) + (wait ? wait + 1 : 0);
      if (now < until)
        return Status::Make(StatusCode::kTooManyRequests, "login_throttled",
                            "登录失败次数过多，请" + std::to_string(until - now) + "秒后再试",
                            "too many failed logins; retry in " + std::to_string(until - now) +
                                " s");
    }
    // Counted before the password is checked: parallel tries each pay.
    auto count = db_.cached(
        "INSERT INTO login_throttle(key, failures, last_ts) VALUES(?1, 1, ?2)"
        " ON CONFLICT(key) DO UPDATE SET failures=failures+1, last_ts=excluded.last_ts");
    if (!count.ok()) return count.status();
    for (int i = 0; i < 3; ++i)
      if (plausible || i == 1) TB_RETURN_IF_ERROR(count->bind(1, keys[i]).bind(2, now).run());
    if (plausible) {
      auto stmt = db_.cached(
          "SELECT password_hash, display_name, role, department FROM staff"
          " WHERE username=?1 AND disabled=0");
      if (!stmt.ok()) return stmt.status();
      stmt->bind(1, username);
      auto row = stmt->step();
      if (!row.ok()) return row.status();
      if (*row) {
        stored = stmt->text_at(0);
        staff = Staff{username, stmt->text_at(1),
                      role_from(stmt->text_at(2)).value_or(Role::kClerk), stmt->text_at(3)};
      }
    }
  }
  const bool known = !stored.empty();
  const bool ok = verify_password(known ? stored : dummy_hash(), password) && known;
  if (!ok) return bad_login();
  std::lock_guard lock(mu_);
  // The owner got in: this pair and this account start afresh (the address does not: one
  // valid account must not launder an address's guesses at others).
  auto forget = db_.cached("DELETE FROM login_throttle WHERE key=?1 OR key=?2");
  if (!forget.ok()) return forget.status();
  TB_RETURN_IF_ERROR(forget->bind(1, keys[0]).bind(2, keys[2]).run());
  Session session{random_token(), staff, clock_.now() + kSessionSeconds};
  auto stmt =
      db_.cached("INSERT INTO sessions(token_hash, username, expires_ts) VALUES(?1,?2,?3)");
  if (!stmt.ok()) return stmt.status();
  const std::string h = token_hash(session.token);
  stmt->bind_blob(1, h.data(), h.size()).bind(2, username).bind(3, session.expires_at);
  TB_RETURN_IF_ERROR(stmt->run());
  return session;
}

Result<Staff> StaffDirectory::authenticate(const std::string& token) {
  const auto unauthenticated = [] {
    return Status::Unauthenticated("not_logged_in", "未登录或登录已过期，请重新登录",
                                   "missing, unknown or expired session token");
  };
  if (token.size() != 64) return unauthenticated();
  std::lock_guard lock(mu_);
  auto stmt = db_.cached(
      "SELECT s.username, f.display_name, f.role, f.department FROM sessions s"
      " JOIN staff f ON f.username = "
      "s.username"
      " WHERE s.token_hash=?1 AND s.expires_ts > ?2 AND f.disabled = 0");
  if (!stmt.ok()) return stmt.status();
  const std::string h = token_hash(token);
  stmt->bind_blob(1, h.data(), h.size()).bind(2, clock_.now());
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return unauthenticated();
  return Staff{stmt->text_at(0), stmt->text_at(1),
               role_from(stmt->text_at(2)).value_or(Role::kClerk), stmt->text_at(3)};
}

Status StaffDirectory::logout(const std::string& token) {
  std::lock_guard lock(mu_);
  auto stmt = db_.cached("DELETE FROM sessions WHERE token_hash=?1 OR expires_ts <= ?2");
  if (!stmt.ok()) return stmt.status();
  const std::string h = token_hash(token);
  stmt->bind_blob(1, h.data(), h.size()).bind(2, clock_.now());
  return stmt->run();
}

Result<std::vector<Staff>> StaffDirectory::list() {
  std::lock_guard lock(mu_);
  auto stmt = db_.cached(
      "SELECT username, display_name, role, department FROM staff WHERE disabled=0"
      " ORDER BY username");
  if (!stmt.ok()) return stmt.status();
  std::vector<Staff> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(Staff{stmt->text_at(0), stmt->text_at(1),
                        role_from(stmt->text_at(2)).value_or(Role::kClerk), stmt->text_at(3)});
  }
  return out;
}

Status StaffDirectory::change_password(const std::string& token, const std::string& current,
                                       const std::string& next, const std::string& address) {
  auto me = authenticate(token);
  if (!me.ok()) return me.status();
  TB_RETURN_IF_ERROR(check_password_shape(next));
  // The current password is checked exactly as a login checks it, so this endpoint is no
  // way around the throttle; the session that check opens is closed at once.
  auto check = login(me->username, current, address);
  if (!check.ok()) {
    if (check.status().code() == StatusCode::kUnauthenticated)
      return Status::InvalidArgument("wrong_password", "当前密码不正确",
                                     "the current password is wrong");
    return check.status();
  }
  TB_RETURN_IF_ERROR(logout(check->token));
  return set_password(me->username, next, token);
}

Status StaffDirectory::reset_password(const std::string& username, const std::string& next) {
  TB_RETURN_IF_ERROR(check_password_shape(next));
  return set_password(username, next, "");
}

Status StaffDirectory::set_password(const std::string& username, const std::string& next,
                                    const std::string& keep_token) {
  auto hash = hash_password(next);  // slow by design: outside the lock
  if (!hash.ok()) return hash.status();
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  TB_RETURN_IF_ERROR(tx.begun());
  auto set = db_.cached("UPDATE staff SET password_hash=?2 WHERE username=?1 AND disabled=0");
  if (!set.ok()) return set.status();
  TB_RETURN_IF_ERROR(set->bind(1, username).bind(2, *hash).run());
  if (db_.changes() == 0)
    return Status::NotFound("unknown_staff", "没有该工作人员", "no such staff member");
  // Every session of the account ends, but the one that asked for the change.
  auto drop = db_.cached("DELETE FROM sessions WHERE username=?1 AND token_hash<>?2");
  if (!drop.ok()) return drop.status();
  const std::string keep = keep_token.empty() ? std::string() : token_hash(keep_token);
  TB_RETURN_IF_ERROR(drop->bind(1, username).bind_blob(2, keep.data(), keep.size()).run());
  return tx.commit();
}

Status StaffDirectory::set_disabled(const std::string& username, bool disabled) {
  std::lock_guard lock(mu_);
  auto stmt = db_.cached("UPDATE staff SET disabled=?2 WHERE username=?1");
  if (!stmt.ok()) return stmt.status();
  TB_RETURN_IF_ERROR(stmt->bind(1, username).bind(2, int64_t{disabled}).run());
  if (db_.changes() == 0)
    return Status::NotFound("unknown_staff", "没有该工作人员", "no such staff member");
  if (disabled) {
    auto drop = db_.cached("DELETE FROM sessions WHERE username=?1");
    if (!drop.ok()) return drop.status();
    TB_RETURN_IF_ERROR(drop->bind(1, username).run());
  }
  return Status::Ok();
}

}  // namespace tongban
