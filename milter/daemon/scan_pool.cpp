#include "daemon/scan_pool.h"

#include <algorithm>

namespace pm {

ScanPool::ScanPool(unsigned workers, std::size_t large_bytes) : large_bytes_(large_bytes) {
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  large_limit_ = workers > 1 ? workers - 1 : 1;
  threads_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
}

ScanPool::~ScanPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ScanPool::submit(std::size_t message_bytes, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    (message_bytes >= large_bytes_ ? large_ : small_).push_back(std::move(task));
  }
  cv_.notify_one();
}

ScanPool::Figures ScanPool::figures() const {
  std::lock_guard lock(mu_);
  return {threads_.size(), busy_, small_.size(), large_.size()};
}

void ScanPool::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    // With one worker, "all but one" would be none: then the lanes simply alternate with
    // small mail first.
    auto large_ok = [&] { return !large_.empty() && busy_large_ < large_limit_; };
    cv_.wait(lock, [&] { return stopping_ || !small_.empty() || large_ok(); });
    bool large;
    std::function<void()> task;
    if (!small_.empty()) {
      task = std::move(small_.front());
      small_.pop_front();
      large = false;
    } else if (large_ok()) {
      task = std::move(large_.front());
      large_.pop_front();
      large = true;
    } else {
      return;  // stopping, nothing left this worker may run
    }
    ++busy_;
    if (large) ++busy_large_;
    lock.unlock();
    task();
    task = nullptr;  // free what the task holds before taking the next one
    lock.lock();
    --busy_;
    if (large) {
      --busy_large_;
      cv_.notify_all();  // a waiting large task may run now
    }
  }
}

}  // namespace pm
