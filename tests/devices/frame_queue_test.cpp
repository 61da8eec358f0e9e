// FrameQueue: every limit refuses (never drops a queued frame) and is counted; FIFO order;
// the contiguous placement always finds room when the byte cap admits a frame.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <random>

#include "aero/devices/frame_queue.h"

namespace {

using aero::Bytes;
using aero::ByteSpan;
using aero::devices::FrameQueue;
using aero::devices::FrameQueueLimits;
using aero::devices::QueueRefusal;

Bytes frame(std::size_t size, std::uint8_t seed) {
  Bytes f(size);
  for (std::size_t i = 0; i < size; ++i) f[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return f;
}

bool same(std::optional<ByteSpan> a, const Bytes& b) {
  return a && a->size() == b.size() && std::equal(a->begin(), a->end(), b.begin());
}

TEST(FrameQueue, FifoOrderAndCounters) {
  FrameQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.front());
  for (std::uint8_t i = 0; i < 5; ++i) EXPECT_EQ(q.push(frame(60 + i, i)), QueueRefusal::none);
  EXPECT_EQ(q.frames(), 5U);
  EXPECT_EQ(q.bytes(), 60U * 5 + 10);
  for (std::uint8_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(same(q.front(), frame(60 + i, i)));
    q.pop();
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0U);
  EXPECT_EQ(q.counters().accepted_frames, 5U);
  EXPECT_EQ(q.counters().accepted_bytes, 310U);
  q.pop();  // popping an empty queue is a no-op
  EXPECT_TRUE(q.empty());
}

TEST(FrameQueue, MinFrameSizeRefusesRunts) {
  FrameQueue q({.min_frame_size = 14});
  EXPECT_EQ(q.push(frame(13, 1)), QueueRefusal::runt);
  EXPECT_EQ(q.push(frame(0, 1)), QueueRefusal::runt);
  EXPECT_EQ(q.push(frame(14, 1)), QueueRefusal::none);
  EXPECT_EQ(q.counters().refused_runt, 2U);
  EXPECT_EQ(q.counters().refused_bytes, 13U);
  EXPECT_EQ(q.frames(), 1U);
}

TEST(FrameQueue, MaxFrameSizeRefusesOversize) {
  FrameQueue q({.max_frame_size = 1514});
  EXPECT_EQ(q.push(frame(1514, 1)), QueueRefusal::none);
  EXPECT_EQ(q.push(frame(1515, 1)), QueueRefusal::oversize);
  EXPECT_EQ(q.counters().refused_oversize, 1U);
  EXPECT_EQ(q.frames(), 1U);
}

TEST(FrameQueue, MaxFramesRefusesNewFrameAndKeepsOldest) {
  FrameQueue q({.max_frames = 3});
  for (std::uint8_t i = 0; i < 3; ++i) EXPECT_EQ(q.push(frame(64, i)), QueueRefusal::none);
  EXPECT_EQ(q.push(frame(64, 9)), QueueRefusal::frames_full);
  EXPECT_EQ(q.counters().refused_frames_full, 1U);
  EXPECT_TRUE(same(q.front(), frame(64, 0)));  // the oldest frame is still there
  q.pop();
  EXPECT_EQ(q.push(frame(64, 9)), QueueRefusal::none);
}

TEST(FrameQueue, MaxBytesRefusesNewFrame) {
  FrameQueue q({.max_frames = 100, .max_bytes = 1000, .max_frame_size = 600});
  EXPECT_EQ(q.push(frame(600, 1)), QueueRefusal::none);
  EXPECT_EQ(q.push(frame(400, 2)), QueueRefusal::none);  // exactly at the cap
  EXPECT_EQ(q.push(frame(14, 3)), QueueRefusal::bytes_full);
  EXPECT_EQ(q.counters().refused_bytes_full, 1U);
  EXPECT_FALSE(q.can_accept(14));
  q.pop();
  EXPECT_TRUE(q.can_accept(600));
  EXPECT_EQ(q.push(frame(600, 3)), QueueRefusal::none);
}

TEST(FrameQueue, LimitsAreClamped) {
  FrameQueue q({.max_frames = 0, .max_bytes = 100, .max_frame_size = 5000, .min_frame_size = 0});
  EXPECT_EQ(q.limits().max_frames, 1U);
  EXPECT_EQ(q.limits().max_frame_size, 100U);  // never above the byte cap
  EXPECT_EQ(q.limits().min_frame_size, 1U);    // no zero-length frames
  FrameQueue huge({.max_frames = SIZE_MAX, .max_bytes = SIZE_MAX, .max_frame_size = SIZE_MAX});
  EXPECT_EQ(huge.limits().max_frames, FrameQueueLimits::kMaxFramesCeiling);
  EXPECT_EQ(huge.limits().max_bytes, FrameQueueLimits::kMaxBytesCeiling);
  EXPECT_EQ(huge.limits().max_frame_size, FrameQueueLimits::kMaxFrameSizeCeiling);
}

// A random walk of pushes and pops against a model: the queue refuses exactly when a limit is
// reached (never for lack of contiguous room) and returns frames in order with their bytes.
TEST(FrameQueue, PlacementNeverRefusesWhatTheCapsAdmit) {
  const FrameQueueLimits limits{.max_frames = 64, .max_bytes = 8000, .max_frame_size = 1600,
                                .min_frame_size = 1};
  FrameQueue q(limits);
  std::deque<Bytes> model;
  std::size_t model_bytes = 0;
  std::mt19937 rng(7);
  std::uint64_t pushes = 0;
  for (int step = 0; step < 200000; ++step) {
    if (rng() % 2 == 0) {
      const std::size_t len = 1 + rng() % limits.max_frame_size;
      const Bytes f = frame(len, static_cast<std::uint8_t>(step));
      const bool fits = model.size() < limits.max_frames && model_bytes + len <= limits.max_bytes;
      const QueueRefusal r = q.push(f);
      ASSERT_EQ(r == QueueRefusal::none, fits) << "step " << step;
      if (fits) {
        model.push_back(f);
        model_bytes += len;
        ++pushes;
      }
    } else if (!model.empty()) {
      ASSERT_TRUE(same(q.front(), model.front())) << "step " << step;
      q.pop();
      model_bytes -= model.front().size();
      model.pop_front();
    }
    ASSERT_EQ(q.frames(), model.size());
    ASSERT_EQ(q.bytes(), model_bytes);
  }
  EXPECT_GT(pushes, 50000U);
}

}  // namespace
