// The client end of aero-l2-tunnel-v1 for local guests (`aero-net bridge`): connects a TAP
// device or QEMU `-netdev stream` peers to an aero-l2-proxy (or Aero's) over a WebSocket, so a
// namespace or VM on this machine uses a remote proxy's network.
//
// Frames go both ways as FRAME messages; the bridge answers the proxy's PINGs and sends its own
// (Aero's client recommendation: keepalive with RTT measurement). Flow control: the WebSocket
// send queue is bounded; when full, the bridge stops reading its transport (a TAP's kernel
// queue then drops, as a link does; a QEMU peer is simply not read). Toward a QEMU peer the
// output backlog is bounded too; when full, the bridge stops reading the WebSocket, and the
// proxy in turn stops reading its host sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "aero/base/result.h"

namespace aero::l2proxy {

struct BridgeOptions {
  std::string url;  // ws://host[:port]/path[?query] (plain WebSocket; put TLS in front)
  // Transport: a TAP device (in `netns` when set), or a listening address for QEMU stream
  // peers ("unix:/path" or "tcp:HOST:PORT"; QEMU connects with server=off).
  std::string tap;
  std::string netns;
  std::string qemu_listen;
  // Credentials, each optional: an `aero-l2-token.<token>` subprotocol entry, the
  // `aero_session` cookie, an `Authorization: Bearer` JWT; and the Origin header to send.
  std::string token;
  std::string cookie;
  std::string bearer;
  std::string origin;
  std::chrono::milliseconds ping_interval{10000};  // 0: no pings
  std::chrono::milliseconds duration{0};           // 0: until SIGINT/SIGTERM or the proxy closes
  std::size_t send_queue = 256;                    // WebSocket messages
  std::size_t max_frame = 65535;
};

struct BridgeReport {
  std::uint64_t frames_to_proxy = 0;
  std::uint64_t frames_from_proxy = 0;
  std::uint64_t transport_drops = 0;  // frames the transport could not take
  std::uint64_t pings_sent = 0;
  std::uint64_t pongs_received = 0;
  double rtt_ms_min = 0, rtt_ms_avg = 0, rtt_ms_max = 0;
  std::uint64_t peers = 0;  // QEMU peers served
  int close_code = 0;       // the proxy's close code, 0 when we closed
  std::string close_reason;
  std::string last_error;   // the last ERROR message from the proxy, "code: text"

  std::string json() const;
};

// Connects and bridges until a signal, the duration, or the proxy's close. `on_connected` runs
// once the tunnel is up (tests wait for it). Errors: "bad_url", "connect", "upgrade" (refused,
// message with the status), "transport".
Result<BridgeReport> run_bridge(const BridgeOptions& options,
                                const std::function<void()>& on_connected = {});

}  // namespace aero::l2proxy
