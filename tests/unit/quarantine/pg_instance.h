// A private PostgreSQL server for a test binary (scripts/lib/pg-instance.sh: initdb + pg_ctl
// in a temporary directory, a unix socket only) and a shell helper: used by test_pg_store
// and the review tests that run over both stores.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace pm::test {

// Runs `cmd` through the shell; its output without the last newline, the exit status in rc.
inline std::string sh(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  int st = p ? ::pclose(p) : -1;
  if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// One PostgreSQL server for a test binary, started when first needed; a database per test.
struct PgServer {
  std::filesystem::path dir;
  std::string dsn_base;  // without dbname
  bool started = false, skip = false, failed = false;
  int dbs = 0;
  std::string script() const {
    return std::string("bash ") + PM_SOURCE_DIR + "/scripts/lib/pg-instance.sh";
  }
  void start() {  // once, by the first test that needs it
    if (started) return;
    started = true;
    char tmpl[] = "/tmp/pm-pg.XXXXXX";
    dir = ::mkdtemp(tmpl);
    int rc = 0;
    sh(script() + " setup " + dir.string() + " >/dev/null 2>&1", &rc);
    skip = rc == 77;
    failed = rc != 0 && !skip;
    if (rc != 0) return;
    std::string dsn = sh(script() + " dsn " + dir.string());
    const std::string db = " dbname=quarantine";
    dsn_base = dsn.replace(dsn.find(db), db.size(), "");
  }
  void stop() {
    if (!started) return;
    if (!skip && !failed) sh(script() + " stop " + dir.string() + " >/dev/null 2>&1");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // A new, empty database; its dsn.
  std::string database() {
    std::string name = "schools" + std::to_string(++dbs);
    PGconn* c = PQconnectdb((dsn_base + " dbname=postgres").c_str());
    PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    EXPECT_TRUE(ok) << "CREATE DATABASE " << name;
    return dsn_base + " dbname=" + name;
  }
};

}  // namespace pm::test
