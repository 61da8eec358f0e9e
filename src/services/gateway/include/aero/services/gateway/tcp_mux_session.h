// One /tcp-mux WebSocket's streams (aero-tcp-mux-v1, proto/tcp_mux.h), without sockets: the
// server feeds it events (client bytes, DNS answers, connects, target bytes, writes done, clock
// ticks) and it answers with frames for the client and requests to the host (resolve, dial,
// write, end, release). docs/gateway.md describes the behaviour; the choices follow the gateway
// column of Aero's implementation-differences table.
//
// A stream's life (one entry per open stream_id; ids may be reused once a stream is gone):
//
//   OPEN ─checks─> resolving ──addresses──> connecting ──connected──> open
//     │               │  no address passes: ERROR 1     │  failure, TCP connect timeout: ERROR 2
//     └─ERROR 3/1/5   └─ lookup failed: ERROR 2 ────────┘
//
//   open: DATA both ways; client FIN -> the target's write side is ended (after the bytes
//         already queued); target EOF -> CLOSE FIN to the client. Both FINs: the stream is gone.
//         RST from the client, ERROR 6 (buffer cap), ERROR 2 (idle timeout, write failure) or a
//         target reset (CLOSE RST): gone at once.
//
// Per-OPEN checks in Aero's order: stream 0 (ERROR 3 "stream_id=0 is reserved"), id in use
// (3 "stream_id already exists"), the token relay's OPEN rate limit when set (5 "OPEN rate
// limit"), TCP_MUX_MAX_STREAMS (5 "max streams exceeded"), payload
// (3 "Invalid OPEN payload"), the /tcp target policy (a 400-class refusal: 3, a 403-class one:
// 1, with the policy's message), the session's connection slot shared with /tcp
// (5 "session max connections exceeded"); then a host name is looked up once and the first
// address the IP policy allows is dialled (ERROR 1 when none does).
//
// DATA before the connection is up is queued; the bytes queued plus those handed to the host
// and not yet written must stay within TCP_MUX_MAX_STREAM_BUFFER_BYTES (else ERROR 6 "stream
// buffered too much data" and the stream is destroyed): that is the per-stream flow control,
// since one WebSocket cannot stop reading for one slow target.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "aero/base/bytes.h"
#include "aero/base/ip_address.h"
#include "aero/base/result.h"
#include "aero/proto/tcp_mux.h"
#include "aero/services/gateway/limits.h"
#include "aero/services/gateway/metrics.h"
#include "aero/services/gateway/tcp_target.h"

namespace aero::gateway {

// A stream's identity for the host: unique over the session's life, unlike stream ids.
using MuxStreamKey = std::uint64_t;

// What the session asks of its host (the server, or a test).
class MuxHost {
 public:
  virtual ~MuxHost() = default;
  // Frames for the client, in order (one or more whole frames).
  virtual void send_to_client(Bytes frames) = 0;
  // Look up A and AAAA for `name` once; answer with MuxSession::on_resolved.
  virtual void resolve(MuxStreamKey key, const std::string& name) = 0;
  // Connect; answer with on_connected or on_connect_failed.
  virtual void dial(MuxStreamKey key, const IpAddress& address, std::uint16_t port) = 0;
  // Queue bytes for the target; report progress with on_target_written.
  virtual void write_target(MuxStreamKey key, ByteSpan bytes) = 0;
  // Shut the target's write side down once the queued bytes are written (half-close).
  virtual void end_target(MuxStreamKey key) = 0;
  // The stream is gone; no event for `key` is expected later. `graceful` (both sides sent FIN):
  // close once the queued bytes are written; otherwise close (cancelling a lookup or a connect)
  // now.
  virtual void release_target(MuxStreamKey key, bool graceful) = 0;
};

struct MuxLimits {
  std::size_t max_streams = 1024;                    // TCP_MUX_MAX_STREAMS
  std::size_t max_stream_buffer_bytes = 1048576;     // TCP_MUX_MAX_STREAM_BUFFER_BYTES
  std::size_t max_frame_payload_bytes = 16777216;    // TCP_MUX_MAX_FRAME_PAYLOAD_BYTES
  std::chrono::milliseconds connect_timeout{10000};  // TCP_PROXY_CONNECT_TIMEOUT_MS
  std::chrono::milliseconds idle_timeout{300000};    // TCP_PROXY_IDLE_TIMEOUT_MS
  // Per-socket rate limits of the token relay (tools/net-proxy-server; 0: off): OPEN frames
  // (ERROR 5 "OPEN rate limit") and client DATA bytes (ERROR 6 "DATA rate limit", the stream
  // is destroyed). Token buckets: `rate` per second, `burst` at most.
  double open_rate_per_second = 0;
  double open_burst = 0;
  double data_bytes_per_second = 0;
  double data_burst_bytes = 0;
};

class MuxSession {
 public:
  using Clock = std::chrono::steady_clock;

  // `slots` and `metrics` outlive the session; `sid` holds the slots.
  MuxSession(MuxHost& host, const TcpPolicy& policy, const MuxLimits& limits, SessionSlots& slots,
             std::string sid, Metrics* metrics = nullptr);
  ~MuxSession();
  MuxSession(const MuxSession&) = delete;
  MuxSession& operator=(const MuxSession&) = delete;

  // One binary WebSocket message. An error (frame payload over the cap) ends the WebSocket
  // with 1002; the session stays failed.
  Result<void> on_client_message(ByteSpan message, Clock::time_point now);

  void on_resolved(MuxStreamKey key, std::span<const IpAddress> addresses, Clock::time_point now);
  void on_connected(MuxStreamKey key, Clock::time_point now);
  void on_connect_failed(MuxStreamKey key);
  void on_target_data(MuxStreamKey key, ByteSpan bytes, Clock::time_point now);
  void on_target_eof(MuxStreamKey key);
  void on_target_reset(MuxStreamKey key);
  void on_target_write_failed(MuxStreamKey key);
  void on_target_written(MuxStreamKey key, std::size_t bytes, Clock::time_point now);
  // Connect and idle timeouts; call at least every tick_interval().
  void on_tick(Clock::time_point now);
  std::chrono::milliseconds tick_interval() const;

  // The WebSocket ended: every stream is released.
  void close_all();

  std::size_t stream_count() const { return streams_.size(); }
  // Bytes queued or in flight to the target of stream `id` (tests).
  std::size_t buffered_bytes(std::uint32_t stream_id) const;
  bool has_stream(std::uint32_t stream_id) const { return streams_.contains(stream_id); }
  // Whether the target of `key` should be read (it is open and the target has not ended).
  bool wants_target_reads(MuxStreamKey key) const;

 private:
  enum class Phase : std::uint8_t { resolving, connecting, open };
  struct Stream {
    MuxStreamKey key = 0;
    Phase phase = Phase::resolving;
    std::uint16_t port = 0;
    std::string name;           // the host name being resolved (the proxy policy matches it)
    std::deque<Bytes> pending;  // DATA received before the connection was up
    std::size_t buffered = 0;   // pending + handed to the host, not yet written
    bool client_fin = false;
    bool target_fin = false;
    Clock::time_point phase_started{};
    Clock::time_point last_activity{};
  };

  void on_frame(const mux::FrameView& frame, Clock::time_point now);
  void handle_open(std::uint32_t id, ByteSpan payload, Clock::time_point now);
  void handle_data(std::uint32_t id, ByteSpan payload, Clock::time_point now);
  void handle_close(std::uint32_t id, ByteSpan payload);
  void start_dial(Stream& stream, const IpAddress& address, Clock::time_point now);
  Stream* find(MuxStreamKey key);
  void send_frame(mux::MsgType type, std::uint32_t id, ByteSpan payload);
  void send_error(std::uint32_t id, mux::ErrorCode code, std::string_view message);
  // ERROR on the stream, then destroy it.
  void fail(std::uint32_t id, mux::ErrorCode code, std::string_view message);
  void destroy(std::uint32_t id, bool graceful = false);
  void count(std::string_view name, std::string_view labels = {});

  MuxHost& host_;
  const TcpPolicy& policy_;
  MuxLimits limits_;
  SessionSlots& slots_;
  TokenBucketLimiter open_limiter_;
  TokenBucketLimiter data_limiter_;
  std::string sid_;
  Metrics* metrics_;
  mux::StreamParser parser_;
  MuxStreamKey next_key_ = 1;
  std::map<std::uint32_t, Stream> streams_;
  std::unordered_map<MuxStreamKey, std::uint32_t> ids_;  // key -> stream id
};

}  // namespace aero::gateway
