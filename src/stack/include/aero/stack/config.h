// The configuration of one stack session (one VM's network), validated once at creation.
//
// Defaults are Aero's: the guest 10.0.2.15/24, gateway and DNS 10.0.2.2, gateway MAC
// 02:00:00:00:00:01, a one-day lease. Everything a guest can make the session grow is bounded
// here (architecture habit 4).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "aero/base/clock.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/stack/address_ranges.h"
#include "aero/stack/egress_policy.h"
#include "aero/stack/ipv4_reassembler.h"
#include "aero/stack/tcp_engine.h"
#include "aero/wire/dhcp.h"
#include "aero/wire/mac_address.h"

namespace aero::stack {

struct StackConfig {
  // The virtual link.
  wire::MacAddress gateway_mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
  Ipv4Address gateway_ip{{10, 0, 2, 2}};
  Ipv4Address dns_ip{{10, 0, 2, 2}};
  Ipv4Address guest_ip{{10, 0, 2, 15}};  // the first address the DHCP server hands out
  std::uint8_t prefix_length = 24;
  std::uint16_t mtu = 1500;

  // DHCP (RFC 2131). The pool is `dhcp_pool_size` consecutive addresses from guest_ip; leases
  // are bounded by the pool, so a DHCP flood cannot grow the session.
  std::size_t dhcp_pool_size = 16;
  std::chrono::seconds lease_time{86400};
  std::chrono::seconds offer_hold{60};        // an unanswered OFFER is released after this
  std::chrono::seconds declined_hold{600};    // a DECLINEd address rests this long (§4.3.3)
  std::string domain_name;                    // option 15 when not empty
  std::vector<wire::DhcpClasslessRoute> classless_routes;  // option 121 when not empty

  // UDP NAT (one host socket per flow).
  std::size_t max_udp_flows = 256;                 // AERO_L2_MAX_UDP_FLOWS_PER_TUNNEL
  std::chrono::milliseconds udp_idle_timeout{60000};  // AERO_L2_UDP_FLOW_IDLE_TIMEOUT_MS

  // Reassembly of IPv4 fragments from the guest (bounded; see Ipv4Reassembler).
  Ipv4ReassemblyLimits reassembly;

  // Echo (ping) flows beyond the gateway.
  std::size_t max_echo_flows = 64;
  std::chrono::milliseconds echo_idle_timeout{10000};

  // Test and development forwards (AERO_L2_UDP_FORWARD): datagrams the guest sends to
  // guest_ip:guest_port go to target_ip:target_port instead, bypassing the address policy (not
  // the port policy).
  struct Forward {
    Ipv4Address guest_ip;
    std::uint16_t guest_port = 0;
    Ipv4Address target_ip;
    std::uint16_t target_port = 0;
    friend bool operator==(const Forward&, const Forward&) = default;
  };
  std::vector<Forward> udp_forwards;
  std::vector<Forward> tcp_forwards;  // AERO_L2_TCP_FORWARD, the same rules for TCP

  // TCP termination (tcp_engine.h).
  TcpConfig tcp;

  // The DNS forwarder at dns_ip.
  std::size_t max_pending_dns = 1024;         // AERO_L2_STACK_MAX_PENDING_DNS
  std::size_t max_dns_cache_entries = 10000;  // AERO_L2_STACK_MAX_DNS_CACHE_ENTRIES
  std::chrono::seconds dns_max_ttl{300};      // AERO_L2_DNS_MAX_TTL_SECS
  std::chrono::seconds dns_default_ttl{60};   // AERO_L2_DNS_DEFAULT_TTL_SECS (static answers)
  std::chrono::milliseconds dns_timeout{5000};
  struct StaticName {
    std::string name;  // lowercase, no trailing dot
    Ipv4Address address;
  };
  std::vector<StaticName> dns_static;  // AERO_L2_DNS_A, for tests and development

  EgressPolicyConfig policy;

  Ipv4Address netmask() const;
  Ipv4Address broadcast_address() const;
  bool in_subnet(Ipv4Address address) const;
  // True for the addresses the stack itself answers for (gateway, DNS).
  bool owns(Ipv4Address address) const { return address == gateway_ip || address == dns_ip; }

  // Checks the combination: the gateway, DNS and the whole pool in one subnet; the pool not
  // overlapping the gateway, DNS, network or broadcast address; sane MTU and timers. The error
  // message names the field.
  Result<void> validate() const;
};

// Parses AERO_L2_DNS_A: "name=ipv4,...".
Result<std::vector<StackConfig::StaticName>> parse_static_names(std::string_view variable,
                                                                std::string_view text);

// Parses Aero's forward list "ip:port=host:port,..." (hosts must be IPv4 literals here); the
// error names `variable`.
Result<std::vector<StackConfig::Forward>> parse_forward_list(std::string_view variable,
                                                             std::string_view text);

}  // namespace aero::stack
