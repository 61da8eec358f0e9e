// IPv4 fragment reassembly (RFC 791 §3.2, RFC 1122 §3.3.2), sans-I/O and strictly bounded.
//
// Theory of operation.
//
// A datagram in progress is identified by (source, destination, protocol, identification)
// (RFC 791 §3.2) and lives in one of `max_datagrams` slots. Its payload bytes are stored in an
// arena of `max_buffered_bytes`, cut at construction into blocks of kBlockSize bytes. Each slot
// has a block table mapping block k of the datagram's payload (bytes [k*B, (k+1)*B)) to an arena
// block, taken from a free list the first time a fragment writes there and returned when the
// datagram completes, times out or is dropped. Which bytes are present is kept in a per-slot
// bitmap with one bit per 8-byte unit: fragment offsets are multiples of 8 (RFC 791 §3.1), and
// every fragment but the last carries a multiple of 8 bytes, so units are never shared between
// fragments except by overlaps. The datagram is complete when the last fragment (MF=0) has fixed
// the payload length, the offset-0 fragment has supplied the header, and the units present cover
// exactly that length (the bitmap does the job of RFC 815's hole list with a fixed size).
//
// A fragment is checked completely before anything is written: units already present are
// compared byte for byte. Identical duplicates or identical overlaps are ignored; an overlap
// with different content drops the whole datagram (the rule RFC 5722 makes for IPv6; it defeats
// overlap-based evasion of filters). The blocks a fragment needs are counted first, so a fragment
// is either stored whole or refused.
//
// Memory. Everything is allocated when the first fragment arrives (most sessions never see one,
// and an idle session must stay small) and never resized afterwards:
//   * the arena, max_buffered_bytes rounded down to whole blocks: bytes_buffered() counts whole
//     arena blocks in use, so it can never exceed max_buffered_bytes. Blocks are the accounting
//     unit: an 8-byte fragment takes a whole block (a peer spraying tiny fragments exhausts the
//     cap sooner, but can never pass it);
//   * one output buffer of max_datagram_size bytes for the completed datagram;
//   * per slot: a 60-byte header copy, a block table and a bitmap (about 2 KiB per slot for a
//     65535-byte maximum).
// Adding a fragment allocates nothing after that.
//
// Limits and refusals (architecture habit 4), each with its counter:
//   * a fragment that would make the datagram longer than max_datagram_size (the "ping of
//     death"; the total length field has 16 bits, RFC 791 §3.1) drops the datagram: too_big;
//   * a new datagram when all slots are busy is refused (no eviction: evicting the oldest would
//     let a flood of fresh identifiers destroy datagrams that are about to complete): no_slot;
//   * a fragment that needs more arena blocks than are free is refused and its datagram is
//     dropped, returning its memory (it cannot complete without the fragment): byte_cap;
//   * malformed or inconsistent fragments: bad_fragment (see add());
//   * a datagram not complete `timeout` after its first fragment arrived is freed: timed_out.
//     The deadline is fixed at creation, as Linux does; RFC 791 §3.2 lets later fragments raise
//     the timer, which would let a trickle of fragments hold a slot forever. RFC 1122 §3.3.2
//     recommends 60 to 120 seconds; the default, 30, is Linux's.
//
// Expired datagrams are freed by expire(now), and also at the start of every add(), so a stale
// datagram never blocks a new one. Datagrams are found by a linear scan of the slots, which is
// cheap for the small slot counts this is meant for.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/wire/ipv4.h"

namespace aero::stack {

struct Ipv4ReassemblyLimits {
  std::size_t max_datagrams = 16;               // datagrams in progress at once
  std::size_t max_buffered_bytes = 256 * 1024;  // fragment payload across all of them
  std::size_t max_datagram_size = 65535;        // header + payload of the result
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);

  // 1..4096 datagrams; max_buffered_bytes at least one block and at most 64 MiB;
  // max_datagram_size from 576 (RFC 791 §3.1, RFC 1122 §3.3.2: every host must accept it) to
  // 65535; a positive timeout. The message names the field.
  Result<void> validate() const;
};

// Why a fragment was not kept. Each reason has a counter in Ipv4ReassemblyStats.
enum class ReassemblyDrop : std::uint8_t {
  none,
  overlap,       // overlapped data already held with different bytes; the datagram is dropped
  too_big,       // the datagram would exceed max_datagram_size; the datagram is dropped
  no_slot,       // a new datagram while max_datagrams are in progress
  byte_cap,      // not enough arena left for the fragment; the datagram is dropped
  bad_fragment,  // malformed or inconsistent; see Ipv4Reassembler::add()
};
std::string_view reassembly_drop_name(ReassemblyDrop reason);

struct ReassemblyOutcome {
  enum class Status : std::uint8_t { pending, complete, dropped };
  Status status = Status::pending;
  ReassemblyDrop reason = ReassemblyDrop::none;  // when dropped
  // When complete: the whole IPv4 datagram (header and payload). Valid until the next call to
  // add() or the reassembler's destruction.
  ByteSpan datagram;

  bool pending() const { return status == Status::pending; }
  bool complete() const { return status == Status::complete; }
  bool dropped() const { return status == Status::dropped; }
};

struct Ipv4ReassemblyStats {
  std::uint64_t fragments = 0;    // every add() call
  std::uint64_t duplicates = 0;   // fragments that brought no new byte (kept nothing)
  std::uint64_t reassembled = 0;  // datagrams completed
  std::uint64_t timed_out = 0;    // datagrams freed by the timeout
  // Fragments refused, one count per refused fragment (a refusal that also drops the datagram
  // counts once):
  std::uint64_t overlap = 0;
  std::uint64_t too_big = 0;
  std::uint64_t no_slot = 0;
  std::uint64_t byte_cap = 0;
  std::uint64_t bad_fragment = 0;

  std::uint64_t refused() const { return overlap + too_big + no_slot + byte_cap + bad_fragment; }
};

class Ipv4Reassembler {
 public:
  // Arena accounting unit, a multiple of 8 (the fragment offset unit).
  static constexpr std::size_t kBlockSize = 256;

  // `limits` should have passed validate(); out-of-range values are clamped into range.
  explicit Ipv4Reassembler(const Ipv4ReassemblyLimits& limits = {});
  Ipv4Reassembler(const Ipv4Reassembler&) = delete;
  Ipv4Reassembler& operator=(const Ipv4Reassembler&) = delete;

  // Adds one fragment (a packet with MF set or a non-zero offset; its header checksum already
  // checked by the caller). Refused as bad_fragment: a packet that is not a fragment; a fragment
  // with no data; one with MF set whose data is not a multiple of 8 bytes (RFC 791 §3.2); and,
  // dropping the datagram, a second last fragment with a different end, a last fragment ending
  // before data already received, or data past the end a last fragment set.
  ReassemblyOutcome add(const wire::Ipv4Packet& fragment, Instant now);

  // Frees every datagram whose deadline is at or before `now`.
  void expire(Instant now);
  // The earliest deadline of a datagram in progress.
  std::optional<Instant> next_deadline() const;

  std::size_t datagrams_in_progress() const { return slots_in_use_; }
  // Arena bytes held by datagrams in progress (whole blocks); never above capacity_bytes().
  std::size_t bytes_buffered() const { return (free_blocks_.size() - free_count_) * kBlockSize; }
  // The arena's size: max_buffered_bytes rounded down to a whole number of blocks.
  std::size_t capacity_bytes() const {
    return limits_.max_buffered_bytes / kBlockSize * kBlockSize;
  }
  const Ipv4ReassemblyLimits& limits() const { return limits_; }
  const Ipv4ReassemblyStats& stats() const { return stats_; }

 private:
  static constexpr std::uint32_t kNoBlock = 0xFFFFFFFFU;

  struct Slot {
    bool in_use = false;
    Ipv4Address source;
    Ipv4Address destination;
    std::uint8_t protocol = 0;
    std::uint16_t identification = 0;
    Instant deadline{};
    std::size_t header_length = 0;  // 0 until the offset-0 fragment arrives
    std::array<std::uint8_t, wire::kIpv4MaxHeaderLength> header{};
    std::optional<std::size_t> end;  // payload length, once the last fragment is known
    std::size_t max_end = 0;         // highest payload end seen
    std::size_t received = 0;        // payload bytes present
  };

  void allocate();  // the slots, tables, arena and output buffer, on the first fragment
  std::optional<std::size_t> find(const wire::Ipv4Packet& fragment) const;
  std::optional<std::size_t> claim(const wire::Ipv4Packet& fragment, Instant now);
  void release(std::size_t slot);
  ReassemblyOutcome refuse(ReassemblyDrop reason, std::optional<std::size_t> drop_slot);
  ReassemblyOutcome finish(std::size_t slot);

  std::span<std::uint32_t> blocks_of(std::size_t slot);
  std::span<std::uint64_t> bitmap_of(std::size_t slot);
  std::uint8_t* unit_bytes(std::size_t slot, std::size_t unit);

  Ipv4ReassemblyLimits limits_;
  std::size_t max_payload_ = 0;      // max_datagram_size minus the minimum header
  std::size_t blocks_per_slot_ = 0;  // ceil(max_payload_ / kBlockSize)
  std::size_t words_per_slot_ = 0;   // bitmap words: ceil(units / 64)
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> block_tables_;  // blocks_per_slot_ per slot
  std::vector<std::uint64_t> bitmaps_;       // words_per_slot_ per slot
  Bytes arena_;
  std::vector<std::uint32_t> free_blocks_;  // a stack of arena block numbers, one per block
  std::size_t free_count_ = 0;              // its height: free_blocks_[0, free_count_) are free
  std::size_t slots_in_use_ = 0;
  Bytes output_;
  Ipv4ReassemblyStats stats_;
};

}  // namespace aero::stack
