// Offload descriptions that travel with a frame between a NIC model and its backend, and the
// software fallbacks a device uses when the other side cannot take them: partial-checksum
// completion and TCP segmentation. The semantics are those of the virtio-net header (virtio
// 1.2 §5.1.6.2 "Packet Transmission" and §5.1.6.4 "Processing of Incoming Packets"), which is
// also what Linux TAP devices exchange with IFF_VNET_HDR.
//
//  * needs_csum: the TCP/UDP checksum field at csum_start + csum_offset holds the folded sum
//    of the pseudo-header only; the receiver completes it by summing from csum_start to the
//    end of the frame.
//  * gso: the frame is one large TCP segment (up to 64 KiB of payload) to be cut into segments
//    of gso_size payload bytes. A GSO frame always carries a partial checksum as well.
//  * csum_valid: the sender verified the checksums (virtio's DATA_VALID); the receiver need not.
//
// Header positions are never trusted from the sender: parse_tcp_frame() finds them in the frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "aero/base/bytes.h"

namespace aero::devices {

// Values are the virtio-net gso_type codes (virtio 1.2 §5.1.6).
enum class GsoType : std::uint8_t { none = 0, tcpv4 = 1, tcpv6 = 4 };

struct FrameOffload {
  bool needs_csum = false;
  bool csum_valid = false;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
  GsoType gso = GsoType::none;
  std::uint16_t gso_size = 0;  // MSS: TCP payload bytes per segment
  std::uint16_t hdr_len = 0;   // Ethernet + IP + TCP header bytes (set by the device when sending)
};

// What a backend takes whole instead of segmented and checksummed frames.
struct OffloadCaps {
  bool csum = false;           // frames with needs_csum
  bool tso4 = false;           // GSO TCP over IPv4
  bool tso6 = false;           // GSO TCP over IPv6
  std::size_t max_frame = 0;   // largest frame accepted by transmit_offloaded()
};

// Optional second face of a backend (a TAP with a vnet header, a peer device model). A device
// given one hands it large and partially checksummed frames as they are; without one it
// completes checksums and segments itself and uses FramePort::transmit().
class OffloadFramePort {
 public:
  virtual ~OffloadFramePort() = default;
  virtual OffloadCaps offload_caps() const = 0;
  // False when the backend refuses the frame (the device counts it as dropped).
  [[nodiscard]] virtual bool transmit_offloaded(ByteSpan frame, const FrameOffload& offload) = 0;
};

// Where the headers of an Ethernet + IPv4/IPv6 + TCP frame are.
struct TcpFrameLayout {
  std::size_t l3_offset = 0;      // IP header
  std::size_t l4_offset = 0;      // TCP header
  std::size_t header_length = 0;  // through the end of the TCP header (options included)
  bool ipv6 = false;
};

// Parses Ethernet II with up to two 802.1Q/802.1ad tags, then IPv4 (options allowed, not a
// fragment) or IPv6 (no extension headers) carrying TCP. nullopt for anything else or when a
// header runs past the frame.
std::optional<TcpFrameLayout> parse_tcp_frame(ByteSpan frame);

// Completes a partial checksum: the one's-complement sum from csum_start to the end of the
// frame, complemented, stored big-endian at csum_start + csum_offset; a result of 0 is stored
// as 0xFFFF (as Linux does, valid for TCP and required for UDP). False, frame unchanged, when
// the field does not lie inside the frame.
bool complete_checksum(std::span<std::uint8_t> frame, std::size_t csum_start,
                       std::size_t csum_offset);

// Stores the pseudo-header seed a partial TCP checksum starts from (the folded sum of source,
// destination, protocol and TCP length, not complemented) at the TCP checksum field.
void seed_tcp_checksum(std::span<std::uint8_t> frame, const TcpFrameLayout& layout);

// Cuts one large TCP frame into segments of at most `mss` payload bytes, as a NIC does for TSO:
// every segment gets the headers, its IPv4 total length and identification (base + i) or IPv6
// payload length, its sequence number, FIN and PSH only on the last segment, CWR only on the
// first, and complete IPv4 header and TCP checksums computed from scratch (the sender's seed
// is not trusted).
class TcpSegmenter {
 public:
  // False when the frame is not TCP over the IP version `type` names, mss is 0, or more than
  // max_segments segments would be needed.
  bool start(ByteSpan frame, GsoType type, std::size_t mss, std::size_t max_segments);
  std::size_t segment_count() const { return count_; }
  const TcpFrameLayout& layout() const { return layout_; }
  // Largest segment: headers plus one MSS.
  std::size_t max_segment_length() const { return layout_.header_length + mss_; }
  // Writes segment `index` to `out` (at least max_segment_length() bytes) and returns its
  // length; 0 when index or out is out of range.
  std::size_t build(std::size_t index, std::span<std::uint8_t> out) const;

 private:
  ByteSpan frame_;
  TcpFrameLayout layout_{};
  std::size_t mss_ = 0;
  std::size_t count_ = 0;
};

}  // namespace aero::devices
