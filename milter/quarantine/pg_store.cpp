// PgQuarantineStore (pg_store.h): libpq with every query sent asynchronously and waited
// for up to a deadline (a server that hangs cannot hold a milter thread past its put
// timeout), a small connection pool, the schema migrations and the import from SQLite.
#include "quarantine/pg_store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sodium.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "quarantine/store_internal.h"

namespace pm {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using store_detail::from_json;
using store_detail::new_id;
using store_detail::to_json;
using store_detail::valid_id;

namespace {

std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// ---- Schema ----------------------------------------------------------------------------
// Applied in order, each once, each in its own transaction (PostgreSQL's DDL is
// transactional); schema_version records them. Append new steps; never change a shipped
// one. The tables mirror the SQLite store's (store.cpp) so the two stay comparable.
struct PgMigration {
  const char* what;
  const char* sql;
};
const PgMigration kPgMigrations[] = {
    {"baseline: messages, bytes, append-only audit, notices, dismissals", R"sql(
CREATE TABLE messages(
  id text PRIMARY KEY,
  received_at bigint NOT NULL,
  queue_id text NOT NULL DEFAULT '',
  sender text NOT NULL DEFAULT '',
  recipients text NOT NULL DEFAULT '[]',
  held_recipients text NOT NULL DEFAULT '[]',
  subject text NOT NULL DEFAULT '',
  categories text NOT NULL DEFAULT '[]',
  rules text NOT NULL DEFAULT '[]',
  action text NOT NULL DEFAULT '',
  snapshot text NOT NULL DEFAULT '',
  size bigint NOT NULL DEFAULT 0,
  verdict_json text NOT NULL DEFAULT '',
  status text NOT NULL DEFAULT 'held',
  status_at bigint NOT NULL DEFAULT 0,
  status_by text NOT NULL DEFAULT '',
  released_recipients text NOT NULL DEFAULT '[]',
  digest text,
  claim text NOT NULL DEFAULT '',
  claim_by text NOT NULL DEFAULT '',
  claim_at bigint NOT NULL DEFAULT 0,
  claim_recipients text NOT NULL DEFAULT '[]',
  route text NOT NULL DEFAULT '');
CREATE UNIQUE INDEX messages_digest ON messages(digest) WHERE digest IS NOT NULL;
CREATE INDEX messages_received ON messages(received_at);
CREATE INDEX messages_status ON messages(status, received_at);
CREATE TABLE message_bytes(
  id text PRIMARY KEY REFERENCES messages(id),
  bytes bytea NOT NULL);
CREATE TABLE audit(
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  message_id text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  import_key text UNIQUE);
CREATE INDEX audit_message ON audit(message_id, seq);
CREATE INDEX audit_action ON audit(action, seq);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'audit log is append-only'; END$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TABLE notices(
  message_id text NOT NULL,
  kind text NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY(message_id, kind));
CREATE TABLE dismissals(
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  actor text NOT NULL,
  message_id text NOT NULL,
  rule text NOT NULL,
  context text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  import_key text UNIQUE);
)sql"},
    // Issue 13, as the SQLite store's steps 4 and 5: monitor mode's evidence, proposed
    // exceptions, the senders' link key and the notice outbox.
    {"monitor evidence, proposed exceptions, link key, notice outbox", R"sql(
CREATE TABLE monitor(
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  queue_id text NOT NULL DEFAULT '',
  sender text NOT NULL DEFAULT '',
  recipients text NOT NULL DEFAULT '[]',
  subject text NOT NULL DEFAULT '',
  categories text NOT NULL DEFAULT '[]',
  rules text NOT NULL DEFAULT '[]',
  would_action text NOT NULL DEFAULT '',
  verdict_json text NOT NULL DEFAULT '');
CREATE INDEX monitor_at ON monitor(at);
ALTER TABLE dismissals ADD COLUMN proposal text NOT NULL DEFAULT '';
CREATE TABLE secrets(name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE outbox(
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id text NOT NULL,
  kind text NOT NULL,
  env_from text NOT NULL DEFAULT '',
  rcpts text NOT NULL DEFAULT '[]',
  data text NOT NULL DEFAULT '',
  queued_at bigint NOT NULL,
  claimed_at bigint NOT NULL DEFAULT 0,
  sent_at bigint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  UNIQUE(message_id, kind));
CREATE INDEX outbox_unsent ON outbox(sent_at, claimed_at);
)sql"},
    // Issue 15, as the SQLite store's step 6: schools as tenants (existing rows: "").
    {"schools as tenants: the school of held mail, monitor entries and audit entries", R"sql(
ALTER TABLE messages ADD COLUMN school text NOT NULL DEFAULT '';
ALTER TABLE monitor ADD COLUMN school text NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN school text NOT NULL DEFAULT '';
CREATE INDEX messages_school ON messages(school, status, received_at);
CREATE INDEX audit_school ON audit(school, seq);
)sql"},
};
constexpr int kWanted = static_cast<int>(std::size(kPgMigrations));
// pg_advisory_lock keys: one for migrations, one for imports (arbitrary, fixed).
constexpr const char* kMigrateLock = "7151500001";
constexpr const char* kImportLock = "7151500002";

constexpr const char* kColumns =
    "id, received_at, queue_id, sender, recipients, held_recipients, subject, categories, "
    "rules, action, snapshot, size, status, status_at, status_by, released_recipients, claim, "
    "claim_by, claim_at, route, school";

// ---- libpq, RAII -------------------------------------------------------------------------

struct ResultFree {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};

class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  int rows() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
  }
  std::int64_t integer(int row, int col) const {
    const char* v = PQgetvalue(r_.get(), row, col);
    return v && *v ? std::strtoll(v, nullptr, 10) : 0;
  }
  std::int64_t affected() const {
    const char* v = PQcmdTuples(r_.get());
    return v && *v ? std::strtoll(v, nullptr, 10) : 0;
  }

 private:
  std::unique_ptr<PGresult, ResultFree> r_;
};

// Parameters of one statement, all sent as text except bytes (binary: no escaping).
class Params {
 public:
  Params& add(std::string_view s) {
    vals_.emplace_back(s);
    fmt_.push_back(0);
    null_.push_back(false);
    return *this;
  }
  Params& add(std::int64_t v) { return add(std::string_view(std::to_string(v))); }
  Params& add_bytes(std::string_view b) {
    add(b);
    fmt_.back() = 1;
    return *this;
  }
  Params& add_null() {
    add(std::string_view());
    null_.back() = true;
    return *this;
  }
  int size() const { return static_cast<int>(vals_.size()); }
  void pointers(std::vector<const char*>& v, std::vector<int>& len) const {
    for (std::size_t i = 0; i < vals_.size(); ++i) {
      v.push_back(null_[i] ? nullptr : vals_[i].data());
      len.push_back(static_cast<int>(vals_[i].size()));
    }
  }
  const int* formats() const { return fmt_.empty() ? nullptr : fmt_.data(); }

 private:
  std::vector<std::string> vals_;
  std::vector<int> fmt_;
  std::vector<bool> null_;
};

std::string pq_error(PGconn* c) {
  std::string e = c ? PQerrorMessage(c) : "out of memory";
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  for (char& ch : e)
    if (ch == '\n') ch = ' ';
  return e;
}

class PgError : public StoreError {
 public:
  PgError(const std::string& what, std::string sqlstate)
      : StoreError(what), sqlstate(std::move(sqlstate)) {}
  std::string sqlstate;
};

}  // namespace

// One connection. `broken` after a timeout, a lost connection or a failed rollback: the
// pool closes it instead of handing it out again.
class PgQuarantineStore::Conn {
 public:
  Conn(const StoreConfig& cfg, Clock::time_point deadline) {
    // connect_timeout before dbname: the dsn may set its own (later values win).
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count();
    std::string timeout = std::to_string(std::max<long long>(2, secs));
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* vals[] = {timeout.c_str(), "policy-milter", cfg.dsn.c_str(), nullptr};
    c_ = PQconnectStartParams(keys, vals, 1);
    if (!c_ || PQstatus(c_) == CONNECTION_BAD) fail_connect();
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
      if (st == PGRES_POLLING_FAILED) fail_connect();
      if (!wait_socket(st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
        PQfinish(c_);
        c_ = nullptr;
        throw StoreError("PostgreSQL: no connection within the time allowed");
      }
      st = PQconnectPoll(c_);
    }
    if (PQsetnonblocking(c_, 1) != 0) fail_connect();
    // The server's NOTICEs ("already exists, skipping") are not for the admin's terminal.
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
  }
  ~Conn() {
    if (c_) PQfinish(c_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // An idle connection has nothing to read: anything there is the server closing it (a
  // restart: a FATAL message, then EOF), which libpq would notice only on the next query.
  bool alive() const {
    if (broken || PQstatus(c_) != CONNECTION_OK) return false;
    pollfd pfd{PQsocket(c_), POLLIN, 0};
    return ::poll(&pfd, 1, 0) == 0;
  }
  bool usable() const {
    return !broken && PQstatus(c_) == CONNECTION_OK && PQtransactionStatus(c_) == PQTRANS_IDLE;
  }

  // Runs one statement; results in binary when `binary` (only bytea reads use it).
  Result exec(const char* sql, const Params& p, Clock::time_point deadline, bool binary = false) {
    std::vector<const char*> v;
    std::vector<int> len;
    p.pointers(v, len);
    if (!PQsendQueryParams(c_, sql, p.size(), nullptr, v.data(), len.data(), p.formats(),
                           binary ? 1 : 0)) {
      broken = true;
      throw StoreError("PostgreSQL: " + pq_error(c_));
    }
    return finish(deadline);
  }
  Result exec(const char* sql, Clock::time_point deadline) { return exec(sql, Params{}, deadline); }
  // Several statements without parameters (the schema migrations' fixed text only).
  Result exec_script(const char* sql, Clock::time_point deadline) {
    if (!PQsendQuery(c_, sql)) {
      broken = true;
      throw StoreError("PostgreSQL: " + pq_error(c_));
    }
    return finish(deadline);
  }

  PGconn* raw() const { return c_; }
  bool broken = false;

 private:
  // Waits for the answer to the statement just sent, within the deadline.
  Result finish(Clock::time_point deadline) {
    // Send everything, then read until the result is complete, within the deadline.
    for (;;) {
      int f = PQflush(c_);
      if (f < 0) {
        broken = true;
        throw StoreError("PostgreSQL: " + pq_error(c_));
      }
      if (f == 0) break;
      if (!wait_socket(POLLOUT | POLLIN, deadline)) timeout();
      if (!PQconsumeInput(c_)) {
        broken = true;
        throw StoreError("PostgreSQL: " + pq_error(c_));
      }
    }
    PGresult* last = nullptr;
    for (;;) {
      while (PQisBusy(c_)) {
        if (!wait_socket(POLLIN, deadline)) {
          PQclear(last);
          timeout();
        }
        if (!PQconsumeInput(c_)) {
          PQclear(last);
          broken = true;
          throw StoreError("PostgreSQL: " + pq_error(c_));
        }
      }
      PGresult* r = PQgetResult(c_);
      if (!r) break;
      PQclear(last);
      last = r;
    }
    Result res(last);
    if (!last) {
      broken = true;
      throw StoreError("PostgreSQL: " + pq_error(c_));
    }
    auto st = PQresultStatus(last);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const char* state = PQresultErrorField(last, PG_DIAG_SQLSTATE);
      std::string msg = PQresultErrorMessage(last);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      if (PQstatus(c_) != CONNECTION_OK) broken = true;
      throw PgError("PostgreSQL: " + msg, state ? state : "");
    }
    return res;
  }
  [[noreturn]] void fail_connect() {
    std::string e = "PostgreSQL: cannot connect: " + pq_error(c_);
    if (c_) PQfinish(c_);
    c_ = nullptr;
    throw StoreError(e);
  }
  // False when the deadline passed.
  bool wait_socket(short events, Clock::time_point deadline) {
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd pfd{PQsocket(c_), events, 0};
      int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return true;  // let libpq report it
    }
  }
  [[noreturn]] void timeout() {
    // Ask the server to stop the statement; the connection is not reused either way.
    if (PGcancel* cancel = PQgetCancel(c_)) {
      char err[256];
      PQcancel(cancel, err, sizeof err);
      PQfreeCancel(cancel);
    }
    broken = true;
    throw StoreError("PostgreSQL: no answer within the time allowed (statement cancelled)");
  }
  PGconn* c_ = nullptr;
};

namespace {

using Conn = PgQuarantineStore::Conn;

// A transaction on a leased connection: rolled back unless committed.
class Tx {
 public:
  Tx(Conn& c, Clock::time_point deadline) : c_(c), deadline_(deadline) {
    c_.exec("BEGIN", deadline_);
  }
  ~Tx() {
    if (done_) return;
    try {
      if (!c_.broken) c_.exec("ROLLBACK", Clock::now() + std::chrono::seconds(5));
    } catch (...) {
      c_.broken = true;
    }
  }
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  Result exec(const char* sql, const Params& p = {}, bool binary = false) {
    return c_.exec(sql, p, deadline_, binary);
  }
  void commit() {
    done_ = true;  // a failed COMMIT leaves nothing to roll back (or a dead connection)
    c_.exec("COMMIT", deadline_);
  }

 private:
  Conn& c_;
  Clock::time_point deadline_;
  bool done_ = false;
};

QuarantineItem read_item(const Result& r, int row) {
  QuarantineItem it;
  it.id = r.text(row, 0);
  it.received_at = r.integer(row, 1);
  it.queue_id = r.text(row, 2);
  it.sender = r.text(row, 3);
  it.recipients = from_json(r.text(row, 4));
  it.held_recipients = from_json(r.text(row, 5));
  it.subject = r.text(row, 6);
  it.categories = from_json(r.text(row, 7));
  it.rules = from_json(r.text(row, 8));
  it.action = r.text(row, 9);
  it.snapshot = r.text(row, 10);
  it.size = static_cast<std::uint64_t>(r.integer(row, 11));
  it.status = parse_quarantine_status(r.text(row, 12)).value_or(QuarantineStatus::held);
  it.status_at = r.integer(row, 13);
  it.status_by = r.text(row, 14);
  it.released_recipients = from_json(r.text(row, 15));
  it.claim = r.text(row, 16);
  it.claim_by = r.text(row, 17);
  it.claim_at = r.integer(row, 18);
  it.route = r.text(row, 19);
  it.school = r.text(row, 20);
  return it;
}

// One audit entry, with the school of its message from the message's row ("" for none).
void insert_audit(Tx& tx, std::string_view actor, std::string_view action,
                  std::string_view message_id, std::string_view note) {
  tx.exec(
      "INSERT INTO audit(at, actor, action, message_id, note, school) VALUES($1,$2,$3,$4::text,$5,"
      " coalesce((SELECT school FROM messages WHERE id = $4::text), ''))",
      Params().add(now_s()).add(actor).add(action).add(message_id).add(note));
}

// " AND <column> = ANY($n)" for a set of schools, its parameter (a text[] literal)
// appended to `p`; "" when the set is empty (every school).
std::string schools_clause(const std::vector<std::string>& schools, Params& p) {
  if (schools.empty()) return "";
  std::string arr = "{";
  for (std::size_t i = 0; i < schools.size(); ++i) {
    arr += i ? ",\"" : "\"";
    for (char c : schools[i]) {
      if (c == '"' || c == '\\') arr += '\\';
      arr += c;
    }
    arr += '"';
  }
  p.add(std::string_view(arr + "}"));
  return " AND school = ANY($" + std::to_string(p.size()) + "::text[])";
}

// WHERE clause for a filter, with its parameters appended to `p` ($1.. in order).
std::string where_clause(const QuarantineFilter& f, Params& p) {
  std::string w = " WHERE true";
  auto next = [&] { return "$" + std::to_string(p.size()); };
  if (f.status) {
    p.add(std::string_view(to_string(*f.status)));
    w += " AND status = " + next();
  }
  if (!f.category.empty()) {
    p.add(f.category);
    w += " AND categories::jsonb ? " + next();
  }
  if (!f.sender.empty()) {
    p.add(f.sender);
    w += " AND strpos(lower(sender), lower(" + next() + ")) > 0";
  }
  if (f.since) {
    p.add(f.since);
    w += " AND received_at >= " + next();
  }
  if (f.until) {
    p.add(f.until);
    w += " AND received_at < " + next();
  }
  w += schools_clause(f.schools, p);
  return w;
}

std::string join_list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& r : v) s += (s.empty() ? "" : ", ") + r;
  return s;
}

// A key over an imported row's content: the same row imported twice has the same key.
std::string import_key(const std::vector<std::string>& fields) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 16);
  for (const auto& f : fields) {
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(f.data()), f.size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>("\0"), 1);
  }
  unsigned char out[16];
  crypto_generichash_final(&st, out, sizeof out);
  static const char* hex = "0123456789abcdef";
  std::string h = "sqlite:";
  for (unsigned char c : out) {
    h.push_back(hex[c >> 4]);
    h.push_back(hex[c & 15]);
  }
  return h;
}

int read_version(Conn& c, Clock::time_point deadline) {
  Result t = c.exec("SELECT to_regclass('schema_version') IS NOT NULL", deadline);
  if (t.text(0, 0) != "t") return -1;
  Result v = c.exec("SELECT coalesce(max(version), 0) FROM schema_version", deadline);
  return static_cast<int>(v.integer(0, 0));
}

void check_version(Conn& c, Clock::time_point deadline) {
  int v = read_version(c, deadline);
  if (v == kWanted) return;
  if (v > kWanted)
    throw StoreError("PostgreSQL quarantine schema is at version " + std::to_string(v) +
                     ", newer than this policy-milter (" + std::to_string(kWanted) +
                     "): upgrade policy-milter");
  throw StoreError("PostgreSQL quarantine schema is at version " + std::to_string(std::max(v, 0)) +
                   ", this policy-milter needs " + std::to_string(kWanted) +
                   ": run `policyctl store migrate`");
}

}  // namespace

// ---- The pool ---------------------------------------------------------------------------

// A connection leased from the pool for one operation; returned (or closed) on scope exit.
class Lease {
 public:
  Lease(const PgQuarantineStore& s, Clock::time_point deadline) : s_(s), c_(s.acquire(deadline)) {}
  ~Lease() { s_.give_back(c_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Conn& operator*() const { return *c_; }

 private:
  const PgQuarantineStore& s_;
  Conn* c_;
};

PgQuarantineStore::PgQuarantineStore(const StoreConfig& config, bool lazy) : config_(config) {
  if (sodium_init() < 0) throw StoreError("libsodium failed to initialise");
  config_.pg_connections = std::max(1u, config_.pg_connections);
  health_.since = now_s();
  if (lazy) {
    try {
      Lease l(*this, query_deadline());
      note_ok();
    } catch (const StoreError& e) {
      note_failure(e.what());
    }
    return;
  }
  Lease l(*this, query_deadline());  // throws: unreachable, or schema not migrated
}

PgQuarantineStore::~PgQuarantineStore() {
  for (Conn* c : idle_) delete c;
}

Clock::time_point PgQuarantineStore::query_deadline() const {
  return Clock::now() + config_.pg_query_timeout;
}

PgQuarantineStore::Conn* PgQuarantineStore::acquire(Clock::time_point deadline) const {
  {
    std::unique_lock lock(mu_);
    for (;;) {
      if (!idle_.empty()) {
        Conn* c = idle_.back();
        idle_.pop_back();
        if (c->alive()) return c;
        delete c;  // closed by a server restart: not worth a failed put
        --open_;
        continue;
      }
      if (open_ < config_.pg_connections) {
        ++open_;
        break;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= config_.pg_connections)
        throw StoreError("PostgreSQL: every connection of the pool stayed busy");
    }
  }
  // A new connection, outside the lock (connecting may take a while).
  try {
    auto c = std::make_unique<Conn>(config_, deadline);
    check_version(*c, deadline);
    return c.release();
  } catch (...) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    throw;
  }
}

void PgQuarantineStore::give_back(Conn* c) const {
  std::lock_guard lock(mu_);
  if (c->usable()) {
    idle_.push_back(c);
  } else {
    delete c;
    --open_;
  }
  cv_.notify_one();
}

void PgQuarantineStore::note_ok() const {
  std::lock_guard lock(mu_);
  if (health_.ok) return;
  health_.ok = true;
  health_.problem.clear();
  health_.since = now_s();
  health_.events.push_back("PostgreSQL answers again: quarantining resumed");
  if (health_.events.size() > 20) health_.events.erase(health_.events.begin());
}

void PgQuarantineStore::note_failure(const std::string& problem) const {
  std::lock_guard lock(mu_);
  // One outage, one problem (the daemon alerts the admin once per problem), whatever
  // libpq says on each attempt meanwhile.
  if (!health_.ok) return;
  health_.ok = false;
  health_.problem = problem;
  health_.since = now_s();
}

StoreHealth PgQuarantineStore::health() const {
  std::lock_guard lock(mu_);
  return health_;
}

std::string PgQuarantineStore::describe() const {
  // host and dbname only: the dsn may carry a password.
  PQconninfoOption* opts = PQconninfoParse(config_.dsn.c_str(), nullptr);
  std::string host = "(default host)", db = "(default database)";
  for (auto* o = opts; o && o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    if (std::string_view(o->keyword) == "host") host = o->val;
    if (std::string_view(o->keyword) == "dbname") db = o->val;
  }
  PQconninfoFree(opts);
  return "postgresql " + host + "/" + db;
}

int PgQuarantineStore::schema_version_wanted() {
  return kWanted;
}

int PgQuarantineStore::schema_version() const {
  // A connection from the pool already passed check_version().
  Lease l(*this, query_deadline());
  return read_version(*l, query_deadline());
}

int PgQuarantineStore::migrate(const StoreConfig& config) {
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  Conn c(config, deadline);
  c.exec(("SELECT pg_advisory_lock(" + std::string(kMigrateLock) + ")").c_str(), deadline);
  c.exec(
      "CREATE TABLE IF NOT EXISTS schema_version(version integer PRIMARY KEY, what text NOT NULL,"
      " applied_at bigint NOT NULL)",
      deadline);
  int applied = 0;
  for (int v = read_version(c, deadline); v < kWanted; ++v) {
    if (v < 0) v = 0;
    Tx tx(c, deadline);
    c.exec_script(kPgMigrations[v].sql, deadline);
    tx.exec("INSERT INTO schema_version(version, what, applied_at) VALUES($1,$2,$3)",
            Params().add(std::int64_t{v + 1}).add(kPgMigrations[v].what).add(now_s()));
    tx.commit();
    ++applied;
  }
  if (read_version(c, deadline) > kWanted)
    throw StoreError("PostgreSQL quarantine schema is newer than this policy-milter");
  c.exec(("SELECT pg_advisory_unlock(" + std::string(kMigrateLock) + ")").c_str(), deadline);
  return applied;
}

// ---- The put side --------------------------------------------------------------------

std::string PgQuarantineStore::put(std::string_view message, const QuarantineInput& input) {
  return put(message, input, Clock::now() + config_.put.put_timeout);
}

std::string PgQuarantineStore::put(std::string_view message, const QuarantineInput& in,
                                   Clock::time_point deadline) {
  try {
    Lease l(*this, deadline);
    Tx tx(*l, deadline);
    std::string id;
    if (!in.digest.empty()) {
      // Puts of one digest, from any relay, one after the other.
      tx.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", Params().add(in.digest));
      Result held = tx.exec("SELECT id FROM messages WHERE digest = $1 AND status = 'held'",
                            Params().add(in.digest));
      if (held.rows() > 0) {
        id = held.text(0, 0);
        // The client's retry of a message already held: not stored twice, but on record.
        insert_audit(tx, "policy-milter", "retried", id,
                     in.queue_id.empty() ? "" : "queue id " + in.queue_id);
        tx.commit();
        note_ok();
        return id;
      }
      // A decided message with the same digest does not swallow a new one.
      tx.exec("UPDATE messages SET digest = NULL WHERE digest = $1", Params().add(in.digest));
    }
    id = new_id();
    const std::int64_t now = now_s();
    Params p;
    p.add(id).add(now).add(in.queue_id).add(in.sender).add(to_json(in.recipients));
    p.add(to_json(in.held_recipients)).add(in.subject).add(to_json(in.categories));
    p.add(to_json(in.rules)).add(in.action).add(in.snapshot);
    p.add(static_cast<std::int64_t>(message.size())).add(in.verdict_json).add(now);
    if (in.digest.empty())
      p.add_null();
    else
      p.add(in.digest);
    p.add(in.school);
    tx.exec(
        "INSERT INTO messages(id, received_at, queue_id, sender, recipients, held_recipients,"
        " subject, categories, rules, action, snapshot, size, verdict_json, status, status_at,"
        " status_by, digest, school) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,'held',$14,"
        "'policy-milter',$15,$16)",
        p);
    tx.exec("INSERT INTO message_bytes(id, bytes) VALUES($1, $2)",
            Params().add(id).add_bytes(message));
    insert_audit(tx, "policy-milter", "quarantined", id,
                 in.queue_id.empty() ? "" : "queue id " + in.queue_id);
    tx.commit();
    note_ok();
    return id;
  } catch (const StoreError& e) {
    note_failure(e.what());
    throw;
  }
}

// ---- Reading -----------------------------------------------------------------------------

std::vector<QuarantineItem> PgQuarantineStore::list(const QuarantineFilter& f) const {
  Params p;
  std::string sql = std::string("SELECT ") + kColumns + " FROM messages" + where_clause(f, p);
  p.add(static_cast<std::int64_t>(f.limit));
  sql += " ORDER BY received_at DESC, id DESC LIMIT $" + std::to_string(p.size());
  p.add(static_cast<std::int64_t>(f.offset));
  sql += " OFFSET $" + std::to_string(p.size());
  Lease l(*this, query_deadline());
  Result r = (*l).exec(sql.c_str(), p, query_deadline());
  std::vector<QuarantineItem> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_item(r, i));
  return out;
}

std::size_t PgQuarantineStore::count(const QuarantineFilter& f) const {
  Params p;
  std::string sql = "SELECT count(*) FROM messages" + where_clause(f, p);
  Lease l(*this, query_deadline());
  Result r = (*l).exec(sql.c_str(), p, query_deadline());
  return static_cast<std::size_t>(r.integer(0, 0));
}

std::optional<QuarantineItem> PgQuarantineStore::get(std::string_view id) const {
  if (!valid_id(id)) return std::nullopt;
  Lease l(*this, query_deadline());
  Result r = (*l).exec((std::string("SELECT ") + kColumns + " FROM messages WHERE id = $1").c_str(),
                       Params().add(id), query_deadline());
  if (r.rows() == 0) return std::nullopt;
  return read_item(r, 0);
}

std::string PgQuarantineStore::read_message(std::string_view id) const {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Result st =
      (*l).exec("SELECT status FROM messages WHERE id = $1", Params().add(id), query_deadline());
  if (st.rows() == 0) throw std::invalid_argument("unknown quarantine id");
  if (st.text(0, 0) == "deleted" || st.text(0, 0) == "refused") return {};
  Result b = (*l).exec("SELECT bytes FROM message_bytes WHERE id = $1", Params().add(id),
                       query_deadline(), true);
  if (b.rows() == 0)
    throw StoreError("PostgreSQL: the bytes of message " + std::string(id) + " are missing");
  return b.text(0, 0);
}

std::string PgQuarantineStore::read_verdict_json(std::string_view id) const {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Result r = (*l).exec("SELECT verdict_json FROM messages WHERE id = $1", Params().add(id),
                       query_deadline());
  if (r.rows() == 0) throw std::invalid_argument("unknown quarantine id");
  return r.text(0, 0);
}

// ---- Decisions -------------------------------------------------------------------------

void PgQuarantineStore::release(std::string_view id, std::string_view actor,
                                std::string_view note) {
  change_status(id, QuarantineStatus::released, actor, note);
}

void PgQuarantineStore::refuse(std::string_view id, std::string_view actor, std::string_view note) {
  change_status(id, QuarantineStatus::refused, actor, note);
}

void PgQuarantineStore::remove(std::string_view id, std::string_view actor, std::string_view note) {
  change_status(id, QuarantineStatus::deleted, actor, note);
}

void PgQuarantineStore::change_status(std::string_view id, QuarantineStatus to,
                                      std::string_view actor, std::string_view note) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Tx tx(*l, query_deadline());
  Result cur = tx.exec("SELECT status, claim, claim_by FROM messages WHERE id = $1 FOR UPDATE",
                       Params().add(id));
  if (cur.rows() == 0) throw std::invalid_argument("unknown quarantine id");
  auto from = parse_quarantine_status(cur.text(0, 0)).value_or(QuarantineStatus::held);
  if (!cur.text(0, 1).empty())
    throw DecisionConflict("this message is being " +
                           std::string(cur.text(0, 1) == "releasing" ? "released" : "decided") +
                           " by " + cur.text(0, 2));
  bool allowed = to == QuarantineStatus::deleted ? from != QuarantineStatus::deleted
                                                 : from == QuarantineStatus::held;
  if (!allowed) throw DecisionConflict(std::string("this message is already ") + to_string(from));
  const std::int64_t now = now_s();
  if (to == QuarantineStatus::deleted)
    tx.exec(
        "UPDATE messages SET status='deleted', status_at=$1, status_by=$2, verdict_json='',"
        " subject='' WHERE id = $3",
        Params().add(now).add(actor).add(id));
  else if (to == QuarantineStatus::refused)
    tx.exec(
        "UPDATE messages SET status='refused', status_at=$1, status_by=$2, verdict_json=''"
        " WHERE id = $3",
        Params().add(now).add(actor).add(id));
  else
    tx.exec("UPDATE messages SET status=$1, status_at=$2, status_by=$3 WHERE id = $4",
            Params().add(std::string_view(to_string(to))).add(now).add(actor).add(id));
  // Refusing or deleting drops the bytes with the decision (personal data).
  if (to == QuarantineStatus::deleted || to == QuarantineStatus::refused)
    tx.exec("DELETE FROM message_bytes WHERE id = $1", Params().add(id));
  insert_audit(tx, actor, to_string(to), id, note);
  tx.commit();
}

bool PgQuarantineStore::release_to(std::string_view id, const std::vector<std::string>& recipients,
                                   std::string_view actor, std::string_view note) {
  claim_release(id, recipients, actor);
  return complete_release(id, actor, note);
}

std::vector<std::string> PgQuarantineStore::purge_decided(std::int64_t before,
                                                          std::string_view actor) {
  std::vector<std::string> ids;
  {
    Lease l(*this, query_deadline());
    Result r = (*l).exec(
        "SELECT id FROM messages WHERE status IN ('released','refused') AND status_at < $1"
        " ORDER BY status_at",
        Params().add(before), query_deadline());
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.text(i, 0));
  }
  std::vector<std::string> done;
  for (const auto& id : ids) {
    try {
      remove(id, actor, "retention: decided mail purged");
      done.push_back(id);
    } catch (const DecisionConflict&) {
      // Another server purged it meanwhile.
    }
  }
  return done;
}

bool PgQuarantineStore::claim_notice(std::string_view id, std::string_view kind) {
  Lease l(*this, query_deadline());
  Result r =
      (*l).exec("INSERT INTO notices(message_id, kind, at) VALUES($1,$2,$3) ON CONFLICT DO NOTHING",
                Params().add(id).add(kind).add(now_s()), query_deadline());
  return r.affected() == 1;
}

void PgQuarantineStore::unclaim_notice(std::string_view id, std::string_view kind) {
  Lease l(*this, query_deadline());
  (*l).exec("DELETE FROM notices WHERE message_id = $1 AND kind = $2", Params().add(id).add(kind),
            query_deadline());
}

std::vector<QuarantineItem> PgQuarantineStore::held_without_notice(std::string_view kind) const {
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM messages WHERE status = 'held' AND NOT EXISTS (SELECT 1 FROM notices"
                    " WHERE notices.message_id = messages.id AND notices.kind = $1)"
                    " ORDER BY received_at, id";
  Lease l(*this, query_deadline());
  Result r = (*l).exec(sql.c_str(), Params().add(kind), query_deadline());
  std::vector<QuarantineItem> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_item(r, i));
  return out;
}

void PgQuarantineStore::record_dismissal(std::string_view id, std::string_view actor,
                                         std::string_view rule, std::string_view context,
                                         std::string_view note, std::string_view proposal) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Tx tx(*l, query_deadline());
  if (tx.exec("SELECT 1 FROM messages WHERE id = $1", Params().add(id)).rows() == 0)
    throw std::invalid_argument("unknown quarantine id");
  tx.exec(
      "INSERT INTO dismissals(at, actor, message_id, rule, context, note, proposal)"
      " VALUES($1,$2,$3,$4,$5,$6,$7)",
      Params().add(now_s()).add(actor).add(id).add(rule).add(context).add(note).add(proposal));
  insert_audit(tx, actor, "not-a-violation", id, "rule " + std::string(rule));
  tx.commit();
}

std::vector<Dismissal> PgQuarantineStore::dismissals(std::size_t limit) const {
  Lease l(*this, query_deadline());
  Result r = (*l).exec(
      "SELECT seq, at, actor, message_id, rule, context, note, proposal FROM dismissals"
      " ORDER BY seq DESC LIMIT $1",
      Params().add(static_cast<std::int64_t>(limit)), query_deadline());
  std::vector<Dismissal> out;
  for (int i = 0; i < r.rows(); ++i) {
    Dismissal d;
    d.seq = r.integer(i, 0);
    d.at = r.integer(i, 1);
    d.actor = r.text(i, 2);
    d.message_id = r.text(i, 3);
    d.rule = r.text(i, 4);
    d.context = r.text(i, 5);
    d.note = r.text(i, 6);
    d.proposal = r.text(i, 7);
    out.push_back(std::move(d));
  }
  return out;
}

std::string PgQuarantineStore::secret(std::string_view name) {
  unsigned char rnd[32];
  if (::getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd))
    throw StoreError(std::string("getrandom: ") + std::strerror(errno));
  static const char* hex = "0123456789abcdef";
  std::string value;
  for (unsigned char c : rnd) {
    value.push_back(hex[c >> 4]);
    value.push_back(hex[c & 15]);
  }
  // The first process (of any relay or review server) makes the key; the rest read it.
  Lease l(*this, query_deadline());
  (*l).exec("INSERT INTO secrets(name, value) VALUES($1,$2) ON CONFLICT DO NOTHING",
            Params().add(name).add(value), query_deadline());
  Result r =
      (*l).exec("SELECT value FROM secrets WHERE name = $1", Params().add(name), query_deadline());
  if (r.rows() != 1) throw StoreError("secret " + std::string(name) + " missing");
  return r.text(0, 0);
}

bool PgQuarantineStore::queue_notice(std::string_view message_id, std::string_view kind,
                                     std::string_view env_from,
                                     const std::vector<std::string>& rcpts, std::string_view data) {
  Lease l(*this, query_deadline());
  Result r = (*l).exec(
      "INSERT INTO outbox(message_id, kind, env_from, rcpts, data, queued_at)"
      " VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
      Params().add(message_id).add(kind).add(env_from).add(to_json(rcpts)).add(data).add(now_s()),
      query_deadline());
  return r.affected() == 1;
}

std::vector<OutboxNotice> PgQuarantineStore::claim_outbox(std::int64_t now,
                                                          std::int64_t stale_before,
                                                          std::size_t limit) {
  Lease l(*this, query_deadline());
  // One statement, rows locked and skipped by a concurrent claimer: two processes (on two
  // servers) draining at once never claim the same notice.
  Result r = (*l).exec(
      "UPDATE outbox SET claimed_at = $1, attempts = attempts + 1 WHERE seq IN (SELECT seq"
      " FROM outbox WHERE sent_at = 0 AND claimed_at < $2 ORDER BY seq LIMIT $3"
      " FOR UPDATE SKIP LOCKED)"
      " RETURNING seq, message_id, kind, env_from, rcpts, data, attempts",
      Params().add(now).add(stale_before).add(static_cast<std::int64_t>(limit)), query_deadline());
  std::vector<OutboxNotice> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.integer(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3),
                   from_json(r.text(i, 4)), r.text(i, 5), static_cast<int>(r.integer(i, 6))});
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  return out;
}

void PgQuarantineStore::outbox_done(std::int64_t seq, bool sent) {
  Lease l(*this, query_deadline());
  // Once sent, the rendered text (addresses, a Subject) is personal data nobody needs.
  if (sent)
    (*l).exec("UPDATE outbox SET sent_at = $1, data = '' WHERE seq = $2",
              Params().add(now_s()).add(seq), query_deadline());
  else
    (*l).exec("UPDATE outbox SET claimed_at = 0 WHERE seq = $1", Params().add(seq),
              query_deadline());
}

std::int64_t PgQuarantineStore::record_monitor(const MonitorInput& in) {
  Lease l(*this, query_deadline());
  Result r = (*l).exec(
      "INSERT INTO monitor(at, queue_id, sender, recipients, subject, categories, rules,"
      " would_action, verdict_json, school) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING seq",
      Params()
          .add(now_s())
          .add(in.queue_id)
          .add(in.sender)
          .add(to_json(in.recipients))
          .add(in.subject)
          .add(to_json(in.categories))
          .add(to_json(in.rules))
          .add(in.would_action)
          .add(in.verdict_json)
          .add(in.school),
      query_deadline());
  return r.rows() == 1 ? r.integer(0, 0) : 0;
}

std::vector<MonitorItem> PgQuarantineStore::monitor_list(
    std::size_t limit, std::size_t offset, const std::vector<std::string>& schools) const {
  Params p;
  std::string sql =
      "SELECT seq, at, queue_id, sender, recipients, subject, categories, rules, would_action,"
      " verdict_json, school FROM monitor WHERE true" +
      schools_clause(schools, p);
  p.add(static_cast<std::int64_t>(limit));
  sql += " ORDER BY seq DESC LIMIT $" + std::to_string(p.size());
  p.add(static_cast<std::int64_t>(offset));
  sql += " OFFSET $" + std::to_string(p.size());
  Lease l(*this, query_deadline());
  Result r = (*l).exec(sql.c_str(), p, query_deadline());
  std::vector<MonitorItem> out;
  for (int i = 0; i < r.rows(); ++i) {
    MonitorItem m;
    m.seq = r.integer(i, 0);
    m.at = r.integer(i, 1);
    m.queue_id = r.text(i, 2);
    m.sender = r.text(i, 3);
    m.recipients = from_json(r.text(i, 4));
    m.subject = r.text(i, 5);
    m.categories = from_json(r.text(i, 6));
    m.rules = from_json(r.text(i, 7));
    m.would_action = r.text(i, 8);
    m.verdict_json = r.text(i, 9);
    m.school = r.text(i, 10);
    out.push_back(std::move(m));
  }
  return out;
}

std::size_t PgQuarantineStore::purge_monitor(std::int64_t before) {
  Lease l(*this, query_deadline());
  Result r = (*l).exec("DELETE FROM monitor WHERE at < $1", Params().add(before), query_deadline());
  return static_cast<std::size_t>(r.affected());
}

void PgQuarantineStore::audit(std::string_view actor, std::string_view action,
                              std::string_view message_id, std::string_view note) {
  Lease l(*this, query_deadline());
  Tx tx(*l, query_deadline());
  insert_audit(tx, actor, action, message_id, note);
  tx.commit();
}

std::vector<AuditEntry> PgQuarantineStore::audit_log(std::string_view message_id,
                                                     std::size_t limit) const {
  AuditQuery q;
  q.message_id = std::string(message_id);
  q.limit = limit;
  return audit_page(q);
}

std::vector<AuditEntry> PgQuarantineStore::audit_page(const AuditQuery& q) const {
  Params p;
  std::string sql = "SELECT seq, at, actor, action, message_id, note, school FROM audit WHERE true";
  if (!q.message_id.empty()) {
    p.add(q.message_id);
    sql += " AND message_id = $" + std::to_string(p.size());
  }
  if (!q.action.empty()) {
    p.add(q.action);
    sql += " AND action = $" + std::to_string(p.size());
  }
  if (q.before > 0) {
    p.add(q.before);
    sql += " AND seq < $" + std::to_string(p.size());
  }
  sql += schools_clause(q.schools, p);
  p.add(static_cast<std::int64_t>(q.limit));
  sql += " ORDER BY seq DESC LIMIT $" + std::to_string(p.size());
  Lease l(*this, query_deadline());
  Result r = (*l).exec(sql.c_str(), p, query_deadline());
  std::vector<AuditEntry> out;
  for (int i = 0; i < r.rows(); ++i) {
    AuditEntry e;
    e.seq = r.integer(i, 0);
    e.at = r.integer(i, 1);
    e.actor = r.text(i, 2);
    e.action = r.text(i, 3);
    e.message_id = r.text(i, 4);
    e.note = r.text(i, 5);
    e.school = r.text(i, 6);
    out.push_back(std::move(e));
  }
  return out;
}

int PgQuarantineStore::claim_release(std::string_view id,
                                     const std::vector<std::string>& recipients,
                                     std::string_view actor) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Tx tx(*l, query_deadline());
  // FOR UPDATE: a second decider (any server) waits here and then sees the claim.
  Result cur = tx.exec(
      "SELECT status, claim, claim_by, held_recipients FROM messages WHERE id = $1 FOR UPDATE",
      Params().add(id));
  if (cur.rows() == 0) throw std::invalid_argument("unknown quarantine id");
  if (!cur.text(0, 1).empty())
    throw DecisionConflict("this message is being released by " + cur.text(0, 2));
  if (cur.text(0, 0) != "held") throw DecisionConflict("this message is already " + cur.text(0, 0));
  const std::vector<std::string> held = from_json(cur.text(0, 3));
  if (recipients.empty()) throw std::invalid_argument("no recipients to release to");
  for (const auto& r : recipients)
    if (std::find(held.begin(), held.end(), r) == held.end())
      throw std::invalid_argument("not a held recipient of this message");
  Result n =
      tx.exec("SELECT count(*) FROM audit WHERE message_id = $1 AND action = 'release-attempt'",
              Params().add(id));
  const int attempt = static_cast<int>(n.integer(0, 0)) + 1;
  tx.exec(
      "UPDATE messages SET claim='releasing', claim_by=$1, claim_at=$2, claim_recipients=$3"
      " WHERE id = $4",
      Params().add(actor).add(now_s()).add(to_json(recipients)).add(id));
  insert_audit(tx, actor, "release-attempt", id,
               "attempt " + std::to_string(attempt) + " to " + join_list(recipients));
  tx.commit();
  return attempt;
}

bool PgQuarantineStore::complete_release(std::string_view id, std::string_view actor,
                                         std::string_view note) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Tx tx(*l, query_deadline());
  Result cur = tx.exec(
      "SELECT claim, claim_by, claim_recipients, held_recipients, released_recipients"
      " FROM messages WHERE id = $1 FOR UPDATE",
      Params().add(id));
  if (cur.rows() == 0) throw std::invalid_argument("unknown quarantine id");
  if (cur.text(0, 0) != "releasing" || cur.text(0, 1) != actor)
    throw DecisionConflict("no release of this message in progress by " + std::string(actor));
  const std::vector<std::string> rcpts = from_json(cur.text(0, 2));
  std::vector<std::string> released = from_json(cur.text(0, 4)), left;
  for (const auto& h : from_json(cur.text(0, 3)))
    if (std::find(rcpts.begin(), rcpts.end(), h) == rcpts.end())
      left.push_back(h);
    else
      released.push_back(h);
  std::string full_note = "to " + join_list(rcpts) + (note.empty() ? "" : "; " + std::string(note));
  tx.exec(left.empty()
              ? "UPDATE messages SET status='released', status_at=$1, status_by=$2,"
                " held_recipients=$3, released_recipients=$4, claim='', claim_by='', claim_at=0,"
                " claim_recipients='[]' WHERE id = $5"
              : "UPDATE messages SET status_at=$1, status_by=$2, held_recipients=$3,"
                " released_recipients=$4, claim='', claim_by='', claim_at=0,"
                " claim_recipients='[]' WHERE id = $5",
          Params()
              .add(now_s())
              .add(actor)
              .add(to_json(left.empty() ? rcpts : left))
              .add(to_json(released))
              .add(id));
  insert_audit(tx, actor, left.empty() ? "released" : "released-partial", id, full_note);
  tx.commit();
  return left.empty();
}

void PgQuarantineStore::abandon_release(std::string_view id, std::string_view actor,
                                        std::string_view error) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Tx tx(*l, query_deadline());
  Result up = tx.exec(
      "UPDATE messages SET claim='', claim_by='', claim_at=0, claim_recipients='[]'"
      " WHERE id = $1 AND claim = 'releasing' AND claim_by = $2",
      Params().add(id).add(actor));
  if (up.affected() != 1)
    throw DecisionConflict("no release of this message in progress by " + std::string(actor));
  insert_audit(tx, actor, "release-failed", id, error);
  tx.commit();
}

std::vector<std::string> PgQuarantineStore::expire_claims(std::int64_t before) {
  Lease l(*this, query_deadline());
  Tx tx(*l, query_deadline());
  Result stale =
      tx.exec("SELECT id, claim_by FROM messages WHERE claim != '' AND claim_at < $1 FOR UPDATE",
              Params().add(before));
  std::vector<std::string> ids;
  for (int i = 0; i < stale.rows(); ++i) {
    std::string id = stale.text(i, 0);
    tx.exec(
        "UPDATE messages SET claim='', claim_by='', claim_at=0, claim_recipients='[]' WHERE id = "
        "$1",
        Params().add(id));
    insert_audit(tx, "policy-review", "claim-expired", id,
                 "the release by " + stale.text(i, 1) + " did not finish; held again");
    ids.push_back(id);
  }
  tx.commit();
  return ids;
}

bool PgQuarantineStore::set_route(std::string_view id, std::string_view route_json) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  Lease l(*this, query_deadline());
  Result r = (*l).exec("UPDATE messages SET route = $1 WHERE id = $2 AND route = ''",
                       Params().add(route_json).add(id), query_deadline());
  return r.affected() == 1;
}

// ---- Import from SQLite ----------------------------------------------------------------

PgQuarantineStore::ImportReport PgQuarantineStore::migrate_from_sqlite(const fs::path& dir) {
  using store_detail::Stmt;
  const fs::path index = dir / "index.sqlite";
  if (!fs::exists(index)) throw StoreError("no SQLite quarantine at " + index.string());
  // Brings an old store's schema up to date first (the columns read below).
  { QuarantineStore upgrade(dir); }
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(index.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string e = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    throw StoreError("open " + index.string() + ": " + e);
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
  sqlite3_busy_timeout(raw, 10000);

  // The current SQLite row's columns from `first` on as statement parameters, each as text
  // ('t') or integer ('i').
  auto row = [](const Stmt& st, std::string_view kinds, int first = 0) {
    Params p;
    for (char k : kinds) {
      if (k == 'i')
        p.add(st.integer(first++));
      else
        p.add(st.text(first++));
    }
    return p;
  };
  ImportReport rep;
  const auto deadline = Clock::now() + std::chrono::hours(2);
  Lease l(*this, deadline);
  Tx tx(*l, deadline);
  tx.exec(("SELECT pg_advisory_xact_lock(" + std::string(kImportLock) + ")").c_str());
  // A read transaction on SQLite: one consistent view of rows and audit.
  store_detail::exec(raw, "BEGIN");

  {
    Stmt st(raw,
            "SELECT id, received_at, queue_id, sender, recipients, held_recipients, subject,"
            " categories, rules, action, snapshot, size, verdict_json, status, status_at,"
            " status_by, released_recipients, digest, claim, claim_by, claim_at,"
            " claim_recipients, route, school FROM messages ORDER BY received_at, id");
    while (st.step()) {
      const std::string id = st.text(0), status = st.text(13);
      if (tx.exec("SELECT 1 FROM messages WHERE id = $1", Params().add(id)).rows() > 0) {
        ++rep.messages_present;
        continue;
      }
      std::string digest = st.text(17);
      bool digest_null = digest.empty();
      if (!digest_null &&
          tx.exec("SELECT 1 FROM messages WHERE digest = $1", Params().add(digest)).rows() > 0) {
        // The same message is already in PostgreSQL (a retry that reached a relay on the
        // new store): both are kept, the imported one without its digest.
        digest_null = true;
        ++rep.digests_cleared;
      }
      Params p;
      p.add(id).add(st.integer(1)).add(st.text(2)).add(st.text(3)).add(st.text(4));
      p.add(st.text(5)).add(st.text(6)).add(st.text(7)).add(st.text(8)).add(st.text(9));
      p.add(st.text(10)).add(st.integer(11)).add(st.text(12)).add(status).add(st.integer(14));
      p.add(st.text(15)).add(st.text(16));
      if (digest_null)
        p.add_null();
      else
        p.add(digest);
      p.add(st.text(18)).add(st.text(19)).add(st.integer(20)).add(st.text(21)).add(st.text(22));
      p.add(st.text(23));
      tx.exec(
          "INSERT INTO messages(id, received_at, queue_id, sender, recipients, held_recipients,"
          " subject, categories, rules, action, snapshot, size, verdict_json, status, status_at,"
          " status_by, released_recipients, digest, claim, claim_by, claim_at, claim_recipients,"
          " route, school) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,"
          "$19,$20,$21,$22,$23,$24)",
          p);
      ++rep.messages;
      // Held and released mail keeps its bytes; refused and deleted mail has none.
      if (status == "held" || status == "released") {
        std::ifstream in(dir / "msg" / (id + ".eml"), std::ios::binary);
        if (!in) {
          ++rep.bytes_missing;
          if (rep.missing_ids.size() < 10) rep.missing_ids.push_back(id);
          continue;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        tx.exec("INSERT INTO message_bytes(id, bytes) VALUES($1, $2)",
                Params().add(id).add_bytes(ss.str()));
        ++rep.bytes;
      }
    }
  }
  {
    Stmt st(raw, "SELECT seq, at, actor, action, message_id, note, school FROM audit ORDER BY seq");
    while (st.step()) {
      std::vector<std::string> fields = {"audit",
                                         std::to_string(st.integer(0)),
                                         std::to_string(st.integer(1)),
                                         st.text(2),
                                         st.text(3),
                                         st.text(4),
                                         st.text(5)};
      // The school joins the key only when set: an entry imported before schools existed
      // keeps its key, so re-running an older import still adds nothing.
      if (!st.text(6).empty()) fields.push_back("school:" + st.text(6));
      std::string key = import_key(fields);
      Result r = tx.exec(
          "INSERT INTO audit(at, actor, action, message_id, note, import_key, school)"
          " VALUES($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (import_key) DO NOTHING",
          row(st, "itttt", 1).add(key).add(st.text(6)));
      (r.affected() == 1 ? rep.audit : rep.audit_present)++;
    }
  }
  {
    Stmt st(raw, "SELECT message_id, kind, at FROM notices");
    while (st.step()) {
      Result r = tx.exec(
          "INSERT INTO notices(message_id, kind, at) VALUES($1,$2,$3) ON CONFLICT DO NOTHING",
          Params().add(st.text(0)).add(st.text(1)).add(st.integer(2)));
      rep.notices += static_cast<std::size_t>(r.affected());
    }
  }
  {
    // The key leaves the proposal out, as it did before proposals were copied: a re-run
    // over such an earlier import fills the proposal in instead of adding a second row.
    Stmt st(raw,
            "SELECT seq, at, actor, message_id, rule, context, note, proposal FROM dismissals"
            " ORDER BY seq");
    while (st.step()) {
      std::string key =
          import_key({"dismissal", std::to_string(st.integer(0)), std::to_string(st.integer(1)),
                      st.text(2), st.text(3), st.text(4), st.text(5), st.text(6)});
      Result r = tx.exec(
          "INSERT INTO dismissals(at, actor, message_id, rule, context, note, proposal,"
          " import_key) VALUES($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (import_key) DO UPDATE"
          " SET proposal = EXCLUDED.proposal WHERE dismissals.proposal = ''"
          " AND EXCLUDED.proposal <> '' RETURNING (xmax = 0)",
          row(st, "itttttt", 1).add(key));
      if (r.rows() == 0) continue;  // present, proposal and all
      if (r.text(0, 0) == "t") ++rep.dismissals;
      if (!st.text(7).empty()) ++rep.proposals;
    }
  }
  {
    // Sent notices too: their (message, kind) row is what stops the same notice being
    // queued, and sent, a second time from the new store.
    Stmt st(raw,
            "SELECT message_id, kind, env_from, rcpts, data, queued_at, claimed_at, sent_at,"
            " attempts FROM outbox ORDER BY seq");
    while (st.step()) {
      Result r = tx.exec(
          "INSERT INTO outbox(message_id, kind, env_from, rcpts, data, queued_at, claimed_at,"
          " sent_at, attempts) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)"
          " ON CONFLICT (message_id, kind) DO NOTHING",
          row(st, "tttttiiii"));
      if (r.affected() != 1) continue;
      ++rep.outbox;
      if (st.integer(7) == 0) ++rep.outbox_pending;
    }
  }
  {
    // Monitor rows have no key of their own (and the schema is not changed for a one-off
    // move): identical rows are counted on both sides and only the difference is copied.
    // Evidence purged from PostgreSQL after an import comes back on a re-run and goes at
    // the next purge.
    Stmt st(raw,
            "SELECT at, queue_id, sender, recipients, subject, categories, rules, would_action,"
            " verdict_json, school, count(*) FROM monitor GROUP BY 1,2,3,4,5,6,7,8,9,10"
            " ORDER BY min(seq)");
    while (st.step()) {
      const Params p = row(st, "ittttttttt");
      Result have = tx.exec(
          "SELECT count(*) FROM monitor WHERE at=$1 AND queue_id=$2 AND sender=$3 AND"
          " recipients=$4 AND subject=$5 AND categories=$6 AND rules=$7 AND would_action=$8"
          " AND verdict_json=$9 AND school=$10",
          p);
      const std::int64_t want = st.integer(10), present = have.integer(0, 0);
      rep.monitor_present += static_cast<std::size_t>(std::min(want, present));
      for (std::int64_t i = present; i < want; ++i) {
        tx.exec(
            "INSERT INTO monitor(at, queue_id, sender, recipients, subject, categories, rules,"
            " would_action, verdict_json, school) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            p);
        ++rep.monitor;
      }
    }
  }
  {
    Stmt st(raw, "SELECT name, value FROM secrets ORDER BY name");
    while (st.step()) {
      Result r =
          tx.exec("INSERT INTO secrets(name, value) VALUES($1,$2) ON CONFLICT (name) DO NOTHING",
                  Params().add(st.text(0)).add(st.text(1)));
      if (r.affected() == 1) {
        ++rep.secrets;
        continue;
      }
      Result have = tx.exec("SELECT value FROM secrets WHERE name = $1", Params().add(st.text(0)));
      if (have.rows() == 1 && have.text(0, 0) == st.text(1))
        ++rep.secrets_present;
      else
        rep.secrets_differing.push_back(st.text(0));
    }
  }
  store_detail::exec(raw, "COMMIT");
  if (rep.messages || rep.audit || rep.notices || rep.dismissals || rep.proposals || rep.outbox ||
      rep.monitor || rep.secrets)
    insert_audit(tx, "policyctl", "imported", "",
                 std::to_string(rep.messages) + " messages, " + std::to_string(rep.audit) +
                     " audit entries, " + std::to_string(rep.outbox) + " outbox notices, " +
                     std::to_string(rep.monitor) + " monitor rows, " + std::to_string(rep.secrets) +
                     " secrets from an SQLite store");
  tx.commit();
  return rep;
}

}  // namespace pm
