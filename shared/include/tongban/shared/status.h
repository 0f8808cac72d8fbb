// Status and Result<T>: expected failures as values.
//
// A Status says what failed (a code for the HTTP layer, a machine-readable reason such
// as "invalid_id_number") and carries the message a civil servant reads, in Simplified
// Chinese with English beside it. Result<T> is a value or the Status that explains why
// there is none.
//
// Thread safety: a Status or Result is a plain value; const methods may be called from
// several threads without synchronization, non-const methods need external locking.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace tongban {

enum class StatusCode {
  kOk,
  kInvalidArgument,   // bad input: 400
  kUnauthenticated,   // no or expired session: 401
  kPermissionDenied,  // wrong role or site: 403
  kNotFound,          // 404
  kConflict,          // the case's state does not allow it: 409
  kRejected,          // a policy rule says no (e.g. 容缺 not allowed): 422
  kTooLarge,          // oversized input: 413
  kTooManyRequests,   // throttled: 429, retry later
  kUnavailable,       // storage or peer failed; nothing was changed: 503
  kCorruption,        // a broken hash chain or signature
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status Ok() { return Status(); }
  static Status Make(StatusCode code, std::string reason, std::string zh, std::string en) {
    return Status(code, std::move(reason), std::move(zh), std::move(en));
  }
  static Status InvalidArgument(std::string reason, std::string zh, std::string en) {
    return Make(StatusCode::kInvalidArgument, std::move(reason), std::move(zh), std::move(en));
  }
  static Status NotFound(std::string reason, std::string zh, std::string en) {
    return Make(StatusCode::kNotFound, std::move(reason), std::move(zh), std::move(en));
  }
  static Status Conflict(std::string reason, std::string zh, std::string en) {
    return Make(StatusCode::kConflict, std::move(reason), std::move(zh), std::move(en));
  }
  static Status Rejected(std::string reason, std::string zh, std::string en) {
    return Make(StatusCode::kRejected, std::move(reason), std::move(zh), std::move(en));
  }
  static Status PermissionDenied(std::string reason, std::string zh, std::string en) {
    return Make(StatusCode::kPermissionDenied, std::move(reason), std::move(zh), std::move(en));
  }
  static Status Unauthenticated(std::string reason, std::string zh, std::string en) {
    return Make(StatusCode::kUnauthenticated, std::move(reason), std::move(zh), std::move(en));
  }
  // Storage and system failures: the English text is for logs and operators.
  static Status Unavailable(std::string en) {
    return Make(StatusCode::kUnavailable, "unavailable", "服务暂不可用，请稍后重试", std::move(en));
  }
  static Status Corruption(std::string en) {
    return Make(StatusCode::kCorruption, "corruption", "数据校验失败", std::move(en));
  }
  static Status Internal(std::string en) {
    return Make(StatusCode::kInternal, "internal", "系统内部错误", std::move(en));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message_zh() const { return zh_; }
  const std::string& message_en() const { return en_; }
  // "reason: 中文 / English", for CLI output and logs (messages never carry PII).
  std::string ToString() const;

 private:
  Status(StatusCode code, std::string reason, std::string zh, std::string en)
      : code_(code), reason_(std::move(reason)), zh_(std::move(zh)), en_(std::move(en)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string reason_;
  std::string zh_;
  std::string en_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

// Returns early from the enclosing function when `expr` yields a failed Status.
#define TB_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::tongban::Status tb_status_ = (expr);   \
    if (!tb_status_.ok()) return tb_status_; \
  } while (0)

}  // namespace tongban
