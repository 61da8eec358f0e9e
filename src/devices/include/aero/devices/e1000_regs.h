// Intel 82540EM register offsets, bit fields and descriptor layouts, as given by the PCI/PCI-X
// Family of Gigabit Ethernet Controllers Software Developer's Manual (8254x SDM), chapter 13
// (registers) and chapter 3 (descriptors). Shared by the model, its tests and drivers in tests.
#pragma once

#include <cstdint>

namespace aero::devices::e1000 {

// ---- PCI identity (SDM §4.1) -------------------------------------------------------------
inline constexpr std::uint16_t kVendorId = 0x8086;
inline constexpr std::uint16_t kDeviceId = 0x100E;  // 82540EM desktop
inline constexpr std::uint16_t kSubsystemVendorId = 0x8086;
inline constexpr std::uint16_t kSubsystemId = 0x001E;
inline constexpr std::uint32_t kBar0Size = 0x20000;  // 128 KiB register space
inline constexpr std::uint32_t kBar1Size = 0x40;     // IOADDR / IODATA window
inline constexpr std::uint16_t kPciCommandIo = 1U << 0;
inline constexpr std::uint16_t kPciCommandMemory = 1U << 1;
inline constexpr std::uint16_t kPciCommandBusMaster = 1U << 2;
inline constexpr std::uint16_t kPciCommandIntxDisable = 1U << 10;

// ---- Register offsets (SDM §13.3, table 13-2) ---------------------------------------------
inline constexpr std::uint32_t CTRL = 0x0000;
inline constexpr std::uint32_t STATUS = 0x0008;
inline constexpr std::uint32_t EECD = 0x0010;
inline constexpr std::uint32_t EERD = 0x0014;
inline constexpr std::uint32_t CTRL_EXT = 0x0018;
inline constexpr std::uint32_t MDIC = 0x0020;
inline constexpr std::uint32_t VET = 0x0038;
inline constexpr std::uint32_t ICR = 0x00C0;
inline constexpr std::uint32_t ITR = 0x00C4;
inline constexpr std::uint32_t ICS = 0x00C8;
inline constexpr std::uint32_t IMS = 0x00D0;
inline constexpr std::uint32_t IMC = 0x00D8;
inline constexpr std::uint32_t RCTL = 0x0100;
inline constexpr std::uint32_t TCTL = 0x0400;
inline constexpr std::uint32_t TIPG = 0x0410;
inline constexpr std::uint32_t PBA = 0x1000;
inline constexpr std::uint32_t RDBAL = 0x2800;
inline constexpr std::uint32_t RDBAH = 0x2804;
inline constexpr std::uint32_t RDLEN = 0x2808;
inline constexpr std::uint32_t RDH = 0x2810;
inline constexpr std::uint32_t RDT = 0x2818;
inline constexpr std::uint32_t RDTR = 0x2820;
inline constexpr std::uint32_t RADV = 0x282C;
inline constexpr std::uint32_t TDBAL = 0x3800;
inline constexpr std::uint32_t TDBAH = 0x3804;
inline constexpr std::uint32_t TDLEN = 0x3808;
inline constexpr std::uint32_t TDH = 0x3810;
inline constexpr std::uint32_t TDT = 0x3818;
inline constexpr std::uint32_t TIDV = 0x3820;
inline constexpr std::uint32_t TADV = 0x382C;
// Statistics (§13.7): read-only, cleared by reading. The 64-bit octet counters are a low and a
// high register; the pair resets when the high half is read (§13.7.31-32, 13.7.38-39).
inline constexpr std::uint32_t STATS_FIRST = 0x4000;
inline constexpr std::uint32_t STATS_LAST = 0x40FC;
inline constexpr std::uint32_t CRCERRS = 0x4000;
inline constexpr std::uint32_t ALGNERRC = 0x4004;
inline constexpr std::uint32_t SYMERRS = 0x4008;
inline constexpr std::uint32_t RXERRC = 0x400C;
inline constexpr std::uint32_t MPC = 0x4010;
inline constexpr std::uint32_t SCC = 0x4014;
inline constexpr std::uint32_t ECOL = 0x4018;
inline constexpr std::uint32_t MCC = 0x401C;
inline constexpr std::uint32_t LATECOL = 0x4020;
inline constexpr std::uint32_t COLC = 0x4028;
inline constexpr std::uint32_t DC = 0x4030;
inline constexpr std::uint32_t TNCRS = 0x4034;
inline constexpr std::uint32_t SEC = 0x4038;
inline constexpr std::uint32_t CEXTERR = 0x403C;
inline constexpr std::uint32_t RLEC = 0x4040;
inline constexpr std::uint32_t XONRXC = 0x4048;
inline constexpr std::uint32_t XONTXC = 0x404C;
inline constexpr std::uint32_t XOFFRXC = 0x4050;
inline constexpr std::uint32_t XOFFTXC = 0x4054;
inline constexpr std::uint32_t FCRUC = 0x4058;
inline constexpr std::uint32_t PRC64 = 0x405C;  // then PRC127, PRC255, PRC511, PRC1023, PRC1522
inline constexpr std::uint32_t PRC127 = 0x4060;
inline constexpr std::uint32_t PRC255 = 0x4064;
inline constexpr std::uint32_t PRC511 = 0x4068;
inline constexpr std::uint32_t PRC1023 = 0x406C;
inline constexpr std::uint32_t PRC1522 = 0x4070;
inline constexpr std::uint32_t GPRC = 0x4074;
inline constexpr std::uint32_t BPRC = 0x4078;
inline constexpr std::uint32_t MPRC = 0x407C;
inline constexpr std::uint32_t GPTC = 0x4080;
inline constexpr std::uint32_t GORCL = 0x4088;
inline constexpr std::uint32_t GORCH = 0x408C;
inline constexpr std::uint32_t GOTCL = 0x4090;
inline constexpr std::uint32_t GOTCH = 0x4094;
inline constexpr std::uint32_t RNBC = 0x40A0;
inline constexpr std::uint32_t RUC = 0x40A4;
inline constexpr std::uint32_t RFC = 0x40A8;
inline constexpr std::uint32_t ROC = 0x40AC;
inline constexpr std::uint32_t RJC = 0x40B0;
inline constexpr std::uint32_t TORL = 0x40C0;
inline constexpr std::uint32_t TORH = 0x40C4;
inline constexpr std::uint32_t TOTL = 0x40C8;
inline constexpr std::uint32_t TOTH = 0x40CC;
inline constexpr std::uint32_t TPR = 0x40D0;
inline constexpr std::uint32_t TPT = 0x40D4;
inline constexpr std::uint32_t PTC64 = 0x40D8;  // then PTC127, PTC255, PTC511, PTC1023, PTC1522
inline constexpr std::uint32_t PTC127 = 0x40DC;
inline constexpr std::uint32_t PTC255 = 0x40E0;
inline constexpr std::uint32_t PTC511 = 0x40E4;
inline constexpr std::uint32_t PTC1023 = 0x40E8;
inline constexpr std::uint32_t PTC1522 = 0x40EC;
inline constexpr std::uint32_t MPTC = 0x40F0;
inline constexpr std::uint32_t BPTC = 0x40F4;
inline constexpr std::uint32_t TSCTC = 0x40F8;
inline constexpr std::uint32_t TSCTFC = 0x40FC;
inline constexpr std::uint32_t RXCSUM = 0x5000;
inline constexpr std::uint32_t MTA = 0x5200;  // 128 dwords
inline constexpr std::uint32_t RAL0 = 0x5400;  // RAL(n) = 0x5400 + 8n, RAH(n) = 0x5404 + 8n
inline constexpr std::uint32_t RAH0 = 0x5404;
inline constexpr std::uint32_t VFTA = 0x5600;  // 128 dwords
inline constexpr unsigned kReceiveAddresses = 16;

// ---- CTRL (§13.4.1) / STATUS (§13.4.2) ------------------------------------------------------
inline constexpr std::uint32_t CTRL_SLU = 1U << 6;
inline constexpr std::uint32_t CTRL_RST = 1U << 26;
inline constexpr std::uint32_t CTRL_VME = 1U << 30;
inline constexpr std::uint32_t CTRL_PHY_RST = 1U << 31;
inline constexpr std::uint32_t STATUS_FD = 1U << 0;
inline constexpr std::uint32_t STATUS_LU = 1U << 1;
inline constexpr std::uint32_t STATUS_SPEED_1000 = 2U << 6;

// ---- EECD (§13.4.3) / EERD (§13.4.4) --------------------------------------------------------
inline constexpr std::uint32_t EECD_SK = 1U << 0;
inline constexpr std::uint32_t EECD_CS = 1U << 1;
inline constexpr std::uint32_t EECD_DI = 1U << 2;
inline constexpr std::uint32_t EECD_DO = 1U << 3;
inline constexpr std::uint32_t EECD_REQ = 1U << 6;
inline constexpr std::uint32_t EECD_GNT = 1U << 7;
inline constexpr std::uint32_t EECD_PRES = 1U << 8;
inline constexpr std::uint32_t EERD_START = 1U << 0;
inline constexpr std::uint32_t EERD_DONE = 1U << 4;
inline constexpr unsigned kEepromWords = 64;
inline constexpr std::uint16_t kEepromChecksumTarget = 0xBABA;

// ---- MDIC (§13.4.5) and PHY registers (§13.5) ----------------------------------------------
inline constexpr std::uint32_t MDIC_OP_WRITE = 1U << 26;
inline constexpr std::uint32_t MDIC_OP_READ = 2U << 26;
inline constexpr std::uint32_t MDIC_READY = 1U << 28;
inline constexpr std::uint32_t MDIC_INT_EN = 1U << 29;
inline constexpr std::uint32_t MDIC_ERROR = 1U << 30;
inline constexpr unsigned kPhyAddress = 1;
inline constexpr unsigned PHY_BMCR = 0, PHY_BMSR = 1, PHY_ID1 = 2, PHY_ID2 = 3, PHY_ANAR = 4,
                          PHY_ANLPAR = 5, PHY_ANER = 6, PHY_GBCR = 9, PHY_GBSR = 10,
                          PHY_EXT_STATUS = 15, PHY_PSCR = 16, PHY_PSSR = 17;
inline constexpr std::uint16_t kPhyId1 = 0x0141;  // Marvell OUI (M88E1011-class PHY)
inline constexpr std::uint16_t kPhyId2 = 0x0C20;

// ---- Interrupt causes: ICR/ICS/IMS/IMC (§13.4.17-21) ----------------------------------------
inline constexpr std::uint32_t ICR_TXDW = 1U << 0;
inline constexpr std::uint32_t ICR_TXQE = 1U << 1;
inline constexpr std::uint32_t ICR_LSC = 1U << 2;
inline constexpr std::uint32_t ICR_RXSEQ = 1U << 3;
inline constexpr std::uint32_t ICR_RXDMT0 = 1U << 4;
inline constexpr std::uint32_t ICR_RXO = 1U << 6;
inline constexpr std::uint32_t ICR_RXT0 = 1U << 7;
inline constexpr std::uint32_t ICR_MDAC = 1U << 9;
inline constexpr std::uint32_t kInterruptCauseMask = 0x0001FFFF;
inline constexpr std::uint32_t RDTR_FPD = 1U << 31;

// ---- RCTL (§13.4.22) / TCTL (§13.4.33) / RXCSUM (§13.4.15) ---------------------------------
inline constexpr std::uint32_t RCTL_EN = 1U << 1;
inline constexpr std::uint32_t RCTL_SBP = 1U << 2;
inline constexpr std::uint32_t RCTL_UPE = 1U << 3;
inline constexpr std::uint32_t RCTL_MPE = 1U << 4;
inline constexpr std::uint32_t RCTL_LPE = 1U << 5;
inline constexpr unsigned RCTL_RDMTS_SHIFT = 8;
inline constexpr unsigned RCTL_MO_SHIFT = 12;
inline constexpr std::uint32_t RCTL_BAM = 1U << 15;
inline constexpr unsigned RCTL_BSIZE_SHIFT = 16;
inline constexpr std::uint32_t RCTL_VFE = 1U << 18;
inline constexpr std::uint32_t RCTL_BSEX = 1U << 25;
inline constexpr std::uint32_t RCTL_SECRC = 1U << 26;
inline constexpr std::uint32_t TCTL_EN = 1U << 1;
inline constexpr std::uint32_t TCTL_PSP = 1U << 3;
inline constexpr std::uint32_t RXCSUM_IPOFL = 1U << 8;
inline constexpr std::uint32_t RXCSUM_TUOFL = 1U << 9;
inline constexpr std::uint32_t RAH_AV = 1U << 31;

// ---- Descriptors (§3.2.3 receive, §3.3.2-3.3.7 transmit), 16 bytes, little-endian ----------
inline constexpr unsigned kDescriptorSize = 16;
// Receive status / errors.
inline constexpr std::uint8_t RXD_STA_DD = 0x01, RXD_STA_EOP = 0x02, RXD_STA_IXSM = 0x04,
                              RXD_STA_VP = 0x08, RXD_STA_TCPCS = 0x20, RXD_STA_IPCS = 0x40;
inline constexpr std::uint8_t RXD_ERR_TCPE = 0x20, RXD_ERR_IPE = 0x40, RXD_ERR_RXE = 0x80;
// Transmit command byte (legacy CMD, data DCMD, context TUCMD share bit positions where named).
inline constexpr std::uint8_t TXD_CMD_EOP = 0x01, TXD_CMD_IFCS = 0x02, TXD_CMD_IC = 0x04,
                              TXD_CMD_TSE = 0x04, TXD_CMD_RS = 0x08, TXD_CMD_DEXT = 0x20,
                              TXD_CMD_VLE = 0x40, TXD_CMD_IDE = 0x80;
inline constexpr std::uint8_t TXD_TUCMD_TCP = 0x01, TXD_TUCMD_IP = 0x02;  // IP: IPv4
inline constexpr std::uint8_t TXD_STA_DD = 0x01;
inline constexpr std::uint8_t TXD_POPTS_IXSM = 0x01, TXD_POPTS_TXSM = 0x02;
inline constexpr std::uint8_t TXD_DTYP_CONTEXT = 0x0, TXD_DTYP_DATA = 0x1;  // bits 23:20 of dw2

}  // namespace aero::devices::e1000
