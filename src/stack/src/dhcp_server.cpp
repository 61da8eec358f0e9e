// DHCP server state machine; the theory of operation is in dhcp_server.h.
#include "aero/stack/dhcp_server.h"

#include <algorithm>
#include <array>

namespace aero::stack {

namespace {

using wire::DhcpMessageType;

constexpr Ipv4Address kBroadcast{{255, 255, 255, 255}};

Instant after(Instant now, std::chrono::seconds span) { return now + span; }

}  // namespace

std::string dhcp_client_key(const wire::DhcpMessage& message) {
  if (auto id = message.client_id(); id && !id->empty()) {
    return "id:" + std::string(as_chars(*id));
  }
  const std::size_t hlen = std::min<std::size_t>(message.hlen(), 16);
  std::string key = "hw:";
  key.push_back(static_cast<char>(message.htype()));
  key.append(as_chars(message.chaddr().first(hlen)));
  return key;
}

DhcpServer::DhcpServer(const StackConfig& config)
    : config_(config), pool_(config.dhcp_pool_size) {}

DhcpServer::State DhcpServer::state_at(const Lease& lease, Instant now) const {
  if (lease.state != State::free && lease.expires <= now) return State::free;
  return lease.state;
}

std::optional<std::size_t> DhcpServer::slot_of(Ipv4Address address) const {
  const std::uint32_t first = config_.guest_ip.to_u32();
  const std::uint32_t value = address.to_u32();
  if (value < first || value - first >= pool_.size()) return std::nullopt;
  return value - first;
}

Ipv4Address DhcpServer::address_of(std::size_t slot) const {
  return Ipv4Address::from_u32(config_.guest_ip.to_u32() + static_cast<std::uint32_t>(slot));
}

std::optional<std::size_t> DhcpServer::find_client(const std::string& client, Instant now,
                                                   bool include_free) const {
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (pool_[i].client != client) continue;
    const State state = state_at(pool_[i], now);
    if (state == State::offered || state == State::bound) return i;
    if (include_free && state == State::free) return i;
  }
  return std::nullopt;
}

bool DhcpServer::available_to(std::size_t slot, const std::string& client, Instant now) const {
  const State state = state_at(pool_[slot], now);
  if (state == State::declined) return false;
  return state == State::free || pool_[slot].client == client;
}

std::optional<std::size_t> DhcpServer::choose_offer(const std::string& client,
                                                    std::optional<Ipv4Address> requested,
                                                    Instant now) const {
  if (auto current = find_client(client, now, /*include_free=*/true)) {
    if (available_to(*current, client, now)) return current;
  }
  if (requested) {
    if (auto slot = slot_of(*requested); slot && available_to(*slot, client, now)) return slot;
  }
  // Prefer addresses nobody has used, so a returning client's old address stays its own.
  std::optional<std::size_t> reusable;
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (state_at(pool_[i], now) != State::free) continue;
    if (pool_[i].client.empty()) return i;
    if (!reusable) reusable = i;
  }
  return reusable;
}

std::optional<DhcpReply> DhcpServer::handle(const wire::DhcpMessage& request, Instant now,
                                            std::span<std::uint8_t> out) {
  const auto type = request.message_type();
  if (request.op() != static_cast<std::uint8_t>(wire::BootpOp::request) || !type ||
      request.htype() != 1 || request.hlen() != 6) {
    ++stats_.ignored;
    return std::nullopt;
  }
  switch (*type) {
    case DhcpMessageType::discover: ++stats_.discovers; return on_discover(request, now, out);
    case DhcpMessageType::request: ++stats_.requests; return on_request(request, now, out);
    case DhcpMessageType::decline: ++stats_.declines; on_decline(request, now); return std::nullopt;
    case DhcpMessageType::release: ++stats_.releases; on_release(request, now); return std::nullopt;
    case DhcpMessageType::inform: ++stats_.informs; return on_inform(request, out);
    default: ++stats_.ignored; return std::nullopt;
  }
}

std::optional<DhcpReply> DhcpServer::on_discover(const wire::DhcpMessage& m, Instant now,
                                                 std::span<std::uint8_t> out) {
  const std::string client = dhcp_client_key(m);
  const auto slot = choose_offer(client, m.requested_ip(), now);
  if (!slot) {
    ++stats_.pool_exhausted;
    return std::nullopt;
  }
  // Forget any other slot this client held: a client has one address.
  for (auto& lease : pool_) {
    if (lease.client == client && &lease != &pool_[*slot] && lease.state != State::declined) {
      lease = Lease{};
    }
  }
  Lease& lease = pool_[*slot];
  if (state_at(lease, now) != State::bound) {
    lease.state = State::offered;
    lease.expires = after(now, config_.offer_hold);
  }
  lease.client = client;
  lease.mac = wire::MacAddress::from_bytes(m.chaddr());
  auto reply = build(m, DhcpMessageType::offer, address_of(*slot), out);
  if (reply) ++stats_.offers;
  return reply;
}

std::optional<DhcpReply> DhcpServer::on_request(const wire::DhcpMessage& m, Instant now,
                                                std::span<std::uint8_t> out) {
  const std::string client = dhcp_client_key(m);
  if (auto server_id = m.server_id()) {
    // SELECTING (RFC 2131 §4.3.2): the client answers one server's OFFER.
    if (*server_id != config_.gateway_ip) {
      if (auto held = find_client(client, now, false); held && pool_[*held].state == State::offered) {
        pool_[*held].state = State::free;
      }
      ++stats_.other_server;
      return std::nullopt;
    }
    const auto requested = m.requested_ip();
    const auto slot = requested ? slot_of(*requested) : std::nullopt;
    const auto held = find_client(client, now, false);
    if (!slot || !held || *slot != *held) return nak(m, "requested address was not offered", out);
    return bind_and_ack(m, *slot, now, out);
  }
  // INIT-REBOOT names the address in option 50; RENEWING and REBINDING in ciaddr.
  const Ipv4Address zero{};
  const Ipv4Address address = m.ciaddr() != zero ? m.ciaddr() : m.requested_ip().value_or(zero);
  if (address == zero) {
    ++stats_.ignored;  // RFC 2131 §4.3.2: a REQUEST must carry one or the other
    return std::nullopt;
  }
  const auto slot = slot_of(address);
  if (!slot) return nak(m, "address not on this network", out);
  if (!available_to(*slot, client, now)) return nak(m, "address in use", out);
  return bind_and_ack(m, *slot, now, out);
}

std::optional<DhcpReply> DhcpServer::bind_and_ack(const wire::DhcpMessage& m, std::size_t slot,
                                                  Instant now, std::span<std::uint8_t> out) {
  const std::string client = dhcp_client_key(m);
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (i != slot && pool_[i].client == client && pool_[i].state != State::declined) pool_[i] = Lease{};
  }
  Lease& lease = pool_[slot];
  lease.state = State::bound;
  lease.expires = after(now, config_.lease_time);
  lease.client = client;
  lease.mac = wire::MacAddress::from_bytes(m.chaddr());
  auto reply = build(m, DhcpMessageType::ack, address_of(slot), out);
  if (reply) ++stats_.acks;
  return reply;
}

void DhcpServer::on_decline(const wire::DhcpMessage& m, Instant now) {
  if (auto server_id = m.server_id(); server_id && *server_id != config_.gateway_ip) return;
  const auto requested = m.requested_ip();
  const auto slot = requested ? slot_of(*requested) : std::nullopt;
  if (!slot || pool_[*slot].client != dhcp_client_key(m)) return;
  // RFC 2131 §4.3.3: the address is in use by another host; do not hand it out for a while.
  pool_[*slot] = Lease{State::declined, after(now, config_.declined_hold), {}, {}};
}

void DhcpServer::on_release(const wire::DhcpMessage& m, Instant now) {
  const auto slot = slot_of(m.ciaddr());
  if (!slot || pool_[*slot].client != dhcp_client_key(m)) return;
  if (state_at(pool_[*slot], now) == State::bound) {
    pool_[*slot].state = State::free;  // the client key stays: it gets this address back first
  }
}

std::optional<DhcpReply> DhcpServer::on_inform(const wire::DhcpMessage& m,
                                               std::span<std::uint8_t> out) {
  auto reply = build(m, DhcpMessageType::ack, Ipv4Address{}, out);
  if (reply) ++stats_.acks;
  return reply;
}

std::optional<DhcpReply> DhcpServer::build(const wire::DhcpMessage& m, DhcpMessageType type,
                                           Ipv4Address yiaddr, std::span<std::uint8_t> out) {
  auto builder = wire::DhcpBuilder::reply(out, m, type, yiaddr, config_.gateway_ip);
  if (!builder) {
    ++stats_.reply_build_failed;
    return std::nullopt;
  }
  const bool inform = m.message_type() == DhcpMessageType::inform;
  const std::array<Ipv4Address, 1> routers{config_.gateway_ip};
  const std::array<Ipv4Address, 1> dns{config_.dns_ip};
  bool ok = builder->add_subnet_mask(config_.netmask()).ok() &&
            builder->add_routers(routers).ok() && builder->add_dns_servers(dns).ok() &&
            builder->add_broadcast_address(config_.broadcast_address()).ok() &&
            builder->add_interface_mtu(config_.mtu).ok();
  if (ok && !config_.domain_name.empty()) ok = builder->add_domain_name(config_.domain_name).ok();
  if (ok && !config_.classless_routes.empty()) {
    // RFC 3442 §3: a client that uses option 121 ignores option 3, so the default route must be
    // in 121 as well.
    std::vector<wire::DhcpClasslessRoute> routes = config_.classless_routes;
    const bool has_default = std::any_of(routes.begin(), routes.end(),
                                         [](const auto& r) { return r.prefix_length == 0; });
    if (!has_default) routes.push_back({Ipv4Address{}, 0, config_.gateway_ip});
    ok = builder->add_classless_routes(routes).ok();
  }
  if (ok && !inform) {
    const auto lease = static_cast<std::uint32_t>(config_.lease_time.count());
    // RFC 2131 §4.4.5 defaults: T1 = 0.5 and T2 = 0.875 of the lease.
    ok = builder->add_lease_time(lease).ok() && builder->add_renewal_time(lease / 2).ok() &&
         builder->add_rebinding_time(static_cast<std::uint32_t>(lease / 8ULL * 7ULL)).ok();
  }
  auto length = ok ? builder->finish() : Result<std::size_t>(make_error("too_large", "options"));
  if (!length) {
    ++stats_.reply_build_failed;
    return std::nullopt;
  }
  DhcpReply reply;
  reply.length = *length;
  reply.type = type;
  const wire::MacAddress client_mac = wire::MacAddress::from_bytes(m.chaddr());
  if (m.ciaddr() != Ipv4Address{}) {
    reply.ip_destination = m.ciaddr();
    reply.mac_destination = client_mac;
  } else if (m.broadcast()) {
    reply.ip_destination = kBroadcast;
    reply.mac_destination = wire::MacAddress::broadcast();
  } else {
    reply.ip_destination = yiaddr;
    reply.mac_destination = client_mac;
  }
  return reply;
}

std::optional<DhcpReply> DhcpServer::nak(const wire::DhcpMessage& m, std::string_view reason,
                                         std::span<std::uint8_t> out) {
  auto builder = wire::DhcpBuilder::reply(out, m, DhcpMessageType::nak, Ipv4Address{},
                                          config_.gateway_ip);
  if (!builder || !builder->add_message(reason).ok()) {
    ++stats_.reply_build_failed;
    return std::nullopt;
  }
  auto length = builder->finish();
  if (!length) {
    ++stats_.reply_build_failed;
    return std::nullopt;
  }
  ++stats_.naks;
  // RFC 2131 §4.1: with giaddr 0 the server broadcasts DHCPNAK.
  return DhcpReply{*length, DhcpMessageType::nak, kBroadcast, wire::MacAddress::broadcast()};
}

std::optional<Ipv4Address> DhcpServer::bound_address(const wire::MacAddress& mac,
                                                     Instant now) const {
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (pool_[i].mac == mac && state_at(pool_[i], now) == State::bound) return address_of(i);
  }
  return std::nullopt;
}

}  // namespace aero::stack
