// The connection gate (milter_io.h) on a real loopback socket: a connection is handed over
// only once it has sent something; a silent one is closed after the handshake timeout; over
// max_connections waiting, the oldest is closed first; TCP_NODELAY is set on the listener.
#include "daemon/milter_io.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace pm {
namespace {

struct Listener {
  int fd = -1;
  sockaddr_in addr{};
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t l = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &l);
    EXPECT_EQ(::listen(fd, 64), 0);
  }
  ~Listener() { ::close(fd); }
  int connect_client() const {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(::connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    return c;
  }
};

// Polls the gate as libmilter's listener does (one second at a time) until it hands over
// a connection or `limit` passes.
int accept_within(int lfd, std::chrono::milliseconds limit) {
  gate_set_listener(lfd);
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{lfd, POLLIN, 0};
    if (gate_poll(&p, 1000) <= 0) continue;
    EXPECT_EQ(p.revents, POLLIN);
    sockaddr_storage a{};
    socklen_t l = sizeof a;
    int fd = gate_take(reinterpret_cast<sockaddr*>(&a), &l);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(a.ss_family, AF_INET);
    return fd;
  }
  return -1;
}

bool closed_by_peer(int fd) {
  char c;
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return ::recv(fd, &c, 1, 0) == 0;
}

bool closed_by_peer_now(int fd) {
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

TEST(AcceptGate, EveryConnectionThatArrivesAtOnceIsHandedOver) {
  gate_configure({.max_connections = 100, .handshake_timeout_seconds = 30});
  Listener l;
  std::vector<int> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(l.connect_client());
  for (int c : clients) ASSERT_EQ(::send(c, "O", 1, 0), 1);
  // All eight, although the listening socket shows only the first as new.
  for (int i = 0; i < 8; ++i) {
    int got = accept_within(l.fd, std::chrono::milliseconds(2000));
    ASSERT_GE(got, 0) << i;
    ::close(got);
  }
  for (int c : clients) ::close(c);
}

TEST(AcceptGate, HandsOverOnlyTalkingConnectionsAndClosesSilentOnes) {
  gate_configure({.max_connections = 2, .handshake_timeout_seconds = 1});
  Listener l;
  int silent = l.connect_client();
  int talker = l.connect_client();
  ASSERT_EQ(::send(talker, "O", 1, 0), 1);
  int got = accept_within(l.fd, std::chrono::milliseconds(3000));
  ASSERT_GE(got, 0);
  char c = 0;
  ASSERT_EQ(::recv(got, &c, 1, 0), 1);  // the talker, not the silent one
  EXPECT_EQ(c, 'O');
  int one = 0;
  socklen_t len = sizeof one;
  ::getsockopt(l.fd, IPPROTO_TCP, TCP_NODELAY, &one, &len);
  EXPECT_EQ(one, 1);
  // The silent one is closed once its handshake time is over.
  EXPECT_EQ(accept_within(l.fd, std::chrono::milliseconds(2500)), -1);
  EXPECT_TRUE(closed_by_peer(silent));
  EXPECT_GE(gate_figures().closed_silent, 1u);
  ::close(got);
  ::close(silent);
  ::close(talker);
}

TEST(AcceptGate, OverTheLimitTheOldestWaitingIsClosedAndMailStillGetsIn) {
  gate_configure({.max_connections = 3, .handshake_timeout_seconds = 30});
  Listener l;
  std::vector<int> idle;
  for (int i = 0; i < 6; ++i) idle.push_back(l.connect_client());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  accept_within(l.fd, std::chrono::milliseconds(1200));  // takes them in, none talks
  int mta = l.connect_client();
  ASSERT_EQ(::send(mta, "O", 1, 0), 1);
  int got = accept_within(l.fd, std::chrono::milliseconds(3000));
  ASSERT_GE(got, 0);
  char c = 0;
  EXPECT_EQ(::recv(got, &c, 1, 0), 1);
  EXPECT_TRUE(closed_by_peer(idle[0]));       // the oldest idle ones made room
  EXPECT_FALSE(closed_by_peer_now(idle[5]));  // the newest still wait
  EXPECT_GE(gate_figures().closed_over_limit, 3u);
  ::close(got);
  ::close(mta);
  for (int fd : idle) ::close(fd);
}

TEST(AcceptGate, NoSlotMeansTheConnectionWaits) {
  gate_configure({.max_connections = 1, .handshake_timeout_seconds = 30});
  Listener l;
  gate_session_opened();  // one session is being served: the limit is reached
  int mta = l.connect_client();
  ASSERT_EQ(::send(mta, "O", 1, 0), 1);
  EXPECT_EQ(accept_within(l.fd, std::chrono::milliseconds(1500)), -1);
  gate_session_closed();
  int got = accept_within(l.fd, std::chrono::milliseconds(2000));
  EXPECT_GE(got, 0);
  ::close(got);
  ::close(mta);
}

}  // namespace
}  // namespace pm
