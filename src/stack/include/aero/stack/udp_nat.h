// The UDP NAT table: one host socket per guest flow (guest address and port, remote address and
// port), bounded in number, expired when idle.
//
// Storage is a vector reserved to the cap at construction, so inserts never allocate; lookups are
// linear, which at the default cap of 256 flows costs less than the system call each datagram
// makes anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "aero/base/clock.h"
#include "aero/base/ip_address.h"

namespace aero::stack {

using FlowId = std::uint32_t;

struct UdpFlowKey {
  Ipv4Address guest_ip;
  std::uint16_t guest_port = 0;
  Ipv4Address remote_ip;  // as the guest addressed it
  std::uint16_t remote_port = 0;
  friend bool operator==(const UdpFlowKey&, const UdpFlowKey&) = default;
};

struct UdpFlow {
  UdpFlowKey key;
  FlowId id = 0;
  Instant last_active{};
};

class UdpNat {
 public:
  UdpNat(std::size_t max_flows, Duration idle_timeout);

  UdpFlow* find(const UdpFlowKey& key);
  UdpFlow* find(FlowId id);
  // A new flow, or nullptr when the table is full.
  UdpFlow* insert(const UdpFlowKey& key, Instant now);
  void remove(FlowId id);

  // Removes the flows idle for idle_timeout or longer at `now`; calls on_expired(id) for each.
  template <class OnExpired>
  void expire(Instant now, OnExpired&& on_expired) {
    for (std::size_t i = 0; i < flows_.size();) {
      if (now - flows_[i].last_active >= idle_timeout_) {
        const FlowId id = flows_[i].id;
        flows_[i] = flows_.back();
        flows_.pop_back();
        on_expired(id);
      } else {
        ++i;
      }
    }
  }
  std::optional<Instant> next_deadline() const;

  std::size_t size() const { return flows_.size(); }
  std::size_t capacity() const { return max_flows_; }

 private:
  std::size_t max_flows_;
  Duration idle_timeout_;
  std::vector<UdpFlow> flows_;
  FlowId next_id_ = 1;
};

}  // namespace aero::stack
