// JSON line logging (log.h).
#include "aero/services/l2_proxy/log.h"

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <ctime>

namespace aero::l2proxy {

namespace {

std::atomic<LogLevel> g_level{LogLevel::info};

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char buffer[40];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buffer, static_cast<int>(millis));
  return out;
}

boost::json::object build(LogLevel level, std::string_view event,
                          std::initializer_list<LogField> fields) {
  boost::json::object line;
  line["level"] = log_level_name(level);
  line["event"] = event;
  for (const auto& [key, value] : fields) {
    std::visit([&line, key = key](const auto& v) { line[key] = v; }, value);
  }
  return line;
}

}  // namespace

void Log::set_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

bool Log::enabled(LogLevel level) { return level <= g_level.load(std::memory_order_relaxed); }

std::string Log::format(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  return boost::json::serialize(build(level, event, fields));
}

void Log::write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  boost::json::object line;
  line["ts"] = timestamp();
  for (auto& entry : build(level, event, fields)) line[entry.key()] = entry.value();
  std::string text = boost::json::serialize(line);
  text.push_back('\n');
  // One write per line keeps lines from different threads whole (pipes: up to PIPE_BUF).
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace aero::l2proxy
