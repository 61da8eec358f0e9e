// UDP NAT table; see udp_nat.h.
#include "aero/stack/udp_nat.h"

#include <algorithm>

namespace aero::stack {

UdpNat::UdpNat(std::size_t max_flows, Duration idle_timeout)
    : max_flows_(max_flows), idle_timeout_(idle_timeout) {}

UdpFlow* UdpNat::find(const UdpFlowKey& key) {
  auto it = std::find_if(flows_.begin(), flows_.end(), [&](const UdpFlow& f) { return f.key == key; });
  return it == flows_.end() ? nullptr : &*it;
}

UdpFlow* UdpNat::find(FlowId id) {
  auto it = std::find_if(flows_.begin(), flows_.end(), [&](const UdpFlow& f) { return f.id == id; });
  return it == flows_.end() ? nullptr : &*it;
}

UdpFlow* UdpNat::insert(const UdpFlowKey& key, Instant now) {
  if (flows_.size() >= max_flows_) return nullptr;
  // Ids are never reused while a flow could still hold them: 2^32 flows per session.
  flows_.push_back(UdpFlow{key, next_id_++, now});
  return &flows_.back();
}

void UdpNat::remove(FlowId id) {
  auto it = std::find_if(flows_.begin(), flows_.end(), [&](const UdpFlow& f) { return f.id == id; });
  if (it == flows_.end()) return;
  *it = flows_.back();
  flows_.pop_back();
}

std::optional<Instant> UdpNat::next_deadline() const {
  std::optional<Instant> earliest;
  for (const auto& flow : flows_) {
    const Instant due = flow.last_active + idle_timeout_;
    if (!earliest || due < *earliest) earliest = due;
  }
  return earliest;
}

}  // namespace aero::stack
