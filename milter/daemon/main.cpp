// policy-milter: the school's outgoing-mail filter as a libmilter daemon.
//
//   policy-milter [--config FILE] [--socket SPEC] [--foreground] [--help] [--version]
//
// Reads as the program's table of contents:
//   1. load the configuration and compile the rules (refuse to start on a bad file: file:line)
//   2. open the quarantine store and the milter socket
//   3. run libmilter's loop on its own thread; this (main) thread supervises:
//      SIGHUP -> reload in the background (a SIGHUP during a reload queues exactly one
//      more, so the last change to the files is always loaded), stats file, systemd
//      READY/WATCHDOG
//   4. SIGTERM/SIGINT go to libmilter, which finishes open sessions and returns.
//
// Signals: libmilter's signal thread sigwait()s SIGHUP, SIGTERM and SIGINT and treats
// SIGHUP as "stop". To make SIGHUP mean "reload", SIGHUP stays unblocked (with a handler)
// in the main thread only, and libmilter's sigwait() is wrapped to leave SIGHUP out
// (milter_io.cpp), so it never sees SIGHUP. SIGTERM/SIGINT stay blocked here.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/actions.h"
#include "daemon/config.h"
#include "daemon/milter_io.h"
#include "daemon/runtime.h"
#include "metrics/listener.h"
#include "util/error.h"
#include "util/log.h"

#ifndef PM_DEFAULT_CONFIG
#define PM_DEFAULT_CONFIG "/etc/policy-milter/policy-milter.toml"
#endif

namespace {

int g_hup_pipe[2] = {-1, -1};

extern "C" void on_sighup(int) {
  int saved = errno;
  char c = 'h';
  [[maybe_unused]] auto n = ::write(g_hup_pipe[1], &c, 1);
  errno = saved;
}

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: policy-milter [--config FILE] [--socket SPEC] [--foreground] [--help] [--version]\n"
      "  --config FILE   configuration (default " PM_DEFAULT_CONFIG
      ")\n"
      "  --socket SPEC   milter socket, overrides [milter].socket\n"
      "                  (inet:PORT@127.0.0.1, or unix:/var/spool/postfix/...)\n"
      "  --foreground    do not detach (systemd, tests)\n"
      "  --version       version and the rules snapshot of the configuration\n"
      "Signals: SIGHUP reloads rules and configuration; SIGTERM stops.\n"
      "Exit status: 0 stopped cleanly; 64 usage; 69 cannot open the milter socket;\n"
      "  71 cannot detach or set up signals; 73 cannot open the quarantine store;\n"
      "  78 configuration or rules refused (file:line in the log).\n");
}

// Builds a new snapshot; throws ConfigError (file:line) when the files are broken.
std::shared_ptr<const pm::Snapshot> load_snapshot(const std::string& config_file) {
  auto snap = std::make_shared<pm::Snapshot>();
  snap->config = std::make_shared<const pm::DaemonConfig>(pm::load_daemon_config(config_file));
  snap->engine = pm::Engine::load(config_file);
  return snap;
}

// Every connection costs a descriptor (twice: a waiting one and a served one), plus a spill
// file while a large message arrives: take the hard limit, and say when it is too low.
void raise_descriptor_limit(unsigned max_connections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t need = 3 * static_cast<rlim_t>(max_connections) + 64;
  if (rl.rlim_cur < need)
    spdlog::warn("descriptor limit {} is below 3 x max_connections + 64 = {}: raise LimitNOFILE",
                 static_cast<unsigned long long>(rl.rlim_cur),
                 static_cast<unsigned long long>(need));
}

void publish_figures(pm::Runtime& rt) {
  auto m = rt.budget->figures();
  rt.stats.set_figures("memory", {{"budget_bytes", m.budget},
                                  {"in_use_bytes", m.in_use},
                                  {"peak_bytes", m.peak},
                                  {"deferred", m.deferred},
                                  {"never_fit", m.never_fit}});
  auto g = pm::gate_figures();
  rt.stats.set_figures("connections", {{"active", g.active},
                                       {"waiting", g.waiting},
                                       {"accepted", g.accepted},
                                       {"closed_silent", g.closed_silent},
                                       {"closed_over_limit", g.closed_over_limit}});
  if (rt.store) {  // the store's health as gauges too (metrics; status reads health.json)
    auto h = rt.store->health();
    rt.stats.set_figures("quarantine", {{"ok", h.ok ? 1u : 0u},
                                        {"reindexed", h.reindexed},
                                        {"orphans", h.orphans},
                                        {"missing", h.missing}});
  }
  auto w = rt.pool->figures();
  rt.stats.set_figures("workers", {{"workers", w.workers},
                                   {"busy", w.busy},
                                   {"queued_small", w.queued_small},
                                   {"queued_large", w.queued_large}});
}

}  // namespace

int main(int argc, char** argv) {
  // Without TZ, glibc stat()s /etc/localtime at every mktime(): libzip calls it for each
  // entry of every archive it opens, 30+ system calls per message with an Office
  // attachment (issue 12). TZ naming the same file makes glibc read it once. Set before
  // any thread starts (setenv is not thread-safe); a TZ already given is kept.
  ::setenv("TZ", ":/etc/localtime", 0);
  std::string config_file = PM_DEFAULT_CONFIG;
  std::string socket_override;
  bool foreground = false, want_version = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc)
      config_file = argv[++i];
    else if (a == "--socket" && i + 1 < argc)
      socket_override = argv[++i];
    else if (a == "--foreground" || a == "-f")
      foreground = true;
    else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--version" || a == "-V")
      want_version = true;
    else {
      usage(stderr);
      return 64;
    }
  }

  if (want_version) {
    pm::logging::setup("policy-milter", pm::logging::Kind::tool);
    std::printf("policy-milter %s\n", pm::logging::version());
    try {
      std::printf("rules snapshot %s (%s)\n", pm::Engine::load(config_file)->snapshot_id().c_str(),
                  config_file.c_str());
    } catch (const std::exception& e) {
      std::printf("rules snapshot: none (%s)\n", e.what());
    }
    return 0;
  }
  // journald <N> priorities under systemd, else syslog (LOG_MAIL) + stderr: util/log.h.
  pm::logging::setup("policy-milter", pm::logging::Kind::daemon);

  // 1. configuration and rules
  pm::Runtime runtime;
  std::shared_ptr<const pm::Snapshot> snap;
  try {
    snap = load_snapshot(config_file);
  } catch (const std::exception& e) {
    spdlog::critical("refusing to start: {}", e.what());
    return 78;  // EX_CONFIG
  }
  runtime.snapshot.store(snap);
  runtime.stats.set_snapshot(snap->engine->snapshot_id());
  pm::MetricsSettings metrics_settings;  // [metrics]: sized at start, a reload keeps it
  try {
    metrics_settings = pm::read_metrics_settings(config_file);
  } catch (const std::exception& e) {
    spdlog::critical("refusing to start: {}", e.what());
    return 78;
  }

  // 2. quarantine store and socket
  try {
    runtime.store = pm::open_quarantine(*snap->config);
  } catch (const std::exception& e) {
    spdlog::critical("refusing to start: quarantine store: {}", e.what());
    return 73;  // EX_CANTCREAT
  }
  const std::string socket = socket_override.empty() ? snap->config->socket : socket_override;
  runtime.budget = std::make_unique<pm::MemoryBudget>(snap->config->memory_budget_bytes,
                                                      snap->config->scan_memory_factor);
  raise_descriptor_limit(snap->config->max_connections);

  if (!foreground && ::daemon(0, 1) != 0) {
    spdlog::critical("cannot detach: {}", std::strerror(errno));
    return 71;
  }

  // Signals: see the header comment. Block them all before any thread exists.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (::pipe2(g_hup_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return 71;

  // After daemon(): the workers are threads of the process that stays.
  runtime.pool =
      std::make_unique<pm::ScanPool>(snap->config->scan_workers, snap->config->large_message_bytes);
  if (!pm::milter_open(runtime, socket, *snap->config)) return 69;
  pm::MetricsListener metrics;
  if (metrics_settings.enabled()) {
    try {
      metrics.start(metrics_settings, [&runtime] { return runtime.stats.metrics().render(); });
      spdlog::info("metrics on http://{}/metrics", metrics_settings.listen);
    } catch (const std::exception& e) {  // mail matters more than its counters
      spdlog::error("{} (mail is filtered; no metrics)", e.what());
    }
  }

  std::atomic<bool> milter_done{false};
  std::thread milter_thread([&] {
    int rc = pm::milter_run();
    if (rc != 0) spdlog::error("libmilter loop ended with {}", rc);
    milter_done = true;
  });

  // 3. supervise. Only the main thread accepts SIGHUP.
  struct sigaction sa {};
  sa.sa_handler = on_sighup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);

  spdlog::info("policy-milter {} listening on {}, snapshot {}, quarantine {}, {} scan workers",
               pm::logging::version(), socket, snap->engine->snapshot_id(),
               snap->config->quarantine_dir.string(), runtime.pool->workers());
  publish_figures(runtime);
  runtime.stats.write(snap->config->stats_file);
  sd_notifyf(0, "READY=1\nSTATUS=filtering, snapshot %s\nMAINPID=%ld",
             snap->engine->snapshot_id().c_str(), static_cast<long>(::getpid()));
  std::uint64_t watchdog_us = 0;
  bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0;

  // Reloads: one at a time, on their own thread. A SIGHUP while one runs sets `queued`;
  // the running reload then goes round once more, however many SIGHUPs came meanwhile.
  std::mutex reload_mu;
  bool reloading = false, queued = false;
  std::thread reloader;
  auto reload_once = [&runtime, &config_file] {
    spdlog::info("reload: SIGHUP, recompiling {}", config_file);
    auto old = runtime.current();
    try {
      auto fresh = load_snapshot(config_file);
      const auto& a = *fresh->config;
      const auto& b = *old->config;
      if (a.socket != b.socket || a.quarantine_dir != b.quarantine_dir ||
          a.quarantine_backend != b.quarantine_backend || a.quarantine_dsn != b.quarantine_dsn ||
          a.scan_workers != b.scan_workers || a.memory_budget_bytes != b.memory_budget_bytes ||
          a.max_connections != b.max_connections)
        spdlog::warn(
            "reload: socket, quarantine store, workers, memory budget and connection "
            "limits keep their start values until a restart");
      runtime.snapshot.store(fresh);
      runtime.stats.set_snapshot(fresh->engine->snapshot_id());
      runtime.stats.record_reload(true, "");
      spdlog::info("reload: now running snapshot {}", fresh->engine->snapshot_id());
    } catch (const std::exception& e) {
      runtime.stats.record_reload(false, e.what());
      spdlog::error("reload refused, keeping snapshot {}: {}", old->engine->snapshot_id(),
                    e.what());
    }
    runtime.stats.write(old->config->stats_file);
  };
  auto last_stats = std::chrono::steady_clock::now();
  while (!milter_done) {
    pollfd p{g_hup_pipe[0], POLLIN, 0};
    int n = ::poll(&p, 1, 1000);
    if (n > 0 && (p.revents & POLLIN)) {
      char buf[64];
      while (::read(g_hup_pipe[0], buf, sizeof buf) > 0) {
      }
      std::lock_guard lock(reload_mu);
      if (reloading) {
        if (!queued) spdlog::info("reload: SIGHUP during a reload, one more queued");
        queued = true;
      } else {
        reloading = true;
        if (reloader.joinable()) reloader.join();
        // Compiling rules takes a while: do it off the supervisor thread so the watchdog
        // keeps being fed; messages keep using the old snapshot until the swap.
        reloader = std::thread([&] {
          for (;;) {
            reload_once();
            std::lock_guard relock(reload_mu);
            if (!queued) {
              reloading = false;
              return;
            }
            queued = false;
          }
        });
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_stats >= std::chrono::seconds(2)) {
      publish_figures(runtime);
      runtime.stats.write(runtime.current()->config->stats_file);
      last_stats = now;
    }
    if (watchdog) sd_notify(0, "WATCHDOG=1");
  }
  // 4. stopping
  sd_notify(0, "STOPPING=1");
  {
    std::lock_guard lock(reload_mu);
    queued = false;
  }
  if (reloader.joinable()) reloader.join();
  milter_thread.join();
  runtime.stats.write(runtime.current()->config->stats_file);
  spdlog::info("policy-milter stopped");
  return 0;
}
