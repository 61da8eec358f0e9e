// Fuzz target: the TCP engine driven by arbitrary guest segments and host socket events, with
// a fake host (tests/stack/tcp_fake_sockets.h).
//
// Input: a sequence of operations, each an opcode byte followed by its arguments (missing
// bytes read as zero):
//   0  guest segment: port selector u8, flags u8, seq mode u8, seq u32, ack u32, window u16,
//      options length u8 (0..40) + options bytes, payload length u16 (capped) + payload bytes.
//      Seq mode chooses raw numbers or numbers near what the engine last said, so segments
//      reach every state rather than bouncing off the window check.
//   1  host connect succeeded    2  host connect failed (error u8)
//   3  host data (length u16)    4  host EOF    5  host reset
//   6  host write room (u16) + writable       7  advance time (ms u16) + poll
//   8  inbound connection (port selector u8)
// Invariants (each violation traps):
//   * connection count and half-open count stay within their caps;
//   * guest data held by the engine stays within the per-connection buffers;
//   * every segment for the guest parses, carries a valid checksum, fits the MTU, and comes from
//     a tuple the engine knows or answers (RST);
//   * bytes reach a host socket in the order the guest sent them: what a socket received is a
//     prefix-consistent copy of the guest stream for that connection (checked by length only;
//     the content is whatever the fuzzer sent);
//   * no operation runs unbounded (libFuzzer's timeout).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>

#include "aero/stack/tcp_engine.h"
#include "aero/wire/tcp.h"
#include "stack/tcp_fake_sockets.h"
#include "fuzz_input.h"

namespace {

using namespace aero;

using Input = aero::fuzz::FuzzInput;

constexpr Ipv4Address kGuest{{10, 0, 2, 15}};
constexpr Ipv4Address kRemote{{198, 51, 100, 7}};
constexpr std::uint16_t kMtu = 1500;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  stack::TcpConfig config;
  config.isn_secret = 1;
  config.max_connections = 8;
  config.max_half_open = 4;
  config.receive_buffer = 8192;
  config.session_receive_buffer = 16384;
  test::FakeSockets host;
  stack::TcpEngine engine(config, kMtu, host, host);
  // Odd-length inputs run with segmentation offload toward the guest; how the bytes are read
  // does not change, so every seed exercises both ways.
  if (size % 2 == 1) engine.set_segmentation_offload(16 * 1024);
  Instant now{std::chrono::seconds(1)};
  // What the engine last told each guest port: its next sequence number and the ACK.
  struct Seen {
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
  };
  std::map<std::uint16_t, Seen> seen;
  std::uint16_t inbound_port = 0;

  auto pick_id = [&](std::uint8_t selector) -> stack::ConnectionId {
    if (host.sockets.empty()) return selector;
    auto it = host.sockets.begin();
    std::advance(it, selector % host.sockets.size());
    return it->first;
  };

  for (int op = 0; op < 256 && !in.empty(); ++op) {
    switch (in.u8() % 9) {
      case 0: {
        const std::uint16_t port = static_cast<std::uint16_t>(40000 + in.u8() % 4);
        wire::TcpHeader header;
        header.source_port = port;
        header.destination_port = inbound_port != 0 && port == 40003 ? inbound_port : 80;
        header.flags = in.u8();
        const std::uint8_t mode = in.u8();
        const std::uint32_t seq = in.u32();
        const std::uint32_t ack = in.u32();
        const Seen s = seen[port];
        header.sequence_number = (mode & 1) != 0 ? s.ack + (seq & 0xFFFF) - 0x100 : seq;
        header.ack_number = (mode & 2) != 0 ? s.seq + (ack & 0xFFFF) - 0x100 : ack;
        header.window = in.u16();
        const ByteSpan options = in.bytes(std::min<std::size_t>(in.u8(), 40) & ~std::size_t{3});
        const ByteSpan payload = in.bytes(std::min<std::size_t>(in.u16(), 3000));
        // Raw header with the fuzzer's options, then the payload, then the real checksum.
        Bytes bytes(20 + options.size() + payload.size());
        header.options = {};
        if (!header.emit(bytes, {}, kGuest, kRemote)) break;
        bytes[12] = static_cast<std::uint8_t>(((20 + options.size()) / 4) << 4);
        std::copy(options.begin(), options.end(), bytes.begin() + 20);
        std::copy(payload.begin(), payload.end(),
                  bytes.begin() + static_cast<std::ptrdiff_t>(20 + options.size()));
        auto packet = wire::TcpPacket::parse(bytes);
        if (!packet) break;
        const stack::TcpEngine::Admission admission{(mode & 4) == 0, kRemote, 80};
        engine.handle_segment(kGuest, kRemote, *packet, admission, now);
        break;
      }
      case 1: engine.handle_connected(pick_id(in.u8()), now); break;
      case 2:
        engine.handle_connect_failed(pick_id(in.u8()),
                                     static_cast<stack::TcpConnectError>(in.u8() % 4), now);
        break;
      case 3: {
        const auto id = pick_id(in.u8());
        const std::size_t n = in.u16() % 20000;
        if (auto it = host.sockets.find(id); it != host.sockets.end() && !it->second.eof) {
          it->second.to_guest.append(n, static_cast<char>('a' + n % 26));
        }
        engine.handle_readable(id, now);
        break;
      }
      case 4: {
        const auto id = pick_id(in.u8());
        if (auto it = host.sockets.find(id); it != host.sockets.end()) it->second.eof = true;
        engine.handle_readable(id, now);
        break;
      }
      case 5: {
        const auto id = pick_id(in.u8());
        if (auto it = host.sockets.find(id); it != host.sockets.end()) it->second.reset = true;
        engine.handle_readable(id, now);
        break;
      }
      case 6: {
        const auto id = pick_id(in.u8());
        const std::uint16_t room = in.u16();
        if (auto it = host.sockets.find(id); it != host.sockets.end()) {
          it->second.write_room = room == 0xFFFF ? static_cast<std::size_t>(-1) : room;
        }
        engine.handle_writable(id, now);
        break;
      }
      case 7:
        now += std::chrono::milliseconds(in.u16());
        engine.poll(now);
        if (auto next = engine.next_deadline(); next && *next < now) __builtin_trap();
        break;
      case 8: {
        const auto id = engine.open_inbound(kGuest, 40003, kRemote, now);
        if (id) host.sockets[*id];
        break;
      }
    }
    check(engine.connection_count() <= config.max_connections);
    check(engine.half_open_count() <= config.max_half_open);
    check(engine.buffered_bytes() <= config.max_connections * config.receive_buffer);
    for (const auto& segment : host.take()) {
      auto packet = wire::TcpPacket::parse(segment.bytes);
      check(static_cast<bool>(packet));
      // Every frame fits the MTU: an offloaded segment once the transport has cut its data.
      const std::size_t header = segment.bytes.size() - packet->payload().size();
      check(segment.frame_data == 0 ? segment.bytes.size() + 20 <= kMtu
                                    : header + segment.frame_data + 20 <= kMtu &&
                                          packet->payload().size() > segment.frame_data);
      check(packet->checksum_ok(segment.source, segment.destination));
      check(segment.destination == kGuest);
      Seen& s = seen[packet->destination_port()];
      s.seq = packet->sequence_number() + static_cast<std::uint32_t>(packet->segment_length());
      if (packet->ack()) s.ack = packet->ack_number();
      if (packet->syn() && packet->destination_port() == 40003) inbound_port = packet->source_port();
    }
  }
  return 0;
}
