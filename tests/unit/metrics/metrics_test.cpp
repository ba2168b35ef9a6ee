// The Prometheus exposition (counters, histogram, escaping), the [metrics] settings (loopback
// only unless allowed, file:line on every bad value) and the listener over a real socket.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "metrics/listener.h"
#include "metrics/metrics.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace {

fs::path write_toml(const std::string& body) {
  static int n = 0;
  fs::path p = fs::temp_directory_path() /
               ("pm-metrics-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".toml");
  std::ofstream(p) << "[school]\nname = \"x\"\n\n" << body;
  return p;
}

std::string error_of(const std::string& body) {
  try {
    pm::read_metrics_settings(write_toml(body));
  } catch (const pm::ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string get(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  ::send(fd, request.data(), request.size(), 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace

TEST(Metrics, CountsAndHistogram) {
  pm::Metrics m;
  m.record_message("quarantine", 700);     // 0.7 ms: le 0.001
  m.record_message("accept", 3'000'000);   // 3 s: le 5
  m.record_message("accept", 60'000'000);  // 60 s: only +Inf
  m.record_verdict({"confidential"}, {"confidential.upn", "confidential.dob-with-name"},
                   {"external", "internal"});
  m.record_verdict({"confidential"}, {"confidential.upn"}, {"external"});
  m.record_reload(true);
  m.record_reload(false);
  m.record_exception("dsl-to-council");
  m.set_gauges("quarantine", {{"ok", 1}});
  std::string t = m.render();
  EXPECT_NE(t.find("policy_milter_messages_total{action=\"accept\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("policy_milter_messages_total{action=\"quarantine\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("policy_milter_category_messages_total{category=\"confidential\"} 2\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_rule_messages_total{rule=\"confidential.upn\"} 2\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_rule_messages_total{rule=\"confidential.dob-with-name\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_recipients_total{class=\"external\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("policy_milter_reloads_total{result=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("policy_milter_reloads_total{result=\"failed\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("policy_milter_exceptions_total{exception=\"dsl-to-council\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_quarantine_ok 1\n"), std::string::npos);
  // Cumulative buckets.
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_bucket{le=\"0.0005\"} 0\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_bucket{le=\"2.5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_bucket{le=\"5\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_bucket{le=\"10\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(t.find("policy_milter_scan_duration_seconds_sum 63.0007\n"), std::string::npos) << t;
}

TEST(Metrics, LabelValuesAreEscaped) {
  pm::Metrics m;
  m.record_verdict({}, {"a\"b\\c\nd"}, {});
  EXPECT_NE(m.render().find("{rule=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
}

TEST(MetricsSettings, OffByDefaultLoopbackOnly) {
  EXPECT_FALSE(pm::read_metrics_settings(write_toml("")).enabled());
  auto s = pm::read_metrics_settings(write_toml("[metrics]\nlisten = \"127.0.0.1:9464\"\n"));
  EXPECT_TRUE(s.enabled());
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.port, 9464);
  EXPECT_EQ(pm::read_metrics_settings(write_toml("[metrics]\nlisten = \"[::1]:9464\"\n")).host,
            "::1");
  std::string e = error_of("[metrics]\nlisten = \"0.0.0.0:9464\"\n");
  EXPECT_NE(e.find(":5: metrics.listen: 0.0.0.0 is not a loopback address"), std::string::npos)
      << e;
  EXPECT_EQ(pm::read_metrics_settings(
                write_toml("[metrics]\nlisten = \"10.0.0.5:9464\"\nallow_non_loopback = true\n"))
                .host,
            "10.0.0.5");
}

TEST(MetricsSettings, BadValuesNameTheLine) {
  EXPECT_NE(error_of("[metrics]\nlisten = \"localhost:9464\"\n")
                .find(":5: metrics.listen: 'localhost' is not an IP address"),
            std::string::npos);
  EXPECT_NE(
      error_of("[metrics]\nlisten = \"127.0.0.1:99999\"\n").find(":5: metrics.listen: the port"),
      std::string::npos);
  EXPECT_NE(error_of("[metrics]\nlisten = 9464\n").find(":5: metrics.listen must be a string"),
            std::string::npos);
  std::string e = error_of("[metrics]\nlisten = \"127.0.0.1:1\"\nallow_non_loopbak = true\n");
  EXPECT_NE(e.find(":6: unknown key metrics.allow_non_loopbak (valid: listen, allow_non_loopback"),
            std::string::npos)
      << e;
  EXPECT_NE(error_of("[metrics]\nrequest_timeout_ms = 5\n").find(":5: metrics.request_timeout_ms"),
            std::string::npos);
}

TEST(MetricsListener, ServesMetricsOnlyAtItsPath) {
  pm::Metrics m;
  m.record_message("tag", 100);
  pm::MetricsListener l;
  std::mt19937 rng(std::random_device{}());
  pm::MetricsSettings s;
  for (int attempt = 0;; ++attempt) {
    s = pm::read_metrics_settings(write_toml(
        "[metrics]\nlisten = \"127.0.0.1:" + std::to_string(20000 + rng() % 30000) + "\"\n"));
    try {
      l.start(s, [&] { return m.render(); });
      break;
    } catch (const std::runtime_error&) {
      ASSERT_LT(attempt, 20);
    }
  }
  std::string r = get(s.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(r.find("policy_milter_messages_total{action=\"tag\"} 1\n"), std::string::npos);
  EXPECT_EQ(get(s.port, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get(s.port, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  // A request that never ends is closed without an answer, and the next client is served.
  std::string big(8000, 'a');
  EXPECT_EQ(get(s.port, "GET /metrics?" + big), "");
  EXPECT_EQ(get(s.port, "GET /metrics HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  l.stop();
}
