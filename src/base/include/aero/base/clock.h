// The clock is passed in (architecture habit 3): components never read the time themselves.
//
// Two time lines are kept apart on purpose:
//  * monotonic time (`now()`) drives timers, deadlines and rate windows;
//  * wall-clock Unix time (`unix_ms()`) is only for credentials whose expiry is an absolute
//    timestamp (the aero_session token and relay JWTs).
#pragma once

#include <chrono>
#include <cstdint>

namespace aero {

using Duration = std::chrono::nanoseconds;
using Instant = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
  virtual std::int64_t unix_ms() const = 0;
};

// The real clock: steady_clock and system_clock.
class SystemClock final : public Clock {
 public:
  Instant now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t unix_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to, for deterministic tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t unix_ms_at_start = 0) : unix_ms_(unix_ms_at_start) {}

  Instant now() const override { return now_; }
  std::int64_t unix_ms() const override { return unix_ms_; }

  // Moves both time lines forward by `step` (a negative step is ignored: time never goes back).
  void advance(Duration step) {
    if (step < Duration::zero()) return;
    now_ += step;
    unix_ms_ += std::chrono::duration_cast<std::chrono::milliseconds>(step).count();
  }
  void set_unix_ms(std::int64_t unix_ms) { unix_ms_ = unix_ms; }

 private:
  Instant now_{};
  std::int64_t unix_ms_;
};

}  // namespace aero
