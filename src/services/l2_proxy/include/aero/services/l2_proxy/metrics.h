// The proxy's Prometheus metrics (text exposition format 0.0.4). Aero's names are kept so
// existing dashboards work; aero-net's additions start with `aero_l2_`. Every member is
// thread-safe (relaxed atomics): the event loops update them, /metrics reads them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aero::l2proxy {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Rendered saturated at 0 (Aero: "gauges saturate at 0 on underflow").
class Gauge {
 public:
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// A counter per label value, the label values fixed at construction.
class LabelledCounter {
 public:
  LabelledCounter(std::string_view label, std::vector<std::string_view> values);
  // Unknown values count under "other".
  void add(std::string_view value, std::uint64_t n = 1);
  std::uint64_t get(std::string_view value) const;
  std::string_view label() const { return label_; }
  const std::vector<std::string_view>& values() const { return values_; }
  std::uint64_t at(std::size_t i) const { return counts_[i].get(); }

 private:
  std::string_view label_;
  std::vector<std::string_view> values_;  // the last one is "other"
  std::vector<Counter> counts_;
};

// Aero's l2_ping_rtt_ms buckets.
class RttHistogram {
 public:
  static constexpr std::array<double, 10> kBounds{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};
  void observe(double milliseconds);
  std::uint64_t count() const { return count_.get(); }

 private:
  friend struct Metrics;
  std::array<Counter, kBounds.size()> buckets_;  // non-cumulative; summed when rendered
  Counter count_;
  std::atomic<double> sum_{0};
};

struct Metrics {
  Metrics();

  // Tunnels.
  Gauge sessions_active;
  Counter sessions_total;
  Counter upgrade_rejected;
  // Per reason, Aero's names (l2_upgrade_reject_<reason>_total).
  Counter reject_origin_missing, reject_origin_not_allowed, reject_host_missing,
      reject_host_invalid, reject_host_not_allowed, reject_auth_missing, reject_auth_invalid,
      reject_max_connections, reject_max_tunnels_per_session, reject_max_connections_per_session;
  Counter upgrade_ip_limit_exceeded;
  Counter auth_failures;
  LabelledCounter auth_reject{"reason",
                              {"missing_credentials", "invalid_api_key", "invalid_cookie",
                               "invalid_jwt", "jwt_origin_mismatch"}};
  Counter session_connection_denied;
  LabelledCounter upgrade_rejected_by_reason{
      "reason",
      {"shutting_down", "subprotocol", "not_websocket", "auth_missing", "auth_invalid",
       "origin_missing", "origin_not_allowed", "host_missing", "host_invalid", "host_not_allowed",
       "ip_limit", "max_connections", "max_connections_per_session"}};

  // Closes.
  Counter closed_quota_bytes, closed_quota_fps, closed_backpressure, idle_timeouts;
  LabelledCounter tunnels_closed{"reason",
                                 {"client", "protocol_error", "quota_bytes", "quota_fps",
                                  "backpressure", "idle_timeout", "shutdown", "error"}};

  // Frames through tunnels.
  Counter frames_rx, frames_tx, bytes_rx, bytes_tx;
  Counter frames_dropped;  // Aero's: invalid inbound messages + unencodable outbound frames
  LabelledCounter frames_dropped_by_reason{
      "reason", {"decode_error", "oversize_outbound", "send_queue_full"}};
  Counter pings_received, pongs_sent, pings_sent, pongs_matched;
  Counter backpressure_pauses;  // times a tunnel stopped reading host sockets
  RttHistogram ping_rtt;

  // Capture.
  Counter capture_bytes, capture_frames, capture_frames_dropped, capture_errors;

  // The stacks (folded in from every tunnel's session counters).
  Counter policy_denied;
  Gauge tcp_conns_active;
  Counter tcp_connect_fail;
  Gauge udp_flows_active;
  Counter udp_send_fail, udp_flow_limit_exceeded;
  Counter dns_queries, dns_fail;
  LabelledCounter stack_drops;  // the stack's drop reasons (stack::Drop)

  // HTTP.
  LabelledCounter http_requests{"route",
                                {"l2", "healthz", "readyz", "version", "metrics", "not_found"}};

  // Prometheus text format. `sessions_active` is reported from the gauge.
  std::string render() const;
};

}  // namespace aero::l2proxy
