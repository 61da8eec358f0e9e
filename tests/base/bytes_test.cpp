// ByteReader / ByteWriter: big-endian order and bounds.
#include "aero/base/bytes.h"

#include <gtest/gtest.h>

namespace aero {
namespace {

TEST(ByteReader, ReadsBigEndianFields) {
  const Bytes data{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
                   0x0C, 0x0D, 0x0E, 0x0F};
  ByteReader reader(data);
  EXPECT_EQ(reader.u8(), 0x01);
  EXPECT_EQ(reader.u16be(), 0x0203);
  EXPECT_EQ(reader.u32be(), 0x04050607U);
  EXPECT_EQ(reader.u64be(), 0x08090A0B0C0D0E0FULL);
  EXPECT_TRUE(reader.empty());
}

TEST(ByteReader, RefusesToReadPastTheEndAndKeepsItsPlace) {
  const Bytes data{0xAA, 0xBB, 0xCC};
  ByteReader reader(data);
  EXPECT_FALSE(reader.u32be().has_value());
  EXPECT_EQ(reader.position(), 0U);
  EXPECT_FALSE(reader.take(4).has_value());
  EXPECT_EQ(reader.u16be(), 0xAABB);
  EXPECT_FALSE(reader.u16be().has_value());
  EXPECT_EQ(reader.remaining(), 1U);
  EXPECT_EQ(reader.rest().size(), 1U);
  EXPECT_FALSE(reader.u8().has_value());
  EXPECT_EQ(ByteReader(ByteSpan{}).take(0)->size(), 0U);
}

TEST(ByteWriter, WritesBigEndianFields) {
  Bytes out;
  ByteWriter writer(out);
  writer.u8(0x01);
  writer.u16be(0x0203);
  writer.u32be(0x04050607);
  writer.u64be(0x08090A0B0C0D0E0FULL);
  writer.bytes(std::string_view("hi"));
  const Bytes expected{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                       0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 'h',  'i'};
  EXPECT_EQ(out, expected);
  EXPECT_EQ(writer.size(), expected.size());
}

}  // namespace
}  // namespace aero
