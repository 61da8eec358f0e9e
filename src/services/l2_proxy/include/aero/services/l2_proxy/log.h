// Structured logs: one JSON object per line on stderr, {"ts":..,"level":..,"event":.., fields}.
// Callers pass identifiers and counts only: never credentials, never frame payloads.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "aero/services/l2_proxy/config.h"

namespace aero::l2proxy {

using LogValue = std::variant<std::string_view, std::int64_t, std::uint64_t, bool, double>;
using LogField = std::pair<std::string_view, LogValue>;

class Log {
 public:
  static void set_level(LogLevel level);
  static bool enabled(LogLevel level);
  // Thread-safe; one write(2) per line.
  static void write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);
  // The line write() would print, without the timestamp (for tests).
  static std::string format(LogLevel level, std::string_view event,
                            std::initializer_list<LogField> fields);
};

inline void log_info(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log::write(LogLevel::info, event, fields);
}
inline void log_warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log::write(LogLevel::warn, event, fields);
}
inline void log_error(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log::write(LogLevel::error, event, fields);
}
inline void log_debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log::write(LogLevel::debug, event, fields);
}

}  // namespace aero::l2proxy
