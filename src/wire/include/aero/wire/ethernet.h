// Ethernet II frames (IEEE 802.3 §3.2, RFC 894) with at most one IEEE 802.1Q VLAN tag.
//
//   0  6B  destination MAC          with an 802.1Q tag:  12 u16 TPID 0x8100
//   6  6B  source MAC                                    14 u16 TCI (PCP 3 bits, DEI 1, VID 12)
//  12  u16 EtherType                                     16 u16 EtherType
//  14  ... payload                                       18 ... payload
//
// The frame check sequence is not part of the frame here (devices strip it). Short frames are
// not padded or rejected by size beyond the header: the IPv4 total length decides how much of
// the payload is real (RFC 894 allows the padding).
//
// Errors: "truncated" (fewer than 14 bytes, or 18 with a tag), "unsupported" (an IEEE 802.3
// length field instead of an EtherType, or a second 802.1Q tag).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "aero/base/bytes.h"
#include "aero/base/result.h"
#include "aero/wire/checksum.h"
#include "aero/wire/mac_address.h"

namespace aero::wire {

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;  // IEEE 802.1Q tag protocol identifier
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr std::uint16_t kEtherTypeMinimum = 0x0600;  // smaller values are 802.3 lengths
inline constexpr std::size_t kEthernetHeaderLength = 14;
inline constexpr std::size_t kVlanTagLength = 4;
inline constexpr std::size_t kEthernetMinFrameLength = 60;  // without the FCS
inline constexpr std::size_t kEthernetMaxPayload = 1500;

class EthernetFrame {
 public:
  static Result<EthernetFrame> parse(ByteSpan frame);

  MacAddress destination() const { return MacAddress::from_bytes(bytes_); }
  MacAddress source() const { return MacAddress::from_bytes(bytes_.subspan(6)); }
  // The EtherType of the payload (after the VLAN tag when there is one).
  std::uint16_t ethertype() const { return load_be16(bytes_, header_length_ - 2); }
  // The 802.1Q tag control information and its fields, when the frame is tagged.
  std::optional<std::uint16_t> vlan_tci() const;
  std::optional<std::uint16_t> vlan_id() const;       // 12-bit VID
  std::optional<std::uint8_t> vlan_priority() const;  // 3-bit PCP

  ByteSpan header() const { return bytes_.first(header_length_); }
  ByteSpan payload() const { return bytes_.subspan(header_length_); }
  ByteSpan frame() const { return bytes_; }

 private:
  EthernetFrame(ByteSpan bytes, std::size_t header_length)
      : bytes_(bytes), header_length_(header_length) {}

  ByteSpan bytes_;
  std::size_t header_length_ = kEthernetHeaderLength;
};

// Emitter for the header; the caller writes the payload after header_length() bytes.
struct EthernetHeader {
  MacAddress destination;
  MacAddress source;
  std::uint16_t ethertype = kEtherTypeIpv4;
  std::optional<std::uint16_t> vlan_tci;  // adds an 802.1Q tag when set

  std::size_t header_length() const {
    return kEthernetHeaderLength + (vlan_tci ? kVlanTagLength : 0);
  }
  // Writes header_length() bytes; false (nothing written) when `out` is shorter.
  bool emit(std::span<std::uint8_t> out) const;
};

}  // namespace aero::wire
