// Logging setup (spdlog). Log lines are English and carry no PII: ID numbers and phones
// go through mask_id()/mask_phone() (validation.h); names and addresses are never logged.
//
// Thread safety: init_logging() once at start-up, before other threads; spdlog's
// loggers are thread-safe afterwards.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace tongban {

// Logs to stderr with the process name; `level` is trace|debug|info|warn|error|off.
void init_logging(const std::string& process, const std::string& level);

}  // namespace tongban
