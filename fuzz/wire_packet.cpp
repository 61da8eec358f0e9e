// Fuzz target: one Ethernet frame through the whole wire chain, Ethernet -> ARP | IPv4 ->
// ICMPv4 (and the datagram an error quotes) | UDP | TCP with options.
//
// Invariants: every view stays inside the input; re-emitting what was parsed reproduces the
// header bytes (Ethernet, ARP, option-less IPv4, UDP and ICMP with a valid checksum) or, for
// TCP, a segment that parses back to the same fields and options; emitted checksums verify;
// incremental checksum updates (RFC 1624) agree with the checksum check.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "aero/wire/arp.h"
#include "aero/wire/checksum.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"
#include "aero/wire/tcp.h"
#include "aero/wire/udp.h"

namespace {

using namespace aero;
using namespace aero::wire;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool same(ByteSpan a, ByteSpan b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

bool inside(ByteSpan part, ByteSpan whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Scratch space for re-emitting; an IPv4 packet is at most 65535 bytes.
std::array<std::uint8_t, 65536> scratch;

void fuzz_tcp(ByteSpan bytes, const Ipv4Address& src, const Ipv4Address& dst) {
  auto tcp = TcpPacket::parse(bytes);
  if (!tcp) return;
  check(tcp->header_length() >= 20 && tcp->header_length() <= 60);
  check(tcp->header().size() + tcp->payload().size() == bytes.size());
  check(tcp->options().sack_block_count <= kTcpMaxSackBlocks);
  TcpHeader header;
  header.source_port = tcp->source_port();
  header.destination_port = tcp->destination_port();
  header.sequence_number = tcp->sequence_number();
  header.ack_number = tcp->ack_number();
  header.flags = tcp->flags();
  header.window = tcp->window();
  header.urgent_pointer = tcp->urgent_pointer();
  header.options = tcp->options();
  // The known options, packed, never take more room than they did in the input.
  check(header.header_length() <= tcp->header_length());
  check(header.emit(scratch, tcp->payload(), src, dst));
  auto again = TcpPacket::parse(ByteSpan(scratch).first(header.length(tcp->payload().size())));
  check(again.ok());
  check(again->checksum_ok(src, dst));
  check(again->options() == tcp->options());
  check(again->flags() == tcp->flags() && again->sequence_number() == tcp->sequence_number() &&
        again->ack_number() == tcp->ack_number() && again->window() == tcp->window() &&
        again->urgent_pointer() == tcp->urgent_pointer() &&
        again->source_port() == tcp->source_port());
  check(same(again->payload(), tcp->payload()));
}

void fuzz_udp(ByteSpan bytes, const Ipv4Address& src, const Ipv4Address& dst) {
  auto udp = UdpPacket::parse(bytes);
  if (!udp) return;
  check(udp->length() >= 8 && udp->length() <= bytes.size());
  check(udp->payload().size() + 8 == udp->length());
  const UdpHeader header{udp->source_port(), udp->destination_port()};
  check(header.emit(scratch, udp->payload(), src, dst));
  const ByteSpan emitted = ByteSpan(scratch).first(udp->length());
  auto again = UdpPacket::parse(emitted);
  check(again.ok() && again->has_checksum() && again->checksum_ok(src, dst));
  if (udp->has_checksum() && udp->checksum_ok(src, dst)) check(same(emitted, udp->datagram()));
  // NAT: rewriting the source address through the pseudo-header keeps the checksum valid.
  if (udp->has_checksum()) {
    const Ipv4Address nat{{203, 0, 113, 9}};
    const std::uint16_t updated = checksum_update_address(again->checksum(), src, nat);
    store_be16(scratch, 6, updated);
    check(UdpPacket::parse(emitted)->checksum_ok(nat, dst));
  }
}

void fuzz_icmp(ByteSpan bytes) {
  auto icmp = Icmpv4Packet::parse(bytes);
  if (!icmp) return;
  check(icmp->header().size() + icmp->payload().size() == bytes.size());
  const Icmpv4Header header{icmp->type(), icmp->code(), icmp->rest_of_header()};
  check(header.emit(scratch, icmp->payload()));
  const ByteSpan emitted = ByteSpan(scratch).first(bytes.size());
  check(Icmpv4Packet::parse(emitted)->checksum_ok());
  // A valid checksum is unique except that 0xFFFF and 0 both stand for zero.
  if (icmp->checksum_ok() && icmp->checksum() != 0xFFFF) check(same(emitted, bytes));
  if (const auto quoted = icmp->quoted_datagram()) {
    check(inside(*quoted, bytes));
    auto inner = Ipv4Packet::parse_quoted(*quoted);
    if (inner) {
      check(inside(inner->packet(), *quoted));
      check(inner->header_length() + inner->payload().size() == inner->packet().size());
      check(inner->packet().size() <= inner->total_length());
    }
  }
}

void fuzz_ipv4(ByteSpan bytes) {
  auto ip = Ipv4Packet::parse(bytes);
  if (!ip) {
    auto quoted = Ipv4Packet::parse_quoted(bytes);
    check(!quoted || ip.error().kind == "truncated");
    return;
  }
  check(ip->version() == 4);
  check(ip->packet().size() == ip->total_length() && ip->total_length() <= bytes.size());
  check(ip->header().size() == ip->header_length() && ip->header_length() >= 20);
  check(ip->options().size() + 20 == ip->header_length());
  check(inside(ip->payload(), bytes));

  Ipv4Header header;
  header.dscp_ecn = static_cast<std::uint8_t>((ip->dscp() << 2) | ip->ecn());
  header.identification = ip->identification();
  header.dont_fragment = ip->dont_fragment();
  header.more_fragments = ip->more_fragments();
  header.fragment_offset = ip->fragment_offset();
  header.ttl = ip->ttl();
  header.protocol = ip->protocol();
  header.source = ip->source();
  header.destination = ip->destination();
  header.payload_length = ip->payload().size();
  check(header.emit(scratch));
  auto again = Ipv4Packet::parse_quoted(ByteSpan(scratch).first(20));
  check(again.ok() && again->checksum_ok());
  check(again->fragment_offset() == ip->fragment_offset() &&
        again->is_fragment() == ip->is_fragment());
  if (ip->header_length() == 20 && !ip->reserved_flag() && ip->checksum_ok() &&
      ip->header_checksum() != 0xFFFF) {
    check(same(ByteSpan(scratch).first(20), ip->header()));
  }
  // NAT: decrement the TTL and rewrite the source with RFC 1624 updates.
  if (ip->checksum_ok()) {
    std::array<std::uint8_t, 60> copy{};
    std::copy(ip->header().begin(), ip->header().end(), copy.begin());
    const std::span<std::uint8_t> h(copy.data(), ip->header_length());
    const std::uint16_t old_word = load_be16(h, 8);
    h[8] = static_cast<std::uint8_t>(h[8] - 1);
    std::uint16_t sum = checksum_update16(load_be16(h, 10), old_word, load_be16(h, 8));
    const Ipv4Address nat{{198, 51, 100, 200}};
    sum = checksum_update_address(sum, ip->source(), nat);
    std::copy(nat.bytes.begin(), nat.bytes.end(), h.begin() + 12);
    store_be16(h, 10, sum);
    check(ones_complement_sum(h) == 0xFFFF);
  }

  if (ip->is_fragment() && ip->fragment_offset() != 0) return;  // no transport header here
  switch (ip->protocol()) {
    case kIpProtocolIcmp: fuzz_icmp(ip->payload()); break;
    case kIpProtocolUdp: fuzz_udp(ip->payload(), ip->source(), ip->destination()); break;
    case kIpProtocolTcp: fuzz_tcp(ip->payload(), ip->source(), ip->destination()); break;
    default: break;
  }
}

void fuzz_arp(ByteSpan bytes) {
  auto arp = ArpPacket::parse(bytes);
  if (!arp) return;
  const ArpHeader header{arp->operation(), arp->sender_mac(), arp->sender_ip(), arp->target_mac(),
                         arp->target_ip()};
  check(header.emit(scratch));
  check(same(ByteSpan(scratch).first(kArpPacketLength), arp->packet()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan input(data, size);
  // The network layer on the raw input too, so IPv4-level mutations need no Ethernet header.
  fuzz_ipv4(input);
  auto frame = EthernetFrame::parse(input);
  if (!frame) return 0;
  check(frame->header().size() + frame->payload().size() == size);
  EthernetHeader header;
  header.destination = frame->destination();
  header.source = frame->source();
  header.ethertype = frame->ethertype();
  header.vlan_tci = frame->vlan_tci();
  check(header.emit(scratch));
  check(same(ByteSpan(scratch).first(header.header_length()), frame->header()));

  switch (frame->ethertype()) {
    case kEtherTypeArp: fuzz_arp(frame->payload()); break;
    case kEtherTypeIpv4: fuzz_ipv4(frame->payload()); break;
    default: break;
  }
  return 0;
}
