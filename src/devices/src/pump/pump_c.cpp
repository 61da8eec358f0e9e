// C API for the frame pump (backends_c.h). The E1000 is driven through its own C API, so the
// pump works with any aero_e1000 the embedder created; virtio-net through VirtioNetPumpedNic
// on the device behind the handle.
#include <chrono>
#include <cstdint>
#include <new>

#include "../backends/c_handles.h"
#include "../virtio/net_c_handle.h"
#include "aero/devices/backends_c.h"
#include "aero/devices/e1000_c.h"
#include "aero/devices/pump.h"

using aero::devices::NicPump;
using aero::devices::PumpConfig;
using aero::devices::RxResult;

struct aero_pump {
  aero_pump(aero::devices::FrameBackend& backend, PumpConfig config) : pump(backend, config) {}
  NicPump pump;
};

namespace {

aero::Instant instant_of(uint64_t ns) {
  return aero::Instant(std::chrono::nanoseconds(static_cast<std::int64_t>(
      ns > static_cast<uint64_t>(INT64_MAX) ? static_cast<uint64_t>(INT64_MAX) : ns)));
}

// PumpedNic over the E1000 C API.
class CE1000 final : public aero::devices::PumpedNic {
 public:
  explicit CE1000(aero_e1000* nic) : nic_(nic) {}
  void poll(aero::Instant /*now: the NIC reads its own clock*/) override { aero_e1000_poll(nic_); }
  RxResult receive(aero::ByteSpan frame) override {
    switch (aero_e1000_receive(nic_, frame.data(), frame.size())) {
      case AERO_E1000_RX_ACCEPTED:
        return RxResult::accepted;
      case AERO_E1000_RX_HOLD:
        return RxResult::hold;
      default:
        return RxResult::dropped;
    }
  }
  std::optional<aero::Instant> next_deadline() const override {
    const uint64_t ns = aero_e1000_next_deadline_ns(nic_);
    if (ns == AERO_E1000_NO_DEADLINE) return std::nullopt;
    return instant_of(ns);
  }

 private:
  aero_e1000* nic_;
};

static_assert(AERO_E1000_NO_DEADLINE == AERO_VIRTIO_NET_NO_DEADLINE);

void to_c(const aero::devices::PumpTickResult& r, aero_pump_tick_result* out) {
  if (out == nullptr) return;
  *out = aero_pump_tick_result{};
  out->polls = r.polls;
  out->tx_frames = r.tx_frames;
  out->tx_refused = r.tx_refused;
  out->rx_frames = r.rx_frames;
  out->rx_dropped = r.rx_dropped;
  out->rx_held = r.rx_held ? 1 : 0;
  out->tx_deferred = r.tx_deferred ? 1 : 0;
  out->rx_budget_exhausted = r.rx_budget_exhausted ? 1 : 0;
  out->tx_bytes = r.tx_bytes;
  out->rx_bytes = r.rx_bytes;
  if (!r.next_deadline) {
    out->next_deadline_ns = AERO_E1000_NO_DEADLINE;
  } else {
    const auto ns = r.next_deadline->time_since_epoch().count();
    out->next_deadline_ns = ns < 0 ? 0 : static_cast<uint64_t>(ns);
  }
}

}  // namespace

extern "C" {

aero_pump* aero_pump_create(aero_backend* backend, const aero_pump_config* config) {
  if (backend == nullptr) return nullptr;
  PumpConfig cfg;
  if (config != nullptr) {
    cfg.tx_frame_budget = config->tx_frame_budget;
    cfg.rx_frame_budget = config->rx_frame_budget;
    if (config->max_polls != 0) cfg.max_polls = config->max_polls;
  }
  return new (std::nothrow) aero_pump(backend->backend(), cfg);
}

void aero_pump_destroy(aero_pump* pump) { delete pump; }

int aero_pump_transmit(aero_pump* pump, const uint8_t* frame, size_t len) {
  if (frame == nullptr && len != 0) return 0;
  const aero::ByteSpan span = frame == nullptr ? aero::ByteSpan{} : aero::ByteSpan(frame, len);
  return pump->pump.nic_port().transmit(span) ? 1 : 0;
}

void aero_pump_tick_e1000(aero_pump* pump, aero_e1000* nic, uint64_t now_ns,
                          aero_pump_tick_result* out) {
  CE1000 adapter(nic);
  to_c(pump->pump.tick(adapter, instant_of(now_ns)), out);
}

void aero_pump_tick_virtio_net(aero_pump* pump, aero_virtio_net* nic, uint32_t chains_per_tick,
                               uint64_t now_ns, aero_pump_tick_result* out) {
  aero::devices::VirtioNetPumpedNic adapter(
      nic->device,
      chains_per_tick == 0 ? aero::devices::VirtioNetPumpedNic::kDefaultChainsPerTick : chains_per_tick);
  to_c(pump->pump.tick(adapter, instant_of(now_ns)), out);
}

}  // extern "C"
