// E1000: a model of the Intel 82540EM gigabit Ethernet controller (PCI 8086:100E), complete
// enough for the stock Linux e1000 and Windows drivers.
//
// The platform routes accesses to the device by window: config_read/write (256-byte PCI
// configuration space), mmio_read/write (BAR0, offsets 0..0x1FFFF) and pio_read/write (BAR1,
// offsets 0..0x3F: IOADDR at 0, IODATA at 4). Memory/IO space enable bits are the platform's
// to honour; Bus Master Enable gates every DMA and INTx Disable masks the interrupt line.
//
// Interrupts: the 82540EM has no MSI capability (its PCI Status register reports no
// capabilities list, SDM §4.1), so guest drivers always use INTx. The model drives
// InterruptLine::set_level() and also calls InterruptLine::signal_msi() on every rising edge,
// for platforms that deliver the line as a message; that hook is invisible to the guest.
//
// Work model:
//  * transmit happens in poll(now): at most `tx_descriptor_budget` descriptors per call;
//    next_deadline() returns `now` while descriptors remain, so the caller keeps polling;
//  * receive happens in receive(frame), called by the backend; it returns RxResult::hold when
//    the guest has not posted enough buffers (no silent drop);
//  * timers (ITR, RDTR/RADV, TIDV/TADV) run on the injected clock; poll(now) fires the expired
//    ones and next_deadline() tells when the next one expires.
// No allocation happens after construction: the TX assembly, TSO segment and RX staging
// buffers are allocated once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "aero/base/bytes.h"
#include "aero/base/clock.h"
#include "aero/base/result.h"
#include "aero/devices/device_host.h"
#include "aero/devices/e1000_regs.h"

namespace aero::devices {

struct E1000Config {
  std::array<std::uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  unsigned tx_descriptor_budget = 256;  // descriptors processed per poll()
};

// Why frames or descriptors were refused; every drop has exactly one counter.
struct E1000Counters {
  std::uint64_t tx_frames = 0;
  std::uint64_t tx_tso_segments = 0;
  std::uint64_t tx_oversize = 0;           // assembled packet above the TX cap
  std::uint64_t tx_runt = 0;               // packet shorter than an Ethernet header
  std::uint64_t tx_bad_descriptor = 0;     // reserved DTYP, or kind switch mid-packet
  std::uint64_t tx_data_dma_errors = 0;    // buffer outside guest memory: packet dropped
  std::uint64_t tx_ring_errors = 0;        // descriptor fetch/write-back failed, bad TDH/TDT
  std::uint64_t tx_offload_errors = 0;     // checksum/TSO context inconsistent with packet
  std::uint64_t tx_backend_refused = 0;
  std::uint64_t rx_frames = 0;
  std::uint64_t rx_hold = 0;
  std::uint64_t rx_runt = 0;
  std::uint64_t rx_oversize = 0;
  std::uint64_t rx_filtered = 0;           // destination address not accepted
  std::uint64_t rx_vlan_filtered = 0;
  std::uint64_t rx_disabled = 0;           // RCTL.EN clear, no bus master, or ring halted
  std::uint64_t rx_too_big_for_ring = 0;   // needs more descriptors than the ring has
  std::uint64_t rx_ring_errors = 0;        // descriptor or buffer outside guest memory
  std::uint64_t eeprom_writes = 0;         // Microwire WRITE/ERASE/WRAL/ERAL executed
  std::uint64_t eeprom_writes_refused = 0; // the same without a preceding EWEN: ignored
};

class E1000 {
 public:
  E1000(GuestMemory& memory, InterruptLine& irq, FramePort& port, const Clock& clock,
        E1000Config config = {});

  // ---- Bus windows -------------------------------------------------------------------------
  std::uint32_t config_read(std::uint32_t offset, unsigned size) const;
  void config_write(std::uint32_t offset, unsigned size, std::uint32_t value);
  std::uint32_t mmio_read(std::uint32_t offset, unsigned size);
  void mmio_write(std::uint32_t offset, unsigned size, std::uint32_t value);
  std::uint32_t pio_read(std::uint32_t offset, unsigned size);
  void pio_write(std::uint32_t offset, unsigned size, std::uint32_t value);

  // ---- Backend side --------------------------------------------------------------------------
  RxResult receive(ByteSpan frame);
  void set_link_up(bool up);
  bool link_up() const { return link_up_; }

  // ---- Time ----------------------------------------------------------------------------------
  // Runs transmit (bounded by the budget) and fires expired timers. Returns the number of
  // TX descriptors processed.
  unsigned poll(Instant now);
  // The earliest instant poll() has work to do, or nullopt when idle.
  std::optional<Instant> next_deadline() const;
  // Descriptors wait between TDH and TDT while the transmitter is enabled (poll() has work).
  bool transmit_pending() const;

  // ---- State ---------------------------------------------------------------------------------
  bool irq_level() const { return irq_asserted_; }
  const E1000Counters& counters() const { return counters_; }
  std::array<std::uint8_t, 6> mac() const;
  std::uint16_t eeprom_word(unsigned index) const { return eeprom_[index % e1000::kEepromWords]; }
  bool tx_halted() const { return tx_halted_; }
  bool rx_halted() const { return rx_halted_; }

  // Versioned, checksummed snapshot of all guest-visible state and in-flight work. restore()
  // validates everything first and leaves the device unchanged on error.
  Bytes snapshot() const;
  Result<void> restore(ByteSpan snapshot);

  static constexpr std::size_t kTxMaxPacket = 16384;         // non-TSO frame cap (no FCS)
  static constexpr std::size_t kTxMaxTsoPacket = 256 * 1024;  // TSO assembly cap
  static constexpr std::size_t kTxMaxTsoSegments = 1024;
  static constexpr std::size_t kRxMaxFrame = 16384 - 4;       // with LPE, FCS excluded
  static constexpr std::size_t kMaxDescriptors = 65536;

 private:
  // The context set by the last TX context descriptor (SDM §3.3.6).
  struct TxContext {
    std::uint8_t ipcss = 0, ipcso = 0, tucss = 0, tucso = 0, tucmd = 0, hdrlen = 0;
    std::uint16_t ipcse = 0, tucse = 0, mss = 0;
    std::uint32_t paylen = 0;
  };
  enum class TxKind : std::uint8_t { none, legacy, extended };
  // The packet being gathered from data descriptors until EOP.
  struct TxPacket {
    TxKind kind = TxKind::none;
    bool drop = false;
    bool tse = false;
    std::uint8_t cmd = 0;    // command bits OR-ed over the packet's descriptors
    std::uint8_t popts = 0;  // POPTS OR-ed over the packet's data descriptors
    std::uint8_t css = 0, cso = 0;
    std::uint16_t special = 0;
    std::size_t length = 0;
  };
  // EEPROM Microwire serial state (see eeprom_phy.cpp).
  struct Microwire {
    enum class Phase : std::uint8_t { command, read, idle, write_data } phase = Phase::command;
    // A programming instruction, collected in write_data and executed when CS falls.
    enum class Op : std::uint8_t { none, write, erase, write_all, erase_all } op = Op::none;
    bool sk = false, out = false;
    bool write_enabled = false;  // EWEN latch; EWDS and reset clear it
    bool ready = false;          // a programming cycle finished: DO reads 1 until a start bit
    std::uint8_t bits = 0;      // command bits shifted in after the start bit (incl. start)
    std::uint16_t shift = 0;    // command shift register
    std::uint8_t address = 0;
    std::uint8_t out_bit = 0;   // data bits already shifted out (read) or in (write_data)
    std::uint16_t data = 0;     // data word shifted in for WRITE / WRAL
  };
  // The 64-bit octet counters (GORC, GOTC, TOR, TOT): reading the low half latches the whole
  // value so the high half read next matches it (see registers.cpp).
  static constexpr unsigned kWideStats = 4;
  static constexpr std::array<std::uint32_t, kWideStats> kWideStatLow = {
      e1000::GORCL, e1000::GOTCL, e1000::TORL, e1000::TOTL};
  struct WideStatLatch {
    bool valid = false;
    std::uint64_t value = 0;
  };
  struct Timers {
    std::optional<Instant> rx_packet, rx_absolute, tx_packet, tx_absolute;
    Instant itr_next_allowed{};
  };

  // registers.cpp
  std::uint32_t reg_read(std::uint32_t offset);
  void reg_write(std::uint32_t offset, std::uint32_t value);
  std::uint32_t& reg(std::uint32_t offset) { return regs_[offset >> 2]; }
  std::uint32_t reg(std::uint32_t offset) const { return regs_[offset >> 2]; }
  std::uint32_t stat_read(std::uint32_t offset);
  void stat_add(std::uint32_t offset, std::uint64_t amount);
  void stat_add64(std::uint32_t low_offset, std::uint64_t amount);
  void stat_size_bucket(std::uint32_t first_bucket, std::size_t wire_length);
  // device.cpp
  void reset();
  bool bus_master() const;
  bool dma_read(std::uint64_t gpa, std::span<std::uint8_t> out);
  bool dma_write(std::uint64_t gpa, std::span<const std::uint8_t> data);
  // interrupts.cpp
  void raise(std::uint32_t causes);
  void update_irq();
  void fire_timers(Instant now);
  void arm_rx_delay(Instant now);
  void arm_tx_delay(Instant now);
  // eeprom_phy.cpp
  void eeprom_init();
  void eeprom_update_checksum();
  void eecd_write(std::uint32_t value);
  void eeprom_command(std::uint16_t command);
  void eeprom_execute();
  std::uint32_t eecd_read() const;
  void eerd_write(std::uint32_t value);
  void phy_reset();
  void mdic_write(std::uint32_t value);
  void phy_write(unsigned reg, std::uint16_t value);
  void phy_update_link();
  // tx.cpp / tx_offload.cpp
  unsigned tx_run(unsigned budget);
  bool tx_ready() const;
  void tx_descriptor(const std::uint8_t* d, Instant now);
  void tx_append(std::uint64_t addr, std::size_t length);
  void tx_finish();
  void tx_checksums(std::span<std::uint8_t> frame, std::uint8_t popts, bool segment,
                    std::size_t l4_length);
  bool tx_segment();
  void tx_emit(std::span<const std::uint8_t> frame);
  // rx.cpp
  bool rx_address_accepted(ByteSpan frame) const;
  std::size_t rx_buffer_size() const;
  void rx_checksum_status(ByteSpan frame, std::uint8_t& status, std::uint8_t& errors) const;
  void rx_count_seen(std::size_t wire_length);

  GuestMemory& memory_;
  InterruptLine& irq_;
  FramePort& port_;
  const Clock& clock_;
  E1000Config config_;

  std::array<std::uint8_t, 256> pci_{};
  std::vector<std::uint32_t> regs_;  // BAR0 register file, one dword per offset / 4
  std::array<std::uint16_t, e1000::kEepromWords> eeprom_{};
  std::array<std::uint16_t, 32> phy_{};
  Microwire microwire_{};
  std::array<WideStatLatch, kWideStats> wide_stat_latch_{};
  std::uint32_t ioaddr_ = 0;
  bool link_up_ = true;
  bool irq_asserted_ = false;
  bool tx_halted_ = false;
  bool rx_halted_ = false;
  bool rx_overrun_reported_ = false;
  Timers timers_{};
  TxContext tx_ctx_{};
  TxPacket tx_pkt_{};
  std::vector<std::uint8_t> tx_buf_;   // packet assembly (kTxMaxTsoPacket)
  std::vector<std::uint8_t> seg_buf_;  // one TSO segment
  std::vector<std::uint8_t> out_buf_;  // VLAN insertion / padding staging
  std::vector<std::uint8_t> rx_buf_;   // RX staging (tag stripped, padded, FCS appended)
  E1000Counters counters_{};
};

}  // namespace aero::devices
