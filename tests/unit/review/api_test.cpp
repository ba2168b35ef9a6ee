// The HTTP API end to end over a real socket (cpp-httplib client against ReviewServer):
// every endpoint, and denial without a session, with the wrong role, without the CSRF
// token; cookie flags, security headers, throttling and the TOTP second factor.
#include <httplib.h>
#include <gtest/gtest.h>

#include <thread>

#include "fixture.h"
#include "review/server.h"
#include "review/totp.h"

namespace pm {
namespace {

using nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start(true); }
  void TearDown() override { stop(); }
  void start(bool reinject_works) {
    fx_ = std::make_unique<test::Fixture>(reinject_works);
    server_ = std::make_unique<ReviewServer>(*fx_->service, *fx_->users);
    port_ = server_->bind("127.0.0.1", 0);
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    for (int i = 0; i < 100 && !client_->Get("/app.css"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  void stop() {
    server_->stop();
    thread_.join();
    server_.reset();
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
  std::unique_ptr<ReviewServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::thread thread_;
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
  for (const std::string& p : std::vector<std::string>{"/api/session", "/api/messages", "/api/messages/" + id,
                                                       "/api/audit", "/api/dismissals", "/api/users"}) {
    auto r = get(p, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << p;
  }
  for (const std::string a : std::vector<std::string>{"release", "refuse", "not-a-violation", "delete"}) {
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
  auto r = client_->Post("/api/login", json{{"login", "head.teacher"}, {"password", "correct horse battery"}}.dump(),
                         "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::string c = r->get_header_value("Set-Cookie");
  EXPECT_NE(c.find("HttpOnly"), std::string::npos);
  EXPECT_NE(c.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(c.find("Secure"), std::string::npos);  // plain HTTP on loopback here
  auto bad = client_->Post("/api/login", json{{"login", "head.teacher"}, {"password", "wrong password"}}.dump(),
                           "application/json");
  EXPECT_EQ(bad->status, 401);
  auto form = client_->Post("/api/login", "login=head.teacher&password=correct+horse+battery",
                            "application/x-www-form-urlencoded");
  EXPECT_EQ(form->status, 415);  // a cross-site form cannot sign anyone in
  EXPECT_EQ(fx_->store->audit_log("", 10)[0].action, "signed-in");
}

TEST_F(ApiTest, SignInIsThrottled) {
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(client_->Post("/api/login", json{{"login", "chair"}, {"password", "guess number " + std::to_string(i)}}.dump(),
                            "application/json")->status, 401);
  auto r = client_->Post("/api/login", json{{"login", "chair"}, {"password", "correct horse battery"}}.dump(),
                         "application/json");
  EXPECT_EQ(r->status, 429);
}

TEST_F(ApiTest, TotpSecondFactor) {
  std::string secret = totp::new_secret_base32();
  fx_->add_user("safeguarding.lead", Role::reviewer, "", secret);
  auto r = client_->Post("/api/login", json{{"login", "safeguarding.lead"}, {"password", "correct horse battery"}}.dump(),
                         "application/json");
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(json::parse(r->body)["totp_required"].get<bool>());
  EXPECT_TRUE(r->get_header_value("Set-Cookie").empty());
  auto wrong = client_->Post("/api/login", json{{"login", "safeguarding.lead"}, {"password", "correct horse battery"},
                                                {"totp", "000000"}}.dump(), "application/json");
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
  auto audit = json::parse(get("/api/audit?message=" + id, &head)->body);
  EXPECT_EQ(audit[0]["action"], "viewed");
  EXPECT_EQ(audit[0]["actor"], "head.teacher");
  Login chair = login("chair");
  EXPECT_EQ(get("/api/messages/" + about, &chair)->status, 200);
}

TEST_F(ApiTest, StateChangesNeedTheCsrfToken) {
  std::string id = fx_->put_confidential();
  Login head = login("head.teacher");
  for (const std::string a : std::vector<std::string>{"release", "refuse", "not-a-violation"}) {
    auto r = post("/api/messages/" + id + "/" + a, &head, {{"rule", "confidential.nhs-number"}}, /*with_csrf=*/false);
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
  EXPECT_EQ(post("/api/messages/" + id + "/release", &head, {{"recipients", {"stranger@gmail.com"}}})->status, 409);
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
  EXPECT_EQ(post("/api/messages/" + a + "/not-a-violation", &head, {{"rule", "confidential.nhs-number"}})->status, 200);
  EXPECT_EQ(post("/api/messages/" + a + "/not-a-violation", &head, {{"rule", "made.up"}})->status, 409);
  EXPECT_EQ(post("/api/messages/" + b + "/refuse", &head, {{"note", "Use the portal."}})->status, 200);
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
