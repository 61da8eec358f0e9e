// TCP termination; the state machine and the algorithms are described in tcp_engine.h.
#include "aero/stack/tcp_engine.h"

#include <algorithm>
#include <random>

namespace aero::stack {

namespace {

// Sequence-number comparisons modulo 2^32 (RFC 9293 §3.4).
bool seq_lt(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
bool seq_le(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) <= 0; }
bool seq_gt(std::uint32_t a, std::uint32_t b) { return seq_lt(b, a); }
bool seq_ge(std::uint32_t a, std::uint32_t b) { return seq_le(b, a); }

constexpr std::uint16_t kDefaultMss = 536;  // RFC 9293 §3.7.1, when the SYN carries no MSS
constexpr std::uint16_t kMinMss = 64;       // floor for hostile MSS values
constexpr std::uint8_t kMaxWindowShift = 14;  // RFC 7323 §2.3
constexpr std::uint16_t kFirstInboundPort = 49152;  // RFC 6335 dynamic ports

std::uint32_t to_u32(std::size_t value) {
  return static_cast<std::uint32_t>(std::min<std::size_t>(value, 0xFFFFFFFFU));
}

std::size_t held_bytes(const TcpReceiveBuffer& rx) {
  std::size_t held = rx.pending();
  for (const auto& range : rx.out_of_order()) held += range.end - range.begin;
  return held;
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

struct TcpEngine::Connection {
  Connection(ConnectionId connection_id, const TcpTuple& t, std::size_t receive_buffer,
             Instant now)
      : id(connection_id), tuple(t), rx(receive_buffer), last_heard(now) {}

  ConnectionId id;
  TcpTuple tuple;
  TcpState state = TcpState::connecting;

  // Toward the guest.
  std::uint32_t iss = 0;
  std::uint32_t snd_una = 0;
  std::uint32_t snd_nxt = 0;
  std::uint32_t snd_max = 0;  // one past the highest sequence number sent
  std::uint32_t snd_wnd = 0;  // the guest's window, scaled
  std::uint32_t snd_wl1 = 0;
  std::uint32_t snd_wl2 = 0;
  std::uint8_t snd_shift = 0;  // the guest's window scale
  std::uint8_t rcv_shift = 0;  // ours
  std::uint16_t peer_mss = kDefaultMss;
  bool sack_ok = false;
  bool timestamps_ok = false;
  std::uint32_t ts_recent = 0;
  std::optional<std::uint32_t> fin_seq;  // our FIN's number, once the host reached EOF
  bool host_closed = false;
  // A peek found nothing new: the host calls handle_readable when data arrives, so peeking
  // again before that (or before an ACK frees room in the host's ring) is a wasted system call.
  bool host_drained = false;

  // Congestion control (RFC 5681, RFC 6582).
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0xFFFFFFFFU;
  unsigned dupacks = 0;
  bool in_recovery = false;
  std::uint32_t recover = 0;
  std::uint32_t high_rxt = 0;  // next hole byte to resend in this recovery
  std::uint32_t retransmit_mark = 0;  // snd_max when the segment at snd_una was last resent
  bool resend_first = false;          // the segment at snd_una must go out again
  struct SeqRange {
    std::uint32_t left = 0;
    std::uint32_t right = 0;
  };
  std::array<SeqRange, 4> sacked{};  // the guest's SACK blocks above snd_una, sorted
  std::size_t sacked_count = 0;

  // Retransmission timer (RFC 6298).
  bool rtt_valid = false;
  Duration srtt{};
  Duration rttvar{};
  Duration rto{};
  std::optional<std::uint32_t> timed_seq;  // Karn's algorithm without timestamps
  Instant timed_at{};
  unsigned backoff = 0;
  std::optional<Instant> rto_deadline;
  std::optional<Instant> persist_deadline;
  Duration persist_interval{};

  // From the guest.
  std::uint32_t irs = 0;
  std::uint32_t rcv_nxt = 0;
  std::uint32_t rcv_adv = 0;  // right edge of the window we advertised
  TcpReceiveBuffer rx;
  bool guest_fin = false;
  bool host_write_shut = false;
  bool flush_queued = false;  // in flush_list_ (batching)
  unsigned unacked_segments = 0;
  std::optional<Instant> ack_deadline;

  std::optional<Instant> state_deadline;  // connect, FIN-WAIT-2 and TIME-WAIT timers
  Instant last_heard;
  unsigned keepalives_sent = 0;

  std::uint32_t sacked_bytes() const {
    std::uint32_t total = 0;
    for (std::size_t i = 0; i < sacked_count; ++i) total += sacked[i].right - sacked[i].left;
    return total;
  }
  bool half_open() const {
    return state == TcpState::connecting || state == TcpState::syn_sent ||
           state == TcpState::syn_received;
  }
};

std::string_view tcp_state_name(TcpState state) {
  switch (state) {
    case TcpState::connecting: return "connecting";
    case TcpState::syn_sent: return "syn_sent";
    case TcpState::syn_received: return "syn_received";
    case TcpState::established: return "established";
    case TcpState::fin_wait_1: return "fin_wait_1";
    case TcpState::fin_wait_2: return "fin_wait_2";
    case TcpState::close_wait: return "close_wait";
    case TcpState::closing: return "closing";
    case TcpState::last_ack: return "last_ack";
    case TcpState::time_wait: return "time_wait";
    case TcpState::closed: return "closed";
  }
  return "unknown";
}

TcpEngine::TcpEngine(const TcpConfig& config, std::uint16_t mtu, TcpSocketHost& host,
                     TcpSegmentSink& sink)
    : config_(config), mtu_(mtu), host_(host), sink_(sink), isn_secret_(config.isn_secret) {
  if (isn_secret_ == 0) {
    std::random_device device;
    isn_secret_ = (std::uint64_t{device()} << 32) | device();
  }
  // The tables grow with use: an idle session holds no per-connection memory.
}

TcpEngine::~TcpEngine() = default;

// ---- bookkeeping --------------------------------------------------------------------------

TcpEngine::Connection* TcpEngine::lookup(ConnectionId id) {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second->state == TcpState::closed) return nullptr;
  return it->second.get();
}

std::optional<TcpState> TcpEngine::state(ConnectionId id) const {
  auto it = connections_.find(id);
  if (it == connections_.end()) return std::nullopt;
  return it->second->state;
}

std::optional<ConnectionId> TcpEngine::find(const TcpTuple& tuple) const {
  auto it = by_tuple_.find(tuple);
  if (it == by_tuple_.end()) return std::nullopt;
  return it->second;
}

TcpEngine::Connection* TcpEngine::create(const TcpTuple& tuple, Instant now) {
  if (connections_.size() >= config_.max_connections) {
    // TIME-WAIT holds nothing the guest still needs (RFC 6191 reasoning): recycle the oldest.
    Connection* oldest = nullptr;
    for (auto& [id, c] : connections_) {
      if (c->state == TcpState::time_wait &&
          (oldest == nullptr || c->state_deadline < oldest->state_deadline)) {
        oldest = c.get();
      }
    }
    if (oldest == nullptr) return nullptr;
    ++stats_.time_wait_recycled;
    remove(*oldest);
    reap();
  }
  while (next_id_ == 0 || connections_.count(next_id_) != 0) ++next_id_;
  const ConnectionId id = next_id_++;
  auto connection = std::make_unique<Connection>(id, tuple, config_.receive_buffer, now);
  Connection* c = connection.get();
  connections_.emplace(id, std::move(connection));
  by_tuple_[tuple] = id;
  c->rto = config_.initial_rto;
  return c;
}

void TcpEngine::set_state(Connection& c, TcpState state) {
  const bool was_half_open = c.half_open();
  c.state = state;
  if (state == TcpState::established) {
    const std::uint32_t mss = to_u32(max_data(c, wire::kTcpAck));
    c.cwnd = std::min(10 * mss, std::max(2 * mss, 14600U));  // RFC 6928 initial window
  }
  if (was_half_open && !c.half_open()) --half_open_;
  if (!was_half_open && c.half_open()) ++half_open_;
}

void TcpEngine::remove(Connection& c) {
  if (c.state == TcpState::closed) return;
  if (!c.host_closed) {
    c.host_closed = true;
    host_.tcp_close(c.id, true);
  }
  buffered_ -= held_bytes(c.rx);
  set_state(c, TcpState::closed);
  by_tuple_.erase(c.tuple);
  dead_.push_back(c.id);
  ++stats_.connections_closed;
}

void TcpEngine::reap() {
  for (ConnectionId id : dead_) connections_.erase(id);
  dead_.clear();
}

std::uint32_t TcpEngine::timestamp(Instant now) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - epoch_).count();
  return static_cast<std::uint32_t>(ms) + 1;  // never 0: TSecr 0 means "no echo"
}

std::uint32_t TcpEngine::initial_sequence(const TcpTuple& tuple, Instant now) const {
  // RFC 6528: a clock plus a keyed hash of the connection's identity.
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch());
  const std::uint64_t identity = (std::uint64_t{tuple.guest_ip.to_u32()} << 32 |
                                  tuple.remote_ip.to_u32()) ^
                                 (std::uint64_t{tuple.guest_port} << 16 | tuple.remote_port);
  return static_cast<std::uint32_t>(mix(identity ^ isn_secret_)) +
         static_cast<std::uint32_t>(us.count() / 4);
}

// ---- segments from the guest ---------------------------------------------------------------

void TcpEngine::handle_segment(Ipv4Address source, Ipv4Address destination,
                               const wire::TcpPacket& segment, const Admission& admission,
                               Instant now) {
  if (!epoch_set_) {
    epoch_ = now;
    epoch_set_ = true;
  }
  ++stats_.segments_from_guest;
  const TcpTuple tuple{source, segment.source_port(), destination, segment.destination_port()};
  auto it = by_tuple_.find(tuple);
  if (it != by_tuple_.end()) {
    Connection& c = *connections_.at(it->second);
    // A new SYN on a tuple in TIME-WAIT starts a new connection when it is above the old one
    // (RFC 9293 §3.10.7.4, the TIME-WAIT reuse of RFC 1122 §4.2.2.13).
    if (c.state == TcpState::time_wait && segment.syn() && !segment.ack() &&
        seq_gt(segment.sequence_number(), c.rcv_nxt)) {
      remove(c);
      reap();
    } else {
      handle_for_connection(c, segment, now);
      reap();
      return;
    }
  }
  if (segment.rst()) return;  // RFC 9293 §3.10.7.1: a reset for nothing is dropped
  if (segment.syn() && !segment.ack()) {
    open_from_syn(tuple, segment, admission, now);
  } else {
    ++stats_.unknown_connection;
    send_reset_for(source, destination, segment);
  }
  reap();
}

void TcpEngine::take_syn_options(Connection& c, const wire::TcpPacket& segment) {
  const auto& options = segment.options();
  c.peer_mss = std::max(options.mss.value_or(kDefaultMss), kMinMss);
  if (options.window_scale) {
    c.snd_shift = std::min(*options.window_scale, kMaxWindowShift);
    std::uint8_t shift = 0;
    while (shift < kMaxWindowShift && (config_.receive_buffer >> shift) > 0xFFFF) ++shift;
    c.rcv_shift = shift;
  } else {
    c.snd_shift = 0;
    c.rcv_shift = 0;
  }
  c.sack_ok = options.sack_permitted;
  c.timestamps_ok = options.timestamps.has_value();
  if (options.timestamps) c.ts_recent = options.timestamps->value;
  c.snd_wnd = segment.window();  // never scaled in a SYN (RFC 7323 §2.2)
  c.snd_wl1 = segment.sequence_number();
  c.snd_wl2 = segment.ack_number();
  c.irs = segment.sequence_number();
  c.rcv_nxt = c.irs + 1;
  c.rcv_adv = c.rcv_nxt;
}

void TcpEngine::open_from_syn(const TcpTuple& tuple, const wire::TcpPacket& segment,
                              const Admission& admission, Instant now) {
  if (!admission.allowed) {
    ++stats_.policy_denied;
    return send_reset_for(tuple.guest_ip, tuple.remote_ip, segment);
  }
  if (half_open_ >= config_.max_half_open) {
    ++stats_.half_open_limit;  // silently: the guest retries its SYN
    return;
  }
  Connection* c = create(tuple, now);
  if (c == nullptr) {
    ++stats_.table_full;
    return send_reset_for(tuple.guest_ip, tuple.remote_ip, segment);
  }
  set_state(*c, TcpState::connecting);
  ++half_open_;  // set_state counts transitions only; a new connection starts half-open
  take_syn_options(*c, segment);
  c->iss = initial_sequence(tuple, now);
  c->snd_una = c->snd_nxt = c->snd_max = c->iss;
  c->state_deadline = now + config_.connect_timeout;
  if (!host_.tcp_connect(c->id, admission.target, admission.target_port)) {
    ++stats_.connect_unreachable;
    c->host_closed = true;
    send_reset_for(tuple.guest_ip, tuple.remote_ip, segment);
    remove(*c);
    return;
  }
  ++stats_.connections_opened;
}

void TcpEngine::handle_for_connection(Connection& c, const wire::TcpPacket& segment, Instant now) {
  c.last_heard = now;
  c.keepalives_sent = 0;
  if (c.state == TcpState::connecting) {
    if (segment.rst()) {  // the guest gave up before the host answered
      ++stats_.resets_from_guest;
      remove(c);
    }
    return;  // a retransmitted SYN waits for the same connect
  }
  if (c.state == TcpState::syn_sent) return handle_syn_sent(c, segment, now);
  if (c.state == TcpState::syn_received && segment.syn() && !segment.ack() &&
      segment.sequence_number() == c.irs) {
    ++stats_.retransmissions;  // the guest lost our SYN-ACK
    return send(c, c.iss, wire::kTcpSyn | wire::kTcpAck, 0, now);
  }

  // RFC 9293 §3.10.7.4, first: is the segment in the window?
  const std::uint32_t seq = segment.sequence_number();
  const std::uint32_t length = to_u32(segment.segment_length());
  const std::uint32_t window = c.rcv_adv - c.rcv_nxt;
  bool acceptable;
  if (length == 0) {
    acceptable = window == 0 ? seq == c.rcv_nxt
                             : seq_ge(seq, c.rcv_nxt) && seq_lt(seq, c.rcv_nxt + window);
  } else {
    const std::uint32_t last = seq + length - 1;
    acceptable = window != 0 && ((seq_ge(seq, c.rcv_nxt) && seq_lt(seq, c.rcv_nxt + window)) ||
                                 (seq_ge(last, c.rcv_nxt) && seq_lt(last, c.rcv_nxt + window)));
  }
  // A zero-window probe carries data at rcv_nxt: its ACK still counts (RFC 9293 §3.10.7.4).
  const bool ack_only = !acceptable && window == 0 && seq == c.rcv_nxt && !segment.rst();
  if (!acceptable && !ack_only) {
    if (segment.rst()) return;
    ++stats_.outside_window;  // also keep-alives and window probes: answered with an ACK
    return send_ack(c, now);
  }
  // Second: RST (RFC 5961 §3.2): exact match resets, anything else in the window is challenged.
  if (segment.rst()) {
    if (seq == c.rcv_nxt) {
      ++stats_.resets_from_guest;
      return remove(c);
    }
    ++stats_.challenge_acks;
    return send_ack(c, now);
  }
  // Fourth: a SYN in a synchronised state gets a challenge ACK (RFC 5961 §4.2).
  if (segment.syn()) {
    ++stats_.challenge_acks;
    return send_ack(c, now);
  }
  if (!segment.ack()) return;
  if (!process_ack(c, segment, now)) return;
  if (ack_only) {
    ++stats_.window_probes_answered;
    send_ack(c, now);
    return output(c, now);
  }
  if (!segment.payload().empty()) {
    if (c.state == TcpState::established || c.state == TcpState::fin_wait_1 ||
        c.state == TcpState::fin_wait_2) {
      process_data(c, segment, now);
      if (c.state == TcpState::closed) return;
    } else {
      send_ack(c, now);  // data after the guest's FIN: ignored (RFC 9293 §3.10.7.4, seventh)
    }
  }
  if (segment.fin() && seq + segment.payload().size() == c.rcv_nxt) process_fin(c, now);
  if (c.state == TcpState::closed) return;
  output(c, now);
}

void TcpEngine::handle_syn_sent(Connection& c, const wire::TcpPacket& segment, Instant now) {
  // RFC 9293 §3.10.7.3.
  const bool ack_ok = segment.ack() && segment.ack_number() == c.iss + 1;
  if (segment.ack() && !ack_ok) {
    if (!segment.rst()) {
      send_reset_for(c.tuple.guest_ip, c.tuple.remote_ip, segment);
    }
    return;
  }
  if (segment.rst()) {
    if (ack_ok) {  // the guest refused the inbound connection
      ++stats_.resets_from_guest;
      remove(c);
    }
    return;
  }
  if (!segment.syn()) return;
  const std::uint8_t offered_shift = c.rcv_shift;
  take_syn_options(c, segment);
  if (segment.options().window_scale) c.rcv_shift = offered_shift;
  if (ack_ok) {
    c.snd_una = segment.ack_number();
    set_state(c, TcpState::established);
    send_ack(c, now);
    c.rto_deadline.reset();
    c.backoff = 0;
    return output(c, now);
  }
  // Simultaneous open: both sent SYNs.
  set_state(c, TcpState::syn_received);
  send(c, c.iss, wire::kTcpSyn | wire::kTcpAck, 0, now);
}

bool TcpEngine::process_ack(Connection& c, const wire::TcpPacket& segment, Instant now) {
  const std::uint32_t ack = segment.ack_number();
  if (c.state == TcpState::syn_received) {
    if (seq_le(ack, c.snd_una) || seq_gt(ack, c.snd_max)) {
      send_reset_for(c.tuple.guest_ip, c.tuple.remote_ip, segment);
      return false;
    }
    set_state(c, TcpState::established);
    c.snd_wl1 = segment.sequence_number() - 1;  // let the window below take effect
    c.rto_deadline.reset();
    c.backoff = 0;
  }
  if (seq_gt(ack, c.snd_max)) {  // acknowledges data never sent (RFC 9293 §3.10.7.4 fifth)
    send_ack(c, now);
    return false;
  }
  process_sack(c, segment);
  // A retransmission lost again: data sent after it has been SACKed while the ACK stays put
  // (the time-ordering idea of RACK, RFC 8985 §6.2). Resend the first hole.
  if (c.in_recovery && c.sacked_count != 0 && ack == c.snd_una &&
      seq_gt(c.sacked[c.sacked_count - 1].right, c.retransmit_mark) &&
      seq_gt(c.high_rxt, c.snd_una)) {
    c.resend_first = true;
  }

  const std::uint32_t scaled_window = std::uint32_t{segment.window()} << c.snd_shift;
  const bool window_changed = scaled_window != c.snd_wnd;
  if (seq_gt(ack, c.snd_una)) {
    std::uint32_t acked = ack - c.snd_una;
    std::uint32_t data_acked = acked;
    if (c.snd_una == c.iss) --data_acked;  // our SYN
    if (c.fin_seq && seq_gt(ack, *c.fin_seq)) --data_acked;  // our FIN
    if (data_acked != 0) {
      host_.tcp_consume(c.id, data_acked);
      c.host_drained = false;
    }

    // RTT sample: from the echoed timestamp (RFC 7323 §4.1), else from the one timed segment.
    const auto& ts = segment.options().timestamps;
    if (c.timestamps_ok && ts && ts->echo != 0 && c.backoff == 0) {
      update_rtt(c, std::chrono::milliseconds(timestamp(now) - ts->echo));
    } else if (c.timed_seq && seq_ge(ack, *c.timed_seq)) {
      update_rtt(c, now - c.timed_at);
    }
    if (c.timed_seq && seq_ge(ack, *c.timed_seq)) c.timed_seq.reset();

    c.snd_una = ack;
    if (seq_lt(c.snd_nxt, c.snd_una)) c.snd_nxt = c.snd_una;
    c.backoff = 0;
    const std::uint32_t mss = to_u32(max_data(c, wire::kTcpAck));
    if (c.in_recovery) {
      if (seq_ge(ack, c.recover)) {  // full ACK ends the recovery (RFC 6582 §3.2 step 3)
        c.in_recovery = false;
        c.cwnd = std::min(c.ssthresh, (c.snd_max - c.snd_una) + mss);
      } else {  // partial ACK: deflate, and the segment at snd_una goes out in output()
        c.cwnd = c.cwnd > acked ? c.cwnd - acked + mss : mss;
        // RFC 6582 §3.2 step 4: the segment at snd_una goes out, unless this recovery
        // already resent it (the SACK scan may be ahead).
        if (seq_le(c.high_rxt, c.snd_una)) c.high_rxt = c.snd_una;
      }
    } else if (c.cwnd < c.ssthresh) {
      c.cwnd += std::min(acked, 2 * mss);  // slow start with RFC 3465 L = 2
    } else {
      c.cwnd += std::max<std::uint32_t>(1, mss * mss / std::max<std::uint32_t>(c.cwnd, 1));
    }
    c.cwnd = std::min(c.cwnd, config_.max_congestion_window);
    c.dupacks = 0;
    if (c.snd_una == c.snd_max) {
      c.rto_deadline.reset();
    } else {
      c.rto_deadline = now + c.rto;
    }
    maybe_release_host(c);
    if (c.fin_seq && ack == *c.fin_seq + 1) {
      switch (c.state) {
        case TcpState::fin_wait_1:
          set_state(c, TcpState::fin_wait_2);
          c.state_deadline = now + config_.fin_wait_2_timeout;
          break;
        case TcpState::closing:
          set_state(c, TcpState::time_wait);
          c.state_deadline = now + config_.time_wait;
          break;
        case TcpState::last_ack:
          remove(c);
          return false;
        default: break;
      }
    }
  } else if (ack == c.snd_una && segment.payload().empty() && !segment.fin() && !window_changed &&
             c.snd_max != c.snd_una) {
    // A duplicate ACK (RFC 5681 §2).
    ++c.dupacks;
    const std::uint32_t mss = to_u32(max_data(c, wire::kTcpAck));
    if (!c.in_recovery && (c.dupacks == 3 || (c.sack_ok && c.sacked_bytes() >= 3 * mss))) {
      enter_recovery(c);
    } else if (c.in_recovery) {
      c.cwnd += mss;  // each duplicate means a segment left the network
    }
  }

  // Window update (RFC 9293 §3.10.7.4, SND.WL1 and SND.WL2 guard against old segments).
  const std::uint32_t seq = segment.sequence_number();
  if (seq_lt(c.snd_wl1, seq) || (c.snd_wl1 == seq && seq_le(c.snd_wl2, ack))) {
    if (scaled_window == 0 && c.snd_wnd != 0) ++stats_.guest_zero_windows;
    c.snd_wnd = scaled_window;
    c.snd_wl1 = seq;
    c.snd_wl2 = ack;
    if (c.snd_wnd != 0) c.persist_deadline.reset();
  }
  if (c.timestamps_ok && segment.options().timestamps &&
      seq_ge(segment.options().timestamps->value, c.ts_recent)) {
    c.ts_recent = segment.options().timestamps->value;
  }
  return true;
}

void TcpEngine::process_sack(Connection& c, const wire::TcpPacket& segment) {
  const auto& options = segment.options();
  if (!c.sack_ok) return;
  // Drop what the cumulative ACK now covers.
  std::size_t kept = 0;
  const std::uint32_t una = seq_gt(segment.ack_number(), c.snd_una) &&
                                    seq_le(segment.ack_number(), c.snd_max)
                                ? segment.ack_number()
                                : c.snd_una;
  for (std::size_t i = 0; i < c.sacked_count; ++i) {
    auto range = c.sacked[i];
    if (seq_le(range.right, una)) continue;
    if (seq_lt(range.left, una)) range.left = una;
    c.sacked[kept++] = range;
  }
  c.sacked_count = kept;
  for (std::size_t b = 0; b < options.sack_block_count; ++b) {
    Connection::SeqRange block{options.sack_blocks[b].left, options.sack_blocks[b].right};
    // Only blocks inside what is outstanding mean anything (RFC 2018 §4; RFC 5961-style guard).
    if (!seq_lt(block.left, block.right) || seq_lt(block.left, una) ||
        seq_gt(block.right, c.snd_max)) {
      continue;
    }
    // Merge into the sorted list; when full, the farthest block is forgotten.
    std::size_t i = 0;
    while (i < c.sacked_count && seq_lt(c.sacked[i].right, block.left)) ++i;
    std::size_t j = i;
    while (j < c.sacked_count && seq_le(c.sacked[j].left, block.right)) {
      if (seq_lt(c.sacked[j].left, block.left)) block.left = c.sacked[j].left;
      if (seq_gt(c.sacked[j].right, block.right)) block.right = c.sacked[j].right;
      ++j;
    }
    const std::size_t merged = j - i;
    if (merged == 0) {
      if (c.sacked_count == c.sacked.size()) {
        if (i == c.sacked_count) continue;
        --c.sacked_count;
      }
      for (std::size_t k = c.sacked_count; k > i; --k) c.sacked[k] = c.sacked[k - 1];
      ++c.sacked_count;
    } else {
      for (std::size_t k = 0; j + k < c.sacked_count; ++k) c.sacked[i + 1 + k] = c.sacked[j + k];
      c.sacked_count -= merged - 1;
    }
    c.sacked[i] = block;
  }
}

void TcpEngine::enter_recovery(Connection& c) {
  // Fast retransmit and fast recovery (RFC 5681 §3.2, RFC 6582).
  ++stats_.fast_retransmits;
  const std::uint32_t mss = to_u32(max_data(c, wire::kTcpAck));
  const std::uint32_t flight = c.snd_max - c.snd_una;
  c.ssthresh = std::max(flight / 2, 2 * mss);
  c.cwnd = c.ssthresh + 3 * mss;
  c.in_recovery = true;
  c.recover = c.snd_max;
  c.high_rxt = c.snd_una;
  c.retransmit_mark = c.snd_max;
  c.resend_first = true;  // the fast retransmit itself goes out whatever the window says
}

void TcpEngine::process_data(Connection& c, const wire::TcpPacket& segment, Instant now) {
  ByteSpan data = segment.payload();
  const auto gap = static_cast<std::int32_t>(segment.sequence_number() - c.rcv_nxt);
  if (gap < 0) {
    const auto old = static_cast<std::size_t>(-static_cast<std::int64_t>(gap));
    if (old >= data.size()) return send_ack(c, now);  // all seen before
    data = data.subspan(old);
  }
  const std::size_t offset = gap > 0 ? static_cast<std::size_t>(gap) : 0;
  const std::size_t held_before = held_bytes(c.rx);
  const bool had_gaps = c.rx.has_out_of_order();
  bool ack_now = false;

  if (!batching_ && offset == 0 && c.rx.pending() == 0 && !had_gaps && !c.host_write_shut) {
    // In order with nothing queued: straight to the host socket.
    const auto written = host_.tcp_write(c.id, data, {});
    if (!written) {
      ++stats_.host_resets;
      return reset_connection(c, now);
    }
    c.rcv_nxt += to_u32(*written);
    stats_.bytes_from_guest += *written;
    data = data.subspan(std::min(*written, data.size()));
  }
  if (!data.empty()) {
    const auto inserted = c.rx.insert(offset, data);
    if (inserted.refused) ++stats_.out_of_order_refused;
    if (offset > 0) {
      ++stats_.out_of_order;
      ack_now = true;  // RFC 5681 §4.2: out-of-order data is acknowledged at once
    }
    if (inserted.advanced != 0) {
      c.rcv_nxt += to_u32(inserted.advanced);
      if (had_gaps) ack_now = true;  // a gap filled
    }
    if (inserted.stored < data.size() && offset == 0) ack_now = true;  // window overrun
  }
  buffered_ = buffered_ + held_bytes(c.rx) - held_before;
  if (batching_) {
    // The host write and the ACK wait for flush(), at the end of the batch of frames.
    ++c.unacked_segments;
    if (ack_now) send_ack(c, now);
    if (!c.flush_queued) {
      c.flush_queued = true;
      flush_list_.push_back(c.id);
    }
    return;
  }
  flush_to_host(c, now);
  if (c.state == TcpState::closed) return;

  if (ack_now || ++c.unacked_segments >= 2) {
    send_ack(c, now);
  } else if (!c.ack_deadline) {
    c.ack_deadline = now + config_.delayed_ack;
  }
}

void TcpEngine::flush(Instant now) {
  for (std::size_t i = 0; i < flush_list_.size(); ++i) {
    Connection* c = lookup(flush_list_[i]);
    if (c == nullptr) continue;
    c->flush_queued = false;
    flush_to_host(*c, now);
    if (c->state == TcpState::closed || c->unacked_segments == 0) continue;
    if (c->unacked_segments >= 2) {
      send_ack(*c, now);
    } else if (!c->ack_deadline) {
      c->ack_deadline = now + config_.delayed_ack;
    }
  }
  flush_list_.clear();
  reap();
}

void TcpEngine::process_fin(Connection& c, Instant now) {
  c.rcv_nxt += 1;
  c.guest_fin = true;
  switch (c.state) {
    case TcpState::syn_received:
    case TcpState::established: set_state(c, TcpState::close_wait); break;
    case TcpState::fin_wait_1:
      if (c.fin_seq && c.snd_una == *c.fin_seq + 1) {
        set_state(c, TcpState::time_wait);
        c.state_deadline = now + config_.time_wait;
      } else {
        set_state(c, TcpState::closing);
      }
      break;
    case TcpState::fin_wait_2:
      set_state(c, TcpState::time_wait);
      c.state_deadline = now + config_.time_wait;
      break;
    default: break;
  }
  send_ack(c, now);
  maybe_finish_host_write(c);
}

void TcpEngine::flush_to_host(Connection& c, Instant now) {
  const std::size_t pending_before = c.rx.pending();
  while (c.rx.pending() != 0 && !c.host_write_shut) {
    const auto spans = c.rx.readable();
    const auto written = host_.tcp_write(c.id, spans[0], spans[1]);
    if (!written) {
      ++stats_.host_resets;
      return reset_connection(c, now);
    }
    const std::size_t n = std::min(*written, c.rx.pending());
    c.rx.consume(n);
    buffered_ -= n;
    stats_.bytes_from_guest += n;
    if (n < spans[0].size() + spans[1].size()) break;  // the host calls handle_writable
  }
  if (c.rx.pending() == 0) maybe_finish_host_write(c);
  // A window that reopens by a useful amount is announced now, not at the next segment.
  const std::uint32_t advertised = c.rcv_adv - c.rcv_nxt;
  if (c.rx.pending() < pending_before && c.state != TcpState::closed &&
      c.rx.window() >= advertised + std::min<std::size_t>(c.rx.capacity() / 2, 2 * c.peer_mss)) {
    send_ack(c, now);
  }
}

void TcpEngine::maybe_finish_host_write(Connection& c) {
  if (!c.guest_fin || c.rx.pending() != 0 || c.host_write_shut || c.host_closed) return;
  c.host_write_shut = true;
  host_.tcp_shutdown_write(c.id);
  maybe_release_host(c);
}

void TcpEngine::maybe_release_host(Connection& c) {
  // Both directions are finished and the guest has every byte (the host keeps unacknowledged
  // data for retransmission until then).
  if (c.host_closed || !c.host_write_shut || !c.fin_seq || seq_lt(c.snd_una, *c.fin_seq)) return;
  c.host_closed = true;
  host_.tcp_close(c.id, false);
}

// ---- segments to the guest -----------------------------------------------------------------

std::uint16_t TcpEngine::window_field(Connection& c) {
  std::size_t space = c.rx.window();
  const std::size_t session_room =
      config_.session_receive_buffer > buffered_ ? config_.session_receive_buffer - buffered_ : 0;
  space = std::min(space, session_room);
  if (c.rcv_shift == 0) space = std::min<std::size_t>(space, 0xFFFF);
  const std::size_t field = std::min<std::size_t>(space >> c.rcv_shift, 0xFFFF);
  std::uint32_t right = c.rcv_nxt + (to_u32(field) << c.rcv_shift);
  // Never move the right edge left (RFC 9293 §3.8.6.2.2), and avoid announcing small gains
  // (receiver-side silly window avoidance, same section).
  const std::uint32_t threshold =
      std::min<std::uint32_t>(to_u32(c.rx.capacity() / 2), c.peer_mss);
  if (seq_lt(right, c.rcv_adv) || (seq_gt(right, c.rcv_adv) && right - c.rcv_adv < threshold)) {
    right = c.rcv_adv;
  }
  c.rcv_adv = right;
  const std::uint32_t advertised = (right - c.rcv_nxt) >> c.rcv_shift;
  if (advertised == 0) ++stats_.zero_windows_advertised;
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(advertised, 0xFFFF));
}

namespace {

wire::TcpOptions segment_options(bool syn, bool with_ack, bool sack_ok, bool timestamps_ok,
                                 std::uint16_t mss, std::uint8_t shift, bool offer_scale,
                                 std::uint32_t ts_value, std::uint32_t ts_echo,
                                 std::span<const TcpReceiveBuffer::Range> out_of_order,
                                 std::uint32_t rcv_nxt) {
  wire::TcpOptions options;
  if (syn) {
    options.mss = mss;
    if (offer_scale) options.window_scale = shift;
    options.sack_permitted = sack_ok;
  }
  if (timestamps_ok) options.timestamps = wire::TcpTimestamps{ts_value, ts_echo};
  if (!syn && with_ack && sack_ok) {
    const std::size_t room = timestamps_ok ? 3 : 4;
    for (const auto& range : out_of_order) {
      if (options.sack_block_count == room) break;
      options.sack_blocks[options.sack_block_count++] = {
          rcv_nxt + to_u32(range.begin), rcv_nxt + to_u32(range.end)};
    }
  }
  return options;
}

}  // namespace

std::size_t TcpEngine::header_length(const Connection& c, std::uint8_t flags) const {
  const bool syn = (flags & wire::kTcpSyn) != 0;
  const auto options = segment_options(syn, (flags & wire::kTcpAck) != 0, c.sack_ok,
                                       c.timestamps_ok, 0, c.rcv_shift, true, 0, 0,
                                       c.rx.out_of_order(), c.rcv_nxt);
  return wire::kTcpMinHeaderLength + options.encoded_length();
}

std::size_t TcpEngine::max_data(const Connection& c, std::uint8_t flags) const {
  const std::size_t path = std::min<std::size_t>(c.peer_mss, mtu_ - 40U);
  const std::size_t options = header_length(c, flags) - wire::kTcpMinHeaderLength;
  return path > options + kMinMss ? path - options : kMinMss;
}

void TcpEngine::send(Connection& c, std::uint32_t sequence, std::uint8_t flags,
                     std::size_t data_length, Instant now) {
  const bool syn = (flags & wire::kTcpSyn) != 0;
  const bool with_ack = (flags & wire::kTcpAck) != 0;
  // A SYN offers what a SYN-ACK may only echo (RFC 7323 §2.2, RFC 2018 §2).
  const bool offering = c.state == TcpState::syn_sent;
  wire::TcpHeader header;
  header.source_port = c.tuple.remote_port;
  header.destination_port = c.tuple.guest_port;
  header.sequence_number = sequence;
  header.ack_number = with_ack ? c.rcv_nxt : 0;
  header.flags = flags;
  if (syn) {
    const std::size_t space = std::min(c.rx.window(), config_.session_receive_buffer);
    header.window = static_cast<std::uint16_t>(std::min<std::size_t>(space, 0xFFFF));
    c.rcv_adv = c.rcv_nxt + header.window;
  } else {
    header.window = window_field(c);
  }
  header.options = segment_options(
      syn, with_ack, offering || c.sack_ok, offering || c.timestamps_ok,
      static_cast<std::uint16_t>(mtu_ - 40U), c.rcv_shift, offering || c.rcv_shift != 0,
      timestamp(now), c.ts_recent, c.rx.out_of_order(), c.rcv_nxt);
  const auto area = sink_.tcp_segment_area();
  const std::size_t header_bytes = header.header_length();
  if (!header.emit(area, area.subspan(header_bytes, data_length), c.tuple.remote_ip,
                   c.tuple.guest_ip)) {
    return;
  }
  const std::size_t frame_data = max_data(c, flags);
  sink_.send_tcp_segment(c.tuple.remote_ip, c.tuple.guest_ip, header_bytes + data_length,
                         data_length > frame_data ? frame_data : 0);
  ++stats_.segments_to_guest;
  if (with_ack) {
    c.unacked_segments = 0;
    c.ack_deadline.reset();
  }
}

void TcpEngine::send_ack(Connection& c, Instant now) {
  if (c.state == TcpState::connecting || c.state == TcpState::closed) return;
  send(c, c.snd_nxt, wire::kTcpAck, 0, now);
}

void TcpEngine::send_reset_for(Ipv4Address source, Ipv4Address destination,
                               const wire::TcpPacket& segment) {
  // RFC 9293 §3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  wire::TcpHeader header;
  header.source_port = segment.destination_port();
  header.destination_port = segment.source_port();
  if (segment.ack()) {
    header.sequence_number = segment.ack_number();
    header.flags = wire::kTcpRst;
  } else {
    header.ack_number = segment.sequence_number() + to_u32(segment.segment_length());
    header.flags = wire::kTcpRst | wire::kTcpAck;
  }
  const auto area = sink_.tcp_segment_area();
  if (!header.emit(area, {}, destination, source)) return;
  sink_.send_tcp_segment(destination, source, header.header_length(), 0);
  ++stats_.segments_to_guest;
  ++stats_.resets_to_guest;
}

void TcpEngine::reset_connection(Connection& c, Instant now) {
  if (c.state == TcpState::closed) return;
  if (c.state != TcpState::time_wait) {
    send(c, c.state == TcpState::connecting ? 0 : c.snd_nxt, wire::kTcpRst | wire::kTcpAck, 0,
         now);
    ++stats_.resets_to_guest;
  }
  remove(c);
}

bool TcpEngine::send_data_segment(Connection& c, std::uint32_t sequence, std::size_t limit,
                                  bool first, Instant now) {
  const bool fresh_data = first && sequence == c.snd_max;
  if (fresh_data && c.host_drained) return false;
  const std::size_t header_bytes = header_length(c, wire::kTcpAck);
  const auto area = sink_.tcp_segment_area();
  if (area.size() <= header_bytes) return false;
  limit = std::min(limit, area.size() - header_bytes);
  const TcpRead read = host_.tcp_peek(c.id, sequence - c.snd_una, area.subspan(header_bytes, limit));
  switch (read.status) {
    case TcpReadStatus::data: {
      const std::size_t n = std::min(read.bytes, limit);
      if (n == 0) return false;
      const bool retransmission = seq_lt(sequence, c.snd_max);
      send(c, sequence, n < limit ? wire::kTcpAck | wire::kTcpPsh : wire::kTcpAck, n, now);
      if (retransmission) {
        ++stats_.retransmissions;
      }
      if (first) {
        c.snd_nxt = sequence + to_u32(n);
        if (seq_gt(c.snd_nxt, c.snd_max)) {
          stats_.bytes_to_guest += c.snd_nxt - c.snd_max;
          c.snd_max = c.snd_nxt;
          if (!c.timestamps_ok && !c.timed_seq && c.backoff == 0) {
            c.timed_seq = c.snd_nxt;
            c.timed_at = now;
          }
        }
      }
      if (!c.rto_deadline) c.rto_deadline = now + c.rto;
      return true;
    }
    case TcpReadStatus::would_block:
      if (fresh_data) c.host_drained = true;
      return false;
    case TcpReadStatus::eof:
      if (first && sequence == c.snd_nxt && !c.fin_seq) {
        c.fin_seq = sequence;
        return true;  // the caller sends the FIN next
      }
      return false;
    case TcpReadStatus::reset:
      ++stats_.host_resets;
      reset_connection(c, now);
      return false;
  }
  return false;
}

bool TcpEngine::retransmit_hole(Connection& c, Instant now) {
  // RFC 6675 NextSeg(), rule 1 in spirit: the first byte at or after high_rxt that the guest
  // has not SACKed and that lies below the highest SACKed byte (or, without SACK information,
  // the first unacknowledged segment, once).
  std::uint32_t start = seq_lt(c.high_rxt, c.snd_una) ? c.snd_una : c.high_rxt;
  std::uint32_t end = c.snd_una;
  if (c.sacked_count != 0) end = c.sacked[c.sacked_count - 1].right;
  for (std::size_t i = 0; i < c.sacked_count; ++i) {
    if (seq_le(c.sacked[i].left, start) && seq_lt(start, c.sacked[i].right)) {
      start = c.sacked[i].right;
    }
  }
  std::uint32_t hole_end = end;
  for (std::size_t i = 0; i < c.sacked_count; ++i) {
    if (seq_gt(c.sacked[i].left, start)) {
      hole_end = c.sacked[i].left;
      break;
    }
  }
  const std::uint32_t mss = to_u32(max_data(c, wire::kTcpAck));
  if (c.sacked_count == 0) {
    if (start != c.snd_una) return false;  // the first segment went out already
    hole_end = c.snd_una + mss;
  }
  if (c.fin_seq && seq_gt(hole_end, *c.fin_seq)) hole_end = *c.fin_seq;
  if (!seq_lt(start, hole_end) || !seq_lt(start, c.snd_max)) return false;
  const std::uint32_t length = std::min(hole_end - start, mss);
  if (!send_data_segment(c, start, length, false, now)) return false;
  c.high_rxt = start + length;
  if (start == c.snd_una) c.retransmit_mark = c.snd_max;
  return true;
}

void TcpEngine::output(Connection& c, Instant now) {
  switch (c.state) {
    case TcpState::established:
    case TcpState::close_wait:
    case TcpState::fin_wait_1:
    case TcpState::closing:
    case TcpState::last_ack: break;
    default: return;
  }
  const std::uint32_t mss = to_u32(max_data(c, wire::kTcpAck));
  if (c.resend_first) {
    c.resend_first = false;
    std::uint32_t end = c.snd_una + mss;
    if (c.sacked_count != 0 && seq_lt(c.sacked[0].left, end)) end = c.sacked[0].left;
    if (seq_lt(c.snd_una, end) && send_data_segment(c, c.snd_una, end - c.snd_una, false, now)) {
      c.retransmit_mark = c.snd_max;
      if (seq_lt(c.high_rxt, end)) c.high_rxt = end;
    }
    if (c.state == TcpState::closed) return;
  }
  if (c.in_recovery) {
    // Holes first, as far as the congestion window allows.
    while ((c.snd_max - c.snd_una) - c.sacked_bytes() < c.cwnd && retransmit_hole(c, now)) {
      if (c.state == TcpState::closed) return;
    }
  }
  // Every pass sends a segment, learns the EOF, or stops; the window bounds the passes.
  while (c.state != TcpState::closed) {
    if (c.fin_seq && c.snd_nxt == *c.fin_seq) {
      const bool first_time = c.snd_max == *c.fin_seq;
      if (!first_time) ++stats_.retransmissions;
      send(c, c.snd_nxt, wire::kTcpFin | wire::kTcpAck, 0, now);
      c.snd_nxt += 1;
      if (first_time) {
        c.snd_max = c.snd_nxt;
        if (c.state == TcpState::established) set_state(c, TcpState::fin_wait_1);
        if (c.state == TcpState::close_wait) set_state(c, TcpState::last_ack);
      }
      if (!c.rto_deadline) c.rto_deadline = now + c.rto;
      break;
    }
    if (c.fin_seq && seq_gt(c.snd_nxt, *c.fin_seq)) break;
    const std::uint32_t window = std::min(c.snd_wnd, c.cwnd);
    // In flight: sent and neither acknowledged nor SACKed (RFC 6675 "pipe", simplified).
    const std::uint32_t flight = (c.snd_nxt - c.snd_una) - std::min(c.sacked_bytes(), c.snd_nxt - c.snd_una);
    if (flight >= window) {
      if (c.snd_wnd == 0 && c.snd_una == c.snd_max && !c.persist_deadline) {
        c.persist_interval = c.rto;
        c.persist_deadline = now + c.persist_interval;
      }
      break;
    }
    const std::uint32_t room = window - flight;
    // Sender-side silly window avoidance (RFC 9293 §3.8.6.2.1): with data in flight, wait for
    // room for a full segment.
    if (room < mss && flight != 0) break;
    // With segmentation offload, as many whole MSS as fit one offloaded segment.
    const std::uint32_t segment = offload_data_ > mss ? to_u32(offload_data_ / mss * mss) : mss;
    if (!send_data_segment(c, c.snd_nxt, std::min(room, segment), true, now)) break;
  }
}

// ---- host events ---------------------------------------------------------------------------

void TcpEngine::handle_connected(ConnectionId id, Instant now) {
  Connection* c = lookup(id);
  if (c == nullptr || c->state != TcpState::connecting) return;
  set_state(*c, TcpState::syn_received);
  c->state_deadline.reset();
  send(*c, c->iss, wire::kTcpSyn | wire::kTcpAck, 0, now);
  c->snd_nxt = c->snd_max = c->iss + 1;
  c->rto_deadline = now + c->rto;
}

void TcpEngine::handle_connect_failed(ConnectionId id, TcpConnectError error, Instant now) {
  Connection* c = lookup(id);
  if (c == nullptr || c->state != TcpState::connecting) return;
  c->host_closed = true;  // nothing to close: the host socket never connected
  switch (error) {
    case TcpConnectError::refused: ++stats_.connect_refused; break;
    case TcpConnectError::timeout: ++stats_.connect_timeouts; break;
    default: ++stats_.connect_unreachable; break;
  }
  if (error != TcpConnectError::refused && config_.icmp_for_unreachable) {
    sink_.send_tcp_unreachable(c->tuple, c->irs, 1);  // host unreachable (RFC 792)
    remove(*c);
  } else {
    reset_connection(*c, now);
  }
  reap();
}

void TcpEngine::handle_readable(ConnectionId id, Instant now) {
  if (Connection* c = lookup(id)) {
    c->host_drained = false;
    output(*c, now);
  }
  reap();
}

void TcpEngine::handle_writable(ConnectionId id, Instant now) {
  if (Connection* c = lookup(id)) flush_to_host(*c, now);
  reap();
}

std::optional<ConnectionId> TcpEngine::open_inbound(Ipv4Address guest, std::uint16_t guest_port,
                                                    Ipv4Address remote, Instant now) {
  if (!epoch_set_) {
    epoch_ = now;
    epoch_set_ = true;
  }
  if (half_open_ >= config_.max_half_open) {
    ++stats_.half_open_limit;
    return std::nullopt;
  }
  TcpTuple tuple{guest, guest_port, remote, 0};
  for (unsigned attempt = 0; attempt < 16384; ++attempt) {
    if (next_inbound_port_ < kFirstInboundPort) next_inbound_port_ = kFirstInboundPort;
    tuple.remote_port = next_inbound_port_++;
    if (by_tuple_.count(tuple) == 0) break;
  }
  if (by_tuple_.count(tuple) != 0) {
    ++stats_.table_full;
    return std::nullopt;
  }
  Connection* c = create(tuple, now);
  if (c == nullptr) {
    ++stats_.table_full;
    return std::nullopt;
  }
  set_state(*c, TcpState::syn_sent);
  ++half_open_;
  std::uint8_t shift = 0;
  while (shift < kMaxWindowShift && (config_.receive_buffer >> shift) > 0xFFFF) ++shift;
  c->rcv_shift = shift;
  c->iss = initial_sequence(tuple, now);
  c->snd_una = c->iss;
  send(*c, c->iss, wire::kTcpSyn, 0, now);
  c->snd_nxt = c->snd_max = c->iss + 1;
  c->rto_deadline = now + c->rto;
  ++stats_.inbound_opened;
  ++stats_.connections_opened;
  return c->id;
}

// ---- timers --------------------------------------------------------------------------------

void TcpEngine::update_rtt(Connection& c, Duration sample) {
  // RFC 6298 §2.2 and §2.3 (alpha 1/8, beta 1/4, K 4).
  if (sample < Duration::zero()) return;
  if (!c.rtt_valid) {
    c.srtt = sample;
    c.rttvar = sample / 2;
    c.rtt_valid = true;
  } else {
    const Duration error = c.srtt > sample ? c.srtt - sample : sample - c.srtt;
    c.rttvar = (3 * c.rttvar + error) / 4;
    c.srtt = (7 * c.srtt + sample) / 8;
  }
  const Duration clock_granularity = std::chrono::milliseconds(1);
  c.rto = c.srtt + std::max(clock_granularity, 4 * c.rttvar);
  c.rto = std::clamp<Duration>(c.rto, config_.min_rto, config_.max_rto);
}

void TcpEngine::on_retransmit_timeout(Connection& c, Instant now) {
  c.rto_deadline.reset();
  ++stats_.timeouts;
  ++c.backoff;
  c.rto = std::min<Duration>(c.rto * 2, config_.max_rto);  // RFC 6298 §5.5
  if (c.state == TcpState::syn_received || c.state == TcpState::syn_sent) {
    if (c.backoff > config_.max_syn_retransmissions) {
      if (c.state == TcpState::syn_sent) return remove(c);
      return reset_connection(c, now);
    }
    ++stats_.retransmissions;
    const std::uint8_t flags =
        c.state == TcpState::syn_sent ? wire::kTcpSyn : wire::kTcpSyn | wire::kTcpAck;
    send(c, c.iss, flags, 0, now);
    c.rto_deadline = now + c.rto;
    return;
  }
  if (c.snd_una == c.snd_max) return;
  if (c.backoff > config_.max_retransmissions) return reset_connection(c, now);
  // RFC 5681 §3.1 (equation 4) and the loss window; resend from the first unacknowledged byte.
  const std::uint32_t mss = to_u32(max_data(c, wire::kTcpAck));
  c.ssthresh = std::max((c.snd_max - c.snd_una) / 2, 2 * mss);
  c.cwnd = mss;
  c.in_recovery = false;
  c.dupacks = 0;
  c.sacked_count = 0;  // RFC 2018 §8: the receiver may have discarded SACKed data
  c.timed_seq.reset();
  c.snd_nxt = c.snd_una;
  output(c, now);
  if (c.state != TcpState::closed && !c.rto_deadline) c.rto_deadline = now + c.rto;
}

void TcpEngine::on_timers(Connection& c, Instant now) {
  if (c.state_deadline && *c.state_deadline <= now) {
    c.state_deadline.reset();
    switch (c.state) {
      case TcpState::connecting:
        host_.tcp_close(c.id, true);
        c.host_closed = true;
        ++stats_.connect_timeouts;
        if (config_.icmp_for_unreachable) {
          sink_.send_tcp_unreachable(c.tuple, c.irs, 1);
          return remove(c);
        }
        return reset_connection(c, now);
      case TcpState::time_wait: return remove(c);
      case TcpState::fin_wait_2: return reset_connection(c, now);
      default: break;
    }
  }
  if (c.rto_deadline && *c.rto_deadline <= now) {
    on_retransmit_timeout(c, now);
    if (c.state == TcpState::closed) return;
  }
  if (c.persist_deadline && *c.persist_deadline <= now) {
    c.persist_deadline.reset();
    if (c.snd_wnd == 0 && c.snd_una == c.snd_max) {
      // A probe with an old sequence number makes the guest answer with its window.
      ++stats_.persist_probes;
      send(c, c.snd_una - 1, wire::kTcpAck, 0, now);
      c.persist_interval = std::min<Duration>(c.persist_interval * 2, config_.max_rto);
      c.persist_deadline = now + c.persist_interval;
    }
  }
  if (c.ack_deadline && *c.ack_deadline <= now) send_ack(c, now);
  if (c.state == TcpState::established || c.state == TcpState::close_wait) {
    const Instant due = c.last_heard + config_.keepalive_idle +
                        config_.keepalive_interval * c.keepalives_sent;
    if (due <= now) {
      if (c.keepalives_sent >= config_.keepalive_probes) {
        ++stats_.keepalive_timeouts;
        return reset_connection(c, now);
      }
      ++c.keepalives_sent;
      ++stats_.keepalive_probes;
      send(c, c.snd_una - 1, wire::kTcpAck, 0, now);  // RFC 1122 §4.2.3.6
    }
  }
}

void TcpEngine::resend_syns(Instant now) {
  for (auto& [id, c] : connections_) {
    if (c->state == TcpState::syn_sent) send(*c, c->iss, wire::kTcpSyn, 0, now);
  }
}

void TcpEngine::poll(Instant now) {
  for (auto& [id, c] : connections_) {
    if (c->state != TcpState::closed) on_timers(*c, now);
  }
  reap();
}

std::optional<Instant> TcpEngine::next_deadline() const {
  std::optional<Instant> earliest;
  auto consider = [&earliest](const std::optional<Instant>& t) {
    if (t && (!earliest || *t < *earliest)) earliest = t;
  };
  for (const auto& [id, c] : connections_) {
    if (c->state == TcpState::closed) continue;
    consider(c->state_deadline);
    consider(c->rto_deadline);
    consider(c->persist_deadline);
    consider(c->ack_deadline);
    if (c->state == TcpState::established || c->state == TcpState::close_wait) {
      consider(c->last_heard + config_.keepalive_idle +
               config_.keepalive_interval * c->keepalives_sent);
    }
  }
  return earliest;
}

}  // namespace aero::stack
