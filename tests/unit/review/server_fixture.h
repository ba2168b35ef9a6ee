// A ReviewServer on a loopback port of its own, run on a thread, with an HTTP client: the
// API tests (api_test.cpp, schools_test.cpp) talk to it over a real socket.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <thread>

#include "review/server.h"

namespace pm::test {

struct LoopbackServer {
  std::unique_ptr<ReviewServer> server;
  std::unique_ptr<httplib::Client> client;
  std::thread thread;
  int port = 0;

  LoopbackServer(ReviewService& service, UserStore& users)
      : server(std::make_unique<ReviewServer>(service, users)), port(server->bind("127.0.0.1", 0)) {
    EXPECT_GT(port, 0);
    thread = std::thread([this] { server->run(); });
    client = std::make_unique<httplib::Client>("127.0.0.1", port);
    for (int i = 0; i < 100 && !client->Get("/app.css"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ~LoopbackServer() {
    server->stop();
    thread.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
};

}  // namespace pm::test
