#include "daemon/milter_io.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

extern "C" {
int __real_accept(int fd, sockaddr* addr, socklen_t* len);
int __real_poll(struct pollfd* fds, nfds_t nfds, int timeout);
ssize_t __real_writev(int fd, const struct iovec* iov, int iovcnt);
int __wrap_accept(int fd, sockaddr* addr, socklen_t* len);
int __wrap_poll(struct pollfd* fds, nfds_t nfds, int timeout);
ssize_t __real_read(int fd, void* buf, size_t n);
ssize_t __wrap_read(int fd, void* buf, size_t n);
ssize_t __wrap_writev(int fd, const struct iovec* iov, int iovcnt);
int __real_sigwait(const sigset_t* set, int* sig);
int __wrap_sigwait(const sigset_t* set, int* sig);
}

// libmilter's signal thread sigwait()s SIGHUP and takes it for "stop". A process-directed
// SIGHUP goes to the main thread (which reloads) only while that thread can take it: with
// one SIGHUP already pending there, the kernel hands the next to a thread that waits for
// it - libmilter's, and `systemctl reload` twice in a row stopped the daemon. Taking SIGHUP
// out of libmilter's set leaves it blocked in every thread but the main one, so every
// SIGHUP reaches the reload (coalesced while one is pending: a reload is queued anyway).
int __wrap_sigwait(const sigset_t* set, int* sig) {
  sigset_t without_hup = *set;
  sigdelset(&without_hup, SIGHUP);
  return __real_sigwait(&without_hup, sig);
}

namespace pm {
namespace {

using Clock = std::chrono::steady_clock;

struct Waiting {
  int fd;
  Clock::time_point deadline;
  sockaddr_storage addr;
  socklen_t len;
};

struct Gate {
  bool on = false;
  GateSettings settings;
  int listen_fd = -1;
  std::deque<Waiting> waiting;  // oldest first; only the listener thread touches these
  std::deque<Waiting> ready;    // sent something: accept() hands them to libmilter
  std::atomic<std::uint64_t> active{0}, waiting_count{0}, accepted{0}, closed_silent{0},
      closed_over_limit{0};
} g_gate;

// TCP milter connections by descriptor: after each read on one, its ACK goes out at once.
constexpr int kMaxTrackedFd = 1 << 16;
std::atomic<bool> g_tcp_conn[kMaxTrackedFd];

bool set_nodelay(int fd) {
  int domain = 0;
  socklen_t l = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0) return false;
  if (domain != AF_INET && domain != AF_INET6) return false;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

void drop(std::size_t i, std::atomic<std::uint64_t>& counter) {
  ::close(g_gate.waiting[i].fd);
  g_gate.waiting.erase(g_gate.waiting.begin() + static_cast<std::ptrdiff_t>(i));
  ++counter;
}

// Per-thread write gathering (see the header).
struct Coalesce {
  bool on = false;
  int fd = -1;
  std::string buf;
};
thread_local Coalesce t_coalesce;

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    iovec v{const_cast<char*>(p), n};
    ssize_t w = __real_writev(fd, &v, 1);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd pf{fd, POLLOUT, 0};
        __real_poll(&pf, 1, 1000);
        continue;
      }
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool is_final_answer(char cmd) {
  // SMFIR_ACCEPT, CONTINUE, DISCARD, REJECT, TEMPFAIL, REPLYCODE, CONN_FAIL, SHUTDOWN
  return std::strchr("acdrtyf4", cmd) != nullptr && cmd != '\0';
}

}  // namespace

void gate_configure(const GateSettings& settings) {
  g_gate.settings = settings;
  g_gate.on = true;
}

void gate_session_opened() {
  ++g_gate.active;
}
void gate_session_closed() {
  --g_gate.active;
}

GateFigures gate_figures() {
  return {g_gate.active.load(), g_gate.waiting_count.load(), g_gate.accepted.load(),
          g_gate.closed_silent.load(), g_gate.closed_over_limit.load()};
}

void gate_set_listener(int fd) {
  g_gate.listen_fd = fd;
  set_nodelay(fd);
}

int gate_find_listener() {
  for (int fd = 0; fd < 4096; ++fd) {
    int on = 0;
    socklen_t l = sizeof on;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &l) == 0 && on) {
      gate_set_listener(fd);
      return fd;
    }
  }
  return -1;
}

int gate_poll(pollfd* listener, int timeout_ms) {
  const int listen_fd = g_gate.listen_fd;
  const auto handshake = std::chrono::seconds(g_gate.settings.handshake_timeout_seconds);
  const std::size_t cap = g_gate.settings.max_connections;
  const auto give_up = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  std::vector<pollfd> fds;
  listener->revents = 0;
  for (;;) {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < g_gate.waiting.size();)
      if (g_gate.waiting[i].deadline <= now)
        drop(i, g_gate.closed_silent);
      else
        ++i;
    g_gate.waiting_count = g_gate.waiting.size();
    const bool slot = g_gate.active.load() < cap;
    if (slot && !g_gate.ready.empty()) {
      listener->revents = POLLIN;
      return 1;
    }
    if (now >= give_up) return 0;
    fds.clear();
    fds.push_back({listen_fd, POLLIN, 0});
    if (slot)
      for (const Waiting& w : g_gate.waiting) fds.push_back({w.fd, POLLIN, 0});
    auto wait = give_up - now;
    for (const Waiting& w : g_gate.waiting) wait = std::min(wait, w.deadline - now);
    // Without a slot, look again for one every 50 ms (sessions end on other threads).
    if (!slot) wait = std::min<Clock::duration>(wait, std::chrono::milliseconds(50));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1;
    int n = __real_poll(fds.data(), fds.size(), static_cast<int>(ms));
    if (n < 0 && errno != EINTR) return -1;
    if (n <= 0) continue;
    // Waiting connections that sent something (or hung up: libmilter reads the EOF and
    // closes them) become ready, oldest first; newest last, so the order stays.
    for (std::size_t k = fds.size() - 1; k >= 1; --k)
      if (fds[k].revents) {
        g_gate.ready.push_back(g_gate.waiting[k - 1]);
        g_gate.waiting.erase(g_gate.waiting.begin() + static_cast<std::ptrdiff_t>(k - 1));
      }
    std::sort(g_gate.ready.begin(), g_gate.ready.end(),
              [](const Waiting& a, const Waiting& b) { return a.deadline < b.deadline; });
    if (fds[0].revents & POLLIN) {
      Waiting w{};
      w.len = sizeof w.addr;
      int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&w.addr), &w.len, SOCK_CLOEXEC);
      if (fd >= 0) {
        if (g_gate.waiting.size() >= cap) drop(0, g_gate.closed_over_limit);
        set_nodelay(fd);
        w.fd = fd;
        w.deadline = Clock::now() + handshake;
        g_gate.waiting.push_back(w);
      }
    }
  }
}

int gate_take(sockaddr* addr, socklen_t* len) {
  if (g_gate.ready.empty()) {
    errno = EAGAIN;  // libmilter's listener retries
    return -1;
  }
  Waiting w = g_gate.ready.front();
  g_gate.ready.pop_front();
  if (w.fd < kMaxTrackedFd)
    g_tcp_conn[w.fd] = w.addr.ss_family == AF_INET || w.addr.ss_family == AF_INET6;
  if (addr && len) {
    std::memcpy(addr, &w.addr, std::min(*len, w.len));
    *len = w.len;
  }
  ++g_gate.accepted;
  return w.fd;
}

void begin_coalescing() {
  t_coalesce.on = true;
  t_coalesce.fd = -1;
  t_coalesce.buf.clear();
}

}  // namespace pm

extern "C" int __wrap_accept(int fd, sockaddr* addr, socklen_t* len) {
  if (!pm::g_gate.on || fd != pm::g_gate.listen_fd) return __real_accept(fd, addr, len);
  return pm::gate_take(addr, len);
}

// The MTA leaves Nagle on and writes each command alone; steps without a reply mean the
// filter sends nothing to carry its ACK, so a delayed ACK (40 ms) would hold the MTA's next
// command. Quick ACK is not sticky in Linux: it is asked for again after every read.
extern "C" ssize_t __wrap_read(int fd, void* buf, size_t n) {
  ssize_t r = __real_read(fd, buf, n);
  if (r > 0 && fd >= 0 && fd < pm::kMaxTrackedFd &&
      pm::g_tcp_conn[fd].load(std::memory_order_relaxed)) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }
  return r;
}

// libmilter's listener polls its socket alone, then accepts: the gate runs in that poll.
extern "C" int __wrap_poll(struct pollfd* fds, nfds_t nfds, int timeout) {
  if (!pm::g_gate.on || nfds != 1 || fds[0].fd != pm::g_gate.listen_fd || pm::g_gate.listen_fd < 0)
    return __real_poll(fds, nfds, timeout);
  return pm::gate_poll(fds, timeout);
}

extern "C" ssize_t __wrap_writev(int fd, const struct iovec* iov, int iovcnt) {
  pm::Coalesce& c = pm::t_coalesce;
  if (!c.on || iovcnt <= 0) return __real_writev(fd, iov, iovcnt);
  if (c.fd >= 0 && c.fd != fd) {  // another descriptor: send what is gathered first
    c.on = false;
    if (!pm::write_all(c.fd, c.buf.data(), c.buf.size())) return -1;
    return __real_writev(fd, iov, iovcnt);
  }
  c.fd = fd;
  std::size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) {
    c.buf.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    total += iov[i].iov_len;
  }
  // libmilter's command header: 4 length bytes, then the command.
  const char cmd = iov[0].iov_len >= 5 ? static_cast<const char*>(iov[0].iov_base)[4] : '\0';
  if (!pm::is_final_answer(cmd)) return static_cast<ssize_t>(total);
  c.on = false;
  bool ok = pm::write_all(fd, c.buf.data(), c.buf.size());
  c.buf.clear();
  c.buf.shrink_to_fit();
  return ok ? static_cast<ssize_t>(total) : -1;
}
