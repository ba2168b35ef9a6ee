#include "daemon/memory_budget.h"

#include <algorithm>
#include <limits>

namespace pm {

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& o) noexcept {
  if (this != &o) {
    release();
    budget_ = o.budget_;
    bytes_ = o.bytes_;
    o.budget_ = nullptr;
  }
  return *this;
}

void MemoryBudget::Reservation::release() {
  if (!budget_) return;
  std::lock_guard lock(budget_->mu_);
  budget_->in_use_ -= bytes_;
  budget_ = nullptr;
}

std::size_t MemoryBudget::estimate(std::size_t n) const {
  constexpr std::size_t kBase = 1u << 20;  // engine scratch, verdict, segments of small mail
  if (n > (std::numeric_limits<std::size_t>::max() - kBase) / factor_)
    return std::numeric_limits<std::size_t>::max();
  return n * factor_ + kBase;
}

bool MemoryBudget::fits_ever(std::size_t n) {
  if (estimate(n) <= budget_) return true;
  std::lock_guard lock(mu_);
  ++never_fit_;
  return false;
}

MemoryBudget::Reservation MemoryBudget::reserve(std::size_t n) {
  const std::size_t want = estimate(n);
  std::lock_guard lock(mu_);
  if (want > budget_ || in_use_ + want > budget_) {
    ++deferred_;
    return {};
  }
  in_use_ += want;
  peak_ = std::max(peak_, in_use_);
  return Reservation(this, want);
}

MemoryBudget::Figures MemoryBudget::figures() const {
  std::lock_guard lock(mu_);
  return {budget_, in_use_, peak_, deferred_, never_fit_};
}

}  // namespace pm
