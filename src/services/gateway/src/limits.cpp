// Token buckets and per-session connection slots (limits.h).
#include "aero/services/gateway/limits.h"

#include <algorithm>

namespace aero::gateway {

bool TokenBucketLimiter::allow(const std::string& key, Clock::time_point now, double cost) {
  if (!enabled()) return true;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kPruneAbove) prune(now);
    it = buckets_.emplace(key, Bucket{burst_, now}).first;  // a new key starts full
  }
  Bucket& bucket = it->second;
  const std::chrono::duration<double> elapsed = now - bucket.updated;
  bucket.tokens = std::min(burst_, bucket.tokens + std::max(0.0, elapsed.count()) * rate_);
  bucket.updated = now;
  if (bucket.tokens < cost) return false;
  bucket.tokens -= cost;
  return true;
}

void TokenBucketLimiter::prune(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = now - it->second.updated > kIdleForget ? buckets_.erase(it) : std::next(it);
  }
}

bool SessionSlots::acquire(const std::string& sid) {
  std::size_t& held = held_[sid];
  if (per_session_ != 0 && held >= per_session_) {
    if (held == 0) held_.erase(sid);
    return false;
  }
  ++held;
  ++total_;
  return true;
}

void SessionSlots::release(const std::string& sid) {
  auto it = held_.find(sid);
  if (it == held_.end()) return;
  --total_;
  if (--it->second == 0) held_.erase(it);
}

std::size_t SessionSlots::held(const std::string& sid) const {
  auto it = held_.find(sid);
  return it == held_.end() ? 0 : it->second;
}

}  // namespace aero::gateway
