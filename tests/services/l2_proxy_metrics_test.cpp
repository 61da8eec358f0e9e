// The Prometheus rendering of the proxy's metrics.
#include <gtest/gtest.h>

#include <string>

#include "aero/services/l2_proxy/metrics.h"

namespace aero::l2proxy {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(L2ProxyMetrics, RendersAerosNames) {
  Metrics m;
  m.sessions_total.add(3);
  m.sessions_active.add(2);
  m.auth_reject.add("invalid_jwt");
  m.auth_reject.add("something_new");
  m.idle_timeouts.add();
  const std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE l2_sessions_active gauge"));
  EXPECT_TRUE(has_line(text, "l2_sessions_active 2"));
  EXPECT_TRUE(has_line(text, "l2_sessions_total 3"));
  EXPECT_TRUE(has_line(text, "l2_auth_reject_total{reason=\"invalid_jwt\"} 1"));
  EXPECT_TRUE(has_line(text, "l2_auth_reject_total{reason=\"other\"} 1"));
  EXPECT_TRUE(has_line(text, "aero_l2_idle_timeouts_total 1"));
  EXPECT_TRUE(has_line(text, "l2_upgrade_reject_max_tunnels_per_session_total 0"));
  EXPECT_TRUE(has_line(text, "aero_l2_stack_drops_total{reason=\"policy_denied\"} 0"));
}

TEST(L2ProxyMetrics, GaugesSaturateAtZero) {
  Metrics m;
  m.tcp_conns_active.add(-5);
  EXPECT_TRUE(has_line(m.render(), "l2_tcp_conns_active 0"));
}

TEST(L2ProxyMetrics, RttHistogramIsCumulative) {
  Metrics m;
  m.ping_rtt.observe(0.5);
  m.ping_rtt.observe(7);
  m.ping_rtt.observe(3000);
  const std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE l2_ping_rtt_ms histogram"));
  EXPECT_TRUE(has_line(text, "l2_ping_rtt_ms_bucket{le=\"1\"} 1"));
  EXPECT_TRUE(has_line(text, "l2_ping_rtt_ms_bucket{le=\"5\"} 1"));
  EXPECT_TRUE(has_line(text, "l2_ping_rtt_ms_bucket{le=\"10\"} 2"));
  EXPECT_TRUE(has_line(text, "l2_ping_rtt_ms_bucket{le=\"2500\"} 2"));
  EXPECT_TRUE(has_line(text, "l2_ping_rtt_ms_bucket{le=\"+Inf\"} 3"));
  EXPECT_TRUE(has_line(text, "l2_ping_rtt_ms_sum 3007.5"));
  EXPECT_TRUE(has_line(text, "l2_ping_rtt_ms_count 3"));
}

}  // namespace
}  // namespace aero::l2proxy
