// The pcapng writer: file naming, block layout, the byte cap, create-new semantics.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "aero/services/l2_proxy/pcapng.h"

namespace aero::l2proxy {
namespace {

struct TempDir {
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("aero-pcapng-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

std::uint32_t le32(const Bytes& b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) |
         (static_cast<std::uint32_t>(b[at + 3]) << 24);
}

TEST(L2ProxyPcapng, FileName) {
  EXPECT_EQ(capture_file_name(7, 1700000000123), "1700000000123-session-7.pcapng");
  EXPECT_EQ(capture_file_name(1, 42), "0000000000042-session-1.pcapng");
}

TEST(L2ProxyPcapng, BlocksAndDirections) {
  TempDir dir;
  auto writer = PcapngWriter::create(dir.path.string(), 3, 1700000000000, 0);
  ASSERT_TRUE(writer) << writer.error().message;
  const Bytes frame(60, 0xAB);
  ASSERT_TRUE((*writer)->write(frame, PcapngWriter::Direction::inbound, 1'000'000'000'123ULL));
  ASSERT_TRUE((*writer)->write(Bytes(61, 0xCD), PcapngWriter::Direction::outbound, 2));
  (*writer)->flush();
  const Bytes file = read_file((*writer)->path());
  ASSERT_EQ(file.size(), (*writer)->bytes_written());
  // Section header: type, length repeated at the end, byte-order magic.
  EXPECT_EQ(le32(file, 0), 0x0A0D0D0AU);
  const std::uint32_t shb = le32(file, 4);
  EXPECT_EQ(le32(file, 8), 0x1A2B3C4DU);
  EXPECT_EQ(le32(file, shb - 4), shb);
  // Interface description: Ethernet, snaplen 65535.
  const std::uint32_t idb_at = shb;
  EXPECT_EQ(le32(file, idb_at), 1U);
  EXPECT_EQ(file[idb_at + 8], 1);
  EXPECT_EQ(le32(file, idb_at + 12), 65535U);
  // First enhanced packet block: interface 0, timestamp, lengths, data, epb_flags inbound.
  const std::uint32_t epb_at = idb_at + le32(file, idb_at + 4);
  EXPECT_EQ(le32(file, epb_at), 6U);
  EXPECT_EQ(le32(file, epb_at + 12), static_cast<std::uint32_t>(1'000'000'000'123ULL >> 32));
  EXPECT_EQ(le32(file, epb_at + 16), static_cast<std::uint32_t>(1'000'000'000'123ULL));
  EXPECT_EQ(le32(file, epb_at + 20), 60U);
  EXPECT_EQ(le32(file, epb_at + 24), 60U);
  EXPECT_EQ(file[epb_at + 28], 0xAB);
  EXPECT_EQ(file[epb_at + 28 + 60], 2);      // option code epb_flags
  EXPECT_EQ(file[epb_at + 28 + 60 + 4], 1);  // inbound
  const std::uint32_t second = epb_at + le32(file, epb_at + 4);
  EXPECT_EQ(le32(file, second + 20), 61U);
  EXPECT_EQ(file[second + 28 + 64 + 4], 2);  // outbound, after 61 bytes padded to 64
  EXPECT_EQ(second + le32(file, second + 4), file.size());
  EXPECT_EQ((*writer)->frames_written(), 2U);
}

TEST(L2ProxyPcapng, CapStopsTheCaptureForGood) {
  TempDir dir;
  auto writer = PcapngWriter::create(dir.path.string(), 4, 1, 400);
  ASSERT_TRUE(writer);
  const Bytes frame(100, 1);
  std::size_t written = 0;
  for (int i = 0; i < 10; ++i) written += (*writer)->write(frame, PcapngWriter::Direction::inbound, 1) ? 1U : 0U;
  EXPECT_GT(written, 0U);
  EXPECT_LT(written, 10U);
  EXPECT_EQ((*writer)->frames_dropped(), 10U - written);
  EXPECT_LE((*writer)->bytes_written(), 400U);
  // A small frame that would still fit is not written either: capture stopped.
  EXPECT_FALSE((*writer)->write(Bytes(1, 0), PcapngWriter::Direction::inbound, 1));
  EXPECT_FALSE((*writer)->error());
}

TEST(L2ProxyPcapng, NeverOverwrites) {
  TempDir dir;
  auto first = PcapngWriter::create(dir.path.string(), 5, 9, 0);
  ASSERT_TRUE(first);
  auto second = PcapngWriter::create(dir.path.string(), 5, 9, 0);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, "capture_open");
  EXPECT_FALSE(PcapngWriter::create((dir.path / "missing").string(), 6, 9, 0));
}

}  // namespace
}  // namespace aero::l2proxy
