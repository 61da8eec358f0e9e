// E1000 interrupt causes, interrupt moderation and the poll/deadline loop.
//
// Theory of operation (SDM §13.4.17-21 causes and mask, §3.2.7 receive delay, §3.4 transmit
// delay, §13.4.18 ITR):
//  * A cause is latched in ICR by raise(); the INTx line is asserted while ICR & IMS != 0 and
//    the PCI Command INTx Disable bit is clear. Reading ICR clears every cause.
//  * ITR throttling: when ITR != 0, the line may rise at most once per ITR x 256 ns. A rising
//    edge records the next allowed instant; a cause arriving earlier stays latched in ICR and
//    the line rises when poll() reaches that instant (next_deadline() reports it).
//  * Receive delay: with RDTR = 0 a frame raises RXT0 at once. Otherwise each frame restarts
//    the packet timer (RDTR x 1.024 us) and the first frame starts the absolute timer
//    (RADV x 1.024 us, when RADV != 0); whichever expires first raises RXT0 and stops both.
//  * Transmit delay: a written-back descriptor with IDE set and TIDV != 0 (re)starts the packet
//    timer (TIDV) and starts the absolute timer (TADV); expiry raises TXDW. Without IDE, TXDW
//    is raised at write-back.
// All timers are data (optional Instants) driven by the injected clock.
#include <algorithm>

#include "aero/devices/e1000.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names
using e1000_detail::delay_units;
using e1000_detail::itr_units;

void E1000::raise(std::uint32_t causes) {
  if (causes == 0) return;
  reg(ICR) |= causes;
  update_irq();
}

void E1000::update_irq() {
  const bool intx_disabled =
      (e1000_detail::le16(&pci_[0x04]) & kPciCommandIntxDisable) != 0;
  const bool want = (reg(ICR) & reg(IMS)) != 0 && !intx_disabled;
  if (want == irq_asserted_) return;
  if (want) {
    const Instant now = clock_.now();
    const std::uint32_t itr = reg(ITR);
    if (itr != 0 && now < timers_.itr_next_allowed) return;  // throttled; poll() retries
    if (itr != 0) timers_.itr_next_allowed = now + itr_units(itr);
  }
  irq_asserted_ = want;
  irq_.set_level(want);
  if (want) irq_.signal_msi();
}

void E1000::arm_rx_delay(Instant now) {
  const std::uint32_t rdtr = reg(RDTR);
  if (rdtr == 0) {
    raise(ICR_RXT0);
    return;
  }
  timers_.rx_packet = now + delay_units(rdtr);
  if (reg(RADV) != 0 && !timers_.rx_absolute) timers_.rx_absolute = now + delay_units(reg(RADV));
}

void E1000::arm_tx_delay(Instant now) {
  timers_.tx_packet = now + delay_units(reg(TIDV));
  if (reg(TADV) != 0 && !timers_.tx_absolute) timers_.tx_absolute = now + delay_units(reg(TADV));
}

void E1000::fire_timers(Instant now) {
  auto expired = [now](const std::optional<Instant>& t) { return t && *t <= now; };
  if (expired(timers_.rx_packet) || expired(timers_.rx_absolute)) {
    timers_.rx_packet.reset();
    timers_.rx_absolute.reset();
    raise(ICR_RXT0);
  }
  if (expired(timers_.tx_packet) || expired(timers_.tx_absolute)) {
    timers_.tx_packet.reset();
    timers_.tx_absolute.reset();
    raise(ICR_TXDW);
  }
  update_irq();  // a throttled cause may now be delivered
}

unsigned E1000::poll(Instant now) {
  fire_timers(now);
  const unsigned done = tx_run(config_.tx_descriptor_budget);
  fire_timers(now);
  return done;
}

bool E1000::transmit_pending() const { return tx_ready() && reg(TDH) != reg(TDT); }

std::optional<Instant> E1000::next_deadline() const {
  std::optional<Instant> best;
  auto consider = [&best](std::optional<Instant> t) {
    if (t && (!best || *t < *best)) best = t;
  };
  if (tx_ready() && reg(TDH) != reg(TDT)) consider(clock_.now());
  consider(timers_.rx_packet);
  consider(timers_.rx_absolute);
  consider(timers_.tx_packet);
  consider(timers_.tx_absolute);
  const bool intx_disabled =
      (e1000_detail::le16(&pci_[0x04]) & kPciCommandIntxDisable) != 0;
  if (!irq_asserted_ && !intx_disabled && (reg(ICR) & reg(IMS)) != 0) {
    consider(timers_.itr_next_allowed);
  }
  return best;
}

// Host link changes: STATUS.LU and the PHY status follow, and LSC is raised (SDM §13.4.17).
void E1000::set_link_up(bool up) {
  if (up == link_up_) return;
  link_up_ = up;
  phy_update_link();
  raise(ICR_LSC);
}

}  // namespace aero::devices
