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
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

extern "C" {
int __real_accept(int fd, sockaddr* addr, socklen_t* len);
int __real_close(int fd);
int __wrap_close(int fd);
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

// Read-ahead per session (issue 12). libmilter reads a command as a poll() and a 5-byte
// read() of its header, then a poll() and a read() of its body, after a poll() asking
// whether the next command is there: five system calls a command, about thirty commands a
// message. A session's bytes are instead read in one read() of up to kReadAhead into its
// buffer, and libmilter's reads, and its polls for reading, are answered from there while
// it holds bytes. Only descriptors handed to libmilter by the gate are buffered, and their
// buffer is dropped when libmilter closes them (close() is wrapped too), so a descriptor
// number reused for a file never sees a session's bytes.
// Threads: a session is served by one libmilter worker at a time; `avail` is atomic
// because libmilter's controller polls waiting sessions from its own thread.
constexpr std::size_t kReadAhead = 16 * 1024;
struct ReadAhead {
  std::atomic<bool> on{false};
  std::atomic<std::uint32_t> avail{0};
  std::uint32_t off = 0;
  char* buf = nullptr;  // malloc'ed at the first read, freed at close
};
ReadAhead g_ra[kMaxTrackedFd];

ReadAhead* read_ahead(int fd) {
  if (fd < 0 || fd >= kMaxTrackedFd) return nullptr;
  ReadAhead& ra = g_ra[fd];
  return ra.on.load(std::memory_order_acquire) ? &ra : nullptr;
}

bool has_buffered(int fd) {
  const ReadAhead* ra = read_ahead(fd);
  return ra && ra->avail.load(std::memory_order_acquire) > 0;
}

void quick_ack(int fd) {
  if (fd >= 0 && fd < kMaxTrackedFd && g_tcp_conn[fd].load(std::memory_order_relaxed)) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }
}

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
  if (w.fd < kMaxTrackedFd) {
    g_tcp_conn[w.fd] = w.addr.ss_family == AF_INET || w.addr.ss_family == AF_INET6;
    ReadAhead& ra = g_ra[w.fd];
    ra.avail.store(0, std::memory_order_relaxed);
    ra.off = 0;
    ra.on.store(true, std::memory_order_release);
  }
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
// command. Quick ACK is not sticky in Linux: it is asked for again after every read from
// the socket (not after reads answered from the read-ahead: they received nothing new).
extern "C" ssize_t __wrap_read(int fd, void* buf, size_t n) {
  pm::ReadAhead* ra = pm::read_ahead(fd);
  if (!ra) {
    ssize_t r = __real_read(fd, buf, n);
    if (r > 0) pm::quick_ack(fd);
    return r;
  }
  std::uint32_t avail = ra->avail.load(std::memory_order_relaxed);
  if (avail == 0 && n < pm::kReadAhead) {
    if (!ra->buf) ra->buf = static_cast<char*>(std::malloc(pm::kReadAhead));
    if (ra->buf) {
      ssize_t r = __real_read(fd, ra->buf, pm::kReadAhead);
      if (r <= 0) return r;
      pm::quick_ack(fd);
      ra->off = 0;
      avail = static_cast<std::uint32_t>(r);
    }
  }
  if (avail == 0) {  // a large read (a body chunk) goes straight to the caller
    ssize_t r = __real_read(fd, buf, n);
    if (r > 0) pm::quick_ack(fd);
    return r;
  }
  const std::size_t k = std::min<std::size_t>(n, avail);
  std::memcpy(buf, ra->buf + ra->off, k);
  ra->off += static_cast<std::uint32_t>(k);
  ra->avail.store(avail - static_cast<std::uint32_t>(k), std::memory_order_release);
  return static_cast<ssize_t>(k);
}

extern "C" int __wrap_close(int fd) {
  if (fd >= 0 && fd < pm::kMaxTrackedFd) {
    pm::ReadAhead& ra = pm::g_ra[fd];
    // Off before the descriptor is released: its number may be reused at once.
    if (ra.on.exchange(false, std::memory_order_acq_rel)) {
      ra.avail.store(0, std::memory_order_relaxed);
      std::free(ra.buf);
      ra.buf = nullptr;
    }
    pm::g_tcp_conn[fd].store(false, std::memory_order_relaxed);
  }
  return __real_close(fd);
}

// libmilter's listener polls its socket alone, then accepts: the gate runs in that poll.
// A poll for reading a session that holds read-ahead bytes is answered at once (the
// others in the same call without waiting). A worker's poll for writing while its writes
// are being gathered is answered at once too: the write only goes to the buffer.
extern "C" int __wrap_poll(struct pollfd* fds, nfds_t nfds, int timeout) {
  if (pm::g_gate.on && nfds == 1 && fds[0].fd == pm::g_gate.listen_fd && pm::g_gate.listen_fd >= 0)
    return pm::gate_poll(fds, timeout);
  if (nfds == 1 && fds[0].events == POLLOUT && pm::t_coalesce.on &&
      (pm::t_coalesce.fd < 0 || pm::t_coalesce.fd == fds[0].fd)) {
    fds[0].revents = POLLOUT;
    return 1;
  }
  nfds_t buffered = 0;
  for (nfds_t i = 0; i < nfds; ++i)
    if ((fds[i].events & POLLIN) && pm::has_buffered(fds[i].fd)) ++buffered;
  if (buffered == 0) return __real_poll(fds, nfds, timeout);
  int n = 0;
  if (nfds > buffered) {
    n = __real_poll(fds, nfds, 0);
    if (n < 0) {
      n = 0;
      for (nfds_t i = 0; i < nfds; ++i) fds[i].revents = 0;
    }
  }
  for (nfds_t i = 0; i < nfds; ++i)
    if ((fds[i].events & POLLIN) && pm::has_buffered(fds[i].fd)) {
      if (nfds > buffered && fds[i].revents) --n;  // counted once below
      fds[i].revents = POLLIN;
      ++n;
    } else if (nfds == buffered) {
      fds[i].revents = 0;
    }
  return n;
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
