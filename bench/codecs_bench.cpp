// Cost of the tunnel, tcp-mux and UDP relay codecs per message, and of credential checks.
// These run once per WebSocket message (or per connection for credentials), so they must stay
// far below the cost of the system calls around them (about 1 µs each).
#include <benchmark/benchmark.h>

#include "aero/proto/l2_tunnel.h"
#include "aero/proto/tcp_mux.h"
#include "aero/proto/udp_relay.h"

namespace {

void BM_L2DecodeFrame1514(benchmark::State& state) {
  aero::Bytes payload(1514, 0x42);
  const aero::Bytes wire = aero::l2::encode(aero::l2::MessageType::frame, payload).value();
  for (auto _ : state) {
    auto message = aero::l2::decode(wire);
    benchmark::DoNotOptimize(message);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}
BENCHMARK(BM_L2DecodeFrame1514);

void BM_L2EncodeFrame1514(benchmark::State& state) {
  const aero::Bytes payload(1514, 0x42);
  aero::Bytes out;
  out.reserve(2048);
  for (auto _ : state) {
    out.clear();
    auto status = aero::l2::encode_into(out, 0, payload);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload.size() + 4));
}
BENCHMARK(BM_L2EncodeFrame1514);

// A 1 MiB stream of 16 KiB DATA frames, delivered in WebSocket messages of `range(0)` bytes.
void BM_MuxParseStream(benchmark::State& state) {
  const auto chunk_size = static_cast<std::size_t>(state.range(0));
  aero::Bytes stream;
  const aero::Bytes data(16 * 1024, 0x17);
  for (int i = 0; i < 64; ++i) {
    (void)aero::mux::encode_frame_into(stream, 2, 1, data);
  }
  for (auto _ : state) {
    aero::mux::StreamParser parser;
    std::size_t frames = 0;
    for (std::size_t pos = 0; pos < stream.size(); pos += chunk_size) {
      const auto chunk = aero::ByteSpan(stream).subspan(pos, std::min(chunk_size, stream.size() - pos));
      (void)parser.push(chunk, [&](const aero::mux::FrameView&) { ++frames; });
    }
    benchmark::DoNotOptimize(frames);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(BM_MuxParseStream)->Arg(1 << 20)->Arg(16 * 1024 + 9)->Arg(4096)->Arg(1000);

void BM_UdpRelayDecodeV2Ipv6(benchmark::State& state) {
  aero::Bytes payload(512, 0x01);
  aero::udp_relay::Datagram datagram;
  datagram.version = 2;
  datagram.guest_port = 5353;
  datagram.remote_ip = aero::IpAddress::parse("2001:db8::53").value();
  datagram.remote_port = 53;
  datagram.payload = payload;
  const aero::Bytes frame = aero::udp_relay::encode(datagram).value();
  for (auto _ : state) {
    auto decoded = aero::udp_relay::decode(frame);
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_UdpRelayDecodeV2Ipv6);

}  // namespace

BENCHMARK_MAIN();
