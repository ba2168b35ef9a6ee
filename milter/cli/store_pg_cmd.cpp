// policyctl store migrate | migrate-from-sqlite (issue 15): the PostgreSQL quarantine's
// schema, and moving a single-school SQLite quarantine into it.
#include <cstdio>

#include "cli/commands.h"
#include "cli/review_commands.h"
#include "quarantine/pg_store.h"
#include "review/config.h"
#include "util/printable.h"

namespace pm::cli {

namespace {

const char* const kUsage =
    "usage: policyctl store migrate\n"
    "         apply the PostgreSQL quarantine's schema migrations ([quarantine].dsn)\n"
    "       policyctl store migrate-from-sqlite [--from DIR]\n"
    "         copy an SQLite quarantine (default: [quarantine].dir) into PostgreSQL;\n"
    "         stop policy-milter and policy-review on it first; re-running adds nothing\n";

}  // namespace

int store_schema(const std::filesystem::path& config, const Args& args) {
  if (args.empty() || wants_help(args)) {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string& sub = args[0];
  std::filesystem::path from;
  if (sub == "migrate" && args.size() != 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (sub == "migrate-from-sqlite") {
    if (args.size() == 3 && args[1] == "--from") {
      from = args[2];
    } else if (args.size() != 1) {
      std::fputs(kUsage, stderr);
      return 2;
    }
  } else if (sub != "migrate") {
    std::fputs(kUsage, stderr);
    return 2;
  }
  ReviewConfig cfg;
  if (auto status = load_or_report(config, cfg)) return *status;
  if (!is_postgresql(cfg.store)) {
    std::fprintf(stderr,
                 "policyctl: [quarantine].backend is \"%s\": these commands need backend = "
                 "\"postgresql\" and a dsn\n",
                 printable(cfg.store.backend).c_str());
    return 2;
  }
  try {
    if (sub == "migrate") {
      int applied = PgQuarantineStore::migrate(cfg.store);
      std::printf("store: schema at version %d (%d migration%s applied)\n",
                  PgQuarantineStore::schema_version_wanted(), applied, applied == 1 ? "" : "s");
      return 0;
    }
    if (from.empty()) from = cfg.quarantine_dir;
    PgQuarantineStore pg(cfg.store);
    auto r = pg.migrate_from_sqlite(from);
    std::printf(
        "store: from %s: %zu messages copied (%zu already there), %zu message bodies, %zu audit "
        "entries copied (%zu already there), %zu notices, %zu dismissals (%zu proposing an "
        "exception), %zu outbox notices (%zu not yet sent), %zu monitor rows (%zu already "
        "there), %zu secrets (%zu already there)\n",
        printable(from.string()).c_str(), r.messages, r.messages_present, r.bytes, r.audit,
        r.audit_present, r.notices, r.dismissals, r.proposals, r.outbox, r.outbox_pending,
        r.monitor, r.monitor_present, r.secrets, r.secrets_present);
    for (const auto& name : r.secrets_differing)
      std::printf(
          "store: PostgreSQL already has its own %s key (made by a relay or review server on "
          "it): kept; links the old relay signed stop working\n",
          printable(name).c_str());
    if (r.digests_cleared)
      std::printf(
          "store: %zu held messages were held in PostgreSQL too (a retry through a relay on the "
          "new store): both copies kept, review them\n",
          r.digests_cleared);
    if (r.bytes_missing) {
      std::string ids;
      for (const auto& id : r.missing_ids) ids += (ids.empty() ? "" : ",") + id;
      std::printf("store: %zu held or released messages had no message file (ids %s)\n",
                  r.bytes_missing, ids.c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policyctl: %s\n", printable(e.what()).c_str());
    return 1;
  }
}

}  // namespace pm::cli
