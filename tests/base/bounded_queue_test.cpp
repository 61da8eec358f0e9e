// BoundedQueue: FIFO order, capacity, refusal counting.
#include "aero/base/bounded_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace aero {
namespace {

TEST(BoundedQueue, KeepsFifoOrderAcrossWrapAround) {
  BoundedQueue<int> queue(3);
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(queue.try_push(round * 2));
    ASSERT_TRUE(queue.try_push(round * 2 + 1));
    EXPECT_EQ(queue.try_pop(), round * 2);
    EXPECT_EQ(queue.try_pop(), round * 2 + 1);
  }
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.try_pop().has_value());
}

TEST(BoundedQueue, RefusesWhenFullAndCountsIt) {
  BoundedQueue<std::string> queue(2);
  EXPECT_TRUE(queue.try_push(std::string("a")));
  EXPECT_TRUE(queue.try_push(std::string("b")));
  EXPECT_TRUE(queue.full());
  std::string kept = "c";
  EXPECT_FALSE(queue.try_push(std::move(kept)));
  EXPECT_EQ(kept, "c") << "a refused value is not consumed";
  EXPECT_EQ(queue.refused(), 1U);
  EXPECT_EQ(*queue.front(), "a");
  EXPECT_EQ(queue.size(), 2U);
}

TEST(BoundedQueue, ZeroCapacityRefusesEverything) {
  BoundedQueue<int> queue(0);
  EXPECT_FALSE(queue.try_push(1));
  EXPECT_EQ(queue.front(), nullptr);
  EXPECT_EQ(queue.refused(), 1U);
}

TEST(BoundedQueue, HoldsMoveOnlyTypes) {
  BoundedQueue<std::unique_ptr<int>> queue(1);
  ASSERT_TRUE(queue.try_push(std::make_unique<int>(9)));
  auto popped = queue.try_pop();
  ASSERT_TRUE(popped.has_value());
  EXPECT_EQ(**popped, 9);
}

}  // namespace
}  // namespace aero
