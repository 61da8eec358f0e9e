// Rate limits and connection caps of the gateway (single-threaded: the server runs one event
// loop).
//
// TokenBucketLimiter (Aero's): per key a bucket of capacity `burst` refilled at `rate` tokens per
// second; a new key starts full and pays for its first request (burst - 1 left); a rate or burst
// of 0 (or less) disables the limiter. When more than 10000 keys are held, keys idle for 10
// minutes are forgotten. A request may cost more than one token (a byte budget: one token per
// byte); a cost above the burst is never allowed.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>

namespace aero::gateway {

class TokenBucketLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kPruneAbove = 10000;
  static constexpr std::chrono::minutes kIdleForget{10};

  TokenBucketLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}
  bool enabled() const { return rate_ > 0 && burst_ > 0; }
  // True when `key` may proceed now (and takes `cost` tokens).
  bool allow(const std::string& key, Clock::time_point now, double cost = 1);
  std::size_t keys() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  void prune(Clock::time_point now);
  double rate_;
  double burst_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// Concurrent connections per session id (TCP_PROXY_MAX_CONNECTIONS): /tcp sockets (and later
// /tcp-mux streams) hold one slot each.
class SessionSlots {
 public:
  explicit SessionSlots(std::size_t per_session) : per_session_(per_session) {}
  // False when `sid` already holds per_session slots (0: no cap).
  bool acquire(const std::string& sid);
  void release(const std::string& sid);
  std::size_t held(const std::string& sid) const;
  std::size_t total() const { return total_; }

 private:
  std::size_t per_session_;
  std::size_t total_ = 0;
  std::map<std::string, std::size_t, std::less<>> held_;
};

}  // namespace aero::gateway
