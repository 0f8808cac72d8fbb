#include "tongban/shared/log.h"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace tongban {

namespace {
// protobuf writes one ERROR line to stderr for every string field with invalid UTF-8 it
// parses: any peer could fill the log with them. The frame is refused (and that refusal
// logged, throttled) anyway, so the library's own line is debug only.
void protobuf_log(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  if (level >= google::protobuf::LOGLEVEL_FATAL)
    spdlog::critical("protobuf {}:{}: {}", file, line, message);
  else
    spdlog::debug("protobuf {}:{}: {}", file, line, message);
}
}  // namespace

void init_logging(const std::string& process, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(process);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
  google::protobuf::SetLogHandler(&protobuf_log);
}

}  // namespace tongban
