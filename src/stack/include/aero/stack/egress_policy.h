// The egress policy: which destinations a guest may reach through the proxy.
//
// Decision order for an address (first match wins):
//   1. a deny CIDR                          -> denied "denied_cidr"
//   2. an allow CIDR                        -> allowed (explicit allows may open private ranges)
//   3. a non-empty allow list without match -> denied "not_in_allow_list"
//   4. a special-purpose range, unless private addresses are allowed
//                                           -> denied "special_purpose" (detail: the range)
//   5. otherwise                            -> allowed
// Ports are checked separately against the TCP or UDP allowlist (unset: every port 1..65535;
// port 0 is never allowed). Names are checked against suffix rules: a blocked suffix wins; a
// non-empty allowed list must match. A suffix matches the name itself and its subdomains,
// case-insensitively; dots around entries are ignored; an empty suffix matches nothing.
//
// With the policy disabled (the stack's "network off" switch) every destination is denied.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/stack/address_ranges.h"

namespace aero::stack {

struct EgressPolicyConfig {
  bool enabled = true;
  bool allow_private = false;  // AERO_L2_ALLOW_PRIVATE_IPS: special-purpose ranges allowed
  std::vector<Ipv4Cidr> allow_cidrs;
  std::vector<Ipv4Cidr> deny_cidrs;
  std::optional<std::vector<std::uint16_t>> tcp_ports;  // nullopt: all ports
  std::optional<std::vector<std::uint16_t>> udp_ports;
  std::vector<std::string> allowed_domains;  // normalised: lowercase, no surrounding dots
  std::vector<std::string> blocked_domains;
};

struct Decision {
  bool allowed = false;
  // Why a destination was refused; a stable label for metrics ("" when allowed).
  std::string_view reason;
  // For special-purpose denials, which range ("loopback", "private", ...).
  std::string_view detail;

  explicit operator bool() const { return allowed; }
};

class EgressPolicy {
 public:
  EgressPolicy() = default;
  explicit EgressPolicy(EgressPolicyConfig config);

  Decision check_address(Ipv4Address destination) const;
  Decision check_address(const Ipv6Address& destination) const;
  Decision check_tcp(Ipv4Address destination, std::uint16_t port) const;
  Decision check_udp(Ipv4Address destination, std::uint16_t port) const;
  Decision check_tcp_port(std::uint16_t port) const;
  Decision check_udp_port(std::uint16_t port) const;
  Decision check_domain(std::string_view name) const;

  const EgressPolicyConfig& config() const { return config_; }

 private:
  EgressPolicyConfig config_;
};

// Reads the policy from Aero's variables (names as Aero's proxy uses them):
//   AERO_L2_ALLOW_PRIVATE_IPS             1/true/yes/on allows special-purpose ranges
//   AERO_L2_ALLOWED_TCP_PORTS / _UDP_PORTS comma list; unset = all; set but empty = none
//   AERO_L2_ALLOWED_DOMAINS / AERO_L2_BLOCKED_DOMAINS  comma lists of suffixes
// and aero-net's additions:
//   AERO_L2_ALLOWED_CIDRS / AERO_L2_DENIED_CIDRS       comma lists of a.b.c.d/n
// Any malformed entry is an error whose message names the variable.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
Result<EgressPolicyConfig> egress_policy_from_env(const EnvLookup& lookup);

// Aero's boolean spelling: 1, true, yes, on (case-insensitive, surrounding spaces ignored).
bool parse_env_bool(std::string_view value);

}  // namespace aero::stack
