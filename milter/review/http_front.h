// HttpFront: cpp-httplib's Server with a connection layer of our own, so slow or greedy
// clients cannot starve the review page on a school LAN without a front proxy.
//
// cpp-httplib 0.11 serves every connection on a fixed pool of ~8 threads with a per-read
// timeout only: eight clients sending a header byte every two seconds hold every thread,
// and header lines are unlimited in number. Here instead:
//   - one thread per connection, up to `max_connections` at once (slow clients wait in
//     poll(), costing a small stack each, not a worker everyone needs);
//   - at most `max_connections_per_client` per client address (over: closed at once);
//   - the request head (request line + headers) is read by us, against a deadline for
//     the whole request and caps on its bytes and lines (431 / 408 and close);
//   - every later read and write (body, answer, TLS handshake) has the same deadline;
//   - one request per connection (no keep-alive: a held connection is a held thread);
//   - TLS (OpenSSL, TLS 1.2+) in the same layer, so HTTPS has the same limits;
//   - the listening socket without SO_REUSEPORT: a second instance on a port in use
//     fails to start instead of sharing it.
// Errors: the constructor throws std::runtime_error when the certificate or key cannot be
// loaded; with TLS it sets SIGPIPE to ignored (OpenSSL writes with write(2)).
// Thread safety: as httplib::Server.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

namespace pm {

struct FrontLimits {
  int max_connections = 512;
  int max_connections_per_client = 32;
  int request_deadline_seconds = 10;
  int max_header_bytes = 16384;
  int max_headers = 64;
  // Peers exempt from max_connections_per_client: trusted reverse proxies, which carry
  // every client's connections and enforce their own limits.
  std::vector<std::string> unlimited_clients;
};

class HttpFront : public httplib::Server {
 public:
  // `tls_cert`/`tls_key` empty: plain HTTP.
  HttpFront(FrontLimits limits, const std::string& tls_cert = {}, const std::string& tls_key = {});
  ~HttpFront() override;

  // Binds and listens (port 0: any free port); returns the port, or -1. Use this rather
  // than bind_to_port(): cpp-httplib listens with a backlog of 5, so a burst of clients
  // overflows the accept queue and each extra one waits a second for a SYN-ACK retry;
  // here the backlog is max_connections.
  int bind_port(const std::string& host, int port);

  // Connections open now (for tests and the log).
  int open_connections() const;

  struct State;  // shared with the connection threads

 private:
  bool process_and_close_socket(socket_t sock) override;
  std::shared_ptr<State> st_;
};

}  // namespace pm
