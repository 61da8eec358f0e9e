// FrameQueueBackend and AipcRingBackend.
//
// AipcRingBackend transmit path (guest -> NET_TX), one state machine:
//  * NET_TX broken (a corrupt ring was seen): refuse, counted.
//  * frames held: first retry them in order (service); if any remain, the new frame joins the
//    hold queue behind them so the guest's order is kept.
//  * otherwise push to NET_TX; `full` sends the frame to the hold queue (counted as held);
//  * the hold queue full as well: refuse, counted — the NIC counts its own refusal too.
// A ring reporting `corrupt` (its cursors contradict each other) marks NET_TX broken for good
// and discards the held frames, counted; nothing is written into a ring we cannot trust.
//
// Receive path (NET_RX -> guest): rx_peek pops one record into a private staging buffer of
// max_frame_size bytes (the capped pop skips larger records without copying them, at most
// rx_skips_per_peek per call) and offers it until rx_pop(). A corrupt NET_RX is marked broken
// for good: its head cannot be trusted to resynchronise.
#include "aero/devices/backends.h"

#include <algorithm>

namespace aero::devices {

// ---- FrameQueueBackend -----------------------------------------------------------------------

FrameQueueBackend::FrameQueueBackend(FrameQueueBackendConfig config)
    : tx_(config.tx), rx_(config.rx) {}

bool FrameQueueBackend::transmit(ByteSpan frame) {
  return tx_.push(frame) == QueueRefusal::none;
}

// ---- AipcRingBackend -------------------------------------------------------------------------

namespace {

FrameQueueLimits hold_limits(FrameQueueLimits hold, std::size_t max_frame) {
  hold.max_frame_size = max_frame;
  hold.min_frame_size = 1;
  hold.max_bytes = std::max(hold.max_bytes, max_frame);
  return hold;
}

}  // namespace

AipcRingBackend::AipcRingBackend(aipc::AipcRing net_tx, aipc::AipcRing net_rx,
                                 AipcRingBackendConfig config)
    : tx_(net_tx),
      rx_(net_rx),
      // A frame must fit one record of NET_TX, and at least a minimal Ethernet header.
      max_frame_size_(std::clamp<std::size_t>(config.max_frame_size, 14,
                                              std::min<std::size_t>(
                                                  net_tx.max_payload(),
                                                  FrameQueueLimits::kMaxFrameSizeCeiling))),
      rx_skips_per_peek_(std::max(config.rx_skips_per_peek, 1U)),
      hold_(hold_limits(config.tx_hold, max_frame_size_)),
      rx_buffer_(max_frame_size_) {}

Result<AipcRingBackend> AipcRingBackend::open(std::span<std::uint8_t> ipc_buffer,
                                              AipcRingBackendConfig config) {
  auto tx_info = aipc::find_queue(ipc_buffer, aipc::queue_kind::net_tx);
  if (!tx_info) return tx_info.error();
  auto rx_info = aipc::find_queue(ipc_buffer, aipc::queue_kind::net_rx);
  if (!rx_info) return rx_info.error();
  const auto region = [&](const aipc::QueueInfo& q) {
    return ipc_buffer.subspan(q.offset_bytes, aipc::kRingHeaderBytes + q.capacity_bytes);
  };
  const std::uint64_t tx_end = std::uint64_t{tx_info->offset_bytes} + aipc::kRingHeaderBytes +
                               tx_info->capacity_bytes;
  const std::uint64_t rx_end = std::uint64_t{rx_info->offset_bytes} + aipc::kRingHeaderBytes +
                               rx_info->capacity_bytes;
  if (tx_info->offset_bytes < rx_end && rx_info->offset_bytes < tx_end) {
    return make_error("bad_descriptor", "NET_TX and NET_RX overlap");
  }
  auto tx = aipc::AipcRing::attach(region(*tx_info));
  if (!tx) return tx.error();
  auto rx = aipc::AipcRing::attach(region(*rx_info));
  if (!rx) return rx.error();
  return AipcRingBackend(*tx, *rx, config);
}

void AipcRingBackend::break_tx() {
  ++counters_.tx_corrupt;
  counters_.tx_broken = true;
  counters_.tx_dropped_broken += hold_.frames();
  hold_.clear();
}

AipcRingBackend::TxOutcome AipcRingBackend::write_tx(ByteSpan frame) {
  const bool was_pending = tx_.pending_commit();
  switch (tx_.try_push(frame)) {
    case aipc::PushStatus::ok:
      ++counters_.tx_frames;
      counters_.tx_bytes += frame.size();
      if (!was_pending && tx_.pending_commit()) ++counters_.tx_commit_pending;
      return TxOutcome::written;
    case aipc::PushStatus::full:
    case aipc::PushStatus::blocked:  // our previous record waits for another producer
      return TxOutcome::full;
    case aipc::PushStatus::too_large:  // excluded by max_frame_size_ <= max_payload()
      return TxOutcome::failed;
    case aipc::PushStatus::corrupt:
      break;
  }
  break_tx();
  return TxOutcome::failed;
}

void AipcRingBackend::service() {
  if (counters_.tx_broken) return;
  tx_.publish();
  // Bounded by the hold queue's frame cap.
  while (auto frame = hold_.front()) {
    const TxOutcome outcome = write_tx(*frame);
    if (outcome != TxOutcome::written) {
      if (outcome == TxOutcome::failed && !counters_.tx_broken) {
        // Unreachable (too_large is excluded by max_frame_size_); never retry it forever.
        ++counters_.tx_refused_oversize;
        hold_.pop();
        continue;
      }
      return;
    }
    ++counters_.tx_retried;
    hold_.pop();
  }
}

bool AipcRingBackend::transmit(ByteSpan frame) {
  if (frame.size() > max_frame_size_) {
    ++counters_.tx_refused_oversize;
    return false;
  }
  if (!hold_.empty()) service();
  if (counters_.tx_broken) {
    ++counters_.tx_refused_broken;
    return false;
  }
  if (hold_.empty()) {
    switch (write_tx(frame)) {
      case TxOutcome::written:
        return true;
      case TxOutcome::full:
        break;
      case TxOutcome::failed:
        if (counters_.tx_broken) {
          ++counters_.tx_refused_broken;
        } else {
          ++counters_.tx_refused_oversize;
        }
        return false;
    }
  }
  if (hold_.push(frame) != QueueRefusal::none) {
    ++counters_.tx_refused_hold_full;
    return false;
  }
  ++counters_.tx_held;
  return true;
}

bool AipcRingBackend::tx_congested() const {
  // A maximal frame may also need a skip to the start of the data area, worth at most one
  // more record.
  const std::uint64_t room = std::uint64_t{tx_.capacity()} - tx_.used_bytes();
  return counters_.tx_broken || !hold_.empty() || tx_.pending_commit() ||
         room < 2 * aipc::record_size(max_frame_size_);
}

std::optional<ByteSpan> AipcRingBackend::rx_peek() {
  if (staged_) return ByteSpan(rx_buffer_.data(), *staged_);
  if (counters_.rx_broken) return std::nullopt;
  for (unsigned i = 0; i < rx_skips_per_peek_; ++i) {
    const aipc::PopResult r = rx_.try_pop(rx_buffer_);
    switch (r.status) {
      case aipc::PopStatus::ok:
        ++counters_.rx_frames;
        counters_.rx_bytes += r.length;
        staged_ = r.length;
        return ByteSpan(rx_buffer_.data(), r.length);
      case aipc::PopStatus::empty:
        return std::nullopt;
      case aipc::PopStatus::too_large:
        ++counters_.rx_skipped_oversize;
        counters_.rx_skipped_oversize_bytes += r.length;
        continue;
      case aipc::PopStatus::corrupt:
        ++counters_.rx_corrupt;
        counters_.rx_broken = true;
        return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace aero::devices
