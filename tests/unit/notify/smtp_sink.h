// A real SMTP server on a loopback port, in a thread, for tests of the SMTP client,
// notices and release: it records every accepted message (envelope + data, un-dot-stuffed)
// and refuses RCPT TO for addresses that start with "refuse-".
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pm::test {

struct SunkMessage {
  std::string from;
  std::vector<std::string> rcpts;
  std::string data;  // as received between DATA and ".", dot-stuffing undone, CRLF kept
  bool body_8bit = false;
};

class SmtpSink {
 public:
  SmtpSink() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~SmtpSink() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<SunkMessage> messages() {
    std::lock_guard lock(mu_);
    return msgs_;
  }
  // Waits until at least n messages arrived (the client returns only after "250", so this
  // rarely waits at all).
  std::vector<SunkMessage> wait_for(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return msgs_.size() >= n; });
    return msgs_;
  }

 private:
  static bool read_line(int c, std::string& buf, std::string& line) {
    for (;;) {
      auto nl = buf.find("\n");
      if (nl != std::string::npos) {
        line = buf.substr(0, nl + 1);
        buf.erase(0, nl + 1);
        return true;
      }
      char tmp[4096];
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  }
  static void say(int c, const std::string& s) { (void)::send(c, s.data(), s.size(), MSG_NOSIGNAL); }

  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      session(c);
      ::close(c);
    }
  }
  void session(int c) {
    say(c, "220 sink.test ESMTP\r\n");
    std::string buf, line;
    SunkMessage m;
    while (read_line(c, buf, line)) {
      std::string cmd = line.substr(0, line.find_last_not_of("\r\n") + 1);
      std::string up = cmd;
      for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (up.rfind("EHLO", 0) == 0) {
        say(c, "250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n");
      } else if (up.rfind("MAIL FROM:", 0) == 0) {
        m = SunkMessage{};
        auto lt = cmd.find('<'), gt = cmd.find('>');
        m.from = cmd.substr(lt + 1, gt - lt - 1);
        m.body_8bit = up.find("BODY=8BITMIME") != std::string::npos;
        say(c, "250 ok\r\n");
      } else if (up.rfind("RCPT TO:", 0) == 0) {
        auto lt = cmd.find('<'), gt = cmd.find('>');
        std::string r = cmd.substr(lt + 1, gt - lt - 1);
        if (r.rfind("refuse-", 0) == 0) {
          say(c, "550 5.1.1 no such user\r\n");
        } else {
          m.rcpts.push_back(r);
          say(c, "250 ok\r\n");
        }
      } else if (up == "DATA") {
        say(c, "354 go ahead\r\n");
        std::string data;
        while (read_line(c, buf, line)) {
          if (line == ".\r\n") break;
          if (line.rfind("..", 0) == 0) line.erase(0, 1);
          data += line;
        }
        m.data = data;
        {
          std::lock_guard lock(mu_);
          msgs_.push_back(m);
        }
        cv_.notify_all();
        say(c, "250 2.0.0 Ok: queued as TEST\r\n");
      } else if (up == "QUIT") {
        say(c, "221 bye\r\n");
        return;
      } else {
        say(c, "250 ok\r\n");
      }
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SunkMessage> msgs_;
};

// A loopback port with nothing listening (bound, then closed).
inline int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace pm::test
