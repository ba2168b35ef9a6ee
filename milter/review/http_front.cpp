#include "review/http_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace pm {

namespace {

using Clock = std::chrono::steady_clock;

struct SslCtxFree {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};

// Milliseconds left until `deadline` (0 when past).
int left_ms(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms > 0 ? static_cast<int>(std::min<long long>(ms, 1 << 30)) : 0;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    int ms = left_ms(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

// The address and port of either end of `fd` (peer: the client; else: ours).
std::string address_of(int fd, bool peer, int* port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  char buf[INET6_ADDRSTRLEN] = "";
  *port = 0;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return "";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    *port = ntohs(a->sin6_port);
  }
  return buf;
}

// One connection: a non-blocking socket (optionally TLS) where every read and write
// waits at most until the request's deadline, with the request head read ahead by us.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(int fd, SSL* ssl, Clock::time_point deadline)
      : fd_(fd), ssl_(ssl), deadline_(deadline) {}

  // Raw read of up to `n` bytes; 0 on EOF, -1 on error or deadline.
  ssize_t raw_read(char* p, size_t n) {
    for (;;) {
      if (ssl_) {
        int r = SSL_read(ssl_, p, static_cast<int>(std::min<size_t>(n, 1 << 20)));
        if (r > 0) return r;
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (e == SSL_ERROR_WANT_READ && wait_fd(fd_, POLLIN, deadline_)) continue;
        if (e == SSL_ERROR_WANT_WRITE && wait_fd(fd_, POLLOUT, deadline_)) continue;
        return -1;
      }
      ssize_t r = ::recv(fd_, p, n, 0);
      if (r >= 0) return r;
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd_, POLLIN, deadline_)) continue;
      return -1;
    }
  }

  // Reads the request head (up to the blank line) into the buffer. Returns 0 when it
  // is complete, 431 when it is over the caps, 408 on deadline, -1 when the client left.
  int read_head(int max_bytes, int max_lines) {
    char buf[4096];
    for (;;) {
      std::size_t end = head_.find("\r\n\r\n");
      if (end == std::string::npos) end = head_.find("\n\n");
      std::size_t upto = end == std::string::npos ? head_.size() : end;
      int lines = 0;
      for (std::size_t i = 0; i < upto; ++i) lines += head_[i] == '\n';
      if (static_cast<int>(upto) > max_bytes || lines > max_lines) return 431;
      if (end != std::string::npos) return 0;
      if (left_ms(deadline_) == 0) return 408;
      ssize_t n = raw_read(buf, sizeof buf);
      if (n == 0) return -1;
      if (n < 0) return left_ms(deadline_) == 0 ? 408 : -1;
      head_.append(buf, static_cast<std::size_t>(n));
    }
  }

  bool is_readable() const override {
    return pos_ < head_.size() || (ssl_ && SSL_pending(ssl_) > 0) ||
           wait_fd(fd_, POLLIN, deadline_);
  }
  bool is_writable() const override { return wait_fd(fd_, POLLOUT, deadline_); }

  ssize_t read(char* p, size_t n) override {
    if (pos_ < head_.size()) {
      std::size_t k = std::min(n, head_.size() - pos_);
      std::memcpy(p, head_.data() + pos_, k);
      pos_ += k;
      return static_cast<ssize_t>(k);
    }
    return raw_read(p, n);
  }

  ssize_t write(const char* p, size_t n) override {
    std::size_t done = 0;
    while (done < n) {
      if (ssl_) {
        int r = SSL_write(ssl_, p + done, static_cast<int>(std::min<size_t>(n - done, 1 << 20)));
        if (r > 0) {
          done += static_cast<std::size_t>(r);
          continue;
        }
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_WRITE && wait_fd(fd_, POLLOUT, deadline_)) continue;
        if (e == SSL_ERROR_WANT_READ && wait_fd(fd_, POLLIN, deadline_)) continue;
        return done ? static_cast<ssize_t>(done) : -1;
      }
      ssize_t r = ::send(fd_, p + done, n - done, MSG_NOSIGNAL);
      if (r > 0) {
        done += static_cast<std::size_t>(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd_, POLLOUT, deadline_))
        continue;
      return done ? static_cast<ssize_t>(done) : -1;
    }
    return static_cast<ssize_t>(n);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = address_of(fd_, true, &port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = address_of(fd_, false, &port);
  }
  socket_t socket() const override { return fd_; }

 private:
  int fd_;
  SSL* ssl_;
  Clock::time_point deadline_;
  std::string head_;
  std::size_t pos_ = 0;
};

void plain_answer(DeadlineStream& s, int status) {
  const char* text = status == 431   ? "431 Request Header Fields Too Large"
                     : status == 408 ? "408 Request Timeout"
                                     : "503 Service Unavailable";
  std::string r =
      std::string("HTTP/1.1 ") + text + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  s.write(r.data(), r.size());
}

}  // namespace

struct HttpFront::State {
  FrontLimits limits;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
  mutable std::mutex mu;
  std::condition_variable idle;
  int running = 0;                            // connection threads alive
  std::deque<std::function<void()>> waiting;  // over max_connections: run when one ends
  std::map<std::string, int> per_client;
  bool shutting_down = false;
};

namespace {

// One thread per connection, up to max_connections; the rest wait their turn.
class ThreadPerConnection : public httplib::TaskQueue {
 public:
  explicit ThreadPerConnection(std::shared_ptr<HttpFront::State> st) : st_(std::move(st)) {}
  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock(st_->mu);
    if (st_->running >= st_->limits.max_connections) {
      st_->waiting.push_back(std::move(fn));
      return;
    }
    start(std::move(fn));
  }
  void shutdown() override {
    std::unique_lock lock(st_->mu);
    st_->shutting_down = true;
    st_->idle.wait(lock, [&] { return st_->running == 0 && st_->waiting.empty(); });
  }

 private:
  void start(std::function<void()> fn) {  // with st_->mu held
    ++st_->running;
    auto st = st_;
    std::thread([st, fn = std::move(fn)]() mutable {
      for (;;) {
        try {
          fn();
        } catch (...) {
        }
        std::lock_guard lock(st->mu);
        if (st->waiting.empty()) {
          --st->running;
          st->idle.notify_all();
          return;
        }
        fn = std::move(st->waiting.front());
        st->waiting.pop_front();
      }
    }).detach();
  }
  std::shared_ptr<HttpFront::State> st_;
};

}  // namespace

HttpFront::HttpFront(FrontLimits limits, const std::string& cert, const std::string& key)
    : st_(std::make_shared<State>()) {
  st_->limits = limits;
  if (!cert.empty()) {
    // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a client leaving mid-answer
    // must not kill the process with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    st_->ctx.reset(SSL_CTX_new(TLS_server_method()));
    if (!st_->ctx) throw std::runtime_error("TLS: cannot create a context");
    SSL_CTX_set_min_proto_version(st_->ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_options(st_->ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(st_->ctx.get(), cert.c_str()) != 1)
      throw std::runtime_error("TLS: cannot load the certificate " + cert);
    if (SSL_CTX_use_PrivateKey_file(st_->ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(st_->ctx.get()) != 1)
      throw std::runtime_error("TLS: cannot load the key " + key +
                               " (or it does not match the certificate)");
  }
  auto st = st_;
  new_task_queue = [st] { return new ThreadPerConnection(st); };
  // SO_REUSEADDR only (restart while old connections linger), never SO_REUSEPORT.
  set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  set_keep_alive_max_count(1);
}

HttpFront::~HttpFront() = default;

int HttpFront::bind_port(const std::string& host, int port) {
  int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  if (bound > 0)
    ::listen(svr_sock_, std::max(st_->limits.max_connections, 128));  // re-listen: new backlog
  return bound;
}

int HttpFront::open_connections() const {
  std::lock_guard lock(st_->mu);
  return st_->running;
}

bool HttpFront::process_and_close_socket(socket_t sock) {
  const auto deadline = Clock::now() + std::chrono::seconds(st_->limits.request_deadline_seconds);
  int port = 0;
  const std::string client = address_of(sock, true, &port);
  bool admitted = false;
  {
    std::lock_guard lock(st_->mu);
    const auto& free = st_->limits.unlimited_clients;
    const bool unlimited = std::find(free.begin(), free.end(), client) != free.end();
    int& n = st_->per_client[client];
    if (unlimited || n < st_->limits.max_connections_per_client) {
      ++n;
      admitted = true;
    } else if (n == 0) {
      st_->per_client.erase(client);
    }
  }
  bool ok = false;
  if (admitted) {
    int fl = ::fcntl(sock, F_GETFL, 0);
    ::fcntl(sock, F_SETFL, fl | O_NONBLOCK);
    std::unique_ptr<SSL, SslFree> ssl;
    bool ready = true;
    if (st_->ctx) {
      ssl.reset(SSL_new(st_->ctx.get()));
      ready = ssl && SSL_set_fd(ssl.get(), sock) == 1;
      while (ready) {
        int r = SSL_accept(ssl.get());
        if (r == 1) break;
        int e = SSL_get_error(ssl.get(), r);
        if (e == SSL_ERROR_WANT_READ && wait_fd(sock, POLLIN, deadline)) continue;
        if (e == SSL_ERROR_WANT_WRITE && wait_fd(sock, POLLOUT, deadline)) continue;
        ready = false;
      }
      ERR_clear_error();
    }
    if (ready) {
      DeadlineStream strm(sock, ssl.get(), deadline);
      int head = strm.read_head(st_->limits.max_header_bytes, st_->limits.max_headers);
      if (head == 0) {
        bool closed = false;
        ok = process_request(strm, /*close_connection=*/true, closed, nullptr);
      } else if (head > 0) {
        plain_answer(strm, head);
      }
      if (ssl) SSL_shutdown(ssl.get());
    }
    std::lock_guard lock(st_->mu);
    if (--st_->per_client[client] <= 0) st_->per_client.erase(client);
  } else if (!st_->ctx) {
    // Over its share: a short, immediate answer (plain HTTP only; no TLS handshake).
    int fl = ::fcntl(sock, F_GETFL, 0);
    ::fcntl(sock, F_SETFL, fl | O_NONBLOCK);
    DeadlineStream strm(sock, nullptr, Clock::now() + std::chrono::milliseconds(200));
    plain_answer(strm, 503);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace pm
