// The metrics listener: `[metrics] listen = "127.0.0.1:PORT"` serves GET /metrics in the
// Prometheus text format; off when `listen` is empty (the default).
//
// Settings (all of [metrics]; read here, so the keys live in one place):
//   listen              "HOST:PORT" or "[V6]:PORT" ("" = off). HOST must be a loopback
//                       address (127.0.0.0/8, ::1) unless allow_non_loopback = true: the
//                       counters carry no content, but they say how much mail is held.
//   allow_non_loopback  false
//   request_timeout_ms  2000: a client that sends no complete request line in time is
//                       closed (clients are served one at a time; a scrape takes < 1 ms)
//
// One thread accepts and answers clients one at a time: a scraper is one client every few
// seconds, and a serial loop cannot be made to spawn threads or hold memory (a request
// is read into 4 KiB at most).
//
// Errors: read_metrics_settings() throws ConfigError (file:line) for a bad value, an
// unknown key or a non-loopback address; MetricsListener::start() throws
// std::runtime_error when the address cannot be bound.
// Thread safety: start() and stop() from one thread; `render` is called on the listener's.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

namespace pm {

struct MetricsSettings {
  std::string listen;  // "" = off
  bool allow_non_loopback = false;
  unsigned request_timeout_ms = 2000;
  // Parsed from `listen`:
  std::string host;
  int port = 0;
  bool enabled() const { return !listen.empty(); }
};

MetricsSettings read_metrics_settings(const std::filesystem::path& config_file);

class MetricsListener {
 public:
  MetricsListener() = default;
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  void start(const MetricsSettings& settings, std::function<std::string()> render);
  void stop();
  // The port bound (useful with port 0 in tests).
  int port() const { return port_; }

 private:
  void serve();
  int fd_ = -1;
  int port_ = 0;
  unsigned timeout_ms_ = 2000;
  std::atomic<bool> stop_{false};
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace pm
