// PgQuarantineStore (issue 15) against a real PostgreSQL server started for this test
// (scripts/lib/pg-instance.sh: initdb + pg_ctl in a temporary directory, unix socket only).
// Every test gets its own database. Skipped when the PostgreSQL server is not installed.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "pg_instance.h"
#include "quarantine/pg_store.h"

namespace pm {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path g_dir;
std::string g_dsn_base;  // without dbname
bool g_skip = false;
int g_db = 0;

using test::sh;

std::string pg_script() {
  return std::string("bash ") + PM_SOURCE_DIR + "/scripts/lib/pg-instance.sh";
}

// Runs SQL outside the store (set-up and inspection); returns the first value or "".
std::string raw_sql(const std::string& dsn, const std::string& sql, bool* ok = nullptr) {
  PGconn* c = PQconnectdb(dsn.c_str());
  std::string out;
  PGresult* r = PQexec(c, sql.c_str());
  auto st = PQresultStatus(r);
  if (ok) *ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(c);
  return out;
}

class PgStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/pm-pgtest.XXXXXX";
    g_dir = ::mkdtemp(tmpl);
    int rc = 0;
    sh(pg_script() + " setup " + g_dir.string() + " 2>&1", &rc);
    if (rc == 77) {
      g_skip = true;
      return;
    }
    ASSERT_EQ(rc, 0) << "could not start PostgreSQL (see " << g_dir << "/log)";
    std::string dsn = sh(pg_script() + " dsn " + g_dir.string());
    const std::string db = " dbname=quarantine";
    g_dsn_base = dsn.replace(dsn.find(db), db.size(), "");
  }
  static void TearDownTestSuite() {
    if (!g_skip) sh(pg_script() + " stop " + g_dir.string() + " 2>&1");
    std::error_code ec;
    fs::remove_all(g_dir, ec);
  }
  void SetUp() override {
    if (g_skip) GTEST_SKIP() << "PostgreSQL server not installed";
    std::string db = "t" + std::to_string(++g_db);
    bool ok = false;
    raw_sql(g_dsn_base + " dbname=postgres", "CREATE DATABASE " + db, &ok);
    ASSERT_TRUE(ok);
    cfg_.backend = "postgresql";
    cfg_.dsn = g_dsn_base + " dbname=" + db;
    cfg_.put.put_timeout = 5s;
    cfg_.pg_query_timeout = 5s;
    tmp_ = g_dir / ("sqlite-" + db);
  }
  QuarantineInput input(const std::string& digest = {}) {
    QuarantineInput in;
    in.queue_id = "4QzX1Y2Z3";
    in.sender = "j.smith@stannes.example";
    in.recipients = {"parent@home.example", "head@stannes.example"};
    in.held_recipients = {"parent@home.example"};
    in.subject = "Trip photos";
    in.categories = {"pupil-images"};
    in.rules = {"photo-of-pupil"};
    in.action = "quarantine";
    in.snapshot = "snap-1";
    in.verdict_json = R"({"findings":[]})";
    in.digest = digest;
    return in;
  }
  StoreConfig cfg_;
  fs::path tmp_;
};

TEST_F(PgStoreTest, SchemaIsVersionedAndAppliedByMigrate) {
  try {
    PgQuarantineStore s(cfg_);
    FAIL() << "opened a database without the schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("policyctl store migrate"), std::string::npos) << e.what();
  }
  EXPECT_EQ(PgQuarantineStore::migrate(cfg_), PgQuarantineStore::schema_version_wanted());
  EXPECT_EQ(PgQuarantineStore::migrate(cfg_), 0);  // applied once
  PgQuarantineStore s(cfg_);
  EXPECT_EQ(s.schema_version(), PgQuarantineStore::schema_version_wanted());
  // A database migrated by a newer release is refused, not written.
  raw_sql(cfg_.dsn, "INSERT INTO schema_version VALUES (999, 'future', 0)");
  EXPECT_THROW(PgQuarantineStore again(cfg_), StoreError);
}

TEST_F(PgStoreTest, PutKeepsTheBytesExactlyAndAudits) {
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore s(cfg_);
  std::string msg = "Subject: x\r\n\r\nbinary \x00\x01\xff\xfe end";
  msg += std::string("\0\0tail", 6);
  std::string id = s.put(msg, input("d1"));
  EXPECT_EQ(s.read_message(id), msg);
  auto it = s.get(id);
  ASSERT_TRUE(it);
  EXPECT_EQ(it->status, QuarantineStatus::held);
  EXPECT_EQ(it->size, msg.size());
  EXPECT_EQ(it->held_recipients, std::vector<std::string>{"parent@home.example"});
  EXPECT_EQ(it->categories, std::vector<std::string>{"pupil-images"});
  EXPECT_EQ(s.read_verdict_json(id), R"({"findings":[]})");
  auto audit = s.audit_log(id);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "quarantined");
  QuarantineFilter f;
  f.category = "pupil-images";
  EXPECT_EQ(s.count(f), 1u);
  f.category = "other";
  EXPECT_EQ(s.count(f), 0u);
  QuarantineFilter by_sender;
  by_sender.sender = "J.SMITH";
  EXPECT_EQ(s.list(by_sender).size(), 1u);
  EXPECT_THROW(s.read_message("../etc/passwd"), std::invalid_argument);
  // The audit log refuses changes, also from outside the store.
  bool ok = true;
  raw_sql(cfg_.dsn, "UPDATE audit SET note = 'x'", &ok);
  EXPECT_FALSE(ok);
  raw_sql(cfg_.dsn, "DELETE FROM audit", &ok);
  EXPECT_FALSE(ok);
}

// Issue 15: the school of held mail, monitor entries and audit entries, and the filters by
// a set of schools, as in the SQLite store.
TEST_F(PgStoreTest, SchoolsAreStoredAndFilterListsCountsAuditAndMonitor) {
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore s(cfg_);
  auto in = [&](const std::string& digest, const std::string& school) {
    auto i = input(digest);
    i.school = school;
    return i;
  };
  std::string a = s.put("A", in("a", "st-annes")), b = s.put("B", in("b", "st-bedes"));
  std::string none = s.put("C", in("c", ""));
  EXPECT_EQ(s.get(a)->school, "st-annes");
  EXPECT_EQ(s.get(none)->school, "");
  QuarantineFilter f;
  f.schools = {"st-annes"};
  auto only_a = s.list(f);
  ASSERT_EQ(only_a.size(), 1u);
  EXPECT_EQ(only_a[0].id, a);
  EXPECT_EQ(s.count(f), 1u);
  f.schools = {"st-annes", ""};
  EXPECT_EQ(s.count(f), 2u);
  f.schools = {"a \"quoted\" one", "back\\slash"};  // array literal escaping
  EXPECT_EQ(s.count(f), 0u);
  EXPECT_EQ(s.count({}), 3u);
  s.refuse(b, "head.b", "no");
  s.audit("head.a", "viewed", a);
  s.audit("head.a", "signed-in", "");
  AuditQuery q;
  q.schools = {"st-bedes"};
  auto bs = s.audit_page(q);
  ASSERT_EQ(bs.size(), 2u);  // quarantined, refused
  for (const auto& e : bs) {
    EXPECT_EQ(e.message_id, b);
    EXPECT_EQ(e.school, "st-bedes");
  }
  q.schools = {""};
  auto blank = s.audit_page(q);
  ASSERT_EQ(blank.size(), 2u);
  EXPECT_EQ(blank[0].action, "signed-in");
  EXPECT_EQ(s.audit_page({}).size(), 6u);
  MonitorInput mi;
  mi.sender = "j.smith@stannes.example";
  mi.would_action = "quarantine";
  mi.school = "st-annes";
  s.record_monitor(mi);
  mi.school = "st-bedes";
  s.record_monitor(mi);
  auto mb = s.monitor_list(100, 0, {"st-bedes"});
  ASSERT_EQ(mb.size(), 1u);
  EXPECT_EQ(mb[0].school, "st-bedes");
  EXPECT_EQ(s.monitor_list().size(), 2u);
}

// A database at the previous schema version (2) with rows: `policyctl store migrate`
// brings it to the current one, the rows get the empty school.
TEST_F(PgStoreTest, RowsFromBeforeSchoolsGetTheEmptySchool) {
  PgQuarantineStore::migrate(cfg_);
  std::string id;
  {
    PgQuarantineStore s(cfg_);
    id = s.put("A", input("a"));
  }
  bool ok = false;
  raw_sql(cfg_.dsn,
          "DROP INDEX messages_school; DROP INDEX audit_school;"
          " ALTER TABLE messages DROP COLUMN school; ALTER TABLE monitor DROP COLUMN school;"
          " ALTER TABLE audit DROP COLUMN school; DELETE FROM schema_version WHERE version = 3",
          &ok);
  ASSERT_TRUE(ok);
  EXPECT_THROW(PgQuarantineStore old(cfg_), StoreError);  // not migrated: refused
  EXPECT_EQ(PgQuarantineStore::migrate(cfg_), 1);
  PgQuarantineStore s(cfg_);
  EXPECT_EQ(s.get(id)->school, "");
  EXPECT_EQ(s.audit_log(id).front().school, "");
}

TEST_F(PgStoreTest, SameDigestFromTwoRelaysIsStoredOnce) {
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore relay_a(cfg_), relay_b(cfg_);
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> errors{0};
  for (int i = 0; i < 12; ++i)
    threads.emplace_back([&, i] {
      try {
        std::string id = (i % 2 ? relay_a : relay_b).put("Subject: s\r\n\r\nsame", input("dd"));
        std::lock_guard lock(mu);
        ids.insert(id);
      } catch (const std::exception&) {
        ++errors;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(relay_a.count({}), 1u);
  AuditQuery q;
  q.action = "retried";
  EXPECT_EQ(relay_b.audit_page(q).size(), 11u);
  // Once decided, the same bytes make a new held message.
  relay_a.refuse(*ids.begin(), "head");
  std::string again = relay_b.put("Subject: s\r\n\r\nsame", input("dd"));
  EXPECT_NE(again, *ids.begin());
  EXPECT_EQ(relay_a.count({}), 2u);
}

TEST_F(PgStoreTest, RefuseAndDeleteDropTheBytes) {
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore s(cfg_);
  std::string a = s.put("A", input("a")), b = s.put("B", input("b"));
  s.refuse(a, "head", "no");
  EXPECT_EQ(s.read_message(a), "");
  EXPECT_EQ(s.read_verdict_json(a), "");
  EXPECT_THROW(s.refuse(a, "head"), DecisionConflict);
  s.remove(b, "admin");
  EXPECT_EQ(s.get(b)->subject, "");
  EXPECT_EQ(raw_sql(cfg_.dsn, "SELECT count(*) FROM message_bytes"), "0");
}

TEST_F(PgStoreTest, ConcurrentDecisionsOnTwoServersYieldOneOutcome) {
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore server_a(cfg_), server_b(cfg_);
  std::string id = server_a.put("M", input("m"));
  std::atomic<int> won{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&, i] {
      auto& s = i % 2 ? server_a : server_b;
      std::string who = "reviewer" + std::to_string(i);
      try {
        s.claim_release(id, {"parent@home.example"}, who);
        s.complete_release(id, who);
        ++won;
      } catch (const DecisionConflict&) {
        ++conflicts;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(conflicts.load(), 9);
  EXPECT_EQ(server_b.get(id)->status, QuarantineStatus::released);
  AuditQuery q;
  q.message_id = id;
  q.action = "released";
  EXPECT_EQ(server_a.audit_page(q).size(), 1u);
  // Notices: one claimant.
  EXPECT_TRUE(server_a.claim_notice(id, "sender"));
  EXPECT_FALSE(server_b.claim_notice(id, "sender"));
}

TEST_F(PgStoreTest, UnreachableServerIsATempfailNotACrash) {
  StoreConfig bad = cfg_;
  bad.dsn = "host=" + (g_dir / "nowhere").string() + " port=1 dbname=x";
  PgQuarantineStore s(bad, /*lazy=*/true);
  EXPECT_FALSE(s.health().ok);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(s.put("X", input("x")), StoreError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_FALSE(s.health().ok);
  EXPECT_THROW(PgQuarantineStore strict(bad), StoreError);
}

TEST_F(PgStoreTest, APutThatCannotGetItsLockGivesUpAtItsDeadline) {
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore s(cfg_);
  // Another session holds the table: the put must not wait past its deadline.
  PGconn* locker = PQconnectdb(cfg_.dsn.c_str());
  PQclear(PQexec(locker, "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(s.put("L", input("l"), t0 + 1500ms), StoreError);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 4s);
  PQclear(PQexec(locker, "ROLLBACK"));
  PQfinish(locker);
  EXPECT_EQ(s.count({}), 0u);  // nothing half-stored
  std::string id = s.put("L", input("l"));
  EXPECT_EQ(s.read_message(id), "L");
  EXPECT_TRUE(s.health().ok);
}

TEST_F(PgStoreTest, ARestartOfTheServerCostsNoPutOnceItIsBack) {
  PgQuarantineStore::migrate(cfg_);
  StoreConfig one = cfg_;
  one.pg_connections = 1;
  PgQuarantineStore s(one, /*lazy=*/true);
  auto restart = [](bool stop, bool start) {
    if (stop)
      ASSERT_EQ(sh(pg_script() + " stop " + g_dir.string() + " >/dev/null 2>&1; echo $?"), "0");
    if (start)
      ASSERT_EQ(sh(pg_script() + " start " + g_dir.string() + " >/dev/null 2>&1; echo $?"), "0");
  };
  std::string first = s.put("R1", input("r1"));  // the pool's connection, now idle
  // Restarted while the connection sat idle: the next put still succeeds (the dead
  // connection is not handed out).
  restart(true, true);
  std::string second = s.put("R2", input("r2"));
  EXPECT_EQ(s.read_message(second), "R2");
  EXPECT_EQ(s.read_message(first), "R1");
  // Down: a tempfail; back: the next put succeeds and health says so.
  restart(true, false);
  EXPECT_THROW(s.put("R3", input("r3")), StoreError);
  EXPECT_FALSE(s.health().ok);
  restart(false, true);
  EXPECT_EQ(s.read_message(s.put("R3", input("r3"))), "R3");
  EXPECT_TRUE(s.health().ok);
  ASSERT_FALSE(s.health().events.empty());
  EXPECT_NE(s.health().events.back().find("answers again"), std::string::npos);
}

TEST_F(PgStoreTest, MigrationFromSqliteMovesEverythingOnceAndKeepsIdempotency) {
  std::string held, released, refused, partial, link_key;
  const std::string kProposal =
      R"({"sender":"j.smith@stannes.example","categories":["pupil-names"]})";
  const std::string held_bytes = "Subject: held\r\n\r\nbody \x01\x02";
  {
    QuarantineStore old(tmp_);
    auto of_b = input("h");
    of_b.school = "st-bedes";  // issue 15: the school goes with the row and its audit
    held = old.put(held_bytes, of_b);
    released = old.put("Subject: rel\r\n\r\nr", input("r"));
    refused = old.put("Subject: ref\r\n\r\nf", input("f"));
    auto two = input("p");
    two.held_recipients = {"parent@home.example", "head@stannes.example"};
    partial = old.put("Subject: part\r\n\r\np", two);
    old.release_to(released, {"parent@home.example"}, "head");
    old.refuse(refused, "head", "not allowed");
    old.release_to(partial, {"head@stannes.example"}, "deputy");
    old.audit("head", "viewed", held);
    ASSERT_TRUE(old.claim_notice(held, "reviewer"));
    old.record_dismissal(held, "head", "photo-of-pupil", "a class photo", "fine");
    // Issue 13's tables: a dismissal proposing an exception, the senders' link key, one
    // notice sent and one still waiting in the outbox, monitor mode's evidence (two
    // identical rows: counted, not collapsed).
    old.record_dismissal(partial, "deputy", "pupil-name", "a form list", "ok", kProposal);
    link_key = old.secret("sender-link");
    ASSERT_TRUE(old.queue_notice(released, "sender", "", {"j.smith@stannes.example"}, "sent"));
    ASSERT_TRUE(old.queue_notice(held, "reviewer", "", {"head@stannes.example"}, "waiting"));
    auto sent = old.claim_outbox(std::time(nullptr), 1);  // never claimed: claimed_at 0
    ASSERT_EQ(sent.size(), 2u);
    old.outbox_done(sent[0].seq, true);   // the sender's notice went out
    old.outbox_done(sent[1].seq, false);  // the reviewer's failed: still pending
    MonitorInput m;
    m.queue_id = "4QzM1";
    m.sender = "a.jones@stannes.example";
    m.recipients = {"coach@club.example"};
    m.subject = "Team sheet";
    m.categories = {"pupil-names"};
    m.rules = {"pupil-name"};
    m.would_action = "quarantine";
    m.verdict_json = R"({"findings":[]})";
    old.record_monitor(m);
    old.record_monitor(m);
    m.queue_id = "4QzM2";
    old.record_monitor(m);
  }
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore pg(cfg_);
  auto r = pg.migrate_from_sqlite(tmp_);
  EXPECT_EQ(r.messages, 4u);
  EXPECT_EQ(r.bytes, 3u);  // held, released, partial (still held); refused has none
  EXPECT_EQ(r.bytes_missing, 0u);
  EXPECT_EQ(r.notices, 1u);
  EXPECT_EQ(r.dismissals, 2u);
  EXPECT_EQ(r.proposals, 1u);
  EXPECT_EQ(r.outbox, 2u);
  EXPECT_EQ(r.outbox_pending, 1u);
  EXPECT_EQ(r.monitor, 3u);
  EXPECT_EQ(r.secrets, 1u);
  EXPECT_TRUE(r.secrets_differing.empty());

  QuarantineStore old(tmp_);
  QuarantineFilter all;
  all.limit = 1000;
  auto a = old.list(all), b = pg.list(all);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].status, b[i].status);
    EXPECT_EQ(a[i].held_recipients, b[i].held_recipients);
    EXPECT_EQ(a[i].released_recipients, b[i].released_recipients);
    EXPECT_EQ(a[i].status_by, b[i].status_by);
    EXPECT_EQ(a[i].school, b[i].school);
    EXPECT_EQ(old.read_message(a[i].id), pg.read_message(b[i].id));
  }
  EXPECT_EQ(pg.get(held)->school, "st-bedes");
  AuditQuery of_b;
  of_b.schools = {"st-bedes"};
  auto b_audit = pg.audit_page(of_b);
  ASSERT_EQ(b_audit.size(), 3u);  // quarantined, viewed, not-a-violation
  for (const auto& e : b_audit) EXPECT_EQ(e.message_id, held);
  EXPECT_EQ(pg.read_message(held), held_bytes);
  EXPECT_EQ(pg.get(refused)->status, QuarantineStatus::refused);
  EXPECT_EQ(pg.read_message(refused), "");
  auto old_audit = old.audit_log({}, 1000), new_audit = pg.audit_log({}, 1000);
  EXPECT_EQ(r.audit, old_audit.size());
  EXPECT_EQ(new_audit.size(), old_audit.size() + 1);  // + "imported"
  EXPECT_FALSE(pg.claim_notice(held, "reviewer"));    // the notice went out already
  auto dismissals = pg.dismissals();
  ASSERT_EQ(dismissals.size(), 2u);
  std::set<std::string> proposals;
  for (const auto& d : dismissals) proposals.insert(d.proposal);
  EXPECT_EQ(proposals, (std::set<std::string>{"", kProposal}));
  // Links signed on the old relay still verify: the same key.
  EXPECT_EQ(pg.secret("sender-link"), link_key);
  // The waiting notice goes out from the new store, the sent one neither again nor
  // queued a second time.
  auto pending = pg.claim_outbox(std::time(nullptr), std::time(nullptr) + 1);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].message_id, held);
  EXPECT_EQ(pending[0].kind, "reviewer");
  EXPECT_EQ(pending[0].data, "waiting");
  EXPECT_EQ(pending[0].attempts, 2);  // the failed try on the old relay counts
  EXPECT_FALSE(pg.queue_notice(released, "sender", "", {"j.smith@stannes.example"}, "again"));
  auto monitor = pg.monitor_list(100);
  ASSERT_EQ(monitor.size(), 3u);
  EXPECT_EQ(monitor[2].queue_id, "4QzM1");  // oldest last, order kept
  EXPECT_EQ(monitor[0].queue_id, "4QzM2");
  EXPECT_EQ(monitor[0].recipients, std::vector<std::string>{"coach@club.example"});

  // Re-running adds nothing.
  auto again = pg.migrate_from_sqlite(tmp_);
  EXPECT_EQ(again.messages, 0u);
  EXPECT_EQ(again.messages_present, 4u);
  EXPECT_EQ(again.audit, 0u);
  EXPECT_EQ(again.audit_present, old_audit.size());
  EXPECT_EQ(again.notices + again.dismissals + again.proposals, 0u);
  EXPECT_EQ(again.outbox + again.monitor + again.secrets, 0u);
  EXPECT_EQ(again.monitor_present, 3u);
  EXPECT_EQ(again.secrets_present, 1u);
  EXPECT_EQ(pg.monitor_list(100).size(), 3u);
  EXPECT_EQ(pg.dismissals().size(), 2u);
  EXPECT_TRUE(pg.claim_outbox(std::time(nullptr), 1).empty());  // nothing new, never claimed
  EXPECT_EQ(pg.audit_log({}, 1000).size(), new_audit.size());
  EXPECT_EQ(pg.count(all), 4u);

  // The client's retry of the held message, now through a relay on PostgreSQL, finds it.
  EXPECT_EQ(pg.put(held_bytes, input("h")), held);
  EXPECT_EQ(pg.count(all), 4u);
}

TEST_F(PgStoreTest, MigrationKeepsALinkKeyPostgresqlAlreadyHasAndSaysSo) {
  std::string old_key;
  {
    QuarantineStore old(tmp_);
    old.put("Subject: a\r\n\r\na", input("a"));
    old_key = old.secret("sender-link");
  }
  PgQuarantineStore::migrate(cfg_);
  PgQuarantineStore pg(cfg_);
  const std::string pg_key = pg.secret("sender-link");  // a relay on the new store was first
  ASSERT_NE(pg_key, old_key);
  auto r = pg.migrate_from_sqlite(tmp_);
  EXPECT_EQ(r.messages, 1u);
  EXPECT_EQ(r.secrets, 0u);
  EXPECT_EQ(r.secrets_differing, std::vector<std::string>{"sender-link"});
  EXPECT_EQ(pg.secret("sender-link"), pg_key);  // links already issued from PostgreSQL hold
}

}  // namespace
}  // namespace pm
