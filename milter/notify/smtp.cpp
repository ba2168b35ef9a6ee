#include "notify/smtp.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

namespace pm {

SmtpEndpoint parse_smtp_endpoint(std::string_view spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= spec.size())
    throw std::invalid_argument("expected host:port, got '" + std::string(spec) + "'");
  SmtpEndpoint e;
  std::string_view host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  e.host = std::string(host);
  std::string_view port = spec.substr(colon + 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
  if (ec != std::errc() || p != port.data() + port.size() || e.port <= 0 || e.port > 65535)
    throw std::invalid_argument("bad port in '" + std::string(spec) + "'");
  return e;
}

namespace {

// One SMTP connection; closes its socket on scope exit.
class Conn {
 public:
  Conn(const SmtpEndpoint& ep, int timeout_s) : timeout_ms_(timeout_s * 1000) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(ep.port);
    int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) throw SmtpError("smtp: resolve " + ep.host + ": " + gai_strerror(rc));
    std::string err = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        break;
      }
      err = std::strerror(errno);
      ::close(fd);
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) throw SmtpError("smtp: connect " + ep.host + ":" + port + ": " + err);
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void send(std::string_view s) {
    while (!s.empty()) {
      wait(POLLOUT);
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw SmtpError(std::string("smtp: send: ") + std::strerror(errno));
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads one (possibly multi-line) reply; returns its code, the text in `text`.
  int reply(std::string& text) {
    text.clear();
    for (;;) {
      std::string line = read_line();
      text += line;
      text += '\n';
      if (line.size() < 3) throw SmtpError("smtp: malformed reply");
      if (line.size() == 3 || line[3] == ' ') {
        if (!text.empty()) text.pop_back();
        return std::atoi(line.substr(0, 3).c_str());
      }
    }
  }

 private:
  void wait(short events) {
    pollfd p{fd_, events, 0};
    int rc;
    do rc = ::poll(&p, 1, timeout_ms_);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) throw SmtpError("smtp: timeout");
    if (rc < 0) throw SmtpError(std::string("smtp: poll: ") + std::strerror(errno));
  }
  std::string read_line() {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (buf_.size() > 65536) throw SmtpError("smtp: reply line too long");
      wait(POLLIN);
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw SmtpError("smtp: connection closed by server");
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

  int fd_ = -1;
  int timeout_ms_;
  std::string buf_;
};

void expect(Conn& c, const char* stage, int lo, int hi, std::string* out = nullptr) {
  std::string text;
  int code = c.reply(text);
  if (code < lo || code > hi) throw SmtpError(std::string("smtp: ") + stage + ": " + text);
  if (out) *out = text;
}

// The DATA payload: CRLF line ends, dot-stuffed, terminated.
std::string wire_data(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 50 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (line_start && c == '.') out.push_back('.');
    if (c == '\n' && (i == 0 || data[i - 1] != '\r')) out.push_back('\r');
    out.push_back(c);
    line_start = c == '\n';
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

bool has_8bit(std::string_view s) {
  for (unsigned char c : s)
    if (c & 0x80) return true;
  return false;
}

bool safe_address(std::string_view a) {
  for (char c : a)
    if (c == '\r' || c == '\n' || c == '<' || c == '>' || c == ' ') return false;
  return true;
}

}  // namespace

std::string smtp_send(const SmtpEndpoint& to, const SmtpEnvelope& env, std::string_view data,
                      int timeout_seconds) {
  if (env.rcpts.empty()) throw SmtpError("smtp: no recipients");
  if (!safe_address(env.from)) throw SmtpError("smtp: bad sender address");
  for (const auto& r : env.rcpts)
    if (r.empty() || !safe_address(r)) throw SmtpError("smtp: bad recipient address");
  Conn c(to, timeout_seconds);
  expect(c, "greeting", 220, 220);
  c.send("EHLO policy-review.localhost\r\n");
  std::string ehlo;
  expect(c, "EHLO", 250, 250, &ehlo);
  bool eightbit = ehlo.find("8BITMIME") != std::string::npos && has_8bit(data);
  c.send("MAIL FROM:<" + env.from + ">" + (eightbit ? " BODY=8BITMIME" : "") + "\r\n");
  expect(c, "MAIL FROM", 250, 250);
  for (const auto& r : env.rcpts) {
    c.send("RCPT TO:<" + r + ">\r\n");
    expect(c, ("RCPT TO " + r).c_str(), 250, 251);
  }
  c.send("DATA\r\n");
  expect(c, "DATA", 354, 354);
  c.send(wire_data(data));
  std::string final_reply;
  expect(c, "end of data", 250, 250, &final_reply);
  try {
    c.send("QUIT\r\n");
  } catch (const SmtpError&) {
    // Accepted already; a lost QUIT changes nothing.
  }
  return final_reply;
}

}  // namespace pm
