// libFuzzer target for the AERO_PROXY_ALLOW grammar and the proxy target decision.
//
// The input is an AERO_PROXY_ALLOW value. Invariants (any violation traps):
//  * parsing never crashes; an error names AERO_PROXY_ALLOW;
//  * every parsed rule has a port range with 1 <= first <= last, a name rule a non-empty
//    normalised name (or `*`), a CIDR rule no host bits beyond its prefix (it contains its own
//    network address);
//  * the decision for a loopback address never allows it through a name rule (a name rule lets
//    only public addresses through), and an allowed address is one of the candidates.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aero/services/gateway/proxy_allowlist.h"

namespace {

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aero;
  using namespace aero::gateway;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rules = parse_allowlist(text);
  if (!rules) {
    check(rules.error().message.find("AERO_PROXY_ALLOW") != std::string::npos);
    return 0;
  }
  check(rules->size() <= kMaxAllowlistEntries);
  for (const AllowRule& rule : *rules) {
    check(rule.ports.first >= 1 && rule.ports.first <= rule.ports.last);
    if (rule.kind == AllowRule::Kind::exact_name || rule.kind == AllowRule::Kind::suffix) check(!rule.name.empty());
    if (rule.kind == AllowRule::Kind::ipv4_cidr) check(rule.matches_address(IpAddress::from(rule.v4.network)));
    if (rule.kind == AllowRule::Kind::ipv6_cidr) check(rule.matches_address(IpAddress::from(rule.v6.network)));
  }
  ProxyPolicy policy;
  policy.allow = std::move(*rules);
  const IpAddress candidates[] = {*IpAddress::parse("127.0.0.1"), *IpAddress::parse("93.184.216.34")};
  for (const std::uint16_t port : {std::uint16_t{1}, std::uint16_t{80}, std::uint16_t{65535}}) {
    const ProxyDecision named = decide_proxy_target(policy, "a.example.test", port, candidates);
    if (named.address) {
      check(*named.address == candidates[0] || *named.address == candidates[1]);
      if (*named.address == candidates[0]) {
        bool by_address = false;
        for (const AllowRule& rule : policy.allow) {
          by_address = by_address || (!rule.is_name_rule() && rule.ports.contains(port) && rule.matches_address(candidates[0]));
        }
        check(by_address);
      }
    } else {
      check(!named.refusal.empty());
    }
  }
  return 0;
}
