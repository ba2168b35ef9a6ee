// Which quarantine store a process opens, from [quarantine] in policy-milter.toml (issue 15):
//   backend = "sqlite"       (default) the SQLite index + message files under `dir`
//   backend = "postgresql"   PostgreSQL at `dsn` (libpq connection string), message bytes
//                            in the database: several relays and review servers share it
//
// Errors: StoreError (the store cannot be opened: SQLite I/O, a PostgreSQL schema that
// `policyctl store migrate` has not brought up to date); std::invalid_argument for an
// unknown backend or a missing dsn. A PostgreSQL server that cannot be reached does not
// throw for the daemon (open_for_put): it opens unhealthy and every put is a tempfail
// until the server answers again.
// Thread safety: the returned store's (see store.h, pg_store.h).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "quarantine/store.h"

namespace pm {

struct StoreConfig {
  std::string backend = "sqlite";  // "sqlite" | "postgresql"
  std::filesystem::path dir;       // sqlite: the store's directory
  std::string dsn;                 // postgresql: e.g. "host=db.trust.example dbname=quarantine"
  PutSettings put;                 // put timeout (both), integrity check (sqlite)
  // postgresql: connections kept per process, and the longest any other query (list,
  // decisions, audit) may take before it fails; puts have put.put_timeout.
  unsigned pg_connections = 4;
  std::chrono::milliseconds pg_query_timeout{10000};
};

bool is_postgresql(const StoreConfig& c);
// Checks backend/dsn; throws std::invalid_argument with the key at fault.
void validate_store_config(const StoreConfig& c);

// The daemon's store: the SQLite store through QuarantineStore::open_for_put (reconciled,
// integrity-checked), or PostgreSQL (unreachable: opens unhealthy, see above).
std::unique_ptr<QuarantineBackend> open_store_for_put(const StoreConfig& c);
// The review page's and policyctl's store.
std::unique_ptr<QuarantineBackend> open_store(const StoreConfig& c);

}  // namespace pm
