// Schools as tenants (issue 15), over the real HTTP API: two schools of one trust in one
// store, a reviewer of each and the trust's data protection officer. Each reviewer sees
// only their school's mail in the lists, details, counts, audit log, monitor list and
// notices; a decision on the other school's message is "no such message" and leaves no
// trace they can see; the dpo sees both. On both stores (SQLite, and PostgreSQL started for
// the test by scripts/lib/pg-instance.sh, skipped without the server), real SMTP sink.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "fixture.h"
#include "pg_instance.h"
#include "quarantine/pg_store.h"
#include "server_fixture.h"

namespace pm {
namespace {

using nlohmann::json;
test::PgServer g_pg;

class SchoolsApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() { g_pg.stop(); }
  void SetUp() override {
    if (GetParam() == "postgresql") {
      g_pg.start();
      if (g_pg.skip) GTEST_SKIP() << "PostgreSQL server not installed";
      ASSERT_FALSE(g_pg.failed) << "could not start PostgreSQL (see " << g_pg.dir << "/log)";
    }
    fx_ = std::make_unique<test::Fixture>();
    store_ = fx_->store.get();
    if (GetParam() == "postgresql") {
      StoreConfig sc;
      sc.backend = "postgresql";
      sc.dsn = g_pg.database();
      PgQuarantineStore::migrate(sc);
      pg_ = std::make_unique<PgQuarantineStore>(sc);
      store_ = pg_.get();
    }
    for (const char* login : {"head.teacher", "chair", "it.admin"}) fx_->users->remove(login);
    add("head.a", Role::reviewer, "head@stannes.example", {"st-annes"});
    add("head.b", Role::reviewer, "head@stbedes.example", {"st-bedes"});
    add("dpo", Role::dpo, "dpo@trust.example", {});
    add("admin.a", Role::admin, "", {"st-annes"});
    fx_->cfg.trust_name = "Example Learning Trust";
    fx_->cfg.schools = {{"st-annes",
                         "St Anne's C of E Primary School",
                         {"stannes.example"},
                         "mail-policy@stannes.example",
                         "the head teacher",
                         {},
                         {}},
                        {"st-bedes",
                         "St Bede's Catholic Primary School",
                         {"stbedes.example"},
                         "mail-policy@stbedes.example",
                         "the headteacher of St Bede's",
                         {},
                         {}}};
    fx_->service = std::make_unique<ReviewService>(fx_->cfg, *store_, *fx_->users);
    srv_ = std::make_unique<test::LoopbackServer>(*fx_->service, *fx_->users);
    client_ = srv_->client.get();
    a1_ = put("st-annes", "ada.teacher@stannes.example", "Trip list A");
    a2_ = put("st-annes", "alf.teacher@stannes.example", "Trip list A2");
    b1_ = put("st-bedes", "bea.teacher@stbedes.example", "Trip list B");
    old_ = put("", "ada.teacher@stannes.example", "Stored before schools");  // -> st-annes
  }
  void TearDown() override {
    srv_.reset();
    if (fx_) fx_->service.reset();  // before the store it uses
    pg_.reset();
    fx_.reset();
  }

  void add(const std::string& login, Role role, const std::string& email,
           std::vector<std::string> schools) {
    Account a;
    a.login = login;
    a.role = role;
    a.email = email;
    a.schools = std::move(schools);
    fx_->users->add(a, "correct horse battery");
  }
  std::string put(const std::string& school, const std::string& sender,
                  const std::string& subject) {
    QuarantineInput in;
    in.sender = sender;
    in.recipients = {"parent.one@gmail.com"};
    in.held_recipients = in.recipients;
    in.subject = subject;
    in.categories = {"confidential"};
    in.rules = {"confidential.nhs-number"};
    in.action = "quarantine";
    in.school = school;
    in.verdict_json = test::verdict(subject, test::kBody, "943 476 5919", "confidential.nhs-number",
                                    "confidential", {{"parent.one@gmail.com", "personal-webmail"}});
    return store_->put("Subject: " + subject + "\r\n\r\n" + test::kBody, in);
  }

  struct Login {
    std::string cookie, csrf;
  };
  Login login(const std::string& user) {
    json body = {{"login", user}, {"password", "correct horse battery"}};
    auto r = client_->Post("/api/login", body.dump(), "application/json");
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    std::string set = r->get_header_value("Set-Cookie");
    return {set.substr(0, set.find(';')), json::parse(r->body)["csrf"]};
  }
  httplib::Result get(const std::string& path, const Login& who) {
    return client_->Get(path, httplib::Headers{{"Cookie", who.cookie}});
  }
  json get_json(const std::string& path, const Login& who) {
    auto r = get(path, who);
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json::parse(r->body);
  }
  httplib::Result post(const std::string& path, const Login& who,
                       const json& body = json::object()) {
    return client_->Post(path, httplib::Headers{{"Cookie", who.cookie}, {"X-CSRF-Token", who.csrf}},
                         body.dump(), "application/json");
  }
  static std::set<std::string> ids(const json& list) {
    std::set<std::string> out;
    for (const auto& m : list) out.insert(m["id"].get<std::string>());
    return out;
  }
  // Every message id the audit page shows `who` (all pages).
  std::set<std::string> audited(const Login& who, const std::string& query = "") {
    std::set<std::string> out;
    json page = get_json("/api/audit?limit=1000" + query, who);
    for (const auto& e : page["entries"]) out.insert(e["message_id"].get<std::string>());
    return out;
  }

  std::unique_ptr<test::Fixture> fx_;
  std::unique_ptr<PgQuarantineStore> pg_;
  QuarantineBackend* store_ = nullptr;  // the SQLite store of the fixture, or pg_
  std::unique_ptr<test::LoopbackServer> srv_;
  httplib::Client* client_ = nullptr;
  std::string a1_, a2_, b1_, old_;
};

TEST_P(SchoolsApiTest, ListsShowOnlyTheReviewersSchools) {
  Login a = login("head.a"), b = login("head.b"), dpo = login("dpo");
  EXPECT_EQ(ids(get_json("/api/messages", a)), (std::set<std::string>{a1_, a2_, old_}));
  EXPECT_EQ(ids(get_json("/api/messages", b)), (std::set<std::string>{b1_}));
  EXPECT_EQ(ids(get_json("/api/messages", dpo)), (std::set<std::string>{a1_, a2_, b1_, old_}));
  // Filters do not widen the scope.
  EXPECT_EQ(ids(get_json("/api/messages?status=all&sender=bea", a)), std::set<std::string>{});
  EXPECT_EQ(ids(get_json("/api/messages?status=all&sender=bea", b)), std::set<std::string>{b1_});
  for (const auto& m : get_json("/api/messages", b)) EXPECT_EQ(m["school"], "st-bedes");
}

TEST_P(SchoolsApiTest, AnotherSchoolsMessageIsNotFoundAndCannotBeDecided) {
  Login a = login("head.a"), b = login("head.b"), dpo = login("dpo");
  EXPECT_EQ(get("/api/messages/" + a1_, a)->status, 200);
  EXPECT_EQ(get("/api/messages/" + b1_, a)->status, 404);
  EXPECT_EQ(get("/api/messages/" + a1_, b)->status, 404);
  EXPECT_EQ(get("/api/messages/" + old_, b)->status, 404);
  EXPECT_EQ(get("/api/messages/" + b1_, dpo)->status, 200);
  // The same answer as for an id that does not exist: scope does not leak.
  EXPECT_EQ(get("/api/messages/" + b1_, a)->body,
            get("/api/messages/20250101T000000Z-0000000000000000", a)->body);
  for (const char* what : {"release", "refuse", "not-a-violation"}) {
    auto r = post("/api/messages/" + b1_ + "/" + what, a,
                  json{{"rule", "confidential.nhs-number"}, {"note", "x"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << what;
  }
  EXPECT_EQ(post("/api/messages/" + b1_ + "/delete", login("admin.a"))->status, 404);
  EXPECT_EQ(store_->get(b1_)->status, QuarantineStatus::held);
  // Nothing was recorded against B's message by A's reviewer, and no attempt shows up
  // anywhere A's reviewer can look.
  for (const auto& e : store_->audit_log(b1_)) EXPECT_NE(e.actor, "head.a") << e.action;
  EXPECT_EQ(audited(a).count(b1_), 0u);
  EXPECT_TRUE(get_json("/api/audit?message=" + b1_, a)["entries"].empty());
  // B's own reviewer decides it.
  EXPECT_EQ(post("/api/messages/" + b1_ + "/refuse", b, json{{"note", "no"}})->status, 200);
  EXPECT_EQ(store_->get(b1_)->status, QuarantineStatus::refused);
}

TEST_P(SchoolsApiTest, AuditShowsOnlyTheSchoolsEntries) {
  Login a = login("head.a"), b = login("head.b"), dpo = login("dpo");
  get("/api/messages/" + a1_, a);
  get("/api/messages/" + b1_, b);
  post("/api/messages/" + b1_ + "/refuse", b, json{{"note", "no"}});
  auto of_a = audited(a), of_b = audited(b), of_dpo = audited(dpo);
  EXPECT_EQ(of_a.count(b1_), 0u);
  EXPECT_EQ(of_a.count(a1_), 1u);
  EXPECT_EQ(of_b.count(a1_) + of_b.count(a2_) + of_b.count(old_), 0u);
  EXPECT_EQ(of_b.count(b1_), 1u);
  for (const auto& id : {a1_, a2_, b1_, old_}) EXPECT_EQ(of_dpo.count(id), 1u) << id;
  // Sign-ins: one's own only (a reviewer of B signing in is not A's business).
  for (const auto& e : get_json("/api/audit?limit=1000&action=signed-in", a)["entries"])
    EXPECT_EQ(e["actor"], "head.a");
  // A's admin sees every entry of A's messages, and the sign-ins of A's accounts - never B's.
  Login adm = login("admin.a");
  auto of_admin = audited(adm);
  EXPECT_EQ(of_admin.count(b1_), 0u);
  EXPECT_EQ(of_admin.count(a2_), 1u);
  for (const auto& e : get_json("/api/audit?limit=1000&action=signed-in", adm)["entries"])
    EXPECT_NE(e["actor"], "head.b");
}

TEST_P(SchoolsApiTest, CountsSessionAndAccountsAreScoped) {
  Login a = login("head.a"), b = login("head.b"), dpo = login("dpo");
  post("/api/messages/" + b1_ + "/refuse", b, json{{"note", "no"}});
  json ca = get_json("/api/counts", a), cb = get_json("/api/counts", b),
       cd = get_json("/api/counts", dpo);
  EXPECT_EQ(ca["held"], 3);
  EXPECT_EQ(ca["refused"], 0);
  EXPECT_EQ(cb["held"], 0);
  EXPECT_EQ(cb["refused"], 1);
  EXPECT_EQ(cd["held"], 3);
  EXPECT_EQ(cd["refused"], 1);
  json sa = get_json("/api/session", a), sb = get_json("/api/session", b),
       sd = get_json("/api/session", dpo);
  EXPECT_EQ(sa["school"], "St Anne's C of E Primary School");
  EXPECT_EQ(sb["title"], "the headteacher of St Bede's");
  EXPECT_EQ(sb["schools"].size(), 1u);
  EXPECT_EQ(sd["school"], "Example Learning Trust");
  EXPECT_EQ(sd["schools"].size(), 2u);
  // A's admin: the accounts of A and the trust roles, not B's reviewer.
  std::set<std::string> logins;
  for (const auto& u : get_json("/api/users", login("admin.a")))
    logins.insert(u["login"].get<std::string>());
  EXPECT_EQ(logins, (std::set<std::string>{"admin.a", "dpo", "head.a"}));
}

TEST_P(SchoolsApiTest, MonitorEntriesAreScoped) {
  MonitorInput mi;
  mi.sender = "bea.teacher@stbedes.example";
  mi.categories = {"confidential"};
  mi.would_action = "quarantine";
  mi.school = "st-bedes";
  store_->record_monitor(mi);
  mi.sender = "ada.teacher@stannes.example";
  mi.school = "st-annes";
  store_->record_monitor(mi);
  json ma = get_json("/api/monitor", login("head.a")),
       mb = get_json("/api/monitor", login("head.b"));
  ASSERT_EQ(ma.size(), 1u);
  EXPECT_EQ(ma[0]["sender"], "ada.teacher@stannes.example");
  ASSERT_EQ(mb.size(), 1u);
  EXPECT_EQ(mb[0]["school"], "st-bedes");
  EXPECT_EQ(get_json("/api/monitor", login("dpo")).size(), 2u);
}

TEST_P(SchoolsApiTest, NoticesGoToTheSchoolsReviewersInTheSchoolsName) {
  auto h = fx_->service->send_notices(static_cast<std::int64_t>(std::time(nullptr)));
  EXPECT_EQ(h.failures, 0);
  EXPECT_EQ(h.sender_notices, 4);
  EXPECT_EQ(h.reviewer_notices, 4);  // one per message (immediate)
  auto got = fx_->sink->wait_for(8);
  ASSERT_EQ(got.size(), 8u);
  int to_a = 0, to_b = 0, to_dpo = 0;
  for (const auto& m : got) {
    const bool mentions_b =
        m.data.find(b1_) != std::string::npos || m.data.find("bea.teacher") != std::string::npos;
    const bool mentions_a = m.data.find(a1_) != std::string::npos ||
                            m.data.find(a2_) != std::string::npos ||
                            m.data.find(old_) != std::string::npos;
    auto to = [&](const char* who) {
      return std::find(m.rcpts.begin(), m.rcpts.end(), who) != m.rcpts.end();
    };
    if (to("head@stannes.example")) {
      ++to_a;
      EXPECT_FALSE(mentions_b) << m.data;
      EXPECT_EQ(m.from, "mail-policy@stannes.example");
    }
    if (to("head@stbedes.example")) {
      ++to_b;
      EXPECT_FALSE(mentions_a) << m.data;
      EXPECT_EQ(m.from, "mail-policy@stbedes.example");
      EXPECT_NE(m.data.find("St Bede's Catholic Primary School"), std::string::npos);
    }
    if (to("dpo@trust.example")) ++to_dpo;
    // Every notice about B's mail - the sender's too - is in B's name.
    if (mentions_b) {
      EXPECT_EQ(m.from, "mail-policy@stbedes.example") << m.data;
    }
  }
  EXPECT_EQ(to_a, 3);    // A1, A2 and the message stored before schools
  EXPECT_EQ(to_b, 1);    // B1
  EXPECT_EQ(to_dpo, 4);  // the trust's dpo reviews every school
}

// Routes apply within the school: an account of another school is never among a message's
// reviewers, also when the sender's own account is left out.
TEST_P(SchoolsApiTest, RoutesApplyWithinTheSchool) {
  Account deputy_b;
  deputy_b.login = "deputy.b";
  deputy_b.role = Role::reviewer;
  deputy_b.email = "deputy@stbedes.example";
  deputy_b.duties = {"deputy"};
  deputy_b.schools = {"st-bedes"};
  fx_->users->add(deputy_b, "correct horse battery");
  // The head of A's own message: A's other accounts review it, B's deputy does not.
  QuarantineItem item = *store_->get(a1_);
  item.sender = "head@stannes.example";
  auto logins = fx_->service->reviewer_logins(item, fx_->users->list());
  EXPECT_EQ(std::count(logins.begin(), logins.end(), "deputy.b"), 0);
  EXPECT_EQ(std::count(logins.begin(), logins.end(), "head.a"), 0);
  QuarantineItem of_b = *store_->get(b1_);
  of_b.sender = "head@stbedes.example";
  auto b_logins = fx_->service->reviewer_logins(of_b, fx_->users->list());
  EXPECT_EQ(std::count(b_logins.begin(), b_logins.end(), "deputy.b"), 1);
  EXPECT_EQ(std::count(b_logins.begin(), b_logins.end(), "head.a"), 0);
}

// The digest: one per school, in its name - the trust's dpo gets one from each school; cover:
// escalation goes to the deputy of the message's school only.
TEST_P(SchoolsApiTest, DigestsAndEscalationsStayWithinTheSchool) {
  for (const auto& [login, email, school] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"deputy.a", "deputy@stannes.example", "st-annes"},
           {"deputy.b", "deputy@stbedes.example", "st-bedes"}}) {
    Account d;
    d.login = login;
    d.email = email;
    d.duties = {"deputy"};
    d.schools = {school};
    fx_->users->add(d, "correct horse battery");
  }
  ReviewConfig cfg = fx_->cfg;
  cfg.digest = true;
  cfg.deputies = {"duty:deputy"};
  ReviewService svc(cfg, *store_, *fx_->users);
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto h = svc.send_notices(now, /*force_digest=*/true);
  EXPECT_EQ(h.failures, 0);
  std::size_t seen = 4 + 6;  // 4 senders; digests: head.a, head.b, dpo x2, deputy.a, deputy.b
  auto got = fx_->sink->wait_for(seen);
  ASSERT_EQ(got.size(), seen);
  int dpo_digests = 0;
  for (const auto& m : got) {
    if (m.rcpts == std::vector<std::string>{"dpo@trust.example"}) {
      ++dpo_digests;
      // Each digest about one school's mail only.
      const bool b = m.data.find(b1_) != std::string::npos;
      EXPECT_EQ(m.from, b ? "mail-policy@stbedes.example" : "mail-policy@stannes.example");
      if (b) {
        EXPECT_EQ(m.data.find(a1_), std::string::npos);
      }
    }
    if (m.rcpts == std::vector<std::string>{"deputy@stbedes.example"}) {
      EXPECT_EQ(m.data.find(a1_), std::string::npos);
    }
  }
  EXPECT_EQ(dpo_digests, 2);
  auto esc = svc.escalate(now + 25 * 3600);
  EXPECT_EQ(esc.escalations, 4);  // each message once, to its school's deputy
  auto all = fx_->sink->wait_for(seen + 4);
  ASSERT_EQ(all.size(), seen + 4);
  for (std::size_t i = seen; i < all.size(); ++i) {
    const bool b = all[i].data.find(b1_) != std::string::npos;
    EXPECT_EQ(all[i].rcpts,
              std::vector<std::string>{b ? "deputy@stbedes.example" : "deputy@stannes.example"});
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, SchoolsApiTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pm
