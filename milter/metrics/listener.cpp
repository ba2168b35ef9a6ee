#include "metrics/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "util/error.h"
#include "util/toml_read.h"

namespace pm {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool is_loopback(const std::string& host) {
  in_addr a4{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (::inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

std::string response(const char* status, const std::string& type, const std::string& body) {
  return std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n" + body;
}

}  // namespace

MetricsSettings read_metrics_settings(const std::filesystem::path& config_file) {
  MetricsSettings s;
  const std::string file = config_file.string();
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    throw ConfigError(file, static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  const toml::node* section = root.get("metrics");
  if (!section) return s;
  const toml::table* t = section->as_table();
  if (!t) throw ConfigError(file, toml_line(section), "[metrics] must be a table");
  for (const auto& [key, node] : *t) {
    const std::string k(key.str());
    if (k == "listen") {
      auto v = node.value<std::string>();
      if (!v)
        throw ConfigError(file, toml_line(&node), "metrics.listen must be a string \"HOST:PORT\"");
      s.listen = *v;
    } else if (k == "allow_non_loopback") {
      auto v = node.value<bool>();
      if (!v || !node.is_boolean())
        throw ConfigError(file, toml_line(&node),
                          "metrics.allow_non_loopback must be true or false");
      s.allow_non_loopback = *v;
    } else if (k == "request_timeout_ms") {
      auto v = node.value<std::int64_t>();
      if (!node.is_integer() || !v || *v < 100 || *v > 60000)
        throw ConfigError(file, toml_line(&node),
                          "metrics.request_timeout_ms must be an integer between 100 and 60000");
      s.request_timeout_ms = static_cast<unsigned>(*v);
    } else {
      throw ConfigError(
          file, toml_line(&node),
          "unknown key metrics." + k + " (valid: listen, allow_non_loopback, request_timeout_ms)");
    }
  }
  if (s.listen.empty()) return s;
  const int line = toml_line(t->get("listen"));
  std::string host, port;
  if (s.listen[0] == '[') {
    auto close = s.listen.find("]:");
    if (close == std::string::npos)
      throw ConfigError(file, line, "metrics.listen must be \"HOST:PORT\" or \"[V6]:PORT\"");
    host = s.listen.substr(1, close - 1);
    port = s.listen.substr(close + 2);
  } else {
    auto colon = s.listen.rfind(':');
    if (colon == std::string::npos || s.listen.find(':') != colon)
      throw ConfigError(file, line, "metrics.listen must be \"HOST:PORT\" or \"[V6]:PORT\"");
    host = s.listen.substr(0, colon);
    port = s.listen.substr(colon + 1);
  }
  in_addr a4{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) != 1 && ::inet_pton(AF_INET6, host.c_str(), &a6) != 1)
    throw ConfigError(file, line, "metrics.listen: '" + host + "' is not an IP address");
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 1 || p > 65535)
    throw ConfigError(file, line, "metrics.listen: the port must be 1-65535");
  if (!is_loopback(host) && !s.allow_non_loopback)
    throw ConfigError(file, line,
                      "metrics.listen: " + host +
                          " is not a loopback address (127.0.0.0/8, ::1); set "
                          "metrics.allow_non_loopback = true to serve it on the network");
  s.host = host;
  s.port = static_cast<int>(p);
  return s;
}

MetricsListener::~MetricsListener() {
  stop();
}

void MetricsListener::start(const MetricsSettings& settings, std::function<std::string()> render) {
  const bool v6 = settings.host.find(':') != std::string::npos;
  Fd fd{::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.fd < 0) throw std::runtime_error(std::string("metrics socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(settings.port));
    ::inet_pton(AF_INET6, settings.host.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(settings.port));
    ::inet_pton(AF_INET, settings.host.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (::bind(fd.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.fd, 16) != 0)
    throw std::runtime_error("metrics: cannot listen on " + settings.listen + ": " +
                             std::strerror(errno));
  port_ = settings.port;
  timeout_ms_ = settings.request_timeout_ms;
  render_ = std::move(render);
  fd_ = fd.fd;
  fd.fd = -1;
  stop_ = false;
  thread_ = std::thread([this] { serve(); });
}

void MetricsListener::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void MetricsListener::serve() {
  using Clock = std::chrono::steady_clock;
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 250) <= 0) continue;
    Fd c{::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)};
    if (c.fd < 0) continue;
    // Read until the end of the request head (or 4 KiB, or the deadline).
    char buf[4096];
    std::size_t have = 0;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
    bool complete = false;
    while (!stop_ && have < sizeof buf) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd q{c.fd, POLLIN, 0};
      if (::poll(&q, 1, static_cast<int>(left.count())) <= 0) break;
      ssize_t n = ::recv(c.fd, buf + have, sizeof buf - have, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      have += static_cast<std::size_t>(n);
      std::string_view head(buf, have);
      if (head.find("\r\n\r\n") != std::string_view::npos ||
          head.find("\n\n") != std::string_view::npos) {
        complete = true;
        break;
      }
    }
    if (!complete) continue;  // closed without an answer: too slow or too long
    std::string_view head(buf, have);
    std::string_view line = head.substr(0, head.find_first_of("\r\n"));
    // Blocking writes from here (the answer is small; the deadline is the socket's).
    int flags = 0;
    ::ioctl(c.fd, FIONBIO, &flags);
    timeval tv{static_cast<time_t>(timeout_ms_ / 1000),
               static_cast<suseconds_t>((timeout_ms_ % 1000) * 1000)};
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (line.rfind("GET /metrics ", 0) == 0 || line.rfind("GET /metrics?", 0) == 0) {
      std::string body;
      try {
        body = render_();
      } catch (const std::exception&) {
        write_all(c.fd, response("500 Internal Server Error", "text/plain", "render failed\n"));
        continue;
      }
      write_all(c.fd, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body));
    } else if (line.rfind("GET ", 0) == 0 || line.rfind("HEAD ", 0) == 0) {
      write_all(c.fd, response("404 Not Found", "text/plain", "only /metrics here\n"));
    } else {
      write_all(c.fd, response("405 Method Not Allowed", "text/plain", "GET /metrics\n"));
    }
  }
}

}  // namespace pm
