// The bytes a guest sent on one TCP connection that the host socket has not taken yet: an
// in-order region (ready for the host) followed by out-of-order segments waiting for the gaps
// before them to fill (RFC 9293 §3.10.7.4, "segment text"; the queue is bounded per RFC 9293
// §3.8.6.2.2: the guest may not send beyond the window we advertise, and the window is what
// this buffer has room for).
//
// Storage is one ring of `capacity` bytes, allocated on first use; out-of-order data is written
// straight to the place it will occupy once the gaps fill, and a small fixed list of ranges
// records what has arrived. A segment that would need more ranges than the list holds is
// refused (the guest retransmits it), so a hostile guest cannot grow the bookkeeping.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "aero/base/bytes.h"

namespace aero::stack {

class TcpReceiveBuffer {
 public:
  static constexpr std::size_t kMaxRanges = 8;

  struct Range {
    std::size_t begin = 0;  // offset from the end of the in-order region
    std::size_t end = 0;
  };

  explicit TcpReceiveBuffer(std::size_t capacity) : capacity_(capacity) {}

  std::size_t capacity() const { return capacity_; }
  // In-order bytes waiting for the host.
  std::size_t pending() const { return pending_; }
  // Room after the in-order region: the receive window.
  std::size_t window() const { return capacity_ - pending_; }
  bool has_out_of_order() const { return range_count_ != 0; }
  // Out-of-order ranges, nearest first (for SACK blocks, RFC 2018 §4).
  std::span<const Range> out_of_order() const { return {ranges_.data(), range_count_}; }

  struct Inserted {
    std::size_t stored = 0;    // bytes of `data` kept (the rest lay beyond the window)
    std::size_t advanced = 0;  // bytes by which the in-order region grew
    bool refused = false;      // out of range bookkeeping: nothing kept
  };
  // Stores `data`, which starts `offset` bytes after the in-order region.
  Inserted insert(std::size_t offset, ByteSpan data);

  // The in-order region as up to two spans (the ring may wrap).
  std::array<ByteSpan, 2> readable() const;
  // Drops `bytes` (<= pending()) from the front of the in-order region.
  void consume(std::size_t bytes);

 private:
  void copy_in(std::size_t ring_offset, ByteSpan data);

  std::size_t capacity_;
  std::unique_ptr<std::uint8_t[]> ring_;  // allocated on the first insert
  std::size_t head_ = 0;                  // ring index of the first in-order byte
  std::size_t pending_ = 0;
  std::array<Range, kMaxRanges> ranges_{};
  std::size_t range_count_ = 0;
};

}  // namespace aero::stack
