// NicPump: one tick as described in pump.h.
#include "aero/devices/pump.h"

#include <algorithm>

namespace aero::devices {

NicPump::NicPump(FrameBackend& backend, PumpConfig config)
    : backend_(backend), config_(config) {}

bool NicPump::Port::transmit(ByteSpan frame) {
  const bool taken = pump_.backend_.transmit(frame);
  if (taken) {
    ++pump_.counters_.tx_frames;
    pump_.counters_.tx_bytes += frame.size();
  } else {
    ++pump_.counters_.tx_refused;
  }
  if (PumpTickResult* tick = pump_.current_) {
    if (taken) {
      ++tick->tx_frames;
      tick->tx_bytes += frame.size();
    } else {
      ++tick->tx_refused;
    }
  }
  return taken;
}

PumpTickResult NicPump::tick(PumpedNic& nic, Instant now) {
  PumpTickResult result;
  ++counters_.ticks;
  nic.begin_tick(now);

  // 1. Held frames first, so they keep their place ahead of anything the guest sends now.
  backend_.service();

  // 2. Transmit.
  if (config_.tx_frame_budget > 0) {
    current_ = &result;
    for (unsigned poll = 0; poll < config_.max_polls; ++poll) {
      const std::optional<Instant> due = nic.next_deadline();
      if (!due || *due > now) break;
      if (poll > 0 && (result.tx_frames >= config_.tx_frame_budget || !nic.budget_left())) {
        result.tx_deferred = true;
        ++counters_.tx_deferred_budget;
        break;
      }
      if (poll > 0 && backend_.tx_congested()) {
        result.tx_deferred = true;
        ++counters_.tx_deferred_congested;
        break;
      }
      nic.poll(now);
      ++result.polls;
    }
    current_ = nullptr;
    counters_.polls += result.polls;
    if (!result.tx_deferred && result.polls == config_.max_polls) {
      const std::optional<Instant> due = nic.next_deadline();
      result.tx_deferred = due && *due <= now;
    }
  }

  // 3. Receive.
  unsigned offered = 0;
  for (; offered < config_.rx_frame_budget; ++offered) {
    const std::optional<ByteSpan> frame = backend_.rx_peek();
    if (!frame) break;
    const RxResult verdict = nic.receive(*frame);
    if (verdict == RxResult::hold) {
      result.rx_held = true;
      ++counters_.rx_holds;
      break;
    }
    if (verdict == RxResult::accepted) {
      ++result.rx_frames;
      result.rx_bytes += frame->size();
    } else {
      ++result.rx_dropped;
    }
    backend_.rx_pop();
  }
  result.rx_budget_exhausted =
      config_.rx_frame_budget > 0 && offered == config_.rx_frame_budget;
  counters_.rx_frames += result.rx_frames;
  counters_.rx_bytes += result.rx_bytes;
  counters_.rx_dropped += result.rx_dropped;

  // 4. When to come back.
  result.next_deadline = nic.next_deadline();
  if (result.rx_budget_exhausted || (result.tx_deferred && !backend_.tx_congested())) {
    result.next_deadline = now;
  }
  return result;
}

void VirtioNetPumpedNic::poll(Instant now) {
  const unsigned done = nic_.poll(now, chains_left_);
  chains_left_ -= std::min(done, chains_left_);  // control commands may exceed what was left
}

std::optional<Instant> VirtioNetPumpedNic::next_deadline() const {
  const std::optional<Instant> due = nic_.next_deadline();
  if (!due || !tick_now_) return due;
  return std::min(*due, *tick_now_);
}

}  // namespace aero::devices
