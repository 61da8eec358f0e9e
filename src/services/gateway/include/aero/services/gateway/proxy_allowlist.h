// The development relay's target policy (Aero's net-proxy, AERO_PROXY_OPEN / AERO_PROXY_ALLOW)
// and the token relay's (tools/net-proxy-server, AERO_PROXY_ALLOW_PRIVATE_IPS /
// AERO_PROXY_ALLOW_CIDRS), without sockets. docs/gateway.md has the modes.
//
// AERO_PROXY_ALLOW grammar: a comma list (at most 64 KiB and 4096 entries; entries trimmed,
// empties skipped) of `hostOrCidr[:portSpec]`:
//   host forms  `*` (any host name), `*.suffix` (the suffix itself and its subdomains: unlike the
//               gateway's TCP_ALLOWED_HOSTS, net-proxy includes the apex), an exact host name
//               (normalised: lower case, trailing dots removed), an IPv4 or IPv6 literal, a
//               CIDR (`a.b.c.d/n`, `v6/n`, host bits zero); `[v6]` and `[v6]:portSpec`
//               bracket forms; a bare IPv6 literal or CIDR means every port.
//   portSpec    `*`, `N` or `A-B` (1..65535, A <= B); missing means `*`; an empty one after
//               `:` is an error. When the text after the last `:` is not a port spec (an IPv6
//               literal's last group, `/32`), the whole entry is the host with port `*`.
//
// Decision (net-proxy's resolveAndAuthorizeTarget; the address chosen is the one dialled, never
// resolved again):
//   open mode           an IP literal is dialled as is; a name: its first resolved address.
//   allowlist set       the first resolved address (in order) for which a rule matches the port
//                       and either the address (IP and CIDR rules) or the requested name (name
//                       rules, and then only a public unicast address: a name rule never lets a
//                       name that resolves to a private address through); otherwise refused.
//   neither             the first public unicast address (the special-purpose ranges of
//                       stack/address_ranges.h are refused), or, in the token relay's policy,
//                       also private ones when allow_private_ips, or IPv4 ones inside
//                       allow_private_cidrs.
// IPv4-mapped IPv6 addresses are judged as IPv4.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/stack/address_ranges.h"

namespace aero::gateway {

inline constexpr std::size_t kMaxAllowlistChars = 64 * 1024;
inline constexpr std::size_t kMaxAllowlistEntries = 4096;

struct PortRange {
  std::uint16_t first = 1;
  std::uint16_t last = 65535;
  bool contains(std::uint16_t port) const { return port >= first && port <= last; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct AllowRule {
  enum class Kind : std::uint8_t { any_name, suffix, exact_name, ipv4_cidr, ipv6_cidr };
  Kind kind = Kind::exact_name;
  std::string name;  // suffix (without "*.") or exact name, normalised
  stack::Ipv4Cidr v4{};
  stack::Ipv6Cidr v6{};
  PortRange ports;

  bool is_name_rule() const { return kind == Kind::any_name || kind == Kind::suffix || kind == Kind::exact_name; }
  // Name rules: `host` is a normalised host name.
  bool matches_name(std::string_view host) const;
  // IP and CIDR rules (an IP literal is a /32 or /128).
  bool matches_address(const IpAddress& address) const;
  friend bool operator==(const AllowRule&, const AllowRule&) = default;
};

// One entry; errors (kind "bad_config") say what is wrong with it.
Result<AllowRule> parse_allow_rule(std::string_view entry);
// The whole AERO_PROXY_ALLOW value.
Result<std::vector<AllowRule>> parse_allowlist(std::string_view text);

struct ProxyPolicy {
  bool open = false;              // AERO_PROXY_OPEN=1
  std::vector<AllowRule> allow;   // AERO_PROXY_ALLOW
  bool allow_private_ips = false; // the token relay's AERO_PROXY_ALLOW_PRIVATE_IPS
  std::vector<stack::Ipv4Cidr> allow_private_cidrs;  // the token relay's AERO_PROXY_ALLOW_CIDRS
  // The refusal message when no address is public (net-proxy's and the token relay's differ).
  std::string ip_denied_message = "Target IP is not allowed by IP egress policy";

  // "open", "allowlist" or "public_only" (net-proxy's policyMode log field).
  std::string_view mode_name() const;
};

// The decision for `host` (a normalised host name, or empty for an IP literal) and `port` over
// its candidate addresses (the literal itself, or the resolved addresses in order). A refusal
// carries net-proxy's reason text.
struct ProxyDecision {
  std::optional<IpAddress> address;
  std::string refusal;  // empty when allowed
};
ProxyDecision decide_proxy_target(const ProxyPolicy& policy, std::string_view host, std::uint16_t port,
                                  std::span<const IpAddress> addresses);

// True for an ordinary public unicast address (IPv4-mapped judged as IPv4).
bool is_public_unicast(const IpAddress& address);

}  // namespace aero::gateway
