// Bindings of the multiplexed /udp relay (udp_bindings.h).
#include "aero/services/gateway/udp_bindings.h"

#include <algorithm>

namespace aero::gateway {

std::string UdpBindingTable::remote_key(const IpAddress& address, std::uint16_t port) {
  std::string key;
  key.push_back(address.is_v4() ? '4' : '6');
  if (address.is_v4()) {
    key.append(address.v4.bytes.begin(), address.v4.bytes.end());
  } else {
    key.append(address.v6.bytes.begin(), address.v6.bytes.end());
  }
  key.push_back(static_cast<char>(port >> 8));
  key.push_back(static_cast<char>(port & 0xFF));
  return key;
}

UdpBindingTable::Outbound UdpBindingTable::outbound(std::uint16_t guest_port, const IpAddress& remote,
                                                    std::uint16_t remote_port, bool v2, Clock::time_point now) {
  Outbound result;
  if (v2) client_sent_v2_ = true;
  auto it = bindings_.find(guest_port);
  if (it == bindings_.end()) {
    if (limits_.max_bindings > 0 && bindings_.size() >= limits_.max_bindings) {
      auto oldest = std::min_element(bindings_.begin(), bindings_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      result.evicted = oldest->first;
      bindings_.erase(oldest);
    }
    it = bindings_.emplace(guest_port, Binding{now, {}, now}).first;
    result.created = true;
  }
  Binding& binding = it->second;
  binding.last_used = now;
  const std::string key = remote_key(remote, remote_port);
  if (!binding.remotes.contains(key) && binding.remotes.size() >= limits_.max_allowed_remotes) {
    prune(binding, now);
    if (binding.remotes.size() >= limits_.max_allowed_remotes && !binding.remotes.empty()) {
      // Oldest first; ties by key, so the choice does not depend on the map's order of insertion.
      auto oldest = std::min_element(binding.remotes.begin(), binding.remotes.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second < b.second : a.first < b.first;
      });
      binding.remotes.erase(oldest);
      ++remote_evictions_;
    }
  }
  binding.remotes[key] = now;
  if (now - binding.last_prune >= limits_.binding_idle_timeout) prune(binding, now);
  return result;
}

bool UdpBindingTable::inbound_allowed(std::uint16_t guest_port, const IpAddress& remote, std::uint16_t remote_port,
                                      Clock::time_point now) {
  auto it = bindings_.find(guest_port);
  if (it == bindings_.end()) return false;
  if (limits_.inbound_filter_any) return true;
  auto remote_it = it->second.remotes.find(remote_key(remote, remote_port));
  if (remote_it == it->second.remotes.end()) return false;
  if (now - remote_it->second > limits_.binding_idle_timeout) {
    it->second.remotes.erase(remote_it);
    return false;
  }
  remote_it->second = now;
  return true;
}

int UdpBindingTable::inbound_version(const IpAddress& remote) const {
  if (remote.is_v6()) return 2;
  return limits_.prefer_v2 && client_sent_v2_ ? 2 : 1;
}

std::vector<std::uint16_t> UdpBindingTable::sweep(Clock::time_point now) {
  std::vector<std::uint16_t> idle;
  for (auto it = bindings_.begin(); it != bindings_.end();) {
    if (now - it->second.last_used > limits_.binding_idle_timeout) {
      idle.push_back(it->first);
      it = bindings_.erase(it);
    } else {
      ++it;
    }
  }
  return idle;
}

std::chrono::milliseconds UdpBindingTable::sweep_interval() const {
  return std::max(limits_.binding_idle_timeout / 2, std::chrono::milliseconds(100));
}

std::size_t UdpBindingTable::remotes(std::uint16_t guest_port) const {
  auto it = bindings_.find(guest_port);
  return it == bindings_.end() ? 0 : it->second.remotes.size();
}

void UdpBindingTable::prune(Binding& binding, Clock::time_point now) {
  binding.last_prune = now;
  std::erase_if(binding.remotes,
                [&](const auto& entry) { return now - entry.second > limits_.binding_idle_timeout; });
}

}  // namespace aero::gateway
