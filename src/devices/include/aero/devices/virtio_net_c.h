/* C API for the virtio-net device model (virtio 1.2 §5.1 over the PCI transport of §4.1).
 *
 * The embedder supplies callbacks for guest memory, interrupts (the INTx line and MSI-X
 * messages), transmitted frames and the monotonic clock, then routes bus accesses and backend
 * frames to the device:
 *
 *   aero_virtio_net_host host = {user, mem_read, mem_write, set_irq, signal_msix, transmit,
 *                                now_ns};
 *   aero_virtio_net_config config;
 *   aero_virtio_net_config_aero_w7(&config);            or _default(): every feature we have
 *   aero_virtio_net* nic = aero_virtio_net_create(&host, &config);
 *   ... aero_virtio_net_config_write(nic, 0x04, 2, 0x0006);  PCI command: memory, bus master
 *   ... aero_virtio_net_mmio_write(nic, offset, 4, value);   BAR0 (offset < 0x4000)
 *   ... aero_virtio_net_receive(nic, frame, len);            a frame for the guest
 *   ... aero_virtio_net_poll(nic, 256);                      at or after next_deadline_ns
 *   aero_virtio_net_destroy(nic);
 *
 * With a pump (backends_c.h), the transmit callback forwards to aero_pump_transmit and
 * aero_pump_tick_virtio_net replaces the receive and poll calls.
 *
 * The guest finds the device as vendor 1AF4, device 1041 (1000 when transitional), BAR0 a
 * 64-bit 16 KiB memory BAR laid out as below (virtio capabilities point there), BAR2 a
 * 256-byte I/O BAR with the legacy header when transitional, and an MSI-X capability with one
 * vector per queue plus one for configuration changes.
 *
 * All functions are single-threaded per device and never block. Callbacks run synchronously
 * inside the call that triggers them and must not call back into the same device. Functions
 * taking a device never accept NULL for it. Nothing allocates per frame.
 */
#ifndef AERO_DEVICES_VIRTIO_NET_C_H
#define AERO_DEVICES_VIRTIO_NET_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aero_virtio_net aero_virtio_net;

/* ---- Constants ----------------------------------------------------------------------------- */

/* Feature bits (virtio 1.2 §5.1.3 and §6). */
#define AERO_VIRTIO_NET_F_CSUM (UINT64_C(1) << 0)
#define AERO_VIRTIO_NET_F_GUEST_CSUM (UINT64_C(1) << 1)
#define AERO_VIRTIO_NET_F_MTU (UINT64_C(1) << 3)
#define AERO_VIRTIO_NET_F_MAC (UINT64_C(1) << 5)
#define AERO_VIRTIO_NET_F_GUEST_TSO4 (UINT64_C(1) << 7)
#define AERO_VIRTIO_NET_F_GUEST_TSO6 (UINT64_C(1) << 8)
#define AERO_VIRTIO_NET_F_HOST_TSO4 (UINT64_C(1) << 11)
#define AERO_VIRTIO_NET_F_HOST_TSO6 (UINT64_C(1) << 12)
#define AERO_VIRTIO_NET_F_MRG_RXBUF (UINT64_C(1) << 15)
#define AERO_VIRTIO_NET_F_STATUS (UINT64_C(1) << 16)
#define AERO_VIRTIO_NET_F_CTRL_VQ (UINT64_C(1) << 17)
#define AERO_VIRTIO_NET_F_CTRL_RX (UINT64_C(1) << 18)
#define AERO_VIRTIO_NET_F_CTRL_RX_EXTRA (UINT64_C(1) << 20)
#define AERO_VIRTIO_NET_F_CTRL_MAC_ADDR (UINT64_C(1) << 23)
#define AERO_VIRTIO_F_INDIRECT_DESC (UINT64_C(1) << 28)
#define AERO_VIRTIO_F_EVENT_IDX (UINT64_C(1) << 29)
#define AERO_VIRTIO_F_VERSION_1 (UINT64_C(1) << 32)
#define AERO_VIRTIO_F_RING_PACKED (UINT64_C(1) << 34)

/* Device status bits (§2.1). */
#define AERO_VIRTIO_STATUS_ACKNOWLEDGE 1u
#define AERO_VIRTIO_STATUS_DRIVER 2u
#define AERO_VIRTIO_STATUS_DRIVER_OK 4u
#define AERO_VIRTIO_STATUS_FEATURES_OK 8u
#define AERO_VIRTIO_STATUS_NEEDS_RESET 0x40u
#define AERO_VIRTIO_STATUS_FAILED 0x80u

/* BAR0 layout (Aero's AERO-W7-VIRTIO v1 contract); the guest learns it from the capabilities.
 * Queue q is notified by a write of q to NOTIFY + q * NOTIFY_MULTIPLIER. */
#define AERO_VIRTIO_PCI_BAR0_SIZE 0x4000u
#define AERO_VIRTIO_PCI_COMMON_CFG 0x0000u
#define AERO_VIRTIO_PCI_NOTIFY 0x1000u
#define AERO_VIRTIO_PCI_NOTIFY_MULTIPLIER 4u
#define AERO_VIRTIO_PCI_ISR 0x2000u
#define AERO_VIRTIO_PCI_DEVICE_CFG 0x3000u
#define AERO_VIRTIO_PCI_MSIX_TABLE 0x3100u
#define AERO_VIRTIO_PCI_LEGACY_BAR_SIZE 0x100u

/* Queues: receiveq1, transmitq1 and (with CTRL_VQ offered) the control queue. */
#define AERO_VIRTIO_NET_RX_QUEUE 0u
#define AERO_VIRTIO_NET_TX_QUEUE 1u
#define AERO_VIRTIO_NET_CTRL_QUEUE 2u

/* Results of aero_virtio_net_receive. */
#define AERO_VIRTIO_NET_RX_ACCEPTED 0 /* written to the guest's receive buffers */
#define AERO_VIRTIO_NET_RX_HOLD 1     /* too few buffers posted: keep the frame, offer it later */
#define AERO_VIRTIO_NET_RX_DROPPED 2  /* discarded for a counted reason */

#define AERO_VIRTIO_NET_NO_DEADLINE UINT64_MAX

/* ---- Host callbacks and configuration ----------------------------------------------------- */

typedef struct aero_virtio_net_host {
  void* user; /* passed back to every callback */
  /* Copy len bytes of guest physical memory at gpa to dst; return 1 on success, 0 if any part
   * of the range is not RAM (nothing is copied then). */
  int (*mem_read)(void* user, uint64_t gpa, uint8_t* dst, size_t len);
  /* Copy len bytes from src to guest physical memory at gpa; return 1 on success, 0 if not. */
  int (*mem_write)(void* user, uint64_t gpa, const uint8_t* src, size_t len);
  /* The INTx line level changed (1 asserted, 0 deasserted); used while MSI-X is disabled. */
  void (*set_irq)(void* user, int level);
  /* An MSI-X message: write data (32 bits) to address for table entry vector. Required when
   * the configuration enables MSI-X; may be NULL otherwise. */
  void (*signal_msix)(void* user, uint16_t vector, uint64_t address, uint32_t data);
  /* A frame (no FCS, no virtio-net header) leaves the NIC; return 1 if taken, 0 if the
   * backend refuses it (counted as tx_backend_refused). */
  int (*transmit)(void* user, const uint8_t* frame, size_t len);
  /* Monotonic time in nanoseconds; never goes backwards. */
  uint64_t (*now_ns)(void* user);
} aero_virtio_net_host;

/* 24 bytes without padding: features at 0, mac at 8, mtu at 14, queue_size at 16, then the
 * three flags and reserved bytes. Fill it with one of the two presets and change fields. */
typedef struct aero_virtio_net_config {
  uint64_t features;    /* offered AERO_VIRTIO_*_F_* bits; masked to what the model implements,
                           VERSION_1 always offered, features missing a prerequisite dropped */
  uint8_t mac[6];       /* reported with F_MAC */
  uint16_t mtu;         /* reported with F_MTU (68..65535; below 68 F_MTU is not offered) */
  uint16_t queue_size;  /* largest queue the driver may choose: a power of two up to 32768
                           (others round down) */
  uint8_t transitional; /* 1: legacy I/O BAR2 and device ID 0x1000 as well */
  uint8_t msix;         /* 1: MSI-X capability (signal_msix required) */
  uint8_t short_header_with_version_1; /* 1: the 10-byte header even with VERSION_1 */
  uint8_t reserved[3];  /* must be 0 */
} aero_virtio_net_config;

/* Every feature the model implements (VERSION_1, RING_PACKED, INDIRECT_DESC, EVENT_IDX, MAC,
 * STATUS, MTU 1500, CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6, MRG_RXBUF, CTRL_VQ, CTRL_RX,
 * CTRL_RX_EXTRA, CTRL_MAC_ADDR), MAC 52:54:00:12:34:57, 256-entry queues, MSI-X, modern only. */
void aero_virtio_net_config_default(aero_virtio_net_config* out);
/* Aero's AERO-W7-VIRTIO v1 contract, for Aero's Windows 7 driver: VERSION_1, INDIRECT_DESC,
 * MAC and STATUS only; two queues, three MSI-X vectors; the 10-byte header with VERSION_1. */
void aero_virtio_net_config_aero_w7(aero_virtio_net_config* out);

/* Creates a device (NULL config: the default preset). Returns NULL on a missing callback, a
 * non-zero reserved byte or allocation failure. */
aero_virtio_net* aero_virtio_net_create(const aero_virtio_net_host* host,
                                        const aero_virtio_net_config* config);
void aero_virtio_net_destroy(aero_virtio_net* nic);

/* ---- Bus windows --------------------------------------------------------------------------- */

/* PCI configuration space (offset < 256; size 1, 2 or 4). */
uint32_t aero_virtio_net_config_read(aero_virtio_net* nic, uint32_t offset, uint32_t size);
void aero_virtio_net_config_write(aero_virtio_net* nic, uint32_t offset, uint32_t size,
                                  uint32_t value);
/* BAR0 (offset < 0x4000; size 1, 2, 4 or 8). Reads return all ones while PCI Command Memory
 * Space is clear. */
uint64_t aero_virtio_net_mmio_read(aero_virtio_net* nic, uint32_t offset, uint32_t size);
void aero_virtio_net_mmio_write(aero_virtio_net* nic, uint32_t offset, uint32_t size,
                                uint64_t value);
/* BAR2 of a transitional device (offset < 0x100; size 1, 2 or 4); 0 otherwise. */
uint32_t aero_virtio_net_pio_read(aero_virtio_net* nic, uint32_t offset, uint32_t size);
void aero_virtio_net_pio_write(aero_virtio_net* nic, uint32_t offset, uint32_t size,
                               uint32_t value);
/* Accesses of another size or out of range read 0 and are ignored. */

/* ---- Frames and time ----------------------------------------------------------------------- */

/* Offers a received frame (no FCS) to the guest; returns AERO_VIRTIO_NET_RX_*. */
int aero_virtio_net_receive(aero_virtio_net* nic, const uint8_t* frame, size_t len);
/* Transmits up to budget chains from transmitq1 and handles waiting control commands;
 * returns the chains processed. */
uint32_t aero_virtio_net_poll(aero_virtio_net* nic, uint32_t budget);
/* The time (now_ns scale) from which poll has work, or AERO_VIRTIO_NET_NO_DEADLINE. */
uint64_t aero_virtio_net_next_deadline_ns(aero_virtio_net* nic);
/* Host link state (VIRTIO_NET_S_LINK_UP); a change raises a configuration change
 * notification when STATUS is offered. Link down drops frames both ways (counted). */
void aero_virtio_net_set_link(aero_virtio_net* nic, int up);
int aero_virtio_net_link_up(const aero_virtio_net* nic);

/* ---- State --------------------------------------------------------------------------------- */

/* Current INTx level (1 asserted). */
int aero_virtio_net_irq_level(const aero_virtio_net* nic);
/* Device status register (AERO_VIRTIO_STATUS_*). */
uint32_t aero_virtio_net_device_status(const aero_virtio_net* nic);
/* Features the driver negotiated (valid once FEATURES_OK was accepted). */
uint64_t aero_virtio_net_negotiated_features(const aero_virtio_net* nic);
/* Current MAC address (a legacy driver may change it); out receives 6 bytes. */
void aero_virtio_net_mac(const aero_virtio_net* nic, uint8_t* out);

/* Every drop and error has its counter; all fields uint64_t, in this order. */
typedef struct aero_virtio_net_counters {
  /* Device. */
  uint64_t tx_frames;             /* frames handed to the backend (segments included) */
  uint64_t tx_bytes;
  uint64_t tx_gso_frames;         /* TSO frames from the guest */
  uint64_t tx_gso_segments;       /* segments the device cut */
  uint64_t tx_offloaded;          /* frames given whole to an offload backend (C++ API only) */
  uint64_t tx_csum_completed;     /* partial checksums completed by the device */
  uint64_t tx_bad_chain;          /* malformed chain (completed with length 0) */
  uint64_t tx_bad_header;         /* header too short, or GSO not negotiated */
  uint64_t tx_runt;               /* frame shorter than an Ethernet header */
  uint64_t tx_oversize;           /* frame beyond 65553 bytes */
  uint64_t tx_offload_errors;     /* GSO or checksum request inconsistent with the frame */
  uint64_t tx_dma_errors;         /* buffer outside guest memory */
  uint64_t tx_link_down;
  uint64_t tx_backend_refused;    /* the transmit callback returned 0 */
  uint64_t rx_frames;
  uint64_t rx_bytes;
  uint64_t rx_buffers;            /* receive buffers used */
  uint64_t rx_gso_segments;
  uint64_t rx_csum_completed;
  uint64_t rx_hold;               /* AERO_VIRTIO_NET_RX_HOLD answers */
  uint64_t rx_not_ready;          /* driver not ready, queue not started, no bus master */
  uint64_t rx_link_down;
  uint64_t rx_filtered;           /* refused by the RX mode or MAC table (CTRL_RX) */
  uint64_t rx_runt;
  uint64_t rx_oversize;           /* beyond the negotiated MTU or the largest frame */
  uint64_t rx_offload_errors;
  uint64_t rx_too_big_for_buffer; /* (no MRG_RXBUF) the next buffer is too small */
  uint64_t rx_too_big_for_ring;   /* (MRG_RXBUF) the whole ring is too small */
  uint64_t rx_bad_chain;          /* malformed buffer (completed with length 0) */
  uint64_t rx_buffers_discarded;  /* buffers completed with length 0 alongside a bad one */
  uint64_t rx_device_error;       /* frame lost to an unrecoverable ring error */
  uint64_t ctrl_commands;
  uint64_t ctrl_errors;           /* answered VIRTIO_NET_ERR */
  uint64_t ctrl_bad_chain;
  /* PCI transport. */
  uint64_t notifications;         /* available-buffer notifications received */
  uint64_t bad_notifications;     /* to a queue that does not exist */
  uint64_t features_rejected;     /* FEATURES_OK refused */
  uint64_t protocol_errors;       /* DRIVER_OK without FEATURES_OK, bad queue setup */
  uint64_t device_errors;         /* DEVICE_NEEDS_RESET raised */
  uint64_t msix_messages;
  uint64_t msix_suppressed;       /* NO_VECTOR or a vector beyond the table */
  uint64_t msix_pending;          /* held back by a mask */
  uint64_t intx_raised;
  uint64_t config_changes;
  uint64_t resets;
} aero_virtio_net_counters;
void aero_virtio_net_get_counters(const aero_virtio_net* nic, aero_virtio_net_counters* out);

#ifdef __cplusplus
}
#endif

#endif /* AERO_DEVICES_VIRTIO_NET_C_H */
