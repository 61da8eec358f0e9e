// libFuzzer target for the /tcp-mux stream state machine (MuxSession) and the /udp binding
// table, driven by a byte script of events.
//
// Each step's first byte picks an event: a client message (the next bytes, length-prefixed),
// or a host event (resolved, connected, connect failed, target data, EOF, reset, write failed,
// bytes written, clock tick) for one of the keys the session has handed out, or a UDP binding
// operation. Invariants (any violation traps):
//  * the session holds exactly one slot per open stream, and none after close_all;
//  * every stream's buffered bytes stay within TCP_MUX_MAX_STREAM_BUFFER_BYTES;
//  * a key is released at most once, and nothing is asked for a released key;
//  * everything sent to the client parses as whole frames, and ERROR codes are 1..6;
//  * the binding table never holds more than MAX_UDP_BINDINGS_PER_SESSION bindings and never
//    lets a datagram in from a remote the guest did not send to.
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "fuzz_input.h"
#include "aero/services/gateway/tcp_mux_session.h"
#include "aero/services/gateway/udp_bindings.h"

namespace {

using namespace aero;
using namespace aero::gateway;
using Clock = std::chrono::steady_clock;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

class CheckingHost : public MuxHost {
 public:
  void send_to_client(Bytes frames) override {
    const auto parsed = parser.push(frames, [](const mux::FrameView& frame) {
      if (frame.msg_type == static_cast<std::uint8_t>(mux::MsgType::error)) {
        auto error = mux::decode_error(frame.payload);
        check(static_cast<bool>(error) && error->code >= 1 && error->code <= 6);
      }
    });
    check(static_cast<bool>(parsed) && parser.buffered_bytes() == 0);
  }
  void resolve(MuxStreamKey key, const std::string&) override { live(key); }
  void dial(MuxStreamKey key, const IpAddress&, std::uint16_t) override { live(key); }
  void write_target(MuxStreamKey key, ByteSpan) override { live(key); }
  void end_target(MuxStreamKey key) override { live(key); }
  void release_target(MuxStreamKey key, bool) override {
    live(key);
    released.insert(key);
  }
  void live(MuxStreamKey key) {
    check(!released.contains(key));
    keys.insert(key);
  }
  mux::StreamParser parser;
  std::set<MuxStreamKey> keys, released;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  aero::fuzz::FuzzInput in(data, size);
  TcpPolicy policy;
  policy.allow_private_ips = (in.u8() & 1) != 0;
  MuxLimits limits;
  limits.max_streams = 1 + in.u8() % 8;
  limits.max_stream_buffer_bytes = 1 + in.u16() % 4096;
  limits.max_frame_payload_bytes = 1 + in.u16() % 8192;
  limits.connect_timeout = std::chrono::milliseconds(1 + in.u8());
  limits.idle_timeout = std::chrono::milliseconds(1 + in.u8());
  SessionSlots slots(1 + in.u8() % 16);
  CheckingHost host;
  UdpRelayLimits udp_limits;
  udp_limits.max_bindings = 1 + in.u8() % 4;
  udp_limits.max_allowed_remotes = 1 + in.u8() % 4;
  udp_limits.binding_idle_timeout = std::chrono::milliseconds(1 + in.u8());
  UdpBindingTable bindings(udp_limits);
  std::set<std::pair<std::uint16_t, std::uint16_t>> sent_to;  // (guest port, remote port)

  auto now = Clock::time_point{} + std::chrono::seconds(1);
  {
    MuxSession session(host, policy, limits, slots, "sid");
    auto pick_key = [&]() -> MuxStreamKey {
      if (host.keys.empty()) return in.u8();
      auto it = host.keys.begin();
      std::advance(it, in.u8() % host.keys.size());
      return *it;
    };
    for (int steps = 0; steps < 256 && !in.empty(); ++steps) {
      now += std::chrono::milliseconds(in.u8() % 16);
      const std::uint8_t event = in.u8() % 13;
      switch (event) {
        case 0: {
          const auto message = in.bytes(in.u16() % 2048);
          (void)session.on_client_message(message, now);
          break;
        }
        case 1: {
          std::vector<IpAddress> addresses;
          const std::uint8_t n = in.u8() % 3;
          for (std::uint8_t i = 0; i < n; ++i) addresses.push_back(IpAddress::from(Ipv4Address::from_u32(in.u32())));
          session.on_resolved(pick_key(), addresses, now);
          break;
        }
        case 2: session.on_connected(pick_key(), now); break;
        case 3: session.on_connect_failed(pick_key()); break;
        case 4: {
          const MuxStreamKey key = pick_key();
          session.on_target_data(key, in.bytes(in.u8()), now);
          break;
        }
        case 5: session.on_target_eof(pick_key()); break;
        case 6: session.on_target_reset(pick_key()); break;
        case 7: session.on_target_write_failed(pick_key()); break;
        case 8: session.on_target_written(pick_key(), in.u16(), now); break;
        case 9: session.on_tick(now); break;
        case 10: {
          const std::uint16_t guest = in.u8() % 8;
          const std::uint16_t remote = in.u8() % 8;
          bindings.outbound(guest, IpAddress::from(Ipv4Address::from_u32(0x08080808)), remote, (in.u8() & 1) != 0, now);
          sent_to.insert({guest, remote});
          check(bindings.size() <= udp_limits.max_bindings);
          check(bindings.remotes(guest) <= udp_limits.max_allowed_remotes);
          break;
        }
        case 11: {
          const std::uint16_t guest = in.u8() % 8;
          const std::uint16_t remote = in.u8() % 8;
          const bool allowed =
              bindings.inbound_allowed(guest, IpAddress::from(Ipv4Address::from_u32(0x08080808)), remote, now);
          check(!allowed || sent_to.contains({guest, remote}));
          break;
        }
        default: (void)bindings.sweep(now); break;
      }
      check(slots.held("sid") == session.stream_count());
      for (std::uint32_t id = 0; id < 8; ++id) check(session.buffered_bytes(id) <= limits.max_stream_buffer_bytes);
    }
    if ((in.u8() & 1) != 0) {
      session.close_all();
      check(session.stream_count() == 0);
    }
  }
  check(slots.held("sid") == 0);
  return 0;
}
