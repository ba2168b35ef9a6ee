// `policyctl status`, the quarantine's lines (commands.h).
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "cli/commands.h"
#include "daemon/config.h"
#include "quarantine/pg_store.h"
#include "util/printable.h"

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

// One statement's first value; nullopt when it fails (a table an older schema lacks).
std::optional<std::int64_t> sqlite_value(sqlite3* db, const char* sql) {
  struct Finalize {
    void operator()(sqlite3_stmt* st) const noexcept { sqlite3_finalize(st); }
  };
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return std::nullopt;
  }
  std::unique_ptr<sqlite3_stmt, Finalize> st(raw);
  if (sqlite3_step(st.get()) != SQLITE_ROW) return std::nullopt;
  return sqlite3_column_int64(st.get(), 0);
}

// The store's figures for the summary line: schema version, held mail, notices not yet sent.
struct Figures {
  std::int64_t schema = -1, held = 0, outbox = 0;
};

std::string summary(const std::string& backend, const std::string& where, const Figures& f) {
  return "quarantine: " + backend + " " + where + ", reachable, schema " +
         std::to_string(f.schema) + ", " + std::to_string(f.held) + " held, " +
         std::to_string(f.outbox) + " notice" + (f.outbox == 1 ? "" : "s") +
         " waiting in the outbox";
}

// The SQLite index's figures, read-only (policyctl may run as another user than the daemon,
// and status must never change the store); nullopt when the index does not open.
std::optional<Figures> sqlite_figures(const std::filesystem::path& index) {
  struct Close {
    void operator()(sqlite3* db) const noexcept { sqlite3_close(db); }
  };
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(index.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, Close> db(raw);  // closed also when the open failed
  if (rc != SQLITE_OK) return std::nullopt;
  sqlite3_busy_timeout(db.get(), 2000);
  Figures f;
  f.schema = sqlite_value(db.get(), "PRAGMA user_version").value_or(-1);
  f.held =
      sqlite_value(db.get(), "SELECT count(*) FROM messages WHERE status = 'held'").value_or(0);
  f.outbox = sqlite_value(db.get(), "SELECT count(*) FROM outbox WHERE sent_at = 0").value_or(0);
  return f;
}

// libpq's messages span lines ("...failed: ...\n\tIs the server running...?\n"); the
// status line is one line.
std::string trimmed(std::string_view e) {
  std::string out;
  for (char ch : e) {
    if (ch == '\n' || ch == '\t') ch = ' ';
    if (ch == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(ch);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return printable(out);
}

struct PgConnFree {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct PgResultFree {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};

// The PostgreSQL store (issue 15), as this relay reaches it: its own short connection (not
// the store's pool), read-only queries, each bounded by kStatusTimeoutSeconds.
constexpr int kStatusTimeoutSeconds = 5;

template <class Say, class Record>
int pg_status(const DaemonConfig& cfg, Say say, Record record) {
  const std::string timeout = std::to_string(kStatusTimeoutSeconds);
  const std::string options =
      "-c statement_timeout=" + std::to_string(kStatusTimeoutSeconds * 1000) +
      " -c default_transaction_read_only=on";
  const char* keys[] = {"dbname", "connect_timeout", "application_name", "options", nullptr};
  const char* vals[] = {cfg.quarantine_dsn.c_str(), timeout.c_str(), "policyctl status",
                        options.c_str(), nullptr};
  std::unique_ptr<PGconn, PgConnFree> c(PQconnectdbParams(keys, vals, 1));
  // The database and host libpq reached, never the dsn itself (it may hold a password,
  // against the README's advice).
  std::string where;
  if (c && PQstatus(c.get()) != CONNECTION_BAD) {
    where = std::string(PQdb(c.get())) + " on " + (PQhost(c.get()) ? PQhost(c.get()) : "");
  }
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    say("quarantine: postgresql UNREACHABLE from this relay - held mail is deferred: " +
        trimmed(c ? PQerrorMessage(c.get()) : "out of memory"));
    return 1;
  }
  std::string error, sqlstate;
  auto value = [&](const char* sql) -> std::optional<std::int64_t> {
    std::unique_ptr<PGresult, PgResultFree> r(PQexec(c.get(), sql));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
      if (error.empty()) {
        error = trimmed(PQresultErrorMessage(r.get()));
        const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        sqlstate = state ? state : "";
      }
      return std::nullopt;
    }
    return std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  };
  Figures f;
  auto schema = value("SELECT coalesce(max(version), -1) FROM schema_version");
  if (!schema) {
    // 42P01 undefined_table: nobody ran the migrations on this database.
    say("quarantine: postgresql " + where + ", reachable, but " +
        (sqlstate == "42P01" ? "no schema (run `policyctl store migrate`)"
                             : "the schema version cannot be read: " + error) +
        " - held mail is deferred");
    return 1;
  }
  f.schema = *schema;
  const int wanted = PgQuarantineStore::schema_version_wanted();
  if (f.schema != wanted) {
    say("quarantine: postgresql " + where + ", reachable, but at schema " +
        std::to_string(f.schema) + " and this release needs " + std::to_string(wanted) +
        (f.schema < wanted ? " (run `policyctl store migrate`)"
                           : " (a newer release migrated it)") +
        " - held mail is deferred");
    return 1;
  }
  auto held = value("SELECT count(*) FROM messages WHERE status = 'held'");
  auto outbox = value("SELECT count(*) FROM outbox WHERE sent_at = 0");
  if (!held || !outbox) {
    say("quarantine: postgresql " + where + ", reachable, but a query failed: " + error);
    return 1;
  }
  f.held = *held;
  f.outbox = *outbox;
  record(f, where);
  say(summary("postgresql", where, f));
  say("quarantine: ok");
  return 0;
}

}  // namespace

int store_status(const std::filesystem::path& config, std::ostream& out, nlohmann::json* report) {
  DaemonConfig cfg;
  try {
    cfg = load_daemon_config(config);
  } catch (const std::exception&) {
    return 0;  // policyctl_status has reported the configuration error
  }
  int rc = 0;
  if (report) {
    *report = nlohmann::json::object();
    (*report)["backend"] = cfg.quarantine_backend;
    (*report)["lines"] = nlohmann::json::array();
  }
  // The same lines either way: printed, or kept in the report for `status --json`.
  auto say = [&](const std::string& line) {
    if (report)
      (*report)["lines"].push_back(line);
    else
      out << line << "\n";
  };
  auto record = [&](const Figures& f, const std::string& where) {
    if (!report) return;
    (*report)["where"] = where;
    (*report)["schema"] = f.schema;
    (*report)["held"] = f.held;
    (*report)["outbox_waiting"] = f.outbox;
  };
  auto finish = [&](int status) {
    if (report) (*report)["ok"] = status == 0;
    return status;
  };
  if (cfg.quarantine_backend == "postgresql") return finish(pg_status(cfg, say, record));
  std::error_code ec;
  const auto index = cfg.quarantine_dir / "index.sqlite";
  if (!std::filesystem::exists(cfg.quarantine_dir, ec)) {
    say("quarantine: " + cfg.quarantine_dir.string() + " does not exist yet");
    return finish(0);
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
    } else {
      if (auto f = sqlite_figures(index)) {
        record(*f, cfg.quarantine_dir.string());
        say(summary("sqlite", cfg.quarantine_dir.string(), *f));
      }
      if (rc == 0) say("quarantine: ok");
    }
  } else if (std::filesystem::exists(cfg.quarantine_dir / "msg", ec)) {
    say("quarantine: no index at " + index.string() +
        " (the daemon rebuilds it when it next holds mail)");
    rc = 1;
  }
  return finish(rc);
}

}  // namespace pm::cli
