// DHCP/BOOTP view and builder: captured-style client messages, server replies built and parsed
// back, RFC 2132 option overload, RFC 3396 split options and every malformed case.
#include "aero/wire/dhcp.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aero::wire {
namespace {

// Hex digits; spaces are ignored.
Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (const char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  return out;
}

// A message from the first 44 header bytes (op .. chaddr's first bytes, as hex), zeros up to the
// cookie, the cookie, `options` (hex), then zeros up to `pad_to`.
Bytes message(std::string_view first44, std::string_view options, std::size_t pad_to = 0) {
  Bytes out = hex(first44);
  out.resize(kDhcpFixedLength, 0);
  out.insert(out.end(), kDhcpMagicCookie.begin(), kDhcpMagicCookie.end());
  const Bytes tail = hex(options);
  out.insert(out.end(), tail.begin(), tail.end());
  if (out.size() < pad_to) out.resize(pad_to, 0);
  return out;
}

std::string_view kind_of(const Bytes& bytes) {
  auto m = DhcpMessage::parse(bytes);
  return m.ok() ? std::string_view("ok") : m.error().kind;
}

Ipv4Address ip(std::string_view text) {
  return Ipv4Address::parse(text).value();
}

// BusyBox udhcpc 1.36 DHCPDISCOVER: the whole 548-byte struct is sent, zero-padded after END.
const Bytes kUdhcpcDiscover = message(
    "01 01 06 00  39 03 f3 26  00 00 00 00"  // op, htype, hlen, hops; xid; secs, flags
    "00000000 00000000 00000000 00000000"    // ciaddr, yiaddr, siaddr, giaddr
    "52 54 00 12 34 56",                     // chaddr
    "35 01 01"                               // 53 message type DISCOVER
    "3d 07 01 525400123456"                  // 61 client id: type 1 + MAC
    "39 02 0240"                             // 57 max message size 576
    "37 07 01 03 06 0c 0f 1c 2a"             // 55 parameter request list
    "3c 0c 756468637020312e33362e31"         // 60 vendor class "udhcp 1.36.1"
    "ff",
    548);

// Windows 7 DHCPREQUEST (SELECTING) from a VMware NIC, 311 bytes, no padding.
const Bytes kWindows7Request = message(
    "01 01 06 00  5d 1c 6a 2b  00 00 00 00"
    "00000000 00000000 00000000 00000000"
    "00 0c 29 4f 8e 35",
    "35 01 03"                          // 53 REQUEST
    "3d 07 01 000c294f8e35"             // 61 client id
    "32 04 c0a80169"                    // 50 requested 192.168.1.105
    "36 04 c0a80101"                    // 54 server 192.168.1.1
    "0c 07 57494e372d5043"              // 12 hostname "WIN7-PC"
    "51 0a 000000 57494e372d5043"       // 81 client FQDN
    "3c 08 4d53465420352e30"            // 60 vendor class "MSFT 5.0"
    "37 0d 010f03062c2e2f1f2179f92bfc"  // 55 parameter request list (13 codes)
    "ff");

TEST(DhcpParse, UdhcpcDiscover) {
  auto m = DhcpMessage::parse(kUdhcpcDiscover);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->op(), 1);
  EXPECT_EQ(m->htype(), 1);
  EXPECT_EQ(m->hlen(), 6);
  EXPECT_EQ(m->xid(), 0x3903f326u);
  EXPECT_FALSE(m->broadcast());
  EXPECT_EQ(m->ciaddr(), Ipv4Address{});
  EXPECT_EQ(m->client_mac(), (std::array<std::uint8_t, 6>{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  EXPECT_EQ(m->message_type(), DhcpMessageType::discover);
  EXPECT_EQ(m->max_message_size(), 576);
  EXPECT_EQ(Bytes(m->client_id()->begin(), m->client_id()->end()), hex("01 525400123456"));
  EXPECT_EQ(Bytes(m->parameter_request_list()->begin(), m->parameter_request_list()->end()),
            hex("01 03 06 0c 0f 1c 2a"));
  EXPECT_EQ(as_chars(*m->find(60)), "udhcp 1.36.1");
  EXPECT_FALSE(m->requested_ip());
  EXPECT_FALSE(m->server_id());
  EXPECT_FALSE(m->hostname());
  EXPECT_FALSE(m->lease_time());
  EXPECT_EQ(m->overload(), 0);
  int count = 0;
  for (auto it = m->options(); it.next();) ++count;
  EXPECT_EQ(count, 5);  // padding after END is not options
}

TEST(DhcpParse, Windows7Request) {
  auto m = DhcpMessage::parse(kWindows7Request);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(kWindows7Request.size(), 311u);
  EXPECT_EQ(m->message_type(), DhcpMessageType::request);
  EXPECT_EQ(m->requested_ip(), ip("192.168.1.105"));
  EXPECT_EQ(m->server_id(), ip("192.168.1.1"));
  EXPECT_EQ(m->hostname(), "WIN7-PC");
  EXPECT_EQ(m->client_id()->size(), 7u);
  EXPECT_EQ(m->parameter_request_list()->size(), 13u);
  EXPECT_EQ((*m->parameter_request_list())[9], dhcp_option::classless_static_routes);
  EXPECT_FALSE(m->max_message_size());
  EXPECT_EQ(m->find(81)->size(), 10u);
  EXPECT_FALSE(m->find(dhcp_option::lease_time));
}

TEST(DhcpBuild, OfferToUdhcpcIsPaddedTo300) {
  auto request = DhcpMessage::parse(kUdhcpcDiscover).value();
  std::array<std::uint8_t, 1500> buffer{};
  auto b =
      DhcpBuilder::reply(buffer, request, DhcpMessageType::offer, ip("10.0.2.15"), ip("10.0.2.2"));
  ASSERT_TRUE(b.ok()) << b.error().message;
  const std::array<Ipv4Address, 1> router{ip("10.0.2.2")};
  const std::array<Ipv4Address, 2> dns{ip("10.0.2.3"), ip("1.1.1.1")};
  ASSERT_TRUE(b->add_lease_time(86400).ok());
  ASSERT_TRUE(b->add_subnet_mask(ip("255.255.255.0")).ok());
  ASSERT_TRUE(b->add_routers(router).ok());
  ASSERT_TRUE(b->add_dns_servers(dns).ok());
  auto length = b->finish();
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(*length, kDhcpMinLength);
  auto offer = DhcpMessage::parse(ByteSpan(buffer).first(*length));
  ASSERT_TRUE(offer.ok()) << offer.error().message;
  EXPECT_EQ(offer->op(), 2);
  EXPECT_EQ(offer->xid(), 0x3903f326u);
  EXPECT_EQ(offer->yiaddr(), ip("10.0.2.15"));
  EXPECT_EQ(offer->ciaddr(), Ipv4Address{});
  EXPECT_EQ(offer->client_mac(), request.client_mac());
  EXPECT_EQ(offer->message_type(), DhcpMessageType::offer);
  EXPECT_EQ(offer->server_id(), ip("10.0.2.2"));
  EXPECT_EQ(offer->lease_time(), 86400u);
  EXPECT_EQ(Bytes(offer->find(dhcp_option::dns_servers)->begin(),
                  offer->find(dhcp_option::dns_servers)->end()),
            hex("0a000203 01010101"));
  // Options start with 53 then 54, as reply() adds them first.
  EXPECT_EQ(Bytes(buffer.begin() + 240, buffer.begin() + 249), hex("350102 36040a000202"));
}

TEST(DhcpBuild, AckWithEveryOption) {
  auto request = DhcpMessage::parse(kWindows7Request).value();
  std::array<std::uint8_t, 1500> buffer{};
  auto b = DhcpBuilder::reply(buffer, request, DhcpMessageType::ack, ip("192.168.1.105"),
                              ip("192.168.1.1"));
  ASSERT_TRUE(b.ok());
  const std::array<DhcpClasslessRoute, 3> routes{{
      {ip("10.0.0.0"), 8, ip("192.168.1.254")},
      {ip("10.17.3.9"), 16, ip("192.168.1.254")},  // host bits are cleared on the wire
      {ip("0.0.0.0"), 0, ip("192.168.1.1")},
  }};
  EXPECT_TRUE(b->add_subnet_mask(ip("255.255.255.0")).ok());
  EXPECT_TRUE(b->add_broadcast_address(ip("192.168.1.255")).ok());
  EXPECT_TRUE(b->add_interface_mtu(1500).ok());
  EXPECT_TRUE(b->add_domain_name("lan.example").ok());
  EXPECT_TRUE(b->add_lease_time(3600).ok());
  EXPECT_TRUE(b->add_renewal_time(1800).ok());
  EXPECT_TRUE(b->add_rebinding_time(3150).ok());
  EXPECT_TRUE(b->add_classless_routes(routes).ok());
  const auto length = b->finish().value();
  auto ack = DhcpMessage::parse(ByteSpan(buffer).first(length));
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->message_type(), DhcpMessageType::ack);
  EXPECT_EQ(ack->yiaddr(), ip("192.168.1.105"));
  EXPECT_EQ(Bytes(ack->find(dhcp_option::broadcast_address)->begin(),
                  ack->find(dhcp_option::broadcast_address)->end()),
            hex("c0a801ff"));
  EXPECT_EQ(Bytes(ack->find(dhcp_option::interface_mtu)->begin(),
                  ack->find(dhcp_option::interface_mtu)->end()),
            hex("05dc"));
  EXPECT_EQ(as_chars(*ack->find(dhcp_option::domain_name)), "lan.example");
  EXPECT_EQ(Bytes(ack->find(dhcp_option::renewal_time)->begin(),
                  ack->find(dhcp_option::renewal_time)->end()),
            hex("00000708"));
  EXPECT_EQ(Bytes(ack->find(dhcp_option::rebinding_time)->begin(),
                  ack->find(dhcp_option::rebinding_time)->end()),
            hex("00000c4e"));
  // RFC 3442 §3 descriptors: width, significant octets, router.
  const ByteSpan data = *ack->find(dhcp_option::classless_static_routes);
  EXPECT_EQ(Bytes(data.begin(), data.end()), hex("08 0a c0a801fe  10 0a11 c0a801fe  00 c0a80101"));
  std::array<DhcpClasslessRoute, 4> decoded{};
  auto n = parse_classless_routes(data, decoded);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 3u);
  EXPECT_EQ(decoded[0], routes[0]);
  EXPECT_EQ(decoded[1].destination, ip("10.17.0.0"));
  EXPECT_EQ(decoded[2], routes[2]);
  EXPECT_EQ(parse_classless_routes(hex("21 0a000000 01020304"), decoded).error().kind,
            "bad_length");
  EXPECT_EQ(parse_classless_routes(hex("18 0a0000 0102"), decoded).error().kind, "bad_length");
  EXPECT_EQ(parse_classless_routes(data, std::span(decoded).first(2)).error().kind, "too_large");
}

TEST(DhcpBuild, NakCarriesMessageAndNoAddresses) {
  Bytes renewing = kWindows7Request;
  const Bytes ciaddr = hex("c0a8014d");  // 192.168.1.77
  std::copy(ciaddr.begin(), ciaddr.end(), renewing.begin() + 12);
  auto request = DhcpMessage::parse(renewing).value();
  std::array<std::uint8_t, 600> buffer{};
  auto b =
      DhcpBuilder::reply(buffer, request, DhcpMessageType::nak, Ipv4Address{}, ip("192.168.1.1"));
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->add_message("requested address not available").ok());
  auto nak = DhcpMessage::parse(ByteSpan(buffer).first(b->finish().value()));
  ASSERT_TRUE(nak.ok());
  EXPECT_EQ(nak->message_type(), DhcpMessageType::nak);
  EXPECT_EQ(nak->ciaddr(), Ipv4Address{});  // RFC 2131 Table 3
  EXPECT_EQ(nak->yiaddr(), Ipv4Address{});
  EXPECT_EQ(as_chars(*nak->find(dhcp_option::message)), "requested address not available");
  // An ACK to the same request keeps ciaddr.
  EXPECT_EQ(DhcpHeader::reply_to(request, DhcpMessageType::ack).ciaddr, ip("192.168.1.77"));
}

TEST(DhcpBuild, KeepsWithinClientMaxMessageSize) {
  std::array<std::uint8_t, 2000> buffer{};
  const Bytes big(310, 0x41);
  DhcpHeader header;
  auto small = DhcpBuilder::start(buffer, header);  // no option 57: 576 - 28 = 548 bytes
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE(small->add(224, ByteSpan(big).first(250)).ok());  // 240 + 252 = 492
  const std::size_t before = small->size();
  EXPECT_EQ(small->add(225, ByteSpan(big).first(60)).error().kind, "too_large");
  EXPECT_EQ(small->size(), before);                            // unchanged
  EXPECT_TRUE(small->add(225, ByteSpan(big).first(53)).ok());  // 547 + END = 548
  EXPECT_EQ(small->finish().value(), 548u);

  auto clamped = DhcpBuilder::start(buffer, header, 300);  // below 576 counts as 576
  ASSERT_TRUE(clamped.ok());
  EXPECT_EQ(clamped->add(224, big).error().kind, "too_large");

  auto large = DhcpBuilder::start(buffer, header, 1500);
  ASSERT_TRUE(large.ok());
  ASSERT_TRUE(large->add(224, big).ok());  // split per RFC 3396: 255 + 55
  const std::size_t length = large->finish().value();
  EXPECT_EQ(length, 240u + 2 + 255 + 2 + 55 + 1);
  auto parsed = DhcpMessage::parse(ByteSpan(buffer).first(length));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->find(224)->size(), 255u);
  std::array<std::uint8_t, 400> scratch{};
  auto whole = parsed->find_concatenated(224, scratch);
  ASSERT_TRUE(whole);
  EXPECT_EQ(Bytes(whole->begin(), whole->end()), big);
  EXPECT_FALSE(parsed->find_concatenated(224, std::span(scratch).first(309)));

  std::array<std::uint8_t, 299> tiny{};
  EXPECT_EQ(DhcpBuilder::start(tiny, header).error().kind, "too_large");
}

TEST(DhcpBuild, RejectsMisuse) {
  std::array<std::uint8_t, 600> buffer{};
  DhcpHeader header;
  const Bytes long_name(65, 'x');
  header.sname = long_name;
  EXPECT_EQ(DhcpBuilder::start(buffer, header).error().kind, "too_large");
  header.sname = {};
  auto b = DhcpBuilder::start(buffer, header).value();
  EXPECT_EQ(b.add(dhcp_option::pad, {}).error().kind, "unsupported");
  EXPECT_EQ(b.add(dhcp_option::end, {}).error().kind, "unsupported");
  const std::array<DhcpClasslessRoute, 1> bad{{{Ipv4Address{}, 33, Ipv4Address{}}}};
  EXPECT_EQ(b.add_classless_routes(bad).error().kind, "bad_length");
  ASSERT_TRUE(b.finish().ok());
  EXPECT_EQ(b.add_lease_time(60).error().kind, "unsupported");
}

TEST(DhcpParse, SplitOptionsAreConcatenated) {
  // RFC 3396: the requested address split 2 + 2, the parameter list split 2 + 1.
  const Bytes m = message("01 01 06 00 00000001", "32 02 c0a8 37 02 0103 32 02 0142 37 01 06 ff");
  auto view = DhcpMessage::parse(m);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->requested_ip(), ip("192.168.1.66"));
  std::array<std::uint8_t, 8> scratch{};
  auto list = view->find_concatenated(dhcp_option::parameter_request_list, scratch);
  ASSERT_TRUE(list);
  EXPECT_EQ(Bytes(list->begin(), list->end()), hex("010306"));
  EXPECT_EQ(view->parameter_request_list()->size(), 2u);  // first instance only
  EXPECT_FALSE(view->find_concatenated(99, scratch));
}

TEST(DhcpParse, OptionOverloadUsesFileThenSname) {
  Bytes m = message("01 01 06 00 00000002", "34 01 03  35 01 01  ff");
  const Bytes in_file = hex("0c 04 686f7374 ff");         // hostname "host" in `file`
  const Bytes in_sname = hex("00 00 32 04 0a000005 ff");  // requested IP in `sname`
  std::copy(in_file.begin(), in_file.end(), m.begin() + 108);
  std::copy(in_sname.begin(), in_sname.end(), m.begin() + 44);
  auto view = DhcpMessage::parse(m);
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->overload(), 3);
  EXPECT_EQ(view->hostname(), "host");
  EXPECT_EQ(view->requested_ip(), ip("10.0.0.5"));
  std::vector<std::uint8_t> codes;
  for (auto it = view->options(); auto option = it.next();) codes.push_back(option->code);
  EXPECT_EQ(codes, (std::vector<std::uint8_t>{52, 53, 12, 50}));

  m[kDhcpOptionsOffset + 2] = 1;  // file only: sname is not options any more
  view = DhcpMessage::parse(m);
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->requested_ip());
  EXPECT_EQ(view->hostname(), "host");

  m[kDhcpOptionsOffset + 2] = 0;  // not 1..3
  EXPECT_EQ(DhcpMessage::parse(m).error().kind, "unsupported");
  m[kDhcpOptionsOffset + 2] = 1;
  m[108 + 1] = 200;  // the hostname in `file` now runs past the field
  EXPECT_EQ(DhcpMessage::parse(m).error().kind, "bad_length");
}

TEST(DhcpParse, RejectsMalformed) {
  const Bytes ok = message("01 01 06 00", "35 01 01 ff");
  ASSERT_TRUE(DhcpMessage::parse(ok).ok());

  EXPECT_EQ(DhcpMessage::parse(ByteSpan(ok).first(239)).error().kind, "truncated");
  EXPECT_EQ(DhcpMessage::parse(ByteSpan(ok).first(100)).error().kind, "truncated");
  EXPECT_EQ(DhcpMessage::parse(ByteSpan{}).error().kind, "truncated");

  Bytes no_cookie = ok;
  no_cookie[236] = 0;  // RFC 2131 §3
  EXPECT_EQ(DhcpMessage::parse(no_cookie).error().kind, "bad_magic");
  Bytes bootp(300, 0);  // plain BOOTP with an empty vendor area
  bootp[0] = 1;
  EXPECT_EQ(DhcpMessage::parse(bootp).error().kind, "bad_magic");

  Bytes bad_op = ok;
  bad_op[0] = 3;
  EXPECT_EQ(DhcpMessage::parse(bad_op).error().kind, "unsupported");
  Bytes bad_hlen = ok;
  bad_hlen[2] = 17;
  EXPECT_EQ(DhcpMessage::parse(bad_hlen).error().kind, "bad_length");

  // An option's length runs past the end of the options field.
  EXPECT_EQ(kind_of(message("01", "35 01 01 0c 08 6162")), "bad_length");
  EXPECT_EQ(kind_of(message("01", "35 02 01")), "bad_length");
  // An option code with no length byte.
  EXPECT_EQ(kind_of(message("01", "35 01 01 0c")), "truncated");
  // Overload must be one byte, once.
  EXPECT_EQ(kind_of(message("01", "34 02 0101 ff")), "bad_length");
  EXPECT_EQ(kind_of(message("01", "34 01 01 34 01 01 ff")), "bad_length");
  // Anything after END is ignored; no END at all is tolerated.
  EXPECT_EQ(kind_of(message("01", "35 01 01 ff 0c")), "ok");
  EXPECT_EQ(kind_of(message("01", "35 01 01")), "ok");
  EXPECT_EQ(kind_of(message("01", "")), "ok");
}

TEST(DhcpParse, WrongLengthTypedOptionsAreAbsent) {
  const Bytes bytes = message("01", "35 02 0101 33 03 000e10 39 01 02 36 00 ff");
  auto view = DhcpMessage::parse(bytes);
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->message_type());
  EXPECT_FALSE(view->lease_time());
  EXPECT_FALSE(view->max_message_size());
  EXPECT_FALSE(view->server_id());
  EXPECT_TRUE(view->find(dhcp_option::server_id));
  EXPECT_TRUE(view->find(dhcp_option::server_id)->empty());
}

}  // namespace
}  // namespace aero::wire
