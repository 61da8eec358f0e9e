// Prometheus text rendering of the gateway's metrics (metrics.h).
#include "aero/services/gateway/metrics.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace aero::gateway {

namespace {

std::string number(double value) {
  char buffer[64];
  const int n = std::snprintf(buffer, sizeof buffer, "%.15g", value);
  return std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
}

std::string series(std::string_view name, const std::string& labels) {
  std::string out(name);
  if (!labels.empty()) out += "{" + labels + "}";
  return out;
}

std::string with_le(const std::string& labels, const std::string& le) {
  return labels.empty() ? "le=\"" + le + "\"" : labels + ",le=\"" + le + "\"";
}

double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0;
  double resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

const char* help_for(std::string_view name) {
  if (name == "http_requests_total") return "HTTP requests by method, route and status";
  if (name == "dns_queries_total") return "DNS queries answered, by type, rcode and source";
  if (name == "dns_cache_hits_total") return "DNS cache hits";
  if (name == "dns_cache_misses_total") return "DNS cache misses";
  if (name == "dns_upstream_errors_total") return "DNS upstream failures";
  if (name == "tcp_proxy_blocked_by_host_policy_total") return "/tcp targets refused by the host policy";
  if (name == "tcp_proxy_blocked_by_ip_policy_total") return "/tcp targets refused by the IP policy";
  return "aero-gateway counter";
}

}  // namespace

std::string prometheus_labels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty()) out += ',';
    out += key;
    out += "=\"";
    for (const char c : value) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out;
}

Metrics::Metrics() {
  start_time_seconds_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Always present, even at zero.
  counters_["tcp_proxy_blocked_by_host_policy_total"][""] = 0;
  counters_["tcp_proxy_blocked_by_ip_policy_total"][""] = 0;
}

void Metrics::observe(std::map<std::string, Histogram>& family, const std::string& labels, double value,
                      std::span<const double> bounds) {
  Histogram& h = family[labels];
  if (h.counts.empty()) h.counts.assign(bounds.size(), 0);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      ++h.counts[i];
      break;
    }
  }
  ++h.count;
  h.sum += value;
}

void Metrics::http_request(std::string_view method, std::string_view route, unsigned status, double seconds) {
  const std::string code = std::to_string(status);
  const std::string labels = prometheus_labels({{"method", method}, {"route", route}, {"status_code", code}});
  std::lock_guard lock(mutex_);
  counters_["http_requests_total"][labels] += 1;
  observe(http_duration_, labels, seconds, kHttpBuckets);
}

void Metrics::dns_query(std::string_view qtype, std::string_view rcode, std::string_view source) {
  add("dns_queries_total", prometheus_labels({{"qtype", qtype}, {"rcode", rcode}, {"source", source}}));
}

void Metrics::dns_cache(std::string_view qtype, bool hit) {
  add(hit ? "dns_cache_hits_total" : "dns_cache_misses_total", prometheus_labels({{"qtype", qtype}}));
}

void Metrics::dns_upstream(std::string_view upstream, std::string_view kind, double seconds, bool error) {
  const std::string labels = prometheus_labels({{"upstream", upstream}, {"kind", kind}});
  std::lock_guard lock(mutex_);
  if (error) counters_["dns_upstream_errors_total"][labels] += 1;
  observe(dns_latency_, labels, seconds, kDnsBuckets);
}

void Metrics::add(std::string_view name, std::string_view labels, double n) {
  std::lock_guard lock(mutex_);
  counters_[std::string(name)][std::string(labels)] += n;
}

void Metrics::gauge_add(std::string_view name, double n) {
  std::lock_guard lock(mutex_);
  gauges_[std::string(name)] += n;
}

double Metrics::value(std::string_view name, std::string_view labels) const {
  std::lock_guard lock(mutex_);
  if (auto g = gauges_.find(std::string(name)); g != gauges_.end() && labels.empty()) return g->second;
  auto family = counters_.find(std::string(name));
  if (family == counters_.end()) return 0;
  auto it = family->second.find(std::string(labels));
  return it == family->second.end() ? 0 : it->second;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n";
  out += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds " + number(start_time_seconds_) + "\n";
  out += "# HELP process_resident_memory_bytes Resident memory size in bytes.\n";
  out += "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes " + number(resident_bytes()) + "\n";
  for (const auto& [name, values] : counters_) {
    out += "# HELP " + name + " " + help_for(name) + "\n# TYPE " + name + " counter\n";
    for (const auto& [labels, value] : values) out += series(name, labels) + " " + number(value) + "\n";
  }
  for (const auto& [name, value] : gauges_) {
    out += "# HELP " + name + " aero-gateway gauge\n# TYPE " + name + " gauge\n";
    out += name + " " + number(value < 0 ? 0 : value) + "\n";
  }
  auto histogram = [&out](std::string_view name, std::string_view help, const std::map<std::string, Histogram>& family,
                          std::span<const double> bounds) {
    out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " + std::string(name) + " histogram\n";
    for (const auto& [labels, h] : family) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += h.counts[i];
        out += series(std::string(name) + "_bucket", with_le(labels, number(bounds[i]))) + " " +
               std::to_string(cumulative) + "\n";
      }
      out += series(std::string(name) + "_bucket", with_le(labels, "+Inf")) + " " + std::to_string(h.count) + "\n";
      out += series(std::string(name) + "_sum", labels) + " " + number(h.sum) + "\n";
      out += series(std::string(name) + "_count", labels) + " " + std::to_string(h.count) + "\n";
    }
  };
  histogram("http_request_duration_seconds", "HTTP request duration", http_duration_, kHttpBuckets);
  histogram("dns_upstream_latency_seconds", "DNS upstream latency", dns_latency_, kDnsBuckets);
  return out;
}

}  // namespace aero::gateway
