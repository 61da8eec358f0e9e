// Virtqueue: setup validation, the split ring (virtio 1.2 §2.7), chain walking shared with the
// packed ring, completion and notification decisions. The packed ring's pop is in
// virtqueue_packed.cpp. See virtqueue.h for the theory of operation.
#include "aero/devices/virtqueue.h"

#include <algorithm>
#include <array>

#include "le.h"

namespace aero::devices::virtio {

namespace {

bool is_power_of_two(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

bool Virtqueue::start(GuestMemory& memory, const Setup& setup) {
  stop();
  const bool split = setup.format == Format::split;
  if (setup.size == 0 || setup.size > kMaxQueueSize || (split && !is_power_of_two(setup.size))) {
    return false;
  }
  // Alignment of each part (§2.7 table: 16/2/4 for split; §2.8.10.1: 16/4/4 for packed).
  if (setup.desc % 16 != 0 || setup.driver % (split ? 2 : 4) != 0 || setup.device % 4 != 0) {
    return false;
  }
  memory_ = &memory;
  setup_ = setup;
  if (setup_.max_indirect == 0) setup_.max_indirect = setup.size;
  if (setup_.pool == 0) setup_.pool = 2 * std::size_t{setup.size} + setup_.max_indirect;
  setup_.pool = std::max<std::size_t>(setup_.pool, std::size_t{setup.size} + setup_.max_indirect);
  pool_.assign(setup_.pool, VirtqueueBuffer{});
  indirect_table_.assign(std::size_t{setup_.max_indirect} * kDescriptorSize, 0);
  running_ = true;
  request_notification();
  return !broken_;
}

void Virtqueue::stop() {
  running_ = false;
  broken_ = false;
  next_avail_ = 0;
  avail_wrap_ = true;
  avail_shadow_ = 0;
  used_idx_ = 0;
  used_wrap_ = true;
  signalled_used_ = 0;
  signalled_valid_ = false;
  pushed_ = 0;
  pool_used_ = 0;
  last_event_written_ = 0xFFFFFFFFU;
}

bool Virtqueue::fail() {
  broken_ = true;
  return false;
}

bool Virtqueue::read16(std::uint64_t gpa, std::uint16_t& value) {
  std::array<std::uint8_t, 2> b{};
  if (!memory_->read(gpa, b)) return false;
  value = le16(b.data());
  return true;
}

bool Virtqueue::write16(std::uint64_t gpa, std::uint16_t value) {
  std::array<std::uint8_t, 2> b{};
  put_le16(b.data(), value);
  return memory_->write(gpa, b);
}

PopResult Virtqueue::pop(DescriptorChain& chain) {
  chain = DescriptorChain{};
  if (!running_ || broken_) return running_ ? PopResult::broken : PopResult::empty;
  return setup_.format == Format::split ? pop_split(chain) : pop_packed(chain);
}

void Virtqueue::rewind(const Mark& mark) {
  next_avail_ = mark.next_avail;
  avail_wrap_ = mark.avail_wrap;
  pool_used_ = mark.pool_used;
}

// Asks the driver for an available-buffer notification when it adds the next buffer
// (§2.7.10 avail_event; §2.8.10 device event suppression). Without EVENT_IDX the split ring's
// used->flags stays 0 (notify always) and the packed ring's flags stay ENABLE.
void Virtqueue::request_notification() {
  if (setup_.format == Format::split) {
    if (!setup_.event_idx || last_event_written_ == next_avail_) return;
    if (!write16(setup_.device + 4 + kElementSize * std::uint64_t{setup_.size}, next_avail_)) {
      fail();
      return;
    }
    last_event_written_ = next_avail_;
    return;
  }
  std::array<std::uint8_t, 4> event{};
  std::uint32_t value = kEventFlagsEnable;
  if (setup_.event_idx) {
    const auto off_wrap = static_cast<std::uint16_t>(next_avail_ | (avail_wrap_ ? 0x8000U : 0U));
    value = off_wrap | (std::uint32_t{kEventFlagsDesc} << 16);
  }
  if (value == last_event_written_) return;
  put_le32(event.data(), value);
  if (!memory_->write(setup_.device, event)) {
    fail();
    return;
  }
  last_event_written_ = value;
}

bool Virtqueue::has_available() {
  if (!running_ || broken_) return false;
  if (setup_.format == Format::split) {
    if (next_avail_ != avail_shadow_) return true;
    std::uint16_t idx = 0;
    return read16(setup_.driver + 2, idx) && idx != next_avail_;
  }
  std::uint16_t flags = 0;
  if (!read16(setup_.desc + kDescriptorSize * std::uint64_t{next_avail_} + 14, flags)) return false;
  return packed_available(flags, avail_wrap_);
}

PopResult Virtqueue::pop_split(DescriptorChain& chain) {
  const std::uint16_t size = setup_.size;
  if (next_avail_ == avail_shadow_) {
    std::uint16_t idx = 0;
    if (!read16(setup_.driver + 2, idx)) return break_queue();
    if (idx == next_avail_) {
      // Caught up: ask for a notification, then look again in case the driver added a
      // buffer meanwhile (the order of §2.7.10).
      request_notification();
      if (broken_) return PopResult::broken;
      if (!read16(setup_.driver + 2, idx)) return break_queue();
      if (idx == next_avail_) return PopResult::empty;
    }
    // §2.7.13.3: the driver never has more than `size` buffers outstanding.
    if (static_cast<std::uint16_t>(idx - next_avail_) > size) return break_queue();
    avail_shadow_ = idx;
  }
  std::uint16_t head = 0;
  const std::uint64_t slot = next_avail_ & (size - 1U);
  if (!read16(setup_.driver + 4 + 2 * slot, head)) return break_queue();
  if (head >= size) return break_queue();  // no id the driver could recognise
  const Mark before = mark();
  ++next_avail_;
  chain.id = head;
  chain.ring_slots = 1;
  begin_chain();
  Walk walk = Walk::ok;
  bool seen_writable = false;
  std::uint16_t index = head;
  std::array<std::uint8_t, kDescriptorSize> d{};
  for (std::uint32_t hops = 1;; ++hops) {
    if (hops > size || !memory_->read(setup_.desc + kDescriptorSize * std::uint64_t{index}, d)) {
      walk = Walk::invalid;  // a loop, or a descriptor outside guest memory
      break;
    }
    const std::uint64_t addr = le64(d.data());
    const std::uint32_t len = le32(d.data() + 8);
    const std::uint16_t flags = le16(d.data() + 12);
    const std::uint16_t next = le16(d.data() + 14);
    if (flags & kDescIndirect) {
      // §2.7.5.3.1: only with the feature, never together with NEXT; it ends the chain.
      walk = (!setup_.indirect || (flags & kDescNext)) ? Walk::invalid
                                                        : walk_indirect(addr, len, seen_writable);
      break;
    }
    walk = add_buffer(addr, len, (flags & kDescWrite) != 0, seen_writable);
    if (walk != Walk::ok || !(flags & kDescNext)) break;
    if (next >= size) {
      walk = Walk::invalid;
      break;
    }
    index = next;
  }
  return finish_chain(chain, walk, before);
}

void Virtqueue::begin_chain() {
  chain_start_ = pool_used_;
  chain_readable_ = 0;
  chain_writable_ = 0;
}

PopResult Virtqueue::finish_chain(DescriptorChain& chain, Walk walk, const Mark& before) {
  if (walk == Walk::no_room) {
    rewind(before);
    chain = DescriptorChain{};
    return PopResult::no_room;
  }
  chain.valid = walk == Walk::ok;
  if (!chain.valid) {
    pool_used_ = chain_start_;
    chain.readable = chain.writable = 0;
    chain.buffers = {};
    return PopResult::chain;
  }
  chain.readable = chain_readable_;
  chain.writable = chain_writable_;
  chain.buffers = std::span<const VirtqueueBuffer>(pool_.data() + chain_start_, pool_used_ - chain_start_);
  return PopResult::chain;
}

Virtqueue::Walk Virtqueue::add_buffer(std::uint64_t addr, std::uint32_t len, bool writable,
                                      bool& seen_writable) {
  // §2.7.4.2 / §2.8.7: device-writable buffers come after all device-readable ones.
  if (!writable && seen_writable) return Walk::invalid;
  if (len > UINT64_MAX - addr) return Walk::invalid;
  seen_writable = seen_writable || writable;
  if (len == 0) return Walk::ok;
  if (pool_used_ == pool_.size()) return Walk::no_room;
  pool_[pool_used_++] = VirtqueueBuffer{addr, len, writable};
  (writable ? chain_writable_ : chain_readable_) += len;
  return Walk::ok;
}

// An indirect table (§2.7.5.3 split: entries linked by `next`; §2.8.8 packed: entries in
// order, only WRITE meaningful). Read in one access; bounded by max_indirect entries.
Virtqueue::Walk Virtqueue::walk_indirect(std::uint64_t addr, std::uint32_t len, bool& seen_writable) {
  if (len == 0 || len % kDescriptorSize != 0 || len / kDescriptorSize > setup_.max_indirect) {
    return Walk::invalid;
  }
  const std::uint32_t count = len / static_cast<std::uint32_t>(kDescriptorSize);
  std::span<std::uint8_t> table(indirect_table_.data(), len);
  if (!memory_->read(addr, table)) return Walk::invalid;
  if (setup_.format == Format::packed) {
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::uint8_t* e = table.data() + kDescriptorSize * i;
      const Walk w = add_buffer(le64(e), le32(e + 8), (le16(e + 14) & kDescWrite) != 0, seen_writable);
      if (w != Walk::ok) return w;
    }
    return Walk::ok;
  }
  std::uint32_t index = 0;
  for (std::uint32_t hops = 1;; ++hops) {
    if (hops > count) return Walk::invalid;
    const std::uint8_t* e = table.data() + kDescriptorSize * index;
    const std::uint16_t flags = le16(e + 12);
    if (flags & kDescIndirect) return Walk::invalid;  // §2.7.5.3.1: no nested tables
    const Walk w = add_buffer(le64(e), le32(e + 8), (flags & kDescWrite) != 0, seen_writable);
    if (w != Walk::ok || !(flags & kDescNext)) return w;
    index = le16(e + 14);
    if (index >= count) return Walk::invalid;
  }
}

bool Virtqueue::push(const DescriptorChain& chain, std::uint32_t written) {
  if (!running_ || broken_) return false;
  const std::uint16_t size = setup_.size;
  if (setup_.format == Format::split) {
    // §2.7.8: used element {le32 id, le32 len} at used->ring[idx % size].
    std::array<std::uint8_t, kElementSize> e{};
    put_le32(e.data(), chain.id);
    put_le32(e.data() + 4, written);
    const std::uint64_t slot = used_idx_ & (size - 1U);
    if (!memory_->write(setup_.device + 4 + kElementSize * slot, e)) return fail();
    ++used_idx_;
  } else {
    // §2.8.4-2.8.6: a used descriptor at the device's used position carries the buffer id,
    // the written length, and AVAIL = USED = the Device Ring Wrap Counter (WRITE if written).
    const std::uint64_t at = setup_.desc + kDescriptorSize * std::uint64_t{used_idx_};
    std::uint16_t flags = used_wrap_ ? static_cast<std::uint16_t>(kPackedDescAvail | kPackedDescUsed) : 0;
    if (written > 0) flags = static_cast<std::uint16_t>(flags | kDescWrite);
    std::array<std::uint8_t, 8> e{};
    put_le32(e.data(), written);
    put_le16(e.data() + 4, chain.id);
    put_le16(e.data() + 6, flags);
    // The first descriptor of a batch is made used last (§2.8.13 multi-buffer requests).
    const bool first = pushed_ == 0;
    if (!memory_->write(at + 8, std::span<const std::uint8_t>(e.data(), first ? 6 : 8))) return fail();
    if (first) {
      batch_first_ = at + 14;
      batch_first_flags_ = flags;
    }
    const std::uint32_t slots = std::max<std::uint16_t>(chain.ring_slots, 1);
    std::uint32_t next = used_idx_ + slots;
    if (next >= size) {
      next -= size;
      used_wrap_ = !used_wrap_;
    }
    used_idx_ = static_cast<std::uint16_t>(next);
  }
  ++pushed_;
  return true;
}

bool Virtqueue::publish(bool& notify) {
  notify = false;
  if (!running_ || broken_) return false;
  if (pushed_ == 0) return true;
  pushed_ = 0;
  const std::uint16_t size = setup_.size;
  const std::uint16_t old = signalled_used_;
  const bool valid = signalled_valid_;
  signalled_used_ = used_idx_;
  signalled_valid_ = true;
  if (setup_.format == Format::split) {
    if (!write16(setup_.device + 2, used_idx_)) return fail();
    if (!setup_.event_idx) {
      std::uint16_t flags = 0;
      if (!read16(setup_.driver, flags)) return fail();
      notify = (flags & kAvailNoInterrupt) == 0;
      return true;
    }
    std::uint16_t used_event = 0;
    if (!read16(setup_.driver + 4 + 2 * std::uint64_t{size}, used_event)) return fail();
    notify = !valid || need_event(used_event, used_idx_, old);
    return true;
  }
  if (!write16(batch_first_, batch_first_flags_)) return fail();
  std::array<std::uint8_t, 4> suppress{};
  if (!memory_->read(setup_.driver, suppress)) return fail();
  const std::uint16_t off_wrap = le16(suppress.data());
  const auto flags = static_cast<std::uint16_t>(le16(suppress.data() + 2) & 3U);
  if (flags == kEventFlagsDisable) return true;
  if (flags != kEventFlagsDesc || !setup_.event_idx || !valid) {
    notify = true;  // ENABLE, or the reserved value 3 / DESC without EVENT_IDX read as ENABLE
    return true;
  }
  // The event position is in the lap of the used wrap counter it names; put the event, the
  // old and the new positions on one scale before the vring_need_event test.
  int new_pos = used_idx_;
  int old_pos = old;
  int event = off_wrap & 0x7FFF;
  if (new_pos <= old_pos) old_pos -= size;
  if (used_wrap_ != ((off_wrap >> 15) != 0)) event -= size;
  notify = need_event(static_cast<std::uint16_t>(event), static_cast<std::uint16_t>(new_pos),
                      static_cast<std::uint16_t>(old_pos));
  return true;
}

bool Virtqueue::read(const DescriptorChain& chain, std::size_t offset, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  for (const VirtqueueBuffer& b : chain.buffers) {
    if (done == out.size()) break;
    if (b.writable) break;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    const std::size_t n = std::min<std::size_t>(b.len - offset, out.size() - done);
    if (!memory_->read(b.addr + offset, out.subspan(done, n))) return false;
    done += n;
    offset = 0;
  }
  return done == out.size();
}

bool Virtqueue::write(const DescriptorChain& chain, std::size_t offset, ByteSpan data) {
  std::size_t done = 0;
  for (const VirtqueueBuffer& b : chain.buffers) {
    if (done == data.size()) break;
    if (!b.writable) continue;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    const std::size_t n = std::min<std::size_t>(b.len - offset, data.size() - done);
    if (!memory_->write(b.addr + offset, data.subspan(done, n))) return false;
    done += n;
    offset = 0;
  }
  return done == data.size();
}

}  // namespace aero::devices::virtio
