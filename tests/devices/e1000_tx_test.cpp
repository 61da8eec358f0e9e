// E1000 transmit: frame sizes, VLAN insertion, padding, checksum offloads, TSO for IPv4 and
// IPv6 (segments verified with an independent checksum), and hostile ring parameters.
#include <gtest/gtest.h>

#include "e1000_checksum.h"
#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

const std::array<std::uint8_t, 6> kPeer{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

TEST(E1000Tx, LegacyFramesOfManySizes) {
  E1000Harness h;
  h.bring_up();
  for (std::size_t size : std::initializer_list<std::size_t>{14, 15, 59, 60, 61, 64, 1514, 1518, 4000, 9018, 16128}) {
    h.port.frames.clear();
    const Bytes f = ethernet(kPeer, 0x0800, size, static_cast<std::uint8_t>(size));
    h.send_legacy(f, 1000);
    ASSERT_EQ(h.port.frames.size(), 1U) << size;
    const Bytes& out = h.port.frames[0];
    ASSERT_EQ(out.size(), std::max<std::size_t>(size, 60)) << size;
    EXPECT_TRUE(std::equal(f.begin(), f.end(), out.begin())) << size;
    for (std::size_t i = size; i < out.size(); ++i) EXPECT_EQ(out[i], 0);
    EXPECT_EQ(h.rd(TDH), h.tx_tail);
    EXPECT_TRUE(h.tx_desc((h.tx_tail + h.tx_count - 1) % h.tx_count)[12] & TXD_STA_DD);
  }
  EXPECT_EQ(h.nic.counters().tx_frames, 11U);
}

// Every size the acceptance asks for, 14 to 16128 bytes, each way, over 2 KiB descriptors.
TEST(E1000Tx, EveryFrameSizeFrom14To16128) {
  E1000Harness h;
  h.bring_up(64, 64);
  for (std::size_t size = 14; size <= 16128; ++size) {
    h.port.frames.clear();
    const Bytes f = ethernet(kPeer, 0x0800, size, static_cast<std::uint8_t>(size * 7));
    h.send_legacy(f, 2048);
    ASSERT_EQ(h.port.frames.size(), 1U) << size;
    ASSERT_EQ(h.port.frames[0].size(), std::max<std::size_t>(size, 60)) << size;
    ASSERT_TRUE(std::equal(f.begin(), f.end(), h.port.frames[0].begin())) << size;
  }
  EXPECT_EQ(h.nic.counters().tx_frames, 16128U - 14U + 1U);
}

TEST(E1000Tx, OversizeFrameDroppedAndCounted) {
  E1000Harness h;
  h.bring_up();
  h.send_legacy(ethernet(kPeer, 0x0800, 20000), 4000);
  EXPECT_TRUE(h.port.frames.empty());
  EXPECT_EQ(h.nic.counters().tx_oversize, 1U);
  EXPECT_EQ(h.rd(TDH), h.tx_tail);
}

TEST(E1000Tx, VlanInsertion) {
  E1000Harness h;
  h.bring_up();
  h.wr(CTRL, h.rd(CTRL) | CTRL_VME);
  const Bytes f = ethernet(kPeer, 0x0800, 100);
  h.send_legacy(f, 4096, TXD_CMD_VLE, 0x2005);
  ASSERT_EQ(h.port.frames.size(), 1U);
  const Bytes& out = h.port.frames[0];
  ASSERT_EQ(out.size(), 104U);
  EXPECT_EQ(out[12], 0x81);
  EXPECT_EQ(out[13], 0x00);
  EXPECT_EQ(out[14], 0x20);
  EXPECT_EQ(out[15], 0x05);
  EXPECT_TRUE(std::equal(f.begin() + 12, f.end(), out.begin() + 16));
}

Bytes ipv4_frame(std::uint8_t proto, std::size_t payload, std::size_t l4_header) {
  const std::size_t ip_len = 20 + l4_header + payload;
  Bytes f = ethernet(kPeer, 0x0800, 14 + ip_len);
  std::uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 20 + l4_header);
  ip[0] = 0x45;
  ip[2] = static_cast<std::uint8_t>(ip_len >> 8);
  ip[3] = static_cast<std::uint8_t>(ip_len);
  ip[4] = 0x12;
  ip[5] = 0x34;
  ip[8] = 64;
  ip[9] = proto;
  const std::uint8_t addrs[8] = {10, 0, 2, 15, 93, 184, 216, 34};
  std::memcpy(ip + 12, addrs, 8);
  std::uint8_t* l4 = ip + 20;
  l4[0] = 0xC0;
  l4[1] = 0x01;
  l4[2] = 0x00;
  l4[3] = 0x50;
  if (proto == 6) {
    l4[4] = 0x11;  // sequence number 0x11223344
    l4[5] = 0x22;
    l4[6] = 0x33;
    l4[7] = 0x44;
    l4[12] = 0x50;
    l4[13] = 0x19;  // FIN | PSH | ACK
    l4[14] = 0xFF;
  } else {
    l4[4] = static_cast<std::uint8_t>((8 + payload) >> 8);
    l4[5] = static_cast<std::uint8_t>(8 + payload);
  }
  return f;
}

void expect_ipv4_l4_valid(const Bytes& f) {
  const std::uint8_t* ip = f.data() + 14;
  EXPECT_EQ(fold(raw_sum(ip, 20)), 0xFFFF);
  const std::size_t ip_len = static_cast<std::size_t>((ip[2] << 8) | ip[3]);
  ASSERT_EQ(ip_len + 14, f.size());
  const std::size_t l4_len = ip_len - 20;
  EXPECT_EQ(fold(pseudo4(ip, ip[9], static_cast<std::uint32_t>(l4_len)) + raw_sum(ip + 20, l4_len)),
            0xFFFF);
}

TEST(E1000Tx, LegacyInsertChecksum) {
  E1000Harness h;
  h.bring_up();
  Bytes f = ipv4_frame(6, 300, 20);
  std::uint8_t* ip = f.data() + 14;
  const std::uint16_t hsum = fold(raw_sum(ip, 20));
  ip[10] = static_cast<std::uint8_t>(~hsum >> 8);
  ip[11] = static_cast<std::uint8_t>(~hsum);
  const std::uint16_t seed = fold(pseudo4(ip, 6, 320));  // the stack seeds the pseudo-header
  f[34 + 16] = static_cast<std::uint8_t>(seed >> 8);
  f[34 + 17] = static_cast<std::uint8_t>(seed);
  const std::uint64_t at = h.stage(f);
  h.legacy(at, static_cast<std::uint16_t>(f.size()), TXD_CMD_EOP | TXD_CMD_RS | TXD_CMD_IC, 50,
           34);
  h.kick();
  ASSERT_EQ(h.port.frames.size(), 1U);
  expect_ipv4_l4_valid(h.port.frames[0]);
}

TEST(E1000Tx, ContextChecksumOffloadUdp) {
  E1000Harness h;
  h.bring_up();
  Bytes f = ipv4_frame(17, 555, 8);
  std::uint8_t* ip = f.data() + 14;
  const std::uint16_t seed = fold(pseudo4(ip, 17, 563));
  f[40] = static_cast<std::uint8_t>(seed >> 8);
  f[41] = static_cast<std::uint8_t>(seed);
  h.context({.ipcss = 14, .ipcso = 24, .tucss = 34, .tucso = 40, .tucmd = TXD_TUCMD_IP,
             .ipcse = 33, .tucse = 0});
  const std::uint64_t at = h.stage(f);
  h.data(at, 100, 0, TXD_POPTS_IXSM | TXD_POPTS_TXSM);
  h.data(at + 100, static_cast<std::uint32_t>(f.size() - 100), TXD_CMD_EOP | TXD_CMD_RS, 0);
  h.kick();
  ASSERT_EQ(h.port.frames.size(), 1U);
  expect_ipv4_l4_valid(h.port.frames[0]);
}

// A 64 KiB TCP send as Linux e1000_tso() prepares it: IPv4 total length and checksum 0, TCP
// checksum seeded with the pseudo-header sum without length.
TEST(E1000Tx, Tso64KiBIpv4) {
  E1000Harness h;
  h.bring_up();
  const std::size_t payload = 65536;
  const std::uint16_t mss = 1448;
  Bytes f = ipv4_frame(6, payload, 20);
  std::uint8_t* ip = f.data() + 14;
  ip[2] = ip[3] = 0;
  const std::uint16_t seed = fold(pseudo4(ip, 6, 0));
  f[50] = static_cast<std::uint8_t>(seed >> 8);
  f[51] = static_cast<std::uint8_t>(seed);
  h.context({.ipcss = 14, .ipcso = 24, .tucss = 34, .tucso = 50,
             .tucmd = TXD_TUCMD_IP | TXD_TUCMD_TCP | TXD_CMD_TSE, .hdrlen = 54, .ipcse = 33,
             .tucse = 0, .mss = mss, .paylen = payload});
  const std::uint64_t at = h.stage(f);
  const std::uint8_t popts = TXD_POPTS_IXSM | TXD_POPTS_TXSM;
  h.data(at, 54, TXD_CMD_TSE, popts);
  for (std::size_t off = 54; off < f.size(); off += 8192) {
    const std::size_t n = std::min<std::size_t>(8192, f.size() - off);
    const bool last = off + n == f.size();
    h.data(at + off, static_cast<std::uint32_t>(n),
           static_cast<std::uint8_t>(TXD_CMD_TSE | (last ? TXD_CMD_EOP | TXD_CMD_RS : 0)), popts);
  }
  h.kick();
  const std::size_t segments = (payload + mss - 1) / mss;
  ASSERT_EQ(h.port.frames.size(), segments);
  Bytes joined;
  for (std::size_t i = 0; i < segments; ++i) {
    const Bytes& s = h.port.frames[i];
    SCOPED_TRACE(i);
    expect_ipv4_l4_valid(s);
    const std::uint8_t* sip = s.data() + 14;
    EXPECT_EQ((sip[4] << 8) | sip[5], 0x1234 + static_cast<int>(i));
    const std::uint8_t* tcp = sip + 20;
    const std::uint32_t seq = (std::uint32_t{tcp[4]} << 24) | (std::uint32_t{tcp[5]} << 16) |
                              (std::uint32_t{tcp[6]} << 8) | tcp[7];
    EXPECT_EQ(seq, 0x11223344U + i * mss);
    EXPECT_EQ(tcp[13], i + 1 == segments ? 0x19 : 0x10);
    joined.insert(joined.end(), s.begin() + 54, s.end());
  }
  EXPECT_TRUE(std::equal(joined.begin(), joined.end(), f.begin() + 54, f.end()));
  EXPECT_EQ(h.nic.counters().tx_tso_segments, segments);
}

TEST(E1000Tx, TsoIpv6) {
  E1000Harness h;
  h.bring_up();
  const std::size_t payload = 20000;
  const std::uint16_t mss = 1440;
  Bytes f = ethernet(kPeer, 0x86DD, 14 + 40 + 20 + payload);
  std::uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 60);
  ip[0] = 0x60;
  ip[6] = 6;
  ip[7] = 64;
  for (int i = 0; i < 32; ++i) ip[8 + i] = static_cast<std::uint8_t>(0x20 + i);
  std::uint8_t* tcp = ip + 40;
  tcp[0] = 0x12;
  tcp[2] = 0x01;
  tcp[7] = 0x01;
  tcp[12] = 0x50;
  tcp[13] = 0x18;
  const std::uint16_t seed = fold(pseudo6(ip, 6, 0));
  tcp[16] = static_cast<std::uint8_t>(seed >> 8);
  tcp[17] = static_cast<std::uint8_t>(seed);
  h.context({.ipcss = 14, .ipcso = 0, .tucss = 54, .tucso = 70,
             .tucmd = TXD_TUCMD_TCP | TXD_CMD_TSE, .hdrlen = 74, .tucse = 0, .mss = mss,
             .paylen = payload});
  const std::uint64_t at = h.stage(f);
  h.data(at, static_cast<std::uint32_t>(f.size()), TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS,
         TXD_POPTS_TXSM);
  h.kick();
  const std::size_t segments = (payload + mss - 1) / mss;
  ASSERT_EQ(h.port.frames.size(), segments);
  for (const Bytes& s : h.port.frames) {
    const std::uint8_t* sip = s.data() + 14;
    const std::size_t plen = static_cast<std::size_t>((sip[4] << 8) | sip[5]);
    ASSERT_EQ(plen + 54, s.size());
    EXPECT_EQ(fold(pseudo6(sip, 6, static_cast<std::uint32_t>(plen)) + raw_sum(sip + 40, plen)),
              0xFFFF);
  }
}

// A backend that refuses a frame (FramePort::transmit returns false): the frame is dropped
// and counted with its reason, the descriptor still completes, and the ring moves on.
TEST(E1000Tx, BackendRefusalCountedAsDrop) {
  E1000Harness h;
  h.bring_up();
  h.port.refuse = true;
  h.send_legacy(ethernet(kPeer, 0x0800, 100));
  h.send_legacy(ethernet(kPeer, 0x0800, 200));
  EXPECT_EQ(h.nic.counters().tx_backend_refused, 2U);
  EXPECT_EQ(h.nic.counters().tx_frames, 0U);
  EXPECT_EQ(h.rd(TDH), h.tx_tail);
  EXPECT_TRUE(h.tx_desc(1)[12] & TXD_STA_DD);
  EXPECT_TRUE(h.rd(ICR) & ICR_TXDW);
  h.port.refuse = false;
  h.port.frames.clear();
  h.send_legacy(ethernet(kPeer, 0x0800, 300));
  ASSERT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.port.frames[0].size(), 300U);
  EXPECT_EQ(h.nic.counters().tx_frames, 1U);
  EXPECT_EQ(h.nic.counters().tx_backend_refused, 2U);
}

// VLE inserts a tag only while CTRL.VME is set (SDM §3.3.3, §13.4.1).
TEST(E1000Tx, VlanInsertionNeedsVme) {
  E1000Harness h;
  h.bring_up();
  const Bytes f = ethernet(kPeer, 0x0800, 100);
  h.send_legacy(f, 4096, TXD_CMD_VLE, 0x2005);
  ASSERT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.port.frames[0], f);
}

TEST(E1000Tx, HostileRingHaltsUntilRearmed) {
  E1000Harness h;
  h.bring_up(64);
  h.wr(TDT, 64 + 5);  // beyond the ring
  h.nic.poll(h.clock.now());
  EXPECT_TRUE(h.nic.tx_halted());
  EXPECT_EQ(h.nic.counters().tx_ring_errors, 1U);
  EXPECT_FALSE(h.nic.next_deadline().has_value());
  h.setup_tx(64);  // re-arm
  EXPECT_FALSE(h.nic.tx_halted());
  h.wr(TDBAL, 0xFFFFF000);  // ring outside guest memory
  h.wr(TDT, 3);
  h.nic.poll(h.clock.now());
  EXPECT_TRUE(h.nic.tx_halted());
  // Buffer outside memory: packet dropped, ring keeps going.
  h.setup_tx(64);
  h.legacy(0xFFFFFFFF00, 100, TXD_CMD_EOP | TXD_CMD_RS);
  h.send_legacy(ethernet(kPeer, 0x0800, 80));
  EXPECT_EQ(h.nic.counters().tx_data_dma_errors, 1U);
  EXPECT_EQ(h.port.frames.size(), 1U);
}

TEST(E1000Tx, BudgetBoundsOnePoll) {
  E1000Harness h;
  h.bring_up(4096);
  const Bytes f = ethernet(kPeer, 0x0800, 60);
  const std::uint64_t at = h.stage(f);
  for (int i = 0; i < 1000; ++i) h.legacy(at, 60, TXD_CMD_EOP);
  h.wr(TDT, h.tx_tail);
  EXPECT_EQ(h.nic.poll(h.clock.now()), 256U);
  EXPECT_EQ(h.nic.next_deadline(), h.clock.now());
  while (h.nic.poll(h.clock.now()) > 0) {
  }
  EXPECT_EQ(h.port.frames.size(), 1000U);
  EXPECT_TRUE(h.rd(ICR) & ICR_TXQE);
}

TEST(E1000Tx, NoDmaWithoutBusMaster) {
  E1000Harness h;
  h.bring_up();
  h.nic.config_write(0x04, 2, kPciCommandMemory);
  const Bytes f = ethernet(kPeer, 0x0800, 60);
  h.legacy(h.stage(f), 60, TXD_CMD_EOP | TXD_CMD_RS);
  h.kick();
  EXPECT_TRUE(h.port.frames.empty());
  h.nic.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  h.kick();
  EXPECT_EQ(h.port.frames.size(), 1U);
}

}  // namespace
}  // namespace aero::devices::test
