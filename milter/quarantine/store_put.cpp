// The put side of the quarantine store (put_side.h): durable put with grouped commits,
// idempotency by digest, the open index checked against the file on disk, recovery of a
// deleted or replaced index, start-up reconciliation and the integrity state.
#include <sodium.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "quarantine/put_side.h"
#include "quarantine/store_internal.h"

namespace pm {
namespace fs = std::filesystem;
using namespace store_detail;

namespace {

std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string utc_stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Creates a new file (0660 whatever the umask) holding `data`; returns it open.
Fd create_file(const fs::path& p, std::string_view data) {
  Fd f(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660));
  if (f.fd < 0) fail("create", p);
  ::fchmod(f.fd, 0660);
  const char* at = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(f.fd, at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      fail("write", p);
    }
    at += n;
    left -= static_cast<std::size_t>(n);
  }
  return f;
}

void write_new_file(const fs::path& p, std::string_view data) {
  create_file(p, data);
}

void fsync_file(const fs::path& p) {
  Fd f(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0 || ::fsync(f.fd) != 0) fail("fsync", p);
}

std::string read_small_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The sidecar: everything the row holds, so a message file can be re-indexed without it.
std::string envelope_json(const PendingPut& p) {
  nlohmann::json j;
  j["id"] = p.id;
  j["received_at"] = p.received_at;
  j["queue_id"] = p.in.queue_id;
  j["sender"] = p.in.sender;
  j["recipients"] = p.in.recipients;
  j["held_recipients"] = p.in.held_recipients;
  j["subject"] = p.in.subject;
  j["categories"] = p.in.categories;
  j["rules"] = p.in.rules;
  j["action"] = p.in.action;
  j["snapshot"] = p.in.snapshot;
  j["size"] = p.size;
  j["digest"] = p.in.digest;
  j["verdict_json"] = p.in.verdict_json;
  j["school"] = p.in.school;
  // Invalid UTF-8 in a subject must not make the sidecar unwritable.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<PendingPut> parse_envelope(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j.contains("sender")) return std::nullopt;
  try {
    PendingPut p;
    p.id = j.at("id").get<std::string>();
    p.received_at = j.value("received_at", std::int64_t{0});
    p.size = j.value("size", std::uint64_t{0});
    p.in.queue_id = j.value("queue_id", std::string());
    p.in.sender = j.at("sender").get<std::string>();
    p.in.recipients = j.value("recipients", std::vector<std::string>{});
    p.in.held_recipients = j.value("held_recipients", std::vector<std::string>{});
    p.in.subject = j.value("subject", std::string());
    p.in.categories = j.value("categories", std::vector<std::string>{});
    p.in.rules = j.value("rules", std::vector<std::string>{});
    p.in.action = j.value("action", std::string());
    p.in.snapshot = j.value("snapshot", std::string());
    p.in.digest = j.value("digest", std::string());
    p.in.verdict_json = j.value("verdict_json", std::string());
    p.in.school = j.value("school", std::string());  // absent in sidecars before schools
    return p;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// The message file is what its sidecar describes: same size and, when there is one, the
// same digest (a put cut short between its rename and its fsync fails this).
bool matches_envelope(const fs::path& eml, const PendingPut& p) {
  std::string bytes = read_small_file(eml);
  if (bytes.size() != p.size) return false;
  return p.in.digest.empty() ||
         message_digest(p.in.sender, p.in.recipients, bytes, p.in.queue_id) == p.in.digest;
}

// A row for `p` (status held); false when the digest or id is already there (OR IGNORE).
bool insert_message(sqlite3* db, const PendingPut& p) {
  Stmt st(db,
          "INSERT OR IGNORE INTO messages(id, received_at, queue_id, sender, recipients,"
          " held_recipients, subject, categories, rules, action, snapshot, size, verdict_json,"
          " status, status_at, status_by, digest, school) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,'held',"
          "?,'policy-milter',?,?)");
  st.bind(1, p.id).bind(2, p.received_at).bind(3, p.in.queue_id).bind(4, p.in.sender);
  st.bind(5, to_json(p.in.recipients)).bind(6, to_json(p.in.held_recipients)).bind(7, p.in.subject);
  st.bind(8, to_json(p.in.categories)).bind(9, to_json(p.in.rules)).bind(10, p.in.action);
  st.bind(11, p.in.snapshot).bind(12, static_cast<std::int64_t>(p.size));
  st.bind(13, p.in.verdict_json).bind(14, p.received_at);
  if (p.in.digest.empty())
    st.bind_null(15);
  else
    st.bind(15, p.in.digest);
  st.bind(16, p.in.school);
  st.step();
  return sqlite3_changes(db) == 1;
}

// The id of a held message with this digest, "" when none.
std::string held_with_digest(sqlite3* db, const std::string& digest) {
  if (digest.empty()) return {};
  Stmt st(db, "SELECT id FROM messages WHERE digest = ? AND status = 'held'");
  st.bind(1, digest);
  return st.step() ? st.text(0) : std::string();
}

bool row_exists(sqlite3* db, const std::string& id) {
  Stmt st(db, "SELECT 1 FROM messages WHERE id = ?");
  st.bind(1, id);
  return st.step();
}

// A savepoint rolled back unless released: one bad row does not fail its whole batch.
struct Savepoint : Transaction {
  explicit Savepoint(sqlite3* db)
      : Transaction(db, "SAVEPOINT put_row", "RELEASE put_row",
                    "ROLLBACK TO put_row; RELEASE put_row") {}
  void release() { commit(); }
};

// Reads the header through SQLite's own file handle: opening and closing another fd on
// the index would drop this process's POSIX locks on it (fcntl locks are per process and
// inode), and another process closing its connection would then delete the live WAL.
bool has_sqlite_header(sqlite3* db) {
  sqlite3_file* f = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
      !f->pMethods)
    return true;
  sqlite3_int64 size = 0;
  if (f->pMethods->xFileSize(f, &size) != SQLITE_OK || size == 0) return true;  // new, empty
  char buf[16] = {0};
  if (f->pMethods->xRead(f, buf, sizeof buf, 0) != SQLITE_OK) return false;
  return std::memcmp(buf, "SQLite format 3", 16) == 0;
}

}  // namespace

std::string message_digest(std::string_view sender, const std::vector<std::string>& recipients,
                           std::string_view message, std::string_view queue_id) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  auto feed = [&](std::string_view s) {
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  auto feed0 = [&](std::string_view s) {
    feed(s);
    feed(std::string_view("\0", 1));
  };
  feed0("policy-milter put digest v1");
  feed0(sender);
  std::vector<std::string> rcpts = recipients;
  std::sort(rcpts.begin(), rcpts.end());
  for (const auto& r : rcpts) feed0(r);
  feed0("");
  // Header fields one by one (a field is its first line and its folded continuations);
  // those carrying this delivery's queue id are what the MTA added for this attempt. A
  // queue id shorter than 6 characters is not trusted to be unique enough to match.
  std::size_t pos = 0;
  const bool skip = queue_id.size() >= 6;
  while (pos < message.size()) {
    std::size_t eol = message.find('\n', pos);
    std::size_t next = eol == std::string_view::npos ? message.size() : eol + 1;
    std::string_view line = message.substr(pos, next - pos);
    if (line == "\n" || line == "\r\n") break;  // end of the header
    std::size_t end = next;
    while (end < message.size() && (message[end] == ' ' || message[end] == '\t')) {
      std::size_t e2 = message.find('\n', end);
      end = e2 == std::string_view::npos ? message.size() : e2 + 1;
    }
    std::string_view field = message.substr(pos, end - pos);
    if (!(skip && field.find(queue_id) != std::string_view::npos)) feed(field);
    pos = end;
  }
  feed(message.substr(pos));
  unsigned char out[32];
  crypto_generichash_final(&st, out, sizeof out);
  static const char* hex = "0123456789abcdef";
  std::string h;
  for (unsigned char c : out) {
    h.push_back(hex[c >> 4]);
    h.push_back(hex[c & 15]);
  }
  return h;
}

// ---- QuarantineStore: the put side's entry points -----------------------------------

QuarantineStore::~QuarantineStore() = default;

std::unique_ptr<QuarantineStore> QuarantineStore::open_for_put(fs::path dir,
                                                               const PutSettings& settings) {
  std::unique_ptr<QuarantineStore> s(new QuarantineStore(std::move(dir), true));
  std::call_once(s->put_once_, [&] { s->put_ = std::make_unique<PutSide>(*s, settings); });
  if (settings.integrity_check) s->put_->integrity_check();
  s->put_->reconcile(true);
  return s;
}

QuarantineStore::PutSide& QuarantineStore::put_side() {
  // A store opened with the plain constructor (tests, tools) gets the default settings.
  std::call_once(put_once_, [this] {
    if (!put_) put_ = std::make_unique<PutSide>(*this, PutSettings{});
  });
  return *put_;
}

std::string QuarantineStore::put(std::string_view message, const QuarantineInput& input) {
  PutSide& ps = put_side();
  return ps.put(message, input, std::chrono::steady_clock::now() + ps.settings.put_timeout);
}

std::string QuarantineStore::put(std::string_view message, const QuarantineInput& input,
                                 std::chrono::steady_clock::time_point deadline) {
  return put_side().put(message, input, deadline);
}

StoreHealth QuarantineStore::reconcile() {
  return put_side().reconcile(true);
}

StoreHealth QuarantineStore::health() const {
  return const_cast<QuarantineStore*>(this)->put_side().health();
}

// ---- PutSide ---------------------------------------------------------------------------

QuarantineStore::PutSide::PutSide(QuarantineStore& s, PutSettings st)
    : store(s), settings(st), index_path(s.dir() / "index.sqlite") {
  if (sodium_init() < 0) throw StoreError("libsodium failed to initialise");
  state.since = now_s();
  try {
    open_connection();
  } catch (const IndexCorrupt& e) {
    set_corrupt(e.what());
  }
  committer = std::thread([this] { run(); });
}

QuarantineStore::PutSide::~PutSide() {
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  work_cv.notify_all();
  if (committer.joinable()) committer.join();
}

void QuarantineStore::PutSide::open_connection() {
  db.reset();
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(index_path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  db.reset(raw);
  if (rc != SQLITE_OK)
    throw StoreError("open " + index_path.string() + ": " +
                     (raw ? sqlite3_errmsg(raw) : "out of memory"));
  ::chmod(index_path.c_str(), 0660);
  struct stat st {};
  if (::stat(index_path.c_str(), &st) != 0) fail("stat", index_path);
  dev = st.st_dev;
  ino = st.st_ino;
  // Short waits, retried by the committer up to each put's deadline: a lock held by
  // another process delays the batch, never the threads that hand rows to it.
  sqlite3_busy_timeout(db.get(), 50);
  exec(db.get(), "PRAGMA journal_mode=WAL");
  exec(db.get(), "PRAGMA synchronous=FULL");
  apply_migrations(db.get());
}

bool QuarantineStore::PutSide::same_file() const {
  struct stat st {};
  return ::stat(index_path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

StoreHealth QuarantineStore::PutSide::health() const {
  std::lock_guard lock(health_mu);
  return state;
}

void QuarantineStore::PutSide::write_health_file() const {
  nlohmann::json j;
  j["ok"] = state.ok;
  j["problem"] = state.problem;
  j["since"] = state.since;
  j["reindexed"] = state.reindexed;
  j["orphans"] = state.orphans;
  j["missing"] = state.missing;
  j["orphan_ids"] = state.orphan_ids;
  j["missing_ids"] = state.missing_ids;
  j["events"] = state.events;
  j["pid"] = static_cast<long>(::getpid());
  fs::path p = store.dir() / "health.json", tmp = store.dir() / ".health.json.tmp";
  ::unlink(tmp.c_str());
  try {
    write_new_file(tmp, j.dump(2) + "\n");
    if (::rename(tmp.c_str(), p.c_str()) != 0) ::unlink(tmp.c_str());
  } catch (const StoreError&) {
    // Best effort: the log and the daemon's answers carry the same state.
  }
}

void QuarantineStore::PutSide::set_corrupt(const std::string& problem) {
  std::lock_guard lock(health_mu);
  if (!state.ok && state.problem == problem) return;
  state.ok = false;
  state.problem = problem;
  state.since = now_s();
  corrupt_dev = dev;
  corrupt_ino = ino;
  write_health_file();
}

void QuarantineStore::PutSide::note_event(const std::string& event) {
  std::lock_guard lock(health_mu);
  state.events.push_back(utc_stamp() + " " + event);
  if (state.events.size() > 20) state.events.erase(state.events.begin());
  state.since = now_s();
  write_health_file();
}

void QuarantineStore::PutSide::integrity_check() {
  if (!db) return;
  try {
    Stmt st(db.get(), "PRAGMA quick_check");
    std::string first = st.step() ? st.text(0) : "no answer";
    if (first != "ok") set_corrupt("integrity check failed: " + first);
  } catch (const StoreError& e) {
    set_corrupt(std::string("integrity check failed: ") + e.what());
  }
}

void QuarantineStore::PutSide::remove_files(const std::string& id) const {
  ::unlink(store.message_path(id).c_str());
  ::unlink(envelope_path(store.dir(), id).c_str());
}

std::string QuarantineStore::PutSide::put(std::string_view message, const QuarantineInput& in,
                                          Clock::time_point deadline) {
  {
    // A corrupt index still at its place: refuse before writing anything.
    std::lock_guard lock(health_mu);
    struct stat st {};
    if (!state.ok && ::stat(index_path.c_str(), &st) == 0 && st.st_dev == corrupt_dev &&
        st.st_ino == corrupt_ino)
      throw IndexCorrupt("quarantine index is corrupt, quarantining stopped: " + state.problem);
  }
  auto p = std::make_shared<Pending>();
  p->id = new_id();
  p->in = in;
  p->received_at = now_s();
  p->size = message.size();
  p->deadline = deadline;
  const fs::path msg_dir = store.dir() / "msg";
  const fs::path eml = store.message_path(p->id), env = envelope_path(store.dir(), p->id);
  const fs::path eml_tmp = msg_dir / ("." + p->id + ".tmp"),
                 env_tmp = msg_dir / ("." + p->id + ".env.tmp");
  {
    std::lock_guard lock(mu);
    inflight.insert(p->id);
  }
  auto forget = [&] {
    std::lock_guard lock(mu);
    inflight.erase(p->id);
  };
  try {
    // The sidecar first, so every message file has one. Both are renamed into place
    // before the one fsync of the message: on ext4 that fsync commits the journal with
    // both names in it, so the directory's fsync after it (one per batch of concurrent
    // puts, in the committer) is nearly free. A crash before the fsync leaves a final name
    // on a message that was never answered (the MTA still has it); start-up reconcile()
    // checks each unindexed file against its sidecar's size and digest before it
    // re-indexes it. Only the message is fsync'ed: the row is the durable record, the
    // sidecar a way back to it when the index is lost.
    write_new_file(env_tmp, envelope_json(*p));
    Fd f = create_file(eml_tmp, message);
    if (::rename(env_tmp.c_str(), env.c_str()) != 0) fail("rename", env);
    if (::rename(eml_tmp.c_str(), eml.c_str()) != 0) fail("rename", eml);
    if (::fsync(f.fd) != 0) fail("fsync", eml);
    // The directory is fsync'ed once per batch by the committer, before the commit.
  } catch (...) {
    for (const auto& f : {eml_tmp, env_tmp, eml, env}) ::unlink(f.c_str());
    forget();
    throw;
  }

  std::unique_lock lock(mu);
  queue.push_back(p);
  work_cv.notify_one();
  done_cv.wait_until(lock, deadline, [&] {
    return p->state == Pending::State::done || p->state == Pending::State::failed;
  });
  if (p->state == Pending::State::done) {
    inflight.erase(p->id);
    return p->result_id;
  }
  if (p->state == Pending::State::failed) {
    inflight.erase(p->id);
    if (p->corrupt) throw IndexCorrupt(p->error);
    throw StoreError(p->error);
  }
  // Out of time. Still queued: take it back. Being committed: the committer finishes it
  // (a row that makes it is found by the client's retry through its digest).
  if (p->state == Pending::State::queued) {
    queue.erase(std::find(queue.begin(), queue.end(), p));
    inflight.erase(p->id);
    lock.unlock();
    remove_files(p->id);
  } else {
    p->abandoned = true;
  }
  throw StoreError(
      "quarantine index busy (locked by another process?): gave up after the put timeout");
}

void QuarantineStore::PutSide::run() {
  std::unique_lock lock(mu);
  for (;;) {
    work_cv.wait(lock, [&] { return stop || !queue.empty(); });
    if (queue.empty()) return;  // stop, nothing left
    std::vector<std::shared_ptr<Pending>> batch(queue.begin(), queue.end());
    queue.clear();
    for (auto& p : batch) p->state = Pending::State::committing;
    lock.unlock();
    commit_batch(batch);
    lock.lock();
    for (auto& p : batch) {
      if (p->abandoned) inflight.erase(p->id);
      // Files of a failed row, or of a duplicate of a held message, are not kept.
      if (p->state == Pending::State::failed || p->result_id != p->id) remove_files(p->id);
    }
    done_cv.notify_all();
  }
}

void QuarantineStore::PutSide::commit_batch(std::vector<std::shared_ptr<Pending>>& batch) {
  Clock::time_point deadline = Clock::time_point::min();
  for (auto& p : batch) deadline = std::max(deadline, p->deadline);
  std::string error =
      "quarantine index busy (locked by another process?): gave up after the put timeout";
  bool corrupt = false;
  try {
    // One fsync of msg/ makes every name of the batch durable before its rows are.
    fsync_dir(store.dir() / "msg");
    // Each round: make sure the index is the file on disk, then try to commit. Rounds
    // repeat while SQLite says "busy" (another process holds the lock), until the latest
    // deadline of the batch; rows whose own deadline passed are dropped on the way.
    for (int round = 0; Clock::now() < deadline || round == 0; ++round) {
      if (!index_usable()) {
        std::lock_guard lock(health_mu);
        error = "quarantine index is corrupt, quarantining stopped: " + state.problem;
        corrupt = true;
        break;
      }
      std::vector<std::shared_ptr<Pending>> live;
      for (auto& p : batch)
        if (p->state == Pending::State::committing && (round == 0 || Clock::now() < p->deadline))
          live.push_back(p);
      if (live.empty()) break;
      if (commit_once(live, deadline)) break;
    }
  } catch (const IndexCorrupt& e) {
    set_corrupt(e.what());
    error = std::string("quarantine index is corrupt, quarantining stopped: ") + e.what();
    corrupt = true;
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::lock_guard lock(mu);
  for (auto& p : batch)
    if (p->state == Pending::State::committing) {
      p->state = Pending::State::failed;
      p->error = error;
      p->corrupt = corrupt;
    }
}

// One attempt at one transaction for `live`; false when the index was busy or changed
// under us (the caller tries again), true when done (rows settled).
bool QuarantineStore::PutSide::commit_once(std::vector<std::shared_ptr<Pending>>& live,
                                           Clock::time_point) {
  sqlite3* d = db.get();
  int rc = sqlite3_exec(d, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) return false;
  if (rc != SQLITE_OK) throw_sqlite(d, sqlite3_errmsg(d));
  std::vector<std::pair<std::shared_ptr<Pending>, std::string>> results;  // row, id stored
  try {
    for (auto& p : live) {
      Savepoint sp(d);
      try {
        std::string existing = held_with_digest(d, p->in.digest);
        if (existing.empty()) {
          // A decided (released, refused, deleted) message with the same digest does not
          // swallow a new one: the digest moves to the new row.
          if (!p->in.digest.empty()) {
            Stmt up(d, "UPDATE messages SET digest = NULL WHERE digest = ?");
            up.bind(1, p->in.digest);
            up.step();
          }
          if (!insert_message(d, *p)) throw StoreError("quarantine id collision");
          insert_audit(d, "policy-milter", "quarantined", p->id,
                       p->in.queue_id.empty() ? "" : "queue id " + p->in.queue_id);
          existing = p->id;
        } else {
          // The client's retry of a message already held (or the same bytes sent again):
          // not stored twice, but on record.
          insert_audit(d, "policy-milter", "retried", existing,
                       p->in.queue_id.empty() ? "" : "queue id " + p->in.queue_id);
        }
        sp.release();
        results.emplace_back(p, existing);
      } catch (const IndexCorrupt&) {
        throw;
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        p->state = Pending::State::failed;
        p->error = e.what();
      }
    }
    // The open index must be the file on disk, or the rows go where nobody looks.
    if (!same_file()) {
      sqlite3_exec(d, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
    exec(d, "COMMIT");
  } catch (...) {
    sqlite3_exec(d, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  // Moved between the check and the commit: the rows are in the old file, which the
  // recovery saves (deleted: put back; replaced: merged).
  if (!same_file()) recover();
  std::lock_guard lock(mu);
  for (auto& [p, id] : results) {
    p->result_id = id;
    p->state = Pending::State::done;
  }
  return true;
}

bool QuarantineStore::PutSide::index_usable() {
  if (!db || !same_file()) recover();
  {
    std::lock_guard lock(health_mu);
    if (!state.ok) return false;
  }
  if (!has_sqlite_header(db.get())) {
    set_corrupt("the index file's header is not SQLite's (overwritten?)");
    return false;
  }
  return true;
}

void QuarantineStore::PutSide::close_connections() {
  db.reset();
  std::lock_guard lock(store.mu_);
  store.db_.reset();
}

void QuarantineStore::PutSide::recover() {
  const bool was_ok = health().ok;
  struct stat st {};
  bool exists = ::stat(index_path.c_str(), &st) == 0;
  fs::path saved;
  if (db && was_ok) {
    // Save what the open index holds (it has every row committed so far, ours and the
    // review page's) with SQLite's backup API: a page-exact copy, fsync'ed.
    saved =
        store.dir() / (exists ? "index.sqlite.displaced-" + utc_stamp() : ".index.sqlite.restore");
    ::unlink(saved.c_str());
    sqlite3* out = nullptr;
    if (sqlite3_open_v2(saved.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) ==
        SQLITE_OK) {
      sqlite3_backup* b = sqlite3_backup_init(out, "main", db.get(), "main");
      int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
      sqlite3_backup_finish(b);
      sqlite3_close_v2(out);
      if (rc == SQLITE_DONE) {
        ::chmod(saved.c_str(), 0660);
        fsync_file(saved);
      } else {
        ::unlink(saved.c_str());
        saved.clear();
      }
    } else {
      sqlite3_close_v2(out);
      saved.clear();
    }
    // Empty the WAL first: the -wal file at the index's path must not be replayed
    // into whatever file is there next.
    sqlite3_exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  }
  close_connections();
  std::string event;
  fs::path displaced;
  if (!exists && !saved.empty()) {
    if (::link(saved.c_str(), index_path.c_str()) == 0) {
      ::unlink(saved.c_str());
      fsync_dir(store.dir());
      event = "index deleted while running: put back from the open index";
    } else {
      // Someone made a new one meanwhile: keep it, merge ours into it.
      displaced = store.dir() / ("index.sqlite.displaced-" + utc_stamp());
      ::rename(saved.c_str(), displaced.c_str());
      event = "index deleted and recreated while running: held rows merged from " +
              displaced.filename().string();
    }
  } else if (exists && !saved.empty()) {
    displaced = saved;
    event =
        "index replaced while running: held rows merged into the new file; the old one kept as " +
        displaced.filename().string();
  } else if (!was_ok) {
    event = exists ? "corrupt index replaced: rebuilt from the new file and the message files"
                   : "corrupt index moved away: new index built from the message files";
  } else if (!exists) {
    event =
        "index deleted while running and the open copy could not be saved: rebuilt from the "
        "message files";
  } else {
    event =
        "index replaced while running and the open copy could not be saved: held mail re-indexed "
        "from the message files";
  }
  {
    std::lock_guard lock(health_mu);
    state.ok = true;
    state.problem.clear();
  }
  try {
    open_connection();
    store.open_index(true);
    if (!exists || !was_ok || !displaced.empty()) integrity_check();
  } catch (const IndexCorrupt& e) {
    set_corrupt(e.what());
  }
  if (!health().ok) {
    note_event(event + "; the new index is not usable");
    return;
  }
  std::size_t merged = displaced.empty() ? 0 : merge_from(displaced);
  StoreHealth h = reconcile(false);
  if (merged) event += "; " + std::to_string(merged) + " held messages merged";
  if (h.reindexed) event += "; " + std::to_string(h.reindexed) + " re-indexed from their files";
  note_event(event);
}

std::size_t QuarantineStore::PutSide::merge_from(const fs::path& old_index) {
  sqlite3* d = db.get();
  Stmt attach(d, "ATTACH DATABASE ? AS old");
  attach.bind(1, std::string_view(old_index.c_str()));
  attach.step();
  std::size_t n = 0;
  try {
    Transaction tx(d);
    std::vector<std::string> ids;
    {
      Stmt st(d,
              "SELECT o.id FROM old.messages o WHERE o.status = 'held' AND NOT EXISTS"
              " (SELECT 1 FROM main.messages m WHERE m.id = o.id OR (o.digest IS NOT NULL"
              " AND m.digest = o.digest AND m.status = 'held'))");
      while (st.step()) ids.push_back(st.text(0));
    }
    for (const auto& id : ids) {
      Stmt up(d,
              "UPDATE main.messages SET digest = NULL WHERE digest = (SELECT digest FROM "
              "old.messages WHERE id = ?)");
      up.bind(1, id);
      up.step();
      Stmt ins(d,
               "INSERT INTO main.messages(id, received_at, queue_id, sender, recipients,"
               " held_recipients, subject, categories, rules, action, snapshot, size,"
               " verdict_json, status, status_at, status_by, released_recipients, digest, school)"
               " SELECT id, received_at, queue_id, sender, recipients, held_recipients, subject,"
               " categories, rules, action, snapshot, size, verdict_json, status, status_at,"
               " status_by, released_recipients, digest, school FROM old.messages WHERE id = ?");
      ins.bind(1, id);
      ins.step();
      insert_audit(d, "policy-milter", "reindexed", id, "from " + old_index.filename().string());
      ++n;
    }
    tx.commit();
  } catch (...) {
    sqlite3_exec(d, "DETACH DATABASE old", nullptr, nullptr, nullptr);
    throw;
  }
  exec(d, "DETACH DATABASE old");
  return n;
}

StoreHealth QuarantineStore::PutSide::reconcile(bool startup) {
  std::set<std::string> emls, envs, busy;
  const fs::path msg_dir = store.dir() / "msg";
  {
    std::lock_guard lock(mu);
    busy = inflight;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(msg_dir, ec)) {
    std::string name = e.path().filename().string();
    auto ends = [&](std::string_view suf) {
      return name.size() > suf.size() &&
             name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
    };
    if (name[0] == '.') {
      // A put that never finished (crash): never answered, so the MTA still has it.
      if (startup && ends(".tmp")) ::unlink(e.path().c_str());
    } else if (ends(".eml")) {
      emls.insert(name.substr(0, name.size() - 4));
    } else if (ends(".env")) {
      envs.insert(name.substr(0, name.size() - 4));
    }
  }
  if (ec) throw StoreError("list " + msg_dir.string() + ": " + ec.message());

  StoreHealth found;
  if (db && health().ok) try {
      sqlite3* d = db.get();
      for (const auto& id : emls) {
        if (busy.count(id) || row_exists(d, id)) continue;
        std::optional<Pending> p;
        if (envs.count(id)) p = parse_envelope(read_small_file(envelope_path(store.dir(), id)));
        if (p && !matches_envelope(store.message_path(id), *p)) p.reset();  // cut short
        if (!p || p->id != id) {
          ++found.orphans;
          if (found.orphan_ids.size() < 10) found.orphan_ids.push_back(id);
          continue;
        }
        // Its client was answered (the row may have gone into a lost index) or was not
        // (a crash before the commit: then its retry finds this one by the digest).
        Transaction tx(d);
        if (!held_with_digest(d, p->in.digest).empty()) {
          tx.commit();
          remove_files(id);  // the same message is held already
          continue;
        }
        if (!p->in.digest.empty()) {
          Stmt up(d, "UPDATE messages SET digest = NULL WHERE digest = ?");
          up.bind(1, p->in.digest);
          up.step();
        }
        if (insert_message(d, *p)) {
          insert_audit(d, "policy-milter", "reindexed", id, "from its message file");
          ++found.reindexed;
        }
        tx.commit();
      }
      Stmt held(d, "SELECT id FROM messages WHERE status = 'held'");
      while (held.step()) {
        std::string id = held.text(0);
        if (!emls.count(id) && !busy.count(id)) {
          ++found.missing;
          if (found.missing_ids.size() < 10) found.missing_ids.push_back(id);
        }
      }
    } catch (const IndexCorrupt& e) {
      set_corrupt(e.what());
    }
  // A sidecar without its message: a put that failed, or content already removed.
  for (const auto& id : envs)
    if (!emls.count(id) && !busy.count(id)) ::unlink(envelope_path(store.dir(), id).c_str());

  std::lock_guard lock(health_mu);
  state.reindexed += found.reindexed;
  state.orphans = found.orphans;
  state.orphan_ids = found.orphan_ids;
  state.missing = found.missing;
  state.missing_ids = found.missing_ids;
  state.since = now_s();
  write_health_file();
  found.ok = state.ok;
  found.problem = state.problem;
  return found;
}

}  // namespace pm
