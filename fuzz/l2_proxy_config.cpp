// libFuzzer target for aero-l2-proxy's configuration reader: every AERO_L2_* value comes from
// the input ("NAME=VALUE" lines). Invariants (trap if violated): a configuration that loads has
// passed the stack's validation, keeps its payload limits in 1..65535 and its WebSocket message
// limit at 4 + the larger one; a refusal is a "bad_config" error with a message.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "aero/services/l2_proxy/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  std::map<std::string, std::string, std::less<>> env;
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    start = end + 1;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  auto config = aero::l2proxy::config_from_env(
      [&env](std::string_view name) -> std::optional<std::string> {
        if (auto it = env.find(name); it != env.end()) return it->second;
        return std::nullopt;
      },
      "fuzz");
  if (!config) {
    if (config.error().kind != "bad_config" || config.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (!config->stack.validate().ok()) __builtin_trap();
  if (config->max_frame_payload == 0 || config->max_frame_payload > 65535) __builtin_trap();
  if (config->max_control_payload == 0 || config->max_control_payload > 65535) __builtin_trap();
  if (config->max_message_size() != 4 + std::max(config->max_frame_payload, config->max_control_payload)) {
    __builtin_trap();
  }
  if (config->worker_threads == 0) __builtin_trap();
  (void)aero::l2proxy::config_json(*config);
  return 0;
}
