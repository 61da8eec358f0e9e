// Ethernet II / 802.1Q frame view and header emitter.
#include "aero/wire/ethernet.h"

#include <algorithm>
#include <string>

#include "aero/wire/checksum.h"

namespace aero::wire {

Result<EthernetFrame> EthernetFrame::parse(ByteSpan frame) {
  if (frame.size() < kEthernetHeaderLength) {
    return make_error("truncated",
                      "Ethernet frame truncated: " + std::to_string(frame.size()) + " < 14 bytes");
  }
  std::size_t header_length = kEthernetHeaderLength;
  std::uint16_t type = load_be16(frame, 12);
  if (type == kEtherTypeVlan) {  // IEEE 802.1Q §9.5: TPID, then TCI, then the EtherType
    header_length += kVlanTagLength;
    if (frame.size() < header_length) {
      return make_error("truncated",
                        "802.1Q frame truncated: " + std::to_string(frame.size()) + " < 18 bytes");
    }
    type = load_be16(frame, 16);
    if (type == kEtherTypeVlan) {
      return make_error("unsupported", "stacked 802.1Q tags are not supported");
    }
  }
  if (type < kEtherTypeMinimum) {  // IEEE 802.3 §3.2.6: a length, not an EtherType
    return make_error("unsupported", "IEEE 802.3 length/LLC frames are not supported");
  }
  return EthernetFrame(frame, header_length);
}

std::optional<std::uint16_t> EthernetFrame::vlan_tci() const {
  if (header_length_ == kEthernetHeaderLength) return std::nullopt;
  return load_be16(bytes_, 14);
}

std::optional<std::uint16_t> EthernetFrame::vlan_id() const {
  const auto tci = vlan_tci();
  if (!tci) return std::nullopt;
  return static_cast<std::uint16_t>(*tci & 0x0FFFU);
}

std::optional<std::uint8_t> EthernetFrame::vlan_priority() const {
  const auto tci = vlan_tci();
  if (!tci) return std::nullopt;
  return static_cast<std::uint8_t>(*tci >> 13);
}

bool EthernetHeader::emit(std::span<std::uint8_t> out) const {
  if (out.size() < header_length()) return false;
  std::copy(destination.bytes.begin(), destination.bytes.end(), out.begin());
  std::copy(source.bytes.begin(), source.bytes.end(), out.begin() + 6);
  if (vlan_tci) {
    store_be16(out, 12, kEtherTypeVlan);
    store_be16(out, 14, *vlan_tci);
    store_be16(out, 16, ethertype);
  } else {
    store_be16(out, 12, ethertype);
  }
  return true;
}

}  // namespace aero::wire
