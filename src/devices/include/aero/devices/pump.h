// The frame pump: moves frames between one NIC and one FrameBackend in bounded, deterministic
// ticks (the role of Aero's aero-net-pump, reference §4, without its silent drops).
//
// One tick, always in this order:
//   0. nic.begin_tick(now)     — the adapter learns the tick's time and resets its budget;
//   1. backend.service()       — frames the backend held back (NET_TX was full) go out first;
//   2. transmit: nic.poll(now) while the NIC has work due (next_deadline() <= now), at most
//      max_polls times. A poll runs the NIC's transmit engine (bounded by its own budget,
//      E1000Config::tx_descriptor_budget per poll, or the virtio-net adapter's chains per
//      tick) and its timers; its frames reach the backend through nic_port(). No further poll
//      starts once tx_frame_budget frames left in this tick, once the NIC's own budget for
//      the tick is spent, or while the backend is congested (the guest's descriptors wait in
//      its ring: back-pressure instead of loss);
//   3. receive: up to rx_frame_budget frames from backend.rx_peek() into nic.receive().
//      accepted / dropped (the NIC counts why) -> rx_pop(); hold -> the frame stays in the
//      backend for the next tick and the phase ends;
//   4. the result says when the NIC next needs a tick (its deadline, or `now` when a budget
//      ran out with work left).
// Transmit goes before receive so that a backend answering synchronously (ARP, DHCP) gets its
// reply to the guest in the same tick. A budget of 0 leaves that direction untouched (with
// tx_frame_budget 0 the NIC is not polled at all, so its timers wait too).
//
// Machines with several NICs run one NicPump per NIC and tick them in a fixed order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/devices/backends.h"
#include "aero/devices/device_host.h"
#include "aero/devices/e1000.h"
#include "aero/devices/virtio_net.h"

namespace aero::devices {

// What the pump needs from a NIC model. Build the model with NicPump::nic_port() as its
// FramePort so its transmitted frames are counted and reach the backend.
//
// Adapters:
//  * E1000PumpedNic (below): poll = E1000::poll, receive = E1000::receive (hold when the
//    guest has not posted enough RX descriptors), next_deadline = E1000::next_deadline.
//  * VirtioNetPumpedNic (below): poll = VirtioNet::poll with what is left of a per-tick chain
//    budget, receive = VirtioNet::receive (hold when the guest has not posted enough receive
//    buffers), next_deadline = the tick's time while transmit or control work waits.
class PumpedNic {
 public:
  virtual ~PumpedNic() = default;
  // First call of every tick, with the tick's time.
  virtual void begin_tick(Instant /*now*/) {}
  // Guest-driven work due at `now`: transmit (bounded by the model), timers, interrupts.
  virtual void poll(Instant now) = 0;
  // False once the adapter's own transmit budget for this tick is spent: no further poll
  // starts in this tick (the work waits for the next one).
  virtual bool budget_left() const { return true; }
  // A frame for the guest: accepted, hold (no room yet; offer it again later) or dropped.
  virtual RxResult receive(ByteSpan frame) = 0;
  // The earliest instant poll() has work, or nullopt when idle.
  virtual std::optional<Instant> next_deadline() const = 0;
};

class E1000PumpedNic final : public PumpedNic {
 public:
  explicit E1000PumpedNic(E1000& nic) : nic_(nic) {}
  void begin_tick(Instant now) override { tick_now_ = now; }
  void poll(Instant now) override { nic_.poll(now); }
  RxResult receive(ByteSpan frame) override { return nic_.receive(frame); }
  // Waiting transmit work is due at the tick's time: the model reports it at its clock's
  // "now", which a live clock has already moved past the instant the tick was given.
  std::optional<Instant> next_deadline() const override {
    const std::optional<Instant> due = nic_.next_deadline();
    if (!due || !tick_now_ || !nic_.transmit_pending()) return due;
    return std::min(*due, *tick_now_);
  }

 private:
  E1000& nic_;
  std::optional<Instant> tick_now_;
};

// virtio-net in the pump, as Aero's tick does it (reference §4: the guest's transmit chains
// first, bounded per tick, then frames for the guest):
//  * poll: VirtioNet::poll with the chains left of `chains_per_tick` (transmitq1 chains and
//    control commands both count; the control queue is served whenever a poll runs). Once
//    the budget is spent budget_left() is false and the rest waits in the guest's ring for the
//    next tick, which the pump asks for at once (tx_deferred, next_deadline = now);
//  * receive: VirtioNet::receive. hold (the guest posted too few buffers) leaves the frame in
//    the backend, which offers it again on the next tick, so a full receive ring loses nothing;
//  * next_deadline: VirtioNet has no timers, so waiting work is due at the tick's own time
//    (not a fresh clock reading, which a real clock would already have moved past).
// A chains_per_tick of 0 leaves transmit to control commands only.
class VirtioNetPumpedNic final : public PumpedNic {
 public:
  static constexpr unsigned kDefaultChainsPerTick = 256;  // Aero's max_chains_per_queue

  explicit VirtioNetPumpedNic(VirtioNet& nic, unsigned chains_per_tick = kDefaultChainsPerTick)
      : nic_(nic), chains_per_tick_(chains_per_tick) {}

  void begin_tick(Instant now) override {
    tick_now_ = now;
    chains_left_ = chains_per_tick_;
  }
  void poll(Instant now) override;
  bool budget_left() const override { return chains_left_ > 0; }
  RxResult receive(ByteSpan frame) override { return nic_.receive(frame); }
  std::optional<Instant> next_deadline() const override;

  unsigned chains_per_tick() const { return chains_per_tick_; }
  // Chains taken in the current tick so far.
  unsigned chains_this_tick() const { return chains_per_tick_ - chains_left_; }

 private:
  VirtioNet& nic_;
  unsigned chains_per_tick_;
  unsigned chains_left_ = 0;
  std::optional<Instant> tick_now_;  // unset until the first tick
};

struct PumpConfig {
  unsigned tx_frame_budget = 256;  // frames per tick after which no further poll starts
  unsigned rx_frame_budget = 256;  // frames offered to the NIC per tick (Aero's default)
  unsigned max_polls = 4;          // NIC polls per tick
};

struct PumpTickResult {
  unsigned polls = 0;
  unsigned tx_frames = 0;  // frames the backend took during this tick
  std::uint64_t tx_bytes = 0;
  unsigned tx_refused = 0;  // frames the backend refused (the NIC counts them as well)
  unsigned rx_frames = 0;   // frames the NIC accepted
  std::uint64_t rx_bytes = 0;
  unsigned rx_dropped = 0;    // frames the NIC dropped for a reason it counts
  bool rx_held = false;       // the NIC answered hold; the frame waits in the backend
  bool tx_deferred = false;   // the NIC had transmit work left when the phase ended
  bool rx_budget_exhausted = false;
  std::optional<Instant> next_deadline;  // when to tick next (nullopt: on the next event)
};

struct PumpCounters {
  std::uint64_t ticks = 0;
  std::uint64_t polls = 0;
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_refused = 0;
  std::uint64_t tx_deferred_budget = 0;     // ticks whose TX phase stopped at the budget
  std::uint64_t tx_deferred_congested = 0;  // ticks whose TX phase stopped at back-pressure
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t rx_dropped = 0;
  std::uint64_t rx_holds = 0;               // ticks whose RX phase ended on hold
};

class NicPump {
 public:
  explicit NicPump(FrameBackend& backend, PumpConfig config = {});
  NicPump(const NicPump&) = delete;
  NicPump& operator=(const NicPump&) = delete;

  // The FramePort to build the NIC with: forwards to the backend and counts.
  FramePort& nic_port() { return port_; }
  PumpTickResult tick(PumpedNic& nic, Instant now);

  const PumpConfig& config() const { return config_; }
  const PumpCounters& counters() const { return counters_; }
  FrameBackend& backend() { return backend_; }

 private:
  class Port final : public FramePort {
   public:
    explicit Port(NicPump& pump) : pump_(pump) {}
    bool transmit(ByteSpan frame) override;

   private:
    NicPump& pump_;
  };

  FrameBackend& backend_;
  PumpConfig config_;
  Port port_{*this};
  PumpTickResult* current_ = nullptr;  // the tick in progress, for the port's counts
  PumpCounters counters_{};
};

}  // namespace aero::devices
