// MemoryBudget: a global bound on the memory of messages being scanned (issue 11, item 6).
//
// Before its scan a message reserves an estimate of its peak (`estimate(size)`: the
// configured factor times its size, plus a fixed 1 MiB); the reservation is returned when
// the scan ends - when the worker finishes, not when the milter gives up waiting, so the
// bound holds for scans that overran their time budget too.
//   fits_ever(n)   false: the message could never be scanned within the budget (the daemon
//                  makes it `unscannable` without decoding it, so it is not retried forever)
//   reserve(n)     an empty Reservation when it does not fit *now* (the daemon defers it
//                  with 4xx; the MTA retries while smaller mail keeps passing)
// Figures (in use, peak, deferred, never-fit) are reported in `policyctl status`.
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace pm {

class MemoryBudget {
 public:
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) {
      o.budget_ = nullptr;
    }
    Reservation& operator=(Reservation&& o) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { release(); }
    explicit operator bool() const { return budget_ != nullptr; }
    std::size_t bytes() const { return bytes_; }
    void release();

   private:
    friend class MemoryBudget;
    Reservation(MemoryBudget* b, std::size_t n) : budget_(b), bytes_(n) {}
    MemoryBudget* budget_ = nullptr;
    std::size_t bytes_ = 0;
  };

  struct Figures {
    std::uint64_t budget = 0, in_use = 0, peak = 0, deferred = 0, never_fit = 0;
  };

  MemoryBudget(std::size_t budget_bytes, unsigned factor)
      : budget_(budget_bytes), factor_(factor) {}

  std::size_t estimate(std::size_t message_bytes) const;
  bool fits_ever(std::size_t message_bytes);
  Reservation reserve(std::size_t message_bytes);
  Figures figures() const;

 private:
  mutable std::mutex mu_;
  const std::size_t budget_;
  const unsigned factor_;
  std::size_t in_use_ = 0, peak_ = 0;
  std::uint64_t deferred_ = 0, never_fit_ = 0;
};

}  // namespace pm
