// ARP (RFC 826) for Ethernet and IPv4 only.
//
//   0  u16 hardware type 1 (Ethernet)      8  6B sender hardware address
//   2  u16 protocol type 0x0800 (IPv4)    14  4B sender protocol address
//   4  u8  hardware length 6              18  6B target hardware address
//   5  u8  protocol length 4              24  4B target protocol address
//   6  u16 operation (1 request, 2 reply) 28  (Ethernet padding, ignored)
//
// Errors: "truncated" (fewer than 8 bytes, or fewer than 28 for Ethernet/IPv4), "unsupported"
// (any other hardware or protocol type or address length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/wire/checksum.h"
#include "aero/wire/mac_address.h"

namespace aero::wire {

inline constexpr std::uint16_t kArpHardwareEthernet = 1;
inline constexpr std::uint16_t kArpOperationRequest = 1;
inline constexpr std::uint16_t kArpOperationReply = 2;
inline constexpr std::size_t kArpPacketLength = 28;

class ArpPacket {
 public:
  static Result<ArpPacket> parse(ByteSpan bytes);

  std::uint16_t operation() const { return load_be16(bytes_, 6); }
  MacAddress sender_mac() const { return MacAddress::from_bytes(bytes_.subspan(8)); }
  Ipv4Address sender_ip() const;
  MacAddress target_mac() const { return MacAddress::from_bytes(bytes_.subspan(18)); }
  Ipv4Address target_ip() const;
  bool is_request() const { return operation() == kArpOperationRequest; }
  bool is_reply() const { return operation() == kArpOperationReply; }

  ByteSpan packet() const { return bytes_; }  // the 28 bytes, without padding

 private:
  explicit ArpPacket(ByteSpan bytes) : bytes_(bytes) {}
  ByteSpan bytes_;
};

// Emitter: always 28 bytes for Ethernet/IPv4.
struct ArpHeader {
  std::uint16_t operation = kArpOperationRequest;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;
  Ipv4Address target_ip;

  // The reply to `request` from `our_mac` (RFC 826 "Packet Reception": swap the sender and
  // target fields, put our hardware address in as the sender, set the opcode to reply).
  static ArpHeader reply_to(const ArpPacket& request, const MacAddress& our_mac);

  std::size_t length() const { return kArpPacketLength; }
  // Writes 28 bytes; false (nothing written) when `out` is shorter.
  bool emit(std::span<std::uint8_t> out) const;
};

}  // namespace aero::wire
