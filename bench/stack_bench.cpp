// Per-frame cost of the stack session on its main paths, with a host that does nothing: guest
// echo to the gateway, guest UDP through the NAT (flow lookup, policy, checksum), and a UDP
// reply back to the guest. The numbers bound what the session adds to each system call.
#include <benchmark/benchmark.h>

#include <array>

#include "aero/stack/session.h"
#include "aero/wire/ethernet.h"
#include "aero/wire/icmpv4.h"
#include "aero/wire/ipv4.h"
#include "aero/wire/udp.h"

namespace {

using aero::Bytes;
using aero::ByteSpan;
using aero::Ipv4Address;

const aero::wire::MacAddress kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const aero::wire::MacAddress kGatewayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const Ipv4Address kGuest{{10, 0, 2, 15}};
const Ipv4Address kGateway{{10, 0, 2, 2}};
const Ipv4Address kRemote{{93, 184, 216, 34}};

class NullHost final : public aero::stack::SessionHost {
 public:
  void send_to_guest(ByteSpan frame) override { benchmark::DoNotOptimize(frame.data()); }
  bool udp_open(aero::stack::FlowId, Ipv4Address, std::uint16_t) override { return true; }
  bool udp_send(aero::stack::FlowId, ByteSpan payload) override {
    benchmark::DoNotOptimize(payload.data());
    return true;
  }
};

Bytes ipv4_frame(Ipv4Address destination, std::uint8_t protocol, ByteSpan payload) {
  Bytes frame(14 + 20 + payload.size());
  aero::wire::EthernetHeader{kGatewayMac, kGuestMac, aero::wire::kEtherTypeIpv4, {}}.emit(frame);
  aero::wire::Ipv4Header ip;
  ip.protocol = protocol;
  ip.source = kGuest;
  ip.destination = destination;
  ip.payload_length = payload.size();
  ip.emit(std::span<std::uint8_t>(frame).subspan(14));
  std::copy(payload.begin(), payload.end(), frame.begin() + 34);
  return frame;
}

Bytes udp_frame(std::size_t payload_size) {
  const Bytes payload(payload_size, 0x42);
  Bytes udp(8 + payload_size);
  aero::wire::UdpHeader{40000, 443}.emit(udp, payload, kGuest, kRemote);
  return ipv4_frame(kRemote, aero::wire::kIpProtocolUdp, udp);
}

void BM_EchoToGateway(benchmark::State& state) {
  const aero::stack::StackConfig config;
  NullHost host;
  aero::stack::Session session(config, host, aero::Instant{});
  const Bytes data(56, 0x11);
  Bytes icmp(8 + data.size());
  aero::wire::Icmpv4Header::echo_request(1, 1).emit(icmp, data);
  const Bytes frame = ipv4_frame(kGateway, aero::wire::kIpProtocolIcmp, icmp);
  for (auto _ : state) session.handle_guest_frame(frame, aero::Instant{});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EchoToGateway);

void BM_UdpGuestToHost(benchmark::State& state) {
  const aero::stack::StackConfig config;
  NullHost host;
  aero::stack::Session session(config, host, aero::Instant{});
  const Bytes frame = udp_frame(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) session.handle_guest_frame(frame, aero::Instant{});
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_UdpGuestToHost)->Arg(64)->Arg(1472);

void BM_UdpHostToGuest(benchmark::State& state) {
  const aero::stack::StackConfig config;
  NullHost host;
  aero::stack::Session session(config, host, aero::Instant{});
  session.handle_guest_frame(udp_frame(1), aero::Instant{});  // opens flow 1, learns the MAC
  const Bytes payload(static_cast<std::size_t>(state.range(0)), 0x24);
  for (auto _ : state) session.handle_udp_from_host(1, payload, aero::Instant{});
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_UdpHostToGuest)->Arg(64)->Arg(1472)->Arg(8192);

}  // namespace
