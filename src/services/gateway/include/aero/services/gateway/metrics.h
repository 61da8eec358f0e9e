// The gateway's Prometheus metrics (text exposition format 0.0.4), Aero's names:
//   http_requests_total{method,route,status_code}, http_request_duration_seconds (histogram),
//   dns_queries_total{qtype,rcode,source}, dns_cache_hits_total{qtype},
//   dns_cache_misses_total{qtype}, dns_upstream_errors_total{upstream,kind},
//   dns_upstream_latency_seconds{upstream,kind} (histogram),
//   tcp_proxy_blocked_by_host_policy_total, tcp_proxy_blocked_by_ip_policy_total,
// and process_start_time_seconds, process_resident_memory_bytes; aero-net's additions start
// with aero_gateway_. Labelled series appear once used. Thread-safe (one mutex).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aero::gateway {

class Metrics {
 public:
  static constexpr std::array<double, 11> kHttpBuckets{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
  static constexpr std::array<double, 10> kDnsBuckets{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5};

  Metrics();

  void http_request(std::string_view method, std::string_view route, unsigned status, double seconds);
  void dns_query(std::string_view qtype, std::string_view rcode, std::string_view source);
  void dns_cache(std::string_view qtype, bool hit);
  void dns_upstream(std::string_view upstream, std::string_view kind, double seconds, bool error);
  // `name` is a bare counter name; `labels` its rendered label set ("" or `k="v",...`).
  void add(std::string_view name, std::string_view labels = {}, double n = 1);
  void gauge_add(std::string_view name, double n);

  double value(std::string_view name, std::string_view labels = {}) const;  // for tests
  std::string render() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> counts;  // non-cumulative, one per bound
    std::uint64_t count = 0;
    double sum = 0;
  };
  void observe(std::map<std::string, Histogram>& family, const std::string& labels, double value,
               std::span<const double> bounds);

  mutable std::mutex mutex_;
  double start_time_seconds_ = 0;
  std::map<std::string, std::map<std::string, double>> counters_;  // name -> labels -> value
  std::map<std::string, double> gauges_;
  std::map<std::string, Histogram> http_duration_;
  std::map<std::string, Histogram> dns_latency_;
};

// `key="value"` pairs, values escaped for the exposition format.
std::string prometheus_labels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

}  // namespace aero::gateway
