// Every negotiable feature combination of the virtio-net model, driven by the test driver:
// the ring layout (split, packed) x INDIRECT_DESC x EVENT_IDX x MRG_RXBUF are the test
// parameters, and each test walks every combination of the transmit offloads (none, CSUM,
// CSUM + HOST_TSO4/6), the receive offloads (none, GUEST_CSUM, GUEST_CSUM + GUEST_TSO4/6), the
// control queue (none, CTRL_VQ, CTRL_VQ + CTRL_RX + CTRL_RX_EXTRA + CTRL_MAC_ADDR), MTU, STATUS
// and MAC: 216 combinations per parameter, 3456 in all. Each combination negotiates, then sends
// and receives plain, checksum-offloaded and segmentation-offloaded frames and checks what
// reaches the backend and the guest.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "virtio_test_driver.h"

namespace aero::devices::vtest {
namespace {

using Param = std::tuple<bool, bool, bool, bool>;  // packed, indirect, event_idx, mrg_rxbuf

constexpr std::uint16_t kQueueSize = 16;

// Payload bytes of a TCP frame built by tcp_frame() (no options).
Bytes tcp_payload(const Bytes& f) {
  const bool ipv6 = f[12] == 0x86;
  const std::size_t l4 = 14 + (ipv6 ? 40 : 20);
  const std::size_t th = static_cast<std::size_t>(f[l4 + 12] >> 4) * 4;
  return Bytes(f.begin() + static_cast<std::ptrdiff_t>(l4 + th), f.end());
}
std::uint32_t tcp_seq(const Bytes& f) {
  const std::size_t l4 = 14 + (f[12] == 0x86 ? 40 : 20);
  return (std::uint32_t{f[l4 + 4]} << 24) | (std::uint32_t{f[l4 + 5]} << 16) |
         (std::uint32_t{f[l4 + 6]} << 8) | f[l4 + 7];
}

// Checks that `segments` are a correct segmentation of `whole` with `mss`.
void expect_segmentation(const Bytes& whole, const std::vector<Bytes>& segments, std::size_t mss) {
  const Bytes payload = tcp_payload(whole);
  ASSERT_EQ(segments.size(), (payload.size() + mss - 1) / mss);
  Bytes joined;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Bytes& s = segments[i];
    EXPECT_TRUE(tcp_checksums_ok(s)) << "segment " << i;
    EXPECT_EQ(tcp_seq(s), tcp_seq(whole) + i * mss);
    const Bytes p = tcp_payload(s);
    EXPECT_LE(p.size(), mss);
    joined.insert(joined.end(), p.begin(), p.end());
    const std::size_t l4 = 14 + (whole[12] == 0x86 ? 40 : 20);
    const bool last = i + 1 == segments.size();
    EXPECT_EQ((s[l4 + 13] & 0x08) != 0, last) << "PSH only on the last segment";
  }
  EXPECT_EQ(joined, payload);
}

class VirtioNetFeatures : public ::testing::TestWithParam<Param> {
 protected:
  struct Combo {
    std::uint64_t tx, rx, ctrl, misc;
  };

  void exercise(const Combo& c);
};

void VirtioNetFeatures::exercise(const Combo& c) {
  const auto [packed, indirect, event_idx, mrg] = GetParam();
  const RingOptions ring{packed, event_idx, indirect};
  const std::uint64_t wanted = c.tx | c.rx | c.ctrl | c.misc | (mrg ? vn::kMrgRxbuf : 0);
  const bool big_rx = !mrg && (wanted & (vn::kGuestTso4 | vn::kGuestTso6));
  NetHarness h({}, 5U << 20);
  h.tx_slot = 0x10400;
  h.rx_slot = big_rx ? 0x10400 : 4096;
  h.rx_buffer_size = mrg ? 1000 : (big_rx ? 65600 : 1526);
  h.rx_pieces = mrg ? 1 : 2;
  const bool msix = (c.misc & vn::kStatus) != 0;
  ASSERT_TRUE(h.bring_up(wanted, ring, kQueueSize, msix));
  std::uint64_t expect = wanted | virtio::kFeatureVersion1;
  if (packed) expect |= virtio::kFeatureRingPacked;
  if (event_idx) expect |= virtio::kFeatureEventIdx;
  if (indirect) expect |= virtio::kFeatureIndirectDesc;
  ASSERT_EQ(h.dev.negotiated_features(), expect);
  EXPECT_EQ(h.dev.header_length(), 12U);

  // ---- Transmit ----
  const Bytes small = ethernet({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0x0806, 42, 1);
  const Bytes full = ethernet({0x02, 0, 0, 0, 0, 9}, 0x0800, 1514, 2);
  h.send(small);
  h.send(full, {}, 3, true);
  ASSERT_EQ(h.port.frames.size(), 2U);
  EXPECT_EQ(h.port.frames[0], small);
  EXPECT_EQ(h.port.frames[1], full);
  h.port.frames.clear();
  if (wanted & vn::kCsum) {
    const Bytes partial = tcp_frame(false, 999, 7, true);
    NetHeader hd;
    hd.flags = vn::kHdrNeedsCsum;
    hd.csum_start = 34;
    hd.csum_offset = 16;
    h.send(partial, hd, 2);
    ASSERT_EQ(h.port.frames.size(), 1U);
    EXPECT_TRUE(tcp_checksums_ok(h.port.frames[0]));
    EXPECT_EQ(tcp_payload(h.port.frames[0]), tcp_payload(partial));
    h.port.frames.clear();
  }
  for (const bool v6 : {false, true}) {
    if (!(wanted & (v6 ? vn::kHostTso6 : vn::kHostTso4))) continue;
    const Bytes big = tcp_frame(v6, 20000, 1000, true);
    NetHeader hd;
    hd.flags = vn::kHdrNeedsCsum;
    hd.gso_type = v6 ? vn::kGsoTcpv6 : vn::kGsoTcpv4;
    hd.gso_size = 1448;
    hd.hdr_len = static_cast<std::uint16_t>(v6 ? 74 : 54);
    hd.csum_start = static_cast<std::uint16_t>(v6 ? 54 : 34);
    hd.csum_offset = 16;
    h.send(big, hd, 4, true);
    expect_segmentation(big, h.port.frames, 1448);
    h.port.frames.clear();
  }
  EXPECT_EQ(h.dev.counters().tx_bad_chain + h.dev.counters().tx_bad_header +
                h.dev.counters().tx_offload_errors,
            0U);

  // ---- Receive ----
  auto receive = [&](const Bytes& frame, const FrameOffload& offload) {
    h.post_rx(kQueueSize);
    EXPECT_EQ(h.dev.receive(frame, offload), RxResult::accepted);
    std::vector<RxFrame> got;
    while (auto f = h.next_rx()) got.push_back(*f);
    return got;
  };
  {
    const Bytes frame = ethernet(kDeviceMac, 0x0800, 1514, 5);
    const auto got = receive(frame, {});
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0].frame, frame);
    EXPECT_EQ(got[0].header.flags, 0U);
    EXPECT_EQ(got[0].header.gso_type, 0U);
    EXPECT_EQ(got[0].header.num_buffers, mrg ? 2U : 1U);  // 12 + 1514 over 1000-byte buffers
  }
  {
    const Bytes frame = tcp_frame(false, 500, 3, true);
    FrameOffload off;
    off.needs_csum = true;
    off.csum_start = 34;
    off.csum_offset = 16;
    const auto got = receive(frame, off);
    ASSERT_EQ(got.size(), 1U);
    if (wanted & vn::kGuestCsum) {
      EXPECT_EQ(got[0].header.flags, vn::kHdrNeedsCsum);
      EXPECT_EQ(got[0].header.csum_start, 34U);
      EXPECT_EQ(got[0].header.csum_offset, 16U);
      EXPECT_EQ(got[0].frame, frame);
    } else {
      EXPECT_EQ(got[0].header.flags, 0U);
      EXPECT_TRUE(tcp_checksums_ok(got[0].frame));
    }
  }
  for (const bool v6 : {false, true}) {
    const Bytes big = tcp_frame(v6, 8000, 77, true);
    FrameOffload off;
    off.needs_csum = true;
    off.csum_start = static_cast<std::uint16_t>(v6 ? 54 : 34);
    off.csum_offset = 16;
    off.gso = v6 ? GsoType::tcpv6 : GsoType::tcpv4;
    off.gso_size = 1400;
    const auto got = receive(big, off);
    if (wanted & (v6 ? vn::kGuestTso6 : vn::kGuestTso4)) {
      ASSERT_EQ(got.size(), 1U);
      EXPECT_EQ(got[0].frame, big);
      EXPECT_EQ(got[0].header.flags, vn::kHdrNeedsCsum);
      EXPECT_EQ(got[0].header.gso_type, v6 ? vn::kGsoTcpv6 : vn::kGsoTcpv4);
      EXPECT_EQ(got[0].header.gso_size, 1400U);
      EXPECT_EQ(got[0].header.hdr_len, v6 ? 74U : 54U);
    } else {
      std::vector<Bytes> segments;
      for (const RxFrame& f : got) {
        EXPECT_EQ(f.header.gso_type, 0U);
        EXPECT_EQ(f.header.flags, (wanted & vn::kGuestCsum) ? vn::kHdrDataValid : 0U);
        segments.push_back(f.frame);
      }
      expect_segmentation(big, segments, 1400);
    }
  }
  if (wanted & vn::kMtu) {
    h.post_rx(kQueueSize);
    EXPECT_EQ(h.dev.receive(ethernet(kDeviceMac, 0x0800, 1515, 0)), RxResult::dropped);
    EXPECT_EQ(h.dev.counters().rx_oversize, 1U);
  }

  // ---- Control queue ----
  const Bytes other = ethernet({0x02, 0x11, 0x22, 0x33, 0x44, 0x55}, 0x0800, 80, 1);
  const Bytes multicast = ethernet({0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB}, 0x0800, 80, 2);
  const Bytes broadcast = ethernet({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0x0806, 60, 3);
  const Bytes mine = ethernet(kDeviceMac, 0x0800, 80, 4);
  h.post_rx(kQueueSize);
  auto delivered = [&](const Bytes& f) {
    const RxResult r = h.dev.receive(f);
    while (h.next_rx()) {
    }
    h.post_rx(kQueueSize);
    return r == RxResult::accepted;
  };
  if (wanted & vn::kCtrlRx) {
    EXPECT_TRUE(delivered(other));  // promiscuous after reset
    const std::uint8_t off[1] = {0}, on[1] = {1};
    EXPECT_EQ(h.control(vn::kCtrlClassRx, vn::kCtrlRxPromisc, off), vn::kCtrlOk);
    EXPECT_FALSE(delivered(other));
    EXPECT_FALSE(delivered(multicast));
    EXPECT_TRUE(delivered(broadcast));
    EXPECT_TRUE(delivered(mine));
    Bytes table(4, 0);
    table[0] = 1;
    table.insert(table.end(), other.begin(), other.begin() + 6);
    table.insert(table.end(), {1, 0, 0, 0});
    table.insert(table.end(), multicast.begin(), multicast.begin() + 6);
    EXPECT_EQ(h.control(vn::kCtrlClassMac, vn::kCtrlMacTableSet, table), vn::kCtrlOk);
    EXPECT_TRUE(delivered(other));
    EXPECT_TRUE(delivered(multicast));
    table.pop_back();
    EXPECT_EQ(h.control(vn::kCtrlClassMac, vn::kCtrlMacTableSet, table), vn::kCtrlErr);
    EXPECT_EQ(h.control(vn::kCtrlClassRx, vn::kCtrlRxNobcast, on), vn::kCtrlOk);
    EXPECT_FALSE(delivered(broadcast));
    EXPECT_EQ(h.control(vn::kCtrlClassRx, vn::kCtrlRxNomulti, on), vn::kCtrlOk);
    EXPECT_FALSE(delivered(multicast));
    EXPECT_EQ(h.control(vn::kCtrlClassRx, vn::kCtrlRxNouni, on), vn::kCtrlOk);
    EXPECT_FALSE(delivered(mine));
    EXPECT_EQ(h.control(vn::kCtrlClassRx, vn::kCtrlRxPromisc, on), vn::kCtrlOk);
    EXPECT_TRUE(delivered(other));
    const std::array<std::uint8_t, 6> fresh{0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE};
    EXPECT_EQ(h.control(vn::kCtrlClassMac, vn::kCtrlMacAddrSet, fresh), vn::kCtrlOk);
    EXPECT_EQ(h.dev.mmio_read(virtio::kDeviceCfgOffset + 1, 1), 0xAAU);
    EXPECT_EQ(h.dev.mac(), fresh);
    EXPECT_EQ(h.control(vn::kCtrlClassRx, vn::kCtrlRxPromisc, Bytes{1, 2}), vn::kCtrlErr);
    EXPECT_EQ(h.control(7, 0, off), vn::kCtrlErr);
  } else if (wanted & vn::kCtrlVq) {
    const std::uint8_t off[1] = {0};
    EXPECT_EQ(h.control(vn::kCtrlClassRx, vn::kCtrlRxPromisc, off), vn::kCtrlErr);
    EXPECT_TRUE(delivered(other));  // no filtering without CTRL_RX
  } else {
    EXPECT_TRUE(delivered(other));
  }

  // ---- Link status ----
  if (wanted & vn::kStatus) {
    const std::size_t before = h.irq.msix.size();
    h.dev.set_link_up(false);
    ASSERT_EQ(h.irq.msix.size(), before + 1);
    EXPECT_EQ(h.irq.msix.back(), 0U);  // the configuration vector
    EXPECT_EQ(h.dev.mmio_read(virtio::kDeviceCfgOffset + 6, 2), 0U);
  }
  EXPECT_EQ(h.dev.device_status() & virtio::kStatusNeedsReset, 0U);
  EXPECT_EQ(h.dev.counters().rx_bad_chain + h.dev.counters().rx_offload_errors +
                h.dev.counters().rx_too_big_for_buffer + h.dev.counters().rx_hold,
            0U);
}

TEST_P(VirtioNetFeatures, EveryOffloadControlAndConfigCombination) {
  const std::uint64_t tx_sets[] = {0, vn::kCsum, vn::kCsum | vn::kHostTso4 | vn::kHostTso6};
  const std::uint64_t rx_sets[] = {0, vn::kGuestCsum, vn::kGuestCsum | vn::kGuestTso4 | vn::kGuestTso6};
  const std::uint64_t ctrl_sets[] = {0, vn::kCtrlVq, vn::kCtrlVq | vn::kCtrlRx | vn::kCtrlRxExtra | vn::kCtrlMacAddr};
  int combos = 0;
  for (const std::uint64_t tx : tx_sets) {
    for (const std::uint64_t rx : rx_sets) {
      for (const std::uint64_t ctrl : ctrl_sets) {
        for (unsigned misc = 0; misc < 8; ++misc) {
          const std::uint64_t m = ((misc & 1U) ? vn::kMtu : 0) | ((misc & 2U) ? vn::kStatus : 0) |
                                  ((misc & 4U) ? vn::kMac : 0);
          SCOPED_TRACE(::testing::Message() << "tx " << std::hex << tx << " rx " << rx << " ctrl " << ctrl
                                            << " misc " << m);
          exercise({tx, rx, ctrl, m});
          ++combos;
          if (HasFatalFailure() || HasFailure()) return;
        }
      }
    }
  }
  EXPECT_EQ(combos, 216);
}

std::string ring_name(const ::testing::TestParamInfo<Param>& param) {
  const bool packed = std::get<0>(param.param), indirect = std::get<1>(param.param);
  const bool event_idx = std::get<2>(param.param), mrg = std::get<3>(param.param);
  return std::string(packed ? "Packed" : "Split") + (indirect ? "Indirect" : "") +
         (event_idx ? "EventIdx" : "") + (mrg ? "MrgRxbuf" : "");
}

INSTANTIATE_TEST_SUITE_P(Rings, VirtioNetFeatures,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(), ::testing::Bool(),
                                            ::testing::Bool()),
                         ring_name);

}  // namespace
}  // namespace aero::devices::vtest
