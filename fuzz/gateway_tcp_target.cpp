// libFuzzer target for the /tcp query parser, host classification and the egress decision.
//
// The input is a /tcp query string. Invariants (any violation traps):
//  * a parsed target has a port 1..65535 and a host within the length caps;
//  * classification is idempotent: a classified host's normalised form classifies to itself;
//  * with the default policy (private ranges refused), an IP literal is dialled only when it is
//    outside every special-purpose range, and a dialled address equals the classified one;
//  * every rejection has a status of 400, 403 or 502 and a non-empty message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aero/services/gateway/tcp_target.h"
#include "aero/stack/address_ranges.h"

namespace {

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aero::gateway;
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  TcpTarget target;
  if (auto rejection = parse_tcp_query(query, target)) {
    check(rejection->status == 400 && !rejection->message.empty());
    return 0;
  }
  check(target.port >= 1 && target.host.size() <= kMaxTargetChars);
  const ClassifiedHost host = classify_host(target.host);
  if (host.kind != ClassifiedHost::Kind::invalid) {
    const ClassifiedHost again = classify_host(host.normalized);
    check(again.kind == host.kind && again.normalized == host.normalized);
  }
  const TcpPolicy policy;
  const TargetPlan plan = plan_target(policy, target);
  if (plan.rejection) {
    check(!plan.rejection->message.empty());
    check(plan.rejection->status == 400 || plan.rejection->status == 403);
  } else if (plan.dial) {
    check(host.is_ip() && *plan.dial == host.address);
    const bool special = plan.dial->is_v4() ? aero::stack::special_purpose_range(plan.dial->v4).has_value()
                                            : aero::stack::special_purpose_range(plan.dial->v6).has_value();
    check(!special);
  } else {
    check(host.kind == ClassifiedHost::Kind::name && plan.resolve_name == host.normalized);
  }
  return 0;
}
