// The session's DHCP server (RFC 2131, options per RFC 2132 and RFC 3442), sans-I/O.
//
// Theory of operation. The pool is `dhcp_pool_size` consecutive addresses starting at guest_ip;
// each has one Lease slot, so memory is fixed by the configuration whatever the guest sends. A
// slot is free, offered (held for offer_hold after an OFFER), bound (until the lease ends) or
// declined (resting for declined_hold after a DECLINE). Timed states lapse lazily: a slot whose
// `expires` has passed counts as free. A free slot remembers its last client so that client gets
// its address back (RFC 2131 §4.3.1).
//
//   DISCOVER        -> OFFER of: the client's current address, else its previous one, else the
//                      requested address (option 50) if free, else the first free address;
//                      silence (counted) when the pool is exhausted.
//   REQUEST with our server id (SELECTING)
//                   -> ACK if the requested address is the one offered or bound to the client,
//                      else NAK. With another server's id: the client chose someone else, our
//                      offer is released, no reply.
//   REQUEST without server id, ciaddr 0 (INIT-REBOOT), or with ciaddr (RENEWING/REBINDING)
//                   -> this server is authoritative for its virtual link: ACK when the address is
//                      in the pool and not held by another client, NAK otherwise.
//   DECLINE         -> the address rests (another host uses it); the binding is dropped.
//   RELEASE         -> the binding ends now.
//   INFORM          -> ACK with the configuration options only (no address, no lease time).
//
// Replies go where RFC 2131 §4.1 says: NAKs broadcast; to ciaddr when the client has one; else
// broadcast when the client set the broadcast flag; else unicast to yiaddr and chaddr.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aero/base/clock.h"
#include "aero/base/ip_address.h"
#include "aero/stack/config.h"
#include "aero/wire/dhcp.h"
#include "aero/wire/mac_address.h"

namespace aero::stack {

struct DhcpReply {
  std::size_t length = 0;  // bytes of the DHCP message written into the caller's buffer
  wire::DhcpMessageType type = wire::DhcpMessageType::offer;
  Ipv4Address ip_destination;
  wire::MacAddress mac_destination;
};

struct DhcpStats {
  std::uint64_t discovers = 0, requests = 0, declines = 0, releases = 0, informs = 0;
  std::uint64_t offers = 0, acks = 0, naks = 0;
  std::uint64_t pool_exhausted = 0;      // a DISCOVER with no free address
  std::uint64_t other_server = 0;        // a REQUEST that chose another server
  std::uint64_t ignored = 0;             // not a request, unknown type, missing fields
  std::uint64_t reply_build_failed = 0;  // reply did not fit the client's maximum size
};

class DhcpServer {
 public:
  // `config` must be validated and outlive the server.
  explicit DhcpServer(const StackConfig& config);

  // Handles one client message; writes the reply into `out` (at least 576 bytes) when one is due.
  std::optional<DhcpReply> handle(const wire::DhcpMessage& request, Instant now,
                                  std::span<std::uint8_t> out);

  // The address bound to `mac` at `now`, if any.
  std::optional<Ipv4Address> bound_address(const wire::MacAddress& mac, Instant now) const;
  const DhcpStats& stats() const { return stats_; }

 private:
  enum class State : std::uint8_t { free, offered, bound, declined };
  struct Lease {
    State state = State::free;
    Instant expires{};
    std::string client;  // client identifier (option 61) or hardware address key
    wire::MacAddress mac;
  };

  State state_at(const Lease& lease, Instant now) const;
  std::optional<std::size_t> slot_of(Ipv4Address address) const;
  Ipv4Address address_of(std::size_t slot) const;
  std::optional<std::size_t> find_client(const std::string& client, Instant now,
                                         bool include_free) const;
  std::optional<std::size_t> choose_offer(const std::string& client,
                                          std::optional<Ipv4Address> requested, Instant now) const;
  bool available_to(std::size_t slot, const std::string& client, Instant now) const;

  std::optional<DhcpReply> on_discover(const wire::DhcpMessage& m, Instant now,
                                       std::span<std::uint8_t> out);
  std::optional<DhcpReply> on_request(const wire::DhcpMessage& m, Instant now,
                                      std::span<std::uint8_t> out);
  std::optional<DhcpReply> on_inform(const wire::DhcpMessage& m, std::span<std::uint8_t> out);
  void on_decline(const wire::DhcpMessage& m, Instant now);
  void on_release(const wire::DhcpMessage& m, Instant now);

  std::optional<DhcpReply> bind_and_ack(const wire::DhcpMessage& m, std::size_t slot,
                                        Instant now, std::span<std::uint8_t> out);
  std::optional<DhcpReply> build(const wire::DhcpMessage& m, wire::DhcpMessageType type,
                                 Ipv4Address yiaddr, std::span<std::uint8_t> out);
  std::optional<DhcpReply> nak(const wire::DhcpMessage& m, std::string_view reason,
                               std::span<std::uint8_t> out);

  const StackConfig& config_;
  std::vector<Lease> pool_;
  DhcpStats stats_;
};

// The key a server uses to recognise a client: option 61 when present, else htype + chaddr.
std::string dhcp_client_key(const wire::DhcpMessage& message);

}  // namespace aero::stack
