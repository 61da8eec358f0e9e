// virtio PCI transport: identity, capability layout, BARs, the status handshake, feature
// negotiation, reset, MSI-X and INTx, the PCI configuration access capability, the legacy
// interface of a transitional device, and Aero's contract profile.
#include <gtest/gtest.h>

#include "virtio_test_driver.h"

namespace aero::devices::vtest {
namespace {

using namespace aero::devices::virtio;  // NOLINT: transport constants

TEST(VirtioPci, IdentityMatchesAeroContract) {
  NetHarness h;
  EXPECT_EQ(h.cfg(0x00, 2), 0x1AF4U);
  EXPECT_EQ(h.cfg(0x02, 2), 0x1041U);
  EXPECT_EQ(h.cfg(0x08, 1), 0x01U);  // revision
  EXPECT_EQ(h.cfg(0x09, 1), 0x00U);
  EXPECT_EQ(h.cfg(0x0A, 1), 0x00U);
  EXPECT_EQ(h.cfg(0x0B, 1), 0x02U);  // network controller
  EXPECT_EQ(h.cfg(0x2C, 2), 0x1AF4U);
  EXPECT_EQ(h.cfg(0x2E, 2), 0x0001U);
  EXPECT_EQ(h.cfg(0x3D, 1), 0x01U);  // INTA#
  EXPECT_EQ(h.cfg(0x3C, 1), 0xFFU);
  EXPECT_TRUE(h.cfg(0x06, 2) & 0x10U);  // capability list
  EXPECT_EQ(h.cfg(0x10), 0x4U);          // BAR0: 64-bit memory
  EXPECT_EQ(h.cfg(0x18), 0x0U);          // no legacy BAR
}

TEST(VirtioPci, CapabilitiesDescribeBar0Layout) {
  NetHarness h;
  const auto caps = h.capabilities();
  ASSERT_EQ(caps.size(), 6U);
  struct Want {
    int type;
    std::uint32_t offset, length;
  };
  for (const Want w : {Want{1, 0x0000, 0x100}, Want{2, 0x1000, 0x100}, Want{3, 0x2000, 0x20},
                       Want{4, 0x3000, 0x100}}) {
    const std::uint8_t at = caps.at(w.type);
    EXPECT_EQ(h.cfg(at + 2U, 1), w.type == 2 ? 20U : 16U);
    EXPECT_EQ(h.cfg(at + 4U, 1), 0U);  // BAR0
    EXPECT_EQ(h.cfg(at + 8U), w.offset) << w.type;
    EXPECT_EQ(h.cfg(at + 12U), w.length) << w.type;
  }
  EXPECT_EQ(h.cfg(caps.at(2) + 16U), 4U);  // notify_off_multiplier
  EXPECT_TRUE(caps.count(5));              // PCI configuration access
  const std::uint8_t msix = caps.at(0x11);
  EXPECT_EQ(h.cfg(msix + 2U, 2) & 0x7FFU, 3U);  // 4 vectors: config + 3 queues
  EXPECT_EQ(h.cfg(msix + 4U), 0x3100U);         // table, BIR 0
  EXPECT_EQ(h.cfg(msix + 8U), 0x3140U);         // PBA, BIR 0
}

TEST(VirtioPci, AeroContractProfile) {
  NetHarness h(VirtioNetConfig::aero_w7_contract());
  const std::uint8_t msix = h.capabilities().at(0x11);
  EXPECT_EQ(h.cfg(msix + 2U, 2) & 0x7FFU, 2U);  // 3 vectors
  EXPECT_EQ(h.cfg(msix + 8U), 0x3130U);
  ASSERT_TRUE(h.bring_up(~0ULL));
  EXPECT_EQ(h.features, vn::kAeroW7Contract);
  EXPECT_EQ(h.common(0x12, 2), 2U);   // rx, tx
  h.common_w(0x16, 2, 0);
  EXPECT_EQ(h.common(0x18, 2), 256U);
  EXPECT_EQ(h.dev.header_length(), 10U);
  // A 10-byte header on transmit.
  const Bytes frame = ethernet({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0x0806, 60, 3);
  h.send(frame);
  ASSERT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.port.frames[0], frame);
}

TEST(VirtioPci, BarSizing) {
  NetHarness h(VirtioNetConfig{.transitional = true});
  h.dev.config_write(0x10, 4, 0xFFFFFFFF);
  h.dev.config_write(0x14, 4, 0xFFFFFFFF);
  EXPECT_EQ(h.cfg(0x10), 0xFFFFC004U);  // 16 KiB, 64-bit
  EXPECT_EQ(h.cfg(0x14), 0xFFFFFFFFU);
  h.dev.config_write(0x18, 4, 0xFFFFFFFF);
  EXPECT_EQ(h.cfg(0x18), 0xFFFFFF01U);  // 256 bytes of I/O
  h.dev.config_write(0x10, 4, 0xFEB00000);
  h.dev.config_write(0x14, 4, 0x1);
  EXPECT_EQ(h.cfg(0x10), 0xFEB00004U);
  EXPECT_EQ(h.cfg(0x14), 0x1U);
  h.dev.config_write(0x11, 1, 0xFF);  // a byte write merges
  EXPECT_EQ(h.cfg(0x10), 0xFEB0C004U);
  EXPECT_EQ(h.cfg(0x02, 2), 0x1000U);  // transitional device ID
  EXPECT_EQ(h.cfg(0x08, 1), 0x00U);    // revision 0 (§4.1.2.1)
}

TEST(VirtioPci, Bar0NeedsMemorySpace) {
  NetHarness h;
  EXPECT_EQ(h.dev.mmio_read(0x12, 2), 0xFFFFU);
  h.dev.config_write(0x04, 2, kPciCommandMemory);
  EXPECT_EQ(h.dev.mmio_read(0x12, 2), 3U);  // num_queues
}

TEST(VirtioPci, CommonConfigAccessSizes) {
  NetHarness h;
  h.dev.config_write(0x04, 2, kPciCommandMemory);
  h.common_w(0x16, 2, 1);
  h.common_w(0x20, 8, 0x1122334455667000ULL);
  EXPECT_EQ(h.common(0x20, 8), 0x1122334455667000ULL);
  EXPECT_EQ(h.common(0x24, 4), 0x11223344U);
  EXPECT_EQ(h.common(0x21, 1), 0x70U);
  h.common_w(0x24, 4, 0xAABBCCDD);
  EXPECT_EQ(h.common(0x20, 8), 0xAABBCCDD55667000ULL);
  h.common_w(0x22, 2, 0x1234);  // merges into the middle of queue_desc
  EXPECT_EQ(h.common(0x20, 8), 0xAABBCCDD12347000ULL);
  EXPECT_EQ(h.common(0x1E, 2), 1U);  // queue_notify_off = index
  h.common_w(0x16, 2, 7);           // no such queue
  EXPECT_EQ(h.common(0x18, 2), 0U);
  EXPECT_EQ(h.common(0x12, 4), 0x00000003U);  // num_queues, status 0, generation 0
}

TEST(VirtioPci, FeatureNegotiationRules) {
  NetHarness h;
  h.dev.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  auto attempt = [&](std::uint64_t f) {
    h.set_status(0);
    h.set_status(kStatusAcknowledge | kStatusDriver);
    h.common_w(0x08, 4, 0);
    h.common_w(0x0C, 4, f & 0xFFFFFFFF);
    h.common_w(0x08, 4, 1);
    h.common_w(0x0C, 4, f >> 32);
    h.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    return (h.status() & kStatusFeaturesOk) != 0;
  };
  EXPECT_TRUE(attempt(kFeatureVersion1 | vn::kMac));
  EXPECT_FALSE(attempt(vn::kMac));                                   // no VERSION_1
  EXPECT_FALSE(attempt(kFeatureVersion1 | (1ULL << 22)));            // MQ: not offered
  EXPECT_FALSE(attempt(kFeatureVersion1 | vn::kHostTso4));           // needs CSUM
  EXPECT_FALSE(attempt(kFeatureVersion1 | vn::kGuestTso6));          // needs GUEST_CSUM
  EXPECT_FALSE(attempt(kFeatureVersion1 | vn::kCtrlRx));             // needs CTRL_VQ
  EXPECT_TRUE(attempt(kFeatureVersion1 | vn::kCsum | vn::kHostTso4 | vn::kCtrlVq | vn::kCtrlRx));
  EXPECT_EQ(h.dev.transport_counters().features_rejected, 5U);
  // Features cannot change after FEATURES_OK.
  h.common_w(0x08, 4, 0);
  h.common_w(0x0C, 4, 0);
  EXPECT_NE(h.common(0x0C, 4), 0U);
  // DRIVER_OK without FEATURES_OK is refused.
  h.set_status(0);
  h.set_status(kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_FALSE(h.status() & kStatusDriverOk);
}

TEST(VirtioPci, ResetClearsQueuesAndStatus) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kMrgRxbuf, {}, 0, true));
  h.common_w(0x16, 2, 0);
  EXPECT_EQ(h.common(0x1C, 2), 1U);
  EXPECT_NE(h.common(0x20, 8), 0U);
  EXPECT_EQ(h.common(0x1A, 2), 1U);
  h.set_status(0);
  EXPECT_EQ(h.status(), 0U);
  EXPECT_EQ(h.common(0x1C, 2), 0U);
  EXPECT_EQ(h.common(0x20, 8), 0U);
  EXPECT_EQ(h.common(0x1A, 2), kNoVector);
  EXPECT_EQ(h.common(0x10, 2), kNoVector);
  EXPECT_EQ(h.common(0x18, 2), 256U);
  EXPECT_EQ(h.dev.negotiated_features(), 0U);
  // Frames are refused until the driver is ready again.
  const Bytes frame = ethernet(kDeviceMac, 0x0800, 100, 1);
  EXPECT_EQ(h.dev.receive(frame), RxResult::dropped);
  EXPECT_EQ(h.dev.counters().rx_not_ready, 1U);
  // And it comes back.
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.post_rx(4);
  EXPECT_EQ(h.dev.receive(frame), RxResult::accepted);
}

TEST(VirtioPci, FailedStopsTheDevice) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.post_rx(2);
  ASSERT_TRUE(h.queue_tx(ethernet(kDeviceMac, 0x0800, 64, 0)));
  h.notify(VirtioNet::kTxQueue);
  h.set_status(static_cast<std::uint8_t>(h.status() | kStatusFailed));  // §2.1: the driver gave up
  EXPECT_EQ(h.dev.poll(16), 0U);
  EXPECT_TRUE(h.port.frames.empty());
  EXPECT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 64, 0)), RxResult::dropped);
  // The driver cannot set DEVICE_NEEDS_RESET itself.
  h.set_status(static_cast<std::uint8_t>(h.status() | kStatusNeedsReset));
  EXPECT_FALSE(h.status() & kStatusNeedsReset);
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.send(ethernet(kDeviceMac, 0x0800, 64, 0));
  EXPECT_EQ(h.port.frames.size(), 1U);
}

TEST(VirtioPci, DeviceConfigurationSpace) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kStatus | vn::kMtu));
  for (std::uint32_t i = 0; i < 6; ++i) EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset + i, 1), kDeviceMac[i]);
  EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset + 6, 2), 1U);   // link up
  EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset + 8, 2), 1U);   // one queue pair
  EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset + 10, 2), 1500U);
  EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset + 12, 4), 0U);
  h.dev.mmio_write(kDeviceCfgOffset, 1, 0x00);  // read-only for a modern driver
  EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset, 1), 0x52U);
}

TEST(VirtioPci, LinkChangeIsAConfigurationChange) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kStatus));
  const auto generation = h.common(0x15, 1);
  h.dev.set_link_up(false);
  EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset + 6, 2), 0U);
  EXPECT_NE(h.common(0x15, 1), generation);
  EXPECT_TRUE(h.irq.level);
  EXPECT_EQ(h.dev.mmio_read(kIsrOffset, 1), 2U);  // configuration change
  EXPECT_FALSE(h.irq.level);
  EXPECT_EQ(h.dev.mmio_read(kIsrOffset, 1), 0U);  // read cleared it
  // Link down: frames are dropped both ways, buffers untouched.
  h.post_rx(2);
  EXPECT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 64, 0)), RxResult::dropped);
  EXPECT_EQ(h.dev.counters().rx_link_down, 1U);
  h.send(ethernet(kDeviceMac, 0x0800, 64, 0));
  EXPECT_EQ(h.dev.counters().tx_link_down, 1U);
  EXPECT_TRUE(h.port.frames.empty());
  h.dev.set_link_up(true);
  EXPECT_EQ(h.dev.mmio_read(kDeviceCfgOffset + 6, 2), 1U);
}

TEST(VirtioPci, IntxFollowsIsrAndIntxDisable) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  h.post_rx(2);
  EXPECT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 64, 0)), RxResult::accepted);
  EXPECT_TRUE(h.irq.level);
  EXPECT_TRUE(h.cfg(0x06, 2) & 0x08U);  // PCI status: interrupt pending
  h.dev.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster | kPciCommandIntxDisable);
  EXPECT_FALSE(h.irq.level);
  h.dev.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  EXPECT_TRUE(h.irq.level);  // still pending: asserted again
  EXPECT_EQ(h.dev.mmio_read(kIsrOffset, 1), 1U);
  EXPECT_FALSE(h.irq.level);
  EXPECT_FALSE(h.cfg(0x06, 2) & 0x08U);
}

TEST(VirtioPci, MsixVectorsMasksAndPending) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kStatus, {}, 0, true));
  EXPECT_EQ(h.common(0x10, 2), 0U);  // config vector accepted
  h.common_w(0x16, 2, 0);
  EXPECT_EQ(h.common(0x1A, 2), 1U);
  h.common_w(0x1A, 2, 9);  // beyond the table
  EXPECT_EQ(h.common(0x1A, 2), kNoVector);
  h.common_w(0x1A, 2, 1);
  h.post_rx(4);
  ASSERT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 64, 0)), RxResult::accepted);
  ASSERT_EQ(h.irq.msix.size(), 1U);
  EXPECT_EQ(h.irq.msix[0], 1U);
  EXPECT_EQ(h.irq.last_address, 0xFEE00000U);
  EXPECT_EQ(h.irq.last_data, 0x41U);
  EXPECT_FALSE(h.irq.level);  // no INTx with MSI-X
  // Mask vector 1: the message waits in the PBA.
  h.dev.mmio_write(kMsixTableOffset + 16 + 12, 4, 1);
  ASSERT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 64, 1)), RxResult::accepted);
  EXPECT_EQ(h.irq.msix.size(), 1U);
  EXPECT_EQ(h.dev.mmio_read(0x3140, 8), 0x2U);
  h.dev.mmio_write(kMsixTableOffset + 16 + 12, 4, 0);
  ASSERT_EQ(h.irq.msix.size(), 2U);
  EXPECT_EQ(h.dev.mmio_read(0x3140, 8), 0x0U);
  // Function mask works the same way; the config vector carries link changes.
  const std::uint8_t cap = h.capabilities().at(0x11);
  h.dev.config_write(cap + 2U, 2, 0xC000);
  h.dev.set_link_up(false);
  EXPECT_EQ(h.irq.msix.size(), 2U);
  h.dev.config_write(cap + 2U, 2, 0x8000);
  ASSERT_EQ(h.irq.msix.size(), 3U);
  EXPECT_EQ(h.irq.msix[2], 0U);
  // NO_VECTOR suppresses.
  h.dev.set_link_up(true);
  h.common_w(0x10, 2, kNoVector);
  h.dev.set_link_up(false);
  EXPECT_EQ(h.irq.msix.size(), 4U);  // the link-up change went out before
  EXPECT_GE(h.dev.transport_counters().msix_suppressed, 1U);
}

TEST(VirtioPci, VectorsReadNoVectorWithoutMsix) {
  NetHarness h;
  h.dev.config_write(0x04, 2, kPciCommandMemory);
  h.common_w(0x10, 2, 0);
  EXPECT_EQ(h.common(0x10, 2), kNoVector);
}

TEST(VirtioPci, PciConfigurationAccessCapability) {
  NetHarness h;  // Memory Space disabled: the window still works
  const std::uint8_t at = h.capabilities().at(5);
  h.dev.config_write(at + 4U, 1, 0);
  h.dev.config_write(at + 8U, 4, 0x12);  // num_queues
  h.dev.config_write(at + 12U, 4, 2);
  EXPECT_EQ(h.cfg(at + 16U, 4), 3U);
  h.dev.config_write(at + 8U, 4, 0x16);  // queue_select
  h.dev.config_write(at + 16U, 4, 1);
  h.dev.config_write(0x04, 2, kPciCommandMemory);
  EXPECT_EQ(h.common(0x16, 2), 1U);
  h.dev.config_write(at + 12U, 4, 3);  // bad length: reads 0
  EXPECT_EQ(h.cfg(at + 16U, 4), 0U);
}

TEST(VirtioPci, QueueEnableValidatesSize) {
  NetHarness h;
  h.dev.config_write(0x04, 2, kPciCommandMemory | kPciCommandBusMaster);
  h.set_status(kStatusAcknowledge | kStatusDriver);
  h.common_w(0x08, 4, 1);
  h.common_w(0x0C, 4, 1);
  h.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  h.common_w(0x16, 2, 0);
  h.common_w(0x18, 2, 100);  // not a power of two for a split ring
  h.common_w(0x1C, 2, 1);
  EXPECT_EQ(h.common(0x1C, 2), 0U);
  h.common_w(0x18, 2, 512);  // beyond the maximum
  h.common_w(0x1C, 2, 1);
  EXPECT_EQ(h.common(0x1C, 2), 0U);
  h.common_w(0x18, 2, 64);
  h.common_w(0x1C, 2, 1);
  EXPECT_EQ(h.common(0x1C, 2), 1U);
  h.common_w(0x18, 2, 32);  // ignored once enabled
  EXPECT_EQ(h.common(0x18, 2), 64U);
  // Misaligned rings make DRIVER_OK end in DEVICE_NEEDS_RESET.
  h.common_w(0x16, 2, 1);
  h.common_w(0x20, 8, 0x10008);
  h.common_w(0x1C, 2, 1);
  h.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  EXPECT_TRUE(h.status() & kStatusNeedsReset);
}

TEST(VirtioPci, LegacyInterfaceOfTransitionalDevice) {
  NetHarness h(VirtioNetConfig{.transitional = true});
  h.dev.config_write(0x04, 2, kPciCommandIo | kPciCommandBusMaster);
  EXPECT_EQ(h.dev.pio_read(0x00, 4) >> 28 & 1U, 1U);  // INDIRECT_DESC offered
  h.dev.pio_write(0x12, 1, kStatusAcknowledge | kStatusDriver);
  h.dev.pio_write(0x04, 4, static_cast<std::uint32_t>(vn::kMac | vn::kStatus));
  EXPECT_EQ(h.dev.pio_read(0x04, 4), vn::kMac | vn::kStatus);
  h.features = vn::kMac | vn::kStatus;
  // Queues at PFN * 4096 in the legacy layout.
  DriverQueue* qs[2] = {&h.rxq, &h.txq};
  for (std::uint16_t q = 0; q < 2; ++q) {
    h.dev.pio_write(0x0E, 2, q);
    EXPECT_EQ(h.dev.pio_read(0x0C, 2), 256U);
    const std::uint64_t base = 0x100000ULL + 0x10000ULL * q;
    qs[q]->init(h.mem, base, 0x200000ULL + 0x100000ULL * q, 4096, 256,
                RingOptions{.legacy = true});
    h.dev.pio_write(0x08, 4, static_cast<std::uint32_t>(base >> 12));
    EXPECT_EQ(h.dev.pio_read(0x08, 4), base >> 12);
  }
  h.dev.pio_write(0x12, 1, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_EQ(h.dev.pio_read(0x12, 1), kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
  EXPECT_EQ(h.dev.header_length(), 10U);
  h.hdr = 10;
  // Device configuration after the 20-byte header (no MSI-X).
  for (std::uint32_t i = 0; i < 6; ++i) EXPECT_EQ(h.dev.pio_read(0x14 + i, 1), kDeviceMac[i]);
  EXPECT_EQ(h.dev.pio_read(0x1A, 2), 1U);  // link up
  // Traffic both ways with 10-byte headers; legacy notify register; ISR read clears.
  std::size_t posted = 0;
  for (; posted < 4; ++posted) ASSERT_TRUE(h.rxq.add({}, 0, {1526}, false));
  h.dev.pio_write(0x10, 2, 0);
  const Bytes in = ethernet(kDeviceMac, 0x0800, 300, 9);
  ASSERT_EQ(h.dev.receive(in), RxResult::accepted);
  EXPECT_TRUE(h.irq.level);
  auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->frame, in);
  EXPECT_EQ(h.dev.pio_read(0x13, 1), 1U);
  EXPECT_FALSE(h.irq.level);
  const Bytes out = ethernet({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0x0806, 60, 1);
  ASSERT_TRUE(h.queue_tx(out));
  h.dev.pio_write(0x10, 2, 1);
  h.dev.poll(16);
  ASSERT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.port.frames[0], out);
  EXPECT_EQ(h.reclaim_tx(), 1U);
  h.dev.pio_write(0x14, 1, 0x02);  // a legacy driver may write the MAC
  EXPECT_EQ(h.dev.mac()[0], 0x02U);
  // Status 0 resets.
  h.dev.pio_write(0x12, 1, 0);
  EXPECT_EQ(h.dev.pio_read(0x12, 1), 0U);
  EXPECT_EQ(h.dev.mac()[0], 0x52U);
  // I/O Space disabled: all ones.
  h.dev.config_write(0x04, 2, 0);
  EXPECT_EQ(h.dev.pio_read(0x12, 1), 0xFFU);
}

}  // namespace
}  // namespace aero::devices::vtest
