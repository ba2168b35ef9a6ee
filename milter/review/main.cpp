// policy-review - the head teacher's web page for held mail.
//
//   1. read the configuration ([review], [quarantine], [school]); refuse to start on error
//   2. open the quarantine store and the accounts file
//   3. bind the listener (loopback by default; HTTPS when tls_cert/tls_key are set)
//   4. housekeeping thread: notices every minute, retention every hour
//   5. serve until SIGTERM/SIGINT
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "review/server.h"
#include "util/error.h"
#include "util/log.h"

namespace {

const char* const kUsage = R"(usage: policy-review [--config FILE] [--listen HOST:PORT] [--help] [--version]

The review page for mail held by policy-milter: sign in, read why a message was held,
release it (to all or some recipients) or refuse it. Accounts: `policyctl users add`.

Exit status: 0 stopped by SIGTERM/SIGINT; 1 cannot open the quarantine or the accounts
file, or cannot listen; 2 usage or configuration error.
)";

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path config_path;
  std::string listen;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) config_path = argv[++i];
    else if (a == "--listen" && i + 1 < argc) listen = argv[++i];
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-V" || a == "--version") {
      std::printf("policy-review %s\n", pm::logging::version());
      return 0;
    } else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  if (config_path.empty()) config_path = pm::default_config_path();
  // journald <N> priorities under systemd, else syslog (LOG_MAIL) + stderr: util/log.h.
  pm::logging::setup("policy-review", pm::logging::Kind::daemon);

  // 1. configuration
  pm::ReviewConfig cfg;
  try {
    cfg = pm::load_review_config(config_path);
    if (!listen.empty()) {
      auto ep = pm::parse_smtp_endpoint(listen);
      cfg.listen_host = ep.host;
      cfg.listen_port = ep.port;
    }
  } catch (const std::exception& e) {
    spdlog::critical("refusing to start: {}", e.what());
    return 2;
  }

  // 2. store and accounts
  std::unique_ptr<pm::QuarantineBackend> store;
  std::unique_ptr<pm::UserStore> users;
  try {
    store = pm::open_store(cfg.store);
    users = std::make_unique<pm::UserStore>(cfg.users_db);
  } catch (const std::exception& e) {
    spdlog::critical("refusing to start: {}", e.what());
    return 1;
  }
  pm::ReviewService service(cfg, *store, *users);
  std::unique_ptr<pm::ReviewServer> server_ptr;
  try {
    server_ptr = std::make_unique<pm::ReviewServer>(service, *users);
  } catch (const std::exception& e) {
    spdlog::critical("refusing to start: {}", e.what());
    return 1;
  }
  pm::ReviewServer& server = *server_ptr;
  if (!cfg.public_url_set)
    spdlog::warn(
        "[review] public_url is not set: notices link reviewers to {}, which only works on this "
        "machine; set public_url to the address reviewers open",
        cfg.public_url);

  // 3. listener
  int port = server.bind(cfg.listen_host, cfg.listen_port);
  if (port < 0) {
    spdlog::critical(
        "refusing to start: cannot listen on {}:{} (in use by another program, or not an "
        "address of this machine)",
        cfg.listen_host, cfg.listen_port);
    return 1;
  }

  // 4. housekeeping
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread housekeeping([&] {
    std::int64_t last_retention = 0;
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      try {
        std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
        auto n = service.send_notices(now);
        if (n.sender_notices || n.reviewer_notices || n.failures)
          spdlog::info("notices: {} to senders, {} to reviewers, {} failed", n.sender_notices,
                       n.reviewer_notices, n.failures);
        if (now - last_retention >= 3600) {
          auto r = service.retention(now);
          last_retention = now;
          if (r.expired || r.purged)
            spdlog::info("retention: {} refused (undecided), {} purged (decided)", r.expired, r.purged);
        }
      } catch (const std::exception& e) {
        spdlog::error("housekeeping: {}", e.what());
      }
      lock.lock();
      cv.wait_for(lock, std::chrono::seconds(60), [&] { return stopping; });
    }
  });

  // 5. serve; a signal thread stops the server (no work inside a signal handler).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("signal {}: stopping", sig);
    server.stop();
  });
  signals.detach();

  spdlog::info("policy-review listening on {}://{}:{} (quarantine {}, {} route(s))",
               cfg.tls_cert.empty() ? "http" : "https", cfg.listen_host, port, store->describe(),
               cfg.routes.size());
  sd_notify(0, "READY=1");
  server.run();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  housekeeping.join();
  return 0;
}
