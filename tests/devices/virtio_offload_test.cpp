// Offloads: the software helpers (header parsing, checksum completion, TCP segmentation) and
// the virtio-net device's use of them and of an OffloadFramePort, both directions, including
// requests that do not match the frame.
#include <gtest/gtest.h>

#include "virtio_test_driver.h"

namespace aero::devices::vtest {
namespace {

constexpr std::uint64_t kAllOffloads = vn::kMac | vn::kCsum | vn::kHostTso4 | vn::kHostTso6 |
                                       vn::kGuestCsum | vn::kGuestTso4 | vn::kGuestTso6 | vn::kMrgRxbuf;

NetHeader tso_header(bool v6, std::uint16_t mss) {
  NetHeader h;
  h.flags = vn::kHdrNeedsCsum;
  h.gso_type = v6 ? vn::kGsoTcpv6 : vn::kGsoTcpv4;
  h.gso_size = mss;
  h.hdr_len = static_cast<std::uint16_t>(v6 ? 74 : 54);
  h.csum_start = static_cast<std::uint16_t>(v6 ? 54 : 34);
  h.csum_offset = 16;
  return h;
}

TEST(NetOffload, ParsesTcpFramesWithTagsAndOptions) {
  Bytes f = tcp_frame(false, 100, 1, false, 0x18, 12);
  auto l = parse_tcp_frame(f);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->l3_offset, 14U);
  EXPECT_EQ(l->l4_offset, 34U);
  EXPECT_EQ(l->header_length, 34U + 32U);
  EXPECT_FALSE(l->ipv6);
  // Insert an 802.1Q tag.
  Bytes tagged(f.begin(), f.begin() + 12);
  tagged.insert(tagged.end(), {0x81, 0x00, 0x00, 0x05});
  tagged.insert(tagged.end(), f.begin() + 12, f.end());
  l = parse_tcp_frame(tagged);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->l4_offset, 38U);
  const Bytes v6 = tcp_frame(true, 10, 1, false);
  l = parse_tcp_frame(v6);
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->ipv6);
  EXPECT_EQ(l->header_length, 74U);
  // Not TCP, a fragment, truncated headers, a bad data offset.
  Bytes udp = f;
  udp[23] = 17;
  EXPECT_FALSE(parse_tcp_frame(udp));
  Bytes fragment = f;
  fragment[20] = 0x20;  // MF
  EXPECT_FALSE(parse_tcp_frame(fragment));
  EXPECT_FALSE(parse_tcp_frame(ByteSpan(f).first(40)));
  Bytes bad = f;
  bad[34 + 12] = 0x40;  // data offset 16 bytes
  EXPECT_FALSE(parse_tcp_frame(bad));
  EXPECT_FALSE(parse_tcp_frame(ethernet(kDeviceMac, 0x0806, 60, 0)));
}

TEST(NetOffload, CompletesChecksumsWithinBounds) {
  Bytes f = tcp_frame(false, 333, 9, true);
  ASSERT_FALSE(tcp_checksums_ok(f));
  EXPECT_TRUE(complete_checksum(f, 34, 16));
  EXPECT_TRUE(tcp_checksums_ok(f));
  EXPECT_FALSE(complete_checksum(f, f.size(), 0));
  EXPECT_FALSE(complete_checksum(f, f.size() - 1, 0));
  EXPECT_FALSE(complete_checksum(f, 34, f.size()));
  EXPECT_FALSE(complete_checksum(f, 0xFFFF, 0xFFFF));
}

TEST(NetOffload, SegmentsWithFlagsIdsAndChecksums) {
  const Bytes f = tcp_frame(false, 5000, 0xFFFFF000U, true, 0x80 | 0x18 | 0x01);  // CWR PSH ACK FIN
  TcpSegmenter seg;
  ASSERT_TRUE(seg.start(f, GsoType::tcpv4, 1460, 1024));
  ASSERT_EQ(seg.segment_count(), 4U);
  Bytes out(seg.max_segment_length());
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t n = seg.build(i, out);
    const Bytes s(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_TRUE(tcp_checksums_ok(s)) << i;
    EXPECT_EQ(n, 54 + (i < 3 ? 1460U : 5000U - 3 * 1460U));
    EXPECT_EQ((s[16] << 8) | s[17], static_cast<int>(n - 14));         // total length
    EXPECT_EQ((s[18] << 8) | s[19], static_cast<int>(0x1234 + i));     // identification
    const std::uint8_t flags = s[34 + 13];
    EXPECT_EQ((flags & 0x80) != 0, i == 0) << "CWR only on the first";
    EXPECT_EQ((flags & 0x09) != 0, i == 3) << "FIN and PSH only on the last";
    const std::uint32_t seq = (std::uint32_t{s[38]} << 24) | (std::uint32_t{s[39]} << 16) |
                              (std::uint32_t{s[40]} << 8) | s[41];
    EXPECT_EQ(seq, 0xFFFFF000U + static_cast<std::uint32_t>(1460 * i));  // wraps
  }
  EXPECT_EQ(seg.build(4, out), 0U);
  EXPECT_EQ(seg.build(0, std::span<std::uint8_t>(out.data(), 10)), 0U);
  EXPECT_FALSE(seg.start(f, GsoType::tcpv6, 1460, 1024));  // wrong IP version
  EXPECT_FALSE(seg.start(f, GsoType::tcpv4, 0, 1024));
  EXPECT_FALSE(seg.start(f, GsoType::tcpv4, 4, 1024));       // too many segments
  const Bytes empty = tcp_frame(true, 0, 5, true);
  ASSERT_TRUE(seg.start(empty, GsoType::tcpv6, 1000, 1024));
  EXPECT_EQ(seg.segment_count(), 1U);
}

TEST(VirtioOffload, TsoFromGuestGoesWholeToAnOffloadPort) {
  NetHarness h;
  h.tx_slot = 0x11000;
  OffloadPort offload;
  h.dev.set_offload_port(&offload);
  ASSERT_TRUE(h.bring_up(kAllOffloads, {}, 32));
  const Bytes big = tcp_frame(false, 60000, 1, true);
  h.send(big, tso_header(false, 1448), 8);
  ASSERT_EQ(offload.frames.size(), 1U);
  EXPECT_TRUE(h.port.frames.empty());
  EXPECT_EQ(offload.frames[0].first, big);
  const FrameOffload& o = offload.frames[0].second;
  EXPECT_TRUE(o.needs_csum);
  EXPECT_EQ(o.gso, GsoType::tcpv4);
  EXPECT_EQ(o.gso_size, 1448U);
  EXPECT_EQ(o.hdr_len, 54U);
  EXPECT_EQ(o.csum_start, 34U);
  EXPECT_EQ(o.csum_offset, 16U);
  // A partial checksum goes whole too.
  NetHeader csum;
  csum.flags = vn::kHdrNeedsCsum;
  csum.csum_start = 34;
  csum.csum_offset = 16;
  h.send(tcp_frame(false, 100, 1, true), csum);
  ASSERT_EQ(offload.frames.size(), 2U);
  EXPECT_TRUE(offload.frames[1].second.needs_csum);
  EXPECT_EQ(offload.frames[1].second.gso, GsoType::none);
  // A backend that takes only smaller frames, or not this GSO type: the device segments.
  offload.caps.max_frame = 9000;
  h.send(big, tso_header(false, 1448), 8);
  EXPECT_EQ(h.port.frames.size(), 42U);
  offload.caps = OffloadCaps{false, false, false, 65600};
  h.port.frames.clear();
  h.send(tcp_frame(true, 3000, 1, true), tso_header(true, 1000), 2);
  EXPECT_EQ(h.port.frames.size(), 3U);
  EXPECT_EQ(offload.frames.size(), 2U);
  EXPECT_EQ(h.dev.counters().tx_offloaded, 2U);
  EXPECT_EQ(h.dev.counters().tx_gso_segments, 45U);
}

TEST(VirtioOffload, BadTransmitRequestsAreCounted) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kCsum | vn::kHostTso4));
  // GSO type not negotiated (TCPv6), or unknown (UDP).
  h.send(tcp_frame(true, 3000, 1, true), tso_header(true, 1000), 2);
  NetHeader udp = tso_header(false, 1000);
  udp.gso_type = vn::kGsoUdp;
  h.send(tcp_frame(false, 3000, 1, true), udp, 2);
  EXPECT_EQ(h.dev.counters().tx_bad_header, 2U);
  // MSS 0; a GSO request on a frame that is not TCP; checksum offsets past the frame.
  h.send(tcp_frame(false, 3000, 1, true), tso_header(false, 0), 2);
  Bytes not_tcp = tcp_frame(false, 3000, 1, true);
  not_tcp[23] = 17;
  h.send(not_tcp, tso_header(false, 1000), 2);
  NetHeader csum;
  csum.flags = vn::kHdrNeedsCsum;
  csum.csum_start = 2000;
  h.send(tcp_frame(false, 100, 1, true), csum);
  EXPECT_EQ(h.dev.counters().tx_offload_errors, 3U);
  EXPECT_TRUE(h.port.frames.empty());
  // With the checksum segment written by a wrong seed the segments are still right.
  Bytes wrong_seed = tcp_frame(false, 3000, 1, true);
  wrong_seed[50] ^= 0x5A;
  h.send(wrong_seed, tso_header(false, 1000), 2);
  ASSERT_EQ(h.port.frames.size(), 3U);
  for (const Bytes& s : h.port.frames) EXPECT_TRUE(tcp_checksums_ok(s));
}

TEST(VirtioOffload, ChecksumFlagIgnoredWithoutCsum) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac));
  const Bytes f = tcp_frame(false, 100, 1, true);
  NetHeader csum;
  csum.flags = vn::kHdrNeedsCsum;
  csum.csum_start = 34;
  csum.csum_offset = 16;
  h.send(f, csum);
  ASSERT_EQ(h.port.frames.size(), 1U);
  EXPECT_EQ(h.port.frames[0], f);  // sent as it is (§5.1.6.2.1: the flag is not used)
}

TEST(VirtioOffload, ReceiveOffloadsTowardTheGuest) {
  NetHarness h({}, 32U << 20);
  h.rx_slot = 0x11000;
  h.rx_buffer_size = 0x10800;
  ASSERT_TRUE(h.bring_up(vn::kMac | vn::kGuestCsum | vn::kGuestTso4, {}, 16));
  h.post_rx(16);
  // A GSO frame whose checksum is complete: the device puts the pseudo-header seed back.
  const Bytes full = tcp_frame(false, 30000, 1, false);
  FrameOffload gso;
  gso.gso = GsoType::tcpv4;
  gso.gso_size = 1448;
  ASSERT_EQ(h.dev.receive(full, gso), RxResult::accepted);
  auto got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->header.flags, vn::kHdrNeedsCsum);
  EXPECT_EQ(got->frame, tcp_frame(false, 30000, 1, true));
  // DATA_VALID passes through with GUEST_CSUM.
  FrameOffload valid;
  valid.csum_valid = true;
  ASSERT_EQ(h.dev.receive(full, valid), RxResult::accepted);
  got = h.next_rx();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->header.flags, vn::kHdrDataValid);
  // TCPv6 GSO is not negotiated: segmented with complete checksums, marked DATA_VALID.
  h.post_rx(16);
  const Bytes v6 = tcp_frame(true, 4000, 1, true);
  FrameOffload gso6;
  gso6.needs_csum = true;
  gso6.csum_start = 54;
  gso6.csum_offset = 16;
  gso6.gso = GsoType::tcpv6;
  gso6.gso_size = 1400;
  ASSERT_EQ(h.dev.receive(v6, gso6), RxResult::accepted);
  for (int i = 0; i < 3; ++i) {
    got = h.next_rx();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->header.flags, vn::kHdrDataValid);
    EXPECT_TRUE(tcp_checksums_ok(got->frame));
  }
  EXPECT_EQ(h.dev.counters().rx_gso_segments, 3U);
  // Inconsistent requests.
  FrameOffload bad = gso;
  bad.gso_size = 0;
  EXPECT_EQ(h.dev.receive(full, bad), RxResult::dropped);
  bad = gso6;  // IPv6 GSO on an IPv4 frame
  EXPECT_EQ(h.dev.receive(full, bad), RxResult::dropped);
  FrameOffload csum;
  csum.needs_csum = true;
  csum.csum_start = 60000;
  EXPECT_EQ(h.dev.receive(tcp_frame(false, 10, 1, true), csum), RxResult::dropped);
  EXPECT_EQ(h.dev.counters().rx_offload_errors, 3U);
}

TEST(VirtioOffload, SegmentedReceiveIsAllOrNothing) {
  NetHarness h;
  ASSERT_TRUE(h.bring_up(vn::kMac, {}, 16));
  const Bytes big = tcp_frame(false, 10000, 1, true);
  FrameOffload gso;
  gso.needs_csum = true;
  gso.csum_start = 34;
  gso.csum_offset = 16;
  gso.gso = GsoType::tcpv4;
  gso.gso_size = 1448;
  h.post_rx(4);  // 7 segments need 7 buffers
  EXPECT_EQ(h.dev.receive(big, gso), RxResult::hold);
  EXPECT_FALSE(h.rxq.pop_used());
  h.post_rx(3);
  EXPECT_EQ(h.dev.receive(big, gso), RxResult::accepted);
  int segments = 0;
  while (auto got = h.next_rx()) {
    EXPECT_TRUE(tcp_checksums_ok(got->frame));
    EXPECT_EQ(got->header.flags, 0U);
    ++segments;
  }
  EXPECT_EQ(segments, 7);
  // More segments than the ring has buffers: dropped.
  h.post_rx(16);
  const Bytes huge = tcp_frame(false, 40000, 1, true);
  EXPECT_EQ(h.dev.receive(huge, gso), RxResult::dropped);
  EXPECT_EQ(h.dev.counters().rx_too_big_for_ring, 1U);
}

}  // namespace
}  // namespace aero::devices::vtest
