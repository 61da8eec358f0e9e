// E1000 C API: create with callbacks, bring up through config/MMIO, transmit, receive, poll,
// snapshot/restore.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "aero/devices/e1000_c.h"
#include "aero/devices/e1000_regs.h"
#include "devices/c_api_guest_memory.h"

namespace {

using namespace aero::devices::e1000;  // NOLINT

struct Host {
  std::vector<std::uint8_t> mem = std::vector<std::uint8_t>(1U << 20, 0);
  std::vector<std::vector<std::uint8_t>> tx;
  int irq = 0;
  std::uint64_t now = 1000;
};

constexpr auto mem_read = aero::test::c_guest_read<Host>;
constexpr auto mem_write = aero::test::c_guest_write<Host>;
void set_irq(void* u, int level) { static_cast<Host*>(u)->irq = level; }
int transmit(void* u, const uint8_t* frame, size_t len) {
  static_cast<Host*>(u)->tx.emplace_back(frame, frame + len);
  return 1;
}
uint64_t now_ns(void* u) { return static_cast<Host*>(u)->now; }

TEST(E1000CApi, EndToEnd) {
  Host host;
  const aero_e1000_host cb{&host, mem_read, mem_write, set_irq, transmit, now_ns};
  const aero_e1000_host missing{&host, mem_read, nullptr, set_irq, transmit, now_ns};
  EXPECT_EQ(aero_e1000_create(&missing, nullptr), nullptr);
  const std::uint8_t mac[6] = {0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE};
  aero_e1000* nic = aero_e1000_create(&cb, mac);
  ASSERT_NE(nic, nullptr);
  EXPECT_EQ(aero_e1000_config_read(nic, 0, 4), 0x100E8086U);
  aero_e1000_config_write(nic, 0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  EXPECT_EQ(aero_e1000_mmio_read(nic, RAL0, 4), 0xCCBBAA02U);
  aero_e1000_mmio_write(nic, TDBAL, 4, 0x1000);
  aero_e1000_mmio_write(nic, TDLEN, 4, 8 * 16);
  aero_e1000_mmio_write(nic, TCTL, 4, TCTL_EN);
  aero_e1000_mmio_write(nic, IMS, 4, ICR_TXDW | ICR_RXT0);
  // One legacy descriptor with a 64-byte frame at 0x8000.
  std::uint8_t* d = host.mem.data() + 0x1000;
  d[1] = 0x80;
  d[8] = 64;
  d[11] = TXD_CMD_EOP | TXD_CMD_RS;
  aero_e1000_mmio_write(nic, TDT, 4, 1);
  EXPECT_EQ(aero_e1000_next_deadline_ns(nic), 1000U);
  EXPECT_EQ(aero_e1000_poll(nic), 1U);
  ASSERT_EQ(host.tx.size(), 1U);
  EXPECT_EQ(host.irq, 1);
  EXPECT_EQ(aero_e1000_mmio_read(nic, ICR, 4) & ICR_TXDW, ICR_TXDW);
  EXPECT_EQ(host.irq, 0);
  EXPECT_EQ(aero_e1000_next_deadline_ns(nic), AERO_E1000_NO_DEADLINE);

  std::uint8_t frame[60] = {0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE};
  EXPECT_EQ(aero_e1000_receive(nic, frame, sizeof frame), AERO_E1000_RX_DROPPED);  // RX off
  aero_e1000_mmio_write(nic, RDBAL, 4, 0x2000);
  aero_e1000_mmio_write(nic, RDLEN, 4, 8 * 16);
  host.mem[0x2000 + 2] = 0x01;  // buffer at 0x10000
  aero_e1000_mmio_write(nic, RDT, 4, 1);
  aero_e1000_mmio_write(nic, RCTL, 4, RCTL_EN | RCTL_SECRC);
  EXPECT_EQ(aero_e1000_receive(nic, frame, sizeof frame), AERO_E1000_RX_ACCEPTED);
  EXPECT_EQ(aero_e1000_receive(nic, frame, sizeof frame), AERO_E1000_RX_HOLD);
  EXPECT_EQ(host.irq, 1);

  const std::size_t need = aero_e1000_snapshot(nic, nullptr, 0);
  std::vector<std::uint8_t> snap(need);
  EXPECT_EQ(aero_e1000_snapshot(nic, snap.data(), snap.size()), need);
  EXPECT_EQ(aero_e1000_restore(nic, snap.data(), snap.size()), 1);
  snap[20] ^= 1;
  EXPECT_EQ(aero_e1000_restore(nic, snap.data(), snap.size()), 0);
  aero_e1000_set_link(nic, 0);
  EXPECT_EQ(aero_e1000_mmio_read(nic, STATUS, 4) & STATUS_LU, 0U);
  aero_e1000_destroy(nic);
}

}  // namespace
