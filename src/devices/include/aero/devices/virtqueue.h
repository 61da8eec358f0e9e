// The device side of a virtqueue, split (virtio 1.2 §2.7) or packed (§2.8), reached only
// through GuestMemory. It knows no device type and no transport.
//
// Theory of operation
//  * pop() takes the next available buffer and walks its descriptor chain into a list of
//    readable then writable buffers (DescriptorChain). Walking is bounded: a chain visits at
//    most `size` ring descriptors and an indirect table at most `max_indirect` entries, so a
//    loop ends as an invalid chain. A chain that breaks a rule (address + length overflow, a
//    readable descriptor after a writable one, a nested or misused indirect descriptor, an
//    indirect table of bad length, an unreadable descriptor, `next` out of range, too long) is
//    returned with valid = false: the device completes it with length 0 and counts it.
//  * Errors that leave no way to complete anything make the queue broken (PopResult::broken,
//    push() or publish() returning false): the available index moving more than `size` ahead,
//    a split head index out of range, a packed chain with no end, ring memory that cannot be
//    read or written. The device then sets DEVICE_NEEDS_RESET (§2.1.2); the queue stays broken
//    until it is started again.
//  * push() records a used element. The element is written at once, but what the driver polls
//    (split: used->idx; packed: the flags of the first descriptor of the batch) is written by
//    publish(), so a receive spread over several buffers appears at once (§5.1.6.4.1).
//  * mark()/rewind() give back every chain popped since mark() and not pushed: the device
//    uses it to take buffers for a frame only when all of them are there (receive hold).
//  * Notifications: publish() says whether the driver wants a used-buffer notification
//    (split: VIRTQ_AVAIL_F_NO_INTERRUPT or used_event, §2.7.7/§2.7.10; packed: the driver
//    event suppression structure, §2.8.10/§2.8.14). When pop() finds the ring empty the device
//    asks for an available-buffer notification for the next buffer (avail_event with
//    EVENT_IDX, or the device event suppression structure for packed rings).
//  * Chains popped together share a pool of buffer entries sized when the queue starts; call
//    release() before popping an unrelated batch. No allocation happens after start().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/devices/device_host.h"

namespace aero::devices::virtio {

// Descriptor flags (§2.7.5, §2.8.3).
inline constexpr std::uint16_t kDescNext = 1;
inline constexpr std::uint16_t kDescWrite = 2;
inline constexpr std::uint16_t kDescIndirect = 4;
inline constexpr std::uint16_t kPackedDescAvail = 1U << 7;
inline constexpr std::uint16_t kPackedDescUsed = 1U << 15;
// Split ring suppression flags (§2.7.7, §2.7.10).
inline constexpr std::uint16_t kAvailNoInterrupt = 1;
inline constexpr std::uint16_t kUsedNoNotify = 1;
// Packed ring event suppression flags (§2.8.10).
inline constexpr std::uint16_t kEventFlagsEnable = 0;
inline constexpr std::uint16_t kEventFlagsDisable = 1;
inline constexpr std::uint16_t kEventFlagsDesc = 2;
inline constexpr std::uint32_t kMaxQueueSize = 32768;
inline constexpr std::size_t kDescriptorSize = 16;

// The vring_need_event() test (§2.7.10): has the index moved past `event` going from old to
// new_idx?
constexpr bool need_event(std::uint16_t event, std::uint16_t new_idx, std::uint16_t old) {
  return static_cast<std::uint16_t>(new_idx - event - 1) < static_cast<std::uint16_t>(new_idx - old);
}

struct VirtqueueBuffer {
  std::uint64_t addr = 0;
  std::uint32_t len = 0;
  bool writable = false;
};

// One buffer taken from the available ring: its descriptors as a list of readable buffers
// followed by writable buffers.
struct DescriptorChain {
  std::uint16_t id = 0;          // split: head descriptor index; packed: buffer id
  std::uint16_t ring_slots = 0;  // packed: ring descriptors the chain occupies
  bool valid = false;            // false: complete with length 0
  std::uint64_t readable = 0;    // total device-readable bytes
  std::uint64_t writable = 0;    // total device-writable bytes
  std::span<const VirtqueueBuffer> buffers;
};

enum class PopResult : std::uint8_t {
  empty,    // no available buffer (a notification was requested for the next one)
  chain,    // `chain` filled in; check chain.valid
  no_room,  // the buffer pool is full: release() first (nothing was taken)
  broken,   // unrecoverable ring error
};

class Virtqueue {
 public:
  enum class Format : std::uint8_t { split, packed };
  struct Setup {
    Format format = Format::split;
    std::uint16_t size = 0;
    std::uint64_t desc = 0;    // descriptor table / ring
    std::uint64_t driver = 0;  // split: available ring; packed: driver event suppression
    std::uint64_t device = 0;  // split: used ring; packed: device event suppression
    bool event_idx = false;    // VIRTIO_F_RING_EVENT_IDX negotiated
    bool indirect = false;     // VIRTIO_F_INDIRECT_DESC negotiated
    std::uint16_t max_indirect = 0;  // entries allowed in one indirect table
    std::size_t pool = 0;      // buffer entries shared by chains popped together (0: default)
  };

  // Validates the setup (size 1..32768, a power of two for split rings, part alignments of
  // §2.7 and §2.8.x) and starts from index 0. False leaves the queue stopped.
  bool start(GuestMemory& memory, const Setup& setup);
  void stop();
  bool running() const { return running_; }
  bool broken() const { return broken_; }
  const Setup& setup() const { return setup_; }

  PopResult pop(DescriptorChain& chain);
  void release() { pool_used_ = 0; }

  struct Mark {
    std::uint16_t next_avail = 0;
    bool avail_wrap = true;
    std::size_t pool_used = 0;
  };
  Mark mark() const { return {next_avail_, avail_wrap_, pool_used_}; }
  void rewind(const Mark& mark);

  // Completes a chain with `written` bytes written to its writable buffers.
  [[nodiscard]] bool push(const DescriptorChain& chain, std::uint32_t written);
  // Publishes the pushed elements; `notify` says whether the driver wants to be told.
  [[nodiscard]] bool publish(bool& notify);

  // True when the driver has made a buffer available (peeks; takes nothing).
  bool has_available();

  // Copy out of the readable part / into the writable part of a chain, from `offset` on.
  // False (possibly after copying a prefix) when a buffer lies outside guest memory or the
  // range exceeds the chain.
  [[nodiscard]] bool read(const DescriptorChain& chain, std::size_t offset, std::span<std::uint8_t> out);
  [[nodiscard]] bool write(const DescriptorChain& chain, std::size_t offset, ByteSpan data);

  // Position of the device's cursors, for tests and diagnostics.
  std::uint16_t next_avail() const { return next_avail_; }
  std::uint16_t next_used() const { return used_idx_; }

 private:
  enum class Walk : std::uint8_t { ok, invalid, no_room };
  static constexpr std::uint64_t kElementSize = 8;  // split used element

  PopResult pop_split(DescriptorChain& chain);
  PopResult pop_packed(DescriptorChain& chain);
  void begin_chain();
  PopResult finish_chain(DescriptorChain& chain, Walk walk, const Mark& before);
  Walk walk_indirect(std::uint64_t addr, std::uint32_t len, bool& seen_writable);
  Walk add_buffer(std::uint64_t addr, std::uint32_t len, bool writable, bool& seen_writable);
  void request_notification();
  bool read16(std::uint64_t gpa, std::uint16_t& value);
  bool write16(std::uint64_t gpa, std::uint16_t value);
  bool fail();
  PopResult break_queue() {
    broken_ = true;
    return PopResult::broken;
  }
  // §2.8.1: available when AVAIL matches the wrap counter and USED does not.
  static bool packed_available(std::uint16_t flags, bool wrap) {
    return ((flags & kPackedDescAvail) != 0) == wrap && ((flags & kPackedDescUsed) != 0) != wrap;
  }

  GuestMemory* memory_ = nullptr;
  Setup setup_{};
  bool running_ = false;
  bool broken_ = false;
  // Available side.
  std::uint16_t next_avail_ = 0;    // split: free-running index; packed: ring position
  bool avail_wrap_ = true;          // packed: wrap counter of the position read next (§2.8.1)
  std::uint16_t avail_shadow_ = 0;  // split: last avail->idx read
  std::uint32_t last_event_written_ = 0xFFFFFFFFU;  // avail_event / device event last written
  // Used side.
  std::uint16_t used_idx_ = 0;      // split: free-running index; packed: ring position
  bool used_wrap_ = true;
  std::uint16_t signalled_used_ = 0;
  bool signalled_valid_ = false;
  std::size_t pushed_ = 0;          // elements pushed since the last publish
  // packed: the first used descriptor of the batch, whose flags publish() writes last.
  std::uint64_t batch_first_ = 0;
  std::uint16_t batch_first_flags_ = 0;
  // Chains being walked: a pool of buffer entries, and one indirect table.
  std::vector<VirtqueueBuffer> pool_;
  std::size_t pool_used_ = 0;
  std::size_t chain_start_ = 0;
  std::uint64_t chain_readable_ = 0, chain_writable_ = 0;
  std::vector<std::uint8_t> indirect_table_;
};

}  // namespace aero::devices::virtio
