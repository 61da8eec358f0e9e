// /tcp targets: the query forms, host classification and the egress decision (SSRF and DNS
// rebinding defence), without sockets.
//
// Query (Aero's gateway): `v` absent, empty or "1" (at most 16 characters); then either
// `target=<host>:<port>` (wins when present; at most 1056 characters; IPv6 as `[v6]:port`) or
// `host=` + `port=` (host at most 1024 characters, `[v6]` brackets stripped). A port is 1..16
// decimal digits with a value 1..65535.
//
// Host classification: a bracketed or bare IPv6 literal (at most 128 characters, an embedded
// IPv4 tail in strict dotted decimal); an IPv4 literal in any inet_aton form (0x hex, leading-0
// octal, 1 to 4 parts, the last part filling the remaining bytes; a single trailing '.' only
// after a strict dotted quad) normalised to a dotted quad; otherwise a host name, normalised
// (trimmed, trailing dots removed, lower case) and validated: 1..253 characters, labels 1..63 of
// [a-z0-9-] not starting or ending with '-'. Non-ASCII names are refused: clients send the
// xn-- (Punycode) form.
//
// Decision order for a parsed target (first failure wins; status and message are Aero's):
//   port not in TCP_ALLOWED_PORTS                           403 Target port not allowed
//   host invalid                                            400 Invalid host
//   IP literal with TCP_REQUIRE_DNS_NAME=1                  403 IP-literal targets are not allowed
//   host matches TCP_BLOCKED_HOSTS                          403 Target is blocked
//   TCP_ALLOWED_HOSTS set and host does not match           403 Target host not allowed
//   IP literal in a special-purpose range (stack/address_ranges.h), unless
//   TCP_ALLOW_PRIVATE_IPS=1                                 403 Target IP is not allowed by IP egress policy
// A host name then needs DNS: every address is looked up once, and the first address that
// passes the IP policy is the one dialled (never resolved again, so no rebinding window):
//   lookup failed or empty                                  502 DNS lookup failed
//   no address passes                                       403 Target IP is not allowed by IP egress policy
//
// Patterns (TCP_ALLOWED_HOSTS / TCP_BLOCKED_HOSTS): `*.suffix` matches strict subdomains only
// (not the apex), an exact host name matches itself, an IP literal matches the same IP literal
// target. Deny wins over allow.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/services/gateway/proxy_allowlist.h"
#include "aero/stack/egress_policy.h"

namespace aero::gateway {

inline constexpr std::size_t kMaxTargetChars = 1056;
inline constexpr std::size_t kMaxHostChars = 1024;
inline constexpr std::size_t kMaxPortChars = 16;
inline constexpr std::size_t kMaxVersionChars = 16;
inline constexpr std::size_t kMaxIpv6LiteralChars = 128;

// Host name normalisation; nullopt when the name is not a valid DNS host name.
std::optional<std::string> normalize_hostname(std::string_view raw);
// IPv4 in any inet_aton form; nullopt when `text` is not one.
std::optional<Ipv4Address> parse_ipv4_loose(std::string_view text);

struct ClassifiedHost {
  enum class Kind : std::uint8_t { ipv4, ipv6, name, invalid };
  Kind kind = Kind::invalid;
  std::string normalized;  // dotted quad, RFC 5952 IPv6 (no brackets), or the host name
  IpAddress address{};     // for ipv4 / ipv6
  bool is_ip() const { return kind == Kind::ipv4 || kind == Kind::ipv6; }
};
// `host` as given (IPv6 with or without brackets).
ClassifiedHost classify_host(std::string_view host);

struct HostPattern {
  enum class Kind : std::uint8_t { subdomains, exact_name, ip };
  Kind kind = Kind::exact_name;
  std::string value;  // suffix without "*.", normalised name, or normalised IP
  bool matches(const ClassifiedHost& host) const;
  friend bool operator==(const HostPattern&, const HostPattern&) = default;
};
// One pattern; nullopt when malformed ("*" alone, "*" elsewhere than a leading "*.", a bad name).
std::optional<HostPattern> parse_host_pattern(std::string_view text);

struct TcpPolicy {
  std::vector<HostPattern> allowed_hosts;  // empty: every host
  std::vector<HostPattern> blocked_hosts;
  bool require_dns_name = false;
  bool allow_private_ips = false;
  std::vector<std::uint16_t> allowed_ports;  // empty: every port
  // The development and token relays' policy (proxy_allowlist.h). When set, it replaces every
  // check above: invalid hosts still answer 400 Invalid host, refusals 403 with its reason.
  std::optional<ProxyPolicy> proxy;
};

// A failed check: the HTTP status and the one-line message of the plain-text rejection.
struct Rejection {
  unsigned status = 0;
  std::string message;
  // Metrics label: "handshake", "unauthorized", "client_ip_blocked", "origin", "bad_target",
  // "port", "host_policy", "ip_policy", "dns", "too_many_connections", "shutting_down",
  // "not_found", "url_too_long".
  std::string_view reason;
  friend bool operator==(const Rejection&, const Rejection&) = default;
};

struct TcpTarget {
  std::string host;  // as given, brackets stripped
  std::uint16_t port = 0;
};

// Parses the /tcp query string (the part after '?', may be empty) into `out`; a 400 rejection
// with Aero's message when it is malformed.
std::optional<Rejection> parse_tcp_query(std::string_view query, TcpTarget& out);

// What to do with a parsed target.
struct TargetPlan {
  std::optional<Rejection> rejection;
  std::optional<IpAddress> dial;   // an IP literal that passed every check
  std::string resolve_name;        // a host name to look up (when neither of the above)
};
TargetPlan plan_target(const TcpPolicy& policy, const TcpTarget& target);

// The IP policy for one address: true when it may be dialled.
bool ip_allowed(const TcpPolicy& policy, const IpAddress& address);

// After the lookup of plan.resolve_name: the first address (in the resolver's order) that the IP
// policy allows, or the rejection (502 when `addresses` is empty, 403 when none passes).
struct AddressChoice {
  std::optional<IpAddress> address;
  std::optional<Rejection> rejection;
};
// `name` and `port` are the target's (the proxy policy's name rules need them).
AddressChoice pick_address(const TcpPolicy& policy, std::span<const IpAddress> addresses, std::string_view name = {},
                           std::uint16_t port = 0);

}  // namespace aero::gateway
