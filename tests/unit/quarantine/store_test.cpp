// QuarantineStore: durable put, listing and filters, status changes, append-only audit,
// file modes. Runs against a real SQLite index in a temporary directory.
#include "quarantine/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace pm {
namespace {
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pm-quarantine-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::random_device{}()));
  }
  void TearDown() override { fs::remove_all(dir_); }

  static QuarantineInput input(std::string sender, std::vector<std::string> categories) {
    QuarantineInput in;
    in.queue_id = "4Q1ABC";
    in.sender = std::move(sender);
    in.recipients = {"parent.one@gmail.com", "colleague@stannes.example"};
    in.held_recipients = {"parent.one@gmail.com"};
    in.subject = "Class list";
    in.categories = std::move(categories);
    in.rules = {"confidential.upn"};
    in.action = "quarantine";
    in.snapshot = "snap-1";
    in.verdict_json = R"({"action":"quarantine","findings":[{"rule":"confidential.upn"}]})";
    return in;
  }

  fs::path dir_;
};

TEST_F(StoreTest, PutStoresBytesRowAndAudit) {
  QuarantineStore store(dir_);
  const std::string msg = "Subject: Class list\r\n\r\nB801200005001\r\n";
  std::string id = store.put(msg, input("ada@stannes.example", {"confidential"}));
  ASSERT_FALSE(id.empty());

  EXPECT_EQ(store.read_message(id), msg);
  EXPECT_NE(store.read_verdict_json(id).find("confidential.upn"), std::string::npos);
  auto item = store.get(id);
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->sender, "ada@stannes.example");
  EXPECT_EQ(item->queue_id, "4Q1ABC");
  EXPECT_EQ(item->recipients.size(), 2u);
  EXPECT_EQ(item->held_recipients, std::vector<std::string>{"parent.one@gmail.com"});
  EXPECT_EQ(item->categories, std::vector<std::string>{"confidential"});
  EXPECT_EQ(item->size, msg.size());
  EXPECT_EQ(item->status, QuarantineStatus::held);
  EXPECT_GT(item->received_at, 0);

  auto log = store.audit_log(id);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].action, "quarantined");
  EXPECT_EQ(log[0].actor, "policy-milter");
}

TEST_F(StoreTest, ModesKeepChildrensDataPrivate) {
  QuarantineStore store(dir_);
  std::string id = store.put("Subject: x\r\n\r\n", input("a@stannes.example", {"abusive"}));
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0770u);
  ASSERT_EQ(::stat(store.message_path(id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat((dir_ / "index.sqlite").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(StoreTest, SurvivesReopen) {
  std::string id;
  {
    QuarantineStore store(dir_);
    id = store.put("Subject: kept\r\n\r\n", input("a@stannes.example", {"disrepute"}));
  }
  QuarantineStore again(dir_);
  EXPECT_EQ(again.read_message(id), "Subject: kept\r\n\r\n");
  EXPECT_EQ(again.count(), 1u);
}

TEST_F(StoreTest, ListFiltersByStatusCategoryAndSender) {
  QuarantineStore store(dir_);
  std::string a = store.put("a", input("ada@stannes.example", {"confidential"}));
  std::string b = store.put("b", input("ben@stannes.example", {"abusive", "disrepute"}));
  std::string c = store.put("c", input("ada@stannes.example", {"disrepute"}));
  store.refuse(c, "head");

  EXPECT_EQ(store.list().size(), 3u);
  QuarantineFilter held;
  held.status = QuarantineStatus::held;
  EXPECT_EQ(store.count(held), 2u);
  QuarantineFilter dis;
  dis.category = "disrepute";
  auto items = store.list(dis);
  ASSERT_EQ(items.size(), 2u);
  QuarantineFilter ada;
  ada.sender = "ADA@";
  EXPECT_EQ(store.count(ada), 2u);
  QuarantineFilter page;
  page.limit = 1;
  page.offset = 1;
  EXPECT_EQ(store.list(page).size(), 1u);
  QuarantineFilter none;
  none.category = "personal-link";
  EXPECT_EQ(store.count(none), 0u);
  (void)a;
  (void)b;
}

TEST_F(StoreTest, StatusChangesAreCheckedAndAudited) {
  QuarantineStore store(dir_);
  std::string id = store.put("m", input("a@stannes.example", {"confidential"}));
  store.release(id, "head.teacher", "lawful referral");
  auto item = store.get(id);
  EXPECT_EQ(item->status, QuarantineStatus::released);
  EXPECT_EQ(item->status_by, "head.teacher");
  EXPECT_THROW(store.refuse(id, "head.teacher"), std::invalid_argument);
  EXPECT_THROW(store.release(id, "head.teacher"), std::invalid_argument);
  EXPECT_THROW(store.release("20250101T000000Z-0000000000000000", "x"), std::invalid_argument);
  EXPECT_THROW(store.release("../../etc/passwd", "x"), std::invalid_argument);

  auto log = store.audit_log(id);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].action, "released");  // newest first
  EXPECT_EQ(log[0].note, "lawful referral");
}

TEST_F(StoreTest, RemoveDeletesFileAndEvidenceButKeepsTheRecord) {
  QuarantineStore store(dir_);
  std::string id = store.put("secret", input("a@stannes.example", {"confidential"}));
  store.remove(id, "head");
  EXPECT_FALSE(fs::exists(store.message_path(id)));
  EXPECT_EQ(store.read_verdict_json(id), "");
  EXPECT_EQ(store.read_message(id), "");
  EXPECT_EQ(store.get(id)->status, QuarantineStatus::deleted);
  EXPECT_THROW(store.remove(id, "head"), std::invalid_argument);
  EXPECT_EQ(store.audit_log(id).size(), 2u);
}

TEST_F(StoreTest, AuditLogIsAppendOnly) {
  QuarantineStore store(dir_);
  store.put("m", input("a@stannes.example", {"abusive"}));
  store.audit("head", "viewed", "", "");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "index.sqlite").c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET actor='x'", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(store.audit_log().size(), 2u);
}

TEST_F(StoreTest, UnwritableDirectoryFailsLoudly) {
  if (::geteuid() == 0) {
    // root ignores modes; a file where the directory should be still fails.
    std::ofstream(dir_.string()) << "not a directory";
    EXPECT_THROW(QuarantineStore store(dir_ / "q"), StoreError);
    fs::remove(dir_);
    return;
  }
  fs::create_directories(dir_);
  QuarantineStore store(dir_);
  fs::permissions(dir_ / "msg", fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(store.put("m", input("a@stannes.example", {"abusive"})), StoreError);
  EXPECT_EQ(store.count(), 0u);
  fs::permissions(dir_ / "msg", fs::perms::owner_all);
}

TEST_F(StoreTest, FailedInsertLeavesNoFileBehind) {
  QuarantineStore store(dir_);
  // Make the index refuse writes: a trigger that aborts every insert.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "index.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TRIGGER no_insert BEFORE INSERT ON messages "
                         "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(store.put("m", input("a@stannes.example", {"abusive"})), StoreError);
  EXPECT_TRUE(fs::is_empty(dir_ / "msg"));
}

}  // namespace
}  // namespace pm
