// A small E1000 guest driver for tests: fake guest memory, a manual clock, a capturing frame
// port, and the register-level steps the Linux e1000 driver performs (reset, EEPROM and PHY
// reads, ring setup, interrupt enable), plus helpers to post TX descriptors and RX buffers.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "aero/base/clock.h"
#include "aero/devices/e1000.h"

namespace aero::devices::test {

using namespace aero::devices::e1000;  // NOLINT: register names

struct CapturePort final : FramePort {
  std::vector<Bytes> frames;
  bool refuse = false;
  bool transmit(ByteSpan frame) override {
    frames.emplace_back(frame.begin(), frame.end());
    return !refuse;
  }
};

struct RecordingIrq final : InterruptLine {
  bool level = false;
  int rises = 0;
  void set_level(bool asserted) override {
    if (asserted && !level) ++rises;
    level = asserted;
  }
};

struct RxFrame {
  Bytes bytes;
  std::uint8_t status = 0;  // of the EOP descriptor
  std::uint8_t errors = 0;
  std::uint16_t special = 0;
  unsigned descriptors = 0;
};

class E1000Harness {
 public:
  static constexpr std::uint64_t kMemory = 8U << 20;
  static constexpr std::uint64_t kTxRing = 0x10000;
  static constexpr std::uint64_t kRxRing = 0x40000;
  static constexpr std::uint64_t kTxData = 0x100000;  // 3 MiB of TX buffers
  static constexpr std::uint64_t kRxData = 0x400000;  // 4 MiB of RX buffers

  VectorGuestMemory mem{kMemory};
  ManualClock clock;
  RecordingIrq irq;
  CapturePort port;
  E1000 nic{mem, irq, port, clock};

  E1000Harness() = default;
  // Transmitted frames go to `to` (a pump's port) instead of the capturing port.
  explicit E1000Harness(FramePort& to, E1000Config config = {})
      : nic{mem, irq, to, clock, config} {}

  std::uint32_t tx_count = 0, tx_tail = 0;
  std::uint32_t rx_count = 0, rx_next = 0;
  std::size_t rx_buffer = 2048;
  std::uint64_t tx_cursor = kTxData;

  std::uint32_t rd(std::uint32_t off) { return nic.mmio_read(off, 4); }
  void wr(std::uint32_t off, std::uint32_t v) { nic.mmio_write(off, 4, v); }

  std::uint16_t eerd(unsigned word) {
    wr(EERD, (word << 8) | EERD_START);
    const std::uint32_t v = rd(EERD);
    EXPECT_TRUE(v & EERD_DONE);
    return static_cast<std::uint16_t>(v >> 16);
  }
  std::uint16_t mdic_read(unsigned reg) {
    wr(MDIC, MDIC_OP_READ | (kPhyAddress << 21) | (reg << 16));
    const std::uint32_t v = rd(MDIC);
    EXPECT_TRUE(v & MDIC_READY);
    EXPECT_FALSE(v & MDIC_ERROR);
    return static_cast<std::uint16_t>(v);
  }
  void mdic_write(unsigned reg, std::uint16_t value) {
    wr(MDIC, MDIC_OP_WRITE | (kPhyAddress << 21) | (reg << 16) | value);
    EXPECT_TRUE(rd(MDIC) & MDIC_READY);
  }

  // The Linux e1000 probe/open order: bus master, reset, EEPROM checksum and MAC, PHY ID,
  // rings, receive filter, interrupts.
  void bring_up(std::uint32_t tx_descs = 256, std::uint32_t rx_descs = 256,
                std::uint32_t rctl_extra = 0) {
    nic.config_write(0x04, 2, kPciCommandMemory | kPciCommandIo | kPciCommandBusMaster);
    wr(CTRL, CTRL_RST);
    ASSERT_EQ(rd(CTRL) & CTRL_RST, 0U);
    std::uint16_t sum = 0;
    for (unsigned i = 0; i < kEepromWords; ++i) sum = static_cast<std::uint16_t>(sum + eerd(i));
    ASSERT_EQ(sum, kEepromChecksumTarget);
    ASSERT_EQ(mdic_read(PHY_ID1), kPhyId1);
    ASSERT_EQ(mdic_read(PHY_ID2) & 0xFFF0U, kPhyId2);
    wr(CTRL, rd(CTRL) | CTRL_SLU);
    setup_tx(tx_descs);
    setup_rx(rx_descs, rctl_extra);
    wr(IMS, ICR_RXT0 | ICR_TXDW | ICR_RXDMT0 | ICR_RXSEQ | ICR_LSC);
  }

  void setup_tx(std::uint32_t count) {
    tx_count = count;
    tx_tail = 0;
    wr(TDBAL, static_cast<std::uint32_t>(kTxRing));
    wr(TDBAH, 0);
    wr(TDLEN, count * 16);
    wr(TDH, 0);
    wr(TDT, 0);
    wr(TCTL, TCTL_EN | TCTL_PSP | (0x0F << 4) | (0x40 << 12));
  }

  // Posts count - 1 buffers of the size RCTL selects.
  void setup_rx(std::uint32_t count, std::uint32_t rctl_extra = 0) {
    rx_count = count;
    rx_next = 0;
    wr(RDBAL, static_cast<std::uint32_t>(kRxRing));
    wr(RDBAH, 0);
    wr(RDLEN, count * 16);
    wr(RDH, 0);
    wr(RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC | rctl_extra);
    rx_buffer = buffer_size(rctl_extra);
    for (std::uint32_t i = 0; i < count; ++i) write_rx_desc(i);
    wr(RDT, count - 1);
  }
  static std::size_t buffer_size(std::uint32_t rctl) {
    const unsigned b = (rctl >> 16) & 3U;
    if (rctl & RCTL_BSEX) return b == 1 ? 16384 : b == 2 ? 8192 : b == 3 ? 4096 : 2048;
    return b == 0 ? 2048 : b == 1 ? 1024 : b == 2 ? 512 : 256;
  }
  std::uint64_t rx_buffer_addr(std::uint32_t i) const { return kRxData + i * rx_buffer; }
  void write_rx_desc(std::uint32_t i) {
    std::uint8_t d[16] = {};
    const std::uint64_t a = rx_buffer_addr(i);
    for (int k = 0; k < 8; ++k) d[k] = static_cast<std::uint8_t>(a >> (8 * k));
    std::memcpy(mem.bytes().data() + kRxRing + 16 * i, d, 16);
  }
  std::uint8_t* rx_desc(std::uint32_t i) { return mem.bytes().data() + kRxRing + 16 * i; }

  // Collects the next completed frame (descriptors with DD up to EOP), recycling them.
  std::optional<RxFrame> next_rx() {
    RxFrame f;
    std::uint32_t i = rx_next;
    for (;;) {
      std::uint8_t* d = rx_desc(i);
      if (!(d[12] & RXD_STA_DD)) return std::nullopt;
      const std::size_t len = static_cast<std::size_t>(d[8] | (d[9] << 8));
      const std::uint8_t* b = mem.bytes().data() + rx_buffer_addr(i);
      f.bytes.insert(f.bytes.end(), b, b + len);
      ++f.descriptors;
      const bool eop = (d[12] & RXD_STA_EOP) != 0;
      if (eop) {
        f.status = d[12];
        f.errors = d[13];
        f.special = static_cast<std::uint16_t>(d[14] | (d[15] << 8));
      }
      i = (i + 1) % rx_count;
      if (eop) break;
    }
    // Give the buffers back, as the driver does after processing.
    for (std::uint32_t k = rx_next; k != i; k = (k + 1) % rx_count) {
      std::memset(rx_desc(k) + 8, 0, 8);
    }
    rx_next = i;
    wr(RDT, (i + rx_count - 1) % rx_count);
    return f;
  }

  // ---- TX descriptors ----
  std::uint64_t stage(ByteSpan data) {
    if (tx_cursor + data.size() > kRxData) tx_cursor = kTxData;
    const std::uint64_t at = tx_cursor;
    std::memcpy(mem.bytes().data() + at, data.data(), data.size());
    tx_cursor += (data.size() + 15) & ~std::size_t{15};
    return at;
  }
  std::uint8_t* tx_desc(std::uint32_t i) { return mem.bytes().data() + kTxRing + 16 * i; }
  void put_desc(const std::uint8_t (&d)[16]) {
    std::memcpy(tx_desc(tx_tail), d, 16);
    tx_tail = (tx_tail + 1) % tx_count;
  }
  static void put64(std::uint8_t* p, std::uint64_t v) {
    for (int k = 0; k < 8; ++k) p[k] = static_cast<std::uint8_t>(v >> (8 * k));
  }
  void legacy(std::uint64_t addr, std::uint16_t len, std::uint8_t cmd, std::uint8_t cso = 0,
              std::uint8_t css = 0, std::uint16_t special = 0) {
    std::uint8_t d[16] = {};
    put64(d, addr);
    d[8] = static_cast<std::uint8_t>(len);
    d[9] = static_cast<std::uint8_t>(len >> 8);
    d[10] = cso;
    d[11] = cmd;
    d[13] = css;
    d[14] = static_cast<std::uint8_t>(special);
    d[15] = static_cast<std::uint8_t>(special >> 8);
    put_desc(d);
  }
  struct Context {
    std::uint8_t ipcss = 0, ipcso = 0, tucss = 0, tucso = 0, tucmd = 0, hdrlen = 0;
    std::uint16_t ipcse = 0, tucse = 0, mss = 0;
    std::uint32_t paylen = 0;
  };
  void context(const Context& c) {
    std::uint8_t d[16] = {};
    d[0] = c.ipcss;
    d[1] = c.ipcso;
    d[2] = static_cast<std::uint8_t>(c.ipcse);
    d[3] = static_cast<std::uint8_t>(c.ipcse >> 8);
    d[4] = c.tucss;
    d[5] = c.tucso;
    d[6] = static_cast<std::uint8_t>(c.tucse);
    d[7] = static_cast<std::uint8_t>(c.tucse >> 8);
    d[8] = static_cast<std::uint8_t>(c.paylen);
    d[9] = static_cast<std::uint8_t>(c.paylen >> 8);
    d[10] = static_cast<std::uint8_t>((c.paylen >> 16) & 0x0F);  // DTYP 0: context
    d[11] = static_cast<std::uint8_t>(c.tucmd | TXD_CMD_DEXT);
    d[13] = c.hdrlen;
    d[14] = static_cast<std::uint8_t>(c.mss);
    d[15] = static_cast<std::uint8_t>(c.mss >> 8);
    put_desc(d);
  }
  void data(std::uint64_t addr, std::uint32_t len, std::uint8_t dcmd, std::uint8_t popts,
            std::uint16_t special = 0) {
    std::uint8_t d[16] = {};
    put64(d, addr);
    d[8] = static_cast<std::uint8_t>(len);
    d[9] = static_cast<std::uint8_t>(len >> 8);
    d[10] = static_cast<std::uint8_t>(((len >> 16) & 0x0F) | (TXD_DTYP_DATA << 4));
    d[11] = static_cast<std::uint8_t>(dcmd | TXD_CMD_DEXT);
    d[13] = popts;
    d[14] = static_cast<std::uint8_t>(special);
    d[15] = static_cast<std::uint8_t>(special >> 8);
    put_desc(d);
  }
  // Sends a frame through legacy descriptors of at most `chunk` bytes each.
  void send_legacy(ByteSpan frame, std::size_t chunk = 4096, std::uint8_t extra_cmd = 0,
                   std::uint16_t special = 0) {
    const std::uint64_t at = stage(frame);
    for (std::size_t off = 0; off < frame.size(); off += chunk) {
      const std::size_t n = std::min(chunk, frame.size() - off);
      const bool last = off + n == frame.size();
      legacy(at + off, static_cast<std::uint16_t>(n),
             static_cast<std::uint8_t>(extra_cmd | (last ? TXD_CMD_EOP | TXD_CMD_RS : 0)), 0, 0,
             special);
    }
    kick();
  }
  void kick() {
    wr(TDT, tx_tail);
    for (int i = 0; i < 1000 && nic.poll(clock.now()) > 0; ++i) {
    }
  }
};

// Bit-banged Microwire access to the EEPROM through EECD, in the order the Linux e1000 driver
// uses for the 82540 (3-bit opcodes including the start bit, 6 address bits).
struct MicrowireBus {
  E1000Harness& h;
  std::uint32_t eecd = 0;

  void select() {
    eecd = h.rd(EECD) | EECD_REQ;
    h.wr(EECD, eecd);
    eecd = (eecd & ~(EECD_DI | EECD_SK)) | EECD_CS;
    h.wr(EECD, eecd);
  }
  void shift_out(std::uint32_t data, int count) {
    for (int i = count - 1; i >= 0; --i) {
      eecd = (data >> i) & 1U ? (eecd | EECD_DI) : (eecd & ~EECD_DI);
      h.wr(EECD, eecd);
      h.wr(EECD, eecd | EECD_SK);
      h.wr(EECD, eecd);
    }
    eecd &= ~EECD_DI;
    h.wr(EECD, eecd);
  }
  // CS low for a clock, then high again: executes a programming instruction.
  void standby() {
    eecd &= ~(EECD_CS | EECD_SK);
    h.wr(EECD, eecd);
    eecd |= EECD_SK;
    h.wr(EECD, eecd);
    eecd |= EECD_CS;
    h.wr(EECD, eecd);
    eecd &= ~EECD_SK;
    h.wr(EECD, eecd);
  }
  bool wait_ready() {
    for (int i = 0; i < 200; ++i) {
      if (h.rd(EECD) & EECD_DO) return true;
    }
    return false;
  }
  void release() {
    eecd &= ~(EECD_CS | EECD_DI | EECD_SK);
    h.wr(EECD, eecd);
    eecd &= ~EECD_REQ;
    h.wr(EECD, eecd);
  }
  void ewen() {  // start + 00 + 11xxxx
    shift_out(0x13, 5);
    shift_out(0, 4);
    standby();
  }
  void ewds() {  // start + 00 + 00xxxx
    shift_out(0x10, 5);
    shift_out(0, 4);
  }
  // WRITE: returns whether the part signalled completion on DO.
  bool write(unsigned word, std::uint16_t value) {
    shift_out(0x5, 3);
    shift_out(word, 6);
    shift_out(value, 16);
    standby();
    const bool ready = wait_ready();
    standby();
    return ready;
  }
  std::uint16_t read(unsigned word) {
    shift_out(0x6, 3);
    shift_out(word, 6);
    std::uint16_t data = 0;
    for (int i = 0; i < 16; ++i) {
      data = static_cast<std::uint16_t>(data << 1);
      h.wr(EECD, eecd | EECD_SK);
      if (h.rd(EECD) & EECD_DO) data |= 1;
      h.wr(EECD, eecd);
    }
    standby();
    return data;
  }
};

// Frame builders.
inline Bytes ethernet(const std::array<std::uint8_t, 6>& dst, std::uint16_t type,
                      std::size_t total, std::uint8_t seed = 1) {
  Bytes f(total, 0);
  std::memcpy(f.data(), dst.data(), 6);
  const std::uint8_t src[6] = {0x02, 0, 0, 0, 0, 1};
  std::memcpy(f.data() + 6, src, 6);
  if (total >= 14) {
    f[12] = static_cast<std::uint8_t>(type >> 8);
    f[13] = static_cast<std::uint8_t>(type);
  }
  for (std::size_t i = 14; i < total; ++i) f[i] = static_cast<std::uint8_t>(seed + i * 7);
  return f;
}

}  // namespace aero::devices::test
