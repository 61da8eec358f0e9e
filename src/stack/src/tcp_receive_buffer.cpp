#include "aero/stack/tcp_receive_buffer.h"

#include <algorithm>
#include <cstring>

namespace aero::stack {

void TcpReceiveBuffer::copy_in(std::size_t ring_offset, ByteSpan data) {
  const std::size_t start = (head_ + ring_offset) % capacity_;
  const std::size_t first = std::min(data.size(), capacity_ - start);
  std::memcpy(ring_.get() + start, data.data(), first);
  if (first < data.size()) std::memcpy(ring_.get(), data.data() + first, data.size() - first);
}

TcpReceiveBuffer::Inserted TcpReceiveBuffer::insert(std::size_t offset, ByteSpan data) {
  Inserted result;
  const std::size_t room = window();
  if (offset >= room || data.empty()) return result;
  const std::size_t length = std::min(data.size(), room - offset);
  Range incoming{offset, offset + length};

  // Merge with every range it touches; the list stays sorted and disjoint.
  std::size_t first = 0;
  while (first < range_count_ && ranges_[first].end < incoming.begin) ++first;
  std::size_t last = first;
  while (last < range_count_ && ranges_[last].begin <= incoming.end) {
    incoming.begin = std::min(incoming.begin, ranges_[last].begin);
    incoming.end = std::max(incoming.end, ranges_[last].end);
    ++last;
  }
  const std::size_t merged = last - first;
  if (merged == 0 && range_count_ == kMaxRanges && incoming.begin != 0) {
    result.refused = true;
    return result;
  }
  if (!ring_) ring_ = std::make_unique<std::uint8_t[]>(capacity_);
  copy_in(pending_ + offset, data.first(length));
  result.stored = length;

  if (incoming.begin == 0) {
    // Joins the in-order region, with every range it merged (first == 0 here).
    const std::size_t grown = incoming.end;
    pending_ += grown;
    std::move(ranges_.begin() + static_cast<std::ptrdiff_t>(last),
              ranges_.begin() + static_cast<std::ptrdiff_t>(range_count_), ranges_.begin());
    range_count_ -= merged;
    for (std::size_t i = 0; i < range_count_; ++i) {
      ranges_[i].begin -= grown;
      ranges_[i].end -= grown;
    }
    result.advanced = grown;
    return result;
  }
  if (merged == 0) {
    std::move_backward(ranges_.begin() + static_cast<std::ptrdiff_t>(first),
                       ranges_.begin() + static_cast<std::ptrdiff_t>(range_count_),
                       ranges_.begin() + static_cast<std::ptrdiff_t>(range_count_ + 1));
    ++range_count_;
  } else if (merged > 1) {
    std::move(ranges_.begin() + static_cast<std::ptrdiff_t>(last),
              ranges_.begin() + static_cast<std::ptrdiff_t>(range_count_),
              ranges_.begin() + static_cast<std::ptrdiff_t>(first + 1));
    range_count_ -= merged - 1;
  }
  ranges_[first] = incoming;
  return result;
}

std::array<ByteSpan, 2> TcpReceiveBuffer::readable() const {
  if (pending_ == 0) return {};
  const std::size_t first = std::min(pending_, capacity_ - head_);
  return {ByteSpan(ring_.get() + head_, first), ByteSpan(ring_.get(), pending_ - first)};
}

void TcpReceiveBuffer::consume(std::size_t bytes) {
  bytes = std::min(bytes, pending_);
  head_ = (head_ + bytes) % capacity_;
  pending_ -= bytes;
  if (pending_ == 0 && range_count_ == 0) head_ = 0;
}

}  // namespace aero::stack
