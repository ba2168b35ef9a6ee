// policyctl subcommands. Each takes the arguments after its name and returns the exit
// status: 0 success, 1 a failure the admin must look at (a file that could not be read, a
// rule example that failed), 2 bad usage or configuration.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace pm {
class Engine;
}

namespace pm::cli {

using Args = std::vector<std::string>;

// `-h` or `--help` anywhere among a subcommand's arguments: its usage, on standard output,
// exit 0 (and no configuration is read).
inline bool wants_help(const Args& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") return true;
  return false;
}

int scan(const std::filesystem::path& config, const Args& args);
int rules(const std::filesystem::path& config, const Args& args);
// `policyctl config check`: the configuration against its schema (config/schema.h), then
// everything the daemon and the review page read from it, then the rules (check_rules).
int config(const std::filesystem::path& config, const Args& args);
// The rules' part of `rules check` and `config check`: examples, allow-list suffixes, what
// the local files changed. 0 all pass, 1 a failure (printed).
int check_rules(const Engine& engine);
// The quarantine's part of `policyctl status`, for either backend: one line with the
// backend, where it is, reachable, schema version, held messages and notices waiting in the
// outbox, read by policyctl itself (read-only). SQLite: also the daemon's view (health.json:
// quarantining stopped, re-indexed files, orphans, held mail without its file) and an index
// check; PostgreSQL: unreachable, no schema or another version than this release's is a
// failure. 0 healthy, 1 the admin must look. With `report`, nothing is printed: the lines,
// the figures and `ok` go into it (`policyctl status --json`'s "store").
int store_status(const std::filesystem::path& config, std::ostream& out,
                 nlohmann::json* report = nullptr);
// policyctl store backup FILE | restore FILE [--force] (store_cmd.cpp).
int store(const std::filesystem::path& config, const Args& args);
// policyctl store migrate | migrate-from-sqlite: the PostgreSQL store's schema and the move
// of an SQLite quarantine into it (issue 15). 0 done, 1 failed, 2 usage or configuration.
int store_schema(const std::filesystem::path& config, const Args& args);

}  // namespace pm::cli
