// A wall-clock budget passed down through the decode passes. Cheap to check; the passes
// poll it between parts and pages, never per byte.
#pragma once

#include <chrono>

namespace pm {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  Deadline() : end_(Clock::time_point::max()) {}
  explicit Deadline(std::chrono::milliseconds budget) : end_(Clock::now() + budget) {}
  bool expired() const { return Clock::now() >= end_; }

 private:
  Clock::time_point end_;
};

}  // namespace pm
