// Logging and version set-up shared by the three binaries (policy-milter, policy-review,
// policyctl): one place decides where lines go and with which priority.
//
// Where lines go:
//   - under systemd (JOURNAL_STREAM names our stderr): stderr, each line prefixed with its
//     sd-daemon priority "<N>" (sd-daemon(3)), no timestamp (journald adds it); the units
//     set SyslogFacility=mail, so `journalctl -p err` and /var/log/mail.log both work.
//   - a daemon elsewhere: syslog(3) with LOG_MAIL (spdlog's syslog sink; syslogd adds the
//     timestamp) and stderr with one timestamp per line (foreground runs, tests).
//   - policyctl elsewhere: stderr, "policyctl: warning: ..." (no timestamp: a terminal).
//
// Priorities: trace/debug 7, info 6, warn 4, error 3, critical 2.
// Thread safety: call setup() once in main() before any thread starts; the loggers it
// installs are thread-safe (spdlog *_mt sinks). Never log message content (README, Privacy).
#pragma once

#include <string>

namespace pm::logging {

enum class Kind {
  daemon,  // long-running service: syslog when not under journald
  tool,    // interactive command: stderr only
};

// Installs the default spdlog logger for `program` (also the syslog ident).
void setup(const std::string& program, Kind kind);

// True when stderr is the stream journald gave us (JOURNAL_STREAM = "dev:inode" of fd 2).
bool stderr_is_journal();

// sd-daemon prefix for a spdlog level: "<3>" for error, ... (exposed for tests).
int syslog_priority(int spdlog_level);

// The project version from CMake (project(... VERSION ...)).
const char* version();

}  // namespace pm::logging
