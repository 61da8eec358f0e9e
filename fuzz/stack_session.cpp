// Fuzz target: a sequence of guest frames through one stack session, with the IPv4 fragments
// among them also fed to an IPv4 reassembler with small limits.
//
// Input: records of  u16 length (big-endian) | frame bytes | u8 seconds to advance the clock.
// A length past the end of the input is clamped to what remains; a missing time byte advances
// nothing; a lone trailing byte is ignored.
//
// Invariants:
//   * every frame the session emits is 60..65549 bytes (Ethernet header plus an IPv4 packet of
//     at most 65535 bytes), parses as Ethernet from the gateway MAC, and carries a well-formed
//     ARP packet or an IPv4 packet with a valid header checksum (and valid ICMP and UDP
//     checksums);
//   * the session emits at most 2 frames per guest frame, plus its gateway announcement, and
//     its counters agree with what the host saw;
//   * the reassembler never holds more than its caps, every fragment is held, completed or
//     counted as refused, a completed datagram is a whole IPv4 packet with a valid checksum, and
//     expired datagrams are gone after expire().
// Any violation traps.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/stack/config.h"
#include "aero/stack/ipv4_reassembler.h"
#include "aero/stack/session.h"
#include "aero/wire/arp.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"
#include "aero/wire/udp.h"

namespace {

using namespace aero;

constexpr std::size_t kMaxEmittedFrame = wire::kEthernetHeaderLength + wire::kIpv4MaxTotalLength;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

class CheckingHost final : public stack::SessionHost {
 public:
  explicit CheckingHost(const wire::MacAddress& gateway_mac) : gateway_mac_(gateway_mac) {}

  void send_to_guest(ByteSpan frame) override {
    ++frames;
    check(frame.size() >= wire::kEthernetMinFrameLength && frame.size() <= kMaxEmittedFrame);
    auto ethernet = wire::EthernetFrame::parse(frame);
    check(ethernet.ok());
    check(ethernet->source() == gateway_mac_);
    switch (ethernet->ethertype()) {
      case wire::kEtherTypeArp: check(wire::ArpPacket::parse(ethernet->payload()).ok()); break;
      case wire::kEtherTypeIpv4: check_ipv4(ethernet->payload()); break;
      default: check(false);
    }
  }

  // Host sockets that accept everything and remember the last thing sent, so the driver can
  // feed it back as the remote's answer.
  bool udp_open(stack::FlowId, Ipv4Address, std::uint16_t) override { return true; }
  bool udp_send(stack::FlowId id, ByteSpan payload) override {
    last_udp = {id, Bytes(payload.begin(), payload.end())};
    return true;
  }
  bool icmp_open(stack::FlowId, Ipv4Address) override { return true; }
  bool icmp_send(stack::FlowId id, ByteSpan message) override {
    last_icmp = {id, Bytes(message.begin(), message.end())};
    return true;
  }
  bool dns_query(stack::QueryId id, ByteSpan query) override {
    last_dns = {id, Bytes(query.begin(), query.end())};
    return true;
  }

  std::uint64_t frames = 0;
  std::optional<std::pair<stack::FlowId, Bytes>> last_udp, last_icmp;
  std::optional<std::pair<stack::QueryId, Bytes>> last_dns;

 private:
  static void check_ipv4(ByteSpan bytes) {
    auto ip = wire::Ipv4Packet::parse(bytes);
    check(ip.ok());
    check(ip->checksum_ok());
    if (ip->is_fragment()) return;  // UDP replies larger than the MTU
    if (ip->protocol() == wire::kIpProtocolIcmp) {
      auto icmp = wire::Icmpv4Packet::parse(ip->payload());
      check(icmp.ok() && icmp->checksum_ok());
    } else if (ip->protocol() == wire::kIpProtocolUdp) {
      auto udp = wire::UdpPacket::parse(ip->payload());
      check(udp.ok() && udp->checksum_ok(ip->source(), ip->destination()));
    }
  }

  wire::MacAddress gateway_mac_;
};

// The reassembler beside the session: small limits, so the caps are reached often.
class ReassemblyCheck {
 public:
  void feed(ByteSpan frame, Instant now) {
    auto ethernet = wire::EthernetFrame::parse(frame);
    if (!ethernet || ethernet->ethertype() != wire::kEtherTypeIpv4) return;
    auto ip = wire::Ipv4Packet::parse(ethernet->payload());
    // The header checksum is the caller's business and not needed here; skipping it lets the
    // fuzzer reach deep reassembly states without solving checksums.
    if (!ip || !ip->is_fragment()) return;
    const auto outcome = reassembler_.add(*ip, now);
    ++fed_;
    if (outcome.pending()) ++pending_;
    if (outcome.dropped()) check(outcome.reason != stack::ReassemblyDrop::none);
    if (outcome.complete()) {
      ++complete_;
      check(outcome.datagram.size() <= kLimits.max_datagram_size);
      auto whole = wire::Ipv4Packet::parse(outcome.datagram);
      check(whole.ok());
      check(whole->checksum_ok() && !whole->is_fragment());
      check(whole->total_length() == outcome.datagram.size());
      check(whole->identification() == ip->identification() &&
            whole->protocol() == ip->protocol() && whole->source() == ip->source() &&
            whole->destination() == ip->destination());
    }
    check_bounds();
    const auto& stats = reassembler_.stats();
    check(stats.fragments == fed_);
    check(stats.reassembled == complete_);
    check(pending_ + complete_ + stats.refused() == fed_);
  }

  void advance(Instant now) {
    reassembler_.expire(now);
    const auto deadline = reassembler_.next_deadline();
    check(deadline.has_value() == (reassembler_.datagrams_in_progress() != 0));
    check(!deadline || *deadline > now);
    check_bounds();
  }

 private:
  static constexpr stack::Ipv4ReassemblyLimits kLimits{
      .max_datagrams = 4, .max_buffered_bytes = 4096, .max_datagram_size = 65535};

  void check_bounds() const {
    check(reassembler_.bytes_buffered() <= reassembler_.capacity_bytes());
    check(reassembler_.capacity_bytes() <= kLimits.max_buffered_bytes);
    check(reassembler_.datagrams_in_progress() <= kLimits.max_datagrams);
    check(reassembler_.datagrams_in_progress() != 0 || reassembler_.bytes_buffered() == 0);
  }

  stack::Ipv4Reassembler reassembler_{kLimits};
  std::uint64_t fed_ = 0;
  std::uint64_t pending_ = 0;
  std::uint64_t complete_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const stack::StackConfig config;
  CheckingHost host(config.gateway_mac);
  Instant now{};
  stack::Session session(config, host, now);
  ReassemblyCheck reassembly;
  check(host.frames <= 1);

  ByteReader reader(ByteSpan(data, size));
  std::uint64_t fed = 0;
  while (true) {
    const auto length = reader.u16be();
    if (!length) break;
    const std::size_t clamped = std::min<std::size_t>(*length, reader.remaining());
    const ByteSpan frame = *reader.take(clamped);

    session.handle_guest_frame(frame, now);
    ++fed;
    // The remote "answers" with what the guest sent: UDP echoes, echo requests come back as
    // they are (not replies: dropped and counted), DNS queries come back as answers to
    // themselves (not responses: SERVFAIL).
    std::uint64_t replies = 0;
    if (host.last_udp) {
      session.handle_udp_from_host(host.last_udp->first, host.last_udp->second, now);
      if ((frame.size() & 1U) != 0) session.handle_udp_unreachable(host.last_udp->first, now);
      host.last_udp.reset();
      ++replies;
    }
    if (host.last_icmp) {
      Bytes reply = host.last_icmp->second;
      reply[0] = 0;  // echo reply; the checksum is the session's to ignore
      session.handle_icmp_from_host(host.last_icmp->first, reply, now);
      host.last_icmp.reset();
      ++replies;
    }
    if (host.last_dns) {
      session.handle_dns_response(host.last_dns->first, host.last_dns->second, now);
      host.last_dns.reset();
      ++replies;
    }
    check(host.frames <= 2 * (fed + replies) + 1 + session.stats().fragments_to_guest);
    check(session.stats().frames_from_guest == fed);
    check(session.stats().frames_to_guest == host.frames);
    reassembly.feed(frame, now);

    if (const auto seconds = reader.u8()) {
      now += std::chrono::seconds(*seconds);
      reassembly.advance(now);
      session.poll(now);
    }
  }
  return 0;
}
