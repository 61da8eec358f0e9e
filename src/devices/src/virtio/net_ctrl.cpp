// VirtioNet control queue (virtio 1.2 §5.1.6.5): a command is {u8 class, u8 command, data}
// in device-readable buffers followed by a device-writable ack byte. Supported: RX modes
// (PROMISC, ALLMULTI with CTRL_RX; ALLUNI, NOMULTI, NOUNI, NOBCAST with CTRL_RX_EXTRA; one data
// byte each), MAC_TABLE_SET (CTRL_RX: two tables {le32 entries; entries * 6 bytes}, lengths
// exact) and MAC_ADDR_SET (CTRL_MAC_ADDR: 6 bytes, reflected in the configuration space).
// Anything else, or a command not negotiated, is answered VIRTIO_NET_ERR. A chain without room
// for the ack or shorter than class + command is completed with length 0.
#include <algorithm>

#include "aero/devices/virtio_net.h"
#include "le.h"

namespace aero::devices {

using namespace virtio_net;  // NOLINT: feature names
using virtio::DescriptorChain;
using virtio::PopResult;

unsigned VirtioNet::ctrl_run() {
  ctrl_pending_ = false;
  if (!has(kCtrlVq) || !transport_.queue_ready(kCtrlQueue)) return 0;
  virtio::Virtqueue& q = transport_.queue(kCtrlQueue);
  unsigned done = 0;
  while (done < q.setup().size) {
    q.release();
    DescriptorChain chain;
    const PopResult r = q.pop(chain);
    if (r == PopResult::empty) break;
    if (r != PopResult::chain) {
      transport_.device_error();
      return done;
    }
    ++done;
    std::uint32_t written = 0;
    if (!chain.valid || chain.readable < 2 || chain.writable < 1) {
      ++counters_.ctrl_bad_chain;
    } else {
      std::uint8_t ack = kCtrlErr;
      std::span<std::uint8_t> command(ctrl_buf_.data(), static_cast<std::size_t>(std::min<std::uint64_t>(
                                                             chain.readable, ctrl_buf_.size())));
      if (chain.readable <= ctrl_buf_.size() && q.read(chain, 0, command)) ack = ctrl_command(command);
      ++counters_.ctrl_commands;
      if (ack != kCtrlOk) ++counters_.ctrl_errors;
      if (q.write(chain, 0, ByteSpan(&ack, 1))) written = 1;
    }
    if (!q.push(chain, written)) {
      transport_.device_error();
      return done;
    }
  }
  if (done == q.setup().size) ctrl_pending_ = true;  // maybe more: continue next poll
  transport_.publish(kCtrlQueue);
  return done;
}

std::uint8_t VirtioNet::ctrl_command(ByteSpan command) {
  const std::uint8_t cls = command[0];
  const std::uint8_t cmd = command[1];
  const ByteSpan data = command.subspan(2);
  if (cls == kCtrlClassRx) {
    const bool basic = cmd == kCtrlRxPromisc || cmd == kCtrlRxAllmulti;
    const bool extra = cmd >= kCtrlRxAlluni && cmd <= kCtrlRxNobcast;
    if (data.size() != 1 || (basic && !has(kCtrlRx)) || (extra && !has(kCtrlRxExtra)) ||
        (!basic && !extra)) {
      return kCtrlErr;
    }
    const bool on = data[0] != 0;
    bool* const modes[] = {&filter_.promisc, &filter_.allmulti, &filter_.alluni,
                           &filter_.nomulti, &filter_.nouni,    &filter_.nobcast};
    *modes[cmd] = on;
    return kCtrlOk;
  }
  if (cls == kCtrlClassMac) {
    if (cmd == kCtrlMacTableSet && has(kCtrlRx)) return ctrl_mac_table(data);
    if (cmd == kCtrlMacAddrSet && has(kCtrlMacAddr) && data.size() == 6) {
      // §5.1.6.5.2.1: the configuration space shows the new address before the command is used.
      std::copy(data.begin(), data.end(), mac_.begin());
      transport_.config_changed(false);
      return kCtrlOk;
    }
  }
  return kCtrlErr;
}

// Two struct virtio_net_ctrl_mac tables, unicast then multicast. More entries than the table
// holds switch that class to "accept all" (the footnote of §5.1.6.5.2 allows it).
std::uint8_t VirtioNet::ctrl_mac_table(ByteSpan data) {
  if (data.size() < 4) return kCtrlErr;
  const std::uint64_t unicast = virtio::le32(data.data());
  if (unicast > (data.size() - 4) / 6) return kCtrlErr;
  const std::size_t multi_at = 4 + static_cast<std::size_t>(unicast) * 6;
  if (data.size() - multi_at < 4) return kCtrlErr;
  const std::uint64_t multicast = virtio::le32(data.data() + multi_at);
  if (multicast != (data.size() - multi_at - 4) / 6 || (data.size() - multi_at - 4) % 6 != 0) {
    return kCtrlErr;
  }
  RxFilter& f = filter_;
  f.uni_overflow = unicast > kMacTableEntries;
  f.multi_overflow = multicast > kMacTableEntries;
  f.unicast = f.uni_overflow ? 0 : static_cast<std::size_t>(unicast);
  f.multicast = f.multi_overflow ? 0 : static_cast<std::size_t>(multicast);
  for (std::size_t i = 0; i < f.unicast; ++i) {
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(4 + 6 * i), 6, f.uni[i].begin());
  }
  for (std::size_t i = 0; i < f.multicast; ++i) {
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(multi_at + 4 + 6 * i), 6, f.multi[i].begin());
  }
  return kCtrlOk;
}

}  // namespace aero::devices
