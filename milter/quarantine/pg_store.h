// PgQuarantineStore: the quarantine on PostgreSQL (issue 15), for a trust's several relays
// and review servers sharing one store. Same contract as QuarantineStore (store.h), with
// the message bytes in the database (bytea, table message_bytes) since relays share no
// filesystem.
//
// Durability: put() runs one transaction (row, bytes, "quarantined" audit entry) and returns
// only after COMMIT succeeded (synchronous_commit as the server has it - keep it `on`).
// Idempotent per message digest across relays: puts of one digest are serialised by a
// transaction-scoped advisory lock, and a digest still held returns that message's id
// (audited "retried"), exactly as the SQLite store. Any failure - server unreachable,
// refused, a query past its deadline (cancelled) - throws StoreError and stores nothing
// (or, when the connection died during COMMIT, a row the retry finds by its digest), so
// the daemon answers a temporary failure.
//
// Schema: versioned migrations (table schema_version), applied by migrate() -
// `policyctl store migrate`. Opening checks the version and refuses a database not
// migrated (or migrated by a newer release). Every statement is parameterised.
//
// Errors: StoreError (the server's message; never message content - parameters are not
// logged by libpq errors); std::invalid_argument / DecisionConflict as QuarantineStore.
// Thread safety: all methods from any thread; a small pool of connections (each used by
// one thread at a time), decisions lock their row (SELECT ... FOR UPDATE), so concurrent
// deciders on any number of servers produce one outcome.
#pragma once

#include <condition_variable>
#include <mutex>
#include <vector>

#include "quarantine/open_store.h"
#include "quarantine/store.h"

typedef struct pg_conn PGconn;

namespace pm {

class PgQuarantineStore : public QuarantineBackend {
 public:
  // Connects once and checks the schema version, unless `lazy` (the daemon: an
  // unreachable server makes it unhealthy, not fatal). Throws StoreError.
  PgQuarantineStore(const StoreConfig& config, bool lazy = false);
  ~PgQuarantineStore() override;

  // Applies the schema migrations not yet applied; returns how many it applied. Safe to
  // run from several hosts at once (an advisory lock). Throws StoreError.
  static int migrate(const StoreConfig& config);
  // The schema version this build writes, and the database's (-1: no schema yet).
  static int schema_version_wanted();
  int schema_version() const;

  std::string put(std::string_view message, const QuarantineInput& input) override;
  std::string put(std::string_view message, const QuarantineInput& input,
                  std::chrono::steady_clock::time_point deadline) override;
  StoreHealth health() const override;
  std::vector<QuarantineItem> list(const QuarantineFilter& filter = {}) const override;
  std::size_t count(const QuarantineFilter& filter = {}) const override;
  std::optional<QuarantineItem> get(std::string_view id) const override;
  std::string read_message(std::string_view id) const override;
  std::string read_verdict_json(std::string_view id) const override;
  void release(std::string_view id, std::string_view actor, std::string_view note = {}) override;
  void refuse(std::string_view id, std::string_view actor, std::string_view note = {}) override;
  void remove(std::string_view id, std::string_view actor, std::string_view note = {}) override;
  bool release_to(std::string_view id, const std::vector<std::string>& recipients,
                  std::string_view actor, std::string_view note = {}) override;
  std::vector<std::string> purge_decided(std::int64_t before, std::string_view actor) override;
  bool claim_notice(std::string_view id, std::string_view kind) override;
  void unclaim_notice(std::string_view id, std::string_view kind) override;
  std::vector<QuarantineItem> held_without_notice(std::string_view kind) const override;
  void record_dismissal(std::string_view id, std::string_view actor, std::string_view rule,
                        std::string_view context, std::string_view note = {},
                        std::string_view proposal = {}) override;
  std::vector<Dismissal> dismissals(std::size_t limit = 1000) const override;
  std::string secret(std::string_view name) override;
  bool queue_notice(std::string_view message_id, std::string_view kind, std::string_view env_from,
                    const std::vector<std::string>& rcpts, std::string_view data) override;
  std::vector<OutboxNotice> claim_outbox(std::int64_t now, std::int64_t stale_before,
                                         std::size_t limit = 100) override;
  void outbox_done(std::int64_t seq, bool sent) override;
  std::int64_t record_monitor(const MonitorInput& in) override;
  std::vector<MonitorItem> monitor_list(
      std::size_t limit = 100, std::size_t offset = 0,
      const std::vector<std::string>& schools = {}) const override;
  std::size_t purge_monitor(std::int64_t before) override;
  void audit(std::string_view actor, std::string_view action, std::string_view message_id,
             std::string_view note = {}) override;
  std::vector<AuditEntry> audit_log(std::string_view message_id = {},
                                    std::size_t limit = 1000) const override;
  int claim_release(std::string_view id, const std::vector<std::string>& recipients,
                    std::string_view actor) override;
  bool complete_release(std::string_view id, std::string_view actor,
                        std::string_view note = {}) override;
  void abandon_release(std::string_view id, std::string_view actor,
                       std::string_view error) override;
  std::vector<std::string> expire_claims(std::int64_t before) override;
  bool set_route(std::string_view id, std::string_view route_json) override;
  std::vector<AuditEntry> audit_page(const AuditQuery& q) const override;
  std::string describe() const override;

  // What migrate_from_sqlite() did (all counts; a re-run over the same store adds 0).
  struct ImportReport {
    std::size_t messages = 0, messages_present = 0, bytes = 0, bytes_missing = 0;
    std::size_t audit = 0, audit_present = 0, notices = 0, dismissals = 0;
    std::size_t proposals = 0;  // dismissals carrying a proposed exception (copied or filled in)
    std::size_t outbox = 0, outbox_pending = 0;    // outbox rows copied; of them not yet sent
    std::size_t monitor = 0, monitor_present = 0;  // monitor mode's evidence rows
    std::size_t secrets = 0, secrets_present = 0;  // the senders' link key (and any other)
    std::vector<std::string> secrets_differing;    // PostgreSQL has its own: kept, not replaced
    std::size_t digests_cleared = 0;  // held in both stores: kept both, the import's undigested
    std::vector<std::string> missing_ids;  // held/released rows whose message file is gone
  };
  // Copies an SQLite store (index rows, message files, audit log, notices, dismissals with
  // their proposed exceptions, the notice outbox, monitor evidence, secrets such as the
  // senders' link key) in one transaction: all or nothing. Rows already present (by id;
  // audit and dismissals by a key over their content; outbox rows by message and kind;
  // monitor rows by their whole content, counted; secrets by name) are skipped, so
  // re-running it is a no-op. A secret PostgreSQL already has with another value (a relay
  // on the new store made its own link key first) is kept and named in the report: links
  // signed with the old key stop working. Stop the daemon and the review page on the old
  // store first. Throws StoreError.
  ImportReport migrate_from_sqlite(const std::filesystem::path& sqlite_dir);

  class Conn;  // pg_store.cpp: one connection, RAII

 private:
  friend class Lease;
  Conn* acquire(std::chrono::steady_clock::time_point deadline) const;
  void give_back(Conn* c) const;
  void note_ok() const;
  void note_failure(const std::string& problem) const;
  void change_status(std::string_view id, QuarantineStatus to, std::string_view actor,
                     std::string_view note);
  std::chrono::steady_clock::time_point query_deadline() const;

  StoreConfig config_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::vector<Conn*> idle_;
  mutable unsigned open_ = 0;
  mutable StoreHealth health_;
};

}  // namespace pm
