// `policyctl status`, the quarantine's lines (commands.h).
#include <sqlite3.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "cli/commands.h"
#include "daemon/config.h"
#include "quarantine/pg_store.h"

namespace pm::cli {
namespace {

// PRAGMA quick_check on a read-only connection: "ok", or what SQLite found.
std::string check_index(const std::filesystem::path& index) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(index.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    result = std::string("cannot open: ") + (db ? sqlite3_errmsg(db) : "out of memory");
  } else {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, nullptr) != SQLITE_OK) {
      result = sqlite3_errmsg(db);
    } else {
      int rc = sqlite3_step(st);
      result = rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0))
                                : std::string(sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return result;
}

std::string join(const nlohmann::json& ids) {
  std::string out;
  if (ids.is_array())
    for (const auto& id : ids)
      if (id.is_string()) out += (out.empty() ? "" : ", ") + id.get<std::string>();
  return out;
}

// The PostgreSQL store (issue 15): reachable from this relay, schema current, how much is held.
template <class Say>
int pg_status(const DaemonConfig& cfg, Say say) {
  StoreConfig sc;
  sc.backend = cfg.quarantine_backend;
  sc.dsn = cfg.quarantine_dsn;
  sc.pg_connections = 1;
  sc.pg_query_timeout = std::chrono::milliseconds(5000);
  try {
    PgQuarantineStore store(sc);
    QuarantineFilter held;
    held.status = QuarantineStatus::held;
    say("quarantine: ok (" + store.describe() + ", schema " +
        std::to_string(store.schema_version()) + ", " + std::to_string(store.count(held)) +
        " held)");
    return 0;
  } catch (const std::exception& e) {
    say("quarantine: STOPPED on this relay - held mail is deferred: " + std::string(e.what()));
    return 1;
  }
}

}  // namespace

int store_status(const std::filesystem::path& config, std::ostream& out, bool quiet) {
  DaemonConfig cfg;
  try {
    cfg = load_daemon_config(config);
  } catch (const std::exception&) {
    return 0;  // policyctl_status has reported the configuration error
  }
  int rc = 0;
  auto say = [&](const std::string& line) {
    if (!quiet) out << line << "\n";
  };
  if (cfg.quarantine_backend == "postgresql") return pg_status(cfg, say);
  std::error_code ec;
  const auto index = cfg.quarantine_dir / "index.sqlite";
  if (!std::filesystem::exists(cfg.quarantine_dir, ec)) {
    say("quarantine: " + cfg.quarantine_dir.string() + " does not exist yet");
    return 0;
  }
  std::ifstream in(cfg.quarantine_dir / "health.json");
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto h = nlohmann::json::parse(ss.str(), nullptr, false);
    if (h.is_object()) {
      if (!h.value("ok", true)) {
        say("quarantine: STOPPED - held mail is deferred: " + h.value("problem", std::string()));
        rc = 1;
      }
      if (auto n = h.value("orphans", 0); n > 0) {
        say("quarantine: " + std::to_string(n) + " message files in no index (" +
            join(h["orphan_ids"]) + "): see README, \"The quarantine store\"");
        rc = 1;
      }
      if (auto n = h.value("missing", 0); n > 0) {
        say("quarantine: " + std::to_string(n) + " held messages without their file (" +
            join(h["missing_ids"]) + ")");
        rc = 1;
      }
      if (auto n = h.value("reindexed", 0); n > 0)
        say("quarantine: " + std::to_string(n) +
            " message files re-indexed since the daemon started");
      if (h.contains("events") && h["events"].is_array() && !h["events"].empty())
        say("quarantine: last recovery: " + h["events"].back().get<std::string>());
    }
  }
  if (std::filesystem::exists(index, ec)) {
    std::string check = check_index(index);
    if (check != "ok") {
      say("quarantine: index check FAILED (" + index.string() + "): " + check);
      rc = 1;
    } else if (rc == 0) {
      say("quarantine: ok");
    }
  } else if (std::filesystem::exists(cfg.quarantine_dir / "msg", ec)) {
    say("quarantine: no index at " + index.string() +
        " (the daemon rebuilds it when it next holds mail)");
    rc = 1;
  }
  return rc;
}

}  // namespace pm::cli
