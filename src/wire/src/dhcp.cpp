// DHCP / BOOTP message view and reply builder; the format is described in dhcp.h.
#include "aero/wire/dhcp.h"

#include <algorithm>
#include <string>

namespace aero::wire {

namespace {

// Walks one options-carrying field (RFC 2132 §2): PAD and END have no length byte, every other
// option needs its length byte and `length` data bytes inside the field. Reports the overload
// option's value when `overload` is given (it is only honoured in the options field).
Result<void> validate_field(ByteSpan field, std::string_view name, std::uint8_t* overload) {
  std::size_t pos = 0;
  bool seen_overload = false;
  while (pos < field.size()) {
    const std::uint8_t code = field[pos];
    if (code == dhcp_option::pad) {
      ++pos;
      continue;
    }
    if (code == dhcp_option::end) return {};
    if (pos + 1 >= field.size()) {
      return make_error("truncated", "DHCP option " + std::to_string(code) + " in " +
                                         std::string(name) + " has no length byte");
    }
    const std::size_t length = field[pos + 1];
    if (pos + 2 + length > field.size()) {
      return make_error("bad_length", "DHCP option " + std::to_string(code) + " length " +
                                          std::to_string(length) + " runs past the end of " +
                                          std::string(name));
    }
    if (overload != nullptr && code == dhcp_option::overload) {
      // RFC 2132 §9.3: one byte, 1 = file, 2 = sname, 3 = both.
      if (length != 1 || seen_overload) {
        return make_error("bad_length", "DHCP option 52 (overload) must appear once, 1 byte");
      }
      seen_overload = true;
      *overload = field[pos + 2];
      if (*overload < 1 || *overload > 3) {
        return make_error("unsupported", "DHCP option overload value " + std::to_string(*overload));
      }
    }
    pos += 2 + length;
  }
  return {};
}

Error full(std::size_t need, std::size_t limit) {
  return make_error("too_large", "DHCP message would be " + std::to_string(need) +
                                     " bytes, the limit is " + std::to_string(limit));
}

void store16(std::span<std::uint8_t> out, std::size_t at, std::uint16_t v) {
  out[at] = static_cast<std::uint8_t>(v >> 8);
  out[at + 1] = static_cast<std::uint8_t>(v);
}

void store32(std::span<std::uint8_t> out, std::size_t at, std::uint32_t v) {
  store16(out, at, static_cast<std::uint16_t>(v >> 16));
  store16(out, at + 2, static_cast<std::uint16_t>(v));
}

// Option data assembled on the stack before add(); no option we build needs more.
constexpr std::size_t kScratch = 576;

}  // namespace

Result<std::size_t> parse_classless_routes(ByteSpan data, std::span<DhcpClasslessRoute> out) {
  std::size_t pos = 0;
  std::size_t count = 0;
  while (pos < data.size()) {
    // RFC 3442 §3: width, then ceil(width / 8) significant octets, then the router.
    const std::uint8_t width = data[pos];
    if (width > 32) {
      return make_error("bad_length", "classless route prefix " + std::to_string(width) + " > 32");
    }
    const std::size_t octets = (width + 7u) / 8u;
    if (pos + 1 + octets + 4 > data.size()) {
      return make_error("bad_length", "classless route descriptor runs past the option");
    }
    if (count == out.size()) return make_error("too_large", "too many classless routes");
    DhcpClasslessRoute route;
    route.prefix_length = width;
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(pos + 1), octets,
                route.destination.bytes.begin());
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(pos + 1 + octets), 4,
                route.router.bytes.begin());
    out[count++] = route;
    pos += 1 + octets + 4;
  }
  return count;
}

std::optional<DhcpOption> DhcpOptionIterator::next() {
  while (field_ < fields_.size()) {
    const ByteSpan field = fields_[field_];
    if (pos_ >= field.size()) {
      ++field_;
      pos_ = 0;
      continue;
    }
    const std::uint8_t code = field[pos_];
    if (code == dhcp_option::pad) {
      ++pos_;
      continue;
    }
    // END, or (never after parse()) a malformed tail: the rest of this field is not options.
    if (code == dhcp_option::end || pos_ + 1 >= field.size() ||
        pos_ + 2 + field[pos_ + 1] > field.size()) {
      pos_ = field.size();
      continue;
    }
    const std::size_t length = field[pos_ + 1];
    DhcpOption option{code, field.subspan(pos_ + 2, length)};
    pos_ += 2 + length;
    return option;
  }
  return std::nullopt;
}

Result<DhcpMessage> DhcpMessage::parse(ByteSpan message) {
  if (message.size() < kDhcpOptionsOffset) {
    return make_error("truncated",
                      "DHCP message too short: " + std::to_string(message.size()) + " < 240 bytes");
  }
  // RFC 2131 §3: the options field starts with the magic cookie 99.130.83.99.
  if (!std::equal(kDhcpMagicCookie.begin(), kDhcpMagicCookie.end(),
                  message.begin() + kDhcpFixedLength)) {
    return make_error("bad_magic", "DHCP magic cookie missing");
  }
  if (message[0] != static_cast<std::uint8_t>(BootpOp::request) &&
      message[0] != static_cast<std::uint8_t>(BootpOp::reply)) {
    return make_error("unsupported", "BOOTP op " + std::to_string(message[0]));
  }
  if (message[2] > 16) {  // chaddr is 16 bytes (RFC 2131 §2)
    return make_error("bad_length", "BOOTP hlen " + std::to_string(message[2]) + " > 16");
  }
  DhcpMessage view;
  view.bytes_ = message;
  auto status = validate_field(message.subspan(kDhcpOptionsOffset), "options", &view.overload_);
  if (!status) return status.error();
  if ((view.overload_ & 1u) != 0) {
    status = validate_field(view.file(), "file", nullptr);
    if (!status) return status.error();
  }
  if ((view.overload_ & 2u) != 0) {
    status = validate_field(view.sname(), "sname", nullptr);
    if (!status) return status.error();
  }
  return view;
}

std::uint16_t DhcpMessage::load16(std::size_t at) const {
  return static_cast<std::uint16_t>((bytes_[at] << 8) | bytes_[at + 1]);
}

std::uint32_t DhcpMessage::load32(std::size_t at) const {
  return (static_cast<std::uint32_t>(load16(at)) << 16) | load16(at + 2);
}

Ipv4Address DhcpMessage::address_at(std::size_t at) const {
  Ipv4Address address;
  std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(at), 4, address.bytes.begin());
  return address;
}

std::array<std::uint8_t, 6> DhcpMessage::client_mac() const {
  std::array<std::uint8_t, 6> mac{};
  std::copy_n(chaddr().begin(), mac.size(), mac.begin());
  return mac;
}

DhcpOptionIterator DhcpMessage::options() const {
  DhcpOptionIterator it;
  // RFC 3396 §7: options field, then `file`, then `sname`.
  it.fields_[0] = bytes_.subspan(kDhcpOptionsOffset);
  if ((overload_ & 1u) != 0) it.fields_[1] = file();
  if ((overload_ & 2u) != 0) it.fields_[2] = sname();
  return it;
}

std::optional<ByteSpan> DhcpMessage::find(std::uint8_t code) const {
  auto it = options();
  while (auto option = it.next()) {
    if (option->code == code) return option->data;
  }
  return std::nullopt;
}

std::optional<ByteSpan> DhcpMessage::find_concatenated(std::uint8_t code,
                                                       std::span<std::uint8_t> scratch) const {
  std::optional<ByteSpan> first;
  std::size_t total = 0;
  std::size_t instances = 0;
  auto it = options();
  while (auto option = it.next()) {
    if (option->code != code) continue;
    if (!first) first = option->data;
    total += option->data.size();
    ++instances;
  }
  if (instances <= 1) return first;
  if (total > scratch.size()) return std::nullopt;
  std::size_t pos = 0;
  it = options();
  while (auto option = it.next()) {
    if (option->code != code) continue;
    std::copy(option->data.begin(), option->data.end(),
              scratch.begin() + static_cast<std::ptrdiff_t>(pos));
    pos += option->data.size();
  }
  return ByteSpan(scratch.first(total));
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> DhcpMessage::fixed(std::uint8_t code) const {
  std::array<std::uint8_t, N> scratch{};
  auto data = find_concatenated(code, scratch);
  if (!data || data->size() != N) return std::nullopt;
  std::array<std::uint8_t, N> value{};
  std::copy(data->begin(), data->end(), value.begin());
  return value;
}

std::optional<DhcpMessageType> DhcpMessage::message_type() const {
  auto v = fixed<1>(dhcp_option::message_type);
  if (!v) return std::nullopt;
  return static_cast<DhcpMessageType>((*v)[0]);
}

std::optional<Ipv4Address> DhcpMessage::requested_ip() const {
  auto v = fixed<4>(dhcp_option::requested_ip);
  if (!v) return std::nullopt;
  return Ipv4Address{*v};
}

std::optional<Ipv4Address> DhcpMessage::server_id() const {
  auto v = fixed<4>(dhcp_option::server_id);
  if (!v) return std::nullopt;
  return Ipv4Address{*v};
}

std::optional<std::uint32_t> DhcpMessage::lease_time() const {
  auto v = fixed<4>(dhcp_option::lease_time);
  if (!v) return std::nullopt;
  return Ipv4Address{*v}.to_u32();
}

std::optional<std::uint16_t> DhcpMessage::max_message_size() const {
  auto v = fixed<2>(dhcp_option::max_message_size);
  if (!v) return std::nullopt;
  return static_cast<std::uint16_t>(((*v)[0] << 8) | (*v)[1]);
}

std::optional<ByteSpan> DhcpMessage::client_id() const {
  return find(dhcp_option::client_id);
}

std::optional<ByteSpan> DhcpMessage::parameter_request_list() const {
  return find(dhcp_option::parameter_request_list);
}

std::optional<std::string_view> DhcpMessage::hostname() const {
  auto v = find(dhcp_option::hostname);
  if (!v) return std::nullopt;
  return as_chars(*v);
}

DhcpHeader DhcpHeader::reply_to(const DhcpMessage& request, DhcpMessageType type) {
  DhcpHeader header;
  header.op = BootpOp::reply;
  header.htype = request.htype();
  header.hlen = request.hlen();
  header.xid = request.xid();
  header.flags = request.flags();
  if (type == DhcpMessageType::ack) header.ciaddr = request.ciaddr();
  header.giaddr = request.giaddr();
  std::copy(request.chaddr().begin(), request.chaddr().end(), header.chaddr.begin());
  return header;
}

Result<DhcpBuilder> DhcpBuilder::start(std::span<std::uint8_t> out, const DhcpHeader& header,
                                       std::uint16_t max_message_size) {
  const std::size_t mms = std::max(max_message_size, kDhcpMinMaxMessageSize);
  const std::size_t limit = std::min(out.size(), mms - kDhcpIpUdpOverhead);
  if (limit < kDhcpMinLength) return full(kDhcpMinLength, limit);
  if (header.sname.size() > 64 || header.file.size() > 128) {
    return make_error("too_large", "BOOTP sname/file longer than its field");
  }
  std::fill_n(out.begin(), kDhcpOptionsOffset, std::uint8_t{0});
  out[0] = static_cast<std::uint8_t>(header.op);
  out[1] = header.htype;
  out[2] = header.hlen;
  out[3] = header.hops;
  store32(out, 4, header.xid);
  store16(out, 8, header.secs);
  store16(out, 10, header.flags);
  store32(out, 12, header.ciaddr.to_u32());
  store32(out, 16, header.yiaddr.to_u32());
  store32(out, 20, header.siaddr.to_u32());
  store32(out, 24, header.giaddr.to_u32());
  std::copy(header.chaddr.begin(), header.chaddr.end(), out.begin() + 28);
  std::copy(header.sname.begin(), header.sname.end(), out.begin() + 44);
  std::copy(header.file.begin(), header.file.end(), out.begin() + 108);
  std::copy(kDhcpMagicCookie.begin(), kDhcpMagicCookie.end(), out.begin() + kDhcpFixedLength);
  DhcpBuilder builder(out, limit);
  builder.pos_ = kDhcpOptionsOffset;
  return builder;
}

Result<DhcpBuilder> DhcpBuilder::reply(std::span<std::uint8_t> out, const DhcpMessage& request,
                                       DhcpMessageType type, Ipv4Address yiaddr,
                                       Ipv4Address server_id) {
  DhcpHeader header = DhcpHeader::reply_to(request, type);
  if (type != DhcpMessageType::nak) header.yiaddr = yiaddr;  // RFC 2131 Table 3
  auto builder = start(out, header, request.max_message_size().value_or(kDhcpMinMaxMessageSize));
  if (!builder) return builder;
  auto status = builder->add_message_type(type);
  if (status) status = builder->add_server_id(server_id);
  if (!status) return status.error();
  return builder;
}

Result<void> DhcpBuilder::add(std::uint8_t code, ByteSpan data) {
  if (finished_) return make_error("unsupported", "DHCP message already finished");
  if (code == dhcp_option::pad || code == dhcp_option::end) {
    return make_error("unsupported", "PAD and END are not options with data");
  }
  // RFC 3396 §5: data over 255 bytes goes into consecutive instances of the same code.
  const std::size_t instances = std::max<std::size_t>(1, (data.size() + 254) / 255);
  const std::size_t need = pos_ + 2 * instances + data.size() + 1;  // + END
  if (need > limit_) return full(need, limit_);
  std::size_t done = 0;
  for (std::size_t i = 0; i < instances; ++i) {
    const std::size_t chunk = std::min<std::size_t>(255, data.size() - done);
    out_[pos_++] = code;
    out_[pos_++] = static_cast<std::uint8_t>(chunk);
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(done), chunk,
                out_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ += chunk;
    done += chunk;
  }
  return {};
}

Result<void> DhcpBuilder::add_u8(std::uint8_t code, std::uint8_t value) {
  const std::array<std::uint8_t, 1> data{value};
  return add(code, data);
}

Result<void> DhcpBuilder::add_u16(std::uint8_t code, std::uint16_t value) {
  std::array<std::uint8_t, 2> data{};
  store16(data, 0, value);
  return add(code, data);
}

Result<void> DhcpBuilder::add_u32(std::uint8_t code, std::uint32_t value) {
  std::array<std::uint8_t, 4> data{};
  store32(data, 0, value);
  return add(code, data);
}

Result<void> DhcpBuilder::add_addresses(std::uint8_t code, std::span<const Ipv4Address> addresses) {
  std::array<std::uint8_t, kScratch> data{};
  if (addresses.size() * 4 > data.size()) return full(addresses.size() * 4, data.size());
  std::size_t pos = 0;
  for (const Ipv4Address& address : addresses) {
    std::copy(address.bytes.begin(), address.bytes.end(),
              data.begin() + static_cast<std::ptrdiff_t>(pos));
    pos += 4;
  }
  return add(code, ByteSpan(data).first(pos));
}

Result<void> DhcpBuilder::add_message_type(DhcpMessageType type) {
  return add_u8(dhcp_option::message_type, static_cast<std::uint8_t>(type));
}
Result<void> DhcpBuilder::add_subnet_mask(Ipv4Address mask) {
  return add(dhcp_option::subnet_mask, mask.bytes);
}
Result<void> DhcpBuilder::add_routers(std::span<const Ipv4Address> routers) {
  return add_addresses(dhcp_option::router, routers);
}
Result<void> DhcpBuilder::add_dns_servers(std::span<const Ipv4Address> servers) {
  return add_addresses(dhcp_option::dns_servers, servers);
}
Result<void> DhcpBuilder::add_domain_name(std::string_view name) {
  return add(dhcp_option::domain_name, as_bytes(name));
}
Result<void> DhcpBuilder::add_broadcast_address(Ipv4Address address) {
  return add(dhcp_option::broadcast_address, address.bytes);
}
Result<void> DhcpBuilder::add_interface_mtu(std::uint16_t mtu) {
  return add_u16(dhcp_option::interface_mtu, mtu);
}
Result<void> DhcpBuilder::add_lease_time(std::uint32_t seconds) {
  return add_u32(dhcp_option::lease_time, seconds);
}
Result<void> DhcpBuilder::add_renewal_time(std::uint32_t seconds) {
  return add_u32(dhcp_option::renewal_time, seconds);
}
Result<void> DhcpBuilder::add_rebinding_time(std::uint32_t seconds) {
  return add_u32(dhcp_option::rebinding_time, seconds);
}
Result<void> DhcpBuilder::add_server_id(Ipv4Address address) {
  return add(dhcp_option::server_id, address.bytes);
}
Result<void> DhcpBuilder::add_message(std::string_view text) {
  return add(dhcp_option::message, as_bytes(text));
}

Result<void> DhcpBuilder::add_classless_routes(std::span<const DhcpClasslessRoute> routes) {
  std::array<std::uint8_t, kScratch> data{};
  std::size_t pos = 0;
  for (const DhcpClasslessRoute& route : routes) {
    if (route.prefix_length > 32) {
      return make_error("bad_length",
                        "classless route prefix " + std::to_string(route.prefix_length) + " > 32");
    }
    // RFC 3442 §3: only the significant octets of the destination, host bits cleared.
    const std::size_t octets = (route.prefix_length + 7u) / 8u;
    if (pos + 1 + octets + 4 > data.size()) return full(pos + 1 + octets + 4, data.size());
    const std::uint32_t mask =
        route.prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - route.prefix_length);
    const Ipv4Address destination = Ipv4Address::from_u32(route.destination.to_u32() & mask);
    data[pos++] = route.prefix_length;
    std::copy_n(destination.bytes.begin(), octets, data.begin() + static_cast<std::ptrdiff_t>(pos));
    pos += octets;
    std::copy(route.router.bytes.begin(), route.router.bytes.end(),
              data.begin() + static_cast<std::ptrdiff_t>(pos));
    pos += 4;
  }
  return add(dhcp_option::classless_static_routes, ByteSpan(data).first(pos));
}

Result<std::size_t> DhcpBuilder::finish() {
  if (!finished_) {
    out_[pos_++] = dhcp_option::end;                 // add() always leaves room for it
    while (pos_ < kDhcpMinLength) out_[pos_++] = 0;  // RFC 1542 §2.1; start() checked room
    finished_ = true;
  }
  return pos_;
}

}  // namespace aero::wire
