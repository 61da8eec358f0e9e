// A small virtio-net guest driver for tests, written from the virtio 1.2 specification and
// sharing no code with the device model: PCI capability discovery, the status handshake and
// feature negotiation of §3.1.1, split (§2.7) and packed (§2.8) driver rings with direct and
// indirect chains in fake guest memory, the driver's side of notification suppression
// (flags and EVENT_IDX), and virtio-net header handling with and without MRG_RXBUF.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "aero/base/clock.h"
#include "aero/devices/virtio_net.h"
#include "e1000_checksum.h"

namespace aero::devices::vtest {

namespace vn = aero::devices::virtio_net;

inline std::uint16_t rd16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
inline std::uint32_t rd32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
inline std::uint64_t rd64(const std::uint8_t* p) { return rd32(p) | (std::uint64_t{rd32(p + 4)} << 32); }
inline void wr16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void wr32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void wr64(std::uint8_t* p, std::uint64_t v) {
  wr32(p, static_cast<std::uint32_t>(v));
  wr32(p + 4, static_cast<std::uint32_t>(v >> 32));
}
inline bool need_event(std::uint16_t event, std::uint16_t new_idx, std::uint16_t old) {
  return static_cast<std::uint16_t>(new_idx - event - 1) < static_cast<std::uint16_t>(new_idx - old);
}

struct Irq final : InterruptLine {
  bool level = false;
  int rises = 0;
  std::vector<std::uint16_t> msix;
  std::uint64_t last_address = 0;
  std::uint32_t last_data = 0;
  void set_level(bool asserted) override {
    if (asserted && !level) ++rises;
    level = asserted;
  }
  void signal_msix(std::uint16_t vector, std::uint64_t address, std::uint32_t data) override {
    msix.push_back(vector);
    last_address = address;
    last_data = data;
  }
};

struct Port final : FramePort {
  std::vector<Bytes> frames;
  bool refuse = false;
  bool transmit(ByteSpan frame) override {
    frames.emplace_back(frame.begin(), frame.end());
    return !refuse;
  }
};

struct OffloadPort final : OffloadFramePort {
  OffloadCaps caps{true, true, true, 65600};
  std::vector<std::pair<Bytes, FrameOffload>> frames;
  OffloadCaps offload_caps() const override { return caps; }
  bool transmit_offloaded(ByteSpan frame, const FrameOffload& offload) override {
    frames.emplace_back(Bytes(frame.begin(), frame.end()), offload);
    return true;
  }
};

struct RingOptions {
  bool packed = false;
  bool event_idx = false;
  bool indirect = false;
  bool legacy = false;  // split ring with the used ring at the next 4096-byte boundary
};

struct Used {
  std::uint16_t id = 0;
  std::uint32_t len = 0;
};

// The driver's side of one virtqueue. Each buffer id owns a data slot of `slot_size` bytes for
// its buffers (and its indirect table), so completed ids can be reused at once.
class DriverQueue {
 public:
  void init(VectorGuestMemory& mem, std::uint64_t ring, std::uint64_t data, std::size_t slot_size,
            std::uint16_t size, RingOptions options) {
    mem_ = &mem;
    size_ = size;
    opt_ = options;
    slot_size_ = slot_size;
    data_ = data;
    desc_ = ring;
    if (opt_.packed) {
      driver_ = desc_ + 16ULL * size;
      device_ = driver_ + 4;
    } else {
      driver_ = desc_ + 16ULL * size;
      const std::uint64_t align = opt_.legacy ? 4096 : 4;
      device_ = (driver_ + 6 + 2ULL * size + align - 1) & ~(align - 1);
    }
    std::memset(mem.bytes().data() + ring, 0, ring_bytes(size));
    free_desc_.clear();
    for (std::uint16_t i = 0; i < size; ++i) free_desc_.push_back(i);
    free_ids_.clear();
    for (std::uint16_t i = 0; i < size; ++i) free_ids_.push_back(i);
    chains_.clear();
    avail_idx_ = 0;
    last_used_ = 0;
    kicked_at_ = 0;
    next_avail_ = 0;
    avail_wrap_ = true;
    next_used_ = 0;
    used_wrap_ = true;
    num_free_ = size;
    added_since_kick_ = 0;
  }
  static std::uint64_t ring_bytes(std::uint16_t size) { return 16ULL * size + 4096 + 2ULL * size + 8 + 8ULL * size + 16; }

  std::uint64_t desc() const { return desc_; }
  std::uint64_t driver() const { return driver_; }
  std::uint64_t device() const { return device_; }
  std::uint16_t size() const { return size_; }
  std::size_t outstanding() const { return chains_.size(); }
  std::uint64_t slot(std::uint16_t id) const { return data_ + slot_size_ * id; }

  // Adds a buffer: readable bytes split into `out_pieces` descriptors, then writable buffers
  // of the given lengths. Returns the buffer id, or nullopt when the ring is full.
  std::optional<std::uint16_t> add(ByteSpan out, std::size_t out_pieces, const std::vector<std::uint32_t>& in,
                                   bool indirect) {
    std::vector<Seg> segs;
    const std::size_t pieces = out.empty() ? 0 : std::max<std::size_t>(1, std::min(out_pieces, out.size()));
    for (std::size_t i = 0; i < pieces; ++i) {
      const std::size_t begin = out.size() * i / pieces, end = out.size() * (i + 1) / pieces;
      segs.push_back({0, static_cast<std::uint32_t>(end - begin), false});
    }
    for (std::uint32_t len : in) segs.push_back({0, len, true});
    if (segs.empty()) return std::nullopt;
    const bool use_indirect = indirect && opt_.indirect;
    const std::size_t ring_descs = use_indirect ? 1 : segs.size();
    if (opt_.packed ? (num_free_ < ring_descs || free_ids_.empty()) : free_desc_.size() < ring_descs) {
      return std::nullopt;
    }
    std::uint16_t id = 0;
    if (opt_.packed) {
      id = free_ids_.front();
      free_ids_.pop_front();
    } else {
      id = free_desc_.front();  // the head descriptor names the chain
    }
    // Lay out data in the id's slot: [indirect table][buffers...].
    std::uint64_t at = slot(id) + (use_indirect ? 16ULL * segs.size() : 0);
    std::size_t copied = 0;
    for (Seg& s : segs) {
      s.addr = at;
      if (!s.write) {
        std::memcpy(mem_->bytes().data() + at, out.data() + copied, s.len);
        copied += s.len;
      } else {
        std::memset(mem_->bytes().data() + at, 0xEE, s.len);
      }
      at += s.len;
    }
    EXPECT_LE(at - slot(id), slot_size_) << "slot too small";
    Chain chain;
    chain.segs = segs;
    if (use_indirect) {
      std::uint8_t* table = mem_->bytes().data() + slot(id);
      for (std::size_t i = 0; i < segs.size(); ++i) {
        std::uint16_t flags = segs[i].write ? virtio::kDescWrite : 0;
        if (!opt_.packed && i + 1 < segs.size()) flags |= virtio::kDescNext;
        put_desc(table + 16 * i, segs[i].addr, segs[i].len, flags,
                 static_cast<std::uint16_t>(opt_.packed ? 0 : i + 1));
      }
      Seg ind{slot(id), static_cast<std::uint32_t>(16 * segs.size()), false};
      place({ind}, id, virtio::kDescIndirect, chain);
    } else {
      place(segs, id, 0, chain);
    }
    chains_[id] = chain;
    ++added_since_kick_;
    return id;
  }

  // §2.7.13.4 / §2.8.11.1: does the device want a notification for what was added?
  bool kick_needed() {
    std::uint8_t* m = mem_->bytes().data();
    bool kick = false;
    if (!opt_.packed) {
      const std::uint16_t old = kicked_at_, now = avail_idx_;
      kicked_at_ = now;
      if (old == now) return false;
      if (opt_.event_idx) {
        kick = need_event(rd16(m + device_ + 4 + 8ULL * size_), now, old);
      } else {
        kick = (rd16(m + device_) & virtio::kUsedNoNotify) == 0;
      }
    } else {
      const std::uint16_t added = added_slots_;
      added_slots_ = 0;
      if (added == 0) return false;
      const std::uint16_t off_wrap = rd16(m + device_);
      const std::uint16_t flags = rd16(m + device_ + 2) & 3U;
      if (flags != virtio::kEventFlagsDesc) {
        kick = flags != virtio::kEventFlagsDisable;
      } else {
        int event = off_wrap & 0x7FFF;
        if (((off_wrap >> 15) != 0) != avail_wrap_) event -= size_;
        const std::uint16_t now = next_avail_;
        const auto old = static_cast<std::uint16_t>(now - added);
        kick = need_event(static_cast<std::uint16_t>(event), now, old);
      }
    }
    added_since_kick_ = 0;
    return kick;
  }

  std::optional<Used> pop_used() {
    std::uint8_t* m = mem_->bytes().data();
    Used u;
    if (!opt_.packed) {
      if (rd16(m + device_ + 2) == last_used_) return std::nullopt;
      const std::uint8_t* e = m + device_ + 4 + 8ULL * (last_used_ % size_);
      u.id = static_cast<std::uint16_t>(rd32(e));
      u.len = rd32(e + 4);
      ++last_used_;
      auto it = chains_.find(u.id);
      EXPECT_NE(it, chains_.end()) << "used id " << u.id << " not outstanding";
      if (it == chains_.end()) return std::nullopt;
      for (std::uint16_t d : it->second.descs) free_desc_.push_back(d);
    } else {
      const std::uint8_t* d = m + desc_ + 16ULL * next_used_;
      const std::uint16_t flags = rd16(d + 14);
      const bool avail = (flags & virtio::kPackedDescAvail) != 0, used = (flags & virtio::kPackedDescUsed) != 0;
      if (used != used_wrap_ || avail != used_wrap_) return std::nullopt;
      u.id = rd16(d + 12);
      u.len = rd32(d + 8);
      auto it = chains_.find(u.id);
      EXPECT_NE(it, chains_.end()) << "used id " << u.id << " not outstanding";
      if (it == chains_.end()) return std::nullopt;
      const std::uint32_t n = static_cast<std::uint32_t>(it->second.descs.size());
      std::uint32_t next = next_used_ + n;
      if (next >= size_) {
        next -= size_;
        used_wrap_ = !used_wrap_;
      }
      next_used_ = static_cast<std::uint16_t>(next);
      num_free_ = static_cast<std::uint16_t>(num_free_ + n);
      free_ids_.push_back(u.id);
    }
    used_chain_ = chains_[u.id];
    chains_.erase(u.id);
    return u;
  }

  // The bytes the device wrote into the writable buffers of the buffer last returned by
  // pop_used() (the first `len` of them).
  Bytes written(std::uint32_t len) const {
    Bytes out;
    for (const Seg& s : used_chain_.segs) {
      if (!s.write || out.size() >= len) continue;
      const std::size_t n = std::min<std::size_t>(s.len, len - out.size());
      out.insert(out.end(), mem_->bytes().begin() + static_cast<std::ptrdiff_t>(s.addr),
                 mem_->bytes().begin() + static_cast<std::ptrdiff_t>(s.addr + n));
    }
    return out;
  }

  // Used-buffer notification suppression, driver side.
  void set_interrupts(bool enabled) {
    std::uint8_t* m = mem_->bytes().data();
    if (!opt_.packed) {
      if (opt_.event_idx) {
        // Ask for an interrupt at the next used element (enabled) or far away (disabled).
        wr16(m + driver_ + 4 + 2ULL * size_, enabled ? last_used_ : static_cast<std::uint16_t>(last_used_ - 1));
      } else {
        wr16(m + driver_, enabled ? 0 : virtio::kAvailNoInterrupt);
      }
    } else {
      if (opt_.event_idx && enabled) {
        wr16(m + driver_, static_cast<std::uint16_t>(next_used_ | (used_wrap_ ? 0x8000U : 0U)));
        wr16(m + driver_ + 2, virtio::kEventFlagsDesc);
      } else {
        wr16(m + driver_ + 2, enabled ? virtio::kEventFlagsEnable : virtio::kEventFlagsDisable);
      }
    }
  }
  // EVENT_IDX: interrupt only once `count` more buffers are used.
  void set_used_event_after(std::uint16_t count) {
    std::uint8_t* m = mem_->bytes().data();
    if (!opt_.packed) {
      wr16(m + driver_ + 4 + 2ULL * size_, static_cast<std::uint16_t>(last_used_ + count - 1));
    } else {
      // Position of the count-th next used descriptor, assuming one descriptor per buffer.
      std::uint32_t pos = next_used_ + count - 1U;
      bool wrap = used_wrap_;
      if (pos >= size_) {
        pos -= size_;
        wrap = !wrap;
      }
      wr16(m + driver_, static_cast<std::uint16_t>(pos | (wrap ? 0x8000U : 0U)));
      wr16(m + driver_ + 2, virtio::kEventFlagsDesc);
    }
  }

  // Raw access for hostile tests.
  std::uint8_t* raw(std::uint64_t gpa) { return mem_->bytes().data() + gpa; }
  std::uint16_t avail_idx() const { return avail_idx_; }
  void set_avail_idx(std::uint16_t idx) {
    avail_idx_ = idx;
    wr16(mem_->bytes().data() + driver_ + 2, idx);
  }
  // Split: publishes `head` in the available ring without any bookkeeping.
  void publish_raw_head(std::uint16_t head) {
    wr16(mem_->bytes().data() + driver_ + 4 + 2ULL * (avail_idx_ % size_), head);
    set_avail_idx(static_cast<std::uint16_t>(avail_idx_ + 1));
  }
  // Packed: writes a descriptor at the next position with the available flags and advances.
  void publish_raw_packed(std::uint64_t addr, std::uint32_t len, std::uint16_t id, std::uint16_t flags) {
    std::uint16_t f = flags;
    if (avail_wrap_) f |= virtio::kPackedDescAvail; else f |= virtio::kPackedDescUsed;
    put_desc(mem_->bytes().data() + desc_ + 16ULL * next_avail_, addr, len, f, id, true);
    if (++next_avail_ == size_) {
      next_avail_ = 0;
      avail_wrap_ = !avail_wrap_;
    }
    ++added_slots_;
  }
  void track_raw(std::uint16_t id, std::size_t descs) {
    Chain c;
    c.descs.assign(descs, 0);
    chains_[id] = c;
    if (opt_.packed) {
      free_ids_.erase(std::remove(free_ids_.begin(), free_ids_.end(), id), free_ids_.end());
      num_free_ = static_cast<std::uint16_t>(num_free_ - descs);
    }
  }

 private:
  struct Seg {
    std::uint64_t addr = 0;
    std::uint32_t len = 0;
    bool write = false;
  };
  struct Chain {
    std::vector<Seg> segs;
    std::vector<std::uint16_t> descs;  // split: descriptor indexes; packed: one entry per slot
  };

  void put_desc(std::uint8_t* d, std::uint64_t addr, std::uint32_t len, std::uint16_t flags, std::uint16_t next_or_id,
                bool packed_layout = false) {
    wr64(d, addr);
    wr32(d + 8, len);
    if (opt_.packed || packed_layout) {
      wr16(d + 12, next_or_id);  // id
      wr16(d + 14, flags);
    } else {
      wr16(d + 12, flags);
      wr16(d + 14, next_or_id);
    }
  }

  void place(const std::vector<Seg>& segs, std::uint16_t id, std::uint16_t extra_flags, Chain& chain) {
    std::uint8_t* m = mem_->bytes().data();
    if (!opt_.packed) {
      std::vector<std::uint16_t> idx;
      for (std::size_t i = 0; i < segs.size(); ++i) {
        idx.push_back(free_desc_.front());
        free_desc_.pop_front();
      }
      for (std::size_t i = 0; i < segs.size(); ++i) {
        std::uint16_t flags = static_cast<std::uint16_t>((segs[i].write ? virtio::kDescWrite : 0) | extra_flags);
        std::uint16_t next = 0;
        if (i + 1 < segs.size()) {
          flags |= virtio::kDescNext;
          next = idx[i + 1];
        }
        put_desc(m + desc_ + 16ULL * idx[i], segs[i].addr, segs[i].len, flags, next);
      }
      chain.descs = idx;
      wr16(m + driver_ + 4 + 2ULL * (avail_idx_ % size_), idx[0]);
      ++avail_idx_;
      wr16(m + driver_ + 2, avail_idx_);
      return;
    }
    // Packed: write every descriptor but the first, then the first's flags (§2.8.13).
    const std::uint16_t first_pos = next_avail_;
    std::uint16_t first_flags = 0;
    for (std::size_t i = 0; i < segs.size(); ++i) {
      std::uint16_t flags = static_cast<std::uint16_t>((segs[i].write ? virtio::kDescWrite : 0) | extra_flags);
      if (i + 1 < segs.size()) flags |= virtio::kDescNext;
      flags |= avail_wrap_ ? virtio::kPackedDescAvail : virtio::kPackedDescUsed;
      std::uint8_t* d = m + desc_ + 16ULL * next_avail_;
      wr64(d, segs[i].addr);
      wr32(d + 8, segs[i].len);
      wr16(d + 12, id);
      if (i == 0) {
        first_flags = flags;
      } else {
        wr16(d + 14, flags);
      }
      chain.descs.push_back(next_avail_);
      if (++next_avail_ == size_) {
        next_avail_ = 0;
        avail_wrap_ = !avail_wrap_;
      }
    }
    wr16(m + desc_ + 16ULL * first_pos + 14, first_flags);
    num_free_ = static_cast<std::uint16_t>(num_free_ - segs.size());
    added_slots_ = static_cast<std::uint16_t>(added_slots_ + segs.size());
  }

  VectorGuestMemory* mem_ = nullptr;
  std::uint16_t size_ = 0;
  RingOptions opt_{};
  std::size_t slot_size_ = 0;
  std::uint64_t data_ = 0, desc_ = 0, driver_ = 0, device_ = 0;
  std::deque<std::uint16_t> free_desc_, free_ids_;
  std::map<std::uint16_t, Chain> chains_;
  Chain used_chain_;
  // split
  std::uint16_t avail_idx_ = 0, last_used_ = 0, kicked_at_ = 0;
  // packed
  std::uint16_t next_avail_ = 0, next_used_ = 0, num_free_ = 0, added_slots_ = 0;
  bool avail_wrap_ = true, used_wrap_ = true;
  std::size_t added_since_kick_ = 0;
};

struct NetHeader {
  std::uint8_t flags = 0;
  std::uint8_t gso_type = 0;
  std::uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0, num_buffers = 0;

  Bytes encode(std::size_t length) const {
    Bytes b(length, 0);
    b[0] = flags;
    b[1] = gso_type;
    wr16(&b[2], hdr_len);
    wr16(&b[4], gso_size);
    wr16(&b[6], csum_start);
    wr16(&b[8], csum_offset);
    if (length >= 12) wr16(&b[10], num_buffers);
    return b;
  }
  static NetHeader decode(const Bytes& b, std::size_t length) {
    NetHeader h;
    h.flags = b[0];
    h.gso_type = b[1];
    h.hdr_len = rd16(&b[2]);
    h.gso_size = rd16(&b[4]);
    h.csum_start = rd16(&b[6]);
    h.csum_offset = rd16(&b[8]);
    h.num_buffers = length >= 12 ? rd16(&b[10]) : 1;
    return h;
  }
};

struct RxFrame {
  NetHeader header;
  Bytes frame;
  unsigned buffers = 0;
};

// Guest memory map used by the harness: three rings, then the data slots of each queue.
struct Layout {
  static constexpr std::uint64_t kRings = 0x10000;
  static constexpr std::uint64_t kRingStride = 0x40000;
  static constexpr std::uint64_t kData = 0x100000;
};

class NetHarness {
 public:
  explicit NetHarness(VirtioNetConfig config = {}, std::size_t memory = 8U << 20)
      : mem(memory), dev(mem, irq, port, clock, config) {}
  // A device whose frames go to `backend_port` (a pump's nic_port()) instead of `port`.
  explicit NetHarness(FramePort& backend_port, VirtioNetConfig config = {},
                      std::size_t memory = 8U << 20)
      : mem(memory), dev(mem, irq, backend_port, clock, config) {}

  VectorGuestMemory mem;
  ManualClock clock;
  Irq irq;
  Port port;
  VirtioNet dev;
  DriverQueue rxq, txq, ctrlq;
  std::uint64_t features = 0;
  std::size_t hdr = 12;
  bool use_msix = false;
  std::size_t rx_slot = 4096, tx_slot = 4096;
  std::size_t rx_buffer_size = 1526;
  std::size_t rx_pieces = 1;

  // ---- PCI ---------------------------------------------------------------------------------
  std::uint32_t cfg(std::uint32_t off, unsigned size = 4) { return dev.config_read(off, size); }
  // Walks the capability list (PCI 3.0 §6.7); returns cap offsets by virtio cfg_type, and 0x11
  // for MSI-X.
  std::map<int, std::uint8_t> capabilities() {
    std::map<int, std::uint8_t> caps;
    std::uint8_t at = static_cast<std::uint8_t>(cfg(0x34, 1));
    for (int guard = 0; at != 0 && guard < 48; ++guard) {
      const std::uint8_t id = static_cast<std::uint8_t>(cfg(at, 1));
      if (id == 0x09) caps[static_cast<int>(cfg(at + 3U, 1))] = at;
      if (id == 0x11) caps[0x11] = at;
      at = static_cast<std::uint8_t>(cfg(at + 1U, 1));
    }
    return caps;
  }
  std::uint64_t common(std::uint32_t off, unsigned size) { return dev.mmio_read(virtio::kCommonCfgOffset + off, size); }
  void common_w(std::uint32_t off, unsigned size, std::uint64_t v) { dev.mmio_write(virtio::kCommonCfgOffset + off, size, v); }
  std::uint8_t status() { return static_cast<std::uint8_t>(common(0x14, 1)); }
  void set_status(std::uint8_t s) { common_w(0x14, 1, s); }

  void enable_msix() {
    const auto caps = capabilities();
    const std::uint8_t at = caps.at(0x11);
    const std::uint16_t entries = static_cast<std::uint16_t>((cfg(at + 2U, 2) & 0x7FF) + 1);
    for (std::uint16_t v = 0; v < entries; ++v) {
      const std::uint32_t e = virtio::kMsixTableOffset + 16U * v;
      dev.mmio_write(e, 4, 0xFEE00000U);
      dev.mmio_write(e + 4, 4, 0);
      dev.mmio_write(e + 8, 4, 0x40U + v);
      dev.mmio_write(e + 12, 4, 0);  // unmask
    }
    dev.config_write(at + 2U, 2, 0x8000);
    use_msix = true;
  }

  // §3.1.1 steps 1-8. Returns false when FEATURES_OK was refused.
  bool bring_up(std::uint64_t wanted, RingOptions ring = {}, std::uint16_t queue_size = 0,
                bool msix = false) {
    dev.config_write(0x04, 2, virtio::kPciCommandMemory | virtio::kPciCommandBusMaster);
    if (msix) enable_msix();
    set_status(0);
    set_status(virtio::kStatusAcknowledge);
    set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver);
    common_w(0x00, 4, 0);
    const std::uint64_t lo = common(0x04, 4);
    common_w(0x00, 4, 1);
    const std::uint64_t offered = lo | (common(0x04, 4) << 32);
    features = wanted & offered;
    if (ring.packed) features |= virtio::kFeatureRingPacked;
    if (ring.event_idx) features |= virtio::kFeatureEventIdx;
    if (ring.indirect) features |= virtio::kFeatureIndirectDesc;
    features |= virtio::kFeatureVersion1;
    features &= offered;
    common_w(0x08, 4, 0);
    common_w(0x0C, 4, features & 0xFFFFFFFFU);
    common_w(0x08, 4, 1);
    common_w(0x0C, 4, features >> 32);
    set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    if (!(status() & virtio::kStatusFeaturesOk)) return false;
    hdr = ((features & vn::kMrgRxbuf) || !dev_short_header()) ? 12 : 10;
    const std::uint16_t queues = static_cast<std::uint16_t>(common(0x12, 2));
    DriverQueue* qs[3] = {&rxq, &txq, &ctrlq};
    const std::size_t slots[3] = {rx_slot, tx_slot, 4096};
    std::uint64_t data = Layout::kData;
    for (std::uint16_t q = 0; q < queues && q < 3; ++q) {
      if (q == 2 && !(features & vn::kCtrlVq)) break;
      common_w(0x16, 2, q);
      std::uint16_t size = static_cast<std::uint16_t>(common(0x18, 2));
      if (queue_size != 0 && queue_size < size) size = queue_size;
      common_w(0x18, 2, size);
      qs[q]->init(mem, Layout::kRings + Layout::kRingStride * q, data, slots[q], size, ring);
      data += slots[q] * size;
      EXPECT_LE(data, mem.size()) << "guest memory too small for the queues";
      common_w(0x20, 8, qs[q]->desc());
      common_w(0x28, 4, qs[q]->driver() & 0xFFFFFFFFU);  // two 32-bit halves, as some drivers do
      common_w(0x2C, 4, qs[q]->driver() >> 32);
      common_w(0x30, 8, qs[q]->device());
      if (msix) common_w(0x1A, 2, static_cast<std::uint64_t>(q + 1));
      common_w(0x1C, 2, 1);
    }
    if (msix) common_w(0x10, 2, 0);
    set_status(virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
               virtio::kStatusDriverOk);
    return (status() & virtio::kStatusDriverOk) != 0;
  }
  bool dev_short_header() const { return dev.header_length() == 10 || short_header_; }
  void set_short_header(bool v) { short_header_ = v; }

  void notify(std::uint16_t q) { dev.mmio_write(virtio::kNotifyOffset + virtio::kNotifyMultiplier * q, 2, q); }
  void kick(DriverQueue& q, std::uint16_t index) {
    if (q.kick_needed()) {
      ++kicks;
      notify(index);
    }
  }

  // ---- Transmit ----------------------------------------------------------------------------
  // Queues one frame with its header; returns false when the ring is full.
  bool queue_tx(ByteSpan frame, NetHeader h = {}, std::size_t pieces = 1, bool indirect = false) {
    Bytes buf = h.encode(hdr);
    buf.insert(buf.end(), frame.begin(), frame.end());
    return txq.add(buf, pieces, {}, indirect).has_value();
  }
  // Sends and lets the device transmit; returns the number of TX buffers completed.
  std::size_t send(ByteSpan frame, NetHeader h = {}, std::size_t pieces = 1, bool indirect = false) {
    reclaim_tx();
    EXPECT_TRUE(queue_tx(frame, h, pieces, indirect));
    kick(txq, VirtioNet::kTxQueue);
    dev.poll(1024);
    return reclaim_tx();
  }
  std::size_t reclaim_tx() {
    std::size_t n = 0;
    while (auto u = txq.pop_used()) {
      EXPECT_EQ(u->len, 0U);
      ++n;
    }
    return n;
  }

  // ---- Receive -----------------------------------------------------------------------------
  // Posts receive buffers of rx_buffer_size bytes split in rx_pieces descriptors.
  std::size_t post_rx(std::size_t count, bool indirect = false) {
    std::size_t posted = 0;
    for (; posted < count; ++posted) {
      std::vector<std::uint32_t> in;
      for (std::size_t i = 0; i < rx_pieces; ++i) {
        const std::size_t begin = rx_buffer_size * i / rx_pieces, end = rx_buffer_size * (i + 1) / rx_pieces;
        in.push_back(static_cast<std::uint32_t>(end - begin));
      }
      if (!rxq.add({}, 0, in, indirect)) break;
    }
    kick(rxq, VirtioNet::kRxQueue);
    return posted;
  }
  // Takes the next received packet (all its buffers with MRG_RXBUF).
  std::optional<RxFrame> next_rx() {
    auto u = rxq.pop_used();
    if (!u) return std::nullopt;
    Bytes first = rxq.written(u->len);
    EXPECT_GE(first.size(), hdr);
    if (first.size() < hdr) return std::nullopt;
    RxFrame f;
    f.header = NetHeader::decode(first, hdr);
    f.frame.assign(first.begin() + static_cast<std::ptrdiff_t>(hdr), first.end());
    f.buffers = 1;
    const unsigned n = (features & vn::kMrgRxbuf) ? f.header.num_buffers : 1;
    EXPECT_GE(n, 1U);
    for (unsigned i = 1; i < n; ++i) {
      auto more = rxq.pop_used();
      EXPECT_TRUE(more.has_value()) << "num_buffers " << n << " but only " << i << " used";
      if (!more) break;
      Bytes b = rxq.written(more->len);
      f.frame.insert(f.frame.end(), b.begin(), b.end());
      ++f.buffers;
    }
    return f;
  }

  // ---- Control -----------------------------------------------------------------------------
  std::optional<std::uint8_t> control(std::uint8_t cls, std::uint8_t cmd, ByteSpan data) {
    Bytes out{cls, cmd};
    out.insert(out.end(), data.begin(), data.end());
    if (!ctrlq.add(out, 2, {1}, false)) return std::nullopt;
    kick(ctrlq, VirtioNet::kCtrlQueue);
    dev.poll(0);
    auto u = ctrlq.pop_used();
    if (!u) return std::nullopt;
    Bytes ack = ctrlq.written(u->len);
    if (ack.size() != 1) return std::nullopt;
    return ack[0];
  }

  int kicks = 0;

 private:
  bool short_header_ = false;
};

// Frame builders.
inline Bytes ethernet(const std::array<std::uint8_t, 6>& dst, std::uint16_t type, std::size_t size,
                      std::uint8_t seed) {
  Bytes f(size, 0);
  for (std::size_t i = 0; i < size; ++i) f[i] = static_cast<std::uint8_t>(seed + i * 7);
  std::copy(dst.begin(), dst.end(), f.begin());
  const std::array<std::uint8_t, 6> src{0x02, 0, 0, 0, 0, 1};
  if (size >= 12) std::copy(src.begin(), src.end(), f.begin() + 6);
  if (size >= 14) {
    f[12] = static_cast<std::uint8_t>(type >> 8);
    f[13] = static_cast<std::uint8_t>(type);
  }
  return f;
}

inline const std::array<std::uint8_t, 6> kDeviceMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x57};

// An Ethernet + IPv4/IPv6 + TCP frame with `payload` bytes and correct checksums, or with the
// TCP checksum field holding the pseudo-header seed (partial), built with the independent
// checksum of e1000_checksum.h.
inline Bytes tcp_frame(bool ipv6, std::size_t payload, std::uint32_t seq, bool partial,
                       std::uint8_t tcp_flags = 0x18, std::size_t options = 0) {
  const std::size_t l3 = 14, ip = ipv6 ? 40 : 20, l4 = l3 + ip, th = 20 + options;
  Bytes f = ethernet(kDeviceMac, ipv6 ? 0x86DD : 0x0800, l4 + th + payload, 0);
  std::uint8_t* p = f.data();
  std::memset(p + l3, 0, ip + th);
  const std::size_t tcp_len = th + payload;
  if (ipv6) {
    p[l3] = 0x60;
    p[l3 + 4] = static_cast<std::uint8_t>(tcp_len >> 8);
    p[l3 + 5] = static_cast<std::uint8_t>(tcp_len);
    p[l3 + 6] = 6;
    p[l3 + 7] = 64;
    for (std::size_t i = 0; i < 16; ++i) {
      p[l3 + 8 + i] = static_cast<std::uint8_t>(0x20 + i);
      p[l3 + 24 + i] = static_cast<std::uint8_t>(0x40 + i);
    }
  } else {
    p[l3] = 0x45;
    const std::size_t total = ip + tcp_len;
    p[l3 + 2] = static_cast<std::uint8_t>(total >> 8);
    p[l3 + 3] = static_cast<std::uint8_t>(total);
    p[l3 + 4] = 0x12;
    p[l3 + 5] = 0x34;
    p[l3 + 6] = 0x40;  // DF
    p[l3 + 8] = 64;
    p[l3 + 9] = 6;
    const std::uint8_t addrs[8] = {10, 0, 2, 15, 10, 0, 2, 2};
    std::memcpy(p + l3 + 12, addrs, 8);
    const std::uint16_t c = static_cast<std::uint16_t>(~test::fold(test::raw_sum(p + l3, 20)));
    p[l3 + 10] = static_cast<std::uint8_t>(c >> 8);
    p[l3 + 11] = static_cast<std::uint8_t>(c);
  }
  std::uint8_t* t = p + l4;
  t[0] = 0x9C;
  t[1] = 0x40;  // sport 40000
  t[3] = 80;
  t[4] = static_cast<std::uint8_t>(seq >> 24);
  t[5] = static_cast<std::uint8_t>(seq >> 16);
  t[6] = static_cast<std::uint8_t>(seq >> 8);
  t[7] = static_cast<std::uint8_t>(seq);
  t[11] = 1;
  t[12] = static_cast<std::uint8_t>((th / 4) << 4);
  t[13] = tcp_flags;
  t[14] = 0xFF;
  t[15] = 0xFF;
  for (std::size_t i = 0; i < options; ++i) t[20 + i] = 1;  // NOP
  const std::uint32_t pseudo = ipv6 ? test::pseudo6(p + l3, 6, static_cast<std::uint32_t>(tcp_len))
                                    : test::pseudo4(p + l3, 6, static_cast<std::uint32_t>(tcp_len));
  std::uint16_t c = 0;
  if (partial) {
    c = test::fold(pseudo);
  } else {
    c = static_cast<std::uint16_t>(~test::fold(test::raw_sum(t, tcp_len, pseudo)));
  }
  t[16] = static_cast<std::uint8_t>(c >> 8);
  t[17] = static_cast<std::uint8_t>(c);
  return f;
}

// True when the IPv4 header checksum (if IPv4) and the TCP checksum of a frame built like
// tcp_frame() are right.
inline bool tcp_checksums_ok(const Bytes& f) {
  const bool ipv6 = f[12] == 0x86;
  const std::size_t l3 = 14, ip = ipv6 ? 40 : static_cast<std::size_t>(f[14] & 0x0F) * 4, l4 = l3 + ip;
  if (f.size() < l4 + 20) return false;
  const std::size_t tcp_len = f.size() - l4;
  if (!ipv6 && test::fold(test::raw_sum(f.data() + l3, ip)) != 0xFFFF) return false;
  const std::uint32_t pseudo = ipv6 ? test::pseudo6(f.data() + l3, 6, static_cast<std::uint32_t>(tcp_len))
                                    : test::pseudo4(f.data() + l3, 6, static_cast<std::uint32_t>(tcp_len));
  return test::fold(test::raw_sum(f.data() + l4, tcp_len, pseudo)) == 0xFFFF;
}

}  // namespace aero::devices::vtest
