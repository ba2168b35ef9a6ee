// MemoryBudget: what does not fit now is refused while smaller messages still get in; what
// could never fit is said so; reservations come back when released or destroyed.
#include "daemon/memory_budget.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

constexpr std::size_t MiB = 1u << 20;

TEST(MemoryBudget, EstimateIsFactorTimesSizePlusBase) {
  MemoryBudget b(100 * MiB, 8);
  EXPECT_EQ(b.estimate(0), MiB);
  EXPECT_EQ(b.estimate(10 * MiB), 81 * MiB);
  EXPECT_EQ(b.estimate(SIZE_MAX / 2), SIZE_MAX);  // no overflow
}

TEST(MemoryBudget, LargeMessageDeferredWhileSmallOnesPass) {
  MemoryBudget b(100 * MiB, 4);
  auto big = b.reserve(20 * MiB);  // 81 MiB
  ASSERT_TRUE(big);
  EXPECT_FALSE(b.reserve(10 * MiB));   // 41 MiB: does not fit now
  auto small = b.reserve(100 * 1024);  // ~1.4 MiB: fits
  EXPECT_TRUE(small);
  auto f = b.figures();
  EXPECT_EQ(f.deferred, 1u);
  EXPECT_EQ(f.in_use, big.bytes() + small.bytes());
  big.release();
  EXPECT_EQ(b.figures().in_use, small.bytes());
  EXPECT_TRUE(b.reserve(10 * MiB));  // fits again
  EXPECT_EQ(b.figures().peak, 81 * MiB + small.bytes());
}

TEST(MemoryBudget, NeverFitIsCountedAndNotReserved) {
  MemoryBudget b(64 * MiB, 8);
  EXPECT_TRUE(b.fits_ever(7 * MiB));
  EXPECT_FALSE(b.fits_ever(8 * MiB));
  EXPECT_EQ(b.figures().never_fit, 1u);
  EXPECT_FALSE(b.reserve(8 * MiB));
}

TEST(MemoryBudget, ReservationReturnsOnDestructionAndMove) {
  MemoryBudget b(10 * MiB, 1);
  {
    MemoryBudget::Reservation r = b.reserve(MiB);
    MemoryBudget::Reservation moved = std::move(r);
    EXPECT_FALSE(r);
    EXPECT_TRUE(moved);
    EXPECT_EQ(b.figures().in_use, 2 * MiB);
  }
  EXPECT_EQ(b.figures().in_use, 0u);
}

}  // namespace
}  // namespace pm
