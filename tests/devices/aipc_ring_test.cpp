// The AIPC layout and ring: layout validation, record bytes, wrap marker, implicit padding,
// Full, TooLarge, every Corrupt case, the capped pop, delayed commits, a cross-check against an
// independent reader and writer written here from the layout, and two-thread stress tests.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "aero/devices/aipc_ring.h"

namespace {

using aero::Bytes;
using aero::ByteSpan;
namespace aipc = aero::devices::aipc;
using aipc::AipcRing;
using aipc::PopStatus;
using aipc::PushStatus;

// ---- Plain little-endian byte access, independent of the ring code --------------------------

std::uint32_t rd32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}
void wr32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// 4-aligned storage for a ring region or a buffer.
struct Memory {
  explicit Memory(std::size_t bytes) : words((bytes + 3) / 4, 0), size(bytes) {}
  std::span<std::uint8_t> span() {
    return {reinterpret_cast<std::uint8_t*>(words.data()), size};  // NOLINT
  }
  std::uint8_t* data() { return span().data(); }
  std::vector<std::uint32_t> words;
  std::size_t size;
};

// A ring of `capacity` data bytes in its own memory.
struct Ring {
  explicit Ring(std::uint32_t capacity)
      : mem(aipc::kRingHeaderBytes + capacity), ring(*AipcRing::format(mem.span(), capacity)) {}
  std::uint32_t head() { return rd32(mem.data()); }
  std::uint32_t reserve() { return rd32(mem.data() + 4); }
  std::uint32_t commit() { return rd32(mem.data() + 8); }
  std::uint8_t* data() { return mem.data() + aipc::kRingHeaderBytes; }
  Memory mem;
  AipcRing ring;
};

Bytes payload(std::size_t size, std::uint32_t seed) {
  Bytes b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(seed * 131 + i * 7);
  return b;
}

Bytes pop(AipcRing& ring, std::size_t cap = 4096) {
  Bytes out(cap);
  const auto r = ring.try_pop(out);
  EXPECT_EQ(r.status, PopStatus::ok);
  out.resize(r.status == PopStatus::ok ? r.length : 0);
  return out;
}

// ---- Layout ---------------------------------------------------------------------------------

TEST(AipcLayout, SizeMatchesAeroFormula) {
  const aipc::QueueSpec queues[] = {{aipc::queue_kind::cmd, 64},
                                    {aipc::queue_kind::evt, 128},
                                    {aipc::queue_kind::net_tx, aipc::kNetRingCapacity},
                                    {aipc::queue_kind::net_rx, aipc::kNetRingCapacity}};
  const auto size = aipc::buffer_size(queues);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 16U + 4 * 16 + (16 + 64) + (16 + 128) + 2 * (16 + 512 * 1024));
  const aipc::QueueSpec bad[] = {{0, 6}};
  EXPECT_FALSE(aipc::buffer_size(bad));  // not a multiple of 4
  const aipc::QueueSpec zero[] = {{0, 0}};
  EXPECT_FALSE(aipc::buffer_size(zero));
  const aipc::QueueSpec huge[] = {{0, 0xFFFFFFF0U}, {1, 0xFFFFFFF0U}};
  EXPECT_FALSE(aipc::buffer_size(huge));
}

TEST(AipcLayout, FormatWritesHeaderDescriptorsAndRingHeaders) {
  const aipc::QueueSpec queues[] = {{aipc::queue_kind::net_tx, 256},
                                    {aipc::queue_kind::net_rx, 512}};
  Memory m(*aipc::buffer_size(queues));
  ASSERT_TRUE(aipc::format_buffer(m.span(), queues).ok());
  const std::uint8_t* b = m.data();
  EXPECT_EQ(rd32(b), 0x43504941U);
  EXPECT_EQ(std::memcmp(b, "AIPC", 4), 0);
  EXPECT_EQ(rd32(b + 4), 1U);
  EXPECT_EQ(rd32(b + 8), m.size);
  EXPECT_EQ(rd32(b + 12), 2U);
  // Descriptor 0 at 16, descriptor 1 at 32; rings start right after the table (48).
  EXPECT_EQ(rd32(b + 16), 2U);
  EXPECT_EQ(rd32(b + 20), 48U);
  EXPECT_EQ(rd32(b + 24), 256U);
  EXPECT_EQ(rd32(b + 28), 0U);
  EXPECT_EQ(rd32(b + 32), 3U);
  EXPECT_EQ(rd32(b + 36), 48U + 16 + 256);
  EXPECT_EQ(rd32(b + 40), 512U);
  EXPECT_EQ(rd32(b + 48 + 12), 256U);  // ring header capacity word
  EXPECT_EQ(rd32(b + 48), 0U);
  const auto rx = aipc::find_queue(m.span(), aipc::queue_kind::net_rx);
  ASSERT_TRUE(rx.ok());
  EXPECT_EQ(rx->offset_bytes, 48U + 16 + 256);
  EXPECT_EQ(rx->capacity_bytes, 512U);
  EXPECT_EQ(aipc::find_queue(m.span(), aipc::queue_kind::hid_in).error().kind, "not_found");
  EXPECT_EQ(aipc::find_queue(m.span(), aipc::queue_kind::net_tx, 1).error().kind, "not_found");
  // The wrong size is refused.
  Memory small(m.size - 4);
  EXPECT_FALSE(aipc::format_buffer(small.span(), queues).ok());
}

TEST(AipcLayout, FindQueueRejectsEveryInvalidLayout) {
  const aipc::QueueSpec queues[] = {{aipc::queue_kind::net_tx, 64}};
  Memory good(*aipc::buffer_size(queues));
  ASSERT_TRUE(aipc::format_buffer(good.span(), queues).ok());
  const auto expect_error = [&](auto mutate, std::string_view kind) {
    Memory m = good;
    mutate(m.data());
    const auto r = aipc::find_queue(m.span(), aipc::queue_kind::net_tx);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, kind);
  };
  expect_error([](std::uint8_t* b) { wr32(b, 0x43504942); }, "bad_magic");
  expect_error([](std::uint8_t* b) { wr32(b + 4, 2); }, "bad_version");
  expect_error([](std::uint8_t* b) { wr32(b + 8, 1000); }, "length_mismatch");
  expect_error([](std::uint8_t* b) { wr32(b + 12, 1000); }, "too_short");
  expect_error([](std::uint8_t* b) { wr32(b + 28, 1); }, "bad_descriptor");     // reserved
  expect_error([](std::uint8_t* b) { wr32(b + 20, 34); }, "bad_descriptor");    // misaligned
  expect_error([](std::uint8_t* b) { wr32(b + 24, 66); }, "bad_descriptor");    // capacity % 4
  expect_error([](std::uint8_t* b) { wr32(b + 24, 68); }, "bad_descriptor");    // past the end
  expect_error([](std::uint8_t* b) { wr32(b + 20, 16); }, "bad_descriptor");    // over the table
  expect_error([](std::uint8_t* b) { wr32(b + 32 + 12, 60); }, "bad_descriptor");  // ring cap
  EXPECT_EQ(aipc::find_queue(ByteSpan(good.data(), 8), 2).error().kind, "too_short");
}

// ---- Ring basics ----------------------------------------------------------------------------

TEST(AipcRing, AttachValidatesRegion) {
  Memory m(16 + 64);
  EXPECT_FALSE(AipcRing::attach(m.span()).ok());  // capacity word 0
  wr32(m.data() + 12, 65);
  EXPECT_FALSE(AipcRing::attach(m.span()).ok());  // does not fit
  wr32(m.data() + 12, 64);
  EXPECT_TRUE(AipcRing::attach(m.span()).ok());
  EXPECT_FALSE(AipcRing::attach(m.span().subspan(0, 12)).ok());
  EXPECT_FALSE(AipcRing::attach(m.span().subspan(1, 64)).ok());  // misaligned
  EXPECT_FALSE(AipcRing::format(m.span(), 4).ok());               // below the minimum
  EXPECT_FALSE(AipcRing::format(m.span(), 100).ok());
}

TEST(AipcRing, RecordBytesFollowTheLayout) {
  Ring r(64);
  ASSERT_EQ(r.ring.try_push(payload(5, 1)), PushStatus::ok);
  ASSERT_EQ(r.ring.try_push({}), PushStatus::ok);  // empty payloads are legal
  EXPECT_EQ(rd32(r.data()), 5U);
  EXPECT_EQ(std::memcmp(r.data() + 4, payload(5, 1).data(), 5), 0);
  EXPECT_EQ(r.data()[9], 0);  // padding to 12
  EXPECT_EQ(rd32(r.data() + 12), 0U);
  EXPECT_EQ(r.reserve(), 16U);
  EXPECT_EQ(r.commit(), 16U);
  EXPECT_EQ(r.ring.used_bytes(), 16U);
  EXPECT_EQ(pop(r.ring), payload(5, 1));
  EXPECT_EQ(pop(r.ring), Bytes{});
  EXPECT_TRUE(r.ring.empty());
  Bytes out(8);
  EXPECT_EQ(r.ring.try_pop(out).status, PopStatus::empty);
}

TEST(AipcRing, WrapMarkerWhenRecordDoesNotFitBeforeTheEnd) {
  Ring r(64);
  for (std::uint32_t i = 0; i < 3; ++i) ASSERT_EQ(r.ring.try_push(payload(12, i)), PushStatus::ok);
  // tail = 48; 16 bytes remain: a 20-byte record does not fit before the end.
  EXPECT_EQ(pop(r.ring), payload(12, 0));
  EXPECT_EQ(pop(r.ring), payload(12, 1));
  ASSERT_EQ(r.ring.try_push(payload(16, 7)), PushStatus::ok);
  EXPECT_EQ(rd32(r.data() + 48), aipc::kWrapMarker);
  EXPECT_EQ(rd32(r.data()), 16U);  // the record starts over at offset 0
  EXPECT_EQ(r.reserve(), 48U + 16 + 20);
  EXPECT_EQ(pop(r.ring), payload(12, 2));
  EXPECT_EQ(pop(r.ring), payload(16, 7));  // the consumer followed the marker
  EXPECT_EQ(r.head(), 84U);
  EXPECT_TRUE(r.ring.empty());
}

TEST(AipcRing, ImplicitPaddingWhenFewerThanFourBytesRemain) {
  Ring r(26);  // not a multiple of 4: 2 bytes remain after two 12-byte records
  ASSERT_EQ(r.ring.try_push(payload(8, 1)), PushStatus::ok);
  ASSERT_EQ(r.ring.try_push(payload(8, 2)), PushStatus::ok);
  EXPECT_EQ(r.ring.try_push(payload(8, 3)), PushStatus::full);  // 2 + 12 > 2 free
  r.data()[24] = 0xEE;
  r.data()[25] = 0xEE;
  EXPECT_EQ(pop(r.ring), payload(8, 1));
  ASSERT_EQ(r.ring.try_push(payload(8, 3)), PushStatus::ok);  // 2 padding + 12 = 14 free
  EXPECT_EQ(r.reserve(), 38U);
  EXPECT_EQ(r.data()[24], 0xEE);  // no marker written into the padding
  EXPECT_EQ(r.data()[25], 0xEE);
  EXPECT_EQ(rd32(r.data()), 8U);
  EXPECT_EQ(pop(r.ring), payload(8, 2));
  EXPECT_EQ(pop(r.ring), payload(8, 3));  // head skipped the 2 bytes
  EXPECT_EQ(r.head(), 38U);
}

TEST(AipcRing, FullCountsPaddingAndMarker) {
  Ring r(64);
  for (std::uint32_t i = 0; i < 4; ++i) ASSERT_EQ(r.ring.try_push(payload(12, i)), PushStatus::ok);
  EXPECT_EQ(r.ring.try_push({}), PushStatus::full);
  EXPECT_EQ(r.commit(), 64U);
  pop(r.ring);
  ASSERT_EQ(r.ring.try_push(payload(12, 4)), PushStatus::ok);  // at offset 0 again
  // Free 0 again; pop two (32 free, at offsets 16..47), tail at 16: a 28-byte record fits.
  pop(r.ring);
  pop(r.ring);
  EXPECT_EQ(r.ring.try_push(payload(24, 5)), PushStatus::ok);
  // tail 44 (index 44): 20 remain, 4 free. A 20-byte record needs no marker but 20 > 4.
  EXPECT_EQ(r.ring.try_push(payload(16, 6)), PushStatus::full);
  EXPECT_EQ(r.reserve(), r.commit());  // a refused push reserves nothing
}

TEST(AipcRing, TooLarge) {
  Ring r(64);
  EXPECT_EQ(r.ring.max_payload(), 60U);
  EXPECT_EQ(r.ring.try_push(payload(61, 0)), PushStatus::too_large);
  EXPECT_EQ(r.ring.try_push(payload(60, 0)), PushStatus::ok);
  Ring odd(26);
  EXPECT_EQ(odd.ring.max_payload(), 20U);
  EXPECT_EQ(odd.ring.try_push(payload(21, 0)), PushStatus::too_large);
  EXPECT_EQ(odd.ring.try_push(payload(20, 0)), PushStatus::ok);
}

TEST(AipcRing, CappedPopSkipsOversizeRecordWithoutCopying) {
  Ring r(256);
  ASSERT_EQ(r.ring.try_push(payload(100, 1)), PushStatus::ok);
  ASSERT_EQ(r.ring.try_push(payload(40, 2)), PushStatus::ok);
  Bytes out(50, 0xAB);
  const auto skipped = r.ring.try_pop(out);
  EXPECT_EQ(skipped.status, PopStatus::too_large);
  EXPECT_EQ(skipped.length, 100U);
  EXPECT_EQ(out, Bytes(50, 0xAB));  // nothing copied
  EXPECT_EQ(r.head(), 104U);        // but consumed
  const auto next = r.ring.try_pop(out);
  ASSERT_EQ(next.status, PopStatus::ok);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 40), payload(40, 2));
}

// ---- Corrupt rings: reported, nothing consumed, nothing read outside --------------------------

struct CorruptCase {
  const char* name;
  void (*mutate)(Ring&);
};

// Each case starts from a ring of 64 bytes whose head is at offset 48 with one committed
// 16-byte record there (payload 12), then damages it.
TEST(AipcRing, CorruptVariantsAreReportedWithoutConsuming) {
  const CorruptCase cases[] = {
      {"length past the end of the data area", [](Ring& r) { wr32(r.data() + 48, 60); }},
      {"huge length", [](Ring& r) { wr32(r.data() + 48, 0xFFFFFFF0U); }},
      {"committed bytes above capacity",
       [](Ring& r) { wr32(r.mem.data() + 8, r.head() + 65); }},
      {"wrap marker at offset 0",
       [](Ring& r) {
         wr32(r.mem.data(), 64);  // head at lap 1, offset 0
         wr32(r.mem.data() + 8, 80);
         wr32(r.data(), aipc::kWrapMarker);
       }},
      {"wrap marker skip past the committed bytes",
       [](Ring& r) {
         wr32(r.data() + 48, aipc::kWrapMarker);  // skips 16 bytes, only 8 committed
         wr32(r.mem.data() + 8, 56);
       }},
  };
  for (const CorruptCase& c : cases) {
    Ring r(64);
    for (std::uint32_t i = 0; i < 3; ++i) ASSERT_EQ(r.ring.try_push(payload(12, i)), PushStatus::ok);
    for (int i = 0; i < 3; ++i) pop(r.ring);
    ASSERT_EQ(r.ring.try_push(payload(12, 3)), PushStatus::ok);
    ASSERT_EQ(r.head(), 48U);
    c.mutate(r);
    const std::uint32_t head = r.head();
    Bytes out(4096);
    EXPECT_EQ(r.ring.try_pop(out).status, PopStatus::corrupt) << c.name;
    EXPECT_EQ(r.head(), head) << c.name;
  }
}

TEST(AipcRing, LengthPastCommittedBytesIsCorrupt) {
  Ring r(64);
  ASSERT_EQ(r.ring.try_push(payload(12, 0)), PushStatus::ok);  // 16 bytes committed
  wr32(r.data(), 20);  // a 24-byte record: fits the data area, not the committed bytes
  Bytes out(64);
  EXPECT_EQ(r.ring.try_pop(out).status, PopStatus::corrupt);
  EXPECT_EQ(r.head(), 0U);
}

TEST(AipcRing, ImplicitPaddingSkipPastCommittedIsCorrupt) {
  Ring r(26);
  wr32(r.mem.data(), 24);      // head at offset 24: 2 bytes of implicit padding
  wr32(r.mem.data() + 4, 25);
  wr32(r.mem.data() + 8, 25);  // only 1 committed byte
  Bytes out(64);
  EXPECT_EQ(r.ring.try_pop(out).status, PopStatus::corrupt);
  EXPECT_EQ(r.head(), 24U);
}

TEST(AipcRing, ProducerReportsInconsistentCursors) {
  Ring r(64);
  wr32(r.mem.data(), 1000);  // head far ahead of tail_reserve: used wraps to > capacity
  EXPECT_EQ(r.ring.try_push(payload(8, 0)), PushStatus::corrupt);
  EXPECT_EQ(r.reserve(), 0U);
}

// ---- Delayed commit (multi-producer ordering) -------------------------------------------------

TEST(AipcRing, CommitWaitsForEarlierProducerThenPublishes) {
  Ring r(128);
  // Another producer reserved [0, 16) and has not committed yet.
  r.ring.set_commit_spins(100);
  wr32(r.mem.data() + 4, 16);
  ASSERT_EQ(r.ring.try_push(payload(12, 2)), PushStatus::ok);
  EXPECT_TRUE(r.ring.pending_commit());
  EXPECT_EQ(r.commit(), 0U);  // nothing published out of order
  EXPECT_TRUE(r.ring.empty());
  EXPECT_EQ(r.ring.try_push(payload(12, 3)), PushStatus::blocked);
  EXPECT_FALSE(r.ring.publish());
  // The other producer finishes its record and commits.
  wr32(r.data(), 12);
  std::memcpy(r.data() + 4, payload(12, 1).data(), 12);
  wr32(r.mem.data() + 8, 16);
  EXPECT_TRUE(r.ring.publish());
  EXPECT_FALSE(r.ring.pending_commit());
  EXPECT_EQ(r.commit(), 32U);
  EXPECT_EQ(pop(r.ring), payload(12, 1));
  EXPECT_EQ(pop(r.ring), payload(12, 2));
}

// ---- Cross-check with an independent reader and writer ---------------------------------------

// Reads records straight from the bytes of an AIPC buffer, following docs/ipc-protocol.md
// (header, descriptors, ring header words, records, wrap marker, implicit padding) without any
// of the ring code, and advances head as a consumer would.
class IndependentReader {
 public:
  IndependentReader(std::uint8_t* buffer, std::size_t len, std::uint32_t kind) {
    EXPECT_EQ(rd32(buffer), 0x43504941U);
    EXPECT_EQ(rd32(buffer + 4), 1U);
    EXPECT_EQ(rd32(buffer + 8), len);
    const std::uint32_t count = rd32(buffer + 12);
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::uint8_t* d = buffer + 16 + 16 * i;
      if (rd32(d) == kind) {
        ring_ = buffer + rd32(d + 4);
        capacity_ = rd32(d + 8);
        EXPECT_EQ(rd32(ring_ + 12), capacity_);
        return;
      }
    }
    ADD_FAILURE() << "queue kind " << kind << " not found";
  }

  std::optional<Bytes> next() {
    for (;;) {
      const std::uint32_t head = rd32(ring_);
      const std::uint32_t tail_commit = rd32(ring_ + 8);
      if (head == tail_commit) return std::nullopt;
      const std::uint32_t at = head % capacity_;
      const std::uint32_t left = capacity_ - at;
      const std::uint8_t* data = ring_ + 16;
      if (left < 4) {
        wr32(ring_, head + left);
        continue;
      }
      const std::uint32_t len = rd32(data + at);
      if (len == 0xFFFFFFFFU) {
        wr32(ring_, head + left);
        continue;
      }
      Bytes out(data + at + 4, data + at + 4 + len);
      wr32(ring_, head + ((4 + len + 3) / 4) * 4);
      return out;
    }
  }

  // Writes a record as an independent single producer would.
  bool write(ByteSpan p) {
    const std::uint32_t head = rd32(ring_);
    const std::uint32_t tail = rd32(ring_ + 4);
    const std::uint32_t need = static_cast<std::uint32_t>((4 + p.size() + 3) / 4 * 4);
    const std::uint32_t at = tail % capacity_;
    const std::uint32_t left = capacity_ - at;
    const std::uint32_t skip = left < need ? left : 0;
    if (skip + need > capacity_ - (tail - head)) return false;
    std::uint8_t* data = ring_ + 16;
    if (skip >= 4) wr32(data + at, 0xFFFFFFFFU);
    const std::uint32_t start = (tail + skip) % capacity_;
    wr32(data + start, static_cast<std::uint32_t>(p.size()));
    if (!p.empty()) std::memcpy(data + start + 4, p.data(), p.size());
    wr32(ring_ + 4, tail + skip + need);
    wr32(ring_ + 8, tail + skip + need);
    return true;
  }

 private:
  std::uint8_t* ring_ = nullptr;
  std::uint32_t capacity_ = 0;
};

TEST(AipcRing, IndependentReaderDecodesWhatWeWrote) {
  const aipc::QueueSpec queues[] = {{aipc::queue_kind::net_rx, 1000},
                                    {aipc::queue_kind::net_tx, 4096}};
  Memory m(*aipc::buffer_size(queues));
  ASSERT_TRUE(aipc::format_buffer(m.span(), queues).ok());
  const auto tx = aipc::find_queue(m.span(), aipc::queue_kind::net_tx);
  ASSERT_TRUE(tx.ok());
  auto ring = AipcRing::attach(m.span().subspan(tx->offset_bytes, 16 + tx->capacity_bytes));
  ASSERT_TRUE(ring.ok());
  IndependentReader reader(m.data(), m.size, aipc::queue_kind::net_tx);
  std::mt19937 rng(42);
  std::uint32_t written = 0, read = 0, markers_seen = 0;
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 3 != 0) {
      const Bytes p = payload(rng() % 1515, written);
      const std::uint32_t tail_before = rd32(m.data() + tx->offset_bytes + 4) % 4096;
      if (ring->try_push(p) == PushStatus::ok) {
        if (rd32(m.data() + tx->offset_bytes + 4) % 4096 < tail_before) ++markers_seen;
        ++written;
      }
    } else if (auto got = reader.next()) {
      ASSERT_EQ(*got, payload(got->size(), read)) << "record " << read;
      ++read;
    }
  }
  while (auto got = reader.next()) {
    ASSERT_EQ(*got, payload(got->size(), read));
    ++read;
  }
  EXPECT_EQ(read, written);
  EXPECT_GT(written, 5000U);
  EXPECT_GT(markers_seen, 100U);  // the data area wrapped many times
}

TEST(AipcRing, WeDecodeWhatAnIndependentWriterWrote) {
  const aipc::QueueSpec queues[] = {{aipc::queue_kind::net_rx, 2048}};
  Memory m(*aipc::buffer_size(queues));
  ASSERT_TRUE(aipc::format_buffer(m.span(), queues).ok());
  const auto rx = aipc::find_queue(m.span(), aipc::queue_kind::net_rx);
  auto ring = AipcRing::attach(m.span().subspan(rx->offset_bytes, 16 + rx->capacity_bytes));
  ASSERT_TRUE(ring.ok());
  IndependentReader writer(m.data(), m.size, aipc::queue_kind::net_rx);
  std::mt19937 rng(5);
  std::uint32_t written = 0, read = 0;
  Bytes out(2048);
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 2 == 0) {
      if (writer.write(payload(rng() % 700, written))) ++written;
    } else {
      const auto r = ring->try_pop(out);
      if (r.status == PopStatus::empty) continue;
      ASSERT_EQ(r.status, PopStatus::ok);
      ASSERT_EQ(Bytes(out.begin(), out.begin() + r.length), payload(r.length, read));
      ++read;
    }
  }
  EXPECT_GT(read, 5000U);
}

// ---- Two threads ------------------------------------------------------------------------------

std::uint64_t iterations(std::uint64_t default_value) {
  if (const char* env = std::getenv("AERO_AIPC_STRESS_FRAMES")) {
    return std::strtoull(env, nullptr, 10);
  }
  return default_value;
}

// Frame i carries its sequence number in its first 4 bytes and a length derived from it.
Bytes sequenced(std::uint32_t producer, std::uint32_t seq) {
  const std::size_t len = 8 + (seq * 2654435761U >> 20) % 1500;
  Bytes f = payload(len, seq ^ (producer << 24));
  wr32(f.data(), seq);
  wr32(f.data() + 4, producer);
  return f;
}

TEST(AipcRingStress, OneProducerOneConsumer) {
  const std::uint64_t frames = iterations(200000);
  Ring r(8192);  // small: many wraps
  std::atomic<bool> failed{false};
  std::thread producer([&] {
    struct OnFailure {
      std::atomic<bool>& flag;
      ~OnFailure() {
        if (::testing::Test::HasFailure()) flag = true;
      }
    } on_failure{failed};
    AipcRing mine = *AipcRing::attach(r.mem.span());
    for (std::uint32_t seq = 0; seq < frames; ++seq) {
      const Bytes f = sequenced(0, seq);
      for (std::uint64_t tries = 0;; ++tries) {
        ASSERT_LT(tries, 1'000'000'000U) << "producer stuck";
        const PushStatus s = mine.try_push(f);
        if (s == PushStatus::ok) break;
        ASSERT_EQ(s, PushStatus::full);
        std::this_thread::yield();
      }
    }
  });
  Bytes out(2048);
  std::uint64_t received = 0;
  for (std::uint64_t idle = 0; received < frames && !failed; ) {
    const auto p = r.ring.try_pop(out);
    if (p.status == PopStatus::empty) {
      ASSERT_LT(++idle, 1'000'000'000U) << "consumer starved";
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(p.status, PopStatus::ok);
    ASSERT_EQ(Bytes(out.begin(), out.begin() + p.length),
              sequenced(0, static_cast<std::uint32_t>(received)));
    ++received;
  }
  producer.join();
  EXPECT_TRUE(r.ring.empty());
  std::printf("AIPC SPSC stress: %llu frames through an 8 KiB ring\n",
              static_cast<unsigned long long>(received));
}

TEST(AipcRingStress, ThreeProducersOneConsumer) {
  constexpr std::uint32_t kProducers = 3;
  const std::uint64_t per_producer = iterations(200000) / kProducers;
  Ring r(16384);
  std::atomic<bool> failed{false};
  std::atomic<std::uint64_t> pending_commits{0};
  std::vector<std::thread> producers;
  for (std::uint32_t id = 0; id < kProducers; ++id) {
    producers.emplace_back([&, id] {
      struct OnFailure {
        std::atomic<bool>& flag;
        ~OnFailure() {
          if (::testing::Test::HasFailure()) flag = true;
        }
      } on_failure{failed};
      AipcRing mine = *AipcRing::attach(r.mem.span());
      for (std::uint32_t seq = 0; seq < per_producer; ++seq) {
        const Bytes f = sequenced(id, seq);
        for (std::uint64_t tries = 0;; ++tries) {
          ASSERT_LT(tries, 1'000'000'000U) << "producer stuck";
          const PushStatus s = mine.try_push(f);
          if (s == PushStatus::ok) break;
          ASSERT_TRUE(s == PushStatus::full || s == PushStatus::blocked);
          std::this_thread::yield();
        }
        if (mine.pending_commit()) ++pending_commits;
      }
      for (std::uint64_t tries = 0; !mine.publish(); ++tries) {
        ASSERT_LT(tries, 1'000'000'000U);
        std::this_thread::yield();
      }
    });
  }
  std::vector<std::uint32_t> next(kProducers, 0);
  Bytes out(2048);
  std::uint64_t received = 0;
  for (std::uint64_t idle = 0; received < per_producer * kProducers && !failed;) {
    const auto p = r.ring.try_pop(out);
    if (p.status == PopStatus::empty) {
      ASSERT_LT(++idle, 1'000'000'000U) << "consumer starved";
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(p.status, PopStatus::ok);
    const std::uint32_t seq = rd32(out.data());
    const std::uint32_t id = rd32(out.data() + 4);
    ASSERT_LT(id, kProducers);
    ASSERT_EQ(seq, next[id]) << "producer " << id << " out of order";
    ASSERT_EQ(Bytes(out.begin(), out.begin() + p.length), sequenced(id, seq));
    ++next[id];
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_TRUE(r.ring.empty());
  std::printf("AIPC MPSC stress: %llu frames from %u producers (%llu delayed commits)\n",
              static_cast<unsigned long long>(received), kProducers,
              static_cast<unsigned long long>(pending_commits.load()));
}

}  // namespace
