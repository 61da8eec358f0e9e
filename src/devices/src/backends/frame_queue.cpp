// FrameQueue placement.
//
// Let S = max_bytes + M (M = max_frame_size) be the storage size, U the queued payload bytes
// and L <= M the new frame, admitted because U + L <= max_bytes. Frames occupy storage in FIFO
// order from the oldest frame's offset H to the end T of the newest.
//  * Not wrapped (H <= T): place at T when S - T >= L. Otherwise place at 0, which needs
//    H >= L: the queued frames are contiguous, so H = T - U > S - L - U >= S - max_bytes = M >= L.
//  * Wrapped (T < H, the newest frames start at 0): the free gap is H - T = S - U - W where
//    W < M is the space wasted before the end when the queue wrapped; so
//    H - T > S - U - M = max_bytes - U >= L.
// place() still checks each case, so a broken invariant would show as a refusal, never as an
// overlap.
#include "aero/devices/frame_queue.h"

#include <algorithm>
#include <cstring>

namespace aero::devices {

namespace {

FrameQueueLimits clamp(FrameQueueLimits l) {
  // Frames are at least one byte long: a zero-length frame would share its offset with its
  // neighbour and blur the wrapped/not-wrapped test in place().
  l.max_frames = std::clamp<std::size_t>(l.max_frames, 1, FrameQueueLimits::kMaxFramesCeiling);
  l.max_bytes = std::clamp<std::size_t>(l.max_bytes, 1, FrameQueueLimits::kMaxBytesCeiling);
  l.max_frame_size = std::clamp<std::size_t>(
      l.max_frame_size, 1, std::min(l.max_bytes, FrameQueueLimits::kMaxFrameSizeCeiling));
  l.min_frame_size = std::clamp<std::size_t>(l.min_frame_size, 1, l.max_frame_size);
  return l;
}

}  // namespace

FrameQueue::FrameQueue(FrameQueueLimits limits)
    : limits_(clamp(limits)),
      storage_(limits_.max_bytes + limits_.max_frame_size),
      slots_(limits_.max_frames) {}

QueueRefusal FrameQueue::check(std::size_t length) const {
  if (length < limits_.min_frame_size) return QueueRefusal::runt;
  if (length > limits_.max_frame_size) return QueueRefusal::oversize;
  if (count_ >= limits_.max_frames) return QueueRefusal::frames_full;
  if (length > limits_.max_bytes - bytes_) return QueueRefusal::bytes_full;
  return QueueRefusal::none;
}

std::optional<std::size_t> FrameQueue::place(std::size_t length) const {
  if (count_ == 0) return 0;
  const Slot& oldest = slots_[first_];
  const Slot& newest = slots_[(first_ + count_ - 1) % slots_.size()];
  const std::size_t head = oldest.offset;
  const std::size_t tail = newest.offset + newest.length;
  if (newest.offset >= oldest.offset) {  // not wrapped: free space after tail and before head
    if (storage_.size() - tail >= length) return tail;
    if (head >= length) return 0;
    return std::nullopt;
  }
  if (head - tail >= length) return tail;  // wrapped: the gap between newest and oldest
  return std::nullopt;
}

bool FrameQueue::can_accept(std::size_t length) const {
  return check(length) == QueueRefusal::none && place(length).has_value();
}

QueueRefusal FrameQueue::push(ByteSpan frame) {
  QueueRefusal refusal = check(frame.size());
  std::optional<std::size_t> at;
  if (refusal == QueueRefusal::none) {
    at = place(frame.size());
    if (!at) refusal = QueueRefusal::bytes_full;  // unreachable by the proof above
  }
  switch (refusal) {
    case QueueRefusal::none:
      break;
    case QueueRefusal::runt:
      ++counters_.refused_runt;
      break;
    case QueueRefusal::oversize:
      ++counters_.refused_oversize;
      break;
    case QueueRefusal::frames_full:
      ++counters_.refused_frames_full;
      break;
    case QueueRefusal::bytes_full:
      ++counters_.refused_bytes_full;
      break;
  }
  if (refusal != QueueRefusal::none) {
    counters_.refused_bytes += frame.size();
    return refusal;
  }
  if (!frame.empty()) std::memcpy(storage_.data() + *at, frame.data(), frame.size());
  slots_[(first_ + count_) % slots_.size()] = Slot{*at, frame.size()};
  ++count_;
  bytes_ += frame.size();
  ++counters_.accepted_frames;
  counters_.accepted_bytes += frame.size();
  return QueueRefusal::none;
}

std::optional<ByteSpan> FrameQueue::front() const {
  if (count_ == 0) return std::nullopt;
  const Slot& s = slots_[first_];
  return ByteSpan(storage_.data() + s.offset, s.length);
}

void FrameQueue::pop() {
  if (count_ == 0) return;
  bytes_ -= slots_[first_].length;
  first_ = (first_ + 1) % slots_.size();
  --count_;
}

void FrameQueue::clear() {
  first_ = 0;
  count_ = 0;
  bytes_ = 0;
}

}  // namespace aero::devices
