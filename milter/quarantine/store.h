// QuarantineStore: the durable home of every message the milter holds for review.
//
// Layout under the configured directory (mode 2770, files 0660 - only the service's user
// and group, i.e. the daemon and the review page, can read or change children's data):
//   index.sqlite      one row per held message (envelope, categories, rule ids, status,
//                     verdict JSON with findings + decoded segments for highlighting) and an
//                     append-only `audit` table (SQLite triggers refuse UPDATE and DELETE)
//   msg/<id>.eml      the message bytes exactly as received
//   (also in the index: `notices` - which notices went out for which message, so each is
//   sent once by whichever process runs first; `dismissals` - "not a violation" records
//   for the IT admin: rule + short redacted context + a proposed exception; `monitor` -
//   monitor mode's verdicts that would have acted, findings only, until they expire)
//
//   msg/<id>.env      the row's envelope and labels as JSON (written with the message, not
//                     fsync'ed): lets start-up re-index a message file the index lost
//   index.sqlite.displaced-<time>  an index that was replaced under the running store,
//                     kept for the admin after its held rows were merged into the new one
//
// Durability contract of put() (see "The put side" below): the sidecar and the message
// are written and renamed into place, the message fsync'ed, its directory fsync'ed, and
// only then the row is committed (WAL, synchronous=FULL: the commit is fsync'ed;
// concurrent puts share one commit). put() returns only after all of that; any failure
// throws and leaves no row, so the daemon answers a temporary failure and the MTA keeps
// the mail. The sidecar is not fsync'ed (it is the way back to a lost row, not the record).
//
// Used by: the daemon (put), the review page and policyctl (list, get, read_message,
// release, refuse, remove, audit_log). Several processes may open the same store (WAL).
//
// Errors: StoreError (with the path or SQLite message) for any I/O or database failure;
// std::invalid_argument for an unknown id or a status change that is not allowed
// (held -> released | refused; any -> deleted). Refusing drops the bytes and the verdict
// at once (the sender is told; nothing is delivered); released mail keeps them until
// retention purges it (purge_decided).
// Thread safety: all methods may be called from any thread; one mutex serialises access to
// the SQLite handle, file writes happen outside it. put() has its own connection and
// committer thread (put_side.h) and never takes that mutex while SQLite waits for a lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace pm {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// SQLite found the index corrupt (SQLITE_CORRUPT, SQLITE_NOTADB).
class IndexCorrupt : public StoreError {
 public:
  using StoreError::StoreError;
};

// A decision on a message that another decision has claimed or already made (HTTP 409).
class DecisionConflict : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class QuarantineStatus { held, released, refused, deleted };
const char* to_string(QuarantineStatus s);
std::optional<QuarantineStatus> parse_quarantine_status(std::string_view s);

// What the daemon hands over for one held message.
struct QuarantineInput {
  std::string queue_id;                      // the MTA's queue id ("" when unknown)
  std::string sender;                        // envelope MAIL FROM
  std::vector<std::string> recipients;       // every RCPT TO
  std::vector<std::string> held_recipients;  // those not delivered (all, unless split)
  std::string subject;                       // decoded, for the review list
  std::vector<std::string> categories;       // sorted category ids
  std::vector<std::string> rules;            // rule ids that fired
  std::string action;                        // "quarantine"
  std::string snapshot;                      // rules snapshot that judged it
  std::string verdict_json;                  // full verdict incl. findings and segments
  // Idempotency key (message_digest()): a second put() with the digest of a message that
  // is still held returns the first one's id and stores nothing. "" = no de-duplication.
  std::string digest;
  // The school it belongs to ([[schools]] id, issue 15; "" with one school): every list,
  // count and audit query of the review page is scoped by it.
  std::string school;
};

// The idempotency key of a held message: BLAKE2b over the envelope (sender, recipients in
// any order) and the bytes as received, minus what the MTA adds itself - header fields
// that carry this delivery's queue id (Postfix's own Received:, a Message-ID it made up),
// since the client's retry of a deferred message gets a new queue id. Hex, 64 characters.
std::string message_digest(std::string_view sender, const std::vector<std::string>& recipients,
                           std::string_view message, std::string_view queue_id);

// What the put side knows about the index (health()); written to <dir>/health.json on every
// change so `policyctl status` shows it.
struct StoreHealth {
  bool ok = true;             // false: quarantining stopped (held mail is deferred)
  std::string problem;        // why, for the log and `policyctl status`; "" when ok
  std::int64_t since = 0;     // unix seconds of the last change
  std::size_t reindexed = 0;  // message files put back into the index (start-up, recovery)
  std::size_t orphans = 0;    // message files that could not be re-indexed (reported)
  std::size_t missing = 0;    // held rows whose message file is gone (reported)
  std::vector<std::string> orphan_ids, missing_ids;  // the first few of each
  std::vector<std::string> events;                   // recoveries since start, newest last
};

// Settings of the put side ([quarantine] in policy-milter.toml).
struct PutSettings {
  // Longest a put() waits for the index (a lock held by another process), counted from
  // the put's start; then it throws and the daemon defers the message. Keep it well under
  // Postfix's milter_content_timeout.
  std::chrono::milliseconds put_timeout{20000};
  bool integrity_check = true;  // PRAGMA quick_check when the daemon opens the store
};

struct QuarantineItem {
  std::string id;                // "20250130T101500Z-1a2b3c4d5e6f7a8b": sortable, unguessable
  std::int64_t received_at = 0;  // unix seconds
  std::string queue_id, sender, subject, action, snapshot;
  std::vector<std::string> recipients, held_recipients, categories, rules;
  std::uint64_t size = 0;  // message bytes
  QuarantineStatus status = QuarantineStatus::held;
  std::int64_t status_at = 0;                    // when the status last changed
  std::string status_by;                         // who changed it
  std::vector<std::string> released_recipients;  // after a (partial) release
  // A decision in progress (claim_release): "releasing" while the MTA takes the copy,
  // with who and when; "" when none. Any other decision meanwhile is a DecisionConflict.
  std::string claim, claim_by;
  std::int64_t claim_at = 0;
  // Who may review it, decided once (set_route) and stored with the message: JSON
  // {"name","reviewers":[...],"exclude":[...]} ("" = not decided yet).
  std::string route;
  std::string school;  // QuarantineInput::school ("" one school, or stored before schools)
};

// A reviewer's "not a violation": for the IT admin, who may add an exception.
struct Dismissal {
  std::int64_t seq = 0, at = 0;
  std::string actor, message_id, rule;
  std::string context;  // short, redacted by the caller (no identifiers, no names)
  std::string note;
  // The exception it proposes (JSON {"sender","recipients","categories","message_id"}),
  // "" for dismissals recorded before issue 13. `policyctl exceptions proposed`.
  std::string proposal;
};

// Monitor mode (issue 13): what would have been held or tagged, from the verdict - its
// findings and evidence (personal data), never the message. Expires with
// [review.retention] monitor_days (purge_monitor).
struct MonitorInput {
  std::string queue_id, sender, subject, would_action;
  std::vector<std::string> recipients, categories, rules;
  std::string verdict_json;  // without the decoded segments
  std::string school;        // as QuarantineInput::school
};
struct MonitorItem : MonitorInput {
  std::int64_t seq = 0, at = 0;
};

// A rendered notice waiting in the outbox (queue_notice / claim_outbox).
struct OutboxNotice {
  std::int64_t seq = 0;
  std::string message_id, kind, from;  // envelope sender ("" = MAIL FROM:<>)
  std::vector<std::string> rcpts;
  std::string data;  // the whole RFC 5322 message
  int attempts = 0;  // claims so far, this one included
};

struct QuarantineFilter {
  std::optional<QuarantineStatus> status;  // e.g. only `held`
  std::string category;                    // items carrying this category id
  std::string sender;                      // substring of the envelope sender
  std::int64_t since = 0, until = 0;       // received_at range, 0 = open
  std::size_t limit = 100, offset = 0;     // newest first
  // Only these schools (QuarantineItem::school; "" is a school id too: mail of one school,
  // or stored before [[schools]]). Empty = every school.
  std::vector<std::string> schools;
};

// A page of the audit log, newest first: entries with seq < `before` (0 = from the newest).
struct AuditQuery {
  std::string message_id;  // only this message ("" = all)
  std::string action;      // only this action ("" = all)
  std::int64_t before = 0;
  std::size_t limit = 100;
  std::vector<std::string> schools;  // only entries of these schools (empty = all)
};

struct AuditEntry {
  std::int64_t seq = 0;
  std::int64_t at = 0;
  std::string actor;       // "policy-milter", or the reviewer's login
  std::string action;      // "quarantined", "released", "refused", "deleted", ...
  std::string message_id;  // quarantine id
  std::string note;        // free text from the reviewer; never message content
  // The school of `message_id` when the entry was written ("" for entries about no
  // message, e.g. sign-ins, and with one school).
  std::string school;
};

// The operations the daemon, the review page and policyctl use on a quarantine, behind
// which sit two stores chosen by [quarantine].backend (quarantine/open_store.h): the
// SQLite index + message files below (QuarantineStore, "sqlite", the default) and
// PostgreSQL with the bytes in the database (PgQuarantineStore, quarantine/pg_store.h,
// "postgresql": several relays and review servers share it). Every method's contract is
// the one documented on QuarantineStore; both stores keep it.
// A method added to QuarantineStore for the daemon, policyctl or the review page belongs
// here too, pure virtual, with its PostgreSQL version in pg_store.cpp.
class QuarantineBackend {
 public:
  virtual ~QuarantineBackend() = default;
  virtual std::string put(std::string_view message, const QuarantineInput& input) = 0;
  virtual std::string put(std::string_view message, const QuarantineInput& input,
                          std::chrono::steady_clock::time_point deadline) = 0;
  virtual StoreHealth health() const = 0;
  virtual std::vector<QuarantineItem> list(const QuarantineFilter& filter = {}) const = 0;
  virtual std::size_t count(const QuarantineFilter& filter = {}) const = 0;
  virtual std::optional<QuarantineItem> get(std::string_view id) const = 0;
  virtual std::string read_message(std::string_view id) const = 0;
  virtual std::string read_verdict_json(std::string_view id) const = 0;
  virtual void release(std::string_view id, std::string_view actor, std::string_view note = {}) = 0;
  virtual void refuse(std::string_view id, std::string_view actor, std::string_view note = {}) = 0;
  virtual void remove(std::string_view id, std::string_view actor, std::string_view note = {}) = 0;
  virtual bool release_to(std::string_view id, const std::vector<std::string>& recipients,
                          std::string_view actor, std::string_view note = {}) = 0;
  virtual std::vector<std::string> purge_decided(std::int64_t before, std::string_view actor) = 0;
  virtual bool claim_notice(std::string_view id, std::string_view kind) = 0;
  virtual void unclaim_notice(std::string_view id, std::string_view kind) = 0;
  virtual std::vector<QuarantineItem> held_without_notice(std::string_view kind) const = 0;
  virtual void record_dismissal(std::string_view id, std::string_view actor, std::string_view rule,
                                std::string_view context, std::string_view note = {},
                                std::string_view proposal = {}) = 0;
  virtual std::vector<Dismissal> dismissals(std::size_t limit = 1000) const = 0;
  // Issue 13: the senders' link key, the notice outbox, monitor mode's evidence.
  virtual std::string secret(std::string_view name) = 0;
  virtual bool queue_notice(std::string_view message_id, std::string_view kind,
                            std::string_view env_from, const std::vector<std::string>& rcpts,
                            std::string_view data) = 0;
  virtual std::vector<OutboxNotice> claim_outbox(std::int64_t now, std::int64_t stale_before,
                                                 std::size_t limit = 100) = 0;
  virtual void outbox_done(std::int64_t seq, bool sent) = 0;
  virtual std::int64_t record_monitor(const MonitorInput& in) = 0;
  virtual std::vector<MonitorItem> monitor_list(
      std::size_t limit = 100, std::size_t offset = 0,
      const std::vector<std::string>& schools = {}) const = 0;
  virtual std::size_t purge_monitor(std::int64_t before) = 0;
  virtual void audit(std::string_view actor, std::string_view action, std::string_view message_id,
                     std::string_view note = {}) = 0;
  virtual std::vector<AuditEntry> audit_log(std::string_view message_id = {},
                                            std::size_t limit = 1000) const = 0;
  virtual int claim_release(std::string_view id, const std::vector<std::string>& recipients,
                            std::string_view actor) = 0;
  virtual bool complete_release(std::string_view id, std::string_view actor,
                                std::string_view note = {}) = 0;
  virtual void abandon_release(std::string_view id, std::string_view actor,
                               std::string_view error) = 0;
  virtual std::vector<std::string> expire_claims(std::int64_t before) = 0;
  virtual bool set_route(std::string_view id, std::string_view route_json) = 0;
  virtual std::vector<AuditEntry> audit_page(const AuditQuery& q) const = 0;
  // For logs and `policyctl status`: "sqlite <dir>" or "postgresql <host/db>" (no password).
  virtual std::string describe() const = 0;
};

// The SQLite + files store. Its public methods that share a name with QuarantineBackend's
// implement them (same signatures; store.cpp and store_put.cpp are the implementation).
class QuarantineStore : public QuarantineBackend {
 public:
  // Creates the directory (0750), the index and the schema when missing; applies schema
  // migrations (PRAGMA user_version).
  explicit QuarantineStore(std::filesystem::path dir);
  ~QuarantineStore();
  QuarantineStore(const QuarantineStore&) = delete;
  QuarantineStore& operator=(const QuarantineStore&) = delete;

  // ---- The put side (the daemon) ---------------------------------------------------
  // Opens the store for the daemon: like the constructor, but a corrupt index does not
  // throw - the store opens with health().ok == false and put() refuses until the index
  // is repaired (moved away or restored: put() notices the new file and recovers). Then,
  // with settings.integrity_check, runs PRAGMA quick_check, and reconciles the message
  // files with the index (reconcile()).
  static std::unique_ptr<QuarantineStore> open_for_put(std::filesystem::path dir,
                                                       const PutSettings& settings);

  // Stores durably (see the contract above), writes the "quarantined" audit entry and
  // returns the new id (or, for a digest already held, that message's id).
  // Thread safety: concurrent put()s never wait on each other's SQLite lock: each writes
  // its file, then hands its row to one committer thread that commits every row waiting
  // in one transaction. Before each commit the committer checks that the open index is
  // still the file at <dir>/index.sqlite (deleted: it writes the open index back;
  // replaced: it keeps the new file, merges the held rows into it and keeps the old one
  // as index.sqlite.displaced-<time>); after the commit it checks again.
  // Errors: StoreError - I/O, the index locked past `deadline` (nothing is kept unless the
  // row was already being committed, in which case the retry finds it by its digest), or
  // a corrupt index (health() says why).
  std::string put(std::string_view message, const QuarantineInput& input);
  std::string put(std::string_view message, const QuarantineInput& input,
                  std::chrono::steady_clock::time_point deadline);

  // Start-up reconciliation of msg/ with the index: a message file with no row is
  // re-indexed from its .env file (audited "reindexed") or, without one, reported as an
  // orphan; a held row without its file is reported as missing; leftover temporary files
  // are removed. Returns the health with the counts.
  StoreHealth reconcile();
  StoreHealth health() const;

  std::vector<QuarantineItem> list(const QuarantineFilter& filter = {}) const;
  std::size_t count(const QuarantineFilter& filter = {}) const;
  std::optional<QuarantineItem> get(std::string_view id) const;
  std::string read_message(std::string_view id) const;       // the .eml bytes
  std::string read_verdict_json(std::string_view id) const;  // "" once deleted

  // Status changes, each with an audit entry, each checked and made in one transaction:
  // DecisionConflict when the message is claimed by a decision in progress or (release,
  // refuse) no longer held. release() only records the decision: reviewers' releases go
  // through claim_release()/complete_release() below, which bracket the reinjection.
  void release(std::string_view id, std::string_view actor, std::string_view note = {});
  void refuse(std::string_view id, std::string_view actor, std::string_view note = {});
  // Removes the message file and the verdict (personal data); the row stays, status
  // `deleted`, so the audit log still resolves.
  void remove(std::string_view id, std::string_view actor, std::string_view note = {});

  // Partial (or full) release: `recipients` must be held recipients of a held message.
  // They move from held_recipients to released_recipients, audited "released-partial";
  // when none is left the message becomes `released`. Returns true when fully released.
  // As with release(), call it only after the MTA accepted the reinjected copy (it is
  // claim_release() + complete_release() in one go).
  bool release_to(std::string_view id, const std::vector<std::string>& recipients,
                  std::string_view actor, std::string_view note = {});

  // Retention: removes (status `deleted`, bytes and verdict gone) every released or
  // refused message decided before `before` (unix seconds); returns their ids. Undecided
  // mail past its limit is refused by the caller (it sends the notices first).
  std::vector<std::string> purge_decided(std::int64_t before, std::string_view actor);

  // Notices sent once: claim_notice() returns true for the one caller that should send
  // notice `kind` for message `id`; unclaim_notice() after a failed send retries later.
  bool claim_notice(std::string_view id, std::string_view kind);
  void unclaim_notice(std::string_view id, std::string_view kind);
  std::vector<QuarantineItem> held_without_notice(std::string_view kind) const;

  // A named random key (256 bits, hex), made by the first caller and kept in the index, so
  // every process on the store signs and checks the same way ("sender-link": the links
  // in senders' notices). Replacing or restoring the index without it voids old links.
  std::string secret(std::string_view name);

  // The outbox: notices any process (the milter included) queues, sent once by whichever
  // process drains it first (`policyctl quarantine notify`, policy-review). queue_notice()
  // returns false when (message_id, kind) was queued before (nothing is queued twice).
  // claim_outbox() claims up to `limit` unsent notices, those never claimed or claimed
  // before `stale_before` (a sender that died mid-send); outbox_done() records the send
  // (sent: the text is dropped, the row stays so the notice is never queued again) or
  // frees the claim for a later attempt (!sent).
  bool queue_notice(std::string_view message_id, std::string_view kind, std::string_view env_from,
                    const std::vector<std::string>& rcpts, std::string_view data);
  std::vector<OutboxNotice> claim_outbox(std::int64_t now, std::int64_t stale_before,
                                         std::size_t limit = 100);
  void outbox_done(std::int64_t seq, bool sent);

  // "Not a violation": records the dismissal and a "not-a-violation" audit entry.
  void record_dismissal(std::string_view id, std::string_view actor, std::string_view rule,
                        std::string_view context, std::string_view note = {},
                        std::string_view proposal = {});
  std::vector<Dismissal> dismissals(std::size_t limit = 1000) const;

  // Monitor mode: one verdict that would have acted (returns its seq); the newest first
  // (only `schools`' entries unless empty); removes those recorded before `before` (unix
  // seconds) and returns how many.
  std::int64_t record_monitor(const MonitorInput& in);
  std::vector<MonitorItem> monitor_list(std::size_t limit = 100, std::size_t offset = 0,
                                        const std::vector<std::string>& schools = {}) const;
  std::size_t purge_monitor(std::int64_t before);

  // Free-form audit entry (e.g. "viewed"). Every audit entry (these and the ones the
  // status changes write) takes the school of its message from the message's row.
  void audit(std::string_view actor, std::string_view action, std::string_view message_id,
             std::string_view note = {});
  std::vector<AuditEntry> audit_log(std::string_view message_id = {},
                                    std::size_t limit = 1000) const;

  // --- Decisions (issue 9): a decision first claims the message in one transaction, so
  // exactly one of any number of concurrent deciders (threads or processes) proceeds.
  //
  // claim_release(): held and unclaimed -> claim "releasing" by `actor`; `recipients`
  // must be a non-empty subset of the held recipients (std::invalid_argument otherwise).
  // Audits "release-attempt" with the attempt number. Returns the attempt number.
  // DecisionConflict when the message is claimed or no longer held.
  int claim_release(std::string_view id, const std::vector<std::string>& recipients,
                    std::string_view actor);
  // After the MTA accepted the copy: moves the claimed recipients to released (message
  // `released` when none is left), drops the claim, audits "released"/"released-partial".
  // Returns true when fully released. DecisionConflict if `actor` holds no claim.
  bool complete_release(std::string_view id, std::string_view actor, std::string_view note = {});
  // After a failed reinjection: drops the claim (the message is held again) and audits
  // "release-failed" with the attempt's error.
  void abandon_release(std::string_view id, std::string_view actor, std::string_view error);
  // Claims older than `before` (a decider that died mid-release) go back to held,
  // audited "claim-expired". Returns their ids.
  std::vector<std::string> expire_claims(std::int64_t before);
  // Stores the route once: true if this call set it, false if one was already stored.
  bool set_route(std::string_view id, std::string_view route_json);
  // One page of the audit log.
  std::vector<AuditEntry> audit_page(const AuditQuery& q) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::string describe() const override { return "sqlite " + dir_.string(); }
  std::filesystem::path message_path(std::string_view id) const;

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const noexcept;
  };
  struct PutSide;  // store_put.cpp: the committer, its connection, the index's identity
  PutSide& put_side();
  QuarantineStore(std::filesystem::path dir, bool tolerate_corrupt);
  void open_index(bool tolerate_corrupt);
  void change_status(std::string_view id, QuarantineStatus to, std::string_view actor,
                     std::string_view note);
  void audit_locked(std::string_view actor, std::string_view action, std::string_view message_id,
                    std::string_view note);

  std::filesystem::path dir_;
  std::unique_ptr<sqlite3, DbCloser> db_;
  mutable std::mutex mu_;
  std::once_flag put_once_;
  std::unique_ptr<PutSide> put_;  // created on first use; declared last: stops first
};

}  // namespace pm
