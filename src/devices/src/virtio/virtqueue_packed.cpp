// Packed virtqueue: taking an available buffer (virtio 1.2 §2.8).
//
// The device reads descriptors in ring order from its position, with its wrap counter
// (initially 1, flipped after the last descriptor of the ring). A descriptor is available when
// its AVAIL flag equals the wrap counter and its USED flag does not (§2.8.1). A buffer is the
// run of descriptors up to the first one without NEXT; its Buffer ID is in that last
// descriptor (§2.8.6). Every descriptor of the run must be available: the driver exposes the
// first one last (§2.8.13.1), so anything else, or a run longer than the ring, leaves no way
// to know where the next buffer starts and breaks the queue. Rule violations inside a
// well-delimited run (an indirect descriptor in a list, an indirect table without the
// feature, bad table length, readable after writable) make the buffer invalid, completed
// with length 0.
#include <array>

#include "aero/devices/virtqueue.h"
#include "le.h"

namespace aero::devices::virtio {

PopResult Virtqueue::pop_packed(DescriptorChain& chain) {
  const std::uint16_t size = setup_.size;
  std::array<std::uint8_t, kDescriptorSize> d{};
  std::uint32_t pos = next_avail_;
  bool wrap = avail_wrap_;
  if (!memory_->read(setup_.desc + kDescriptorSize * pos, d)) return break_queue();
  if (!packed_available(le16(d.data() + 14), wrap)) {
    request_notification();
    if (broken_) return PopResult::broken;
    if (!memory_->read(setup_.desc + kDescriptorSize * pos, d)) return break_queue();
    if (!packed_available(le16(d.data() + 14), wrap)) return PopResult::empty;
  }
  const Mark before = mark();
  begin_chain();
  Walk walk = Walk::ok;
  bool seen_writable = false;
  std::uint32_t count = 0;
  for (;;) {
    ++count;
    if (count > 1) {
      if (!memory_->read(setup_.desc + kDescriptorSize * pos, d)) return break_queue();
      if (!packed_available(le16(d.data() + 14), wrap)) return break_queue();
    }
    const std::uint64_t addr = le64(d.data());
    const std::uint32_t len = le32(d.data() + 8);
    const std::uint16_t flags = le16(d.data() + 14);
    if (walk == Walk::ok) {
      if (flags & kDescIndirect) {
        // §2.8.8: only with the feature, and only as the single descriptor of a buffer.
        walk = (!setup_.indirect || count > 1 || (flags & kDescNext))
                   ? Walk::invalid
                   : walk_indirect(addr, len, seen_writable);
      } else {
        walk = add_buffer(addr, len, (flags & kDescWrite) != 0, seen_writable);
      }
      if (walk == Walk::no_room) return finish_chain(chain, walk, before);
    }
    if (++pos == size) {
      pos = 0;
      wrap = !wrap;
    }
    if (!(flags & kDescNext)) {
      chain.id = le16(d.data() + 12);
      break;
    }
    if (count == size) return break_queue();  // a list with no end
  }
  next_avail_ = static_cast<std::uint16_t>(pos);
  avail_wrap_ = wrap;
  chain.ring_slots = static_cast<std::uint16_t>(count);
  return finish_chain(chain, walk, before);
}

}  // namespace aero::devices::virtio
