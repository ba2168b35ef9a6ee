// Accounts: Argon2id hashes, verification, weak passwords, duplicates, removal, sessions
// and sign-in throttling.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fixture.h"
#include "review/sessions.h"

namespace pm {
namespace {

TEST(Passwords, Argon2idHashesVerifyAndDiffer) {
  std::string h = hash_password("correct horse battery");
  EXPECT_EQ(h.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verify_password(h, "correct horse battery"));
  EXPECT_FALSE(verify_password(h, "correct horse batterY"));
  EXPECT_NE(hash_password("correct horse battery"), h);  // salted
  EXPECT_FALSE(verify_password("plain-text-in-db", "plain-text-in-db"));
  EXPECT_NE(password_problem("short"), "");
  EXPECT_EQ(password_problem("long enough pass"), "");
}

TEST(Accounts, AddVerifyPasswdRemove) {
  test::Fixture f;
  auto a = f.users->verify("head.teacher", "correct horse battery");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->role, Role::reviewer);
  EXPECT_EQ(a->email, "head@stannes.example");
  EXPECT_FALSE(f.users->verify("head.teacher", "wrong password!").has_value());
  EXPECT_FALSE(f.users->verify("nobody", "correct horse battery").has_value());
  Account dup;
  dup.login = "head.teacher";
  EXPECT_THROW(f.users->add(dup, "another long password"), AccountError);
  Account weak;
  weak.login = "new.reviewer";
  EXPECT_THROW(f.users->add(weak, "123"), AccountError);
  Account bad;
  bad.login = "bad login<script>";
  EXPECT_THROW(f.users->add(bad, "a long enough password"), AccountError);
  f.users->set_password("head.teacher", "a brand new passphrase");
  EXPECT_FALSE(f.users->verify("head.teacher", "correct horse battery").has_value());
  EXPECT_TRUE(f.users->verify("head.teacher", "a brand new passphrase").has_value());
  f.users->remove("head.teacher");
  EXPECT_FALSE(f.users->find("head.teacher").has_value());
  EXPECT_THROW(f.users->remove("head.teacher"), AccountError);
  struct stat st {};
  ASSERT_EQ(::stat((f.dir / "users.sqlite").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(Sessions, ExpireWhenIdleAndCarryACsrfToken) {
  SessionTable t(std::chrono::minutes(30), std::chrono::hours(12));
  Account a;
  a.login = "head.teacher";
  Session s = t.create(a, 1000);
  EXPECT_EQ(s.token.size(), 64u);
  EXPECT_NE(s.token, s.csrf);
  ASSERT_TRUE(t.find(s.token, 1000 + 29 * 60).has_value());  // extends to +59 min
  EXPECT_TRUE(t.find(s.token, 1000 + 58 * 60).has_value());
  EXPECT_FALSE(t.find(s.token, 1000 + 58 * 60 + 31 * 60).has_value());
  EXPECT_FALSE(t.find("x", 1000).has_value());
  Session s2 = t.create(a, 5000);
  t.drop_login("head.teacher");
  EXPECT_FALSE(t.find(s2.token, 5000).has_value());
}

TEST(Sessions, EndAtTheAbsoluteLifetimeHoweverBusy) {
  SessionTable t(std::chrono::minutes(30), std::chrono::hours(1));
  Account a;
  a.login = "head.teacher";
  Session s = t.create(a, 0);
  for (int m = 20; m < 60; m += 20) EXPECT_TRUE(t.find(s.token, m * 60).has_value()) << m;
  EXPECT_FALSE(t.find(s.token, 60 * 60).has_value());
}

TEST(Throttle, GrowingDelaysInsteadOfALock) {
  Throttle th(3, std::chrono::seconds(60));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(th.begin("login:head", 100), 0) << i;  // free attempts
  EXPECT_EQ(th.begin("login:head", 100), 1);  // 4th at once: wait 1 s
  EXPECT_EQ(th.begin("login:other", 100), 0);
  EXPECT_EQ(th.begin("login:head", 101), 0);  // after 1 s: allowed, counted
  EXPECT_EQ(th.begin("login:head", 101), 2);  // then 2 s
  EXPECT_EQ(th.begin("login:head", 103), 0);
  EXPECT_EQ(th.begin("login:head", 104), 3);  // then 4 s from 103
  EXPECT_EQ(th.delay_after(40), 60);          // capped
  th.success("login:head");
  EXPECT_EQ(th.begin("login:head", 104), 0);
}

}  // namespace
}  // namespace pm
