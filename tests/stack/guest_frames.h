// Frames a guest would send, built with the wire emitters, for the stack tests.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/wire/dhcp.h"
#include "aero/wire/mac_address.h"

namespace aero::test {

inline const wire::MacAddress kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
inline const wire::MacAddress kGatewayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline const Ipv4Address kGatewayIp{{10, 0, 2, 2}};
inline const Ipv4Address kGuestIp{{10, 0, 2, 15}};
inline const Ipv4Address kZero{};
inline const Ipv4Address kBroadcastIp{{255, 255, 255, 255}};

Bytes arp_request(const wire::MacAddress& sender_mac, Ipv4Address sender_ip, Ipv4Address target_ip,
                  const wire::MacAddress& destination = wire::MacAddress::broadcast());

// An IPv4 frame around `payload` (protocol given); checksums right unless told otherwise.
Bytes ipv4_frame(const wire::MacAddress& source_mac, const wire::MacAddress& destination_mac,
                 Ipv4Address source, Ipv4Address destination, std::uint8_t protocol,
                 ByteSpan payload, bool corrupt_header_checksum = false);

Bytes udp_frame(const wire::MacAddress& source_mac, const wire::MacAddress& destination_mac,
                Ipv4Address source, Ipv4Address destination, std::uint16_t source_port,
                std::uint16_t destination_port, ByteSpan payload);

Bytes icmp_echo_frame(Ipv4Address source, Ipv4Address destination, std::uint16_t id,
                      std::uint16_t sequence, ByteSpan data, bool corrupt_checksum = false);

struct DhcpClientMessage {
  wire::DhcpMessageType type = wire::DhcpMessageType::discover;
  std::uint32_t xid = 0x1234;
  wire::MacAddress mac = kGuestMac;
  Ipv4Address ciaddr;
  std::optional<Ipv4Address> requested_ip;
  std::optional<Ipv4Address> server_id;
  std::optional<Bytes> client_id;
  bool broadcast_flag = false;
};
// The whole frame: Ethernet broadcast (or unicast to the gateway when ciaddr is set), IPv4 from
// ciaddr (or 0.0.0.0) to 255.255.255.255 (or the gateway), UDP 68 -> 67.
Bytes dhcp_frame(const DhcpClientMessage& message);

}  // namespace aero::test
