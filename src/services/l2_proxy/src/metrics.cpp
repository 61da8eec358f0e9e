// Prometheus text exposition (format 0.0.4) of the proxy's counters.
#include "aero/services/l2_proxy/metrics.h"

#include <cstdio>

#include "aero/stack/session.h"

namespace aero::l2proxy {

namespace {

std::vector<std::string_view> with_other(std::vector<std::string_view> values) {
  values.emplace_back("other");
  return values;
}

std::vector<std::string_view> drop_names() {
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < static_cast<std::size_t>(stack::Drop::count_); ++i) {
    names.push_back(stack::drop_name(static_cast<stack::Drop>(i)));
  }
  return names;
}

class Writer {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    out_ += name;
    out_ += labels;
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }
  void counter(std::string_view name, std::string_view help, const Counter& c) {
    header(name, "counter", help);
    sample(name, "", c.get());
  }
  void gauge(std::string_view name, std::string_view help, const Gauge& g) {
    header(name, "gauge", help);
    const std::int64_t v = g.get();
    sample(name, "", v < 0 ? 0 : static_cast<std::uint64_t>(v));
  }
  void labelled(std::string_view name, std::string_view help, const LabelledCounter& c) {
    header(name, "counter", help);
    for (std::size_t i = 0; i < c.values().size(); ++i) {
      std::string labels = "{";
      labels += c.label();
      labels += "=\"";
      labels += c.values()[i];
      labels += "\"}";
      sample(name, labels, c.at(i));
    }
  }
  void raw(std::string_view text) { out_ += text; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string format_double(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

}  // namespace

LabelledCounter::LabelledCounter(std::string_view label, std::vector<std::string_view> values)
    : label_(label), values_(with_other(std::move(values))), counts_(values_.size()) {}

void LabelledCounter::add(std::string_view value, std::uint64_t n) {
  for (std::size_t i = 0; i + 1 < values_.size(); ++i) {
    if (values_[i] == value) return counts_[i].add(n);
  }
  counts_.back().add(n);
}

std::uint64_t LabelledCounter::get(std::string_view value) const {
  for (std::size_t i = 0; i < values_.size(); ++i) {
    if (values_[i] == value) return counts_[i].get();
  }
  return 0;
}

void RttHistogram::observe(double milliseconds) {
  count_.add();
  sum_.fetch_add(milliseconds, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (milliseconds <= kBounds[i]) return buckets_[i].add();
  }
}

Metrics::Metrics() : stack_drops("reason", drop_names()) {}

std::string Metrics::render() const {
  Writer w;
  w.gauge("l2_sessions_active", "Open tunnels.", sessions_active);
  w.counter("l2_sessions_total", "Tunnels opened.", sessions_total);
  w.counter("l2_upgrade_rejected_total", "Refused tunnel upgrades, every reason.", upgrade_rejected);
  const std::pair<std::string_view, const Counter*> rejects[] = {
      {"l2_upgrade_reject_origin_missing_total", &reject_origin_missing},
      {"l2_upgrade_reject_origin_not_allowed_total", &reject_origin_not_allowed},
      {"l2_upgrade_reject_host_missing_total", &reject_host_missing},
      {"l2_upgrade_reject_host_invalid_total", &reject_host_invalid},
      {"l2_upgrade_reject_host_not_allowed_total", &reject_host_not_allowed},
      {"l2_upgrade_reject_auth_missing_total", &reject_auth_missing},
      {"l2_upgrade_reject_auth_invalid_total", &reject_auth_invalid},
      {"l2_upgrade_reject_max_connections_total", &reject_max_connections},
      {"l2_upgrade_reject_max_tunnels_per_session_total", &reject_max_tunnels_per_session},
      {"l2_upgrade_reject_max_connections_per_session_total", &reject_max_connections_per_session},
  };
  for (const auto& [name, counter] : rejects) w.counter(name, "Refused tunnel upgrades.", *counter);
  w.counter("l2_upgrade_ip_limit_exceeded_total", "Upgrades refused by the per-IP cap.",
            upgrade_ip_limit_exceeded);
  w.counter("l2_auth_failures_total", "Upgrades refused by authentication.", auth_failures);
  w.labelled("l2_auth_reject_total", "Authentication refusals by reason.", auth_reject);
  w.counter("l2_session_connection_denied_total", "Upgrades refused by the per-session cap.",
            session_connection_denied);
  w.labelled("aero_l2_upgrade_rejected_by_reason_total", "Refused tunnel upgrades by reason.",
             upgrade_rejected_by_reason);
  w.counter("l2_sessions_closed_quota_bytes_total", "Tunnels closed by the byte quota.",
            closed_quota_bytes);
  w.counter("l2_sessions_closed_quota_fps_total", "Tunnels closed by the frame-rate quota.",
            closed_quota_fps);
  w.counter("l2_sessions_closed_backpressure_total",
            "Tunnels closed because the client accepted nothing for the backpressure timeout.",
            closed_backpressure);
  w.counter("aero_l2_idle_timeouts_total", "Tunnels closed by the idle timeout.", idle_timeouts);
  w.labelled("aero_l2_tunnels_closed_total", "Tunnel ends by reason.", tunnels_closed);
  w.counter("l2_frames_rx_total", "FRAME messages from clients.", frames_rx);
  w.counter("l2_frames_tx_total", "FRAME messages to clients.", frames_tx);
  w.counter("l2_bytes_rx_total", "Ethernet bytes from clients.", bytes_rx);
  w.counter("l2_bytes_tx_total", "Ethernet bytes to clients.", bytes_tx);
  w.counter("l2_frames_dropped_total",
            "Invalid inbound messages and outbound frames that could not be sent.", frames_dropped);
  w.labelled("aero_l2_frames_dropped_by_reason_total", "Dropped messages by reason.",
             frames_dropped_by_reason);
  w.counter("aero_l2_pings_received_total", "PING messages from clients.", pings_received);
  w.counter("aero_l2_pongs_sent_total", "PONG answers to clients.", pongs_sent);
  w.counter("aero_l2_pings_sent_total", "Server PING messages.", pings_sent);
  w.counter("aero_l2_pongs_matched_total", "Client PONGs matching a server PING.", pongs_matched);
  w.counter("aero_l2_backpressure_pauses_total",
            "Times a tunnel stopped reading host sockets for a slow client.", backpressure_pauses);

  w.header("l2_ping_rtt_ms", "histogram", "Server PING round-trip time in milliseconds.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < RttHistogram::kBounds.size(); ++i) {
    cumulative += ping_rtt.buckets_[i].get();
    w.sample("l2_ping_rtt_ms_bucket",
             "{le=\"" + format_double(RttHistogram::kBounds[i]) + "\"}", cumulative);
  }
  w.sample("l2_ping_rtt_ms_bucket", "{le=\"+Inf\"}", ping_rtt.count_.get());
  w.raw("l2_ping_rtt_ms_sum " + format_double(ping_rtt.sum_.load(std::memory_order_relaxed)) + "\n");
  w.sample("l2_ping_rtt_ms_count", "", ping_rtt.count_.get());

  w.counter("l2_capture_bytes_total", "Bytes written to captures.", capture_bytes);
  w.counter("l2_capture_frames_total", "Frames written to captures.", capture_frames);
  w.counter("l2_capture_frames_dropped_total", "Frames not captured (cap reached).",
            capture_frames_dropped);
  w.counter("l2_capture_errors_total", "Capture I/O errors.", capture_errors);
  w.counter("l2_policy_denied_total", "Egress policy denials (TCP, UDP, ICMP, DNS).", policy_denied);
  w.gauge("l2_tcp_conns_active", "Host TCP sockets open for guests.", tcp_conns_active);
  w.counter("l2_tcp_connect_fail_total", "Host TCP connects that failed.", tcp_connect_fail);
  w.gauge("l2_udp_flows_active", "Host UDP sockets open for guests.", udp_flows_active);
  w.counter("l2_udp_send_fail_total", "UDP sends that failed.", udp_send_fail);
  w.counter("l2_udp_flow_limit_exceeded_total", "New UDP flows refused by the per-tunnel cap.",
            udp_flow_limit_exceeded);
  w.counter("l2_dns_queries_total", "DNS queries from guests.", dns_queries);
  w.counter("l2_dns_fail_total", "DNS queries the upstream failed.", dns_fail);
  w.labelled("aero_l2_stack_drops_total", "Guest frames the stacks dropped, by reason.",
             stack_drops);
  w.labelled("aero_l2_http_requests_total", "HTTP requests by route.", http_requests);
  return w.take();
}

}  // namespace aero::l2proxy
