// QuarantineStore features for the review (issue 6): partial release, refuse drops the
// bytes, retention purge, notices sent once, "not a violation" records, and that the audit
// log stays append-only through all of them.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <random>
#include <thread>

#include "quarantine/store.h"

namespace pm {
namespace {
namespace fs = std::filesystem;

class ReviewStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pm-review-store-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  static QuarantineInput input() {
    QuarantineInput in;
    in.sender = "ada@stannes.example";
    in.recipients = {"parent.one@gmail.com", "referrals@somerset-la.example",
                     "colleague@stannes.example"};
    in.held_recipients = {"parent.one@gmail.com", "referrals@somerset-la.example"};
    in.subject = "Referral";
    in.categories = {"confidential"};
    in.rules = {"confidential.nhs-number"};
    in.action = "quarantine";
    in.verdict_json = R"({"findings":[{"rule":"confidential.nhs-number"}]})";
    return in;
  }
  fs::path dir_;
};

TEST_F(ReviewStoreTest, PartialReleaseThenFullRelease) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  EXPECT_FALSE(store.release_to(id, {"referrals@somerset-la.example"}, "head", "lawful referral"));
  auto item = store.get(id);
  EXPECT_EQ(item->status, QuarantineStatus::held);
  EXPECT_EQ(item->held_recipients, std::vector<std::string>{"parent.one@gmail.com"});
  EXPECT_EQ(item->released_recipients, std::vector<std::string>{"referrals@somerset-la.example"});
  // Not a held recipient (any more): refused, nothing changes.
  EXPECT_THROW(store.release_to(id, {"referrals@somerset-la.example"}, "head"),
               std::invalid_argument);
  EXPECT_THROW(store.release_to(id, {"colleague@stannes.example"}, "head"), std::invalid_argument);
  EXPECT_THROW(store.release_to(id, {}, "head"), std::invalid_argument);
  EXPECT_TRUE(store.release_to(id, {"parent.one@gmail.com"}, "head"));
  item = store.get(id);
  EXPECT_EQ(item->status, QuarantineStatus::released);
  EXPECT_EQ(item->released_recipients.size(), 2u);
  EXPECT_EQ(store.read_message(id), "m");  // kept until retention purges it
  auto log = store.audit_log(id);
  ASSERT_EQ(log.size(), 5u);  // quarantined, then attempt + outcome twice
  EXPECT_EQ(log[0].action, "released");
  EXPECT_EQ(log[0].note, "to parent.one@gmail.com");
  EXPECT_EQ(log[1].action, "release-attempt");
  EXPECT_EQ(log[1].note, "attempt 2 to parent.one@gmail.com");
  EXPECT_EQ(log[2].action, "released-partial");
  EXPECT_EQ(log[2].note, "to referrals@somerset-la.example; lawful referral");
}

TEST_F(ReviewStoreTest, RefuseDropsBytesAndVerdict) {
  QuarantineStore store(dir_);
  std::string id = store.put("secret bytes", input());
  store.refuse(id, "head", "use the portal");
  EXPECT_FALSE(fs::exists(store.message_path(id)));
  EXPECT_EQ(store.read_message(id), "");
  EXPECT_EQ(store.read_verdict_json(id), "");
  EXPECT_EQ(store.get(id)->status, QuarantineStatus::refused);
  EXPECT_THROW(store.release_to(id, {"parent.one@gmail.com"}, "head"), std::invalid_argument);
}

TEST_F(ReviewStoreTest, PurgeRemovesOnlyDecidedMailPastTheCutoff) {
  QuarantineStore store(dir_);
  std::string held = store.put("h", input());
  std::string released = store.put("r", input());
  std::string refused = store.put("f", input());
  store.release(released, "head");
  store.refuse(refused, "head");
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  EXPECT_TRUE(store.purge_decided(now - 86400, "retention").empty());  // decided just now
  auto purged = store.purge_decided(now + 1, "retention");
  EXPECT_EQ(purged.size(), 2u);
  EXPECT_EQ(store.get(released)->status, QuarantineStatus::deleted);
  EXPECT_EQ(store.get(refused)->status, QuarantineStatus::deleted);
  EXPECT_EQ(store.get(held)->status, QuarantineStatus::held);
  EXPECT_FALSE(fs::exists(store.message_path(released)));
  EXPECT_EQ(store.audit_log(released)[0].actor, "retention");
}

TEST_F(ReviewStoreTest, EachNoticeIsClaimedOnce) {
  QuarantineStore store(dir_);
  std::string a = store.put("a", input());
  std::string b = store.put("b", input());
  EXPECT_EQ(store.held_without_notice("sender-held").size(), 2u);
  EXPECT_TRUE(store.claim_notice(a, "sender-held"));
  EXPECT_FALSE(store.claim_notice(a, "sender-held"));
  EXPECT_TRUE(store.claim_notice(a, "reviewer"));  // kinds are separate
  auto left = store.held_without_notice("sender-held");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, b);
  store.unclaim_notice(a, "sender-held");  // a failed send is retried later
  EXPECT_EQ(store.held_without_notice("sender-held").size(), 2u);
  // Two processes racing: exactly one wins.
  QuarantineStore other(dir_);
  int wins = 0;
  std::thread t([&] { wins += other.claim_notice(b, "x") ? 1 : 0; });
  bool mine = store.claim_notice(b, "x");
  t.join();
  EXPECT_EQ(wins + (mine ? 1 : 0), 1);
}

TEST_F(ReviewStoreTest, DismissalsAreRecordedAndAudited) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  store.record_dismissal(id, "head", "confidential.nhs-number", "ref [...] for the trip",
                         "a booking ref");
  auto d = store.dismissals();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].rule, "confidential.nhs-number");
  EXPECT_EQ(d[0].context, "ref [...] for the trip");
  EXPECT_EQ(d[0].actor, "head");
  EXPECT_EQ(store.audit_log(id)[0].action, "not-a-violation");
  EXPECT_THROW(store.record_dismissal("20250101T000000Z-0000000000000000", "head", "r", ""),
               std::invalid_argument);
}

TEST_F(ReviewStoreTest, AuditStaysAppendOnly) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  store.audit("head", "viewed", id);
  store.release_to(id, {"parent.one@gmail.com"}, "head");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "index.sqlite").c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET actor='someone else'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto log = store.audit_log(id);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[2].action, "viewed");
  EXPECT_EQ(log[2].actor, "head");
}

// Issue 9: a decision claims the message first, in one transaction.
TEST_F(ReviewStoreTest, AClaimedMessageRefusesEveryOtherDecision) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  EXPECT_EQ(store.claim_release(id, {"parent.one@gmail.com"}, "head"), 1);
  EXPECT_EQ(store.get(id)->claim, "releasing");
  EXPECT_EQ(store.get(id)->claim_by, "head");
  EXPECT_THROW(store.claim_release(id, {"parent.one@gmail.com"}, "chair"), DecisionConflict);
  EXPECT_THROW(store.refuse(id, "chair"), DecisionConflict);
  EXPECT_THROW(store.remove(id, "admin"), DecisionConflict);
  EXPECT_THROW(store.complete_release(id, "chair"), DecisionConflict);  // not chair's claim
  store.abandon_release(id, "head", "attempt 1: 451 try later");
  EXPECT_EQ(store.get(id)->status, QuarantineStatus::held);
  EXPECT_EQ(store.get(id)->claim, "");
  EXPECT_EQ(
      store.claim_release(id, {"parent.one@gmail.com", "referrals@somerset-la.example"}, "head"),
      2);
  EXPECT_TRUE(store.complete_release(id, "head", "ok"));
  EXPECT_THROW(store.refuse(id, "chair"), DecisionConflict);
  auto log = store.audit_log(id);
  EXPECT_EQ(log[0].action, "released");
  EXPECT_EQ(log[1].action, "release-attempt");
  EXPECT_EQ(log[2].action, "release-failed");
  EXPECT_EQ(log[2].note, "attempt 1: 451 try later");
}

TEST_F(ReviewStoreTest, ClaimsNeedHeldRecipients) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  EXPECT_THROW(store.claim_release(id, {}, "head"), std::invalid_argument);
  EXPECT_THROW(store.claim_release(id, {"colleague@stannes.example"}, "head"),
               std::invalid_argument);
  EXPECT_EQ(store.get(id)->claim, "");
}

TEST_F(ReviewStoreTest, ConcurrentClaimsFromTwoConnectionsOneWins) {
  // Two store handles = two SQLite connections, as two processes have.
  QuarantineStore a(dir_), b(dir_);
  std::string id = a.put("m", input());
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 10; ++i)
    ts.emplace_back([&, i] {
      try {
        (i % 2 ? a : b).claim_release(id, {"parent.one@gmail.com"}, "r" + std::to_string(i));
        ++wins;
      } catch (const DecisionConflict&) {
        ++conflicts;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), 9);
}

TEST_F(ReviewStoreTest, StaleClaimsGoBackToHeld) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  store.claim_release(id, {"parent.one@gmail.com"}, "head");
  EXPECT_TRUE(store.expire_claims(0).empty());  // younger than the limit
  EXPECT_EQ(store.expire_claims(std::time(nullptr) + 10), std::vector<std::string>{id});
  EXPECT_EQ(store.get(id)->claim, "");
  EXPECT_EQ(store.audit_log(id)[0].action, "claim-expired");
}

TEST_F(ReviewStoreTest, RouteIsStoredOnceAndOutlivesRefusal) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  EXPECT_TRUE(store.set_route(id, R"({"name":"a"})"));
  EXPECT_FALSE(store.set_route(id, R"({"name":"b"})"));
  store.refuse(id, "chair");
  QuarantineStore reopened(dir_);
  EXPECT_EQ(reopened.get(id)->route, R"({"name":"a"})");
}

TEST_F(ReviewStoreTest, AuditPagesAndFilters) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  std::string other = store.put("m", input());
  for (int i = 0; i < 5; ++i) store.audit("head", "viewed", id);
  store.audit("head", "viewed", other);
  AuditQuery q;
  q.message_id = id;
  q.action = "viewed";
  q.limit = 3;
  auto first = store.audit_page(q);
  ASSERT_EQ(first.size(), 3u);
  q.before = first.back().seq;
  auto second = store.audit_page(q);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_LT(second[0].seq, first.back().seq);
  for (const auto& e : second) EXPECT_EQ(e.message_id, id);
}

TEST_F(ReviewStoreTest, MigrationsRunOnceAndRecordTheVersion) {
  { QuarantineStore store(dir_); }
  { QuarantineStore again(dir_); }  // a second open must not re-run an ALTER
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "index.sqlite").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_GE(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(ReviewStoreTest, OpensAStoreWithoutTheNewColumn) {
  // A store created before partial release existed: the column is added on open.
  fs::create_directories(dir_);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "index.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(
          db,
          "CREATE TABLE messages(id TEXT PRIMARY KEY, received_at INTEGER NOT NULL,"
          " queue_id TEXT NOT NULL DEFAULT '', sender TEXT NOT NULL DEFAULT '',"
          " recipients TEXT NOT NULL DEFAULT '[]', held_recipients TEXT NOT NULL DEFAULT '[]',"
          " subject TEXT NOT NULL DEFAULT '', categories TEXT NOT NULL DEFAULT '[]',"
          " rules TEXT NOT NULL DEFAULT '[]', action TEXT NOT NULL DEFAULT '',"
          " snapshot TEXT NOT NULL DEFAULT '', size INTEGER NOT NULL DEFAULT 0,"
          " verdict_json TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'held',"
          " status_at INTEGER NOT NULL DEFAULT 0, status_by TEXT NOT NULL DEFAULT '')",
          nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  QuarantineStore store(dir_);
  std::string id = store.put("m", input());
  EXPECT_TRUE(store.get(id)->released_recipients.empty());
}

}  // namespace
}  // namespace pm
