// Fuzz target: DHCP/BOOTP message parsing, option iteration and the reply builder.
// Invariants: errors use the fixed kinds; an accepted message re-emitted with the builder (every
// option instance in order, the overload option dropped) parses to the same header fields,
// options and typed values; a reply never exceeds the client's maximum message size.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "aero/wire/dhcp.h"

namespace {

using aero::ByteSpan;
using aero::wire::DhcpBuilder;
using aero::wire::DhcpHeader;
using aero::wire::DhcpMessage;
using aero::wire::DhcpOption;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool known_kind(std::string_view kind) {
  for (std::string_view k :
       {"truncated", "bad_length", "bad_magic", "bad_pointer", "unsupported", "too_large"}) {
    if (kind == k) return true;
  }
  return false;
}

bool same(ByteSpan a, ByteSpan b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

bool same(std::optional<ByteSpan> a, std::optional<ByteSpan> b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

std::vector<DhcpOption> options_of(const DhcpMessage& m) {
  std::vector<DhcpOption> out;
  for (auto it = m.options(); auto option = it.next();) {
    if (option->code != aero::wire::dhcp_option::overload) out.push_back(*option);
  }
  return out;
}

std::array<std::uint8_t, 65536> buffer;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan input(data, size);
  auto parsed = DhcpMessage::parse(input);
  if (!parsed) {
    check(known_kind(parsed.error().kind));
    return 0;
  }
  const DhcpMessage& m = *parsed;
  const std::vector<DhcpOption> options = options_of(m);
  for (const DhcpOption& option : options) {
    check(option.code != 0 && option.code != 255 && option.data.size() <= 255);
    check(option.data.data() >= input.data() &&
          option.data.data() + option.data.size() <= input.data() + input.size());
  }
  std::array<aero::wire::DhcpClasslessRoute, 64> routes{};
  std::size_t route_count = 0;
  if (auto data121 = m.find(aero::wire::dhcp_option::classless_static_routes)) {
    auto n = aero::wire::parse_classless_routes(*data121, routes);
    if (n) route_count = *n;
  }

  // Re-emit every field and option instance.
  DhcpHeader header;
  header.op = static_cast<aero::wire::BootpOp>(m.op());
  header.htype = m.htype();
  header.hlen = m.hlen();
  header.hops = m.hops();
  header.xid = m.xid();
  header.secs = m.secs();
  header.flags = m.flags();
  header.ciaddr = m.ciaddr();
  header.yiaddr = m.yiaddr();
  header.siaddr = m.siaddr();
  header.giaddr = m.giaddr();
  std::copy(m.chaddr().begin(), m.chaddr().end(), header.chaddr.begin());
  if ((m.overload() & 2) == 0) header.sname = m.sname();
  if ((m.overload() & 1) == 0) header.file = m.file();
  auto builder = DhcpBuilder::start(buffer, header, 65535);
  check(builder.ok());
  for (const DhcpOption& option : options) {
    auto status = builder->add(option.code, option.data);
    check(status.ok() || size > 60000);
    if (!status) return 0;
  }
  const std::size_t length = builder->finish().value();
  check(length >= aero::wire::kDhcpMinLength);
  auto again = DhcpMessage::parse(ByteSpan(buffer).first(length));
  check(again.ok());
  const DhcpMessage& r = *again;
  check(r.op() == m.op() && r.htype() == m.htype() && r.hlen() == m.hlen() &&
        r.hops() == m.hops() && r.xid() == m.xid() && r.secs() == m.secs() &&
        r.flags() == m.flags() && r.ciaddr() == m.ciaddr() && r.yiaddr() == m.yiaddr() &&
        r.siaddr() == m.siaddr() && r.giaddr() == m.giaddr() && same(r.chaddr(), m.chaddr()) &&
        r.overload() == 0);
  const std::vector<DhcpOption> options_again = options_of(r);
  check(options_again.size() == options.size());
  for (std::size_t i = 0; i < options.size(); ++i) {
    check(options[i].code == options_again[i].code && same(options[i].data, options_again[i].data));
  }
  check(r.message_type() == m.message_type() && r.requested_ip() == m.requested_ip() &&
        r.server_id() == m.server_id() && r.lease_time() == m.lease_time() &&
        r.max_message_size() == m.max_message_size() && r.hostname() == m.hostname() &&
        same(r.client_id(), m.client_id()) &&
        same(r.parameter_request_list(), m.parameter_request_list()));

  // A reply honours the request's maximum message size.
  const aero::Ipv4Address server{{10, 0, 2, 2}};
  auto reply = DhcpBuilder::reply(buffer, m, aero::wire::DhcpMessageType::ack,
                                  aero::Ipv4Address{{10, 0, 2, 15}}, server);
  check(reply.ok());
  const std::array<aero::Ipv4Address, 2> dns{{{{10, 0, 2, 3}}, {{1, 1, 1, 1}}}};
  check(reply->add_subnet_mask(aero::Ipv4Address{{255, 255, 255, 0}}).ok() &&
        reply->add_routers(std::span(dns).first(1)).ok() && reply->add_dns_servers(dns).ok() &&
        reply->add_domain_name("guest.internal").ok() && reply->add_interface_mtu(1500).ok() &&
        reply->add_broadcast_address(aero::Ipv4Address{{10, 0, 2, 255}}).ok() &&
        reply->add_lease_time(86400).ok() && reply->add_renewal_time(43200).ok() &&
        reply->add_rebinding_time(75600).ok());
  // Decoded routes re-encode (host bits cleared) and decode to the same routes.
  const auto routes_fit = reply->add_classless_routes(std::span(routes).first(route_count));
  if (routes_fit) {
    auto built = DhcpMessage::parse(ByteSpan(buffer).first(reply->size()));
    check(built.ok());
    std::array<aero::wire::DhcpClasslessRoute, 64> decoded{};
    auto n = aero::wire::parse_classless_routes(
        *built->find(aero::wire::dhcp_option::classless_static_routes), decoded);
    check(n.ok() && *n == route_count);
    for (std::size_t i = 0; i < route_count; ++i) {
      const std::uint8_t width = routes[i].prefix_length;
      const std::uint32_t mask = width == 0 ? 0 : ~std::uint32_t{0} << (32 - width);
      check(decoded[i].prefix_length == width && decoded[i].router == routes[i].router &&
            decoded[i].destination.to_u32() == (routes[i].destination.to_u32() & mask));
    }
  } else {
    check(routes_fit.error().kind == "too_large");
  }
  const std::size_t limit = std::max<std::size_t>(m.max_message_size().value_or(576), 576) - 28;
  std::array<std::uint8_t, 255> filler{};
  while (reply->add(224, filler).ok()) {
  }
  (void)reply->add_message("filled");
  const std::size_t reply_length = reply->finish().value();
  check(reply_length <= limit && reply_length + 255 + 2 > limit);
  auto parsed_reply = DhcpMessage::parse(ByteSpan(buffer).first(reply_length));
  check(parsed_reply.ok() && parsed_reply->server_id() == server && parsed_reply->xid() == m.xid());
  return 0;
}
