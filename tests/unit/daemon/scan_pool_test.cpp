// ScanPool: a fixed number of workers runs every task; large tasks never take the last
// worker, so a small task runs while large ones are stuck.
#include "daemon/scan_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>

namespace pm {
namespace {

using namespace std::chrono_literals;

TEST(ScanPool, RunsEveryTaskOnTheConfiguredWorkers) {
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> done{0};
  {
    ScanPool pool(3, 1000);
    EXPECT_EQ(pool.workers(), 3u);
    for (int i = 0; i < 200; ++i)
      pool.submit(i % 2 ? 10 : 5000, [&] {
        std::lock_guard lock(mu);
        threads.insert(std::this_thread::get_id());
        ++done;
      });
  }  // the destructor runs what is queued
  EXPECT_EQ(done, 200);
  EXPECT_LE(threads.size(), 3u);
}

TEST(ScanPool, ZeroMeansOnePerCore) {
  ScanPool pool(0, 1000);
  EXPECT_EQ(pool.workers(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(ScanPool, LargeMailCannotStarveSmallMail) {
  ScanPool pool(2, 1000);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> large_started{0};
  for (int i = 0; i < 4; ++i)
    pool.submit(1 << 20, [&, gate] {
      ++large_started;
      gate.wait();
    });
  std::promise<void> small_ran;
  std::this_thread::sleep_for(50ms);
  pool.submit(100, [&] { small_ran.set_value(); });
  // The small task runs although four large ones are queued or running.
  EXPECT_EQ(small_ran.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(large_started, 1);  // only one of two workers ever took a large task
  auto f = pool.figures();
  EXPECT_EQ(f.queued_large, 3u);
  release.set_value();
}

}  // namespace
}  // namespace pm
