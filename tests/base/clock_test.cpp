// ManualClock and SystemClock.
#include "aero/base/clock.h"

#include <gtest/gtest.h>

namespace aero {
namespace {

using namespace std::chrono_literals;

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(1'700'000'000'000);
  const Instant start = clock.now();
  EXPECT_EQ(clock.now(), start);
  clock.advance(1500ms);
  EXPECT_EQ(clock.now() - start, 1500ms);
  EXPECT_EQ(clock.unix_ms(), 1'700'000'001'500);
  clock.advance(-5s);  // ignored: time never runs backwards
  EXPECT_EQ(clock.now() - start, 1500ms);
  clock.set_unix_ms(42);
  EXPECT_EQ(clock.unix_ms(), 42);
}

TEST(SystemClock, IsMonotonicAndNearTheWallClock) {
  SystemClock clock;
  const Instant a = clock.now();
  const Instant b = clock.now();
  EXPECT_LE(a, b);
  EXPECT_GT(clock.unix_ms(), 1'600'000'000'000);  // after September 2020
}

}  // namespace
}  // namespace aero
