// The /tcp-mux stream state machine (tcp_mux_session.h describes it).
#include "aero/services/gateway/tcp_mux_session.h"

#include <algorithm>
#include <vector>

namespace aero::gateway {

namespace {
using mux::ErrorCode;
using mux::MsgType;

constexpr std::uint8_t kFin[] = {mux::kCloseFin};
constexpr std::uint8_t kRst[] = {mux::kCloseRst};
}  // namespace

MuxSession::MuxSession(MuxHost& host, const TcpPolicy& policy, const MuxLimits& limits, SessionSlots& slots,
                       std::string sid, Metrics* metrics)
    : host_(host),
      policy_(policy),
      limits_(limits),
      slots_(slots),
      open_limiter_(limits.open_rate_per_second, limits.open_burst),
      data_limiter_(limits.data_bytes_per_second, limits.data_burst_bytes),
      sid_(std::move(sid)),
      metrics_(metrics),
      parser_(limits.max_frame_payload_bytes) {}

MuxSession::~MuxSession() {
  // The host may be half destroyed: only the slots are given back here.
  for (std::size_t i = 0; i < streams_.size(); ++i) slots_.release(sid_);
}

Result<void> MuxSession::on_client_message(ByteSpan message, Clock::time_point now) {
  return parser_.push(message, [this, now](const mux::FrameView& frame) { on_frame(frame, now); });
}

void MuxSession::on_frame(const mux::FrameView& frame, Clock::time_point now) {
  count("aero_gateway_tcp_mux_frames_total", prometheus_labels({{"direction", "from_client"}}));
  switch (frame.msg_type) {
    case static_cast<std::uint8_t>(MsgType::open):
      return handle_open(frame.stream_id, frame.payload, now);
    case static_cast<std::uint8_t>(MsgType::data):
      return handle_data(frame.stream_id, frame.payload, now);
    case static_cast<std::uint8_t>(MsgType::close):
      return handle_close(frame.stream_id, frame.payload);
    case static_cast<std::uint8_t>(MsgType::error):
      return;  // ERROR from a client is ignored (§4)
    case static_cast<std::uint8_t>(MsgType::ping):
      return send_frame(MsgType::pong, frame.stream_id, frame.payload);
    case static_cast<std::uint8_t>(MsgType::pong):
      return;
    default:
      return fail(frame.stream_id, ErrorCode::protocol_error,
                  "Unknown msg_type " + std::to_string(static_cast<unsigned>(frame.msg_type)));
  }
}

void MuxSession::handle_open(std::uint32_t id, ByteSpan payload, Clock::time_point now) {
  if (id == 0) return send_error(0, ErrorCode::protocol_error, "stream_id=0 is reserved");
  if (streams_.contains(id)) return fail(id, ErrorCode::protocol_error, "stream_id already exists");
  if (!open_limiter_.allow("", now)) {
    count("aero_gateway_rate_limited_total", prometheus_labels({{"limiter", "tcp_mux_open"}}));
    return send_error(id, ErrorCode::stream_limit_exceeded, "OPEN rate limit");
  }
  if (streams_.size() >= limits_.max_streams) {
    return send_error(id, ErrorCode::stream_limit_exceeded, "max streams exceeded");
  }
  auto open = mux::decode_open(payload);
  if (!open) return send_error(id, ErrorCode::protocol_error, "Invalid OPEN payload");
  if (open->port == 0) return send_error(id, ErrorCode::protocol_error, "Invalid port");
  const TargetPlan plan = plan_target(policy_, TcpTarget{open->host, open->port});
  if (plan.rejection) {
    if (plan.rejection->reason == "host_policy") count("tcp_proxy_blocked_by_host_policy_total");
    if (plan.rejection->reason == "ip_policy") count("tcp_proxy_blocked_by_ip_policy_total");
    count("aero_gateway_tcp_mux_open_refused_total", prometheus_labels({{"reason", plan.rejection->reason}}));
    // A malformed request (400) is the client's protocol error; a refusal (403) is policy.
    return send_error(id, plan.rejection->status == 400 ? ErrorCode::protocol_error : ErrorCode::policy_denied,
                      plan.rejection->message);
  }
  if (!slots_.acquire(sid_)) {
    count("aero_gateway_tcp_mux_open_refused_total", prometheus_labels({{"reason", "too_many_connections"}}));
    return send_error(id, ErrorCode::stream_limit_exceeded, "session max connections exceeded");
  }
  Stream& stream = streams_[id];
  stream.key = next_key_++;
  stream.port = open->port;
  stream.phase_started = now;
  stream.last_activity = now;
  ids_[stream.key] = id;
  count("aero_gateway_tcp_mux_streams_total");
  if (metrics_) metrics_->gauge_add("aero_gateway_tcp_mux_streams_active", 1);
  if (plan.dial) return start_dial(stream, *plan.dial, now);
  stream.phase = Phase::resolving;
  stream.name = plan.resolve_name;
  host_.resolve(stream.key, plan.resolve_name);
}

void MuxSession::start_dial(Stream& stream, const IpAddress& address, Clock::time_point now) {
  stream.phase = Phase::connecting;
  stream.phase_started = std::min(stream.phase_started, now);  // the connect timeout covers the lookup
  host_.dial(stream.key, address, stream.port);
}

void MuxSession::on_resolved(MuxStreamKey key, std::span<const IpAddress> addresses, Clock::time_point now) {
  Stream* stream = find(key);
  if (!stream || stream->phase != Phase::resolving) return;
  const AddressChoice choice = pick_address(policy_, addresses, stream->name, stream->port);
  if (choice.rejection) {
    const std::uint32_t id = ids_.at(key);
    if (choice.rejection->status == 502) {
      count("aero_gateway_tcp_mux_connect_failures_total", prometheus_labels({{"kind", "dns"}}));
      return fail(id, ErrorCode::dial_failed, "dial failed");
    }
    count("tcp_proxy_blocked_by_ip_policy_total");
    return fail(id, ErrorCode::policy_denied, choice.rejection->message);
  }
  start_dial(*stream, *choice.address, now);
}

void MuxSession::on_connected(MuxStreamKey key, Clock::time_point now) {
  Stream* stream = find(key);
  if (!stream || stream->phase != Phase::connecting) return;
  stream->phase = Phase::open;
  stream->last_activity = now;
  std::deque<Bytes> pending = std::move(stream->pending);
  stream->pending.clear();
  for (const Bytes& bytes : pending) host_.write_target(key, bytes);
  if (stream->client_fin) host_.end_target(key);
}

void MuxSession::on_connect_failed(MuxStreamKey key) {
  if (!find(key)) return;
  count("aero_gateway_tcp_mux_connect_failures_total", prometheus_labels({{"kind", "error"}}));
  fail(ids_.at(key), ErrorCode::dial_failed, "dial failed");
}

void MuxSession::handle_data(std::uint32_t id, ByteSpan payload, Clock::time_point now) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return send_error(id, ErrorCode::unknown_stream, "unknown stream");
  Stream& stream = it->second;
  if (stream.client_fin) return fail(id, ErrorCode::protocol_error, "stream is half-closed (client FIN)");
  stream.last_activity = now;
  if (payload.empty()) return;
  if (!data_limiter_.allow("", now, static_cast<double>(payload.size()))) {
    count("aero_gateway_rate_limited_total", prometheus_labels({{"limiter", "tcp_mux_data"}}));
    return fail(id, ErrorCode::stream_buffer_overflow, "DATA rate limit");
  }
  if (payload.size() > limits_.max_stream_buffer_bytes - std::min(stream.buffered, limits_.max_stream_buffer_bytes)) {
    count("aero_gateway_tcp_mux_buffer_overflows_total");
    return fail(id, ErrorCode::stream_buffer_overflow, "stream buffered too much data");
  }
  stream.buffered += payload.size();
  if (metrics_) {
    metrics_->add("aero_gateway_tcp_mux_payload_bytes_total", prometheus_labels({{"direction", "to_target"}}),
                  static_cast<double>(payload.size()));
  }
  if (stream.phase == Phase::open) return host_.write_target(stream.key, payload);
  stream.pending.emplace_back(payload.begin(), payload.end());
}

void MuxSession::handle_close(std::uint32_t id, ByteSpan payload) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;  // CLOSE on an unknown stream is ignored (§3.10)
  auto flags = mux::decode_close(payload);
  if (!flags) return fail(id, ErrorCode::protocol_error, "Invalid CLOSE payload");
  Stream& stream = it->second;
  if (*flags == mux::kCloseRst) {
    count("aero_gateway_tcp_mux_closed_total", prometheus_labels({{"reason", "client_rst"}}));
    return destroy(id);
  }
  if (stream.client_fin) return;
  stream.client_fin = true;
  if (stream.phase == Phase::open) host_.end_target(stream.key);
  if (stream.target_fin) {
    count("aero_gateway_tcp_mux_closed_total", prometheus_labels({{"reason", "fin"}}));
    destroy(id, true);
  }
}

void MuxSession::on_target_data(MuxStreamKey key, ByteSpan bytes, Clock::time_point now) {
  Stream* stream = find(key);
  if (!stream || stream->phase != Phase::open || stream->target_fin) return;
  stream->last_activity = now;
  if (metrics_) {
    metrics_->add("aero_gateway_tcp_mux_payload_bytes_total", prometheus_labels({{"direction", "to_client"}}),
                  static_cast<double>(bytes.size()));
  }
  send_frame(MsgType::data, ids_.at(key), bytes);
}

void MuxSession::on_target_eof(MuxStreamKey key) {
  Stream* stream = find(key);
  if (!stream || stream->target_fin) return;
  stream->target_fin = true;
  const std::uint32_t id = ids_.at(key);
  send_frame(MsgType::close, id, kFin);
  if (stream->client_fin) {
    count("aero_gateway_tcp_mux_closed_total", prometheus_labels({{"reason", "fin"}}));
    destroy(id, true);
  }
}

void MuxSession::on_target_reset(MuxStreamKey key) {
  if (!find(key)) return;
  const std::uint32_t id = ids_.at(key);
  count("aero_gateway_tcp_mux_closed_total", prometheus_labels({{"reason", "target_reset"}}));
  send_frame(MsgType::close, id, kRst);
  destroy(id);
}

void MuxSession::on_target_write_failed(MuxStreamKey key) {
  if (!find(key)) return;
  count("aero_gateway_tcp_mux_closed_total", prometheus_labels({{"reason", "write_failed"}}));
  fail(ids_.at(key), ErrorCode::dial_failed, "dial failed");
}

void MuxSession::on_target_written(MuxStreamKey key, std::size_t bytes, Clock::time_point now) {
  Stream* stream = find(key);
  if (!stream) return;
  stream->buffered -= std::min(bytes, stream->buffered);
  stream->last_activity = now;
}

void MuxSession::on_tick(Clock::time_point now) {
  std::vector<std::pair<std::uint32_t, std::string_view>> expired;
  for (const auto& [id, stream] : streams_) {
    if (stream.phase != Phase::open && now - stream.phase_started >= limits_.connect_timeout) {
      expired.emplace_back(id, "TCP connect timeout");
    } else if (stream.phase == Phase::open && now - stream.last_activity >= limits_.idle_timeout) {
      expired.emplace_back(id, "TCP idle timeout");
    }
  }
  for (const auto& [id, message] : expired) {
    count("aero_gateway_tcp_mux_closed_total",
          prometheus_labels({{"reason", message == "TCP idle timeout" ? "idle_timeout" : "connect_timeout"}}));
    fail(id, ErrorCode::dial_failed, message);
  }
}

std::chrono::milliseconds MuxSession::tick_interval() const {
  const auto shortest = std::min(limits_.connect_timeout, limits_.idle_timeout);
  return std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

void MuxSession::close_all() {
  std::vector<std::uint32_t> ids;
  ids.reserve(streams_.size());
  for (const auto& entry : streams_) ids.push_back(entry.first);
  for (const std::uint32_t id : ids) destroy(id);
}

std::size_t MuxSession::buffered_bytes(std::uint32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? 0 : it->second.buffered;
}

bool MuxSession::wants_target_reads(MuxStreamKey key) const {
  auto id = ids_.find(key);
  if (id == ids_.end()) return false;
  const Stream& stream = streams_.at(id->second);
  return stream.phase == Phase::open && !stream.target_fin;
}

MuxSession::Stream* MuxSession::find(MuxStreamKey key) {
  auto id = ids_.find(key);
  return id == ids_.end() ? nullptr : &streams_.at(id->second);
}

void MuxSession::send_frame(MsgType type, std::uint32_t id, ByteSpan payload) {
  Bytes frame;
  frame.reserve(mux::kHeaderLength + payload.size());
  // Payloads here are at most one target read or one client frame: always within a u32.
  if (!mux::encode_frame_into(frame, static_cast<std::uint8_t>(type), id, payload)) return;
  count("aero_gateway_tcp_mux_frames_total", prometheus_labels({{"direction", "to_client"}}));
  host_.send_to_client(std::move(frame));
}

void MuxSession::send_error(std::uint32_t id, ErrorCode code, std::string_view message) {
  count("aero_gateway_tcp_mux_errors_total",
        prometheus_labels({{"code", std::to_string(static_cast<unsigned>(code))}}));
  const Bytes payload = mux::encode_error(static_cast<std::uint16_t>(code), message);
  send_frame(MsgType::error, id, payload);
}

void MuxSession::fail(std::uint32_t id, ErrorCode code, std::string_view message) {
  send_error(id, code, message);
  if (streams_.contains(id)) destroy(id);
}

void MuxSession::destroy(std::uint32_t id, bool graceful) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const MuxStreamKey key = it->second.key;
  streams_.erase(it);
  ids_.erase(key);
  slots_.release(sid_);
  if (metrics_) metrics_->gauge_add("aero_gateway_tcp_mux_streams_active", -1);
  host_.release_target(key, graceful);
}

void MuxSession::count(std::string_view name, std::string_view labels) {
  if (metrics_) metrics_->add(name, labels);
}

}  // namespace aero::gateway
