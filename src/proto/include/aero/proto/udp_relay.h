// UDP relay datagram framing, v1 and v2 (WebRTC `udp` DataChannel and the `/udp` WebSocket).
//
// A frame is version 2 when it starts with A2 02, otherwise version 1. Big-endian throughout.
//
//   v1 (IPv4 only, 8-byte header)      v2 (12-byte header for IPv4, 24 for IPv6)
//   0  u16 guest_port                  0  u8  magic 0xA2
//   2  4B  remote IPv4                 1  u8  version 0x02
//   6  u16 remote_port                 2  u8  address family 0x04 / 0x06
//   8  ... payload                     3  u8  message type, 0x00 datagram
//                                      4  u16 guest_port
//                                      6  4B/16B remote address
//                                      10/22 u16 remote_port
//                                      12/24 ... payload
//
// guest_port is the guest's source port outbound and its destination port inbound; the remote
// address and port are the destination outbound and the source inbound.
#pragma once

#include <cstddef>
#include <cstdint>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"

namespace aero::udp_relay {

inline constexpr std::uint8_t kV2Magic = 0xA2;
inline constexpr std::uint8_t kV2Version = 0x02;
inline constexpr std::uint8_t kFamilyIpv4 = 0x04;
inline constexpr std::uint8_t kFamilyIpv6 = 0x06;
inline constexpr std::uint8_t kTypeDatagram = 0x00;
inline constexpr std::size_t kV1HeaderLength = 8;
inline constexpr std::size_t kV2Ipv4HeaderLength = 12;
inline constexpr std::size_t kV2Ipv6HeaderLength = 24;
inline constexpr std::size_t kMaxHeaderLength = kV2Ipv6HeaderLength;
inline constexpr std::size_t kDefaultMaxPayload = 1200;

struct Datagram {
  int version = 1;  // the framing it arrived in, or should be sent in
  std::uint16_t guest_port = 0;
  IpAddress remote_ip;
  std::uint16_t remote_port = 0;
  ByteSpan payload;  // a view into the decoded frame
};

// Errors: kind "too_short" ("... too short ..."), "unsupported_message_type" ("unsupported v2
// message type 0xNN"), "unknown_address_family" ("unknown address family 0xNN"),
// "payload_too_large".
Result<Datagram> decode(ByteSpan frame, std::size_t max_payload = kDefaultMaxPayload);

// Appends the frame in `datagram.version`'s framing. v1 cannot carry IPv6 (kind
// "ipv6_needs_v2"); a payload over max_payload is refused.
Result<void> encode_into(Bytes& out, const Datagram& datagram,
                         std::size_t max_payload = kDefaultMaxPayload);
Result<Bytes> encode(const Datagram& datagram, std::size_t max_payload = kDefaultMaxPayload);

}  // namespace aero::udp_relay
