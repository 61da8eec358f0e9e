// E1000 offload matrix: a driver sends TCP and UDP over IPv4 and IPv6 through one device, with
// legacy or extended descriptors, without offload, with checksum offload (legacy IC, or a
// context descriptor with IXSM/TXSM) or with TSO (several MSS values, 64 KiB payloads), and
// untagged, tagged by software or with hardware VLAN insertion (CTRL.VME + VLE). Every frame on
// the wire is compared byte for byte with a frame the test builds itself, with checksums from
// the independent routine in e1000_checksum.h. Each wire frame is then looped into eight more
// devices, one per combination of VLAN stripping, the VLAN filter and RX checksum offload, and
// what lands in guest memory, the descriptor status and the VLAN field are checked.
// (The receivers share one test case so the suite stays a few dozen processes under CTest.)
#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "e1000_checksum.h"
#include "e1000_test_driver.h"

namespace aero::devices::test {
namespace {

const std::array<std::uint8_t, 6> kOurs{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const std::array<std::uint8_t, 6> kPeer{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr std::uint16_t kTci = 0xA123;       // PCP 5, VID 0x123
constexpr std::uint16_t kOtherTci = 0x0124;  // a VID the receiver's filter table lacks
constexpr std::uint32_t kBaseSeq = 0xFFFFF000;  // wraps during a 64 KiB send
constexpr std::uint16_t kBaseId = 0xFFF0;       // wraps too

enum class Descriptors { legacy, extended };
enum class Offload { none, checksum, tso };
enum class TxVlan { untagged, software, inserted };
struct RxSetup {
  bool strip;   // CTRL.VME
  bool filter;  // RCTL.VFE with the VID in the table
  bool checksum;  // RXCSUM.IPOFL | TUOFL
};

struct Case {
  Descriptors descriptors;
  Offload offload;
  std::uint16_t mss;
  bool ipv6;
  bool tcp;
  TxVlan vlan;
};

std::string name_of(const Case& c) {
  std::string n = c.descriptors == Descriptors::legacy ? "legacy" : "extended";
  n += c.offload == Offload::none ? "_nooffload"
       : c.offload == Offload::checksum ? "_csum"
                                        : "_tso" + std::to_string(c.mss);
  n += c.ipv6 ? "_ipv6" : "_ipv4";
  n += c.tcp ? "_tcp" : "_udp";
  n += c.vlan == TxVlan::untagged ? "_untagged" : c.vlan == TxVlan::software ? "_swtag" : "_hwtag";
  return n;
}

std::string name_of(const RxSetup& rx) {
  std::string n = rx.strip ? "strip" : "nostrip";
  n += rx.filter ? "_vfe" : "_novfe";
  n += rx.checksum ? "_rxcsum" : "_norxcsum";
  return n;
}

void PrintTo(const Case& c, std::ostream* os) { *os << name_of(c); }

std::vector<Case> all_cases() {
  const TxVlan vlans[] = {TxVlan::untagged, TxVlan::software, TxVlan::inserted};
  std::vector<Case> cases;
  for (bool ipv6 : {false, true}) {
    for (TxVlan vlan : vlans) {
      for (Descriptors d : {Descriptors::legacy, Descriptors::extended}) {
        for (Offload o : {Offload::none, Offload::checksum}) {
          for (bool tcp : {true, false}) cases.push_back({d, o, 0, ipv6, tcp, vlan});
        }
      }
      // TSO needs extended descriptors; the 8254x segments TCP.
      for (std::uint16_t mss : {std::uint16_t{536}, std::uint16_t{1448}, std::uint16_t{8960}}) {
        cases.push_back({Descriptors::extended, Offload::tso, mss, ipv6, true, vlan});
      }
    }
  }
  return cases;
}

void be16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void be32(std::uint8_t* p, std::uint32_t v) {
  be16(p, v >> 16);
  be16(p + 2, v & 0xFFFFU);
}

std::size_t ip_header(const Case& c) { return c.ipv6 ? 40 : 20; }
std::size_t l4_header(const Case& c) { return c.tcp ? 20 : 8; }
std::size_t l4_checksum_field(const Case& c) { return c.tcp ? 16 : 6; }
std::uint8_t protocol(const Case& c) { return c.tcp ? 6 : 17; }

// The L4 pseudo-header sum (not complemented) for `l4_length` bytes of L4 data.
std::uint32_t pseudo(const Case& c, const std::uint8_t* ip, std::uint32_t l4_length) {
  return c.ipv6 ? pseudo6(ip, protocol(c), l4_length) : pseudo4(ip, protocol(c), l4_length);
}

// A complete, correct untagged frame to the receiver, as a network stack without offloads
// would send it: IPv4 (DF) or IPv6, then TCP (ACK + `flags`) or UDP, then `payload`.
Bytes canonical(const Case& c, ByteSpan payload, std::uint32_t seq, std::uint16_t id,
                std::uint8_t flags) {
  const std::size_t l4_length = l4_header(c) + payload.size();
  Bytes f(14 + ip_header(c) + l4_length, 0);
  std::memcpy(f.data(), kOurs.data(), 6);
  std::memcpy(f.data() + 6, kPeer.data(), 6);
  be16(f.data() + 12, c.ipv6 ? 0x86DD : 0x0800);
  std::uint8_t* ip = f.data() + 14;
  if (c.ipv6) {
    ip[0] = 0x60;
    be16(ip + 4, static_cast<std::uint32_t>(l4_length));
    ip[6] = protocol(c);
    ip[7] = 64;
    for (int i = 0; i < 16; ++i) ip[8 + i] = static_cast<std::uint8_t>(0xFD + i);
    for (int i = 0; i < 16; ++i) ip[24 + i] = static_cast<std::uint8_t>(0x20 + 3 * i);
  } else {
    ip[0] = 0x45;
    be16(ip + 2, static_cast<std::uint32_t>(20 + l4_length));
    be16(ip + 4, id);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = protocol(c);
    const std::uint8_t addresses[8] = {10, 0, 2, 15, 192, 0, 2, 77};
    std::memcpy(ip + 12, addresses, 8);
    be16(ip + 10, static_cast<std::uint16_t>(~fold(raw_sum(ip, 20))));
  }
  std::uint8_t* l4 = ip + ip_header(c);
  be16(l4, 49152);
  be16(l4 + 2, c.tcp ? 443 : 53);
  if (c.tcp) {
    be32(l4 + 4, seq);
    be32(l4 + 8, 0x01020304);
    l4[12] = 0x50;
    l4[13] = static_cast<std::uint8_t>(0x10 | flags);
    be16(l4 + 14, 0xFFFF);
  } else {
    be16(l4 + 4, static_cast<std::uint32_t>(l4_length));
  }
  if (!payload.empty()) std::memcpy(l4 + l4_header(c), payload.data(), payload.size());
  auto sum = static_cast<std::uint16_t>(
      ~fold(pseudo(c, ip, static_cast<std::uint32_t>(l4_length)) + raw_sum(l4, l4_length)));
  if (!c.tcp && sum == 0) sum = 0xFFFF;  // RFC 768: a computed 0 is sent as all ones
  be16(l4 + l4_checksum_field(c), sum);
  return f;
}

Bytes with_tag(const Bytes& f, std::uint16_t tci) {
  Bytes out(f.begin(), f.begin() + 12);
  const std::uint8_t tag[4] = {0x81, 0x00, static_cast<std::uint8_t>(tci >> 8),
                               static_cast<std::uint8_t>(tci)};
  out.insert(out.end(), tag, tag + 4);
  out.insert(out.end(), f.begin() + 12, f.end());
  return out;
}

Bytes padded(Bytes f) {
  if (f.size() < 60) f.resize(60, 0);
  return f;
}

class E1000OffloadMatrix : public ::testing::TestWithParam<Case> {
 protected:
  struct Receiver {
    RxSetup setup;
    std::unique_ptr<E1000Harness> h;
  };

  void SetUp() override {
    const Case& c = GetParam();
    tx_.bring_up(256, 8);
    if (c.vlan == TxVlan::inserted) tx_.wr(CTRL, tx_.rd(CTRL) | CTRL_VME);
    for (bool strip : {false, true}) {
      for (bool filter : {false, true}) {
        for (bool checksum : {false, true}) {
          Receiver r{{strip, filter, checksum}, std::make_unique<E1000Harness>()};
          E1000Harness& rx = *r.h;
          rx.bring_up(8, 256, RCTL_LPE);
          if (strip) rx.wr(CTRL, rx.rd(CTRL) | CTRL_VME);
          if (filter) {
            rx.wr(RCTL, rx.rd(RCTL) | RCTL_VFE);
            const unsigned vid = kTci & 0xFFFU;
            rx.wr(VFTA + 4 * (vid >> 5), 1U << (vid & 31U));
          }
          if (checksum) rx.wr(RXCSUM, RXCSUM_IPOFL | RXCSUM_TUOFL);
          receivers_.push_back(std::move(r));
        }
      }
    }
  }

  // What the driver hands to the device for one send, and what must appear on the wire.
  struct Send {
    Bytes frame;  // the buffer the descriptors point into
    std::vector<Bytes> wire;
  };

  Send prepare(ByteSpan payload) const {
    const Case& c = GetParam();
    const bool software_tag = c.vlan == TxVlan::software;
    const bool tagged = c.vlan != TxVlan::untagged;
    Send s;
    const std::uint8_t last_flags = c.tcp ? 0x09 : 0;  // FIN | PSH on the last segment
    const Bytes whole = canonical(c, payload, kBaseSeq, kBaseId, last_flags);
    s.frame = software_tag ? with_tag(whole, kTci) : whole;
    const std::size_t l3 = software_tag ? 18 : 14;
    std::uint8_t* ip = s.frame.data() + l3;
    std::uint8_t* l4 = ip + ip_header(c);
    const std::uint32_t l4_length = static_cast<std::uint32_t>(l4_header(c) + payload.size());
    if (c.offload == Offload::checksum) {
      // Linux CHECKSUM_PARTIAL: the L4 field holds the pseudo-header sum with the length.
      be16(l4 + l4_checksum_field(c), fold(pseudo(c, ip, l4_length)));
      if (!c.ipv6 && c.descriptors == Descriptors::extended) be16(ip + 10, 0);  // IXSM fills it
    } else if (c.offload == Offload::tso) {
      // e1000_tso(): lengths and the IPv4 checksum zero, the TCP field seeded with the
      // pseudo-header sum without length.
      if (c.ipv6) {
        be16(ip + 4, 0);
      } else {
        be16(ip + 2, 0);
        be16(ip + 10, 0);
      }
      be16(l4 + 16, fold(pseudo(c, ip, 0)));
    }
    if (c.offload != Offload::tso) {
      s.wire.push_back(padded(tagged ? with_tag(whole, kTci) : whole));
      return s;
    }
    for (std::size_t offset = 0; offset < payload.size() || offset == 0; offset += c.mss) {
      const std::size_t chunk = std::min<std::size_t>(c.mss, payload.size() - offset);
      const bool last = offset + chunk >= payload.size();
      const Bytes segment =
          canonical(c, payload.subspan(offset, chunk), kBaseSeq + static_cast<std::uint32_t>(offset),
                    static_cast<std::uint16_t>(kBaseId + offset / c.mss), last ? last_flags : 0);
      s.wire.push_back(padded(tagged ? with_tag(segment, kTci) : segment));
      if (last) break;
    }
    return s;
  }

  void transmit(const Send& s) {
    const Case& c = GetParam();
    const bool software_tag = c.vlan == TxVlan::software;
    const std::uint8_t vle = c.vlan == TxVlan::inserted ? TXD_CMD_VLE : 0;
    const std::uint16_t special = c.vlan == TxVlan::inserted ? kTci : 0;
    const std::size_t l3 = software_tag ? 18 : 14;
    const std::size_t l4 = l3 + ip_header(c);
    const std::size_t header = l4 + l4_header(c);
    const std::uint64_t at = tx_.stage(s.frame);
    const std::size_t size = s.frame.size();
    if (c.descriptors == Descriptors::legacy) {
      const bool ic = c.offload == Offload::checksum;
      const auto cso = static_cast<std::uint8_t>(ic ? l4 + l4_checksum_field(c) : 0);
      const auto css = static_cast<std::uint8_t>(ic ? l4 : 0);
      for (std::size_t off = 0; off < size; off += 1000) {
        const std::size_t n = std::min<std::size_t>(1000, size - off);
        const bool eop = off + n == size;
        const auto cmd = static_cast<std::uint8_t>(
            TXD_CMD_IFCS | vle | (ic ? TXD_CMD_IC : 0) | (eop ? TXD_CMD_EOP | TXD_CMD_RS : 0));
        tx_.legacy(at + off, static_cast<std::uint16_t>(n), cmd, cso, css, special);
      }
      tx_.kick();
      return;
    }
    std::uint8_t popts = 0;
    std::uint8_t tse = 0;
    if (c.offload != Offload::none) {
      E1000Harness::Context ctx;
      ctx.ipcss = static_cast<std::uint8_t>(l3);
      ctx.tucss = static_cast<std::uint8_t>(l4);
      ctx.tucso = static_cast<std::uint8_t>(l4 + l4_checksum_field(c));
      ctx.tucmd = static_cast<std::uint8_t>((c.ipv6 ? 0 : TXD_TUCMD_IP) | (c.tcp ? TXD_TUCMD_TCP : 0));
      if (!c.ipv6) {
        ctx.ipcso = static_cast<std::uint8_t>(l3 + 10);
        ctx.ipcse = static_cast<std::uint16_t>(l4 - 1);
      }
      if (c.offload == Offload::tso) {
        tse = TXD_CMD_TSE;
        ctx.tucmd = static_cast<std::uint8_t>(ctx.tucmd | TXD_CMD_TSE);
        ctx.hdrlen = static_cast<std::uint8_t>(header);
        ctx.mss = c.mss;
        ctx.paylen = static_cast<std::uint32_t>(size - header);
      }
      tx_.context(ctx);
      popts = static_cast<std::uint8_t>(TXD_POPTS_TXSM | (c.ipv6 ? 0 : TXD_POPTS_IXSM));
    }
    // The header in its own descriptor, then the payload in 4000-byte pieces.
    std::size_t off = 0;
    while (off < size) {
      const std::size_t n = off == 0 ? std::min(header, size) : std::min<std::size_t>(4000, size - off);
      const bool eop = off + n == size;
      const auto dcmd = static_cast<std::uint8_t>(TXD_CMD_IFCS | vle | tse |
                                                  (eop ? TXD_CMD_EOP | TXD_CMD_RS : 0));
      tx_.data(at + off, static_cast<std::uint32_t>(n), dcmd, popts, special);
      off += n;
    }
    tx_.kick();
  }

  // The frame looped into a receiver, and what its driver must find in its buffers.
  void loop_into(Receiver& r, const Bytes& wire) {
    const Case& c = GetParam();
    const RxSetup& setup = r.setup;
    const bool tagged = c.vlan != TxVlan::untagged;
    ASSERT_EQ(r.h->nic.receive(wire), RxResult::accepted);
    auto got = r.h->next_rx();
    ASSERT_TRUE(got.has_value());
    const bool stripped = tagged && setup.strip;
    Bytes expected = wire;
    if (stripped) expected.erase(expected.begin() + 12, expected.begin() + 16);
    expected = padded(expected);
    ASSERT_EQ(got->bytes, expected);
    EXPECT_EQ((got->status & RXD_STA_VP) != 0, stripped);
    EXPECT_EQ(got->special, stripped ? kTci : 0);
    const std::uint8_t checksum_bits = RXD_STA_IPCS | RXD_STA_TCPCS | RXD_STA_IXSM;
    const std::uint8_t want = !setup.checksum ? RXD_STA_IXSM
                              : c.ipv6      ? RXD_STA_TCPCS
                                            : static_cast<std::uint8_t>(RXD_STA_IPCS | RXD_STA_TCPCS);
    EXPECT_EQ(got->status & checksum_bits, want);
    EXPECT_EQ(got->errors, 0);
  }

  // Independent of the byte comparison: the checksums of a wire frame verify.
  static void expect_checksums_valid(const Case& c, const Bytes& wire) {
    const std::size_t l3 = (wire[12] == 0x81 && wire[13] == 0x00) ? 18 : 14;
    const std::uint8_t* ip = wire.data() + l3;
    std::size_t l4_length = 0;
    if (c.ipv6) {
      l4_length = static_cast<std::size_t>((ip[4] << 8) | ip[5]);
    } else {
      EXPECT_EQ(fold(raw_sum(ip, 20)), 0xFFFF);
      l4_length = static_cast<std::size_t>((ip[2] << 8) | ip[3]) - 20;
    }
    ASSERT_LE(l3 + ip_header(c) + l4_length, wire.size());
    EXPECT_EQ(fold(pseudo(c, ip, static_cast<std::uint32_t>(l4_length)) +
                   raw_sum(ip + ip_header(c), l4_length)),
              0xFFFF);
  }

  E1000Harness tx_;
  std::vector<Receiver> receivers_;
};

TEST_P(E1000OffloadMatrix, WireFramesAndLoopback) {
  const Case& c = GetParam();
  std::vector<std::size_t> payloads;
  if (c.offload == Offload::tso) {
    payloads = {65536, 100};  // a 64 KiB send, and one smaller than the MSS
  } else {
    const std::size_t standard = 1500 - ip_header(c) - l4_header(c);
    payloads = {0, 1, 333, standard, 8000};
  }
  std::size_t wire_frames = 0;
  std::size_t sends = 0;
  for (std::size_t size : payloads) {
    SCOPED_TRACE(size);
    Bytes payload(size);
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::uint8_t>(i * 131 + size);
    const Send s = prepare(payload);
    tx_.port.frames.clear();
    transmit(s);
    ASSERT_EQ(tx_.port.frames.size(), s.wire.size());
    for (std::size_t i = 0; i < s.wire.size(); ++i) {
      SCOPED_TRACE(i);
      ASSERT_EQ(tx_.port.frames[i], s.wire[i]);
      expect_checksums_valid(c, tx_.port.frames[i]);
      for (Receiver& r : receivers_) {
        SCOPED_TRACE(name_of(r.setup));
        loop_into(r, tx_.port.frames[i]);
        if (HasFatalFailure()) return;
      }
    }
    wire_frames += s.wire.size();
    ++sends;
  }
  const E1000Counters& t = tx_.nic.counters();
  EXPECT_EQ(t.tx_frames, wire_frames);
  EXPECT_EQ(t.tx_offload_errors + t.tx_bad_descriptor + t.tx_oversize + t.tx_runt +
                t.tx_data_dma_errors + t.tx_ring_errors + t.tx_backend_refused,
            0U);
  EXPECT_EQ(tx_.rd(GPTC), wire_frames);
  EXPECT_EQ(tx_.rd(TSCTC), c.offload == Offload::tso ? sends : 0U);
  // With the filter on, a tag whose VID is not in the table is dropped and counted.
  const Bytes stray = with_tag(canonical(c, {}, kBaseSeq, kBaseId, 0), kOtherTci);
  for (Receiver& r : receivers_) {
    SCOPED_TRACE(name_of(r.setup));
    EXPECT_EQ(r.h->nic.counters().rx_frames, wire_frames);
    EXPECT_EQ(r.h->rd(GPRC), wire_frames);
    EXPECT_EQ(r.h->nic.receive(stray), r.setup.filter ? RxResult::dropped : RxResult::accepted);
    EXPECT_EQ(r.h->nic.counters().rx_vlan_filtered, r.setup.filter ? 1U : 0U);
  }
}

INSTANTIATE_TEST_SUITE_P(AllPermutations, E1000OffloadMatrix, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return name_of(param.param);
                         });

}  // namespace
}  // namespace aero::devices::test
