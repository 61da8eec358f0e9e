// E1000 snapshot and restore.
//
// Layout (all integers little-endian):
//   "E1KS"  u16 major (1)  u16 minor (1)  u32 body length  body  u32 CRC-32(everything before)
// body:
//   PCI configuration (256 bytes); register file as u32 count + (u32 dword index, u32 value)*
//   with nonzero values only, indices strictly ascending; EEPROM (64 x u16); PHY (32 x u16);
//   Microwire state; IOADDR; flags (link, irq, tx halted, rx halted, rx overrun reported);
//   timers as remaining nanoseconds (-1 = not armed) for rx packet/absolute, tx
//   packet/absolute, and the ITR hold-off; the TX context; the partial TX packet with its bytes.
//   Minor 1 appends: the EEPROM programming state (instruction, data word, write-enable latch,
//   ready status) and the four 64-bit statistics latches (valid flag, value).
// restore() parses and validates everything into a staging copy first: a wrong magic, major
// version, length, checksum, field range, or a PCI identity of another device is refused and
// the device is left as it was. A minor-0 snapshot restores with the minor-1 fields at their
// reset values. A newer minor version with extra trailing fields is refused (the length must
// match exactly what this build knows).
#include <cstring>
#include <optional>

#include "aero/devices/e1000.h"
#include "internal.h"

namespace aero::devices {

using namespace e1000;  // NOLINT: register names

namespace {

constexpr std::uint16_t kMajor = 1;
constexpr std::uint16_t kMinor = 1;

class LeWriter {
 public:
  explicit LeWriter(Bytes& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { n(v, 2); }
  void u32(std::uint32_t v) { n(v, 4); }
  void i64(std::int64_t v) { n(static_cast<std::uint64_t>(v), 8); }
  void bytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }

 private:
  void n(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& out_;
};

class LeReader {
 public:
  explicit LeReader(ByteSpan in) : in_(in) {}
  bool ok() const { return ok_; }
  std::size_t remaining() const { return in_.size() - pos_; }
  std::uint8_t u8() { return static_cast<std::uint8_t>(n(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(n(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(n(4)); }
  std::int64_t i64() { return static_cast<std::int64_t>(n(8)); }
  ByteSpan bytes(std::size_t count) {
    if (!ok_ || remaining() < count) {
      ok_ = false;
      return {};
    }
    ByteSpan out = in_.subspan(pos_, count);
    pos_ += count;
    return out;
  }

 private:
  std::uint64_t n(std::size_t width) {
    ByteSpan b = bytes(width);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < b.size(); ++i) v |= std::uint64_t{b[i]} << (8 * i);
    return v;
  }
  ByteSpan in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

std::int64_t remaining_ns(const std::optional<Instant>& t, Instant now) {
  if (!t) return -1;
  return *t <= now ? 0 : (*t - now).count();
}

Error bad(std::string message) { return make_error("bad_snapshot", std::move(message)); }

}  // namespace

Bytes E1000::snapshot() const {
  const Instant now = clock_.now();
  Bytes out;
  out.reserve(1024 + tx_pkt_.length);
  LeWriter w(out);
  w.bytes(as_bytes("E1KS"));
  w.u16(kMajor);
  w.u16(kMinor);
  w.u32(0);  // body length, patched below
  const std::size_t body_start = out.size();
  w.bytes(pci_);
  std::uint32_t nonzero = 0;
  for (std::uint32_t v : regs_) nonzero += v != 0 ? 1U : 0U;
  w.u32(nonzero);
  for (std::size_t i = 0; i < regs_.size(); ++i) {
    if (regs_[i] == 0) continue;
    w.u32(static_cast<std::uint32_t>(i));
    w.u32(regs_[i]);
  }
  for (std::uint16_t v : eeprom_) w.u16(v);
  for (std::uint16_t v : phy_) w.u16(v);
  w.u8(static_cast<std::uint8_t>(microwire_.phase));
  w.u8(microwire_.sk ? 1 : 0);
  w.u8(microwire_.out ? 1 : 0);
  w.u8(microwire_.bits);
  w.u16(microwire_.shift);
  w.u8(microwire_.address);
  w.u8(microwire_.out_bit);
  w.u32(ioaddr_);
  for (bool f : {link_up_, irq_asserted_, tx_halted_, rx_halted_, rx_overrun_reported_}) {
    w.u8(f ? 1 : 0);
  }
  w.i64(remaining_ns(timers_.rx_packet, now));
  w.i64(remaining_ns(timers_.rx_absolute, now));
  w.i64(remaining_ns(timers_.tx_packet, now));
  w.i64(remaining_ns(timers_.tx_absolute, now));
  w.i64(remaining_ns(timers_.itr_next_allowed, now));
  const TxContext& c = tx_ctx_;
  for (std::uint8_t v : {c.ipcss, c.ipcso, c.tucss, c.tucso, c.tucmd, c.hdrlen}) w.u8(v);
  w.u16(c.ipcse);
  w.u16(c.tucse);
  w.u16(c.mss);
  w.u32(c.paylen);
  const TxPacket& p = tx_pkt_;
  w.u8(static_cast<std::uint8_t>(p.kind));
  for (std::uint8_t v : {static_cast<std::uint8_t>(p.drop), static_cast<std::uint8_t>(p.tse), p.cmd,
                         p.popts, p.css, p.cso}) {
    w.u8(v);
  }
  w.u16(p.special);
  w.u32(static_cast<std::uint32_t>(p.length));
  w.bytes(ByteSpan(tx_buf_.data(), p.length));
  // Minor 1.
  w.u8(static_cast<std::uint8_t>(microwire_.op));
  w.u8(microwire_.write_enabled ? 1 : 0);
  w.u8(microwire_.ready ? 1 : 0);
  w.u16(microwire_.data);
  for (const WideStatLatch& latch : wide_stat_latch_) {
    w.u8(latch.valid ? 1 : 0);
    w.i64(static_cast<std::int64_t>(latch.value));
  }
  const auto body = static_cast<std::uint32_t>(out.size() - body_start);
  e1000_detail::put_le32(out.data() + 8, body);
  w.u32(e1000_detail::crc32(out));
  return out;
}

Result<void> E1000::restore(ByteSpan snapshot) {
  if (snapshot.size() < 16) return bad("snapshot too short");
  LeReader r(snapshot);
  if (std::memcmp(r.bytes(4).data(), "E1KS", 4) != 0) return bad("wrong magic");
  const std::uint16_t major = r.u16();
  const std::uint16_t minor = r.u16();
  if (major != kMajor) return bad("unsupported snapshot version");
  const std::uint32_t body = r.u32();
  if (std::size_t{body} + 16 != snapshot.size()) return bad("length mismatch");
  const std::uint32_t stored_crc = e1000_detail::le32(snapshot.data() + snapshot.size() - 4);
  if (e1000_detail::crc32(snapshot.first(snapshot.size() - 4)) != stored_crc) {
    return bad("checksum mismatch");
  }

  std::array<std::uint8_t, 256> pci{};
  std::memcpy(pci.data(), r.bytes(pci.size()).data(), r.ok() ? pci.size() : 0);
  if (!r.ok() || std::memcmp(pci.data(), pci_.data(), 4) != 0) return bad("not an 82540EM");
  const std::uint32_t nonzero = r.u32();
  if (!r.ok() || nonzero > regs_.size() || std::size_t{nonzero} * 8 > r.remaining()) {
    return bad("register count");
  }
  std::vector<std::pair<std::uint32_t, std::uint32_t>> regs;
  regs.reserve(nonzero);
  for (std::uint32_t i = 0; i < nonzero; ++i) {
    const std::uint32_t index = r.u32();
    const std::uint32_t value = r.u32();
    if (index >= regs_.size() || (!regs.empty() && index <= regs.back().first) || value == 0) {
      return bad("register list");
    }
    regs.emplace_back(index, value);
  }
  std::array<std::uint16_t, kEepromWords> eeprom{};
  for (auto& v : eeprom) v = r.u16();
  std::array<std::uint16_t, 32> phy{};
  for (auto& v : phy) v = r.u16();
  Microwire mw{};
  const std::uint8_t phase = r.u8();
  mw.sk = r.u8() != 0;
  mw.out = r.u8() != 0;
  mw.bits = r.u8();
  mw.shift = r.u16();
  mw.address = r.u8();
  mw.out_bit = r.u8();
  if (phase > 3 || mw.bits > 9 || mw.address >= kEepromWords || mw.out_bit >= 16) {
    return bad("eeprom state");
  }
  mw.phase = static_cast<Microwire::Phase>(phase);
  const std::uint32_t ioaddr = r.u32();
  if ((ioaddr & 3U) || ioaddr >= kBar0Size) return bad("IOADDR");
  std::array<bool, 5> flags{};
  for (auto& f : flags) {
    const std::uint8_t v = r.u8();
    if (v > 1) return bad("flag");
    f = v != 0;
  }
  std::array<std::int64_t, 5> timers{};
  for (auto& t : timers) {
    t = r.i64();
    if (t < -1) return bad("timer");
  }
  TxContext c{};
  c.ipcss = r.u8();
  c.ipcso = r.u8();
  c.tucss = r.u8();
  c.tucso = r.u8();
  c.tucmd = r.u8();
  c.hdrlen = r.u8();
  c.ipcse = r.u16();
  c.tucse = r.u16();
  c.mss = r.u16();
  c.paylen = r.u32();
  if (c.paylen > 0xFFFFFU) return bad("context");
  TxPacket p{};
  const std::uint8_t kind = r.u8();
  const std::uint8_t drop = r.u8();
  const std::uint8_t tse = r.u8();
  p.cmd = r.u8();
  p.popts = r.u8();
  p.css = r.u8();
  p.cso = r.u8();
  p.special = r.u16();
  p.length = r.u32();
  if (kind > 2 || drop > 1 || tse > 1) return bad("tx packet");
  p.kind = static_cast<TxKind>(kind);
  p.drop = drop != 0;
  p.tse = tse != 0;
  if (p.length > (p.tse ? kTxMaxTsoPacket : kTxMaxPacket) ||
      (p.kind == TxKind::none && p.length != 0)) {
    return bad("tx packet length");
  }
  const ByteSpan tx_bytes = r.bytes(p.length);
  std::array<WideStatLatch, kWideStats> latches{};
  if (minor >= 1) {
    const std::uint8_t op = r.u8();
    const std::uint8_t write_enabled = r.u8();
    const std::uint8_t ready = r.u8();
    mw.data = r.u16();
    if (op > 4 || write_enabled > 1 || ready > 1) return bad("eeprom state");
    mw.op = static_cast<Microwire::Op>(op);
    mw.write_enabled = write_enabled != 0;
    mw.ready = ready != 0;
    for (WideStatLatch& latch : latches) {
      const std::uint8_t valid = r.u8();
      latch.value = static_cast<std::uint64_t>(r.i64());
      if (valid > 1) return bad("statistics latch");
      latch.valid = valid != 0;
    }
  }
  // A latch holds a value the counter had; the counter can only have grown since.
  auto staged_reg = [&regs](std::uint32_t offset) -> std::uint32_t {
    for (const auto& [index, value] : regs) {
      if (index == offset / 4) return value;
    }
    return 0;
  };
  for (unsigned i = 0; i < kWideStats; ++i) {
    const std::uint64_t counter =
        (std::uint64_t{staged_reg(kWideStatLow[i] + 4)} << 32) | staged_reg(kWideStatLow[i]);
    if (latches[i].valid && latches[i].value > counter) return bad("statistics latch");
  }
  // Which phases may carry an instruction: write_data collects WRITE/WRAL data; idle may hold
  // any complete instruction; command and read hold none.
  const bool collecting = mw.op == Microwire::Op::write || mw.op == Microwire::Op::write_all;
  if ((mw.phase == Microwire::Phase::write_data && !collecting) ||
      ((mw.phase == Microwire::Phase::command || mw.phase == Microwire::Phase::read) &&
       mw.op != Microwire::Op::none)) {
    return bad("eeprom state");
  }
  r.u32();  // CRC, checked above
  if (!r.ok() || r.remaining() != 0) return bad("length mismatch");

  // Everything is valid: commit.
  const Instant now = clock_.now();
  std::memcpy(pci_.data() + 4, pci.data() + 4, pci_.size() - 4);
  std::fill(regs_.begin(), regs_.end(), 0U);
  for (const auto& [index, value] : regs) regs_[index] = value;
  eeprom_ = eeprom;
  phy_ = phy;
  microwire_ = mw;
  wide_stat_latch_ = latches;
  ioaddr_ = ioaddr;
  link_up_ = flags[0];
  tx_halted_ = flags[2];
  rx_halted_ = flags[3];
  rx_overrun_reported_ = flags[4];
  auto deadline = [now](std::int64_t ns) -> std::optional<Instant> {
    if (ns < 0) return std::nullopt;
    return now + std::chrono::nanoseconds(ns);
  };
  timers_.rx_packet = deadline(timers[0]);
  timers_.rx_absolute = deadline(timers[1]);
  timers_.tx_packet = deadline(timers[2]);
  timers_.tx_absolute = deadline(timers[3]);
  timers_.itr_next_allowed = now + std::chrono::nanoseconds(timers[4] < 0 ? 0 : timers[4]);
  tx_ctx_ = c;
  tx_pkt_ = p;
  if (!tx_bytes.empty()) std::memcpy(tx_buf_.data(), tx_bytes.data(), tx_bytes.size());
  // The line level is re-derived from ICR, IMS and INTx Disable and pushed to the platform.
  irq_asserted_ = flags[1];
  irq_.set_level(irq_asserted_);
  update_irq();
  return {};
}

}  // namespace aero::devices
