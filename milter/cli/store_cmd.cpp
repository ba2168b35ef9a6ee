// policyctl store backup FILE | store restore FILE [--force]: the quarantine and the review
// accounts in one file (quarantine/backup.h), taken while the milter runs.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/review_commands.h"
#include "daemon/control.h"
#include "quarantine/backup.h"
#include "review/config.h"
#include "util/printable.h"

namespace pm::cli {
namespace {

const char* const kUsage =
    "usage: policyctl store backup FILE\n"
    "       policyctl store restore FILE [--force]\n"
    "  backup   the quarantine (index, message files, audit log) and the review accounts in\n"
    "           one tar.gz (mode 0600), consistent while policy-milter runs\n"
    "  restore  puts a backup in place; refuses a store that holds mail or accounts, or a\n"
    "           running policy-milter, unless --force (the replaced index is kept beside it)\n"
    "       policyctl store migrate | migrate-from-sqlite [--from DIR]\n"
    "           the PostgreSQL store's schema, and moving an SQLite quarantine into it\n"
    "           (policyctl store migrate --help)\n";

void print_report(const char* what, const BackupReport& r, const std::string& file) {
  std::string statuses;
  for (const auto& [s, n] : r.by_status)
    statuses += (statuses.empty() ? "" : ", ") + std::to_string(n) + " " + s;
  std::printf(
      "%s %s: %zu message(s)%s%s%s, %zu message file(s), %zu audit entries, %zu account(s)\n", what,
      printable(file).c_str(), r.messages, statuses.empty() ? "" : " (", statuses.c_str(),
      statuses.empty() ? "" : ")", r.files, r.audit, r.users);
  if (!r.preserved.empty())
    std::printf("the replaced index is kept as %s\n", printable(r.preserved).c_str());
}

}  // namespace

int store(const std::filesystem::path& config, const Args& args) {
  if (args.empty() || wants_help(args)) {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  bool force = false;
  std::vector<std::string> positional;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--force")
      force = true;
    else if (!args[i].empty() && args[i][0] == '-') {
      std::fputs(kUsage, stderr);
      return 2;
    } else
      positional.push_back(args[i]);
  }
  if (positional.size() != 1 || (args[0] != "backup" && args[0] != "restore") ||
      (force && args[0] != "restore")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  ReviewConfig cfg;
  if (auto status = load_or_report(config, cfg)) return *status;
  BackupPaths paths{cfg.quarantine_dir, cfg.users_db};
  try {
    if (args[0] == "backup") {
      print_report("backup", backup_store(paths, positional[0]), positional[0]);
      return 0;
    }
    if (long pid = running_daemon_pid(config); pid && !force) {
      std::fprintf(stderr,
                   "policyctl: refusing to restore under a running policy-milter (pid %ld): stop "
                   "it first, or pass --force\n",
                   pid);
      return 1;
    }
    print_report("restored", restore_store(positional[0], paths, RestoreOptions{force}),
                 positional[0]);
    std::printf("restart policy-milter and policy-review to use it\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s\n", printable(e.what()).c_str());
    return 1;
  }
}

}  // namespace pm::cli
