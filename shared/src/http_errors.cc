#include "tongban/shared/http_errors.h"

namespace tongban {

int http_status(StatusCode c) {
  switch (c) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kTooManyRequests:
      return 429;
    case StatusCode::kRejected:
      return 422;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

nlohmann::json error_json(const Status& s) {
  return {{"error",
           {{"code", s.reason()}, {"message", s.message_zh()}, {"message_en", s.message_en()}}}};
}

}  // namespace tongban
