/* C API for the E1000 (Intel 82540EM) device model.
 *
 * The embedder supplies callbacks for guest memory, the interrupt line, transmitted frames
 * and the monotonic clock, then routes bus accesses and backend frames to the device:
 *
 *   aero_e1000_host host = {user, mem_read, mem_write, set_irq, transmit, now_ns};
 *   aero_e1000* nic = aero_e1000_create(&host, mac);
 *   ... aero_e1000_config_write(nic, 0x04, 2, 0x0007);   PCI command: IO, MEM, bus master
 *   ... aero_e1000_mmio_write(nic, offset, 4, value);    BAR0 accesses (offset < 0x20000)
 *   ... aero_e1000_receive(nic, frame, len);             a frame for the guest
 *   ... aero_e1000_poll(nic);                            at or after next_deadline_ns
 *   aero_e1000_destroy(nic);
 *
 * All functions are single-threaded per device and never block. Callbacks run synchronously
 * inside the call that triggers them and must not call back into the same device.
 */
#ifndef AERO_DEVICES_E1000_C_H
#define AERO_DEVICES_E1000_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aero_e1000 aero_e1000;

typedef struct aero_e1000_host {
  void* user; /* passed back to every callback */
  /* Copy len bytes of guest physical memory at gpa to dst; return 1 on success, 0 if any part
   * of the range is not RAM (nothing is copied then). */
  int (*mem_read)(void* user, uint64_t gpa, uint8_t* dst, size_t len);
  /* Copy len bytes from src to guest physical memory at gpa; return 1 on success, 0 if not. */
  int (*mem_write)(void* user, uint64_t gpa, const uint8_t* src, size_t len);
  /* The INTx line level changed (1 asserted, 0 deasserted). */
  void (*set_irq)(void* user, int level);
  /* A frame (no FCS) leaves the NIC; return 1 if taken, 0 if the backend refuses it. */
  int (*transmit)(void* user, const uint8_t* frame, size_t len);
  /* Monotonic time in nanoseconds; never goes backwards. */
  uint64_t (*now_ns)(void* user);
} aero_e1000_host;

/* Results of aero_e1000_receive. */
#define AERO_E1000_RX_ACCEPTED 0 /* written to the guest's receive ring */
#define AERO_E1000_RX_HOLD 1     /* ring full: keep the frame and offer it again later */
#define AERO_E1000_RX_DROPPED 2  /* discarded for a counted reason */

#define AERO_E1000_NO_DEADLINE UINT64_MAX

/* Creates a device with the given MAC address (6 bytes; NULL for 52:54:00:12:34:56). All
 * callbacks are required. Returns NULL on a missing callback or allocation failure. */
aero_e1000* aero_e1000_create(const aero_e1000_host* host, const uint8_t* mac);
void aero_e1000_destroy(aero_e1000* nic);

/* PCI configuration space (offset < 256), BAR0 (offset < 0x20000) and BAR1 (offset < 0x40).
 * size is 1, 2 or 4; other sizes and offsets read 0 and ignore writes. */
uint32_t aero_e1000_config_read(aero_e1000* nic, uint32_t offset, uint32_t size);
void aero_e1000_config_write(aero_e1000* nic, uint32_t offset, uint32_t size, uint32_t value);
uint32_t aero_e1000_mmio_read(aero_e1000* nic, uint32_t offset, uint32_t size);
void aero_e1000_mmio_write(aero_e1000* nic, uint32_t offset, uint32_t size, uint32_t value);
uint32_t aero_e1000_pio_read(aero_e1000* nic, uint32_t offset, uint32_t size);
void aero_e1000_pio_write(aero_e1000* nic, uint32_t offset, uint32_t size, uint32_t value);

/* Offers a received frame (no FCS) to the guest; returns AERO_E1000_RX_*. */
int aero_e1000_receive(aero_e1000* nic, const uint8_t* frame, size_t len);
/* Host link state; a change raises the link status change interrupt. */
void aero_e1000_set_link(aero_e1000* nic, int up);

/* Runs transmit work and expired timers at the current time; returns descriptors processed. */
uint32_t aero_e1000_poll(aero_e1000* nic);
/* The time (now_ns scale) at which poll has work, or AERO_E1000_NO_DEADLINE. */
uint64_t aero_e1000_next_deadline_ns(aero_e1000* nic);
/* Current INTx level (1 asserted). */
int aero_e1000_irq_level(aero_e1000* nic);

/* Snapshot: returns the size needed; writes it to buf when cap is large enough. */
size_t aero_e1000_snapshot(aero_e1000* nic, uint8_t* buf, size_t cap);
/* Restore: returns 1 on success; 0 leaves the device unchanged. */
int aero_e1000_restore(aero_e1000* nic, const uint8_t* buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* AERO_DEVICES_E1000_C_H */
