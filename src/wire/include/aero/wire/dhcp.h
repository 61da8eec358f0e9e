// DHCP / BOOTP messages: a checked view with option accessors, and a bounded reply builder.
//
// Message format (RFC 2131 §2, Figure 1), big-endian:
//
//   0   op  htype  hlen  hops        12  ciaddr          28   chaddr (16)
//   4   xid                          16  yiaddr          44   sname  (64)
//   8   secs        flags            20  siaddr          108  file   (128)
//                                    24  giaddr          236  magic cookie 99.130.83.99
//                                                        240  options (code, length, data)...
//
// Options (RFC 2132): PAD (0) and END (255) have no length byte; every other option is
// code, length, data. When the options field carries option 52 ("overload", RFC 2132 §9.3) the
// `file` and/or `sname` fields hold more options. An option that appears several times is one
// option whose data is the concatenation of the instances, in the order options field, `file`,
// `sname` (RFC 3396 §7).
//
// Error kinds (metrics labels): "truncated" (shorter than the fixed header and cookie, or an
// option's length byte missing), "bad_magic" (no magic cookie), "bad_length" (hlen > 16, an
// option's data running past the end of its field, a malformed overload or route option),
// "unsupported" (op other than BOOTREQUEST/BOOTREPLY, overload value not 1..3, adding to a
// finished builder), "too_large" (the builder's buffer or the client's maximum message size is
// full).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"

namespace aero::wire {

inline constexpr std::uint16_t kDhcpServerPort = 67;
inline constexpr std::uint16_t kDhcpClientPort = 68;
inline constexpr std::size_t kDhcpFixedLength = 236;          // up to and including `file`
inline constexpr std::size_t kDhcpOptionsOffset = 240;        // after the magic cookie
inline constexpr std::size_t kDhcpMinLength = 300;            // BOOTP minimum, RFC 1542 §2.1
inline constexpr std::uint16_t kDhcpMinMaxMessageSize = 576;  // RFC 2132 §9.10
inline constexpr std::size_t kDhcpIpUdpOverhead = 28;         // IPv4 + UDP headers, RFC 2131 §2
inline constexpr std::uint16_t kDhcpBroadcastFlag = 0x8000;   // RFC 2131 §2, Figure 2
inline constexpr std::array<std::uint8_t, 4> kDhcpMagicCookie = {99, 130, 83, 99};

enum class BootpOp : std::uint8_t { request = 1, reply = 2 };

// Option 53 values, RFC 2132 §9.6.
enum class DhcpMessageType : std::uint8_t {
  discover = 1,
  offer = 2,
  request = 3,
  decline = 4,
  ack = 5,
  nak = 6,
  release = 7,
  inform = 8,
};

// Option codes (RFC 2132 unless noted).
namespace dhcp_option {
inline constexpr std::uint8_t pad = 0;
inline constexpr std::uint8_t subnet_mask = 1;
inline constexpr std::uint8_t router = 3;
inline constexpr std::uint8_t dns_servers = 6;
inline constexpr std::uint8_t hostname = 12;
inline constexpr std::uint8_t domain_name = 15;
inline constexpr std::uint8_t interface_mtu = 26;
inline constexpr std::uint8_t broadcast_address = 28;
inline constexpr std::uint8_t requested_ip = 50;
inline constexpr std::uint8_t lease_time = 51;
inline constexpr std::uint8_t overload = 52;
inline constexpr std::uint8_t message_type = 53;
inline constexpr std::uint8_t server_id = 54;
inline constexpr std::uint8_t parameter_request_list = 55;
inline constexpr std::uint8_t message = 56;
inline constexpr std::uint8_t max_message_size = 57;
inline constexpr std::uint8_t renewal_time = 58;    // T1
inline constexpr std::uint8_t rebinding_time = 59;  // T2
inline constexpr std::uint8_t client_id = 61;
inline constexpr std::uint8_t classless_static_routes = 121;  // RFC 3442
inline constexpr std::uint8_t end = 255;
}  // namespace dhcp_option

// One instance of an option as it appears on the wire.
struct DhcpOption {
  std::uint8_t code = 0;
  ByteSpan data;
};

// A destination descriptor and router of option 121 (RFC 3442 §3).
struct DhcpClasslessRoute {
  Ipv4Address destination;
  std::uint8_t prefix_length = 0;  // 0..32
  Ipv4Address router;
  friend bool operator==(const DhcpClasslessRoute&, const DhcpClasslessRoute&) = default;
};

// Decodes option 121 data into `out`; returns the number of routes. "bad_length" for a
// truncated descriptor or a prefix over 32, "too_large" when `out` is too small.
Result<std::size_t> parse_classless_routes(ByteSpan data, std::span<DhcpClasslessRoute> out);

class DhcpMessage;

// Walks the option instances of a parsed message in RFC 3396 order, skipping PAD, END and
// whatever follows END in each field.
class DhcpOptionIterator {
 public:
  std::optional<DhcpOption> next();

 private:
  friend class DhcpMessage;
  std::array<ByteSpan, 3> fields_{};
  std::size_t field_ = 0;
  std::size_t pos_ = 0;
};

// A validated view of a DHCP/BOOTP message. It borrows the bytes given to parse().
class DhcpMessage {
 public:
  static Result<DhcpMessage> parse(ByteSpan message);
  static Result<DhcpMessage> parse(Bytes&&) = delete;  // the view would dangle

  ByteSpan bytes() const { return bytes_; }
  std::uint8_t op() const { return bytes_[0]; }
  std::uint8_t htype() const { return bytes_[1]; }
  std::uint8_t hlen() const { return bytes_[2]; }
  std::uint8_t hops() const { return bytes_[3]; }
  std::uint32_t xid() const { return load32(4); }
  std::uint16_t secs() const { return load16(8); }
  std::uint16_t flags() const { return load16(10); }
  bool broadcast() const { return (flags() & kDhcpBroadcastFlag) != 0; }
  Ipv4Address ciaddr() const { return address_at(12); }
  Ipv4Address yiaddr() const { return address_at(16); }
  Ipv4Address siaddr() const { return address_at(20); }
  Ipv4Address giaddr() const { return address_at(24); }
  ByteSpan chaddr() const { return bytes_.subspan(28, 16); }  // all 16 bytes
  std::array<std::uint8_t, 6> client_mac() const;             // first 6 bytes of chaddr
  ByteSpan sname() const { return bytes_.subspan(44, 64); }   // raw, options if overloaded
  ByteSpan file() const { return bytes_.subspan(108, 128); }  // raw, options if overloaded
  std::uint8_t overload() const { return overload_; }         // option 52 value, 0 if absent

  DhcpOptionIterator options() const;
  // The first instance of `code`. Use find_concatenated() for an option that may be split.
  std::optional<ByteSpan> find(std::uint8_t code) const;
  // The RFC 3396 concatenation of every instance of `code`: a span into the message when there
  // is one instance, else copied into `scratch` (std::nullopt if absent or `scratch` is short).
  std::optional<ByteSpan> find_concatenated(std::uint8_t code,
                                            std::span<std::uint8_t> scratch) const;

  // Typed accessors; std::nullopt when absent or of the wrong length. Fixed-size values are
  // concatenated per RFC 3396; variable-length ones are the first instance.
  std::optional<DhcpMessageType> message_type() const;     // 53, any value 1..255
  std::optional<Ipv4Address> requested_ip() const;         // 50
  std::optional<Ipv4Address> server_id() const;            // 54
  std::optional<std::uint32_t> lease_time() const;         // 51, seconds
  std::optional<std::uint16_t> max_message_size() const;   // 57, raw value
  std::optional<ByteSpan> client_id() const;               // 61, type byte + identifier
  std::optional<ByteSpan> parameter_request_list() const;  // 55
  std::optional<std::string_view> hostname() const;        // 12

 private:
  DhcpMessage() = default;
  std::uint16_t load16(std::size_t at) const;
  std::uint32_t load32(std::size_t at) const;
  Ipv4Address address_at(std::size_t at) const;
  template <std::size_t N>
  std::optional<std::array<std::uint8_t, N>> fixed(std::uint8_t code) const;

  ByteSpan bytes_;
  std::uint8_t overload_ = 0;
};

// The BOOTP fixed fields of a message to emit.
struct DhcpHeader {
  BootpOp op = BootpOp::reply;
  std::uint8_t htype = 1;  // Ethernet
  std::uint8_t hlen = 6;
  std::uint8_t hops = 0;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  std::uint16_t flags = 0;
  Ipv4Address ciaddr, yiaddr, siaddr, giaddr;
  std::array<std::uint8_t, 16> chaddr{};
  ByteSpan sname;  // at most 64 bytes, zero-padded
  ByteSpan file;   // at most 128 bytes, zero-padded

  // Fields a server's reply copies from the request (RFC 2131 §4.3.1, Table 3): htype, hlen,
  // xid, flags, giaddr, chaddr; ciaddr only for DHCPACK. op is BOOTREPLY, everything else 0.
  static DhcpHeader reply_to(const DhcpMessage& request, DhcpMessageType type);
};

// Writes one message into a caller-provided buffer: the fixed header and cookie at start(),
// options as they are added, END and padding to the BOOTP minimum at finish(). A failed add
// leaves the message unchanged. Options longer than 255 bytes are split (RFC 3396 §5).
class DhcpBuilder {
 public:
  // `max_message_size` is the client's option 57 (an IP datagram size, RFC 2131 §2), clamped
  // to at least 576; the DHCP message is kept within it minus 28 bytes of IPv4 + UDP headers.
  static Result<DhcpBuilder> start(std::span<std::uint8_t> out, const DhcpHeader& header,
                                   std::uint16_t max_message_size = kDhcpMinMaxMessageSize);
  // A server reply: header from reply_to() with `yiaddr` (left 0 in a DHCPNAK), the
  // request's max message size, then options 53 (type) and 54 (server identifier).
  static Result<DhcpBuilder> reply(std::span<std::uint8_t> out, const DhcpMessage& request,
                                   DhcpMessageType type, Ipv4Address yiaddr, Ipv4Address server_id);

  Result<void> add(std::uint8_t code, ByteSpan data);
  Result<void> add_u8(std::uint8_t code, std::uint8_t value);
  Result<void> add_u16(std::uint8_t code, std::uint16_t value);
  Result<void> add_u32(std::uint8_t code, std::uint32_t value);
  Result<void> add_addresses(std::uint8_t code, std::span<const Ipv4Address> addresses);

  Result<void> add_message_type(DhcpMessageType type);
  Result<void> add_subnet_mask(Ipv4Address mask);
  Result<void> add_routers(std::span<const Ipv4Address> routers);
  Result<void> add_dns_servers(std::span<const Ipv4Address> servers);
  Result<void> add_domain_name(std::string_view name);
  Result<void> add_broadcast_address(Ipv4Address address);
  Result<void> add_interface_mtu(std::uint16_t mtu);
  Result<void> add_lease_time(std::uint32_t seconds);
  Result<void> add_renewal_time(std::uint32_t seconds);    // T1
  Result<void> add_rebinding_time(std::uint32_t seconds);  // T2
  Result<void> add_server_id(Ipv4Address address);
  Result<void> add_classless_routes(std::span<const DhcpClasslessRoute> routes);
  Result<void> add_message(std::string_view text);  // 56, e.g. the reason for a DHCPNAK

  // Appends END, pads with zeros to 300 bytes and returns the message length.
  Result<std::size_t> finish();
  std::size_t size() const { return pos_; }

 private:
  DhcpBuilder(std::span<std::uint8_t> out, std::size_t limit) : out_(out), limit_(limit) {}

  std::span<std::uint8_t> out_;
  std::size_t limit_ = 0;
  std::size_t pos_ = 0;
  bool finished_ = false;
};

}  // namespace aero::wire
