// front_bench: how the review page's HTTP layer copes with slow and greedy clients, for
// three servers answering the same tiny page:
//   httplib  cpp-httplib 0.11's own Server (what policy-review used before issue 9)
//   front    pm::HttpFront (what policy-review uses now: milter/review/http_front.h)
//   mhd      libmicrohttpd, epoll, with its connection limits and timeouts
// Scenario, in one fresh process per server: SLOW connections from 8 loopback addresses
// each send a header byte every 2 s; meanwhile 50 normal GETs from 127.0.0.1 are timed
// (5 s client timeout). Then one client sends HEADER_MB of header lines as fast as it can;
// the server's peak RSS growth is reported.
// usage: front_bench httplib|front|mhd [SLOW=200] [HEADER_MB=100]
#include <arpa/inet.h>
#include <httplib.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "review/http_front.h"

namespace {

long vm_hwm_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

int connect_from(const char* src, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in s{};
  s.sin_family = AF_INET;
  ::inet_pton(AF_INET, src, &s.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s);
  sockaddr_in d{};
  d.sin_family = AF_INET;
  d.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&d), sizeof d) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

const char kPage[] = "body { color: #123; }\n";

MHD_Result mhd_answer(void*, MHD_Connection* c, const char*, const char*, const char*, const char*,
                      size_t*, void**) {
  MHD_Response* r = MHD_create_response_from_buffer(sizeof kPage - 1, const_cast<char*>(kPage),
                                                    MHD_RESPMEM_PERSISTENT);
  MHD_Result q = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  return q;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "front";
  int slow = argc > 2 ? std::atoi(argv[2]) : 200;
  long header_mb = argc > 3 ? std::atol(argv[3]) : 100;
  int port = 0;
  std::unique_ptr<httplib::Server> http;
  MHD_Daemon* mhd = nullptr;
  std::thread serving;
  if (mode == "mhd") {
    port = 20000 + static_cast<int>(::getpid() % 20000);
    mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, static_cast<uint16_t>(port), nullptr,
        nullptr, &mhd_answer, nullptr, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
        MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 32u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(32768), MHD_OPTION_END);
    if (!mhd) return std::fprintf(stderr, "mhd: cannot start\n"), 1;
  } else {
    http = mode == "httplib" ? std::make_unique<httplib::Server>()
                             : std::make_unique<pm::HttpFront>(pm::FrontLimits{});
    http->Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kPage, "text/css");
    });
    auto* front = dynamic_cast<pm::HttpFront*>(http.get());
    port = front ? front->bind_port("127.0.0.1", 0) : http->bind_to_any_port("127.0.0.1");
    serving = std::thread([&] { http->listen_after_bind(); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // 1. slow clients
  std::vector<int> fds;
  for (int i = 0; i < slow; ++i) {
    int fd = connect_from(("127.0.0." + std::to_string(2 + i % 8)).c_str(), port);
    if (fd >= 0) fds.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    while (!stop) {
      for (int fd : fds) (void)::send(fd, "G", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      for (int i = 0; i < 20 && !stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<double> ms;
  int answered = 0;
  for (int i = 0; i < 50; ++i) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.Get("/");
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    answered += r && r->status == 200;
  }
  stop = true;
  drip.join();
  for (int fd : fds) ::close(fd);
  std::sort(ms.begin(), ms.end());

  // 2. one greedy client: header lines as fast as the server takes them
  long before = vm_hwm_kb();
  long sent = 0;
  int g = connect_from("127.0.0.20", port);
  if (g >= 0) {
    std::string chunk = "GET / HTTP/1.1\r\nHost: x\r\n";
    std::string line = "X-Filler: " + std::string(88, 'a') + "\r\n";
    (void)::send(g, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    std::string block;
    while (block.size() < 65536) block += line;
    timeval tv{5, 0};
    ::setsockopt(g, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (sent < header_mb * 1024 * 1024) {
      ssize_t n = ::send(g, block.data(), block.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += n;
    }
    ::close(g);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long after = vm_hwm_kb();

  std::printf(
      "%-8s slow=%d: %d/50 answered, p50 %.2f ms, p95 %.2f ms, max %.2f ms; greedy client sent "
      "%.1f MB "
      "of headers before the server stopped reading, peak RSS +%.1f MB\n",
      mode.c_str(), static_cast<int>(fds.size()), answered, ms[25], ms[47], ms[49],
      sent / 1048576.0, (after - before) / 1024.0);
  std::fflush(stdout);
  // The httplib pool may still be stuck on slow clients: leave without joining.
  if (mhd) MHD_stop_daemon(mhd);
  ::_exit(0);
}
