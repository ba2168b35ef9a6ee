#include "quarantine/store.h"

#include "quarantine/put_side.h"
#include "quarantine/store_internal.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace pm {
namespace fs = std::filesystem;

const char* to_string(QuarantineStatus s) {
  switch (s) {
    case QuarantineStatus::held:
      return "held";
    case QuarantineStatus::released:
      return "released";
    case QuarantineStatus::refused:
      return "refused";
    case QuarantineStatus::deleted:
      return "deleted";
  }
  return "held";
}

std::optional<QuarantineStatus> parse_quarantine_status(std::string_view s) {
  for (auto st : {QuarantineStatus::held, QuarantineStatus::released, QuarantineStatus::refused,
                  QuarantineStatus::deleted})
    if (s == to_string(st)) return st;
  return std::nullopt;
}

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS messages(
  id TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL,
  queue_id TEXT NOT NULL DEFAULT '',
  sender TEXT NOT NULL DEFAULT '',
  recipients TEXT NOT NULL DEFAULT '[]',
  held_recipients TEXT NOT NULL DEFAULT '[]',
  subject TEXT NOT NULL DEFAULT '',
  categories TEXT NOT NULL DEFAULT '[]',
  rules TEXT NOT NULL DEFAULT '[]',
  action TEXT NOT NULL DEFAULT '',
  snapshot TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  verdict_json TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'held',
  status_at INTEGER NOT NULL DEFAULT 0,
  status_by TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS messages_received ON messages(received_at);
CREATE INDEX IF NOT EXISTS messages_status ON messages(status, received_at);
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  message_id TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_message ON audit(message_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS notices(
  message_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY(message_id, kind));
CREATE TABLE IF NOT EXISTS dismissals(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  message_id TEXT NOT NULL,
  rule TEXT NOT NULL,
  context TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '');
)sql";

constexpr const char* kColumns =
    "id, received_at, queue_id, sender, recipients, held_recipients, subject, categories, "
    "rules, action, snapshot, size, status, status_at, status_by, released_recipients, claim, "
    "claim_by, claim_at, route, school";

// Stmt, exec, Transaction, Fd, file helpers, ids, JSON lists: quarantine/store_internal.h.
using namespace store_detail;

QuarantineItem read_item(const Stmt& st) {
  QuarantineItem it;
  it.id = st.text(0);
  it.received_at = st.integer(1);
  it.queue_id = st.text(2);
  it.sender = st.text(3);
  it.recipients = from_json(st.text(4));
  it.held_recipients = from_json(st.text(5));
  it.subject = st.text(6);
  it.categories = from_json(st.text(7));
  it.rules = from_json(st.text(8));
  it.action = st.text(9);
  it.snapshot = st.text(10);
  it.size = static_cast<std::uint64_t>(st.integer(11));
  it.status = parse_quarantine_status(st.text(12)).value_or(QuarantineStatus::held);
  it.status_at = st.integer(13);
  it.status_by = st.text(14);
  it.released_recipients = from_json(st.text(15));
  it.claim = st.text(16);
  it.claim_by = st.text(17);
  it.claim_at = st.integer(18);
  it.route = st.text(19);
  it.school = st.text(20);
  return it;
}

// " AND <column> IN (?,?...)" for a set of schools ("" when the set is empty: all).
std::string schools_clause(const std::vector<std::string>& schools, const char* column = "school") {
  if (schools.empty()) return "";
  std::string w = std::string(" AND ") + column + " IN (";
  for (std::size_t i = 0; i < schools.size(); ++i) w += i ? ",?" : "?";
  return w + ")";
}

// WHERE clause for a filter; binds are applied in the same order by bind_filter().
std::string where_clause(const QuarantineFilter& f) {
  std::string w = " WHERE 1=1";
  if (f.status) w += " AND status = ?";
  if (!f.category.empty())
    w += " AND EXISTS (SELECT 1 FROM json_each(messages.categories) WHERE value = ?)";
  if (!f.sender.empty()) w += " AND instr(lower(sender), lower(?)) > 0";
  if (f.since) w += " AND received_at >= ?";
  if (f.until) w += " AND received_at < ?";
  w += schools_clause(f.schools);
  return w;
}

int bind_filter(Stmt& st, const QuarantineFilter& f) {
  int i = 1;
  if (f.status) st.bind(i++, std::string_view(to_string(*f.status)));
  if (!f.category.empty()) st.bind(i++, f.category);
  if (!f.sender.empty()) st.bind(i++, f.sender);
  if (f.since) st.bind(i++, f.since);
  if (f.until) st.bind(i++, f.until);
  for (const auto& sc : f.schools) st.bind(i++, sc);
  return i;
}

}  // namespace

void QuarantineStore::DbCloser::operator()(sqlite3* db) const noexcept {
  sqlite3_close_v2(db);
}

namespace store_detail {
namespace {

bool has_column(sqlite3* db, const char* table, const char* column) {
  Stmt cols(db, (std::string("PRAGMA table_info(") + table + ")").c_str());
  while (cols.step())
    if (cols.text(1) == column) return true;
  return false;
}

// Step 1: the schema as it was before migrations existed (every statement idempotent, so
// stores created then, at user_version 0, pass through it unchanged).
void migrate_baseline(sqlite3* db) {
  exec(db, kSchema);
  // Stores created before partial release existed lack this column.
  if (!has_column(db, "messages", "released_recipients"))
    exec(db, "ALTER TABLE messages ADD COLUMN released_recipients TEXT NOT NULL DEFAULT '[]'");
}

// Issue 11: put() is idempotent per message - a retry of a deferred message (new queue
// id, same envelope and bytes) finds the held copy by its digest.
void migrate_put_digest(sqlite3* db) {
  if (!has_column(db, "messages", "digest"))
    exec(db, "ALTER TABLE messages ADD COLUMN digest TEXT");
  exec(db,
       "CREATE UNIQUE INDEX IF NOT EXISTS messages_digest ON messages(digest) WHERE digest IS NOT "
       "NULL");
}

// Issue 9: decisions claim the message first; the route is stored with it.
void migrate_review_claims(sqlite3* db) {
  // Each column only when missing (like the steps above), so a store that lost its
  // user_version passes through unchanged.
  const char* columns[][2] = {{"claim", "TEXT NOT NULL DEFAULT ''"},
                              {"claim_by", "TEXT NOT NULL DEFAULT ''"},
                              {"claim_at", "INTEGER NOT NULL DEFAULT 0"},
                              {"claim_recipients", "TEXT NOT NULL DEFAULT '[]'"},
                              {"route", "TEXT NOT NULL DEFAULT ''"}};
  for (const auto& c : columns)
    if (!has_column(db, "messages", c[0]))
      exec(db, (std::string("ALTER TABLE messages ADD COLUMN ") + c[0] + " " + c[1]).c_str());
  exec(db, "CREATE INDEX IF NOT EXISTS audit_action ON audit(action, seq)");
}

// Issue 13: monitor mode keeps what would have been held - the verdict's findings and
// evidence, never the message - until [review.retention] monitor_days; a reviewer's "not a
// violation" stores a proposed exception for `policyctl exceptions proposed`.
void migrate_monitor_and_proposals(sqlite3* db) {
  exec(db, R"sql(
CREATE TABLE IF NOT EXISTS monitor(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  queue_id TEXT NOT NULL DEFAULT '',
  sender TEXT NOT NULL DEFAULT '',
  recipients TEXT NOT NULL DEFAULT '[]',
  subject TEXT NOT NULL DEFAULT '',
  categories TEXT NOT NULL DEFAULT '[]',
  rules TEXT NOT NULL DEFAULT '[]',
  would_action TEXT NOT NULL DEFAULT '',
  verdict_json TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS monitor_at ON monitor(at);
)sql");
  if (!has_column(db, "dismissals", "proposal"))
    exec(db, "ALTER TABLE dismissals ADD COLUMN proposal TEXT NOT NULL DEFAULT ''");
}

// Issue 13: the key that signs senders' links, and notices queued by any process (the
// milter's immediate ones too) for whichever process sends first.
void migrate_secrets_outbox(sqlite3* db) {
  exec(db,
       "CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
       "CREATE TABLE IF NOT EXISTS outbox("
       " seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL, kind TEXT NOT NULL,"
       " env_from TEXT NOT NULL DEFAULT '', rcpts TEXT NOT NULL DEFAULT '[]',"
       " data TEXT NOT NULL DEFAULT '', queued_at INTEGER NOT NULL, claimed_at INTEGER NOT NULL"
       " DEFAULT 0, sent_at INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
       " UNIQUE(message_id, kind));"
       "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(sent_at, claimed_at);");
}

// Issue 15: schools as tenants. Every held message, monitor entry and audit entry names
// its school ("" for the rows before it, and with one school), so the review page scopes
// lists, counts and the audit log in the query.
void migrate_schools(sqlite3* db) {
  for (const char* table : {"messages", "monitor", "audit"})
    if (!has_column(db, table, "school"))
      exec(db, (std::string("ALTER TABLE ") + table + " ADD COLUMN school TEXT NOT NULL DEFAULT ''")
                   .c_str());
  exec(db,
       "CREATE INDEX IF NOT EXISTS messages_school ON messages(school, status, received_at);"
       "CREATE INDEX IF NOT EXISTS audit_school ON audit(school, seq);");
}

struct Migration {
  const char* what;
  void (*apply)(sqlite3*);
};
// Applied in order, each once: PRAGMA user_version counts the steps applied. Append new
// steps at the end; never change or reorder one that has shipped.
const Migration kMigrations[] = {
    {"baseline schema", migrate_baseline},
    {"put digest (idempotent put)", migrate_put_digest},
    {"review claims and stored routes", migrate_review_claims},
    {"monitor evidence and proposed exceptions", migrate_monitor_and_proposals},
    {"link key and notice outbox", migrate_secrets_outbox},
    {"schools as tenants", migrate_schools},
};

int user_version(sqlite3* db) {
  Stmt v(db, "PRAGMA user_version");
  return v.step() ? static_cast<int>(v.integer(0)) : 0;
}

}  // namespace

void apply_migrations(sqlite3* db) {
  const int total = static_cast<int>(std::size(kMigrations));
  if (user_version(db) >= total) return;
  // One transaction per step; the version is re-read under the write lock, so two
  // processes opening an old store at once apply each step once.
  for (;;) {
    Transaction tx(db);
    int v = user_version(db);
    if (v >= total) return;
    kMigrations[v].apply(db);
    exec(db, ("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
    tx.commit();
  }
}

}  // namespace store_detail

QuarantineStore::QuarantineStore(fs::path dir) : QuarantineStore(std::move(dir), false) {}

QuarantineStore::QuarantineStore(fs::path dir, bool tolerate_corrupt) : dir_(std::move(dir)) {
  make_private_dir(dir_);
  make_private_dir(dir_ / "msg");
  open_index(tolerate_corrupt);
}

void QuarantineStore::open_index(bool tolerate_corrupt) {
  fs::path index = dir_ / "index.sqlite";
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(index.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::lock_guard lock(mu_);
  db_.reset(raw);
  if (rc != SQLITE_OK)
    throw StoreError("open " + index.string() + ": " +
                     (raw ? sqlite3_errmsg(raw) : "out of memory"));
  ::chmod(index.c_str(), 0660);  // WAL and SHM files inherit the index's mode
  sqlite3_busy_timeout(db_.get(), 10000);
  try {
    exec(db_.get(), "PRAGMA journal_mode=WAL");
    exec(db_.get(), "PRAGMA synchronous=FULL");
    exec(db_.get(), "PRAGMA foreign_keys=ON");
    apply_migrations(db_.get());
  } catch (const IndexCorrupt&) {
    // The put side reports a corrupt index (health()) instead of refusing to start.
    if (!tolerate_corrupt) throw;
  }
}

fs::path QuarantineStore::message_path(std::string_view id) const {
  if (!valid_id(id)) throw std::invalid_argument("bad quarantine id");
  return dir_ / "msg" / (std::string(id) + ".eml");
}

std::vector<QuarantineItem> QuarantineStore::list(const QuarantineFilter& f) const {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM messages" + where_clause(f) +
                    " ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?";
  Stmt st(db_.get(), sql.c_str());
  int i = bind_filter(st, f);
  st.bind(i, static_cast<std::int64_t>(f.limit));
  st.bind(i + 1, static_cast<std::int64_t>(f.offset));
  std::vector<QuarantineItem> out;
  while (st.step()) out.push_back(read_item(st));
  return out;
}

std::size_t QuarantineStore::count(const QuarantineFilter& f) const {
  std::lock_guard lock(mu_);
  std::string sql = "SELECT count(*) FROM messages" + where_clause(f);
  Stmt st(db_.get(), sql.c_str());
  bind_filter(st, f);
  st.step();
  return static_cast<std::size_t>(st.integer(0));
}

std::optional<QuarantineItem> QuarantineStore::get(std::string_view id) const {
  if (!valid_id(id)) return std::nullopt;
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM messages WHERE id = ?";
  Stmt st(db_.get(), sql.c_str());
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_item(st);
}

std::string QuarantineStore::read_message(std::string_view id) const {
  auto item = get(id);
  if (!item) throw std::invalid_argument("unknown quarantine id");
  // Refused and deleted messages no longer have their bytes (personal data).
  if (item->status == QuarantineStatus::deleted || item->status == QuarantineStatus::refused)
    return {};
  fs::path p = message_path(id);
  Fd f(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) fail("open", p);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read", p);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string QuarantineStore::read_verdict_json(std::string_view id) const {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "SELECT verdict_json FROM messages WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) throw std::invalid_argument("unknown quarantine id");
  return st.text(0);
}

void QuarantineStore::release(std::string_view id, std::string_view actor, std::string_view note) {
  change_status(id, QuarantineStatus::released, actor, note);
}

void QuarantineStore::refuse(std::string_view id, std::string_view actor, std::string_view note) {
  change_status(id, QuarantineStatus::refused, actor, note);
}

void QuarantineStore::remove(std::string_view id, std::string_view actor, std::string_view note) {
  change_status(id, QuarantineStatus::deleted, actor, note);
}

void QuarantineStore::change_status(std::string_view id, QuarantineStatus to,
                                    std::string_view actor, std::string_view note) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  Stmt cur(db_.get(), "SELECT status, claim, claim_by FROM messages WHERE id = ?");
  cur.bind(1, id);
  if (!cur.step()) throw std::invalid_argument("unknown quarantine id");
  auto from = parse_quarantine_status(cur.text(0)).value_or(QuarantineStatus::held);
  if (!cur.text(1).empty())
    throw DecisionConflict("this message is being " +
                           std::string(cur.text(1) == "releasing" ? "released" : "decided") +
                           " by " + cur.text(2));
  bool allowed = to == QuarantineStatus::deleted ? from != QuarantineStatus::deleted
                                                 : from == QuarantineStatus::held;
  if (!allowed) throw DecisionConflict(std::string("this message is already ") + to_string(from));
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  // Refusing or deleting drops the bytes and the verdict (evidence is personal data); the
  // row stays so the audit log still resolves. A deleted row also loses its subject.
  const bool drop_content = to == QuarantineStatus::deleted || to == QuarantineStatus::refused;
  if (to == QuarantineStatus::deleted) {
    Stmt up(db_.get(),
            "UPDATE messages SET status='deleted', status_at=?, status_by=?, verdict_json='',"
            " subject='' WHERE id = ?");
    up.bind(1, now).bind(2, actor).bind(3, id);
    up.step();
  } else if (to == QuarantineStatus::refused) {
    Stmt up(db_.get(),
            "UPDATE messages SET status='refused', status_at=?, status_by=?, verdict_json=''"
            " WHERE id = ?");
    up.bind(1, now).bind(2, actor).bind(3, id);
    up.step();
  } else {
    Stmt up(db_.get(), "UPDATE messages SET status=?, status_at=?, status_by=? WHERE id = ?");
    up.bind(1, std::string_view(to_string(to))).bind(2, now).bind(3, actor).bind(4, id);
    up.step();
  }
  audit_locked(actor, to_string(to), id, note);
  tx.commit();
  if (drop_content) {
    fs::path p = message_path(id);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) fail("unlink", p);
    ::unlink(envelope_path(dir_, id).c_str());  // the put side's sidecar (store_put.cpp)
    fsync_dir(dir_ / "msg");
  }
}

bool QuarantineStore::release_to(std::string_view id, const std::vector<std::string>& recipients,
                                 std::string_view actor, std::string_view note) {
  claim_release(id, recipients, actor);
  return complete_release(id, actor, note);
}

std::vector<std::string> QuarantineStore::purge_decided(std::int64_t before,
                                                        std::string_view actor) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    Stmt st(db_.get(),
            "SELECT id FROM messages WHERE status IN ('released','refused') AND status_at < ?"
            " ORDER BY status_at");
    st.bind(1, before);
    while (st.step()) ids.push_back(st.text(0));
  }
  for (const auto& id : ids) remove(id, actor, "retention: decided mail purged");
  return ids;
}

bool QuarantineStore::claim_notice(std::string_view id, std::string_view kind) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "INSERT OR IGNORE INTO notices(message_id, kind, at) VALUES(?,?,?)");
  st.bind(1, id).bind(2, kind).bind(3, static_cast<std::int64_t>(std::time(nullptr)));
  st.step();
  return sqlite3_changes(db_.get()) == 1;
}

void QuarantineStore::unclaim_notice(std::string_view id, std::string_view kind) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "DELETE FROM notices WHERE message_id = ? AND kind = ?");
  st.bind(1, id).bind(2, kind);
  st.step();
}

std::vector<QuarantineItem> QuarantineStore::held_without_notice(std::string_view kind) const {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM messages WHERE status = 'held' AND NOT EXISTS (SELECT 1 FROM notices"
                    " WHERE notices.message_id = messages.id AND notices.kind = ?)"
                    " ORDER BY received_at, id";
  Stmt st(db_.get(), sql.c_str());
  st.bind(1, kind);
  std::vector<QuarantineItem> out;
  while (st.step()) out.push_back(read_item(st));
  return out;
}

std::string QuarantineStore::secret(std::string_view name) {
  unsigned char rnd[32];
  if (::getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd))
    throw StoreError(std::string("getrandom: ") + std::strerror(errno));
  static const char* hex = "0123456789abcdef";
  std::string value;
  for (unsigned char c : rnd) {
    value.push_back(hex[c >> 4]);
    value.push_back(hex[c & 15]);
  }
  std::lock_guard lock(mu_);
  {  // The first process to ask makes the key; every later one reads that one.
    Stmt ins(db_.get(), "INSERT OR IGNORE INTO secrets(name, value) VALUES(?,?)");
    ins.bind(1, name).bind(2, value);
    ins.step();
  }
  Stmt get(db_.get(), "SELECT value FROM secrets WHERE name = ?");
  get.bind(1, name);
  if (!get.step()) throw StoreError("secret " + std::string(name) + " missing");
  return get.text(0);
}

bool QuarantineStore::queue_notice(std::string_view message_id, std::string_view kind,
                                   std::string_view env_from, const std::vector<std::string>& rcpts,
                                   std::string_view data) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(),
          "INSERT OR IGNORE INTO outbox(message_id, kind, env_from, rcpts, data, queued_at)"
          " VALUES(?,?,?,?,?,?)");
  st.bind(1, message_id).bind(2, kind).bind(3, env_from).bind(4, to_json(rcpts)).bind(5, data);
  st.bind(6, static_cast<std::int64_t>(std::time(nullptr)));
  st.step();
  return sqlite3_changes(db_.get()) == 1;
}

std::vector<OutboxNotice> QuarantineStore::claim_outbox(std::int64_t now, std::int64_t stale_before,
                                                        std::size_t limit) {
  std::lock_guard lock(mu_);
  // One statement: two processes draining at once never claim the same row.
  Stmt st(db_.get(),
          "UPDATE outbox SET claimed_at = ?1, attempts = attempts + 1 WHERE seq IN (SELECT seq"
          " FROM outbox WHERE sent_at = 0 AND claimed_at < ?2 ORDER BY seq LIMIT ?3)"
          " RETURNING seq, message_id, kind, env_from, rcpts, data, attempts");
  st.bind(1, now).bind(2, stale_before).bind(3, static_cast<std::int64_t>(limit));
  std::vector<OutboxNotice> out;
  while (st.step())
    out.push_back({st.integer(0), st.text(1), st.text(2), st.text(3), from_json(st.text(4)),
                   st.text(5), static_cast<int>(st.integer(6))});
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  return out;
}

void QuarantineStore::outbox_done(std::int64_t seq, bool sent) {
  std::lock_guard lock(mu_);
  // Once sent, the rendered text (addresses, a Subject) is personal data nobody needs.
  Stmt st(db_.get(), sent ? "UPDATE outbox SET sent_at = ?1, data = '' WHERE seq = ?2"
                          : "UPDATE outbox SET claimed_at = 0 WHERE seq = ?2 AND ?1 >= 0");
  st.bind(1, static_cast<std::int64_t>(std::time(nullptr))).bind(2, seq);
  st.step();
}

void QuarantineStore::record_dismissal(std::string_view id, std::string_view actor,
                                       std::string_view rule, std::string_view context,
                                       std::string_view note, std::string_view proposal) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  {
    Stmt cur(db_.get(), "SELECT 1 FROM messages WHERE id = ?");
    cur.bind(1, id);
    if (!cur.step()) throw std::invalid_argument("unknown quarantine id");
  }
  Stmt st(db_.get(),
          "INSERT INTO dismissals(at, actor, message_id, rule, context, note, proposal)"
          " VALUES(?,?,?,?,?,?,?)");
  st.bind(1, static_cast<std::int64_t>(std::time(nullptr))).bind(2, actor).bind(3, id);
  st.bind(4, rule).bind(5, context).bind(6, note).bind(7, proposal);
  st.step();
  audit_locked(actor, "not-a-violation", id, "rule " + std::string(rule));
  tx.commit();
}

std::vector<Dismissal> QuarantineStore::dismissals(std::size_t limit) const {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(),
          "SELECT seq, at, actor, message_id, rule, context, note, proposal FROM dismissals"
          " ORDER BY seq DESC LIMIT ?");
  st.bind(1, static_cast<std::int64_t>(limit));
  std::vector<Dismissal> out;
  while (st.step()) {
    Dismissal d;
    d.seq = st.integer(0);
    d.at = st.integer(1);
    d.actor = st.text(2);
    d.message_id = st.text(3);
    d.rule = st.text(4);
    d.context = st.text(5);
    d.note = st.text(6);
    d.proposal = st.text(7);
    out.push_back(std::move(d));
  }
  return out;
}

std::int64_t QuarantineStore::record_monitor(const MonitorInput& in) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(),
          "INSERT INTO monitor(at, queue_id, sender, recipients, subject, categories, rules,"
          " would_action, verdict_json, school) VALUES(?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, static_cast<std::int64_t>(std::time(nullptr))).bind(2, in.queue_id).bind(3, in.sender);
  st.bind(4, to_json(in.recipients)).bind(5, in.subject).bind(6, to_json(in.categories));
  st.bind(7, to_json(in.rules)).bind(8, in.would_action).bind(9, in.verdict_json);
  st.bind(10, in.school);
  st.step();
  return sqlite3_last_insert_rowid(db_.get());
}

std::vector<MonitorItem> QuarantineStore::monitor_list(
    std::size_t limit, std::size_t offset, const std::vector<std::string>& schools) const {
  std::lock_guard lock(mu_);
  std::string sql =
      "SELECT seq, at, queue_id, sender, recipients, subject, categories, rules, would_action,"
      " verdict_json, school FROM monitor WHERE 1=1" +
      schools_clause(schools) + " ORDER BY seq DESC LIMIT ? OFFSET ?";
  Stmt st(db_.get(), sql.c_str());
  int i = 1;
  for (const auto& sc : schools) st.bind(i++, sc);
  st.bind(i, static_cast<std::int64_t>(limit)).bind(i + 1, static_cast<std::int64_t>(offset));
  std::vector<MonitorItem> out;
  while (st.step()) {
    MonitorItem m;
    m.seq = st.integer(0);
    m.at = st.integer(1);
    m.queue_id = st.text(2);
    m.sender = st.text(3);
    m.recipients = from_json(st.text(4));
    m.subject = st.text(5);
    m.categories = from_json(st.text(6));
    m.rules = from_json(st.text(7));
    m.would_action = st.text(8);
    m.verdict_json = st.text(9);
    m.school = st.text(10);
    out.push_back(std::move(m));
  }
  return out;
}

std::size_t QuarantineStore::purge_monitor(std::int64_t before) {
  std::lock_guard lock(mu_);
  Stmt st(db_.get(), "DELETE FROM monitor WHERE at < ?");
  st.bind(1, before);
  st.step();
  return static_cast<std::size_t>(sqlite3_changes(db_.get()));
}

void QuarantineStore::audit(std::string_view actor, std::string_view action,
                            std::string_view message_id, std::string_view note) {
  std::lock_guard lock(mu_);
  audit_locked(actor, action, message_id, note);
}

void QuarantineStore::audit_locked(std::string_view actor, std::string_view action,
                                   std::string_view message_id, std::string_view note) {
  insert_audit(db_.get(), actor, action, message_id, note);
}

std::vector<AuditEntry> QuarantineStore::audit_log(std::string_view message_id,
                                                   std::size_t limit) const {
  AuditQuery q;
  q.message_id = std::string(message_id);
  q.limit = limit;
  return audit_page(q);
}

// --- Decisions (issue 9) --------------------------------------------------------------

int QuarantineStore::claim_release(std::string_view id, const std::vector<std::string>& recipients,
                                   std::string_view actor) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  Stmt cur(db_.get(), "SELECT status, claim, claim_by, held_recipients FROM messages WHERE id = ?");
  cur.bind(1, id);
  if (!cur.step()) throw std::invalid_argument("unknown quarantine id");
  if (!cur.text(1).empty())
    throw DecisionConflict("this message is being released by " + cur.text(2));
  if (cur.text(0) != "held") throw DecisionConflict("this message is already " + cur.text(0));
  const std::vector<std::string> held = from_json(cur.text(3));
  if (recipients.empty()) throw std::invalid_argument("no recipients to release to");
  for (const auto& r : recipients)
    if (std::find(held.begin(), held.end(), r) == held.end())
      throw std::invalid_argument("not a held recipient of this message");
  Stmt n(db_.get(),
         "SELECT count(*) FROM audit WHERE message_id = ? AND action = 'release-attempt'");
  n.bind(1, id);
  n.step();
  const int attempt = static_cast<int>(n.integer(0)) + 1;
  Stmt up(db_.get(),
          "UPDATE messages SET claim='releasing', claim_by=?, claim_at=?, claim_recipients=?"
          " WHERE id = ? AND claim = '' AND status = 'held'");
  up.bind(1, actor)
      .bind(2, static_cast<std::int64_t>(std::time(nullptr)))
      .bind(3, to_json(recipients))
      .bind(4, id);
  up.step();
  std::string to_list;
  for (const auto& r : recipients) to_list += (to_list.empty() ? "" : ", ") + r;
  audit_locked(actor, "release-attempt", id,
               "attempt " + std::to_string(attempt) + " to " + to_list);
  tx.commit();
  return attempt;
}

bool QuarantineStore::complete_release(std::string_view id, std::string_view actor,
                                       std::string_view note) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  Stmt cur(
      db_.get(),
      "SELECT claim, claim_by, claim_recipients, held_recipients, released_recipients FROM messages"
      " WHERE id = ?");
  cur.bind(1, id);
  if (!cur.step()) throw std::invalid_argument("unknown quarantine id");
  if (cur.text(0) != "releasing" || cur.text(1) != actor)
    throw DecisionConflict("no release of this message in progress by " + std::string(actor));
  const std::vector<std::string> rcpts = from_json(cur.text(2));
  std::vector<std::string> released = from_json(cur.text(4)), left;
  for (const auto& h : from_json(cur.text(3)))
    if (std::find(rcpts.begin(), rcpts.end(), h) == rcpts.end())
      left.push_back(h);
    else
      released.push_back(h);
  std::string to_list;
  for (const auto& r : rcpts) to_list += (to_list.empty() ? "" : ", ") + r;
  std::string full_note = "to " + to_list + (note.empty() ? "" : "; " + std::string(note));
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  Stmt up(
      db_.get(),
      left.empty()
          ? "UPDATE messages SET status='released', status_at=?, status_by=?, held_recipients=?,"
            " released_recipients=?, claim='', claim_by='', claim_at=0, claim_recipients='[]'"
            " WHERE id = ?"
          : "UPDATE messages SET status_at=?, status_by=?, held_recipients=?,"
            " released_recipients=?, claim='', claim_by='', claim_at=0, claim_recipients='[]'"
            " WHERE id = ?");
  up.bind(1, now)
      .bind(2, actor)
      .bind(3, to_json(left.empty() ? rcpts : left))
      .bind(4, to_json(released))
      .bind(5, id);
  up.step();
  audit_locked(actor, left.empty() ? "released" : "released-partial", id, full_note);
  tx.commit();
  return left.empty();
}

void QuarantineStore::abandon_release(std::string_view id, std::string_view actor,
                                      std::string_view error) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  Stmt up(db_.get(),
          "UPDATE messages SET claim='', claim_by='', claim_at=0, claim_recipients='[]'"
          " WHERE id = ? AND claim = 'releasing' AND claim_by = ?");
  up.bind(1, id).bind(2, actor);
  up.step();
  if (sqlite3_changes(db_.get()) != 1)
    throw DecisionConflict("no release of this message in progress by " + std::string(actor));
  audit_locked(actor, "release-failed", id, error);
  tx.commit();
}

std::vector<std::string> QuarantineStore::expire_claims(std::int64_t before) {
  std::lock_guard lock(mu_);
  Transaction tx(db_.get());
  std::vector<std::pair<std::string, std::string>> stale;
  {
    Stmt st(db_.get(), "SELECT id, claim_by FROM messages WHERE claim != '' AND claim_at < ?");
    st.bind(1, before);
    while (st.step()) stale.emplace_back(st.text(0), st.text(1));
  }
  std::vector<std::string> ids;
  for (const auto& [id, by] : stale) {
    Stmt up(db_.get(),
            "UPDATE messages SET claim='', claim_by='', claim_at=0, claim_recipients='[]' WHERE id "
            "= ?");
    up.bind(1, id);
    up.step();
    audit_locked("policy-review", "claim-expired", id,
                 "the release by " + by + " did not finish; held again");
    ids.push_back(id);
  }
  tx.commit();
  return ids;
}

bool QuarantineStore::set_route(std::string_view id, std::string_view route_json) {
  if (!valid_id(id)) throw std::invalid_argument("unknown quarantine id");
  std::lock_guard lock(mu_);
  Stmt up(db_.get(), "UPDATE messages SET route = ? WHERE id = ? AND route = ''");
  up.bind(1, route_json).bind(2, id);
  up.step();
  return sqlite3_changes(db_.get()) == 1;
}

std::vector<AuditEntry> QuarantineStore::audit_page(const AuditQuery& q) const {
  std::lock_guard lock(mu_);
  std::string sql = "SELECT seq, at, actor, action, message_id, note, school FROM audit WHERE 1=1";
  if (!q.message_id.empty()) sql += " AND message_id = ?";
  if (!q.action.empty()) sql += " AND action = ?";
  if (q.before > 0) sql += " AND seq < ?";
  sql += schools_clause(q.schools);
  sql += " ORDER BY seq DESC LIMIT ?";
  Stmt st(db_.get(), sql.c_str());
  int i = 1;
  if (!q.message_id.empty()) st.bind(i++, q.message_id);
  if (!q.action.empty()) st.bind(i++, q.action);
  if (q.before > 0) st.bind(i++, q.before);
  for (const auto& sc : q.schools) st.bind(i++, sc);
  st.bind(i, static_cast<std::int64_t>(q.limit));
  std::vector<AuditEntry> out;
  while (st.step()) {
    AuditEntry e;
    e.seq = st.integer(0);
    e.at = st.integer(1);
    e.actor = st.text(2);
    e.action = st.text(3);
    e.message_id = st.text(4);
    e.note = st.text(5);
    e.school = st.text(6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace pm
