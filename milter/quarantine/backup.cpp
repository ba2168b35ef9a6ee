#include "quarantine/backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "quarantine/store_internal.h"

namespace pm {
namespace fs = std::filesystem;
using store_detail::Stmt;

namespace {

constexpr const char* kRoot = "policy-milter-backup/";
constexpr int kFormat = 1;

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

Db open_db(const fs::path& p, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(p.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK)
    throw BackupError("open " + p.string() + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  sqlite3_busy_timeout(raw, 10000);
  return db;
}

// A consistent copy of a live SQLite database (one read transaction; WAL readers never
// block writers), as a compact file without a journal.
void copy_db(const fs::path& live, const fs::path& out) {
  Db db = open_db(live, SQLITE_OPEN_READONLY);
  Stmt st(db.get(), "VACUUM INTO ?");
  st.bind(1, std::string_view(out.string()));
  st.step();
}

std::int64_t scalar(sqlite3* db, const char* sql) {
  Stmt st(db, sql);
  return st.step() ? st.integer(0) : 0;
}

bool has_table(sqlite3* db, const char* name) {
  Stmt st(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
  st.bind(1, std::string_view(name));
  return st.step();
}

// What the index copy says: counts, and the ids whose message file must exist.
struct IndexFacts {
  std::map<std::string, std::size_t> by_status;
  std::vector<std::string> all_ids, need_file;
  std::size_t audit = 0;
};

IndexFacts facts_of(const fs::path& index) {
  Db db = open_db(index, SQLITE_OPEN_READONLY);
  {
    Stmt check(db.get(), "PRAGMA integrity_check");
    if (!check.step() || check.text(0) != "ok")
      throw BackupError(index.string() + ": the index copy fails its integrity check");
  }
  IndexFacts f;
  if (!has_table(db.get(), "messages")) throw BackupError(index.string() + ": no quarantine index");
  Stmt st(db.get(), "SELECT id, status FROM messages ORDER BY id");
  while (st.step()) {
    std::string id = st.text(0), status = st.text(1);
    if (!store_detail::valid_id(id))
      throw BackupError(index.string() + ": bad message id in the index");
    ++f.by_status[status];
    f.all_ids.push_back(id);
    if (status == "held" || status == "released") f.need_file.push_back(id);
  }
  f.audit = static_cast<std::size_t>(scalar(db.get(), "SELECT count(*) FROM audit"));
  return f;
}

std::size_t users_of(const fs::path& users) {
  Db db = open_db(users, SQLITE_OPEN_READONLY);
  if (!has_table(db.get(), "users")) return 0;
  return static_cast<std::size_t>(scalar(db.get(), "SELECT count(*) FROM users"));
}

std::string slurp(const fs::path& p, bool& missing) {
  store_detail::Fd f(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  missing = false;
  if (f.fd < 0) {
    if (errno == ENOENT) {
      missing = true;
      return {};
    }
    throw BackupError(p.string() + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw BackupError(p.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// A private scratch directory next to `near` (same file system: restore renames from it;
// never /tmp - this is children's data). Removed on scope exit.
struct Scratch {
  fs::path dir;
  explicit Scratch(const fs::path& near) {
    std::string tmpl = (near / ".policyctl-backup-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw BackupError(near.string() + ": " + std::strerror(errno));
    dir = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

struct ArchiveWriter {
  archive* a = archive_write_new();
  ~ArchiveWriter() { archive_write_free(a); }
  void fail(const std::string& what) const {
    throw BackupError(what + ": " + (archive_error_string(a) ? archive_error_string(a) : "?"));
  }
  void add(const std::string& name, std::string_view data, int mode) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), (kRoot + name).c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_mtime(e.get(), std::time(nullptr), 0);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) fail(name);
    if (!data.empty() && archive_write_data(a, data.data(), data.size()) < 0) fail(name);
  }
};

std::string read_file_or_throw(const fs::path& p) {
  bool missing = false;
  std::string s = slurp(p, missing);
  if (missing) throw BackupError(p.string() + ": missing");
  return s;
}

// Moves `from` onto `to` (same file system), owned and moded like `like_dir` wants.
void install(const fs::path& from, const fs::path& to, mode_t mode, uid_t uid, gid_t gid) {
  ::chmod(from.c_str(), mode);
  if (::geteuid() == 0 && ::chown(from.c_str(), uid, gid) != 0)
    throw BackupError(from.string() + ": chown: " + std::strerror(errno));
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw BackupError(to.string() + ": " + std::strerror(errno));
}

// The index (and its -wal/-shm) moved aside; returns the new name ("" when there was none).
std::string move_aside(const fs::path& file, const std::string& suffix) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return "";
  fs::path aside = file;
  aside += suffix;
  for (const char* part : {"", "-wal", "-shm"}) {
    fs::path a = file, b = aside;
    a += part;
    b += part;
    if (fs::exists(a, ec) && ::rename(a.c_str(), b.c_str()) != 0)
      throw BackupError(a.string() + ": " + std::strerror(errno));
  }
  return aside.string();
}

}  // namespace

BackupReport backup_store(const BackupPaths& from, const fs::path& archive_path) {
  const fs::path index = from.quarantine_dir / "index.sqlite";
  std::error_code ec;
  if (!fs::exists(index, ec)) throw BackupError(index.string() + ": no quarantine index here");
  fs::path out_dir = fs::absolute(archive_path).parent_path();
  Scratch scratch(out_dir);
  BackupReport report;

  fs::path users_copy;
  if (!from.users_db.empty() && fs::exists(from.users_db, ec)) {
    users_copy = scratch.dir / "users.sqlite";
    copy_db(from.users_db, users_copy);
    report.users = users_of(users_copy);
  }

  // Written under a temporary name (0600: children's data), renamed when complete. The
  // index is copied, then the files it names are streamed into the archive one at a time
  // (memory: one message); if one of them went meanwhile, all again.
  fs::path tmp = archive_path;
  tmp += ".partial";
  for (int attempt = 0;; ++attempt) {
    fs::path copy = scratch.dir / ("index." + std::to_string(attempt) + ".sqlite");
    copy_db(index, copy);
    IndexFacts facts = facts_of(copy);
    std::set<std::string> need(facts.need_file.begin(), facts.need_file.end());
    ArchiveWriter w;
    archive_write_add_filter_gzip(w.a);
    archive_write_set_format_pax_restricted(w.a);
    mode_t old = ::umask(077);
    int rc = archive_write_open_filename(w.a, tmp.c_str());
    ::umask(old);
    if (rc != ARCHIVE_OK) w.fail(tmp.string());
    bool vanished = false;
    report.files = 0;
    for (const auto& id : facts.all_ids) {
      bool missing = false;
      std::string bytes = slurp(from.quarantine_dir / "msg" / (id + ".eml"), missing);
      if (missing) {
        if (need.count(id)) {
          vanished = true;
          break;
        }
        continue;
      }
      w.add("quarantine/msg/" + id + ".eml", bytes, 0600);
      ++report.files;
      std::string env = slurp(store_detail::envelope_path(from.quarantine_dir, id), missing);
      if (!missing) w.add("quarantine/msg/" + id + ".env", env, 0600);
    }
    if (vanished) {
      archive_write_close(w.a);
      fs::remove(tmp, ec);
      if (attempt == 4)
        throw BackupError(
            "held or released message files kept disappearing during the backup; "
            "the store's files do not match its index (policyctl status)");
      continue;
    }
    report.by_status = facts.by_status;
    report.messages = facts.all_ids.size();
    report.audit = facts.audit;
    w.add("quarantine/index.sqlite", read_file_or_throw(copy), 0600);
    if (!users_copy.empty()) w.add("review/users.sqlite", read_file_or_throw(users_copy), 0600);
    nlohmann::json manifest = {
        {"format", kFormat},
        {"created_at", static_cast<std::int64_t>(std::time(nullptr))},
        {"messages", report.messages},
        {"message_files", report.files},
        {"by_status", report.by_status},
        {"audit_entries", report.audit},
        {"users", users_copy.empty() ? nlohmann::json(nullptr) : nlohmann::json(report.users)}};
    w.add("MANIFEST.json", manifest.dump(2) + "\n", 0600);
    if (archive_write_close(w.a) != ARCHIVE_OK) {
      fs::remove(tmp, ec);
      w.fail(tmp.string());
    }
    break;
  }
  {
    store_detail::Fd f(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    if (f.fd < 0 || ::fsync(f.fd) != 0)
      throw BackupError(tmp.string() + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), archive_path.c_str()) != 0) {
    fs::remove(tmp, ec);
    throw BackupError(archive_path.string() + ": " + std::strerror(errno));
  }
  return report;
}

BackupReport restore_store(const fs::path& archive_path, const BackupPaths& to,
                           const RestoreOptions& options) {
  std::error_code ec;
  const fs::path qdir = to.quarantine_dir;
  fs::create_directories(qdir, ec);
  ::chmod(qdir.c_str(), 02770);
  store_detail::make_private_dir(qdir / "msg");
  Scratch scratch(qdir);
  fs::create_directories(scratch.dir / "msg");

  // 1. Read the whole archive into the scratch directory, checking every name.
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 65536) != ARCHIVE_OK)
    throw BackupError(archive_path.string() + ": " + archive_error_string(a.get()));
  bool have_index = false, have_users = false, have_manifest = false;
  std::set<std::string> files;
  archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (!name.starts_with(kRoot) || archive_entry_filetype(e) != AE_IFREG)
      throw BackupError(archive_path.string() + ": not a policy-milter backup (entry " + name +
                        ")");
    name = name.substr(std::strlen(kRoot));
    fs::path dest;
    if (name == "MANIFEST.json") {
      dest = scratch.dir / "MANIFEST.json";
      have_manifest = true;
    } else if (name == "quarantine/index.sqlite") {
      dest = scratch.dir / "index.sqlite";
      have_index = true;
    } else if (name == "review/users.sqlite") {
      dest = scratch.dir / "users.sqlite";
      have_users = true;
    } else if (name.starts_with("quarantine/msg/")) {
      std::string file = name.substr(15);
      std::string id = file.substr(0, file.rfind('.'));
      std::string ext = file.substr(id.size());
      if (!store_detail::valid_id(id) || (ext != ".eml" && ext != ".env"))
        throw BackupError(archive_path.string() + ": unexpected entry " + name);
      dest = scratch.dir / "msg" / file;
      files.insert(file);
    } else {
      throw BackupError(archive_path.string() + ": unexpected entry " + name);
    }
    store_detail::Fd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (out.fd < 0) throw BackupError(dest.string() + ": " + std::strerror(errno));
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0)
      if (::write(out.fd, buf, static_cast<std::size_t>(n)) != n)
        throw BackupError(dest.string() + ": " + std::strerror(errno));
    if (n < 0) throw BackupError(archive_path.string() + ": " + archive_error_string(a.get()));
    if (::fsync(out.fd) != 0) throw BackupError(dest.string() + ": " + std::strerror(errno));
  }
  if (rc != ARCHIVE_EOF)
    throw BackupError(archive_path.string() + ": " + archive_error_string(a.get()));
  if (!have_manifest || !have_index)
    throw BackupError(archive_path.string() +
                      ": not a policy-milter backup (no manifest or index)");
  {
    auto m =
        nlohmann::json::parse(read_file_or_throw(scratch.dir / "MANIFEST.json"), nullptr, false);
    if (m.is_discarded() || m.value("format", 0) != kFormat)
      throw BackupError(archive_path.string() + ": unknown backup format");
  }

  // 2. Check it: a sound index, a file for every message that should have one.
  IndexFacts facts = facts_of(scratch.dir / "index.sqlite");
  for (const auto& id : facts.need_file)
    if (!files.count(id + ".eml"))
      throw BackupError(archive_path.string() + ": message " + id + " has no file in the backup");
  BackupReport report;
  report.by_status = facts.by_status;
  report.messages = facts.all_ids.size();
  report.audit = facts.audit;
  for (const auto& f : files)
    if (f.ends_with(".eml")) ++report.files;
  if (have_users) report.users = users_of(scratch.dir / "users.sqlite");

  // 3. Refuse a store in use unless told.
  const fs::path index = qdir / "index.sqlite";
  if (!options.force) {
    std::string in_use;
    if (fs::exists(index, ec)) {
      Db db = open_db(index, SQLITE_OPEN_READONLY);
      if (has_table(db.get(), "messages")) {
        auto n = scalar(db.get(), "SELECT count(*) FROM messages");
        if (n > 0) in_use = index.string() + " holds " + std::to_string(n) + " message(s)";
      }
    }
    if (in_use.empty() && have_users && !to.users_db.empty() && fs::exists(to.users_db, ec)) {
      auto n = users_of(to.users_db);
      if (n > 0) in_use = to.users_db.string() + " holds " + std::to_string(n) + " account(s)";
    }
    if (!in_use.empty())
      throw BackupError("refusing to overwrite a live store: " + in_use +
                        " (stop policy-milter and policy-review, then restore with --force; "
                        "the replaced index is kept beside it)");
  }

  // 4. Move into place: message files, then the index, then the accounts.
  struct stat dst {};
  if (::stat(qdir.c_str(), &dst) != 0)
    throw BackupError(qdir.string() + ": " + std::strerror(errno));
  for (const auto& f : files)
    install(scratch.dir / "msg" / f, qdir / "msg" / f, 0660, dst.st_uid, dst.st_gid);
  store_detail::fsync_dir(qdir / "msg");
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, ".before-restore-%Y%m%dT%H%M%SZ", std::gmtime(&now));
  report.preserved = move_aside(index, stamp);
  install(scratch.dir / "index.sqlite", index, 0660, dst.st_uid, dst.st_gid);
  store_detail::fsync_dir(qdir);
  if (have_users && !to.users_db.empty()) {
    fs::path udir = to.users_db.parent_path();
    fs::create_directories(udir, ec);
    struct stat ust {};
    if (::stat(to.users_db.c_str(), &ust) != 0 && ::stat(udir.c_str(), &ust) != 0)
      throw BackupError(udir.string() + ": " + std::strerror(errno));
    // Renamed from the scratch directory: it must be on the same file system.
    fs::path staged = udir / (".users-restore-" + std::to_string(::getpid()));
    fs::copy_file(scratch.dir / "users.sqlite", staged, fs::copy_options::overwrite_existing, ec);
    if (ec) throw BackupError(staged.string() + ": " + ec.message());
    move_aside(to.users_db, stamp);
    install(staged, to.users_db, 0640, ust.st_uid, ust.st_gid);
    store_detail::fsync_dir(udir);
  }
  return report;
}

}  // namespace pm
