// The HTTP API end to end over a real socket (cpp-httplib client against ReviewServer):
// every endpoint, and denial without a session, with the wrong role, without the CSRF
// token; cookie flags, security headers, throttling and the TOTP second factor.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "fixture.h"
#include "review/server.h"
#include "review/totp.h"
#include "server_fixture.h"

namespace pm {
namespace {

using nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start(true); }
  void TearDown() override { stop(); }
  void start(bool reinject_works) {
    fx_ = std::make_unique<test::Fixture>(reinject_works);
    srv_ = std::make_unique<test::LoopbackServer>(*fx_->service, *fx_->users);
    port_ = srv_->port;
    client_ = srv_->client.get();
  }
  void stop() {
    srv_.reset();
    fx_.reset();
  }

  struct Login {
    std::string cookie, csrf;
  };
  Login login(const std::string& user, const std::string& code = "") {
    json body = {{"login", user}, {"password", "correct horse battery"}};
    if (!code.empty()) body["totp"] = code;
    auto r = client_->Post("/api/login", body.dump(), "application/json");
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    std::string set = r->get_header_value("Set-Cookie");
    return {set.substr(0, set.find(';')), json::parse(r->body)["csrf"]};
  }
  httplib::Result get(const std::string& path, const Login* who) {
    httplib::Headers h;
    if (who) h.emplace("Cookie", who->cookie);
    return client_->Get(path, h);
  }
  httplib::Result post(const std::string& path, const Login* who, const json& body = json::object(),
                       bool with_csrf = true) {
    httplib::Headers h;
    if (who) h.emplace("Cookie", who->cookie);
    if (who && with_csrf) h.emplace("X-CSRF-Token", who->csrf);
    return client_->Post(path, h, body.dump(), "application/json");
  }

  std::unique_ptr<test::Fixture> fx_;
  std::unique_ptr<test::LoopbackServer> srv_;
  httplib::Client* client_ = nullptr;
  int port_ = 0;
};

TEST_F(ApiTest, PageIsServedWithAStrictPolicy) {
  auto r = client_->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
  std::string csp = r->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY");
  EXPECT_EQ(r->body.find("<script>"), std::string::npos);  // no inline script
  auto js = client_->Get("/app.js");
  ASSERT_TRUE(js);
  EXPECT_NE(js->body.find("textContent"), std::string::npos);
  EXPECT_EQ(js->body.find("innerHTML"), std::string::npos);
}

TEST_F(ApiTest, EverythingNeedsASession) {
  std::string id = fx_->put_confidential();
  for (const std::string& p :
       std::vector<std::string>{"/api/session", "/api/messages", "/api/messages/" + id,
                                "/api/audit", "/api/dismissals", "/api/users"}) {
    auto r = get(p, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << p;
  }
  for (const std::string a :
       std::vector<std::string>{"release", "refuse", "not-a-violation", "delete"}) {
    auto r = post("/api/messages/" + id + "/" + a, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << a;
  }
  EXPECT_EQ(post("/api/logout", nullptr)->status, 401);
  Login forged{"pm_review=" + std::string(64, 'a'), "x"};
  EXPECT_EQ(get("/api/messages", &forged)->status, 401);
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::held);
}

TEST_F(ApiTest, SignInSetsAStrictHttpOnlyCookie) {
  auto r = client_->Post(
      "/api/login", json{{"login", "head.teacher"}, {"password", "correct horse battery"}}.dump(),
      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::string c = r->get_header_value("Set-Cookie");
  EXPECT_NE(c.find("HttpOnly"), std::string::npos);
  EXPECT_NE(c.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(c.find("Secure"), std::string::npos);  // plain HTTP on loopback here
  EXPECT_EQ(c.rfind("pm_review=", 0), 0u);         // no __Host- prefix without Secure
  // The cookie lives as long as the session may (session_max_hours), not longer.
  EXPECT_NE(c.find("Max-Age=" + std::to_string(fx_->cfg.session_max_hours * 3600)),
            std::string::npos)
      << c;
  auto bad = client_->Post("/api/login",
                           json{{"login", "head.teacher"}, {"password", "wrong password"}}.dump(),
                           "application/json");
  EXPECT_EQ(bad->status, 401);
  auto form = client_->Post("/api/login", "login=head.teacher&password=correct+horse+battery",
                            "application/x-www-form-urlencoded");
  EXPECT_EQ(form->status, 415);  // a cross-site form cannot sign anyone in
  bool signed_in = false, failed = false;
  for (const auto& e : fx_->store->audit_log("", 10)) {
    signed_in |= e.action == "signed-in" && e.actor == "head.teacher";
    failed |= e.action == "sign-in-failed" && e.actor == "head.teacher";
  }
  EXPECT_TRUE(signed_in);
  EXPECT_TRUE(failed);
}

TEST_F(ApiTest, SignInIsThrottled) {
  // Five free failures, then growing delays (seconds are whole, so a 1 s delay may have
  // passed by the next try: the count of 401s before the first 429 is 5 or 6).
  int failures = 0, last = 0;
  for (int i = 0; i < 12; ++i) {
    auto g = client_->Post(
        "/api/login",
        json{{"login", "chair"}, {"password", "guess number " + std::to_string(i)}}.dump(),
        "application/json");
    ASSERT_TRUE(g);
    last = g->status;
    if (last != 401) break;
    ++failures;
  }
  EXPECT_GE(failures, 5);
  EXPECT_LE(failures, 7);
  EXPECT_EQ(last, 429);
  auto r = client_->Post("/api/login",
                         json{{"login", "chair"}, {"password", "correct horse battery"}}.dump(),
                         "application/json");
  if (r->status == 200) return;  // the delay had passed already
  EXPECT_EQ(r->status, 429);
  // A delay, not a lock: after Retry-After the right password works.
  int wait = std::stoi(r->get_header_value("Retry-After"));
  EXPECT_GE(wait, 1);
  EXPECT_LE(wait, 4);
  std::this_thread::sleep_for(std::chrono::seconds(wait + 1));
  login("chair");
  // Failures are audited, without the password.
  bool audited = false;
  for (const auto& e : fx_->store->audit_log("", 50))
    if (e.action == "sign-in-failed" && e.actor == "chair")
      audited = e.note.find("guess") == std::string::npos;
  EXPECT_TRUE(audited);
}

TEST_F(ApiTest, XForwardedForIsIgnoredFromAnUntrustedPeer) {
  httplib::Headers h{{"X-Forwarded-For", "203.0.113.9"}};
  client_->Post("/api/login", h, json{{"login", "chair"}, {"password", "not it at all"}}.dump(),
                "application/json");
  auto log = fx_->store->audit_log("", 5);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0].action, "sign-in-failed");
  EXPECT_NE(log[0].note.find("127.0.0.1"), std::string::npos) << log[0].note;
  EXPECT_EQ(log[0].note.find("203.0.113.9"), std::string::npos) << log[0].note;
}

TEST_F(ApiTest, ParallelGuessesAreCountedBeforeThePasswordCheck) {
  std::atomic<int> tried{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 40; ++i)
    ts.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port_);
      auto r = c.Post("/api/login",
                      json{{"login", "chair"}, {"password", "guess " + std::to_string(i)}}.dump(),
                      "application/json");
      if (r && r->status == 401) ++tried;
    });
  for (auto& t : ts) t.join();
  EXPECT_LE(tried.load(), 6);  // 5 free attempts (+1 if the second ticked over)
}

TEST_F(ApiTest, EmptyOrMalformedRecipientsAre400AndReleaseNothing) {
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  for (const json& bad : {json::array(), json("parent.one@gmail.com"), json({1, 2}), json(nullptr),
                          json({""}), json::object()}) {
    auto r = post("/api/messages/" + id + "/release", &head, {{"recipients", bad}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad.dump();
    EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("recipients"),
              std::string::npos);
  }
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::held);
  EXPECT_EQ(fx_->store->get(id)->held_recipients.size(), 3u);
  EXPECT_TRUE(fx_->sink->messages().empty());
}

TEST_F(ApiTest, ReplayedTotpCodeIsRefused) {
  std::string secret = totp::new_secret_base32();
  fx_->add_user("safeguarding.lead", Role::reviewer, "", secret);
  std::string code = totp::totp(*totp::base32_decode(secret), std::time(nullptr));
  login("safeguarding.lead", code);
  auto again = client_->Post(
      "/api/login",
      json{{"login", "safeguarding.lead"}, {"password", "correct horse battery"}, {"totp", code}}
          .dump(),
      "application/json");
  EXPECT_EQ(again->status, 401);
}

TEST_F(ApiTest, SessionsEndWhenTheAccountChangesOrGoes) {
  Login head = login("head.teacher");
  Login chair = login("chair");
  Login admin = login("it.admin");
  fx_->users->set_password("head.teacher", "another long password");
  EXPECT_EQ(get("/api/session", &head)->status, 401);
  fx_->users->remove("chair");
  EXPECT_EQ(get("/api/messages", &chair)->status, 401);
  fx_->users->set_role("it.admin", Role::reviewer);  // demoted: no more admin rights
  EXPECT_EQ(get("/api/users", &admin)->status, 401);
  fx_->users->set_totp("head.teacher", totp::new_secret_base32());
}

TEST_F(ApiTest, ScopedAuditHoldsNothingOutOfScope) {
  std::string mine = fx_->put_confidential();
  std::string about = fx_->put_about_head();
  Login chair = login("chair");
  ASSERT_EQ(get("/api/messages/" + about, &chair)->status, 200);
  Login head = login("head.teacher");
  get("/api/messages/" + mine, &head);
  auto all = json::parse(get("/api/audit?limit=1000", &head)->body)["entries"];
  ASSERT_FALSE(all.empty());
  for (const auto& e : all) {
    EXPECT_NE(e["message_id"], about) << e.dump();
    if (e["message_id"] == "") EXPECT_EQ(e["actor"], "head.teacher") << e.dump();
  }
  EXPECT_EQ(json::parse(get("/api/audit?message=" + about, &head)->body)["entries"].size(), 0u);
  Login admin = login("it.admin");
  bool seen = false;
  auto admin_view = get("/api/audit?limit=1000", &admin);
  const json admin_entries = json::parse(admin_view->body)["entries"];
  for (const auto& e : admin_entries) seen |= e["message_id"] == about;
  EXPECT_TRUE(seen);
}

TEST_F(ApiTest, AuditIsPagedAndFiltered) {
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  for (int i = 0; i < 7; ++i) get("/api/messages/" + id, &head);
  auto p1 = json::parse(get("/api/audit?action=viewed&limit=5", &head)->body);
  ASSERT_EQ(p1["entries"].size(), 5u);
  ASSERT_TRUE(p1["next"].is_number());
  auto p2 = json::parse(
      get("/api/audit?action=viewed&limit=5&before=" + std::to_string(p1["next"].get<long>()),
          &head)
          ->body);
  EXPECT_EQ(p2["entries"].size(), 2u);
  EXPECT_TRUE(p2["next"].is_null());
  for (const auto& e : p2["entries"]) EXPECT_EQ(e["action"], "viewed");
  EXPECT_EQ(get("/api/audit?limit=0", &head)->status, 400);
}

TEST_F(ApiTest, TheHeadTeacherCannotDecideTheirOwnMessage) {
  QuarantineInput in;
  in.sender = "head@stannes.example";  // head.teacher's own address
  in.recipients = in.held_recipients = {"parent.one@gmail.com"};
  in.subject = "Trip list";
  in.categories = {"confidential"};
  in.action = "quarantine";
  in.verdict_json =
      test::verdict("Trip list", test::kBody, "943 476 5919", "confidential.nhs-number",
                    "confidential", {{"parent.one@gmail.com", "personal-webmail"}});
  std::string own = fx_->store->put("Subject: Trip list\r\n\r\nx\r\n", in);
  Login head = login("head.teacher");
  EXPECT_EQ(get("/api/messages/" + own, &head)->status, 404);
  EXPECT_EQ(post("/api/messages/" + own + "/release", &head)->status, 404);
  EXPECT_EQ(fx_->store->get(own)->status, QuarantineStatus::held);
  // It goes to the next reviewer the routing names: chair has the duty in this fixture.
  fx_->users->set_duties("chair", {"chair"});
  Login chair = login("chair");
  EXPECT_EQ(get("/api/messages/" + own, &chair)->status, 200);
}

TEST_F(ApiTest, CrossSiteAndForeignHostRequestsAreRefused) {
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  httplib::Headers h{
      {"Cookie", head.cookie}, {"X-CSRF-Token", head.csrf}, {"Origin", "http://evil.example"}};
  EXPECT_EQ(client_->Post("/api/messages/" + id + "/refuse", h, "{}", "application/json")->status,
            403);
  httplib::Headers h2{
      {"Cookie", head.cookie}, {"X-CSRF-Token", head.csrf}, {"Sec-Fetch-Site", "cross-site"}};
  EXPECT_EQ(client_->Post("/api/messages/" + id + "/refuse", h2, "{}", "application/json")->status,
            403);
  httplib::Headers h3{{"Host", "evil.example"}};
  EXPECT_EQ(client_->Get("/", h3)->status, 421);
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::held);
}

TEST_F(ApiTest, OversizedOrTooManyHeadersAreRefused) {
  httplib::Headers many;
  for (int i = 0; i < 100; ++i) many.emplace("X-Filler-" + std::to_string(i), "x");
  auto r = client_->Get("/", many);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  auto big = client_->Get("/", httplib::Headers{{"X-Big", std::string(20000, 'a')}});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 431);
  EXPECT_EQ(client_->Get("/app.css")->status, 200);
}

TEST_F(ApiTest, TotpSecondFactor) {
  std::string secret = totp::new_secret_base32();
  fx_->add_user("safeguarding.lead", Role::reviewer, "", secret);
  auto r = client_->Post(
      "/api/login",
      json{{"login", "safeguarding.lead"}, {"password", "correct horse battery"}}.dump(),
      "application/json");
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(json::parse(r->body)["totp_required"].get<bool>());
  EXPECT_TRUE(r->get_header_value("Set-Cookie").empty());
  auto wrong = client_->Post(
      "/api/login",
      json{
          {"login", "safeguarding.lead"}, {"password", "correct horse battery"}, {"totp", "000000"}}
          .dump(),
      "application/json");
  EXPECT_EQ(wrong->status, 401);
  std::string code = totp::totp(*totp::base32_decode(secret), std::time(nullptr));
  Login s = login("safeguarding.lead", code);
  EXPECT_EQ(get("/api/session", &s)->status, 200);
}

TEST_F(ApiTest, ListDetailAuditAndSession) {
  std::string id = fx_->put_confidential();
  std::string about = fx_->put_about_head();
  Login head = login("head.teacher");
  auto s = json::parse(get("/api/session", &head)->body);
  EXPECT_EQ(s["login"], "head.teacher");
  EXPECT_EQ(s["role"], "reviewer");
  auto list = json::parse(get("/api/messages", &head)->body);
  ASSERT_EQ(list.size(), 1u);  // the complaint about the head goes to the chair
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(list[0]["recipients_detail"][0]["label"], "personal webmail");
  EXPECT_EQ(json::parse(get("/api/messages?category=abusive", &head)->body).size(), 0u);
  EXPECT_EQ(get("/api/messages?status=bogus", &head)->status, 400);
  EXPECT_EQ(get("/api/messages/" + about, &head)->status, 404);
  EXPECT_EQ(get("/api/messages/20250101T000000Z-0000000000000000", &head)->status, 404);
  auto d = json::parse(get("/api/messages/" + id, &head)->body);
  EXPECT_EQ(d["findings_detail"][0]["rule"], "confidential.nhs-number");
  EXPECT_TRUE(d["can_decide"].get<bool>());
  auto audit = json::parse(get("/api/audit?message=" + id, &head)->body)["entries"];
  EXPECT_EQ(audit[0]["action"], "viewed");
  EXPECT_EQ(audit[0]["actor"], "head.teacher");
  Login chair = login("chair");
  EXPECT_EQ(get("/api/messages/" + about, &chair)->status, 200);
}

TEST_F(ApiTest, StateChangesNeedTheCsrfToken) {
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  for (const std::string a : std::vector<std::string>{"release", "refuse", "not-a-violation"}) {
    auto r = post("/api/messages/" + id + "/" + a, &head, {{"rule", "confidential.nhs-number"}},
                  /*with_csrf=*/false);
    EXPECT_EQ(r->status, 403) << a;
  }
  Login wrong = head;
  wrong.csrf = std::string(64, '0');
  EXPECT_EQ(post("/api/messages/" + id + "/release", &wrong)->status, 403);
  EXPECT_EQ(post("/api/logout", &head, {}, false)->status, 403);
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::held);
  EXPECT_TRUE(fx_->store->dismissals().empty());
  EXPECT_TRUE(fx_->sink->messages().empty());
}

TEST_F(ApiTest, ReleasePartialThenFull) {
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  auto r = post("/api/messages/" + id + "/release", &head,
                {{"recipients", {"referrals@somerset-la.example"}}, {"note", "referral"}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(json::parse(r->body)["fully_released"].get<bool>());
  EXPECT_EQ(
      post("/api/messages/" + id + "/release", &head, {{"recipients", {"stranger@gmail.com"}}})
          ->status,
      400);
  r = post("/api/messages/" + id + "/release", &head);
  ASSERT_EQ(r->status, 200);
  EXPECT_TRUE(json::parse(r->body)["fully_released"].get<bool>());
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::released);
  EXPECT_EQ(post("/api/messages/" + id + "/refuse", &head)->status, 409);  // already decided
  auto msgs = fx_->sink->wait_for(4);
  ASSERT_EQ(msgs.size(), 4u);  // 2 releases + 2 notices to the sender
  EXPECT_EQ(msgs[0].data.rfind("X-Policy-Released-By: head.teacher", 0), 0u);
}

TEST_F(ApiTest, RefuseAndNotAViolation) {
  std::string a = fx_->put_confidential();
  std::string b = fx_->put_confidential();
  Login head = login("head.teacher");
  EXPECT_EQ(
      post("/api/messages/" + a + "/not-a-violation", &head, {{"rule", "confidential.nhs-number"}})
          ->status,
      200);
  EXPECT_EQ(post("/api/messages/" + a + "/not-a-violation", &head, {{"rule", "made.up"}})->status,
            409);
  EXPECT_EQ(post("/api/messages/" + b + "/refuse", &head, {{"note", "Use the portal."}})->status,
            200);
  EXPECT_EQ(fx_->store->get(b)->status, QuarantineStatus::refused);
  EXPECT_EQ(get("/api/messages/" + b, &head)->status, 200);  // still listed, content gone
  EXPECT_EQ(json::parse(get("/api/messages/" + b, &head)->body)["segments"].size(), 0u);
}

TEST_F(ApiTest, AdminOnlyEndpointsRefuseReviewers) {
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  EXPECT_EQ(get("/api/dismissals", &head)->status, 403);
  EXPECT_EQ(get("/api/users", &head)->status, 403);
  EXPECT_EQ(post("/api/messages/" + id + "/delete", &head)->status, 403);
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::held);
  Login admin = login("it.admin");
  auto users = json::parse(get("/api/users", &admin)->body);
  EXPECT_EQ(users.size(), 3u);
  EXPECT_EQ(users[0].dump().find("argon2"), std::string::npos);
  EXPECT_EQ(get("/api/dismissals", &admin)->status, 200);
  EXPECT_EQ(post("/api/messages/" + id + "/delete", &admin, {{"note", "test data"}})->status, 200);
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::deleted);
}

TEST_F(ApiTest, LogoutEndsTheSession) {
  Login head = login("head.teacher");
  EXPECT_EQ(post("/api/logout", &head)->status, 200);
  EXPECT_EQ(get("/api/session", &head)->status, 401);
  auto log = fx_->store->audit_log("", 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].action, "signed-out");
  EXPECT_EQ(log[0].actor, "head.teacher");
}

TEST_F(ApiTest, FailedReinjectionAnswers502AndKeepsTheMessage) {
  stop();
  start(/*reinject_works=*/false);
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  auto r = post("/api/messages/" + id + "/release", &head);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("still held"), std::string::npos);
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::held);
}

}  // namespace
}  // namespace pm
