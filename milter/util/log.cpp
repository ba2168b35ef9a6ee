// See log.h.
#include "util/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#ifndef PM_VERSION
#error "PM_VERSION is set by milter/util/CMakeLists.txt"
#endif

namespace pm::logging {

namespace {

// %^P in a pattern: the sd-daemon "<N>" prefix of the line's level.
class PriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    char buf[8];
    int n = std::snprintf(buf, sizeof buf, "<%d>", syslog_priority(static_cast<int>(msg.level)));
    dest.append(buf, buf + n);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PriorityFlag>();
  }
};

std::unique_ptr<spdlog::formatter> journal_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<PriorityFlag>('*').set_pattern("%*%v");
  return f;
}

}  // namespace

int syslog_priority(int level) {
  switch (static_cast<spdlog::level::level_enum>(level)) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return LOG_DEBUG;
    case spdlog::level::info:
      return LOG_INFO;
    case spdlog::level::warn:
      return LOG_WARNING;
    case spdlog::level::err:
      return LOG_ERR;
    case spdlog::level::critical:
      return LOG_CRIT;
    default:
      return LOG_INFO;
  }
}

bool stderr_is_journal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (!env || !*env) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void setup(const std::string& program, Kind kind) {
  std::vector<spdlog::sink_ptr> sinks;
  auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  if (stderr_is_journal()) {
    err->set_formatter(journal_formatter());
    sinks.push_back(err);
  } else if (kind == Kind::daemon) {
    err->set_pattern("%Y-%m-%d %H:%M:%S.%e %l: %v");
    sinks.push_back(err);
    // syslog(3) adds its own timestamp and the ident; the line is the message alone.
    auto sys = std::make_shared<spdlog::sinks::syslog_sink_mt>(program, LOG_PID | LOG_NDELAY,
                                                               LOG_MAIL, false);
    sinks.push_back(sys);
  } else {
    err->set_pattern(program + ": %l: %v");
    sinks.push_back(err);
  }
  auto logger = std::make_shared<spdlog::logger>(program, sinks.begin(), sinks.end());
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);
}

const char* version() {
  return PM_VERSION;
}

}  // namespace pm::logging
