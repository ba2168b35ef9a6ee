// Backup and restore of what the school cannot get back from anywhere else: the quarantine
// (index.sqlite with its decisions, notices, dismissals and audit log; msg/<id>.eml and
// .env) and the review page's accounts (users.sqlite). One file, a gzip'ed tar:
//
//   policy-milter-backup/quarantine/index.sqlite  a consistent copy (VACUUM INTO)
//   policy-milter-backup/quarantine/msg/ID.eml    every message file the copy names
//   policy-milter-backup/quarantine/msg/ID.env
//   policy-milter-backup/review/users.sqlite      (when the accounts file exists)
//   policy-milter-backup/MANIFEST.json            format, time, counts by status (last)
//
// Consistent while the milter runs: the index is copied in one read transaction (WAL
// readers never block the milter's writes), then the message files that copy names are
// streamed into the archive one at a time (memory: one message) - message files never
// change once written, so the pair is the store as it was at the copy, unless a file named
// by it was removed meanwhile (refused, purged); then the copy is taken again (up to 5
// times). Mail held after the copy is not in the backup.
//
// Restore checks the whole archive first (names, the index's integrity, a file for every
// held or released message), refuses to touch a store that holds mail or accounts unless
// `force`, then moves the files into place: the message files into msg/, the old index (and
// its -wal/-shm) aside as index.sqlite.before-restore-<time>, the restored one in (owned
// like the directory, 0660), the accounts file likewise (0640).
//
// Errors: BackupError with the path and what went wrong; nothing of the target is changed
// when the archive is rejected. Not thread-safe against itself (one restore at a time).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

namespace pm {

class BackupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BackupPaths {
  std::filesystem::path quarantine_dir;  // [quarantine] dir
  std::filesystem::path users_db;        // [review] users_db ("" or missing: none)
};

struct BackupReport {
  std::size_t messages = 0;  // rows in the index
  std::size_t files = 0;     // message files (.eml) in the archive
  std::size_t audit = 0;     // audit entries
  std::size_t users = 0;     // review accounts (0 when there is no accounts file)
  std::map<std::string, std::size_t> by_status;  // held, released, refused, deleted
  std::string preserved;  // restore: where the replaced index was put ("" when none)
};

BackupReport backup_store(const BackupPaths& from, const std::filesystem::path& archive);

struct RestoreOptions {
  bool force = false;  // replace a store that holds mail or accounts
};
BackupReport restore_store(const std::filesystem::path& archive, const BackupPaths& to,
                           const RestoreOptions& options);

}  // namespace pm
