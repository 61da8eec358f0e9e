// Fuzz target for the E1000 device model: the input is a program of guest register writes
// (MMIO, I/O window, PCI config, bit-banged EEPROM instructions), guest memory writes
// (descriptors and buffers), frames from the backend, clock steps with polls, and snapshot
// round trips.
//
// Invariants checked: poll() processes at most the configured descriptor budget; a snapshot
// restores and reproduces itself; a damaged snapshot is refused or restores consistently;
// nothing crashes, reads out of bounds or loops (sanitizers and the libFuzzer timeout).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "aero/base/clock.h"
#include "aero/devices/e1000.h"
#include "fuzz_input.h"

namespace {

using namespace aero::devices;          // NOLINT
using namespace aero::devices::e1000;   // NOLINT

constexpr std::uint32_t kRegisters[] = {
    CTRL, STATUS, EECD, EERD, CTRL_EXT, MDIC, VET, ICR, ITR, ICS, IMS, IMC, RCTL, TCTL,
    RDBAL, RDBAH, RDLEN, RDH, RDT, RDTR, RADV, TDBAL, TDBAH, TDLEN, TDH, TDT, TIDV, TADV,
    RXCSUM, MTA, RAL0, RAH0, RAL0 + 8, RAH0 + 8, VFTA, GPRC, GPTC, RNBC,
    // Appended, so the selectors above keep their registers: statistics, 64-bit halves.
    GORCL, GORCH, GOTCL, GOTCH, TORL, TORH, TOTL, TOTH, TSCTC, TSCTFC, MPC};
constexpr std::size_t kRegisterCount = sizeof(kRegisters) / sizeof(kRegisters[0]);
constexpr unsigned kBudget = 64;

struct NullIrq final : InterruptLine {
  void set_level(bool) override {}
};
struct CountingPort final : FramePort {
  std::size_t frames = 0;
  bool transmit(aero::ByteSpan frame) override {
    if (frame.empty()) std::abort();
    ++frames;
    return true;
  }
};

using Input = aero::fuzz::FuzzInput;

std::uint32_t pick_register(std::uint8_t selector, Input& in) {
  if (selector < kRegisterCount) return kRegisters[selector];
  return (static_cast<std::uint32_t>(in.u16()) << 2) % kBar0Size;
}

void preconfigure(E1000& nic, VectorGuestMemory& mem) {
  nic.config_write(0x04, 2, kPciCommandMemory | kPciCommandIo | kPciCommandBusMaster);
  nic.mmio_write(TDBAL, 4, 0x10000);
  nic.mmio_write(TDLEN, 4, 256 * 16);
  nic.mmio_write(TCTL, 4, TCTL_EN | TCTL_PSP);
  nic.mmio_write(RDBAL, 4, 0x20000);
  nic.mmio_write(RDLEN, 4, 256 * 16);
  for (std::uint32_t i = 0; i < 256; ++i) {
    const std::uint64_t buffer = 0x30000 + std::uint64_t{i} * 2048;
    for (int k = 0; k < 8; ++k) {
      mem.bytes()[0x20000 + 16 * i + static_cast<std::uint32_t>(k)] =
          static_cast<std::uint8_t>(buffer >> (8 * k));
    }
  }
  nic.mmio_write(RDT, 4, 255);
  nic.mmio_write(RCTL, 4, RCTL_EN | RCTL_BAM | RCTL_UPE | RCTL_MPE | RCTL_LPE);
  nic.mmio_write(IMS, 4, 0xFFFF);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static VectorGuestMemory mem(1U << 20);
  static std::vector<std::uint8_t> frame(16500);
  std::memset(mem.bytes().data(), 0, mem.size());
  aero::ManualClock clock;
  NullIrq irq;
  CountingPort port;
  E1000Config config;
  config.tx_descriptor_budget = kBudget;
  E1000 nic(mem, irq, port, clock, config);
  Input in(data, size);
  if (in.u8() & 1U) preconfigure(nic, mem);
  int steps = 0;
  int snapshots = 0;  // each snapshot scans the whole register file: keep executions fast
  while (!in.empty() && ++steps < 4096) {
    const std::uint8_t op = in.u8();
    const unsigned arg = op >> 3;
    switch (op & 7U) {
      case 0: {
        const std::uint32_t reg = pick_register(in.u8(), in);
        nic.mmio_write(reg, (arg & 3U) == 0 ? 4 : (arg & 3U), in.u32());
        break;
      }
      case 1:
        nic.mmio_read(pick_register(in.u8(), in), 4);
        break;
      case 2: {
        const std::uint8_t off = in.u8();
        const std::uint32_t value = in.u32();
        if ((arg & 6U) == 6U) {
          // A Microwire instruction bit-banged through EECD: a start bit, then the low 26
          // bits of `value` (opcode, address, data) MSB first; CS falls afterwards when asked.
          nic.mmio_write(EECD, 4, EECD_REQ | EECD_CS);
          const std::uint64_t bits = (std::uint64_t{1} << 26) | (value & 0x03FFFFFFU);
          for (int i = 26; i >= 0; --i) {
            const std::uint32_t di = ((bits >> i) & 1U) ? EECD_DI : 0U;
            nic.mmio_write(EECD, 4, EECD_REQ | EECD_CS | di);
            nic.mmio_write(EECD, 4, EECD_REQ | EECD_CS | di | EECD_SK);
          }
          nic.mmio_write(EECD, 4, EECD_REQ | EECD_CS);
          if (arg & 8U) nic.mmio_write(EECD, 4, EECD_REQ);
          (void)nic.mmio_read(EECD, 4);
          (void)off;
          break;
        }
        if (arg & 1U) {
          nic.pio_write(off % 0x40, 4, value);
        } else {
          nic.pio_read(off % 0x40, 4);
        }
        break;
      }
      case 3: {
        const std::uint8_t off = in.u8();
        const unsigned sizes[4] = {1, 2, 4, 3};
        nic.config_write(off, sizes[in.u8() & 3U], in.u32());
        break;
      }
      case 4: {
        const std::uint64_t gpa = std::uint64_t{in.u16()} * 16;
        std::uint8_t buf[256];
        const std::size_t n = in.take(buf, in.u8());
        (void)mem.write(gpa, std::span<const std::uint8_t>(buf, n));
        break;
      }
      case 5: {
        const std::size_t len = in.u16() % frame.size();
        const std::size_t got = in.take(frame.data(), len);
        for (std::size_t i = got; i < len; ++i) frame[i] = static_cast<std::uint8_t>(i);
        if ((arg & 1U) && len >= 6) {
          const auto mac = nic.mac();
          std::memcpy(frame.data(), mac.data(), 6);
        }
        (void)nic.receive(aero::ByteSpan(frame.data(), len));
        break;
      }
      case 6: {
        clock.advance(std::chrono::microseconds(in.u16()));
        const unsigned done = nic.poll(clock.now());
        if (done > kBudget) std::abort();
        (void)nic.next_deadline();
        break;
      }
      case 7: {
        if (++snapshots > 4) break;
        const aero::Bytes snap = nic.snapshot();
        if (arg & 1U) {
          if (!nic.restore(snap).ok()) std::abort();
          if (nic.snapshot() != snap) std::abort();
        } else if (!snap.empty()) {
          aero::Bytes damaged = snap;
          damaged[in.u16() % damaged.size()] ^= static_cast<std::uint8_t>(in.u8() | 1U);
          (void)nic.restore(damaged);
        }
        break;
      }
      default:
        break;
    }
  }
  return 0;
}
