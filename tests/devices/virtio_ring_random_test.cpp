// Randomized virtio-net ring exercise: random ring layout (split or packed), queue size (any
// size for packed rings, powers of two for split), EVENT_IDX, indirect chains, MRG_RXBUF,
// receive buffer sizes and descriptor counts, frame sizes, poll budgets and resets, with frames
// flowing both ways at once. Every frame the backend offers is delivered to the guest exactly
// once and in order, or dropped with a counted reason; every frame the guest sends reaches the
// backend exactly once and in order.
//
// AERO_RING_ITERATIONS sets the number of steps (each step sends a burst and offers a burst,
// about four frames each way on average). The unit tier runs 10,000 steps; the long tier
// (scripts/test-long.sh) runs 3,000,000, more than 10^7 frames each way.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <random>

#include "virtio_test_driver.h"

namespace aero::devices::vtest {
namespace {

long iterations() {
  const char* text = std::getenv("AERO_RING_ITERATIONS");
  if (text == nullptr) return 10000;
  const long value = std::strtol(text, nullptr, 10);
  return value > 0 && value <= 2000000000L ? value : 10000;
}

class Rig {
 public:
  explicit Rig(std::uint32_t seed) : rng_(seed) {}

  std::uint32_t pick(std::uint32_t lo, std::uint32_t hi) {
    return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng_);
  }

  // A new device, driver and geometry.
  void reconfigure() {
    h_ = std::make_unique<NetHarness>(VirtioNetConfig{}, 8U << 20);
    ring_.packed = pick(0, 1) == 1;
    ring_.event_idx = pick(0, 1) == 1;
    ring_.indirect = pick(0, 1) == 1;
    mrg_ = pick(0, 1) == 1;
    std::uint16_t size = 0;
    if (ring_.packed) {
      size = static_cast<std::uint16_t>(pick(2, 256));
    } else {
      size = static_cast<std::uint16_t>(1U << pick(1, 8));
    }
    // Receive buffers: 1 to 4 descriptors each (never more than half the ring). With
    // MRG_RXBUF the ring, filled with direct chains, must be able to hold the largest frame
    // offered, or that frame would wait forever; larger frames are not offered.
    const std::uint32_t pieces = pick(1, std::max<std::uint32_t>(1, std::min<std::uint32_t>(4, size / 2U)));
    const std::uint32_t buffers = size / pieces;
    h_->rx_pieces = pieces;
    if (mrg_) {
      h_->rx_buffer_size = pick(std::max<std::uint32_t>(64, (1600 + buffers - 1) / buffers), 2048);
      rx_max_ = std::min<std::size_t>(9000, buffers * h_->rx_buffer_size - 12);
    } else {
      // Mostly buffers that hold a 1514-byte frame, sometimes smaller ones (counted drops).
      h_->rx_buffer_size = pick(0, 3) == 0 ? pick(600, 1525) : pick(1526, 2048);
      rx_max_ = 9000;
    }
    h_->rx_slot = 4096;
    h_->tx_slot = 0x4000;
    ASSERT_TRUE(h_->bring_up(vn::kMac | (mrg_ ? vn::kMrgRxbuf : 0), ring_, size, pick(0, 1) == 1));
    ++configurations_;
  }

  void step(long it) {
    NetHarness& h = *h_;
    // Guest transmit burst.
    for (std::uint32_t n = pick(0, 8); n > 0; --n) {
      const std::size_t size = pick(0, 15) == 0 ? pick(1515, 9000) : pick(14, 1514);
      Bytes f = ethernet({0x02, 0, 0, 0, 0, 9}, 0x0800, size, static_cast<std::uint8_t>(tx_serial_));
      if (size >= 18) std::memcpy(f.data() + 14, &tx_serial_, 4);
      if (!h.queue_tx(f, {}, pick(1, 4), pick(0, 1) == 1)) break;
      ++tx_serial_;
      tx_expected_.push_back(std::move(f));
    }
    h.kick(h.txq, VirtioNet::kTxQueue);
    h.dev.poll(pick(1, 64));
    check_tx(it);
    // Backend receive burst.
    while (backend_.size() < 24) {
      std::size_t size = pick(0, 19) == 0 ? pick(1515, 9000) : pick(14, 1514);
      size = std::min(size, rx_max_);
      Bytes f = ethernet(kDeviceMac, 0x0800, size, static_cast<std::uint8_t>(rx_serial_));
      if (size >= 18) std::memcpy(f.data() + 14, &rx_serial_, 4);
      ++rx_serial_;
      backend_.push_back(std::move(f));
    }
    for (std::uint32_t n = pick(0, 16); n > 0 && !backend_.empty(); --n) {
      const RxResult r = h.dev.receive(backend_.front());
      if (r == RxResult::hold) break;
      ++offered_;
      if (r == RxResult::accepted) {
        rx_expected_.push_back(std::move(backend_.front()));
        ++accepted_;
      } else {
        ++dropped_;
      }
      backend_.pop_front();
    }
    // Guest receive: take some packets, then refill.
    for (std::uint32_t n = pick(0, 16); n > 0; --n) {
      auto got = h.next_rx();
      if (!got) break;
      ASSERT_FALSE(rx_expected_.empty()) << "step " << it;
      ASSERT_EQ(got->frame, rx_expected_.front()) << "step " << it;
      rx_expected_.pop_front();
      ++consumed_;
    }
    if (pick(0, 3) != 0) h.post_rx(pick(1, 24), pick(0, 1) == 1);
    if (pick(0, 4999) == 0) {
      drain(it);
      reconfigure();
    }
  }

  void drain(long it) {
    NetHarness& h = *h_;
    h.kick(h.txq, VirtioNet::kTxQueue);
    h.notify(VirtioNet::kTxQueue);
    while (h.dev.poll(256) > 0) {
    }
    check_tx(it);
    ASSERT_TRUE(tx_expected_.empty()) << "step " << it;
    while (auto got = h.next_rx()) {
      ASSERT_FALSE(rx_expected_.empty());
      ASSERT_EQ(got->frame, rx_expected_.front()) << "step " << it;
      rx_expected_.pop_front();
      ++consumed_;
    }
    ASSERT_TRUE(rx_expected_.empty()) << "step " << it;
    account();
  }

  void check_tx(long it) {
    NetHarness& h = *h_;
    for (const Bytes& f : h.port.frames) {
      ASSERT_FALSE(tx_expected_.empty()) << "step " << it;
      ASSERT_EQ(f, tx_expected_.front()) << "step " << it;
      tx_expected_.pop_front();
      ++tx_sent_;
    }
    h.port.frames.clear();
    h.reclaim_tx();
  }

  // Folds the device's counters into the totals (the device is about to be replaced).
  void account() {
    const VirtioNetCounters& c = h_->dev.counters();
    counted_drops_ += c.rx_too_big_for_buffer + c.rx_too_big_for_ring + c.rx_oversize +
                      c.rx_filtered + c.rx_runt + c.rx_bad_chain + c.rx_not_ready +
                      c.rx_link_down + c.rx_offload_errors + c.rx_device_error;
    device_rx_frames_ += c.rx_frames;
    device_tx_frames_ += c.tx_frames;
    holds_ += c.rx_hold;
    EXPECT_EQ(c.tx_bad_chain + c.tx_bad_header + c.tx_dma_errors + c.tx_backend_refused, 0U);
    EXPECT_EQ(h_->dev.device_status() & virtio::kStatusNeedsReset, 0U);
  }

  std::uint64_t offered_ = 0, accepted_ = 0, dropped_ = 0, consumed_ = 0, tx_sent_ = 0;
  std::uint64_t counted_drops_ = 0, device_rx_frames_ = 0, device_tx_frames_ = 0, holds_ = 0;
  int configurations_ = 0;

 private:
  std::mt19937 rng_;
  std::unique_ptr<NetHarness> h_;
  RingOptions ring_{};
  bool mrg_ = false;
  std::size_t rx_max_ = 9000;
  std::uint32_t tx_serial_ = 0, rx_serial_ = 0;
  std::deque<Bytes> tx_expected_, rx_expected_, backend_;
};

TEST(VirtioRingRandom, EveryFrameOnceOrCountedDrop) {
  const long count = iterations();
  const auto started = std::chrono::steady_clock::now();
  Rig rig(20240611);
  rig.reconfigure();
  if (HasFatalFailure()) return;
  for (long it = 0; it < count; ++it) {
    rig.step(it);
    if (HasFatalFailure()) return;
  }
  rig.drain(count);
  if (HasFatalFailure()) return;
  EXPECT_EQ(rig.accepted_, rig.consumed_);
  EXPECT_EQ(rig.offered_, rig.accepted_ + rig.dropped_);
  EXPECT_EQ(rig.dropped_, rig.counted_drops_);
  EXPECT_EQ(rig.device_rx_frames_, rig.accepted_);
  EXPECT_EQ(rig.device_tx_frames_, rig.tx_sent_);
  EXPECT_GT(rig.accepted_, 1000U);
  EXPECT_GT(rig.holds_, 0U);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "virtio ring test: %ld steps, %d configurations, %llu frames received (%llu dropped with a "
      "reason), %llu frames sent, %.1f s\n",
      count, rig.configurations_, static_cast<unsigned long long>(rig.accepted_),
      static_cast<unsigned long long>(rig.dropped_), static_cast<unsigned long long>(rig.tx_sent_),
      seconds);
}

}  // namespace
}  // namespace aero::devices::vtest
