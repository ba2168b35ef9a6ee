// policy-review as real processes (issue 9): two of them on one store, over real HTTP,
// with a real SMTP sink counting what the "MTA" received. Decisions are exactly once
// across processes, a refused complaint stays out of the head's sight after a restart,
// a second instance on a busy port fails, and 200 slow clients from several loopback
// addresses do not stop a normal request. Also the shipped routing on the corpus's
// complaints about the head.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/schema.h"
#include "engine/engine.h"
#include "engine/verdict_json.h"
#include "fixture.h"
#include "review/server.h"
#include "review/totp.h"

namespace pm {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A free loopback port for a policy-review to listen on.
int free_port() {
  return test::closed_port();
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The shipped configuration with this test's store, accounts, sink and port.
fs::path write_config(const test::Fixture& fx, int port) {
  std::istringstream in(slurp(fs::path(PM_SOURCE_DIR) / "conf/policy-milter.toml"));
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("dir = \"../rules\"", 0) == 0)
      line = "dir = \"" PM_SOURCE_DIR "/rules\"";
    else if (line.rfind("dir = \"/var/lib/policy-milter/quarantine\"", 0) == 0)
      line = "dir = \"" + (fx.dir / "quarantine").string() + "\"";
    else if (line.rfind("listen = ", 0) == 0)
      line = "listen = \"127.0.0.1:" + std::to_string(port) + "\"";
    else if (line.rfind("users_db = ", 0) == 0)
      line = "users_db = \"" + (fx.dir / "users.sqlite").string() + "\"";
    else if (line.rfind("reinject = ", 0) == 0)
      line = "reinject = \"127.0.0.1:" + std::to_string(fx.sink->port()) + "\"";
    out += line + "\n";
  }
  fs::path p = fx.dir / ("policy-milter-" + std::to_string(port) + ".toml");
  std::ofstream(p) << out;
  return p;
}

struct Review {
  pid_t pid = -1;
  int port = 0;
  int start(const fs::path& config, int p) {
    port = p;
    pid = ::fork();
    if (pid == 0) {
      std::string log = config.string() + ".log";
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(PM_REVIEW_BIN, PM_REVIEW_BIN, "--config", config.c_str(), nullptr);
      ::_exit(127);
    }
    return pid;
  }
  bool up() {
    httplib::Client c("127.0.0.1", port);
    for (int i = 0; i < 200; ++i) {
      if (auto r = c.Get("/app.css"); r && r->status == 200) return true;
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st = 0;
      ::waitpid(pid, &st, 0);
      pid = -1;
    }
  }
  ~Review() { stop(); }
};

struct Login {
  std::string cookie, csrf;
};

Login login(int port, const std::string& user) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/login", json{{"login", user}, {"password", "correct horse battery"}}.dump(),
                  "application/json");
  EXPECT_TRUE(r);
  if (!r || r->status != 200) return {};
  std::string set = r->get_header_value("Set-Cookie");
  return {set.substr(0, set.find(';')), json::parse(r->body)["csrf"]};
}

httplib::Result post(int port, const Login& who, const std::string& path,
                     const json& body = json::object()) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(std::chrono::seconds(90));
  return c.Post(path, httplib::Headers{{"Cookie", who.cookie}, {"X-CSRF-Token", who.csrf}},
                body.dump(), "application/json");
}

httplib::Result get(int port, const Login& who, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  return c.Get(path, httplib::Headers{{"Cookie", who.cookie}});
}

std::size_t released_copies(test::Fixture& fx, const std::string& id) {
  std::size_t n = 0;
  for (const auto& m : fx.sink->messages())
    n += m.data.find("(quarantine " + id + ")") != std::string::npos;
  return n;
}

class Processes : public ::testing::Test {
 protected:
  void SetUp() override {
    fx_ = std::make_unique<test::Fixture>();
    fx_->users->set_duties("head.teacher", {"head-teacher"});
    fx_->users->set_duties("chair", {"chair"});
    a_port_ = free_port();
    b_port_ = free_port();
    ASSERT_GT(a_.start(write_config(*fx_, a_port_), a_port_), 0);
    ASSERT_GT(b_.start(write_config(*fx_, b_port_), b_port_), 0);
    ASSERT_TRUE(a_.up()) << slurp(fx_->dir /
                                  ("policy-milter-" + std::to_string(a_port_) + ".toml.log"));
    ASSERT_TRUE(b_.up());
  }
  void TearDown() override {
    a_.stop();
    b_.stop();
    fx_.reset();
  }
  std::unique_ptr<test::Fixture> fx_;
  Review a_, b_;
  int a_port_ = 0, b_port_ = 0;
};

TEST_F(Processes, TenConcurrentReleasesOverTwoProcessesDeliverOneCopy) {
  std::string id = fx_->put_confidential();
  Login la = login(a_port_, "head.teacher"), lb = login(b_port_, "head.teacher");
  std::atomic<int> ok{0}, conflict{0}, other{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 10; ++i)
    ts.emplace_back([&, i] {
      auto r = i % 2 ? post(a_port_, la, "/api/messages/" + id + "/release")
                     : post(b_port_, lb, "/api/messages/" + id + "/release");
      if (r && r->status == 200)
        ++ok;
      else if (r && r->status == 409)
        ++conflict;
      else
        ++other;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), 9);
  EXPECT_EQ(other.load(), 0);
  fx_->sink->wait_for(2);  // the copy and the sender's notice
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(released_copies(*fx_, id), 1u);
  EXPECT_EQ(fx_->store->get(id)->status, QuarantineStatus::released);
  int attempts = 0;
  for (const auto& e : fx_->store->audit_log(id)) attempts += e.action == "release-attempt";
  EXPECT_EQ(attempts, 1);
}

TEST_F(Processes, AReleaseRacingARefuseEndsInOneTrueState) {
  for (int round = 0; round < 3; ++round) {
    std::string id = fx_->put_confidential();
    Login la = login(a_port_, "head.teacher"), lb = login(b_port_, "head.teacher");
    int rel = 0, ref = 0;
    std::thread t1([&] { rel = post(a_port_, la, "/api/messages/" + id + "/release")->status; });
    std::thread t2([&] { ref = post(b_port_, lb, "/api/messages/" + id + "/refuse")->status; });
    t1.join();
    t2.join();
    EXPECT_EQ((rel == 200) + (ref == 200), 1) << rel << " " << ref;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto st = fx_->store->get(id)->status;
    if (rel == 200) {
      EXPECT_EQ(st, QuarantineStatus::released);
      EXPECT_EQ(released_copies(*fx_, id), 1u);
    } else {
      EXPECT_EQ(st, QuarantineStatus::refused);
      EXPECT_EQ(released_copies(*fx_, id), 0u);
    }
    // The sender was told exactly what happened (one notice, the right one).
    int told_released = 0, told_refused = 0;
    for (const auto& m : fx_->sink->messages()) {
      if (m.rcpts != std::vector<std::string>{"ada.teacher@stannes.example"}) continue;
      if (m.data.find(id) == std::string::npos) continue;
      (m.data.find("was not sent") != std::string::npos ||
               m.data.find("refused") != std::string::npos
           ? told_refused
           : told_released)++;
    }
    EXPECT_EQ(told_released + told_refused, 1);
    EXPECT_EQ(told_refused == 1, st == QuarantineStatus::refused);
  }
}

TEST_F(Processes, ARemovedAccountsSessionGets401AtOnce) {
  Login l = login(a_port_, "chair");
  ASSERT_EQ(get(a_port_, l, "/api/messages")->status, 200);
  fx_->users->remove("chair");  // as `policyctl users remove` does, from another process
  EXPECT_EQ(get(a_port_, l, "/api/messages")->status, 401);
}

TEST_F(Processes, ASecondInstanceOnABusyPortFails) {
  Review c;
  c.start(write_config(*fx_, a_port_), a_port_);
  int st = 0;
  pid_t done = 0;
  for (int i = 0; i < 100 && done == 0; ++i) {
    done = ::waitpid(c.pid, &st, WNOHANG);
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(done, c.pid) << "a second policy-review shared port " << a_port_;
  c.pid = -1;
  EXPECT_TRUE(WIFEXITED(st));
  EXPECT_NE(WEXITSTATUS(st), 0);
}

TEST_F(Processes, AComplaintRefusedByTheChairStaysInvisibleToTheHeadAfterARestart) {
  std::string about = fx_->put_about_head();
  Login chair = login(a_port_, "chair");
  ASSERT_EQ(get(a_port_, chair, "/api/messages/" + about)->status, 200);
  ASSERT_EQ(
      post(a_port_, chair, "/api/messages/" + about + "/refuse", {{"note", "dealt with"}})->status,
      200);
  a_.stop();
  b_.stop();
  ASSERT_GT(a_.start(write_config(*fx_, a_port_), a_port_), 0);
  ASSERT_TRUE(a_.up());
  Login head = login(a_port_, "head.teacher");
  for (const char* st : {"all", "refused", "held", "released"}) {
    auto r = get(a_port_, head, std::string("/api/messages?status=") + st);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->body.find(about), std::string::npos) << st;
  }
  EXPECT_EQ(get(a_port_, head, "/api/messages/" + about)->status, 404);
  EXPECT_EQ(get(a_port_, head, "/api/audit?limit=1000")->body.find(about), std::string::npos);
  EXPECT_EQ(get(a_port_, head, "/api/audit?message=" + about)->body.find(about), std::string::npos);
  // The chair still sees it, decided.
  Login chair2 = login(a_port_, "chair");
  EXPECT_NE(get(a_port_, chair2, "/api/messages?status=all")->body.find(about), std::string::npos);
}

TEST_F(Processes, UserValuesInTheLogAreEscapedAndShort) {
  httplib::Client c("127.0.0.1", a_port_);
  std::string forged = "nobody\n2026-01-01T00:00:00 info review: admin signed in";
  c.Post("/api/login", json{{"login", forged}, {"password", "x"}}.dump(), "application/json");
  c.Post("/api/login", json{{"login", std::string(200000, 'a')}, {"password", "x"}}.dump(),
         "application/json");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::istringstream log(
      slurp(fx_->dir / ("policy-milter-" + std::to_string(a_port_) + ".toml.log")));
  std::string line;
  int failed = 0;
  while (std::getline(log, line)) {
    EXPECT_NE(line.rfind("2026-01-01T00:00:00", 0), 0u) << line;  // no forged line of its own
    EXPECT_LT(line.size(), 400u);
    failed += line.find("failed sign-in") != std::string::npos;
  }
  EXPECT_EQ(failed, 2);
}

TEST_F(Processes, PolicyctlStripsControlCharactersFromItsOutput) {
  QuarantineInput in;
  in.sender = "ada.teacher@stannes.example";
  in.recipients = in.held_recipients = {"parent.one@gmail.com"};
  in.subject = "Trip\x1b]0;owned\x07\x1b[2J\r\nFAKE: line\xe2\x80\xae";
  in.categories = {"confidential"};
  in.action = "quarantine";
  in.verdict_json =
      test::verdict(in.subject, test::kBody, "943 476 5919", "confidential.nhs-number",
                    "confidential", {{"parent.one@gmail.com", "personal-webmail"}});
  std::string id = fx_->store->put("Subject: x\r\n\r\nx\r\n", in);
  fs::path config = write_config(*fx_, a_port_);
  for (const std::string& cmd : std::vector<std::string>{"list", "show " + id}) {
    std::string out_file = (fx_->dir / "policyctl.out").string();
    std::string sh = std::string(PM_POLICYCTL_BIN) + " --config " + config.string() +
                     " quarantine " + cmd + " > " + out_file;
    ASSERT_EQ(std::system(sh.c_str()), 0) << sh;
    std::string out = slurp(out_file);
    for (char ch : out)
      EXPECT_TRUE(ch == '\n' || static_cast<unsigned char>(ch) >= 0x20)
          << cmd << ": control character";
    EXPECT_EQ(out.find("\xe2\x80\xae"), std::string::npos) << cmd << ": bidi override";
    EXPECT_NE(out.find("Trip\\e]0;owned"), std::string::npos) << out;
  }
  // policyctl scan, on mail with escape sequences in its body and sender.
  fs::path eml = fx_->dir / "escape.eml";
  std::ofstream(eml) << "From: \"\x1b[2J\" <ada.teacher@stannes.example>\r\nTo: "
                        "parent.one@gmail.com\r\nSubject: x\r\n\r\n"
                        "Hello \x1b[31mred\x1b[0m, my blog is https://adablog.example.com\r\n";
  std::string out_file = (fx_->dir / "scan.out").string();
  std::string sh = std::string(PM_POLICYCTL_BIN) + " --config " + config.string() +
                   " scan --explain --segments " + eml.string() + " > " + out_file;
  (void)std::system(sh.c_str());
  std::string out = slurp(out_file);
  EXPECT_NE(out.find("\\e[31mred"), std::string::npos) << out;
  for (char ch : out)
    EXPECT_TRUE(ch == '\n' || static_cast<unsigned char>(ch) >= 0x20) << "scan: control character";
}

TEST_F(Processes, AnUnsetPublicUrlIsWarnedAboutAtStartAndInStatus) {
  std::string log = slurp(fx_->dir / ("policy-milter-" + std::to_string(a_port_) + ".toml.log"));
  EXPECT_NE(log.find("public_url is not set"), std::string::npos) << log;
  fs::path config = write_config(*fx_, a_port_);
  std::string err_file = (fx_->dir / "status.err").string();
  std::string sh = std::string(PM_POLICYCTL_BIN) + " --config " + config.string() +
                   " status >/dev/null 2>" + err_file;
  (void)std::system(sh.c_str());  // the daemon is not running here: status is 1
  EXPECT_NE(slurp(err_file).find("public_url is not set"), std::string::npos);
  std::string with = slurp(config);
  auto at = with.find("# public_url = ");
  ASSERT_NE(at, std::string::npos);
  with.replace(at, 2, "");
  std::ofstream(config) << with;
  (void)std::system(sh.c_str());
  EXPECT_EQ(slurp(err_file).find("public_url is not set"), std::string::npos);
}

// Opens `n` connections from `src` that send one header byte and then nothing.
std::vector<int> slow_clients(const char* src, int port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in s{};
    s.sin_family = AF_INET;
    ::inet_pton(AF_INET, src, &s.sin_addr);
    ::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s);
    sockaddr_in d{};
    d.sin_family = AF_INET;
    d.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&d), sizeof d) == 0) {
      (void)::send(fd, "G", 1, MSG_NOSIGNAL);
      fds.push_back(fd);
    } else {
      ::close(fd);
    }
  }
  return fds;
}

TEST_F(Processes, TwoHundredSlowClientsDoNotStopANormalRequest) {
  std::vector<int> all;
  for (int k = 2; k <= 9; ++k) {
    auto fds = slow_clients(("127.0.0." + std::to_string(k)).c_str(), a_port_, 25);
    all.insert(all.end(), fds.begin(), fds.end());
  }
  EXPECT_EQ(all.size(), 200u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  httplib::Client c("127.0.0.1", a_port_);
  c.set_read_timeout(std::chrono::seconds(5));  // generous; bench/review measures latency
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.Get("/app.css");
  ASSERT_TRUE(r) << "no answer while 200 slow clients were connected";
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // Over the per-client limit: turned away at once, the others unaffected.
  auto extra = slow_clients("127.0.0.10", a_port_, 40);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int closed = 0;
  for (int fd : extra) {
    char b[256];
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0 && ::recv(fd, b, sizeof b, MSG_DONTWAIT) >= 0) ++closed;
  }
  EXPECT_GE(closed, 8);  // 40 - max_connections_per_client (32)
  for (int fd : all) ::close(fd);
  for (int fd : extra) ::close(fd);
}

// A ReviewServer in this process with its own configuration, serving until destroyed.
struct Served {
  ReviewService svc;
  ReviewServer srv;
  int port;
  std::thread t;
  Served(const ReviewConfig& cfg, test::Fixture& fx)
      : svc(cfg, *fx.store, *fx.users), srv(svc, *fx.users), port(srv.bind("127.0.0.1", 0)) {
    if (port > 0) t = std::thread([this] { srv.run(); });
  }
  ~Served() {
    srv.stop();
    if (t.joinable()) t.join();
  }
};

// HTTPS served by policy-review itself: __Host- cookie with Secure, HSTS, and clients that
// never finish the TLS handshake do not block others.
TEST(Tls, HostCookieHstsAndStalledHandshakes) {
  test::Fixture fx;
  fs::path cert = fx.dir / "cert.pem", key = fx.dir / "key.pem";
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout " +
      key.string() + " -out " + cert.string() + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ReviewConfig cfg = fx.cfg;
  cfg.tls_cert = cert;
  cfg.tls_key = key;
  Served served(cfg, fx);
  const int port = served.port;
  ASSERT_GT(port, 0);
  std::vector<int> stalled = slow_clients("127.0.0.2", port, 20);  // one byte, no handshake
  httplib::SSLClient c("127.0.0.1", port);
  c.enable_server_certificate_verification(false);
  c.set_read_timeout(std::chrono::seconds(5));
  httplib::Result page = c.Get("/");
  for (int i = 0; i < 50 && !page; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    page = c.Get("/");
  }
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Strict-Transport-Security").rfind("max-age=", 0), 0u);
  auto r = c.Post("/api/login",
                  json{{"login", "head.teacher"}, {"password", "correct horse battery"}}.dump(),
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::string cookie = r->get_header_value("Set-Cookie");
  EXPECT_EQ(cookie.rfind("__Host-pm_review=", 0), 0u) << cookie;
  EXPECT_NE(cookie.find("; Secure"), std::string::npos);
  EXPECT_NE(cookie.find("Path=/"), std::string::npos);
  EXPECT_EQ(cookie.find("Domain"), std::string::npos);
  httplib::Headers h{{"Cookie", cookie.substr(0, cookie.find(';'))}};
  EXPECT_EQ(c.Get("/api/session", h)->status, 200);
  for (int fd : stalled) ::close(fd);
}

// The deadline is for the whole request, not per read: a client that keeps sending a byte
// every half second is still cut off (408) when request_deadline_seconds is over.
TEST(Front, WholeRequestDeadline) {
  test::Fixture fx;
  ReviewConfig cfg = fx.cfg;
  cfg.request_deadline_seconds = 2;
  Served served(cfg, fx);
  const int port = served.port;
  ASSERT_GT(port, 0);
  auto fds = slow_clients("127.0.0.3", port, 1);
  ASSERT_EQ(fds.size(), 1u);
  auto t0 = std::chrono::steady_clock::now();
  std::string got;
  bool closed = false;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8) && !closed) {
    (void)::send(fds[0], "E", 1, MSG_NOSIGNAL);
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 500) > 0) {
      char b[512];
      ssize_t n = ::recv(fds[0], b, sizeof b, 0);
      if (n <= 0)
        closed = true;
      else
        got.append(b, static_cast<std::size_t>(n));
    }
  }
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_LT(took, std::chrono::seconds(5));
  ::close(fds[0]);
}

// Per client address: over the limit is turned away at once (503), except a trusted proxy,
// which carries everyone's connections.
TEST(Front, PerClientLimitSparesTrustedProxies) {
  test::Fixture fx;
  ReviewConfig cfg = fx.cfg;
  cfg.max_connections_per_client = 4;
  cfg.trusted_proxies = {"127.0.0.11"};
  Served served(cfg, fx);
  const int port = served.port;
  ASSERT_GT(port, 0);
  auto count_refused = [&](const char* src) {
    auto fds = slow_clients(src, port, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    int refused = 0;
    for (int fd : fds) {
      char b[256];
      ssize_t n = ::recv(fd, b, sizeof b, MSG_DONTWAIT);
      refused += n > 0 && std::string(b, static_cast<std::size_t>(n)).rfind("HTTP/1.1 503", 0) == 0;
      ::close(fd);
    }
    return refused;
  };
  EXPECT_EQ(count_refused("127.0.0.12"), 6);
  EXPECT_EQ(count_refused("127.0.0.11"), 0);
}

// `policyctl users totp`: a QR code and the secret, and the second factor is on only after
// a code from the app is typed back; a wrong code leaves it off.
TEST(TotpEnrolment, NeedsOneCodeFromTheApp) {
  test::Fixture fx;
  fs::path config = write_config(fx, free_port());
  std::int64_t confirmed_step = 0;
  auto enrol = [&](bool right) {
    int in[2], out[2];
    EXPECT_EQ(::pipe(in), 0);
    EXPECT_EQ(::pipe(out), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      ::execl(PM_POLICYCTL_BIN, PM_POLICYCTL_BIN, "--config", config.c_str(), "users", "totp",
              "chair", nullptr);
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    std::string text;
    char buf[4096];
    const std::string marker = "secret for chair: ";
    while (
        text.find('\n', text.find(marker) == std::string::npos ? text.size() : text.find(marker)) ==
        std::string::npos) {
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    auto at = text.find(marker);
    EXPECT_NE(at, std::string::npos) << text;
    EXPECT_NE(text.find("\u2588"), std::string::npos) << "no QR code";
    std::string secret = text.substr(at + marker.size(), text.find('\n', at) - at - marker.size());
    const std::time_t now = std::time(nullptr);
    confirmed_step = now / 30;  // the step whose code confirms enrolment
    std::string code = right ? totp::totp(*totp::base32_decode(secret), now) : "000000";
    code += "\n";
    EXPECT_EQ(::write(in[1], code.data(), code.size()), static_cast<ssize_t>(code.size()));
    ::close(in[1]);
    while (::read(out[0], buf, sizeof buf) > 0) {
    }
    ::close(out[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return std::make_pair(WIFEXITED(st) ? WEXITSTATUS(st) : -1, secret);
  };
  auto [bad_rc, bad_secret] = enrol(false);
  EXPECT_EQ(bad_rc, 1);
  EXPECT_TRUE(fx.users->find("chair")->totp_secret.empty());
  auto [ok_rc, secret] = enrol(true);
  EXPECT_EQ(ok_rc, 0);
  EXPECT_EQ(fx.users->find("chair")->totp_secret, secret);
  // The confirming code was used up: it cannot sign in a second time.
  // (Its own step, not the clock's: the run may cross a 30 s boundary under load.)
  EXPECT_FALSE(fx.users->accept_totp_step("chair", confirmed_step));
}

// The shipped routing on the project's corpus: every complaint about the head teacher
// goes to the chair, never to the head (dev, dev2 and heldout only: the blind corpus is
// never tuned on).
TEST(ShippedRouting, CorpusComplaintsAboutTheHeadReachTheChairNotTheHead) {
  test::Fixture fx;
  fx.users->set_duties("head.teacher", {"head-teacher"});
  fx.users->set_duties("chair", {"chair"});
  ReviewConfig cfg = load_review_config(fs::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  cfg.quarantine_dir = fx.dir / "quarantine";
  ReviewService svc(cfg, *fx.store, *fx.users);
  auto engine = Engine::load(fs::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  const char* files[] = {"dev/003-staff-leaving-because-head.eml",
                         "dev/005-press-head-liar.eml",
                         "dev/089-head-clueless-to-parent.eml",
                         "dev/106-applicant-warned-off.eml",
                         "dev/148-bursar-blames-head-supplier.eml",
                         "dev/155-head-useless-cow-to-parent-iso.eml",
                         "dev2/012-homework-policy-reply.eml",
                         "heldout/026-press-tipoff-head-lost-control.eml",
                         "heldout/027-parent-head-clueless-iphone.eml"};
  Account head = fx.account("head.teacher"), chair = fx.account("chair");
  int routed = 0;
  for (const char* f : files) {
    std::string raw = slurp(fs::path(PM_SOURCE_DIR) / "tests/corpus" / f);
    ASSERT_FALSE(raw.empty()) << f;
    Verdict v = engine->scan(raw, nullptr);
    nlohmann::json vj =
        nlohmann::json::parse(verdict_to_json(v, "", JsonOptions{.segments = true}));
    QuarantineInput in;
    in.sender = "someone@stannes.example";
    in.recipients = in.held_recipients = {"outside@gazette.example"};
    in.subject = vj.value("subject", "");
    for (const auto& c : vj["categories"]) in.categories.push_back(c.get<std::string>());
    in.action = "quarantine";
    in.verdict_json = vj.dump();
    if (in.categories.empty()) continue;  // not held by the engine: nothing to route
    std::string id = fx.store->put(raw, in);
    auto item = *fx.store->get(id);
    EXPECT_EQ(svc.route_of(item), "complaint about the head teacher") << f;
    item = *fx.store->get(id);
    EXPECT_FALSE(svc.may_review(head, item)) << f;
    EXPECT_TRUE(svc.may_review(chair, item)) << f;
    ++routed;
  }
  EXPECT_GE(routed, 7);
}

// ---- Issue 13: notices from whichever process runs; the sender's link over HTTP -------

// Runs `policyctl --config C quarantine notify` and returns its exit status.
int notify(const fs::path& config) {
  std::string sh = std::string(PM_POLICYCTL_BIN) + " --config " + config.string() +
                   " quarantine notify >>" + config.string() + ".notify.log 2>&1";
  int st = std::system(sh.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Notices in the sink about message `id`: to its sender ("waiting for review") and the rest.
std::pair<int, int> notices_about(test::Fixture& fx, const std::string& id) {
  int sender = 0, others = 0;
  for (const auto& m : fx.sink->messages()) {
    if (m.data.find(id) == std::string::npos) continue;
    bool to_sender = m.rcpts == std::vector<std::string>{"ada.teacher@stannes.example"};
    if (to_sender && m.data.find("waiting for review") != std::string::npos)
      ++sender;
    else if (!to_sender)
      ++others;
  }
  return {sender, others};
}

TEST(NoticesWithoutThePage, PolicyctlNotifySendsEachPendingNoticeOnce) {
  test::Fixture fx;
  const fs::path config = write_config(fx, free_port());  // no policy-review runs
  std::vector<std::string> ids = {fx.put_confidential(), fx.put_confidential(),
                                  fx.put_confidential()};
  ASSERT_EQ(notify(config), 0) << slurp(config.string() + ".notify.log");
  ASSERT_EQ(notify(config), 0);  // the timer's next run: nothing left to send
  fx.sink->wait_for(6);
  for (const auto& id : ids) {
    auto [sender, reviewers] = notices_about(fx, id);
    EXPECT_EQ(sender, 1) << id;
    EXPECT_EQ(reviewers, 1) << id;  // partner mail: one urgent alert to its reviewers
  }
  EXPECT_EQ(fx.sink->messages().size(), 6u);
  EXPECT_NE(slurp(config.string() + ".notify.log").find("notices: 0 to senders, 0 to reviewers"),
            std::string::npos);
}

TEST_F(Processes, PolicyctlNotifyAndAStartingPageSendEachNoticeOnce) {
  a_.stop();  // restarted below: its first housekeeping round races the commands
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(fx_->put_confidential());
  const fs::path config = write_config(*fx_, a_port_);
  std::vector<std::thread> ts;
  std::atomic<int> failed{0};
  ASSERT_GT(a_.start(config, a_port_), 0);
  for (int i = 0; i < 3; ++i) ts.emplace_back([&] { failed += notify(config) != 0; });
  for (auto& t : ts) t.join();
  ASSERT_TRUE(a_.up());
  EXPECT_EQ(failed.load(), 0);
  fx_->sink->wait_for(10);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a duplicate would show now
  for (const auto& id : ids) {
    auto [sender, reviewers] = notices_about(*fx_, id);
    EXPECT_EQ(sender, 1) << id;
    EXPECT_EQ(reviewers, 1) << id;
  }
  EXPECT_EQ(fx_->sink->messages().size(), 10u);
}

TEST_F(Processes, TheSendersLinkShowsAnnotatesAndWithdrawsOverHttp) {
  const std::string id = fx_->put_confidential();
  ReviewService& svc = *fx_->service;  // the same store, so the same signing key
  const std::string token = svc.sender_token(*fx_->store->get(id));
  httplib::Client c("127.0.0.1", a_port_);
  auto as_sender = [&](const std::string& t) { return httplib::Headers{{"X-Sender-Token", t}}; };

  auto page = c.Get("/sender");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("/sender.js"), std::string::npos);

  auto shown = c.Get("/api/sender", as_sender(token));
  ASSERT_TRUE(shown);
  ASSERT_EQ(shown->status, 200) << shown->body;
  json v = json::parse(shown->body);
  EXPECT_EQ(v["id"], id);
  EXPECT_EQ(v["state"], "held");
  EXPECT_EQ(v["clauses"], json::array({"must not disclose personal data"}));
  EXPECT_EQ(shown->body.find("943 476 5919"), std::string::npos);  // never the evidence
  EXPECT_FALSE(v.contains("segments"));
  EXPECT_FALSE(v.contains("findings_detail"));

  auto reason =
      c.Post("/api/sender/reason", as_sender(token),
             json{{"reason", "Lawful referral: the LA asked for it."}}.dump(), "application/json");
  ASSERT_TRUE(reason);
  ASSERT_EQ(reason->status, 200) << reason->body;
  EXPECT_EQ(json::parse(reason->body)["reasons"][0]["reason"],
            "Lawful referral: the LA asked for it.");
  auto empty = c.Post("/api/sender/reason", as_sender(token), json{{"reason", "  "}}.dump(),
                      "application/json");
  EXPECT_EQ(empty->status, 400);
  // The reviewer sees it on the detail page; the decision is still theirs.
  Login head = login(a_port_, "head.teacher");
  auto detail = get(a_port_, head, "/api/messages/" + id);
  ASSERT_EQ(detail->status, 200);
  json d = json::parse(detail->body);
  EXPECT_EQ(d["sender_reasons"][0]["reason"], "Lawful referral: the LA asked for it.");
  EXPECT_TRUE(d["can_decide"].get<bool>());

  // Tampered, another message's id, no token, expired: refused.
  std::string tampered = token;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  const std::string other = fx_->put_confidential();
  for (const auto& bad : {tampered, other + token.substr(token.find('.')), std::string()}) {
    auto r = c.Get("/api/sender", as_sender(bad));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << bad;
    auto w = c.Post("/api/sender/withdraw", as_sender(bad), "{}", "application/json");
    EXPECT_EQ(w->status, 403) << bad;
  }
  {  // the message held 30 days ago: its link (14 days) has expired
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((fx_->dir / "quarantine/index.sqlite").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    std::string sql =
        "UPDATE messages SET received_at = received_at - 2592000 WHERE id = '" + other + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto expired = c.Get("/api/sender", as_sender(svc.sender_token(*fx_->store->get(other))));
    EXPECT_EQ(expired->status, 403);
    EXPECT_NE(expired->body.find("expired"), std::string::npos);
  }
  EXPECT_EQ(fx_->store->get(other)->status, QuarantineStatus::held);

  // Withdraw: refused and deleted, audited as the sender's; a second one is a conflict.
  auto w = c.Post("/api/sender/withdraw", as_sender(token), "{}", "application/json");
  ASSERT_EQ(w->status, 200) << w->body;
  EXPECT_EQ(json::parse(w->body)["state"], "withdrawn");
  auto item = fx_->store->get(id);
  EXPECT_EQ(item->status, QuarantineStatus::refused);
  EXPECT_FALSE(fs::exists(fx_->store->message_path(id)));  // the bytes are gone
  bool audited = false;
  for (const auto& e : fx_->store->audit_log(id))
    audited |= e.action == "withdrawn" && e.actor == "sender:ada.teacher@stannes.example";
  EXPECT_TRUE(audited);
  EXPECT_EQ(c.Post("/api/sender/withdraw", as_sender(token), "{}", "application/json")->status,
            409);
  EXPECT_EQ(c.Post("/api/sender/reason", as_sender(token), json{{"reason", "x"}}.dump(),
                   "application/json")
                ->status,
            409);
  EXPECT_EQ(post(a_port_, head, "/api/messages/" + id + "/release")->status, 409);
  // A cross-site form cannot act for the sender.
  auto cross =
      c.Post("/api/sender/withdraw",
             httplib::Headers{{"X-Sender-Token", token}, {"Origin", "http://evil.example"}}, "{}",
             "application/json");
  EXPECT_EQ(cross->status, 403);
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// `policyctl ...` with `input` on stdin; the exit status and what it printed (both streams).
std::pair<int, std::string> policyctl(const fs::path& config, const std::string& args,
                                      const std::string& input = "") {
  std::string cmd = "printf '%s\\n' '" + input + "' | " PM_POLICYCTL_BIN " --config '" +
                    config.string() + "' " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  int st = p ? ::pclose(p) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// Issue 15: with one school (no [[schools]]) `--school` is refused, so nobody believes an
// account is limited to a school that does not exist; the trust roles are accepted.
TEST(UsersSchools, WithoutSchoolsTheOptionIsRefusedAndTrustRolesWork) {
  test::Fixture fx;
  fs::path config = write_config(fx, free_port());
  auto [rc, out] = policyctl(config, "users set chair --school st-annes");
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("no [[schools]] are configured"), std::string::npos) << out;
  auto [rc2, out2] =
      policyctl(config, "users add dpo --role dpo --password-stdin", "correct horse battery");
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_EQ(fx.users->find("dpo")->role, Role::dpo);
  auto [rc3, out3] = policyctl(config, "users set dpo --role it-admin");
  EXPECT_EQ(rc3, 0) << out3;
  EXPECT_EQ(fx.users->find("dpo")->role, Role::it_admin);
}

// With [[schools]]: ids are checked against them, `set` replaces the list, a reviewer needs
// one. Needs the [[schools]] rows of the configuration schema (the engine side of issue 15).
TEST(UsersSchools, SchoolIdsAreCheckedAgainstTheConfiguration) {
  if (!config::find_table("schools"))
    GTEST_SKIP() << "the configuration schema has no [[schools]] yet";
  test::Fixture fx;
  fs::path config = write_config(fx, free_port());
  std::ofstream(config, std::ios::app)
      << "\n[[schools]]\nid = \"st-annes\"\nname = \"St Anne's\"\nstaff_domains = "
         "[\"stannes.example\"]\n\n[[schools]]\nid = \"st-bedes\"\nname = \"St Bede's\"\n"
         "staff_domains = [\"stbedes.example\"]\n";
  auto [rc, out] = policyctl(config,
                             "users add head.a --role reviewer --school st-annes "
                             "--password-stdin",
                             "correct horse battery");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(fx.users->find("head.a")->schools, std::vector<std::string>{"st-annes"});
  auto [rc2, out2] = policyctl(config,
                               "users add head.x --role reviewer --school st-nowhere "
                               "--password-stdin",
                               "correct horse battery");
  EXPECT_EQ(rc2, 2) << out2;
  EXPECT_NE(out2.find("st-nowhere"), std::string::npos) << out2;
  EXPECT_FALSE(fx.users->find("head.x"));
  auto [rc3, out3] = policyctl(config, "users add head.y --role reviewer --password-stdin",
                               "correct horse battery");
  EXPECT_EQ(rc3, 2) << out3;
  auto [rc4, out4] = policyctl(config, "users set head.a --school st-bedes --school st-annes");
  EXPECT_EQ(rc4, 0) << out4;
  EXPECT_EQ(fx.users->find("head.a")->schools, (std::vector<std::string>{"st-bedes", "st-annes"}));
}

}  // namespace
}  // namespace pm
