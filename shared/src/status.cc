#include "tongban/shared/status.h"

namespace tongban {

std::string Status::ToString() const {
  if (ok()) return "ok";
  return reason_ + ": " + zh_ + " / " + en_;
}

}  // namespace tongban
