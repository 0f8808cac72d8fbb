#include "tongban/shared/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace tongban {

void init_logging(const std::string& process, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(process);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace tongban
