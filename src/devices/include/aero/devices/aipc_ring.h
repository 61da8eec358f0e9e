// The AIPC shared-memory layout and its ring buffer of variable-length records, byte-compatible
// with Aero's `aero-ipc` crate and its TypeScript twin (Aero docs/ipc-protocol.md; summarised in
// our reference of Aero's data plane, §3.4). All integers are little-endian.
//
// Buffer (one SharedArrayBuffer or a region of WebAssembly memory):
//   offset 0   magic 0x43504941 ("AIPC"), version 1, total_bytes, queue_count      (4 x u32)
//   offset 16  queue_count descriptors {kind, offset_bytes, capacity_bytes, reserved=0}
//   then, at each offset_bytes (4-aligned): a 16-byte ring header and capacity_bytes of data.
//
// Ring header (four u32 words, read and written only atomically):
//   0 head          consumer cursor          2 tail_commit   published producer cursor
//   1 tail_reserve  reserved producer cursor 3 capacity      set once at format time
// Cursors are wrapping u32 byte counts; a cursor's place in the data area is cursor % capacity.
//
// Record: u32 payload_len | payload | 0-3 bytes of padding to a multiple of 4. A record is never
// split: when it does not fit before the end of the data area, the producer writes the wrap
// marker 0xFFFFFFFF there and places the record at offset 0; when fewer than 4 bytes remain,
// they are implicit padding (no marker). The ring is empty when head == tail_commit.
//
// Producers are multi-producer safe: reserve with a compare-and-swap on tail_reserve (padding +
// record), write, wait until tail_commit equals the reservation's start, then publish
// tail_commit = end. There is one consumer.
//
// Hardening beyond Aero's reader: the consumer trusts nothing in the shared memory. Every
// record is checked against the data area and against the committed bytes, the capacity word is
// read once at attach time, and every loop is bounded, so a hostile or buggy peer can make a
// ring report `corrupt` but never make this code read or write outside it, or spin forever.
//
// Known property of the format: a capacity that is not a power of two makes cursor % capacity
// jump when a cursor wraps past 2^32; Aero's NET rings (512 KiB) are powers of two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/result.h"

namespace aero::devices::aipc {

inline constexpr std::uint32_t kMagic = 0x43504941;  // "AIPC" read as a little-endian u32
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kWrapMarker = 0xFFFFFFFF;
inline constexpr std::size_t kRecordAlign = 4;
inline constexpr std::size_t kLengthBytes = 4;
inline constexpr std::size_t kBufferHeaderBytes = 16;
inline constexpr std::size_t kQueueDescriptorBytes = 16;
inline constexpr std::size_t kRingHeaderBytes = 16;
// The smallest data area we attach to: one empty record and room to tell padding from a record.
inline constexpr std::uint32_t kMinCapacity = 8;

// Queue kinds of the browser runtime's I/O buffer (`ioIpcSab`).
namespace queue_kind {
inline constexpr std::uint32_t cmd = 0;
inline constexpr std::uint32_t evt = 1;
inline constexpr std::uint32_t net_tx = 2;  // emulator -> network forwarder
inline constexpr std::uint32_t net_rx = 3;  // network forwarder -> emulator
inline constexpr std::uint32_t hid_in = 4;
}  // namespace queue_kind

// NET_TX / NET_RX conventions: 512 KiB of data each, one Ethernet frame per record, producers
// drop frames larger than 2048 bytes (the L2 tunnel's default payload limit).
inline constexpr std::uint32_t kNetRingCapacity = 512 * 1024;
inline constexpr std::size_t kNetMaxFrame = 2048;

// Bytes a record with this payload occupies: length word, payload, padding to 4.
constexpr std::uint64_t record_size(std::uint64_t payload_len) {
  return (kLengthBytes + payload_len + (kRecordAlign - 1)) & ~std::uint64_t{kRecordAlign - 1};
}

// ---- Buffer layout ---------------------------------------------------------------------------

struct QueueSpec {
  std::uint32_t kind = 0;
  std::uint32_t capacity_bytes = 0;  // data area; a non-zero multiple of 4
};

struct QueueInfo {
  std::uint32_t kind = 0;
  std::uint32_t offset_bytes = 0;    // of the ring header, from the start of the buffer
  std::uint32_t capacity_bytes = 0;  // of the data area after the header
};

// Bytes a buffer with these queues needs (Aero's layout: header, descriptors, then each ring at
// the next multiple of 4), or nullopt when a capacity is invalid or the total exceeds u32.
std::optional<std::size_t> buffer_size(std::span<const QueueSpec> queues);

// Writes the header, the descriptors and empty ring headers. `buffer` must be exactly
// buffer_size(queues) bytes (Aero's readers require total_bytes == the buffer's length).
Result<void> format_buffer(std::span<std::uint8_t> buffer, std::span<const QueueSpec> queues);

// Validates the header and every descriptor (Aero's rules: magic, version, total_bytes equal to
// the buffer length, reserved 0, 4-aligned offsets and capacities, rings inside the buffer and
// past the descriptor table, ring capacity word equal to the descriptor's) and returns the
// `nth` queue of `kind`. Error kinds: too_short, bad_magic, bad_version, length_mismatch,
// bad_descriptor, not_found.
Result<QueueInfo> find_queue(ByteSpan buffer, std::uint32_t kind, std::uint32_t nth = 0);

// ---- Ring ------------------------------------------------------------------------------------

enum class PushStatus : std::uint8_t {
  ok,         // written; published too unless pending_commit() (see AipcRing::try_push)
  full,       // not enough free space now (or lost the reservation race too often): retry later
  too_large,  // the record can never fit: record_size(len) > capacity, or len >= 0xFFFFFFFF
  corrupt,    // the shared cursors are inconsistent (free space negative, stuck)
  blocked,    // this handle's previous record is still unpublished; nothing was written
};

enum class PopStatus : std::uint8_t {
  ok,         // `length` bytes copied out and the record consumed
  empty,
  too_large,  // the record's payload (`length`) exceeded the output span: skipped, not copied
  corrupt,    // a length, marker or cursor contradicts the layout; head left unchanged
};

struct PopResult {
  PopStatus status = PopStatus::empty;
  std::uint32_t length = 0;
};

// A handle on one ring in shared memory: ring header followed by the data area. The handle
// holds no lock; use one handle per producer thread (a handle remembers its own unpublished
// record) and exactly one consumer handle per ring.
class AipcRing {
 public:
  // Attaches to a ring already formatted (by us or by the peer). The capacity word must be at
  // least kMinCapacity and fit in `region` after the header; `region` must be 4-aligned.
  // The capacity is read once here and never again.
  static Result<AipcRing> attach(std::span<std::uint8_t> region);
  // Writes a fresh header {0, 0, 0, capacity} (nothing else) and attaches. Capacities that are
  // not multiples of 4 are allowed here (they exercise implicit padding); the buffer layout
  // requires multiples of 4.
  static Result<AipcRing> format(std::span<std::uint8_t> region, std::uint32_t capacity);

  // Appends one record. When other producers reserved space before us and have not published
  // yet, the commit waits for them a bounded time; if they are still not done the record stays
  // written but unpublished, try_push returns ok and pending_commit() is true: publish() (or
  // the next try_push, which first publishes) finishes the job.
  PushStatus try_push(ByteSpan payload);
  bool pending_commit() const { return pending_.has_value(); }
  // How many times a push checks whether the producers before it have committed before it
  // leaves its record pending (default kDefaultCommitSpins, yielding after the first 64). A
  // handle that knows it is the only producer (fuzzing, single-threaded embedders) may use 1.
  void set_commit_spins(std::uint32_t spins) { commit_spins_ = spins == 0 ? 1 : spins; }
  static constexpr std::uint32_t kDefaultCommitSpins = 1U << 16;
  // Publishes this handle's pending record if the producers before it have; true when nothing
  // remains pending.
  bool publish();

  // Consumes the next record into `out`. A record whose payload exceeds out.size() is skipped
  // (consumed, not copied: the capped pop), so the caller's buffer bounds what it accepts.
  PopResult try_pop(std::span<std::uint8_t> out);

  bool empty() const;
  std::uint32_t capacity() const { return capacity_; }
  // Committed bytes not yet consumed, including padding and markers (capacity if inconsistent).
  std::uint32_t used_bytes() const;
  // The largest payload a record can carry in this ring.
  std::uint32_t max_payload() const;

 private:
  struct Reservation {
    std::uint32_t start;
    std::uint32_t end;
  };
  AipcRing(std::uint8_t* header, std::uint8_t* data, std::uint32_t capacity)
      : header_(header), data_(data), capacity_(capacity) {}
  bool commit(Reservation r, std::uint32_t spin_limit);

  std::uint8_t* header_;
  std::uint8_t* data_;
  std::uint32_t capacity_;
  std::uint32_t commit_spins_ = kDefaultCommitSpins;
  std::optional<Reservation> pending_;
};

}  // namespace aero::devices::aipc
