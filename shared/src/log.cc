#include "tongban/shared/log.h"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

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

// One JSON object per line.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
    const std::time_t t = secs.count();
    std::tm utc{};
    gmtime_r(&t, &utc);
    char ts[40];
    const size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(millis));
    const auto level = spdlog::level::to_string_view(msg.level);
    nlohmann::json line = {{"ts", ts},
                           {"level", std::string(level.data(), level.size())},
                           {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
                           {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    // A message quoting a peer's bytes may not be UTF-8: replaced, never thrown.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// %* : the syslog priority prefix journald reads ("<3>" error … "<7>" debug).
class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr const char* kPrefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const char* p = kPrefix[static_cast<int>(msg.level)];
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

// systemd connects stderr to the journal and says so in $JOURNAL_STREAM ("device:inode").
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == st.st_dev && ino == st.st_ino;
}

}  // namespace

Status init_logging(const std::string& process, const std::string& level, const std::string& format) {
  if (format != "text" && format != "json")
    return Status::InvalidArgument("invalid_log_format", "日志格式应为 text 或 json",
                                   "--log-format must be text or json");
  auto logger = spdlog::stderr_color_mt(process);
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else if (stderr_is_journal()) {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<PriorityFlag>('*').set_pattern("%*[%n] %v");
    logger->set_formatter(std::move(f));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  }
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
  google::protobuf::SetLogHandler(&protobuf_log);
  return Status::Ok();
}

}  // namespace tongban
