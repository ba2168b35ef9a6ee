// ScanPool: a fixed set of scan workers fed by the milter callbacks (instead of a thread
// per scan). A callback submits its message's scan and waits for it (sending progress to
// the MTA meanwhile); the worker runs it.
//
// Two lanes so that large attachments cannot starve small mail: a task of `large_bytes`
// or more waits in the large lane and at most `workers - 1` workers run large tasks at
// once (with a single worker, one lane at a time); small tasks are taken first.
// Errors: a task must not throw (the daemon's tasks catch everything themselves).
// Thread safety: submit() and figures() from any thread; the destructor runs what is
// queued, then joins the workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pm {

class ScanPool {
 public:
  struct Figures {
    std::uint64_t workers = 0, busy = 0, queued_small = 0, queued_large = 0;
  };

  // workers == 0: one per core.
  ScanPool(unsigned workers, std::size_t large_bytes);
  ~ScanPool();
  ScanPool(const ScanPool&) = delete;
  ScanPool& operator=(const ScanPool&) = delete;

  void submit(std::size_t message_bytes, std::function<void()> task);
  Figures figures() const;
  unsigned workers() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void run();

  const std::size_t large_bytes_;
  unsigned large_limit_ = 1;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> small_, large_;
  unsigned busy_ = 0, busy_large_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pm
