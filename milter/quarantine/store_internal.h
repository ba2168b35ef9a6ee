// Helpers shared by the two halves of the store's implementation (store.cpp: schema,
// listing and decisions; store_put.cpp: the put side). Private to pm_quarantine.
//
// Errors: every helper throws StoreError (with the path or SQLite's message).
// Thread safety: none of their own; callers hold the connection's lock.
#pragma once

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "quarantine/store.h"

namespace pm::store_detail {
namespace fs = std::filesystem;

// A failed SQLite call as an exception: IndexCorrupt when SQLite says the file is not a
// (sound) database, so the put side can stop quarantining loudly instead of retrying.
[[noreturn]] inline void throw_sqlite(sqlite3* db, const std::string& msg) {
  int code = sqlite3_errcode(db) & 0xff;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
    throw IndexCorrupt("quarantine index: " + msg);
  throw StoreError("quarantine index: " + msg);
}

// A prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw_sqlite(db, sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view s) {
    // An empty view may have a null data(), which SQLite would store as NULL.
    check(sqlite3_bind_text(st_, i, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_null(int i) {
    check(sqlite3_bind_null(st_, i));
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(st_, i, v));
    return *this;
  }
  // True while there is a row; throws on error.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(db_, sqlite3_errmsg(db_));
  }
  std::string text(int col) const {
    auto p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
             : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw_sqlite(db_, sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

inline void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw_sqlite(db, msg);
  }
}

// A transaction that rolls back unless committed; with other statements, a savepoint.
class Transaction {
 public:
  explicit Transaction(sqlite3* db, const char* begin = "BEGIN IMMEDIATE",
                       const char* commit = "COMMIT", const char* rollback = "ROLLBACK")
      : db_(db), commit_(commit), rollback_(rollback) {
    exec(db_, begin);
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, rollback_, nullptr, nullptr, nullptr);
  }
  void commit() {
    exec(db_, commit_);
    done_ = true;
  }

 private:
  sqlite3* db_;
  const char* commit_;
  const char* rollback_;
  bool done_ = false;
};

// An fd closed on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

[[noreturn]] inline void fail(const std::string& what, const fs::path& p) {
  throw StoreError(what + " " + p.string() + ": " + std::strerror(errno));
}

inline void fsync_dir(const fs::path& dir) {
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) fail("open", dir);
  if (::fsync(d.fd) != 0) fail("fsync", dir);
}

inline void make_private_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw StoreError("create " + dir.string() + ": " + ec.message());
  // Group-writable: the review page runs as its own user in the store's group and changes
  // held mail (through this code); setgid keeps new files in that group.
  // Only the owner may chmod: the review page opening the milter's store finds it right.
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 07777) == 02770) return;
  if (::chmod(dir.c_str(), 02770) != 0) fail("chmod", dir);
}

inline std::string new_id() {
  unsigned char rnd[8];
  if (::getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd))
    throw StoreError(std::string("getrandom: ") + std::strerror(errno));
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string id = stamp;
  id.push_back('-');
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : rnd) {
    id.push_back(hex[c >> 4]);
    id.push_back(hex[c & 15]);
  }
  return id;
}

// Ids come from reviewers' URLs: accept only what new_id() makes, so no path tricks.
inline bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  return true;
}

inline std::string to_json(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump();
}

inline std::vector<std::string> from_json(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_array()) return {};
  std::vector<std::string> out;
  for (auto& e : j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

// One audit entry (the caller holds the transaction, if any), with the school of its
// message read from the message's row in the same statement ("" for none).
inline void insert_audit(sqlite3* db, std::string_view actor, std::string_view action,
                         std::string_view message_id, std::string_view note) {
  Stmt st(db,
          "INSERT INTO audit(at, actor, action, message_id, note, school) VALUES(?1,?2,?3,?4,?5,"
          " coalesce((SELECT school FROM messages WHERE id = ?4 AND ?4 != ''), ''))");
  st.bind(1, static_cast<std::int64_t>(std::time(nullptr))).bind(2, actor).bind(3, action);
  st.bind(4, message_id).bind(5, note);
  st.step();
}

// The put side's sidecar of a message file: its envelope and labels (store_put.cpp).
inline fs::path envelope_path(const fs::path& dir, std::string_view id) {
  return dir / "msg" / (std::string(id) + ".env");
}

// Applies the schema migrations not yet applied to `db` (store.cpp).
void apply_migrations(sqlite3* db);

}  // namespace pm::store_detail
