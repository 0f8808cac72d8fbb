// Logging setup (spdlog). Log lines are English and carry no PII: ID numbers and phones
// go through mask_id()/mask_phone() (validation.h); names and addresses are never logged.
// Lines a peer can cause (refused frames, handshakes) are throttled where they are written.
//
// Formats (--log-format):
//   text  "2026-11-30T09:00:00.123 info [hub] message"; under systemd (stderr connected to
//         the journal, $JOURNAL_STREAM) the time is left to journald and each line starts
//         with its syslog priority ("<6>[hub] message"), so `journalctl -p warning` works.
//   json  one JSON object per line: {"ts":"…Z","level":"info","logger":"hub","msg":"…"}
//         (ts in UTC, ISO 8601 with milliseconds), for log shippers.
//
// Thread safety: init_logging() once at start-up, before other threads; spdlog's
// loggers are thread-safe afterwards.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "tongban/shared/status.h"

namespace tongban {

// Logs to stderr with the process name; `level` is trace|debug|info|warn|error|off and
// `format` text|json (InvalidArgument for anything else).
Status init_logging(const std::string& process, const std::string& level,
                    const std::string& format = "text");

}  // namespace tongban
