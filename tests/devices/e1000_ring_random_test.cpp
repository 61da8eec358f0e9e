// Randomized E1000 ring exercise: random ring sizes, buffer sizes, tail movements and frame
// sizes. Every frame offered to RX is delivered to the guest exactly once, in order, or
// dropped with a counted reason; every TX frame reaches the backend exactly once.
// The unit tier runs 10^5 steps; the long tier runs 8*10^7 (AERO_RING_ITERATIONS), enough for
// more than 10^7 frames each way.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include <deque>
#include <random>

#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

// AERO_RING_ITERATIONS overrides the count (scripts/test-long.sh sets 10^7).
int iterations() {
  const char* text = std::getenv("AERO_RING_ITERATIONS");
  if (text == nullptr) return 100000;
  const long value = std::strtol(text, nullptr, 10);
  return value > 0 && value <= 1000000000 ? static_cast<int>(value) : 100000;
}
const std::array<std::uint8_t, 6> kOurs{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(E1000RingRandom, EveryFrameOnceOrCountedDrop) {
  E1000Harness h;
  std::mt19937 rng(12345);
  auto pick = [&rng](std::uint32_t lo, std::uint32_t hi) {
    return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
  };
  const std::uint32_t bsizes[] = {0, 1U << RCTL_BSIZE_SHIFT, 2U << RCTL_BSIZE_SHIFT,
                                  3U << RCTL_BSIZE_SHIFT, RCTL_BSEX | (3U << RCTL_BSIZE_SHIFT)};
  h.bring_up(pick(2, 64) * 8, 16, RCTL_LPE);
  std::deque<Bytes> backend;   // frames the backend still has to offer
  std::deque<Bytes> expected;  // frames accepted, not yet consumed by the driver
  std::uint64_t offered = 0, accepted = 0, dropped = 0, consumed = 0, tx_sent = 0;
  std::uint32_t serial = 0;
  const int count = iterations();
  for (int it = 0; it < count; ++it) {
    const std::uint32_t action = pick(0, 99);
    if (action < 30) {
      if (backend.size() < 16) {
        const std::size_t size = pick(0, 9) == 0 ? pick(1519, 9000) : pick(14, 1514);
        Bytes f = ethernet(kOurs, 0x0800, size, static_cast<std::uint8_t>(serial));
        if (size >= 18) std::memcpy(f.data() + 14, &serial, 4);
        ++serial;
        backend.push_back(std::move(f));
      }
    } else if (action < 60) {
      if (!backend.empty()) {
        const RxResult r = h.nic.receive(backend.front());
        if (r == RxResult::accepted) {
          ++offered;
          ++accepted;
          Bytes f = backend.front();
          if (f.size() < 60) f.resize(60, 0);
          expected.push_back(std::move(f));
          backend.pop_front();
        } else if (r == RxResult::dropped) {
          ++offered;
          ++dropped;
          backend.pop_front();
        }
      }
    } else if (action < 85) {
      for (std::uint32_t n = pick(1, 4); n > 0; --n) {
        auto got = h.next_rx();
        if (!got) break;
        ASSERT_FALSE(expected.empty());
        ASSERT_EQ(got->bytes, expected.front()) << "iteration " << it;
        expected.pop_front();
        ++consumed;
      }
    } else if (action < 98) {
      const std::size_t size = pick(14, 3000);
      const Bytes f = ethernet({0x02, 0, 0, 0, 0, 9}, 0x0800, size, static_cast<std::uint8_t>(it));
      const std::size_t free_descs = h.tx_count - 1;
      const std::size_t chunk = std::max<std::size_t>(pick(64, 2048), (size + free_descs - 1) / free_descs);
      h.port.frames.clear();
      h.send_legacy(f, chunk);
      ASSERT_EQ(h.port.frames.size(), 1U);
      const std::size_t want = std::max<std::size_t>(size, 60);
      ASSERT_EQ(h.port.frames[0].size(), want);
      ++tx_sent;
    } else {
      // Drain the guest, then rebuild both rings with new geometry.
      while (auto got = h.next_rx()) {
        ASSERT_EQ(got->bytes, expected.front());
        expected.pop_front();
        ++consumed;
      }
      ASSERT_TRUE(expected.empty());
      h.setup_tx(pick(1, 64) * 8);
      h.setup_rx(pick(1, 32) * 8, RCTL_LPE | bsizes[pick(0, 4)]);
    }
  }
  while (auto got = h.next_rx()) {
    ASSERT_EQ(got->bytes, expected.front());
    expected.pop_front();
    ++consumed;
  }
  EXPECT_TRUE(expected.empty());
  EXPECT_EQ(accepted, consumed);
  EXPECT_EQ(offered, accepted + dropped);
  const E1000Counters& c = h.nic.counters();
  EXPECT_EQ(c.rx_frames, accepted);
  EXPECT_EQ(dropped, c.rx_too_big_for_ring + c.rx_oversize + c.rx_filtered + c.rx_runt +
                         c.rx_disabled + c.rx_vlan_filtered + c.rx_ring_errors);
  EXPECT_EQ(c.tx_frames, tx_sent);
  EXPECT_GT(accepted, 1000U);
  EXPECT_GT(c.rx_hold, 0U);
  std::printf("ring test: %d steps, %llu frames received (%llu dropped with a reason), %llu sent\n",
              count, static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(tx_sent));
}

}  // namespace
}  // namespace aero::devices::test
