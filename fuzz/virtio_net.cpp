// Fuzz target for the virtio-net device model and its PCI transport. The input is a program:
// a configuration byte (transitional or not, MSI-X, an offload port, whether to run a driver
// bring-up first with split or packed rings, EVENT_IDX, indirect descriptors, MRG_RXBUF and
// offloads), then operations: BAR0 / legacy / configuration-space reads and writes, raw guest
// memory writes, structured descriptor postings on any queue (split or packed, direct or
// indirect, with fuzzer-chosen addresses, lengths and flags), notifications, frames from the
// backend with fuzzer-chosen offload descriptions, link changes and bounded polls.
//
// Invariants checked: poll() processes at most its budget plus one control queue's worth of
// chains; receive() accepts a frame only when it counts it; nothing crashes, reads out of
// bounds or loops (sanitizers and the libFuzzer timeout).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "aero/base/clock.h"
#include "aero/devices/virtio_net.h"
#include "fuzz_input.h"

namespace {

using namespace aero::devices;          // NOLINT
using namespace aero::devices::virtio;  // NOLINT

constexpr std::uint64_t kMemory = 1U << 20;
constexpr std::uint16_t kQueueSize = 16;
constexpr std::uint64_t kRing[3] = {0x10000, 0x20000, 0x30000};
constexpr std::uint64_t kData = 0x40000;

struct Irq final : InterruptLine {
  void set_level(bool) override {}
  void signal_msix(std::uint16_t, std::uint64_t, std::uint32_t) override {}
};
struct CountingPort final : FramePort {
  std::size_t frames = 0;
  bool transmit(aero::ByteSpan frame) override {
    if (frame.size() < 14 || frame.size() > VirtioNet::kMaxFrameLength) std::abort();
    ++frames;
    return true;
  }
};
struct Offload final : OffloadFramePort {
  OffloadCaps caps{true, true, true, 65600};
  OffloadCaps offload_caps() const override { return caps; }
  bool transmit_offloaded(aero::ByteSpan frame, const FrameOffload&) override {
    if (frame.size() > caps.max_frame) std::abort();
    return true;
  }
};

using Input = aero::fuzz::FuzzInput;

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(std::uint8_t* p, std::uint64_t v) {
  put32(p, static_cast<std::uint32_t>(v));
  put32(p + 4, static_cast<std::uint32_t>(v >> 32));
}

// The driver's cursors for the structured postings.
struct DriverRing {
  std::uint16_t avail_idx = 0;   // split
  std::uint16_t position = 0;    // packed
  bool wrap = true;
};

struct Rig {
  VectorGuestMemory& mem;
  VirtioNet& dev;
  bool packed = false;
  std::array<DriverRing, 3> rings{};

  std::uint8_t* at(std::uint64_t gpa) { return mem.bytes().data() + gpa; }

  void bring_up(std::uint64_t features, bool msix) {
    dev.config_write(0x04, 2, kPciCommandMemory | kPciCommandIo | kPciCommandBusMaster);
    if (msix) {
      for (std::uint32_t v = 0; v < 4; ++v) {
        dev.mmio_write(kMsixTableOffset + 16 * v, 8, 0xFEE00000);
        dev.mmio_write(kMsixTableOffset + 16 * v + 8, 4, v);
        dev.mmio_write(kMsixTableOffset + 16 * v + 12, 4, 0);
      }
      dev.config_write(kCapMsix + 2U, 2, 0x8000);
    }
    dev.mmio_write(0x14, 1, kStatusAcknowledge | kStatusDriver);
    dev.mmio_write(0x08, 4, 0);
    dev.mmio_write(0x0C, 4, static_cast<std::uint32_t>(features));
    dev.mmio_write(0x08, 4, 1);
    dev.mmio_write(0x0C, 4, static_cast<std::uint32_t>(features >> 32));
    dev.mmio_write(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    for (std::uint16_t q = 0; q < 3; ++q) {
      dev.mmio_write(0x16, 2, q);
      dev.mmio_write(0x18, 2, kQueueSize);
      dev.mmio_write(0x20, 8, kRing[q]);
      dev.mmio_write(0x28, 8, kRing[q] + 16 * kQueueSize);
      dev.mmio_write(0x30, 8, kRing[q] + 0x1000);
      dev.mmio_write(0x1A, 2, static_cast<std::uint64_t>(q) + 1);
      dev.mmio_write(0x1C, 2, 1);
    }
    dev.mmio_write(0x10, 2, 0);
    dev.mmio_write(0x14, 1, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }

  // Posts one buffer of 1-4 descriptors (or one indirect table) on queue q.
  void post(Input& in) {
    const std::uint8_t ctl = in.u8();
    const unsigned q = (ctl & 3U) % 3U;
    const unsigned count = 1U + ((ctl >> 2) & 3U);
    const bool indirect = (ctl & 0x10U) != 0;
    const std::uint64_t ring = kRing[q];
    DriverRing& r = rings[q];
    std::array<std::uint8_t, 64> entries{};
    for (unsigned i = 0; i < count; ++i) {
      std::uint8_t* e = entries.data() + 16 * i;
      const std::uint8_t sel = in.u8();
      const std::uint64_t addr = (sel & 0x80U) ? in.u64() : kData + std::uint64_t{in.u16()} * 16;
      const std::uint32_t len = (sel & 0x40U) ? in.u32() : in.u16();
      std::uint16_t flags = static_cast<std::uint16_t>(sel & 0x07U);
      if (!(sel & 0x08U)) {
        flags = static_cast<std::uint16_t>(flags & ~kDescNext);
        if (i + 1 < count) flags |= kDescNext;
      }
      put64(e, addr);
      put32(e + 8, len);
      if (packed) {
        put16(e + 12, static_cast<std::uint16_t>(in.u8() % kQueueSize));
        put16(e + 14, flags);
      } else {
        put16(e + 12, flags);
        put16(e + 14, static_cast<std::uint16_t>(indirect ? i + 1 : in.u8() % (kQueueSize + 2)));
      }
    }
    if (indirect) {
      const std::uint64_t table = kData + 0x10000 + 0x100 * (r.avail_idx % 64);
      std::memcpy(at(table), entries.data(), 16 * count);
      std::memset(entries.data(), 0, entries.size());
      put64(entries.data(), table);
      put32(entries.data() + 8, 16 * count);
      put16(entries.data() + (packed ? 14 : 12), kDescIndirect);
      put16(entries.data() + (packed ? 12 : 14), static_cast<std::uint16_t>(in.u8() % kQueueSize));
    }
    const unsigned ring_count = indirect ? 1 : count;
    if (packed) {
      const std::uint16_t first = r.position;
      std::uint16_t first_flags = 0;
      for (unsigned i = 0; i < ring_count; ++i) {
        std::uint8_t* d = at(ring + 16ULL * r.position);
        std::memcpy(d, entries.data() + 16 * i, 14);
        std::uint16_t flags = static_cast<std::uint16_t>(entries[16 * i + 14] | (entries[16 * i + 15] << 8));
        flags = static_cast<std::uint16_t>(flags & ~(kPackedDescAvail | kPackedDescUsed));
        flags |= r.wrap ? kPackedDescAvail : kPackedDescUsed;
        if (i == 0) {
          first_flags = flags;
        } else {
          put16(d + 14, flags);
        }
        if (++r.position == kQueueSize) {
          r.position = 0;
          r.wrap = !r.wrap;
        }
      }
      put16(at(ring + 16ULL * first + 14), first_flags);
    } else {
      const std::uint16_t head = static_cast<std::uint16_t>((r.avail_idx * 4U) % kQueueSize);
      for (unsigned i = 0; i < ring_count; ++i) {
        std::uint8_t* d = at(ring + 16ULL * ((head + i) % kQueueSize));
        std::memcpy(d, entries.data() + 16 * i, 16);
        if (!indirect && (entries[16 * i + 12] & kDescNext) && !(in.u8() & 1U)) {
          put16(d + 14, static_cast<std::uint16_t>((head + i + 1) % kQueueSize));
        }
      }
      const std::uint64_t avail = ring + 16 * kQueueSize;
      put16(at(avail + 4 + 2ULL * (r.avail_idx % kQueueSize)), head);
      ++r.avail_idx;
      put16(at(avail + 2), r.avail_idx);
    }
  }
};

constexpr std::uint32_t kOffsets[] = {0x00, 0x04, 0x08, 0x0C, 0x10, 0x12, 0x14, 0x15, 0x16, 0x18,
                                      0x1A, 0x1C, 0x1E, 0x20, 0x24, 0x28, 0x2C, 0x30, 0x34,
                                      0x1000, 0x1004, 0x1008, 0x2000, 0x3000, 0x3006, 0x300A,
                                      0x3100, 0x310C, 0x311C, 0x312C, 0x313C, 0x3140};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static VectorGuestMemory mem(kMemory);
  static std::vector<std::uint8_t> frame(VirtioNet::kMaxFrameLength + 16);
  std::memset(mem.bytes().data(), 0, mem.size());
  Input in(data, size);
  const std::uint8_t config = in.u8();
  aero::ManualClock clock;
  Irq irq;
  CountingPort port;
  Offload offload;
  VirtioNetConfig cfg;
  cfg.transitional = (config & 1U) != 0;
  cfg.msix = (config & 2U) == 0;
  cfg.queue_size = 64;
  VirtioNet dev(mem, irq, port, clock, cfg);
  if (config & 4U) dev.set_offload_port(&offload);
  Rig rig{mem, dev};
  if (config & 8U) {
    rig.packed = (config & 0x10U) != 0;
    std::uint64_t features = kFeatureVersion1 | virtio_net::kMac | virtio_net::kStatus |
                             virtio_net::kCtrlVq | virtio_net::kCtrlRx | virtio_net::kCtrlRxExtra |
                             virtio_net::kCtrlMacAddr | virtio_net::kMtu;
    if (rig.packed) features |= kFeatureRingPacked;
    if (config & 0x20U) features |= kFeatureEventIdx | kFeatureIndirectDesc;
    if (config & 0x40U) features |= virtio_net::kMrgRxbuf;
    if (config & 0x80U) {
      features |= virtio_net::kCsum | virtio_net::kHostTso4 | virtio_net::kHostTso6 |
                  virtio_net::kGuestCsum | virtio_net::kGuestTso4 | virtio_net::kGuestTso6;
    }
    rig.bring_up(features, cfg.msix);
  }
  int steps = 0;
  while (!in.empty() && ++steps < 2048) {
    const std::uint8_t op = in.u8();
    const unsigned arg = op >> 4;
    const unsigned sizes[4] = {1, 2, 4, 8};
    switch (op & 15U) {
      case 0: {
        const std::uint8_t sel = in.u8();
        constexpr std::size_t kCount = sizeof(kOffsets) / sizeof(kOffsets[0]);
        const std::uint32_t off = sel < 0x80 ? kOffsets[sel % kCount] : in.u16() % kBar0Size;
        dev.mmio_write(off, sizes[arg & 3U], in.u64());
        break;
      }
      case 1: {
        const std::uint32_t off = in.u16() % kBar0Size;
        (void)dev.mmio_read(off, sizes[arg & 3U]);
        break;
      }
      case 2: {
        const std::uint8_t off = in.u8();
        const unsigned cfg_size = sizes[arg & 3U] > 4 ? 3 : sizes[arg & 3U];
        if (arg & 4U) {
          dev.config_write(off, cfg_size, in.u32());
        } else {
          (void)dev.config_read(off, cfg_size);
        }
        break;
      }
      case 3: {
        const std::uint8_t off = in.u8();
        if (arg & 4U) {
          dev.pio_write(off, sizes[arg & 3U] > 4 ? 4 : sizes[arg & 3U], in.u32());
        } else {
          (void)dev.pio_read(off, sizes[arg & 3U] > 4 ? 4 : sizes[arg & 3U]);
        }
        break;
      }
      case 4: {
        const std::uint64_t gpa = std::uint64_t{in.u16()} * 16;
        std::uint8_t buf[256];
        const std::size_t n = in.take(buf, in.u8());
        (void)mem.write(gpa, std::span<const std::uint8_t>(buf, n));
        break;
      }
      case 5:
      case 6:
        rig.post(in);
        break;
      case 7: {
        const std::uint16_t q = static_cast<std::uint16_t>(arg % 4U);
        dev.mmio_write(kNotifyOffset + kNotifyMultiplier * q, 2, q);
        break;
      }
      case 8: {
        std::size_t len = in.u16();
        if (arg & 8U) len = len * 4 % frame.size();
        len %= frame.size();
        const std::size_t got = in.take(frame.data(), len);
        for (std::size_t i = got; i < len; ++i) frame[i] = static_cast<std::uint8_t>(i * 13);
        if ((arg & 1U) && len >= 6) {
          const auto mac = dev.mac();
          std::memcpy(frame.data(), mac.data(), 6);
        }
        FrameOffload offloaded;
        if (arg & 2U) {
          offloaded.needs_csum = true;
          offloaded.csum_start = in.u16();
          offloaded.csum_offset = in.u16();
        }
        if (arg & 4U) {
          offloaded.gso = (in.u8() & 1U) ? GsoType::tcpv6 : GsoType::tcpv4;
          offloaded.gso_size = in.u16();
        }
        offloaded.csum_valid = (in.u8() & 1U) != 0;
        const std::uint64_t before = dev.counters().rx_frames;
        const RxResult r = dev.receive(aero::ByteSpan(frame.data(), len), offloaded);
        if (r == RxResult::accepted && dev.counters().rx_frames == before) std::abort();
        if (r != RxResult::accepted && dev.counters().rx_frames != before) std::abort();
        break;
      }
      case 9: {
        const unsigned budget = in.u8() % 65U;
        const unsigned done = dev.poll(budget);
        if (done > budget + 64U) std::abort();
        (void)dev.next_deadline();
        break;
      }
      case 10:
        dev.set_link_up((arg & 1U) != 0);
        break;
      case 11:
        offload.caps.max_frame = in.u16() * 2U;
        offload.caps.csum = (arg & 1U) != 0;
        offload.caps.tso4 = (arg & 2U) != 0;
        offload.caps.tso6 = (arg & 4U) != 0;
        break;
      case 12:
        (void)dev.rx_ready();
        break;
      default:
        break;
    }
  }
  return 0;
}
