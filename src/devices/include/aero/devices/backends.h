// Frame backends: where a NIC's transmitted frames go and where its received frames come from.
//
//  * FrameQueueBackend — two bounded in-process frame queues (TX: guest -> host, RX: host ->
//    guest) for an embedder that moves frames itself (the stack, a tunnel, tests).
//  * AipcRingBackend — Aero's NET_TX / NET_RX shared-memory rings (aipc_ring.h), so the
//    browser's network worker can run on another thread.
//
// Neither drops a frame it has accepted, and neither drops the oldest frame to make room:
//  * guest -> host: transmit() returns false when the frame cannot be taken (the NIC counts
//    it), and every refusal is counted here under its reason. The ring backend first holds
//    frames the NIC offers while NET_TX is full in a bounded hold queue and retries them, in
//    order, on the next service() (each pump tick);
//  * host -> guest: the NIC peeks a frame and the backend forgets it only after the NIC took
//    it (accepted, or dropped for a reason the NIC counts). A NIC answering RxResult::hold
//    leaves the frame where it is for the next tick.
//
// Single-threaded like the devices; the ring's other side may run on another thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/result.h"
#include "aero/devices/aipc_ring.h"
#include "aero/devices/device_host.h"
#include "aero/devices/frame_queue.h"

namespace aero::devices {

// The interface the pump drives. FramePort::transmit is the guest -> host direction.
class FrameBackend : public FramePort {
 public:
  // The next frame for the guest, or nullopt when there is none. It stays the next frame
  // (the same bytes) until rx_pop(); the span is valid until the next non-const call.
  virtual std::optional<ByteSpan> rx_peek() = 0;
  // Forgets the frame rx_peek() returned (the NIC accepted or dropped it).
  virtual void rx_pop() = 0;
  // Retries work the backend held back (held TX frames). The pump calls it first in a tick.
  virtual void service() {}
  // True while a further transmit() would be held back or refused; the pump starts no extra
  // transmit poll of the NIC while the backend is congested.
  virtual bool tx_congested() const = 0;
};

// ---- In-process queues -----------------------------------------------------------------------

struct FrameQueueBackendConfig {
  FrameQueueLimits tx{};  // guest -> host
  FrameQueueLimits rx{};  // host -> guest
};

class FrameQueueBackend final : public FrameBackend {
 public:
  explicit FrameQueueBackend(FrameQueueBackendConfig config = {});

  // NIC side.
  bool transmit(ByteSpan frame) override;  // false (counted in tx_queue()) when refused
  std::optional<ByteSpan> rx_peek() override { return rx_.front(); }
  void rx_pop() override { rx_.pop(); }
  bool tx_congested() const override { return !tx_.can_accept(tx_.limits().max_frame_size); }

  // Host side. push_rx refusing a frame is back-pressure for the host (counted in rx_queue()).
  QueueRefusal push_rx(ByteSpan frame) { return rx_.push(frame); }
  std::optional<ByteSpan> tx_peek() const { return tx_.front(); }
  void tx_pop() { tx_.pop(); }

  const FrameQueue& tx_queue() const { return tx_; }
  const FrameQueue& rx_queue() const { return rx_; }

 private:
  FrameQueue tx_;
  FrameQueue rx_;
};

// ---- AIPC NET_TX / NET_RX rings --------------------------------------------------------------

struct AipcRingBackendConfig {
  // Largest frame either way; larger TX frames are refused, larger RX records skipped.
  std::size_t max_frame_size = aipc::kNetMaxFrame;
  // Frames held while NET_TX is full (max_frame_size is taken from above).
  FrameQueueLimits tx_hold{.max_frames = 256, .max_bytes = 512 * 1024, .min_frame_size = 1};
  // Oversize NET_RX records skipped per rx_peek() call at most, so a flood of them cannot
  // stall a tick.
  unsigned rx_skips_per_peek = 64;
};

struct AipcRingBackendCounters {
  std::uint64_t tx_frames = 0;  // in NET_TX (directly or after being held)
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_held = 0;            // offered while NET_TX was full or frames were held
  std::uint64_t tx_retried = 0;         // held frames later written to NET_TX
  std::uint64_t tx_refused_oversize = 0;
  std::uint64_t tx_refused_hold_full = 0;  // NET_TX full and the hold queue full too
  std::uint64_t tx_refused_broken = 0;     // NET_TX was found corrupt earlier
  std::uint64_t tx_dropped_broken = 0;     // held frames discarded when NET_TX broke
  std::uint64_t tx_corrupt = 0;
  std::uint64_t tx_commit_pending = 0;     // pushes whose publication waited for a producer
  std::uint64_t rx_frames = 0;             // records taken from NET_RX for the NIC
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_skipped_oversize = 0;
  std::uint64_t rx_skipped_oversize_bytes = 0;
  std::uint64_t rx_corrupt = 0;
  bool tx_broken = false;  // permanent: a corrupt NET_TX is never written again
  bool rx_broken = false;  // permanent: a corrupt NET_RX is never read again
};

class AipcRingBackend final : public FrameBackend {
 public:
  AipcRingBackend(aipc::AipcRing net_tx, aipc::AipcRing net_rx,
                  AipcRingBackendConfig config = {});
  // Finds the first NET_TX (kind 2) and NET_RX (kind 3) queues of an AIPC buffer.
  static Result<AipcRingBackend> open(std::span<std::uint8_t> ipc_buffer,
                                      AipcRingBackendConfig config = {});

  bool transmit(ByteSpan frame) override;
  std::optional<ByteSpan> rx_peek() override;
  void rx_pop() override { staged_.reset(); }
  void service() override;
  bool tx_congested() const override;

  const AipcRingBackendCounters& counters() const { return counters_; }
  std::size_t tx_held_frames() const { return hold_.frames(); }
  std::size_t max_frame_size() const { return max_frame_size_; }

 private:
  enum class TxOutcome : std::uint8_t { written, full, failed };
  TxOutcome write_tx(ByteSpan frame);
  void break_tx();

  aipc::AipcRing tx_;
  aipc::AipcRing rx_;
  std::size_t max_frame_size_;
  unsigned rx_skips_per_peek_;
  FrameQueue hold_;
  std::vector<std::uint8_t> rx_buffer_;  // one staged NET_RX frame (max_frame_size_ bytes)
  std::optional<std::size_t> staged_;    // length of the staged frame
  AipcRingBackendCounters counters_{};
};

}  // namespace aero::devices
