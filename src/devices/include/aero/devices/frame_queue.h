// FrameQueue: a bounded FIFO of Ethernet frames with a frame cap, a byte cap and a frame-size
// window, storing every frame contiguously in one buffer allocated at construction (push and
// pop never allocate). A push that would pass a limit is refused (never drops a queued frame)
// and counted under its reason; the caller turns a refusal into back-pressure.
//
// Storage: a byte ring of max_bytes + max_frame_size bytes. Frames are placed end to end and
// never split; a frame that does not fit before the end goes to offset 0, wasting less than one
// maximal frame. With that slack, any frame the byte cap admits always finds contiguous room
// (proof in frame_queue.cpp), so the only refusals are the configured limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "aero/base/bytes.h"

namespace aero::devices {

struct FrameQueueLimits {
  std::size_t max_frames = 1024;        // frames queued at once
  std::size_t max_bytes = 1024 * 1024;  // payload bytes queued at once
  std::size_t max_frame_size = 2048;    // largest frame accepted (Aero's NET frame limit)
  std::size_t min_frame_size = 14;      // smallest frame accepted (an Ethernet header)

  // Hard ceilings applied by the constructor, so a configuration cannot make the queue
  // allocate without bound: 2^20 frames, 256 MiB, 256 KiB frames.
  static constexpr std::size_t kMaxFramesCeiling = std::size_t{1} << 20;
  static constexpr std::size_t kMaxBytesCeiling = std::size_t{256} << 20;
  static constexpr std::size_t kMaxFrameSizeCeiling = std::size_t{256} << 10;
};

enum class QueueRefusal : std::uint8_t {
  none,         // accepted
  runt,         // shorter than min_frame_size
  oversize,     // longer than max_frame_size
  frames_full,  // max_frames frames already queued
  bytes_full,   // the frame would take the queued payload past max_bytes
};

struct FrameQueueCounters {
  std::uint64_t accepted_frames = 0;
  std::uint64_t accepted_bytes = 0;
  std::uint64_t refused_runt = 0;
  std::uint64_t refused_oversize = 0;
  std::uint64_t refused_frames_full = 0;
  std::uint64_t refused_bytes_full = 0;
  std::uint64_t refused_bytes = 0;  // bytes of all refused frames
};

class FrameQueue {
 public:
  // Limits are clamped: ceilings above; every limit >= 1 (no zero-length frames);
  // max_frame_size <= max_bytes; min_frame_size <= max_frame_size.
  explicit FrameQueue(FrameQueueLimits limits = {});

  // Appends a copy of `frame`, or refuses it (counted) leaving the queue unchanged.
  QueueRefusal push(ByteSpan frame);
  // True when push(frame of `length` bytes) would be accepted now.
  bool can_accept(std::size_t length) const;

  // The oldest frame (valid until the next pop/clear), or nullopt when empty.
  std::optional<ByteSpan> front() const;
  void pop();
  void clear();

  std::size_t frames() const { return count_; }
  std::size_t bytes() const { return bytes_; }
  bool empty() const { return count_ == 0; }
  const FrameQueueLimits& limits() const { return limits_; }
  const FrameQueueCounters& counters() const { return counters_; }

 private:
  struct Slot {
    std::size_t offset = 0;
    std::size_t length = 0;
  };
  QueueRefusal check(std::size_t length) const;
  std::optional<std::size_t> place(std::size_t length) const;

  FrameQueueLimits limits_;
  std::vector<std::uint8_t> storage_;
  std::vector<Slot> slots_;  // circular, max_frames entries
  std::size_t first_ = 0;    // index in slots_ of the oldest frame
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  FrameQueueCounters counters_{};
};

}  // namespace aero::devices
