// The multiplexed /udp relay's bindings, without sockets (Aero's UDP relay engine, the WebRTC
// relay's rules where Aero's two engines differ; docs/gateway.md lists the choices).
//
// A binding is one guest port: the server gives it a UDP socket per address family, opened on
// first use. Outbound datagrams create or touch the binding of their guest port and add their
// destination (address and port) to the binding's remotes. When a new binding would exceed
// MAX_UDP_BINDINGS_PER_SESSION the least recently used one is evicted (not an error). Bindings
// idle for UDP_BINDING_IDLE_TIMEOUT_MS are swept.
//
// Inbound filter (UDP_INBOUND_FILTER_MODE): `address_and_port` delivers a datagram only when its
// source is a remote the guest sent to through that binding within the idle timeout (a hit
// refreshes it); `any` delivers everything. A binding holds at most
// MAX_ALLOWED_REMOTES_PER_BINDING remotes: beyond that, expired ones are pruned, then the oldest
// is evicted.
//
// Inbound framing: IPv6 sources always as v2; IPv4 as v2 only with PREFER_V2 once the client has
// sent a v2 frame, else v1.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aero/base/ip_address.h"

namespace aero::gateway {

struct UdpRelayLimits {
  std::size_t max_payload = 1200;                          // MAX_DATAGRAM_PAYLOAD_BYTES
  std::size_t max_bindings = 128;                          // MAX_UDP_BINDINGS_PER_SESSION
  std::size_t max_allowed_remotes = 1024;                  // MAX_ALLOWED_REMOTES_PER_BINDING
  std::chrono::milliseconds binding_idle_timeout{60000};   // UDP_BINDING_IDLE_TIMEOUT_MS
  bool prefer_v2 = false;                                  // PREFER_V2
  bool inbound_filter_any = false;                         // UDP_INBOUND_FILTER_MODE=any
  std::size_t send_queue_bytes = 1048576;                  // UDP_SEND_QUEUE_BYTES
};

class UdpBindingTable {
 public:
  using Clock = std::chrono::steady_clock;

  explicit UdpBindingTable(const UdpRelayLimits& limits) : limits_(limits) {}

  struct Outbound {
    bool created = false;                     // a new binding: the server opens its socket
    std::optional<std::uint16_t> evicted;     // a binding evicted to make room: close it
  };
  // An outbound datagram from `guest_port` to `remote`:`remote_port`, framed in v2 or not.
  Outbound outbound(std::uint16_t guest_port, const IpAddress& remote, std::uint16_t remote_port, bool v2,
                    Clock::time_point now);

  // Whether a datagram from `remote`:`remote_port` to the binding of `guest_port` is delivered.
  bool inbound_allowed(std::uint16_t guest_port, const IpAddress& remote, std::uint16_t remote_port,
                       Clock::time_point now);
  // The framing version for an inbound datagram from `remote`.
  int inbound_version(const IpAddress& remote) const;

  // Bindings idle for longer than the timeout, removed from the table: close their sockets.
  std::vector<std::uint16_t> sweep(Clock::time_point now);
  std::chrono::milliseconds sweep_interval() const;

  bool contains(std::uint16_t guest_port) const { return bindings_.contains(guest_port); }
  std::size_t size() const { return bindings_.size(); }
  std::size_t remotes(std::uint16_t guest_port) const;
  std::uint64_t remote_evictions() const { return remote_evictions_; }

 private:
  struct Binding {
    Clock::time_point last_used{};
    std::map<std::string, Clock::time_point> remotes;  // remote key -> last seen
    Clock::time_point last_prune{};
  };
  static std::string remote_key(const IpAddress& address, std::uint16_t port);
  void prune(Binding& binding, Clock::time_point now);

  UdpRelayLimits limits_;
  std::map<std::uint16_t, Binding> bindings_;
  bool client_sent_v2_ = false;
  std::uint64_t remote_evictions_ = 0;
};

}  // namespace aero::gateway
