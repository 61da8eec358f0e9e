// Virtio-net headers on TAP devices (tap_device.h): completing the partial checksums of frames
// the guest's kernel hands us, and the header and partial checksum of an offloaded TCP segment
// toward the guest. The writes go to a pipe, which takes writev() like the TAP device does.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>

#include "aero/host/tap_device.h"
#include "aero/wire/checksum.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/ipv4.h"
#include "aero/wire/tcp.h"

namespace aero::host {
namespace {

const Ipv4Address kGuest{10, 0, 2, 15};
const Ipv4Address kRemote{203, 0, 113, 9};
constexpr std::size_t kEthernet = 14;
constexpr std::size_t kTcpAt = kEthernet + 20;

// Ethernet + IPv4 + TCP (20-byte header) + `data`, every checksum complete.
Bytes tcp_frame(std::size_t data_length) {
  Bytes payload(data_length);
  for (std::size_t i = 0; i < data_length; ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + 3);
  wire::TcpHeader tcp;
  tcp.source_port = 80;
  tcp.destination_port = 40000;
  tcp.sequence_number = 1000;
  tcp.ack_number = 2000;
  tcp.flags = wire::kTcpAck;
  tcp.window = 512;
  Bytes frame(kTcpAt + tcp.length(data_length));
  const wire::EthernetHeader ethernet{wire::MacAddress{{2, 0, 0, 0, 0, 1}},
                                      wire::MacAddress{{2, 0, 0, 0, 0, 2}}, wire::kEtherTypeIpv4, {}};
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtocolTcp;
  ip.source = kRemote;
  ip.destination = kGuest;
  ip.payload_length = tcp.length(data_length);
  EXPECT_TRUE(ethernet.emit(frame));
  EXPECT_TRUE(ip.emit(std::span(frame).subspan(kEthernet)));
  EXPECT_TRUE(tcp.emit(std::span(frame).subspan(kTcpAt), payload, kRemote, kGuest));
  return frame;
}

// The pseudo-header sum (RFC 9293 §3.1) a partial checksum field holds.
std::uint16_t pseudo_header_sum(ByteSpan frame) {
  std::array<std::uint8_t, 12> pseudo{};
  std::memcpy(pseudo.data(), frame.data() + kEthernet + 12, 8);
  pseudo[9] = wire::kIpProtocolTcp;
  wire::store_be16(pseudo, 10, static_cast<std::uint16_t>(frame.size() - kTcpAt));
  return wire::ones_complement_sum(pseudo);
}

// Header fields in host order (x86: little-endian), as the kernel lays them out.
struct Header {
  std::uint8_t flags, gso_type;
  std::uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
Bytes with_header(const Header& h, ByteSpan frame) {
  Bytes read(kVnetHeaderLength);
  read[0] = h.flags;
  read[1] = h.gso_type;
  std::memcpy(read.data() + 2, &h.hdr_len, 2);
  std::memcpy(read.data() + 4, &h.gso_size, 2);
  std::memcpy(read.data() + 6, &h.csum_start, 2);
  std::memcpy(read.data() + 8, &h.csum_offset, 2);
  read.insert(read.end(), frame.begin(), frame.end());
  return read;
}

TEST(TapVnet, FrameWithoutOffloadComesOutUnchanged) {
  const Bytes frame = tcp_frame(100);
  Bytes read = with_header({}, frame);
  auto out = tap_frame_from_read(read);
  ASSERT_TRUE(out);
  EXPECT_EQ(Bytes(out->begin(), out->end()), frame);
}

TEST(TapVnet, PartialChecksumIsCompleted) {
  const Bytes frame = tcp_frame(3001);  // odd length: the last byte is padded (RFC 1071)
  Bytes partial = frame;
  wire::store_be16(partial, kTcpAt + 16, pseudo_header_sum(frame));
  Bytes read = with_header({1, 0, 0, 0, kTcpAt, 16}, partial);
  auto out = tap_frame_from_read(read);
  ASSERT_TRUE(out);
  EXPECT_EQ(Bytes(out->begin(), out->end()), frame);
}

TEST(TapVnet, ChecksumPositionOutsideTheFrameIsRefused) {
  const Bytes frame = tcp_frame(10);
  Bytes read = with_header({1, 0, 0, 0, static_cast<std::uint16_t>(frame.size() - 1), 0}, frame);
  EXPECT_FALSE(tap_frame_from_read(read));
  Bytes far = with_header({1, 0, 0, 0, kTcpAt, 0xFFFF}, frame);
  EXPECT_FALSE(tap_frame_from_read(far));
  Bytes short_read(kVnetHeaderLength - 1);
  EXPECT_FALSE(tap_frame_from_read(short_read));
}

class TapVnetWrite : public testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::pipe(fds_.data()), 0); }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  Bytes read_all(std::size_t n) {
    Bytes out(n);
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::read(fds_[0], out.data() + got, n - got);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }
  std::array<int, 2> fds_{};
};

TEST_F(TapVnetWrite, OrdinaryFrameGetsAnAllZeroHeader) {
  const Bytes frame = tcp_frame(50);
  ASSERT_TRUE(write_tap_frame(fds_[1], true, frame));
  const Bytes written = read_all(kVnetHeaderLength + frame.size());
  EXPECT_EQ(Bytes(written.begin(), written.begin() + kVnetHeaderLength), Bytes(kVnetHeaderLength, 0));
  EXPECT_EQ(Bytes(written.begin() + kVnetHeaderLength, written.end()), frame);
  ASSERT_TRUE(write_tap_frame(fds_[1], false, frame));
  EXPECT_EQ(read_all(frame.size()), frame);
}

TEST_F(TapVnetWrite, OffloadedSegmentCarriesTsoHeaderAndPartialChecksum) {
  const Bytes frame = tcp_frame(4380);
  ASSERT_TRUE(write_tap_tcp_segment(fds_[1], frame, 1460));
  const Bytes written = read_all(kVnetHeaderLength + frame.size());
  ASSERT_EQ(written.size(), kVnetHeaderLength + frame.size());
  Header h{};
  h.flags = written[0];
  h.gso_type = written[1];
  std::memcpy(&h.hdr_len, written.data() + 2, 2);
  std::memcpy(&h.gso_size, written.data() + 4, 2);
  std::memcpy(&h.csum_start, written.data() + 6, 2);
  std::memcpy(&h.csum_offset, written.data() + 8, 2);
  EXPECT_EQ(h.flags, 1);     // VIRTIO_NET_HDR_F_NEEDS_CSUM
  EXPECT_EQ(h.gso_type, 1);  // VIRTIO_NET_HDR_GSO_TCPV4
  EXPECT_EQ(h.hdr_len, kTcpAt + 20);
  EXPECT_EQ(h.gso_size, 1460);
  EXPECT_EQ(h.csum_start, kTcpAt);
  EXPECT_EQ(h.csum_offset, 16);
  const ByteSpan body = ByteSpan(written).subspan(kVnetHeaderLength);
  EXPECT_EQ(wire::load_be16(body, kTcpAt + 16), pseudo_header_sum(frame));
  // Everything but the checksum field is the session's frame, byte for byte; and completing
  // the checksum as the kernel does gives back the session's.
  Bytes completed(written.begin(), written.end());
  auto out = tap_frame_from_read(completed);
  ASSERT_TRUE(out);
  EXPECT_EQ(Bytes(out->begin(), out->end()), frame);
}

TEST_F(TapVnetWrite, NonTcpOrTruncatedFramesAreNotOffloaded) {
  Bytes frame = tcp_frame(100);
  EXPECT_FALSE(write_tap_tcp_segment(fds_[1], ByteSpan(frame).first(40), 1460));
  EXPECT_FALSE(write_tap_tcp_segment(fds_[1], frame, 0));
  frame[kEthernet + 9] = wire::kIpProtocolUdp;
  EXPECT_FALSE(write_tap_tcp_segment(fds_[1], frame, 1460));
  frame[kEthernet + 9] = wire::kIpProtocolTcp;
  frame[kTcpAt + 12] = 0x40;  // a TCP header length of 16: malformed
  EXPECT_FALSE(write_tap_tcp_segment(fds_[1], frame, 1460));
}

}  // namespace
}  // namespace aero::host
