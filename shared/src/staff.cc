#include "tongban/shared/staff.h"

#include <cctype>

#include "tongban/shared/crypto.h"

namespace tongban {

namespace {

constexpr int kMaxFailures = 5;
constexpr Timestamp kLockSeconds = 300;

std::string token_hash(const std::string& token) {
  const Hash32 h = Hasher().update(token).finish();
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

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
  }
  return "?";
}

std::optional<Role> role_from(const std::string& s) {
  for (Role r : {Role::kClerk, Role::kReviewer, Role::kAgent, Role::kAdmin, Role::kOperator})
    if (s == to_string(r)) return r;
  return std::nullopt;
}

Status StaffDirectory::create(const std::string& username, const std::string& display_name,
                              Role role, const std::string& password) {
  if (!valid_username(username))
    return Status::InvalidArgument("invalid_username", "用户名应为3至32位字母、数字、_-.",
                                   "username: 3-32 letters, digits, _ - .");
  if (display_name.empty() || display_name.size() > 64)
    return Status::InvalidArgument("invalid_display_name", "请填写姓名（最多64字节）",
                                   "display_name: 1-64 bytes");
  if (password.size() < 8 || password.size() > 128)
    return Status::InvalidArgument("weak_password", "密码长度应为8至128位",
                                   "password must be 8-128 characters");
  auto hash = hash_password(password);  // slow by design: outside the lock
  if (!hash.ok()) return hash.status();
  std::lock_guard lock(mu_);
  auto stmt = db_.cached(
      "INSERT INTO staff(username, display_name, role, password_hash, created_ts) "
      "VALUES(?1,?2,?3,?4,?5) "
      "ON CONFLICT(username) DO NOTHING");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, username)
      .bind(2, display_name)
      .bind(3, std::string(to_string(role)))
      .bind(4, *hash);
  stmt->bind(5, clock_.now());
  TB_RETURN_IF_ERROR(stmt->run());
  if (db_.changes() == 0)
    return Status::Conflict("username_taken", "用户名已存在", "username already exists");
  return Status::Ok();
}

Result<Session> StaffDirectory::login(const std::string& username, const std::string& password) {
  std::string stored;
  Staff staff;
  {
    std::lock_guard lock(mu_);
    auto& [count, last] = failures_[username];
    if (count >= kMaxFailures && clock_.now() - last < kLockSeconds)
      return Status::Unauthenticated("account_locked", "登录失败次数过多，请5分钟后再试",
                                     "too many failed logins; try again in 5 minutes");
    auto stmt = db_.cached(
        "SELECT password_hash, display_name, role FROM staff WHERE username=?1 AND disabled=0");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, username);
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (*row) {
      stored = stmt->text_at(0);
      staff = Staff{username, stmt->text_at(1), role_from(stmt->text_at(2)).value_or(Role::kClerk)};
    }
  }
  const bool ok = !stored.empty() && verify_password(stored, password);
  std::lock_guard lock(mu_);
  if (!ok) {
    auto& [count, last] = failures_[username];
    ++count;
    last = clock_.now();
    return bad_login();
  }
  failures_.erase(username);
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
      "SELECT s.username, f.display_name, f.role FROM sessions s JOIN staff f ON f.username = "
      "s.username"
      " WHERE s.token_hash=?1 AND s.expires_ts > ?2 AND f.disabled = 0");
  if (!stmt.ok()) return stmt.status();
  const std::string h = token_hash(token);
  stmt->bind_blob(1, h.data(), h.size()).bind(2, clock_.now());
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return unauthenticated();
  return Staff{stmt->text_at(0), stmt->text_at(1),
               role_from(stmt->text_at(2)).value_or(Role::kClerk)};
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
      "SELECT username, display_name, role FROM staff WHERE disabled=0 ORDER BY username");
  if (!stmt.ok()) return stmt.status();
  std::vector<Staff> out;
  for (;;) {
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(Staff{stmt->text_at(0), stmt->text_at(1),
                        role_from(stmt->text_at(2)).value_or(Role::kClerk)});
  }
  return out;
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
