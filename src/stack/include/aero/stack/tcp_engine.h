// TCP termination: each guest TCP connection ends here and continues on a host socket.
//
// The guest talks TCP (RFC 9293) to an endpoint that impersonates the remote host; the engine
// relays the byte streams to and from one host socket per connection. Sans-I/O: segments,
// socket events and `now` in; segments for the guest (TcpSegmentSink) and socket calls
// (TcpSocketHost) out.
//
// Connection state machine (RFC 9293 §3.3.2), with one state of our own before SYN-RECEIVED:
//
//   guest SYN ──> CONNECTING ──host connect ok──> SYN-RECEIVED (SYN-ACK sent)
//                     │ refused / unreachable / timeout / policy: RST (or ICMP) and gone
//   SYN-RECEIVED ──guest ACK──> ESTABLISHED
//   inbound forward: SYN-SENT ──guest SYN-ACK──> ESTABLISHED (──guest SYN──> SYN-RECEIVED)
//   ESTABLISHED ──guest FIN──> CLOSE-WAIT ──host EOF, our FIN──> LAST-ACK ──ACK──> gone
//   ESTABLISHED ──host EOF, our FIN──> FIN-WAIT-1 ──ACK──> FIN-WAIT-2 ──guest FIN──> TIME-WAIT
//   FIN-WAIT-1 ──guest FIN──> CLOSING ──ACK──> TIME-WAIT ──timer──> gone
//   any state ──RST from the guest──> host socket aborted (RST to the remote), gone
//   any state ──host reset or error──> RST to the guest, gone
//
// A guest FIN becomes shutdown(SHUT_WR) on the host socket once every byte before it has been
// written; a host EOF becomes our FIN after every byte before it has been sent. So each
// direction closes on its own (half-close both ways).
//
// Toward the guest. Data is not copied into the engine: it stays with the host (in the kernel
// socket buffer or the host's ring) until the guest acknowledges it, and the engine reads it at
// an offset straight into the outgoing frame (TcpSocketHost::tcp_peek), for the first
// transmission and for retransmissions alike. Segments are cut to the guest's MSS less our
// options. Flow is limited by the guest's window (RFC 7323 scaling) and a congestion window
// (RFC 5681 slow start and congestion avoidance, initial window of RFC 6928); loss is recovered
// by the retransmission timer (RFC 6298, RTT from timestamps, RFC 7323 §4), by fast retransmit
// on three duplicate ACKs, and by SACK-guided retransmission of the holes (RFC 2018, RFC 6675
// in spirit: holes below the highest SACKed byte are resent first, once per recovery, NewReno
// partial ACKs per RFC 6582 otherwise). A zero window starts the persist timer (RFC 9293
// §3.8.6.1), which probes with exponential back-off.
//
// From the guest. In-order data goes straight to the host socket; what it cannot take, and
// out-of-order segments, wait in a TcpReceiveBuffer whose free space is the window we
// advertise, so a host that reads slowly closes the guest's window instead of growing a buffer
// (the window's right edge never moves left, RFC 9293 §3.8.6.2.2). Out-of-order data is
// reported with SACK blocks. ACKs: immediately for out-of-order data, FIN, window updates and
// every second full segment; otherwise after the delayed-ACK time (RFC 9293 §3.8.6.3).
//
// Robustness: RST and SYN in a synchronised state are checked per RFC 5961 (challenge ACKs);
// every table and buffer is bounded (TcpConfig), the half-open count separately (SYN flood);
// TIME-WAIT is short and its entries are recycled first when the table is full.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/base/ip_address.h"
#include "aero/stack/egress_policy.h"
#include "aero/stack/tcp_receive_buffer.h"
#include "aero/wire/tcp.h"

namespace aero::stack {

using ConnectionId = std::uint32_t;

struct TcpConfig {
  std::size_t max_connections = 1024;        // Aero's max_tcp_connections
  std::size_t max_half_open = 128;           // connecting, SYN-SENT and SYN-RECEIVED together
  std::size_t receive_buffer = 256 * 1024;   // per connection, guest -> host (Aero's default)
  std::size_t session_receive_buffer = 64 * 1024 * 1024;  // all connections of a session
  std::chrono::milliseconds connect_timeout{5000};        // Aero's proxy: 5 s
  bool icmp_for_unreachable = false;  // ICMP host unreachable instead of RST when connect fails
  std::chrono::milliseconds initial_rto{1000};  // RFC 6298 §2.1
  // RFC 6298 §2.4 asks for 1 s; the guest link is one virtual hop, where a spurious
  // retransmission costs little and a long stall costs much (Linux uses 200 ms).
  std::chrono::milliseconds min_rto{50};
  std::chrono::milliseconds max_rto{60000};
  unsigned max_retransmissions = 12;  // consecutive timeouts before the connection is reset
  unsigned max_syn_retransmissions = 5;
  std::chrono::milliseconds delayed_ack{5};
  std::chrono::milliseconds time_wait{1000};  // 2*MSL shortened: the guest is one hop away
  std::chrono::milliseconds fin_wait_2_timeout{60000};
  std::chrono::milliseconds keepalive_idle{7200000};  // RFC 1122 §4.2.3.6: at least two hours
  std::chrono::milliseconds keepalive_interval{75000};
  unsigned keepalive_probes = 9;
  std::uint32_t max_congestion_window = 8 * 1024 * 1024;
  // Seeds the initial sequence numbers (RFC 6528); 0 draws one at random.
  std::uint64_t isn_secret = 0;
};

struct TcpTuple {
  Ipv4Address guest_ip;
  std::uint16_t guest_port = 0;
  Ipv4Address remote_ip;  // as the guest addressed it
  std::uint16_t remote_port = 0;
  friend bool operator==(const TcpTuple&, const TcpTuple&) = default;
};

struct TcpTupleHash {
  std::size_t operator()(const TcpTuple& t) const {
    std::uint64_t h = (std::uint64_t{t.guest_ip.to_u32()} << 32) | t.remote_ip.to_u32();
    h ^= (std::uint64_t{t.guest_port} << 16 | t.remote_port) * 0x9E3779B97F4A7C15ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

enum class TcpState : std::uint8_t {
  connecting,  // the guest's SYN is held while the host socket connects
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
  closed,
};
std::string_view tcp_state_name(TcpState state);

enum class TcpConnectError : std::uint8_t { refused, unreachable, timeout, other };

enum class TcpReadStatus : std::uint8_t { data, would_block, eof, reset };
struct TcpRead {
  std::size_t bytes = 0;
  TcpReadStatus status = TcpReadStatus::would_block;
};

// The host sockets behind the connections. Defaults suit a host without sockets.
class TcpSocketHost {
 public:
  virtual ~TcpSocketHost() = default;
  // Starts connecting a socket for `id` to destination:port. True when under way; the outcome
  // comes back through TcpEngine::handle_connected / handle_connect_failed.
  virtual bool tcp_connect(ConnectionId /*id*/, Ipv4Address /*destination*/,
                           std::uint16_t /*port*/) {
    return false;
  }
  // Writes as much of first + second as the socket takes now; nullopt on a socket error. When
  // it takes less than everything, the host calls TcpEngine::handle_writable once it has room.
  virtual std::optional<std::size_t> tcp_write(ConnectionId /*id*/, ByteSpan /*first*/,
                                               ByteSpan /*second*/) {
    return std::nullopt;
  }
  // Copies received bytes starting `offset` bytes after the first unconsumed one into `out`.
  // would_block (nothing at that offset yet) makes the host call TcpEngine::handle_readable
  // when more arrives; eof means the peer closed and every byte before `offset` is all there is.
  virtual TcpRead tcp_peek(ConnectionId /*id*/, std::size_t /*offset*/,
                           std::span<std::uint8_t> /*out*/) {
    return {0, TcpReadStatus::reset};
  }
  // The guest acknowledged the first `bytes` unconsumed bytes: the host may forget them.
  virtual void tcp_consume(ConnectionId /*id*/, std::size_t /*bytes*/) {}
  virtual void tcp_shutdown_write(ConnectionId /*id*/) {}
  // Closes the socket: gracefully, or with a RST to the remote when `abort`.
  virtual void tcp_close(ConnectionId /*id*/, bool /*abort*/) {}
};

// Where the engine's segments go: the session wraps them in IPv4 and Ethernet.
class TcpSegmentSink {
 public:
  virtual ~TcpSegmentSink() = default;
  // Room for one TCP segment (header and data), valid until send_tcp_segment().
  virtual std::span<std::uint8_t> tcp_segment_area() = 0;
  // `frame_data`: 0 when the segment fits one frame; with segmentation offload on, the data
  // bytes each frame may carry, and the segment (longer than that) is for the transport to cut
  // into frames of that size, each with a copy of the header (TCP segmentation offload).
  virtual void send_tcp_segment(Ipv4Address source, Ipv4Address destination, std::size_t length,
                                std::size_t frame_data) = 0;
  // ICMP destination unreachable (`code`) about the guest's SYN on `tuple`.
  virtual void send_tcp_unreachable(const TcpTuple& tuple, std::uint32_t syn_sequence,
                                    std::uint8_t code) = 0;
};

struct TcpStats {
  std::uint64_t segments_from_guest = 0;
  std::uint64_t segments_to_guest = 0;
  std::uint64_t bytes_from_guest = 0;  // delivered to host sockets
  std::uint64_t bytes_to_guest = 0;    // first transmissions only
  std::uint64_t connections_opened = 0;
  std::uint64_t inbound_opened = 0;
  std::uint64_t connections_closed = 0;
  std::uint64_t connect_refused = 0;
  std::uint64_t connect_unreachable = 0;
  std::uint64_t connect_timeouts = 0;
  std::uint64_t policy_denied = 0;
  std::uint64_t table_full = 0;
  std::uint64_t half_open_limit = 0;
  std::uint64_t time_wait_recycled = 0;
  std::uint64_t resets_to_guest = 0;
  std::uint64_t resets_from_guest = 0;
  std::uint64_t host_resets = 0;
  std::uint64_t retransmissions = 0;  // segments sent again, for any reason
  std::uint64_t fast_retransmits = 0;
  std::uint64_t timeouts = 0;         // retransmission timer expiries
  std::uint64_t persist_probes = 0;
  std::uint64_t keepalive_probes = 0;
  std::uint64_t keepalive_timeouts = 0;
  std::uint64_t out_of_order = 0;     // guest segments held for a gap
  std::uint64_t out_of_order_refused = 0;
  std::uint64_t outside_window = 0;   // guest segments outside the receive window
  std::uint64_t challenge_acks = 0;
  std::uint64_t unknown_connection = 0;
  std::uint64_t window_probes_answered = 0;
  std::uint64_t zero_windows_advertised = 0;
  std::uint64_t guest_zero_windows = 0;  // the guest closed its window
};

class TcpEngine {
 public:
  TcpEngine(const TcpConfig& config, std::uint16_t mtu, TcpSocketHost& host, TcpSegmentSink& sink);
  ~TcpEngine();
  TcpEngine(const TcpEngine&) = delete;
  TcpEngine& operator=(const TcpEngine&) = delete;

  // What a new guest connection to destination:port should do; set by the session (policy and
  // forwards). `target` is where the host connects.
  struct Admission {
    bool allowed = false;
    Ipv4Address target;
    std::uint16_t target_port = 0;
  };

  // A segment from the guest (checksum already verified) and the session's verdict on it, used
  // only when it opens a connection.
  void handle_segment(Ipv4Address source, Ipv4Address destination, const wire::TcpPacket& segment,
                      const Admission& admission, Instant now);

  void handle_connected(ConnectionId id, Instant now);
  void handle_connect_failed(ConnectionId id, TcpConnectError error, Instant now);
  void handle_readable(ConnectionId id, Instant now);
  void handle_writable(ConnectionId id, Instant now);

  // A host peer connected to an inbound forward: opens a connection to guest:guest_port that
  // appears to come from `remote` (the gateway) and a port the engine picks (SYN-SENT). Returns
  // the id the host socket is now known by, or nullopt when the table is full (the host then
  // closes the socket).
  std::optional<ConnectionId> open_inbound(Ipv4Address guest, std::uint16_t guest_port,
                                           Ipv4Address remote, Instant now);

  // Batching: guest data waits in the connection's buffer until flush(), which the host calls
  // once per batch of frames it read, so that one host write and one ACK cover a whole batch
  // (fewer system calls per byte). Off by default: every segment is written at once.
  void set_batching(bool on) { batching_ = on; }
  void flush(Instant now);

  // Segmentation offload toward the guest: when the transport can cut a long segment into
  // frames itself (a TAP device with virtio-net headers lets the guest's kernel do it), new data
  // goes out in segments of up to `max_segment_data` bytes, whole multiples of the guest's MSS,
  // one system call for many frames. Congestion control still counts in MSS; retransmissions
  // stay one MSS long. 0 (the default) turns it off.
  void set_segmentation_offload(std::size_t max_segment_data) { offload_data_ = max_segment_data; }

  void poll(Instant now);
  std::optional<Instant> next_deadline() const;
  // Sends the SYN of every connection in SYN-SENT again now (the session just learned the
  // guest's MAC, so the first SYN went nowhere).
  void resend_syns(Instant now);

  const TcpStats& stats() const { return stats_; }
  std::size_t connection_count() const { return connections_.size(); }
  std::size_t half_open_count() const { return half_open_; }
  std::size_t buffered_bytes() const { return buffered_; }  // guest data held for host sockets
  // For tests and diagnostics.
  std::optional<TcpState> state(ConnectionId id) const;
  std::optional<ConnectionId> find(const TcpTuple& tuple) const;

  struct Connection;

 private:
  Connection* lookup(ConnectionId id);
  Connection* create(const TcpTuple& tuple, Instant now);
  // Forgets the connection: it leaves the tuple index at once and the table at reap(), so
  // callers further up the stack may still look at it (state closed).
  void remove(Connection& c);
  void reap();
  void set_state(Connection& c, TcpState state);

  void open_from_syn(const TcpTuple& tuple, const wire::TcpPacket& segment,
                     const Admission& admission, Instant now);
  void take_syn_options(Connection& c, const wire::TcpPacket& segment);
  void handle_for_connection(Connection& c, const wire::TcpPacket& segment, Instant now);
  void handle_syn_sent(Connection& c, const wire::TcpPacket& segment, Instant now);
  bool process_ack(Connection& c, const wire::TcpPacket& segment, Instant now);
  void process_sack(Connection& c, const wire::TcpPacket& segment);
  void process_data(Connection& c, const wire::TcpPacket& segment, Instant now);
  void process_fin(Connection& c, Instant now);
  void enter_recovery(Connection& c);

  void output(Connection& c, Instant now);
  bool retransmit_hole(Connection& c, Instant now);
  // Sends one segment; data_length bytes must already be at the data offset in the area.
  void send(Connection& c, std::uint32_t sequence, std::uint8_t flags, std::size_t data_length,
            Instant now);
  std::size_t header_length(const Connection& c, std::uint8_t flags) const;
  std::size_t max_data(const Connection& c, std::uint8_t flags) const;
  bool send_data_segment(Connection& c, std::uint32_t sequence, std::size_t limit, bool first,
                         Instant now);
  void send_ack(Connection& c, Instant now);
  void send_reset_for(Ipv4Address source, Ipv4Address destination,
                      const wire::TcpPacket& segment);
  void reset_connection(Connection& c, Instant now);  // RST to the guest, abort the host socket
  void flush_to_host(Connection& c, Instant now);
  std::uint16_t window_field(Connection& c);
  void maybe_finish_host_write(Connection& c);
  void maybe_release_host(Connection& c);
  void arm_retransmit(Connection& c, Instant now);
  void on_retransmit_timeout(Connection& c, Instant now);
  void on_timers(Connection& c, Instant now);
  void update_rtt(Connection& c, Duration sample);
  std::uint32_t timestamp(Instant now) const;
  std::uint32_t initial_sequence(const TcpTuple& tuple, Instant now) const;

  const TcpConfig config_;
  const std::uint16_t mtu_;
  TcpSocketHost& host_;
  TcpSegmentSink& sink_;
  std::uint64_t isn_secret_;
  Instant epoch_{};
  bool epoch_set_ = false;
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> connections_;
  std::unordered_map<TcpTuple, ConnectionId, TcpTupleHash> by_tuple_;
  std::vector<ConnectionId> dead_;
  std::vector<ConnectionId> flush_list_;
  bool batching_ = false;
  std::size_t offload_data_ = 0;  // set_segmentation_offload
  ConnectionId next_id_ = 1;
  std::uint16_t next_inbound_port_ = 0;
  std::size_t half_open_ = 0;
  std::size_t buffered_ = 0;
  TcpStats stats_;
};

}  // namespace aero::stack
